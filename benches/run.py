#!/usr/bin/env python3
"""Side-by-side echo benchmark: eco's server modes against reference servers.

Every server runs pinned to CPU 0 and `eco bench` (the load generator, which
checks every echo) pinned to CPU 1, one server at a time, several rounds with
the servers' order rotated each round. Per point and server it records the
message rate, latency percentiles and the server's CPU time per message (from
/proc/PID/stat over the measured window), takes the median over the rounds,
checks the performance goals and writes benches/RESULTS.md.

    python3 benches/run.py                 # 3 rounds, about 10 minutes
    python3 benches/run.py --rounds 1 --duration 1 --output /tmp/quick.md

Needs: cargo, gcc, python3, taskset (util-linux), socat, 2 or more CPUs.
"""

import argparse
import datetime
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REF = os.path.join(ROOT, "benches", "ref")
BUILD = os.path.join(ROOT, "target", "bench-refs")
ECO = os.path.join(ROOT, "target", "release", "eco")
RUST_REFS = os.path.join(REF, "rust", "target", "release")

# name -> command (the port is appended)
SERVERS = {
    "eco async": [ECO, "server", "-q", "--mode", "async", "--port"],
    "eco uring": [ECO, "server", "-q", "--mode", "uring", "--port"],
    "eco threads": [ECO, "server", "-q", "--mode", "threads", "--port"],
    "eco single": [ECO, "server", "-q", "--mode", "single", "--port"],
    "tokio (ref)": [os.path.join(RUST_REFS, "tokio_echo")],
    "std threads (ref)": [os.path.join(RUST_REFS, "threads_echo")],
    "C epoll (ref)": [os.path.join(BUILD, "epoll_echo")],
    "C splice (ref)": [os.path.join(BUILD, "splice_echo")],
    "Python asyncio (ref)": [sys.executable, os.path.join(REF, "asyncio_echo.py")],
    # UDP: eco's datagram echo with the reflection guard on (its per-source
    # limits raised: every datagram of the bench comes from 127.0.0.1),
    # a C recvmmsg/sendmmsg loop, and socat.
    "eco udp": [ECO, "server", "-q", "--udp", "--udp-rate-per-ip", "4294967295", "--udp-rate", "4294967295",
                "--port"],
    "C recvmmsg (ref)": [os.path.join(BUILD, "udp_mmsg_echo")],
    "socat (ref)": ["socat", "UDP4-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr", "PIPE"],
}
UDP_SERVERS = ["eco udp", "C recvmmsg (ref)", "socat (ref)"]

# name -> (eco bench arguments, servers that take part)
TCP_SERVERS = [s for s in SERVERS if s not in UDP_SERVERS]
MULTI = [s for s in TCP_SERVERS if s != "eco single"]
POINTS = {
    "c=1, 64 B": (["-c", "1", "-s", "64"], TCP_SERVERS),
    "c=50, 512 B": (["-c", "50", "-s", "512"], MULTI),
    "c=500, 64 B": (["-c", "500", "-s", "64"], MULTI),
    "bulk 1 GiB, 1 connection": (["-c", "1", "--bulk", "1G"], MULTI),
    "connect rate, c=50": (["-c", "50", "-s", "64", "--connect-rate"], MULTI),
    "UDP, c=50, 64 B": (["-c", "50", "-s", "64", "--udp"], UDP_SERVERS),
}


