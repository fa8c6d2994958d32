/* PVH ELF loader: synthetic ELFs (good, malformed headers, segments and
 * notes), the hvm_start_info it writes, and a real vmlinux when cached. */
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "nkvm/boot.h"
#include "nkvm/e820.h"
#include "nkvm/gm.h"
#include "nkvm/layout.h"
#include "tap.h"

#define MiB (1ULL << 20)
#define RAM (64 * MiB)
#define PADDR 0x100000ULL
#define ENTRY (PADDR + 0x10)
#define FILESZ 0x1000ULL
#define MEMSZ 0x3000ULL
#define PHOFF 64
#define NOTE_OFF (PHOFF + 2 * sizeof(Elf64_Phdr))
#define DATA_OFF 0x200
#define ELF_SIZE (DATA_OFF + FILESZ)

/*
 * Write a note (Linux emits the PVH one as namesz 4, descsz 4, type 18,
 * "Xen"). The bytes laid out follow the real name and at most 8 bytes of
 * value, so the header sizes can lie; returns the bytes really written.
 */
static size_t put_note(uint8_t *p, uint32_t namesz, uint32_t descsz,
		       uint32_t type, const char *name, uint64_t desc)
{
	uint32_t hdr[3] = { namesz, descsz, type };
	size_t n = (strlen(name) + 1 + 3) & ~(size_t)3;
	size_t d = descsz <= 8 ? (descsz + 3) & ~3u : 8;

	memcpy(p, hdr, 12);
	memcpy(p + 12, name, strlen(name) + 1);
	memcpy(p + 12 + n, &desc, descsz < 8 ? descsz : 8);
	if (descsz == 2) /* keep the 4-byte padding defined */
		memset(p + 12 + n + 2, 0, 2);
	return 12 + n + d;
}

static void set_note_size(uint8_t *b, uint64_t size)
{
	Elf64_Phdr ph;

	memcpy(&ph, b + PHOFF + sizeof(ph), sizeof(ph));
	ph.p_filesz = size;
	memcpy(b + PHOFF + sizeof(ph), &ph, sizeof(ph));
}

static uint8_t *make_elf(void)
{
	uint8_t *b = calloc(1, ELF_SIZE);
	Elf64_Ehdr eh = {
		.e_type = ET_EXEC, .e_machine = EM_X86_64,
		.e_version = EV_CURRENT, .e_entry = 0xffffffff81000000ULL,
		.e_phoff = PHOFF, .e_ehsize = sizeof(Elf64_Ehdr),
		.e_phentsize = sizeof(Elf64_Phdr), .e_phnum = 2,
	};
	Elf64_Phdr ph[2] = {
		{ .p_type = PT_LOAD, .p_flags = PF_R | PF_X,
		  .p_offset = DATA_OFF, .p_vaddr = 0xffffffff81000000ULL,
		  .p_paddr = PADDR, .p_filesz = FILESZ, .p_memsz = MEMSZ,
		  .p_align = 0x1000 },
		{ .p_type = PT_NOTE, .p_offset = NOTE_OFF, .p_align = 4 },
	};

	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	memcpy(b, &eh, sizeof(eh));
	memcpy(b + PHOFF, ph, sizeof(ph));
	set_note_size(b, put_note(b + NOTE_OFF, 4, 4, 18, "Xen", ENTRY));
	for (size_t i = 0; i < FILESZ; i++)
		b[DATA_OFF + i] = (uint8_t)(i * 3 + 1);
	return b;
}

static void get_ehdr(const uint8_t *b, Elf64_Ehdr *eh)
{
	memcpy(eh, b, sizeof(*eh));
}

static void put_ehdr(uint8_t *b, const Elf64_Ehdr *eh)
{
	memcpy(b, eh, sizeof(*eh));
}

static void get_ph(const uint8_t *b, int i, Elf64_Phdr *ph)
{
	memcpy(ph, b + PHOFF + i * sizeof(*ph), sizeof(*ph));
}

