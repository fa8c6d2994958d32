/* virtio-rng and virtio-console through the virtio-mmio transport on a
 * malloc'd guest RAM: rng fills writable buffers (capped per request) and
 * leaves readable ones alone; the console writes its transmit queue to an
 * fd, hands input to posted receive buffers and signals room_efd when the
 * driver posts more. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "nkvm/log.h"
#include "nkvm/virtio.h"
#include "nkvm/virtio_console.h"
#include "nkvm/virtio_mmio.h"
#include "nkvm/virtio_rng.h"
#include "nkvm/virtq.h"
#include "tap.h"
#include "vq_driver.h"

#define RAM_SIZE 0x40000ULL
#define Q0_DESC  0x0000ULL
#define Q0_AVAIL 0x1000ULL
#define Q0_USED  0x2000ULL
#define Q1_DESC  0x3000ULL
#define Q1_AVAIL 0x4000ULL
#define Q1_USED  0x5000ULL
#define DATA     0x8000ULL
#define BIG      0x10000ULL /* 128 KiB up to the end of RAM */

#define RNG_CAP 65536

/* The console driver: VERSION_1 only, receive and transmit queues of 8 on
 * cleared rings rx (at Q0) and tx (at Q1), DRIVER_OK. */
static void console_setup(struct virtio_mmio *m, struct ring *rx,
			  struct ring *tx)
{
	ring_init(rx, Q0_DESC, Q0_AVAIL, Q0_USED, 8);
	ring_init(tx, Q1_DESC, Q1_AVAIL, Q1_USED, 8);
	drv_negotiate(m, V1);
	drv_queue_ring(m, VIRTIO_CONSOLE_RXQ, rx);
	drv_queue_ring(m, VIRTIO_CONSOLE_TXQ, tx);
	drv_ok(m);
}

/* ---------------------------------------------------------------- */

