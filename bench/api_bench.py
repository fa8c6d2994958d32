#!/usr/bin/env python3
"""The measurements of bench/api.sh (see there): api_bench.py NKVM GUEST RUNS [BASE]."""
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

NKVM, GUEST, RUNS = sys.argv[1], sys.argv[2], int(sys.argv[3])
BASE = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] else None
MARKER = b"nkvm-guest: ready"
tmp = tempfile.mkdtemp(prefix="nkvm-apibench.")
os.environ["XDG_RUNTIME_DIR"] = tmp


def try_connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return s
    except OSError:
        s.close()
        return None


def wait_connect(path):
    """Poll (every 0.1 ms) until connect() to path works."""
    while True:
        s = try_connect(path)
        if s is not None:
            return s
        time.sleep(0.0001)


def http(s, method, path, body=None):
    body = body.encode() if body else b""
    s.sendall(b"%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
              % (method.encode(), path.encode(), len(body), body))
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    head, _, rest = data.partition(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            n = int(line.split(b":")[1])
    while len(rest) < n:
        rest += s.recv(4096)
    return int(head.split()[1])


def read_until_marker(p):
    """Read p's stdout until the guest's marker (True) or EOF (False)."""
    out = b""
    while MARKER not in out:
        b = os.read(p.stdout.fileno(), 4096)
        if not b:
            return False
        out += b
    return True


def spawn(args, **kw):
    return subprocess.Popen(args, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


def ready_once(i):
    """exec -> connect() works, -> first GET / answered (wall ms), and the
    CPU ms used by then."""
    path = os.path.join(tmp, "r%d.sock" % i)
    t0 = time.perf_counter()
    p = spawn([NKVM, "--api-sock", path], stdout=subprocess.DEVNULL)
    s = wait_connect(path)
    t1 = time.perf_counter()
    http(s, "GET", "/")
    t2 = time.perf_counter()
    os.kill(p.pid, signal.SIGKILL)
    _, _, ru = os.wait4(p.pid, 0)
    p.returncode = -9
    s.close()
    os.unlink(path)
    return (t1 - t0) * 1e3, (ru.ru_utime + ru.ru_stime) * 1e3, (t2 - t0) * 1e3


def accept_cpu_once(i):
    """CPU ms the process used from exec until connect() on its socket
    works (killed at that moment, before any request: libmicrohttpd is
    loaded only when a request comes)."""
    path = os.path.join(tmp, "c%d.sock" % i)
    p = spawn([NKVM, "--api-sock", path], stdout=subprocess.DEVNULL)
    s = wait_connect(path)
    os.kill(p.pid, signal.SIGKILL)
    _, _, ru = os.wait4(p.pid, 0)
    p.returncode = -9
    s.close()
    os.unlink(path)
    return (ru.ru_utime + ru.ru_stime) * 1e3


API_LIBS = ("libmicrohttpd", "libjansson", "libgnutls", "libnettle", "libhogweed", "libgmp",
            "libp11-kit", "libidn2", "libunistring", "libtasn1", "libffi")


def idle_rss():
    """VmRSS/VmHWM of an idle `nkvm --api-sock` that answered one GET, and
    the resident KiB of the libraries the API pulls in (from smaps)."""
    path = os.path.join(tmp, "idle.sock")
    p = spawn([NKVM, "--api-sock", path], stdout=subprocess.DEVNULL)
    s = wait_connect(path)
    http(s, "GET", "/")
    s.close()
    time.sleep(0.2)
    status = open("/proc/%d/status" % p.pid).read()
    kib = {l.split(":")[0]: int(l.split()[1]) for l in status.splitlines() if l.startswith(("VmHWM", "VmRSS"))}
    libs, cur = 0, None
    for line in open("/proc/%d/smaps" % p.pid):
        f = line.split()
        if "-" in f[0] and len(f) >= 5:
            cur = f[5] if len(f) > 5 else ""
        elif f[0] == "Rss:" and cur and any(l in cur for l in API_LIBS):
            libs += int(f[1])
    kib["libs"] = libs
    p.terminate()
    p.wait()
    return kib


def cpu_once(args):
    p = spawn(args, stdout=subprocess.DEVNULL)
    _, _, ru = os.wait4(p.pid, 0)
    p.returncode = 0
    return (ru.ru_utime + ru.ru_stime) * 1e3


def start_once(i):
    path = os.path.join(tmp, "s%d.sock" % i)
    p = spawn([NKVM, "--api-sock", path], stdout=subprocess.PIPE)
    s = wait_connect(path)
    assert http(s, "PUT", "/boot-source", '{"kernel_image_path":"%s"}' % GUEST) == 204
    assert http(s, "PUT", "/machine-config", '{"vcpu_count":1,"mem_size_mib":128}') == 204
    t0 = time.perf_counter()
    body = b'{"action_type":"InstanceStart"}'
    s.sendall(b"PUT /actions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    seen = read_until_marker(p)
    t1 = time.perf_counter()
    resp = s.recv(4096)
    t2 = time.perf_counter()
    s.close()
    p.wait()
    ok = seen and resp.startswith(b"HTTP/1.1 204")
    return ((t1 - t0) * 1e3, (t2 - t0) * 1e3) if ok else None


def run_once(binary):
    t0 = time.perf_counter()
    p = spawn([binary, "run", "-k", GUEST, "-m", "128M", "--timeout", "60"], stdout=subprocess.PIPE)
    seen = read_until_marker(p)
    t1 = time.perf_counter()
    p.wait()
    return (t1 - t0) * 1e3 if seen else None


def version_once(binary):
    t0 = time.perf_counter()
    subprocess.run([binary, "--version"], stdout=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - t0) * 1e3


def row(label, vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        print("%-44s   no good run" % label)
        return
    print("%-44s %9.2f %9.2f %9.2f  (%d runs)" % (label, statistics.median(vals), min(vals), max(vals), len(vals)))


print("%-44s %9s %9s %9s" % ("metric", "median", "min", "max"))
ready = [ready_once(i) for i in range(RUNS)]
row("exec -> API socket accepting, wall ms", [r[0] for r in ready])
row("exec -> first GET / answered, wall ms", [r[2] for r in ready])
row("CPU ms used by then (first GET answered)", [r[1] for r in ready])
row("CPU ms at socket accepting (no request)", [accept_cpu_once(i) for i in range(RUNS)])
starts = [start_once(i) for i in range(RUNS)]
row("InstanceStart -> guest's first output, ms", [s and s[0] for s in starts])
row("InstanceStart -> 204 response, ms", [s and s[1] for s in starts])
kib = idle_rss()
print("idle nkvm --api-sock: VmRSS %.2f MiB, VmHWM %.2f MiB, of which the API's libraries"
      " (microhttpd, jansson, gnutls and its deps) %.2f MiB"
      % (kib["VmRSS"] / 1024, kib["VmHWM"] / 1024, kib["libs"] / 1024))
row("nkvm --version, wall ms", [version_once(NKVM) for _ in range(RUNS)])
row("nkvm --version, CPU ms (dynamic linking)", [cpu_once([NKVM, "--version"]) for _ in range(RUNS)])
row("nkvm run trivial: exec -> marker, ms", [run_once(NKVM) for _ in range(RUNS)])
if BASE:
    row("BASE --version, wall ms", [version_once(BASE) for _ in range(RUNS)])
    row("BASE --version, CPU ms (dynamic linking)", [cpu_once([BASE, "--version"]) for _ in range(RUNS)])
    row("BASE run trivial: exec -> marker, ms", [run_once(BASE) for _ in range(RUNS)])
os.rmdir(tmp) if not os.listdir(tmp) else None
