/* Guest memory: size rules, region layout around the PCI hole, and gm_ptr()
 * edge cases (ends of regions, len 0, the hole, gpa + len wrapping). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "nkvm/gm.h"
#include "tap.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static void test_bad_sizes(void)
{
	static const uint64_t bad[] = {
		0, 2 * MiB, GM_MIN_SIZE - 2 * MiB, GM_MIN_SIZE + MiB,
		GM_MIN_SIZE + 1, GM_MAX_SIZE + 2 * MiB, UINT64_MAX,
	};
	struct gm gm;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		is_int(gm_init(&gm, bad[i]), -EINVAL, "gm_init(%#llx) -> -EINVAL",
		       (unsigned long long)bad[i]);
		ok(gm.memfd == -1 && gm.nr_regions == 0, "  nothing set up");
	}
}

static void test_64m(void)
{
	const uint64_t sz = 64 * MiB;
	uint8_t pat[16], back[16];
	struct gm gm;
	uint8_t *b;
	int ret;

	ret = gm_init(&gm, sz);
	is_int(ret, 0, "gm_init 64 MiB");
	if (ret)
		return;
	b = gm.base;
	is_int(gm.nr_regions, 1, "one region");
	is_int(gm_low_end(&gm), sz, "low end = size");
	ok(gm.memfd >= 0, "memfd backed");
	ok(gm_ptr(&gm, 0, 1) == b, "first byte");
	ok(gm_ptr(&gm, 0, sz) == b, "whole RAM");
	ok(gm_ptr(&gm, 0, sz + 1) == NULL, "one byte too many");
	ok(gm_ptr(&gm, sz - 1, 1) == b + sz - 1, "last byte");
	ok(gm_ptr(&gm, sz - 1, 2) == NULL, "last byte + 1");
	ok(gm_ptr(&gm, sz - 1, 0) == b + sz - 1, "len 0 at last byte");
	ok(gm_ptr(&gm, 0, 0) == b, "len 0 at 0");
	ok(gm_ptr(&gm, sz, 0) == NULL, "len 0 at end of RAM is outside");
	ok(gm_ptr(&gm, sz, 1) == NULL, "first byte after RAM");
	ok(gm_ptr(&gm, UINT64_MAX, 1) == NULL, "gpa UINT64_MAX");
	ok(gm_ptr(&gm, UINT64_MAX, 0) == NULL, "gpa UINT64_MAX len 0");
	ok(gm_ptr(&gm, 1, UINT64_MAX) == NULL, "len UINT64_MAX");
	ok(gm_ptr(&gm, 16, UINT64_MAX - 15) == NULL, "gpa + len wraps to 0");
	ok(gm_ptr(&gm, sz - 1, UINT64_MAX) == NULL,
	   "gpa + len wraps back into RAM");
	ok(gm_ptr(&gm, GM_HIGH_START, 1) == NULL, "no high RAM");

	for (int i = 0; i < 16; i++)
		pat[i] = (uint8_t)(i * 7 + 1);
	is_int(gm_write(&gm, sz - 16, pat, 16), 0, "gm_write at the top");
	is_int(gm_read(&gm, sz - 16, back, 16), 0, "gm_read it back");
	ok(memcmp(pat, back, 16) == 0, "  same bytes");
	ok(pread(gm.memfd, back, 16, (off_t)(sz - 16)) == 16 &&
	   memcmp(pat, back, 16) == 0, "  same bytes through the memfd");
	is_int(gm_write(&gm, sz - 15, pat, 16), -EFAULT, "gm_write past end");
	is_int(gm_read(&gm, UINT64_MAX - 3, back, 16), -EFAULT,
	       "gm_read wrapping");
	gm_destroy(&gm);
	ok(gm.memfd == -1 && gm.base == NULL && gm.nr_regions == 0,
	   "gm_destroy clears");
	gm_destroy(&gm);
	ok(1, "gm_destroy twice is harmless");
}

static void test_3g(void)
{
	struct gm gm;
	int ret = gm_init(&gm, 3 * GiB);

	is_int(ret, 0, "gm_init 3 GiB");
	if (ret)
		return;
	is_int(gm.nr_regions, 1, "3 GiB: one region");
	is_int(gm_low_end(&gm), GM_PCI_HOLE_START, "3 GiB: low end at the hole");
	ok(gm_ptr(&gm, 3 * GiB - 1, 1) == gm.base + 3 * GiB - 1,
	   "3 GiB: last byte");
	ok(gm_ptr(&gm, 3 * GiB, 1) == NULL, "3 GiB: hole start");
	ok(gm_ptr(&gm, GM_HIGH_START, 1) == NULL, "3 GiB: nothing at 4 GiB");
	gm_destroy(&gm);
}

static void test_3g2m(void)
{
	struct gm gm;
	int ret = gm_init(&gm, 3 * GiB + 2 * MiB);
	const uint64_t hi = GM_HIGH_START;

	is_int(ret, 0, "gm_init 3 GiB + 2 MiB");
	if (ret)
		return;
	is_int(gm.nr_regions, 2, "two regions");
	is_int(gm.region[1].gpa, hi, "high region at 4 GiB");
	is_int(gm.region[1].size, 2 * MiB, "high region 2 MiB");
	is_int(gm.region[1].offset, 3 * GiB, "high region at memfd offset 3 GiB");
	is_int(gm_low_end(&gm), 3 * GiB, "low end 3 GiB");
	ok(gm_ptr(&gm, hi, 1) == gm.base + 3 * GiB, "4 GiB -> base + 3 GiB");
	ok(gm_ptr(&gm, hi + 2 * MiB - 1, 1) == gm.base + 3 * GiB + 2 * MiB - 1,
	   "last byte of high RAM");
	ok(gm_ptr(&gm, hi + 2 * MiB - 1, 2) == NULL, "past high RAM");
	ok(gm_ptr(&gm, hi + 2 * MiB, 0) == NULL, "len 0 past high RAM");
	ok(gm_ptr(&gm, 3 * GiB - 1, 2) == NULL, "crossing into the hole");
	ok(gm_ptr(&gm, 3 * GiB - 1, hi - 3 * GiB + 2) == NULL,
	   "spanning the hole into high RAM");
	ok(gm_ptr(&gm, hi - 1, 1) == NULL, "last byte of the hole");
	ok(gm_ptr(&gm, 3 * GiB + 4096, 1) == NULL, "inside the hole");
	ok(gm_ptr(&gm, hi, UINT64_MAX) == NULL, "high: len UINT64_MAX");
	ok(gm_ptr(&gm, hi + 1, UINT64_MAX - hi) == NULL,
	   "high: gpa + len wraps to 0");
	gm_destroy(&gm);
}

static void test_5g(void)
{
	const uint64_t hi = GM_HIGH_START;
	uint8_t v = 0x5a, back = 0;
	struct gm gm;
	int ret = gm_init(&gm, 5 * GiB);

	is_int(ret, 0, "gm_init 5 GiB");
	if (ret)
		return;
	is_int(gm.nr_regions, 2, "5 GiB: two regions");
	is_int(gm.region[0].size, 3 * GiB, "5 GiB: 3 GiB low");
	is_int(gm.region[1].size, 2 * GiB, "5 GiB: 2 GiB high");
	ok(gm_ptr(&gm, hi, 2 * GiB) != NULL, "5 GiB: whole high region");
	ok(gm_ptr(&gm, hi, 2 * GiB + 1) == NULL, "5 GiB: one byte more");
	ok(gm_ptr(&gm, hi + 2 * GiB, 1) == NULL, "5 GiB: 6 GiB is outside");
	is_int(gm_write(&gm, hi + 12345, &v, 1), 0, "5 GiB: write high");
	ok(pread(gm.memfd, &back, 1, (off_t)(3 * GiB + 12345)) == 1 && back == v,
	   "5 GiB: high RAM is memfd offset 3 GiB");
	gm_destroy(&gm);
}

static void test_buffer(void)
{
	uint8_t *buf = calloc(1, 8192);
	struct gm gm;

	gm_init_buffer(&gm, buf, 8192);
	is_int(gm.nr_regions, 1, "buffer: one region");
	is_int(gm.memfd, -1, "buffer: no memfd");
	is_int(gm_low_end(&gm), 8192, "buffer: low end");
	ok(gm_ptr(&gm, 8191, 1) == buf + 8191, "buffer: last byte");
	ok(gm_ptr(&gm, 8191, 2) == NULL, "buffer: past the end");
	ok(gm_ptr(&gm, 8192, 0) == NULL, "buffer: len 0 at the end");
	gm_destroy(&gm);
	buf[0] = 1; /* still ours: ASan would flag a free/unmap */
	ok(buf[0] == 1, "buffer: gm_destroy leaves the buffer alone");
	free(buf);
}

int main(void)
{
	test_bad_sizes();
	test_64m();
	test_3g();
	test_3g2m();
	test_5g();
	test_buffer();
	return done_testing();
}
