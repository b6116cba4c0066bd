//! Where eco's sentences go: the transcript on stdout, notes on stderr.
//!
//! The server and client write through a [`Console`] instead of `println!`
//! so that `eco demo` can run both in one process and show each side's
//! transcript under its own title, and so that a closed stdout never kills a
//! server (write errors are ignored, not panics as with `println!`).

use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

use crate::i18n::{Lang, Msg};

type Sink = Mutex<Box<dyn Write + Send>>;

pub struct Console {
    lang: Lang,
    level: Level,
    /// The transcript: the lines of the exercise.
    out: Sink,
    /// Diagnostics, each line prefixed with `eco: `.
    err: Sink,
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
    /// Writes to the process's stdout and stderr.
    pub fn stdio(lang: Lang, level: Level) -> Console {
        Console {
            lang,
            level,
            out: Mutex::new(Box::new(io::stdout())),
            err: Mutex::new(Box::new(io::stderr())),
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
        };
        (console, out, err)
    }

    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// A transcript line on stdout.
    pub fn say(&self, msg: Msg<'_>) {
        if self.level == Level::Normal {
            Self::line(&self.out, "", &self.lang.text(&msg));
        }
    }

    /// A diagnostic line on stderr.
    pub fn note(&self, msg: Msg<'_>) {
        if self.level == Level::Normal {
            Self::line(&self.err, "eco: ", &self.lang.text(&msg));
        }
    }

    /// A diagnostic that `-q` still shows: something went wrong.
    pub fn warn(&self, msg: Msg<'_>) {
        if self.level != Level::Silent {
            Self::line(&self.err, "eco: ", &self.lang.text(&msg));
        }
    }

    fn line(sink: &Sink, prefix: &str, text: &str) {
        let mut sink = sink.lock().unwrap_or_else(PoisonError::into_inner);
        // One write per line, then a flush, so that lines of concurrent
        // connections never interleave and a pipe sees each line at once.
        // Errors (a closed stdout) are ignored on purpose: see the module doc.
        let _ = sink.write_all(format!("{prefix}{text}\n").as_bytes());
        let _ = sink.flush();
    }
}
