#!/usr/bin/env python3
"""Write the hand-made seeds of fuzz/corpus/blk/ and fuzz/corpus/mmio/.

Layouts are described in fuzz/fuzz_blk.c and fuzz/fuzz_mmio.c. Run from the
repository root: python3 fuzz/mkseeds.py (overwrites the named seeds only;
the inputs the fuzzer found, named by SHA-1, are left alone).
"""
import os
import struct

# ---------------------------------------------------------------- virtio-blk
T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WZ = 0, 1, 4, 8, 11, 13
F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4

DESC, AVAIL, USED = 0x000, 0x400, 0x480
HDRS, SEGS, STATUS, INDIR, WDATA = 0x600, 0x700, 0x780, 0x800, 0xc00


class Ram:
    def __init__(self):
        self.b = bytearray(0x10000)
        self.top = 0

    def put(self, gpa, data):
        self.b[gpa:gpa + len(data)] = data
        self.top = max(self.top, gpa + len(data))

    def desc(self, table, i, addr, length, flags, nxt=0):
        self.put(table + 16 * i, struct.pack('<QIHH', addr, length, flags, nxt))


def blk_seed(reqs, flags=0, qlog=4, feats=0xff, trim=0, round2=0,
             avail_idx=None, indirect=(), wdata=False, direct=0):
    """reqs: list of requests, each a list of (gpa, len, writable) buffers.
    Requests whose index is in `indirect` go through an indirect table."""
    ram = Ram()
    d = 0
    heads = []
    itab = INDIR
    for k, segs in enumerate(reqs):
        heads.append(d)
        if k in indirect:
            for j, (a, l, w) in enumerate(segs):
                last = j == len(segs) - 1
                ram.desc(itab, j, a, l, (F_WRITE if w else 0) |
                         (0 if last else F_NEXT), j + 1 if not last else 0)
            ram.desc(DESC, d, itab, 16 * len(segs), F_INDIRECT)
            itab += 16 * len(segs)
            d += 1
            continue
        for j, (a, l, w) in enumerate(segs):
            last = j == len(segs) - 1
            ram.desc(DESC, d, a, l, (F_WRITE if w else 0) |
                     (0 if last else F_NEXT), d + 1 if not last else 0)
            d += 1
    n = len(reqs) if avail_idx is None else avail_idx
    ram.put(AVAIL, struct.pack('<HH', 0, 0))
    for k, h in enumerate(heads):
        ram.put(AVAIL + 4 + 2 * k, struct.pack('<H', h))
    if wdata:
        ram.put(WDATA, bytes((i * 7) & 0xff for i in range(1024)))
    hdr = struct.pack('<BBHHHHBBBB2x', flags, qlog, DESC, AVAIL, USED, n,
                      feats, trim, round2, direct)
    return hdr + bytes(ram.b[:ram.top])


def poke(s, gpa, data):
    """Put data at gpa of a seed's RAM (after the 16-byte header)."""
    end = 16 + gpa + len(data)
    if len(s) < end:
        s += bytes(end - len(s))
    s[16 + gpa:end] = data


def hdr_at(ram_puts, k, typ, sector):
    ram_puts.append((HDRS + 16 * k, struct.pack('<IIQ', typ, 0, sector)))
    return (HDRS + 16 * k, 16, False)


def status(k):
    return (STATUS + k, 1, True)


