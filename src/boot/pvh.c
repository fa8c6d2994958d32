/*
 * ELF vmlinux loader with the PVH entry: PT_LOAD segments are copied to
 * their physical addresses and the kernel is entered in 32-bit protected
 * mode at XEN_ELFNOTE_PHYS32_ENTRY with EBX = hvm_start_info.
 * Every offset and size in the file is treated as hostile.
 */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "nkvm/boot.h"
#include "nkvm/log.h"
#include "nkvm/e820.h"
#include "nkvm/gm.h"
#include "nkvm/layout.h"

/* ELF structures are read with memcpy, which assumes the host's order. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "pvh.c reads little-endian ELF with memcpy");

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define PVH_LOW_LIMIT  0x100000ULL    /* below 1 MiB belongs to nkvm */
#define PVH_4G         0x100000000ULL /* 32-bit entry: all of it below 4 GiB */

/* xen/include/public/arch-x86/hvm/start_info.h, version 1 */
#define HVM_START_MAGIC 0x336ec578
struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "start_info layout");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "modlist layout");
_Static_assert(sizeof(struct hvm_memmap_entry) == 24, "memmap layout");

/* The module list and memory map follow the start info in its page. */
#define PVH_MODLIST (LAYOUT_START_INFO + sizeof(struct hvm_start_info))
#define PVH_MEMMAP  (PVH_MODLIST + sizeof(struct hvm_modlist_entry))
_Static_assert(PVH_MEMMAP + E820_MAX_ENTRIES * sizeof(struct hvm_memmap_entry)
	       <= LAYOUT_START_INFO + 4096, "start info fits in its page");

/* Does [off, off + size) lie inside a file of len bytes? */
static int in_file(uint64_t off, uint64_t size, size_t len)
{
	return off <= len && size <= len - off;
}

static void get_phdr(const uint8_t *buf, const Elf64_Ehdr *eh, unsigned i,
		     Elf64_Phdr *ph)
{
	memcpy(ph, buf + eh->e_phoff + (uint64_t)i * sizeof(*ph), sizeof(*ph));
}

static int pvh_check_ident(const uint8_t *buf, size_t len, char *err,
			   size_t errlen)
{
	if (len < EI_NIDENT || memcmp(buf, ELFMAG, SELFMAG) != 0) {
		errbuf_printf(err, errlen, "not an ELF file");
		return -EINVAL;
	}
	if (buf[EI_CLASS] == ELFCLASS32) {
		errbuf_printf(err, errlen,
			    "32-bit ELF, nkvm boots 64-bit kernels only");
		return -EINVAL;
	}
	if (buf[EI_CLASS] != ELFCLASS64) {
		errbuf_printf(err, errlen, "bad ELF class %u", buf[EI_CLASS]);
		return -EINVAL;
	}
	if (buf[EI_DATA] != ELFDATA2LSB) {
		errbuf_printf(err, errlen,
			    "not a little-endian ELF (EI_DATA %u)", buf[EI_DATA]);
		return -EINVAL;
	}
	if (buf[EI_VERSION] != EV_CURRENT) {
		errbuf_printf(err, errlen, "bad ELF version %u", buf[EI_VERSION]);
		return -EINVAL;
	}
	return 0;
}

static int pvh_check_ehdr(const uint8_t *buf, size_t len, Elf64_Ehdr *eh,
			  char *err, size_t errlen)
{
	int ret = pvh_check_ident(buf, len, err, errlen);

	if (ret)
		return ret;
	if (len < sizeof(*eh)) {
		errbuf_printf(err, errlen, "truncated ELF header (%zu bytes)", len);
		return -EINVAL;
	}
	memcpy(eh, buf, sizeof(*eh));
	if (eh->e_machine != EM_X86_64) {
		errbuf_printf(err, errlen, "not an x86-64 ELF (e_machine %u)",
			    eh->e_machine);
		return -EINVAL;
	}
	if (eh->e_type != ET_EXEC) {
		errbuf_printf(err, errlen, "not an executable ELF (e_type %u)",
			    eh->e_type);
		return -EINVAL;
	}
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
	    eh->e_phnum == PN_XNUM) {
		errbuf_printf(err, errlen,
			    "bad program header table (e_phentsize %u, e_phnum %u)",
			    eh->e_phentsize, eh->e_phnum);
		return -EINVAL;
	}
	if (!in_file(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr),
		     len)) {
		errbuf_printf(err, errlen,
			    "program headers at 0x%llx run past the end of the file",
			    (unsigned long long)eh->e_phoff);
		return -EINVAL;
	}
	return 0;
}

