/*
 * blk_driver: nkvm's virtio-blk device model driven from the host, for
 * bench/blk.sh. A benchmark, not a test: it prints numbers.
 *
 * On a PVM host a guest-side fio would measure the emulation of the
 * guest kernel, not nkvm, so this program plays the guest's driver
 * against the real code instead: guest RAM from gm_init (memfd, as a
 * VM's), a virtio_blk on an image from blk_image_open (engine
 * BLK_IO_AUTO, so io_uring), set up through virtio_mmio_access() the way
 * Linux's virtio_mmio and virtio_blk drivers do it (VERSION_1, EVENT_IDX,
 * INDIRECT_DESC; queue size 256; one indirect table per request, as Linux
 * uses for every multi-buffer request). Then a closed loop with QD
 * requests in flight: build the chain, publish avail->idx, kick when
 * avail_event asks for it (KVM's ioeventfd: a write to kick_fd; the event
 * loop: virtio_mmio_kick), wait on the engine's completion eventfd,
 * virtio_blk_complete() under the device lock (the event loop's
 * on_completion), take InterruptStatus/InterruptAck when the device
 * raised an interrupt (Linux's vm_interrupt), consume the used ring,
 * check every status byte and used length, resubmit.
 *
 * Everything runs in one thread, so the numbers are the device model's
 * and the engine's cost plus this driver's (a few stores per request);
 * the VM exits a real guest would pay are not in them.
 *
 * usage: blk_driver [-m MODE] [-b BS] [-q QD] [-t SECS | -n IOS] [-g SEG]
 *                   [-k N] [-d] [-S SEED] FILE
 *   -m  randread (default), randwrite, read, write
 *   -b  block size in bytes, K/M suffix allowed (4K for rand*, 1M else)
 *   -q  requests in flight, 1..256 (32)
 *   -t  run for SECS seconds (10); -n: stop after IOS requests instead
 *   -g  split each data buffer into descriptors of SEG bytes (one by
 *       default: a contiguous buffer, like fio's)
 *   -k  publish and kick after every N requests queued (default: once per
 *       batch of completions, like a driver that queues the whole batch
 *       before virtqueue_kick; -k 1 is a kick per request)
 *   -d  O_DIRECT (blk_image_open with direct=true)
 *   -S  PRNG seed for the random offsets (1)
 * Prints one line of key=value pairs (see the end of main).
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "nkvm/blk_image.h"
#include "nkvm/gm.h"
#include "nkvm/virtio_blk.h"
#include "nkvm/virtio_mmio.h"

#define QSIZE     256
#define MMIO_BASE 0xd0000000ULL
/* Guest physical layout: rings, then one control area per request (header,
 * status byte, indirect table), then the data buffers, 2 MiB aligned so THP
 * can back them. */
#define DESC_GPA  0x0000ULL
#define AVAIL_GPA 0x1000ULL
#define USED_GPA  0x2000ULL
#define CTL_GPA   0x10000ULL
#define CTL_BYTES 0x2000ULL	/* header, status, table at TBL_OFF (<= 258 entries) */
#define TBL_OFF   0x40
#define DATA_GPA  (4ULL << 20)
#define ALIGN_2M  (2ULL << 20)

enum mode { RANDREAD, RANDWRITE, SEQREAD, SEQWRITE };
static const char *const mode_names[] = { "randread", "randwrite", "read", "write" };

struct slot {
	uint8_t *hdr, *status;
	struct virtq_desc *tbl;   /* this request's indirect table */
	uint64_t tbl_gpa, data_gpa;
};

