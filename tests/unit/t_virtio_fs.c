/* virtio-fs over vhost-user, driven through its virtio-mmio registers with
 * a scripted back end on a socketpair: the handshake and what the guest is
 * offered, the config space, DRIVER_OK programming the back end (rings at
 * nkvm's addresses, the transport's kick eventfds, call eventfds that turn
 * into interrupts with the used-buffer bit), reset stopping the rings and
 * a second setup, a back end that refuses, goes silent, closes its socket
 * or talks out of turn. */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nkvm/evloop.h"
#include "nkvm/gm.h"
#include "nkvm/le.h"
#include "nkvm/log.h"
#include "nkvm/virtio_fs.h"
#include "nkvm/virtio_mmio.h"
#include "tap.h"
#include "vhu_backend.h"
#include "vq_driver.h"

#define T_MS 300
#define PF   (1ULL << VHU_F_PROTOCOL_FEATURES)
#define ACK  (1ULL << VHU_PROTOCOL_F_REPLY_ACK)
#define EIDX (1ULL << VIRTIO_F_EVENT_IDX)
/* what virtiofsd offers: VERSION_1, PROTOCOL_FEATURES, EVENT_IDX, and
 * bits nkvm must not pass on (LOG_ALL 26, NOTIFY_ON_EMPTY 24) */
#define BE_FEATURES (V1 | PF | EIDX | 1ULL << 26 | 1ULL << 24)

static const uint64_t qdesc[2] = { 0x10000, 0x20000 };
static const uint64_t qavail[2] = { 0x11000, 0x21000 };
static const uint64_t qused[2] = { 0x12000, 0x22000 };

static int be;
static struct evl evl;
static unsigned deaths;
static char death_why[200];

static void on_dead(void *opaque, struct virtio_fs *f, const char *why)
{
	deaths++;
	snprintf(death_why, sizeof(death_why), "%s: %s", f->tag, why);
}

/* A socketpair with the handshake replies queued; the front end's end. */
static int backend(uint64_t features)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	be = sv[1];
	be_reply_u64(be, VHU_GET_FEATURES, features);
	if (features & PF) {
		be_reply_u64(be, VHU_GET_PROTOCOL_FEATURES, ACK);
		be_acks(be, VHU_SET_OWNER, 1);
	}
	return sv[0];
}

static void drain_be(void)
{
	struct be_msg m;

	while (be_recv(be, &m) == 0)
		be_close_fds(&m);
}

/* The device up to the transport, with guest RAM sent. */
static bool fs_up(struct virtio_fs *f, struct virtio_mmio *m, const char *tag)
{
	char err[256] = "";
	int s = backend(BE_FEATURES);

	deaths = 0;
	if (virtio_fs_init(f, "fs0", tag, s, T_MS, err, sizeof(err)) < 0) {
		ok(0, "virtio_fs_init: %s", err);
		return false;
	}
	f->on_dead = on_dead;
	be_acks(be, VHU_SET_MEM_TABLE, 1);
	if (virtio_fs_connect(f, &gm, &evl, err, sizeof(err)) < 0 ||
	    virtio_mmio_init(m, &f->dev, 0xd0000000, 5) < 0) {
		ok(0, "virtio_fs_connect: %s", err);
		return false;
	}
	drain_be();
	return true;
}

static void fs_down(struct virtio_fs *f, struct virtio_mmio *m)
{
	drain_be();
	close(be);
	virtio_mmio_destroy(m);
	virtio_fs_destroy(f);
}

/* Acks for SET_FEATURES and two rings' setup, in the order nkvm sends. */
static void queue_start_acks(void)
{
	be_acks(be, VHU_SET_FEATURES, 1);
	be_ring_start_acks(be);
	be_ring_start_acks(be);
}

/* The driver's side up to DRIVER_OK; the status read back. */
static uint32_t driver_up(struct virtio_mmio *m)
{
	drv_negotiate(m, V1 | EIDX);
	for (unsigned q = 0; q < 2; q++)
		drv_queue(m, q, 64, qdesc[q], qavail[q], qused[q]);
	drv_ok(m);
	return mmio_rd(m, VIRTIO_MMIO_STATUS);
}

static bool next_is(struct be_msg *msg, uint32_t req)
{
	return be_recv(be, msg) == 0 && msg->req == req;
}

