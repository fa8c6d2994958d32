/* virtio-blk: the request parser on hand-built chains (header and status
 * placement, ranges, read-only, flush, GET_ID, discard/write-zeroes, odd
 * types, malformed chains, 4 KiB logical blocks, segment limits), then the
 * whole device on a temp file through virtio-mmio with both I/O engines:
 * write/flush/read, past the end, GET_ID, discard, write-zeroes, several
 * requests in flight, read-only, host errors, config space, features and a
 * reset with I/O in flight. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nkvm/blk_io.h"
#include "nkvm/log.h"
#include "nkvm/virtio.h"
#include "nkvm/virtio_blk.h"
#include "nkvm/virtio_mmio.h"
#include "nkvm/virtq.h"
#include "tap.h"
#include "vq_driver.h"

#define OK_    VIRTIO_BLK_S_OK
#define IOERR  VIRTIO_BLK_S_IOERR
#define UNSUPP VIRTIO_BLK_S_UNSUPP
#define CAP    2048ULL /* sectors of the parser's disk and the test file */

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* struct virtio_blk_req header; the reserved word is ignored. */
static void mkhdr(uint8_t *h, uint32_t type, uint64_t sector)
{
	put32(h, type);
	put32(h + 4, 0xdeadbeef);
	put64(h + 8, sector);
}

/* struct virtio_blk_discard_write_zeroes */
static void mkseg(uint8_t *s, uint64_t sector, uint32_t num, uint32_t flags)
{
	put64(s, sector);
	put32(s + 8, num);
	put32(s + 12, flags);
}

/* =========================== the parser =========================== */

static uint8_t pb[0x10000];
static struct vq_chain ch;
static struct blk_req req;
static const struct blk_limits lim_rw = { CAP, false, true, true, 512 };
static const struct blk_limits lim_ro = { CAP, true, true, true, 512 };

static void ch_reset(uint16_t head)
{
	memset(&ch, 0, sizeof(ch));
	ch.head = head;
}

static void ch_add(uint8_t *p, size_t len, bool writable)
{
	unsigned i = ch.nr_out + ch.nr_in;

	if (i >= VQ_MAX_SEGS || (!writable && ch.nr_in)) {
		diag("bad test chain");
		return;
	}
	ch.iov[i].iov_base = p;
	ch.iov[i].iov_len = len;
	if (writable) {
		ch.nr_in++;
		ch.in_len += len;
	} else {
		ch.nr_out++;
		ch.out_len += len;
	}
}

static int parse(const struct blk_limits *lim, const char *serial)
{
	memset(&req, 0xcc, sizeof(req));
	return blk_req_parse(lim, serial, &ch, &req);
}

/* A parse that must produce a final status without I/O. */
static void expect_final(const struct blk_limits *lim, uint8_t status,
			 uint32_t written, const char *what)
{
	int r = parse(lim, "sn");

	ok(r == 0 && req.status == status && !req.submit && req.written == written,
	   "%s -> status %u, no I/O, written %u", what, status, written);
	if (r || req.status != status || req.submit || req.written != written)
		diag("  got ret %d status %u submit %d written %u", r, req.status,
		     req.submit, req.written);
}

/* A parse that must submit op; checks status OK and the written length. */
static bool expect_submit(const struct blk_limits *lim, enum blk_io_op op,
			  uint32_t written, const char *what)
{
	int r = parse(lim, "sn");
	bool good = r == 0 && req.status == OK_ && req.submit && req.io.op == op &&
		    req.written == written;

	ok(good, "%s -> submit op %d, written %u", what, op, written);
	if (!good)
		diag("  got ret %d status %u submit %d op %d written %u", r,
		     req.status, req.submit, req.io.op, req.written);
	return good;
}

/* hdr, then data (readable for OUT, writable for IN), then a status byte. */
static void simple(uint32_t type, uint64_t sector, size_t data)
{
	ch_reset(1);
	mkhdr(pb, type, sector);
	ch_add(pb, 16, false);
	if (data)
		ch_add(pb + 0x1000, data, type != VIRTIO_BLK_T_OUT);
	ch_add(pb + 0x100, 1, true);
}

static void test_parse_rw(void)
{
	uint8_t h[16];

	simple(VIRTIO_BLK_T_IN, 10, 1024);
	ch.head = 7;
	ch.iov[1].iov_base = pb + 0x100;
	ch.iov[2].iov_base = pb + 0x800;
	if (expect_submit(&lim_rw, BLK_IO_READ, 1025, "IN 1024 bytes, 3 iovecs")) {
		ok(req.io.offset == 5120 && req.io.iovcnt == 1 && req.io.iov == req.iov,
		   "  offset 5120, one data iovec");
		ok(req.iov[0].iov_base == pb + 0x100 && req.iov[0].iov_len == 1024,
		   "  data iovec is the guest buffer");
		ok(req.status_ptr == pb + 0x800, "  status_ptr the status byte");
		ok(req.head == 7 && req.type == VIRTIO_BLK_T_IN, "  head 7, type IN");
	}

	/* header 4 + 12, data 100 + 412 + 512, status sharing the last */
	mkhdr(h, VIRTIO_BLK_T_IN, 3);
	memcpy(pb, h, 4);
	memcpy(pb + 0x40, h + 4, 12);
	ch_reset(2);
	ch_add(pb, 4, false);
	ch_add(pb + 0x40, 12, false);
	ch_add(pb + 0x100, 100, true);
	ch_add(pb + 0x200, 412, true);
	ch_add(pb + 0x400, 513, true);
	if (expect_submit(&lim_rw, BLK_IO_READ, 1025, "IN, header 4+12, data 100+412+512+status")) {
		ok(req.io.offset == 1536 && req.io.iovcnt == 3, "  offset 1536, 3 iovecs");
		ok(req.iov[0].iov_base == pb + 0x100 && req.iov[0].iov_len == 100 &&
		   req.iov[1].iov_base == pb + 0x200 && req.iov[1].iov_len == 412 &&
		   req.iov[2].iov_base == pb + 0x400 && req.iov[2].iov_len == 512,
		   "  iovecs exclude the status byte");
		ok(req.status_ptr == pb + 0x400 + 512, "  status_ptr the last byte of the last iovec");
	}

	/* header 1 + 1 + 14, data 256 + 256 */
	mkhdr(h, VIRTIO_BLK_T_OUT, 0);
	pb[0] = h[0];
	pb[0x10] = h[1];
	memcpy(pb + 0x20, h + 2, 14);
	ch_reset(3);
	ch_add(pb, 1, false);
	ch_add(pb + 0x10, 1, false);
	ch_add(pb + 0x20, 14, false);
	ch_add(pb + 0x100, 256, false);
	ch_add(pb + 0x300, 256, false);
	ch_add(pb + 0x800, 1, true);
	if (expect_submit(&lim_rw, BLK_IO_WRITE, 1, "OUT, header 1+1+14, data 256+256")) {
		ok(req.io.offset == 0 && req.io.iovcnt == 2 &&
		   req.iov[0].iov_base == pb + 0x100 && req.iov[0].iov_len == 256 &&
		   req.iov[1].iov_base == pb + 0x300 && req.iov[1].iov_len == 256,
		   "  two data iovecs");
		ok(req.status_ptr == pb + 0x800, "  status_ptr");
	}

	/* header and data in one buffer */
	ch_reset(4);
	mkhdr(pb, VIRTIO_BLK_T_OUT, 2040);
	ch_add(pb, 16 + 1024, false);
	ch_add(pb + 0x800, 1, true);
	if (expect_submit(&lim_rw, BLK_IO_WRITE, 1, "OUT, header and data in one buffer"))
		ok(req.io.iovcnt == 1 && req.iov[0].iov_base == pb + 16 &&
		   req.iov[0].iov_len == 1024 && req.io.offset == 2040 * 512,
		   "  data iovec starts 16 bytes in");

	/* data starting inside the second header buffer */
	mkhdr(h, VIRTIO_BLK_T_OUT, 1);
	memcpy(pb, h, 8);
	memcpy(pb + 0x100, h + 8, 8);
	ch_reset(5);
	ch_add(pb, 8, false);
	ch_add(pb + 0x100, 8 + 512, false);
	ch_add(pb + 0x800, 4, true);
	if (expect_submit(&lim_rw, BLK_IO_WRITE, 1, "OUT, header 8 + (8 + 512 data)")) {
		ok(req.io.iovcnt == 1 && req.iov[0].iov_base == pb + 0x108 &&
		   req.iov[0].iov_len == 512 && req.io.offset == 512, "  data iovec at 8 bytes in");
		ok(req.status_ptr == pb + 0x803, "  status_ptr the last of 4 writable bytes");
	}

	simple(VIRTIO_BLK_T_IN, 0, 0);
	expect_final(&lim_rw, OK_, 1, "IN without data");
	simple(VIRTIO_BLK_T_OUT, 0, 0);
	expect_final(&lim_rw, OK_, 1, "OUT without data");
}

