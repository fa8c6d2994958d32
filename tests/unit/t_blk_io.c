/* Block I/O engine, both back ends (io_uring skipped where the host refuses
 * it), on real files: multi-iovec writes read back, 64 requests in flight in
 * any order, the depth limit, the eventfd, flush, discard, write-zeroes,
 * reads past EOF, host errors, O_DIRECT with and without bounce buffers,
 * destroy with I/O in flight. Then the step machine alone: short transfers,
 * retries and write-zeroes fallbacks, which regular files never produce. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nkvm/blk_io.h"
#include "../../src/virtio/blk_io_impl.h"
#include "tap.h"

#define FILE_SIZE (1u << 20)
#define SENTINEL  12345
#define MAXSEG    16

static const char *dir; /* for test files: not tmpfs if we can, for O_DIRECT */

static uint8_t pat(uint64_t off, unsigned seed)
{
	return (uint8_t)((off * 131 + (off >> 9) + seed * 61) ^ (seed << 3));
}

/* An unlinked scratch file of `size` bytes; -1 on failure (reported). */
static int scratch(uint64_t size)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/nkvm-t_blk_io.XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0) {
		ok(0, "mkstemp in %s: %s", dir, strerror(errno));
		return -1;
	}
	unlink(path);
	if (ftruncate(fd, (off_t)size) < 0) {
		ok(0, "ftruncate: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void req_init(struct blk_io_req *r, enum blk_io_op op, int fd,
		     uint64_t off, const struct iovec *iov, unsigned cnt)
{
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->fd = fd;
	r->offset = off;
	r->iov = iov;
	r->iovcnt = cnt;
	r->result = SENTINEL; /* the engine must overwrite it */
}

/* Submit, kick, wait for r alone; its result, or SENTINEL+1 if the engine
 * handed back something else. */
static int run1(struct blk_io *io, struct blk_io_req *r)
{
	struct blk_io_req *done[4];
	unsigned n;
	int ret;

	ret = blk_io_submit(io, r);
	if (ret)
		return ret;
	if (blk_io_kick(io))
		diag("kick failed");
	n = blk_io_reap(io, done, 4, true);
	if (n != 1 || done[0] != r) {
		diag("reap gave %u requests", n);
		return SENTINEL + 1;
	}
	return r->result;
}

static int rw1(struct blk_io *io, enum blk_io_op op, int fd, uint64_t off,
	       void *buf, size_t len)
{
	struct iovec iov = { buf, len };
	struct blk_io_req r;

	req_init(&r, op, fd, off, &iov, 1);
	return run1(io, &r);
}

/* Wait until everything in flight is reaped; how many came back. */
static unsigned reap_all(struct blk_io *io, struct blk_io_req **seen, unsigned max)
{
	struct blk_io_req *done[8];
	unsigned n, total = 0;

	while (blk_io_inflight(io)) {
		n = blk_io_reap(io, done, 8, true);
		for (unsigned i = 0; i < n; i++)
			if (total < max)
				seen[total++] = done[i];
	}
	return total;
}

static bool efd_readable(struct blk_io *io, int ms)
{
	struct pollfd p = { .fd = blk_io_event_fd(io), .events = POLLIN };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/* Non-overlapping multi-iovec writes in one batch, checked against a
 * mirror of the file through pread and through the engine. */
static void test_patterns(struct blk_io *io, const char *k)
{
	static const struct {
		uint64_t off;
		unsigned nseg;
		size_t seg[MAXSEG];
	} cs[] = {
		{ 0, 1, { 512 } },
		{ 512, 3, { 100, 412, 1024 } },
		{ 3 * 4096 + 7, 5, { 1, 2, 3, 4096, 5000 } },
		{ 65536 - 1000, 3, { 2000, 0, 48 } },
		{ FILE_SIZE - 4096, 1, { 4096 } },
		{ 200000, 16, { 333, 333, 333, 333, 333, 333, 333, 333,
				333, 333, 333, 333, 333, 333, 333, 333 } },
	};
	enum { NC = sizeof(cs) / sizeof(cs[0]) };
	struct iovec iov[NC][MAXSEG], whole[3];
	struct blk_io_req req[NC], *seen[NC];
	uint8_t *mirror = calloc(1, FILE_SIZE), *file = malloc(FILE_SIZE);
	uint8_t *back = malloc(FILE_SIZE);
	bool all_ok = true;
	int fd = scratch(FILE_SIZE);

	if (fd < 0 || !mirror || !file || !back)
		goto out;
	for (unsigned c = 0; c < NC; c++) {
		uint64_t o = cs[c].off;

		for (unsigned s = 0; s < cs[c].nseg; s++) {
			/* separate allocations: really scattered */
			uint8_t *b = malloc(cs[c].seg[s] + 1);

			for (size_t j = 0; j < cs[c].seg[s]; j++, o++)
				b[j] = mirror[o] = pat(o, c + 1);
			iov[c][s] = (struct iovec){ b, cs[c].seg[s] };
		}
		req_init(&req[c], BLK_IO_WRITE, fd, cs[c].off, iov[c], cs[c].nseg);
		req[c].opaque = &req[c];
		if (blk_io_submit(io, &req[c]))
			all_ok = false;
	}
	ok(all_ok, "%s: %d writes queued", k, NC);
	is_int(blk_io_inflight(io), NC, "%s: all in flight", k);
	is_int(blk_io_kick(io), 0, "%s: kick", k);
	is_int(reap_all(io, seen, NC), NC, "%s: all reaped", k);
	all_ok = true;
	for (unsigned c = 0; c < NC; c++) {
		if (req[c].result != 0 || req[c].opaque != &req[c])
			all_ok = false;
		for (unsigned s = 0; s < cs[c].nseg; s++)
			free(iov[c][s].iov_base);
	}
	ok(all_ok, "%s: every write succeeded", k);
	ok(pread(fd, file, FILE_SIZE, 0) == FILE_SIZE &&
	   memcmp(file, mirror, FILE_SIZE) == 0, "%s: file has exactly the data", k);

	/* the whole file back through the engine, in three uneven pieces */
	memset(back, 0xee, FILE_SIZE);
	whole[0] = (struct iovec){ back, 777 };
	whole[1] = (struct iovec){ back + 777, 300000 };
	whole[2] = (struct iovec){ back + 300777, FILE_SIZE - 300777 };
	req_init(&req[0], BLK_IO_READ, fd, 0, whole, 3);
	is_int(run1(io, &req[0]), 0, "%s: read all in 3 iovecs", k);
	ok(memcmp(back, mirror, FILE_SIZE) == 0, "%s: same bytes", k);

	/* each written range, read at its own offset into one buffer */
	all_ok = true;
	for (unsigned c = 0; c < NC; c++) {
		size_t len = 0;

		for (unsigned s = 0; s < cs[c].nseg; s++)
			len += cs[c].seg[s];
		memset(back, 0, len);
		if (rw1(io, BLK_IO_READ, fd, cs[c].off, back, len) != 0 ||
		    memcmp(back, mirror + cs[c].off, len) != 0)
			all_ok = false;
	}
	ok(all_ok, "%s: each range reads back at its offset", k);
out:
	if (fd >= 0)
		close(fd);
	free(mirror);
	free(file);
	free(back);
}

/* depth requests at once: -EAGAIN past depth, the eventfd stays readable
 * while completions wait, any completion order, correct data. */
static void test_inflight(struct blk_io *io, const char *k)
{
	enum { N = 64, SZ = 4096 };
	static uint8_t buf[N][SZ], chk[SZ];
	struct blk_io_req req[N], extra, *done[1];
	struct iovec iov[N][2];
	unsigned got = 0, out_of_order = 0, next = 0;
	bool seen[N] = { false }, all_ok = true, readable = true;
	int fd = scratch(N * 2 * SZ);

	if (fd < 0)
		return;
	ok(!efd_readable(io, 0), "%s: eventfd quiet when idle", k);
	is_int(blk_io_reap(io, done, 1, true), 0,
	       "%s: reap(wait) with nothing in flight returns at once", k);
	for (unsigned i = 0; i < N; i++) {
		for (unsigned j = 0; j < SZ; j++)
			buf[i][j] = pat(j, i + 100);
		iov[i][0] = (struct iovec){ buf[i], 1000 };
		iov[i][1] = (struct iovec){ buf[i] + 1000, SZ - 1000 };
		req_init(&req[i], BLK_IO_WRITE, fd, (uint64_t)i * 2 * SZ, iov[i], 2);
		req[i].opaque = (void *)(uintptr_t)i;
		if (blk_io_submit(io, &req[i]))
			all_ok = false;
	}
	ok(all_ok, "%s: %d writes submitted", k, N);
	req_init(&extra, BLK_IO_FLUSH, fd, 0, NULL, 0);
	is_int(blk_io_submit(io, &extra), -EAGAIN, "%s: one more is -EAGAIN", k);
	is_int(extra.result, SENTINEL, "%s:   and left alone", k);
	is_int(blk_io_kick(io), 0, "%s: kick", k);
	/* one at a time, as an event loop woken by the eventfd would */
	while (got < N) {
		if (!efd_readable(io, 5000)) {
			readable = false;
			break;
		}
		if (blk_io_reap(io, done, 1, false) != 1)
			continue; /* woken early is fine */
		unsigned i = (unsigned)(uintptr_t)done[0]->opaque;

		if (i >= N || seen[i] || done[0] != &req[i] || done[0]->result)
			all_ok = false;
		else
			seen[i] = true;
		out_of_order += i != next++;
		got++;
	}
	ok(readable, "%s: eventfd readable until the last is reaped", k);
	ok(all_ok && got == N, "%s: each of %d completed once, result 0", k, N);
	diag("%s: %u of %d completions out of submission order", k, out_of_order, N);
	is_int(blk_io_inflight(io), 0, "%s: nothing in flight", k);

	/* read them back in batches of 16 kicks, reaping 5 at a time */
	all_ok = true;
	for (unsigned i = 0; i < N; i++) {
		memset(buf[i], 0, SZ);
		req_init(&req[i], BLK_IO_READ, fd, (uint64_t)i * 2 * SZ, iov[i], 2);
		if (blk_io_submit(io, &req[i]))
			all_ok = false;
		if (i % 16 == 15 && blk_io_kick(io))
			all_ok = false;
	}
	while (blk_io_inflight(io)) {
		struct blk_io_req *d[5];
		unsigned n = blk_io_reap(io, d, 5, true);

		for (unsigned j = 0; j < n; j++)
			if (d[j]->result)
				all_ok = false;
	}
	for (unsigned i = 0; i < N; i++) {
		for (unsigned j = 0; j < SZ; j++)
			chk[j] = pat(j, i + 100);
		if (memcmp(chk, buf[i], SZ))
			all_ok = false;
	}
	ok(all_ok, "%s: %d reads in flight return the right data", k, N);
	close(fd);
}

static bool all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static bool is_pat(const uint8_t *b, uint64_t off, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != pat(off + i, seed))
			return false;
	return true;
}

/* A 2 MiB file full of pattern 7, flushed to disk. */
static int pattern_file(uint8_t *buf, size_t sz)
{
	int fd = scratch(0);

	if (fd < 0)
		return -1;
	for (size_t i = 0; i < sz; i++)
		buf[i] = pat(i, 7);
	if (pwrite(fd, buf, sz, 0) != (ssize_t)sz || fsync(fd)) {
		ok(0, "pattern file: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void test_flush_discard_zeroes(struct blk_io *io, const char *k)
{
	const size_t sz = 2u << 20;
	uint8_t *buf = malloc(sz);
	struct blk_io_req r;
	struct stat st0, st1;
	int fd = pattern_file(buf, sz);

	if (fd < 0)
		goto out;
	req_init(&r, BLK_IO_FLUSH, fd, 0, NULL, 0);
	is_int(run1(io, &r), 0, "%s: flush", k);

	fstat(fd, &st0);
	req_init(&r, BLK_IO_DISCARD, fd, 512 << 10, NULL, 0);
	r.len = 1 << 20;
	is_int(run1(io, &r), 0, "%s: discard 1 MiB", k);
	fstat(fd, &st1);
	ok(st1.st_blocks <= st0.st_blocks - 2048, "%s:   file is sparser (%lld -> %lld blocks)",
	   k, (long long)st0.st_blocks, (long long)st1.st_blocks);
	is_int(st1.st_size, sz, "%s:   size kept", k);
	memset(buf, 0xaa, sz);
	is_int(rw1(io, BLK_IO_READ, fd, 0, buf, sz), 0, "%s:   read back", k);
	ok(is_pat(buf, 0, 512 << 10, 7) && all_zero(buf + (512 << 10), 1 << 20) &&
	   is_pat(buf + (1536 << 10), 1536 << 10, 512 << 10, 7),
	   "%s:   zeroes inside, data around", k);
	req_init(&r, BLK_IO_DISCARD, fd, 0, NULL, 0);
	is_int(run1(io, &r), 0, "%s: discard of 0 bytes", k);

	/* sector-aligned but not page-aligned: fallocate zeroes partial pages */
	req_init(&r, BLK_IO_WRITE_ZEROES, fd, 3 * 512, NULL, 0);
	r.len = 300 * 512;
	is_int(run1(io, &r), 0, "%s: write-zeroes", k);
	req_init(&r, BLK_IO_WRITE_ZEROES, fd, 1700 << 10, NULL, 0);
	r.len = 100 * 1024 + 512;
	r.unmap = true;
	is_int(run1(io, &r), 0, "%s: write-zeroes with unmap", k);
	memset(buf, 0xaa, sz);
	is_int(rw1(io, BLK_IO_READ, fd, 0, buf, sz), 0, "%s:   read back", k);
	ok(is_pat(buf, 0, 3 * 512, 7) && all_zero(buf + 3 * 512, 300 * 512) &&
	   is_pat(buf + 303 * 512, 303 * 512, (512 << 10) - 303 * 512, 7),
	   "%s:   zeroes where asked, data around", k);
	ok(is_pat(buf + (1536 << 10), 1536 << 10, (164 << 10), 7) &&
	   all_zero(buf + (1700 << 10), 100 * 1024 + 512) &&
	   is_pat(buf + (1800 << 10) + 512, (1800 << 10) + 512,
		  sz - (1800 << 10) - 512, 7),
	   "%s:   unmapped range reads zeroes, data around", k);
	fstat(fd, &st1);
	is_int(st1.st_size, sz, "%s:   size kept", k);
	close(fd);
out:
	free(buf);
}

static void test_errors(struct blk_io *io, const char *k)
{
	uint8_t buf[4096], keep[4096];
	struct iovec iov[2] = { { buf, 512 }, { buf + 512, 512 } };
	struct blk_io_req r;
	int fd = scratch(FILE_SIZE), rofd, full;
	char path[64];

	if (fd < 0)
		return;
	memset(buf, 0x5a, sizeof(buf));
	is_int(rw1(io, BLK_IO_READ, fd, FILE_SIZE, buf, 512), -EIO,
	       "%s: read at EOF is -EIO", k);
	req_init(&r, BLK_IO_READ, fd, FILE_SIZE - 512, iov, 2);
	is_int(run1(io, &r), -EIO, "%s: read across EOF is -EIO (short, then 0)", k);
	is_int(rw1(io, BLK_IO_READ, fd, 7 * FILE_SIZE, buf, 0), 0,
	       "%s: zero-length read is fine anywhere", k);
	is_int(rw1(io, BLK_IO_WRITE, fd, FILE_SIZE - 100, buf, 612), 0,
	       "%s: write across EOF extends the file", k);

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rofd = open(path, O_RDONLY);
	is_int(rw1(io, BLK_IO_WRITE, rofd, 0, buf, 512), -EBADF,
	       "%s: write to a read-only fd: -EBADF", k);
	req_init(&r, BLK_IO_WRITE_ZEROES, rofd, 0, NULL, 0);
	r.len = 4096;
	is_int(run1(io, &r), -EBADF, "%s: write-zeroes on it: -EBADF, no fallback", k);
	req_init(&r, BLK_IO_DISCARD, rofd, 0, NULL, 0);
	r.len = 4096;
	is_int(run1(io, &r), -EBADF, "%s: discard on it: -EBADF", k);
	is_int(rw1(io, BLK_IO_READ, -1, 0, buf, 512), -EBADF, "%s: fd -1: -EBADF", k);
	close(rofd);
	full = open("/dev/full", O_WRONLY | O_CLOEXEC);
	if (full >= 0) {
		is_int(rw1(io, BLK_IO_WRITE, full, 0, buf, 512), -ENOSPC,
		       "%s: write to /dev/full: -ENOSPC", k);
		close(full);
	}

	memcpy(keep, buf, sizeof(buf));
	req_init(&r, (enum blk_io_op)99, fd, 0, iov, 1);
	is_int(blk_io_submit(io, &r), -EINVAL, "%s: unknown op: -EINVAL", k);
	req_init(&r, BLK_IO_READ, fd, 0, iov, BLK_IO_MAX_IOV + 1);
	is_int(blk_io_submit(io, &r), -EINVAL, "%s: too many iovecs: -EINVAL", k);
	req_init(&r, BLK_IO_READ, fd, 0, NULL, 1);
	is_int(blk_io_submit(io, &r), -EINVAL, "%s: NULL iov: -EINVAL", k);
	req_init(&r, BLK_IO_WRITE, fd, INT64_MAX - 511, iov, 1);
	is_int(blk_io_submit(io, &r), -EINVAL, "%s: offset + length past off_t: -EINVAL", k);
	req_init(&r, BLK_IO_DISCARD, fd, UINT64_MAX - 10, NULL, 0);
	r.len = 100;
	is_int(blk_io_submit(io, &r), -EINVAL, "%s: discard range wraps: -EINVAL", k);
	is_int(blk_io_inflight(io), 0, "%s: refused requests are not in flight", k);
	ok(memcmp(keep, buf, sizeof(buf)) == 0, "%s: nor touched the buffers", k);
	close(fd);
}

/* Reopen an unlinked scratch file with O_DIRECT; -1 (skipped) when the
 * filesystem refuses. */
static int reopen_direct(int fd)
{
	char path[64];
	int d;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	d = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (d < 0)
		printf("ok %d # skip O_DIRECT refused in %s: %s\n", ++tap_n, dir,
		       strerror(errno));
	return d;
}

static void test_direct(enum blk_io_kind kind, const char *k)
{
	uint8_t *a = NULL, *b = NULL, *src = malloc(3 * 4096), *back = malloc(3 * 4096);
	struct blk_io *io = NULL;
	struct iovec iov[3];
	struct blk_io_req r;
	int fd = scratch(FILE_SIZE), dfd = -1;

	if (fd < 0 || (dfd = reopen_direct(fd)) < 0)
		goto out;
	if (blk_io_create(&io, kind, 8, true)) {
		ok(0, "%s: create direct engine", k);
		goto out;
	}
	if (posix_memalign((void **)&a, 4096, 3 * 4096) ||
	    posix_memalign((void **)&b, 4096, 3 * 4096))
		goto out;
	for (unsigned i = 0; i < 3 * 4096; i++)
		src[i] = pat(i, 9);
	if (pwrite(dfd, src + 1, 4096, 0) < 0 && errno == EINVAL)
		diag("%s: the kernel refuses misaligned O_DIRECT here: good", k);
	else
		diag("%s: misaligned O_DIRECT accepted by this fs: bounce path not proven", k);

	/* aligned: straight to the file */
	memcpy(a, src, 8192);
	iov[0] = (struct iovec){ a, 4096 };
	iov[1] = (struct iovec){ a + 4096, 4096 };
	req_init(&r, BLK_IO_WRITE, dfd, 8192, iov, 2);
	is_int(run1(io, &r), 0, "%s: O_DIRECT aligned write", k);
	memset(b, 0, 8192);
	iov[0] = (struct iovec){ b, 8192 };
	req_init(&r, BLK_IO_READ, dfd, 8192, iov, 1);
	is_int(run1(io, &r), 0, "%s: O_DIRECT aligned read", k);
	ok(memcmp(b, src, 8192) == 0, "%s:   same bytes", k);

	/* misaligned bases and lengths: through the bounce buffer */
	memcpy(a + 1, src, 1000);
	memcpy(b + 3, src + 1000, 7192);
	iov[0] = (struct iovec){ a + 1, 1000 };
	iov[1] = (struct iovec){ NULL, 0 };
	iov[2] = (struct iovec){ b + 3, 7192 };
	req_init(&r, BLK_IO_WRITE, dfd, 16384, iov, 3);
	is_int(run1(io, &r), 0, "%s: O_DIRECT misaligned write (bounced), empty iovec", k);
	ok(r.priv.bounce == NULL, "%s:   bounce buffer freed", k);
	ok(pread(fd, back, 8192, 16384) == 8192 && memcmp(back, src, 8192) == 0,
	   "%s:   file has the data", k);
	memset(a, 0, 3 * 4096);
	memset(b, 0, 3 * 4096);
	iov[0] = (struct iovec){ a + 5, 5000 };
	iov[1] = (struct iovec){ b + 7, 3192 };
	req_init(&r, BLK_IO_READ, dfd, 16384, iov, 2);
	is_int(run1(io, &r), 0, "%s: O_DIRECT misaligned read (bounced)", k);
	ok(memcmp(a + 5, src, 5000) == 0 && memcmp(b + 7, src + 5000, 3192) == 0,
	   "%s:   scattered back into the iovecs", k);
	iov[0] = (struct iovec){ a, 512 };
	iov[1] = (struct iovec){ b, 3584 };
	req_init(&r, BLK_IO_READ, dfd, 16384, iov, 2);
	is_int(run1(io, &r), 0, "%s: O_DIRECT aligned bases, 512-byte lengths", k);
	ok(memcmp(a, src, 512) == 0 && memcmp(b, src + 512, 3584) == 0,
	   "%s:   same bytes", k);
	memset(a, 0x77, 4096);
	iov[0] = (struct iovec){ a + 1, 4095 };
	iov[1] = (struct iovec){ b, 1 };
	req_init(&r, BLK_IO_READ, dfd, FILE_SIZE, iov, 2);
	is_int(run1(io, &r), -EIO, "%s: O_DIRECT bounced read past EOF: -EIO", k);
	ok(a[1] == 0x77 && a[4095] == 0x77, "%s:   nothing scattered on failure", k);
out:
	blk_io_destroy(io);
	free(a);
	free(b);
	free(src);
	free(back);
	if (dfd >= 0)
		close(dfd);
	if (fd >= 0)
		close(fd);
}

/* Destroy waits for what is in flight, queued-not-kicked included; the
 * sanitizer build checks nothing (bounce buffers included) leaks. */
static void test_destroy(enum blk_io_kind kind, const char *k, bool kick, bool direct)
{
	enum { N = 32, SZ = 65536 };
	static uint8_t buf[N][SZ + 1], back[SZ];
	struct blk_io_req req[N];
	struct iovec iov[N];
	struct blk_io *io;
	bool all_ok = true;
	int fd = scratch(0), wfd = fd;

	if (fd < 0)
		return;
	if (direct && (wfd = reopen_direct(fd)) < 0)
		goto out;
	if (blk_io_create(&io, kind, N, direct)) {
		ok(0, "%s: create", k);
		goto out;
	}
	for (unsigned i = 0; i < N; i++) {
		memset(buf[i], (int)i + 1, SZ + 1);
		/* +1: misaligned, so direct requests carry a bounce buffer */
		iov[i] = (struct iovec){ buf[i] + 1, SZ };
		req_init(&req[i], BLK_IO_WRITE, wfd, (uint64_t)i * SZ, &iov[i], 1);
		if (blk_io_submit(io, &req[i]))
			all_ok = false;
	}
	if (kick && blk_io_kick(io))
		all_ok = false;
	blk_io_destroy(io);
	for (unsigned i = 0; i < N; i++) {
		memset(back, 0, SZ);
		if (pread(fd, back, SZ, (off_t)i * SZ) != SZ ||
		    memcmp(back, buf[i] + 1, SZ))
			all_ok = false;
	}
	ok(all_ok, "%s: destroy with %d%s writes in flight%s: all done first", k, N,
	   kick ? "" : " unkicked", direct ? " (O_DIRECT, bounced)" : "");
out:
	if (wfd >= 0 && wfd != fd)
		close(wfd);
	close(fd);
}

static void run_kind(enum blk_io_kind kind)
{
	const char *k = blk_io_kind_name(kind);
	struct blk_io *io;
	int ret;

	ret = blk_io_create(&io, kind, 64, false);
	if (ret && kind == BLK_IO_URING) {
		printf("ok %d # skip io_uring unavailable here: %s\n", ++tap_n,
		       strerror(-ret));
		return;
	}
	is_int(ret, 0, "%s: create, depth 64", k);
	if (ret)
		return;
	is_int(blk_io_kind(io), kind, "%s: kind", k);
	ok(blk_io_event_fd(io) >= 0 &&
	   (fcntl(blk_io_event_fd(io), F_GETFL) & O_NONBLOCK) &&
	   (fcntl(blk_io_event_fd(io), F_GETFD) & FD_CLOEXEC),
	   "%s: eventfd non-blocking, close-on-exec", k);
	test_patterns(io, k);
	test_inflight(io, k);
	test_flush_discard_zeroes(io, k);
	test_errors(io, k);
	blk_io_destroy(io);
	test_direct(kind, k);
	test_destroy(kind, k, true, false);
	test_destroy(kind, k, false, false);
	test_destroy(kind, k, true, true);
}

/* --- the step machine alone --- */

static void test_steps(void)
{
	uint8_t m[600];
	struct iovec iov[3] = { { m, 100 }, { m + 100, 200 }, { m + 300, 300 } };
	struct blk_io_req r;
	struct blk_step s;
	struct blk_io *io;
	uint64_t done;
	bool fine;

	if (blk_io_create(&io, BLK_IO_THREADS, 1, false)) {
		ok(0, "steps: create");
		return;
	}
	req_init(&r, BLK_IO_READ, 3, 1000, iov, 3);
	r.priv.total = 600;
	ok(blk_req_step(io, &r, &s) && s.sys == BLK_SYS_PREADV && s.fd == 3 &&
	   s.iov == iov && s.iovcnt == 3 && s.off == 1000, "steps: read: whole first");
	blk_req_advance(&r, 50);
	ok(blk_req_step(io, &r, &s) && s.iovcnt == 1 && s.iov[0].iov_base == m + 50 &&
	   s.iov[0].iov_len == 50 && s.off == 1050,
	   "steps: short by 150: the rest of iovec 0 alone");
	blk_req_advance(&r, 50);
	ok(blk_req_step(io, &r, &s) && s.iov == iov + 1 && s.iovcnt == 2 && s.off == 1100,
	   "steps: then the caller's iovecs 1..2");
	blk_req_advance(&r, 250);
	ok(blk_req_step(io, &r, &s) && s.iovcnt == 1 && s.iov[0].iov_base == m + 350 &&
	   s.iov[0].iov_len == 250 && s.off == 1350, "steps: then inside iovec 2");
	blk_req_advance(&r, -EINTR);
	blk_req_advance(&r, -EAGAIN);
	ok(blk_req_step(io, &r, &s) && s.iov[0].iov_base == m + 350 && s.off == 1350,
	   "steps: -EINTR, -EAGAIN: same step again");
	blk_req_advance(&r, 250);
	ok(!blk_req_step(io, &r, &s) && r.result == 0, "steps: done, result 0");
	blk_req_advance(&r, -EIO);
	is_int(r.result, 0, "steps: a finished request ignores late results");

	req_init(&r, BLK_IO_WRITE, 3, 0, iov, 3);
	r.priv.total = 600;
	blk_req_step(io, &r, &s);
	blk_req_advance(&r, 300);
	blk_req_advance(&r, 0);
	ok(!blk_req_step(io, &r, &s) && r.result == -EIO, "steps: 0 bytes moved: -EIO");
	req_init(&r, BLK_IO_WRITE, 3, 0, iov, 3);
	r.priv.total = 600;
	for (int i = 0; i < 100 && blk_req_step(io, &r, &s); i++)
		blk_req_advance(&r, -EAGAIN);
	is_int(r.result, -EAGAIN, "steps: endless -EAGAIN gives up with -EAGAIN");
	req_init(&r, BLK_IO_READ, 3, 0, iov, 0);
	ok(!blk_req_step(io, &r, &s) && r.result == 0, "steps: empty read: no call, 0");

	req_init(&r, BLK_IO_WRITE_ZEROES, 3, 4096, NULL, 0);
	r.len = 3 * BLK_ZERO_CHUNK + 512;
	ok(blk_req_step(io, &r, &s) && s.sys == BLK_SYS_FALLOCATE &&
	   s.mode == (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE) && s.off == 4096 &&
	   s.len == r.len, "steps: write-zeroes: ZERO_RANGE first");
	blk_req_advance(&r, -EOPNOTSUPP);
	ok(blk_req_step(io, &r, &s) && s.sys == BLK_SYS_FALLOCATE &&
	   s.mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE),
	   "steps:   unsupported: PUNCH_HOLE");
	blk_req_advance(&r, -EOPNOTSUPP);
	/* the first chunk goes short (1000 bytes), the rest follows */
	fine = true;
	done = 0;
	for (int i = 0; i < 10 && blk_req_step(io, &r, &s); i++) {
		uint64_t left = r.len - done;
		uint64_t want = left < BLK_ZERO_CHUNK ? left : BLK_ZERO_CHUNK;

		if (s.sys != BLK_SYS_PWRITEV || s.iovcnt != 1 ||
		    s.iov[0].iov_base != io->zeroes || s.iov[0].iov_len != want ||
		    s.off != 4096 + done)
			fine = false;
		blk_req_advance(&r, i == 0 ? 1000 : (long)want);
		done += i == 0 ? 1000 : want;
	}
	ok(fine && done == r.len, "steps:   unsupported too: zeroes written in chunks");
	ok(!blk_req_step(io, &r, &s) && r.result == 0, "steps:   done, result 0");

	req_init(&r, BLK_IO_WRITE_ZEROES, 3, 0, NULL, 0);
	r.len = 4096;
	r.unmap = true;
	ok(blk_req_step(io, &r, &s) &&
	   s.mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE),
	   "steps: write-zeroes with unmap: PUNCH_HOLE first");
	blk_req_advance(&r, -EOPNOTSUPP);
	ok(blk_req_step(io, &r, &s) &&
	   s.mode == (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE),
	   "steps:   then ZERO_RANGE");
	blk_req_advance(&r, 0);
	ok(!blk_req_step(io, &r, &s) && r.result == 0, "steps:   which works: 0");
	req_init(&r, BLK_IO_WRITE_ZEROES, 3, 0, NULL, 0);
	r.len = 4096;
	blk_req_step(io, &r, &s);
	blk_req_advance(&r, -ENOSPC);
	ok(!blk_req_step(io, &r, &s) && r.result == -ENOSPC,
	   "steps: write-zeroes: a real error is not papered over");
	req_init(&r, BLK_IO_FLUSH, 3, 0, NULL, 0);
	ok(blk_req_step(io, &r, &s) && s.sys == BLK_SYS_FDATASYNC, "steps: flush");
	blk_req_advance(&r, -EIO);
	ok(!blk_req_step(io, &r, &s) && r.result == -EIO, "steps:   its error");
	req_init(&r, BLK_IO_DISCARD, 3, 0, NULL, 0);
	ok(!blk_req_step(io, &r, &s) && r.result == 0, "steps: empty discard: no call");
	blk_io_destroy(io);
}

static int quiet_stderr(void)
{
	int saved = dup(2), nul = open("/dev/null", O_WRONLY);

	fflush(stderr);
	if (nul >= 0) {
		dup2(nul, 2);
		close(nul);
	}
	return saved;
}

static void restore_stderr(int saved)
{
	if (saved >= 0) {
		dup2(saved, 2);
		close(saved);
	}
}

static void test_create(void)
{
	struct blk_io *io = (struct blk_io *)&io;
	int ret, saved;

	is_int(blk_io_create(&io, BLK_IO_THREADS, 0, false), -EINVAL, "depth 0: -EINVAL");
	ok(io == NULL, "  *out cleared");
	is_int(blk_io_create(&io, BLK_IO_THREADS, BLK_IO_MAX_DEPTH + 1, false), -EINVAL,
	       "depth too big: -EINVAL");
	is_int(blk_io_create(&io, (enum blk_io_kind)7, 1, false), -EINVAL, "bad kind");
	is_str(blk_io_kind_name(BLK_IO_URING), "io_uring", "name of io_uring");
	is_str(blk_io_kind_name(BLK_IO_THREADS), "threads", "name of threads");

	setenv("NKVM_BLK_IO", "threads", 1);
	ret = blk_io_create(&io, BLK_IO_AUTO, 4, false);
	ok(ret == 0 && blk_io_kind(io) == BLK_IO_THREADS, "NKVM_BLK_IO=threads: threads");
	blk_io_destroy(io);
	setenv("NKVM_BLK_IO", "uring", 1);
	ret = blk_io_create(&io, BLK_IO_THREADS, 4, false);
	ok(ret == 0 && blk_io_kind(io) == BLK_IO_THREADS,
	   "an explicit kind wins over NKVM_BLK_IO");
	blk_io_destroy(io);
	ret = blk_io_create(&io, BLK_IO_AUTO, 4, false);
	if (ret == 0)
		ok(blk_io_kind(io) == BLK_IO_URING, "NKVM_BLK_IO=uring: io_uring");
	else
		printf("ok %d # skip io_uring unavailable\n", ++tap_n);
	blk_io_destroy(io);
	setenv("NKVM_BLK_IO", "fast", 1);
	saved = quiet_stderr(); /* the expected error message */
	ret = blk_io_create(&io, BLK_IO_AUTO, 4, false);
	restore_stderr(saved);
	is_int(ret, -EINVAL, "NKVM_BLK_IO=fast: -EINVAL");
	unsetenv("NKVM_BLK_IO");
	ret = blk_io_create(&io, BLK_IO_AUTO, 1, false);
	ok(ret == 0 && (blk_io_kind(io) == BLK_IO_URING || blk_io_kind(io) == BLK_IO_THREADS),
	   "auto picks one (%s)", ret ? "-" : blk_io_kind_name(blk_io_kind(io)));
	blk_io_destroy(io);
	blk_io_destroy(NULL);
	ok(1, "destroy(NULL) is harmless");
}

/* In a child whose seccomp filter makes io_uring_setup fail with EPERM (as
 * container runtimes do): BLK_IO_URING fails, AUTO falls back to threads
 * and works. The child reports one bit per check. */
static void test_seccomp_fallback(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	int status = -1;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct blk_io *io;
		uint8_t buf[512] = { 1 };
		int bits = 0, fd;

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
			_exit(64);
		if (blk_io_create(&io, BLK_IO_URING, 4, false) == -EPERM)
			bits |= 1;
		if (blk_io_create(&io, BLK_IO_AUTO, 4, false) == 0) {
			if (blk_io_kind(io) == BLK_IO_THREADS)
				bits |= 2;
			fd = scratch(4096);
			if (fd >= 0 && rw1(io, BLK_IO_WRITE, fd, 0, buf, 512) == 0 &&
			    rw1(io, BLK_IO_READ, fd, 0, buf, 512) == 0 && buf[0] == 1)
				bits |= 4;
			blk_io_destroy(io);
		}
		_exit(bits);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) == 64) {
		printf("ok %d # skip cannot install a seccomp filter\n", ++tap_n);
		return;
	}
	ok(WEXITSTATUS(status) & 1, "seccomp: io_uring_setup EPERM: BLK_IO_URING -EPERM");
	ok(WEXITSTATUS(status) & 2, "seccomp: AUTO falls back to threads");
	ok(WEXITSTATUS(status) & 4, "seccomp:   which do I/O");
}

int main(void)
{
	dir = access("/var/tmp", W_OK) == 0 ? "/var/tmp" : ".";
	test_create();
	test_steps();
	test_seccomp_fallback();
	run_kind(BLK_IO_THREADS);
	run_kind(BLK_IO_URING);
	return done_testing();
}
