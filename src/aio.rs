//! Socket I/O for tokio tasks with one system call per read or write.
//!
//! tokio's own `TcpStream` forgets that a socket is readable only when a
//! read fails with "would block", so a ping-pong costs one more `read()`
//! per message, which returns nothing. Here a read that did not fill the
//! buffer tells tokio the socket is drained, and writes go straight to the
//! kernel (it nearly always has room). Used by the async server's echo loop
//! and by `eco bench`'s connections, where that system call is a fifth of
//! the work.
//!
//! And for streams: [`splice_in`] / [`splice_out`] move bytes from a socket
//! to a pipe and from the pipe to the socket inside the kernel, the
//! zero-copy path that Go's `io.Copy` takes on Linux.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, OwnedFd};

use rustix::pipe::{PipeFlags, SpliceFlags, fcntl_setpipe_size, pipe_with};

use tokio::io::unix::AsyncFd;

/// Hands a socket to tokio's reactor (epoll) for readiness events. It must
/// be in non-blocking mode already, as `tokio::net::TcpStream::into_std`
/// leaves it.
#[allow(unsafe_code)]
pub fn register(socket: TcpStream) -> io::Result<AsyncFd<TcpStream>> {
    // SAFETY: the AsyncFd owns the TcpStream, so its descriptor stays open
    // and the same for the AsyncFd's whole life (std's TcpStream never
    // changes the fd it wraps).
    unsafe { AsyncFd::register(socket) }.map_err(|e| e.into_parts().1)
}

/// Reads what the socket has, waiting (epoll) while it has nothing.
///
/// A read that did not fill the buffer has drained the socket, and saying
/// so (`clear_ready`) saves the empty read. It is safe: tokio clears only if
/// no new readiness event came in meanwhile, and never clears a FIN
/// (read-closed), so no wake-up is lost.
pub async fn read(socket: &AsyncFd<TcpStream>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        let mut ready = socket.readable().await?;
        match ready.try_io(|socket| socket.get_ref().read(buf)) {
            Ok(Ok(n)) => {
                if n > 0 && n < buf.len() {
                    ready.clear_ready();
                }
                return Ok(n);
            }
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Ok(Err(e)) => return Err(e),
            // "Would block": try_io has cleared the readiness; wait again.
            Err(_would_block) => {}
        }
    }
}

/// Writes all of `data`: straight to the kernel, waiting for room (epoll)
/// only when it says there is none.
pub async fn write_all(socket: &AsyncFd<TcpStream>, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        let n = write_some(socket, data).await?;
        data = &data[n..];
    }
    Ok(())
}

