/* Port I/O and MMIO dispatch: sorted, non-overlapping ranges. Pure code. */
#ifndef NKVM_BUS_H
#define NKVM_BUS_H

#include <stdbool.h>
#include <stdint.h>

#define BUS_MAX_RANGES 64

/* Access handler: `addr` is the offset from the range base; `data` holds
 * `len` bytes (1, 2, 4 or 8) in guest byte order. */
typedef void (*bus_handler)(void *opaque, uint64_t off, uint8_t *data,
			    unsigned len, bool is_write);

struct bus_range {
	uint64_t base, len;
	bus_handler fn;
	void *opaque;
	const char *name;
};

struct bus {
	const char *name;               /* "pio" or "mmio" for logs */
	struct bus_range r[BUS_MAX_RANGES];
	int nr;
	unsigned long unhandled;        /* accesses no range claimed */
};

void bus_init(struct bus *bus, const char *name);

/* Register [base, base+len). 0, -EINVAL (len 0 or wraps), -EEXIST (overlap)
 * or -ENOSPC (table full). */
int bus_add(struct bus *bus, uint64_t base, uint64_t len, bus_handler fn,
	    void *opaque, const char *name) __attribute__((warn_unused_result));

/* Dispatch one access. Returns true when a range handled it; otherwise a
 * read returns all-ones, the access is counted, and false is returned. */
bool bus_access(struct bus *bus, uint64_t addr, uint8_t *data, unsigned len,
		bool is_write);

#endif
