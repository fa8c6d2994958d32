/* Split virtqueue engine on a malloc'd guest RAM with hand-built rings:
 * well-formed chains, copies across segments, used ring order, index
 * wrap-around, interrupt suppression, every malformed ring we check, and
 * giving popped chains back (vq_unpop). */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "nkvm/log.h"
#include "nkvm/virtq.h"
#include "tap.h"
#include "vq_driver.h"

#define RAM_SIZE 0x10000ULL
#define DESC     0x0000ULL /* up to 1024 entries: 16 KiB */
#define AVAIL    0x4000ULL
#define USED     0x5000ULL
#define INDT     0x8000ULL /* indirect tables */
#define DATA     0xC000ULL

static struct ring ring; /* the driver's side of vq */
static struct virtq vq;
static struct vq_chain ch;

/* Clear RAM, then set vq up with `size` entries at DESC, AVAIL, USED and
 * place the driver's ring there too (not with ring_init: sizes that do not
 * fit in RAM are tried as well). */
static int setup(uint16_t size, bool indirect, bool event_idx)
{
	memset(ram, 0, RAM_SIZE);
	ring = (struct ring){ .desc = DESC, .avail = AVAIL, .used = USED,
			      .size = size };
	vq_init(&vq, "test");
	return vq_setup(&vq, &gm, size, DESC, AVAIL, USED, indirect, event_idx);
}

/* Steps that must work for a test to mean anything: report only failures. */
static void must_pop(void)
{
	int ret = vq_pop(&vq, &ch);

	if (ret)
		is_int(ret, 0, "vq_pop");
}

static void must_push(uint16_t head, uint32_t written)
{
	int ret = vq_push(&vq, head, written);

	if (ret)
		is_int(ret, 0, "vq_push(%u)", head);
}

/* The next pop must fail, the queue stay broken, and pop keep failing. */
static void expect_broken(const char *what)
{
	int ret = vq_pop(&vq, &ch);

	is_int(ret, -EIO, "%s -> -EIO", what);
	ok(vq.broken, "  queue marked broken");
	is_int(vq_pop(&vq, &ch), -EIO, "  pop keeps failing");
}

static void test_setup(void)
{
	is_int(setup(16, false, false), 0, "setup size 16");
	ok(vq.ready && vq.size == 16, "  ready");
	is_int(setup(1024, false, false), 0, "setup size 1024 (max)");
	is_int(setup(1, false, false), 0, "setup size 1");
	is_int(setup(0, false, false), -EINVAL, "size 0");
	ok(!vq.ready, "  not ready after failed setup");
	is_int(vq_pop(&vq, &ch), -EAGAIN, "  pop on a not-ready queue -> -EAGAIN");
	is_int(setup(3, false, false), -EINVAL, "size 3 not a power of two");
	is_int(setup(48, false, false), -EINVAL, "size 48 not a power of two");
	is_int(setup(2048, false, false), -EINVAL, "size 2048 > max");
	is_int(setup(32768, false, false), -EINVAL, "size 32768 > max");

	setup(16, false, false);
	is_int(vq_setup(&vq, &gm, 16, DESC + 8, AVAIL, USED, false, false),
	       -EINVAL, "desc 8-byte aligned");
	is_int(vq_setup(&vq, &gm, 16, DESC, AVAIL + 1, USED, false, false),
	       -EINVAL, "avail odd");
	is_int(vq_setup(&vq, &gm, 16, DESC, AVAIL, USED + 2, false, false),
	       -EINVAL, "used 2-byte aligned");
	is_int(vq_setup(&vq, &gm, 16, DESC, AVAIL + 2, USED + 4, false, false),
	       0, "avail 2-byte, used 4-byte aligned ok");
	is_int(vq_setup(&vq, &gm, 16, RAM_SIZE - 256, AVAIL, USED, false, false),
	       0, "desc table ending at the end of RAM");
	is_int(vq_setup(&vq, &gm, 16, RAM_SIZE - 240, AVAIL, USED, false, false),
	       -EINVAL, "desc table crossing the end of RAM");
	is_int(vq_setup(&vq, &gm, 16, RAM_SIZE, AVAIL, USED, false, false),
	       -EINVAL, "desc table outside RAM");
	is_int(vq_setup(&vq, &gm, 16, 0xFFFFFFFFFFFFFFF0ULL, AVAIL, USED, false,
			false), -EINVAL, "desc at 2^64-16 (wraps)");
	is_int(vq_setup(&vq, &gm, 16, DESC, RAM_SIZE - 36, USED, false, false),
	       0, "avail ring ending at the end of RAM");
	is_int(vq_setup(&vq, &gm, 16, DESC, RAM_SIZE - 36, USED, false, true),
	       -EINVAL, "  but its used_event field is outside with EVENT_IDX");
	is_int(vq_setup(&vq, &gm, 16, DESC, AVAIL, RAM_SIZE - 132, false, false),
	       0, "used ring ending at the end of RAM");
	is_int(vq_setup(&vq, &gm, 16, DESC, AVAIL, RAM_SIZE - 132, false, true),
	       -EINVAL, "  but its avail_event field is outside with EVENT_IDX");
	is_int(vq_setup(&vq, &gm, 16, DESC, AVAIL, 0xFFFFFFFFFFFFFFFCULL, false,
			false), -EINVAL, "used at 2^64-4");
	is_int(vq_setup(&vq, NULL, 16, DESC, AVAIL, USED, false, false),
	       -EINVAL, "no guest memory");
}

