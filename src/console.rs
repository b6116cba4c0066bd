//! Where eco's sentences go: the transcript on stdout, notes on stderr.
//!
//! The server and client write through a [`Console`] instead of `println!`
//! so that `eco demo` can run both in one process and show each side's
//! transcript under its own title, and so that a closed stdout never kills a
//! server (write errors are ignored, not panics as with `println!`).
//!
//! A server must also never *wait* for its output: with stderr going to a
//! pipe that nobody reads, a blocking write would stop every connection that
//! logs. [`Console::background`] therefore hands each line to a [`Lossy`]
//! writer: a bounded queue drained by a thread of its own; when the queue is
//! full the line is dropped and counted ([`Console::dropped_lines`]), and the
//! server says so once the reader is back.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::i18n::{Lang, Text};

type Sink = Mutex<Box<dyn Write + Send>>;

pub struct Console {
    lang: Lang,
    level: Level,
    /// The transcript: the lines of the exercise.
    out: Sink,
    /// Diagnostics, each line prefixed with `eco: `.
    err: Sink,
    /// The background writers behind `out` and `err`, if any.
    lossy: Vec<Lossy>,
    /// Set once a write to `out` failed with a broken pipe: whoever read
    /// our stdout has gone (`eco trace --attach | head`).
    out_gone: AtomicBool,
    /// Flush after every line (a pipe sees each at once), or only when the
    /// buffer is full and at [`Console::flush_out`] (a million-line table).
    flush_each: bool,
    /// Lines longer than this are wrapped (a terminal this wide); `None`:
    /// written as they are (a pipe, a file, `--wide`).
    width: Option<usize>,
}

/// How much a [`Console`] prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The transcript, notes and warnings.
    Normal,
    /// `-q`: warnings only.
    Quiet,
    /// `--log-format json`: nothing; the structured log says it all.
    Silent,
}

/// A buffer that a capturing [`Console`] writes into; read it with [`Captured::text`].
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Console {
    /// Writes to the process's stdout and stderr, waiting for them: for
    /// commands whose output is their result (client, bench, trace).
    pub fn stdio(lang: Lang, level: Level) -> Console {
        Console {
            lang,
            level,
            out: Mutex::new(Box::new(io::stdout())),
            err: Mutex::new(Box::new(io::stderr())),
            lossy: Vec::new(),
            out_gone: AtomicBool::new(false),
            flush_each: true,
            width: None,
        }
    }

    /// Like [`Console::stdio`], with stdout written in 64 KiB blocks: for
    /// output that is a file's worth of lines (`eco trace --read`), where a
    /// write per line would cost more than making the line.
    pub fn stdio_buffered(lang: Lang, level: Level) -> Console {
        Console {
            out: Mutex::new(Box::new(io::BufWriter::with_capacity(64 << 10, io::stdout()))),
            flush_each: false,
            ..Console::stdio(lang, level)
        }
    }

    /// Writes out what stdout's buffer holds.
    pub fn flush_out(&self) {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = out.flush()
            && e.kind() == io::ErrorKind::BrokenPipe
        {
            self.out_gone.store(true, Ordering::Relaxed);
        }
    }

    /// Writes to stdout and stderr without ever waiting for them (see the
    /// module doc): for the server. `err` is also where the structured log
    /// goes, so that notes and log lines keep their order.
    pub fn background(lang: Lang, level: Level, err: Lossy) -> Console {
        let out = Lossy::spawn(io::stdout(), "eco-stdout");
        Console {
            lang,
            level,
            out: Mutex::new(Box::new(out.clone())),
            err: Mutex::new(Box::new(err.clone())),
            lossy: vec![out, err],
            out_gone: AtomicBool::new(false),
            flush_each: true,
            width: None,
        }
    }

    /// Writes into two buffers (transcript, notes) instead.
    pub fn capture(lang: Lang) -> (Console, Captured, Captured) {
        let (out, err) = (Captured::default(), Captured::default());
        let console = Console {
            lang,
            level: Level::Normal,
            out: Mutex::new(Box::new(out.clone())),
            err: Mutex::new(Box::new(err.clone())),
            lossy: Vec::new(),
            out_gone: AtomicBool::new(false),
            flush_each: true,
            width: None,
        };
        (console, out, err)
    }

    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// Wraps lines to `width` columns (see [`terminal_width`]).
    pub fn fit(mut self, width: Option<usize>) -> Console {
        self.width = width;
        self
    }

    /// The width lines are fitted to, if any: tables lay themselves out
    /// for it.
    pub fn width(&self) -> Option<usize> {
        self.width
    }

    /// A transcript line on stdout.
    pub fn say(&self, msg: &(impl Text + ?Sized)) {
        if self.level == Level::Normal
            && let Err(e) =
                Self::line(&self.out, "", &fit_text(msg.text(self.lang), self.width), self.flush_each)
            && e.kind() == io::ErrorKind::BrokenPipe
        {
            self.out_gone.store(true, Ordering::Relaxed);
        }
    }

    /// Whether the transcript is left out (`-q`, or stdout taken by an export).
    pub fn is_quiet(&self) -> bool {
        self.level != Level::Normal
    }

    /// A line laid out for the width already (the ladder, whose colour
    /// escapes take no columns): written as it is.
    pub fn say_laid_out(&self, line: &str) {
        if self.level == Level::Normal
            && let Err(e) = Self::line(&self.out, "", line, self.flush_each)
            && e.kind() == io::ErrorKind::BrokenPipe
        {
            self.out_gone.store(true, Ordering::Relaxed);
        }
    }

    /// Whether whoever read our stdout has gone (a write failed with a
    /// broken pipe): commands that would go on only to print stop then,
    /// and exit 0, as any Unix filter does.
    pub fn stdout_gone(&self) -> bool {
        self.out_gone.load(Ordering::Relaxed)
    }

    /// A diagnostic line on stderr.
    pub fn note(&self, msg: &(impl Text + ?Sized)) {
        if self.level == Level::Normal {
            let _ = Self::line(
                &self.err,
                "eco: ",
                &fit_text(msg.text(self.lang), self.width.map(|w| w.saturating_sub(5))),
                true,
            );
        }
    }

    /// A diagnostic that `-q` still shows: something went wrong.
    pub fn warn(&self, msg: &(impl Text + ?Sized)) {
        if self.level != Level::Silent {
            let _ = Self::line(
                &self.err,
                "eco: ",
                &fit_text(msg.text(self.lang), self.width.map(|w| w.saturating_sub(5))),
                true,
            );
        }
    }

    /// Lines the background writers had to drop so far.
    pub fn dropped_lines(&self) -> u64 {
        self.lossy.iter().map(Lossy::dropped).sum()
    }

    /// Whether a background writer still holds much unwritten: a line
    /// written now might be dropped too.
    pub fn backlogged(&self) -> bool {
        self.lossy.iter().any(Lossy::backlogged)
    }

    /// Waits (at most `limit` each) until the background writers have
    /// written what they hold: called before the process exits.
    pub fn flush(&self, limit: Duration) {
        for lossy in &self.lossy {
            lossy.flush_within(limit);
        }
    }

    fn line(sink: &Sink, prefix: &str, text: &str, flush: bool) -> io::Result<()> {
        let mut sink = sink.lock().unwrap_or_else(PoisonError::into_inner);
        // One write per line, then a flush, so that lines of concurrent
        // connections never interleave and a pipe sees each line at once.
        // Errors (a closed stdout) are not the writer's concern: see the
        // module doc and `stdout_gone`.
        sink.write_all(format!("{prefix}{text}\n").as_bytes())?;
        if flush { sink.flush() } else { Ok(()) }
    }
}

