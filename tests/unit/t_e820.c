/* E820 map: sorted, non-overlapping, RAM where gm has RAM and nowhere else. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "nkvm/e820.h"
#include "nkvm/gm.h"
#include "tap.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define LOW_RESERVED (0x100000ULL - 0x9fc00ULL) /* EBDA .. 1 MiB is not RAM */

/* Every RAM entry must be backed by gm and every byte of gm by RAM. */
static void check_map(const struct e820_map *m, const struct gm *gm,
		      uint64_t want_ram, const char *what)
{
	uint64_t ram = 0;
	int sorted = 1, backed = 1, types = 1;

	ok(m->nr > 0 && m->nr <= E820_MAX_ENTRIES, "%s: %d entries", what, m->nr);
	for (int i = 0; i < m->nr; i++) {
		const struct e820_entry *e = &m->e[i];

		if (e->size == 0)
			sorted = 0;
		if (i + 1 < m->nr && (e->addr + e->size < e->addr ||
				      e->addr + e->size > m->e[i + 1].addr))
			sorted = 0;
		if (e->type != E820_RAM && e->type != E820_RESERVED)
			types = 0;
		if (e->type == E820_RAM) {
			ram += e->size;
			if (!gm_ptr(gm, e->addr, e->size))
				backed = 0;
		}
	}
	ok(sorted, "%s: sorted, non-empty, non-overlapping", what);
	ok(types, "%s: only RAM and reserved", what);
	ok(backed, "%s: every RAM entry lies in one gm region", what);
	is_int(ram, want_ram, "%s: total RAM", what);
	ok(m->e[0].addr == 0 && m->e[0].type == E820_RAM, "%s: RAM at 0", what);
}

static int has_entry(const struct e820_map *m, uint64_t addr, uint64_t size,
		     uint32_t type)
{
	for (int i = 0; i < m->nr; i++)
		if (m->e[i].addr == addr && m->e[i].size == size &&
		    m->e[i].type == type)
			return 1;
	return 0;
}

static void test_size(uint64_t size, const char *what)
{
	struct e820_map m;
	struct gm gm;
	uint64_t low = size < GM_PCI_HOLE_START ? size : GM_PCI_HOLE_START;
	int ret = gm_init(&gm, size);

	is_int(ret, 0, "%s: gm_init", what);
	if (ret)
		return;
	e820_build(&m, &gm);
	check_map(&m, &gm, size - LOW_RESERVED, what);
	ok(has_entry(&m, 0, 0x9fc00, E820_RAM), "%s: base memory", what);
	ok(has_entry(&m, 0x9fc00, 0x400, E820_RESERVED), "%s: EBDA reserved",
	   what);
	ok(has_entry(&m, 0xf0000, 0x10000, E820_RESERVED),
	   "%s: BIOS area (MP table) reserved", what);
	ok(has_entry(&m, 0x100000, low - 0x100000, E820_RAM),
	   "%s: RAM from 1 MiB to low end", what);
	if (size > GM_PCI_HOLE_START)
		ok(has_entry(&m, GM_HIGH_START, size - GM_PCI_HOLE_START,
			     E820_RAM), "%s: high RAM at 4 GiB", what);
	else
		is_int(m.nr, 4, "%s: no high RAM entry", what);
	gm_destroy(&gm);
}

static void test_tiny_buffer(void)
{
	uint64_t sz = 512 * 1024;
	uint8_t *buf = calloc(1, sz);
	struct e820_map m;
	struct gm gm;

	gm_init_buffer(&gm, buf, sz);
	e820_build(&m, &gm);
	check_map(&m, &gm, sz, "512 KiB buffer");
	is_int(m.nr, 3, "512 KiB buffer: no RAM above 1 MiB");
	free(buf);
}

int main(void)
{
	test_size(64 * MiB, "64 MiB");
	test_size(3 * GiB, "3 GiB");
	test_size(3 * GiB + 2 * MiB, "3 GiB + 2 MiB");
	test_size(5 * GiB, "5 GiB");
	test_tiny_buffer();
	return done_testing();
}
