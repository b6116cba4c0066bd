//! What `eco trace` tells its user, in English and pt-BR: titles, the
//! table's column names, the client's calls, the phases, TCP_INFO. The
//! layout (column widths, alignment) is `table.rs`'s.
//!
//! One exhaustive `match` per language: a message added without its
//! translation does not compile.

use std::net::SocketAddr;

use super::exchange::AppEvent;
use super::flow::{ConnKey, Phase};
use super::pcap::Warning;
use crate::client::Millis;
use crate::i18n::{Sentences, plural};
use crate::tcp_info::TcpInfo;

/// Something `eco trace` tells its user.
pub enum Msg<'a> {
    /// Above the table of a live exchange.
    Title {
        addr: SocketAddr,
        mode: &'a str,
    },
    /// A column title of the table.
    Column(Column),
    /// One of the client's calls, between the packets.
    Event(AppEvent),
    PhasesTitle,
    /// After the phases of the first connections: how many more there were.
    MorePhases {
        connections: u64,
    },
    Phase(&'a Phase),
    TcpInfoTitle,
    TcpInfo(&'a TcpInfo),
    PcapWritten {
        path: &'a str,
        frames: usize,
    },
    /// Above each connection of `--read` / `--attach`.
    ConnectionTitle {
        conn: ConnKey,
    },
    /// `--attach` has started.
    Attached {
        port: u16,
    },
    /// `--read`: the file ended early (the frames before were shown).
    FileWarning {
        path: &'a str,
        warning: &'a Warning,
    },
    /// `--read --stream N` / `--port P`: no frame was selected.
    NothingSelected {
        stream: Option<u32>,
        port: Option<u16>,
        connections: u64,
    },
    /// `--read`: frames of a link type eco does not decode.
    UnknownLink {
        path: &'a str,
        link: u32,
    },
}

/// The two ends of a connection, when no program names them.
#[derive(Clone, Copy)]
pub enum Role {
    Client,
    Server,
}

impl Sentences for Role {
    fn en(&self) -> String {
        match self {
            Role::Client => "client",
            Role::Server => "server",
        }
        .into()
    }

    fn pt(&self) -> String {
        match self {
            Role::Client => "cliente",
            Role::Server => "servidor",
        }
        .into()
    }
}

/// The table's columns, as Wireshark names them.
#[derive(Clone, Copy)]
pub enum Column {
    No,
    Time,
    Source,
    Destination,
    Protocol,
    Length,
    Info,
    /// The narrow table's one column for Source and Destination.
    Direction,
}

impl Column {
    pub const ALL: [Column; 7] = [
        Column::No,
        Column::Time,
        Column::Source,
        Column::Destination,
        Column::Protocol,
        Column::Length,
        Column::Info,
    ];
}

impl Sentences for Msg<'_> {
    fn en(&self) -> String {
        match self {
            Msg::Title { addr, mode } => format!("── packets on lo: {addr}, server mode {mode} ──"),
            Msg::Column(column) => match column {
                Column::No => "No.",
                Column::Time => "Time",
                Column::Source => "Source",
                Column::Destination => "Destination",
                Column::Protocol => "Protocol",
                Column::Length => "Length",
                Column::Info => "Info",
                Column::Direction => "Direction",
            }
            .into(),
            Msg::Event(event) => match event {
                AppEvent::ConnectCalled => "client: connect() called: the kernel sends SYN".into(),
                AppEvent::ConnectReturned => "client: connect() returned: the handshake is complete".into(),
                AppEvent::Sent(n) => format!("client: send() handed {n} bytes to the kernel"),
                AppEvent::EchoReceived(n) => format!("client: recv() got the {n}-byte echo"),
                AppEvent::CloseCalled => "client: close() called: the kernel sends FIN".into(),
                AppEvent::TlsDone => {
                    "client: TLS handshake done: from here on, what send() hands over is encrypted".into()
                }
            },
            Msg::PhasesTitle => "── phases ──".into(),
            Msg::MorePhases { connections } => format!(
                "── and {connections} more {}: the phases of one with --stream N (its tcp.stream), of all with --json ──",
                plural(*connections, "connection", "connections")
            ),
            Msg::Phase(phase) => phase_en(phase),
            Msg::TcpInfoTitle => "── TCP_INFO of the client socket, before close() ──".into(),
            Msg::TcpInfo(info) => format!(
                "rtt {} ms (±{} ms), rto {} ms, cwnd {} segments, retransmissions {}, \
                 segments sent {} / received {}, bytes acknowledged {} / received {}",
                Millis(info.rtt),
                Millis(info.rttvar),
                Millis(info.rto),
                info.snd_cwnd,
                info.total_retrans,
                info.segs_out,
                info.segs_in,
                info.bytes_acked,
                info.bytes_received
            ),
            Msg::PcapWritten { path, frames } => format!("wrote {frames} packets to {path}"),
            Msg::ConnectionTitle { conn: ConnKey(a, b) } => format!("── connection {a} ↔ {b} ──"),
            Msg::Attached { port } => format!(
                "watching TCP port {port} on lo; each connection is shown when it closes (Ctrl-C to stop)"
            ),
            Msg::NothingSelected { stream, port, connections } => {
                let what = match (stream, port) {
                    (Some(s), Some(p)) => format!("TCP connection {s} on port {p}"),
                    (Some(s), None) => format!("TCP connection {s}"),
                    (None, Some(p)) => format!("port {p}"),
                    (None, None) => "the selection".into(),
                };
                format!(
                    "no frame of {what} in the capture (its TCP connections are numbered 0 to {}, as tcp.stream)",
                    connections.saturating_sub(1)
                )
            }
            Msg::UnknownLink { path, link } => format!(
                "{path} has frames of link type {link}, which eco does not decode (it reads Ethernet, Linux \
                 cooked, raw IP, BSD loopback, PPP and Cisco HDLC): they are listed without their contents"
            ),
            Msg::FileWarning { path, warning } => match warning {
                Warning::CutShort => format!(
                    "{path} ends in the middle of a packet (it was cut short): the frames before are shown"
                ),
                Warning::Damaged(why) => format!("{path} is damaged ({why}): the frames before are shown"),
                Warning::UnsupportedVersion { major, minor } => format!(
                    "{path} has a pcapng section of version {major}.{minor}, which no reader knows: the frames \
                     before are shown"
                ),
            },
        }
    }

    fn pt(&self) -> String {
        match self {
            Msg::Title { addr, mode } => format!("── pacotes em lo: {addr}, servidor no modo {mode} ──"),
            Msg::Column(column) => match column {
                Column::No => "Nº",
                Column::Time => "Tempo",
                Column::Source => "Origem",
                Column::Destination => "Destino",
                Column::Protocol => "Protocolo",
                Column::Length => "Tamanho",
                Column::Info => "Info",
                Column::Direction => "Sentido",
            }
            .into(),
            Msg::Event(event) => match event {
                AppEvent::ConnectCalled => "cliente: connect() chamado: o kernel envia SYN".into(),
                AppEvent::ConnectReturned => "cliente: connect() retornou: o handshake está completo".into(),
                AppEvent::Sent(n) => format!("cliente: send() entregou {n} bytes ao kernel"),
                AppEvent::EchoReceived(n) => format!("cliente: recv() recebeu o eco de {n} bytes"),
                AppEvent::CloseCalled => "cliente: close() chamado: o kernel envia FIN".into(),
                AppEvent::TlsDone => {
                    "cliente: handshake TLS concluído: daqui em diante o que send() entrega vai cifrado"
                        .into()
                }
            },
            Msg::PhasesTitle => "── fases ──".into(),
            Msg::MorePhases { connections } => format!(
                "── e mais {connections} {}: as fases de uma com --stream N (o seu tcp.stream), de todas com --json ──",
                plural(*connections, "conexão", "conexões")
            ),
            Msg::Phase(phase) => phase_pt(phase),
            Msg::TcpInfoTitle => "── TCP_INFO do socket do cliente, antes de close() ──".into(),
            Msg::TcpInfo(info) => format!(
                "rtt {} ms (±{} ms), rto {} ms, cwnd {} segmentos, retransmissões {}, \
                 segmentos enviados {} / recebidos {}, bytes confirmados {} / recebidos {}",
                Millis(info.rtt),
                Millis(info.rttvar),
                Millis(info.rto),
                info.snd_cwnd,
                info.total_retrans,
                info.segs_out,
                info.segs_in,
                info.bytes_acked,
                info.bytes_received
            ),
            Msg::PcapWritten { path, frames } => format!("{frames} pacotes gravados em {path}"),
            Msg::ConnectionTitle { conn: ConnKey(a, b) } => format!("── conexão {a} ↔ {b} ──"),
            Msg::Attached { port } => format!(
                "observando a porta TCP {port} em lo; cada conexão aparece quando fecha (Ctrl-C para parar)"
            ),
            Msg::NothingSelected { stream, port, connections } => {
                let what = match (stream, port) {
                    (Some(s), Some(p)) => format!("da conexão TCP {s} na porta {p}"),
                    (Some(s), None) => format!("da conexão TCP {s}"),
                    (None, Some(p)) => format!("da porta {p}"),
                    (None, None) => "da seleção".into(),
                };
                format!(
                    "nenhum quadro {what} na captura (as conexões TCP dela vão de 0 a {}, como tcp.stream)",
                    connections.saturating_sub(1)
                )
            }
            Msg::UnknownLink { path, link } => format!(
                "{path} tem quadros do tipo de enlace {link}, que o eco não decodifica (ele lê Ethernet, Linux \
                 cooked, IP puro, loopback BSD, PPP e Cisco HDLC): eles aparecem sem o conteúdo"
            ),
            Msg::FileWarning { path, warning } => match warning {
                Warning::CutShort => format!(
                    "{path} termina no meio de um pacote (foi cortado): os quadros anteriores são mostrados"
                ),
                Warning::Damaged(why) => {
                    format!("{path} está danificado ({why}): os quadros anteriores são mostrados")
                }
                Warning::UnsupportedVersion { major, minor } => format!(
                    "{path} tem uma seção pcapng de versão {major}.{minor}, que nenhum leitor conhece: os quadros \
                     anteriores são mostrados"
                ),
            },
        }
    }
}

