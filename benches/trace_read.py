#!/usr/bin/env python3
"""`eco trace --read` against `tshark -r` on big captures: time and peak memory.

    python3 benches/trace_read.py [--frames 100000 1000000 10000000]
        [--eco target/release/eco] [--dir /tmp/eco-trace-bench] [--json]

The captures are made here (once, then reused): TCP connections of ten
frames each (handshake, 100 bytes each way, close), 64 open at any time
and interleaved as a busy server's are, each from its own address and
port, at 10 µs per frame. The same file goes to both tools, whose output
goes to /dev/null: eco's table (and its JSON Lines), tshark's default
columns (`tshark -n -r FILE`, the Info column computed for every frame as
eco's is). Peak memory is the child's maximum resident set (wait4).
"""

import argparse
import json
import os
import struct
import subprocess
import time

CONCURRENT = 64


def frames_of(conn):
    """The ten frames of connection `conn`: (from the client?, seq, ack, flags, payload)."""
    c, s = 1000 + conn, 5000 + conn
    data = b"x" * 100
    return [
        (True, c, 0, 0x002, b""),
        (False, s, c + 1, 0x012, b""),
        (True, c + 1, s + 1, 0x010, b""),
        (True, c + 1, s + 1, 0x018, data),
        (False, s + 1, c + 101, 0x010, b""),
        (False, s + 1, c + 101, 0x018, data),
        (True, c + 101, s + 101, 0x010, b""),
        (True, c + 101, s + 101, 0x011, b""),
        (False, s + 101, c + 102, 0x011, b""),
        (True, c + 102, s + 102, 0x010, b""),
    ]


def frame(conn, client, seq, ack, flags, payload):
    client_ip = struct.pack("!I", 0x0A000000 + 1 + conn % 0xFFFFFE)
    server_ip = bytes([10, 255, 0, 1])
    cport, sport = 1024 + conn % 60000, 80
    src, dst = (client_ip, server_ip) if client else (server_ip, client_ip)
    sp, dp = (cport, sport) if client else (sport, cport)
    tcp = struct.pack("!HHIIHHHH", sp, dp, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, (5 << 12) | flags, 64240, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0x4000, 64, 6, 0, src, dst)
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + tcp + payload


def make(path, count):
    """A pcap of `count` frames (a whole number of connections, then cut)."""
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        written, t = 0, 1_700_000_000_000_000  # µs
        conn, open_conns = 0, []
        while written < count:
            while len(open_conns) < CONCURRENT:
                open_conns.append([conn, frames_of(conn)])
                conn += 1
            batch = []
            for entry in open_conns:
                number, pending = entry
                client, seq, ack, flags, payload = pending.pop(0)
                batch.append(frame(number, client, seq, ack, flags, payload))
            open_conns = [e for e in open_conns if e[1]]
            out = bytearray()
            for data in batch:
                if written == count:
                    break
                t += 10
                out += struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(data), len(data)) + data
                written += 1
            f.write(out)
    os.replace(path + ".tmp", path)


def measure(argv):
    """Wall time (s) and peak RSS (MiB) of `argv`, output to /dev/null."""
    start = time.monotonic()
    with open(os.devnull, "wb") as null:
        child = subprocess.Popen(argv, stdout=null, stderr=null)
        _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.monotonic() - start
    if status != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({status})")
    return elapsed, usage.ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--eco", default="target/release/eco")
    parser.add_argument("--dir", default="/tmp/eco-trace-bench")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    rows = []
    for count in args.frames:
        path = os.path.join(args.dir, f"{count}.pcap")
        if not os.path.exists(path):
            make(path, count)
        eco_t, eco_m = measure([args.eco, "trace", "--read", path])
        json_t, json_m = measure([args.eco, "trace", "--read", path, "--json"])
        tshark_t, tshark_m = measure(["tshark", "-n", "-r", path])
        rows.append({
            "frames": count,
            "file_mib": os.path.getsize(path) / 2**20,
            "eco_s": eco_t, "eco_mib": eco_m,
            "eco_json_s": json_t, "eco_json_mib": json_m,
            "tshark_s": tshark_t, "tshark_mib": tshark_m,
            "speedup": tshark_t / eco_t,
        })
    if args.json:
        print(json.dumps(rows))
        return
    print("| frames | file | eco (table) | eco --json | tshark -r | eco faster by |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['frames']:,} | {r['file_mib']:.0f} MiB | {r['eco_s']:.2f} s, {r['eco_mib']:.0f} MiB | "
            f"{r['eco_json_s']:.2f} s, {r['eco_json_mib']:.0f} MiB | {r['tshark_s']:.2f} s, "
            f"{r['tshark_mib']:.0f} MiB | {r['speedup']:.1f}× |"
        )


if __name__ == "__main__":
    main()
