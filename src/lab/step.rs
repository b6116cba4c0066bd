//! `--step`: the classroom mode. One frame (and the calls before it) per
//! Enter, and before each, a question about what comes next, for the
//! class to answer before it is revealed.

use std::collections::HashMap;
use std::io::BufRead;
use std::net::SocketAddr;

use crate::console::Console;
use crate::i18n::Sentences;
use crate::trace::calls::{self, Line};
use crate::trace::flow::Row;
use crate::trace::packet::{ACK, FIN, RST, SYN};
use crate::trace::syscalls::Tracer;
use crate::trace::table::Table;

pub fn walk(rows: &[Row], tracer: &Tracer, labels: &[String], console: &Console) {
    let lang = console.lang();
    let placed = calls::place(&tracer.calls, &tracer.socks, rows, labels);
    let events = placed.iter().map(|p| (p.call.at, lang.text(&Line(p)))).collect();
    // The endpoints by the program that owns them, for the Direction column.
    let mut names: HashMap<SocketAddr, String> = HashMap::new();
    for p in &placed {
        if let Some(local) = p.local {
            names.entry(local).or_insert_with(|| p.label.to_string());
        }
    }
    let mut table = Table::new(console, events).with_names(names.into_iter().collect());
    let mut stdin = std::io::stdin().lock();
    // Once stdin ends (nobody at the keyboard), the rest is shown at once.
    let mut asking = true;
    for (i, row) in rows.iter().enumerate() {
        if asking && i > 0 {
            console.say(&Ask { next: row.no, of: rows.len(), after: &rows[i - 1] });
            let mut line = String::new();
            asking = stdin.read_line(&mut line).is_ok_and(|n| n > 0);
        }
        table.row(row);
    }
    table.finish();
}

/// "Frame 2 of 10 — what answers a SYN? (Enter)"
struct Ask<'a> {
    next: usize,
    of: usize,
    after: &'a Row,
}

/// What the frame before was, for the question.
enum Before {
    Syn,
    SynAck,
    Data,
    Fin,
    Reset,
    Other,
}

fn before(row: &Row) -> Before {
    let Some(tcp) = row.tcp() else { return Before::Other };
    let seg = &tcp.seg;
    match () {
        _ if seg.has(RST) => Before::Reset,
        _ if seg.has(SYN) && seg.has(ACK) => Before::SynAck,
        _ if seg.has(SYN) => Before::Syn,
        _ if seg.has(FIN) => Before::Fin,
        _ if seg.payload_len() > 0 => Before::Data,
        _ => Before::Other,
    }
}

impl Sentences for Ask<'_> {
    fn en(&self) -> String {
        let question = match before(self.after) {
            Before::Syn => "who answers a SYN, and with what?",
            Before::SynAck => "what completes the handshake, and does accept() wait for it?",
            Before::Data => "who acknowledges these bytes, and how soon?",
            Before::Fin => "how does the other side answer a FIN?",
            Before::Reset => "after a reset, is anything more sent on this connection?",
            Before::Other => "what comes next?",
        };
        format!("── frame {} of {}: {question} (Enter) ──", self.next, self.of)
    }

    fn pt(&self) -> String {
        let question = match before(self.after) {
            Before::Syn => "quem responde a um SYN, e com o quê?",
            Before::SynAck => "o que completa o handshake, e o accept() espera por isso?",
            Before::Data => "quem confirma estes bytes, e quão rápido?",
            Before::Fin => "como o outro lado responde a um FIN?",
            Before::Reset => "depois de um reset, algo mais é enviado nesta conexão?",
            Before::Other => "o que vem a seguir?",
        };
        format!("── quadro {} de {}: {question} (Enter) ──", self.next, self.of)
    }
}