static void put_ph(uint8_t *b, int i, const Elf64_Phdr *ph)
{
	memcpy(b + PHOFF + i * sizeof(*ph), ph, sizeof(*ph));
}

/* Exact-size heap copy so ASan catches any read past `len`. */
static int parse_len(const uint8_t *img, size_t len, struct pvh_info *info,
		     char *err)
{
	uint8_t *c = malloc(len ? len : 1);
	int ret;

	memcpy(c, img, len);
	ret = pvh_parse(c, len, info, err, BOOT_ERR_LEN);
	free(c);
	return ret;
}

static void expect_bad(const uint8_t *img, size_t len, const char *what,
		       const char *needle)
{
	char err[BOOT_ERR_LEN] = "";
	struct pvh_info info;

	is_int(parse_len(img, len, &info, err), -EINVAL, "%s -> -EINVAL", what);
	if (needle)
		ok(strstr(err, needle) != NULL, "  message \"%s\" has \"%s\"",
		   err, needle);
	else
		ok(err[0] != 0, "  message: %s", err);
}

static void test_good(void)
{
	uint8_t *b = make_elf();
	char err[BOOT_ERR_LEN] = "";
	struct pvh_info info;

	is_int(boot_detect(b, ELF_SIZE), BOOT_PVH, "detected as ELF");
	is_int(parse_len(b, ELF_SIZE, &info, err), 0, "good ELF parses (%s)", err);
	is_int(info.entry, ENTRY, "entry from the note");
	is_int(info.load_start, PADDR, "load_start");
	is_int(info.load_end, PADDR + MEMSZ, "load_end");

	/* an 8-byte descriptor is fine too */
	set_note_size(b, put_note(b + NOTE_OFF, 4, 8, 18, "Xen", ENTRY));
	is_int(parse_len(b, ELF_SIZE, &info, err), 0, "8-byte note value");
	is_int(info.entry, ENTRY, "  entry");
	free(b);
}

