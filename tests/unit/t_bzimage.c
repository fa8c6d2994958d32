/* bzImage loader: synthetic images (good and broken in many ways), the
 * zero page it writes, initrd placement, and a real bzImage when cached. */
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
#define SETUP_SECTS 4
#define SETUP_SIZE ((SETUP_SECTS + 1) * 512)
#define PM_SIZE 0x10000
#define IMG_SIZE (SETUP_SIZE + PM_SIZE)
#define RAM (64 * MiB)

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16;
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)v);
	wr16(p + 2, (uint16_t)(v >> 16));
}

static void wr64(uint8_t *p, uint64_t v)
{
	wr32(p, (uint32_t)v);
	wr32(p + 4, (uint32_t)(v >> 32));
}

/* A minimal 2.15 bzImage: relocatable, 64-bit, 8 MiB init_size. */
static uint8_t *make_image(void)
{
	uint8_t *b = calloc(1, IMG_SIZE);

	b[0x1f1] = SETUP_SECTS;
	wr32(b + 0x1f4, PM_SIZE / 16);
	wr16(b + 0x1fa, 0xfffd);
	wr16(b + 0x1fe, 0xaa55);
	b[0x200] = 0xeb;
	b[0x201] = 0x6a; /* header ends at 0x26c */
	memcpy(b + 0x202, "HdrS", 4);
	wr16(b + 0x206, 0x020f);
	b[0x211] = 0x01;                  /* LOADED_HIGH */
	wr32(b + 0x22c, 0x7fffffff);      /* initrd_addr_max */
	wr32(b + 0x230, 0x200000);        /* kernel_alignment */
	b[0x234] = 1;                     /* relocatable */
	wr16(b + 0x236, 0x3);             /* XLF_KERNEL_64 | ABOVE_4G */
	wr32(b + 0x238, 2047);            /* cmdline_size */
	wr64(b + 0x258, 0x1000000);       /* pref_address */
	wr32(b + 0x260, 8 * MiB);         /* init_size */
	memset(b + 0x26c, 0xcc, 0x290 - 0x26c); /* not header: must not be copied */
	for (size_t i = 0; i < PM_SIZE; i++)
		b[SETUP_SIZE + i] = (uint8_t)(i * 13 + 5);
	return b;
}

/* Exact-size heap copy so ASan catches any read past `len`. */
static int parse_len(const uint8_t *img, size_t len, char *err)
{
	struct bzimage_info info;
	uint8_t *c = malloc(len ? len : 1);
	int ret;

	memcpy(c, img, len);
	ret = bzimage_parse(c, len, &info, err, BOOT_ERR_LEN);
	free(c);
	return ret;
}

static void test_parse_good(void)
{
	uint8_t *img = make_image();
	struct bzimage_info info;
	char err[BOOT_ERR_LEN] = "";

	is_int(boot_detect(img, IMG_SIZE), BOOT_BZIMAGE, "detected as bzImage");
	is_int(bzimage_parse(img, IMG_SIZE, &info, err, sizeof(err)), 0,
	       "good image parses");
	is_int(info.protocol, 0x020f, "protocol");
	is_int(info.setup_size, SETUP_SIZE, "setup size");
	is_int(info.pm_offset, SETUP_SIZE, "pm offset");
	is_int(info.pm_size, PM_SIZE, "pm size");
	is_int(info.pref_address, 0x1000000, "pref_address");
	is_int(info.kernel_alignment, 0x200000, "kernel_alignment");
	is_int(info.init_size, 8 * MiB, "init_size");
	is_int(info.initrd_addr_max, 0x7fffffff, "initrd_addr_max");
	is_int(info.cmdline_size, 2047, "cmdline_size");
	is_int(info.relocatable, 1, "relocatable");
	is_int(info.xloadflags, 3, "xloadflags");

	img[0x1f1] = 0; /* 0 means 4 */
	is_int(bzimage_parse(img, IMG_SIZE, &info, err, sizeof(err)), 0,
	       "setup_sects 0 means 4");
	is_int(info.setup_size, SETUP_SIZE, "  setup size 5 sectors");
	free(img);
}

