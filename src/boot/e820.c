/* The guest's E820 memory map, derived from the guest RAM layout. */
#include <string.h>

#include "nkvm/e820.h"
#include "nkvm/gm.h"

/* Legacy PC holes: the EBDA just below 640 KiB, VGA/option ROMs and the
 * BIOS area up to 1 MiB (where the MP table lives). */
#define E820_EBDA_START  0x9fc00ULL
#define E820_VGA_START   0xa0000ULL
#define E820_BIOS_START  0xf0000ULL
#define E820_HIGH_MEM    0x100000ULL

static void e820_add(struct e820_map *map, uint64_t addr, uint64_t size,
		     uint32_t type)
{
	if (size == 0 || map->nr >= E820_MAX_ENTRIES)
		return;
	map->e[map->nr++] = (struct e820_entry){
		.addr = addr, .size = size, .type = type,
	};
}

/*
 * Fill `map` from gm's regions, in ascending address order: base memory,
 * the reserved EBDA and BIOS ranges, RAM from 1 MiB to the top of low RAM
 * and RAM above 4 GiB. RAM ranges are clipped to what gm really backs, so
 * a tiny gm_init_buffer() guest still gets a truthful map.
 */
void e820_build(struct e820_map *map, const struct gm *gm)
{
	uint64_t low_end = gm_low_end(gm);

	memset(map, 0, sizeof(*map));
	e820_add(map, 0, low_end < E820_EBDA_START ? low_end : E820_EBDA_START,
		 E820_RAM);
	e820_add(map, E820_EBDA_START, E820_VGA_START - E820_EBDA_START,
		 E820_RESERVED);
	e820_add(map, E820_BIOS_START, E820_HIGH_MEM - E820_BIOS_START,
		 E820_RESERVED);
	if (low_end > E820_HIGH_MEM)
		e820_add(map, E820_HIGH_MEM, low_end - E820_HIGH_MEM, E820_RAM);
	for (int i = 1; i < gm->nr_regions; i++)
		e820_add(map, gm->region[i].gpa, gm->region[i].size, E820_RAM);
}
