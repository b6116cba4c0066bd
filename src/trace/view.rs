//! How a traced connection is shown: the table with the calls between
//! its rows, the phases, the ladder diagram in the terminal, the payload
//! bytes on request (`--bytes`), and the exports (`--svg`, `--html`,
//! `--mermaid`). Shared by `eco demo`, `eco trace`, `--run`, `--read` and
//! `--attach`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::flow::{Phase, Row};
use super::html::{self, Line, Payload, Section};
use super::ladder::{Ladder, Side};
use super::messages::Msg;
use super::table::{self, Table};
use crate::console::Console;
use crate::error::{Error, Result};
use crate::i18n::{Lang, Raw, Sentences};

/// What to show besides the table, and where to export.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// The ladder diagram in the terminal.
    pub diagram: bool,
    /// The payload bytes in the terminal.
    pub bytes: bool,
    /// ANSI colours (a terminal, and no `NO_COLOR`).
    pub color: bool,
    pub svg: Option<PathBuf>,
    pub html: Option<PathBuf>,
    /// `-`: standard output.
    pub mermaid: Option<PathBuf>,
    /// The page's title, when not the programs' names (a lab's).
    pub title: Option<String>,
    /// Paragraphs the HTML page opens with: a heading and its items (a
    /// lab's narration).
    pub notes: Vec<(String, Vec<String>)>,
}

impl View {
    pub fn exports(&self) -> bool {
        self.svg.is_some() || self.html.is_some() || self.mermaid.is_some()
    }
}

/// Whether to colour: stdout is a terminal and `NO_COLOR` is unset or empty.
pub fn color_wanted() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stdout())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// One connection, ready to show.
pub struct Connection<'a> {
    pub rows: Vec<&'a Row>,
    /// Calls: when, the local address of the socket (its side), how it reads.
    pub events: Vec<(Duration, Option<SocketAddr>, String)>,
    pub phases: Vec<Phase>,
    pub client: Side,
    pub server: Side,
    /// Frame number and payload of the segments that carried data.
    pub payloads: Vec<(usize, Vec<u8>)>,
}

impl Connection<'_> {
    fn names(&self) -> Vec<(SocketAddr, String)> {
        vec![(self.client.addr, self.client.name.clone()), (self.server.addr, self.server.name.clone())]
    }

    fn ladder(&self, lang: Lang) -> Ladder {
        Ladder::build(&self.rows, &self.events, &self.phases, self.client.clone(), self.server.clone(), lang)
    }

    fn direction(&self, no: usize) -> String {
        let row = self.rows.iter().find(|r| r.no == no);
        let from_client = row.and_then(|r| r.tcp()).is_some_and(|t| t.seg.src == self.client.addr);
        if from_client {
            format!("{} → {}", self.client.name, self.server.name)
        } else {
            format!("{} → {}", self.server.name, self.client.name)
        }
    }
}

/// The table of a connection, with its calls between the rows.
pub fn table(conn: &Connection, console: &Console) {
    let events: Vec<(Duration, String)> =
        conn.events.iter().map(|(ts, _, text)| (*ts, text.clone())).collect();
    let mut table = Table::new(console, events).with_names(conn.names());
    for row in &conn.rows {
        table.row(row);
    }
    table.finish();
}

pub fn phases(conn: &Connection, console: &Console) {
    if !conn.phases.is_empty() {
        console.say(&Msg::PhasesTitle);
        table::print_phases(console, &conn.phases);
    }
}

/// The ladder in the terminal (and the bytes, with `--bytes`).
pub fn pictures(conn: &Connection, view: &View, console: &Console) {
    if view.diagram && conn.rows.iter().any(|r| r.tcp().is_some()) {
        console.say(&Words::DiagramTitle);
        let width = console.width().unwrap_or(80);
        for line in conn.ladder(console.lang()).lines(width, view.color) {
            console.say_laid_out(&line);
        }
    }
    if view.bytes {
        for (no, bytes) in shown_payloads(&conn.payloads) {
            console.say(&Words::Payload { no: *no, direction: &conn.direction(*no), bytes });
            for line in dump(bytes) {
                console.say(&Raw(&line));
            }
        }
    }
}

/// Table, phases and pictures of each connection; then the lines that
/// belong to none; then the exports.
pub fn show(conns: &[Connection], loose: &Loose, view: &View, title: &str, console: &Console) -> Result<()> {
    for conn in conns {
        console.say(&Words::Connection { client: &conn.client, server: &conn.server });
        table(conn, console);
        phases(conn, console);
        pictures(conn, view, console);
    }
    if !loose.rows.is_empty() || !loose.events.is_empty() {
        console.say(&Words::Loose);
        let mut table = Table::new(console, loose.events.clone());
        for row in &loose.rows {
            table.row(row);
        }
        table.finish();
    }
    let events: Vec<(Duration, Option<SocketAddr>, String)> =
        loose.events.iter().map(|(ts, text)| (*ts, None, text.clone())).collect();
    export(conns, &lines(&loose.rows, &events), view, title, console)
}

