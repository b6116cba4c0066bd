//! The ladder diagram: the two-column picture of an exchange that every
//! textbook and Wireshark's Flow Graph draw. Client on the left, server on
//! the right, one arrow per segment with its flags and numbers, the calls
//! of each program on its side, the phases as bands.
//!
//! [`Ladder`] is the picture as data; this file draws it in the terminal
//! and as Mermaid; `svg.rs` draws it as SVG.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use super::flow::{Phase, Row};
use super::packet::FlagList;
use super::table::seconds;
use crate::i18n::{Lang, Sentences};

/// One side of the exchange.
#[derive(Debug, Clone)]
pub struct Side {
    pub addr: SocketAddr,
    /// `client`, `cliente.py`, ...
    pub name: String,
}

/// A step down the ladder, in time order.
#[derive(Debug, Clone)]
pub enum Step {
    /// A phase begins: its name.
    Phase(String),
    Arrow(Arrow),
    /// A program's call, on its side (`left`: the client's).
    Call {
        left: bool,
        time: String,
        text: String,
    },
}

#[derive(Debug, Clone)]
pub struct Arrow {
    pub no: usize,
    pub time: String,
    /// From the client (left) to the server.
    pub rightward: bool,
    /// `SYN, ACK` (`PSH, ACK`...).
    pub flags: String,
    /// `Seq=0 Ack=1 Len=0`, relative as in the table.
    pub numbers: String,
    /// Wireshark's analysis, short (`Retransmission`, `Dup ACK 5#1`).
    pub tags: Vec<String>,
    /// Relative seq, payload length and time (for the time/sequence graph).
    pub seq: u32,
    pub len: u32,
    pub secs: f64,
    pub resent: bool,
    /// The TLS records it carries (`Client Hello`).
    pub tls: Option<String>,
}

impl Arrow {
    /// The label on the arrow: flags, then numbers, then the tags.
    pub fn label(&self) -> String {
        let mut label = format!("{}  {}", self.flags, self.numbers);
        if let Some(tls) = &self.tls {
            label.push_str(&format!("  {tls}"));
        }
        for tag in &self.tags {
            label.push_str(&format!("  [{tag}]"));
        }
        label
    }
}

/// The picture of one TCP connection.
#[derive(Debug, Clone)]
pub struct Ladder {
    pub left: Side,
    pub right: Side,
    pub steps: Vec<Step>,
    /// The language of its words (the SVG's column heading).
    pub lang: Lang,
}

impl Ladder {
    /// Builds the ladder of one connection from its analysed rows, its
    /// calls (time, the local address of the socket, how the call reads)
    /// and its phases. `client` and `server` are its ends.
    pub fn build(
        rows: &[&Row],
        calls: &[(Duration, Option<SocketAddr>, String)],
        phases: &[Phase],
        left: Side,
        right: Side,
        lang: Lang,
    ) -> Ladder {
        let origin = rows.first().map(|r| super::table::origin(r));
        let offset = |ts: Duration| origin.map(|o| super::table::since(ts, o)).unwrap_or_default();
        let starts: Vec<(usize, String)> =
            phases.iter().filter_map(|p| Some((frames_of(p).first()?, lang.text(&PhaseName(p))))).collect();
        // In time order, each on its side, without the program's name
        // when the side already shows it.
        let mut calls: Vec<(Duration, bool, String)> = calls
            .iter()
            .map(|(ts, local, text)| {
                let left_side = *local != Some(right.addr);
                let name = if left_side { &left.name } else { &right.name };
                let text = text.strip_prefix(&format!("{name}: ")).unwrap_or(text).to_string();
                (*ts, left_side, text)
            })
            .collect();
        calls.sort_by_key(|(ts, ..)| *ts);
        let mut calls = calls.into_iter().peekable();
        let mut steps = Vec::new();
        for row in rows {
            let Some(tcp) = row.tcp() else { continue };
            while let Some((ts, left, text)) = calls.next_if(|(ts, ..)| *ts <= row.ts) {
                steps.push(Step::Call { left, time: offset(ts), text });
            }
            for (_, name) in starts.iter().filter(|(no, _)| *no == row.no) {
                steps.push(Step::Phase(name.clone()));
            }
            let seg = &tcp.seg;
            let mut numbers = format!("Seq={}", tcp.seq);
            if let Some(ack) = tcp.ack {
                numbers.push_str(&format!(" Ack={ack}"));
            }
            numbers.push_str(&format!(" Len={}", seg.seg_len.unwrap_or(0)));
            let tags = short_tags(tcp);
            steps.push(Step::Arrow(Arrow {
                no: row.no,
                time: row.time.map(seconds).unwrap_or_default(),
                rightward: seg.src == left.addr,
                flags: FlagList(seg.flags, tcp.ace).to_string().trim_matches(['[', ']']).to_string(),
                numbers,
                tags,
                seq: tcp.seq,
                len: seg.seg_len.unwrap_or(0),
                secs: row.time.map(|t| t.seconds()).unwrap_or(0.0),
                resent: tcp.tags.resent(),
                tls: seg.tls.clone(),
            }));
        }
        for (ts, left, text) in calls {
            steps.push(Step::Call { left, time: offset(ts), text });
        }
        Ladder { left, right, steps, lang }
    }

