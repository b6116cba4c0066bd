//! Counting what a bench saw: HDR histograms of latencies (one per
//! connection, merged at the end), messages per connection, errors by kind.
//! And the [`Report`] made of them, with every field documented, as
//! `--json` writes it.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::Kind;
use super::message::Mismatch;

/// Latencies are recorded in nanoseconds, from 1 ns to 60 s, with three
/// significant digits (0.1 % resolution at any magnitude).
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds")
}

/// What one connection (or, merged, the whole run) saw.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Round-trip latency of each message in the measured window, ns.
    pub latency: Histogram<u64>,
    /// Time for `connect()` to return (the handshake), ns.
    pub connect: Histogram<u64>,
    /// `--tls`: time for the TLS handshake after `connect()`, ns.
    pub handshake: Histogram<u64>,
    /// Messages (or connections, for `--connect-rate`) completed in the window.
    pub messages: u64,
    /// Payload bytes echoed in the window (each way).
    pub bytes: u64,
    /// Messages per connection, for fairness.
    pub per_connection: Vec<u64>,
    pub errors: Errors,
    /// Echoes that arrived in more than one read. Not an error (TCP may
    /// split a message anywhere), but a tool that expects one read per
    /// message would have failed here.
    pub short_reads: u64,
}

/// Errors by kind. Any of them makes `eco bench` exit 1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Errors {
    /// The server closed a connection in the middle of an echo.
    pub truncated: u64,
    /// An echo's bytes were changed (checksum mismatch).
    pub corrupted: u64,
    /// An intact echo came back out of order, or was another connection's.
    pub reordered: u64,
    /// No echo within `--timeout` past the end of the run.
    pub timeout: u64,
    /// UDP: datagrams whose echo never came (not counted as errors by
    /// `total`: UDP does not promise delivery).
    pub lost: u64,
    /// Connections that could not be opened.
    pub connect: u64,
    /// Other I/O errors (reset, refused mid-run, ...).
    pub io: u64,
}

impl Errors {
    /// Errors that make the run fail (all but UDP losses).
    pub fn total(&self) -> u64 {
        self.truncated + self.corrupted + self.reordered + self.timeout + self.connect + self.io
    }

    /// The kind that explains the run's failure best: wrong bytes first
    /// (the worst news), then cut echoes, timeouts, resets, connections.
    pub fn main_kind(&self) -> crate::error::Failed {
        use crate::error::Failed;
        if self.corrupted + self.reordered > 0 {
            Failed::Wrong
        } else if self.truncated > 0 {
            Failed::Truncated
        } else if self.timeout > 0 {
            Failed::Timeout
        } else if self.io > 0 {
            Failed::Io
        } else {
            Failed::Connect
        }
    }

    pub fn mismatch(&mut self, mismatch: Mismatch) {
        match mismatch {
            Mismatch::Corrupted => self.corrupted += 1,
            Mismatch::Reordered => self.reordered += 1,
        }
    }

    fn add(&mut self, other: &Errors) {
        self.truncated += other.truncated;
        self.corrupted += other.corrupted;
        self.reordered += other.reordered;
        self.timeout += other.timeout;
        self.lost += other.lost;
        self.connect += other.connect;
        self.io += other.io;
    }
}

impl Default for Stats {
    fn default() -> Stats {
        Stats {
            latency: histogram(),
            connect: histogram(),
            handshake: histogram(),
            messages: 0,
            bytes: 0,
            per_connection: Vec::new(),
            errors: Errors::default(),
            short_reads: 0,
        }
    }
}

impl Stats {
    pub fn record_latency(&mut self, latency: Duration) {
        // saturating_record: a value past 60 s is kept as 60 s, not lost.
        self.latency.saturating_record(latency.as_nanos().max(1) as u64);
    }

    /// One message (or connection) completed in the measured window.
    pub fn count_message(&mut self, latency: Duration, bytes: u64) {
        self.record_latency(latency);
        self.messages += 1;
        self.bytes += bytes;
    }

    pub fn record_connect(&mut self, latency: Duration) {
        self.connect.saturating_record(latency.as_nanos().max(1) as u64);
    }

    pub fn record_handshake(&mut self, latency: Duration) {
        self.handshake.saturating_record(latency.as_nanos().max(1) as u64);
    }

    /// Adds another connection's stats into these.
    pub fn merge(&mut self, other: &Stats) {
        self.latency.add(&other.latency).expect("same bounds");
        self.connect.add(&other.connect).expect("same bounds");
        self.handshake.add(&other.handshake).expect("same bounds");
        self.messages += other.messages;
        self.bytes += other.bytes;
        self.per_connection.extend_from_slice(&other.per_connection);
        self.errors.add(&other.errors);
        self.short_reads += other.short_reads;
    }
}

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub max: f64,
    pub mean: f64,
    /// Standard deviation.
    pub stdev: f64,
    /// How many values these are computed from.
    pub count: u64,
}