static void test_truncated(void)
{
	static const size_t lens[] = {
		0, 1, 0x1ff, 0x205, 0x207, 0x300, 1024, SETUP_SIZE - 1,
		SETUP_SIZE, SETUP_SIZE + 1, IMG_SIZE - 16, IMG_SIZE - 1,
	};
	uint8_t *img = make_image();
	char err[BOOT_ERR_LEN];

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		err[0] = 0;
		is_int(parse_len(img, lens[i], err), -EINVAL,
		       "truncated to %zu bytes -> -EINVAL", lens[i]);
		ok(err[0] != 0, "  message: %s", err);
	}
	free(img);
}

struct mutation {
	const char *what;
	size_t off;
	int width; /* 1, 2, 4 or 8 */
	uint64_t val;
	const char *needle; /* expected in the message */
};

static void test_bad_headers(void)
{
	static const struct mutation m[] = {
		{ "bad boot flag", 0x1fe, 2, 0xaa56, "0xAA55" },
		{ "bad HdrS", 0x202, 4, 0x53726449, "HdrS" },
		{ "protocol 2.05", 0x206, 2, 0x0205, "2.05" },
		{ "setup_sects 255", 0x1f1, 1, 255, "setup sectors" },
		{ "setup_sects 127 (64 KiB + 512)", 0x1f1, 1, 127, "truncated" },
		{ "syssize beyond the file", 0x1f4, 4, PM_SIZE / 16 + 1, "truncated" },
		{ "syssize huge", 0x1f4, 4, 0xffffffff, "truncated" },
		{ "no XLF_KERNEL_64", 0x236, 2, 0x2, "32-bit-only" },
		{ "protocol 2.11 (no xloadflags)", 0x206, 2, 0x020b, "32-bit-only" },
		{ "zImage", 0x211, 1, 0, "zImage" },
		{ "kernel_alignment 0", 0x230, 4, 0, "kernel_alignment" },
		{ "kernel_alignment not a power of 2", 0x230, 4, 0x300000,
		  "kernel_alignment" },
		{ "not relocatable, pref_address 0", 0x234, 1, 0, "pref_address" },
	};
	char err[BOOT_ERR_LEN];

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		uint8_t *img = make_image();

		if (strcmp(m[i].what, "not relocatable, pref_address 0") == 0)
			wr64(img + 0x258, 0);
		switch (m[i].width) {
		case 1: img[m[i].off] = (uint8_t)m[i].val; break;
		case 2: wr16(img + m[i].off, (uint16_t)m[i].val); break;
		case 4: wr32(img + m[i].off, (uint32_t)m[i].val); break;
		default: wr64(img + m[i].off, m[i].val); break;
		}
		err[0] = 0;
		is_int(parse_len(img, IMG_SIZE, err), -EINVAL, "%s -> -EINVAL",
		       m[i].what);
		ok(strstr(err, m[i].needle) != NULL, "  message \"%s\" mentions %s",
		   err, m[i].needle);
		free(img);
	}
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
		.kernel = img, .kernel_size = len, .kernel_name = "bz",
		.initrd = initrd, .initrd_size = initrd_size,
		.cmdline = cmdline,
	};

	memset(l, 0, sizeof(*l));
	if (gm_init(&l->gm, RAM) != 0) {
		l->ret = -ENOMEM;
		return;
	}
	e820_build(&l->e820, &l->gm);
	l->ret = bzimage_load(&l->gm, &bi, &l->e820, &l->out, l->err,
			      sizeof(l->err));
}

