//! Printing a trace: the Wireshark-style table, one row as each frame is
//! analysed (so a capture of any size streams through), with the calls of
//! the programs between its rows; the phases; the TCP_INFO summary.
//!
//! Two layouts. Wide (`--wide`, and whenever stdout is not a terminal):
//! Wireshark's columns, Info as tshark writes it, one line per frame, for
//! scripts and for comparing with tshark. Fitted (a terminal): as wide as
//! the terminal, one "client → server" column instead of two identical
//! `127.0.0.1` ones, Info without the TCP timestamps option (and without
//! the ports when the ends have names), wrapped under itself.

use std::net::SocketAddr;
use std::time::Duration;

use super::flow::{Info, Phase, Row};
use super::messages::{Column, Msg};
use crate::console::{Console, wrap};
use crate::i18n::Raw;
use crate::tcp_info::TcpInfo;

/// The table, printed row by row.
pub struct Table<'a> {
    console: &'a Console,
    /// Fit the table to this many columns (`None`: the wide layout).
    fit: Option<usize>,
    /// Names of endpoints (`client`, `servidor.py`) for the fitted layout.
    names: Vec<(SocketAddr, String)>,
    /// Widths of the columns before Info: they start at the titles' and a
    /// typical row's, and grow when a wider cell comes (Info takes the rest).
    widths: Vec<usize>,
    header: bool,
    /// The calls not printed yet, and the time the Time column counts
    /// from (the capture's first frame, in ns since the epoch).
    events: std::iter::Peekable<std::vec::IntoIter<(Duration, String)>>,
    first: Option<i128>,
}

/// The narrowest Info column the fitted layout wraps to.
const MIN_INFO: usize = 24;

impl<'a> Table<'a> {
    /// A table with `events` (a call's time and how it reads) between its
    /// rows, in the layout `console` asks for.
    pub fn new(console: &'a Console, mut events: Vec<(Duration, String)>) -> Table<'a> {
        events.sort_by_key(|(ts, _)| *ts);
        let fit = console.width();
        let widths = if fit.is_some() { vec![3, 9, 9, 6] } else { vec![3, 9, 9, 9, 8, 6] };
        Table {
            console,
            fit,
            names: Vec::new(),
            widths,
            header: false,
            events: events.into_iter().peekable(),
            first: None,
        }
    }

    /// Names the endpoints, for the Direction column.
    pub fn with_names(mut self, names: Vec<(SocketAddr, String)>) -> Table<'a> {
        self.names = names;
        self
    }

