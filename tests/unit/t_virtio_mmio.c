/* virtio-mmio v2 transport through its register window, as a driver would
 * drive it: identification, feature words, the status state machine, queue
 * setup and its refusals, odd accesses, config space, kicks, interrupts,
 * reset, DEVICE_NEEDS_RESET and malformed rings posted to virtio-rng. A
 * fake device (config space, counters) and the real virtio-rng. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "nkvm/log.h"
#include "nkvm/virtio.h"
#include "nkvm/virtio_mmio.h"
#include "nkvm/virtio_rng.h"
#include "nkvm/virtq.h"
#include "tap.h"
#include "vq_driver.h"

#define RAM_SIZE 0x10000ULL
#define Q0_DESC  0x0000ULL
#define Q0_AVAIL 0x1000ULL
#define Q0_USED  0x2000ULL
#define Q1_DESC  0x3000ULL
#define Q1_AVAIL 0x4000ULL
#define Q1_USED  0x5000ULL
#define DATA     0x8000ULL

#define FAKE_ID       0x1f
#define FAKE_FEATURES ((1ULL << 3) | (1ULL << 5))
#define FAKE_QMAX     64
#define FAKE_CFG      8

/* ---- a fake device: counts its callbacks, has 8 bytes of config ---- */

struct fake {
	struct virtio_dev dev;
	uint8_t cfg[FAKE_CFG];
	unsigned notifies[2], starts, resets, cfg_reads, cfg_writes;
	int start_ret;
};

static void fake_config_read(struct virtio_dev *d, uint32_t off, void *buf,
			     unsigned len)
{
	struct fake *f = d->priv;

	f->cfg_reads++;
	memcpy(buf, f->cfg + off, len);
}

static void fake_config_write(struct virtio_dev *d, uint32_t off,
			      const void *buf, unsigned len)
{
	struct fake *f = d->priv;

	f->cfg_writes++;
	memcpy(f->cfg + off, buf, len);
}

static int fake_start(struct virtio_dev *d)
{
	struct fake *f = d->priv;

	f->starts++;
	return f->start_ret;
}

static void fake_reset(struct virtio_dev *d)
{
	struct fake *f = d->priv;

	f->resets++;
}

static void fake_notify(struct virtio_dev *d, unsigned q)
{
	struct fake *f = d->priv;

	if (q < 2)
		f->notifies[q]++;
}

static const struct virtio_dev_ops fake_ops = {
	.config_read = fake_config_read,
	.config_write = fake_config_write,
	.start = fake_start,
	.reset = fake_reset,
	.notify = fake_notify,
};

static int fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	for (unsigned i = 0; i < FAKE_CFG; i++)
		f->cfg[i] = (uint8_t)(0x11 * (i + 1));
	f->dev.name = "fake";
	f->dev.device_id = FAKE_ID;
	f->dev.features = FAKE_FEATURES;
	f->dev.config_size = FAKE_CFG;
	f->dev.nr_queues = 2;
	f->dev.queue_max = FAKE_QMAX;
	f->dev.ops = &fake_ops;
	f->dev.priv = f;
	return virtio_dev_init(&f->dev, &gm);
}

/* The fake device behind a window at 0xd0000000, irq 5; false (and a
 * failed check) when either does not come up. */
static bool fake_open(struct fake *f, struct virtio_mmio *m)
{
	if (fake_init(f) || virtio_mmio_init(m, &f->dev, 0xd0000000, 5)) {
		ok(0, "fake device init");
		return false;
	}
	return true;
}

static void efd_poke(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) != sizeof(one))
		diag("eventfd write failed");
}

/* ---------------------------------------------------------------- */

static void test_dev_init(void)
{
	struct fake f;

	fake_init(&f);
	virtio_dev_destroy(&f.dev);
	memset(&f, 0, sizeof(f));
	f.dev.ops = &fake_ops;
	f.dev.nr_queues = 1;
	f.dev.queue_max = 48;
	is_int(virtio_dev_init(&f.dev, &gm), -EINVAL, "dev init: queue_max 48 refused");
	f.dev.queue_max = 2048;
	is_int(virtio_dev_init(&f.dev, &gm), -EINVAL, "dev init: queue_max 2048 refused");
	f.dev.queue_max = 64;
	f.dev.nr_queues = 0;
	is_int(virtio_dev_init(&f.dev, &gm), -EINVAL, "dev init: no queues refused");
	f.dev.nr_queues = VIRTIO_MAX_QUEUES + 1;
	is_int(virtio_dev_init(&f.dev, &gm), -EINVAL, "dev init: too many queues refused");
	f.dev.nr_queues = 1;
	f.dev.ops = NULL;
	is_int(virtio_dev_init(&f.dev, &gm), -EINVAL, "dev init: no ops refused");
}

