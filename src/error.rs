//! The errors that end an `eco` command, each naming the value at fault and
//! what to do next.
//!
//! A hand-written enum instead of `thiserror`: the sentences live in
//! `i18n` (in two languages), so a derive would only add a second copy of
//! the English text.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::i18n::{Lang, Msg};

#[derive(Debug)]
pub enum Error {
    /// `--host` is neither an IP address nor a name this machine resolves.
    BadHost { host: String },
    /// Another process listens on this address already.
    AddrInUse { addr: SocketAddr },
    /// Ports below 1024 need root or CAP_NET_BIND_SERVICE.
    PortNeedsPrivilege { addr: SocketAddr },
    /// The IP address belongs to no interface of this machine.
    AddrNotAvailable { addr: SocketAddr },
    /// Nothing listens at `addr` (the peer answered with RST).
    ConnectRefused { addr: SocketAddr },
    /// No answer to the SYN within the connect timeout.
    ConnectTimeout { addr: SocketAddr, timeout: Duration },
    /// The echo did not come back within the timeout.
    EchoTimeout { addr: SocketAddr, timeout: Duration, got: usize, expected: usize },
    /// The server closed before echoing everything.
    EchoShort { addr: SocketAddr, got: usize, expected: usize },
    /// The echo differs from what was sent, first at byte `offset`.
    EchoMismatch { addr: SocketAddr, offset: usize, sent: u8, got: u8 },
    /// `eco trace` captures on `lo`: the exchange must use a loopback address.
    TraceNotLoopback { addr: SocketAddr },
    /// Opening the packet capture on `lo` failed.
    Capture { source: io::Error },
    /// Capture needs a privilege this process lacks, and no namespace helped.
    CaptureDenied { reason: String },
    /// `--read FILE` could not be read as pcap or pcapng.
    PcapRead { path: PathBuf, source: io::Error },
    /// `--pcap FILE` could not be written.
    WriteFile { path: PathBuf, source: io::Error },
    /// `eco bench` saw echoes that were wrong (counted by kind in the report).
    BenchFailed { errors: crate::bench::stats::Errors },
    /// `eco client --udp` with a message longer than one datagram can carry.
    DatagramTooLong { len: usize },
    /// `eco bench --size` below the message header.
    BenchSize { size: usize },
    /// Any other I/O failure, with what eco was doing.
    Io { doing: Doing, source: io::Error },
}

/// What eco was doing when an otherwise unexpected I/O error struck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doing {
    Bind(SocketAddr),
    Connect(SocketAddr),
    Talk(SocketAddr),
    Setup,
}

impl Error {
    /// 2 for bad input (as for a usage error), 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::BadHost { .. }
            | Error::TraceNotLoopback { .. }
            | Error::BenchSize { .. }
            | Error::DatagramTooLong { .. } => 2,
            _ => 1,
        }
    }

    /// The one-line message in `lang`.
    pub fn localized(&self, lang: Lang) -> String {
        lang.text(&Msg::Error(self))
    }

    /// Turns a failed `bind`/`listen` into the error a user can act on.
    pub fn from_bind(addr: SocketAddr, source: io::Error) -> Error {
        match source.kind() {
            io::ErrorKind::AddrInUse => Error::AddrInUse { addr },
            io::ErrorKind::PermissionDenied if addr.port() < 1024 => Error::PortNeedsPrivilege { addr },
            io::ErrorKind::AddrNotAvailable => Error::AddrNotAvailable { addr },
            _ => Error::Io { doing: Doing::Bind(addr), source },
        }
    }

    /// Turns a failed `connect` into the error a user can act on.
    pub fn from_connect(addr: SocketAddr, timeout: Duration, source: io::Error) -> Error {
        match source.kind() {
            io::ErrorKind::ConnectionRefused => Error::ConnectRefused { addr },
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Error::ConnectTimeout { addr, timeout },
            _ => Error::Io { doing: Doing::Connect(addr), source },
        }
    }
}

/// English, so that `{err}` in logs and tests reads the same everywhere.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.localized(Lang::En))
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. }
            | Error::Capture { source }
            | Error::PcapRead { source, .. }
            | Error::WriteFile { source, .. } => Some(source),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
