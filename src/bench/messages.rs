//! The words of `eco bench`'s text report, in English and pt-BR. The
//! layout (label column, widths, number formats) is `report.rs`'s.
//!
//! One exhaustive `match` per language: a message added without its
//! translation does not compile.

use super::Kind;
use super::report::Us;
use super::stats::Report;
use crate::i18n::{Sentences, plural};

/// A line, or part of a line, of the bench report.
pub enum Msg<'a> {
    /// What was measured, against what.
    Title {
        report: &'a Report,
    },
    /// Ctrl-C ended the run early.
    Interrupted {
        seconds: f64,
    },
    /// Ctrl-C ended the run during the warm-up: nothing was measured.
    InterruptedInWarmup,
    /// The label of a report line.
    Label(Label),
    /// Messages (or rounds, transfers, connections) per second.
    Throughput {
        report: &'a Report,
    },
    /// `--tls`: the handshakes' count and percentiles.
    TlsHandshake {
        report: &'a Report,
    },
    /// The percentiles of a latency line.
    Latency {
        report: &'a Report,
    },
    /// Below a `--rate` latency line.
    RateFootnote,
    /// The handshake percentiles.
    Connect {
        report: &'a Report,
    },
    Fairness {
        report: &'a Report,
    },
    /// Some connections completed nothing in the window.
    Starved {
        starved: u64,
        connections: usize,
    },
    /// The load generator's CPU, and how it ran its connections.
    BenchCpu {
        seconds: f64,
        per_message_us: f64,
        engine: super::Engine,
    },
    ServerCpu {
        seconds: f64,
        per_message_us: f64,
    },
    ServerCpuBulk {
        seconds: f64,
        per_gib_s: f64,
    },
    Errors {
        report: &'a Report,
    },
    /// UDP datagrams were lost: the likely cause.
    UdpLossHint {
        lost: u64,
    },
    /// A column title of the `--compare` table.
    Column(Column),
    /// The last cell of a `--compare` row: `relative` times the best rate.
    Relative {
        relative: f64,
    },
}

/// The labels at the left of the report.
#[derive(Clone, Copy)]
pub enum Label {
    Messages,
    Rounds,
    Connections,
    Throughput,
    Latency,
    /// `--rate`: latency from the due time (footnoted).
    LatencyFromDue,
    Transfer,
    Round,
    Exchange,
    Connect,
    TlsHandshake,
    Fairness,
    ServerCpu,
    /// eco bench's own CPU time.
    BenchCpu,
    Errors,
    Warning,
}

#[derive(Clone, Copy)]
pub enum Column {
    Mode,
    MsgsPerS,
    P50,
    P99,
    P999,
    CpuPerMsg,
    Relative,
}