static void test_ident(void)
{
	struct fake f;
	struct virtio_mmio m;

	if (!fake_open(&f, &m))
		return;
	is_int(mmio_rd(&m, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976, "MagicValue \"virt\"");
	is_int(mmio_rd(&m, VIRTIO_MMIO_VERSION), 2, "Version 2");
	is_int(mmio_rd(&m, VIRTIO_MMIO_DEVICE_ID), FAKE_ID, "DeviceID");
	is_int(mmio_rd(&m, VIRTIO_MMIO_VENDOR_ID), 0x4d564b4e, "VendorID");
	mmio_wr(&m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	is_int(mmio_rd(&m, VIRTIO_MMIO_DEVICE_FEATURES),
	       FAKE_FEATURES | (1u << VIRTIO_F_INDIRECT_DESC) | (1u << VIRTIO_F_EVENT_IDX),
	       "DeviceFeatures word 0: device bits, INDIRECT (28), EVENT_IDX (29)");
	mmio_wr(&m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	is_int(mmio_rd(&m, VIRTIO_MMIO_DEVICE_FEATURES), 1, "word 1: VERSION_1 (bit 32)");
	mmio_wr(&m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	is_int(mmio_rd(&m, VIRTIO_MMIO_DEVICE_FEATURES), 0, "word 2: 0");
	mmio_wr(&m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0xffffffff);
	is_int(mmio_rd(&m, VIRTIO_MMIO_DEVICE_FEATURES), 0, "word 0xffffffff: 0");
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), 0, "initial status 0");
	is_int(mmio_rd(&m, VIRTIO_MMIO_INTERRUPT_STATUS), 0, "initial InterruptStatus 0");
	is_int(mmio_rd(&m, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff, "SHMLen: no region (all ones)");
	is_int(mmio_rd(&m, VIRTIO_MMIO_SHM_LEN_HIGH), 0xffffffff, "  high word too");
	mmio_wr(&m, VIRTIO_MMIO_MAGIC_VALUE, 0);
	mmio_wr(&m, VIRTIO_MMIO_DEVICE_ID, 7);
	ok(mmio_rd(&m, VIRTIO_MMIO_MAGIC_VALUE) == 0x74726976 &&
	   mmio_rd(&m, VIRTIO_MMIO_DEVICE_ID) == FAKE_ID, "read-only registers ignore writes");
	is_int(mmio_rd(&m, 0x0f0), 0, "unknown register reads 0");
	is_int(mmio_rd(&m, VIRTIO_MMIO_QUEUE_NOTIFY), 0, "write-only QueueNotify reads 0");
	mmio_dev_destroy(&m, &f.dev);
}

static void test_status(void)
{
	uint64_t want = FAKE_FEATURES | V1 | (1ULL << VIRTIO_F_EVENT_IDX);
	struct fake f;
	struct virtio_mmio m;

	if (!fake_open(&f, &m))
		return;
	mmio_wr(&m, VIRTIO_MMIO_STATUS, ST_ACK);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), ST_ACK, "ACKNOWLEDGE");
	mmio_wr(&m, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), ST_ACK | ST_DRV, "DRIVER");
	drv_features(&m, want);
	ok(f.dev.guest_features == want, "driver features stored from both words");
	mmio_wr(&m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 2);
	mmio_wr(&m, VIRTIO_MMIO_DRIVER_FEATURES, 0xffffffff);
	ok(f.dev.guest_features == want, "driver features word 2 ignored");
	mmio_wr(&m, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV | ST_FOK);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), ST_ACK | ST_DRV | ST_FOK,
	       "FEATURES_OK accepted and reads back");
	ok(virtio_has(&f.dev, VIRTIO_F_EVENT_IDX) && virtio_has(&f.dev, 5) &&
	   !virtio_has(&f.dev, VIRTIO_F_INDIRECT_DESC), "  virtio_has agrees");
	mmio_wr(&m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	mmio_wr(&m, VIRTIO_MMIO_DRIVER_FEATURES, 0);
	mmio_wr(&m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	mmio_wr(&m, VIRTIO_MMIO_DRIVER_FEATURES, 0);
	ok(f.dev.guest_features == want, "features written after FEATURES_OK ignored");
	mmio_wr(&m, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), ST_ACK | ST_DRV | ST_FOK,
	       "clearing FEATURES_OK (not by reset) ignored");
	mmio_wr(&m, VIRTIO_MMIO_STATUS, 0x1ff);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), ST_ACK | ST_DRV | ST_FOK,
	       "status value > 0xff ignored");
	is_int(f.starts, 0, "start not called yet");
	mmio_wr(&m, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV | ST_FOK | ST_DOK);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), ST_ACK | ST_DRV | ST_FOK | ST_DOK,
	       "DRIVER_OK after FEATURES_OK");
	is_int(f.starts, 1, "  start called once");
	mmio_wr(&m, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV | ST_FOK | ST_DOK);
	is_int(f.starts, 1, "  rewriting the same status does not start again");

	/* a driver without VERSION_1 (legacy) */
	is_int(drv_negotiate(&m, FAKE_FEATURES), ST_ACK | ST_DRV,
	       "no VERSION_1: FEATURES_OK refused (reads back without it)");
	is_int(f.resets, 1, "  status 0 called the device's reset");
	mmio_wr(&m, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV | ST_DOK);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), ST_ACK | ST_DRV,
	       "DRIVER_OK without FEATURES_OK ignored");
	is_int(f.starts, 1, "  start not called");
	mmio_wr(&m, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV | ST_FOK | ST_DOK);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), ST_ACK | ST_DRV,
	       "FEATURES_OK|DRIVER_OK together, still no VERSION_1: both refused");
	is_int(f.starts, 1, "  start not called");

	/* features that were not offered */
	is_int(drv_negotiate(&m, V1 | (1ULL << 1)), ST_ACK | ST_DRV,
	       "unoffered feature bit 1 accepted: FEATURES_OK refused");
	is_int(drv_negotiate(&m, V1 | (1ULL << 33)), ST_ACK | ST_DRV,
	       "unoffered feature bit 33: refused");
	is_int(drv_negotiate(&m, V1 | (1ULL << 63)), ST_ACK | ST_DRV,
	       "unoffered feature bit 63: refused");
	is_int(drv_negotiate(&m, V1), ST_ACK | ST_DRV | ST_FOK,
	       "VERSION_1 alone: accepted");
	is_int(drv_negotiate(&m, V1 | FAKE_FEATURES | (1ULL << VIRTIO_F_INDIRECT_DESC) |
			     (1ULL << VIRTIO_F_EVENT_IDX)),
	       ST_ACK | ST_DRV | ST_FOK, "everything offered: accepted");

	/* a device whose start fails */
	f.start_ret = -EIO;
	mmio_wr(&m, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV | ST_FOK | ST_DOK);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), ST_ACK | ST_DRV | ST_FOK | ST_DOK | ST_NR,
	       "start failing: DEVICE_NEEDS_RESET");
	is_int(mmio_rd(&m, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG,
	       "  config interrupt");
	f.start_ret = 0;
	mmio_wr(&m, VIRTIO_MMIO_STATUS, 0);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), 0, "reset clears it");
	is_int(mmio_rd(&m, VIRTIO_MMIO_INTERRUPT_STATUS), 0, "  and the ISR");
	ok(f.dev.guest_features == 0, "  and the driver features");
	mmio_dev_destroy(&m, &f.dev);
}

