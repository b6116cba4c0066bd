//! `eco bench`: a verifying load generator for echo servers.
//!
//! Every echo is checked (see [`message`]), latencies go into HDR
//! histograms ([`stats`]), the load runs as one tokio task per connection
//! ([`worker`]), and [`report`] prints the result as text, JSON or Markdown.
//! With `--spawn` / `--compare` eco starts its own server(s) and also
//! measures the server's CPU time per message.

pub mod message;
pub mod messages;
pub mod report;
pub mod stats;
mod uring;
pub mod worker;

use std::io::{BufRead, BufReader, IsTerminal};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;

use tokio::time::Instant;

use crate::error::{Doing, Error, Result};
use crate::server::Mode;
use stats::{Report, ReportBase, Stats};
use worker::Plan;

/// What to measure, with its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Load {
    /// Closed loop: send, wait for the echo, send the next.
    PingPong,
    /// Open loop at this many messages per second in all.
    Rate(f64),
    /// This many bytes streamed through each connection.
    Bulk(u64),
    /// Rounds of this many bytes, without a FIN, each echo read back
    /// before the next round.
    Stream(u64),
    /// Connect, one message, close.
    ConnectRate,
    /// Ping-pong with UDP datagrams.
    Udp,
}

/// The name of a [`Load`], as reports print it and JSON carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    PingPong,
    Rate,
    Bulk,
    Stream,
    ConnectRate,
    Udp,
}

impl Load {
    pub fn kind(self) -> Kind {
        match self {
            Load::PingPong => Kind::PingPong,
            Load::Rate(_) => Kind::Rate,
            Load::Bulk(_) => Kind::Bulk,
            Load::Stream(_) => Kind::Stream,
            Load::ConnectRate => Kind::ConnectRate,
            Load::Udp => Kind::Udp,
        }
    }
}

impl Kind {
    /// The name in JSON and Markdown (the same as serde's).
    pub fn name(self) -> &'static str {
        match self {
            Kind::PingPong => "ping-pong",
            Kind::Rate => "rate",
            Kind::Bulk => "bulk",
            Kind::Stream => "stream",
            Kind::ConnectRate => "connect-rate",
            Kind::Udp => "udp",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub load: Load,
    pub connections: usize,
    /// Message size (`--stream`: the size of each write).
    pub size: usize,
    pub duration: Duration,
    pub warmup: Duration,
    /// How long one echo may take; past the end, how long an unfinished
    /// one may still take.
    pub timeout: Duration,
    /// Show a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
    /// Set on Ctrl-C: the run ends early and reports what it measured.
    pub stop: Arc<AtomicBool>,
    /// `--proxy-protocol`: each connection starts with this header version.
    pub proxy: Option<crate::proxy::Version>,
    /// `--tls`: every connection speaks TLS.
    pub tls: Option<worker::Tls>,
    /// How the load generator runs its connections.
    pub engine: Engine,
}

/// `--engine`: how the load generator runs its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Engine {
    /// io_uring for a plain closed-loop ping-pong where the kernel allows
    /// it, tokio otherwise.
    Auto,
    /// tokio tasks, a `send` and a `recv` per message.
    Tokio,
    /// io_uring rings: one system call for many messages (closed-loop
    /// ping-pong over plain TCP only).
    Uring,
}

impl Engine {
    /// The engine a run of `load` uses (`--engine uring` where it cannot
    /// run it: why).
    pub fn resolve(self, load: &Load, tls: bool, proxy: bool) -> crate::error::Result<Engine> {
        let fits = matches!(load, Load::PingPong) && !tls && !proxy;
        match self {
            Engine::Tokio => Ok(Engine::Tokio),
            Engine::Auto if fits && uring::available().is_ok() => Ok(Engine::Uring),
            Engine::Auto => Ok(Engine::Tokio),
            Engine::Uring if !fits => Err(crate::error::Error::EngineLoad),
            Engine::Uring => match uring::available() {
                Ok(()) => Ok(Engine::Uring),
                Err(source) => Err(crate::error::Error::EngineUnavailable { source }),
            },
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Engine::Auto => "auto",
            Engine::Tokio => "tokio",
            Engine::Uring => "uring",
        }
    }
}