static void test_init_errors(void)
{
	struct virtio_fs f;
	char err[256] = "", tag[40];
	int s;

	memset(tag, 'a', 37);
	tag[37] = 0;
	s = backend(BE_FEATURES);
	is_int(virtio_fs_init(&f, "fs0", tag, s, T_MS, err, sizeof(err)), -EINVAL,
	       "37-byte tag refused");
	ok(strstr(err, "1 to 36") != NULL, "  message: %s", err);
	ok(fcntl(s, F_GETFD) < 0, "  the socket was closed");
	virtio_fs_destroy(&f);
	close(be);

	s = backend(V1 | EIDX);	/* no protocol features: fine */
	is_int(virtio_fs_init(&f, "fs0", "t", s, T_MS, err, sizeof(err)), 0,
	       "a back end without protocol features is fine");
	virtio_fs_destroy(&f);
	close(be);

	s = backend(PF | EIDX);
	is_int(virtio_fs_init(&f, "fs0", "t", s, T_MS, err, sizeof(err)), -EPROTO,
	       "a back end without VERSION_1 refused");
	ok(strstr(err, "VERSION_1") != NULL, "  message: %s", err);
	virtio_fs_destroy(&f);
	close(be);

	{
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
			close(sv[1]);
			ok(virtio_fs_init(&f, "fs0", "t", sv[0], T_MS, err, sizeof(err)) < 0,
			   "a back end that closed its socket: init fails");
			ok(strstr(err, "closed") != NULL, "  message: %s", err);
			virtio_fs_destroy(&f);
		}
	}
}

static void test_ident_config(void)
{
	struct virtio_fs f;
	struct virtio_mmio m;
	char tag36[37];
	uint8_t b[4];

	if (!fs_up(&f, &m, "data"))
		return;
	is_int(mmio_rd(&m, VIRTIO_MMIO_DEVICE_ID), 26, "device ID 26 (virtio-fs)");
	is_int(drv_device_features(&m, 0), EIDX,
	       "features word 0: EVENT_IDX only (no INDIRECT: the back end lacks it; "
	       "no LOG_ALL, NOTIFY_ON_EMPTY, PROTOCOL_FEATURES)");
	is_int(drv_device_features(&m, 1), 1, "features word 1: VERSION_1");
	ok(mmio_rd(&m, VIRTIO_MMIO_CONFIG) == get_le32((const uint8_t *)"data"),
	   "config: the tag");
	is_int(mmio_rd(&m, VIRTIO_MMIO_CONFIG + 4), 0, "  NUL-padded");
	is_int(mmio_rd(&m, VIRTIO_MMIO_CONFIG + 36), 1, "  num_request_queues 1");
	memset(b, 0xaa, 4);
	virtio_mmio_access(&m, VIRTIO_MMIO_CONFIG + 40, b, 4, false);
	ok(!memcmp(b, "\0\0\0\0", 4), "  40 bytes: a read past them gets zeros");
	mmio_wr(&m, VIRTIO_MMIO_CONFIG, 0x41414141);
	ok(mmio_rd(&m, VIRTIO_MMIO_CONFIG) == get_le32((const uint8_t *)"data"),
	   "  read-only");
	fs_down(&f, &m);

	memset(tag36, 'x', 36);
	tag36[36] = 0;
	if (!fs_up(&f, &m, tag36))
		return;
	ok(mmio_rd(&m, VIRTIO_MMIO_CONFIG + 32) == 0x78787878 &&
	   mmio_rd(&m, VIRTIO_MMIO_CONFIG + 36) == 1,
	   "a 36-byte tag fills the field, no NUL");
	fs_down(&f, &m);
}

static void test_mem_table_sent(void)
{
	struct virtio_fs f;
	struct virtio_mmio m;
	struct be_msg msg;
	char err[256];
	int s = backend(BE_FEATURES);

	if (virtio_fs_init(&f, "fs0", "t", s, T_MS, err, sizeof(err)) < 0)
		return;
	be_acks(be, VHU_SET_MEM_TABLE, 1);
	is_int(virtio_fs_connect(&f, &gm, &evl, err, sizeof(err)), 0, "connect");
	while (be_recv(be, &msg) == 0 && msg.req != VHU_SET_MEM_TABLE)
		;
	ok(msg.req == VHU_SET_MEM_TABLE && get_le32(msg.payload) == 1 && msg.nfds == 1 &&
	   get_le64(msg.payload + 24) == (uintptr_t)gm.base,
	   "guest RAM sent: one region at nkvm's address, with the memfd");
	be_close_fds(&msg);
	if (virtio_mmio_init(&m, &f.dev, 0xd0000000, 5) == 0)
		fs_down(&f, &m);
}