static void test_queue_setup(void)
{
	struct fake f;
	struct virtio_mmio m;

	if (!fake_open(&f, &m))
		return;
	mmio_wr(&m, VIRTIO_MMIO_STATUS, ST_ACK);
	mmio_wr(&m, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV);
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_SEL, 0);
	is_int(mmio_rd(&m, VIRTIO_MMIO_QUEUE_NUM_MAX), FAKE_QMAX, "QueueNumMax q0");
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_SEL, 1);
	is_int(mmio_rd(&m, VIRTIO_MMIO_QUEUE_NUM_MAX), FAKE_QMAX, "QueueNumMax q1");
	is_int(mmio_rd(&m, VIRTIO_MMIO_QUEUE_READY), 0, "QueueReady 0 initially");
	is_int(drv_queue(&m, 0, 16, Q0_DESC, Q0_AVAIL, Q0_USED), 0,
	       "QueueReady before FEATURES_OK refused");
	drv_features(&m, V1);
	mmio_wr(&m, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV | ST_FOK);

	is_int(drv_queue(&m, 0, FAKE_QMAX * 2, Q0_DESC, Q0_AVAIL, Q0_USED), 0,
	       "QueueNum > max refused");
	is_int(drv_queue(&m, 0, 48, Q0_DESC, Q0_AVAIL, Q0_USED), 0,
	       "QueueNum 48 (not a power of two) refused");
	is_int(drv_queue(&m, 0, 0, Q0_DESC, Q0_AVAIL, Q0_USED), 0, "QueueNum 0 refused");
	is_int(drv_queue(&m, 0, 0x10010, Q0_DESC, Q0_AVAIL, Q0_USED), 0,
	       "QueueNum 0x10010 (above 16 bits) refused");
	is_int(drv_queue(&m, 0, 16, Q0_DESC + 8, Q0_AVAIL, Q0_USED), 0,
	       "misaligned descriptor table refused");
	is_int(drv_queue(&m, 0, 16, Q0_DESC, Q0_AVAIL + 1, Q0_USED), 0,
	       "misaligned avail ring refused");
	is_int(drv_queue(&m, 0, 16, Q0_DESC, Q0_AVAIL, Q0_USED + 2), 0,
	       "misaligned used ring refused");
	is_int(drv_queue(&m, 0, 16, RAM_SIZE, Q0_AVAIL, Q0_USED), 0,
	       "descriptor table outside RAM refused");
	is_int(drv_queue(&m, 0, 16, Q0_DESC, RAM_SIZE - 16, Q0_USED), 0,
	       "avail ring crossing the end of RAM refused");
	is_int(drv_queue(&m, 0, 16, Q0_DESC, Q0_AVAIL, Q0_USED | (1ULL << 32)), 0,
	       "used ring above 4 GiB (high word) refused");
	ok(!f.dev.vq[0].ready, "  engine queue not ready");

	is_int(drv_queue(&m, 0, 16, Q0_DESC, Q0_AVAIL, Q0_USED), 1,
	       "valid setup: QueueReady reads 1");
	ok(f.dev.vq[0].ready && f.dev.vq[0].size == 16 &&
	   f.dev.vq[0].desc_gpa == Q0_DESC && f.dev.vq[0].avail_gpa == Q0_AVAIL &&
	   f.dev.vq[0].used_gpa == Q0_USED, "  engine queue has size and addresses");
	ok(mmio_rd(&m, VIRTIO_MMIO_QUEUE_DESC_LOW) == Q0_DESC &&
	   mmio_rd(&m, VIRTIO_MMIO_QUEUE_AVAIL_LOW) == Q0_AVAIL &&
	   mmio_rd(&m, VIRTIO_MMIO_QUEUE_USED_LOW) == Q0_USED &&
	   mmio_rd(&m, VIRTIO_MMIO_QUEUE_USED_HIGH) == 0, "  address registers read back");

	/* not writable while ready */
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_NUM, 32);
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x7000);
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 1);
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_USED_LOW, 0x6000);
	ok(m.qcfg[0].num == 16 && m.qcfg[0].desc == Q0_DESC &&
	   m.qcfg[0].avail == Q0_AVAIL && m.qcfg[0].used == Q0_USED,
	   "queue registers not writable while ready");
	is_int(mmio_rd(&m, VIRTIO_MMIO_QUEUE_DESC_LOW), Q0_DESC, "  DescLow unchanged");
	ok(f.dev.vq[0].size == 16 && f.dev.vq[0].desc_gpa == Q0_DESC,
	   "  engine queue unchanged");
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_READY, 1);
	ok(f.dev.vq[0].ready && f.dev.vq[0].size == 16, "QueueReady 1 again: no-op");

	/* the other queue is independent */
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_SEL, 1);
	is_int(mmio_rd(&m, VIRTIO_MMIO_QUEUE_READY), 0, "q1 still not ready");
	is_int(drv_queue(&m, 1, 64, Q1_DESC, Q1_AVAIL, Q1_USED), 1, "q1 size 64 (max) ready");
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_SEL, 0);
	is_int(mmio_rd(&m, VIRTIO_MMIO_QUEUE_READY), 1, "q0 still ready");
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_READY, 0);
	is_int(mmio_rd(&m, VIRTIO_MMIO_QUEUE_READY), 0, "QueueReady 0 takes q0 down");
	ok(!f.dev.vq[0].ready && f.dev.vq[1].ready, "  q1 untouched");
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_NUM, 8);
	is_int(m.qcfg[0].num, 8, "  then QueueNum writable again");

	/* QueueSel out of range */
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_SEL, 2);
	ok(mmio_rd(&m, VIRTIO_MMIO_QUEUE_NUM_MAX) == 0 &&
	   mmio_rd(&m, VIRTIO_MMIO_QUEUE_READY) == 0 &&
	   mmio_rd(&m, VIRTIO_MMIO_QUEUE_DESC_LOW) == 0 &&
	   mmio_rd(&m, VIRTIO_MMIO_QUEUE_USED_HIGH) == 0,
	   "QueueSel 2 (of 2): NumMax, Ready, addresses read 0");
	drv_queue(&m, 2, 16, Q1_DESC, Q1_AVAIL, Q1_USED);
	ok(!f.dev.vq[2].ready && m.qcfg[2].num == 0 && m.qcfg[2].desc == 0 &&
	   m.qcfg[2].used == 0, "  writes ignored, no queue made ready");
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_SEL, 0xffffffff);
	ok(mmio_rd(&m, VIRTIO_MMIO_QUEUE_NUM_MAX) == 0 && mmio_rd(&m, VIRTIO_MMIO_QUEUE_READY) == 0,
	   "QueueSel 0xffffffff reads 0");
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_NUM, 16);
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_READY, 1);
	ok(f.dev.vq[1].ready && !f.dev.vq[0].ready, "  writes ignored");
	virtio_mmio_destroy(&m);
	ok(!f.dev.vq[1].ready && f.dev.status == 0, "virtio_mmio_destroy resets the device");
	virtio_dev_destroy(&f.dev);
}

