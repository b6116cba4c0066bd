//! `getsockopt(TCP_INFO)`: the kernel's own counters for one TCP socket.
//!
//! Works for any user on their own sockets, with or without capture: the
//! round-trip time the kernel measured, retransmissions, and how many
//! segments went each way. Counts, not segments: a summary under the table.
#![allow(unsafe_code)]

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

/// The fields of `struct tcp_info` that eco shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpInfo {
    /// Smoothed round-trip time and its variation.
    pub rtt: Duration,
    pub rttvar: Duration,
    /// Retransmission timeout: how long the kernel waits for an ACK before resending.
    pub rto: Duration,
    /// Segments retransmitted over the connection's life.
    pub total_retrans: u32,
    pub segs_out: u32,
    pub segs_in: u32,
    /// Bytes the peer acknowledged, and bytes received from it.
    pub bytes_acked: u64,
    pub bytes_received: u64,
    /// Congestion window, in segments.
    pub snd_cwnd: u32,
    /// Segments sent and not yet acknowledged, and bytes not sent yet:
    /// both 0 when nothing is in flight (then the peer owes us nothing).
    pub unacked: u32,
    pub notsent_bytes: u32,
}

pub fn tcp_info(socket: impl AsFd) -> io::Result<TcpInfo> {
    // SAFETY: an all-zero tcp_info is a valid value of the C struct.
    let mut info: libc::tcp_info = unsafe { zeroed() };
    let mut len = size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` is a live tcp_info and `len` its size; the kernel
    // writes at most `len` bytes and tells how many.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_fd().as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast(),
            &raw mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let micros = |us: u32| Duration::from_micros(us.into());
    Ok(TcpInfo {
        rtt: micros(info.tcpi_rtt),
        rttvar: micros(info.tcpi_rttvar),
        rto: micros(info.tcpi_rto),
        total_retrans: info.tcpi_total_retrans,
        segs_out: info.tcpi_segs_out,
        segs_in: info.tcpi_segs_in,
        bytes_acked: info.tcpi_bytes_acked,
        bytes_received: info.tcpi_bytes_received,
        snd_cwnd: info.tcpi_snd_cwnd,
        unacked: info.tcpi_unacked,
        notsent_bytes: info.tcpi_notsent_bytes,
    })
}