impl Percentiles {
    pub fn of(histogram: &Histogram<u64>) -> Percentiles {
        let us = |ns: u64| ns as f64 / 1000.0;
        if histogram.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            p50: us(histogram.value_at_quantile(0.50)),
            p90: us(histogram.value_at_quantile(0.90)),
            p99: us(histogram.value_at_quantile(0.99)),
            p99_9: us(histogram.value_at_quantile(0.999)),
            max: us(histogram.max()),
            mean: histogram.mean() / 1000.0,
            stdev: histogram.stdev() / 1000.0,
            count: histogram.len(),
        }
    }
}

/// How evenly the server served the connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Fairness {
    /// Fewest messages any connection completed.
    pub min: u64,
    pub median: u64,
    pub max: u64,
    /// Connections that completed no message at all in the window:
    /// served late or never (a one-at-a-time server, a full backlog).
    pub starved: u64,
}

impl Fairness {
    pub fn of(per_connection: &[u64]) -> Fairness {
        let mut sorted = per_connection.to_vec();
        sorted.sort_unstable();
        match sorted.len() {
            0 => Fairness::default(),
            n => Fairness {
                min: sorted[0],
                median: sorted[n / 2],
                max: sorted[n - 1],
                starved: sorted.iter().take_while(|&&m| m == 0).count() as u64,
            },
        }
    }
}

/// One bench run, as printed and as `--json` writes it.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The server measured, `host:port`.
    pub target: String,
    /// The server mode when eco spawned the server (`--spawn`, `--compare`).
    pub server_mode: Option<String>,
    /// How the load generator ran its connections: `tokio` or `uring`.
    pub engine: super::Engine,
    /// `ping-pong`, `rate`, `bulk`, `stream`, `connect-rate` or `udp`.
    pub kind: Kind,
    pub connections: usize,
    /// Message size in bytes (bulk: bytes per connection; stream: bytes
    /// per round).
    pub size: u64,
    /// `stream`: the size of each write.
    pub write_size: Option<usize>,
    /// The measured window, seconds (after the warm-up).
    pub duration_s: f64,
    pub warmup_s: f64,
    /// `--rate`: the requested messages per second, all connections together.
    pub target_rate: Option<f64>,
    /// Messages (connections for `connect-rate`) completed in the window.
    pub messages: u64,
    /// Messages per second.
    pub rate: f64,
    /// Payload throughput each way, MiB/s.
    pub mib_per_s: f64,
    /// Round-trip latency, µs (with `--rate`: from the intended send time,
    /// corrected for coordinated omission).
    pub latency_us: Percentiles,
    /// Handshake (`connect()`) latency, µs.
    pub connect_us: Percentiles,
    /// `--tls`: TLS handshake latency after `connect()`, µs, of every
    /// handshake of the run (count 0 without TLS).
    pub tls_handshake_us: Percentiles,
    pub fairness: Fairness,
    pub errors: Errors,
    /// Echoes that took more than one read (informational).
    pub short_reads: u64,
    /// CPU time (user + system) the spawned server used in the window, s.
    pub server_cpu_s: Option<f64>,
    /// That CPU time per message, µs.
    pub server_cpu_us_per_msg: Option<f64>,
    /// That CPU time per GiB echoed, s (for `--bulk`).
    pub server_cpu_s_per_gib: Option<f64>,
    /// CPU time (user + system) eco bench itself used in the window, s.
    pub generator_cpu_s: Option<f64>,
    /// That CPU time per message, µs: what the load generator costs.
    pub generator_cpu_us_per_msg: Option<f64>,
    /// Ended early by Ctrl-C: the figures cover the time it ran.
    pub interrupted: bool,
}

