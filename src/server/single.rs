//! `--mode single`: the classroom exercise's `servidor.py`, in Rust.
//!
//! Blocking calls, one client at a time: while a client is being served,
//! the next ones wait in the kernel's accept queue (their handshakes are
//! already done: the kernel answered them). Read this file next to a packet
//! capture (`eco trace`) to see which call causes which segment.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use super::{Backoff, Config, Shared, Stop, ack_fin_apart};
use crate::error::Result;

pub(super) fn serve(listener: TcpListener, config: &Config, shared: Arc<Shared>) -> Result<()> {
    let stop = Stop::install(&listener, config, &shared)?;
    let mut buf = vec![0u8; config.buffer];
    let mut backoff = Backoff::default();
    loop {
        // accept(): sleeps until the kernel has a connection whose three-way
        // handshake (SYN, SYN-ACK, ACK) is complete, then hands it over as a
        // new socket. The listening socket stays open for the next client.
        let (mut stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(_) if stop.requested() => return Ok(()),
            Err(error) => {
                std::thread::sleep(shared.accept_failed(&error, &mut backoff));
                continue;
            }
        };
        backoff.reset();
        let guard = shared.opened(peer);
        let result = stream
            .set_nodelay(config.nodelay)
            .and_then(|()| echo(&mut stream, &mut buf))
            .and_then(|echoed| ack_fin_apart(&stream, config).map(|()| echoed));
        // close(): dropping the socket sends our FIN. The client's FIN came
        // first (that is what ended `echo`), so this completes the close.
        drop(stream);
        drop(guard);
        shared.closed(peer, result);
        if config.once || stop.requested() {
            return Ok(());
        }
        shared.console.say(crate::i18n::Msg::Waiting);
    }
}

/// Echoes until the client closes its side; returns the bytes echoed.
///
/// Shared with `threads` mode: it is the whole application level of an echo
/// server. No framing, no protocol: bytes in, the same bytes out.
pub(super) fn echo(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        // recv(): sleeps until bytes arrive, then returns up to `buf.len()`
        // of them (the exercise's recv(1024)). A message longer than the
        // buffer simply takes several turns of this loop. The kernel has
        // already ACKed these bytes; the client did not wait for us.
        let n = match stream.read(buf) {
            // 0 bytes: the client sent FIN (close or shutdown(SHUT_WR)).
            // RFC 862: everything received was sent back already, so we
            // are done and may close.
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        // send(): `write_all` calls send() until the kernel has taken every
        // byte into the socket's send buffer. If the client does not read,
        // that buffer fills and we wait here (and stop reading): the
        // backpressure that keeps a server's memory bounded.
        stream.write_all(&buf[..n])?;
        total += n as u64;
    }
}