static void check_zero_page(struct loaded *l, const uint8_t *img)
{
	const uint8_t *zp = gm_ptr(&l->gm, LAYOUT_ZERO_PAGE, 4096);
	int e820_ok = 1;

	ok(zp != NULL, "zero page in RAM");
	if (!zp)
		return;
	ok(memcmp(zp + 0x1f1, img + 0x1f1, 0x1fa - 0x1f1) == 0 &&
	   memcmp(zp + 0x1fc, img + 0x1fc, 0x210 - 0x1fc) == 0,
	   "setup header start copied");
	ok(memcmp(zp + 0x202, "HdrS", 4) == 0 && rd16(zp + 0x206) == 0x020f,
	   "HdrS and version copied");
	is_int(rd32(zp + 0x260), 8 * MiB, "init_size copied");
	is_int(zp[0x26c], 0, "bytes after the header end not copied");
	is_int(zp[0x1ef], 0, "sentinel clear");
	is_int(zp[0x210], 0xff, "type_of_loader 0xff");
	ok((zp[0x211] & 0x81) == 0x81, "loadflags LOADED_HIGH | CAN_USE_HEAP");
	is_int(rd16(zp + 0x224), 0xfe00, "heap_end_ptr");
	is_int(rd16(zp + 0x1fa), 0xffff, "vid_mode normal");
	is_int(rd32(zp + 0x228), LAYOUT_CMDLINE, "cmd_line_ptr");
	is_int(rd32(zp + 0x0c8), 0, "ext_cmd_line_ptr");
	is_int(zp[0x1e8], l->e820.nr, "e820_entries");
	for (int i = 0; i < l->e820.nr; i++) {
		const uint8_t *e = zp + 0x2d0 + 20 * i;

		if (rd64(e) != l->e820.e[i].addr ||
		    rd64(e + 8) != l->e820.e[i].size ||
		    rd32(e + 16) != l->e820.e[i].type)
			e820_ok = 0;
	}
	ok(e820_ok, "e820_table matches the map");
}

static void test_load_good(void)
{
	uint8_t *img = make_image();
	uint8_t initrd[10000];
	const char *cmd = "console=ttyS0 panic=-1";
	struct loaded l;
	const uint8_t *zp;
	uint64_t ia;

	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i ^ 0x5a);
	load(&l, img, IMG_SIZE, initrd, sizeof(initrd), cmd);
	is_int(l.ret, 0, "load good image (%s)", l.err);
	if (l.ret)
		goto out;
	is_int(l.out.kind, BOOT_BZIMAGE, "kind");
	is_int(l.out.entry, 0x1000000 + 0x200, "entry = load + 0x200");
	is_int(l.out.boot_info, LAYOUT_ZERO_PAGE, "boot_info = zero page");
	is_int(l.out.kernel_start, 0x1000000, "kernel_start");
	is_int(l.out.kernel_end, 0x1000000 + 8 * MiB, "kernel_end = + init_size");
	ok(memcmp(gm_ptr(&l.gm, 0x1000000, PM_SIZE), img + SETUP_SIZE, PM_SIZE) == 0,
	   "protected-mode code at the load address");
	is_str(gm_ptr(&l.gm, LAYOUT_CMDLINE, strlen(cmd) + 1), cmd,
	       "command line in guest RAM");
	check_zero_page(&l, img);
	zp = gm_ptr(&l.gm, LAYOUT_ZERO_PAGE, 4096);
	ia = rd32(zp + 0x218) | (uint64_t)rd32(zp + 0x0c0) << 32;
	is_int(ia, l.out.initrd_addr, "ramdisk_image = initrd addr");
	is_int(rd32(zp + 0x21c), sizeof(initrd), "ramdisk_size");
	is_int(rd32(zp + 0x0c4), 0, "ext_ramdisk_size");
	is_int(l.out.initrd_size, sizeof(initrd), "out.initrd_size");
	ok(ia % 4096 == 0, "initrd page aligned");
	ok(ia >= l.out.kernel_end, "initrd above the kernel's init_size");
	ok(ia + sizeof(initrd) <= RAM, "initrd inside RAM");
	is_int(ia, (RAM - sizeof(initrd)) & ~4095ULL, "initrd as high as possible");
	ok(memcmp(gm_ptr(&l.gm, ia, sizeof(initrd)), initrd, sizeof(initrd)) == 0,
	   "initrd contents");
	gm_destroy(&l.gm);