/// Finds which of `addrs` (all the addresses a `--host` stands for, in
/// order) answers, before any load: nothing listening fails the bench at
/// once with the reason, instead of after a whole run of errors.
///
/// TCP: a connection is opened and closed. UDP: one datagram is sent; a
/// "port unreachable" answer means refused, silence is let through (the
/// datagram, or its echo, may have been lost or not answered by a guard).
///
/// With `--proxy-protocol` the probe sends its header too, so that a
/// server that requires one does not count the probe as a refusal.
pub fn pick_target(
    addrs: &[SocketAddr],
    udp: bool,
    proxy: Option<crate::proxy::Version>,
    timeout: Duration,
) -> Result<SocketAddr> {
    let wait = timeout.clamp(Duration::from_millis(100), Duration::from_secs(5));
    let mut last = None;
    for &addr in addrs {
        let answered = if udp { probe_udp(addr, wait) } else { probe_tcp(addr, proxy, wait) };
        match answered {
            Ok(()) => return Ok(addr),
            Err(error) => last = Some(error),
        }
    }
    Err(last.unwrap_or(Error::BadHost { host: String::new() }))
}

fn probe_tcp(addr: SocketAddr, proxy: Option<crate::proxy::Version>, wait: Duration) -> Result<()> {
    let mut stream = std::net::TcpStream::connect_timeout(&addr, wait)
        .map_err(|source| Error::from_connect(addr, wait, source))?;
    if let (Some(version), Ok(local)) = (proxy, stream.local_addr()) {
        let _ = std::io::Write::write_all(&mut stream, &crate::proxy::build(version, local, addr));
    }
    Ok(())
}

fn probe_udp(addr: SocketAddr, wait: Duration) -> Result<()> {
    let setup = |source| Error::Io { doing: Doing::Setup, source };
    let local: SocketAddr = if addr.is_ipv6() { "[::]:0" } else { "0.0.0.0:0" }.parse().expect("literal");
    let socket = std::net::UdpSocket::bind(local).map_err(setup)?;
    socket.connect(addr).map_err(|source| Error::from_connect(addr, wait, source))?;
    socket.set_read_timeout(Some(wait)).map_err(setup)?;
    let mut probe = [0u8; message::MIN_SIZE];
    message::encode(&mut probe, u32::MAX, 0);
    let _ = socket.send(&probe);
    let mut echo = [0u8; message::MIN_SIZE];
    match socket.recv(&mut echo) {
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Err(Error::ConnectRefused { addr }),
        _ => Ok(()),
    }
}