static void test_odd_access(void)
{
	struct fake f;
	struct virtio_mmio m;
	uint8_t b[8];

	if (!fake_open(&f, &m))
		return;
	memset(b, 0xaa, sizeof(b));
	virtio_mmio_access(&m, VIRTIO_MMIO_MAGIC_VALUE, b, 2, false);
	ok(b[0] == 0 && b[1] == 0 && b[2] == 0xaa, "2-byte register read: zeroes, 2 bytes");
	memset(b, 0xaa, sizeof(b));
	virtio_mmio_access(&m, VIRTIO_MMIO_MAGIC_VALUE, b, 1, false);
	ok(b[0] == 0 && b[1] == 0xaa, "1-byte register read: zero");
	memset(b, 0xaa, sizeof(b));
	virtio_mmio_access(&m, VIRTIO_MMIO_MAGIC_VALUE, b, 8, false);
	ok(all_zero(b, 8), "8-byte register read: zeroes");
	memset(b, 0xaa, sizeof(b));
	virtio_mmio_access(&m, VIRTIO_MMIO_MAGIC_VALUE + 2, b, 4, false);
	ok(all_zero(b, 4), "misaligned 4-byte read: zeroes");
	b[0] = ST_ACK;
	virtio_mmio_access(&m, VIRTIO_MMIO_STATUS, b, 1, true);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), 0, "1-byte status write ignored");
	b[0] = ST_ACK;
	b[1] = 0;
	virtio_mmio_access(&m, VIRTIO_MMIO_STATUS, b, 2, true);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), 0, "2-byte status write ignored");
	memset(b, 0, sizeof(b));
	b[0] = ST_ACK;
	virtio_mmio_access(&m, VIRTIO_MMIO_STATUS, b, 8, true);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), 0, "8-byte status write ignored");
	memset(b, 0, sizeof(b));
	b[2] = 1;
	virtio_mmio_access(&m, VIRTIO_MMIO_STATUS - 2, b, 4, true);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), 0, "misaligned 4-byte write ignored");

	/* config space: 8 bytes 11 22 .. 88 */
	memset(b, 0xaa, sizeof(b));
	virtio_mmio_access(&m, VIRTIO_MMIO_CONFIG, b, 4, false);
	ok(b[0] == 0x11 && b[1] == 0x22 && b[2] == 0x33 && b[3] == 0x44,
	   "config read 4 bytes at 0");
	memset(b, 0xaa, sizeof(b));
	virtio_mmio_access(&m, VIRTIO_MMIO_CONFIG + 7, b, 1, false);
	ok(b[0] == 0x88 && b[1] == 0xaa, "config read 1 byte at 7 (the last)");
	virtio_mmio_access(&m, VIRTIO_MMIO_CONFIG + 2, b, 2, false);
	ok(b[0] == 0x33 && b[1] == 0x44, "config read 2 bytes at 2 (any width)");
	virtio_mmio_access(&m, VIRTIO_MMIO_CONFIG, b, 8, false);
	ok(memcmp(b, f.cfg, 8) == 0, "config read 8 bytes at 0");
	f.cfg_reads = 0;
	memset(b, 0xaa, sizeof(b));
	virtio_mmio_access(&m, VIRTIO_MMIO_CONFIG + 6, b, 4, false);
	ok(all_zero(b, 4), "config read crossing the end: zeroes");
	memset(b, 0xaa, sizeof(b));
	virtio_mmio_access(&m, VIRTIO_MMIO_CONFIG + 8, b, 4, false);
	ok(all_zero(b, 4), "config read just beyond: zeroes");
	memset(b, 0xaa, sizeof(b));
	virtio_mmio_access(&m, VIRTIO_MMIO_SIZE - 4, b, 4, false);
	ok(all_zero(b, 4), "config read at the end of the window: zeroes");
	memset(b, 0xaa, sizeof(b));
	virtio_mmio_access(&m, UINT64_MAX - 1, b, 4, false);
	ok(all_zero(b, 4), "config read at offset 2^64-2: zeroes");
	is_int(f.cfg_reads, 0, "  the device's config_read never called for them");
	b[0] = 0xde;
	b[1] = 0xad;
	virtio_mmio_access(&m, VIRTIO_MMIO_CONFIG + 2, b, 2, true);
	ok(f.cfg[2] == 0xde && f.cfg[3] == 0xad && f.cfg[4] == 0x55,
	   "config write 2 bytes at 2 reaches the device");
	f.cfg_writes = 0;
	virtio_mmio_access(&m, VIRTIO_MMIO_CONFIG + 6, b, 4, true);
	virtio_mmio_access(&m, VIRTIO_MMIO_CONFIG + 8, b, 1, true);
	ok(f.cfg_writes == 0 && f.cfg[6] == 0x77 && f.cfg[7] == 0x88,
	   "config writes beyond config_size dropped");
	is_int(mmio_rd(&m, VIRTIO_MMIO_CONFIG_GENERATION), 0, "ConfigGeneration 0");
	mmio_dev_destroy(&m, &f.dev);
}