static void test_simple(void)
{
	setup(16, false, false);
	is_int(vq_pop(&vq, &ch), -EAGAIN, "empty ring -> -EAGAIN");
	desc_put(DESC, 5, DATA, 16, 0, 0);
	ring_offer(&ring, 5);
	is_int(vq_pop(&vq, &ch), 0, "simple chain popped");
	is_int(ch.head, 5, "  head");
	ok(ch.nr_out == 1 && ch.nr_in == 0, "  one readable buffer");
	ok(ch.iov[0].iov_base == ram + DATA && ch.iov[0].iov_len == 16,
	   "  iov points into guest RAM");
	is_int(ch.out_len, 16, "  out_len");
	is_int(vq.last_avail, 1, "  last_avail advanced");
	is_int(vq_pop(&vq, &ch), -EAGAIN, "  then empty");
	is_int(vq_push(&vq, 5, 0), 0, "push");
	is_int(ring_used_idx(&ring), 1, "  used idx 1");
	ok(ring_used_id(&ring, 0) == 5 && ring_used_len(&ring, 0) == 0,
	   "  used elem {5, 0}");
	is_int(vq_push(&vq, 5, 0), -EINVAL, "second push of the same head refused");
	is_int(vq_push(&vq, 16, 0), -EINVAL, "push head >= size refused");
	is_int(vq_push(&vq, 3, 0), -EINVAL, "push of a never-popped head refused");
	ok(!vq.broken, "  device bugs do not break the queue");
}

static void test_rw_chain(void)
{
	static const char msg[] = "hello, guest";
	char buf[32];

	setup(16, false, false);
	desc_put(DESC, 0, DATA, 4, VIRTQ_DESC_F_NEXT, 7);
	desc_put(DESC, 7, DATA + 0x100, 8, VIRTQ_DESC_F_NEXT, 3);
	desc_put(DESC, 3, DATA + 0x200, 64, VIRTQ_DESC_F_WRITE, 0);
	memcpy(ram + DATA, "abcd", 4);
	memcpy(ram + DATA + 0x100, "efghijkl", 8);
	ring_offer(&ring, 0);
	is_int(vq_pop(&vq, &ch), 0, "readable+writable chain");
	ok(ch.nr_out == 2 && ch.nr_in == 1, "  2 out, 1 in");
	ok(ch.out_len == 12 && ch.in_len == 64, "  lengths 12 / 64");
	ok(vq_chain_in(&ch)->iov_base == ram + DATA + 0x200, "  in iov");
	is_int(vq_iov_copy_from(&ch, 0, buf, sizeof(buf)), 12,
	       "copy_from stops at the end of the readable part");
	ok(memcmp(buf, "abcdefghijkl", 12) == 0, "  bytes across both segments");
	is_int(vq_iov_copy_to(&ch, 2, msg, sizeof(msg)), sizeof(msg),
	       "copy_to at offset 2");
	ok(memcmp(ram + DATA + 0x202, msg, sizeof(msg)) == 0, "  landed in guest");
	is_int(vq_iov_copy_to(&ch, 60, msg, sizeof(msg)), 4,
	       "copy_to near the end is truncated");
	is_int(vq_iov_copy_to(&ch, 64, msg, sizeof(msg)), 0,
	       "copy_to past the end copies nothing");
	is_int(vq_push(&vq, 0, 2 + sizeof(msg)), 0, "push written");
	ok(ring_used_id(&ring, 0) == 0 && ring_used_len(&ring, 0) == 2 + sizeof(msg),
	   "  used len = written");
}

