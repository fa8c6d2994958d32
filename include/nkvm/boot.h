/*
 * Kernel loaders: bzImage (64-bit boot protocol) and ELF vmlinux (PVH entry).
 * Pure code: parses files held in memory and writes into guest RAM through
 * gm_*; never includes <linux/kvm.h>. The vCPU setup that follows uses
 * struct boot_entry.
 */
#ifndef NKVM_BOOT_H
#define NKVM_BOOT_H

#include <stddef.h>
#include <stdint.h>

struct gm;
struct e820_map;

enum boot_kind {
	BOOT_UNKNOWN = 0,
	BOOT_BZIMAGE,   /* enter in 64-bit long mode, RSI = zero page */
	BOOT_PVH,       /* enter in 32-bit protected mode, EBX = hvm_start_info */
};

/* What the vCPU setup needs after a kernel was loaded. */
struct boot_entry {
	enum boot_kind kind;
	uint64_t entry;      /* RIP (bzImage: 64-bit entry) or EIP (PVH) */
	uint64_t boot_info;  /* RSI (bzImage zero page) or EBX (PVH start info) */
	uint64_t kernel_start, kernel_end; /* guest-physical range occupied */
	uint64_t initrd_addr, initrd_size;
};

/* Everything a loader needs. Buffers are owned by the caller. */
struct boot_image {
	const uint8_t *kernel;
	size_t kernel_size;
	const char *kernel_name;  /* for error messages */
	const uint8_t *initrd;    /* may be NULL */
	size_t initrd_size;
	const char *cmdline;      /* full command line, NUL-terminated */
};

/* Error text for the user: one line, names the file and what is wrong. */
#define BOOT_ERR_LEN 256

/* Which loader understands this file (by magic). BOOT_UNKNOWN if none. */
enum boot_kind boot_detect(const uint8_t *buf, size_t len);

/* --- bzImage (boot/bzimage.c) --- */
struct bzimage_info {
	uint16_t protocol;        /* setup header version, e.g. 0x020f */
	uint32_t setup_size;      /* bytes of real-mode setup incl. boot sector */
	uint32_t pm_offset;       /* file offset of the protected-mode kernel */
	uint32_t pm_size;         /* its size */
	uint64_t pref_address;    /* preferred load address */
	uint32_t kernel_alignment;
	uint32_t init_size;       /* memory the kernel needs from its load address */
	uint32_t initrd_addr_max; /* highest byte address an initrd may occupy */
	uint32_t cmdline_size;    /* max command line length without NUL */
	uint8_t relocatable;
	uint16_t xloadflags;
};

/*
 * Validate a bzImage's setup header: boot flag 0xAA55, "HdrS", protocol
 * >= 2.06, setup_sects sane and inside the file, 64-bit entry present
 * (XLF_KERNEL_64). Returns 0 or -EINVAL with `err` filled.
 */
int bzimage_parse(const uint8_t *buf, size_t len, struct bzimage_info *info,
		  char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * Load a bzImage: protected-mode kernel at its preferred (or aligned)
 * address, zero page at LAYOUT_ZERO_PAGE with the setup header, e820,
 * command line and initrd (below initrd_addr_max). Returns 0 or -errno.
 */
int bzimage_load(struct gm *gm, const struct boot_image *img,
		 const struct e820_map *e820, struct boot_entry *out,
		 char *err, size_t errlen) __attribute__((warn_unused_result));

/* --- ELF vmlinux with PVH note (boot/pvh.c) --- */
struct pvh_info {
	uint32_t entry;           /* XEN_ELFNOTE_PHYS32_ENTRY value */
	uint64_t load_start;      /* lowest PT_LOAD p_paddr */
	uint64_t load_end;        /* highest p_paddr + p_memsz */
};

/* Validate an ELF64 x86-64 executable: headers and program headers inside
 * the file, PT_LOAD segments sane, a PVH entry note present. 0 or -EINVAL. */
int pvh_parse(const uint8_t *buf, size_t len, struct pvh_info *info,
	      char *err, size_t errlen) __attribute__((warn_unused_result));

/* Load the PT_LOAD segments at their physical addresses, write the
 * hvm_start_info (with memmap from e820, cmdline, initrd module) at
 * LAYOUT_START_INFO. 0 or -errno. */
int pvh_load(struct gm *gm, const struct boot_image *img,
	     const struct e820_map *e820, struct boot_entry *out,
	     char *err, size_t errlen) __attribute__((warn_unused_result));

/* --- shared helpers (boot/common.c) --- */

/* Choose where an initrd of `size` bytes goes: the highest 4 KiB-aligned
 * address with addr + size - 1 <= max_addr, inside low RAM, at or above
 * `floor` (end of the kernel). 0 or -ENOSPC. */
int boot_place_initrd(const struct gm *gm, uint64_t size, uint64_t max_addr,
		      uint64_t floor, uint64_t *addr) __attribute__((warn_unused_result));

/* Copy the command line to LAYOUT_CMDLINE; -E2BIG if longer than max_len. */
int boot_write_cmdline(struct gm *gm, const char *cmdline, size_t max_len)
	__attribute__((warn_unused_result));

/* Identity-map the first 4 GiB with 2 MiB pages at LAYOUT_PML4.. and write
 * a flat GDT at LAYOUT_GDT (null, code32 = 0x08, code64 = 0x10,
 * data = 0x18; the same first four entries as x86_write_gdt, later ones
 * untouched). */
int boot_write_page_tables(struct gm *gm) __attribute__((warn_unused_result));

/* Load any supported kernel (dispatches on boot_detect). */
int boot_load(struct gm *gm, const struct boot_image *img,
	      const struct e820_map *e820, struct boot_entry *out,
	      char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
