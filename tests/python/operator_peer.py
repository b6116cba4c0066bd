#!/usr/bin/env python3
"""A client of `eco server` as operators' tools are: a balancer sending
PROXY protocol headers, a TLS client (Python's ssl), and the client whose
timeouts and error handling a misbehaving server tests.

    python3 operator_peer.py SCENARIO PORT [ARG...]

Each scenario prints one JSON object with what it saw.
"""

import json
import os
import socket
import ssl
import struct
import sys
import time
import urllib.request

HOST = "127.0.0.1"
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def connect(port):
    s = socket.create_connection((HOST, port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_until_end(s, limit=10):
    """Reads until EOF or an error: (bytes, how it ended)."""
    s.settimeout(limit)
    got = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return got, "eof"
            got += chunk
    except ConnectionResetError:
        return got, "reset"
    except socket.timeout:
        return got, "timeout"


def echo_then_close(s, data):
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    got, end = read_until_end(s)
    s.close()
    return {"echoed": got == data, "got": len(got), "end": end}


def v2_header(src, sport, dst, dport, tlvs=b""):
    body = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport) + tlvs
    return V2_SIGNATURE + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


def proxy(port, kind):
    try:
        return proxy_exchange(connect(port), kind)
    except (BrokenPipeError, ConnectionResetError):
        return {"echoed": False, "got": 0, "end": "reset"}


def proxy_exchange(s, kind):
    data = os.urandom(3000)
    if kind == "v1":
        s.sendall(b"PROXY TCP4 203.0.113.7 192.0.2.1 51234 5050\r\n" + data)
    elif kind == "v1-split":
        # A balancer may send the header in pieces; eco must wait for all of it.
        for piece in (b"PRO", b"XY TCP4 203.0.113.", b"7 192.0.2.1 51234 5050\r", b"\n"):
            s.sendall(piece)
            time.sleep(0.1)
        s.sendall(data)
    elif kind == "v2":
        tlv = bytes([0x02]) + struct.pack("!H", 11) + b"example.com"
        s.sendall(v2_header("198.51.100.9", 40000, "192.0.2.1", 5050, tlv) + data)
    elif kind == "v2-local":
        s.sendall(V2_SIGNATURE + bytes([0x20, 0x00, 0x00, 0x00]) + data)
    elif kind == "none":
        s.sendall(data)
    elif kind == "garbage":
        s.sendall(b"PROXY TCP4 not-an-address 192.0.2.1 1 2\r\n" + data)
    elif kind == "silent":
        # Connects and says nothing: a required header never comes.
        got, end = read_until_end(s, limit=30)
        return {"echoed": False, "got": len(got), "end": end}
    try:
        s.shutdown(socket.SHUT_WR)
    except OSError:
        # Reset already (a refused header): the read below says so.
        pass
    got, end = read_until_end(s)
    s.close()
    return {"echoed": got == data, "got": len(got), "end": end}


def tls_context(args):
    ctx = ssl.create_default_context()
    opts = dict(a.split("=", 1) for a in args)
    if "ca" in opts:
        ctx.load_verify_locations(opts["ca"])
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if "cert" in opts:
        ctx.load_cert_chain(opts["cert"], opts["key"])
    if "alpn" in opts:
        ctx.set_alpn_protocols(opts["alpn"].split(","))
    return ctx, opts


def tls(port, args, header=None):
    ctx, opts = tls_context(args)
    raw = connect(port)
    if header:
        raw.sendall(header)
    try:
        s = ctx.wrap_socket(raw, server_hostname=opts.get("sni", "localhost"))
    except (ssl.SSLError, ConnectionResetError, OSError) as e:
        return {"handshake": False, "error": str(e)}
    data = os.urandom(100_000)
    got = b""
    try:
        s.sendall(data)
        while len(got) < len(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except (ssl.SSLError, OSError) as e:
        return {"handshake": True, "echoed": False, "error": str(e)}
    result = {
        "handshake": True,
        "echoed": got == data,
        "version": s.version(),
        "cipher": s.cipher()[0],
        "alpn": s.selected_alpn_protocol(),
    }
    s.close()
    return result


def timed_echo(port, count, size=64):
    s = connect(port)
    times = []
    ok = True
    for _ in range(count):
        data = os.urandom(size)
        start = time.monotonic()
        s.sendall(data)
        got = b""
        while len(got) < len(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        times.append(time.monotonic() - start)
        ok = ok and got == data
    s.close()
    return {"echoed": ok, "times_ms": [round(t * 1000, 1) for t in times]}


def throttle(port, size):
    s = connect(port)
    data = os.urandom(size)
    start = time.monotonic()
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    got, end = read_until_end(s, limit=30)
    return {"echoed": got == data, "end": end, "seconds": round(time.monotonic() - start, 2)}


def after(port, size):
    """--close-after / --reset-after: sends `size` bytes, reads to the end."""
    s = connect(port)
    data = os.urandom(size)
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    got, end = read_until_end(s)
    return {"got": len(got), "prefix_ok": got == data[: len(got)], "end": end}


def stall(port, first):
    """--stall-after FIRST: FIRST bytes echoed, then nothing: writes block."""
    s = connect(port)
    data = os.urandom(first)
    s.sendall(data)
    got = b""
    while len(got) < first:
        got += s.recv(65536)
    # Then keep writing: the server no longer reads, so the kernel's
    # buffers fill and our writes stop being taken.
    s.setblocking(False)
    sent, stuck_since = 0, None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            sent += s.send(b"x" * 65536)
            stuck_since = None
        except BlockingIOError:
            stuck_since = stuck_since or time.monotonic()
            if time.monotonic() - stuck_since > 1.0:
                break
            time.sleep(0.05)
    blocked = stuck_since is not None and time.monotonic() - stuck_since > 1.0
    # Nothing more came back, and the connection is still open.
    try:
        more = s.recv(65536)
        state = "eof" if more == b"" else "data"
    except BlockingIOError:
        state = "open"
    except ConnectionResetError:
        state = "reset"
    s.close()
    return {"first_echoed": got == data, "blocked": blocked, "sent_after": sent, "state": state}


def accept_delay(port):
    start = time.monotonic()
    s = connect(port)
    connected = time.monotonic() - start
    s.sendall(b"ping")
    got = s.recv(10)
    echoed = time.monotonic() - start
    s.close()
    return {"echoed": got == b"ping", "connect_ms": round(connected * 1000, 1), "echo_ms": round(echoed * 1000, 1)}


def udp(port, count, header=None):
    """Sends `count` datagrams, then counts the answers that come within
    half a second of silence (a dropped datagram costs no wait of its own)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent = set()
    for i in range(count):
        payload = b"datagram %d" % i
        sent.add(payload)
        s.sendto((header or b"") + payload, (HOST, port))
        time.sleep(0.001)
    s.settimeout(0.5)
    answered = set()
    try:
        while True:
            got, _ = s.recvfrom(2048)
            if got in sent:
                answered.add(got)
    except socket.timeout:
        pass
    return {"sent": count, "answered": len(answered)}


def metrics(port, metrics_port):
    """A known workload, then a scrape: 3 connections echoing 1000 bytes
    each, one reset by us; /metrics and /healthz."""
    for _ in range(3):
        echo_then_close(connect(port), b"m" * 1000)
    s = connect(port)
    s.sendall(b"r" * 10)
    s.recv(10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    time.sleep(0.5)
    base = f"http://{HOST}:{metrics_port}"
    text = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    health = urllib.request.urlopen(base + "/healthz", timeout=5)
    try:
        urllib.request.urlopen(base + "/nothing", timeout=5)
        missing = 200
    except urllib.error.HTTPError as e:
        missing = e.code
    return {"metrics": values, "health": health.status, "health_body": health.read().decode(), "missing": missing}


def main():
    scenario, port, args = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    if scenario == "proxy":
        result = proxy(port, args[0])
    elif scenario == "tls":
        result = tls(port, args)
    elif scenario == "tls-proxy":
        result = tls(port, args, header=v2_header("198.51.100.20", 4000, "192.0.2.1", 443))
    elif scenario == "delay":
        result = timed_echo(port, int(args[0]))
    elif scenario == "throttle":
        result = throttle(port, int(args[0]))
    elif scenario == "after":
        result = after(port, int(args[0]))
    elif scenario == "stall":
        result = stall(port, int(args[0]))
    elif scenario == "accept-delay":
        result = accept_delay(port)
    elif scenario == "udp":
        result = udp(port, int(args[0]))
    elif scenario == "udp-proxy":
        # v2 over UDP (DGRAM): the header names the original client.
        body = socket.inet_aton(args[1]) + socket.inet_aton("192.0.2.1") + struct.pack("!HH", 40000, 7)
        header = V2_SIGNATURE + bytes([0x21, 0x12]) + struct.pack("!H", len(body)) + body
        result = udp(port, int(args[0]), header)
    elif scenario == "metrics":
        result = metrics(port, int(args[0]))
    elif scenario == "slowloris":
        result = slowloris(port, int(args[0]))
    else:
        sys.exit(f"unknown scenario {scenario}")
    print(json.dumps(result))



def slowloris(metrics_port, count):
    """`count` connections that each send one byte of a request and then
    nothing; meanwhile /healthz must still answer."""
    held = []
    for _ in range(count):
        s = socket.create_connection((HOST, metrics_port), timeout=5)
        s.sendall(b"G")
        held.append(s)
    start = time.monotonic()
    health = urllib.request.urlopen(f"http://{HOST}:{metrics_port}/healthz", timeout=10)
    took = time.monotonic() - start
    for s in held:
        s.close()
    return {"health": health.status, "seconds": round(took, 2)}


if __name__ == "__main__":
    main()
