/*
 * bzImage loader, 64-bit boot protocol (Documentation/arch/x86/boot.rst):
 * the protected-mode kernel is copied to its load address and entered at
 * load + 0x200 in long mode, with RSI pointing at the zero page.
 */
#include <errno.h>
#include <string.h>

#include "nkvm/le.h"
#include "nkvm/boot.h"
#include "nkvm/log.h"
#include "nkvm/e820.h"
#include "nkvm/gm.h"
#include "nkvm/layout.h"

/* Setup header fields: file offset == offset inside struct boot_params. */
#define HDR_START           0x1f1
#define HDR_SETUP_SECTS     0x1f1 /* u8, 0 means 4 */
#define HDR_SYSSIZE         0x1f4 /* u32, pm kernel size in 16-byte units */
#define HDR_VID_MODE        0x1fa /* u16 */
#define HDR_BOOT_FLAG       0x1fe /* u16, 0xAA55 */
#define HDR_JUMP            0x200 /* short jmp; byte 0x201 = header length */
#define HDR_MAGIC           0x202 /* "HdrS" */
#define HDR_VERSION         0x206 /* u16 */
#define HDR_TYPE_OF_LOADER  0x210 /* u8 */
#define HDR_LOADFLAGS       0x211 /* u8 */
#define HDR_CODE32_START    0x214 /* u32 */
#define HDR_RAMDISK_IMAGE   0x218 /* u32 */
#define HDR_RAMDISK_SIZE    0x21c /* u32 */
#define HDR_HEAP_END_PTR    0x224 /* u16 */
#define HDR_CMD_LINE_PTR    0x228 /* u32 */
#define HDR_INITRD_ADDR_MAX 0x22c /* u32 */
#define HDR_KERNEL_ALIGN    0x230 /* u32 */
#define HDR_RELOCATABLE     0x234 /* u8 */
#define HDR_XLOADFLAGS      0x236 /* u16 */
#define HDR_CMDLINE_SIZE    0x238 /* u32 */
#define HDR_PREF_ADDRESS    0x258 /* u64 */
#define HDR_INIT_SIZE       0x260 /* u32 */
#define HDR_MAX_END         0x290 /* where boot_params puts the next field */

/* Zero page fields outside the setup header */
#define ZP_SIZE              4096
#define ZP_EXT_RAMDISK_IMAGE 0x0c0 /* u32, bits 63:32 */
#define ZP_EXT_RAMDISK_SIZE  0x0c4 /* u32 */
#define ZP_EXT_CMD_LINE_PTR  0x0c8 /* u32 */
#define ZP_E820_ENTRIES      0x1e8 /* u8 */
#define ZP_E820_TABLE        0x2d0 /* 128 x {u64 addr, u64 size, u32 type} */
#define ZP_E820_MAX          128
#define ZP_E820_ENTRY_SIZE   20

#define LOADED_HIGH   0x01
#define CAN_USE_HEAP  0x80
#define XLF_KERNEL_64 0x0001

#define BZ_MIN_PROTOCOL   0x0206
#define BZ_XLF_PROTOCOL   0x020c /* xloadflags appeared in 2.12 */
#define BZ_PREF_PROTOCOL  0x020a /* pref_address/init_size in 2.10 */
#define BZ_LOW_LIMIT      0x100000ULL /* below 1 MiB belongs to nkvm */
/* heap end for a loader that never runs the real-mode setup (as others do) */
#define BZ_HEAP_END       0xfe00

static int bz_check_magic(const uint8_t *buf, size_t len, char *err,
			  size_t errlen)
{
	if (len < HDR_VERSION + 2) {
		errbuf_printf(err, errlen,
			    "file too small for a bzImage (%zu bytes)", len);
		return -EINVAL;
	}
	if (get_le16(buf + HDR_BOOT_FLAG) != 0xaa55) {
		errbuf_printf(err, errlen, "no 0xAA55 boot flag at offset 0x1fe");
		return -EINVAL;
	}
	if (memcmp(buf + HDR_MAGIC, "HdrS", 4) != 0) {
		errbuf_printf(err, errlen, "no \"HdrS\" setup header magic");
		return -EINVAL;
	}
	return 0;
}

