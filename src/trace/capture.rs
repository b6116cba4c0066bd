//! Capturing the packets of loopback: an `AF_PACKET` socket on `lo`.
//!
//! What tcpdump and Wireshark do through libpcap, done with four system
//! calls, so that eco needs no libpcap: `socket(AF_PACKET)`, a kernel BPF
//! filter, `SO_TIMESTAMPNS`, and `bind` to `lo`. Needs CAP_NET_RAW (root,
//! or a user namespace of one's own: see `trace::namespace`).
//!
//! socket2 makes the socket, attaches the filter and sets the buffer and
//! timeout; what no safe call reaches is written out below, each `unsafe`
//! with its reason: the kernel timestamp option, `bind` with a link-layer
//! address (`sockaddr_ll`), and `recvmsg` with its control messages.
#![allow(unsafe_code)]

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::{Domain, SockFilter, Socket, Type};

/// One frame as the kernel handed it over.
#[derive(Debug, Clone)]
pub struct Frame {
    /// When the kernel saw it, since the Unix epoch (CLOCK_REALTIME).
    pub ts: Duration,
    /// The bytes, starting with the (all-zero) Ethernet header of `lo`.
    pub data: Vec<u8>,
    /// The length on the wire (larger than `data` only if truncated).
    pub orig_len: u32,
}

pub struct Capture {
    socket: Socket,
    /// Where each frame is received: one buffer for the whole capture,
    /// each frame then copied out at its own size.
    buf: Vec<u8>,
}

/// `tcpdump -i lo -dd 'inbound and tcp port 5050'`: a classic BPF program
/// that keeps incoming TCP segments (IPv4 or IPv6) to or from one port. The
/// kernel runs it on every loopback packet, so only ours are queued to us.
/// "inbound" drops the second copy of each loopback packet (every packet on
/// `lo` is seen once going out and once coming in).
const FILTER_5050: [(u16, u8, u8, u32); 22] = [
    (0x28, 0, 0, 0xfffff004),  // ldh pkttype (ancillary data)
    (0x15, 19, 0, 0x00000004), // == PACKET_OUTGOING → drop
    (0x28, 0, 0, 0x0000000c),  // ldh ethertype
    (0x15, 0, 6, 0x000086dd),  // IPv6?
    (0x30, 0, 0, 0x00000014),  // ldb next header
    (0x15, 0, 15, 0x00000006), // TCP?
    (0x28, 0, 0, 0x00000036),  // ldh source port
    (0x15, 12, 0, PORT),       // == port → keep
    (0x28, 0, 0, 0x00000038),  // ldh destination port
    (0x15, 10, 11, PORT),      // == port → keep, else drop
    (0x15, 0, 10, 0x00000800), // IPv4?
    (0x30, 0, 0, 0x00000017),  // ldb protocol
    (0x15, 0, 8, 0x00000006),  // TCP?
    (0x28, 0, 0, 0x00000014),  // ldh flags + fragment offset
    (0x45, 6, 0, 0x00001fff),  // a later fragment → drop
    (0xb1, 0, 0, 0x0000000e),  // x = IP header length
    (0x48, 0, 0, 0x0000000e),  // ldh source port
    (0x15, 2, 0, PORT),        // == port → keep
    (0x48, 0, 0, 0x00000010),  // ldh destination port
    (0x15, 0, 1, PORT),        // == port → keep, else drop
    (0x6, 0, 0, 0x00040000),   // keep (up to 256 KiB)
    (0x6, 0, 0, 0x00000000),   // drop
];
/// `tcpdump -i lo -dd inbound`: every packet, once.
const FILTER_INBOUND: [(u16, u8, u8, u32); 4] = [
    (0x28, 0, 0, 0xfffff004), // ldh pkttype (ancillary data)
    (0x15, 1, 0, 0x00000004), // == PACKET_OUTGOING → drop
    (0x6, 0, 0, 0x00040000),  // keep (up to 256 KiB)
    (0x6, 0, 0, 0x00000000),  // drop
];
/// Placeholder for the port in [`FILTER_5050`] (5050, as tcpdump printed it).
const PORT: u32 = 0x13ba;

/// Each packet on `lo` is at most 64 KiB of IP plus the Ethernet header;
/// GSO can hand a tap somewhat larger frames, so leave room.
pub const SNAPLEN: usize = 256 * 1024;

impl Capture {
    /// Starts capturing TCP on `lo` to or from `port`. Once this returns the
    /// tap is live: packets sent from now on will be seen.
    pub fn open_loopback(port: u16, timeout: Duration) -> io::Result<Capture> {
        let program: Vec<SockFilter> = FILTER_5050
            .iter()
            .map(|&(code, jt, jf, k)| SockFilter::new(code, jt, jf, if k == PORT { port.into() } else { k }))
            .collect();
        Capture::open(&program, timeout)
    }

