//! Running under systemd with `Accept=no` (contrib/eco.socket): systemd
//! opens the listening socket, passes it as descriptor 3 (LISTEN_FDS,
//! LISTEN_PID), and is told when eco is ready and when it stops
//! (sd_notify: READY=1, STOPPING=1). The protocol's parsing is the
//! `listenfd` crate's, the notification the `sd-notify` crate's.
//!
//! The socket stays systemd's: on a stop eco must not shut it down (the
//! next start gets the same socket, with the clients that queued in the
//! meantime), so the blocking modes' accept is woken by a connection to
//! itself instead (see `Stop`).

use std::net::TcpListener;

use crate::error::{Doing, Error, Result};

/// The listening TCP socket systemd passed, if it passed one. Call it
/// before any thread starts: it clears LISTEN_FDS and LISTEN_PID from the
/// environment (so that eco's own children do not take the socket too).
pub fn inherited() -> Result<Option<TcpListener>> {
    let mut fds = listenfd::ListenFd::from_env();
    if fds.len() == 0 {
        return Ok(None);
    }
    match fds.take_tcp_listener(0) {
        Ok(Some(listener)) => Ok(Some(listener)),
        Ok(None) => Ok(None),
        Err(source) => Err(Error::Io { doing: Doing::Inherited, source }),
    }
}

/// Tells systemd (when NOTIFY_SOCKET names it) that eco now serves.
pub fn ready() {
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
}

/// Tells systemd that eco is stopping (it finishes its connections first).
pub fn stopping() {
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
}