/// What belongs to no TCP connection: datagrams, ICMP, and the calls on
/// sockets of none (UDP, a connect that never sent a SYN).
#[derive(Default)]
pub struct Loose<'a> {
    pub rows: Vec<&'a Row>,
    pub events: Vec<(Duration, String)>,
}

/// Writes `--svg`, `--html` and `--mermaid`.
pub fn export(
    conns: &[Connection],
    loose: &[Line],
    view: &View,
    title: &str,
    console: &Console,
) -> Result<()> {
    let lang = console.lang();
    if conns.is_empty() {
        // Nothing to draw: say so rather than write an empty picture.
        for path in [&view.svg, &view.mermaid].into_iter().flatten() {
            console.warn(&Words::NothingToDraw { path });
        }
    }
    if let Some(path) = &view.svg {
        for (i, conn) in conns.iter().enumerate() {
            let path = numbered(path, i);
            write(&path, &super::svg::ladder(&conn.ladder(lang), false), console)?;
        }
    }
    if let Some(path) = view.mermaid.as_ref().filter(|_| !conns.is_empty()) {
        let text: Vec<String> = conns.iter().map(|c| c.ladder(lang).mermaid()).collect();
        write(path, &text.join("\n"), console)?;
    }
    if let Some(path) = &view.html {
        let sections: Vec<Section> = conns.iter().map(|c| section(c, lang)).collect();
        let title = view.title.as_deref().unwrap_or(title);
        write(path, &html::page(title, &view.notes, &sections, loose, lang), console)?;
    }
    Ok(())
}

/// `out.svg`, then `out-2.svg`, `out-3.svg`... for more connections.
fn numbered(path: &Path, index: usize) -> PathBuf {
    if index == 0 {
        return path.to_owned();
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    path.with_file_name(format!("{stem}-{}{ext}", index + 1))
}

fn write(path: &Path, text: &str, console: &Console) -> Result<()> {
    if path == Path::new("-") {
        // Written whatever the console's level: it is the output asked for
        // (the rest of stdout is quiet then).
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
        return Ok(());
    }
    std::fs::write(path, text).map_err(|source| Error::WriteFile { path: path.to_owned(), source })?;
    console.note(&Words::Written { path });
    Ok(())
}

/// The page's table: the rows, and the calls between them in time order.
fn lines(rows: &[&Row], events: &[(Duration, Option<SocketAddr>, String)]) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut events: Vec<_> = events.iter().collect();
    events.sort_by_key(|(ts, ..)| *ts);
    let mut events = events.into_iter().peekable();
    let origin = rows.first().map(|r| table::origin(r));
    let offset = |ts: Duration| origin.map(|o| table::since(ts, o)).unwrap_or_default();
    for row in rows {
        while let Some((ts, _, text)) = events.next_if(|(ts, ..)| *ts <= row.ts) {
            lines.push(Line::Call { time: offset(*ts), text: text.clone() });
        }
        lines.push(Line::Frame {
            no: row.no,
            time: row.time.map(table::seconds).unwrap_or_default(),
            source: row.src.clone(),
            destination: row.dst.clone(),
            protocol: row.protocol.clone(),
            length: row.length,
            info: row.info.to_string(),
        });
    }
    for (ts, _, text) in events {
        lines.push(Line::Call { time: offset(*ts), text: text.clone() });
    }
    lines
}

fn section(conn: &Connection, lang: Lang) -> Section {
    let lines = lines(&conn.rows, &conn.events);
    Section {
        // Without the terminal's "── … ──" (a heading on the page).
        title: lang
            .text(&Words::Connection { client: &conn.client, server: &conn.server })
            .trim_matches(['─', ' '])
            .to_string(),
        ladder: conn.ladder(lang),
        lines,
        phases: conn.phases.iter().map(|p| lang.text(&Msg::Phase(p))).collect(),
        payloads: shown_payloads(&conn.payloads)
            .map(|(no, bytes)| Payload { no: *no, direction: conn.direction(*no), bytes: bytes.clone() })
            .collect(),
    }
}

/// The payloads shown: the first ones, up to [`SHOWN_BYTES`] a connection
/// (a page of a bulk transfer's every byte would not open anywhere).
fn shown_payloads(payloads: &[(usize, Vec<u8>)]) -> impl Iterator<Item = &(usize, Vec<u8>)> {
    let mut total = 0;
    payloads.iter().take_while(move |(_, bytes)| {
        let first = total == 0;
        total += bytes.len();
        first || total <= SHOWN_BYTES
    })
}

/// Payload bytes shown per connection at most.
const SHOWN_BYTES: usize = 64 << 10;

/// The TCP payload of a frame captured on `lo` (Ethernet): the last
/// `len` bytes of its IP packet (the IP lengths say where it ends, so
/// Ethernet padding is left out).
pub fn payload(data: &[u8], len: u32) -> Option<Vec<u8>> {
    let ether_type = u16::from_be_bytes([*data.get(12)?, *data.get(13)?]);
    let ip_end = match ether_type {
        0x0800 => 14 + usize::from(u16::from_be_bytes([*data.get(16)?, *data.get(17)?])),
        0x86dd => 14 + 40 + usize::from(u16::from_be_bytes([*data.get(18)?, *data.get(19)?])),
        _ => return None,
    };
    let start = ip_end.checked_sub(len as usize)?;
    data.get(start..ip_end).map(<[u8]>::to_vec)
}

