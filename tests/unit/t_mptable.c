/* MP table: found the way Linux finds it, checksums, and every entry. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "nkvm/gm.h"
#include "nkvm/layout.h"
#include "nkvm/mptable.h"
#include "tap.h"

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* Scan the BIOS area on 16-byte boundaries, as the guest kernel does. */
static uint64_t find_mpf(const struct gm *gm)
{
	for (uint64_t a = 0xf0000; a < 0x100000; a += 16) {
		const uint8_t *p = gm_ptr(gm, a, 16);

		if (p && memcmp(p, "_MP_", 4) == 0 && p[8] == 1 &&
		    sum(p, 16) == 0)
			return a;
	}
	return 0;
}

struct counts {
	int cpu, bsp, bus, ioapic, intsrc, lint, bad;
};

static void walk(const uint8_t *e, const uint8_t *end, int ncpus,
		 struct counts *c)
{
	while (e < end && !c->bad) {
		switch (e[0]) {
		case 0:
			if (e[1] != c->cpu || !(e[3] & 1) ||
			    ((e[3] & 2) != 0) != (c->cpu == 0) ||
			    ((le32(e + 4) >> 8) & 0xf) != 6)
				c->bad = 1;
			c->bsp += !!(e[3] & 2);
			c->cpu++;
			e += 20;
			continue;
		case 1:
			if (memcmp(e + 2, "ISA   ", 6) != 0)
				c->bad = 1;
			c->bus++;
			break;
		case 2:
			if (e[1] != ncpus || e[2] != 0x11 || !(e[3] & 1) ||
			    le32(e + 4) != LAYOUT_IOAPIC)
				c->bad = 1;
			c->ioapic++;
			break;
		case 3:
			if (e[1] != 0 || e[5] != c->intsrc || e[6] != ncpus ||
			    e[7] != c->intsrc)
				c->bad = 1;
			c->intsrc++;
			break;
		case 4:
			if (e[1] != (c->lint == 0 ? 3 : 1) || e[6] != 0xff ||
			    e[7] != c->lint)
				c->bad = 1;
			c->lint++;
			break;
		default:
			c->bad = 1;
		}
		e += 8;
	}
	if (e != end)
		c->bad = 1;
}

static void test_ncpus(struct gm *gm, int n)
{
	const uint8_t *mpf, *mpc;
	struct counts c = { 0 };
	uint64_t a, t;
	uint16_t len;

	memset(gm_ptr(gm, 0xf0000, 0x10000), 0xee, 0x10000);
	is_int(mptable_write(gm, n), 0, "%d CPUs: mptable_write", n);
	a = find_mpf(gm);
	ok(a >= 0xf0000 && a < 0x100000 && a % 16 == 0,
	   "%d CPUs: floating pointer at %#llx, aligned, checksum ok", n,
	   (unsigned long long)a);
	if (!a)
		return;
	mpf = gm_ptr(gm, a, 16);
	is_int(mpf[9], 4, "%d CPUs: spec rev 1.4", n);
	is_int(mpf[11], 0, "%d CPUs: feature1 0 (table present)", n);
	t = le32(mpf + 4);
	mpc = gm_ptr(gm, t, 44);
	ok(mpc && memcmp(mpc, "PCMP", 4) == 0, "%d CPUs: PCMP at %#llx", n,
	   (unsigned long long)t);
	if (!mpc)
		return;
	len = le16(mpc + 4);
	ok(t + len <= 0x100000, "%d CPUs: table ends below 1 MiB", n);
	mpc = gm_ptr(gm, t, len);
	ok(mpc && sum(mpc, len) == 0, "%d CPUs: table checksum", n);
	is_int(mpc[6], 4, "%d CPUs: table spec rev", n);
	is_int(le32(mpc + 36), LAYOUT_LAPIC, "%d CPUs: LAPIC address", n);
	is_int(le16(mpc + 34), n + 1 + 1 + 24 + 2, "%d CPUs: entry count", n);
	is_int(le16(mpc + 40), 0, "%d CPUs: no extended table", n);
	walk(mpc + 44, mpc + len, n, &c);
	ok(!c.bad, "%d CPUs: every entry well formed and in order", n);
	is_int(c.cpu, n, "%d CPUs: processor entries", n);
	is_int(c.bsp, 1, "%d CPUs: one BSP", n);
	is_int(c.bus, 1, "%d CPUs: one bus", n);
	is_int(c.ioapic, 1, "%d CPUs: one IOAPIC with id %d", n, n);
	is_int(c.intsrc, 24, "%d CPUs: 24 I/O interrupt entries", n);
	is_int(c.lint, 2, "%d CPUs: LINT0/LINT1", n);
}

int main(void)
{
	struct gm gm, small;
	uint8_t *buf;

	if (gm_init(&gm, 64ULL << 20) != 0) {
		ok(0, "gm_init");
		return done_testing();
	}
	test_ncpus(&gm, 1);
	test_ncpus(&gm, 4);
	test_ncpus(&gm, 64);
	test_ncpus(&gm, MPTABLE_MAX_CPUS);
	is_int(mptable_write(&gm, 0), -EINVAL, "0 CPUs -> -EINVAL");
	is_int(mptable_write(&gm, -1), -EINVAL, "-1 CPUs -> -EINVAL");
	is_int(mptable_write(&gm, MPTABLE_MAX_CPUS + 1), -EINVAL,
	       "%d CPUs -> -EINVAL", MPTABLE_MAX_CPUS + 1);
	gm_destroy(&gm);

	buf = calloc(1, 0xf0008);
	gm_init_buffer(&small, buf, 0xf0008);
	is_int(mptable_write(&small, 1), -EFAULT, "RAM ends inside the table");
	free(buf);
	return done_testing();
}