static void test_split_header(void)
{
	struct { uint32_t type; uint32_t ioprio; uint64_t sector; } hdr, want = {
		1, 2, 0x1122334455667788ULL,
	};
	uint8_t tail[4];

	setup(8, false, false);
	memcpy(ram + DATA, &want, 3);
	memcpy(ram + DATA + 0x40, (uint8_t *)&want + 3, 9);
	memcpy(ram + DATA + 0x80, (uint8_t *)&want + 12, 4);
	memcpy(ram + DATA + 0x84, "TAIL", 4);
	desc_put(DESC, 2, DATA, 3, VIRTQ_DESC_F_NEXT, 4);
	desc_put(DESC, 4, DATA + 0x40, 9, VIRTQ_DESC_F_NEXT, 6);
	desc_put(DESC, 6, DATA + 0x80, 8, 0, 0);
	ring_offer(&ring, 2);
	is_int(vq_pop(&vq, &ch), 0, "header split over 3 descriptors");
	is_int(ch.nr_out, 3, "  3 segments");
	is_int(vq_iov_copy_from(&ch, 0, &hdr, sizeof(hdr)), sizeof(hdr),
	       "  copy_from whole header");
	ok(memcmp(&hdr, &want, sizeof(hdr)) == 0, "  header reassembled");
	is_int(vq_iov_copy_from(&ch, sizeof(hdr), tail, 8), 4,
	       "  payload after the header: 4 bytes left");
	ok(memcmp(tail, "TAIL", 4) == 0, "  payload bytes");
	is_int(vq_iov_copy_from(&ch, 100, tail, 4), 0, "  offset past the end");
}

static void test_zero_len(void)
{
	setup(8, false, false);
	desc_put(DESC, 0, 0xFFFFFFFFFFFFFFFFULL, 0, VIRTQ_DESC_F_NEXT, 1);
	desc_put(DESC, 1, DATA, 8, VIRTQ_DESC_F_NEXT, 2);
	desc_put(DESC, 2, DATA, 0, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3);
	desc_put(DESC, 3, DATA + 8, 8, 0, 0);
	ring_offer(&ring, 0);
	is_int(vq_pop(&vq, &ch), 0, "zero-length descriptors are skipped");
	ok(ch.nr_out == 2 && ch.nr_in == 0, "  no iov for them (even writable)");
}

static void test_many_in_flight(void)
{
	static const uint16_t order[] = { 3, 0, 7, 1, 2, 6, 4, 5 };
	bool good = true;

	setup(8, false, false);
	for (unsigned i = 0; i < 8; i++) {
		desc_put(DESC, i, DATA + 16 * i, 16, VIRTQ_DESC_F_WRITE, 0);
		ring_offer(&ring, (uint16_t)(7 - i));
	}
	for (unsigned i = 0; i < 8; i++)
		good &= vq_pop(&vq, &ch) == 0 && ch.head == 7 - i;
	ok(good, "8 chains popped in avail order");
	is_int(vq.nr_inflight, 8, "  8 in flight");
	is_int(vq_pop(&vq, &ch), -EAGAIN, "  ring now empty");
	for (unsigned i = 0; i < 8; i++)
		good &= vq_push(&vq, order[i], 100 + i) == 0;
	ok(good, "pushed out of order");
	for (unsigned i = 0; i < 8; i++)
		good &= ring_used_id(&ring, i) == order[i] &&
			ring_used_len(&ring, i) == 100 + i;
	ok(good, "  used ring holds them in push order");
	is_int(ring_used_idx(&ring), 8, "  used idx 8");
	is_int(vq.nr_inflight, 0, "  none in flight");
	/* the driver reuses them */
	ring_offer(&ring, 4);
	is_int(vq_pop(&vq, &ch), 0, "reused head popped again");
	is_int(vq_pop(&vq, &ch), -EAGAIN, "  once");
}

