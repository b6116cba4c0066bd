//! Printing a trace: the Wireshark-style table, one row as each frame is
//! analysed (so a capture of any size streams through), with the client's
//! calls between its rows; the phases; the TCP_INFO summary.

use std::time::Duration;

use super::exchange::AppEvent;
use super::flow::{Phase, Row};
use super::messages::{Column, Msg};
use super::stamp::Stamp;
use crate::console::Console;
use crate::i18n::Raw;
use crate::tcp_info::TcpInfo;

/// The table, printed row by row.
pub struct Table<'a> {
    console: &'a Console,
    /// Widths of the first six columns: they start at the titles' and a
    /// typical row's, and grow when a wider cell comes (Info takes the rest).
    widths: [usize; 6],
    header: bool,
    /// The client's calls not printed yet, and the first frame's time.
    events: std::iter::Peekable<std::slice::Iter<'a, (Duration, AppEvent)>>,
    first: Option<Duration>,
}

impl<'a> Table<'a> {
    pub fn new(console: &'a Console, events: &'a [(Duration, AppEvent)]) -> Table<'a> {
        Table {
            console,
            widths: [3, 9, 9, 9, 8, 6],
            header: false,
            events: events.iter().peekable(),
            first: None,
        }
    }

    fn titles(&self) -> Vec<String> {
        Column::ALL.iter().map(|&c| self.console.lang().text(&Msg::Column(c))).collect()
    }

    fn line(&self, cells: [&str; 6], info: &str) -> String {
        let w = &self.widths;
        format!(
            "{:>w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {:<w4$}  {:>w5$}  {info}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            cells[5],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3],
            w4 = w[4],
            w5 = w[5],
        )
        .trim_end()
        .to_string()
    }

    /// Prints `row`, after the calls that came before it.
    pub fn row(&mut self, row: &Row) {
        let time = row.time.map(seconds).unwrap_or_default();
        let cells = [
            row.no.to_string(),
            time,
            row.src.clone(),
            row.dst.clone(),
            row.protocol.clone(),
            row.length.to_string(),
        ];
        if !self.header {
            self.header = true;
            self.first = Some(row.ts);
            for (width, cell) in self.widths.iter_mut().zip(&cells) {
                *width = (*width).max(cell.chars().count());
            }
            let titles = self.titles();
            for (width, title) in self.widths.iter_mut().zip(&titles) {
                *width = (*width).max(title.chars().count());
            }
            let line = self.line(std::array::from_fn(|i| titles[i].as_str()), &titles[6]);
            self.console.say(&Raw(&line));
        }
        for (width, cell) in self.widths.iter_mut().zip(&cells) {
            *width = (*width).max(cell.chars().count());
        }
        while let Some((ts, event)) = self.events.next_if(|(ts, _)| *ts <= row.ts) {
            self.event(*ts, event);
        }
        let line = self.line(std::array::from_fn(|i| cells[i].as_str()), &row.info.to_string());
        self.console.say(&Raw(&line));
    }

    /// Prints the calls made after the last frame (all of them, without
    /// times, when nothing was captured).
    pub fn finish(mut self) {
        if !self.header {
            self.widths = [1, 0, 0, 0, 0, 0];
        }
        while let Some((ts, event)) = self.events.next() {
            self.event(*ts, event);
        }
    }

    /// `»  0.000031  client: connect() returned ...`, in the No. and Time
    /// columns; the time counts from the first frame (negative before it).
    fn event(&self, ts: Duration, event: &AppEvent) {
        let time = match self.first {
            Some(first) if ts >= first => seconds(Stamp::from_nanos((ts - first).as_nanos() as i64)),
            Some(first) => seconds(Stamp::from_nanos(-((first - ts).as_nanos() as i64))),
            None => String::new(),
        };
        let text = self.console.lang().text(&Msg::Event(*event));
        let line = format!("{:>w0$}  {time:<w1$}  {text}", "»", w0 = self.widths[0], w1 = self.widths[1]);
        self.console.say(&Raw(line.trim_end()));
    }
}

/// Seconds with six decimals, as Wireshark's Time column.
pub fn seconds(time: Stamp) -> String {
    let sign = if time.secs < 0 || time.nsecs < 0 { "-" } else { "" };
    format!("{sign}{}.{:06}", time.secs.unsigned_abs(), time.nsecs.unsigned_abs() / 1000)
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