/// The width of the terminal on stdout, if stdout is one (`ioctl
/// TIOCGWINSZ`); `COLUMNS` when that says nothing.
pub fn terminal_width() -> Option<usize> {
    let stdout = io::stdout();
    if !std::io::IsTerminal::is_terminal(&stdout) {
        return None;
    }
    match rustix::termios::tcgetwinsize(&stdout) {
        Ok(size) if size.ws_col > 0 => Some(usize::from(size.ws_col)),
        _ => std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).filter(|&c| c > 0),
    }
}

/// `text` with every line longer than `width` wrapped at spaces; the
/// continuation lines start two columns in from the line's own indent.
pub fn fit_text(text: String, width: Option<usize>) -> String {
    let Some(width) = width.filter(|&w| w >= 20) else { return text };
    if text.lines().all(|l| columns(l) <= width) {
        return text;
    }
    let mut out = Vec::new();
    for line in text.lines() {
        let lead = line.chars().take_while(|c| *c == ' ').count();
        let body = &line[lead..];
        // Under the text when there is room, else from the margin.
        let indent = if lead + 2 + 20 <= width { lead + 2 } else { 0 };
        let mut parts = wrap(body, width - lead).into_iter();
        if let Some(first) = parts.next() {
            out.push(format!("{}{first}", " ".repeat(lead)));
        }
        let rest: Vec<String> = parts.collect();
        for part in wrap(&rest.join(" "), width - indent) {
            if !part.is_empty() {
                out.push(format!("{}{part}", " ".repeat(indent)));
            }
        }
    }
    out.join("\n")
}