static void test_notify_kick(void)
{
	struct fake f;
	struct virtio_mmio m;

	if (!fake_open(&f, &m))
		return;
	ok(m.kick_fd[0] >= 0 && m.kick_fd[1] >= 0 && m.kick_fd[2] == -1 && m.irq_fd >= 0,
	   "eventfds for the 2 queues and the interrupt");
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	is_int(efd_take(m.kick_fd[0]), 1, "QueueNotify 0 signals kick_fd[0]");
	is_int(efd_take(m.kick_fd[1]), 0, "  not kick_fd[1]");
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	is_int(efd_take(m.kick_fd[1]), 2, "two QueueNotify 1: counter 2");
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_NOTIFY, 2);
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_NOTIFY, 0x10000);
	ok(efd_take(m.kick_fd[0]) == 0 && efd_take(m.kick_fd[1]) == 0,
	   "QueueNotify for nonexistent queues signals nothing");
	is_int(f.notifies[0] + f.notifies[1], 0, "  and the device is not called from the vCPU");

	/* virtio_mmio_kick: only when DRIVER_OK and the queue is ready */
	is_int(drv_negotiate(&m, V1), ST_ACK | ST_DRV | ST_FOK, "negotiated");
	is_int(drv_queue(&m, 0, 16, Q0_DESC, Q0_AVAIL, Q0_USED), 1, "q0 ready");
	efd_poke(m.kick_fd[0]);
	virtio_mmio_kick(&m, 0);
	is_int(f.notifies[0], 0, "kick before DRIVER_OK: notify not called");
	is_int(efd_take(m.kick_fd[0]), 0, "  but the eventfd was drained");
	drv_ok(&m);
	efd_poke(m.kick_fd[0]);
	virtio_mmio_kick(&m, 0);
	is_int(f.notifies[0], 1, "kick after DRIVER_OK, ready queue: notify called");
	is_int(m.kicks, 2, "  every drained kick counted");
	virtio_mmio_kick(&m, 0);
	is_int(f.notifies[0], 1, "kick with the eventfd empty: not called");
	efd_poke(m.kick_fd[1]);
	virtio_mmio_kick(&m, 1);
	is_int(f.notifies[1], 0, "kick on a queue not ready: not called");
	virtio_mmio_kick(&m, 2);
	virtio_mmio_kick(&m, 1000);
	ok(f.notifies[0] == 1 && f.notifies[1] == 0, "kick of nonexistent queues: nothing");
	is_int(drv_queue(&m, 1, 16, Q1_DESC, Q1_AVAIL, Q1_USED), 1, "q1 ready after DRIVER_OK");
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	virtio_mmio_kick(&m, 1);
	is_int(f.notifies[1], 1, "QueueNotify then kick: notify(1)");

	pthread_mutex_lock(&f.dev.lock);
	virtio_fail(&f.dev, "test");
	pthread_mutex_unlock(&f.dev.lock);
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	virtio_mmio_kick(&m, 0);
	is_int(f.notifies[0], 1, "kick after NEEDS_RESET: not called");
	mmio_dev_destroy(&m, &f.dev);
}