    /// Starts capturing every packet on `lo` (`eco trace --run`: the
    /// programs' ports are not known in advance; in a namespace of our
    /// own, nobody else's packets are there).
    pub fn open_loopback_all(timeout: Duration) -> io::Result<Capture> {
        let program: Vec<SockFilter> =
            FILTER_INBOUND.iter().map(|&(code, jt, jf, k)| SockFilter::new(code, jt, jf, k)).collect();
        Capture::open(&program, timeout)
    }

    fn open(program: &[SockFilter], timeout: Duration) -> io::Result<Capture> {
        // socket(): protocol 0 means "no packets yet": nothing is queued
        // before the filter is attached and `bind` names the protocol.
        let socket = Socket::new(Domain::PACKET, Type::RAW.cloexec(), None)?;
        socket.attach_filter(program)?;
        // The kernel's receive time of each packet, in ns, with each recvmsg.
        // SAFETY: `on` is a live c_int and the length is its size.
        let on: libc::c_int = 1;
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                (&raw const on).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        // Room for bursts (a bulk echo on the port) while we print.
        socket.set_recv_buffer_size(8 << 20)?;
        socket.set_read_timeout(Some(timeout))?;

        let ifindex = rustix::net::netdevice::name_to_index(&socket, "lo")?;
        // SAFETY: an all-zero sockaddr_ll is a valid value of the C struct.
        let mut addr: libc::sockaddr_ll = unsafe { zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        addr.sll_ifindex = ifindex as i32;
        // bind(): from here on, `lo`'s packets that pass the filter are queued.
        // SAFETY: `addr` is a valid sockaddr_ll and the length says so.
        let rc = unsafe {
            libc::bind(
                socket.as_raw_fd(),
                (&raw const addr).cast::<libc::sockaddr>(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Capture { socket, buf: vec![0u8; SNAPLEN] })
    }

    /// Packets the kernel dropped since the last call, for want of room in
    /// this socket's queue (`PACKET_STATISTICS`: the counters reset on each
    /// read). A busy `lo` and a slow reader lose packets this way.
    pub fn dropped(&self) -> u32 {
        // SAFETY: an all-zero tpacket_stats is a valid value of the C struct.
        let mut stats: libc::tpacket_stats = unsafe { zeroed() };
        let mut len = size_of::<libc::tpacket_stats>() as libc::socklen_t;
        // SAFETY: `stats` is live and `len` says its size; the kernel
        // writes at most that many bytes.
        let rc = unsafe {
            libc::getsockopt(
                self.socket.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&raw mut stats).cast(),
                &raw mut len,
            )
        };
        if rc < 0 { 0 } else { stats.tp_drops }
    }

    /// The next frame, or `None` when the receive timeout passed first.
    pub fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        loop {
            let mut control = [0u64; 16];
            let mut iov = libc::iovec { iov_base: self.buf.as_mut_ptr().cast(), iov_len: self.buf.len() };
            // SAFETY: an all-zero msghdr is a valid value of the C struct.
            let mut msg: libc::msghdr = unsafe { zeroed() };
            msg.msg_iov = &raw mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = size_of::<[u64; 16]>();
            // recvmsg(): one packet and the control messages (the
            // timestamp). MSG_TRUNC makes it return the full length even
            // if the buffer was short. (The filter has already dropped the
            // outgoing copy of each loopback packet.)
            // SAFETY: every pointer in `msg` points to live, large enough buffers.
            let n = unsafe { libc::recvmsg(self.socket.as_raw_fd(), &raw mut msg, libc::MSG_TRUNC) };
            if n < 0 {
                let error = io::Error::last_os_error();
                return match error.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Ok(None),
                    io::ErrorKind::Interrupted => continue,
                    _ => Err(error),
                };
            }
            let ts = timestamp(&msg).unwrap_or_else(|| {
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default()
            });
            let orig_len = n as usize;
            let data = self.buf[..orig_len.min(SNAPLEN)].to_vec();
            return Ok(Some(Frame { ts, data, orig_len: orig_len as u32 }));
        }
    }
}

/// The `SCM_TIMESTAMPNS` control message of a `recvmsg`, if any.
fn timestamp(msg: &libc::msghdr) -> Option<Duration> {
    // SAFETY: `msg` was filled by recvmsg; the CMSG macros walk its control
    // buffer within msg_controllen.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::timespec>());
                return Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32));
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    None
}
