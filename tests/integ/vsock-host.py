#!/usr/bin/env python3
"""Host side of t_vsock.t: drives nkvm's vsock unix sockets while the guest
runs (see t_vsock.t). Prints one line per check, "ok NAME" or "not ok NAME:
why", plus "# ..." measurements. Arguments: UDS CONSOLE_FILE MIB."""
import hashlib
import os
import socket
import sys
import threading
import time

UDS, CONSOLE, MIB = sys.argv[1], sys.argv[2], int(sys.argv[3])
GUARD = 1200  # seconds: hang guard for the whole run
start = time.monotonic()
results = []


def report(name, good, why=""):
    results.append(name)
    print(("ok " if good else "not ok ") + name + ("" if good else ": " + why), flush=True)


def left():
    return max(1.0, GUARD - (time.monotonic() - start))


def blob(seed):
    # deterministic, incompressible enough, fast: sha256 counter blocks
    out = bytearray()
    i = 0
    while len(out) < MIB << 20:
        out += hashlib.sha256(b"%d-%d" % (seed, i)).digest() * 64
        i += 1
    return bytes(out[: MIB << 20])


def pump(sock, data, sink):
    """Send data then shut down writing, while reading until EOF into sink."""
    def reader():
        while True:
            b = sock.recv(1 << 20)
            if not b:
                break
            sink.append(b)
    t = threading.Thread(target=reader)
    t.start()
    sock.sendall(data)
    sock.shutdown(socket.SHUT_WR)
    t.join(left())


def read_line(sock, limit=64):
    """Up to a newline; what came before EOF or a reset otherwise."""
    line = b""
    try:
        while not line.endswith(b"\n") and len(line) < limit:
            b = sock.recv(1)
            if not b:
                break
            line += b
    except ConnectionResetError:
        pass
    return line


def host_connect(port, payload=None):
    """Connect to nkvm's socket, send the handshake; the reply line."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(left())
    s.connect(UDS)
    s.sendall(payload if payload is not None else b"CONNECT %d\n" % port)
    return s, read_line(s)


def wait_console(marker):
    while time.monotonic() - start < GUARD:
        try:
            with open(CONSOLE, "rb") as f:
                if marker in f.read():
                    return True
        except OSError:
            pass
        time.sleep(1)
    return False


r1, r2 = blob(1), blob(2)
h1, h2 = hashlib.sha256(r1).hexdigest(), hashlib.sha256(r2).hexdigest()

# B: the guest connects to CID 2 port 6000 -> UDS_6000
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(UDS + "_6000")
srv.listen(4)
srv.settimeout(GUARD)
b_got = []
b_done = threading.Event()


def serve_b():
    try:
        c, _ = srv.accept()
        c.settimeout(left())
        pump(c, r2, b_got)
        c.close()
    except OSError as e:
        print("# B: %s" % e, flush=True)
    b_done.set()


threading.Thread(target=serve_b, daemon=True).start()

if not wait_console(b"vsock-listening"):
    report("the guest started its vsock pipeline", False, "no marker")
    sys.exit(0)

def connect_retry(port):
    """The guest may not listen yet (nkvm then closes us): retry."""
    for _ in range(120):
        s, line = host_connect(port)
        if line.startswith(b"OK "):
            return s, line
        s.close()
        time.sleep(1)
    return None, line


# A: host-initiated to guest port 5000
a, line = connect_retry(5000)
report("host-initiated CONNECT 5000 answered 'OK <port>'",
       a is not None and line[3:-1].isdigit() and line.endswith(b"\n"), repr(line))
if a is None:
    sys.exit(0)
t0 = time.monotonic()
a_got = []
pump(a, r1, a_got)
a.close()
b_done.wait(left())
secs = time.monotonic() - t0
a_data, b_data = b"".join(a_got), b"".join(b_got)
print("# %d MiB each way over A (host-initiated) and B (guest-initiated) at once: %.1f s"
      % (MIB, secs), flush=True)
report("%d MiB host -> guest over A arrived at UDS_6000 over B intact" % MIB,
       hashlib.sha256(b_data).hexdigest() == h1, "%d bytes" % len(b_data))
report("%d MiB from UDS_6000 over B came back over A intact" % MIB,
       hashlib.sha256(a_data).hexdigest() == h2, "%d bytes" % len(a_data))

# refusals: the connection is closed without an OK line
for name, payload in (("CONNECT to a port nobody listens on (5999)", b"CONNECT 5999\n"),
                      ("a handshake that is not CONNECT", b"HELLO 5000\n"),
                      ("an over-long handshake line", b"C" * 200)):
    s, line = host_connect(0, payload)
    rest = read_line(s) if line else b""
    report(name + ": closed without OK", line == b"" and rest == b"", repr(line + rest))
    s.close()

# let the guest finish: it waits for one last connection on port 5001
s, line = connect_retry(5001)
report("a last connection to port 5001 answered OK", s is not None, repr(line))
if s:
    s.close()