static void test_fail(void)
{
	struct fake f;
	struct virtio_mmio m;
	uint32_t st = ST_ALL;

	if (!fake_open(&f, &m))
		return;
	drv_negotiate(&m, V1);
	pthread_mutex_lock(&f.dev.lock);
	virtio_fail(&f.dev, "before DRIVER_OK");
	pthread_mutex_unlock(&f.dev.lock);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), ST_ACK | ST_DRV | ST_FOK | ST_NR,
	       "virtio_fail before DRIVER_OK: NEEDS_RESET");
	is_int(mmio_rd(&m, VIRTIO_MMIO_INTERRUPT_STATUS), 0, "  no config interrupt");
	is_int(efd_take(m.irq_fd), 0, "  irq eventfd quiet");
	is_int(f.dev.violations, 1, "  counted");

	drv_negotiate(&m, V1);
	drv_queue(&m, 0, 16, Q0_DESC, Q0_AVAIL, Q0_USED);
	drv_ok(&m);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), st, "fresh setup, DRIVER_OK");
	efd_take(m.irq_fd);
	pthread_mutex_lock(&f.dev.lock);
	ok(virtio_queue_live(&f.dev, 0), "queue live");
	virtio_fail(&f.dev, "test failure");
	ok(!virtio_queue_live(&f.dev, 0), "  not live after virtio_fail");
	pthread_mutex_unlock(&f.dev.lock);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), st | ST_NR, "virtio_fail: NEEDS_RESET (64) set");
	is_int(mmio_rd(&m, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG,
	       "  InterruptStatus bit 1 (config)");
	is_int(efd_take(m.irq_fd), 1, "  irq eventfd signalled");
	is_int(mmio_rd(&m, VIRTIO_MMIO_CONFIG_GENERATION), 1, "  ConfigGeneration bumped");
	pthread_mutex_lock(&f.dev.lock);
	virtio_fail(&f.dev, "again");
	pthread_mutex_unlock(&f.dev.lock);
	is_int(efd_take(m.irq_fd), 0, "second virtio_fail: no second interrupt");
	is_int(f.dev.violations, 3, "  but counted");
	mmio_wr(&m, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_VRING);
	is_int(mmio_rd(&m, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG,
	       "InterruptACK of bit 0 leaves bit 1");
	mmio_wr(&m, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_CONFIG);
	is_int(mmio_rd(&m, VIRTIO_MMIO_INTERRUPT_STATUS), 0, "InterruptACK clears bit 1");
	mmio_wr(&m, VIRTIO_MMIO_STATUS, st | ST_NR);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), st | ST_NR,
	       "driver writing status with NEEDS_RESET: still set");
	mmio_wr(&m, VIRTIO_MMIO_STATUS, st);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), st | ST_NR,
	       "driver writing status without NEEDS_RESET: still set");
	mmio_wr(&m, VIRTIO_MMIO_STATUS, st | VIRTIO_STATUS_FAILED);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), st | ST_NR | VIRTIO_STATUS_FAILED,
	       "driver may set FAILED");
	mmio_wr(&m, VIRTIO_MMIO_STATUS, 0);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), 0, "status 0 resets it");
	mmio_wr(&m, VIRTIO_MMIO_STATUS, ST_NR);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), 0, "the driver cannot set NEEDS_RESET itself");
	mmio_dev_destroy(&m, &f.dev);
}

/* ---- the real virtio-rng ---- */

/* virtio-rng behind a window at 0xd0001000, irq 6; false (and a failed
 * check) when either does not come up. */
