/* Sorted range table for port I/O and MMIO exits. */
#include <errno.h>
#include <string.h>

#include "nkvm/bus.h"
#include "nkvm/log.h"

void bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
}

int bus_add(struct bus *bus, uint64_t base, uint64_t len, bus_handler fn,
	    void *opaque, const char *name)
{
	int i, pos;

	if (!len || base + len < base || !fn)
		return -EINVAL;
	if (bus->nr == BUS_MAX_RANGES)
		return -ENOSPC;
	for (pos = 0; pos < bus->nr && bus->r[pos].base < base; pos++)
		;
	/* neighbours must not overlap: the one before ends at or before base,
	 * the one at pos starts at or after base + len */
	if (pos > 0 && bus->r[pos - 1].base + bus->r[pos - 1].len > base)
		return -EEXIST;
	if (pos < bus->nr && bus->r[pos].base < base + len)
		return -EEXIST;
	for (i = bus->nr; i > pos; i--)
		bus->r[i] = bus->r[i - 1];
	bus->r[pos] = (struct bus_range){ base, len, fn, opaque, name };
	bus->nr++;
	return 0;
}

static struct bus_range *bus_find(struct bus *bus, uint64_t addr, unsigned len)
{
	int lo = 0, hi = bus->nr - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		struct bus_range *r = &bus->r[mid];

		if (addr < r->base) {
			hi = mid - 1;
		} else if (addr - r->base >= r->len) {
			lo = mid + 1;
		} else {
			/* the whole access must fit in the range */
			if (len > r->len - (addr - r->base))
				return NULL;
			return r;
		}
	}
	return NULL;
}

bool bus_access(struct bus *bus, uint64_t addr, uint8_t *data, unsigned len,
		bool is_write)
{
	struct bus_range *r = bus_find(bus, addr, len);

	if (r) {
		r->fn(r->opaque, addr - r->base, data, len, is_write);
		return true;
	}
	__atomic_fetch_add(&bus->unhandled, 1, __ATOMIC_RELAXED);
	if (!is_write)
		memset(data, 0xff, len);
	return false;
}
