//! Printing bench results: text for people (in their language), JSON for
//! machines (every field documented on [`Report`]), Markdown for notes.

use std::io::Write;
use std::path::Path;

use super::stats::Report;
use crate::console::Console;
use crate::error::{Error, Result};
use crate::i18n::Msg;

/// The text report of one run.
pub fn print(console: &Console, report: &Report) {
    console.say(Msg::BenchTitle { report });
    console.say(Msg::BenchThroughput { report });
    if report.latency_us.count > 0 {
        console.say(Msg::BenchLatency { report });
    }
    if report.connect_us.count > 0 {
        console.say(Msg::BenchConnect { report });
    }
    if report.connections > 1 {
        console.say(Msg::BenchFairness { report });
    }
    if let (Some(cpu), Some(per)) = (report.server_cpu_s, report.server_cpu_us_per_msg) {
        match report.server_cpu_s_per_gib.filter(|_| report.kind == "bulk") {
            Some(per_gib) => console.say(Msg::BenchServerCpuBulk { seconds: cpu, per_gib_s: per_gib }),
            None => console.say(Msg::BenchServerCpu { seconds: cpu, per_message_us: per }),
        }
    }
    console.say(Msg::BenchErrors { report });
}

/// `--compare`: one row per server mode, then how they rank.
pub fn print_comparison(console: &Console, reports: &[Report]) {
    console.say(Msg::BenchCompareHeader);
    let best = reports.iter().map(|r| r.rate).fold(0.0, f64::max);
    for report in reports {
        let relative = if report.rate > 0.0 { best / report.rate } else { f64::INFINITY };
        console.say(Msg::BenchCompareRow { report, relative });
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
            r.kind,
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

fn write_to(path: &Path, text: &str) -> Result<()> {
    let result = if path == Path::new("-") {
        std::io::stdout().lock().write_all(text.as_bytes())
    } else {
        std::fs::write(path, text)
    };
    result.map_err(|source| Error::WriteFile { path: path.to_owned(), source })
}