/// Runs one bench against `config.addr`; `server` is the server's pid (for
/// its CPU time) and, when eco spawned it, its mode.
///
/// The connections are shared out over one thread per CPU, each running a
/// single-threaded tokio runtime. Why not tokio's multi-threaded runtime:
/// with hundreds of busy connections its bounded per-worker queue spills
/// tasks into a global queue that is checked only now and then, and those
/// tasks wait: measured here, 60 ms p99 at 500 connections against 4 ms with
/// this layout, for the same server. A load generator must not add its own tail.
pub fn run(config: &Config, server: Option<(u32, Option<Mode>)>) -> Result<Report> {
    let setup = |source| Error::Io { doing: Doing::Setup, source };
    let start = Instant::now();
    // Bulk transfers run to completion: no warm-up, the window is the transfer.
    let bulk = matches!(config.load, Load::Bulk(_));
    let warmup = if bulk { Duration::ZERO } else { config.warmup };
    let plan = Plan {
        start,
        measure_from: start + warmup,
        end: start + warmup + config.duration,
        hard_deadline: start + warmup + config.duration + config.timeout,
        timeout: config.timeout,
        stop: Arc::clone(&config.stop),
        proxy: config.proxy,
        tls: config.tls.clone(),
    };
    let progress = config.progress.then(|| progress_bar(warmup + config.duration));
    let block = matches!(config.load, Load::Bulk(_) | Load::Stream(_)).then(worker::bulk_block);
    let threads =
        std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, config.connections.max(1));
    let mut handles = Vec::with_capacity(threads);
    for share in 0..threads {
        let (config, block, plan) = (config.clone(), block.clone(), plan.clone());
        let handle = std::thread::Builder::new()
            .name(format!("eco-bench-{share}"))
            .spawn(move || -> std::io::Result<(Stats, Instant)> {
                if config.engine == Engine::Uring {
                    let ids =
                        (0..config.connections as u32).filter(|id| *id as usize % threads == share).collect();
                    return uring::ping_pong(config.addr, ids, config.size, &plan);
                }
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                Ok(runtime.block_on(load(&config, share, threads, plan, block)))
            })
            .map_err(setup)?;
        handles.push(handle);
    }
    // The server's CPU time over the measured window only.
    let server_pid = server.map(|(pid, _)| pid);
    let stopped = || config.stop.load(Ordering::Relaxed);
    sleep_until(plan.measure_from, &stopped);
    let cpu_before = server_pid.and_then(cpu_time);
    // eco bench's own CPU over the same window: a load generator that is
    // short of CPU makes every fast server look the same.
    let own_before = cpu_time(std::process::id());
    if !bulk {
        sleep_until(plan.end, &stopped);
    }
    let measured_until = Instant::now();
    let cpu_at_end = if bulk { None } else { server_pid.and_then(cpu_time) };
    let own_at_end = if bulk { None } else { cpu_time(std::process::id()) };
    let mut stats = Stats::default();
    let mut last_done = plan.measure_from;
    for handle in handles {
        let (share, done) = handle
            .join()
            .map_err(|_| setup(std::io::Error::other("a bench thread panicked")))?
            .map_err(setup)?;
        stats.merge(&share);
        last_done = last_done.max(done);
    }
    let cpu_after = cpu_at_end.or_else(|| server_pid.and_then(cpu_time));
    let own_after = own_at_end.or_else(|| cpu_time(std::process::id()));
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    // A transfer's window is as long as it took; an interrupted run's, as
    // long as it lasted.
    let window = if bulk {
        last_done.saturating_duration_since(plan.measure_from)
    } else if stopped() {
        measured_until.min(plan.end).saturating_duration_since(plan.measure_from)
    } else {
        config.duration
    };
    let size = match config.load {
        Load::Bulk(bytes) | Load::Stream(bytes) => bytes,
        _ => config.size as u64,
    };
    Ok(Report::new(
        &stats,
        ReportBase {
            target: config.addr.to_string(),
            server_mode: server.and_then(|(_, mode)| mode).map(|mode| mode.name().to_string()),
            engine: config.engine,
            kind: config.load.kind(),
            connections: config.connections,
            size,
            write_size: matches!(config.load, Load::Stream(_)).then_some(config.size),
            window,
            // Interrupted during the warm-up: as long as it lasted.
            warmup: if stopped() {
                warmup.min(measured_until.saturating_duration_since(start))
            } else {
                warmup
            },
            target_rate: match config.load {
                Load::Rate(rate) => Some(rate),
                _ => None,
            },
            server_cpu: cpu_before.zip(cpu_after).map(|(before, after)| after.saturating_sub(before)),
            generator_cpu: own_before.zip(own_after).map(|(before, after)| after.saturating_sub(before)),
            interrupted: stopped(),
        },
    ))
}

