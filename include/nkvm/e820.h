/* E820 memory map shared by both boot paths. Pure data, no KVM. */
#ifndef NKVM_E820_H
#define NKVM_E820_H

#include <stdint.h>

#define E820_RAM      1
#define E820_RESERVED 2

#define E820_MAX_ENTRIES 8

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

struct e820_map {
	struct e820_entry e[E820_MAX_ENTRIES];
	int nr;
};

struct gm;
/*
 * Build the guest's map from the RAM layout: [0, 0x9fc00) RAM,
 * [0x9fc00, 0xa0000) and [0xf0000, 0x100000) reserved (EBDA, MP table),
 * [1 MiB, low end) RAM, [4 GiB, ...) RAM when there is high memory.
 * Sorted, non-overlapping.
 */
void e820_build(struct e820_map *map, const struct gm *gm);

#endif