impl Report {
    pub fn new(stats: &Stats, base: ReportBase) -> Report {
        let secs = base.window.as_secs_f64().max(1e-9);
        Report {
            target: base.target,
            server_mode: base.server_mode,
            engine: base.engine,
            kind: base.kind,
            connections: base.connections,
            size: base.size,
            write_size: base.write_size,
            duration_s: base.window.as_secs_f64(),
            warmup_s: base.warmup.as_secs_f64(),
            target_rate: base.target_rate,
            messages: stats.messages,
            rate: stats.messages as f64 / secs,
            mib_per_s: stats.bytes as f64 / secs / (1024.0 * 1024.0),
            latency_us: Percentiles::of(&stats.latency),
            connect_us: Percentiles::of(&stats.connect),
            tls_handshake_us: Percentiles::of(&stats.handshake),
            fairness: Fairness::of(&stats.per_connection),
            errors: stats.errors,
            short_reads: stats.short_reads,
            server_cpu_s: base.server_cpu.map(|d| d.as_secs_f64()),
            server_cpu_us_per_msg: base
                .server_cpu
                .filter(|_| stats.messages > 0)
                .map(|d| d.as_secs_f64() * 1e6 / stats.messages as f64),
            server_cpu_s_per_gib: base
                .server_cpu
                .filter(|_| stats.bytes > 0)
                .map(|d| d.as_secs_f64() / (stats.bytes as f64 / f64::from(1u32 << 30))),
            generator_cpu_s: base.generator_cpu.map(|d| d.as_secs_f64()),
            generator_cpu_us_per_msg: base
                .generator_cpu
                .filter(|_| stats.messages > 0)
                .map(|d| d.as_secs_f64() * 1e6 / stats.messages as f64),
            interrupted: base.interrupted,
        }
    }
}

/// What a report needs besides the stats.
pub struct ReportBase {
    pub target: String,
    pub server_mode: Option<String>,
    pub engine: super::Engine,
    pub kind: Kind,
    pub connections: usize,
    pub size: u64,
    pub write_size: Option<usize>,
    pub window: Duration,
    pub warmup: Duration,
    pub target_rate: Option<f64>,
    pub server_cpu: Option<Duration>,
    pub generator_cpu: Option<Duration>,
    pub interrupted: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= b * 0.002
    }

    #[test]
    fn percentiles_of_one_to_a_thousand_microseconds() {
        let mut stats = Stats::default();
        for us in 1..=1000u64 {
            stats.record_latency(Duration::from_micros(us));
        }
        let p = Percentiles::of(&stats.latency);
        assert!(close(p.p50, 500.0), "{p:?}");
        assert!(close(p.p90, 900.0), "{p:?}");
        assert!(close(p.p99, 990.0), "{p:?}");
        assert!(close(p.p99_9, 999.0), "{p:?}");
        assert!(close(p.max, 1000.0), "{p:?}");
        assert!(close(p.mean, 500.5), "{p:?}");
        // The deviation of 1..=1000 is sqrt((1000² - 1) / 12) ≈ 288.7.
        assert!((p.stdev - 288.7).abs() < 1.0, "{p:?}");
        assert_eq!(p.count, 1000);
    }

    #[test]
    fn merged_histograms_give_the_percentiles_of_the_union() {
        let (mut a, mut b) = (Stats::default(), Stats::default());
        for _ in 0..99 {
            a.record_latency(Duration::from_micros(100));
        }
        b.record_latency(Duration::from_millis(50));
        a.merge(&b);
        let p = Percentiles::of(&a.latency);
        assert!(close(p.p50, 100.0) && close(p.p99, 100.0), "{p:?}");
        assert!(close(p.max, 50_000.0), "{p:?}");
    }

    #[test]
    fn rates_and_cpu_per_message() {
        let stats = Stats {
            messages: 3000,
            bytes: 3000 * 1024,
            per_connection: vec![900, 1000, 1100],
            ..Stats::default()
        };
        let report = Report::new(
            &stats,
            ReportBase {
                target: "127.0.0.1:5050".into(),
                server_mode: None,
                engine: crate::bench::Engine::Tokio,
                kind: Kind::PingPong,
                connections: 3,
                size: 1024,
                write_size: None,
                window: Duration::from_secs(2),
                warmup: Duration::ZERO,
                target_rate: None,
                server_cpu: Some(Duration::from_millis(30)),
                generator_cpu: Some(Duration::from_millis(60)),
                interrupted: false,
            },
        );
        assert_eq!(report.rate, 1500.0);
        assert!(close(report.mib_per_s, 1500.0 / 1024.0));
        assert!(close(report.server_cpu_us_per_msg.unwrap(), 10.0));
        assert!(close(report.generator_cpu_us_per_msg.unwrap(), 20.0));
        assert_eq!(report.fairness, Fairness { min: 900, median: 1000, max: 1100, starved: 0 });
        assert_eq!(Fairness::of(&[0, 0, 5, 9]).starved, 2);
    }

    #[test]
    fn udp_losses_do_not_fail_a_run_but_mismatches_do() {
        let mut errors = Errors { lost: 5, ..Errors::default() };
        assert_eq!(errors.total(), 0);
        errors.mismatch(Mismatch::Corrupted);
        errors.mismatch(Mismatch::Reordered);
        assert_eq!((errors.total(), errors.corrupted, errors.reordered), (2, 1, 1));
    }
}