out:
	free(img);
}

static void test_initrd_max(void)
{
	uint8_t *img = make_image();
	static uint8_t initrd[MiB];
	struct loaded l;

	wr32(img + 0x22c, 0x02ffffff); /* initrd must end below 48 MiB */
	load(&l, img, IMG_SIZE, initrd, sizeof(initrd), "");
	is_int(l.ret, 0, "initrd_addr_max 48 MiB - 1: loads");
	is_int(l.out.initrd_addr, 0x2f00000, "  initrd ends exactly at 48 MiB");
	ok(l.out.initrd_addr + sizeof(initrd) - 1 <= 0x02ffffff,
	   "  last byte <= initrd_addr_max");
	gm_destroy(&l.gm);

	wr32(img + 0x22c, 0x017fffff); /* 24 MiB - 1: the kernel ends at 24 MiB */
	load(&l, img, IMG_SIZE, initrd, sizeof(initrd), "");
	is_int(l.ret, -ENOSPC, "initrd would overlap the kernel -> -ENOSPC");
	ok(strncmp(l.err, "bz: ", 4) == 0 && strstr(l.err, "initrd"),
	   "  message: %s", l.err);
	gm_destroy(&l.gm);
	free(img);
}

static void test_cmdline(void)
{
	uint8_t *img = make_image();
	struct loaded l;

	wr32(img + 0x238, 16);
	load(&l, img, IMG_SIZE, NULL, 0, "0123456789abcdef");
	is_int(l.ret, 0, "command line of exactly cmdline_size");
	gm_destroy(&l.gm);
	load(&l, img, IMG_SIZE, NULL, 0, "0123456789abcdefg");
	is_int(l.ret, -E2BIG, "command line one byte too long -> -E2BIG");
	ok(strstr(l.err, "command line") != NULL, "  message: %s", l.err);
	gm_destroy(&l.gm);
	load(&l, img, IMG_SIZE, NULL, 0, NULL);
	is_int(l.ret, 0, "NULL command line");
	is_str(gm_ptr(&l.gm, LAYOUT_CMDLINE, 1), "", "  written as empty");
	is_int(l.out.initrd_size, 0, "  no initrd");
	is_int(rd32((uint8_t *)gm_ptr(&l.gm, LAYOUT_ZERO_PAGE + 0x218, 4)), 0,
	       "  ramdisk_image 0");
	gm_destroy(&l.gm);
	free(img);
}

static void test_placement(void)
{
	uint8_t *img = make_image();
	struct loaded l;

	wr32(img + 0x260, 128 * MiB);
	load(&l, img, IMG_SIZE, NULL, 0, "");
	is_int(l.ret, -ENOSPC, "init_size larger than RAM -> -ENOSPC");
	ok(strstr(l.err, "init_size") != NULL, "  message: %s", l.err);
	gm_destroy(&l.gm);
	free(img);

	img = make_image();
	wr64(img + 0x258, 0x8000000); /* 128 MiB: beyond RAM */
	load(&l, img, IMG_SIZE, NULL, 0, "");
	is_int(l.ret, 0, "pref_address beyond RAM: relocated");
	is_int(l.out.kernel_start, LAYOUT_KERNEL, "  to LAYOUT_KERNEL");
	gm_destroy(&l.gm);

	wr64(img + 0x258, 0x1100000);
	wr32(img + 0x230, 0x1000000);
	load(&l, img, IMG_SIZE, NULL, 0, "");
	is_int(l.ret, 0, "misaligned pref_address: relocated");
	is_int(l.out.kernel_start, 0x1000000, "  to the alignment");
	gm_destroy(&l.gm);

	wr64(img + 0x258, 0x2000000);
	wr32(img + 0x230, 0x400000);
	load(&l, img, IMG_SIZE, NULL, 0, "");
	is_int(l.out.kernel_start, 0x2000000, "usable pref_address is used");
	is_int(l.out.entry, 0x2000200, "  entry = load + 0x200");
	gm_destroy(&l.gm);

	img[0x234] = 0;
	wr64(img + 0x258, 0x8000000);
	load(&l, img, IMG_SIZE, NULL, 0, "");
	is_int(l.ret, -ENOSPC, "not relocatable, pref_address beyond RAM");
	gm_destroy(&l.gm);
	free(img);
}

