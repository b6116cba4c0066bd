//! What the labs do to their namespace and with their sockets: kernel
//! settings, firewall rules, the socket table, and the few calls every
//! actor makes (listen, connect), each made explicitly so that it shows in
//! the lab's table as the program wrote it.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::process::Command;

use socket2::{Domain, Socket, Type};

/// The lab's server address: 127.0.0.1:5050 in the lab's own namespace.
pub fn server_addr() -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, super::PORT))
}

/// socket(), [setsockopt(SO_REUSEADDR)], bind(127.0.0.1:port),
/// listen(backlog). Without `reuse` the bind fails while an old
/// connection on the port is in TIME_WAIT (the time-wait lab's point);
/// std's `TcpListener::bind` always sets SO_REUSEADDR, so it is not used.
pub fn listen_on(port: u16, backlog: i32, reuse: bool) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    if reuse {
        socket.set_reuse_address(true)?;
    }
    socket.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)).into())?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

/// socket(), then `before` (options to set: a receive buffer is best set
/// before listen(), since the window scale is agreed on in the handshake),
/// bind(127.0.0.1:5050), listen(backlog).
pub fn listen_with(backlog: i32, before: impl FnOnce(&Socket) -> io::Result<()>) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    before(&socket)?;
    socket.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, super::PORT)).into())?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

/// The lab's server: listening on 127.0.0.1:5050 (as the exercise's
/// servidor.py does: no SO_REUSEADDR, the namespace is new each run).
pub fn listen(backlog: i32) -> io::Result<TcpListener> {
    listen_on(super::PORT, backlog, false)
}

/// socket(), then `before` (options to set), then connect(): the SYN.
pub fn connect_with(port: u16, before: impl FnOnce(&Socket) -> io::Result<()>) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    before(&socket)?;
    socket.connect(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)).into())?;
    Ok(socket.into())
}

/// A client of the lab's server.
pub fn connect() -> io::Result<TcpStream> {
    connect_with(super::PORT, |_| Ok(()))
}

/// Sets a kernel setting of this namespace (`net/ipv4/tcp_syn_retries`):
/// TCP's timers are per network namespace, and the namespace is ours.
pub fn sysctl(name: &str, value: &str) -> io::Result<()> {
    std::fs::write(format!("/proc/sys/{name}"), value)
        .map_err(|e| io::Error::new(e.kind(), format!("setting {name} to {value}: {e}")))
}

/// Adds firewall rules to this namespace with `nft` (a table `eco_lab`
/// with an input chain), e.g. `tcp dport 5051 drop`. A packet dropped
/// there was on `lo` already: the capture shows it (as a capture on a
/// machine's interface shows packets its firewall then drops).
pub fn firewall(rules: &[&str]) -> io::Result<()> {
    nft("input", rules)
}

/// The same on the output hook: a packet dropped there never reaches
/// `lo`, and is not in the capture (a peer that vanished).
pub fn firewall_out(rules: &[&str]) -> io::Result<()> {
    nft("output", rules)
}

/// Loads the rules into a chain of table `eco_lab` on `hook`.
fn nft(hook: &str, rules: &[&str]) -> io::Result<()> {
    let mut script =
        format!("table inet eco_lab {{\n  chain {hook} {{\n    type filter hook {hook} priority 0;\n");
    for rule in rules {
        script.push_str(&format!("    {rule}\n"));
    }
    script.push_str("  }\n}\n");
    let run = Command::new("nft").arg("-f").arg("-").stdin(std::process::Stdio::piped()).spawn();
    let mut child = run.map_err(|e| {
        io::Error::new(e.kind(), format!("this lab needs nft (Debian: apt install nftables): {e}"))
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        io::Write::write_all(&mut stdin, script.as_bytes())?;
    }
    let status = child.wait()?;
    if !status.success() {
        return Err(io::Error::other(format!("nft refused the lab's rules:\n{script}")));
    }
    Ok(())
}

/// Turns `lo`'s TCP segmentation offload on or off, as `ethtool -K lo
/// tso off` does (one ioctl; no safe wrapper exists). With it on (the
/// default), the kernel hands loopback "super-segments" of several MSS
/// (up to 64 KB) for a large send(); off, the segments are cut to the MSS
/// before the capture sees them, as they would cross a real network.
#[allow(unsafe_code)]
pub fn loopback_tso(on: bool) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    /// struct ethtool_value, and the command that sets TSO.
    #[repr(C)]
    struct EthtoolValue {
        cmd: u32,
        data: u32,
    }
    const ETHTOOL_STSO: u32 = 0x1f;
    let socket = Socket::new(Domain::IPV4, Type::DGRAM.cloexec(), None)?;
    let mut value = EthtoolValue { cmd: ETHTOOL_STSO, data: u32::from(on) };
    // SAFETY: an all-zero ifreq is a valid value of the C struct.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(c"lo".to_bytes_with_nul()) {
        *slot = *byte as libc::c_char;
    }
    request.ifr_ifru.ifru_data = (&raw mut value).cast();
    // SAFETY: `request` names `lo` and points at `value`, which outlives
    // the call; the kernel reads `value` only.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCETHTOOL, &raw mut request) } < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("turning lo's segmentation offload off: {e}")));
    }
    Ok(())
}

/// The kernel's TCP counter `name` in this namespace (`TCPLossProbes`:
/// what `nstat -a` lists as TcpExtTCPLossProbes), from /proc/net/netstat:
/// a line of names, then a line of values.
pub fn tcp_counter(name: &str) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = table.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (lines.next()?, lines.next()?);
    let at = names.split_whitespace().position(|n| n == name)?;
    values.split_whitespace().nth(at)?.parse().ok()
}

/// TCP states as /proc/net/tcp numbers them.
pub const TIME_WAIT: u8 = 6;

/// One line of /proc/net/tcp (what `ss -tan` lists).
pub struct SocketLine {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: u8,
}

/// The IPv4 TCP sockets of this namespace. (`ss` asks the kernel over
/// netlink; the text table in /proc says the same and needs no crate.)
pub fn sockets() -> Vec<SocketLine> {
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else { return Vec::new() };
    table.lines().skip(1).filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<SocketLine> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let addr = |text: &str| -> Option<SocketAddr> {
        let (ip, port) = text.split_once(':')?;
        // The address is the 32-bit number in the kernel's byte order.
        let ip = Ipv4Addr::from(u32::from_str_radix(ip, 16).ok()?.to_ne_bytes());
        Some(SocketAddr::from((ip, u16::from_str_radix(port, 16).ok()?)))
    };
    Some(SocketLine {
        local: addr(fields.get(1)?)?,
        remote: addr(fields.get(2)?)?,
        state: u8::from_str_radix(fields.get(3)?, 16).ok()?,
    })
}

/// Sleeps `ms` milliseconds (the actors' pauses: "the server is busy").
pub fn pause(ms: u64) {
    std::thread::sleep(std::time::Duration::from_millis(ms));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proc_net_tcp_line_reads_as_ss_would_show_it() {
        let line =
            "   0: 0100007F:13BA 0100007F:D3E4 06 00000000:00000000 03:00001770 00000000     0        0 0";
        let socket = parse_line(line).unwrap();
        assert_eq!(socket.local, "127.0.0.1:5050".parse().unwrap());
        assert_eq!(socket.remote, "127.0.0.1:54244".parse().unwrap());
        assert_eq!(socket.state, TIME_WAIT);
    }
}