struct drv {
	struct gm gm;
	struct blk_image img;
	struct virtio_blk blk;
	struct virtio_mmio m;
	uint8_t *avail, *used;
	uint16_t avail_idx, kicked_idx, last_used;
	unsigned long last_irqs;
	struct slot slot[QSIZE];
	enum mode mode;
	uint64_t bs, seg, nblocks, next_seq, rng;
	unsigned qd, kick_every;
	unsigned long issued, kicks, waits;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("blk_driver: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static uint32_t mmio_rd(struct drv *d, uint64_t off)
{
	uint8_t b[4];

	virtio_mmio_access(&d->m, off, b, 4, false);
	return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

static void mmio_wr(struct drv *d, uint64_t off, uint32_t v)
{
	uint8_t b[4] = { v, v >> 8, v >> 16, v >> 24 };

	virtio_mmio_access(&d->m, off, b, 4, true);
}

static void *gpa(struct drv *d, uint64_t addr, uint64_t len)
{
	void *p = gm_ptr(&d->gm, addr, len);

	if (!p)
		die("gpa %#" PRIx64 "+%#" PRIx64 " outside guest RAM", addr, len);
	return p;
}

static uint16_t *ring16(uint8_t *ring, uint64_t off)
{
	return (uint16_t *)(void *)(ring + off);
}

/* xorshift64*: fixed seed, so every run asks for the same offsets */
static uint64_t rnd(struct drv *d)
{
	d->rng ^= d->rng >> 12;
	d->rng ^= d->rng << 25;
	d->rng ^= d->rng >> 27;
	return d->rng * 0x2545F4914F6CDD1DULL;
}

/* The probe sequence of Linux's virtio_mmio + virtio_blk drivers. */
static void setup_device(struct drv *d)
{
	uint64_t want = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_EVENT_IDX) |
			(1ULL << VIRTIO_F_INDIRECT_DESC) |
			(1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
			(1ULL << VIRTIO_BLK_F_FLUSH);
	uint64_t have, cap;
	uint32_t gen, seg_max, st;

	if (mmio_rd(d, VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC ||
	    mmio_rd(d, VIRTIO_MMIO_VERSION) != 2 ||
	    mmio_rd(d, VIRTIO_MMIO_DEVICE_ID) != VIRTIO_ID_BLOCK)
		die("not a virtio-mmio v2 block device");
	mmio_wr(d, VIRTIO_MMIO_STATUS, 0);
	st = VIRTIO_STATUS_ACKNOWLEDGE;
	mmio_wr(d, VIRTIO_MMIO_STATUS, st);
	st |= VIRTIO_STATUS_DRIVER;
	mmio_wr(d, VIRTIO_MMIO_STATUS, st);

	mmio_wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	have = (uint64_t)mmio_rd(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	mmio_wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	have |= mmio_rd(d, VIRTIO_MMIO_DEVICE_FEATURES);
	if ((have & want) != want)
		die("device offers features %#" PRIx64 ", want %#" PRIx64, have, want);
	mmio_wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	mmio_wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(want >> 32));
	mmio_wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	mmio_wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)want);
	st |= VIRTIO_STATUS_FEATURES_OK;
	mmio_wr(d, VIRTIO_MMIO_STATUS, st);
	if (!(mmio_rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK))
		die("device refused FEATURES_OK");

	/* capacity is 64 bits read as two words: retry on a generation change */
	do {
		gen = mmio_rd(d, VIRTIO_MMIO_CONFIG_GENERATION);
		cap = mmio_rd(d, VIRTIO_MMIO_CONFIG + 0) |
		      (uint64_t)mmio_rd(d, VIRTIO_MMIO_CONFIG + 4) << 32;
		seg_max = mmio_rd(d, VIRTIO_MMIO_CONFIG + 12);
	} while (gen != mmio_rd(d, VIRTIO_MMIO_CONFIG_GENERATION));
	d->nblocks = cap * VIRTIO_BLK_SECTOR / d->bs;
	if (d->nblocks == 0)
		die("image smaller than one %" PRIu64 "-byte block", d->bs);
	if (d->bs / d->seg > seg_max)
		die("%" PRIu64 " segments per request, seg_max is %u", d->bs / d->seg, seg_max);

	mmio_wr(d, VIRTIO_MMIO_QUEUE_SEL, 0);
	if (mmio_rd(d, VIRTIO_MMIO_QUEUE_READY) ||
	    mmio_rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX) < QSIZE)
		die("queue 0 busy or smaller than %d", QSIZE);
	mmio_wr(d, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	mmio_wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)DESC_GPA);
	mmio_wr(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	mmio_wr(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)AVAIL_GPA);
	mmio_wr(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
	mmio_wr(d, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)USED_GPA);
	mmio_wr(d, VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
	mmio_wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
	if (!mmio_rd(d, VIRTIO_MMIO_QUEUE_READY))
		die("queue 0 not ready");
	st |= VIRTIO_STATUS_DRIVER_OK;
	mmio_wr(d, VIRTIO_MMIO_STATUS, st);
	if (mmio_rd(d, VIRTIO_MMIO_STATUS) != st)
		die("device status %#x after DRIVER_OK", mmio_rd(d, VIRTIO_MMIO_STATUS));
}

/* Fixed parts of each request: the ring descriptor pointing at its
 * indirect table, and the table's header, data and status entries. */
static void setup_slots(struct drv *d)
{
	struct virtq_desc *ring = gpa(d, DESC_GPA, VIRTQ_DESC_BYTES(QSIZE));
	bool write = d->mode == RANDWRITE || d->mode == SEQWRITE;
	unsigned nseg = (unsigned)(d->bs / d->seg), i, k;
	uint8_t *data;

	data = gpa(d, DATA_GPA, d->qd * d->bs);
	/* not zeroes: some storage treats those specially */
	for (uint64_t o = 0; o + 8 <= d->qd * d->bs; o += 8) {
		uint64_t v = rnd(d);

		memcpy(data + o, &v, 8);
	}
	for (i = 0; i < d->qd; i++) {
		struct slot *s = &d->slot[i];
		uint64_t ctl = CTL_GPA + i * CTL_BYTES;

		s->hdr = gpa(d, ctl, 16);
		s->status = gpa(d, ctl + 16, 1);
		s->tbl_gpa = ctl + TBL_OFF;
		s->tbl = gpa(d, s->tbl_gpa, (nseg + 2) * sizeof(*s->tbl));
		s->data_gpa = DATA_GPA + i * d->bs;
		s->tbl[0] = (struct virtq_desc){
			.addr = htole64(ctl), .len = htole32(16),
			.flags = htole16(VIRTQ_DESC_F_NEXT), .next = htole16(1),
		};
		for (k = 0; k < nseg; k++)
			s->tbl[1 + k] = (struct virtq_desc){
				.addr = htole64(s->data_gpa + k * d->seg),
				.len = htole32((uint32_t)d->seg),
				.flags = htole16(VIRTQ_DESC_F_NEXT |
						 (write ? 0 : VIRTQ_DESC_F_WRITE)),
				.next = htole16((uint16_t)(2 + k)),
			};
		s->tbl[1 + nseg] = (struct virtq_desc){
			.addr = htole64(ctl + 16), .len = htole32(1),
			.flags = htole16(VIRTQ_DESC_F_WRITE),
		};
		ring[i] = (struct virtq_desc){
			.addr = htole64(s->tbl_gpa),
			.len = htole32((nseg + 2) * (uint32_t)sizeof(*s->tbl)),
			.flags = htole16(VIRTQ_DESC_F_INDIRECT),
		};
	}
}

/* Make request `i` available with a new offset (not yet published). */
static void queue_req(struct drv *d, unsigned i)
{
	struct slot *s = &d->slot[i];
	bool write = d->mode == RANDWRITE || d->mode == SEQWRITE;
	uint64_t blk;
	uint32_t type = htole32(write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN);
	uint32_t zero = 0;
	uint64_t sector;

	if (d->mode == RANDREAD || d->mode == RANDWRITE) {
		blk = rnd(d) % d->nblocks;
	} else {
		blk = d->next_seq;
		d->next_seq = (d->next_seq + 1) % d->nblocks;
	}
	sector = htole64(blk * d->bs / VIRTIO_BLK_SECTOR);
	memcpy(s->hdr, &type, 4);
	memcpy(s->hdr + 4, &zero, 4);
	memcpy(s->hdr + 8, &sector, 8);
	*s->status = 0xff;	/* so a status the device never wrote shows */
	*ring16(d->avail, 4 + 2 * (d->avail_idx % QSIZE)) = htole16((uint16_t)i);
	d->avail_idx++;
	d->issued++;
}

/* Publish avail->idx and kick if the device asked for it (EVENT_IDX:
 * vring_need_event on avail_event), as virtqueue_kick() does. */
static void publish_and_kick(struct drv *d)
{
	uint16_t event, old = d->kicked_idx, new = d->avail_idx;
	uint64_t one = 1;

	if (old == new)
		return;
	/* release: ring entries and descriptors before the index */
	__atomic_store_n(ring16(d->avail, 2), htole16(new), __ATOMIC_RELEASE);
	/* the index must be visible before we read avail_event */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	d->kicked_idx = new;
	event = le16toh(__atomic_load_n(ring16(d->used, 4 + 8 * QSIZE), __ATOMIC_RELAXED));
	if ((uint16_t)(new - event - 1) >= (uint16_t)(new - old))
		return;
	d->kicks++;
	/* KVM's ioeventfd signals kick_fd; the event loop then calls this */
	if (write(d->m.kick_fd[0], &one, sizeof(one)) != sizeof(one))
		die("kick eventfd: %s", strerror(errno));
	virtio_mmio_kick(&d->m, 0);
}

/* Take the used ring and check each request; queue up to *budget of
 * the finished ones again at once, as a closed loop does. Returns how
 * many completed. */
static unsigned reap_used(struct drv *d, unsigned long *budget)
{
	bool write = d->mode == RANDWRITE || d->mode == SEQWRITE;
	uint32_t want_len = write ? 1 : (uint32_t)d->bs + 1;
	unsigned n = 0;
	uint16_t idx;

	for (;;) {
		idx = le16toh(__atomic_load_n(ring16(d->used, 2), __ATOMIC_ACQUIRE));
		while (d->last_used != idx) {
			struct virtq_used_elem e;
			uint32_t id, len;

			memcpy(&e, d->used + 4 + 8 * (d->last_used % QSIZE), sizeof(e));
			id = le32toh(e.id);
			len = le32toh(e.len);
			if (id >= d->qd)
				die("used id %u out of range", id);
			if (*d->slot[id].status != VIRTIO_BLK_S_OK)
				die("request %u: status %u", id, *d->slot[id].status);
			if (len != want_len)
				die("request %u: used length %u, want %u", id, len, want_len);
			d->last_used++;
			n++;
			if (*budget) {
				(*budget)--;
				queue_req(d, id);
				if (d->kick_every &&
				    (uint16_t)(d->avail_idx - d->kicked_idx) >= d->kick_every)
					publish_and_kick(d);
			}
		}
		/* virtqueue_enable_cb: interrupt for the next completion, then
		 * look once more for one that raced with the store */
		__atomic_store_n(ring16(d->avail, 4 + 2 * QSIZE), htole16(d->last_used),
				 __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (le16toh(__atomic_load_n(ring16(d->used, 2), __ATOMIC_ACQUIRE)) == idx)
			return n;
	}
}

/* Wait for the engine, complete under the lock (the event loop's
 * on_completion), then play the interrupt handler. */
static void wait_completions(struct drv *d)
{
	struct pollfd p = { .fd = blk_io_event_fd(d->blk.io), .events = POLLIN };
	uint32_t isr;
	int r;

	do
		r = poll(&p, 1, 10000);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		die("poll: %s", strerror(errno));
	if (r == 0)
		die("no completion in 10 s (%u in flight)", blk_io_inflight(d->blk.io));
	d->waits++;
	pthread_mutex_lock(&d->blk.dev.lock);
	virtio_blk_complete(&d->blk, false);
	pthread_mutex_unlock(&d->blk.dev.lock);
	/* vm_interrupt: read InterruptStatus, acknowledge it */
	if (d->m.irqs != d->last_irqs) {
		d->last_irqs = d->m.irqs;
		isr = mmio_rd(d, VIRTIO_MMIO_INTERRUPT_STATUS);
		mmio_wr(d, VIRTIO_MMIO_INTERRUPT_ACK, isr);
		if (isr & VIRTIO_INT_CONFIG)
			die("config interrupt: status %#x", mmio_rd(d, VIRTIO_MMIO_STATUS));
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static uint64_t parse_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);

	if (end == s)
		die("bad size %s", s);
	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		v <<= 20, end++;
	if (*end)
		die("bad size %s", s);
	return v;
}

int main(int argc, char **argv)
{
	static struct drv drv;
	struct drv *d = &drv;
	struct virtio_blk_opts o = { .io_kind = BLK_IO_AUTO };
	double secs = 10, t0, t1, c0, cpu, deadline;
	unsigned long max_ios = 0, done = 0;
	unsigned i;
	uint64_t ram;
	char err[512];
	bool direct = false;
	int c, r;

	d->qd = 32;
	d->rng = 1;
	while ((c = getopt(argc, argv, "m:b:q:t:n:g:k:dS:h")) != -1) {
		switch (c) {
		case 'm':
			for (r = 0; r < 4 && strcmp(optarg, mode_names[r]); r++)
				;
			if (r == 4)
				die("mode %s: randread, randwrite, read or write", optarg);
			d->mode = (enum mode)r;
			break;
		case 'b': d->bs = parse_size(optarg); break;
		case 'q': d->qd = (unsigned)strtoul(optarg, NULL, 0); break;
		case 't': secs = strtod(optarg, NULL); break;
		case 'n': max_ios = strtoul(optarg, NULL, 0); break;
		case 'g': d->seg = parse_size(optarg); break;
		case 'k': d->kick_every = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'd': direct = true; break;
		case 'S': d->rng = strtoull(optarg, NULL, 0) | 1; break;
		default:
			fprintf(stderr, "usage: blk_driver [-m randread|randwrite|read|write] "
				"[-b BS] [-q QD] [-t SECS | -n IOS] [-g SEG] [-k N] [-d] [-S SEED] FILE\n");
			return 2;
		}
	}
	if (optind != argc - 1)
		die("one FILE wanted (-h for usage)");
	if (!d->bs)
		d->bs = d->mode == RANDREAD || d->mode == RANDWRITE ? 4096 : 1 << 20;
	if (!d->seg)
		d->seg = d->bs;
	if (d->bs % 4096 || d->bs > (64ULL << 20) || d->seg % 4096 || d->bs % d->seg)
		die("-b and -g: multiples of 4 KiB, -g dividing -b, -b up to 64 MiB");
	/* the indirect table must fit in a request's control area */
	if (TBL_OFF + (d->bs / d->seg + 2) * sizeof(struct virtq_desc) > CTL_BYTES)
		die("-g: too many segments per request");
	if (d->qd < 1 || d->qd > QSIZE || !(secs > 0))
		die("-q 1..%d, -t above 0", QSIZE);

	ram = (DATA_GPA + d->qd * d->bs + ALIGN_2M - 1) & ~(ALIGN_2M - 1);
	if (ram < GM_MIN_SIZE)
		ram = GM_MIN_SIZE;
	if ((r = gm_init(&d->gm, ram)) < 0)
		die("guest RAM: %s", strerror(-r));
	if (blk_image_open(&d->img, argv[optind], false, direct, err, sizeof(err)) < 0)
		die("%s", err);
	o.path = argv[optind];
	o.direct = direct;
	r = virtio_blk_init(&d->blk, &d->gm, NULL, "blk0", d->img.fd, d->img.size,
			    d->img.logical_block, &o);
	if (r < 0)
		die("virtio_blk_init: %s", strerror(-r));
	if ((r = virtio_mmio_init(&d->m, &d->blk.dev, MMIO_BASE, 5)) < 0)
		die("virtio_mmio_init: %s", strerror(-r));
	d->avail = gpa(d, AVAIL_GPA, VIRTQ_AVAIL_BYTES(QSIZE));
	d->used = gpa(d, USED_GPA, VIRTQ_USED_BYTES(QSIZE));
	setup_device(d);
	setup_slots(d);

	c0 = cpu_s();
	t0 = now_s();
	deadline = max_ios ? 0 : t0 + secs;
	for (i = 0; i < d->qd && (!max_ios || i < max_ios); i++)
		queue_req(d, i);
	publish_and_kick(d);
	while (done < d->issued) {
		unsigned long budget;

		wait_completions(d);
		/* a duration: resubmit until the deadline; a count: up to it */
		if (max_ios)
			budget = max_ios - d->issued;
		else
			budget = now_s() < deadline ? ULONG_MAX : 0;
		done += reap_used(d, &budget);
		publish_and_kick(d);
	}
	t1 = now_s();
	cpu = cpu_s() - c0;

	printf("engine=%s mode=%s bs=%" PRIu64 " segs=%" PRIu64 " qd=%u direct=%d "
	       "ios=%lu secs=%.3f iops=%.0f mibps=%.1f cpu_s=%.3f us_per_io=%.2f "
	       "kicks=%lu irqs=%lu waits=%lu\n",
	       blk_io_kind_name(blk_io_kind(d->blk.io)), mode_names[d->mode], d->bs,
	       d->bs / d->seg, d->qd, direct, done, t1 - t0, done / (t1 - t0),
	       done * (double)d->bs / (t1 - t0) / (1 << 20), cpu,
	       cpu / (double)done * 1e6, d->kicks, d->m.irqs, d->waits);
	if (d->blk.errors || d->blk.rejected)
		die("device counted %lu errors, %lu rejected", d->blk.errors, d->blk.rejected);

	virtio_mmio_destroy(&d->m);
	virtio_blk_destroy(&d->blk);
	blk_image_close(&d->img);
	gm_destroy(&d->gm);
	return 0;
}