def build_blk():
    seeds = {}

    def mk(name, spec, **kw):
        # spec: list of (type, sector, middle buffers)
        puts, reqs = [], []
        for k, (typ, sector, mid) in enumerate(spec):
            reqs.append([hdr_at(puts, k, typ, sector)] + mid + [status(k)])
        s = bytearray(blk_seed(reqs, **kw))
        for gpa, data in puts:
            poke(s, gpa, data)
        seeds[name] = bytes(s)

    seg = lambda k, sec, num, fl: (SEGS + 16 * k, struct.pack('<QII', sec, num, fl))
    mk('read', [(T_IN, 0, [(0x1000, 4096, True)])])
    mk('read-threads', [(T_IN, 0, [(0x1000, 4096, True)])], flags=0x08)
    mk('write', [(T_OUT, 8, [(WDATA, 1024, False)])], wdata=True)
    mk('flush', [(T_FLUSH, 0, [])])
    mk('get-id', [(T_GET_ID, 0, [(0x1000, 20, True)])], flags=0x80)
    mk('get-id-short', [(T_GET_ID, 0, [(0x1000, 7, True)])], flags=0x40)
    mk('read-past-end', [(T_IN, 2047, [(0x1000, 1024, True)]),
                         (99, 0, [(0x1000, 16, True)])])
    mk('ro-write', [(T_OUT, 0, [(WDATA, 512, False)]),
                    (T_IN, 0, [(0x1000, 512, True)]),
                    (T_FLUSH, 0, [])], flags=0x01, wdata=True)
    mk('reset-inflight', [(T_IN, 8 * k, [(0x1000 + 0x1000 * k, 4096, True)])
                          for k in range(8)], flags=0x10 | 0x08, qlog=5)
    mk('destroy-inflight', [(T_OUT, 8 * k, [(0x1000 + 0x1000 * k, 4096, False)])
                            for k in range(4)], flags=0x20)
    mk('round2', [(T_IN, 0, [(0x1000, 512, True)]),
                  (T_OUT, 0, [(WDATA, 512, False)])],
       avail_idx=1, round2=1, wdata=True)

    # discard / write-zeroes carry a segment: fill it in after building
    def mk_dwz(name, typ, sec, num, fl, **kw):
        puts, reqs = [], []
        reqs.append([hdr_at(puts, 0, typ, 0), (SEGS, 16, False), status(0)])
        puts.append(seg(0, sec, num, fl))
        s = bytearray(blk_seed(reqs, **kw))
        for gpa, data in puts:
            poke(s, gpa, data)
        seeds[name] = bytes(s)

    mk_dwz('discard', T_DISCARD, 8, 8, 0)
    mk_dwz('write-zeroes', T_WZ, 16, 16, 1, flags=0x08)
    mk_dwz('write-zeroes-big', T_WZ, 0, 2048, 0)

    # everything at once: 4 KiB blocks, EVENT_IDX + INDIRECT
    puts, reqs = [], []
    spec = [(T_IN, 0, [(0x1000, 4096, True)]),
            (T_OUT, 8, [(WDATA, 1024, False), (0x2000, 3072, False)]),
            (T_FLUSH, 0, []),
            (T_GET_ID, 0, [(0x3000, 20, True)])]
    for k, (typ, sector, mid) in enumerate(spec):
        reqs.append([hdr_at(puts, k, typ, sector)] + mid + [status(k)])
    reqs.append([hdr_at(puts, 4, T_DISCARD, 0), (SEGS, 16, False), status(4)])
    puts.append(seg(0, 16, 8, 0))
    reqs.append([hdr_at(puts, 5, T_WZ, 0), (SEGS + 16, 16, False), status(5)])
    puts.append(seg(1, 24, 8, 1))
    s = bytearray(blk_seed(reqs, flags=0x06 | 0x40, indirect=(1, 3),
                           wdata=True))
    for gpa, data in puts:
        poke(s, gpa, data)
    seeds['mixed'] = bytes(s)

    # O_DIRECT engine: misaligned buffers are bounced
    mk('direct-read', [(T_IN, 8, [(0x1001, 1024, True), (0x2000, 512, True)])],
       direct=1)
    mk('direct-write', [(T_OUT, 8, [(WDATA + 3, 512, False)])], direct=1,
       wdata=True, flags=0x08)

    # header and data in one descriptor, then 254 more data descriptors
    # and the status through a 256-entry indirect table (a queue of 256):
    # 255 data segments, one above seg_max
    ram = Ram()
    ram.desc(0x0000, 0, 0x1000, 16 * 256, F_INDIRECT)
    segs = [(0x2c00, 16 + 512, False)] + [(0x4000, 512, False)] * 254 + \
        [(0x3000, 1, True)]
    for j, (a, l, w) in enumerate(segs):
        last = j == len(segs) - 1
        ram.desc(0x1000, j, a, l, (F_WRITE if w else 0) | (0 if last else F_NEXT),
                 0 if last else j + 1)
    ram.put(0x2000, struct.pack('<HHH', 0, 1, 0))
    ram.put(0x2c00, struct.pack('<IIQ', T_OUT, 0, 0))
    seeds['too-many-segs'] = struct.pack('<BBHHHHBBBB2x', 0, 8, 0x0000, 0x2000,
                                         0x2400, 1, 0xff, 0, 0, 0) + \
        bytes(ram.b[:ram.top])

    # header split over two descriptors, data and status in one
    ram_reqs = [[(HDRS, 8, False), (HDRS + 8, 8, False), (0x1000, 513, True)]]
    s = bytearray(blk_seed(ram_reqs))
    poke(s, HDRS, struct.pack('<IIQ', T_IN, 0, 4))
    seeds['split'] = bytes(s)
    return seeds