static void test_parse_range(void)
{
	simple(VIRTIO_BLK_T_IN, CAP, 512);
	expect_final(&lim_rw, IOERR, 1, "IN at sector = capacity");
	simple(VIRTIO_BLK_T_IN, CAP - 1, 1024);
	expect_final(&lim_rw, IOERR, 1, "IN of 2 sectors at capacity - 1");
	simple(VIRTIO_BLK_T_IN, CAP - 1, 512);
	expect_submit(&lim_rw, BLK_IO_READ, 513, "IN of the last sector");
	simple(VIRTIO_BLK_T_OUT, CAP - 8, 4096);
	expect_submit(&lim_rw, BLK_IO_WRITE, 1, "OUT of the last 8 sectors");
	simple(VIRTIO_BLK_T_OUT, CAP - 7, 4096);
	expect_final(&lim_rw, IOERR, 1, "OUT of 8 sectors at capacity - 7");
	simple(VIRTIO_BLK_T_IN, UINT64_MAX, 512);
	expect_final(&lim_rw, IOERR, 1, "IN at sector 2^64-1");
	simple(VIRTIO_BLK_T_OUT, UINT64_MAX - 1, 1024);
	expect_final(&lim_rw, IOERR, 1, "OUT at 2^64-2, 2 sectors (sector + n wraps to 0)");
	simple(VIRTIO_BLK_T_IN, 1ULL << 55, 512);
	expect_final(&lim_rw, IOERR, 1, "IN at 2^55 (byte offset wraps to 0)");
	simple(VIRTIO_BLK_T_IN, 0, 100);
	expect_final(&lim_rw, IOERR, 1, "IN of 100 bytes");
	simple(VIRTIO_BLK_T_OUT, 0, 513);
	expect_final(&lim_rw, IOERR, 1, "OUT of 513 bytes");
	simple(VIRTIO_BLK_T_IN, 0, 511);
	expect_final(&lim_rw, IOERR, 1, "IN of 511 bytes");
	simple(VIRTIO_BLK_T_OUT, 0, 512);
	expect_final(&lim_ro, IOERR, 1, "OUT on a read-only disk");
	simple(VIRTIO_BLK_T_IN, 0, 512);
	expect_submit(&lim_ro, BLK_IO_READ, 513, "IN on a read-only disk");
}

static void test_parse_flush(void)
{
	simple(VIRTIO_BLK_T_FLUSH, 0, 0);
	expect_submit(&lim_rw, BLK_IO_FLUSH, 1, "FLUSH");
	simple(VIRTIO_BLK_T_FLUSH, 0, 0);
	expect_final(&lim_ro, OK_, 1, "FLUSH on a read-only disk: OK at once");
}

/* GET_ID into `room` writable bytes (status included) in one buffer. */
static int get_id(const char *serial, size_t room)
{
	ch_reset(9);
	mkhdr(pb, VIRTIO_BLK_T_GET_ID, 0);
	ch_add(pb, 16, false);
	memset(pb + 0x100, 0xee, 64);
	ch_add(pb + 0x100, room, true);
	return parse(&lim_rw, serial);
}