static int pvh_check_load(const Elf64_Phdr *ph, size_t len,
			  struct pvh_info *info, char *err, size_t errlen)
{
	if (!in_file(ph->p_offset, ph->p_filesz, len)) {
		errbuf_printf(err, errlen,
			    "segment data at 0x%llx (%llu bytes) runs past the end of the file",
			    (unsigned long long)ph->p_offset,
			    (unsigned long long)ph->p_filesz);
		return -EINVAL;
	}
	if (ph->p_filesz > ph->p_memsz) {
		errbuf_printf(err, errlen,
			    "segment at 0x%llx has p_filesz > p_memsz",
			    (unsigned long long)ph->p_paddr);
		return -EINVAL;
	}
	if (ph->p_memsz == 0)
		return 0;
	if (ph->p_paddr < PVH_LOW_LIMIT) {
		errbuf_printf(err, errlen,
			    "segment at 0x%llx overlaps nkvm's boot data below 1 MiB",
			    (unsigned long long)ph->p_paddr);
		return -EINVAL;
	}
	if (ph->p_paddr >= PVH_4G || ph->p_memsz > PVH_4G - ph->p_paddr) {
		errbuf_printf(err, errlen,
			    "segment at 0x%llx (%llu bytes) goes beyond 4 GiB",
			    (unsigned long long)ph->p_paddr,
			    (unsigned long long)ph->p_memsz);
		return -EINVAL;
	}
	if (!info->load_end || ph->p_paddr < info->load_start)
		info->load_start = ph->p_paddr;
	if (ph->p_paddr + ph->p_memsz > info->load_end)
		info->load_end = ph->p_paddr + ph->p_memsz;
	return 0;
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t align_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

/*
 * Walk one PT_NOTE segment for the PVH entry note. Name and descriptor
 * start on `align` boundaries from the segment start (4, or 8 for GNU
 * property notes). Each step consumes at least the 12-byte header, so the
 * walk ends within size / 12 steps; every length is checked against what
 * is left before it is used (all sums stay far below 2^64: size is a file
 * length and the sizes are 32-bit).
 */
static int pvh_walk_notes(const uint8_t *p, uint64_t size, uint64_t align,
			  struct pvh_info *info, int *found, char *err,
			  size_t errlen)
{
	uint64_t pos = 0;

	while (size - pos >= 12) {
		uint32_t namesz = get_u32(p + pos), descsz = get_u32(p + pos + 4);
		uint32_t type = get_u32(p + pos + 8);
		uint64_t name = pos + 12, desc, next;

		desc = align_up(name + namesz, align);
		if (namesz > size - name || desc > size || descsz > size - desc) {
			errbuf_printf(err, errlen,
				    "malformed ELF note (namesz %u, descsz %u)",
				    namesz, descsz);
			return -EINVAL;
		}
		next = align_up(desc + descsz, align);
		pos = next < size ? next : size;
		if (namesz != 4 || memcmp(p + name, "Xen", 4) != 0 ||
		    type != XEN_ELFNOTE_PHYS32_ENTRY || *found)
			continue;
		if (descsz == 4 || (descsz == 8 && get_u32(p + desc + 4) == 0)) {
			info->entry = get_u32(p + desc);
		} else {
			errbuf_printf(err, errlen,
				    "bad PVH entry note (descsz %u or address above 4 GiB)",
				    descsz);
			return -EINVAL;
		}
		*found = 1;
	}
	return 0;
}

/*
 * Validate an ELF64 little-endian x86-64 executable for a PVH boot: header
 * and program header table inside the file, PT_LOAD and PT_NOTE file
 * ranges inside the file, p_filesz <= p_memsz, segments between 1 MiB and
 * 4 GiB, and a Xen PHYS32_ENTRY note pointing into a loaded segment.
 * 0 or -EINVAL with `err` set (without the file name).
 */
int pvh_parse(const uint8_t *buf, size_t len, struct pvh_info *info,
	      char *err, size_t errlen)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int ret, found = 0;

	memset(info, 0, sizeof(*info));
	ret = pvh_check_ehdr(buf, len, &eh, err, errlen);
	if (ret)
		return ret;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		get_phdr(buf, &eh, i, &ph);
		if (ph.p_type == PT_LOAD) {
			ret = pvh_check_load(&ph, len, info, err, errlen);
		} else if (ph.p_type == PT_NOTE) {
			if (!in_file(ph.p_offset, ph.p_filesz, len)) {
				errbuf_printf(err, errlen,
					    "note segment runs past the end of the file");
				return -EINVAL;
			}
			/* GNU property notes use 8-byte padding, others 4 */
			ret = pvh_walk_notes(buf + ph.p_offset, ph.p_filesz,
					     ph.p_align == 8 ? 8 : 4, info,
					     &found, err, errlen);
		}
		if (ret)
			return ret;
	}
	if (!info->load_end) {
		errbuf_printf(err, errlen, "no loadable segments");
		return -EINVAL;
	}
	if (!found) {
		errbuf_printf(err, errlen,
			    "no PVH entry note (build the kernel with CONFIG_PVH=y)");
		return -EINVAL;
	}
	if (info->entry < info->load_start || info->entry >= info->load_end) {
		errbuf_printf(err, errlen,
			    "PVH entry 0x%x is outside the loaded segments",
			    info->entry);
		return -EINVAL;
	}
	return 0;
}

