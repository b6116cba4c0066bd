//! `eco client`: the exercise's `cliente.py`, plus ping-like and pipe modes.
//!
//! The order of the calls matters on the wire: connect (the handshake),
//! send, read the whole echo, *then* close. Closing after the echo is read
//! makes the client's FIN the first one, which gives the exercise's close.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::console::Console;
use crate::error::{Doing, Error, Result};
use crate::i18n::Msg;

/// The exercise's message: 52 characters, 55 bytes in UTF-8.
pub const EXERCISE_MESSAGE: &str = "Olá Servidor, meu nome é Cliente e sou o único aqui.";

#[derive(Debug, Clone)]
pub struct Config {
    /// The server's addresses, tried in order (a name may have several).
    pub addrs: Vec<SocketAddr>,
    pub connect_timeout: Duration,
    /// How long to wait for an echo to come back.
    pub timeout: Duration,
}

/// Opens a connection to the first address of `config` that accepts one.
pub fn connect(config: &Config) -> Result<TcpStream> {
    let mut last_error = None;
    for &addr in &config.addrs {
        // connect(): the kernel sends SYN and this call sleeps until the
        // server's SYN-ACK has arrived and our ACK is sent: the three-way
        // handshake is over when it returns.
        match TcpStream::connect_timeout(&addr, config.connect_timeout) {
            Ok(stream) => {
                // TCP_NODELAY: send each message at once; see server::Config.
                stream.set_nodelay(true).map_err(|source| talk(Some(addr), source))?;
                return Ok(stream);
            }
            Err(source) => last_error = Some(Error::from_connect(addr, config.connect_timeout, source)),
        }
    }
    Err(last_error.unwrap_or(Error::BadHost { host: String::new() }))
}

/// Sends `message` and reads back exactly as many bytes, into `echo`; fails
/// unless the echo is identical.
pub fn round_trip(
    stream: &mut TcpStream,
    message: &[u8],
    timeout: Duration,
    echo: &mut Vec<u8>,
) -> Result<()> {
    send(stream, message)?;
    receive_echo(stream, message, timeout, echo)
}

/// Hands all of `message` to the kernel.
pub fn send(stream: &mut TcpStream, message: &[u8]) -> Result<()> {
    // send(): `write_all` hands every byte to the kernel, which sends them
    // in segments and retransmits what is lost; we do not wait for ACKs.
    stream.write_all(message).map_err(|source| talk(peer_of(stream).ok(), source))
}

/// Reads exactly `message.len()` bytes into `echo` and checks them against `message`.
pub fn receive_echo(
    stream: &mut TcpStream,
    message: &[u8],
    timeout: Duration,
    echo: &mut Vec<u8>,
) -> Result<()> {
    let addr = peer_of(stream)?;
    let talk = |source| talk(Some(addr), source);
    stream.set_read_timeout(Some(timeout).filter(|t| !t.is_zero())).map_err(talk)?;
    echo.clear();
    echo.resize(message.len(), 0);
    let mut got = 0;
    // TCP is a byte stream: the echo may arrive in several pieces, so read
    // until we have as many bytes as we sent (the exercise's single
    // recv(1024) works only because its message is short).
    while got < message.len() {
        match stream.read(&mut echo[got..]) {
            Ok(0) => return Err(Error::EchoShort { addr, got, expected: message.len() }),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Err(Error::EchoTimeout { addr, timeout, got, expected: message.len() });
            }
            Err(source) => return Err(talk(source)),
        }
    }
    check_echo(addr, message, echo)
}

/// The exercise: one message, its echo printed, then close.
pub fn run_message(config: &Config, message: &str, console: &Console) -> Result<()> {
    let mut stream = connect(config)?;
    let mut echo = Vec::with_capacity(message.len());
    round_trip(&mut stream, message.as_bytes(), config.timeout, &mut echo)?;
    console.say(Msg::Echoed { message: &String::from_utf8_lossy(&echo) });
    // close(): our FIN goes out first; the server's recv() returns 0 and it
    // closes too.
    drop(stream);
    Ok(())
}

/// `--count N`: N round trips on one connection, each timed, like ping.
pub fn run_count(
    config: &Config,
    message: &str,
    count: u64,
    interval: Duration,
    console: &Console,
) -> Result<()> {
    let mut stream = connect(config)?;
    let peer = peer_of(&stream)?;
    let mut echo = Vec::with_capacity(message.len());
    let mut times = Vec::with_capacity(count.min(1 << 20) as usize);
    for seq in 1..=count {
        if seq > 1 && !interval.is_zero() {
            std::thread::sleep(interval);
        }
        let start = Instant::now();
        round_trip(&mut stream, message.as_bytes(), config.timeout, &mut echo)?;
        let time = start.elapsed();
        console.say(Msg::RoundTripTime { bytes: message.len(), peer, seq, time });
        times.push(time);
    }
    drop(stream);
    summarize(peer, count, &times, console);
    Ok(())
}

/// The ping-like summary: sent, echoed, lost, min/avg/max of the round trips.
fn summarize(peer: SocketAddr, sent: u64, times: &[Duration], console: &Console) {
    let (Some(&min), Some(&max)) = (times.iter().min(), times.iter().max()) else {
        let zero = Duration::ZERO;
        console.say(Msg::RoundTripSummary { peer, sent, received: 0, min: zero, avg: zero, max: zero });
        return;
    };
    let avg = times.iter().sum::<Duration>() / times.len() as u32;
    console.say(Msg::RoundTripSummary { peer, sent, received: times.len() as u64, min, avg, max });
}

