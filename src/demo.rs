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
use crate::i18n::{Lang, Msg};
use crate::server;
use crate::trace::{self, exchange};

pub fn run(message: &str, capture: bool, console: &Console) -> Result<()> {
    let lang = console.lang();
    let options = exchange::Options {
        // Port 0: the kernel picks a free port, so the demo never collides
        // with a server already running on 5050.
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        message: message.to_owned(),
        mode: server::Mode::Single,
        // The exercise's 11 frames: the ACK of the client's FIN on its own.
        ack_fin_apart: true,
    };
    let mut exchange = exchange::run(&options, capture, lang)?;
    let addr = exchange.addr;

    console.say(Msg::DemoServerTitle { addr });
    print_block(console, &exchange.server_out);
    print_block_without_listening(console, &exchange.server_err, lang, addr);
    console.say(Msg::DemoClientTitle { addr });
    print_block(console, &exchange.client_out);
    print_block(console, &exchange.client_err);
    std::mem::replace(&mut exchange.result, Ok(()))?;

    if exchange.frames.is_empty() {
        console.say(Msg::DemoNoCapture);
    } else {
        trace::print_exchange(&exchange, options.mode.name(), console);
    }

    console.say(Msg::DemoWhatHappened);
    console.say(Msg::DemoNetworkLevel);
    console.say(Msg::DemoApplicationLevel { bytes: message.len() });
    let chars = message.chars().count();
    if chars != message.len() {
        console.say(Msg::DemoBytesVsChars { chars, bytes: message.len() });
    }
    console.say(Msg::DemoCloseLevel);
    Ok(())
}

fn print_block(console: &Console, text: &Captured) {
    for line in text.text().lines() {
        console.say(Msg::Raw(line));
    }
}

/// The server's "listening on" note is the demo's title already.
fn print_block_without_listening(console: &Console, text: &Captured, lang: Lang, addr: SocketAddr) {
    let listening =
        format!("eco: {}", lang.text(&Msg::Listening { addr, mode: server::Mode::Single.name() }));
    for line in text.text().lines().filter(|line| *line != listening) {
        console.say(Msg::Raw(line));
    }
}