/* Check one ring's setup messages; the kick and call fds received. */
static void check_ring(unsigned q, int *kick, int *call)
{
	struct be_msg msg;

	ok(next_is(&msg, VHU_SET_VRING_NUM) && get_le32(msg.payload) == q &&
	   get_le32(msg.payload + 4) == 64, "ring %u: SET_VRING_NUM 64", q);
	ok(next_is(&msg, VHU_SET_VRING_ADDR) &&
	   get_le64(msg.payload + 8) == (uintptr_t)(ram + qdesc[q]) &&
	   get_le64(msg.payload + 16) == (uintptr_t)(ram + qused[q]) &&
	   get_le64(msg.payload + 24) == (uintptr_t)(ram + qavail[q]),
	   "ring %u: SET_VRING_ADDR with nkvm's addresses of the guest's rings", q);
	ok(next_is(&msg, VHU_SET_VRING_BASE) && get_le32(msg.payload + 4) == 0,
	   "ring %u: SET_VRING_BASE 0", q);
	*call = next_is(&msg, VHU_SET_VRING_CALL) && msg.nfds == 1 ? msg.fds[0] : -1;
	ok(*call >= 0, "ring %u: SET_VRING_CALL with an fd", q);
	*kick = next_is(&msg, VHU_SET_VRING_KICK) && msg.nfds == 1 ? msg.fds[0] : -1;
	ok(*kick >= 0, "ring %u: SET_VRING_KICK with an fd", q);
	ok(next_is(&msg, VHU_SET_VRING_ENABLE) && get_le32(msg.payload + 4) == 1,
	   "ring %u: SET_VRING_ENABLE 1", q);
}

/* The answers to stopping both rings. */
static void queue_stop_replies(void)
{
	be_ring_stop_replies(be, 0, 5);
	be_ring_stop_replies(be, 1, 5);
}

static void close_pairs(int *kick, int *call)
{
	for (unsigned q = 0; q < 2; q++) {
		close(kick[q]);
		close(call[q]);
	}
}

/* DRIVER_OK with the back end accepting: SET_FEATURES, then both rings
 * checked; the fds it was given in kick and call. */
static void start_checked(struct virtio_mmio *m, int *kick, int *call)
{
	struct be_msg msg;

	queue_start_acks();
	is_int(driver_up(m), ST_ALL, "DRIVER_OK accepted");
	ok(next_is(&msg, VHU_SET_FEATURES) && get_le64(msg.payload) == (V1 | EIDX | PF),
	   "SET_FEATURES: the driver's features and PROTOCOL_FEATURES");
	for (unsigned q = 0; q < 2; q++)
		check_ring(q, &kick[q], &call[q]);
}

static void check_stop(unsigned q)
{
	struct be_msg msg;

	ok(next_is(&msg, VHU_SET_VRING_ENABLE) && get_le32(msg.payload) == q &&
	   get_le32(msg.payload + 4) == 0, "reset: ring %u disabled", q);
	ok(next_is(&msg, VHU_GET_VRING_BASE) && get_le32(msg.payload) == q,
	   "reset: ring %u stopped with GET_VRING_BASE", q);
}

