/*
 * Guest memory: one memfd-backed shared mapping, split into at most two
 * guest-physical regions around the PCI hole below 4 GiB.
 * gm_ptr() is the ONLY way to turn a guest physical address into a host
 * pointer: it checks the whole range lies inside one region, without overflow.
 */
#ifndef NKVM_GM_H
#define NKVM_GM_H

#include <stddef.h>
#include <stdint.h>

#define GM_MAX_REGIONS 2
/* Guest RAM below 4 GiB ends here; [GM_PCI_HOLE_START, 4 GiB) is MMIO space. */
#define GM_PCI_HOLE_START 0xC0000000ULL
#define GM_HIGH_START     0x100000000ULL
#define GM_MIN_SIZE       (64ULL << 20)
#define GM_MAX_SIZE       (1ULL << 40)

struct gm_region {
	uint64_t gpa;   /* first guest physical address */
	uint64_t size;  /* bytes */
	uint8_t *hva;   /* host address of gpa */
	uint64_t offset; /* offset in the memfd */
};

struct gm {
	struct gm_region region[GM_MAX_REGIONS];
	int nr_regions;
	int memfd;        /* -1 when backed by a caller-provided buffer */
	uint8_t *base;    /* whole mapping */
	uint64_t size;    /* total RAM bytes */
};

/* Create guest RAM of `size` bytes (GM_MIN_SIZE..GM_MAX_SIZE, multiple of
 * 2 MiB). Returns 0 or -errno (-EINVAL for a bad size). */
int gm_init(struct gm *gm, uint64_t size) __attribute__((warn_unused_result));

/* Wrap a caller-owned buffer as a single region at gpa 0 (unit tests, fuzzers). */
void gm_init_buffer(struct gm *gm, void *buf, uint64_t size);

void gm_destroy(struct gm *gm);

/* Host pointer for [gpa, gpa+len) or NULL if any byte is outside guest RAM
 * or the range crosses a region boundary. len 0 is valid inside RAM. */
void *gm_ptr(const struct gm *gm, uint64_t gpa, uint64_t len);

/* Copy to/from guest RAM; 0 or -EFAULT. */
int gm_read(const struct gm *gm, uint64_t gpa, void *dst, uint64_t len)
	__attribute__((warn_unused_result));
int gm_write(const struct gm *gm, uint64_t gpa, const void *src, uint64_t len)
	__attribute__((warn_unused_result));

/* Top of guest RAM below the PCI hole (exclusive). */
uint64_t gm_low_end(const struct gm *gm);

#endif