def build():
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=os.path.join(REF, "rust"), check=True)
    os.makedirs(BUILD, exist_ok=True)
    subprocess.run(["gcc", "-O2", "-o", os.path.join(BUILD, "epoll_echo"), os.path.join(REF, "epoll_echo.c")], check=True)
    subprocess.run(["gcc", "-O2", "-pthread", "-o", os.path.join(BUILD, "splice_echo"), os.path.join(REF, "splice_echo.c")], check=True)
    subprocess.run(["gcc", "-O2", "-o", os.path.join(BUILD, "udp_mmsg_echo"), os.path.join(REF, "udp_mmsg_echo.c")], check=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_answering_udp(port, proc, limit=10.0):
    deadline = time.time() + limit
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("server exited")
            s.sendto(b"ping", ("127.0.0.1", port))
            try:
                s.recvfrom(16)
                return
            except OSError:
                time.sleep(0.05)
    raise RuntimeError("server did not answer")


def wait_listening(port, proc, limit=10.0):
    deadline = time.time() + limit
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not listen")


def run_one(server, args, duration, warmup):
    port = free_port()
    template = SERVERS[server]
    if any("{port}" in part for part in template):
        command = [part.replace("{port}", str(port)) for part in template]
    else:
        command = template + [str(port)]
    cmd = ["taskset", "-c", "0"] + command
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if server in UDP_SERVERS:
            wait_answering_udp(port, proc)
        else:
            wait_listening(port, proc)
        bench = ["taskset", "-c", "1", ECO, "bench", "--port", str(port), "--json",
                 "--server-pid", str(proc.pid), "-d", str(duration), "--warmup", str(warmup),
                 "--timeout", "10"] + args
        out = subprocess.run(bench, capture_output=True, text=True, timeout=duration + warmup + 60)
        report = json.loads(out.stdout)
        report["exit"] = out.returncode
        return report
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def metrics(report):
    errors = report["errors"]
    return {
        "rate": report["rate"],
        "p50": report["latency_us"]["p50"],
        "p99": report["latency_us"]["p99"],
        "p99_9": report["latency_us"]["p99_9"],
        "cpu_us_per_msg": report["server_cpu_us_per_msg"],
        "gib_per_s": report["mib_per_s"] / 1024.0,
        "cpu_s_per_gib": report["server_cpu_s_per_gib"],
        "gen_cpu_us_per_msg": report.get("generator_cpu_us_per_msg"),
        "errors": sum(v for k, v in errors.items() if k != "lost"),
    }


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def spread_of(values):
    values = [v for v in values if v is not None]
    return (min(values), max(values)) if values else None


def verdict(a, b, lower_is_better, sa, sb):
    """yes / no by the medians, and "within noise" when the rounds of the
    two overlap (the run-to-run spread on this machine is larger than the
    difference)."""
    met = a <= b if lower_is_better else a >= b
    overlap = sa and sb and sa[0] <= sb[1] and sb[0] <= sa[1]
    if met:
        return "yes"
    return "no, within noise" if overlap else "**no**"


def fmt(value, digits=1):
    return "–" if value is None else f"{value:,.{digits}f}"


def table(point, results):
    bulk = point.startswith("bulk")
    conn = point.startswith("connect")
    if bulk:
        head = "| server | GiB/s | server CPU s/GiB | errors |\n|---|--:|--:|--:|\n"
    else:
        unit = "conns/s" if conn else "msgs/s"
        per = "conn" if conn else "msg"
        head = (f"| server | {unit} | p50 µs | p99 µs | p99.9 µs | server CPU µs/{per} | eco bench CPU µs/{per} "
                f"| errors |\n|---|--:|--:|--:|--:|--:|--:|--:|\n")
    rows = []
    for server, m in results.items():
        if bulk:
            rows.append(f"| {server} | {fmt(m['gib_per_s'], 2)} | {fmt(m['cpu_s_per_gib'], 3)} | {m['errors']} |")
        else:
            rows.append(f"| {server} | {fmt(m['rate'], 0)} | {fmt(m['p50'])} | {fmt(m['p99'])} | {fmt(m['p99_9'])} "
                        f"| {fmt(m['cpu_us_per_msg'], 2)} | {fmt(m['gen_cpu_us_per_msg'], 2)} | {m['errors']} |")
    return head + "\n".join(rows) + "\n"


def goals(res, spread):
    """Each goal: (text, verdict, detail)."""
    out = []
    eco, epoll, tokio = "eco async", "C epoll (ref)", "tokio (ref)"

    def compare(text, point, a_server, b_server, key, lower_is_better, unit, digits=2, scale=1.0):
        a, b = res[point][a_server][key], res[point][b_server][key]
        sa, sb = spread[point][a_server][key], spread[point][b_server][key]
        if a is None or b is None:
            out.append((text, "–", "not measured"))
            return
        detail = (f"{a:,.{digits}f} vs {b:,.{digits}f} {unit} ({a / b:.2f}×); "
                  f"rounds {sa[0]:,.{digits}f}–{sa[1]:,.{digits}f} vs {sb[0]:,.{digits}f}–{sb[1]:,.{digits}f}")
        scaled = (sb[0] * scale, sb[1] * scale)
        out.append((text, verdict(a, b * scale, lower_is_better, sa, scaled), detail))

    for point in ["c=50, 512 B", "c=500, 64 B"]:
        compare(f"server CPU per message at {point} ≤ C epoll", point, eco, epoll, "cpu_us_per_msg", True, "µs")
    compare("p99 at c=500 ≤ ⅓ of the tokio reference's", "c=500, 64 B", eco, tokio, "p99", True, "µs", 0, 1 / 3)
    bulk = "bulk 1 GiB, 1 connection"
    refs = [s for s in res[bulk] if s.endswith("(ref)")]
    best = max(refs, key=lambda s: res[bulk][s]["gib_per_s"])
    compare(f"bulk GiB/s ≥ the best reference ({best})", bulk, eco, best, "gib_per_s", False, "GiB/s")
    compare("bulk server CPU per GiB ≤ the splice echo", bulk, eco, "C splice (ref)", "cpu_s_per_gib", True, "s/GiB", 3)
    compare("connections/s ≥ the tokio reference", "connect rate, c=50", eco, tokio, "rate", False, "/s", 0)
    for point in [p for p in res if "eco threads" in res[p]]:
        key = "gib_per_s" if point.startswith("bulk") else "rate"
        compare(f"eco threads ≥ std threads (ref) at {point}", point, "eco threads", "std threads (ref)", key, False,
                "GiB/s" if key == "gib_per_s" else "/s", 2 if key == "gib_per_s" else 0)
    compare("eco single ≥ Python asyncio at c=1", "c=1, 64 B", "eco single", "Python asyncio (ref)", "rate", False, "msgs/s", 0)
    # The load generator's own CPU per message, in the runs against the C
    # epoll server, against that server's CPU per message (issue 14).
    for point in ["c=1, 64 B", "c=50, 512 B", "c=500, 64 B"]:
        a, b = res[point][epoll]["gen_cpu_us_per_msg"], res[point][epoll]["cpu_us_per_msg"]
        sa, sb = spread[point][epoll]["gen_cpu_us_per_msg"], spread[point][epoll]["cpu_us_per_msg"]
        if a is None or b is None:
            out.append((f"eco bench CPU per message ≤ the C epoll server's at {point}", "–", "not measured"))
            continue
        detail = (f"{a:,.2f} vs {b:,.2f} µs ({a / b:.2f}×); rounds {sa[0]:,.2f}–{sa[1]:,.2f} "
                  f"vs {sb[0]:,.2f}–{sb[1]:,.2f}")
        out.append((f"eco bench CPU per message ≤ the C epoll server's at {point}",
                    verdict(a, b, True, sa, sb), detail))
    # io_uring (issue 14): below the epoll floor, and no worse than async
    # where async leads.
    uring = "eco uring"
    for point in ["c=50, 512 B", "c=500, 64 B"]:
        compare(f"uring: server CPU per message at {point} ≤ 0.85× C epoll", point, uring, epoll, "cpu_us_per_msg",
                True, "µs", 2, 0.85)
    compare("uring: bulk server CPU per GiB ≤ async's", bulk, uring, eco, "cpu_s_per_gib", True, "s/GiB", 3)
    compare("uring: bulk GiB/s ≥ async's", bulk, uring, eco, "gib_per_s", False, "GiB/s")
    compare("uring: connections/s ≥ async's", "connect rate, c=50", uring, eco, "rate", False, "/s", 0)
    compare("uring: server CPU per connection ≤ async's", "connect rate, c=50", uring, eco, "cpu_us_per_msg", True,
            "µs")
    compare("UDP datagrams/s ≥ the C recvmmsg loop", "UDP, c=50, 64 B", "eco udp", "C recvmmsg (ref)", "rate",
            False, "/s", 0)
    compare("UDP server CPU per datagram ≤ the C recvmmsg loop", "UDP, c=50, 64 B", "eco udp", "C recvmmsg (ref)",
            "cpu_us_per_msg", True, "µs")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--output", default=os.path.join(ROOT, "benches", "RESULTS.md"))
    parser.add_argument("--raw", help="also write every run's JSON report here")
    parser.add_argument("--from-raw", help="write the results from a --raw file of an earlier run, without running")
    parser.add_argument("--only", help="a quick look: only these servers (comma-separated names), "
                        "printed, not written to the results")
    parser.add_argument("--points", help="a quick look: only the points whose names contain one of these "
                        "(comma-separated), printed, not written to the results")
    opts = parser.parse_args()
    if opts.points:
        wanted = [part.strip() for part in opts.points.split(",")]
        names = ", ".join(POINTS)
        for point in list(POINTS):
            if not any(part in point for part in wanted):
                del POINTS[point]
        if not POINTS:
            sys.exit(f"--points: no point matches; the points are: {names}")
        opts.output = None
    if opts.only:
        wanted = [name.strip() for name in opts.only.split(",")]
        for name in wanted:
            if name not in SERVERS:
                sys.exit(f"--only: no server {name!r}; the servers are: {', '.join(SERVERS)}")
        for point, (args, servers) in list(POINTS.items()):
            kept = [s for s in servers if s in wanted]
            if kept:
                POINTS[point] = (args, kept)
            else:
                del POINTS[point]
        opts.output = None
    runs = {p: {s: [] for s in servers} for p, (_, servers) in POINTS.items()}
    raw = []
    if opts.from_raw:
        with open(opts.from_raw) as f:
            raw = json.load(f)
        for report in raw:
            runs[report["point"]][report["server"]].append(metrics(report))
        opts.rounds = max(r["round"] for r in raw)
    elif (os.cpu_count() or 1) < 2:
        sys.exit("benches/run.py needs 2 CPUs: one for the server, one for the load")
    else:
        build()
    for rnd in range(0 if opts.from_raw else opts.rounds):
        for point, (args, servers) in POINTS.items():
            order = servers[rnd % len(servers):] + servers[:rnd % len(servers)]
            for server in order:
                report = run_one(server, args, opts.duration, opts.warmup)
                report.update(point=point, server=server, round=rnd + 1)
                raw.append(report)
                runs[point][server].append(metrics(report))
                print(f"round {rnd + 1} {point:28} {server:22} {report['rate']:>12,.0f}/s "
                      f"p99 {report['latency_us']['p99']:>10,.1f} µs", flush=True)
    res = {p: {s: {k: median([m[k] for m in ms]) for k in ms[0]} for s, ms in r.items()} for p, r in runs.items()}
    spread = {p: {s: {k: spread_of([m[k] for m in ms]) for k in ms[0]} for s, ms in r.items()} for p, r in runs.items()}
    for r in res.values():
        for m in r.values():
            m["errors"] = int(m["errors"])
    if opts.raw and not opts.from_raw:
        with open(opts.raw, "w") as f:
            json.dump(raw, f, indent=1)
    if opts.output is None:
        for point, r in res.items():
            print(f"## {point}\n\n{table(point, r)}")
        return
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    lines = [
        "# eco benchmark results",
        "",
        f"Date: {datetime.date.today()} · kernel {platform.release()} · {os.cpu_count()} CPUs ({cpu})",
        "",
        f"Command: `python3 benches/run.py --rounds {opts.rounds} --duration {opts.duration} --warmup {opts.warmup}`",
        "",
        "Each server pinned to CPU 0 (`taskset -c 0`), the load generator `eco bench` (which checks",
        "every echo) pinned to CPU 1; one server at a time; medians of "
        f"{opts.rounds} rounds, the servers' order rotated each round. Server CPU is user + system time",
        "from /proc/PID/stat over the measured window. Latency is the round trip seen by the load",
        "generator, which runs on one core and takes part in the tail at high concurrency.",
        "eco bench CPU is the load generator's own user + system time over the same window.",
        "",
    ]
    for point, r in res.items():
        lines += [f"## {point}", "", table(point, r)]
        if point in NOTES:
            lines += [NOTES[point], ""]
    lines += [
        "## Goals",
        "",
        "Medians; \"within noise\" when the rounds of eco and of the reference overlap.",
        "",
        "| goal | met | eco vs reference (medians, then the range over the rounds) |",
        "|---|---|---|",
    ]
    for text, met, detail in goals(res, spread):
        lines.append(f"| {text} | {met} | {detail} |")
    lines.append("")
    # The sections of other benches (trace_read.py, udp_flood.py) follow a
    # marker line; they are kept as they are.
    kept = ""
    if os.path.exists(opts.output):
        with open(opts.output) as f:
            before = f.read()
        if MARKER in before:
            kept = before[before.index(MARKER):]
    with open(opts.output, "w") as f:
        f.write("\n".join(lines) + ("\n" + kept if kept else ""))
    print(f"wrote {opts.output}")


MARKER = "<!-- other benches: kept as they are by run.py -->"

# What a table needs said beside it.
NOTES = {
    "UDP, c=50, 64 B": (
        "socat (`UDP4-LISTEN:PORT,fork PIPE`, a child per client) answers a lone datagram, but under load "
        "its PIPE is a byte stream: datagrams queued together come back joined, which eco bench reports "
        "as wrong echoes, and its clients then stop. It is no datagram echo; the C recvmmsg loop is the "
        "reference that counts. eco's UDP echo keeps its reflection guard on, per-source limits raised."
    ),
}


if __name__ == "__main__":
    main()