/// Sleeps until `when`, or until `stopped` says so (checked every 50 ms).
fn sleep_until(when: Instant, stopped: &dyn Fn() -> bool) {
    while !stopped() {
        let left = when.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

/// Runs this thread's share of the connections (`id % threads == share`)
/// and returns their stats and when the last one finished.
async fn load(
    config: &Config,
    share: usize,
    threads: usize,
    plan: Plan,
    block: Option<Arc<Vec<u8>>>,
) -> (Stats, Instant) {
    let mut tasks = Vec::new();
    for id in (0..config.connections as u32).filter(|id| *id as usize % threads == share) {
        let (addr, size, plan) = (config.addr, config.size, plan.clone());
        let block = || block.clone().expect("a pattern block for bulk and stream");
        let task = match config.load {
            Load::PingPong => tokio::spawn(worker::ping_pong(addr, id, size, None, plan)),
            Load::Rate(rate) => {
                let interval = Duration::from_secs_f64(config.connections as f64 / rate);
                tokio::spawn(worker::ping_pong(addr, id, size, Some(interval), plan))
            }
            Load::Bulk(bytes) => tokio::spawn(worker::bulk(addr, bytes, block(), plan)),
            Load::Stream(burst) => tokio::spawn(worker::stream(addr, burst, size, block(), plan)),
            Load::ConnectRate => tokio::spawn(worker::connect_rate(addr, id, size, plan)),
            Load::Udp => tokio::spawn(worker::udp(addr, id, size, Duration::from_millis(200), plan)),
        };
        tasks.push(task);
    }
    let mut stats = Stats::default();
    let mut last_done = plan.measure_from;
    for task in tasks {
        if let Ok(one) = task.await {
            stats.merge(&one);
        }
        last_done = last_done.max(Instant::now());
    }
    (stats, last_done)
}

fn progress_bar(total: Duration) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total.as_millis() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed_precise} [{bar:40}] {percent}%")
            .expect("valid template"),
    );
    let ticker = bar.clone();
    let started = std::time::Instant::now();
    std::thread::spawn(move || {
        while !ticker.is_finished() {
            ticker.set_position(started.elapsed().as_millis() as u64);
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    bar
}

/// Whether to draw a progress bar: stderr is a terminal and NO_COLOR is unset.
pub fn progress_wanted() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// User + system CPU time of process `pid`, from `/proc/PID/stat`.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64((utime + stime) as f64 / clock_ticks()))
}

/// Clock ticks per second of `/proc` times (USER_HZ).
fn clock_ticks() -> f64 {
    rustix::param::clock_ticks_per_second() as f64
}

/// An `eco server` child process on a free loopback port.
pub struct Spawned {
    child: Child,
    pub addr: SocketAddr,
    pub mode: Mode,
}

impl Spawned {
    /// Starts `eco server --mode MODE` on `host` (a free port) and waits
    /// until it listens; `udp`: the datagram echo too.
    pub fn start(mut mode: Mode, host: &str, udp: bool) -> Result<Spawned> {
        let setup = |source| Error::Io { doing: Doing::Setup, source };
        let exe = std::env::current_exe().map_err(setup)?;
        let mut cmd = Command::new(exe);
        cmd.args(["server", "--port", "0", "--lang", "en", "--host", host, "--mode", mode.name()]);
        if udp {
            cmd.args(["--tcp", "--udp", "--udp-rate-per-ip", "1000000", "--udp-rate", "10000000"]);
        }
        let mut child =
            cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().map_err(setup)?;
        let stderr = child.stderr.take().expect("piped");
        let mut lines = BufReader::new(stderr).lines();
        let addr = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(rest) = line.strip_prefix("eco: listening on ")
                        && let Some(addr) = rest.split(' ').next().and_then(|a| a.parse().ok())
                    {
                        // The mode that serves (`uring` may serve as async).
                        if let Some(named) = rest.split("(mode ").nth(1).and_then(|m| m.strip_suffix(')')) {
                            mode = [Mode::Single, Mode::Threads, Mode::Async, Mode::Uring]
                                .into_iter()
                                .find(|m| m.name() == named)
                                .unwrap_or(mode);
                        }
                        break addr;
                    }
                }
                _ => {
                    let _ = child.kill();
                    return Err(setup(std::io::Error::other("the spawned eco server did not start")));
                }
            }
        };
        // Keep draining its stderr, so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Ok(Spawned { child, addr, mode })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
