//! Capturing without root: a user and network namespace of our own.
//!
//! `unshare(CLONE_NEWUSER | CLONE_NEWNET)` makes this process root of a new
//! user namespace (with CAP_NET_RAW there) and gives it a network stack of
//! its own, with only a `lo` that is down. After `lo` is brought up, the
//! echo exchange and its capture are real kernel packets, and nobody
//! else's traffic is in them. This is what `unshare -rn` does.
//!
//! `unshare(CLONE_NEWUSER)` fails in a multithreaded process, so eco calls
//! it in a fresh child process of itself (see `trace::run`), before any
//! thread is started.
#![allow(unsafe_code)]

use std::io;
use std::mem::zeroed;
use std::os::fd::AsRawFd;

/// The variable that tells a child `eco trace` to enter a namespace first.
pub const CHILD_ENV: &str = "ECO_TRACE_IN_NAMESPACE";
/// Set to `0` to never try a namespace (shows the no-capture fallback).
pub const ALLOW_ENV: &str = "ECO_TRACE_NAMESPACE";
/// The child's exit status when the system forbids user namespaces.
pub const UNAVAILABLE: u8 = 75;

/// Enters a new user + network namespace and brings its `lo` up.
pub fn enter() -> io::Result<()> {
    // Our ids outside, to map to root inside.
    let (uid, gid) = (rustix::process::getuid().as_raw(), rustix::process::getgid().as_raw());
    // SAFETY: unshare() changes the namespaces of the calling thread only
    // (rustix marks it unsafe for that); the process is single-threaded here.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // Map our user and group to root of the namespace. `setgroups` must be
    // denied before an unprivileged process may write a gid_map.
    std::fs::write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    std::fs::write("/proc/self/setgroups", "deny")?;
    std::fs::write("/proc/self/gid_map", format!("0 {gid} 1"))?;
    loopback_up()
}

/// `ip link set lo up`, as two ioctls on any socket (no safe wrapper for
/// the interface flags exists in std, socket2 or rustix).
fn loopback_up() -> io::Result<()> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM.cloexec(), None)?;
    // SAFETY: an all-zero ifreq is a valid value of the C struct.
    let mut request: libc::ifreq = unsafe { zeroed() };
    let name = c"lo".to_bytes_with_nul();
    for (slot, byte) in request.ifr_name.iter_mut().zip(name) {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: `request` is a valid ifreq naming `lo`; the kernel fills the flags.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &raw mut request) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: SIOCGIFFLAGS filled the `ifru_flags` member of the union.
    unsafe { request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: as above, with the new flags.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &raw const request) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