static void test_place_initrd(void)
{
	uint8_t *buf = calloc(1, 4 * MiB);
	struct gm gm;
	uint64_t a = 0;

	gm_init_buffer(&gm, buf, 4 * MiB);
	is_int(boot_place_initrd(&gm, 0, UINT64_MAX, 0, &a), -EINVAL,
	       "place_initrd: size 0");
	is_int(boot_place_initrd(&gm, 4096, UINT64_MAX, 0, &a), 0,
	       "place_initrd: max above RAM");
	is_int(a, 4 * MiB - 4096, "  clipped to RAM");
	is_int(boot_place_initrd(&gm, 4096, 0x200fff, 0, &a), 0,
	       "place_initrd: max 2 MiB + 4 KiB - 1");
	is_int(a, 0x200000, "  last byte at max");
	is_int(boot_place_initrd(&gm, 100, 0x200fff, 0, &a), 0,
	       "place_initrd: 100 bytes");
	is_int(a, 0x200000, "  rounded down to a page");
	is_int(boot_place_initrd(&gm, 4097, 0x200fff, 0, &a), 0,
	       "place_initrd: 4097 bytes");
	is_int(a, 0x1ff000, "  one page lower");
	is_int(boot_place_initrd(&gm, 4 * MiB, UINT64_MAX, 0, &a), 0,
	       "place_initrd: all of RAM");
	is_int(a, 0, "  at 0");
	is_int(boot_place_initrd(&gm, 4 * MiB + 1, UINT64_MAX, 0, &a), -ENOSPC,
	       "place_initrd: bigger than RAM");
	is_int(boot_place_initrd(&gm, UINT64_MAX, UINT64_MAX, 0, &a), -ENOSPC,
	       "place_initrd: UINT64_MAX bytes");
	is_int(boot_place_initrd(&gm, MiB, UINT64_MAX, 3 * MiB + 1, &a), -ENOSPC,
	       "place_initrd: floor too high");
	is_int(boot_place_initrd(&gm, MiB, 0, 0, &a), -ENOSPC,
	       "place_initrd: max_addr 0");
	free(buf);
}

