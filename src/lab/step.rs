//! `--step`: the classroom mode. One frame (and the calls before it) per
//! Enter, and before each, a question about what comes next, for the
//! class to answer before it is revealed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::console::Console;
use crate::i18n::Sentences;
use crate::trace::calls::{self, Line};
use crate::trace::flow::Row;
use crate::trace::packet::{ACK, FIN, RST, SYN};
use crate::trace::syscalls::Tracer;
use crate::trace::table::Table;

/// Shows the rows one per Enter. Returns false when Ctrl-C (or SIGTERM)
/// ended it: the caller exits 130, as after an interrupted run.
pub fn walk(rows: &[Row], tracer: &Tracer, labels: &[String], console: &Console) -> bool {
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
    // Ctrl-C while waiting for Enter: the kernel restarts the read after
    // the signal, so stdin is polled a few times a second and the flag
    // checked in between.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register(signal, Arc::clone(&stop));
    }
    // Questions only to someone at a terminal who sees them: not with -q,
    // not when stdout goes to a pipe or a file. Once stdin ends (Ctrl-D),
    // the rest is shown at once.
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stdin())
        && std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut asking = terminal && !console.is_quiet();
    for (i, row) in rows.iter().enumerate() {
        if asking && i > 0 {
            console.say(&Ask { next: row.no, of: rows.len(), after: &rows[i - 1] });
            match wait_for_enter(&stop) {
                Waited::Enter => {}
                Waited::End => asking = false,
                Waited::Stopped => return false,
            }
        }
        // Whoever read our output has gone (`| head`): nothing to show to.
        if console.stdout_gone() {
            return true;
        }
        table.row(row);
    }
    table.finish();
    true
}

enum Waited {
    Enter,
    /// stdin ended (Ctrl-D, or not a terminal and empty).
    End,
    /// Ctrl-C or SIGTERM.
    Stopped,
}

/// Waits for a line on stdin, or a signal. stdin is read a byte at a
/// time, straight from its descriptor (no buffer that poll() cannot see).
fn wait_for_enter(stop: &AtomicBool) -> Waited {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let stdin = std::io::stdin();
    loop {
        if stop.load(Ordering::SeqCst) {
            return Waited::Stopped;
        }
        let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
        let timeout = Timespec { tv_sec: 0, tv_nsec: 200_000_000 };
        if !matches!(poll(&mut fds, Some(&timeout)), Ok(n) if n > 0) {
            continue;
        }
        let mut byte = [0u8; 1];
        match rustix::io::read(&stdin, &mut byte) {
            Ok(1) if byte[0] == b'\n' => return Waited::Enter,
            Ok(1) => {}
            Err(rustix::io::Errno::INTR) => {}
            _ => return Waited::End,
        }
    }
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
