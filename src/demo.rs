//! `eco demo`: the classroom exercise end to end, in one command.
//!
//! A `single`-mode server (the exercise's `servidor.py`) on a free loopback
//! port and the client (`cliente.py`) run in this process, each writing its
//! own transcript; then both transcripts are printed, each under its title,
//! then the packets of the exchange (when capture is possible) with the
//! exercise's phases, and a few lines on what answered at which level.

use std::net::SocketAddr;

use crate::console::{Captured, Console};
use crate::error::Result;
use crate::i18n::{Lang, Raw, Sentences};
use crate::server;
use crate::trace::{self, exchange};

pub fn run(message: &str, capture: bool, view: &trace::view::View, console: &Console) -> Result<()> {
    let lang = console.lang();
    let options = exchange::Options {
        // Port 0: the kernel picks a free port, so the demo never collides
        // with a server already running on 5050.
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        message: message.to_owned(),
        mode: server::Mode::Single,
        // The exercise's 11 frames: the ACK of the client's FIN on its own.
        ack_fin_apart: true,
        tls: false,
    };
    let mut exchange = exchange::run(&options, capture, console)?;
    let addr = exchange.addr;

    console.say(&Msg::ServerTitle { addr });
    print_block(console, &exchange.server_out);
    print_block_without_listening(console, &exchange.server_err, lang, addr);
    console.say(&Msg::ClientTitle { addr });
    print_block(console, &exchange.client_out);
    print_block(console, &exchange.client_err);
    std::mem::replace(&mut exchange.result, Ok(()))?;

    if exchange.frames.is_empty() {
        console.say(&Msg::NoCapture);
    } else {
        trace::print_exchange(&exchange, exchange.mode.name(), view, console)?;
    }

    console.say(&Msg::WhatHappened);
    console.say(&Msg::NetworkLevel);
    console.say(&Msg::ApplicationLevel { bytes: message.len() });
    let chars = message.chars().count();
    if chars != message.len() {
        console.say(&Msg::BytesVsChars { chars, bytes: message.len() });
    }
    console.say(&Msg::CloseLevel);
    Ok(())
}

fn print_block(console: &Console, text: &Captured) {
    for line in text.text().lines() {
        console.say(&Raw(line));
    }
}

/// The server's "listening on" note is the demo's title already.
fn print_block_without_listening(console: &Console, text: &Captured, lang: Lang, addr: SocketAddr) {
    let listening =
        format!("eco: {}", lang.text(&server::Msg::Listening { addr, mode: Some(server::Mode::Single) }));
    for line in text.text().lines().filter(|line| *line != listening) {
        console.say(&Raw(line));
    }
}

/// What the demo tells its user, around the two transcripts.
pub enum Msg {
    ServerTitle {
        addr: SocketAddr,
    },
    ClientTitle {
        addr: SocketAddr,
    },
    WhatHappened,
    NetworkLevel,
    ApplicationLevel {
        bytes: usize,
    },
    BytesVsChars {
        chars: usize,
        bytes: usize,
    },
    CloseLevel,
    /// When packets could not be captured.
    NoCapture,
}

impl Sentences for Msg {
    fn en(&self) -> String {
        match self {
            Msg::ServerTitle { addr } => {
                format!("── server (eco server --mode single --once, on {addr}) ──")
            }
            Msg::ClientTitle { addr } => format!("── client (eco client, to {addr}) ──"),
            Msg::WhatHappened => "── what happened ──".into(),
            Msg::NetworkLevel => "Network level, answered by the kernel: connect() sent a SYN, \
                 the server's kernel answered SYN-ACK and the client's ACK completed the three-way \
                 handshake before accept() returned; every data segment was acknowledged (ACK)."
                .into(),
            Msg::ApplicationLevel { bytes } => format!(
                "Application level, answered by eco: the client sent {bytes} bytes with send(); \
                 the server's recv() got them and its send() wrote the same bytes back; the client \
                 read them and printed the echo."
            ),
            Msg::BytesVsChars { chars, bytes } => format!(
                "TCP carries bytes, not characters: the message has {chars} characters and {bytes} \
                 bytes in UTF-8 (letters such as á, é, ú take two bytes each)."
            ),
            Msg::CloseLevel => "Close: the client called close() first and sent FIN; the \
                 server's recv() returned 0 bytes, so it closed its side too (FIN); each FIN was \
                 acknowledged by the other side."
                .into(),
            Msg::NoCapture => "(To see the packets themselves, run `eco demo` as root, or where \
                 user namespaces are allowed.)"
                .into(),
        }
    }

    fn pt(&self) -> String {
        match self {
            Msg::ServerTitle { addr } => {
                format!("── servidor (eco server --mode single --once, em {addr}) ──")
            }
            Msg::ClientTitle { addr } => format!("── cliente (eco client, para {addr}) ──"),
            Msg::WhatHappened => "── o que aconteceu ──".into(),
            Msg::NetworkLevel => "Nível de rede, respondido pelo kernel: connect() enviou um \
                 SYN, o kernel do servidor respondeu SYN-ACK e o ACK do cliente completou o \
                 three-way handshake antes de accept() retornar; cada segmento de dados foi \
                 confirmado (ACK)."
                .into(),
            Msg::ApplicationLevel { bytes } => format!(
                "Nível de aplicação, respondido pelo eco: o cliente enviou {bytes} bytes com \
                 send(); o recv() do servidor os recebeu e o seu send() devolveu os mesmos bytes; \
                 o cliente os leu e imprimiu o eco."
            ),
            Msg::BytesVsChars { chars, bytes } => format!(
                "O TCP transporta bytes, não caracteres: a mensagem tem {chars} caracteres e \
                 {bytes} bytes em UTF-8 (letras como á, é, ú ocupam dois bytes cada)."
            ),
            Msg::CloseLevel => "Encerramento: o cliente chamou close() primeiro e enviou FIN; \
                 o recv() do servidor retornou 0 bytes, então ele fechou o seu lado também (FIN); \
                 cada FIN foi confirmado pelo outro lado."
                .into(),
            Msg::NoCapture => "(Para ver os próprios pacotes, rode `eco demo` como root, ou onde \
                 namespaces de usuário são permitidos.)"
                .into(),
        }
    }
}