static void test_wrap(void)
{
	bool good = true;

	setup(4, false, false);
	vq.last_avail = vq.used_idx = 65533;
	ring.avail_idx = 65533;
	for (unsigned i = 0; i < 4; i++) {
		desc_put(DESC, i, DATA + 16 * i, 16, 0, 0);
		ring_offer(&ring, (uint16_t)i);
	}
	is_int(ram_get16(AVAIL + 2), 1, "avail idx wrapped 65533 -> 1");
	for (unsigned i = 0; i < 4; i++)
		good &= vq_pop(&vq, &ch) == 0 && ch.head == i;
	ok(good, "4 chains popped across the wrap");
	is_int(vq.last_avail, 1, "  last_avail 1");
	for (unsigned i = 0; i < 4; i++)
		good &= vq_push(&vq, (uint16_t)i, i) == 0;
	ok(good, "  pushed");
	is_int(ring_used_idx(&ring), 1, "  used idx wrapped to 1");
	ok(ring_used_id(&ring, 65535) == 2 && ring_used_len(&ring, 65535) == 2,
	   "  used slot of idx 65535 (3) holds head 2");
	ok(ring_used_id(&ring, 0) == 3, "  slot 0 holds head 3");
	is_int(vq_pop(&vq, &ch), -EAGAIN, "  empty");
}

static void test_notify(void)
{
	uint16_t old;

	setup(8, false, false);
	desc_put(DESC, 0, DATA, 16, 0, 0);
	ring_offer(&ring, 0);
	must_pop();
	old = vq.used_idx;
	must_push(0, 0);
	ok(vq_should_notify(&vq, old), "no flags: notify");
	ring_set_avail_flags(&ring, VIRTQ_AVAIL_F_NO_INTERRUPT);
	ok(!vq_should_notify(&vq, old), "NO_INTERRUPT: suppressed");
	vq_set_avail_event(&vq);
	is_int(ring_avail_event(&ring), 0, "avail_event untouched without EVENT_IDX");

	setup(8, false, true);
	/* NO_INTERRUPT is ignored with EVENT_IDX */
	ring_set_avail_flags(&ring, VIRTQ_AVAIL_F_NO_INTERRUPT);
	for (unsigned i = 0; i < 4; i++) {
		desc_put(DESC, i, DATA, 16, 0, 0);
		ring_offer(&ring, (uint16_t)i);
	}
	for (unsigned i = 0; i < 4; i++)
		must_pop();
	vq_set_avail_event(&vq);
	is_int(ring_avail_event(&ring), 4, "avail_event = last_avail");
	old = vq.used_idx;
	must_push(0, 0);  /* used 0 -> 1 */
	ring_set_used_event(&ring, 0); /* used_event 0: wants idx 0 -> 1 */
	ok(vq_should_notify(&vq, old), "EVENT_IDX used_event 0, 0->1: notify");
	ring_set_used_event(&ring, 2);
	ok(!vq_should_notify(&vq, old), "used_event 2, 0->1: no notify");
	old = vq.used_idx;
	must_push(1, 0);
	must_push(2, 0);  /* 1 -> 3 crosses event 2 */
	ok(vq_should_notify(&vq, old), "used_event 2, 1->3: notify");
	ring_set_used_event(&ring, 0);
	ok(!vq_should_notify(&vq, old), "used_event 0 (stale), 1->3: no notify");

	/* across the 16-bit wrap */
	setup(8, false, true);
	vq.last_avail = vq.used_idx = 65535;
	ring.avail_idx = 65535;
	desc_put(DESC, 0, DATA, 16, 0, 0);
	desc_put(DESC, 1, DATA, 16, 0, 0);
	ring_offer(&ring, 0);
	ring_offer(&ring, 1);
	must_pop();
	must_pop();
	old = vq.used_idx;
	must_push(0, 0);
	must_push(1, 0); /* 65535 -> 1 */
	ring_set_used_event(&ring, 0);
	ok(vq_should_notify(&vq, old), "used_event 0, 65535->1: notify");
	ring_set_used_event(&ring, 65535);
	ok(vq_should_notify(&vq, old), "used_event 65535, 65535->1: notify");
	ring_set_used_event(&ring, 1);
	ok(!vq_should_notify(&vq, old), "used_event 1, 65535->1: no notify");
}

