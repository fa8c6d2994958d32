/*
 * The two wire formats of virtio-vsock's host side: the virtio packet
 * header the guest sends (decoded, then judged before anything acts on it)
 * and the host client's "CONNECT <port>" handshake line. Pure functions.
 */
#include <errno.h>
#include <string.h>

#include "nkvm/le.h"
#include "nkvm/virtio_vsock.h"

void vsock_hdr_decode(const uint8_t b[VSOCK_HDR_LEN], struct vsock_hdr *h)
{
	h->src_cid = get_le64(b);
	h->dst_cid = get_le64(b + 8);
	h->src_port = get_le32(b + 16);
	h->dst_port = get_le32(b + 20);
	h->len = get_le32(b + 24);
	h->type = get_le16(b + 28);
	h->op = get_le16(b + 30);
	h->flags = get_le32(b + 32);
	h->buf_alloc = get_le32(b + 36);
	h->fwd_cnt = get_le32(b + 40);
}

void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t b[VSOCK_HDR_LEN])
{
	put_le64(b, h->src_cid);
	put_le64(b + 8, h->dst_cid);
	put_le32(b + 16, h->src_port);
	put_le32(b + 20, h->dst_port);
	put_le32(b + 24, h->len);
	put_le16(b + 28, h->type);
	put_le16(b + 30, h->op);
	put_le32(b + 32, h->flags);
	put_le32(b + 36, h->buf_alloc);
	put_le32(b + 40, h->fwd_cnt);
}

enum vsock_verdict vsock_hdr_check(const struct vsock_hdr *h, uint64_t guest_cid,
				   uint64_t payload, const char **why)
{
	*why = NULL;
	if (h->src_cid != guest_cid)
		*why = "source CID is not the guest's";
	else if (h->dst_cid != VSOCK_HOST_CID)
		*why = "destination CID is not the host (2)";
	else if (h->type != VSOCK_TYPE_STREAM)
		*why = "not a stream packet";
	else if (h->op == VSOCK_OP_INVALID || h->op > VSOCK_OP_CREDIT_REQUEST)
		*why = "unknown operation";
	else if (h->len > payload)
		*why = "length beyond the buffer";
	else if (h->len > VSOCK_MAX_PKT)
		*why = "payload over 64 KiB";
	else if (h->len && h->op != VSOCK_OP_RW)
		*why = "payload on a control packet";
	else if (h->op == VSOCK_OP_SHUTDOWN &&
		 (h->flags & ~(uint32_t)(VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND)))
		*why = "unknown shutdown flags";
	if (!*why)
		return VSOCK_PKT_OK;
	/* a reply needs the guest's address, and RST is never answered */
	if (h->src_cid != guest_cid || h->op == VSOCK_OP_RST)
		return VSOCK_PKT_DROP;
	return VSOCK_PKT_RST;
}

int vsock_parse_connect(const char *line, size_t len, uint32_t *port)
{
	static const char verb[] = "CONNECT ";
	uint64_t v = 0;
	size_t i = sizeof(verb) - 1;

	if (len && line[len - 1] == '\r')
		len--;
	if (len <= i || len > i + 10 || memcmp(line, verb, i) != 0)
		return -EINVAL;
	for (; i < len; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(line[i] - '0');
	}
	if (v > UINT32_MAX)
		return -EINVAL;
	*port = (uint32_t)v;
	return 0;
}