static void test_lifecycle(void)
{
	struct virtio_fs f;
	struct virtio_mmio m;
	int kick[2], call[2];

	if (!fs_up(&f, &m, "data"))
		return;
	start_checked(&m, kick, call);
	ok(be_empty(be), "nothing else sent");

	mmio_wr(&m, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	is_int(efd_read(kick[1]), 1, "QueueNotify 1 signals the back end's kick fd for ring 1");
	is_int(efd_read(kick[0]), 0, "  not ring 0's");
	efd_write(call[1]);
	evl_run_once(&evl, 0);
	is_int(mmio_rd(&m, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_VRING,
	       "the back end's call: InterruptStatus has the used-buffer bit");
	is_int(efd_take(m.irq_fd), 1, "  and the irqfd was signalled");
	is_int(f.calls, 1, "  counted");
	mmio_wr(&m, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_VRING);

	/* reset: both rings stopped, then a second setup works */
	queue_stop_replies();
	mmio_wr(&m, VIRTIO_MMIO_STATUS, 0);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), 0, "reset");
	check_stop(0);
	check_stop(1);
	ok(be_empty(be) && vhu_connected(&f.vhu), "  nothing else; still connected");
	efd_write(call[0]);
	evl_run_once(&evl, 0);
	ok(mmio_rd(&m, VIRTIO_MMIO_INTERRUPT_STATUS) == 0 && efd_take(m.irq_fd) == 0,
	   "a call while the driver is not ready: no interrupt");
	mmio_wr(&m, VIRTIO_MMIO_STATUS, 0);
	ok(be_empty(be), "a second reset sends nothing (no ring running)");
	close_pairs(kick, call);
	diag("set up again after the reset:");
	start_checked(&m, kick, call);
	close_pairs(kick, call);
	/* destroying the transport resets the device: the rings stop */
	queue_stop_replies();
	virtio_mmio_destroy(&m);
	check_stop(0);
	check_stop(1);
	is_int(deaths, 0, "the back end was never declared dead");
	close(be);
	virtio_fs_destroy(&f);
}

static void test_refusal(void)
{
	struct virtio_fs f;
	struct virtio_mmio m;

	if (!fs_up(&f, &m, "data"))
		return;
	be_reply_u64(be, VHU_SET_FEATURES, 1);
	is_int(driver_up(&m) & ST_NR, ST_NR, "back end refuses SET_FEATURES: NEEDS_RESET");
	ok(vhu_connected(&f.vhu) && deaths == 0, "  connection kept, not dead");
	drain_be();
	mmio_wr(&m, VIRTIO_MMIO_STATUS, 0);
	ok(be_empty(be), "  reset: no ring was started, nothing sent");
	fs_down(&f, &m);
}

static void test_silent(void)
{
	struct virtio_fs f;
	struct virtio_mmio m;

	if (!fs_up(&f, &m, "data"))
		return;
	/* no acks queued: the first setup message times out */
	is_int(driver_up(&m) & ST_NR, ST_NR, "silent back end: NEEDS_RESET after the timeout");
	is_int(deaths, 1, "  declared dead once");
	ok(strstr(death_why, "data: ") && strstr(death_why, "no answer in time"),
	   "  why: %s", death_why);
	driver_up(&m);
	is_int(deaths, 1, "  a second DRIVER_OK: still once");
	fs_down(&f, &m);
}

static void test_hangup(void)
{
	struct virtio_fs f;
	struct virtio_mmio m;
	int kick[2], call[2];

	if (!fs_up(&f, &m, "data"))
		return;
	start_checked(&m, kick, call);
	close(be);
	evl_run_once(&evl, 0);
	is_int(deaths, 1, "back end closes its socket while the guest runs: dead");
	ok(strstr(death_why, "closed its connection") != NULL, "  why: %s", death_why);
	mmio_wr(&m, VIRTIO_MMIO_STATUS, 0);
	is_int(mmio_rd(&m, VIRTIO_MMIO_STATUS), 0, "reset completes without the back end");
	is_int(deaths, 1, "  no second report");
	evl_run_once(&evl, 0);
	close_pairs(kick, call);
	virtio_mmio_destroy(&m);
	virtio_fs_destroy(&f);
}

static void test_unsolicited(void)
{
	struct virtio_fs f;
	struct virtio_mmio m;

	if (!fs_up(&f, &m, "data"))
		return;
	be_reply_u64(be, VHU_GET_FEATURES, 0);
	evl_run_once(&evl, 0);
	is_int(deaths, 1, "a message nobody asked for: the back end is dropped");
	ok(strstr(death_why, "did not ask for") != NULL, "  why: %s", death_why);
	ok(!vhu_connected(&f.vhu), "  connection closed");
	fs_down(&f, &m);
}

int main(void)
{
	log_threshold = LOG_ERR;
	if (gm_init(&gm, 64ULL << 20) < 0 || evl_init(&evl) < 0) {
		printf("Bail out! guest RAM or event loop\n");
		return 1;
	}
	ram = gm.base;
	test_init_errors();
	test_ident_config();
	test_mem_table_sent();
	test_lifecycle();
	test_refusal();
	test_silent();
	test_hangup();
	test_unsolicited();
	evl_destroy(&evl);
	gm_destroy(&gm);
	return done_testing();
}
