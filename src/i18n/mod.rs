//! Every sentence a user reads, in English and Brazilian Portuguese.
//!
//! Code says *what* happened as a [`Msg`]; this module says it in words.
//! [`en`] and [`pt`] each hold one exhaustive `match` over `Msg` with no `_`
//! arm, so a message added without its translation does not compile.

mod en;
mod pt;

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// The language of everything eco prints for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Pt,
}

impl Lang {
    /// `--lang` wins; else `ECO_LANG`; else the first of `LC_ALL`,
    /// `LC_MESSAGES`, `LANG` that is set and not empty (the POSIX order)
    /// picks Portuguese when it starts with `pt`; else English.
    ///
    /// `env` is passed in so that tests need not touch the process environment.
    pub fn detect(flag: Option<Lang>, env: impl Fn(&str) -> Option<String>) -> Lang {
        if let Some(lang) = flag {
            return lang;
        }
        if let Some(value) = env("ECO_LANG").filter(|v| !v.is_empty()) {
            return Lang::from_locale(&value);
        }
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .find_map(|name| env(name).filter(|v| !v.is_empty()))
            .map_or(Lang::En, |value| Lang::from_locale(&value))
    }

    /// `pt`, `pt_BR.UTF-8`, `pt-PT` → Portuguese; anything else → English.
    fn from_locale(value: &str) -> Lang {
        if value.to_ascii_lowercase().starts_with("pt") { Lang::Pt } else { Lang::En }
    }

    /// The sentence for `msg` in this language.
    pub fn text(self, msg: &Msg<'_>) -> String {
        match self {
            Lang::En => en::text(msg),
            Lang::Pt => pt::text(msg),
        }
    }
}

/// Something eco tells its user. Variants carry the values the sentence needs.
#[derive(Debug)]
pub enum Msg<'a> {
    // -- server --------------------------------------------------------------
    /// The exercise's first line, printed once the socket listens.
    Waiting,
    /// On stderr: where the server listens (tells the port when `--port 0`).
    Listening {
        addr: SocketAddr,
        mode: &'a str,
    },
    /// A client's connection was accepted.
    Connected {
        peer: SocketAddr,
    },
    /// That client's connection has closed.
    Closed,
    /// An I/O error on one connection; the server goes on.
    ConnectionFailed {
        peer: SocketAddr,
        error: &'a std::io::Error,
    },
    /// `accept` failed (e.g. out of file descriptors); retrying after a pause.
    AcceptFailed {
        error: &'a std::io::Error,
        retry_in: Duration,
    },
    /// Ctrl-C / SIGTERM: no new connections, `open` still running.
    ShuttingDown {
        open: usize,
        grace: Duration,
    },
    /// After the grace: how many finished in time, how many were cut off.
    Stopped {
        finished: usize,
        cut: usize,
    },
    /// `--max-conns` reached: new clients wait in the backlog.
    MaxConnsReached {
        max: usize,
    },
    /// A connection turned away right after accept.
    Refused {
        peer: SocketAddr,
        refusal: crate::server::Refusal,
    },
    /// A connection that the server ended: `reason` is `idle_timeout`,
    /// `limit` or `shutdown`.
    ConnectionEnded {
        peer: SocketAddr,
        reason: &'a str,
    },
    /// UDP datagrams left unanswered by the reflection guard in the last second.
    UdpDropped {
        count: u64,
        details: &'a str,
    },

    // -- client --------------------------------------------------------------
    /// The exercise's client line.
    Echoed {
        message: &'a str,
    },
    /// One round trip of `--count`, like ping's line.
    RoundTripTime {
        bytes: usize,
        peer: SocketAddr,
        seq: u64,
        time: Duration,
    },
    /// `--count --udp`: no answer to one datagram within the timeout.
    RoundTripLost {
        peer: SocketAddr,
        seq: u64,
        timeout: Duration,
    },
    /// The summary after `--count`.
    RoundTripSummary {
        peer: SocketAddr,
        sent: u64,
        received: u64,
        min: Duration,
        avg: Duration,
        max: Duration,
    },

    // -- demo ----------------------------------------------------------------
    DemoServerTitle {
        addr: SocketAddr,
    },
    DemoClientTitle {
        addr: SocketAddr,
    },
    DemoWhatHappened,
    DemoNetworkLevel,
    DemoApplicationLevel {
        bytes: usize,
    },
    DemoBytesVsChars {
        chars: usize,
        bytes: usize,
    },
    DemoCloseLevel,

    // -- trace -----------------------------------------------------------------
    TraceTitle {
        addr: SocketAddr,
        mode: &'a str,
    },
    /// The table's column titles, separated by `|`.
    TraceColumns,
    TraceEvent {
        event: crate::trace::exchange::AppEvent,
    },
    TracePhasesTitle,
    TracePhase {
        phase: &'a crate::trace::flow::Phase,
    },
    TraceTcpInfoTitle,
    TraceTcpInfo {
        info: &'a crate::trace::tcp_info::TcpInfo,
    },
    TracePcapWritten {
        path: &'a str,
        frames: usize,
    },
    TraceConnectionTitle {
        a: SocketAddr,
        b: SocketAddr,
    },
    TraceAttached {
        port: u16,
    },
    /// In the demo, when packets could not be captured.
    DemoNoCapture,

    // -- bench -----------------------------------------------------------------
    BenchTitle {
        report: &'a crate::bench::stats::Report,
    },
    BenchThroughput {
        report: &'a crate::bench::stats::Report,
    },
    BenchLatency {
        report: &'a crate::bench::stats::Report,
    },
    BenchConnect {
        report: &'a crate::bench::stats::Report,
    },
    BenchFairness {
        report: &'a crate::bench::stats::Report,
    },
    BenchServerCpu {
        seconds: f64,
        per_message_us: f64,
    },
    BenchServerCpuBulk {
        seconds: f64,
        per_gib_s: f64,
    },
    BenchErrors {
        report: &'a crate::bench::stats::Report,
    },
    BenchCompareHeader,
    /// `relative`: how many times the fastest mode's rate this one's is below.
    BenchCompareRow {
        report: &'a crate::bench::stats::Report,
        relative: f64,
    },

    // -- errors ----------------------------------------------------------------
    Error(&'a crate::Error),
    /// Text that is already in the user's language (a captured transcript line).
    Raw(&'a str),
}

/// `[1, 2, 3]`: frame numbers as the exercise's notes list them.
pub(crate) struct FrameList<'a>(pub &'a [usize]);