    /// The ladder as text lines at most `width` columns wide (at least 40
    /// are used), coloured with ANSI escapes when `color`.
    pub fn lines(&self, width: usize, color: bool) -> Vec<String> {
        let width = width.max(40);
        // "  11  0.000660  " in front when there is room for it.
        let margin = if width >= 64 { 18 } else { 0 };
        let inner = width - margin - 2;
        let paint =
            |code: &str, text: &str| if color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.into() };
        let mut out = Vec::new();
        let left_name = format!("{} {}", self.left.name, self.left.addr);
        let right_name = format!("{} {}", self.right.name, self.right.addr);
        let names = if left_name.chars().count() + right_name.chars().count() + 2 <= inner + 2 {
            let gap = inner + 2 - left_name.chars().count() - right_name.chars().count();
            vec![format!("{}{left_name}{}{right_name}", " ".repeat(margin), " ".repeat(gap))]
        } else {
            vec![
                format!("{}{left_name}", " ".repeat(margin)),
                format!("{}{}", " ".repeat(margin), pad_left(&format!("→ {right_name}"), inner + 2)),
            ]
        };
        out.extend(names.into_iter().map(|l| paint("1", &l)));
        out.push(format!("{}│{}│", " ".repeat(margin), " ".repeat(inner)));
        for step in &self.steps {
            match step {
                Step::Phase(name) => {
                    let band = format!("┄ {name} ");
                    let fill = inner.saturating_sub(band.chars().count());
                    let band = format!("{}{}", band, "┄".repeat(fill));
                    let band: String = band.chars().take(inner).collect();
                    out.push(format!("{}│{}│", " ".repeat(margin), paint("2", &band)));
                }
                Step::Arrow(arrow) => {
                    let head = if margin > 0 {
                        format!("{:>4}  {:<10}  ", arrow.no, clip(&arrow.time, 10))
                    } else {
                        String::new()
                    };
                    let body = arrow_text(&arrow.label(), inner, arrow.rightward);
                    let code = if arrow.rightward { "36" } else { "33" };
                    out.push(format!("{head}│{}│", paint(code, &body)));
                }
                Step::Call { left, text, .. } => {
                    let room = inner.saturating_sub(2);
                    for part in crate::console::wrap(text, room) {
                        let cell =
                            if *left { format!(" {part:<room$} ") } else { format!(" {part:>room$} ") };
                        out.push(format!("{}│{}│", " ".repeat(margin), paint("2", &cell)));
                    }
                }
            }
        }
        out.push(format!("{}│{}│", " ".repeat(margin), " ".repeat(inner)));
        out
    }

    /// The ladder as a Mermaid `sequenceDiagram` (for slides, Markdown).
    pub fn mermaid(&self) -> String {
        let clean = |s: &str| s.replace([';', '#'], " ").replace("  ", " ");
        let mut out = String::from("sequenceDiagram\n");
        let _ = writeln!(out, "    participant C as {} {}", clean(&self.left.name), self.left.addr);
        let _ = writeln!(out, "    participant S as {} {}", clean(&self.right.name), self.right.addr);
        for step in &self.steps {
            let _ = match step {
                Step::Phase(name) => writeln!(out, "    Note over C,S: {}", clean(name)),
                Step::Arrow(a) => {
                    let (from, to) = if a.rightward { ("C", "S") } else { ("S", "C") };
                    writeln!(out, "    {from}->>{to}: {}. {}", a.no, clean(&a.label()))
                }
                Step::Call { left: true, text, .. } => writeln!(out, "    Note left of C: {}", clean(text)),
                Step::Call { left: false, text, .. } => writeln!(out, "    Note right of S: {}", clean(text)),
            };
        }
        out
    }
}

