//! Socket I/O for tokio tasks with one system call per read or write.
//!
//! tokio's own `TcpStream` forgets that a socket is readable only when a
//! read fails with "would block", so a ping-pong costs one more `read()`
//! per message, which returns nothing. Here a read that did not fill the
//! buffer tells tokio the socket is drained, and writes go straight to the
//! kernel (it nearly always has room). Used by the async server's echo loop
//! and by `eco bench`'s connections, where that system call is a fifth of
//! the work.

use std::io::{self, Read, Write};
use std::net::TcpStream;

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
        match socket.get_ref().write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // The peer is not reading: wait until it does (backpressure).
                let mut ready = socket.writable().await?;
                if let Ok(written) = ready.try_io(|socket| socket.get_ref().write(data)) {
                    data = &data[written?..];
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