    fn columns(&self) -> &'static [Column] {
        if self.fit.is_some() {
            &[Column::No, Column::Time, Column::Direction, Column::Length, Column::Info]
        } else {
            &Column::ALL
        }
    }

    /// The cells before Info, then Info.
    fn cells(&self, row: &Row) -> (Vec<String>, String) {
        let time = row.time.map(seconds).unwrap_or_default();
        let mut info = row.info.to_string();
        // TLS above TCP: the records' names after TCP's own Info.
        if let Some(tls) = row.tcp().and_then(|t| t.seg.tls.as_deref()) {
            info.push_str(&format!("  TLS: {tls}"));
        }
        if self.fit.is_none() {
            let cells = vec![
                row.no.to_string(),
                time,
                row.src.clone(),
                row.dst.clone(),
                row.protocol.clone(),
                row.length.to_string(),
            ];
            return (cells, info);
        }
        let tcp = row.tcp();
        let name = |addr: SocketAddr| self.names.iter().find(|(a, _)| *a == addr).map(|(_, n)| n.as_str());
        let named = tcp.and_then(|t| Some((name(t.seg.src)?, name(t.seg.dst)?)));
        let direction = match named {
            Some((from, to)) => format!("{from} → {to}"),
            None => format!("{} → {}", row.src, row.dst),
        };
        let info = match (&row.info, tcp) {
            (Info::Tcp(_), Some(t)) => {
                let mut info = without_timestamps(&info);
                if named.is_some() {
                    info = info.replacen(&format!("{} → {} ", t.seg.src.port(), t.seg.dst.port()), "", 1);
                }
                info
            }
            _ => format!("{} {info}", row.protocol),
        };
        (vec![row.no.to_string(), time, direction, row.length.to_string()], info)
    }

    /// The line(s) of one row: the cells, then Info (wrapped when fitted).
    fn lines(&self, cells: &[&str], info: &str) -> Vec<String> {
        let mut head = String::new();
        for (i, (cell, width)) in cells.iter().zip(&self.widths).enumerate() {
            // Numbers right-aligned (No., Length), the rest left-aligned.
            if i == 0 || i == cells.len() - 1 {
                head.push_str(&format!("{cell:>width$}  "));
            } else {
                head.push_str(&format!("{cell:<width$}  "));
            }
        }
        let indent = head.chars().count();
        match self.fit {
            // Too little room beside the cells: Info goes under them.
            Some(width) if indent + MIN_INFO > width => {
                let mut lines = vec![head.trim_end().to_string()];
                lines.extend(wrap(info, width.saturating_sub(6)).into_iter().map(|l| format!("      {l}")));
                lines
            }
            Some(width) => {
                let room = width.saturating_sub(indent).max(MIN_INFO);
                let parts = wrap(info, room);
                let mut lines = Vec::new();
                for (i, part) in parts.iter().enumerate() {
                    let prefix = if i == 0 { head.clone() } else { " ".repeat(indent) };
                    lines.push(format!("{prefix}{part}").trim_end().to_string());
                }
                lines
            }
            None => vec![format!("{head}{info}").trim_end().to_string()],
        }
    }

    /// Prints `row`, after the calls that came before it.
    pub fn row(&mut self, row: &Row) {
        if self.header && self.fit.is_none() && self.events.peek().is_none() {
            return self.wide_row(row);
        }
        let (cells, info) = self.cells(row);
        if !self.header {
            self.header = true;
            self.first = Some(origin(row));
            let titles: Vec<String> =
                self.columns().iter().map(|&c| self.console.lang().text(&Msg::Column(c))).collect();
            for (width, cell) in self.widths.iter_mut().zip(cells.iter().chain(&titles)) {
                *width = (*width).max(cell.chars().count());
            }
            for (width, title) in self.widths.iter_mut().zip(&titles) {
                *width = (*width).max(title.chars().count());
            }
            let (info_title, before) = titles.split_last().expect("columns");
            let before: Vec<&str> = before.iter().map(String::as_str).collect();
            for line in self.lines(&before, info_title) {
                self.console.say(&Raw(&line));
            }
        }
        for (width, cell) in self.widths.iter_mut().zip(&cells) {
            *width = (*width).max(cell.chars().count());
        }
        while let Some((ts, event)) = self.events.next_if(|(ts, _)| *ts <= row.ts) {
            self.event(ts, &event);
        }
        let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
        for line in self.lines(&cells, &info) {
            self.console.say(&Raw(&line));
        }
    }

    /// A row of the wide layout, written straight into one line: the path
    /// a capture of millions of frames takes.
    fn wide_row(&mut self, row: &Row) {
        use std::fmt::Write as _;
        let digits = |n: usize| n.checked_ilog10().map_or(1, |d| d as usize + 1);
        let time = row.time.map(seconds).unwrap_or_default();
        let lens = [
            digits(row.no),
            time.len(),
            row.src.chars().count(),
            row.dst.chars().count(),
            row.protocol.chars().count(),
            digits(row.length as usize),
        ];
        for (width, len) in self.widths.iter_mut().zip(lens) {
            *width = (*width).max(len);
        }
        let w = &self.widths;
        let mut line = String::with_capacity(160);
        let _ = write!(
            line,
            "{:>w0$}  {time:<w1$}  {:<w2$}  {:<w3$}  {:<w4$}  {:>w5$}  {}",
            row.no,
            row.src,
            row.dst,
            row.protocol,
            row.length,
            row.info,
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3],
            w4 = w[4],
            w5 = w[5],
        );
        if let Some(tls) = row.tcp().and_then(|t| t.seg.tls.as_deref()) {
            let _ = write!(line, "  TLS: {tls}");
        }
        line.truncate(line.trim_end().len());
        self.console.say(&Raw(&line));
    }

    /// Prints the calls made after the last frame (all of them, without
    /// times, when nothing was captured).
    pub fn finish(mut self) {
        if !self.header {
            self.widths[0] = 1;
            self.widths[1] = 0;
        }
        while let Some((ts, event)) = self.events.next() {
            self.event(ts, &event);
        }
    }

    /// `»  0.000031  client: connect() returned ...`, in the No. and Time
    /// columns; the time counts from the first frame (negative before it).
    fn event(&self, ts: Duration, text: &str) {
        let time = self.first.map(|origin| since(ts, origin)).unwrap_or_default();
        let head = format!("{:>w0$}  {time:<w1$}  ", "»", w0 = self.widths[0], w1 = self.widths[1]);
        let indent = head.chars().count();
        let parts = match self.fit {
            Some(width) => wrap(text, width.saturating_sub(indent).max(MIN_INFO)),
            None => vec![text.to_string()],
        };
        for (i, part) in parts.iter().enumerate() {
            let prefix = if i == 0 { head.clone() } else { " ".repeat(indent) };
            self.console.say(&Raw(format!("{prefix}{part}").trim_end()));
        }
    }
}