static void test_rng(void)
{
	struct virtio_rng rng;
	struct virtio_mmio m;
	struct ring r;
	uint8_t first[64];
	uint16_t u = 0;

	if (virtio_rng_init(&rng, &gm, "rng0") ||
	    virtio_mmio_init(&m, &rng.dev, 0xd0000000, 5)) {
		ok(0, "rng init");
		return;
	}
	ring_init(&r, Q0_DESC, Q0_AVAIL, Q0_USED, 16);
	drv_negotiate(&m, V1);
	drv_queue_ring(&m, 0, &r);
	drv_ok(&m);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), ST_ALL, "rng: driver set up");

	memset(ram + DATA, 0, 0x1000);
	ring_desc(&r, 0, DATA, 256, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&r, 0);
	drv_kick(&m, 0);
	is_int(ring_used_idx(&r), ++u, "256-byte buffer used");
	ok(ring_used_id(&r, 0) == 0 && ring_used_len(&r, 0) == 256, "  used {0, 256}");
	ok(!all_zero(ram + DATA, 64) && !all_zero(ram + DATA + 192, 64),
	   "  filled (start and end not zero)");
	ok(all_zero(ram + DATA + 256, 64), "  nothing written past it");
	is_int(rng.bytes, 256, "  bytes counted");
	memcpy(first, ram + DATA, sizeof(first));
	is_int(efd_take(m.irq_fd), 1, "  interrupt");

	ring_desc(&r, 1, DATA, 64, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&r, 1);
	drv_kick(&m, 0);
	ok(ring_used_len(&r, 1) == 64 && memcmp(first, ram + DATA, 64) != 0,
	   "second request: different bytes");
	u++;

	memset(ram + DATA, 0, 0x1000);
	ring_desc(&r, 2, DATA, 100, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3);
	ring_desc(&r, 3, DATA + 0x200, 200, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 4);
	ring_desc(&r, 4, DATA + 0x400, 50, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&r, 2);
	drv_kick(&m, 0);
	is_int(ring_used_idx(&r), ++u, "3-segment writable chain used");
	ok(ring_used_id(&r, 2) == 2 && ring_used_len(&r, 2) == 350, "  used {2, 350}");
	ok(!all_zero(ram + DATA + 68, 32) && !all_zero(ram + DATA + 0x200 + 168, 32) &&
	   !all_zero(ram + DATA + 0x400 + 18, 32), "  every segment filled to its end");
	ok(all_zero(ram + DATA + 100, 0x100) && all_zero(ram + DATA + 0x400 + 50, 64),
	   "  gaps between segments untouched");

	/* readable only: nothing to fill */
	memset(ram + DATA, 0x5a, 128);
	ring_desc(&r, 5, DATA, 128, 0, 0);
	ring_offer(&r, 5);
	drv_kick(&m, 0);
	is_int(ring_used_idx(&r), ++u, "readable-only chain used");
	ok(ring_used_id(&r, 3) == 5 && ring_used_len(&r, 3) == 0, "  used {5, 0}");
	ok(all_byte(ram + DATA, 0x5a, 128), "  buffer untouched");

	/* readable then writable: only the writable part */
	memset(ram + DATA, 0x5a, 128);
	memset(ram + DATA + 0x200, 0, 128);
	ring_desc(&r, 6, DATA, 128, VIRTQ_DESC_F_NEXT, 7);
	ring_desc(&r, 7, DATA + 0x200, 96, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&r, 6);
	drv_kick(&m, 0);
	ok(ring_used_len(&r, 4) == 96 && all_byte(ram + DATA, 0x5a, 128) &&
	   !all_zero(ram + DATA + 0x200 + 64, 32) && all_zero(ram + DATA + 0x200 + 96, 32),
	   "readable + writable: 96 bytes, readable part untouched");
	u++;

	/* the per-request cap */
	memset(ram + BIG, 0, RAM_SIZE - BIG);
	ring_desc(&r, 8, BIG, 100 * 1024, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&r, 8);
	drv_kick(&m, 0);
	is_int(ring_used_idx(&r), ++u, "100 KiB buffer used");
	is_int(ring_used_len(&r, 5), RNG_CAP, "  capped at 64 KiB");
	ok(!all_zero(ram + BIG + RNG_CAP - 64, 64), "  filled up to 64 KiB");
	ok(all_zero(ram + BIG + RNG_CAP, 100 * 1024 - RNG_CAP), "  not beyond");

	memset(ram + BIG, 0, RAM_SIZE - BIG);
	ring_desc(&r, 9, BIG, 40 * 1024, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 10);
	ring_desc(&r, 10, BIG + 0x10000, 40 * 1024, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&r, 9);
	drv_kick(&m, 0);
	is_int(ring_used_len(&r, 6), RNG_CAP, "2 x 40 KiB: capped at 64 KiB");
	ok(!all_zero(ram + BIG + 40 * 1024 - 64, 64) &&
	   !all_zero(ram + BIG + 0x10000 + 24 * 1024 - 64, 64) &&
	   all_zero(ram + BIG + 0x10000 + 24 * 1024, 16 * 1024),
	   "  first segment whole, second up to 24 KiB");
	u++;
	is_int(rng.bytes, 256 + 64 + 350 + 96 + 2 * RNG_CAP, "bytes statistic");

	/* exactly 64 KiB */
	ring_desc(&r, 11, BIG, RNG_CAP, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&r, 11);
	drv_kick(&m, 0);
	is_int(ring_used_len(&r, 7), RNG_CAP, "exactly 64 KiB: all of it");
	u++;
	is_int(ring_used_idx(&r), u, "used idx %u", u);
	mmio_dev_destroy(&m, &rng.dev);
}