static void test_notes(void)
{
	uint8_t *b = make_elf();
	char err[BOOT_ERR_LEN] = "";
	struct pvh_info info;
	Elf64_Phdr ph;
	size_t n;

	/* another note first, then the PVH one */
	n = put_note(b + NOTE_OFF, 4, 8, 3, "GNU", 0x1234);
	n += put_note(b + NOTE_OFF + n, 4, 4, 18, "Xen", ENTRY);
	set_note_size(b, n);
	is_int(parse_len(b, ELF_SIZE, &info, err), 0, "PVH note after a GNU note");
	is_int(info.entry, ENTRY, "  entry");

	/* 8-byte aligned notes (GNU property style): 12-byte GNU value,
	 * padded to 8, then the PVH note */
	{
		static const uint32_t gnu[3] = { 4, 12, 5 };

		memcpy(b + NOTE_OFF, gnu, 12);
		memcpy(b + NOTE_OFF + 12, "GNU", 4);
		memset(b + NOTE_OFF + 16, 0x11, 16);
		n = 32 + put_note(b + NOTE_OFF + 32, 4, 4, 18, "Xen", ENTRY);
		set_note_size(b, n);
		get_ph(b, 1, &ph);
		ph.p_align = 8;
		put_ph(b, 1, &ph);
		is_int(parse_len(b, ELF_SIZE, &info, err), 0,
		       "8-byte aligned notes (%s)", err);
		is_int(info.entry, ENTRY, "  entry");
		ph.p_align = 4;
		put_ph(b, 1, &ph);
		expect_bad(b, ELF_SIZE, "same notes walked with 4-byte alignment",
			   NULL);
	}

	set_note_size(b, put_note(b + NOTE_OFF, 4, 4, 17, "Xen", ENTRY));
	expect_bad(b, ELF_SIZE, "no PHYS32_ENTRY note",
		   "no PVH entry note (build the kernel with CONFIG_PVH=y)");
	set_note_size(b, put_note(b + NOTE_OFF, 4, 4, 18, "Xem", ENTRY));
	expect_bad(b, ELF_SIZE, "note named Xem", "CONFIG_PVH=y");
	set_note_size(b, 0);
	expect_bad(b, ELF_SIZE, "empty note segment", "CONFIG_PVH=y");

	set_note_size(b, put_note(b + NOTE_OFF, 0xfffffff0, 4, 18, "Xen", ENTRY));
	expect_bad(b, ELF_SIZE, "lying namesz", "malformed");
	set_note_size(b, put_note(b + NOTE_OFF, 0xffffffff, 4, 18, "Xen", ENTRY));
	expect_bad(b, ELF_SIZE, "namesz 0xffffffff", "malformed");
	set_note_size(b, put_note(b + NOTE_OFF, 4, 100, 18, "Xen", ENTRY));
	expect_bad(b, ELF_SIZE, "lying descsz", "malformed");
	set_note_size(b, put_note(b + NOTE_OFF, 4, 0xfffffffd, 18, "Xen", ENTRY));
	expect_bad(b, ELF_SIZE, "descsz 0xfffffffd", "malformed");
	set_note_size(b, put_note(b + NOTE_OFF, 4, 2, 18, "Xen", ENTRY));
	expect_bad(b, ELF_SIZE, "2-byte note value", "bad PVH entry note");
	set_note_size(b, put_note(b + NOTE_OFF, 4, 8, 18, "Xen",
				  ENTRY | 1ULL << 32));
	expect_bad(b, ELF_SIZE, "entry above 4 GiB", "bad PVH entry note");
	set_note_size(b, put_note(b + NOTE_OFF, 4, 4, 18, "Xen", PADDR + MEMSZ));
	expect_bad(b, ELF_SIZE, "entry outside the segments", "outside");

	set_note_size(b, put_note(b + NOTE_OFF, 4, 4, 18, "Xen", ENTRY));
	get_ph(b, 1, &ph);
	ph.p_offset = ELF_SIZE - 8;
	put_ph(b, 1, &ph);
	expect_bad(b, ELF_SIZE, "note segment past EOF", "end of the file");
	ph.p_offset = UINT64_MAX - 4;
	put_ph(b, 1, &ph);
	expect_bad(b, ELF_SIZE, "note offset overflow", "end of the file");
	free(b);
}

static void test_headers(void)
{
	static const size_t lens[] = { 0, 3, 4, 16, 63, 64, 100, NOTE_OFF,
				       NOTE_OFF + 10 };
	uint8_t *b = make_elf();
	Elf64_Ehdr eh;

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		char what[64];

		snprintf(what, sizeof(what), "truncated to %zu bytes", lens[i]);
		expect_bad(b, lens[i], what, NULL);
	}
	b[0] = 0x7e;
	expect_bad(b, ELF_SIZE, "bad magic", "not an ELF");
	free(b);

	b = make_elf();
	b[EI_CLASS] = ELFCLASS32;
	expect_bad(b, ELF_SIZE, "32-bit class",
		   "32-bit ELF, nkvm boots 64-bit kernels only");
	b[EI_CLASS] = 7;
	expect_bad(b, ELF_SIZE, "class 7", "class");
	b[EI_CLASS] = ELFCLASS64;
	b[EI_DATA] = ELFDATA2MSB;
	expect_bad(b, ELF_SIZE, "big-endian", "little-endian");
	b[EI_DATA] = ELFDATA2LSB;

	get_ehdr(b, &eh);
	eh.e_machine = EM_386;
	put_ehdr(b, &eh);
	expect_bad(b, ELF_SIZE, "e_machine EM_386", "x86-64");
	eh.e_machine = EM_X86_64;
	eh.e_type = ET_DYN;
	put_ehdr(b, &eh);
	expect_bad(b, ELF_SIZE, "ET_DYN", "executable");
	eh.e_type = ET_EXEC;
	eh.e_phentsize = 32;
	put_ehdr(b, &eh);
	expect_bad(b, ELF_SIZE, "e_phentsize 32", "program header");
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = 0;
	put_ehdr(b, &eh);
	expect_bad(b, ELF_SIZE, "e_phnum 0", "program header");
	eh.e_phnum = 100;
	put_ehdr(b, &eh);
	expect_bad(b, ELF_SIZE, "phdr table past EOF", "past the end");
	eh.e_phnum = 2;
	eh.e_phoff = ELF_SIZE - 8;
	put_ehdr(b, &eh);
	expect_bad(b, ELF_SIZE, "phoff near EOF", "past the end");
	eh.e_phoff = UINT64_MAX - 8;
	put_ehdr(b, &eh);
	expect_bad(b, ELF_SIZE, "phoff overflow", "past the end");
	free(b);
}