/* Where the kernel lives in the file, checked against the file size. */
static int bz_parse_sizes(const uint8_t *buf, size_t len,
			  struct bzimage_info *info, char *err, size_t errlen)
{
	uint32_t sects = buf[HDR_SETUP_SECTS] ? buf[HDR_SETUP_SECTS] : 4;
	uint64_t sys_bytes;

	info->setup_size = (sects + 1) * 512;
	if (info->setup_size >= len) {
		errbuf_printf(err, errlen,
			    "truncated: %u setup sectors but file is %zu bytes",
			    sects, len);
		return -EINVAL;
	}
	info->pm_offset = info->setup_size;
	if (len - info->setup_size > UINT32_MAX) {
		errbuf_printf(err, errlen, "kernel too large (%zu bytes)", len);
		return -EINVAL;
	}
	info->pm_size = (uint32_t)(len - info->setup_size);
	/* build.c stores the kernel size (before its CRC) in 16-byte units */
	sys_bytes = (uint64_t)get_le32(buf + HDR_SYSSIZE) * 16;
	if (sys_bytes > info->pm_size) {
		errbuf_printf(err, errlen,
			    "truncated: header says %llu kernel bytes, file has %u",
			    (unsigned long long)sys_bytes, info->pm_size);
		return -EINVAL;
	}
	return 0;
}

/*
 * Check a bzImage's setup header and fill `info`: magics, protocol >= 2.06,
 * setup and kernel sizes inside the file, a loaded-high kernel with a
 * 64-bit entry, and a usable alignment or preferred address.
 * 0 or -EINVAL with `err` set (without the file name).
 */
int bzimage_parse(const uint8_t *buf, size_t len, struct bzimage_info *info,
		  char *err, size_t errlen)
{
	int ret;

	memset(info, 0, sizeof(*info));
	ret = bz_check_magic(buf, len, err, errlen);
	if (ret)
		return ret;
	info->protocol = get_le16(buf + HDR_VERSION);
	if (info->protocol < BZ_MIN_PROTOCOL) {
		errbuf_printf(err, errlen,
			    "boot protocol %u.%02u is too old (need 2.06 or later)",
			    info->protocol >> 8, info->protocol & 0xff);
		return -EINVAL;
	}
	ret = bz_parse_sizes(buf, len, info, err, errlen);
	if (ret)
		return ret;
	/* setup_size >= 1024 > HDR_MAX_END: every field below is in the file */
	if (!(buf[HDR_LOADFLAGS] & LOADED_HIGH)) {
		errbuf_printf(err, errlen, "zImage (loaded low), not a bzImage");
		return -EINVAL;
	}
	if (info->protocol >= BZ_XLF_PROTOCOL)
		info->xloadflags = get_le16(buf + HDR_XLOADFLAGS);
	if (!(info->xloadflags & XLF_KERNEL_64)) {
		errbuf_printf(err, errlen,
			    "32-bit-only kernel (no 64-bit entry, XLF_KERNEL_64 unset)");
		return -EINVAL;
	}
	info->initrd_addr_max = get_le32(buf + HDR_INITRD_ADDR_MAX);
	info->kernel_alignment = get_le32(buf + HDR_KERNEL_ALIGN);
	info->relocatable = buf[HDR_RELOCATABLE];
	info->cmdline_size = get_le32(buf + HDR_CMDLINE_SIZE);
	if (info->protocol >= BZ_PREF_PROTOCOL) {
		info->pref_address = get_le64(buf + HDR_PREF_ADDRESS);
		info->init_size = get_le32(buf + HDR_INIT_SIZE);
	}
	if (info->relocatable &&
	    (info->kernel_alignment == 0 ||
	     (info->kernel_alignment & (info->kernel_alignment - 1)))) {
		errbuf_printf(err, errlen, "bad kernel_alignment 0x%x",
			    info->kernel_alignment);
		return -EINVAL;
	}
	if (!info->relocatable && info->pref_address < BZ_LOW_LIMIT) {
		errbuf_printf(err, errlen,
			    "not relocatable and pref_address 0x%llx is unusable",
			    (unsigned long long)info->pref_address);
		return -EINVAL;
	}
	return 0;
}