fn phase_en(phase: &Phase) -> String {
    let side = |client: bool| if client { "client" } else { "server" };
    match phase {
        Phase::Handshake { frames, syn_resent } => {
            let mut text = format!(
                "{frames}: Three-way handshake (SYN, SYN-ACK, ACK): the kernels agree on initial sequence \
                 numbers and options before any data; connect() returns after it."
            );
            if *syn_resent > 0 {
                text.push_str(&format!(
                    " {syn_resent} {} sent again: no answer came in time, and the client's kernel sent it again.",
                    plural(u64::from(*syn_resent), "SYN was", "SYNs were")
                ));
            }
            text
        }
        Phase::Unanswered { frames, syns } => format!(
            "{frames}: No answer: {syns} {} and nothing came back (a firewall that drops, or a machine \
             that is off): the client's kernel sent the SYN again, and again, and no connection was made.",
            plural(u64::from(*syns), "SYN", "SYNs")
        ),
        Phase::Refused { frames } => format!(
            "{frames}: Refused: the SYN was answered with a reset (RST): nothing listened on that port, \
             and connect() failed with \"Connection refused\"."
        ),
        Phase::Data { frames, client_bytes, server_bytes, resent, echo, mid_stream } => {
            let mut text = if *mid_stream {
                format!("{frames}: Data and ACKs (the capture began after the handshake): ")
            } else {
                format!("{frames}: Data and ACKs: ")
            };
            let server = if *echo { "echoed" } else { "sent" };
            text.push_str(&format!(
                "the client sent {client_bytes} {}, the server {server} {server_bytes} {}, and each side's kernel \
                 acknowledged (ACK) what it received.",
                plural(*client_bytes, "byte", "bytes"),
                plural(*server_bytes, "byte", "bytes")
            ));
            if *resent > 0 {
                text.push_str(&format!(
                    " {resent} {} lost (or late) and sent again (retransmission); each byte counts once.",
                    plural(u64::from(*resent), "segment was", "segments were")
                ));
            }
            text
        }
        Phase::Close { frames, client_first, one_sided: true, .. } => {
            let (first, other) = (side(*client_first), side(!*client_first));
            format!(
                "{frames}: Close from one side: the {first} sent FIN; the {other} never sent its own (it \
                 reset the connection, or the capture ended first)."
            )
        }
        Phase::Close { frames, client_first, segments, eco_hint, .. } => {
            let (first, other) = (side(*client_first), side(!*client_first));
            if *segments == 3 {
                let mut text = format!(
                    "{frames}: Close in three segments: the {first}'s FIN; the {other}'s FIN carrying the ACK of \
                     it (Linux delays that ACK, and the application closes at once); the {first}'s ACK."
                );
                if *eco_hint {
                    text.push_str(
                        " The exercise's capture shows four segments: --ack-fin-apart sends that ACK alone.",
                    );
                }
                text
            } else if *segments == 4 {
                format!(
                    "{frames}: Four-way close: the {first}'s FIN, the {other}'s ACK, the {other}'s FIN, the \
                     {first}'s ACK."
                )
            } else {
                format!(
                    "{frames}: Close in {segments} segments: each side's FIN and its ACK (some sent again, or \
                     with data)."
                )
            }
        }
        Phase::Reset { frames, by_client } => format!(
            "{frames}: Reset: the {} sent RST; the connection was aborted without the FIN exchange.",
            side(*by_client)
        ),
        Phase::Tls { frames, records } => format!(
            "{frames}: TLS handshake, on top of TCP's ({}): the two sides agree on a version, a cipher \
             suite and keys, and the server proves who it is with its certificate; from the Change \
             Cipher Spec on, every byte is encrypted (Application Data), the echo too.",
            records.join("; ")
        ),
    }
}