static void test_parse_getid(void)
{
	static const uint8_t want_abc[20] = "abc";
	uint8_t *id = pb + 0x100;

	ok(get_id("abc", 21) == 0 && req.status == OK_ && !req.submit && req.written == 21,
	   "GET_ID short serial: OK, no I/O, written 21");
	ok(memcmp(id, want_abc, 20) == 0, "  \"abc\" NUL-padded to 20 bytes");
	ok(id[20] == 0xee && req.status_ptr == id + 20, "  status byte not written by the parser");

	ok(get_id("ABCDEFGHIJKLMNOPQRST", 21) == 0 && req.written == 21 &&
	   memcmp(id, "ABCDEFGHIJKLMNOPQRST", 20) == 0 && id[20] == 0xee,
	   "GET_ID exactly 20 chars: no NUL");
	ok(get_id("ABCDEFGHIJKLMNOPQRSTUVWXY", 21) == 0 && req.written == 21 &&
	   memcmp(id, "ABCDEFGHIJKLMNOPQRST", 20) == 0 && id[20] == 0xee,
	   "GET_ID 25-char serial: first 20");
	ok(get_id("ABCDEFGHIJ", 9) == 0 && req.written == 9 && req.status == OK_ &&
	   memcmp(id, "ABCDEFGH", 8) == 0 && id[8] == 0xee,
	   "GET_ID into 8 bytes: truncated, written 9");
	ok(get_id("abc", 33) == 0 && req.written == 21 && memcmp(id, want_abc, 20) == 0 &&
	   all_byte(id + 20, 0xee, 13), "GET_ID into 32 bytes: 20 written, rest untouched");
	ok(get_id("abc", 1) == 0 && req.written == 1 && req.status == OK_ && id[0] == 0xee,
	   "GET_ID with only the status byte: written 1");
	ok(get_id(NULL, 21) == 0 && req.written == 21 && all_byte(id, 0, 20),
	   "GET_ID without a serial: 20 zeroes");

	ch_reset(9);
	ch_add(pb, 16, false);
	memset(pb + 0x100, 0xee, 64);
	ch_add(pb + 0x100, 10, true);
	ch_add(pb + 0x200, 11, true);
	memset(pb + 0x200, 0xee, 16);
	ok(parse(&lim_rw, "0123456789abcdef") == 0 && req.written == 21 &&
	   memcmp(pb + 0x100, "0123456789", 10) == 0 && memcmp(pb + 0x200, "abcdef", 6) == 0 &&
	   all_byte(pb + 0x206, 0, 4) && pb[0x20a] == 0xee,
	   "GET_ID across two buffers (10 + 10 + status)");
}

/* DISCARD / WRITE_ZEROES with `seglen` bytes of segment payload. */
static void dwz(uint32_t type, uint64_t sector, uint32_t num, uint32_t flags,
		size_t seglen)
{
	ch_reset(11);
	mkhdr(pb, type, 0);
	ch_add(pb, 16, false);
	mkseg(pb + 0x20, sector, num, flags);
	mkseg(pb + 0x30, sector + num, num, flags);
	ch_add(pb + 0x20, seglen, false);
	ch_add(pb + 0x80, 1, true);
}

static void test_parse_dwz(void)
{
	struct blk_limits l = lim_rw;
	const uint32_t D = VIRTIO_BLK_T_DISCARD, Z = VIRTIO_BLK_T_WRITE_ZEROES;

	dwz(D, 8, 16, 0, 16);
	if (expect_submit(&l, BLK_IO_DISCARD, 1, "DISCARD 16 sectors at 8"))
		ok(req.io.offset == 4096 && req.io.len == 8192 && !req.io.unmap,
		   "  offset 4096, len 8192");
	dwz(Z, 8, 16, 0, 16);
	if (expect_submit(&l, BLK_IO_WRITE_ZEROES, 1, "WRITE_ZEROES"))
		ok(req.io.offset == 4096 && req.io.len == 8192 && !req.io.unmap,
		   "  offset, len, no unmap");
	dwz(Z, 0, 1, 1, 16);
	if (expect_submit(&l, BLK_IO_WRITE_ZEROES, 1, "WRITE_ZEROES with unmap"))
		ok(req.io.unmap && req.io.len == 512, "  unmap set");
	dwz(Z, 0, 1, 2, 16);
	expect_final(&l, UNSUPP, 1, "WRITE_ZEROES reserved flag bit 1");
	dwz(Z, 0, 1, 0x80000001, 16);
	expect_final(&l, UNSUPP, 1, "WRITE_ZEROES reserved flag bit 31");
	dwz(D, 0, 1, 1, 16);
	expect_final(&l, UNSUPP, 1, "DISCARD with the unmap flag");
	dwz(D, 0, 1, 0, 32);
	expect_final(&l, UNSUPP, 1, "DISCARD with two segments");
	dwz(Z, 0, 1, 0, 32);
	expect_final(&l, UNSUPP, 1, "WRITE_ZEROES with two segments");
	dwz(D, 0, 1, 0, 8);
	expect_final(&l, UNSUPP, 1, "DISCARD with a half segment");
	dwz(D, 0, 0, 0, 16);
	expect_final(&l, OK_, 1, "DISCARD of 0 sectors: OK, nothing to do");
	dwz(D, CAP - 16, 16, 0, 16);
	expect_submit(&l, BLK_IO_DISCARD, 1, "DISCARD of the last 16 sectors");
	dwz(D, CAP - 8, 16, 0, 16);
	expect_final(&l, IOERR, 1, "DISCARD past the end");
	dwz(Z, UINT64_MAX, 1, 0, 16);
	expect_final(&l, IOERR, 1, "WRITE_ZEROES at sector 2^64-1");

	/* header and segment in one buffer */
	ch_reset(12);
	mkhdr(pb, D, 0);
	mkseg(pb + 16, 4, 4, 0);
	ch_add(pb, 32, false);
	ch_add(pb + 0x80, 1, true);
	if (expect_submit(&l, BLK_IO_DISCARD, 1, "DISCARD, header and segment in one buffer"))
		ok(req.io.offset == 2048 && req.io.len == 2048, "  offset and len");

	l.capacity = 1ULL << 32;
	dwz(D, 0, VIRTIO_BLK_MAX_DISCARD_SECTORS, 0, 16);
	expect_submit(&l, BLK_IO_DISCARD, 1, "DISCARD of max_discard_sectors");
	dwz(D, 0, VIRTIO_BLK_MAX_DISCARD_SECTORS + 1, 0, 16);
	expect_final(&l, IOERR, 1, "DISCARD of max_discard_sectors + 1");
	dwz(Z, 0, VIRTIO_BLK_MAX_DISCARD_SECTORS + 1, 0, 16);
	expect_final(&l, IOERR, 1, "WRITE_ZEROES of max + 1");

	l = lim_rw;
	l.discard = false;
	dwz(D, 0, 1, 0, 16);
	expect_final(&l, UNSUPP, 1, "DISCARD when not supported");
	dwz(Z, 0, 1, 0, 16);
	expect_submit(&l, BLK_IO_WRITE_ZEROES, 1, "  WRITE_ZEROES still is");
	l = lim_rw;
	l.write_zeroes = false;
	dwz(Z, 0, 1, 0, 16);
	expect_final(&l, UNSUPP, 1, "WRITE_ZEROES when not supported");
	dwz(D, 0, 1, 0, 16);
	expect_final(&lim_ro, IOERR, 1, "DISCARD on a read-only disk");
	dwz(Z, 0, 1, 0, 16);
	expect_final(&lim_ro, IOERR, 1, "WRITE_ZEROES on a read-only disk");
}

