//! The structured log (tracing): one event per connection's end, per
//! refusal, per stop — on stderr, as text (`-v`) or JSON (`--log-format json`).
//!
//! The exercise's transcript is not a log: it is written by [`crate::console`]
//! and stays exactly as the exercise prints it in the default text format.

use tracing::level_filters::LevelFilter;

use crate::cli::LogFormat;
use crate::console::Lossy;

/// Installs the global subscriber. `verbosity`: -1 for `-q`, else the
/// number of `-v`. `background`: the server's stderr writer, which never
/// blocks (see [`crate::console`]); `None` writes to stderr directly.
pub fn init(format: LogFormat, verbosity: i8, background: Option<Lossy>) {
    let level = match (format, verbosity) {
        // In text, the transcript and the notes already tell the story;
        // the log adds the numbers only when asked.
        (LogFormat::Text, ..=0) => LevelFilter::OFF,
        (LogFormat::Text, 1) => LevelFilter::INFO,
        (LogFormat::Text, _) => LevelFilter::DEBUG,
        (LogFormat::Json, ..=-1) => LevelFilter::WARN,
        (LogFormat::Json, 0) => LevelFilter::INFO,
        (LogFormat::Json, _) => LevelFilter::DEBUG,
    };
    let writer = match background {
        Some(lossy) => tracing_subscriber::fmt::writer::BoxMakeWriter::new(move || lossy.clone()),
        None => tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stderr),
    };
    let builder = tracing_subscriber::fmt().with_writer(writer).with_max_level(level).with_ansi(false);
    // `try_init`: a second call (tests, or a library user with its own
    // subscriber) keeps the first.
    let _ = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
    };
}
