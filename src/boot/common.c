/* Helpers shared by the bzImage and PVH loaders, and the dispatcher. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nkvm/le.h"
#include "nkvm/boot.h"
#include "nkvm/log.h"
#include "nkvm/gm.h"
#include "nkvm/layout.h"

#define BOOT_PAGE_SIZE 4096ULL

/* Page table entry bits */
#define PTE_P  0x1ULL
#define PTE_RW 0x2ULL
#define PTE_PS 0x80ULL

/* The 64-bit boot protocol wants __BOOT_CS = 0x10 and __BOOT_DS = 0x18;
 * 0x08 is a flat 32-bit code segment, as arch/x86 uses for PVH. */
#define GDT_CODE32 0x00cf9b000000ffffULL /* D=1, present, exec/read */
#define GDT_CODE64 0x00af9b000000ffffULL /* L=1, present, exec/read */
#define GDT_DATA   0x00cf93000000ffffULL /* 4 GiB flat, read/write */


/*
 * Identify a kernel file by its magic: a bzImage has the 0xAA55 boot flag
 * and "HdrS" in its setup header, an ELF file starts with \x7fELF.
 * Only detection; the loaders validate everything else.
 */
enum boot_kind boot_detect(const uint8_t *buf, size_t len)
{
	if (len >= 0x206 && get_le16(buf + 0x1fe) == 0xaa55 &&
	    memcmp(buf + 0x202, "HdrS", 4) == 0)
		return BOOT_BZIMAGE;
	if (len >= 4 && memcmp(buf, "\x7f" "ELF", 4) == 0)
		return BOOT_PVH;
	return BOOT_UNKNOWN;
}

/*
 * Highest 4 KiB-aligned address for an initrd of `size` bytes whose last
 * byte is <= max_addr and inside low RAM, not below `floor`. Loaders put
 * the initrd high so the kernel's own decompression and early allocations
 * below it stay free. 0, -EINVAL for size 0, or -ENOSPC.
 */
int boot_place_initrd(const struct gm *gm, uint64_t size, uint64_t max_addr,
		      uint64_t floor, uint64_t *addr)
{
	uint64_t low_end = gm_low_end(gm);
	uint64_t top, a;

	if (size == 0)
		return -EINVAL;
	if (low_end == 0)
		return -ENOSPC;
	top = max_addr < low_end - 1 ? max_addr : low_end - 1;
	if (size - 1 > top)
		return -ENOSPC;
	a = (top - (size - 1)) & ~(BOOT_PAGE_SIZE - 1);
	if (a < floor)
		return -ENOSPC;
	*addr = a;
	return 0;
}

/*
 * Copy the NUL-terminated command line to LAYOUT_CMDLINE. max_len excludes
 * the NUL and is capped by the space reserved there. A NULL cmdline writes
 * an empty one. 0, -E2BIG if too long, or -EFAULT if RAM is too small.
 */
int boot_write_cmdline(struct gm *gm, const char *cmdline, size_t max_len)
{
	size_t len;

	if (max_len > LAYOUT_CMDLINE_MAX - 1)
		max_len = LAYOUT_CMDLINE_MAX - 1;
	if (!cmdline)
		cmdline = "";
	len = strnlen(cmdline, max_len + 1);
	if (len > max_len)
		return -E2BIG;
	return gm_write(gm, LAYOUT_CMDLINE, cmdline, len + 1);
}

/*
 * Identity-map 0..4 GiB with 2 MiB pages (PML4 -> one PDPT -> four PDs)
 * and write the first four boot GDT entries (the same ones x86_write_gdt
 * writes, so the two can run in either order). The 64-bit entry needs the
 * kernel, zero page and command line mapped; 4 GiB covers them wherever
 * they are in low RAM. 0 or -EFAULT.
 */
int boot_write_page_tables(struct gm *gm)
{
	uint8_t *pml4 = gm_ptr(gm, LAYOUT_PML4, BOOT_PAGE_SIZE);
	uint8_t *pdpt = gm_ptr(gm, LAYOUT_PDPT, BOOT_PAGE_SIZE);
	uint8_t *pd = gm_ptr(gm, LAYOUT_PD, 4 * BOOT_PAGE_SIZE);
	uint8_t *gdt = gm_ptr(gm, LAYOUT_GDT, 4 * 8);

	if (!pml4 || !pdpt || !pd || !gdt)
		return -EFAULT;
	memset(pml4, 0, BOOT_PAGE_SIZE);
	memset(pdpt, 0, BOOT_PAGE_SIZE);
	put_le64(pml4, LAYOUT_PDPT | PTE_P | PTE_RW);
	for (uint64_t i = 0; i < 4; i++)
		put_le64(pdpt + 8 * i,
			 (LAYOUT_PD + i * BOOT_PAGE_SIZE) | PTE_P | PTE_RW);
	for (uint64_t i = 0; i < 4 * 512; i++)
		put_le64(pd + 8 * i, (i << 21) | PTE_P | PTE_RW | PTE_PS);

	put_le64(gdt, 0);
	put_le64(gdt + 8, GDT_CODE32);
	put_le64(gdt + 16, GDT_CODE64);
	put_le64(gdt + 24, GDT_DATA);
	return 0;
}

/*
 * Detect the kernel format and run its loader. Returns the loader's
 * result; -EINVAL with a message for a file that is neither a bzImage nor
 * an ELF. Page tables and GDT are the caller's (boot_write_page_tables).
 */
int boot_load(struct gm *gm, const struct boot_image *img,
	      const struct e820_map *e820, struct boot_entry *out,
	      char *err, size_t errlen)
{
	switch (boot_detect(img->kernel, img->kernel_size)) {
	case BOOT_BZIMAGE:
		return bzimage_load(gm, img, e820, out, err, errlen);
	case BOOT_PVH:
		return pvh_load(gm, img, e820, out, err, errlen);
	default:
		errbuf_printf(err, errlen,
			    "%s: not a Linux kernel (no bzImage or ELF header)",
			    img->kernel_name ? img->kernel_name : "kernel");
		return -EINVAL;
	}
}