static void test_indirect(void)
{
	setup(16, true, false);
	desc_put(INDT, 0, DATA, 10, VIRTQ_DESC_F_NEXT, 2);
	desc_put(INDT, 2, DATA + 0x100, 6, VIRTQ_DESC_F_NEXT, 1);
	desc_put(INDT, 1, DATA + 0x200, 32, VIRTQ_DESC_F_WRITE, 0);
	desc_put(DESC, 9, INDT, 48, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&ring, 9);
	is_int(vq_pop(&vq, &ch), 0, "indirect table of 3");
	ok(ch.head == 9 && ch.nr_out == 2 && ch.nr_in == 1, "  2 out 1 in, head 9");
	ok(ch.out_len == 16 && ch.in_len == 32, "  lengths");
	ok(ch.iov[2].iov_base == ram + DATA + 0x200, "  writable iov");
	must_push(9, 0);

	desc_put(DESC, 4, DATA + 0x300, 8, VIRTQ_DESC_F_NEXT, 5);
	desc_put(DESC, 5, INDT, 48, VIRTQ_DESC_F_INDIRECT, 0);
	ring_offer(&ring, 4);
	is_int(vq_pop(&vq, &ch), 0, "direct buffer, then an indirect table");
	ok(ch.nr_out == 3 && ch.nr_in == 1, "  3 out 1 in");

	desc_put(INDT + 0x400, 0, DATA, 8, 0, 0);
	desc_put(DESC, 6, INDT + 0x400, 16, VIRTQ_DESC_F_INDIRECT, 0);
	ring_offer(&ring, 6);
	is_int(vq_pop(&vq, &ch), 0, "indirect table of 1");

	setup(4, true, false);
	for (unsigned i = 0; i < 4; i++)
		desc_put(INDT, i, DATA + 16 * i, 16, i < 3 ? VIRTQ_DESC_F_NEXT : 0,
		     (uint16_t)(i + 1));
	desc_put(DESC, 0, INDT, 64, VIRTQ_DESC_F_INDIRECT, 0);
	ring_offer(&ring, 0);
	is_int(vq_pop(&vq, &ch), 0, "indirect table of size entries");
}

/* Fresh queue for one malformed chain. */
static void setup_bad(bool indirect)
{
	setup(16, indirect, false);
}