/* Memory the kernel occupies from its load address. */
static uint64_t bz_need(const struct bzimage_info *info)
{
	return info->init_size > info->pm_size ? info->init_size : info->pm_size;
}

static int bz_fits(uint64_t addr, uint64_t need, uint64_t low_end)
{
	return addr >= BZ_LOW_LIMIT && addr < low_end && need <= low_end - addr;
}

/*
 * The preferred address when the kernel fits there, else (relocatable
 * only) the first kernel_alignment boundary at or above LAYOUT_KERNEL.
 */
static int bz_choose_addr(const struct gm *gm, const struct bzimage_info *info,
			  uint64_t *addr, char *err, size_t errlen)
{
	uint64_t low_end = gm_low_end(gm), need = bz_need(info);
	uint64_t pref = info->pref_address, a;

	if (bz_fits(pref, need, low_end) &&
	    (!info->relocatable || pref % info->kernel_alignment == 0)) {
		*addr = pref;
		return 0;
	}
	if (!info->relocatable) {
		errbuf_printf(err, errlen,
			    "not relocatable and needs %llu MiB at 0x%llx, but low RAM ends at 0x%llx",
			    (unsigned long long)(need >> 20),
			    (unsigned long long)pref,
			    (unsigned long long)low_end);
		return -ENOSPC;
	}
	a = (LAYOUT_KERNEL + info->kernel_alignment - 1) &
	    ~((uint64_t)info->kernel_alignment - 1);
	if (!bz_fits(a, need, low_end)) {
		errbuf_printf(err, errlen,
			    "kernel needs %llu MiB (init_size) at 0x%llx, but low RAM ends at 0x%llx",
			    (unsigned long long)(need >> 20),
			    (unsigned long long)a, (unsigned long long)low_end);
		return -ENOSPC;
	}
	*addr = a;
	return 0;
}

static void bz_fill_e820(uint8_t *zp, const struct e820_map *e820)
{
	int n = e820->nr < ZP_E820_MAX ? e820->nr : ZP_E820_MAX;

	for (int i = 0; i < n; i++) {
		uint8_t *p = zp + ZP_E820_TABLE + i * ZP_E820_ENTRY_SIZE;

		put_le64(p, e820->e[i].addr);
		put_le64(p + 8, e820->e[i].size);
		put_le32(p + 16, e820->e[i].type);
	}
	zp[ZP_E820_ENTRIES] = (uint8_t)n;
}

/* Zero page: the file's setup header plus what a loader must fill in. */
static void bz_build_zero_page(uint8_t *zp, const uint8_t *buf, uint64_t load,
			       const struct e820_map *e820)
{
	size_t end = HDR_MAGIC + (size_t)buf[HDR_JUMP + 1];

	if (end > HDR_MAX_END)
		end = HDR_MAX_END;
	memset(zp, 0, ZP_SIZE);
	memcpy(zp + HDR_START, buf + HDR_START, end - HDR_START);
	put_le16(zp + HDR_VID_MODE, 0xffff); /* "normal": no mode switch */
	zp[HDR_TYPE_OF_LOADER] = 0xff;       /* no assigned loader id */
	zp[HDR_LOADFLAGS] |= CAN_USE_HEAP;
	put_le16(zp + HDR_HEAP_END_PTR, BZ_HEAP_END);
	put_le32(zp + HDR_CODE32_START, (uint32_t)load);
	put_le32(zp + HDR_CMD_LINE_PTR, (uint32_t)LAYOUT_CMDLINE);
	put_le32(zp + ZP_EXT_CMD_LINE_PTR, (uint32_t)(LAYOUT_CMDLINE >> 32));
	bz_fill_e820(zp, e820);
}

