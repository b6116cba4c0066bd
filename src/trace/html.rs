//! `--html FILE`: one self-contained page of an exchange: for each
//! connection the ladder, the time/sequence graph, the table with the
//! calls, the phases and every payload's bytes with their UTF-8 reading.
//! Styles inline, pictures inline SVG, no script and nothing fetched.

use std::fmt::Write as _;

use super::ladder::Ladder;
use super::svg::{self, escape};
use crate::i18n::{Lang, Sentences};

/// One connection's part of the page.
pub struct Section {
    pub title: String,
    pub ladder: Ladder,
    pub lines: Vec<Line>,
    pub phases: Vec<String>,
    pub payloads: Vec<Payload>,
}

/// A line of the table: a frame, or a call between frames.
pub enum Line {
    Frame {
        no: usize,
        time: String,
        source: String,
        destination: String,
        protocol: String,
        length: u32,
        info: String,
    },
    Call {
        time: String,
        text: String,
    },
}

/// The bytes a segment carried.
pub struct Payload {
    pub no: usize,
    pub direction: String,
    pub bytes: Vec<u8>,
}

/// The table of frames with the calls between them.
fn table_html(html: &mut String, lines: &[Line], lang: Lang) {
    let _ = writeln!(html, "<table class=\"frames\">");
    let _ = writeln!(
        html,
        "<tr><th>{}</th></tr>",
        lang.text(&Words::Columns).split('|').collect::<Vec<_>>().join("</th><th>")
    );
    for line in lines {
        match line {
            Line::Frame { no, time, source, destination, protocol, length, info } => {
                let _ = writeln!(
                    html,
                    "<tr id=\"f{no}\" class=\"frame\"><td>{no}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{length}</td><td>{}</td></tr>",
                    escape(time),
                    escape(source),
                    escape(destination),
                    escape(protocol),
                    escape(info)
                );
            }
            Line::Call { time, text } => {
                let _ = writeln!(
                    html,
                    "<tr class=\"call\"><td>»</td><td>{}</td><td colspan=\"5\">{}</td></tr>",
                    escape(time),
                    escape(text)
                );
            }
        }
    }
    html.push_str("</table>\n");
}

/// The page, with `title` on top and `rest` (calls on no connection,
/// exit statuses) at the bottom.
pub fn page(
    title: &str,
    notes: &[(String, Vec<String>)],
    sections: &[Section],
    rest: &[Line],
    lang: Lang,
) -> String {
    let mut html = String::new();
    let code = match lang {
        Lang::En => "en",
        Lang::Pt => "pt-BR",
    };
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"{code}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(title),
        escape(title)
    );
    for (heading, items) in notes {
        let _ = writeln!(html, "<section class=\"notes\">\n<h2>{}</h2>\n<ul>", escape(heading));
        for item in items {
            let _ = writeln!(html, "<li>{}</li>", escape(item));
        }
        html.push_str("</ul>\n</section>\n");
    }
    for section in sections {
        let _ = writeln!(html, "<section class=\"connection\">\n<h2>{}</h2>", escape(&section.title));
        let _ = writeln!(
            html,
            "<h3>{}</h3>\n<div class=\"picture\">{}</div>",
            lang.text(&Words::Ladder),
            svg::ladder(&section.ladder, true)
        );
        if let Some(graph) = svg::time_sequence(&section.ladder, lang) {
            let _ =
                writeln!(html, "<h3>{}</h3>\n<div class=\"picture\">{graph}</div>", lang.text(&Words::Graph));
        }
        let _ = writeln!(html, "<h3>{}</h3>", lang.text(&Words::Packets));
        table_html(&mut html, &section.lines, lang);
        let _ = writeln!(html, "<h3>{}</h3>\n<ul class=\"phases\">", lang.text(&Words::Phases));
        for phase in &section.phases {
            let _ = writeln!(html, "<li>{}</li>", escape(phase));
        }
        html.push_str("</ul>\n");
        if !section.payloads.is_empty() {
            let _ = writeln!(html, "<h3>{}</h3>", lang.text(&Words::Bytes));
            for payload in &section.payloads {
                bytes_html(&mut html, payload, lang);
            }
        }
        html.push_str("</section>\n");
    }
    if !rest.is_empty() {
        let _ = writeln!(html, "<section class=\"rest\">\n<h2>{}</h2>", lang.text(&Words::Rest));
        table_html(&mut html, rest, lang);
        html.push_str("</section>\n");
    }
    let _ = writeln!(html, "<footer>{}</footer>\n</body>\n</html>", lang.text(&Words::Footer));
    html
}