/// `--udp`: the message as one datagram, its echo as one datagram.
///
/// UDP keeps no connection and promises no delivery: a datagram or its
/// echo may be lost, and nothing resends it. With `--count`, a missing
/// echo counts as lost (like ping); for one message, it is an error.
pub fn run_udp(
    config: &Config,
    message: &str,
    count: Option<u64>,
    interval: Duration,
    console: &Console,
) -> Result<()> {
    // 65 535 minus the IPv4 and UDP headers; longer needs IP fragments no
    // server is obliged to take (IPv6 allows 20 bytes more; one limit is simpler).
    if message.len() > 65_507 {
        return Err(Error::DatagramTooLong { len: message.len() });
    }
    let addr = config.addrs[0];
    let talk = |source| talk(Some(addr), source);
    let local: SocketAddr =
        if addr.is_ipv6() { "[::]:0".parse() } else { "0.0.0.0:0".parse() }.expect("literal");
    let socket = UdpSocket::bind(local).map_err(|source| Error::Io { doing: Doing::Setup, source })?;
    // connect() on UDP sends nothing: it fixes the peer, so that send()
    // needs no address and recv() takes datagrams from that peer only.
    socket.connect(addr).map_err(talk)?;
    socket.set_read_timeout(Some(config.timeout).filter(|t| !t.is_zero())).map_err(talk)?;
    let mut echo = vec![0u8; crate::server::udp::MAX_DATAGRAM + 1];
    let rounds = count.unwrap_or(1);
    let mut times = Vec::new();
    for seq in 1..=rounds {
        if seq > 1 && !interval.is_zero() {
            std::thread::sleep(interval);
        }
        let start = Instant::now();
        socket.send(message.as_bytes()).map_err(talk)?;
        let got = match socket.recv(&mut echo) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                if count.is_none() {
                    return Err(Error::EchoTimeout {
                        addr,
                        timeout: config.timeout,
                        got: 0,
                        expected: message.len(),
                    });
                }
                console.say(Msg::RoundTripLost { peer: addr, seq, timeout: config.timeout });
                continue;
            }
            Err(source) => return Err(talk(source)),
        };
        let time = start.elapsed();
        check_echo(addr, message.as_bytes(), &echo[..got])?;
        match count {
            Some(_) => console.say(Msg::RoundTripTime { bytes: got, peer: addr, seq, time }),
            None => console.say(Msg::Echoed { message: &String::from_utf8_lossy(&echo[..got]) }),
        }
        times.push(time);
    }
    if count.is_some() {
        summarize(addr, rounds, &times, console);
    }
    Ok(())
}

/// Fails unless `echo` is exactly `sent`.
fn check_echo(addr: SocketAddr, sent: &[u8], echo: &[u8]) -> Result<()> {
    if let Some(offset) = sent.iter().zip(echo).position(|(s, e)| s != e) {
        return Err(Error::EchoMismatch { addr, offset, sent: sent[offset], got: echo[offset] });
    }
    if echo.len() != sent.len() {
        return Err(Error::EchoShort { addr, got: echo.len(), expected: sent.len() });
    }
    Ok(())
}

/// `--stdin`: standard input to the server, the echo to standard output.
///
/// Two directions at once, so two threads: a writer that copies stdin to
/// the socket and then half-closes (shutdown(SHUT_WR) sends FIN, like
/// `nc -N`), and this thread copying the echo to stdout until the server's
/// FIN. One thread could deadlock: blocked writing while the server, whose
/// send buffer is full, waits for us to read.
pub fn run_stdin(config: &Config) -> Result<()> {
    let stream = connect(config)?;
    let addr = peer_of(&stream)?;
    let setup = |source| Error::Io { doing: Doing::Setup, source };
    // Raw file handles on fd 0 and 1: no line buffering, binary-safe, and
    // std::io::copy may then move the bytes with splice() inside the kernel.
    let mut stdin = File::from(io::stdin().as_fd().try_clone_to_owned().map_err(setup)?);
    let mut stdout = File::from(io::stdout().as_fd().try_clone_to_owned().map_err(setup)?);
    let mut to_server = stream.try_clone().map_err(|source| talk(Some(addr), source))?;
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("eco-stdin".into())
        .spawn(move || {
            let result =
                io::copy(&mut stdin, &mut to_server).and_then(|_| to_server.shutdown(Shutdown::Write));
            let _ = done_tx.send(result);
        })
        .map_err(setup)?;
    let mut from_server = stream;
    match io::copy(&mut from_server, &mut stdout) {
        Ok(_) => {}
        // Whoever reads our stdout has gone (`eco client --stdin | head`):
        // not an error, as for any Unix filter.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
        Err(source) => return Err(talk(Some(addr), source)),
    }
    // The server has closed. If the writer had failed (say, the server
    // reset the connection), say so; if it is still reading a terminal,
    // there is nothing left to wait for.
    match done_rx.try_recv() {
        Ok(Err(source)) => Err(talk(Some(addr), source)),
        _ => Ok(()),
    }
}

fn peer_of(stream: &TcpStream) -> Result<SocketAddr> {
    stream.peer_addr().map_err(|source| Error::Io { doing: Doing::Setup, source })
}

fn talk(addr: Option<SocketAddr>, source: io::Error) -> Error {
    let doing = addr.map_or(Doing::Setup, Doing::Talk);
    Error::Io { doing, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exercise_message_is_52_characters_and_55_bytes() {
        assert_eq!(EXERCISE_MESSAGE.chars().count(), 52);
        assert_eq!(EXERCISE_MESSAGE.len(), 55);
    }
}
