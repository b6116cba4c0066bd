//! `eco demo`: the classroom exercise end to end, in one command.
//!
//! A `single`-mode server (the exercise's `servidor.py`) on a free loopback
//! port and the client (`cliente.py`) run in this process, each writing its
//! own transcript; then both transcripts are printed, each under its title,
//! with a few lines on what answered at which level.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::console::Console;
use crate::error::{Doing, Error, Result};
use crate::i18n::{Lang, Msg};
use crate::{client, server};

pub fn run(message: &str, console: &Console) -> Result<()> {
    let lang = console.lang();
    // Port 0: the kernel picks a free port, so the demo never collides
    // with a server already running on 5050.
    let listener = server::listen(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let addr = listener.local_addr().map_err(|source| Error::Io { doing: Doing::Setup, source })?;

    let (server_console, server_out, server_err) = Console::capture(lang);
    let config =
        server::Config { once: true, handle_signals: false, ..server::Config::new(server::Mode::Single) };
    let server = std::thread::spawn(move || server::serve(listener, &config, Arc::new(server_console)));

    let (client_console, client_out, client_err) = Console::capture(lang);
    let client_config = client::Config {
        addrs: vec![addr],
        connect_timeout: Duration::from_secs(5),
        timeout: Duration::from_secs(10),
    };
    let client_result = client::run_message(&client_config, message, &client_console);
    if let Err(error) = &client_result {
        client_console.note(Msg::Error(error));
    }
    // The server serves one connection (`--once`) and returns. If the client
    // never connected, stop waiting: that error is reported below.
    let server_result = if client_result.is_ok() { server.join().unwrap_or(Ok(())) } else { Ok(()) };

    console.say(Msg::DemoServerTitle { addr });
    print_block(console, &server_out.text());
    print_block(console, &stderr_without_listening(&server_err.text(), lang, addr));
    console.say(Msg::DemoClientTitle { addr });
    print_block(console, &client_out.text());
    print_block(console, &client_err.text());
    client_result?;
    server_result?;

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

/// The server's "listening on" note is the demo's title already.
fn stderr_without_listening(text: &str, lang: Lang, addr: SocketAddr) -> String {
    let listening =
        format!("eco: {}", lang.text(&Msg::Listening { addr, mode: server::Mode::Single.name() }));
    text.lines().filter(|line| *line != listening).map(|line| format!("{line}\n")).collect()
}

fn print_block(console: &Console, text: &str) {
    for line in text.lines() {
        console.say(Msg::Raw(line));
    }
}