/// Splits `text` into lines of at most `width` columns, at spaces where
/// it can (a word longer than a line is cut). Columns as a terminal
/// counts them: two for CJK and emoji, none for combining marks.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    use unicode_width::UnicodeWidthStr;
    let width = width.max(2);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.width() + 1 + word.width() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
        while line.width() > width {
            let (cut, rest) = split_at_width(&line, width);
            lines.push(cut);
            line = rest;
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// `text` cut after at most `width` columns (at least one character).
fn split_at_width(text: &str, width: usize) -> (String, String) {
    use unicode_width::UnicodeWidthChar;
    let mut used = 0;
    for (at, c) in text.char_indices() {
        let w = c.width().unwrap_or(0);
        if used + w > width && at > 0 {
            return (text[..at].to_string(), text[at..].to_string());
        }
        used += w;
    }
    (text.to_string(), String::new())
}

/// How many columns `text` takes in a terminal.
pub fn columns(text: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(text)
}

/// A writer that never blocks: each `write` is queued (at most
/// [`Lossy::QUEUE`] at once) for a thread that writes them out in order;
/// when the queue is full the write is dropped and counted.
///
/// Written here rather than taken from tracing-appender, whose
/// `non_blocking` does the same but, when its queue is still full at exit,
/// prints a complaint with `println!` — which blocks the exit for good when
/// stdout is an unread pipe too — and has no way to flush on demand.
#[derive(Clone)]
pub struct Lossy {
    queue: SyncSender<Item>,
    dropped: Arc<AtomicU64>,
    /// Items in the queue now.
    queued: Arc<AtomicUsize>,
}

enum Item {
    Bytes(Vec<u8>),
    /// Everything before this is written: say so.
    Flushed(mpsc::Sender<()>),
}

impl Lossy {
    /// Writes queued at most: a few seconds of a busy server's lines.
    pub const QUEUE: usize = 16 * 1024;

    /// Starts the writer thread for `sink`.
    pub fn spawn(sink: impl Write + Send + 'static, name: &str) -> Lossy {
        let (queue, items) = mpsc::sync_channel(Self::QUEUE);
        let queued = Arc::new(AtomicUsize::new(0));
        let drained = Arc::clone(&queued);
        let spawned =
            std::thread::Builder::new().name(name.into()).spawn(move || Self::drain(sink, items, &drained));
        let lossy = Lossy { queue, dropped: Arc::new(AtomicU64::new(0)), queued };
        if spawned.is_err() {
            // No thread, no output: every line will count as dropped.
            lossy.dropped.fetch_add(1, Ordering::Relaxed);
        }
        lossy
    }

    fn drain(mut sink: impl Write, items: Receiver<Item>, queued: &AtomicUsize) {
        for item in items {
            queued.fetch_sub(1, Ordering::Relaxed);
            match item {
                // This write may wait as long as the reader does: that is
                // the point of doing it here, not in the server's threads.
                Item::Bytes(bytes) => {
                    let _ = sink.write_all(&bytes);
                    let _ = sink.flush();
                }
                Item::Flushed(done) => {
                    let _ = done.send(());
                }
            }
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Whether the queue is more than half full: its reader is slow.
    pub fn backlogged(&self) -> bool {
        self.queued.load(Ordering::Relaxed) > Self::QUEUE / 2
    }

    fn send(&self, item: Item) -> bool {
        // Counted before it is sent, so that the writer, which counts it
        // off once taken, never sees the count below zero.
        self.queued.fetch_add(1, Ordering::Relaxed);
        let sent = self.queue.try_send(item).is_ok();
        if !sent {
            self.queued.fetch_sub(1, Ordering::Relaxed);
        }
        sent
    }

    /// Waits, at most `limit` in all, until what was queued before is
    /// written. A full queue is no reason to give up at once: its reader
    /// may be taking lines again, so the marker is offered until it fits.
    fn flush_within(&self, limit: Duration) {
        let deadline = std::time::Instant::now() + limit;
        let (done, flushed) = mpsc::channel();
        let mut marker = Item::Flushed(done);
        loop {
            self.queued.fetch_add(1, Ordering::Relaxed);
            match self.queue.try_send(marker) {
                Ok(()) => break,
                Err(refused) => {
                    self.queued.fetch_sub(1, Ordering::Relaxed);
                    let mpsc::TrySendError::Full(back) = refused else { return };
                    if std::time::Instant::now() >= deadline {
                        return;
                    }
                    marker = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        let _ = flushed.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()));
    }
}

impl Write for Lossy {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.send(Item::Bytes(buf.to_vec())) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// For tests: a sink that blocks each write until told (one message on
/// `.0` a write), like a pipe nobody reads; what it writes goes to `.1`.
#[cfg(test)]
pub(crate) struct Stuck(pub Receiver<()>, pub Captured);

#[cfg(test)]
impl Write for Stuck {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _ = self.0.recv();
        self.1.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Raw;

    #[test]
    fn a_stuck_reader_never_blocks_the_writer_and_drops_are_counted() {
        let (unblock, wait) = mpsc::channel();
        let written = Captured::default();
        let lossy = Lossy::spawn(Stuck(wait, written.clone()), "test-lossy");
        let console = Console::background(Lang::En, Level::Normal, lossy.clone());
        let started = std::time::Instant::now();
        for _ in 0..Lossy::QUEUE + 100 {
            console.note(&Raw("refused"));
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        // QUEUE lines wait in the queue (and maybe one in the writer's
        // hands); the rest were dropped.
        let dropped = lossy.dropped() as usize;
        assert!((99..=100).contains(&dropped), "{dropped}");
        for _ in 0..Lossy::QUEUE + 1 {
            let _ = unblock.send(());
        }
        console.flush(Duration::from_secs(5));
        assert_eq!(written.text().lines().count() + dropped, Lossy::QUEUE + 100);
        assert_eq!(written.text().lines().next(), Some("eco: refused"));
    }
}