/* Copy each PT_LOAD to p_paddr and zero its bss tail. */
static int pvh_load_segments(struct gm *gm, const uint8_t *buf, char *err,
			     size_t errlen)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;

	memcpy(&eh, buf, sizeof(eh));
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		uint8_t *dst;

		get_phdr(buf, &eh, i, &ph);
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		dst = gm_ptr(gm, ph.p_paddr, ph.p_memsz);
		if (!dst) {
			errbuf_printf(err, errlen,
				    "segment at 0x%llx (%llu bytes) is outside guest RAM",
				    (unsigned long long)ph.p_paddr,
				    (unsigned long long)ph.p_memsz);
			return -ENOSPC;
		}
		memcpy(dst, buf + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
	}
	return 0;
}

static int pvh_write_start_info(struct gm *gm, const struct e820_map *e820,
				const struct boot_entry *out)
{
	struct hvm_start_info si = {
		.magic = HVM_START_MAGIC,
		.version = 1,
		.cmdline_paddr = LAYOUT_CMDLINE,
		.memmap_paddr = PVH_MEMMAP,
	};
	struct hvm_memmap_entry mm[E820_MAX_ENTRIES];
	int n = e820->nr < E820_MAX_ENTRIES ? e820->nr : E820_MAX_ENTRIES;

	if (n < 0)
		n = 0;
	memset(mm, 0, sizeof(mm));
	for (int i = 0; i < n; i++) {
		mm[i].addr = e820->e[i].addr;
		mm[i].size = e820->e[i].size;
		mm[i].type = e820->e[i].type;
	}
	si.memmap_entries = (uint32_t)n;
	if (out->initrd_size) {
		struct hvm_modlist_entry mod = {
			.paddr = out->initrd_addr, .size = out->initrd_size,
		};

		si.nr_modules = 1;
		si.modlist_paddr = PVH_MODLIST;
		if (gm_write(gm, PVH_MODLIST, &mod, sizeof(mod)) < 0)
			return -EFAULT;
	}
	if (gm_write(gm, PVH_MEMMAP, mm, n * sizeof(mm[0])) < 0 ||
	    gm_write(gm, LAYOUT_START_INFO, &si, sizeof(si)) < 0)
		return -EFAULT;
	return 0;
}

static int pvh_load_initrd(struct gm *gm, const struct boot_image *img,
			   uint64_t floor, struct boot_entry *out, char *err,
			   size_t errlen)
{
	uint64_t addr;

	if (!img->initrd || img->initrd_size == 0)
		return 0;
	if (boot_place_initrd(gm, img->initrd_size, gm_low_end(gm) - 1, floor,
			      &addr) < 0) {
		errbuf_printf(err, errlen,
			    "initrd (%zu bytes) does not fit in low RAM above the kernel end 0x%llx",
			    img->initrd_size, (unsigned long long)floor);
		return -ENOSPC;
	}
	if (gm_write(gm, addr, img->initrd, img->initrd_size) < 0) {
		errbuf_printf(err, errlen, "cannot write initrd at 0x%llx",
			    (unsigned long long)addr);
		return -EFAULT;
	}
	out->initrd_addr = addr;
	out->initrd_size = img->initrd_size;
	return 0;
}

static int pvh_load_all(struct gm *gm, const struct boot_image *img,
			const struct e820_map *e820, struct boot_entry *out,
			char *err, size_t errlen)
{
	struct pvh_info info;
	int ret;

	ret = pvh_parse(img->kernel, img->kernel_size, &info, err, errlen);
	if (ret)
		return ret;
	memset(out, 0, sizeof(*out));
	ret = pvh_load_segments(gm, img->kernel, err, errlen);
	if (ret)
		return ret;
	ret = boot_write_cmdline(gm, img->cmdline, LAYOUT_CMDLINE_MAX - 1);
	if (ret) {
		errbuf_printf(err, errlen, ret == -E2BIG ?
			    "command line longer than %llu bytes" :
			    "cannot write the command line (%llu bytes max)",
			    LAYOUT_CMDLINE_MAX - 1);
		return ret;
	}
	ret = pvh_load_initrd(gm, img, info.load_end, out, err, errlen);
	if (ret)
		return ret;
	if (pvh_write_start_info(gm, e820, out) < 0) {
		errbuf_printf(err, errlen, "cannot write the PVH start info");
		return -EFAULT;
	}
	out->kind = BOOT_PVH;
	out->entry = info.entry;
	out->boot_info = LAYOUT_START_INFO;
	out->kernel_start = info.load_start;
	out->kernel_end = info.load_end;
	return 0;
}

/*
 * Load a validated PVH ELF: segments at p_paddr (each must lie in guest
 * RAM), command line, initrd as module 0 (highest fit in low RAM above the
 * kernel) and hvm_start_info with the e820 map at LAYOUT_START_INFO.
 * 0, -EINVAL, -ENOSPC, -E2BIG or -EFAULT; `err` names the file.
 */
int pvh_load(struct gm *gm, const struct boot_image *img,
	     const struct e820_map *e820, struct boot_entry *out,
	     char *err, size_t errlen)
{
	char msg[BOOT_ERR_LEN] = "";
	int ret;

	ret = pvh_load_all(gm, img, e820, out, msg, sizeof(msg));
	if (ret)
		errbuf_printf(err, errlen, "%s: %s",
			    img->kernel_name ? img->kernel_name : "kernel", msg);
	return ret;
}