static void test_segments(void)
{
	uint8_t *b = make_elf();
	Elf64_Phdr ph, good;

	get_ph(b, 0, &good);
	ph = good;
	ph.p_memsz = FILESZ - 1;
	put_ph(b, 0, &ph);
	expect_bad(b, ELF_SIZE, "PT_LOAD filesz > memsz", "p_filesz > p_memsz");
	ph = good;
	ph.p_filesz = FILESZ + 1;
	put_ph(b, 0, &ph);
	expect_bad(b, ELF_SIZE, "PT_LOAD data past EOF", "end of the file");
	ph = good;
	ph.p_offset = UINT64_MAX - 0x10;
	put_ph(b, 0, &ph);
	expect_bad(b, ELF_SIZE, "PT_LOAD offset overflow", "end of the file");
	ph = good;
	ph.p_paddr = 0x10000;
	put_ph(b, 0, &ph);
	expect_bad(b, ELF_SIZE, "segment below 1 MiB", "below 1 MiB");
	ph = good;
	ph.p_paddr = 0xfffff000;
	put_ph(b, 0, &ph);
	expect_bad(b, ELF_SIZE, "segment crossing 4 GiB", "4 GiB");
	ph = good;
	ph.p_paddr = UINT64_MAX - 0x1000;
	put_ph(b, 0, &ph);
	expect_bad(b, ELF_SIZE, "p_paddr + p_memsz wraps", "4 GiB");
	ph = good;
	ph.p_type = PT_NULL;
	put_ph(b, 0, &ph);
	expect_bad(b, ELF_SIZE, "no PT_LOAD", "no loadable");
	free(b);
}

struct loaded {
	struct gm gm;
	struct e820_map e820;
	struct boot_entry out;
	char err[BOOT_ERR_LEN];
	int ret;
};

static void load(struct loaded *l, const uint8_t *img, size_t len,
		 const uint8_t *initrd, size_t initrd_size, const char *cmdline)
{
	struct boot_image bi = {
		.kernel = img, .kernel_size = len, .kernel_name = "vmlinux",
		.initrd = initrd, .initrd_size = initrd_size,
		.cmdline = cmdline,
	};

	memset(l, 0, sizeof(*l));
	if (gm_init(&l->gm, RAM) != 0) {
		l->ret = -ENOMEM;
		return;
	}
	/* dirty RAM so the bss zeroing is visible */
	memset(gm_ptr(&l->gm, PADDR, MEMSZ), 0xaa, MEMSZ);
	e820_build(&l->e820, &l->gm);
	l->ret = pvh_load(&l->gm, &bi, &l->e820, &l->out, l->err,
			  sizeof(l->err));
}

/* Offsets inside hvm_start_info and its tables */
static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static int zeroed(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return 0;
	return 1;
}