/// Info without ` TSval=… TSecr=…` (the TCP timestamps option: two
/// ten-digit numbers on nearly every segment of a Linux connection).
fn without_timestamps(info: &str) -> String {
    let Some(start) = info.find(" TSval=") else { return info.to_string() };
    let rest = &info[start + 1..];
    let end = rest.find(" TSecr=").map(|i| i + 1).and_then(|i| rest[i..].find(' ').map(|j| i + j));
    match end {
        Some(end) => format!("{}{}", &info[..start], &rest[end..]),
        None => info[..start].to_string(),
    }
}

/// Seconds with six decimals, as Wireshark's Time column.
pub fn seconds(time: super::stamp::Stamp) -> String {
    let sign = if time.secs < 0 || time.nsecs < 0 { "-" } else { "" };
    format!("{sign}{}.{:06}", time.secs.unsigned_abs(), time.nsecs.unsigned_abs() / 1000)
}

/// The time (ns since the epoch) a row's Time column counts from: the
/// capture's first frame, whichever connection a table shows.
pub fn origin(row: &Row) -> i128 {
    row.ts.as_nanos() as i128 - row.time.map_or(0, |t| i128::from(t.nanos()))
}

/// A call's time as the Time column writes it, counted from `origin`:
/// `-0.000035` for a call 35 µs before the first frame.
pub fn since(ts: Duration, origin: i128) -> String {
    let ns = ts.as_nanos() as i128 - origin;
    let sign = if ns < 0 { "-" } else { "" };
    let ns = ns.unsigned_abs();
    format!("{sign}{}.{:06}", ns / 1_000_000_000, ns % 1_000_000_000 / 1000)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_before_the_first_frame_is_a_little_negative() {
        let origin = 10_000_000_000;
        assert_eq!(since(Duration::from_nanos(10_000_000_000 - 35_000), origin), "-0.000035");
        assert_eq!(since(Duration::from_nanos(12_000_035_000), origin), "2.000035");
    }

    #[test]
    fn the_fitted_info_leaves_out_the_timestamps_option() {
        let info = "45734 → 39039 [ACK] Seq=1 Ack=1 Win=65536 Len=0 TSval=2003582253 TSecr=4186674462";
        assert_eq!(without_timestamps(info), "45734 → 39039 [ACK] Seq=1 Ack=1 Win=65536 Len=0");
        let syn = "1 → 2 [SYN] Seq=0 Win=65495 Len=0 MSS=65495 SACK_PERM TSval=1 TSecr=0 WS=1024";
        assert_eq!(without_timestamps(syn), "1 → 2 [SYN] Seq=0 Win=65495 Len=0 MSS=65495 SACK_PERM WS=1024");
        assert_eq!(without_timestamps("no option here"), "no option here");
    }
}
