//! What `eco trace` tells its user, in English and pt-BR: titles, the
//! table's column names, the client's calls, the phases, TCP_INFO. The
//! layout (column widths, alignment) is `table.rs`'s.
//!
//! One exhaustive `match` per language: a message added without its
//! translation does not compile.

use std::fmt;
use std::net::SocketAddr;

use super::exchange::AppEvent;
use super::flow::{ConnKey, Phase};
use super::tcp_info::TcpInfo;
use crate::client::Millis;
use crate::i18n::Sentences;

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
            }
            .into(),
            Msg::Event(event) => match event {
                AppEvent::ConnectCalled => "client: connect() called: the kernel sends SYN".into(),
                AppEvent::ConnectReturned => "client: connect() returned: the handshake is complete".into(),
                AppEvent::Sent(n) => format!("client: send() handed {n} bytes to the kernel"),
                AppEvent::EchoReceived(n) => format!("client: recv() got the {n}-byte echo"),
                AppEvent::CloseCalled => "client: close() called: the kernel sends FIN".into(),
            },
            Msg::PhasesTitle => "── phases ──".into(),
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
            }
            .into(),
            Msg::Event(event) => match event {
                AppEvent::ConnectCalled => "cliente: connect() chamado: o kernel envia SYN".into(),
                AppEvent::ConnectReturned => "cliente: connect() retornou: o handshake está completo".into(),
                AppEvent::Sent(n) => format!("cliente: send() entregou {n} bytes ao kernel"),
                AppEvent::EchoReceived(n) => format!("cliente: recv() recebeu o eco de {n} bytes"),
                AppEvent::CloseCalled => "cliente: close() chamado: o kernel envia FIN".into(),
            },
            Msg::PhasesTitle => "── fases ──".into(),
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
        }
    }
}

fn phase_en(phase: &Phase) -> String {
    let side = |client: bool| if client { "client" } else { "server" };
    match phase {
        Phase::Handshake { frames } => format!(
            "{}: Three-way handshake (SYN, SYN-ACK, ACK): the kernels agree on initial sequence \
             numbers and options before any data; connect() returns after it.",
            FrameList(frames)
        ),
        Phase::Data { frames, client_bytes, server_bytes, retransmissions } => {
            let mut text = format!(
                "{}: Data and ACKs: the client sent {client_bytes} bytes, the server echoed \
                 {server_bytes} bytes, and each side's kernel acknowledged (ACK) what it received.",
                FrameList(frames)
            );
            if *retransmissions > 0 {
                text.push_str(&format!(
                    " {retransmissions} segment(s) were lost and sent again (retransmission)."
                ));
            }
            text
        }
        Phase::Close { frames, client_first } if frames.len() >= 4 => format!(
            "{}: Four-way close: the {first}'s FIN, the {other}'s ACK, the {other}'s FIN, the {first}'s ACK.",
            FrameList(frames),
            first = side(*client_first),
            other = side(!*client_first)
        ),
        Phase::Close { frames, client_first } => format!(
            "{}: Close in three segments: the {first}'s FIN; the {other}'s FIN carrying the ACK of it \
             (Linux delays that ACK, and the application closes at once); the {first}'s ACK. The \
             exercise's capture shows four segments: --ack-fin-apart sends that ACK alone.",
            FrameList(frames),
            first = side(*client_first),
            other = side(!*client_first)
        ),
        Phase::Reset { frames, by_client } => format!(
            "{}: Reset: the {} sent RST; the connection was aborted without the FIN exchange.",
            FrameList(frames),
            side(*by_client)
        ),
    }
}

fn phase_pt(phase: &Phase) -> String {
    let side = |client: bool| if client { "cliente" } else { "servidor" };
    match phase {
        Phase::Handshake { frames } => format!(
            "{}: Three-way handshake (SYN, SYN-ACK, ACK): os kernels combinam os números de \
             sequência iniciais e as opções antes de qualquer dado; connect() retorna depois dele.",
            FrameList(frames)
        ),
        Phase::Data { frames, client_bytes, server_bytes, retransmissions } => {
            let mut text = format!(
                "{}: Dados e ACKs: o cliente enviou {client_bytes} bytes, o servidor ecoou \
                 {server_bytes} bytes, e o kernel de cada lado confirmou (ACK) o que recebeu.",
                FrameList(frames)
            );
            if *retransmissions > 0 {
                text.push_str(&format!(
                    " {retransmissions} segmento(s) se perderam e foram reenviados (retransmissão)."
                ));
            }
            text
        }
        Phase::Close { frames, client_first } if frames.len() >= 4 => format!(
            "{}: Encerramento em quatro vias: FIN do {first}, ACK do {other}, FIN do {other}, ACK do {first}.",
            FrameList(frames),
            first = side(*client_first),
            other = side(!*client_first)
        ),
        Phase::Close { frames, client_first } => format!(
            "{}: Encerramento em três segmentos: FIN do {first}; FIN do {other} levando o ACK dele \
             (o Linux atrasa esse ACK, e a aplicação fecha em seguida); ACK do {first}. A captura do \
             exercício mostra quatro segmentos: --ack-fin-apart envia esse ACK sozinho.",
            FrameList(frames),
            first = side(*client_first),
            other = side(!*client_first)
        ),
        Phase::Reset { frames, by_client } => format!(
            "{}: Reset: o {} enviou RST; a conexão foi abortada sem a troca de FINs.",
            FrameList(frames),
            side(*by_client)
        ),
    }
}

/// `[1, 2, 3]`: frame numbers as the exercise's notes list them.
struct FrameList<'a>(&'a [usize]);

impl fmt::Display for FrameList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let numbers: Vec<String> = self.0.iter().map(usize::to_string).collect();
        write!(f, "[{}]", numbers.join(", "))
    }
}