static bool rng_open(struct virtio_rng *rng, struct virtio_mmio *m)
{
	if (virtio_rng_init(rng, &gm, "rng0") ||
	    virtio_mmio_init(m, &rng->dev, 0xd0001000, 6)) {
		ok(0, "rng init");
		return false;
	}
	return true;
}

/* The driver: VERSION_1 and feat, its queue on a cleared ring r of `size`
 * at Q0, DRIVER_OK. 0, or -1 when a step is refused. */
static int rng_setup(struct virtio_mmio *m, struct ring *r, uint16_t size,
		     uint64_t feat)
{
	ring_init(r, Q0_DESC, Q0_AVAIL, Q0_USED, size);
	if (drv_negotiate(m, V1 | feat) != (ST_ACK | ST_DRV | ST_FOK))
		return -1;
	if (drv_queue_ring(m, 0, r) != 1)
		return -1;
	drv_ok(m);
	return 0;
}

static void test_rng_irq_reset(void)
{
	struct virtio_rng rng;
	struct virtio_mmio m;
	struct ring r;
	uint8_t b[4];

	if (!rng_open(&rng, &m))
		return;
	is_int(mmio_rd(&m, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG, "rng: DeviceID 4");
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_SEL, 0);
	is_int(mmio_rd(&m, VIRTIO_MMIO_QUEUE_NUM_MAX), 256, "rng: QueueNumMax 256");
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_SEL, 1);
	is_int(mmio_rd(&m, VIRTIO_MMIO_QUEUE_NUM_MAX), 0, "rng: no queue 1");
	memset(b, 0xaa, sizeof(b));
	virtio_mmio_access(&m, VIRTIO_MMIO_CONFIG, b, 4, false);
	ok(all_zero(b, 4), "rng: config space (size 0) reads zeroes");

	is_int(rng_setup(&m, &r, 16, 0), 0, "rng: driver setup");
	memset(ram + DATA, 0, 64);
	ring_desc(&r, 3, DATA, 64, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&r, 3);
	efd_take(m.irq_fd);
	drv_kick(&m, 0);
	is_int(ring_used_idx(&r), 1, "rng: one used buffer");
	ok(ring_used_id(&r, 0) == 3 && ring_used_len(&r, 0) == 64, "  used {3, 64}");
	ok(!all_zero(ram + DATA, 64), "  bytes filled");
	is_int(efd_take(m.irq_fd), 1, "  irq eventfd readable");
	is_int(mmio_rd(&m, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_VRING,
	       "  InterruptStatus bit 0");
	is_int(m.irqs, 1, "  one interrupt counted");
	mmio_wr(&m, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_VRING);
	is_int(mmio_rd(&m, VIRTIO_MMIO_INTERRUPT_STATUS), 0, "InterruptACK clears it");
	drv_kick(&m, 0);
	is_int(ring_used_idx(&r), 1, "kick with nothing new: nothing used");
	ok(efd_take(m.irq_fd) == 0 && mmio_rd(&m, VIRTIO_MMIO_INTERRUPT_STATUS) == 0,
	   "  and no (spurious) interrupt");

	ring_set_avail_flags(&r, VIRTQ_AVAIL_F_NO_INTERRUPT);
	ring_desc(&r, 4, DATA + 64, 8, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&r, 4);
	drv_kick(&m, 0);
	is_int(ring_used_idx(&r), 2, "NO_INTERRUPT: buffer used");
	ok(efd_take(m.irq_fd) == 0 && mmio_rd(&m, VIRTIO_MMIO_INTERRUPT_STATUS) == 0,
	   "  but no interrupt");
	ring_set_avail_flags(&r, 0);

	/* a full ring in one kick: the device stops at one ring's worth and
	 * asks to be kicked again */
	for (unsigned i = 0; i < 16; i++) {
		ring_desc(&r, i, DATA + 16 * i, 16, VIRTQ_DESC_F_WRITE, 0);
		ring_offer(&r, (uint16_t)i);
	}
	drv_kick(&m, 0);
	is_int(ring_used_idx(&r), 18, "16 buffers in one kick: all used");
	is_int(efd_take(m.kick_fd[0]), 1, "  budget spent: re-kick signalled");
	is_int(efd_take(m.irq_fd), 1, "  one interrupt for the batch");

	/* reset with a ring live */
	mmio_wr(&m, VIRTIO_MMIO_INTERRUPT_ACK, 0xffffffff);
	ring_offer(&r, 5);
	mmio_wr(&m, VIRTIO_MMIO_STATUS, 0);
	ok(mmio_rd(&m, VIRTIO_MMIO_STATUS) == 0 && rng.dev.guest_features == 0,
	   "status 0: status and features 0");
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_SEL, 0);
	ok(mmio_rd(&m, VIRTIO_MMIO_QUEUE_READY) == 0 && !rng.dev.vq[0].ready,
	   "  queue not ready");
	ok(mmio_rd(&m, VIRTIO_MMIO_QUEUE_DESC_LOW) == 0 &&
	   mmio_rd(&m, VIRTIO_MMIO_QUEUE_USED_LOW) == 0 && m.qcfg[0].num == 0,
	   "  queue registers cleared");
	is_int(mmio_rd(&m, VIRTIO_MMIO_INTERRUPT_STATUS), 0, "  ISR 0");
	drv_kick(&m, 0);
	is_int(ring_used_idx(&r), 18, "  kicks do nothing while reset");

	/* the device works again, with EVENT_IDX this time */
	is_int(rng_setup(&m, &r, 8, 1ULL << VIRTIO_F_EVENT_IDX), 0,
	       "fresh setup with EVENT_IDX");
	ring_desc(&r, 0, DATA, 32, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&r, 0);
	drv_kick(&m, 0);
	is_int(ring_used_idx(&r), 1, "  works again: used idx 1");
	ok(ring_used_id(&r, 0) == 0 && ring_used_len(&r, 0) == 32, "  used {0, 32}");
	is_int(ring_avail_event(&r), 1, "  avail_event re-armed at 1");
	is_int(efd_take(m.irq_fd), 1, "  interrupt (used_event 0)");
	mmio_dev_destroy(&m, &rng.dev);
}

