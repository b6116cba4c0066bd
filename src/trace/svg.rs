//! Pictures as SVG, written by hand (a few elements; no crate needed):
//! the ladder diagram, and the Stevens-style time/sequence graph where a
//! bulk transfer, a loss and its retransmission show as a picture.
//!
//! Self-contained: no fonts, styles or scripts fetched from anywhere, so a
//! page made of them opens from a USB stick in a classroom.

use std::fmt::Write as _;

use super::ladder::{Arrow, Ladder, Step};

/// Escapes text for XML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Layout of the ladder, in pixels.
const WIDTH: u32 = 1200;
const LEFT: u32 = 460;
const RIGHT: u32 = 860;
const ROW: u32 = 26;
const TOP: u32 = 56;
const CLIENT: &str = "#1565c0";
const SERVER: &str = "#c62828";

/// The ladder of one connection as an SVG document (or, with `inline`, an
/// `<svg>` element to put in a page).
pub fn ladder(ladder: &Ladder, inline: bool) -> String {
    let rows = ladder.steps.iter().filter(|s| !matches!(s, Step::Phase(_))).count() as u32;
    let phases = ladder.steps.iter().filter(|s| matches!(s, Step::Phase(_))).count() as u32;
    let height = TOP + (rows + phases) * ROW + 30;
    let mut svg = String::new();
    if !inline {
        svg.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    }
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" \
         font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" font-size=\"12\" class=\"ladder\">"
    );
    let _ = writeln!(
        svg,
        "<defs><marker id=\"head-c\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" \
         orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"{CLIENT}\"/></marker>\
         <marker id=\"head-s\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" \
         orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"{SERVER}\"/></marker></defs>"
    );
    let _ = writeln!(svg, "<rect width=\"{WIDTH}\" height=\"{height}\" fill=\"#ffffff\"/>");
    // The two ends, and their lifelines.
    for (x, side, color) in [(LEFT, &ladder.left, CLIENT), (RIGHT, &ladder.right, SERVER)] {
        let _ = writeln!(
            svg,
            "<text x=\"{x}\" y=\"20\" text-anchor=\"middle\" font-weight=\"bold\" fill=\"{color}\">{}</text>\
             <text x=\"{x}\" y=\"36\" text-anchor=\"middle\" fill=\"#444\">{}</text>\
             <line x1=\"{x}\" y1=\"44\" x2=\"{x}\" y2=\"{}\" stroke=\"#888\" stroke-width=\"2\"/>",
            escape(&side.name),
            side.addr,
            height - 10
        );
    }
    let heading = match ladder.lang {
        crate::i18n::Lang::En => "No.  Time",
        crate::i18n::Lang::Pt => "Nº  Tempo",
    };
    let _ = writeln!(svg, "<text x=\"8\" y=\"36\" fill=\"#444\">{heading}</text>");
    let mut y = TOP;
    let mut band = 0;
    for step in &ladder.steps {
        match step {
            Step::Phase(name) => {
                let fill = if band % 2 == 0 { "#eef4fb" } else { "#f6f1e7" };
                band += 1;
                let _ = writeln!(
                    svg,
                    "<rect x=\"4\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\" class=\"phase\"/>\
                     <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-style=\"italic\" fill=\"#555\">{}</text>",
                    y - 4,
                    WIDTH - 8,
                    ROW - 6,
                    (LEFT + RIGHT) / 2,
                    y + 12,
                    escape(name)
                );
                y += ROW;
            }
            Step::Arrow(arrow) => {
                arrow_svg(&mut svg, arrow, y);
                y += ROW;
            }
            Step::Call { left, time, text } => {
                let (x, anchor) = if *left { (LEFT - 10, "end") } else { (RIGHT + 10, "start") };
                let _ = writeln!(
                    svg,
                    "<text x=\"{x}\" y=\"{}\" text-anchor=\"{anchor}\" fill=\"#2e7d32\" class=\"call\">{}</text>\
                     <text x=\"8\" y=\"{}\" fill=\"#2e7d32\">»  {}</text>",
                    y + 14,
                    escape(&fit(text, 44)),
                    y + 14,
                    escape(time)
                );
                y += ROW;
            }
        }
    }
    svg.push_str("</svg>\n");
    svg
}