fn phase_pt(phase: &Phase) -> String {
    let side = |client: bool| if client { "cliente" } else { "servidor" };
    match phase {
        Phase::Handshake { frames, syn_resent } => {
            let mut text = format!(
                "{frames}: Three-way handshake (SYN, SYN-ACK, ACK): os kernels combinam os números de \
                 sequência iniciais e as opções antes de qualquer dado; connect() retorna depois dele."
            );
            if *syn_resent > 0 {
                text.push_str(&format!(
                    " {syn_resent} SYN {} de novo: a resposta não veio a tempo, e o kernel do cliente o \
                     reenviou.",
                    plural(u64::from(*syn_resent), "foi enviado", "foram enviados")
                ));
            }
            text
        }
        Phase::Unanswered { frames, syns } => format!(
            "{frames}: Sem resposta: {syns} SYN e nada voltou (um firewall que descarta, ou uma máquina \
             desligada): o kernel do cliente reenviou o SYN, e de novo, e nenhuma conexão se fez."
        ),
        Phase::Refused { frames } => format!(
            "{frames}: Recusada: o SYN foi respondido com um reset (RST): nada escutava naquela porta, e \
             connect() falhou com \"Connection refused\"."
        ),
        Phase::Data { frames, client_bytes, server_bytes, resent, echo, mid_stream } => {
            let mut text = if *mid_stream {
                format!("{frames}: Dados e ACKs (a captura começou depois do handshake): ")
            } else {
                format!("{frames}: Dados e ACKs: ")
            };
            let server = if *echo { "ecoou" } else { "enviou" };
            text.push_str(&format!(
                "o cliente enviou {client_bytes} {}, o servidor {server} {server_bytes} {}, e o kernel de cada \
                 lado confirmou (ACK) o que recebeu.",
                plural(*client_bytes, "byte", "bytes"),
                plural(*server_bytes, "byte", "bytes")
            ));
            if *resent > 0 {
                text.push_str(&format!(
                    " {resent} {} e {} de novo (retransmissão); cada byte conta uma vez.",
                    plural(
                        u64::from(*resent),
                        "segmento se perdeu (ou atrasou)",
                        "segmentos se perderam (ou atrasaram)"
                    ),
                    plural(u64::from(*resent), "foi enviado", "foram enviados")
                ));
            }
            text
        }
        Phase::Close { frames, client_first, one_sided: true, .. } => {
            let (first, other) = (side(*client_first), side(!*client_first));
            format!(
                "{frames}: Encerramento de um lado só: o {first} enviou FIN; o {other} não enviou o seu \
                 (encerrou com reset, ou a captura acabou antes)."
            )
        }
        Phase::Close { frames, client_first, segments, eco_hint, .. } => {
            let (first, other) = (side(*client_first), side(!*client_first));
            if *segments == 3 {
                let mut text = format!(
                    "{frames}: Encerramento em três segmentos: FIN do {first}; FIN do {other} levando o ACK dele \
                     (o Linux atrasa esse ACK, e a aplicação fecha em seguida); ACK do {first}."
                );
                if *eco_hint {
                    text.push_str(
                        " A captura do exercício mostra quatro segmentos: --ack-fin-apart envia esse ACK sozinho.",
                    );
                }
                text
            } else if *segments == 4 {
                format!(
                    "{frames}: Encerramento em quatro vias: FIN do {first}, ACK do {other}, FIN do {other}, ACK \
                     do {first}."
                )
            } else {
                format!(
                    "{frames}: Encerramento em {segments} segmentos: o FIN de cada lado e o ACK dele (alguns \
                     reenviados, ou com dados)."
                )
            }
        }
        Phase::Reset { frames, by_client } => format!(
            "{frames}: Reset: o {} enviou RST; a conexão foi abortada sem a troca de FINs.",
            side(*by_client)
        ),
        Phase::Tls { frames, records } => format!(
            "{frames}: Handshake TLS, por cima do do TCP ({}): os dois lados combinam uma versão, uma \
             suíte de cifras e chaves, e o servidor prova quem é com o seu certificado; a partir do \
             Change Cipher Spec, todo byte vai cifrado (Application Data), o eco também.",
            records.join("; ")
        ),
    }
}
