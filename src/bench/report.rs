//! Printing bench results: text for people (words from `messages.rs`, in
//! their language; the layout here), JSON for machines (every field
//! documented on [`Report`]), Markdown for notes.

use std::fmt;
use std::io::Write;
use std::path::Path;

use super::Kind;
use super::messages::{Column, Label, Msg};
use super::stats::Report;
use crate::console::Console;
use crate::error::{Error, Result};
use crate::i18n::{Raw, Text};

/// One report line: the label in a column of its own, then the value.
fn line(console: &Console, label: Label, value: &Msg<'_>) {
    let lang = console.lang();
    let label = Msg::Label(label).text(lang);
    console.say(&Raw(&format!("  {label:<12} {}", value.text(lang))));
}

/// The text report of one run.
pub fn print(console: &Console, report: &Report) {
    console.say(&Msg::Title { report });
    if report.interrupted && report.duration_s == 0.0 && report.kind != Kind::Bulk {
        // Stopped before the measured window began: no figures to give,
        // nor conclusions to draw from their absence.
        console.say(&Msg::InterruptedInWarmup);
        return;
    }
    if report.interrupted {
        console.say(&Msg::Interrupted { seconds: report.duration_s });
    }
    let (rate, latency) = match report.kind {
        Kind::PingPong | Kind::Udp => (Label::Messages, Label::Latency),
        Kind::Rate => (Label::Messages, Label::LatencyFromDue),
        Kind::Bulk => (Label::Throughput, Label::Transfer),
        Kind::Stream => (Label::Rounds, Label::Round),
        Kind::ConnectRate => (Label::Connections, Label::Exchange),
    };
    line(console, rate, &Msg::Throughput { report });
    if report.latency_us.count > 0 {
        line(console, latency, &Msg::Latency { report });
        if report.kind == Kind::Rate {
            console.say(&Msg::RateFootnote);
        }
    }
    if report.connect_us.count > 0 {
        line(console, Label::Connect, &Msg::Connect { report });
    }
    if report.tls_handshake_us.count > 0 {
        line(console, Label::TlsHandshake, &Msg::TlsHandshake { report });
    }
    if report.connections > 1 {
        line(console, Label::Fairness, &Msg::Fairness { report });
    }
    if let (Some(cpu), Some(per)) = (report.server_cpu_s, report.server_cpu_us_per_msg) {
        let value = match report.server_cpu_s_per_gib.filter(|_| report.kind == Kind::Bulk) {
            Some(per_gib) => Msg::ServerCpuBulk { seconds: cpu, per_gib_s: per_gib },
            None => Msg::ServerCpu { seconds: cpu, per_message_us: per },
        };
        line(console, Label::ServerCpu, &value);
    }
    // (Counted in clock ticks of 10 ms: told once there are enough of them.)
    if let (Some(seconds), Some(per_message_us)) = (report.generator_cpu_s, report.generator_cpu_us_per_msg)
        && report.kind != Kind::Bulk
        && seconds >= 0.1
    {
        line(console, Label::BenchCpu, &Msg::BenchCpu { seconds, per_message_us, engine: report.engine });
    }
    line(console, Label::Errors, &Msg::Errors { report });
    let starved = report.fairness.starved;
    if report.connections > 1 && starved > 0 {
        line(console, Label::Warning, &Msg::Starved { starved, connections: report.connections });
    }
    if report.errors.lost > 0 {
        line(console, Label::Warning, &Msg::UdpLossHint { lost: report.errors.lost });
    }
}

/// `--compare`: one row per server mode, then how they rank.
pub fn print_comparison(console: &Console, reports: &[Report]) {
    let lang = console.lang();
    let title = |column| Msg::Column(column).text(lang);
    console.say(&Raw(&format!(
        "{:<8} {:>10} {:>10} {:>10} {:>10} {:>12}  {}",
        title(Column::Mode),
        title(Column::MsgsPerS),
        title(Column::P50),
        title(Column::P99),
        title(Column::P999),
        title(Column::CpuPerMsg),
        title(Column::Relative)
    )));
    let best = reports.iter().map(|r| r.rate).fold(0.0, f64::max);
    for r in reports {
        let relative = if r.rate > 0.0 { best / r.rate } else { f64::INFINITY };
        console.say(&Raw(&format!(
            "{:<8} {:>10.0} {:>10} {:>10} {:>10} {:>12}  {}",
            r.server_mode.as_deref().unwrap_or("?"),
            r.rate,
            Us(r.latency_us.p50).to_string(),
            Us(r.latency_us.p99).to_string(),
            Us(r.latency_us.p99_9).to_string(),
            r.server_cpu_us_per_msg.map_or("–".into(), |c| format!("{c:.2}")),
            Msg::Relative { relative }.text(lang)
        )));
    }
}

/// Microseconds as a bench prints them: three significant decimals below
/// 10 µs, one below 10 ms, none above.
pub struct Us(pub f64);

impl fmt::Display for Us {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            v if v < 10.0 => write!(f, "{v:.2}"),
            v if v < 10_000.0 => write!(f, "{v:.1}"),
            v => write!(f, "{v:.0}"),
        }
    }
}

/// Writes `reports` as JSON (one object, or an array for several) to
/// `path`, `-` meaning stdout.
pub fn export_json(path: &Path, reports: &[Report]) -> Result<()> {
    let json = if reports.len() == 1 {
        serde_json::to_string_pretty(&reports[0])
    } else {
        serde_json::to_string_pretty(reports)
    }
    .map_err(|e| Error::Io { doing: crate::error::Doing::Setup, source: e.into() })?;
    write_to(path, &format!("{json}\n"))
}

/// Writes `reports` as a Markdown table to `path` (`-`: stdout).
pub fn export_markdown(path: &Path, reports: &[Report]) -> Result<()> {
    let mut text = String::from(
        "| server | kind | conns | size | msgs/s | MiB/s | p50 µs | p99 µs | p99.9 µs | max µs | server CPU µs/msg | errors |\n\
         |---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for r in reports {
        let cpu = r.server_cpu_us_per_msg.map_or("–".into(), |c| format!("{c:.2}"));
        let server = r.server_mode.clone().unwrap_or_else(|| r.target.clone());
        text.push_str(&format!(
            "| {server} | {} | {} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {cpu} | {} |\n",
            r.kind.name(),
            r.connections,
            r.size,
            r.rate,
            r.mib_per_s,
            r.latency_us.p50,
            r.latency_us.p99,
            r.latency_us.p99_9,
            r.latency_us.max,
            r.errors.total()
        ));
    }
    write_to(path, &text)
}

/// Writes `text` to `path` (`-`: stdout). A closed stdout (`| head`) is
/// not an error, as for any Unix filter.
fn write_to(path: &Path, text: &str) -> Result<()> {
    let result = if path == Path::new("-") {
        match std::io::stdout().lock().write_all(text.as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other,
        }
    } else {
        std::fs::write(path, text)
    };
    result.map_err(|source| Error::WriteFile { path: path.to_owned(), source })
}
