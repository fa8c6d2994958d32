#!/usr/bin/env python3
"""api_walk.py SPEC SOCKET: send every path and method of the Firecracker
API description SPEC (firecracker-api.yaml) to the nkvm API server on unix
socket SOCKET, with a JSON body of {} for PUT and PATCH, and check each
answer: a status the spec lists for it, or a clean 400 (JSON with a
fault_message); never a 5xx, a hang (10 s) or a closed connection.  Also
sends malformed HTTP.  Prints one "PASS text" or "FAIL text" line per check
(t_api.t turns them into TAP).  Needs python3-yaml."""
import http.client
import json
import socket
import sys

import yaml


class UnixConn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.unix_path)
        self.sock = s


def request(sock, method, path, body):
    c = UnixConn(sock)
    try:
        hdr = {"Content-Type": "application/json"} if body is not None else {}
        c.request(method, path, body=body, headers=hdr)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def clean_400(data):
    try:
        return isinstance(json.loads(data).get("fault_message"), str)
    except (ValueError, AttributeError):
        return False


def raw(sock, data):
    """Send raw bytes, return what comes back before the server closes
    (an incomplete request: when its 10 s idle timeout drops it) or 15 s
    pass."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(15)
    s.connect(sock)
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered early and closed: read what it said
    out = b""
    try:
        while True:
            b = s.recv(4096)
            if not b:
                break
            out += b
    finally:
        s.close()
    return out


def main():
    spec = yaml.safe_load(open(sys.argv[1]))
    sock = sys.argv[2]
    fails = 0
    for path, ops in spec["paths"].items():
        url = path.replace("{drive_id}", "walk_d").replace("{iface_id}", "walk_n").replace("{id}", "walk_p")
        for method, op in ops.items():
            if method not in ("get", "put", "patch", "post", "delete"):
                continue
            allowed = {int(k) for k in op.get("responses", {}) if str(k).isdigit()}
            m = method.upper()
            body = None if m == "GET" else "{}"
            what = "%s %s" % (m, path)
            try:
                st, data = request(sock, m, url, body)
            except Exception as e:  # noqa: BLE001 - any failure is a FAIL
                print("FAIL %s: %s" % (what, e))
                fails += 1
                continue
            good = st < 500 and (st in allowed or st == 400)
            if good and st >= 400:
                good = clean_400(data)
            if good and st == 200:
                try:
                    json.loads(data)
                except ValueError:
                    good = False
            print("%s %s -> %d%s" % ("PASS" if good else "FAIL", what, st,
                                     "" if good else " " + data[:200].decode(errors="replace")))
            fails += not good
    # methods the spec does not have on a path: a clean 400
    for m, url in (("DELETE", "/vm"), ("POST", "/actions"), ("GET", "/nosuch"), ("PUT", "/drives/a/b")):
        st, data = request(sock, m, url, "{}" if m != "GET" else None)
        ok = st == 400 and clean_400(data)
        print("%s %s %s (not in the spec) -> %d" % ("PASS" if ok else "FAIL", m, url, st))
    # malformed bodies and HTTP
    for body, what in (("{", "truncated JSON"), ("[1,2]", "JSON array"), ('{"action_type":"InstanceStart","action_type":"x"}', "duplicate key"),
                       ("", "empty body")):
        st, data = request(sock, "PUT", "/actions", body)
        ok = st == 400 and clean_400(data)
        print("%s PUT /actions with %s -> %d" % ("PASS" if ok else "FAIL", what, st))
    big = b'{"a":"' + b"x" * 100000 + b'"}'
    out = raw(sock, b"PUT /boot-source HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(big), big))
    print("%s 100 kB body -> 413 with a fault_message" % ("PASS" if out.startswith(b"HTTP/1.1 413")
                                                          and clean_400(out.partition(b"\r\n\r\n")[2]) else "FAIL"))
    out = raw(sock, b"GARBAGE\r\n\r\n")
    print("%s garbage request line: closed or a 4xx" % ("PASS" if out == b"" or out.startswith(b"HTTP/1.1 4") else "FAIL"))
    out = raw(sock, b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n")
    print("%s unknown method: a 400" % ("PASS" if out.startswith(b"HTTP/1.1 400") else "FAIL"))
    out = raw(sock, b"PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"vcpu")
    print("%s truncated request: closed without an answer or with a 4xx" % ("PASS" if out == b"" or out.startswith(b"HTTP/1.1 4") else "FAIL"))
    out = raw(sock, b"PUT /machine-config HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
    print("%s bad chunk size answered with a 4xx or closed" % ("PASS" if out == b"" or out.startswith(b"HTTP/1.1 4") else "FAIL"))
    st, data = request(sock, "GET", "/", None)
    print("%s server still answers after all that (GET / -> %d)" % ("PASS" if st == 200 else "FAIL", st))


if __name__ == "__main__":
    main()
