//! `--mode single`: the classroom exercise's `servidor.py`, in Rust.
//!
//! Blocking calls, one client at a time: while a client is being served,
//! the next ones wait in the kernel's accept queue (their handshakes are
//! already done: the kernel answered them). Read this file next to a packet
//! capture (`eco trace`) to see which call causes which segment.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;

use super::conn::{Backoff, ConnGuard, EndReason, Ended, Shared};
use super::{Msg, Stop, ack_fin_apart, peer_took_bytes, reset, room};
use crate::error::Result;

pub(super) fn serve(listener: TcpListener, shared: &Arc<Shared>, stop: &Stop) -> Result<()> {
    let mut buf = vec![0u8; shared.config.buffer];
    let mut backoff = Backoff::default();
    while let Some((stream, peer)) = accept(&listener, shared, stop, &mut backoff) {
        // Refused (deny list, per-IP limit): reset, and wait for the next
        // one; `--once` means one client *served*.
        let Some(guard) = shared.admit(&stream, peer) else { continue };
        let served = handle(stream, guard, &mut buf);
        if (shared.config.once && served) || stop.requested() {
            break;
        }
        shared.console.say(&Msg::Waiting);
    }
    Ok(())
}

/// The next client, or `None` once a stop was requested; shared with
/// `threads` mode.
pub(super) fn accept(
    listener: &TcpListener,
    shared: &Shared,
    stop: &Stop,
    backoff: &mut Backoff,
) -> Option<(TcpStream, SocketAddr)> {
    loop {
        // accept(): sleeps until the kernel has a connection whose three-way
        // handshake (SYN, SYN-ACK, ACK) is complete, then hands it over as a
        // new socket. The listening socket stays open for the next client.
        // It sleeps as long as it takes: no timeout is set on the listening
        // socket, so a server left idle for hours answers the next client
        // at once.
        match listener.accept() {
            // Stopping: what was accepted now (the connection that woke us
            // from a socket systemd keeps, or a late client) is closed.
            Ok(_) if stop.requested() => return None,
            Ok(accepted) => {
                shared.accepted(backoff);
                // --accept-delay: a server slow to take its clients. This
                // one waits before serving it, and the next ones wait in
                // the kernel's backlog meanwhile (their handshakes done).
                let until = std::time::Instant::now() + shared.config.misbehave.accept_delay;
                while let Some(left) = until.checked_duration_since(std::time::Instant::now()) {
                    if stop.requested() || left.is_zero() {
                        break;
                    }
                    // In steps, so that a stop is not kept waiting.
                    std::thread::sleep(left.min(std::time::Duration::from_millis(50)));
                }
                if stop.requested() {
                    // Stopped while it waited: it is closed, not served.
                    return None;
                }
                return Some(accepted);
            }
            // The signal thread shut the listening socket down to wake us.
            Err(_) if stop.requested() => return None,
            // Out of file descriptors (say): none of it stops the server.
            // Wait until a connection closes, or a short while.
            Err(error) => {
                let pause = shared.accept_failed(&error, backoff);
                shared.active.wait_leave(pause);
            }
        }
    }
}

/// Serves one admitted connection to its end; shared with `threads` mode.
/// (TCP_NODELAY and keepalive came with it: accepted sockets inherit the
/// listening socket's options.)
/// Returns whether the client was served (not turned away at its PROXY
/// header or TLS handshake: `--once` waits for the next one then).
pub(super) fn handle(stream: TcpStream, mut guard: ConnGuard, buf: &mut [u8]) -> bool {
    if guard.shared().config.custom() {
        // A PROXY header, TLS or misbehaviour: the loop that does them.
        return super::custom::serve_blocking(stream, guard);
    }
    let limits = &guard.shared().config.limits;
    let (idle, max_bytes) = (limits.idle_timeout, limits.max_bytes);
    // The idle timeout: a recv() or send() that waits longer than this
    // fails with "would block" (EAGAIN), which ends the connection.
    let timeouts = stream.set_read_timeout(idle).and_then(|()| stream.set_write_timeout(idle));
    // Shared with the signal thread, which may cut the connection off at the
    // end of the shutdown grace.
    let stream = Arc::new(stream);
    guard.register(&stream);
    let ended = match timeouts {
        Ok(()) => echo(&stream, buf, max_bytes),
        Err(error) => Ended { bytes_in: 0, bytes_out: 0, reason: EndReason::from_error(error) },
    };
    if matches!(ended.reason, EndReason::Fin) {
        let _ = ack_fin_apart(&*stream, &guard.shared().config);
    }
    if ended.bytes_out < ended.bytes_in {
        // Ended with echo still owed (the client stopped reading past
        // --idle-timeout, say): a reset, so that the client cannot take
        // the partial echo for a complete one.
        reset(&*stream);
    }
    // close(): dropping the last handle on the socket sends our FIN. The
    // client's FIN came first (that is what ended `echo`), so this
    // completes the close.
    drop(stream);
    guard.finish(ended);
    true
}

/// Echoes until the client closes its side (or a limit ends the
/// connection); says how much went each way and why it ended.
///
/// This is the whole application level of an echo server. No framing, no
/// protocol: bytes in, the same bytes out.
fn echo(mut stream: &TcpStream, buf: &mut [u8], max_bytes: Option<u64>) -> Ended {
    let (mut bytes_in, mut bytes_out) = (0u64, 0u64);
    // What the peer had acknowledged when a write last timed out (see
    // `peer_took_bytes`).
    let mut acked = None;
    let reason = loop {
        let room = room(max_bytes, bytes_in, buf.len());
        if room == 0 {
            break EndReason::Limit;
        }
        // recv(): sleeps until bytes arrive, then returns up to `room` of
        // them (the exercise's recv(1024)). A message longer than the
        // buffer simply takes several turns of this loop. The kernel has
        // already ACKed these bytes; the client did not wait for us.
        let n = match stream.read(&mut buf[..room]) {
            // 0 bytes: the client sent FIN (close or shutdown(SHUT_WR)).
            // RFC 862: everything received was sent back already, so we
            // are done and may close.
            Ok(0) => break EndReason::Fin,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break EndReason::from_error(e),
        };
        bytes_in += n as u64;
        // send(): called until the kernel has taken every byte into the
        // socket's send buffer. If the client does not read, that buffer
        // fills and we wait here (and stop reading): the backpressure that
        // keeps a server's memory bounded. A wait past the idle timeout
        // ends the connection, unless the client took bytes meanwhile.
        let mut sent = 0;
        while sent < n {
            match stream.write(&buf[sent..n]) {
                Ok(k) => {
                    if sent + k < n {
                        // The send buffer is full: note what the client
                        // has acknowledged, for the next timeout to compare.
                        peer_took_bytes(stream, &mut acked);
                    }
                    sent += k;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && peer_took_bytes(stream, &mut acked) => {}
                Err(e) => {
                    bytes_out += sent as u64;
                    return Ended { bytes_in, bytes_out, reason: EndReason::from_error(e) };
                }
            }
        }
        bytes_out += n as u64;
    };
    Ended { bytes_in, bytes_out, reason }
}