# ---------------------------------------------------------------- virtio-mmio
MAGIC, VERSION, DEVICE_ID = 0x000, 0x004, 0x008
DEV_FEAT, DEV_FEAT_SEL, DRV_FEAT, DRV_FEAT_SEL = 0x010, 0x014, 0x020, 0x024
QSEL, QNUM_MAX, QNUM, QREADY, QNOTIFY = 0x030, 0x034, 0x038, 0x044, 0x050
ISR, ACK, STAT = 0x060, 0x064, 0x070
QDESC, QAVAIL, QUSED, CFG, GEN = 0x080, 0x090, 0x0a0, 0x100, 0x0fc


def W(off, val, width=4):
    code = {1: 0, 2: 1, 4: 2, 8: 3}[width]
    return bytes([code << 2, off & 0xff, off >> 8]) + \
        val.to_bytes(width, 'little')


def R(off, width=4):
    code = {1: 0, 2: 1, 4: 2, 8: 3}[width]
    return bytes([1 | code << 2, off & 0xff, off >> 8])


def store(gpa, data):
    out = b''
    while data:
        n = min(len(data), 64)
        out += bytes([2 | (n - 1) << 2, gpa & 0xff, gpa >> 8]) + data[:n]
        gpa, data = gpa + n, data[n:]
    return out


def kick(q=0, spurious=False):
    return bytes([3 | q << 2 | (0x20 if spurious else 0)])


def desc(addr, length, flags, nxt=0):
    return struct.pack('<QIHH', addr, length, flags, nxt)


def setup(feat_lo=0, qnum=8, descs=0x0, avail=0x80, used=0xc0):
    return (R(MAGIC) + R(VERSION) + R(DEVICE_ID) + W(STAT, 1) + W(STAT, 3) +
            W(DEV_FEAT_SEL, 0) + R(DEV_FEAT) + W(DEV_FEAT_SEL, 1) + R(DEV_FEAT) +
            W(DRV_FEAT_SEL, 0) + W(DRV_FEAT, feat_lo) + W(DRV_FEAT_SEL, 1) +
            W(DRV_FEAT, 1) + W(STAT, 0xb) + R(STAT) + W(QSEL, 0) + R(QNUM_MAX) +
            W(QNUM, qnum) + W(QDESC, descs) + W(QDESC + 4, 0) +
            W(QAVAIL, avail) + W(QAVAIL + 4, 0) + W(QUSED, used) +
            W(QUSED + 4, 0) + W(QREADY, 1) + R(QREADY) + W(STAT, 0xf) + R(STAT))


