#!/usr/bin/env python3
"""UDP echo under a flood of ever-new source addresses.

A flooder sends one datagram from each of many new loopback addresses
(127.x.y.z, chosen per datagram with IP_PKTINFO, no root needed) at a fixed
rate, as a spoofing attacker would; meanwhile a legitimate client sends at
its own pace from one address and counts its answers. Reported: the share
of the client's datagrams answered, the flood rate reached, and the server's
CPU time per flood datagram (from /proc/PID/stat).

    python3 benches/udp_flood.py --port P [--pid PID] [--rate 25000]
        [--seconds 5] [--client-rate 100] [--cycle N] [--json]

Start the server first, e.g. `eco server --udp --port P`. Exit status 0;
the JSON (or text) says what was measured.
"""

import argparse
import json
import os
import socket
import struct
import sys
import threading
import time

IP_PKTINFO = 8


def cpu_seconds(pid):
    if pid is None:
        return None
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def flood(port, rate, seconds, cycle, sent):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", 0))
    # Answers to the spoofed addresses land on this socket; nobody reads them.
    target = ("127.0.0.1", port)
    start = time.monotonic()
    n = 0
    while True:
        elapsed = time.monotonic() - start
        if elapsed >= seconds:
            break
        due = int(elapsed * rate)
        while n < due:
            # 127.1.0.0 onwards: a new source address for every datagram
            # (or, with --cycle N, the same N addresses over and over, each
            # with a new payload, as a spoofer reusing a fixed list would).
            addr = struct.pack("!I", 0x7F010000 + n % cycle)
            cmsg = struct.pack("=I4s4s", 0, addr, b"\0" * 4)
            try:
                sock.sendmsg([b"flood %d" % n], [(socket.IPPROTO_IP, IP_PKTINFO, cmsg)], 0, target)
            except OSError:
                pass
            n += 1
        time.sleep(0.001)
    sent[0] = n


def client(port, rate, seconds, result):
    """Sends at a fixed pace, whatever the answers do (as a real client's
    requests keep coming), and counts the answers on a second thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.connect(("127.0.0.1", port))
    sock.settimeout(0.2)
    answered, done = set(), threading.Event()

    def receive():
        while not done.is_set():
            try:
                answered.add(sock.recv(100))
            except (socket.timeout, ConnectionRefusedError):
                pass

    receiver = threading.Thread(target=receive)
    receiver.start()
    sent = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        sock.send(f"client {sent}".encode())
        sent += 1
        time.sleep(max(0.0, start + sent / rate - time.monotonic()))
    time.sleep(0.5)  # the last answers
    done.set()
    receiver.join()
    result.update(sent=sent, answered=len(answered))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int)
    parser.add_argument("--rate", type=int, default=25000, help="new sources per second")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--client-rate", type=float, default=100)
    parser.add_argument("--cycle", type=int, default=1 << 24, help="spoofed addresses, reused in turn")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    cpu_before = cpu_seconds(args.pid)
    flooded, result = [0], {}
    threads = [
        threading.Thread(target=flood, args=(args.port, args.rate, args.seconds, args.cycle, flooded)),
        threading.Thread(target=client, args=(args.port, args.client_rate, args.seconds, result)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu_after = cpu_seconds(args.pid)
    report = {
        "flood_sources": flooded[0],
        "flood_rate": flooded[0] / args.seconds,
        "client_sent": result["sent"],
        "client_answered": result["answered"],
        "client_answered_share": result["answered"] / max(result["sent"], 1),
        "server_cpu_s": None if cpu_before is None else cpu_after - cpu_before,
    }
    if report["server_cpu_s"] is not None:
        report["server_cpu_us_per_datagram"] = report["server_cpu_s"] * 1e6 / max(flooded[0], 1)
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    sys.exit(main())