static int bz_load_initrd(struct gm *gm, const struct boot_image *img,
			  const struct bzimage_info *info, uint64_t kernel_end,
			  uint8_t *zp, struct boot_entry *out, char *err,
			  size_t errlen)
{
	uint64_t addr;

	if (!img->initrd || img->initrd_size == 0)
		return 0;
	if (boot_place_initrd(gm, img->initrd_size, info->initrd_addr_max,
			      kernel_end, &addr) < 0) {
		errbuf_printf(err, errlen,
			    "initrd (%zu bytes) does not fit between the kernel end 0x%llx and 0x%llx",
			    img->initrd_size, (unsigned long long)kernel_end,
			    (unsigned long long)info->initrd_addr_max);
		return -ENOSPC;
	}
	if (gm_write(gm, addr, img->initrd, img->initrd_size) < 0) {
		errbuf_printf(err, errlen, "cannot write initrd at 0x%llx",
			    (unsigned long long)addr);
		return -EFAULT;
	}
	put_le32(zp + HDR_RAMDISK_IMAGE, (uint32_t)addr);
	put_le32(zp + HDR_RAMDISK_SIZE, (uint32_t)img->initrd_size);
	put_le32(zp + ZP_EXT_RAMDISK_IMAGE, (uint32_t)(addr >> 32));
	put_le32(zp + ZP_EXT_RAMDISK_SIZE, (uint32_t)((uint64_t)img->initrd_size >> 32));
	out->initrd_addr = addr;
	out->initrd_size = img->initrd_size;
	return 0;
}

static int bz_load_cmdline(struct gm *gm, const struct boot_image *img,
			   const struct bzimage_info *info, char *err,
			   size_t errlen)
{
	size_t max = info->cmdline_size;
	int ret;

	if (max > LAYOUT_CMDLINE_MAX - 1)
		max = LAYOUT_CMDLINE_MAX - 1;
	ret = boot_write_cmdline(gm, img->cmdline, max);
	if (ret == -E2BIG)
		errbuf_printf(err, errlen,
			    "command line is %zu bytes, the kernel accepts at most %zu",
			    strlen(img->cmdline), max);
	else if (ret < 0)
		errbuf_printf(err, errlen, "cannot write the command line");
	return ret;
}

static int bz_load(struct gm *gm, const struct boot_image *img,
		   const struct e820_map *e820, struct boot_entry *out,
		   uint8_t *zp, char *err, size_t errlen)
{
	struct bzimage_info info;
	uint64_t load;
	int ret;

	ret = bzimage_parse(img->kernel, img->kernel_size, &info, err, errlen);
	if (ret)
		return ret;
	ret = bz_choose_addr(gm, &info, &load, err, errlen);
	if (ret)
		return ret;
	memset(out, 0, sizeof(*out));
	if (gm_write(gm, load, img->kernel + info.pm_offset, info.pm_size) < 0) {
		errbuf_printf(err, errlen, "cannot write the kernel at 0x%llx",
			    (unsigned long long)load);
		return -EFAULT;
	}
	bz_build_zero_page(zp, img->kernel, load, e820);
	ret = bz_load_cmdline(gm, img, &info, err, errlen);
	if (ret)
		return ret;
	ret = bz_load_initrd(gm, img, &info, load + bz_need(&info), zp, out,
			     err, errlen);
	if (ret)
		return ret;
	if (gm_write(gm, LAYOUT_ZERO_PAGE, zp, ZP_SIZE) < 0) {
		errbuf_printf(err, errlen, "cannot write the zero page");
		return -EFAULT;
	}
	out->kind = BOOT_BZIMAGE;
	out->entry = load + 0x200;
	out->boot_info = LAYOUT_ZERO_PAGE;
	out->kernel_start = load;
	out->kernel_end = load + bz_need(&info);
	return 0;
}

/*
 * Load a validated bzImage into guest RAM: protected-mode code at its
 * load address, command line (<= cmdline_size), initrd (highest fit below
 * initrd_addr_max, above the kernel's init_size) and the zero page with
 * the e820 map. 0, -EINVAL (bad image), -ENOSPC (does not fit), -E2BIG
 * (command line) or -EFAULT; `err` names the file.
 */
int bzimage_load(struct gm *gm, const struct boot_image *img,
		 const struct e820_map *e820, struct boot_entry *out,
		 char *err, size_t errlen)
{
	uint8_t zp[ZP_SIZE];
	char msg[BOOT_ERR_LEN] = "";
	int ret;

	ret = bz_load(gm, img, e820, out, zp, msg, sizeof(msg));
	if (ret)
		errbuf_printf(err, errlen, "%s: %s",
			    img->kernel_name ? img->kernel_name : "kernel", msg);
	return ret;
}
