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

Needs: cargo, gcc, python3, taskset (util-linux), 2 or more CPUs.
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
    "eco threads": [ECO, "server", "-q", "--mode", "threads", "--port"],
    "eco single": [ECO, "server", "-q", "--mode", "single", "--port"],
    "tokio (ref)": [os.path.join(RUST_REFS, "tokio_echo")],
    "std threads (ref)": [os.path.join(RUST_REFS, "threads_echo")],
    "C epoll (ref)": [os.path.join(BUILD, "epoll_echo")],
    "C splice (ref)": [os.path.join(BUILD, "splice_echo")],
    "Python asyncio (ref)": [sys.executable, os.path.join(REF, "asyncio_echo.py")],
}

# name -> (eco bench arguments, servers that take part)
MULTI = [s for s in SERVERS if s != "eco single"]
POINTS = {
    "c=1, 64 B": (["-c", "1", "-s", "64"], list(SERVERS)),
    "c=50, 512 B": (["-c", "50", "-s", "512"], MULTI),
    "c=500, 64 B": (["-c", "500", "-s", "64"], MULTI),
    "bulk 1 GiB, 1 connection": (["-c", "1", "--bulk", "1G"], MULTI),
    "connect rate, c=50": (["-c", "50", "-s", "64", "--connect-rate"], MULTI),
}


def build():
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=os.path.join(REF, "rust"), check=True)
    os.makedirs(BUILD, exist_ok=True)
    subprocess.run(["gcc", "-O2", "-o", os.path.join(BUILD, "epoll_echo"), os.path.join(REF, "epoll_echo.c")], check=True)
    subprocess.run(["gcc", "-O2", "-pthread", "-o", os.path.join(BUILD, "splice_echo"), os.path.join(REF, "splice_echo.c")], check=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    cmd = ["taskset", "-c", "0"] + SERVERS[server] + [str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
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
        "errors": sum(v for k, v in errors.items() if k != "lost"),
    }


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=1):
    return "–" if value is None else f"{value:,.{digits}f}"


def table(point, results):
    bulk = point.startswith("bulk")
    conn = point.startswith("connect")
    if bulk:
        head = "| server | GiB/s | server CPU s/GiB | errors |\n|---|--:|--:|--:|\n"
    else:
        unit = "conns/s" if conn else "msgs/s"
        head = f"| server | {unit} | p50 µs | p99 µs | p99.9 µs | server CPU µs/{'conn' if conn else 'msg'} | errors |\n|---|--:|--:|--:|--:|--:|--:|\n"
    rows = []
    for server, m in results.items():
        if bulk:
            rows.append(f"| {server} | {fmt(m['gib_per_s'], 2)} | {fmt(m['cpu_s_per_gib'], 3)} | {m['errors']} |")
        else:
            rows.append(f"| {server} | {fmt(m['rate'], 0)} | {fmt(m['p50'])} | {fmt(m['p99'])} | {fmt(m['p99_9'])} | {fmt(m['cpu_us_per_msg'], 2)} | {m['errors']} |")
    return head + "\n".join(rows) + "\n"


def goals(res):
    """Each goal: (text, met, detail)."""
    out = []
    eco, epoll, tokio = "eco async", "C epoll (ref)", "tokio (ref)"
    for point in ["c=50, 512 B", "c=500, 64 B"]:
        a, b = res[point][eco]["cpu_us_per_msg"], res[point][epoll]["cpu_us_per_msg"]
        out.append((f"server CPU per message at {point} ≤ C epoll", a <= b, f"{a:.2f} vs {b:.2f} µs ({a / b:.2f}×)"))
    a, b = res["c=500, 64 B"][eco]["p99"], res["c=500, 64 B"][tokio]["p99"]
    out.append(("p99 at c=500 ≤ ⅓ of the tokio reference's", a <= b / 3, f"{a:,.0f} vs {b:,.0f} µs ({a / b:.2f}×)"))
    bulk = res["bulk 1 GiB, 1 connection"]
    best = max(m["gib_per_s"] for s, m in bulk.items() if s not in (eco, "eco threads"))
    a = bulk[eco]["gib_per_s"]
    out.append(("bulk GiB/s ≥ the best reference", a >= best, f"{a:.2f} vs {best:.2f} GiB/s"))
    a, b = bulk[eco]["cpu_s_per_gib"], bulk["C splice (ref)"]["cpu_s_per_gib"]
    out.append(("bulk server CPU per GiB ≤ the splice echo", a is not None and b is not None and a <= b,
                f"{fmt(a, 3)} vs {fmt(b, 3)} s/GiB"))
    a, b = res["connect rate, c=50"][eco]["rate"], res["connect rate, c=50"][tokio]["rate"]
    out.append(("connections/s ≥ the tokio reference", a >= b, f"{a:,.0f} vs {b:,.0f}"))
    for point, r in res.items():
        key = "gib_per_s" if point.startswith("bulk") else "rate"
        a, b = r["eco threads"][key], r["std threads (ref)"][key]
        out.append((f"eco threads ≥ std threads (ref) at {point}", a >= b, f"{a:,.2f} vs {b:,.2f}"))
    a, b = res["c=1, 64 B"]["eco single"]["rate"], res["c=1, 64 B"]["Python asyncio (ref)"]["rate"]
    out.append(("eco single ≥ Python asyncio at c=1", a >= b, f"{a:,.0f} vs {b:,.0f} msgs/s"))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--output", default=os.path.join(ROOT, "benches", "RESULTS.md"))
    parser.add_argument("--raw", help="also write every run's JSON report here")
    opts = parser.parse_args()
    if (os.cpu_count() or 1) < 2:
        sys.exit("benches/run.py needs 2 CPUs: one for the server, one for the load")
    build()
    runs = {p: {s: [] for s in servers} for p, (_, servers) in POINTS.items()}
    raw = []
    for rnd in range(opts.rounds):
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
    for r in res.values():
        for m in r.values():
            m["errors"] = int(m["errors"])
    if opts.raw:
        with open(opts.raw, "w") as f:
            json.dump(raw, f, indent=1)
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
        "",
    ]
    for point, r in res.items():
        lines += [f"## {point}", "", table(point, r)]
    lines += ["## Goals", "", "| goal | met | figures (eco vs reference) |", "|---|---|---|"]
    for text, met, detail in goals(res):
        lines.append(f"| {text} | {'yes' if met else '**no**'} | {detail} |")
    lines.append("")
    with open(opts.output, "w") as f:
        f.write("\n".join(lines))
    print(f"wrote {opts.output}")


if __name__ == "__main__":
    main()