impl Sentences for Msg<'_> {
    fn en(&self) -> String {
        match self {
            Msg::Title { report: r } => {
                let size = match r.kind {
                    Kind::Stream => format!("{} B rounds in {} B writes", r.size, r.write_size.unwrap_or(0)),
                    Kind::Bulk => format!("{} B each", r.size),
                    Kind::PingPong | Kind::Rate | Kind::ConnectRate | Kind::Udp => format!("{} B", r.size),
                };
                format!(
                    "eco bench: {}{}, {}, {} {}, {size}, {:.1} s measured after {:.1} s of warm-up",
                    r.target,
                    r.server_mode.as_ref().map(|m| format!(" (eco server --mode {m})")).unwrap_or_default(),
                    r.kind.name(),
                    r.connections,
                    plural(r.connections as u64, "connection", "connections"),
                    r.duration_s,
                    r.warmup_s
                )
            }
            Msg::Interrupted { seconds } => {
                format!("  (interrupted: the figures cover the {seconds:.1} s it ran)")
            }
            Msg::InterruptedInWarmup => {
                "  (interrupted during the warm-up: nothing was measured; --warmup 0 measures from the start)"
                    .into()
            }
            Msg::Label(label) => match label {
                Label::Messages => "Messages:",
                Label::Rounds => "Rounds:",
                Label::Connections => "Connections:",
                Label::Throughput => "Throughput:",
                Label::Latency => "Latency:",
                Label::LatencyFromDue => "Latency*:",
                Label::Transfer => "Transfer:",
                Label::Round => "Round:",
                Label::Exchange => "Exchange:",
                Label::Connect => "Connect:",
                Label::TlsHandshake => "TLS:",
                Label::Fairness => "Fairness:",
                Label::ServerCpu => "Server CPU:",
                Label::BenchCpu => "Bench CPU:",
                Label::Errors => "Errors:",
                Label::Warning => "Warning:",
            }
            .into(),
            Msg::Throughput { report: r } => match r.kind {
                Kind::ConnectRate => format!("{:.0}/s", r.rate),
                Kind::Bulk => format!("{:.3} GiB/s each way", r.mib_per_s / 1024.0),
                Kind::Stream => format!("{:.1}/s ({:.2} MiB/s each way)", r.rate, r.mib_per_s),
                Kind::PingPong | Kind::Rate | Kind::Udp => {
                    format!("{:.0}/s ({:.2} MiB/s each way)", r.rate, r.mib_per_s)
                }
            },
            Msg::Latency { report: r } => {
                let l = &r.latency_us;
                format!(
                    "p50 {} µs, p90 {} µs, p99 {} µs, p99.9 {} µs, max {} µs (mean {} ± {} µs, n={})",
                    Us(l.p50),
                    Us(l.p90),
                    Us(l.p99),
                    Us(l.p99_9),
                    Us(l.max),
                    Us(l.mean),
                    Us(l.stdev),
                    l.count
                )
            }
            Msg::RateFootnote => {
                "  * from each message's due time (corrected for coordinated omission)".into()
            }
            Msg::Connect { report: r } => format!(
                "p50 {} µs, p99 {} µs, max {} µs",
                Us(r.connect_us.p50),
                Us(r.connect_us.p99),
                Us(r.connect_us.max)
            ),
            Msg::TlsHandshake { report: r } => format!(
                "{} {}, p50 {} µs, p99 {} µs, max {} µs",
                r.tls_handshake_us.count,
                plural(r.tls_handshake_us.count, "handshake", "handshakes"),
                Us(r.tls_handshake_us.p50),
                Us(r.tls_handshake_us.p99),
                Us(r.tls_handshake_us.max)
            ),
            Msg::Fairness { report: r } => format!(
                "messages per connection min {} / median {} / max {}",
                r.fairness.min, r.fairness.median, r.fairness.max
            ),
            Msg::Starved { starved, connections } => format!(
                "{starved} of {connections} connections completed nothing in the measured window: \
                 the server served them late or not at all (a single-threaded server serves one \
                 connection at a time)"
            ),
            Msg::ServerCpu { seconds, per_message_us } => {
                format!("{seconds:.3} s ({per_message_us:.2} µs per message)")
            }
            Msg::BenchCpu { seconds, per_message_us, engine } => {
                format!("{seconds:.3} s ({per_message_us:.2} µs per message; engine {})", engine.name())
            }
            Msg::ServerCpuBulk { seconds, per_gib_s } => format!("{seconds:.3} s ({per_gib_s:.3} s per GiB)"),
            Msg::Errors { report: r } => {
                let e = &r.errors;
                let mut text = if e.total() == 0 {
                    "none, every echo checked".to_string()
                } else {
                    format!(
                        "{} (truncated {}, corrupted {}, reordered {}, timeout {}, connect {}, I/O {})",
                        e.total(),
                        e.truncated,
                        e.corrupted,
                        e.reordered,
                        e.timeout,
                        e.connect,
                        e.io
                    )
                };
                if e.lost > 0 {
                    text.push_str(&format!("; {} {} lost", e.lost, plural(e.lost, "datagram", "datagrams")));
                }
                if r.short_reads > 0 {
                    text.push_str(&format!(
                        "; {} {} in several reads (fine for TCP)",
                        r.short_reads,
                        plural(r.short_reads, "echo arrived", "echoes arrived")
                    ));
                }
                text
            }
            Msg::UdpLossHint { lost } => format!(
                "{lost} {} lost. If the server is `eco server --udp`, its reflection guard \
                 answers 100 datagrams/s per source address and 20000/s in all by default: for a \
                 bench, start it with --udp-rate-per-ip 1000000 --udp-rate 10000000",
                plural(*lost, "datagram", "datagrams")
            ),
            Msg::Column(column) => match column {
                Column::Mode => "mode",
                Column::MsgsPerS => "msgs/s",
                Column::P50 => "p50 µs",
                Column::P99 => "p99 µs",
                Column::P999 => "p99.9 µs",
                Column::CpuPerMsg => "CPU µs/msg",
                Column::Relative => "relative",
            }
            .into(),
            Msg::Relative { relative } if *relative <= 1.0 => "fastest".into(),
            Msg::Relative { relative } => format!("{relative:.2}× slower"),
        }
    }

    fn pt(&self) -> String {
        match self {
            Msg::Title { report: r } => {
                let size = match r.kind {
                    Kind::Stream => {
                        format!("rodadas de {} B em escritas de {} B", r.size, r.write_size.unwrap_or(0))
                    }
                    Kind::Bulk => format!("{} B cada", r.size),
                    Kind::PingPong | Kind::Rate | Kind::ConnectRate | Kind::Udp => format!("{} B", r.size),
                };
                format!(
                    "eco bench: {}{}, {}, {} {}, {size}, {:.1} s medidos após {:.1} s de aquecimento",
                    r.target,
                    r.server_mode.as_ref().map(|m| format!(" (eco server --mode {m})")).unwrap_or_default(),
                    r.kind.name(),
                    r.connections,
                    plural(r.connections as u64, "conexão", "conexões"),
                    r.duration_s,
                    r.warmup_s
                )
            }
            Msg::Interrupted { seconds } => {
                format!("  (interrompido: os números cobrem os {seconds:.1} s que rodou)")
            }
            Msg::InterruptedInWarmup => {
                "  (interrompido durante o aquecimento: nada foi medido; --warmup 0 mede desde o início)"
                    .into()
            }
            Msg::Label(label) => match label {
                Label::Messages => "Mensagens:",
                Label::Rounds => "Rodadas:",
                Label::Connections => "Conexões:",
                Label::Throughput => "Vazão:",
                Label::Latency => "Latência:",
                Label::LatencyFromDue => "Latência*:",
                Label::Transfer => "Transferência:",
                Label::Round => "Rodada:",
                Label::Exchange => "Troca:",
                Label::Connect => "Conexão:",
                Label::TlsHandshake => "TLS:",
                Label::Fairness => "Equidade:",
                Label::ServerCpu => "CPU do servidor:",
                Label::BenchCpu => "CPU do gerador:",
                Label::Errors => "Erros:",
                Label::Warning => "Aviso:",
            }
            .into(),
            Msg::Throughput { report: r } => match r.kind {
                Kind::ConnectRate => format!("{:.0}/s", r.rate),
                Kind::Bulk => format!("{:.3} GiB/s em cada sentido", r.mib_per_s / 1024.0),
                Kind::Stream => format!("{:.1}/s ({:.2} MiB/s em cada sentido)", r.rate, r.mib_per_s),
                Kind::PingPong | Kind::Rate | Kind::Udp => {
                    format!("{:.0}/s ({:.2} MiB/s em cada sentido)", r.rate, r.mib_per_s)
                }
            },
            Msg::Latency { report: r } => {
                let l = &r.latency_us;
                format!(
                    "p50 {} µs, p90 {} µs, p99 {} µs, p99.9 {} µs, máx {} µs (média {} ± {} µs, n={})",
                    Us(l.p50),
                    Us(l.p90),
                    Us(l.p99),
                    Us(l.p99_9),
                    Us(l.max),
                    Us(l.mean),
                    Us(l.stdev),
                    l.count
                )
            }
            Msg::RateFootnote => {
                "  * a partir do horário previsto de cada mensagem (corrigido para omissão coordenada)".into()
            }
            Msg::Connect { report: r } => format!(
                "p50 {} µs, p99 {} µs, máx {} µs",
                Us(r.connect_us.p50),
                Us(r.connect_us.p99),
                Us(r.connect_us.max)
            ),
            Msg::TlsHandshake { report: r } => format!(
                "{} {}, p50 {} µs, p99 {} µs, máx {} µs",
                r.tls_handshake_us.count,
                plural(r.tls_handshake_us.count, "handshake", "handshakes"),
                Us(r.tls_handshake_us.p50),
                Us(r.tls_handshake_us.p99),
                Us(r.tls_handshake_us.max)
            ),
            Msg::Fairness { report: r } => format!(
                "mensagens por conexão mín {} / mediana {} / máx {}",
                r.fairness.min, r.fairness.median, r.fairness.max
            ),
            Msg::Starved { starved, connections } => format!(
                "{starved} de {connections} conexões não completaram nada na janela medida: o \
                 servidor as atendeu tarde ou nunca (um servidor de uma thread atende uma conexão \
                 por vez)"
            ),
            Msg::ServerCpu { seconds, per_message_us } => {
                format!("{seconds:.3} s ({per_message_us:.2} µs por mensagem)")
            }
            Msg::BenchCpu { seconds, per_message_us, engine } => {
                format!("{seconds:.3} s ({per_message_us:.2} µs por mensagem; motor {})", engine.name())
            }
            Msg::ServerCpuBulk { seconds, per_gib_s } => format!("{seconds:.3} s ({per_gib_s:.3} s por GiB)"),
            Msg::Errors { report: r } => {
                let e = &r.errors;
                let mut text = if e.total() == 0 {
                    "nenhum, cada eco conferido".to_string()
                } else {
                    format!(
                        "{} (truncados {}, corrompidos {}, fora de ordem {}, tempo esgotado {}, conexão {}, E/S {})",
                        e.total(),
                        e.truncated,
                        e.corrupted,
                        e.reordered,
                        e.timeout,
                        e.connect,
                        e.io
                    )
                };
                if e.lost > 0 {
                    text.push_str(&format!(
                        "; {} {}",
                        e.lost,
                        plural(e.lost, "datagrama perdido", "datagramas perdidos")
                    ));
                }
                if r.short_reads > 0 {
                    text.push_str(&format!(
                        "; {} {} em várias leituras (normal no TCP)",
                        r.short_reads,
                        plural(r.short_reads, "eco chegou", "ecos chegaram")
                    ));
                }
                text
            }
            Msg::UdpLossHint { lost } => format!(
                "{lost} {}. Se o servidor é `eco server --udp`, a sua proteção contra reflexão \
                 responde 100 datagramas/s por endereço de origem e 20000/s no total por padrão: \
                 para um bench, inicie-o com --udp-rate-per-ip 1000000 --udp-rate 10000000",
                plural(*lost, "datagrama perdido", "datagramas perdidos")
            ),
            Msg::Column(column) => match column {
                Column::Mode => "modo",
                Column::MsgsPerS => "msgs/s",
                Column::P50 => "p50 µs",
                Column::P99 => "p99 µs",
                Column::P999 => "p99.9 µs",
                Column::CpuPerMsg => "CPU µs/msg",
                Column::Relative => "relativo",
            }
            .into(),
            Msg::Relative { relative } if *relative <= 1.0 => "o mais rápido".into(),
            Msg::Relative { relative } => format!("{relative:.2}× mais lento"),
        }
    }
}