static void test_parse_other(void)
{
	struct blk_limits l4k = { CAP, false, true, true, 4096 };
	int r;

	simple(99, 0, 0);
	expect_final(&lim_rw, UNSUPP, 1, "type 99");
	simple(10, 0, 0);
	expect_final(&lim_rw, UNSUPP, 1, "GET_LIFETIME (10)");
	simple(0x80000000u, 0, 512);
	expect_final(&lim_rw, UNSUPP, 1, "type 0x80000000 with data");

	ch_reset(1);
	mkhdr(pb, VIRTIO_BLK_T_OUT, 0);
	ch_add(pb, 16 + 512, false);
	is_int(parse(&lim_rw, NULL), -EINVAL, "no writable byte -> -EINVAL");
	ch_reset(1);
	mkhdr(pb, VIRTIO_BLK_T_IN, 0);
	ch_add(pb, 15, false);
	ch_add(pb + 0x100, 513, true);
	is_int(parse(&lim_rw, NULL), -EINVAL, "15-byte header -> -EINVAL");
	ch_reset(1);
	ch_add(pb, 8, false);
	ch_add(pb + 8, 8, true);
	ch_add(pb + 0x100, 1, true);
	is_int(parse(&lim_rw, NULL), -EINVAL, "header half readable, half writable -> -EINVAL");
	ch_reset(1);
	ch_add(pb + 0x100, 17, true);
	is_int(parse(&lim_rw, NULL), -EINVAL, "nothing readable -> -EINVAL");

	/* 4 KiB logical blocks */
	simple(VIRTIO_BLK_T_IN, 3, 4096);
	expect_final(&l4k, IOERR, 1, "4K blocks: IN at sector 3");
	simple(VIRTIO_BLK_T_IN, 8, 4096);
	expect_submit(&l4k, BLK_IO_READ, 4097, "4K blocks: IN at sector 8");
	simple(VIRTIO_BLK_T_OUT, 8, 512);
	expect_final(&l4k, IOERR, 1, "4K blocks: OUT of 512 bytes");
	simple(VIRTIO_BLK_T_OUT, CAP - 8, 4096);
	expect_submit(&l4k, BLK_IO_WRITE, 1, "4K blocks: the last block");
	simple(VIRTIO_BLK_T_OUT, CAP, 4096);
	expect_final(&l4k, IOERR, 1, "4K blocks: past the end");
	dwz(VIRTIO_BLK_T_DISCARD, 4, 8, 0, 16);
	expect_final(&l4k, IOERR, 1, "4K blocks: DISCARD at sector 4");
	dwz(VIRTIO_BLK_T_DISCARD, 8, 4, 0, 16);
	expect_final(&l4k, IOERR, 1, "4K blocks: DISCARD of 4 sectors");
	dwz(VIRTIO_BLK_T_WRITE_ZEROES, 8, 16, 0, 16);
	expect_submit(&l4k, BLK_IO_WRITE_ZEROES, 1, "4K blocks: WRITE_ZEROES of 2 blocks");

	/* data segments: VIRTIO_BLK_SEG_MAX at most */
	ch_reset(1);
	mkhdr(pb, VIRTIO_BLK_T_IN, 0);
	ch_add(pb, 16, false);
	for (unsigned i = 0; i < VIRTIO_BLK_SEG_MAX; i++)
		ch_add(pb + 0x1000, 512, true);
	ch_add(pb + 0x2000, 513, true);
	r = parse(&lim_rw, NULL);
	ok(r == 0 && req.status == IOERR && !req.submit,
	   "IN with %u data segments -> IOERR", VIRTIO_BLK_SEG_MAX + 1);
	ch_reset(1);
	ch_add(pb, 16, false);
	for (unsigned i = 0; i < VIRTIO_BLK_SEG_MAX - 1; i++)
		ch_add(pb + 0x1000, 512, true);
	ch_add(pb + 0x2000, 513, true);
	if (expect_submit(&lim_rw, BLK_IO_READ, VIRTIO_BLK_SEG_MAX * 512 + 1,
			  "IN with VIRTIO_BLK_SEG_MAX data segments"))
		ok(req.io.iovcnt == VIRTIO_BLK_SEG_MAX &&
		   req.iov[VIRTIO_BLK_SEG_MAX - 1].iov_base == pb + 0x2000 &&
		   req.iov[VIRTIO_BLK_SEG_MAX - 1].iov_len == 512, "  all of them");
}

/* ===================== the device, end to end ===================== */

#define RAM_SIZE  0x100000ULL
#define QSIZE     16
#define R_DESC    0x0000ULL
#define R_AVAIL   0x1000ULL
#define R_USED    0x2000ULL
#define R_HDR     0x3000ULL /* 16 bytes per slot */
#define R_STAT    0x3800ULL /* 1 byte per slot */
#define R_DATA    0x10000ULL /* 64 KiB per slot */
#define FILE_SIZE ((CAP * 512) + 100)

#define F(bit) (1ULL << (bit))

/* A virtio-blk device behind its transport, and the driver's ring. */
struct dev {
	struct virtio_blk b;
	struct virtio_mmio m;
	struct ring r;
};

static uint8_t fpat(uint64_t off, unsigned seed)
{
	return (uint8_t)(off * 7 + (off >> 9) * 13 + seed * 101 + 1);
}

static void fill(uint8_t *p, uint64_t off, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = fpat(off + i, seed);
}

static bool check(const uint8_t *p, uint64_t off, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != fpat(off + i, seed))
			return false;
	return true;
}

/* The file's bytes [off, off + n) are the seed pattern (or all `zero`s). */
static bool file_is(int fd, uint64_t off, size_t n, int seed)
{
	uint8_t *buf = malloc(n);
	bool good;

	if (!buf || pread(fd, buf, n, (off_t)off) != (ssize_t)n) {
		free(buf);
		return false;
	}
	good = seed < 0 ? all_byte(buf, 0, n) : check(buf, off, n, (unsigned)seed);
	free(buf);
	return good;
}

/* Driver: reset, negotiate, one queue of QSIZE on a cleared ring (and
 * cleared headers and status bytes), DRIVER_OK. The status read back. */
static uint32_t drv_setup(struct dev *d, uint64_t features)
{
	uint32_t st = drv_negotiate(&d->m, features);

	memset(ram, 0, R_DATA);
	ring_init(&d->r, R_DESC, R_AVAIL, R_USED, QSIZE);
	if (!(st & ST_FOK))
		return st;
	drv_queue_ring(&d->m, 0, &d->r);
	drv_ok(&d->m);
	return mmio_rd(&d->m, VIRTIO_MMIO_STATUS);
}