static void test_console_tx(void)
{
	struct virtio_console c;
	struct virtio_mmio m;
	struct ring rx, tx;
	char out[64];
	int p[2], efd, bad;
	ssize_t n;
	uint8_t b[4];

	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) {
		ok(0, "pipe");
		return;
	}
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (virtio_console_init(&c, &gm, "hvc0", p[1], efd) ||
	    virtio_mmio_init(&m, &c.dev, 0xd0000000, 5)) {
		ok(0, "console init");
		return;
	}
	is_int(mmio_rd(&m, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_CONSOLE, "console: DeviceID 3");
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_SEL, 1);
	is_int(mmio_rd(&m, VIRTIO_MMIO_QUEUE_NUM_MAX), 256, "  queue 1 exists");
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_SEL, 2);
	is_int(mmio_rd(&m, VIRTIO_MMIO_QUEUE_NUM_MAX), 0, "  queue 2 does not");
	memset(b, 0xaa, 4);
	virtio_mmio_access(&m, VIRTIO_MMIO_CONFIG + 8, b, 4, false);
	ok(all_zero(b, 4), "  config (12 bytes) reads zeroes");
	is_int(drv_device_features(&m, 0) & 0xffffff, 0,
	       "  no device-specific features (no multiport, no size)");

	console_setup(&m, &rx, &tx);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), ST_ALL, "console: driver set up");
	is_int(efd_take(efd), 0, "room_efd quiet after setup");

	memcpy(ram + DATA, "hello, ", 7);
	memcpy(ram + DATA + 0x100, "world\n", 6);
	ring_desc(&tx, 0, DATA, 7, VIRTQ_DESC_F_NEXT, 1);
	ring_desc(&tx, 1, DATA + 0x100, 6, 0, 0);
	ring_offer(&tx, 0);
	drv_kick(&m, VIRTIO_CONSOLE_TXQ);
	n = read(p[0], out, sizeof(out));
	ok(n == 13 && memcmp(out, "hello, world\n", 13) == 0,
	   "transmit: both segments written to out_fd in order");
	is_int(ring_used_idx(&tx), 1, "  used idx 1");
	ok(ring_used_id(&tx, 0) == 0 && ring_used_len(&tx, 0) == 0, "  used {0, 0}");
	is_int(c.tx_bytes, 13, "  tx_bytes");
	is_int(efd_take(m.irq_fd), 1, "  interrupt");
	is_int(efd_take(efd), 0, "  room_efd not signalled by a tx kick");

	/* three chains in one kick, and a writable descriptor ignored */
	memcpy(ram + DATA, "one ", 4);
	memcpy(ram + DATA + 0x10, "two ", 4);
	memcpy(ram + DATA + 0x20, "three", 5);
	memset(ram + DATA + 0x30, 'X', 8);
	ring_desc(&tx, 2, DATA, 4, 0, 0);
	ring_desc(&tx, 3, DATA + 0x10, 4, VIRTQ_DESC_F_NEXT, 4);
	ring_desc(&tx, 4, DATA + 0x30, 8, VIRTQ_DESC_F_WRITE, 0);
	ring_desc(&tx, 5, DATA + 0x20, 5, 0, 0);
	ring_offer(&tx, 2);
	ring_offer(&tx, 3);
	ring_offer(&tx, 5);
	drv_kick(&m, VIRTIO_CONSOLE_TXQ);
	n = read(p[0], out, sizeof(out));
	ok(n == 13 && memcmp(out, "one two three", 13) == 0,
	   "3 chains in one kick, in order, writable part not sent");
	ok(ring_used_idx(&tx) == 4 && ring_used_id(&tx, 1) == 2 && ring_used_id(&tx, 2) == 3 &&
	   ring_used_id(&tx, 3) == 5, "  used in order");
	ok(all_byte(ram + DATA + 0x30, 'X', 8), "  writable buffer untouched");

	/* output errors drop the data but the buffer is still returned */
	bad = open("/dev/null", O_RDONLY | O_CLOEXEC);
	c.out_fd = bad;
	ring_desc(&tx, 6, DATA, 4, 0, 0);
	ring_offer(&tx, 6);
	drv_kick(&m, VIRTIO_CONSOLE_TXQ);
	is_int(c.tx_errors, 1, "write error counted");
	ok(ring_used_idx(&tx) == 5 && ring_used_id(&tx, 4) == 6, "  buffer returned anyway");
	c.out_fd = p[1];
	close(bad);

	/* a kick on the receive queue signals room_efd */
	drv_kick(&m, VIRTIO_CONSOLE_RXQ);
	is_int(efd_take(efd), 1, "rx kick signals room_efd");
	drv_kick(&m, VIRTIO_CONSOLE_RXQ);
	drv_kick(&m, VIRTIO_CONSOLE_RXQ);
	is_int(efd_take(efd), 2, "  every time");
	c.room_efd = -1;
	drv_kick(&m, VIRTIO_CONSOLE_RXQ);
	ok(1, "rx kick with no room_efd: no crash");
	c.room_efd = efd;

	mmio_dev_destroy(&m, &c.dev);
	close(p[0]);
	close(p[1]);
	close(efd);
}