static void test_boot_load(void)
{
	uint8_t *img = make_image();
	uint8_t junk[1024] = "MZ not a kernel";
	struct boot_image bi = {
		.kernel = junk, .kernel_size = sizeof(junk),
		.kernel_name = "junk.bin", .cmdline = "",
	};
	char err[BOOT_ERR_LEN] = "";
	struct e820_map e820;
	struct boot_entry out;
	const uint8_t *p;
	uint8_t *buf;
	struct gm gm;

	if (gm_init(&gm, RAM) != 0) {
		ok(0, "gm_init");
		return;
	}
	e820_build(&e820, &gm);
	is_int(boot_detect(junk, sizeof(junk)), BOOT_UNKNOWN, "junk: unknown");
	is_int(boot_load(&gm, &bi, &e820, &out, err, sizeof(err)), -EINVAL,
	       "boot_load junk -> -EINVAL");
	is_str(err, "junk.bin: not a Linux kernel (no bzImage or ELF header)",
	       "  message");
	bi.kernel = img;
	bi.kernel_size = IMG_SIZE;
	is_int(boot_load(&gm, &bi, &e820, &out, err, sizeof(err)), 0,
	       "boot_load bzImage");
	is_int(out.kind, BOOT_BZIMAGE, "  kind");
	memset(gm_ptr(&gm, LAYOUT_GDT, 48), 0x77, 48);
	is_int(boot_write_page_tables(&gm), 0, "boot_write_page_tables");
	p = gm_ptr(&gm, LAYOUT_PML4, 0x6000);
	is_int(rd64(p), LAYOUT_PDPT | 3, "  PML4[0] -> PDPT");
	is_int(rd64(p + 0x1000 + 24), (LAYOUT_PD + 0x3000) | 3, "  PDPT[3] -> PD 3");
	is_int(rd64(p + 0x2000 + 8), 0x200000 | 0x83, "  PD[1] = 2 MiB page");
	is_int(rd64(p + 0x2000 + 8 * 2047), 0xffe00000ULL | 0x83,
	       "  last PD entry maps 4 GiB - 2 MiB");
	p = gm_ptr(&gm, LAYOUT_GDT, 40);
	is_int(rd64(p + 16), 0x00af9b000000ffffULL, "  GDT 0x10 = 64-bit code");
	is_int(rd64(p), 0, "  GDT 0 null");
	is_int(rd64(p + 8), 0x00cf9b000000ffffULL, "  GDT 0x08 = 32-bit code");
	is_int(rd64(p + 24), 0x00cf93000000ffffULL, "  GDT 0x18 = data");
	is_int(rd64(p + 32), 0x7777777777777777ULL, "  GDT 0x20 untouched");
	gm_destroy(&gm);
	buf = calloc(1, LAYOUT_PD);
	gm_init_buffer(&gm, buf, LAYOUT_PD);
	is_int(boot_write_page_tables(&gm), -EFAULT,
	       "page tables beyond RAM -> -EFAULT");
	free(buf);
	free(img);
}

static void test_real(void)
{
	const char *home = getenv("HOME");
	char path[512], err[BOOT_ERR_LEN] = "";
	static uint8_t initrd[4096];
	struct bzimage_info info;
	struct loaded l;
	struct stat st;
	uint8_t *buf;
	FILE *f;

	snprintf(path, sizeof(path), "%s/.cache/nkvm/default/bzImage",
		 home ? home : "/");
	if (stat(path, &st) != 0 || !(f = fopen(path, "rb"))) {
		diag("no %s, skipping the real-kernel check", path);
		ok(1, "# skip no cached bzImage");
		return;
	}
	buf = malloc((size_t)st.st_size);
	if (fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
		st.st_size = 0;
	fclose(f);
	is_int(bzimage_parse(buf, (size_t)st.st_size, &info, err, sizeof(err)),
	       0, "real bzImage parses (%s)", err);
	ok(info.protocol >= 0x020f, "real bzImage protocol %#x >= 0x20f",
	   info.protocol);
	load(&l, buf, (size_t)st.st_size, initrd, sizeof(initrd),
	     "console=ttyS0");
	is_int(l.ret, 0, "real bzImage loads into 64 MiB (%s)", l.err);
	is_int(l.out.entry, l.out.kernel_start + 0x200,
	       "real bzImage: entry = load %#llx + 0x200",
	       (unsigned long long)l.out.kernel_start);
	ok(l.out.initrd_addr >= l.out.kernel_end &&
	   l.out.initrd_addr + sizeof(initrd) <= RAM,
	   "real bzImage: initrd above init_size end %#llx",
	   (unsigned long long)l.out.kernel_end);
	gm_destroy(&l.gm);
	free(buf);
}

int main(void)
{
	test_parse_good();
	test_truncated();
	test_bad_headers();
	test_load_good();
	test_initrd_max();
	test_cmdline();
	test_placement();
	test_place_initrd();
	test_boot_load();
	test_real();
	return done_testing();
}