static void check_memmap(struct loaded *l, const uint8_t *si)
{
	uint64_t mm = rd64(si + 0x28);
	const uint8_t *m;
	int same = 1;

	is_int(rd32(si + 0x30), l->e820.nr, "memmap_entries = e820 entries");
	m = gm_ptr(&l->gm, mm, 24 * (uint64_t)l->e820.nr);
	ok(m && mm >= LAYOUT_START_INFO + 56 && mm % 8 == 0 &&
	   mm + 24 * l->e820.nr <= LAYOUT_START_INFO + 4096,
	   "memmap after the start info, in its page");
	if (!m)
		return;
	for (int i = 0; i < l->e820.nr; i++, m += 24)
		if (rd64(m) != l->e820.e[i].addr ||
		    rd64(m + 8) != l->e820.e[i].size ||
		    rd32(m + 16) != l->e820.e[i].type || rd32(m + 20) != 0)
			same = 0;
	ok(same, "memmap matches the e820 map");
}

static void test_load(void)
{
	uint8_t *b = make_elf();
	static uint8_t initrd[300000];
	const char *cmd = "console=hvc0 quiet";
	const uint8_t *si, *mod;
	struct loaded l;
	uint64_t ml;

	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i * 7);
	load(&l, b, ELF_SIZE, initrd, sizeof(initrd), cmd);
	is_int(l.ret, 0, "pvh_load with initrd (%s)", l.err);
	if (l.ret)
		goto out;
	is_int(l.out.kind, BOOT_PVH, "kind PVH");
	is_int(l.out.entry, ENTRY, "entry");
	is_int(l.out.boot_info, LAYOUT_START_INFO, "boot_info = start info");
	is_int(l.out.kernel_start, PADDR, "kernel_start");
	is_int(l.out.kernel_end, PADDR + MEMSZ, "kernel_end");
	ok(memcmp(gm_ptr(&l.gm, PADDR, FILESZ), b + DATA_OFF, FILESZ) == 0,
	   "segment data at p_paddr");
	ok(zeroed(gm_ptr(&l.gm, PADDR + FILESZ, MEMSZ - FILESZ), MEMSZ - FILESZ),
	   "bss zeroed");
	is_str(gm_ptr(&l.gm, LAYOUT_CMDLINE, strlen(cmd) + 1), cmd,
	       "command line");

	si = gm_ptr(&l.gm, LAYOUT_START_INFO, 56);
	is_int(rd32(si), 0x336ec578, "start_info magic");
	is_int(rd32(si + 4), 1, "version 1");
	is_int(rd32(si + 8), 0, "flags 0");
	is_int(rd32(si + 12), 1, "nr_modules 1");
	is_int(rd64(si + 0x18), LAYOUT_CMDLINE, "cmdline_paddr");
	is_int(rd64(si + 0x20), 0, "rsdp_paddr 0");
	is_int(rd32(si + 0x34), 0, "reserved 0");
	check_memmap(&l, si);
	ml = rd64(si + 0x10);
	mod = gm_ptr(&l.gm, ml, 32);
	ok(mod && ml >= LAYOUT_START_INFO + 56 && ml + 32 <= LAYOUT_START_INFO + 4096,
	   "module list after the start info");
	if (mod) {
		is_int(rd64(mod), l.out.initrd_addr, "module paddr = initrd");
		is_int(rd64(mod + 8), sizeof(initrd), "module size");
		is_int(rd64(mod + 16), 0, "module cmdline_paddr 0");
		is_int(rd64(mod + 24), 0, "module reserved 0");
	}
	ok(rd64(si + 0x28) >= ml + 32 || rd64(si + 0x28) + 24 * 8 <= ml,
	   "module list and memmap do not overlap");
	ok(l.out.initrd_addr % 4096 == 0 && l.out.initrd_addr >= PADDR + MEMSZ &&
	   l.out.initrd_addr + sizeof(initrd) <= RAM, "initrd placed in low RAM above the kernel");
	ok(memcmp(gm_ptr(&l.gm, l.out.initrd_addr, sizeof(initrd)), initrd,
		  sizeof(initrd)) == 0, "initrd contents");
	gm_destroy(&l.gm);

	load(&l, b, ELF_SIZE, NULL, 0, "");
	is_int(l.ret, 0, "pvh_load without initrd");
	si = gm_ptr(&l.gm, LAYOUT_START_INFO, 56);
	is_int(rd32(si + 12), 0, "  nr_modules 0");
	is_int(rd64(si + 0x10), 0, "  modlist_paddr 0");
	is_int(l.out.initrd_size, 0, "  no initrd in boot_entry");
	gm_destroy(&l.gm);
