//! What `eco server` tells its user, in English and pt-BR: the exercise's
//! transcript (`Waiting ...`, `Connected to ...`, `Connection closed :)`) on
//! stdout, and notes (listening, refusals, stops) on stderr.
//!
//! One exhaustive `match` per language: a message added without its
//! translation does not compile. Machine names of reasons (`idle_timeout`,
//! `per_ip_limit`) are for the structured log; people read words.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use super::Mode;
use super::conn::{EndKind, EndReason, Refusal};
use super::misbehave::Act;
use super::udp::Unanswered;
use crate::i18n::{Lang, Sentences, Text, plural};

/// Something the server tells its user.
#[derive(Debug)]
pub enum Msg<'a> {
    /// The exercise's first line, printed once the socket listens.
    Waiting,
    /// On stderr: where the server listens (tells the port when `--port 0`).
    /// `mode`: `None` for the UDP echo.
    Listening { addr: SocketAddr, mode: Option<Mode> },
    /// A client's connection was accepted (`via`: the balancer that
    /// forwarded it, from a PROXY protocol header).
    Connected { peer: SocketAddr, via: Option<SocketAddr> },
    /// At start: misbehaving on purpose, as these options ask.
    Misbehaving { options: &'a [String] },
    /// After a client's TLS handshake: what it settled.
    TlsNegotiated { negotiated: &'a crate::tls::Negotiated },
    /// At start: where `--metrics` answers.
    MetricsAt { addr: SocketAddr },
    /// At start: `--mode uring` serves as `async`, and why.
    UringFallback { why: &'a super::UringFallback },
    /// At start: the self-signed certificate made for `--tls`.
    SelfSigned { fingerprint: &'a str },
    /// That client's connection has closed.
    Closed,
    /// A connection that ended for a reason other than the client's close.
    ConnectionEnded { peer: SocketAddr, reason: &'a EndReason },
    /// `accept` failed (e.g. out of file descriptors): told once, then
    /// summarised while it lasts.
    AcceptFailed { error: &'a io::Error },
    /// `accept` kept failing during the last second.
    AcceptStillFailing { attempts: u64 },
    /// `accept` works again.
    AcceptRecovered { attempts: u64, after: Duration },
    /// Ctrl-C / SIGTERM / SIGHUP: no new connections, `open` still running.
    ShuttingDown { open: usize, grace: Duration },
    /// After the grace: how many finished in time, how many were cut off.
    Stopped { finished: usize, cut: usize },
    /// `--max-conns` reached: new clients wait in the backlog.
    MaxConnsReached { max: usize },
    /// A connection turned away right after accept (`detail`: what was
    /// wrong with its PROXY header).
    Refused { peer: SocketAddr, refusal: Refusal, detail: Option<&'a crate::proxy::ProxyProblem> },
    /// More refusals in the last second, by reason, after the one told in full.
    RefusedMore { counts: &'a [(Refusal, u64)] },
    /// Connections that ended other than by the client's FIN in the last
    /// second, after the one told in full: counts by reason (log names).
    EndedMore { counts: &'a [(EndKind, u64)] },
    /// UDP datagrams left unanswered by the reflection guard in the last second.
    UdpUnanswered { counts: &'a [(Unanswered, u64)] },
    /// Output lines dropped because nobody read stdout / stderr in time.
    LinesDropped { count: u64 },
}

impl Sentences for Msg<'_> {
    fn en(&self) -> String {
        let en = Lang::En;
        match self {
            Msg::Waiting => "Waiting for a client connection ...".into(),
            Msg::Listening { addr, mode } => format!("listening on {addr} (mode {})", mode_name(*mode)),
            Msg::Connected { peer, via: None } => format!("Connected to {peer}"),
            Msg::Connected { peer, via: Some(via) } => format!("Connected to {peer} (via {via})"),
            Msg::TlsNegotiated { negotiated } => format!("TLS: {}", negotiated.text(en)),
            Msg::MetricsAt { addr } => format!("metrics on http://{addr}/metrics (health: /healthz)"),
            Msg::UringFallback { why } => why.text(en),
            Msg::Misbehaving { options } => {
                format!("misbehaving on purpose, for testing clients: {}", options.join(", "))
            }
            Msg::SelfSigned { fingerprint } => format!(
                "TLS with a self-signed certificate for localhost made at start; SHA-256 fingerprint {fingerprint}"
            ),
            Msg::Closed => "Connection closed :)".into(),
            Msg::ConnectionEnded { peer, reason } => match reason {
                EndReason::Fin => format!("closed {peer}: the client closed its side"),
                EndReason::Reset(error) | EndReason::Error(error) => {
                    format!("closed {peer}: {}", error.text(en))
                }
                EndReason::IdleTimeout => format!("closed {peer}: idle for longer than --idle-timeout"),
                EndReason::Keepalive => {
                    format!("closed {peer}: the client stopped answering keepalive probes (vanished)")
                }
                EndReason::Limit => format!("closed {peer}: --max-bytes reached"),
                EndReason::Planned(act @ Act::Reset) => format!("reset {peer} on purpose ({})", act.flag()),
                EndReason::Planned(act) => format!("closed {peer} on purpose ({})", act.flag()),
                EndReason::Tls(problem) => {
                    format!("closed {peer}: the TLS handshake failed: {}", problem.text(en))
                }
                EndReason::Shutdown => {
                    format!("reset {peer}: still open when the shutdown grace was over")
                }
            },
            Msg::AcceptFailed { error } => format!(
                "accepting a connection failed: {}; new clients wait in the backlog and are \
                 accepted as soon as connections close",
                error.text(en)
            ),
            Msg::AcceptStillFailing { attempts } => format!(
                "accepting connections still fails ({attempts} {} in the last second)",
                plural(*attempts, "attempt", "attempts")
            ),
            Msg::AcceptRecovered { attempts, after } => format!(
                "accepting connections works again, after {attempts} failed {} over {:.1} s",
                plural(*attempts, "attempt", "attempts"),
                after.as_secs_f64()
            ),
            Msg::ShuttingDown { open, grace } => format!(
                "stopping: no new connections; {open} open {} {} {} s to finish",
                plural(*open as u64, "connection", "connections"),
                plural(*open as u64, "gets", "get"),
                grace.as_secs_f64()
            ),
            Msg::Stopped { finished, cut } => format!(
                "stopped: {finished} {} finished within the grace, {cut} reset at its end",
                plural(*finished as u64, "connection", "connections")
            ),
            Msg::MaxConnsReached { max } => format!(
                "--max-conns reached ({max} open): new clients wait in the kernel's backlog until one closes"
            ),
            Msg::Refused { peer, refusal, detail } => match refusal {
                Refusal::NotAllowed => format!("refused {peer}: not allowed by --allow / --deny"),
                Refusal::PerIpLimit => {
                    format!("refused {peer}: --max-conns-per-ip reached for {}", peer.ip())
                }
                Refusal::ProxyHeader => {
                    let why = detail.map(|d| d.text(en)).unwrap_or_default();
                    format!("refused {peer}: no valid PROXY protocol header ({why})")
                }
                Refusal::NoThread => format!(
                    "refused {peer}: no thread could be started for it (out of threads: see ulimit -u, \
                     or use --mode async)"
                ),
            },
            Msg::RefusedMore { counts } => {
                let total: u64 = counts.iter().map(|(_, n)| n).sum();
                let parts: Vec<String> = counts
                    .iter()
                    .map(|(refusal, n)| match refusal {
                        Refusal::NotAllowed => format!("{n} not allowed by --allow / --deny"),
                        Refusal::PerIpLimit => format!("{n} over --max-conns-per-ip"),
                        Refusal::NoThread => format!("{n} without a thread (out of threads)"),
                        Refusal::ProxyHeader => format!("{n} without a valid PROXY header"),
                    })
                    .collect();
                format!(
                    "refused {total} more {} in the last second: {}",
                    plural(total, "connection", "connections"),
                    parts.join(", ")
                )
            }
            Msg::UdpUnanswered { counts } => {
                let total: u64 = counts.iter().map(|(_, n)| n).sum();
                let parts: Vec<String> =
                    counts.iter().map(|(why, n)| format!("{n} {}", unanswered_en(*why))).collect();
                format!(
                    "UDP: {total} {} not answered in the last second by the reflection guard: {}",
                    plural(total, "datagram", "datagrams"),
                    parts.join(", ")
                )
            }
            Msg::EndedMore { counts } => {
                let total: u64 = counts.iter().map(|(_, n)| n).sum();
                let parts: Vec<String> =
                    counts.iter().map(|(kind, n)| format!("{n} {}", ended_en(*kind))).collect();
                format!(
                    "{total} more {} ended early in the last second: {}",
                    plural(total, "connection", "connections"),
                    parts.join(", ")
                )
            }
            Msg::LinesDropped { count } => format!(
                "{count} {} of output dropped: nobody read stdout or stderr in time (the server \
                 never waits for its logs)",
                plural(*count, "line", "lines")
            ),
        }
    }

    fn pt(&self) -> String {
        let pt = Lang::Pt;
        match self {
            Msg::Waiting => "Aguardando conexão de um cliente ...".into(),
            Msg::Listening { addr, mode } => format!("escutando em {addr} (modo {})", mode_name(*mode)),
            Msg::Connected { peer, via: None } => format!("Conectado em {peer}"),
            Msg::Connected { peer, via: Some(via) } => format!("Conectado em {peer} (via {via})"),
            Msg::TlsNegotiated { negotiated } => format!("TLS: {}", negotiated.text(pt)),
            Msg::MetricsAt { addr } => format!("métricas em http://{addr}/metrics (saúde: /healthz)"),
            Msg::UringFallback { why } => why.text(pt),
            Msg::Misbehaving { options } => {
                format!("comportando-se mal de propósito, para testar clientes: {}", options.join(", "))
            }
            Msg::SelfSigned { fingerprint } => format!(
                "TLS com um certificado autoassinado para localhost feito na partida; impressão digital SHA-256 {fingerprint}"
            ),
            Msg::Closed => "Conexão fechada :)".into(),
            Msg::ConnectionEnded { peer, reason } => match reason {
                EndReason::Fin => format!("{peer} fechado: o cliente fechou o seu lado"),
                EndReason::Reset(error) | EndReason::Error(error) => {
                    format!("{peer} fechado: {}", error.text(pt))
                }
                EndReason::IdleTimeout => format!("{peer} fechado: ocioso por mais que --idle-timeout"),
                EndReason::Keepalive => {
                    format!("{peer} fechado: o cliente deixou de responder às sondas de keepalive (sumiu)")
                }
                EndReason::Limit => format!("{peer} fechado: --max-bytes atingido"),
                EndReason::Planned(act @ Act::Reset) => {
                    format!("{peer} encerrado com RST de propósito ({})", act.flag())
                }
                EndReason::Planned(act) => format!("{peer} fechado de propósito ({})", act.flag()),
                EndReason::Tls(problem) => {
                    format!("{peer} fechado: o handshake TLS falhou: {}", problem.text(pt))
                }
                EndReason::Shutdown => {
                    format!("{peer} encerrado com RST: ainda aberto ao fim do prazo de encerramento")
                }
            },
            Msg::AcceptFailed { error } => format!(
                "aceitar uma conexão falhou: {}; novos clientes esperam no backlog e são aceitos \
                 assim que conexões fecharem",
                error.text(pt)
            ),
            Msg::AcceptStillFailing { attempts } => format!(
                "aceitar conexões ainda falha ({attempts} {} no último segundo)",
                plural(*attempts, "tentativa", "tentativas")
            ),
            Msg::AcceptRecovered { attempts, after } => format!(
                "aceitar conexões voltou a funcionar, depois de {attempts} {} em {:.1} s",
                plural(*attempts, "tentativa falha", "tentativas falhas"),
                after.as_secs_f64()
            ),
            Msg::ShuttingDown { open, grace } => format!(
                "encerrando: nenhuma conexão nova; {open} {} {} {} s para terminar",
                plural(*open as u64, "conexão aberta", "conexões abertas"),
                plural(*open as u64, "tem", "têm"),
                grace.as_secs_f64()
            ),
            Msg::Stopped { finished, cut } => format!(
                "encerrado: {finished} {} dentro do prazo, {cut} {} com RST no fim dele",
                plural(*finished as u64, "conexão terminou", "conexões terminaram"),
                plural(*cut as u64, "cortada", "cortadas")
            ),
            Msg::MaxConnsReached { max } => format!(
                "--max-conns atingido ({max} abertas): novos clientes esperam no backlog do kernel até uma fechar"
            ),
            Msg::Refused { peer, refusal, detail } => match refusal {
                Refusal::NotAllowed => format!("{peer} recusado: não permitido por --allow / --deny"),
                Refusal::PerIpLimit => {
                    format!("{peer} recusado: --max-conns-per-ip atingido para {}", peer.ip())
                }
                Refusal::ProxyHeader => {
                    let why = detail.map(|d| d.text(pt)).unwrap_or_default();
                    format!("{peer} recusado: sem cabeçalho PROXY protocol válido ({why})")
                }
                Refusal::NoThread => format!(
                    "{peer} recusado: nenhuma thread pôde ser criada para ele (sem threads: veja ulimit -u, \
                     ou use --mode async)"
                ),
            },
            Msg::RefusedMore { counts } => {
                let total: u64 = counts.iter().map(|(_, n)| n).sum();
                let parts: Vec<String> = counts
                    .iter()
                    .map(|(refusal, n)| match refusal {
                        Refusal::NotAllowed => format!("{n} não permitida(s) por --allow / --deny"),
                        Refusal::PerIpLimit => format!("{n} acima de --max-conns-per-ip"),
                        Refusal::NoThread => format!("{n} sem thread (sem threads)"),
                        Refusal::ProxyHeader => format!("{n} sem cabeçalho PROXY válido"),
                    })
                    .collect();
                format!(
                    "mais {total} {} no último segundo: {}",
                    plural(total, "conexão recusada", "conexões recusadas"),
                    parts.join(", ")
                )
            }
            Msg::UdpUnanswered { counts } => {
                let total: u64 = counts.iter().map(|(_, n)| n).sum();
                let parts: Vec<String> =
                    counts.iter().map(|(why, n)| format!("{n} {}", unanswered_pt(*why))).collect();
                format!(
                    "UDP: {total} {} no último segundo pela proteção contra reflexão: {}",
                    plural(total, "datagrama sem resposta", "datagramas sem resposta"),
                    parts.join(", ")
                )
            }
            Msg::EndedMore { counts } => {
                let total: u64 = counts.iter().map(|(_, n)| n).sum();
                let parts: Vec<String> =
                    counts.iter().map(|(kind, n)| format!("{n} {}", ended_pt(*kind))).collect();
                format!(
                    "mais {total} {} antes da hora no último segundo: {}",
                    plural(total, "conexão terminou", "conexões terminaram"),
                    parts.join(", ")
                )
            }
            Msg::LinesDropped { count } => format!(
                "{count} {} de saída {}: ninguém leu stdout ou stderr a tempo (o servidor nunca \
                 espera pelos seus logs)",
                plural(*count, "linha", "linhas"),
                plural(*count, "descartada", "descartadas")
            ),
        }
    }
}

/// The mode as `--mode` spells it (not translated: it is a value to type).
fn mode_name(mode: Option<Mode>) -> &'static str {
    mode.map_or("udp", Mode::name)
}

/// The counts of [`Msg::EndedMore`], one kind at a time.
fn ended_en(kind: EndKind) -> &'static str {
    match kind {
        EndKind::Reset => "reset by the client",
        EndKind::IdleTimeout => "idle past --idle-timeout",
        EndKind::Keepalive => "silent to keepalive probes",
        EndKind::Limit => "at --max-bytes",
        EndKind::Shutdown => "cut at the end of the grace",
        EndKind::Error => "by an error",
        EndKind::Planned => "on purpose (--close-after, --reset-after)",
        EndKind::Tls => "in a failed TLS handshake",
    }
}

fn ended_pt(kind: EndKind) -> &'static str {
    match kind {
        EndKind::Reset => "resetadas pelo cliente",
        EndKind::IdleTimeout => "ociosas além de --idle-timeout",
        EndKind::Keepalive => "mudas às sondas de keepalive",
        EndKind::Limit => "em --max-bytes",
        EndKind::Shutdown => "cortadas no fim da carência",
        EndKind::Error => "por um erro",
        EndKind::Planned => "de propósito (--close-after, --reset-after)",
        EndKind::Tls => "num handshake TLS que falhou",
    }
}

fn unanswered_en(why: Unanswered) -> &'static str {
    match why {
        Unanswered::PrivilegedPort => "from a source port below 1024",
        Unanswered::ServicePort => "from the port of a known service or of this server",
        Unanswered::BadSource => "from a broadcast, multicast or unspecified address",
        Unanswered::NotAllowed => "not allowed by --allow / --deny",
        Unanswered::Loop => "coming back after being answered (an echo loop)",
        Unanswered::SourceRate => "over --udp-rate-per-ip",
        Unanswered::NetworkRate => "from a network (/24, /64) over its share of --udp-rate",
        Unanswered::NewSourceRate => "from new sources over their share of --udp-rate",
        Unanswered::GlobalRate => "over --udp-rate",
        Unanswered::Dropped => "dropped on purpose (--drop-percent)",
        Unanswered::ProxyHeader => "without a valid PROXY protocol header",
    }
}

fn unanswered_pt(why: Unanswered) -> &'static str {
    match why {
        Unanswered::PrivilegedPort => "de uma porta de origem abaixo de 1024",
        Unanswered::ServicePort => "da porta de um serviço conhecido ou deste servidor",
        Unanswered::BadSource => "de um endereço de broadcast, multicast ou não especificado",
        Unanswered::NotAllowed => "não permitidos por --allow / --deny",
        Unanswered::Loop => "voltando depois de respondidos (um laço de eco)",
        Unanswered::SourceRate => "acima de --udp-rate-per-ip",
        Unanswered::NetworkRate => "de uma rede (/24, /64) acima da sua parte de --udp-rate",
        Unanswered::NewSourceRate => "de origens novas acima da sua parte de --udp-rate",
        Unanswered::GlobalRate => "acima de --udp-rate",
        Unanswered::Dropped => "descartados de propósito (--drop-percent)",
        Unanswered::ProxyHeader => "sem cabeçalho PROXY protocol válido",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exercise_lines_in_both_languages() {
        assert_eq!(Msg::Waiting.text(Lang::Pt), "Aguardando conexão de um cliente ...");
        assert_eq!(Msg::Closed.text(Lang::Pt), "Conexão fechada :)");
        assert_eq!(Msg::Waiting.text(Lang::En), "Waiting for a client connection ...");
        assert_eq!(Msg::Closed.text(Lang::En), "Connection closed :)");
        let peer: SocketAddr = "127.0.0.1:49595".parse().unwrap();
        assert_eq!(Msg::Connected { peer, via: None }.text(Lang::Pt), "Conectado em 127.0.0.1:49595");
        assert_eq!(Msg::Connected { peer, via: None }.text(Lang::En), "Connected to 127.0.0.1:49595");
    }

    #[test]
    fn unanswered_datagrams_are_told_in_words_of_the_language() {
        let counts = [(Unanswered::PrivilegedPort, 3), (Unanswered::Loop, 1)];
        let msg = Msg::UdpUnanswered { counts: &counts };
        assert_eq!(
            msg.text(Lang::En),
            "UDP: 4 datagrams not answered in the last second by the reflection guard: 3 from a \
             source port below 1024, 1 coming back after being answered (an echo loop)"
        );
        let pt = msg.text(Lang::Pt);
        assert!(pt.contains("3 de uma porta de origem abaixo de 1024"), "{pt}");
        assert!(!pt.contains("privileged_port"), "{pt}");
    }
}