fn frames_of(phase: &Phase) -> &super::flow::Frames {
    match phase {
        Phase::Handshake { frames, .. }
        | Phase::Refused { frames }
        | Phase::Unanswered { frames, .. }
        | Phase::Data { frames, .. }
        | Phase::Close { frames, .. }
        | Phase::Reset { frames, .. }
        | Phase::Tls { frames, .. } => frames,
    }
}

/// The analysis tags, short, for an arrow (`Retransmission`, `Dup ACK 5#1`).
fn short_tags(tcp: &super::flow::TcpRow) -> Vec<String> {
    tcp.tags
        .labels()
        .map(|label| label.trim_start_matches("[TCP ").trim_end_matches("] ").to_string())
        .collect()
}

/// An arrow `inner` columns wide with its label: `─ label ────▶` or
/// `◀──── label ─`; a label too long is cut with `…`.
fn arrow_text(label: &str, inner: usize, rightward: bool) -> String {
    let room = inner.saturating_sub(5);
    let label = clip(label, room);
    let fill = inner - 4 - label.chars().count();
    if rightward {
        format!("─ {label} {}▶", "─".repeat(fill))
    } else {
        format!("◀{} {label} ─", "─".repeat(fill))
    }
}

fn clip(text: &str, room: usize) -> String {
    if text.chars().count() <= room {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(room.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn pad_left(text: &str, width: usize) -> String {
    format!("{text:>width$}")
}

/// A phase's name on its band.
pub struct PhaseName<'a>(pub &'a Phase);

impl Sentences for PhaseName<'_> {
    fn en(&self) -> String {
        match self.0 {
            Phase::Handshake { .. } => "three-way handshake",
            Phase::Refused { .. } => "refused",
            Phase::Unanswered { .. } => "no answer",
            Phase::Tls { .. } => "TLS handshake",
            Phase::Data { .. } => "data and ACKs",
            Phase::Close { one_sided: true, .. } => "close from one side",
            Phase::Close { segments: 3, .. } => "close in three segments",
            Phase::Close { segments: 4, .. } => "four-way close",
            Phase::Close { .. } => "close",
            Phase::Reset { .. } => "reset",
        }
        .into()
    }

    fn pt(&self) -> String {
        match self.0 {
            Phase::Handshake { .. } => "three-way handshake (aperto de mão em três vias)",
            Phase::Refused { .. } => "recusada",
            Phase::Unanswered { .. } => "sem resposta",
            Phase::Tls { .. } => "handshake TLS",
            Phase::Data { .. } => "dados e ACKs",
            Phase::Close { one_sided: true, .. } => "encerramento de um lado só",
            Phase::Close { segments: 3, .. } => "encerramento em três segmentos",
            Phase::Close { segments: 4, .. } => "encerramento em quatro vias",
            Phase::Close { .. } => "encerramento",
            Phase::Reset { .. } => "reset",
        }
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrows_fill_their_width_and_point_the_right_way() {
        let right = arrow_text("SYN  Seq=0 Len=0", 30, true);
        assert_eq!(right.chars().count(), 30);
        assert!(right.starts_with("─ SYN") && right.ends_with('▶'), "{right}");
        let left = arrow_text("SYN, ACK  Seq=0 Ack=1 Len=0", 30, false);
        assert_eq!(left.chars().count(), 30);
        assert!(left.starts_with('◀') && left.ends_with(" ─"), "{left}");
        let cut = arrow_text(&"x".repeat(100), 30, true);
        assert_eq!(cut.chars().count(), 30);
        assert!(cut.contains('…'));
    }
}
