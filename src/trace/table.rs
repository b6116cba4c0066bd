//! Printing a trace: the Wireshark-style table with the client's calls
//! between its rows, the phases, and the TCP_INFO summary.

use std::time::Duration;

use super::exchange::AppEvent;
use super::flow::{Phase, Row};
use super::messages::{Column, Msg};
use super::tcp_info::TcpInfo;
use crate::console::Console;
use crate::i18n::Raw;

/// Prints `rows`, with each event placed before the first row that comes
/// after it in time.
pub fn print_table(console: &Console, rows: &[Row], events: &[(Duration, AppEvent)]) {
    if rows.is_empty() {
        // Nothing captured: the client's calls alone, without a table.
        for (_, event) in events {
            print_event(console, "", event, &[1, 0]);
        }
        return;
    }
    let header: Vec<String> = Column::ALL.iter().map(|&c| console.lang().text(&Msg::Column(c))).collect();
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.no.to_string(),
                format!("{:.6}", r.time.as_secs_f64()),
                r.src.clone(),
                r.dst.clone(),
                r.protocol.to_string(),
                r.length.to_string(),
            ]
        })
        .collect();
    let first = rows.first().map(|r| r.ts);
    let event_times: Vec<String> = events.iter().map(|(ts, _)| relative(first, *ts)).collect();
    let mut widths: Vec<usize> = header.iter().take(6).map(|h| h.chars().count()).collect();
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    widths[1] = event_times.iter().map(String::len).fold(widths[1], usize::max);
    let line = |cols: [&str; 6], info: &str| {
        format!(
            "{:>w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {:<w4$}  {:>w5$}  {info}",
            cols[0],
            cols[1],
            cols[2],
            cols[3],
            cols[4],
            cols[5],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4],
            w5 = widths[5],
        )
    };
    let get = |i: usize| header[i].as_str();
    console.say(&Raw(&line([get(0), get(1), get(2), get(3), get(4), get(5)], get(6))));
    let mut pending = events.iter().zip(&event_times).peekable();
    for (row, cells) in rows.iter().zip(&cells) {
        while let Some(((_, event), time)) = pending.next_if(|((ts, _), _)| *ts <= row.ts) {
            print_event(console, time, event, &widths);
        }
        let c = |i: usize| cells[i].as_str();
        console.say(&Raw(&line([c(0), c(1), c(2), c(3), c(4), c(5)], &row.info.to_string())));
    }
    for ((_, event), time) in pending {
        print_event(console, time, event, &widths);
    }
}

/// `»  0.000031  client: connect() returned ...`, in the No. and Time columns.
fn print_event(console: &Console, time: &str, event: &AppEvent, widths: &[usize]) {
    let text = console.lang().text(&Msg::Event(*event));
    let line = format!("{:>w0$}  {time:<w1$}  {text}", "»", w0 = widths[0], w1 = widths[1]);
    console.say(&Raw(line.trim_end()));
}

/// Time since the first packet; negative for calls made before it.
fn relative(first: Option<Duration>, ts: Duration) -> String {
    match first {
        Some(first) if ts >= first => format!("{:.6}", (ts - first).as_secs_f64()),
        Some(first) => format!("-{:.6}", (first - ts).as_secs_f64()),
        None => String::new(),
    }
}

pub fn print_phases(console: &Console, phases: &[Phase]) {
    for phase in phases {
        console.say(&Msg::Phase(phase));
    }
}

pub fn print_tcp_info(console: &Console, info: &TcpInfo) {
    console.say(&Msg::TcpInfoTitle);
    console.say(&Msg::TcpInfo(info));
}