static void test_console_rx(void)
{
	struct virtio_console c;
	struct virtio_mmio m;
	struct ring rx, tx;
	int efd;

	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (virtio_console_init(&c, &gm, "hvc0", -1, efd) ||
	    virtio_mmio_init(&m, &c.dev, 0xd0000000, 5)) {
		ok(0, "console init");
		return;
	}
	is_int(virtio_console_input(&c, (const uint8_t *)"abc", 3), 0,
	       "input before the driver is ready: 0 taken");
	console_setup(&m, &rx, &tx);
	efd_take(m.irq_fd);
	is_int(virtio_console_input(&c, (const uint8_t *)"abc", 3), 0,
	       "input with no receive buffer posted: 0 taken");
	ok(efd_take(m.irq_fd) == 0 && mmio_rd(&m, VIRTIO_MMIO_INTERRUPT_STATUS) == 0,
	   "  no interrupt");

	memset(ram + DATA, '.', 0x100);
	ring_desc(&rx, 0, DATA, 4, VIRTQ_DESC_F_WRITE, 0);
	ring_desc(&rx, 1, DATA + 0x10, 8, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&rx, 0);
	ring_offer(&rx, 1);
	drv_kick(&m, VIRTIO_CONSOLE_RXQ);
	is_int(efd_take(efd), 1, "posting rx buffers signals room_efd");
	is_int(virtio_console_input(&c, (const uint8_t *)"abcdefghijklmnop", 16), 12,
	       "16 bytes into 4 + 8 bytes of buffers: 12 taken");
	ok(memcmp(ram + DATA, "abcd.", 5) == 0 && memcmp(ram + DATA + 0x10, "efghijkl.", 9) == 0,
	   "  bytes in the buffers, nothing past them");
	ok(ring_used_idx(&rx) == 2 && ring_used_id(&rx, 0) == 0 && ring_used_len(&rx, 0) == 4 &&
	   ring_used_id(&rx, 1) == 1 && ring_used_len(&rx, 1) == 8, "  used {0, 4}, {1, 8}");
	is_int(c.rx_bytes, 12, "  rx_bytes");
	is_int(efd_take(m.irq_fd), 1, "  one interrupt");
	is_int(mmio_rd(&m, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_VRING, "  ISR bit 0");
	mmio_wr(&m, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_VRING);
	is_int(virtio_console_input(&c, (const uint8_t *)"mnop", 4), 0,
	       "  the rest: no buffer left, 0 taken");

	/* a short input into a bigger buffer, then a 2-segment buffer */
	ring_desc(&rx, 2, DATA + 0x20, 8, VIRTQ_DESC_F_WRITE, 0);
	ring_desc(&rx, 3, DATA + 0x30, 2, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 4);
	ring_desc(&rx, 4, DATA + 0x40, 3, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&rx, 2);
	ring_offer(&rx, 3);
	is_int(virtio_console_input(&c, (const uint8_t *)"xyz", 3), 3, "3 bytes into 8: 3 taken");
	ok(ring_used_idx(&rx) == 3 && ring_used_len(&rx, 2) == 3 &&
	   memcmp(ram + DATA + 0x20, "xyz.", 4) == 0,
	   "  used length 3, one buffer consumed");
	is_int(virtio_console_input(&c, (const uint8_t *)"12345678", 8), 5,
	   "8 bytes into a 2 + 3 byte chain: 5 taken");
	ok(memcmp(ram + DATA + 0x30, "12.", 3) == 0 && memcmp(ram + DATA + 0x40, "345.", 4) == 0,
	   "  split across the segments");
	ok(ring_used_idx(&rx) == 4 && ring_used_id(&rx, 3) == 3 && ring_used_len(&rx, 3) == 5,
	   "  used {3, 5}");
	is_int(virtio_console_input(&c, (const uint8_t *)"q", 0), 0, "empty input: 0");

	/* a malformed receive ring */
	ring_desc(&rx, 5, RAM_SIZE - 2, 4, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&rx, 5);
	is_int(virtio_console_input(&c, (const uint8_t *)"zz", 2), 0,
	       "buffer outside RAM: 0 taken");
	ok(mmio_rd(&m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET, "  NEEDS_RESET");
	ring_desc(&rx, 6, DATA, 8, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&rx, 6);
	is_int(virtio_console_input(&c, (const uint8_t *)"zz", 2), 0,
	       "  and nothing taken until reset");
	mmio_dev_destroy(&m, &c.dev);
	close(efd);
}

int main(void)
{
	log_threshold = LOG_ERR;
	if (ram_alloc(RAM_SIZE))
		return 1;

	test_rng();
	test_console_tx();
	test_console_rx();

	ram_free();
	return done_testing();
}