/// A hex dump, 16 bytes a line, then each character beside its bytes
/// (`O 4F  l 6C  á C3 A1`): TCP carries bytes; UTF-8 makes them text.
pub fn dump(bytes: &[u8]) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, chunk) in bytes.chunks(16).take(64).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02X}")).collect();
        let ascii: String =
            chunk.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' }).collect();
        lines.push(format!("  {:04x}  {:<48} {ascii}", i * 16, hex.join(" ")));
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        let mut line = String::from("  UTF-8:");
        for c in text.chars().take(512) {
            let mut buf = [0u8; 4];
            let hex: Vec<String> = c.encode_utf8(&mut buf).bytes().map(|b| format!("{b:02X}")).collect();
            let shown = if c.is_control() { '·' } else { c };
            let cell = format!("  {shown} {}", hex.join(" "));
            if line.chars().count() + cell.chars().count() > 78 {
                lines.push(std::mem::replace(&mut line, "        ".into()));
            }
            line.push_str(&cell);
        }
        lines.push(line);
    }
    lines
}

/// What the views say.
pub enum Words<'a> {
    DiagramTitle,
    Connection { client: &'a Side, server: &'a Side },
    Loose,
    Payload { no: usize, direction: &'a str, bytes: &'a [u8] },
    Written { path: &'a Path },
    NothingToDraw { path: &'a Path },
}

impl Sentences for Words<'_> {
    fn en(&self) -> String {
        match self {
            Words::DiagramTitle => "── diagram ──".into(),
            Words::Connection { client, server } => {
                format!("── connection: {} {} → {} {} ──", client.name, client.addr, server.name, server.addr)
            }
            Words::Loose => "── calls and packets of no TCP connection ──".into(),
            Words::Payload { no, direction, bytes } => match std::str::from_utf8(bytes) {
                Ok(text) => format!(
                    "frame {no}, {direction}: {} bytes, {} characters in UTF-8",
                    bytes.len(),
                    text.chars().count()
                ),
                Err(_) => format!("frame {no}, {direction}: {} bytes (not UTF-8 text)", bytes.len()),
            },
            Words::Written { path } => format!("wrote {}", path.display()),
            Words::NothingToDraw { path } => {
                format!("no TCP connection to draw: {} not written", path.display())
            }
        }
    }

    fn pt(&self) -> String {
        match self {
            Words::DiagramTitle => "── diagrama ──".into(),
            Words::Connection { client, server } => {
                format!("── conexão: {} {} → {} {} ──", client.name, client.addr, server.name, server.addr)
            }
            Words::Loose => "── chamadas e pacotes fora de uma conexão TCP ──".into(),
            Words::Payload { no, direction, bytes } => match std::str::from_utf8(bytes) {
                Ok(text) => format!(
                    "quadro {no}, {direction}: {} bytes, {} caracteres em UTF-8",
                    bytes.len(),
                    text.chars().count()
                ),
                Err(_) => format!("quadro {no}, {direction}: {} bytes (não é texto UTF-8)", bytes.len()),
            },
            Words::Written { path } => format!("{} gravado", path.display()),
            Words::NothingToDraw { path } => {
                format!("nenhuma conexão TCP para desenhar: {} não foi gravado", path.display())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exercise_message_is_52_characters_in_55_bytes() {
        let message = "Olá Servidor, meu nome é Cliente e sou o único aqui.";
        let lines = dump(message.as_bytes());
        let all = lines.join("\n");
        assert!(all.contains("á C3 A1"), "{all}");
        assert!(all.contains("0000  4F 6C C3 A1"), "{all}");
        let said =
            Lang::En
                .text(&Words::Payload { no: 4, direction: "client → server", bytes: message.as_bytes() });
        assert_eq!(said, "frame 4, client → server: 55 bytes, 52 characters in UTF-8");
    }

    #[test]
    fn payload_ends_where_the_ip_packet_does() {
        // Ethernet + IPv4 (total length 20 + 20 + 3) + "abc" + 2 bytes of padding.
        let mut frame = vec![0u8; 14 + 40];
        frame[12..14].copy_from_slice(&[0x08, 0x00]);
        frame[16..18].copy_from_slice(&43u16.to_be_bytes());
        frame.extend_from_slice(b"abc\0\0");
        assert_eq!(payload(&frame, 3).as_deref(), Some(&b"abc"[..]));
    }

    #[test]
    fn more_connections_more_files() {
        assert_eq!(numbered(Path::new("/tmp/a.svg"), 0), Path::new("/tmp/a.svg"));
        assert_eq!(numbered(Path::new("/tmp/a.svg"), 2), Path::new("/tmp/a-3.svg"));
    }
}