/* Used length of the newest used element for head, or -1. */
static long used_len_of(const struct dev *d, uint16_t head)
{
	uint16_t n = ring_used_idx(&d->r);

	for (uint16_t i = n; i != (uint16_t)(n - QSIZE) && i != 0; i--)
		if (ring_used_id(&d->r, i - 1) == head)
			return ring_used_len(&d->r, i - 1);
	return -1;
}

/* A request in slot k: header, one data buffer (if len), status byte. */
static uint16_t post_req(struct dev *d, unsigned k, uint32_t type, uint64_t sector,
			 uint64_t data, uint32_t len, bool w)
{
	struct ring_seg s[3];
	unsigned n = 0;

	mkhdr(ram + R_HDR + 16 * k, type, sector);
	ram[R_STAT + k] = 0xff;
	s[n++] = (struct ring_seg){ R_HDR + 16 * k, 16, false };
	if (len)
		s[n++] = (struct ring_seg){ data, len, w };
	s[n++] = (struct ring_seg){ R_STAT + k, 1, true };
	return ring_post(&d->r, s, n);
}

/* QueueNotify, the event loop's kick, then completions until the used
 * index reaches `want`. */
static void run(struct dev *d, uint16_t want)
{
	drv_kick(&d->m, 0);
	for (int i = 0; i < 1000 && ring_used_idx(&d->r) != want; i++) {
		pthread_mutex_lock(&d->b.dev.lock);
		virtio_blk_complete(&d->b, true);
		pthread_mutex_unlock(&d->b.dev.lock);
	}
	if (ring_used_idx(&d->r) != want)
		diag("used idx %u, want %u", ring_used_idx(&d->r), want);
}

/* One request in slot 0, run to completion: its status byte, *len its
 * used length. */
static int do_req(struct dev *d, uint32_t type, uint64_t sector, uint64_t data,
		  uint32_t len, bool w, long *ulen)
{
	uint16_t head = post_req(d, 0, type, sector, data, len, w);

	run(d, (uint16_t)(ring_used_idx(&d->r) + 1));
	*ulen = used_len_of(d, head);
	return ram[R_STAT];
}

/* The device on fd (`size` bytes, logical block lb, ro) with engine kind
 * behind a window at 0xd0000000, irq 5; false (and a failed check named
 * "<k>: <what>") when it does not come up. */
static bool dev_open(struct dev *d, int fd, uint64_t size, unsigned lb, bool ro,
		     enum blk_io_kind kind, const char *k, const char *what)
{
	struct virtio_blk_opts o = {
		.ro = ro, .serial = "nkvm-serial", .io_kind = kind,
	};

	memset(d, 0, sizeof(*d));
	if (virtio_blk_init(&d->b, &gm, NULL, "blk0", fd, size, lb, &o) < 0)
		goto fail;
	if (virtio_mmio_init(&d->m, &d->b.dev, 0xd0000000, 5) < 0) {
		virtio_blk_destroy(&d->b);
		goto fail;
	}
	return true;
fail:
	ok(0, "%s: %s", k, what);
	return false;
}

static void dev_close(struct dev *d)
{
	virtio_mmio_destroy(&d->m);
	virtio_blk_destroy(&d->b);
}

#define RW_FEATURES (F(VIRTIO_F_VERSION_1) | F(VIRTIO_BLK_F_FLUSH) | \
		     F(VIRTIO_BLK_F_DISCARD) | F(VIRTIO_BLK_F_WRITE_ZEROES) | \
		     F(VIRTIO_BLK_F_SEG_MAX) | F(VIRTIO_BLK_F_BLK_SIZE))