fn arrow_svg(svg: &mut String, arrow: &Arrow, y: u32) {
    let (x1, x2, color, head) =
        if arrow.rightward { (LEFT, RIGHT, CLIENT, "head-c") } else { (RIGHT, LEFT, SERVER, "head-s") };
    let dash = if arrow.resent { " stroke-dasharray=\"6 4\"" } else { "" };
    let _ = writeln!(
        svg,
        "<g class=\"frame\" data-frame=\"{}\"><text x=\"8\" y=\"{}\" fill=\"#222\">{:>3}  {}</text>\
         <line x1=\"{x1}\" y1=\"{}\" x2=\"{x2}\" y2=\"{}\" stroke=\"{color}\" stroke-width=\"1.6\"{dash} \
         marker-end=\"url(#{head})\"/>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{color}\">{}</text></g>",
        arrow.no,
        y + 14,
        arrow.no,
        escape(&arrow.time),
        y + 6,
        y + 18,
        (LEFT + RIGHT) / 2,
        y + 8,
        escape(&fit(&arrow.label(), 52)),
    );
}

fn fit(text: &str, room: usize) -> String {
    if text.chars().count() <= room {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(room - 1).collect();
    cut.push('…');
    cut
}

/// The time/sequence graph (Stevens): each data segment a vertical bar
/// from its first to its last byte at the time it was sent, client's and
/// server's in their colours, retransmissions in black with a ring.
/// `None` when fewer than three segments carry data.
pub fn time_sequence(ladder: &Ladder, lang: crate::i18n::Lang) -> Option<String> {
    let data: Vec<&Arrow> = ladder
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Arrow(a) if a.len > 0 => Some(a),
            _ => None,
        })
        .collect();
    if data.len() < 3 {
        return None;
    }
    let (w, h, pad) = (760.0_f64, 420.0_f64, 60.0_f64);
    let t_max = data.iter().map(|a| a.secs).fold(0.0_f64, f64::max).max(1e-6);
    let s_max = data.iter().map(|a| f64::from(a.seq) + f64::from(a.len)).fold(1.0_f64, f64::max);
    let words = match lang {
        crate::i18n::Lang::En => ("time", "sequence (relative)", "retransmission"),
        crate::i18n::Lang::Pt => ("tempo", "sequência (relativa)", "retransmissão"),
    };
    let x = |t: f64| pad + (t / t_max) * (w - 2.0 * pad);
    let y = |s: f64| h - pad - (s / s_max) * (h - 2.0 * pad);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
         font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"12\" class=\"time-sequence\">\
         <rect width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>"
    );
    // Axes, with their ends labelled.
    let _ = writeln!(
        svg,
        "<line x1=\"{pad}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\"/>\
         <line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{}\" stroke=\"#333\"/>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{} (s): 0 … {:.6}</text>\
         <text x=\"14\" y=\"{}\" transform=\"rotate(-90 14 {})\" text-anchor=\"middle\">{}: 0 … {}</text>",
        h - pad,
        w - pad,
        h - pad,
        h - pad,
        w / 2.0,
        h - 20.0,
        words.0,
        t_max,
        h / 2.0,
        h / 2.0,
        words.1,
        s_max as u64
    );
    for a in &data {
        let color = if a.resent {
            "#000000"
        } else if a.rightward {
            CLIENT
        } else {
            SERVER
        };
        let (x0, y0, y1) = (x(a.secs), y(f64::from(a.seq)), y(f64::from(a.seq) + f64::from(a.len)));
        let _ = writeln!(
            svg,
            "<g class=\"segment\" data-frame=\"{}\"><line x1=\"{x0:.1}\" y1=\"{y0:.1}\" x2=\"{x0:.1}\" y2=\"{y1:.1}\" \
             stroke=\"{color}\" stroke-width=\"2\"/><line x1=\"{:.1}\" y1=\"{y1:.1}\" x2=\"{:.1}\" y2=\"{y1:.1}\" \
             stroke=\"{color}\"/>{}</g>",
            a.no,
            x0 - 3.0,
            x0 + 3.0,
            if a.resent {
                format!("<circle cx=\"{x0:.1}\" cy=\"{y1:.1}\" r=\"5\" fill=\"none\" stroke=\"#000\"/>")
            } else {
                String::new()
            }
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{}\" y=\"20\" fill=\"{CLIENT}\">■ {} → {}</text>\
         <text x=\"{}\" y=\"38\" fill=\"{SERVER}\">■ {} → {}</text><text x=\"{}\" y=\"56\">○ {}</text></svg>",
        w - 240.0,
        escape(&ladder.left.name),
        escape(&ladder.right.name),
        w - 240.0,
        escape(&ladder.right.name),
        escape(&ladder.left.name),
        w - 240.0,
        words.2
    );
    Some(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_xml() {
        assert_eq!(escape("a<b & \"c\" > 'd'\u{1}"), "a&lt;b &amp; &quot;c&quot; &gt; &apos;d&apos;\u{fffd}");
    }
}
