#!/usr/bin/env python3
"""Where a server's CPU per message goes: user vs kernel time, system calls
and context switches per message, for eco's async and uring modes and the C
epoll loop (issue 14: why io_uring does, or does not, go below epoll).

Each server pinned to CPU 0, `eco bench` (every echo checked) to CPU 1, as
in benches/run.py; after the warm-up, `perf stat` counts the server's system
calls (raw_syscalls:sys_enter) and context switches over a window in which
/proc/PID/stat gives its user and system time. Per message: divided by the
messages the bench counted in that window (its rate times the window).

    python3 benches/cost.py                  # 3 rounds, about 3 minutes
    python3 benches/cost.py --rounds 1

Needs: perf (Debian's linux-perf) and the permission to count a process's
tracepoints (root, or kernel.perf_event_paranoid <= -1); what run.py needs.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (benches/run.py: the servers and their start)

SERVERS = ["eco uring", "eco async", "C epoll (ref)"]
POINTS = {
    "c=1, 64 B": ["-c", "1", "-s", "64"],
    "c=50, 512 B": ["-c", "50", "-s", "512"],
    "c=500, 64 B": ["-c", "500", "-s", "64"],
}
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_times(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime: fields 14 and 15 of stat(5), 12 and 13 after the name.
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS


def measure(server, args, duration, warmup, window):
    port = run.free_port()
    command = ["taskset", "-c", "0"] + run.SERVERS[server] + [str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run.wait_listening(port, proc)
        bench = subprocess.Popen(
            ["taskset", "-c", "1", run.ECO, "bench", "--port", str(port), "--json", "-d", str(duration),
             "--warmup", str(warmup), "--timeout", "10"] + args,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        time.sleep(warmup + 0.3)
        user0, sys0 = cpu_times(proc.pid)
        perf = subprocess.run(
            ["perf", "stat", "-x", ",", "-e", "raw_syscalls:sys_enter,context-switches", "-p", str(proc.pid),
             "--", "sleep", str(window)], capture_output=True, text=True)
        user1, sys1 = cpu_times(proc.pid)
        out, _ = bench.communicate(timeout=duration + warmup + 60)
        report = json.loads(out)
        counts = {}
        for line in perf.stderr.splitlines():
            parts = line.split(",")
            if len(parts) > 2 and parts[0].strip().isdigit():
                counts[parts[2]] = int(parts[0])
        if "raw_syscalls:sys_enter" not in counts:
            sys.exit(f"perf stat counted nothing: {perf.stderr.strip()}")
        messages = report["rate"] * window
        return {
            "rate": report["rate"],
            "user_us": (user1 - user0) * 1e6 / messages,
            "sys_us": (sys1 - sys0) * 1e6 / messages,
            "syscalls": counts["raw_syscalls:sys_enter"] / messages,
            "switches": counts.get("context-switches", 0) / messages,
            "errors": sum(v for k, v in report["errors"].items() if k != "lost"),
        }
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    opts = parser.parse_args()
    window = opts.duration - 0.8
    run.build()
    results = {(p, s): [] for p in POINTS for s in SERVERS}
    for rnd in range(opts.rounds):
        for point, args in POINTS.items():
            order = SERVERS[rnd % len(SERVERS):] + SERVERS[:rnd % len(SERVERS)]
            for server in order:
                m = measure(server, args, opts.duration, opts.warmup, window)
                results[(point, server)].append(m)
                print(f"round {rnd + 1} {point:14} {server:15} {m['rate']:>10,.0f}/s user {m['user_us']:.2f} "
                      f"sys {m['sys_us']:.2f} µs, {m['syscalls']:.2f} syscalls/msg", file=sys.stderr, flush=True)
    print(f"Command: `python3 benches/cost.py --rounds {opts.rounds}` (medians)\n")
    print("| point | server | msgs/s | user µs/msg | kernel µs/msg | system calls/msg | context switches/msg "
          "| errors |")
    print("|---|---|--:|--:|--:|--:|--:|--:|")
    for point in POINTS:
        for server in SERVERS:
            ms = results[(point, server)]
            med = {k: statistics.median(m[k] for m in ms) for k in ms[0]}
            print(f"| {point} | {server} | {med['rate']:,.0f} | {med['user_us']:.2f} | {med['sys_us']:.2f} "
                  f"| {med['syscalls']:.2f} | {med['switches']:.3f} | {int(med['errors'])} |")


if __name__ == "__main__":
    main()