out:
	free(b);
}

static void test_load_bad(void)
{
	uint8_t *b = make_elf();
	static uint8_t big[64 * MiB];
	Elf64_Phdr ph;
	struct loaded l;

	get_ph(b, 0, &ph);
	ph.p_paddr = 0x10000000; /* 256 MiB: parses, but not in 64 MiB of RAM */
	put_ph(b, 0, &ph);
	set_note_size(b, put_note(b + NOTE_OFF, 4, 4, 18, "Xen", 0x10000010));
	load(&l, b, ELF_SIZE, NULL, 0, "");
	is_int(l.ret, -ENOSPC, "segment outside guest RAM -> -ENOSPC");
	ok(strncmp(l.err, "vmlinux: ", 9) == 0 && strstr(l.err, "outside guest RAM"),
	   "  message: %s", l.err);
	gm_destroy(&l.gm);
	free(b);

	b = make_elf();
	load(&l, b, ELF_SIZE, big, sizeof(big), "");
	is_int(l.ret, -ENOSPC, "initrd bigger than RAM -> -ENOSPC");
	ok(strstr(l.err, "initrd") != NULL, "  message: %s", l.err);
	gm_destroy(&l.gm);

	b[EI_CLASS] = ELFCLASS32;
	load(&l, b, ELF_SIZE, NULL, 0, "");
	is_str(l.err, "vmlinux: 32-bit ELF, nkvm boots 64-bit kernels only",
	       "load error names the file");
	gm_destroy(&l.gm);
	free(b);
}

static void test_real(void)
{
	const char *home = getenv("HOME");
	char path[512], err[BOOT_ERR_LEN] = "";
	static uint8_t initrd[4096];
	struct pvh_info info;
	struct loaded l;
	struct stat st;
	uint8_t *buf;
	FILE *f;

	snprintf(path, sizeof(path), "%s/.cache/nkvm/default/vmlinux",
		 home ? home : "/");
	if (stat(path, &st) != 0 || !(f = fopen(path, "rb"))) {
		diag("no %s, skipping the real-kernel check", path);
		ok(1, "# skip no cached vmlinux");
		return;
	}
	buf = malloc((size_t)st.st_size);
	if (fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
		st.st_size = 0;
	fclose(f);
	is_int(pvh_parse(buf, (size_t)st.st_size, &info, err, sizeof(err)), 0,
	       "real vmlinux parses (%s)", err);
	ok(info.entry >= info.load_start && info.entry < info.load_end,
	   "real vmlinux: entry %#x inside [%#llx, %#llx)", info.entry,
	   (unsigned long long)info.load_start,
	   (unsigned long long)info.load_end);
	load(&l, buf, (size_t)st.st_size, initrd, sizeof(initrd), "quiet");
	is_int(l.ret, 0, "real vmlinux loads into 64 MiB (%s)", l.err);
	ok(l.ret == 0 && memcmp(gm_ptr(&l.gm, LAYOUT_START_INFO, 4),
				"\x78\xc5\x6e\x33", 4) == 0,
	   "real vmlinux: start info magic");
	gm_destroy(&l.gm);
	free(buf);
}

int main(void)
{
	test_good();
	test_notes();
	test_headers();
	test_segments();
	test_load();
	test_load_bad();
	test_real();
	return done_testing();
}