static void dev_rw(int fd, const char *k, enum blk_io_kind kind)
{
	static struct dev d;
	uint64_t D0 = R_DATA, D1 = R_DATA + 0x10000;
	uint32_t f0;
	uint8_t b1;
	uint16_t heads[4], u;
	long len;
	bool good;
	int st;

	if (!dev_open(&d, fd, FILE_SIZE, 512, false, kind, k, "rw device"))
		return;
	f0 = drv_device_features(&d.m, 0);
	ok((f0 & F(VIRTIO_BLK_F_FLUSH)) && (f0 & F(VIRTIO_BLK_F_DISCARD)) &&
	   (f0 & F(VIRTIO_BLK_F_WRITE_ZEROES)) && (f0 & F(VIRTIO_BLK_F_SEG_MAX)) &&
	   (f0 & F(VIRTIO_BLK_F_BLK_SIZE)) && !(f0 & F(VIRTIO_BLK_F_RO)) &&
	   !(f0 & F(VIRTIO_BLK_F_MQ)),
	   "%s: rw features FLUSH DISCARD WRITE_ZEROES SEG_MAX BLK_SIZE, no RO (0x%x)", k, f0);
	ok(mmio_rd(&d.m, VIRTIO_MMIO_CONFIG) == CAP && mmio_rd(&d.m, VIRTIO_MMIO_CONFIG + 4) == 0,
	   "%s: capacity in config = file size / 512 (%llu)", k, CAP);
	ok(mmio_rd(&d.m, VIRTIO_MMIO_CONFIG + 12) == VIRTIO_BLK_SEG_MAX &&
	   mmio_rd(&d.m, VIRTIO_MMIO_CONFIG + 20) == 512 &&
	   mmio_rd(&d.m, VIRTIO_MMIO_CONFIG + 36) == VIRTIO_BLK_MAX_DISCARD_SECTORS &&
	   mmio_rd(&d.m, VIRTIO_MMIO_CONFIG + 40) == 1,
	   "%s: seg_max, blk_size, max_discard_sectors, max_discard_seg", k);
	virtio_mmio_access(&d.m, VIRTIO_MMIO_CONFIG + 56, &b1, 1, false);
	is_int(b1, 1, "%s: write_zeroes_may_unmap", k);
	is_int(drv_setup(&d, RW_FEATURES), ST_ALL, "%s: driver set up", k);

	/* write 4 KiB at sector 8 from two buffers, flush, read back */
	fill(ram + D0, 4096, 1024, 1);
	fill(ram + D1, 4096 + 1024, 3072, 1);
	mkhdr(ram + R_HDR, VIRTIO_BLK_T_OUT, 8);
	ram[R_STAT] = 0xff;
	heads[0] = ring_post(&d.r, (struct ring_seg[]){ { R_HDR, 16, false },
							{ D0, 1024, false },
							{ D1, 3072, false },
							{ R_STAT, 1, true } }, 4);
	efd_take(d.m.irq_fd);
	run(&d, 1);
	ok(ram[R_STAT] == OK_ && used_len_of(&d, heads[0]) == 1,
	   "%s: OUT 4 KiB: OK, used len 1", k);
	ok(file_is(fd, 4096, 4096, 1), "%s:   the file holds the data", k);
	ok(file_is(fd, 0, 4096, 0) && file_is(fd, 8192, 4096, 0),
	   "%s:   and nothing around it changed", k);
	is_int(efd_take(d.m.irq_fd), 1, "%s:   interrupt", k);
	is_int(mmio_rd(&d.m, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_VRING, "%s:   ISR bit 0", k);
	mmio_wr(&d.m, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_VRING);

	st = do_req(&d, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, &len);
	ok(st == OK_ && len == 1 && d.b.flushes == 1, "%s: FLUSH: OK, used len 1", k);

	memset(ram + D0, 0, 0x10000);
	st = do_req(&d, VIRTIO_BLK_T_IN, 8, D0, 4096, true, &len);
	ok(st == OK_ && len == 4097, "%s: IN 4 KiB: OK, used len 4097", k);
	ok(check(ram + D0, 4096, 4096, 1), "%s:   data read back", k);
	st = do_req(&d, VIRTIO_BLK_T_IN, 0, D0, 1024, true, &len);
	ok(st == OK_ && len == 1025 && check(ram + D0, 0, 1024, 0),
	   "%s: IN of sectors 0-1: the original contents", k);
	st = do_req(&d, VIRTIO_BLK_T_IN, CAP - 1, D0, 512, true, &len);
	ok(st == OK_ && len == 513 && check(ram + D0, (CAP - 1) * 512, 512, 0),
	   "%s: IN of the last sector", k);

	memset(ram + D0, 0xee, 1024);
	st = do_req(&d, VIRTIO_BLK_T_IN, CAP, D0, 512, true, &len);
	ok(st == IOERR && len == 1 && all_byte(ram + D0, 0xee, 512),
	   "%s: IN at sector = capacity: IOERR, used len 1, buffer untouched", k);
	st = do_req(&d, VIRTIO_BLK_T_IN, CAP - 1, D0, 1024, true, &len);
	ok(st == IOERR && len == 1, "%s: IN across the end: IOERR", k);
	st = do_req(&d, VIRTIO_BLK_T_OUT, CAP, D0, 512, false, &len);
	ok(st == IOERR && len == 1 && file_is(fd, CAP * 512, 100, 0),
	   "%s: OUT past the end: IOERR, the partial tail untouched", k);

	memset(ram + D0, 0xee, 32);
	st = do_req(&d, VIRTIO_BLK_T_GET_ID, 0, D0, 20, true, &len);
	ok(st == OK_ && len == 21 && memcmp(ram + D0, "nkvm-serial\0\0\0\0\0\0\0\0\0", 20) == 0 &&
	   ram[D0 + 20] == 0xee, "%s: GET_ID: serial NUL-padded, used len 21", k);
	st = do_req(&d, 99, 0, 0, 0, false, &len);
	ok(st == UNSUPP && len == 1, "%s: type 99: UNSUPP", k);

	/* discard sectors 8-9, write-zeroes 12-13 and (unmap) 15 */
	mkseg(ram + D1, 8, 2, 0);
	st = do_req(&d, VIRTIO_BLK_T_DISCARD, 0, D1, 16, false, &len);
	ok(st == OK_ && len == 1, "%s: DISCARD: OK", k);
	ok(file_is(fd, 8 * 512, 1024, -1), "%s:   the range reads zeroes in the file", k);
	memset(ram + D0, 0xee, 1024);
	st = do_req(&d, VIRTIO_BLK_T_IN, 8, D0, 1024, true, &len);
	ok(st == OK_ && all_byte(ram + D0, 0, 1024), "%s:   and through the device", k);
	mkseg(ram + D1, 12, 2, 0);
	st = do_req(&d, VIRTIO_BLK_T_WRITE_ZEROES, 0, D1, 16, false, &len);
	ok(st == OK_ && len == 1 && file_is(fd, 12 * 512, 1024, -1),
	   "%s: WRITE_ZEROES: OK, zeroes in the file", k);
	mkseg(ram + D1, 15, 1, 1);
	st = do_req(&d, VIRTIO_BLK_T_WRITE_ZEROES, 0, D1, 16, false, &len);
	ok(st == OK_ && file_is(fd, 15 * 512, 512, -1), "%s: WRITE_ZEROES with unmap", k);
	ok(file_is(fd, 10 * 512, 1024, 1) && file_is(fd, 14 * 512, 512, 1) &&
	   file_is(fd, 16 * 512, 512, 0), "%s:   sectors around them keep their data", k);
	mkseg(ram + D1, 8, 2, 1);
	st = do_req(&d, VIRTIO_BLK_T_DISCARD, 0, D1, 16, false, &len);
	ok(st == UNSUPP && len == 1, "%s: DISCARD with unmap: UNSUPP", k);

	/* four writes in flight at once */
	u = ring_used_idx(&d.r);
	for (unsigned i = 0; i < 4; i++) {
		fill(ram + R_DATA + 0x10000 * i, 100 * 512 * (i + 1), 8192, 10 + i);
		heads[i] = post_req(&d, i, VIRTIO_BLK_T_OUT, 100 * (i + 1),
				    R_DATA + 0x10000 * i, 8192, false);
	}
	run(&d, (uint16_t)(u + 4));
	good = true;
	for (unsigned i = 0; i < 4; i++)
		good &= ram[R_STAT + i] == OK_ && used_len_of(&d, heads[i]) == 1 &&
			file_is(fd, 100 * 512 * (i + 1), 8192, 10 + (int)i);
	ok(good, "%s: 4 writes in flight: all OK and in the file", k);
	is_int(d.b.writes, 5, "%s: 5 writes counted", k);

	/* a malformed request: no status byte */
	mkhdr(ram + R_HDR, VIRTIO_BLK_T_IN, 0);
	ring_post(&d.r, (struct ring_seg[]){ { R_HDR, 16, false }, { D0, 512, false } }, 2);
	drv_kick(&d.m, 0);
	ok((mmio_rd(&d.m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET) &&
	   (mmio_rd(&d.m, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_INT_CONFIG),
	   "%s: request without a status byte: NEEDS_RESET, config interrupt", k);
	is_int(d.b.rejected, 1, "%s:   rejected counted", k);

	/* reset with requests in flight */
	is_int(drv_setup(&d, RW_FEATURES), ST_ALL, "%s: set up again after the reset", k);
	for (unsigned i = 0; i < 4; i++) {
		fill(ram + R_DATA + 0x10000 * i, 0, 0x10000, 20 + i);
		post_req(&d, i, i % 2 ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT, 512 + 128 * i,
			 R_DATA + 0x10000 * i, 0x10000, i % 2);
	}
	drv_kick(&d.m, 0);
	mmio_wr(&d.m, VIRTIO_MMIO_STATUS, 0);
	ok(mmio_rd(&d.m, VIRTIO_MMIO_STATUS) == 0 && blk_io_inflight(d.b.io) == 0,
	   "%s: status 0 with 4 requests in flight: reset, nothing in flight", k);
	is_int(ring_used_idx(&d.r), 0, "%s:   results dropped (used idx 0)", k);
	{
		unsigned nfree = 0;

		for (struct blk_req *r = d.b.free_reqs; r; r = r->next_free)
			nfree++;
		ok(nfree == d.b.nr_reqs && nfree >= 4, "%s:   all %u requests back on the free list",
		   k, d.b.nr_reqs);
	}
	is_int(drv_setup(&d, RW_FEATURES), ST_ALL, "%s: set up again", k);
	memset(ram + D0, 0, 4096);
	st = do_req(&d, VIRTIO_BLK_T_IN, 8, D0, 4096, true, &len);
	ok(st == OK_ && len == 4097 && all_byte(ram + D0, 0, 1024) &&
	   check(ram + D0 + 1024, 5 * 1024, 1024, 1),
	   "%s:   and reads work (discarded and written data)", k);
	dev_close(&d);
}

static void dev_ro(int fd, const char *k, enum blk_io_kind kind)
{
	static struct dev d;
	uint64_t D0 = R_DATA;
	uint32_t f0;
	long len;
	int st;

	if (!dev_open(&d, fd, FILE_SIZE, 512, true, kind, k, "ro device"))
		return;
	f0 = drv_device_features(&d.m, 0);
	ok((f0 & F(VIRTIO_BLK_F_RO)) && (f0 & F(VIRTIO_BLK_F_FLUSH)) &&
	   !(f0 & F(VIRTIO_BLK_F_DISCARD)) && !(f0 & F(VIRTIO_BLK_F_WRITE_ZEROES)),
	   "%s: ro features: RO, FLUSH, no DISCARD/WRITE_ZEROES (0x%x)", k, f0);
	ok(!(drv_setup(&d, RW_FEATURES) & VIRTIO_STATUS_FEATURES_OK),
	   "%s: driver accepting DISCARD on it: FEATURES_OK refused", k);
	is_int(drv_setup(&d, F(VIRTIO_F_VERSION_1) | F(VIRTIO_BLK_F_RO) | F(VIRTIO_BLK_F_FLUSH)),
	       ST_ALL, "%s: ro driver set up", k);
	fill(ram + D0, 0, 4096, 7);
	st = do_req(&d, VIRTIO_BLK_T_OUT, 0, D0, 4096, false, &len);
	ok(st == IOERR && len == 1, "%s: ro OUT: IOERR, used len 1", k);
	ok(file_is(fd, 0, 8192, 0), "%s:   file untouched", k);
	mkseg(ram + D0 + 0x8000, 0, 8, 0);
	st = do_req(&d, VIRTIO_BLK_T_WRITE_ZEROES, 0, D0 + 0x8000, 16, false, &len);
	ok(st == UNSUPP && file_is(fd, 0, 4096, 0), "%s: ro WRITE_ZEROES: UNSUPP, untouched", k);
	st = do_req(&d, VIRTIO_BLK_T_DISCARD, 0, D0 + 0x8000, 16, false, &len);
	ok(st == UNSUPP && file_is(fd, 0, 4096, 0), "%s: ro DISCARD: UNSUPP, untouched", k);
	st = do_req(&d, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, &len);
	ok(st == OK_ && len == 1, "%s: ro FLUSH: OK", k);
	memset(ram + D0, 0, 4096);
	st = do_req(&d, VIRTIO_BLK_T_IN, 2, D0, 2048, true, &len);
	ok(st == OK_ && len == 2049 && check(ram + D0, 1024, 2048, 0), "%s: ro IN works", k);
	is_int(d.b.writes, 0, "%s: no write reached the engine", k);
	dev_close(&d);
}

/* Host errors: the disk's fd is read-only while the device is not, and
 * the device is told the disk is larger than the file. */
static void dev_host_err(int fd, int rofd, const char *k, enum blk_io_kind kind)
{
	static struct dev d;
	uint64_t D0 = R_DATA;
	unsigned long errs;
	long len;
	int st;

	if (!dev_open(&d, rofd, 2 * FILE_SIZE, 512, false, kind, k,
		      "device on an O_RDONLY fd"))
		return;
	ok(mmio_rd(&d.m, VIRTIO_MMIO_CONFIG) == 2 * CAP, "%s: capacity from the size given", k);
	is_int(drv_setup(&d, RW_FEATURES), ST_ALL, "%s: driver set up", k);
	errs = d.b.errors;
	fill(ram + D0, 0, 4096, 8);
	st = do_req(&d, VIRTIO_BLK_T_OUT, 0, D0, 4096, false, &len);
	ok(st == IOERR && len == 1, "%s: write failing with EBADF: IOERR, used len 1", k);
	ok(file_is(fd, 0, 4096, 0), "%s:   file untouched", k);
	mkseg(ram + D0 + 0x8000, 0, 8, 0);
	st = do_req(&d, VIRTIO_BLK_T_WRITE_ZEROES, 0, D0 + 0x8000, 16, false, &len);
	ok(st == IOERR && file_is(fd, 0, 4096, 0), "%s: write-zeroes failing: IOERR", k);
	memset(ram + D0, 0xee, 4096);
	st = do_req(&d, VIRTIO_BLK_T_IN, CAP + 8, D0, 1024, true, &len);
	ok(st == IOERR && len == 1, "%s: read beyond the file's end: IOERR", k);
	memset(ram + D0, 0, 4096);
	st = do_req(&d, VIRTIO_BLK_T_IN, 0, D0, 4096, true, &len);
	ok(st == OK_ && len == 4097 && check(ram + D0, 0, 4096, 0), "%s: reads still work", k);
	is_int(d.b.errors - errs, 3, "%s: 3 errors counted", k);
	ok(!(mmio_rd(&d.m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET),
	   "%s: host errors do not break the device", k);
	dev_close(&d);
}

/* 4 KiB logical blocks: blk_size and capacity in config, a misaligned
 * request refused, an aligned one done. */
static void dev_4k(int fd, const char *k, enum blk_io_kind kind)
{
	static struct dev d;
	long len;
	int st;

	if (!dev_open(&d, fd, FILE_SIZE, 4096, false, kind, k, "4K device"))
		return;
	ok(mmio_rd(&d.m, VIRTIO_MMIO_CONFIG) == CAP &&
	   mmio_rd(&d.m, VIRTIO_MMIO_CONFIG + 20) == 4096 &&
	   mmio_rd(&d.m, VIRTIO_MMIO_CONFIG + 44) == 8,
	   "%s: 4K: capacity, blk_size 4096, discard_sector_alignment 8", k);
	is_int(drv_setup(&d, RW_FEATURES), ST_ALL, "%s: 4K driver set up", k);
	st = do_req(&d, VIRTIO_BLK_T_IN, 4, R_DATA, 4096, true, &len);
	ok(st == IOERR && len == 1, "%s: 4K: misaligned sector: IOERR", k);
	st = do_req(&d, VIRTIO_BLK_T_IN, 16, R_DATA, 4096, true, &len);
	ok(st == OK_ && len == 4097 && check(ram + R_DATA, 16 * 512, 4096, 0),
	   "%s: 4K: aligned read", k);
	dev_close(&d);
}

/* A media change (the API's PATCH /drives): a write in flight when the
 * image is swapped lands in the old one, then the guest sees the new
 * capacity through a config interrupt and reads the new image. */
static void dev_swap(int fd, const char *k, enum blk_io_kind kind)
{
	char path[] = "/tmp/nkvm-t_virtio_blk_swap.XXXXXX";
	static uint8_t buf[2 * CAP * 512];
	static struct dev d;
	uint32_t gen;
	uint16_t used;
	long len;
	int fd2, st;

	fd2 = mkstemp(path);
	if (fd2 < 0)
		return;
	unlink(path);
	fill(buf, 0, sizeof(buf), 3);
	if (pwrite(fd2, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf) ||
	    !dev_open(&d, fd, FILE_SIZE, 512, false, kind, k, "swap device")) {
		close(fd2);
		return;
	}
	is_int(drv_setup(&d, RW_FEATURES), ST_ALL, "%s: swap: driver set up", k);
	fill(ram + R_DATA, 1024, 512, 5);
	used = ring_used_idx(&d.r);
	post_req(&d, 0, VIRTIO_BLK_T_OUT, 2, R_DATA, 512, false);
	drv_kick(&d.m, 0);	/* submitted, not completed */
	efd_take(d.m.irq_fd);
	gen = mmio_rd(&d.m, VIRTIO_MMIO_CONFIG_GENERATION);
	is_int(virtio_blk_swap(&d.b, fd2, sizeof(buf), 512), 0, "%s: swap: accepted", k);
	ok(ring_used_idx(&d.r) == (uint16_t)(used + 1) && ram[R_STAT] == OK_,
	   "%s: swap: the write in flight completed first", k);
	ok(file_is(fd, 1024, 512, 5) && file_is(fd2, 1024, 512, 3),
	   "%s:   in the old image; the new one untouched", k);
	ok(mmio_rd(&d.m, VIRTIO_MMIO_CONFIG) == 2 * CAP, "%s:   capacity is the new image's", k);
	ok(mmio_rd(&d.m, VIRTIO_MMIO_CONFIG_GENERATION) != gen &&
	   (mmio_rd(&d.m, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_INT_CONFIG) &&
	   efd_take(d.m.irq_fd) >= 1, "%s:   config generation, ISR config bit, interrupt", k);
	st = do_req(&d, VIRTIO_BLK_T_IN, CAP + 1, R_DATA, 512, true, &len);
	ok(st == OK_ && len == 513 && check(ram + R_DATA, (CAP + 1) * 512, 512, 3),
	   "%s:   a read past the old end gets the new image's data", k);
	is_int(virtio_blk_swap(&d.b, fd, FILE_SIZE, 4096), -EINVAL,
	       "%s: swap to another logical block size refused", k);
	dev_close(&d);
	close(fd2);
}

static void run_kind(enum blk_io_kind kind, const char *k)
{
	char path[] = "/tmp/nkvm-t_virtio_blk.XXXXXX";
	static uint8_t buf[CAP * 512 + 100];
	int fd, rofd;
	struct blk_io *probe;

	if (blk_io_create(&probe, kind, 4, false) < 0) {
		printf("ok %d # skip %s engine unavailable here\n", ++tap_n, k);
		return;
	}
	blk_io_destroy(probe);
	fd = mkstemp(path);
	if (fd < 0) {
		ok(0, "mkstemp: %s", strerror(errno));
		return;
	}
	rofd = open(path, O_RDONLY | O_CLOEXEC);
	unlink(path);
	fill(buf, 0, sizeof(buf), 0);
	if (rofd < 0 || pwrite(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf)) {
		ok(0, "%s: test file", k);
		goto out;
	}
	dev_ro(fd, k, kind);
	dev_rw(fd, k, kind);
	dev_host_err(fd, rofd, k, kind);
	dev_4k(fd, k, kind);
	dev_swap(fd, k, kind);
out:
	if (rofd >= 0)
		close(rofd);
	close(fd);
}

static void test_init_args(void)
{
	static struct virtio_blk b;
	struct virtio_blk_opts o = { .io_kind = BLK_IO_THREADS };

	is_int(virtio_blk_init(&b, &gm, NULL, "blk", -1, 1 << 20, 1000, &o), -EINVAL,
	       "logical block 1000 refused");
	is_int(virtio_blk_init(&b, &gm, NULL, "blk", -1, 1 << 20, 256, &o), -EINVAL,
	       "logical block 256 refused");
	is_int(virtio_blk_init(&b, &gm, NULL, "blk", -1, 1 << 20, 131072, &o), -EINVAL,
	       "logical block 128 KiB refused");
	virtio_blk_destroy(&b); /* after a failed init: a no-op */
	ok(1, "destroy after a failed init");
}

int main(void)
{
	log_threshold = LOG_ERR;
	test_parse_rw();
	test_parse_range();
	test_parse_flush();
	test_parse_getid();
	test_parse_dwz();
	test_parse_other();

	if (ram_alloc(RAM_SIZE))
		return 1;
	test_init_args();
	run_kind(BLK_IO_THREADS, "threads");
	run_kind(BLK_IO_URING, "io_uring");
	ram_free();
	return done_testing();
}