/// A payload: a hex dump, then each character beside its bytes.
fn bytes_html(html: &mut String, payload: &Payload, lang: Lang) {
    let bytes = &payload.bytes;
    let text = std::str::from_utf8(bytes).ok();
    let summary = lang.text(&Words::PayloadSummary {
        no: payload.no,
        direction: &payload.direction,
        bytes: bytes.len(),
        chars: text.map(|t| t.chars().count()),
    });
    let _ = writeln!(
        html,
        "<details open class=\"payload\" id=\"p{}\"><summary>{}</summary>",
        payload.no,
        escape(&summary)
    );
    html.push_str("<pre class=\"hex\">");
    for (i, chunk) in bytes.chunks(16).take(256).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02X}")).collect();
        let ascii: String =
            chunk.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' }).collect();
        let _ = writeln!(html, "{:04x}  {:<48} {}", i * 16, hex.join(" "), escape(&ascii));
    }
    html.push_str("</pre>\n");
    if let Some(text) = text {
        html.push_str("<div class=\"chars\">");
        for c in text.chars().take(2000) {
            let mut buf = [0u8; 4];
            let encoded = c.encode_utf8(&mut buf);
            let hex: Vec<String> = encoded.bytes().map(|b| format!("{b:02X}")).collect();
            let wide = if encoded.len() > 1 { " multi" } else { "" };
            let shown = if c.is_control() { '·'.to_string() } else { c.to_string() };
            let _ = write!(
                html,
                "<span class=\"char{wide}\"><b>{}</b><i>{}</i></span>",
                escape(&shown),
                hex.join(" ")
            );
        }
        html.push_str("</div>\n");
    }
    html.push_str("</details>\n");
}

const STYLE: &str = "body{font-family:system-ui,'DejaVu Sans',sans-serif;margin:1.5em;color:#222;background:#fff}\
h1{font-size:1.4em}h2{font-size:1.2em;border-bottom:1px solid #ccc}h3{font-size:1em;color:#444}\
.picture{overflow-x:auto}table.frames{border-collapse:collapse;font-family:'DejaVu Sans Mono',monospace;font-size:12px}\
table.frames td,table.frames th{padding:2px 8px;text-align:left;vertical-align:top}\
table.frames tr.frame:nth-child(even){background:#f4f6f8}tr.call td{color:#2e7d32}\
pre.hex{background:#f6f6f6;padding:8px;font-size:12px}.chars{display:flex;flex-wrap:wrap;gap:4px}\
.char{display:inline-flex;flex-direction:column;align-items:center;border:1px solid #ccc;padding:2px 4px;\
font-family:'DejaVu Sans Mono',monospace;font-size:12px}.char.multi{background:#fff3c4;border-color:#e0a800}\
.char i{font-style:normal;color:#666;font-size:10px}footer{margin-top:2em;color:#888;font-size:.85em}";

/// The page's own words.
enum Words<'a> {
    Ladder,
    Graph,
    Packets,
    Rest,
    Columns,
    Phases,
    Bytes,
    PayloadSummary { no: usize, direction: &'a str, bytes: usize, chars: Option<usize> },
    Footer,
}

impl Sentences for Words<'_> {
    fn en(&self) -> String {
        match self {
            Words::Ladder => "The exchange, segment by segment".into(),
            Words::Graph => "Time/sequence graph".into(),
            Words::Packets => "Packets and calls".into(),
            Words::Rest => "Calls and packets of no TCP connection".into(),
            Words::Columns => "No.|Time|Source|Destination|Protocol|Length|Info".into(),
            Words::Phases => "Phases".into(),
            Words::Bytes => "Payload bytes".into(),
            Words::PayloadSummary { no, direction, bytes, chars } => match chars {
                Some(chars) => format!("frame {no}, {direction}: {bytes} bytes, {chars} characters in UTF-8"),
                None => format!("frame {no}, {direction}: {bytes} bytes (not UTF-8 text)"),
            },
            Words::Footer => "Made by eco trace. This page fetches nothing: it works offline.".into(),
        }
    }

    fn pt(&self) -> String {
        match self {
            Words::Ladder => "A troca, segmento a segmento".into(),
            Words::Graph => "Gráfico tempo/sequência".into(),
            Words::Packets => "Pacotes e chamadas".into(),
            Words::Rest => "Chamadas e pacotes fora de uma conexão TCP".into(),
            Words::Columns => "Nº|Tempo|Origem|Destino|Protocolo|Tamanho|Info".into(),
            Words::Phases => "Fases".into(),
            Words::Bytes => "Bytes dos dados".into(),
            Words::PayloadSummary { no, direction, bytes, chars } => match chars {
                Some(chars) => {
                    format!("quadro {no}, {direction}: {bytes} bytes, {chars} caracteres em UTF-8")
                }
                None => format!("quadro {no}, {direction}: {bytes} bytes (não é texto UTF-8)"),
            },
            Words::Footer => {
                "Feito pelo eco trace. Esta página não busca nada na rede: funciona offline.".into()
            }
        }
    }
}