/// Writes some of `data` (at least one byte, unless it is empty): straight
/// to the kernel, waiting for room (epoll) only when it says there is none.
/// The server's echo loop writes this way to see each bit of progress of
/// a slow reader (which is not idle).
pub async fn write_some(socket: &AsyncFd<TcpStream>, data: &[u8]) -> io::Result<usize> {
    loop {
        match socket.get_ref().write(data) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // The peer is not reading: wait until it does (backpressure).
                let mut ready = socket.writable().await?;
                if let Ok(written) = ready.try_io(|socket| socket.get_ref().write(data)) {
                    return written;
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// A kernel pipe, for moving a socket's bytes to a socket without copying
/// them through user space (`splice`).
pub struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
}

/// How much a pipe holds (F_SETPIPE_SZ): each `splice` moves up to this much.
pub const PIPE_SIZE: usize = 256 << 10;

impl Pipe {
    pub fn new() -> io::Result<Pipe> {
        let (read, write) = pipe_with(PipeFlags::NONBLOCK | PipeFlags::CLOEXEC)?;
        // A larger pipe means fewer splices per megabyte; the default
        // (64 KiB) still works if the system refuses.
        let _ = fcntl_setpipe_size(&write, PIPE_SIZE);
        Ok(Pipe { read, write })
    }
}

/// `splice()`: up to `len` bytes from `from` to `to`, one of them a pipe,
/// without waiting (SPLICE_F_NONBLOCK) and moving pages, not copying them.
fn splice(from: impl AsFd, to: impl AsFd, len: usize) -> io::Result<usize> {
    rustix::pipe::splice(from, None, to, None, len, SpliceFlags::NONBLOCK | SpliceFlags::MOVE)
        .map_err(Into::into)
}

/// What [`splice_in`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spliced {
    /// Bytes moved into the pipe (0: the peer's FIN).
    Moved(usize),
    /// The socket has bytes that splice cannot move: they come after an
    /// urgent mark (a byte sent with MSG_OOB), where the kernel's splice
    /// stops for good. A plain `read` goes past it (leaving the urgent
    /// byte out, as every mode does).
    AtUrgentMark,
}

/// Moves up to `len` bytes the socket has into `pipe`, waiting while it has
/// none. The pipe must be empty.
pub async fn splice_in(socket: &AsyncFd<TcpStream>, pipe: &Pipe, len: usize) -> io::Result<Spliced> {
    loop {
        let mut ready = socket.readable().await?;
        match ready.try_io(|socket| match splice(socket.get_ref(), &pipe.write, len) {
            // "Would block" although the socket may hold bytes: peek (one
            // byte, no wait) to tell an empty socket from an urgent mark.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => match socket.get_ref().peek(&mut [0u8]) {
                Ok(n) if n > 0 => Ok(Err(Spliced::AtUrgentMark)),
                _ => Err(e),
            },
            Ok(0) => Ok(at_end_or_mark(socket.get_ref()).map(|_| 0)),
            other => other.map(Ok),
        }) {
            Ok(Ok(Err(at_mark))) => return Ok(at_mark),
            Ok(Ok(Ok(n))) => return Ok(Spliced::Moved(n)),
            // Unlike `read`, less than asked for does not mean the socket
            // is drained: splice also stops when the pipe has no free slot
            // (each segment takes one, so 4 000-byte segments fill a
            // 64-slot pipe at 256 000 bytes) while the socket still holds
            // more. Clearing the readiness here would wait for an event
            // that never comes while the client waits for its echo. So the
            // readiness stays, and the next call finds out: more bytes, or
            // "would block" (which clears it).
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => {}
        }
    }
}

/// Moves some of the `len` bytes waiting in `pipe` out to the socket (at
/// least one), waiting for room (epoll) only when there is none.
pub async fn splice_out_some(pipe: &Pipe, socket: &AsyncFd<TcpStream>, len: usize) -> io::Result<usize> {
    loop {
        match splice(&pipe.read, socket.get_ref(), len) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // The peer is not reading: wait for room (backpressure).
                let mut ready = socket.writable().await?;
                if let Ok(moved) = ready.try_io(|socket| splice(&pipe.read, socket.get_ref(), len)) {
                    return moved;
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// What a `splice` that moved nothing means: the peer's FIN, or an urgent
/// mark with bytes after it. Once the peer has sent its FIN the kernel's
/// splice returns 0 at an urgent mark (not "would block"), as if the
/// stream ended there; a peek (one byte, no wait) tells them apart.
fn at_end_or_mark(socket: &TcpStream) -> Result<Spliced, Spliced> {
    match socket.peek(&mut [0u8]) {
        Ok(n) if n > 0 => Err(Spliced::AtUrgentMark),
        _ => Ok(Spliced::Moved(0)),
    }
}

/// [`splice_in`] without waiting, for a caller that learnt otherwise that
/// the socket is readable (`--mode uring`): "would block" when it is empty.
pub fn splice_in_now(socket: &TcpStream, pipe: &Pipe, len: usize) -> io::Result<Spliced> {
    match splice(socket, &pipe.write, len) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => match socket.peek(&mut [0u8]) {
            Ok(n) if n > 0 => Ok(Spliced::AtUrgentMark),
            _ => Err(e),
        },
        Ok(0) => Ok(at_end_or_mark(socket).unwrap_or_else(|at_mark| at_mark)),
        other => other.map(Spliced::Moved),
    }
}

/// Some of the `len` bytes in `pipe` out to the socket, without waiting
/// ("would block" when its send buffer is full).
pub fn splice_out_now(pipe: &Pipe, socket: &TcpStream, len: usize) -> io::Result<usize> {
    splice(&pipe.read, socket, len)
}
