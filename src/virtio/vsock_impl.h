/*
 * Inside virtio-vsock: how the device (vsock.c: queues and packets), the
 * connections (vsock_conn.c: per-connection state, credit, data both ways)
 * and the host side (vsock_host.c: listener, handshake, guest connects,
 * timeouts) call each other. Everything here runs with the device lock.
 */
#ifndef NKVM_VSOCK_IMPL_H
#define NKVM_VSOCK_IMPL_H

#include "nkvm/virtio_vsock.h"

/* ---- vsock.c ---- */

/* Send one control packet h to the guest: 0, or -EAGAIN when it has no
 * receive buffer (rx_stalled is then set until it posts more). */
int vsock_rx_ctrl(struct virtio_vsock *v, const struct vsock_hdr *h);

/* Send one RW packet for c with up to max bytes read from c->fd straight
 * into the guest's buffer. Bytes sent (> 0); 0 at EOF; -EAGAIN with no
 * data or no buffer; -errno on a socket error. */
int vsock_rx_data(struct virtio_vsock *v, struct vsock_conn *c, uint32_t max);

/* Queue h (addressed to the guest) as an RST owed without a connection;
 * dropped and counted when VSOCK_RST_QUEUE are already owed. */
void vsock_owe_rst(struct virtio_vsock *v, const struct vsock_hdr *h);

/* Answer the guest's packet g with RST. */
void vsock_reply_rst(struct virtio_vsock *v, const struct vsock_hdr *g);

/* ---- vsock_conn.c ---- */

/* A free connection slot taking fd (non-blocking), or NULL when all
 * VSOCK_MAX_CONNS are in use. */
struct vsock_conn *vsock_conn_new(struct virtio_vsock *v, int fd);

/* The connection between host port local and guest port peer, or NULL. */
struct vsock_conn *vsock_conn_find(struct virtio_vsock *v, uint32_t local,
				   uint32_t peer);

/* Close c's socket and free it; with rst, tell the guest (when it knows
 * the connection). */
void vsock_conn_close(struct vsock_conn *c, bool rst);

/* The guest sent packet h (checked by vsock_hdr_check) on c; chain holds
 * its payload after the header. */
void vsock_conn_guest_pkt(struct vsock_conn *c, const struct vsock_hdr *h,
			  const struct vq_chain *chain);

/* A header from c to the guest with op; it carries nkvm's credit, so the
 * guest is then up to date with fwd_cnt (no CREDIT_UPDATE owed). */
void vsock_conn_hdr(struct vsock_conn *c, uint16_t op, struct vsock_hdr *h);

/* Send the control packets c owes the guest; false when out of buffers. */
bool vsock_conn_flush(struct vsock_conn *c);

/* Register c's socket for the events it can act on now (none: out of the
 * loop, so a hung-up socket does not spin it). */
void vsock_conn_poll(struct vsock_conn *c);

/* Give c a deadline VSOCK_TIMEOUT_MS from now. */
void vsock_conn_deadline(struct vsock_conn *c);

/* ---- vsock_host.c ---- */

/* Bind and listen on v->uds_path. 0, or -errno with err set. */
int vsock_listen_open(struct virtio_vsock *v, char *err, size_t errlen);

/* Accept host clients only while the driver is up (listener in the loop
 * or not). */
void vsock_listen_poll(struct virtio_vsock *v);

/* A host client in VSOCK_HANDSHAKE has bytes (or hung up). */
void vsock_handshake(struct vsock_conn *c);

/* The guest's REQUEST g for a connection nkvm does not have. */
void vsock_guest_connect(struct virtio_vsock *v, const struct vsock_hdr *g);

/* Start the 1 s timer if it is not running. */
void vsock_timer_arm(struct virtio_vsock *v);

/* The timer's work: drop connections past their deadline. */
void vsock_expire_locked(struct virtio_vsock *v, uint64_t now_ns);

#endif
