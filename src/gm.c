/*
 * Guest memory: one memfd mapped once, seen by the guest as up to two
 * regions around the PCI hole. gm_ptr() is the single gpa -> hva path.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nkvm/gm.h"

#define GM_SIZE_ALIGN (2ULL << 20)

/*
 * Create `size` bytes of guest RAM backed by a memfd (so it can later be
 * shared with other processes, e.g. vhost-user, and released with one
 * munmap). RAM below the PCI hole becomes region 0 at gpa 0, the rest
 * region 1 at 4 GiB. Returns 0, -EINVAL for a bad size, or -errno.
 */
int gm_init(struct gm *gm, uint64_t size)
{
	uint64_t low;
	void *p;
	int fd, ret;

	memset(gm, 0, sizeof(*gm));
	gm->memfd = -1;
	if (size < GM_MIN_SIZE || size > GM_MAX_SIZE || size % GM_SIZE_ALIGN)
		return -EINVAL;

	fd = memfd_create("nkvm-ram", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		ret = -errno;
		goto err_close;
	}
	/* MAP_NORESERVE: RAM the guest never touches costs nothing */
	p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		goto err_close;
	}
	/* best effort: fewer TLB misses (and EPT entries) when THP is on */
	(void)madvise(p, (size_t)size, MADV_HUGEPAGE);

	gm->memfd = fd;
	gm->base = p;
	gm->size = size;
	low = size < GM_PCI_HOLE_START ? size : GM_PCI_HOLE_START;
	gm->region[0] = (struct gm_region){
		.gpa = 0, .size = low, .hva = gm->base, .offset = 0,
	};
	gm->nr_regions = 1;
	if (size > low) {
		gm->region[1] = (struct gm_region){
			.gpa = GM_HIGH_START, .size = size - low,
			.hva = gm->base + low, .offset = low,
		};
		gm->nr_regions = 2;
	}
	return 0;

err_close:
	close(fd);
	return ret;
}

/*
 * Use a caller-owned buffer as guest RAM at gpa 0 (unit tests and fuzzers:
 * no size rules, nothing is unmapped by gm_destroy).
 */
void gm_init_buffer(struct gm *gm, void *buf, uint64_t size)
{
	memset(gm, 0, sizeof(*gm));
	gm->memfd = -1;
	gm->base = buf;
	gm->size = size;
	gm->region[0] = (struct gm_region){ .gpa = 0, .size = size, .hva = buf };
	gm->nr_regions = 1;
}

/* Unmap and close what gm_init created; safe to call twice. */
void gm_destroy(struct gm *gm)
{
	if (gm->memfd >= 0) {
		if (gm->base)
			munmap(gm->base, (size_t)gm->size);
		close(gm->memfd);
	}
	memset(gm, 0, sizeof(*gm));
	gm->memfd = -1;
}

/*
 * Host pointer for [gpa, gpa + len), or NULL unless gpa lies inside one
 * region and len fits in what is left of it. Only subtractions of values
 * already known to be ordered, so a hostile gpa/len cannot wrap around.
 */
void *gm_ptr(const struct gm *gm, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < gm->nr_regions; i++) {
		const struct gm_region *r = &gm->region[i];
		uint64_t off;

		if (gpa < r->gpa)
			continue;
		off = gpa - r->gpa;
		if (off >= r->size)
			continue;
		if (len > r->size - off)
			return NULL;
		return r->hva + off;
	}
	return NULL;
}

/* Copy len bytes of guest RAM at gpa to dst. 0 or -EFAULT. */
int gm_read(const struct gm *gm, uint64_t gpa, void *dst, uint64_t len)
{
	const void *p = gm_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, (size_t)len);
	return 0;
}

/* Copy len bytes from src into guest RAM at gpa. 0 or -EFAULT. */
int gm_write(const struct gm *gm, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = gm_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, (size_t)len);
	return 0;
}

/* End (exclusive) of the RAM region at gpa 0, i.e. the top of low RAM. */
uint64_t gm_low_end(const struct gm *gm)
{
	return gm->nr_regions > 0 ? gm->region[0].gpa + gm->region[0].size : 0;
}
