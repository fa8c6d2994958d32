/* Unit tests for the port/MMIO range table (src/bus.c). */
#include <errno.h>

#include "nkvm/bus.h"
#include "tap.h"

static int calls;
static uint64_t last_off;

static void h(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool wr)
{
	calls++;
	last_off = off;
	if (!wr)
		data[0] = (uint8_t)(uintptr_t)opaque;
}

int main(void)
{
	struct bus b;
	uint8_t d[8] = { 0 };
	int i, r = 0;

	bus_init(&b, "pio");
	is_int(bus_add(&b, 0x3f8, 8, h, (void *)1, "com1"), 0, "add com1");
	is_int(bus_add(&b, 0x60, 1, h, (void *)2, "kbd"), 0, "add below, kept sorted");
	is_int(bus_add(&b, 0x3f8, 1, h, NULL, "dup"), -EEXIST, "same base refused");
	is_int(bus_add(&b, 0x3f0, 9, h, NULL, "overlap-left"), -EEXIST, "overlap from the left refused");
	is_int(bus_add(&b, 0x3ff, 2, h, NULL, "overlap-right"), -EEXIST, "overlap from the right refused");
	is_int(bus_add(&b, 0x3f0, 8, h, NULL, "adjacent"), 0, "adjacent range accepted");
	is_int(bus_add(&b, 0x100, 0, h, NULL, "empty"), -EINVAL, "zero length refused");
	is_int(bus_add(&b, UINT64_MAX - 1, 4, h, NULL, "wrap"), -EINVAL, "wrapping range refused");
	is_int(bus_add(&b, 0x500, 1, NULL, NULL, "nofn"), -EINVAL, "missing handler refused");

	ok(bus_access(&b, 0x3fa, d, 1, false), "read inside com1 handled");
	is_int(last_off, 2, "handler gets the offset from the base");
	is_int(d[0], 1, "handler's opaque reached");
	ok(bus_access(&b, 0x60, d, 1, false), "kbd handled");
	is_int(d[0], 2, "right handler picked");
	ok(!bus_access(&b, 0x61, d, 4, false), "unclaimed port not handled");
	ok(d[0] == 0xff && d[1] == 0xff && d[2] == 0xff && d[3] == 0xff, "unhandled read is all-ones");
	ok(!bus_access(&b, 0x3fe, d, 4, false), "access straddling the end is not handled");
	is_int(b.unhandled, 2, "unhandled accesses counted");
	calls = 0;
	d[0] = 0x55;
	ok(!bus_access(&b, 0x1234, d, 1, true), "unhandled write dropped");
	is_int(d[0], 0x55, "unhandled write leaves the buffer alone");
	is_int(calls, 0, "no handler called");

	bus_init(&b, "full");
	for (i = 0; i < BUS_MAX_RANGES && !r; i++)
		r = bus_add(&b, i * 16, 16, h, NULL, "r");
	is_int(r, 0, "table fills up to BUS_MAX_RANGES");
	is_int(bus_add(&b, 0x10000, 1, h, NULL, "extra"), -ENOSPC, "full table refuses");
	return done_testing();
}