impl fmt::Display for FrameList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let numbers: Vec<String> = self.0.iter().map(usize::to_string).collect();
        write!(f, "[{}]", numbers.join(", "))
    }
}

/// The share of `sent` that never came back, in whole percent.
pub(crate) fn lost_percent(sent: u64, received: u64) -> u64 {
    (sent.saturating_sub(received) * 100).checked_div(sent).unwrap_or(0)
}

/// Microseconds as a bench prints them: three significant decimals below
/// 10 µs, one below 10 ms, none above.
pub(crate) struct Us(pub f64);

impl fmt::Display for Us {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            v if v < 10.0 => write!(f, "{v:.2}"),
            v if v < 10_000.0 => write!(f, "{v:.1}"),
            v => write!(f, "{v:.0}"),
        }
    }
}

/// A [`Duration`] as milliseconds with three decimals, as ping prints it.
pub(crate) struct Millis(pub Duration);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}", self.0.as_secs_f64() * 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn flag_beats_environment() {
        let env = env_of(&[("ECO_LANG", "pt"), ("LANG", "pt_BR.UTF-8")]);
        assert_eq!(Lang::detect(Some(Lang::En), env), Lang::En);
    }

    #[test]
    fn eco_lang_beats_locale() {
        let env = env_of(&[("ECO_LANG", "en"), ("LANG", "pt_BR.UTF-8")]);
        assert_eq!(Lang::detect(None, env), Lang::En);
    }

    #[test]
    fn locale_order_is_lc_all_then_lc_messages_then_lang() {
        let env = env_of(&[("LC_ALL", "C.UTF-8"), ("LANG", "pt_BR.UTF-8")]);
        assert_eq!(Lang::detect(None, env), Lang::En);
        let env = env_of(&[("LC_ALL", ""), ("LC_MESSAGES", "pt_BR"), ("LANG", "en_US")]);
        assert_eq!(Lang::detect(None, env), Lang::Pt);
        let env = env_of(&[("LANG", "pt_PT.UTF-8")]);
        assert_eq!(Lang::detect(None, env), Lang::Pt);
    }

    #[test]
    fn nothing_set_means_english() {
        assert_eq!(Lang::detect(None, env_of(&[])), Lang::En);
    }

    #[test]
    fn exercise_lines_in_both_languages() {
        assert_eq!(Lang::Pt.text(&Msg::Waiting), "Aguardando conexão de um cliente ...");
        assert_eq!(Lang::Pt.text(&Msg::Closed), "Conexão fechada :)");
        assert_eq!(Lang::En.text(&Msg::Waiting), "Waiting for a client connection ...");
        assert_eq!(Lang::En.text(&Msg::Closed), "Connection closed :)");
        let peer: SocketAddr = "127.0.0.1:49595".parse().unwrap();
        assert_eq!(Lang::Pt.text(&Msg::Connected { peer }), "Conectado em 127.0.0.1:49595");
        assert_eq!(Lang::En.text(&Msg::Connected { peer }), "Connected to 127.0.0.1:49595");
    }
}
