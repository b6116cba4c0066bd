//! `eco server --inetd`: one connection, already accepted by someone else
//! — inetd, or systemd with `Accept=yes` (contrib/eco-inetd.socket) — as
//! standard input and output. The echo is the exercise's loop with the
//! socket calls on descriptors 0 and 1: read what arrives, write it back,
//! until the client's FIN (read returns 0).
//!
//! Nothing is printed on standard output: it is the connection. With -v
//! one line per connection goes to standard error — unless standard error
//! is the connection too (inetd passes the socket as 0, 1 and 2).

use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec, poll};

use super::Config;
use crate::error::{Doing, Error, Result};

pub fn serve(config: &Config) -> Result<()> {
    let (input, output) = (io::stdin(), io::stdout());
    let peer = socket2::SockRef::from(&input).peer_addr().ok().and_then(|a| a.as_socket());
    let log = !same_file(&input, io::stderr());
    let mut buf = vec![0u8; config.buffer];
    let (mut bytes_in, mut bytes_out) = (0u64, 0u64);
    let idle = config.limits.idle_timeout;
    let reason = loop {
        if config.limits.max_bytes.is_some_and(|max| bytes_in >= max) {
            break "max_bytes";
        }
        // Waits for bytes (or the FIN), at most the idle timeout.
        if let Some(idle) = idle
            && !readable(&input, idle)
        {
            break "idle_timeout";
        }
        let room = config.limits.max_bytes.map_or(buf.len(), |max| buf.len().min((max - bytes_in) as usize));
        // read(0): up to `room` bytes, 0 when the client sent FIN.
        let n = match rustix::io::read(&input, &mut buf[..room]) {
            Ok(0) => break "fin",
            Ok(n) => n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(Error::Io { doing: Doing::Setup, source: e.into() }),
        };
        bytes_in += n as u64;
        // write(1): the same bytes back, all of them.
        let mut sent = 0;
        while sent < n {
            match rustix::io::write(&output, &buf[sent..n]) {
                Ok(k) => sent += k,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(Error::Io { doing: Doing::Setup, source: e.into() }),
            }
        }
        bytes_out += n as u64;
    };
    if log {
        let peer = peer.map_or_else(|| "stdin".to_string(), |p| p.to_string());
        // With -v (or --log-format json): one line per connection.
        tracing::info!(peer = %peer, bytes_in, bytes_out, reason, "connection closed");
    }
    Ok(())
}

/// Whether bytes (or an end) can be read within `wait`.
fn readable(fd: impl AsFd, wait: Duration) -> bool {
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let timeout = Timespec { tv_sec: wait.as_secs() as i64, tv_nsec: i64::from(wait.subsec_nanos()) };
    loop {
        match poll(&mut fds, Some(&timeout)) {
            Ok(n) => return n > 0,
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return true,
        }
    }
}

/// Whether two descriptors are the same open file (inetd's socket as
/// 0, 1 and 2).
fn same_file(a: impl AsFd, b: impl AsFd) -> bool {
    match (rustix::fs::fstat(a), rustix::fs::fstat(b)) {
        (Ok(a), Ok(b)) => a.st_dev == b.st_dev && a.st_ino == b.st_ino,
        _ => false,
    }
}