def build_mmio():
    seeds = {}
    two = (store(0x0, desc(0x1000, 64, F_WRITE | F_NEXT, 1) +
                 desc(0x1100, 32, F_WRITE) + desc(0x1200, 128, F_WRITE)) +
           store(0x80, struct.pack('<HHHH', 0, 2, 0, 2)))
    tail = R(ISR) + W(ACK, 1) + W(STAT, 0) + R(STAT)
    seeds['setup'] = b'\x00' + setup() + two + W(QNOTIFY, 0) + kick() + tail

    # EVENT_IDX + INDIRECT, an indirect chain, a second batch
    evt = (1 << 28) | (1 << 29)
    ind = (store(0x0, desc(0x400, 32, F_INDIRECT) + desc(0x1300, 16, F_WRITE)) +
           store(0x400, desc(0x1000, 100, F_WRITE | F_NEXT, 1) +
                 desc(0x1800, 200, F_WRITE)) +
           store(0x80, struct.pack('<HHH', 0, 1, 0)))
    seeds['evt-indirect'] = (b'\x00' + setup(evt) + ind + W(QNOTIFY, 0) + kick() +
                             store(0x80, struct.pack('<HHHH', 0, 2, 0, 1)) +
                             kick() + R(ISR) + W(ACK, 3) + tail)

    # every register, odd widths, config space, read-only writes
    p = b'\x00'
    for off in range(0, 0x100, 4):
        p += R(off)
    p += (R(MAGIC, 1) + R(MAGIC + 1, 2) + R(VERSION, 8) + R(CFG) + R(CFG, 8) +
          W(CFG, 0x1234) + W(MAGIC, 1) + W(ISR, 1) + W(GEN, 1) + R(0xffc) +
          W(STAT, 1, 2) + W(0x0ac, 0) + R(0x0b0) + R(0x0b8) + W(QSEL, 3) +
          R(QNUM_MAX) + R(QREADY) + R(QDESC) + W(QNUM, 4) + W(QDESC, 0x100) +
          W(QREADY, 1) + W(DEV_FEAT_SEL, 7) + R(DEV_FEAT) + R(GEN))
    seeds['probe'] = p

    # out-of-order driver: ready before FEATURES_OK, DRIVER_OK without it,
    # unoffered and missing features, clearing bits, changes while ready
    seeds['bad-order'] = (
        b'\x00' + W(STAT, 1) + W(STAT, 3) + W(QSEL, 0) + W(QNUM, 8) +
        W(QREADY, 1) + W(STAT, 7) + W(DRV_FEAT, 1) + W(STAT, 0xb) + R(STAT) +
        W(DRV_FEAT, 0) + W(DRV_FEAT_SEL, 1) + W(DRV_FEAT, 0) + W(STAT, 0xb) +
        W(DRV_FEAT, 1) + W(DRV_FEAT_SEL, 2) + W(DRV_FEAT, 5) +
        W(STAT, 0xb) + R(STAT) + W(DRV_FEAT, 1) + W(STAT, 1) + W(STAT, 0x1ff) +
        W(STAT, 0x4b) + W(QNUM, 512) + W(QREADY, 1) + W(QNUM, 8) +
        W(QDESC, 0x3) + W(QREADY, 1) + W(QDESC, 0x0) + W(QAVAIL, 0x80) +
        W(QUSED, 0xc0) + W(QUSED + 4, 1) + W(QREADY, 1) + W(QUSED + 4, 0) +
        W(QREADY, 1) + W(QNUM, 4) + W(QDESC, 0x100) + W(STAT, 0xf) +
        W(QNOTIFY, 5) + kick(5) + kick(0, True) + W(QREADY, 0) + R(QREADY) +
        W(QREADY, 1) + W(ACK, 0xffffffff) + W(STAT, 0) + R(STAT))

    # a full ring of 4 with the rng's per-turn budget: it re-kicks itself
    four = (store(0x0, b''.join(desc(0x1000 + 0x100 * k, 64, F_WRITE)
                                for k in range(4))) +
            store(0x80, struct.pack('<HH4H', 0, 4, 0, 1, 2, 3)))
    seeds['budget'] = (b'\x00' + setup(qnum=4) + four + W(QNOTIFY, 0) + kick() +
                       kick() + store(0x82, struct.pack('<H', 6)) + kick() + tail)

    # getrandom short reads, EINTR, failure after 2 calls
    big = (store(0x0, desc(0x1000, 0x2000, F_WRITE | F_NEXT, 1) +
                 desc(0x3000, 0x800, F_WRITE)) +
           store(0x80, struct.pack('<HHH', 0, 1, 0)))
    for name, mode in (('rng-short', 1), ('rng-eintr', 2), ('rng-fail', 3 | 1 << 2)):
        seeds[name] = bytes([mode]) + setup() + big + kick() + tail

    # one request of more than the 64 KiB the rng fills per request
    # (buffers may overlap: six of 12 KiB over the same RAM)
    over = (store(0x0, b''.join(desc(0x1000, 0x3000, F_WRITE | F_NEXT, k + 1)
                                for k in range(5)) + desc(0x1000, 0x3000, F_WRITE)) +
            store(0x80, struct.pack('<HHH', 0, 1, 0)))
    seeds['rng-64k'] = b'\x00' + setup() + over + kick() + tail

    # a descriptor loop breaks the queue (NEEDS_RESET, config interrupt);
    # the driver resets and sets the device up again
    loop = (store(0x0, desc(0x1000, 8, F_WRITE | F_NEXT, 1) +
                  desc(0x1100, 8, F_WRITE | F_NEXT, 0)) +
            store(0x80, struct.pack('<HHH', 0, 1, 0)))
    seeds['broken-reset'] = (b'\x00' + setup() + loop + kick() + R(STAT) + R(ISR) +
                             R(GEN) + W(ACK, 2) + W(STAT, 0) + setup() + two +
                             kick() + tail)
    return seeds


def main():
    for name, seeds in (('blk', build_blk()), ('mmio', build_mmio())):
        d = os.path.join('fuzz', 'corpus', name)
        os.makedirs(d, exist_ok=True)
        for s, data in seeds.items():
            with open(os.path.join(d, s), 'wb') as f:
                f.write(data)
        print(f'{d}: {len(seeds)} seeds')


if __name__ == '__main__':
    main()
