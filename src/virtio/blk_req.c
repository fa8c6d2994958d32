/*
 * virtio-blk request parsing: turns a checked chain (vq_pop) into an I/O
 * for the engine or a final status. Pure: no I/O, no locks, so the unit
 * tests and the fuzzer drive it directly.
 *
 * Layout (section 5.2.6): readable header {le32 type, le32 reserved, le64
 * sector}, then readable data (OUT, DISCARD, WRITE_ZEROES), or writable
 * data (IN, GET_ID); the last writable byte is the status. Buffer
 * boundaries are not significant: the header may span descriptors and the
 * status may share one with data.
 */
#include <errno.h>
#include <string.h>

#include "nkvm/le.h"
#include "nkvm/virtio_blk.h"

#define HDR_BYTES 16
#define SEG_BYTES 16	/* struct virtio_blk_discard_write_zeroes */
#define DWZ_F_UNMAP 1

/* Range [sector, sector + bytes/512) inside the disk, bytes a whole
 * number of logical blocks, sector aligned to the logical block. */
static bool range_ok(const struct blk_limits *lim, uint64_t sector,
		     uint64_t bytes)
{
	uint64_t lb = lim->logical_block / VIRTIO_BLK_SECTOR;

	if (bytes % lim->logical_block || sector % lb)
		return false;
	return sector <= lim->capacity &&
	       bytes / VIRTIO_BLK_SECTOR <= lim->capacity - sector;
}

static uint8_t parse_rw(const struct blk_limits *lim, struct vq_chain *c,
			struct blk_req *req, uint64_t sector, bool write)
{
	uint64_t bytes;
	int n;

	if (write) {
		bytes = c->out_len - HDR_BYTES;
		n = vq_iov_slice(vq_chain_out(c), c->nr_out, HDR_BYTES, bytes,
			      req->iov, VIRTIO_BLK_SEG_MAX);
	} else {
		bytes = c->in_len - 1;
		n = vq_iov_slice(vq_chain_in(c), c->nr_in, 0, bytes, req->iov,
			      VIRTIO_BLK_SEG_MAX);
	}
	if (n < 0 || !range_ok(lim, sector, bytes))
		return VIRTIO_BLK_S_IOERR;
	if (write && lim->ro)
		return VIRTIO_BLK_S_IOERR;
	if (!write)
		req->written = (uint32_t)bytes + 1;
	if (bytes == 0)
		return VIRTIO_BLK_S_OK;	/* nothing to move */
	req->io.op = write ? BLK_IO_WRITE : BLK_IO_READ;
	req->io.offset = sector * VIRTIO_BLK_SECTOR;
	req->io.iov = req->iov;
	req->io.iovcnt = (unsigned)n;
	req->submit = true;
	return VIRTIO_BLK_S_OK;
}

/* One discard/write-zeroes segment (max_discard_seg is 1). */
static uint8_t parse_dwz(const struct blk_limits *lim, struct vq_chain *c,
			 struct blk_req *req, bool zeroes)
{
	uint8_t seg[SEG_BYTES];
	uint64_t sector;
	uint32_t num, flags;

	if ((zeroes && !lim->write_zeroes) || (!zeroes && !lim->discard))
		return VIRTIO_BLK_S_UNSUPP;
	if (c->out_len - HDR_BYTES != SEG_BYTES ||
	    vq_iov_copy_from(c, HDR_BYTES, seg, SEG_BYTES) != SEG_BYTES)
		return VIRTIO_BLK_S_UNSUPP;
	sector = get_le64(seg);
	num = get_le32(seg + 8);
	flags = get_le32(seg + 12);
	/* unmap is only meaningful for write-zeroes; other bits reserved */
	if (flags & ~(uint32_t)DWZ_F_UNMAP || (!zeroes && flags))
		return VIRTIO_BLK_S_UNSUPP;
	if (num > VIRTIO_BLK_MAX_DISCARD_SECTORS ||
	    !range_ok(lim, sector, (uint64_t)num * VIRTIO_BLK_SECTOR))
		return VIRTIO_BLK_S_IOERR;
	if (lim->ro)
		return VIRTIO_BLK_S_IOERR;
	if (num == 0)
		return VIRTIO_BLK_S_OK;
	req->io.op = zeroes ? BLK_IO_WRITE_ZEROES : BLK_IO_DISCARD;
	req->io.offset = sector * VIRTIO_BLK_SECTOR;
	req->io.len = (uint64_t)num * VIRTIO_BLK_SECTOR;
	req->io.unmap = flags & DWZ_F_UNMAP;
	req->submit = true;
	return VIRTIO_BLK_S_OK;
}

/* GET_ID: the serial, NUL-padded to 20 bytes (no NUL when exactly 20). */
static uint8_t answer_id(const char *serial, struct vq_chain *c,
			 struct blk_req *req)
{
	uint8_t id[VIRTIO_BLK_ID_BYTES] = { 0 };
	uint64_t room = c->in_len - 1;
	size_t n = room < sizeof(id) ? (size_t)room : sizeof(id);

	if (serial)
		memcpy(id, serial, strnlen(serial, sizeof(id)));
	vq_iov_copy_to(c, 0, id, n);
	req->written = (uint32_t)n + 1;
	return VIRTIO_BLK_S_OK;
}

/* Host pointer to the last writable byte of the chain. */
static uint8_t *status_byte(struct vq_chain *c)
{
	struct iovec *last = &vq_chain_in(c)[c->nr_in - 1];

	return (uint8_t *)last->iov_base + last->iov_len - 1;
}

int blk_req_parse(const struct blk_limits *lim, const char *serial,
		  struct vq_chain *c, struct blk_req *req)
{
	uint8_t hdr[HDR_BYTES];
	uint64_t sector;

	memset(&req->io, 0, sizeof(req->io));
	req->submit = false;
	req->head = c->head;
	req->written = 1;
	if (c->nr_in == 0 || c->out_len < HDR_BYTES ||
	    vq_iov_copy_from(c, 0, hdr, HDR_BYTES) != HDR_BYTES)
		return -EINVAL;
	req->status_ptr = status_byte(c);
	req->type = get_le32(hdr);
	sector = get_le64(hdr + 8);
	switch (req->type) {
	case VIRTIO_BLK_T_IN:
		req->status = parse_rw(lim, c, req, sector, false);
		break;
	case VIRTIO_BLK_T_OUT:
		req->status = parse_rw(lim, c, req, sector, true);
		break;
	case VIRTIO_BLK_T_FLUSH:
		req->status = VIRTIO_BLK_S_OK;
		if (!lim->ro) {
			req->io.op = BLK_IO_FLUSH;
			req->submit = true;
		}
		break;
	case VIRTIO_BLK_T_GET_ID:
		req->status = answer_id(serial, c, req);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		req->status = parse_dwz(lim, c, req,
					req->type == VIRTIO_BLK_T_WRITE_ZEROES);
		break;
	default:
		req->status = VIRTIO_BLK_S_UNSUPP;
	}
	if (req->status != VIRTIO_BLK_S_OK) {
		req->submit = false;
		req->written = 1;
	}
	return 0;
}