static void test_rng_malformed(void)
{
	struct virtio_rng rng;
	struct virtio_mmio m;
	struct ring r;
	uint32_t st = ST_ALL;

	if (!rng_open(&rng, &m))
		return;
	rng_setup(&m, &r, 16, 0);
	ring_desc(&r, 0, DATA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	ring_desc(&r, 1, DATA + 8, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
	ring_offer(&r, 0);
	efd_take(m.irq_fd);
	drv_kick(&m, 0);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), st | ST_NR, "descriptor loop: NEEDS_RESET");
	is_int(mmio_rd(&m, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG,
	       "  config interrupt only");
	is_int(efd_take(m.irq_fd), 1, "  irq eventfd signalled");
	is_int(ring_used_idx(&r), 0, "  nothing used");
	ring_desc(&r, 2, DATA, 8, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&r, 2);
	drv_kick(&m, 0);
	is_int(ring_used_idx(&r), 0, "  a good buffer after it is not processed");

	rng_setup(&m, &r, 16, 0);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), st, "reset and setup again: no NEEDS_RESET");
	ring_desc(&r, 0, DATA, 8, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&r, 0);
	ring_set_avail_idx(&r, 40);
	drv_kick(&m, 0);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), st | ST_NR,
	       "avail idx 40 with size 16: NEEDS_RESET");
	is_int(mmio_rd(&m, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG, "  config interrupt");
	is_int(ring_used_idx(&r), 0, "  nothing used");

	rng_setup(&m, &r, 16, 0);
	ring_desc(&r, 0, RAM_SIZE - 4, 8, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&r, 0);
	drv_kick(&m, 0);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), st | ST_NR,
	       "buffer crossing the end of RAM: NEEDS_RESET");

	rng_setup(&m, &r, 16, 0);
	ring_desc(&r, 0, DATA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	ring_offer(&r, 0);
	drv_kick(&m, 0);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), st | ST_NR,
	       "indirect descriptor when not negotiated: NEEDS_RESET");

	rng_setup(&m, &r, 16, 0);
	ring_offer(&r, 16);
	drv_kick(&m, 0);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), st | ST_NR, "head index 16 of 16: NEEDS_RESET");
	ok(rng.dev.violations >= 5, "violations counted (%lu)", rng.dev.violations);

	rng_setup(&m, &r, 16, 0);
	ring_desc(&r, 0, DATA, 8, VIRTQ_DESC_F_WRITE, 0);
	ring_offer(&r, 0);
	drv_kick(&m, 0);
	ok(mmio_rd(&m, VIRTIO_MMIO_STATUS) == st && ring_used_idx(&r) == 1,
	   "and a fresh setup works again");
	mmio_dev_destroy(&m, &rng.dev);
}

static void test_cmdline(void)
{
	struct fake f;
	struct virtio_mmio m;
	char buf[64], small[10];
	int n;

	if (!fake_open(&f, &m))
		return;
	n = virtio_mmio_cmdline(&m, buf, sizeof(buf));
	is_str(buf, "virtio_mmio.device=4K@0xd0000000:5", "cmdline fragment");
	is_int(n, strlen(buf), "  returns its length");
	n = virtio_mmio_cmdline(&m, small, sizeof(small));
	is_int(n, strlen(buf), "small buffer: still the full length");
	is_str(small, "virtio_mm", "  truncated, NUL-terminated");
	virtio_mmio_destroy(&m);
	m.base = 0x100000000ULL;
	m.irq = 23;
	virtio_mmio_cmdline(&m, buf, sizeof(buf));
	is_str(buf, "virtio_mmio.device=4K@0x100000000:23", "base above 4 GiB, irq 23");
	virtio_dev_destroy(&f.dev);
}

int main(void)
{
	/* guest errors are expected here: keep the log quiet */
	log_threshold = LOG_ERR;
	if (ram_alloc(RAM_SIZE))
		return 1;

	test_dev_init();
	test_ident();
	test_status();
	test_queue_setup();
	test_odd_access();
	test_notify_kick();
	test_fail();
	test_rng_irq_reset();
	test_rng_malformed();
	test_cmdline();

	ram_free();
	return done_testing();
}