static void test_bad_chains(void)
{
	setup_bad(false);
	desc_put(DESC, 0, DATA, 8, VIRTQ_DESC_F_NEXT, 1);
	desc_put(DESC, 1, DATA, 8, VIRTQ_DESC_F_NEXT, 0);
	ring_offer(&ring, 0);
	expect_broken("descriptor loop 0->1->0");

	setup_bad(false);
	desc_put(DESC, 3, DATA, 8, VIRTQ_DESC_F_NEXT, 3);
	ring_offer(&ring, 3);
	expect_broken("descriptor pointing at itself");

	setup_bad(false);
	desc_put(DESC, 0, DATA, 8, VIRTQ_DESC_F_NEXT, 16);
	ring_offer(&ring, 0);
	expect_broken("next == size");

	setup_bad(false);
	desc_put(DESC, 0, DATA, 8, VIRTQ_DESC_F_NEXT, 0xffff);
	ring_offer(&ring, 0);
	expect_broken("next 0xffff");

	setup_bad(false);
	ring_offer(&ring, 16);
	expect_broken("head == size");

	setup_bad(false);
	ring_offer(&ring, 0xffff);
	expect_broken("head 0xffff");

	setup_bad(false);
	ring_set_avail_idx(&ring, 17);
	expect_broken("avail idx 17 ahead with size 16");

	setup_bad(false);
	ring_set_avail_idx(&ring, 0x8000);
	expect_broken("avail idx jumps by 0x8000");

	setup_bad(false);
	for (unsigned i = 0; i < 16; i++) {
		desc_put(DESC, i, DATA, 8, 0, 0);
		ring_offer(&ring, (uint16_t)i);
	}
	is_int(vq_pop(&vq, &ch), 0, "avail idx exactly size ahead is fine");

	setup_bad(false);
	desc_put(DESC, 0, DATA, 8, 0, 0);
	ring_offer(&ring, 0);
	ring_offer(&ring, 0);
	is_int(vq_pop(&vq, &ch), 0, "head 0 popped");
	expect_broken("head 0 offered again while in flight");

	setup_bad(false);
	desc_put(DESC, 0, RAM_SIZE, 1, 0, 0);
	ring_offer(&ring, 0);
	expect_broken("buffer outside RAM");

	setup_bad(false);
	desc_put(DESC, 0, RAM_SIZE - 8, 9, 0, 0);
	ring_offer(&ring, 0);
	expect_broken("buffer crossing the end of RAM");

	setup_bad(false);
	desc_put(DESC, 0, RAM_SIZE - 8, 8, 0, 0);
	ring_offer(&ring, 0);
	is_int(vq_pop(&vq, &ch), 0, "buffer ending exactly at the end of RAM");

	setup_bad(false);
	desc_put(DESC, 0, UINT64_MAX - 7, 16, 0, 0);
	ring_offer(&ring, 0);
	expect_broken("addr + len overflows at UINT64_MAX");

	setup_bad(false);
	desc_put(DESC, 0, 16, 0xffffffff, 0, 0);
	ring_offer(&ring, 0);
	expect_broken("len 4 GiB - 1");

	setup_bad(false);
	desc_put(DESC, 0, DATA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	desc_put(DESC, 1, DATA, 8, 0, 0);
	ring_offer(&ring, 0);
	expect_broken("readable after writable");
}

static void test_bad_indirect(void)
{
	setup_bad(false);
	desc_put(INDT, 0, DATA, 8, 0, 0);
	desc_put(DESC, 0, INDT, 16, VIRTQ_DESC_F_INDIRECT, 0);
	ring_offer(&ring, 0);
	expect_broken("indirect when not negotiated");

	setup_bad(true);
	desc_put(DESC, 0, INDT, 24, VIRTQ_DESC_F_INDIRECT, 0);
	ring_offer(&ring, 0);
	expect_broken("indirect len 24 (not a multiple of 16)");

	setup_bad(true);
	desc_put(DESC, 0, INDT, 0, VIRTQ_DESC_F_INDIRECT, 0);
	ring_offer(&ring, 0);
	expect_broken("indirect len 0");

	setup_bad(true);
	desc_put(DESC, 0, INDT, 17 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	ring_offer(&ring, 0);
	expect_broken("indirect table longer than the queue");

	setup_bad(true);
	desc_put(DESC, 0, RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	ring_offer(&ring, 0);
	expect_broken("indirect table crossing the end of RAM");

	setup_bad(true);
	desc_put(DESC, 0, UINT64_MAX - 15, 32, VIRTQ_DESC_F_INDIRECT, 0);
	ring_offer(&ring, 0);
	expect_broken("indirect table at 2^64-16");

	setup_bad(true);
	desc_put(INDT + 0x100, 0, DATA, 8, 0, 0);
	desc_put(INDT, 0, INDT + 0x100, 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc_put(DESC, 0, INDT, 16, VIRTQ_DESC_F_INDIRECT, 0);
	ring_offer(&ring, 0);
	expect_broken("nested indirect");

	setup_bad(true);
	desc_put(INDT, 0, DATA, 8, 0, 0);
	desc_put(DESC, 0, INDT, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	desc_put(DESC, 1, DATA, 8, 0, 0);
	ring_offer(&ring, 0);
	expect_broken("INDIRECT and NEXT on one descriptor");

	setup_bad(true);
	desc_put(INDT, 0, DATA, 8, VIRTQ_DESC_F_NEXT, 2);
	desc_put(INDT, 1, DATA, 8, 0, 0);
	desc_put(DESC, 0, INDT, 32, VIRTQ_DESC_F_INDIRECT, 0);
	ring_offer(&ring, 0);
	expect_broken("next out of the indirect table (into the main table)");

	setup_bad(true);
	desc_put(INDT, 0, DATA, 8, VIRTQ_DESC_F_NEXT, 1);
	desc_put(INDT, 1, DATA, 8, VIRTQ_DESC_F_NEXT, 0);
	desc_put(DESC, 0, INDT, 32, VIRTQ_DESC_F_INDIRECT, 0);
	ring_offer(&ring, 0);
	expect_broken("loop inside the indirect table");

	setup_bad(true);
	desc_put(INDT, 0, DATA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	desc_put(INDT, 1, DATA, 8, 0, 0);
	desc_put(DESC, 0, INDT, 32, VIRTQ_DESC_F_INDIRECT, 0);
	ring_offer(&ring, 0);
	expect_broken("readable after writable inside the indirect table");

	setup_bad(true);
	desc_put(INDT, 0, DATA, 8, 0, 0);
	desc_put(DESC, 0, DATA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	desc_put(DESC, 1, INDT, 16, VIRTQ_DESC_F_INDIRECT, 0);
	ring_offer(&ring, 0);
	expect_broken("writable direct buffer, then readable indirect one");

	setup_bad(true);
	desc_put(INDT, 0, RAM_SIZE, 8, 0, 0);
	desc_put(DESC, 0, INDT, 16, VIRTQ_DESC_F_INDIRECT, 0);
	ring_offer(&ring, 0);
	expect_broken("buffer outside RAM in the indirect table");
}

static void test_too_many_segs(void)
{
	unsigned n = VQ_MAX_SEGS + 1;

	is_int(setup(1024, true, false), 0, "size 1024 queue");
	for (unsigned i = 0; i < n; i++)
		desc_put(DESC, i, DATA + i, 1, i + 1 < n ? VIRTQ_DESC_F_NEXT : 0,
		     (uint16_t)(i + 1));
	ring_offer(&ring, 0);
	expect_broken("VQ_MAX_SEGS + 1 buffers in a direct chain");

	setup(1024, true, false);
	for (unsigned i = 0; i < n - 1; i++)
		desc_put(DESC, i, DATA + i, 1, i + 2 < n ? VIRTQ_DESC_F_NEXT : 0,
		     (uint16_t)(i + 1));
	ring_offer(&ring, 0);
	is_int(vq_pop(&vq, &ch), 0, "exactly VQ_MAX_SEGS buffers");
	is_int(ch.nr_out, VQ_MAX_SEGS, "  all of them");

	setup(1024, true, false);
	for (unsigned i = 0; i < n; i++)
		desc_put(INDT, i, DATA + i, 1, i + 1 < n ? VIRTQ_DESC_F_NEXT : 0,
		     (uint16_t)(i + 1));
	desc_put(DESC, 0, INDT, 16 * n, VIRTQ_DESC_F_INDIRECT, 0);
	ring_offer(&ring, 0);
	expect_broken("VQ_MAX_SEGS + 1 buffers in an indirect table");
}

static void test_recovery(void)
{
	setup(16, false, false);
	desc_put(DESC, 0, DATA, 8, 0, 0);
	ring_offer(&ring, 0);
	ring_offer(&ring, 0);
	must_pop();
	expect_broken("violation with a chain in flight");
	is_int(vq_push(&vq, 0, 0), -EIO, "push on a broken queue -> -EIO");
	ok(vq.broken, "still broken");

	vq_reset(&vq);
	ok(!vq.broken && !vq.ready, "vq_reset: not broken, not ready");
	is_str(vq.name, "test", "  name kept");
	is_int(vq_pop(&vq, &ch), -EAGAIN, "  pop -> -EAGAIN");

	memset(ram, 0, RAM_SIZE);
	ring.avail_idx = 0;
	is_int(vq_setup(&vq, &gm, 16, DESC, AVAIL, USED, false, false), 0,
	       "vq_setup again");
	desc_put(DESC, 0, DATA, 8, 0, 0);
	ring_offer(&ring, 0);
	is_int(vq_pop(&vq, &ch), 0, "  pop works again");
	is_int(vq_push(&vq, 0, 0), 0, "  push works again");
}

static void test_unpop(void)
{
	struct vq_chain a, b, c;

	setup(8, false, false);
	desc_put(DESC, 2, DATA, 16, VIRTQ_DESC_F_WRITE, 0);
	desc_put(DESC, 5, DATA + 0x100, 8, VIRTQ_DESC_F_NEXT, 6);
	desc_put(DESC, 6, DATA + 0x200, 32, VIRTQ_DESC_F_WRITE, 0);
	desc_put(DESC, 7, DATA + 0x300, 64, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&ring, 2);
	ring_offer(&ring, 5);
	ring_offer(&ring, 7);
	ok(vq_pop(&vq, &a) == 0 && a.head == 2, "unpop: pop head 2");
	ok(vq_pop(&vq, &b) == 0 && b.head == 5, "  pop head 5");
	is_int(vq_unpop(&vq, &b), 0, "  unpop 5");
	is_int(vq_unpop(&vq, &b), -EINVAL, "  unpop 5 twice -> -EINVAL");
	is_int(vq_unpop(&vq, &a), 0, "  unpop 2");
	ok(vq.last_avail == 0 && vq.nr_inflight == 0, "  last_avail 0, none in flight");
	is_int(vq_push(&vq, 2, 0), -EINVAL, "  an unpopped head cannot be pushed");
	ok(vq_pop(&vq, &c) == 0 && c.head == 2 && c.in_len == 16,
	   "  next pop: head 2 again");
	ok(vq_pop(&vq, &c) == 0 && c.head == 5 && c.out_len == 8 && c.in_len == 32,
	   "  then head 5, same chain");
	ok(vq_pop(&vq, &c) == 0 && c.head == 7, "  then head 7");
	is_int(vq_pop(&vq, &c), -EAGAIN, "  then empty");
	is_int(vq.nr_inflight, 3, "  3 in flight");
	is_int(ring_used_idx(&ring), 0, "  nothing used");

	/* heads that are not in flight */
	must_push(7, 0);
	c.head = 7;
	is_int(vq_unpop(&vq, &c), -EINVAL, "unpop of a pushed head -> -EINVAL");
	c.head = 3;
	is_int(vq_unpop(&vq, &c), -EINVAL, "unpop of a never-popped head -> -EINVAL");
	c.head = 8;
	is_int(vq_unpop(&vq, &c), -EINVAL, "unpop of head == size -> -EINVAL");
	c.head = 0xffff;
	is_int(vq_unpop(&vq, &c), -EINVAL, "unpop of head 0xffff -> -EINVAL");
	ok(vq.last_avail == 3 && vq.nr_inflight == 2, "  state unchanged");
	must_push(5, 0);
	must_push(2, 0);
	c.head = 2;
	is_int(vq_unpop(&vq, &c), -EINVAL, "nothing in flight -> -EINVAL");
	is_int(vq.last_avail, 3, "  last_avail unchanged");
	ok(!vq.broken, "  device bugs do not break the queue");

	/* the slot is checked again when popped again */
	setup(8, false, false);
	desc_put(DESC, 1, DATA, 16, 0, 0);
	ring_offer(&ring, 1);
	must_pop();
	is_int(vq_unpop(&vq, &ch), 0, "unpop, then the guest rewrites the slot");
	ram_put16(AVAIL + 4, 9);
	expect_broken("  re-popped slot with head 9 >= size");

	/* broken and not-ready queues */
	setup(8, false, false);
	desc_put(DESC, 0, DATA, 16, 0, 0);
	ring_offer(&ring, 0);
	ring_offer(&ring, 0xffff);
	ok(vq_pop(&vq, &a) == 0 && a.head == 0, "pop head 0");
	is_int(vq_pop(&vq, &c), -EIO, "  then a bad head breaks the queue");
	is_int(vq_unpop(&vq, &a), -EINVAL, "unpop on a broken queue -> -EINVAL");
	is_int(vq.last_avail, 1, "  last_avail unchanged");
	vq_reset(&vq);
	a.head = 0;
	is_int(vq_unpop(&vq, &a), -EINVAL, "unpop on a reset queue -> -EINVAL");

	/* across the 16-bit wrap */
	setup(4, false, false);
	vq.last_avail = vq.used_idx = 65535;
	ring.avail_idx = 65535;
	desc_put(DESC, 0, DATA, 16, 0, 0);
	desc_put(DESC, 3, DATA, 16, 0, 0);
	ring_offer(&ring, 3);
	ring_offer(&ring, 0);
	ok(vq_pop(&vq, &a) == 0 && a.head == 3 && vq_pop(&vq, &b) == 0 && b.head == 0,
	   "wrap: pop 3 (slot 65535) and 0 (slot 0)");
	is_int(vq.last_avail, 1, "  last_avail 1");
	ok(vq_unpop(&vq, &b) == 0 && vq_unpop(&vq, &a) == 0, "  unpop both");
	is_int(vq.last_avail, 65535, "  last_avail back to 65535");
	ok(vq_pop(&vq, &c) == 0 && c.head == 3 && vq_pop(&vq, &c) == 0 && c.head == 0,
	   "  popped again in order");
}

int main(void)
{
	/* violations are expected here: keep the log quiet */
	log_threshold = LOG_ERR;
	if (ram_alloc(RAM_SIZE))
		return 1;

	test_setup();
	test_simple();
	test_rw_chain();
	test_split_header();
	test_zero_len();
	test_many_in_flight();
	test_wrap();
	test_notify();
	test_indirect();
	test_bad_chains();
	test_bad_indirect();
	test_too_many_segs();
	test_recovery();
	test_unpop();

	ram_free();
	return done_testing();
}
