//! The socket calls of the programs `eco trace --run` starts, seen as
//! strace sees them: with ptrace, from eco itself (no strace binary).
//!
//! Each command starts with `PTRACE_TRACEME`, so it stops before its first
//! instruction and eco is its tracer; `PTRACE_O_TRACEFORK` / `CLONE` make
//! its children and threads traced too. `PTRACE_SYSCALL` stops a tracee at
//! the entry and at the exit of every system call, and
//! `PTRACE_GET_SYSCALL_INFO` says which call with which arguments (entry)
//! or which result (exit), the same way on every architecture.
//!
//! Only calls on IPv4 and IPv6 sockets are kept: `/proc/PID/fd/N` names the
//! socket behind a descriptor (`socket:[INODE]`: the same socket, however
//! many descriptors or processes share it), and a copy of the descriptor
//! (`pidfd_getfd`, allowed to a tracer) gives its addresses.
#![allow(unsafe_code)]

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::OwnedFd;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::sys::ptrace::{self, Event, Options};
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

/// What a call did, with the arguments worth showing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Socket {
        v6: bool,
        datagram: bool,
    },
    Bind(Option<SocketAddr>),
    Listen(i32),
    /// accept() / accept4(): the new connection's peer.
    Accept(Option<SocketAddr>),
    Connect(Option<SocketAddr>),
    /// send, sendto, sendmsg, write, writev, sendfile: `len` bytes offered.
    Send {
        name: &'static str,
        len: u64,
    },
    /// recv, recvfrom, recvmsg, read, readv: room for `len` bytes.
    Recv {
        name: &'static str,
        len: u64,
    },
    Shutdown(i32),
    /// setsockopt() of an option that changes what goes on the wire
    /// (`TCP_NODELAY`, `SO_LINGER`, `SO_REUSEADDR`, buffer sizes...): its
    /// name and the value given.
    SetOpt {
        name: &'static str,
        value: String,
    },
    Close,
}

impl Op {
    /// Whether the call waits for the peer (shown when it returns) rather
    /// than causes packets (shown when it is made).
    fn waits(&self) -> bool {
        matches!(self, Op::Accept(_) | Op::Recv { .. } | Op::Socket { .. } | Op::Bind(_) | Op::Listen(_))
    }
}

/// One system call on a socket.
#[derive(Debug, Clone)]
pub struct Call {
    /// When to show it (since the Unix epoch, the clock of the packets'
    /// timestamps): when a call that causes packets was made, when a call
    /// that waits for them returned.
    pub at: Duration,
    /// Which `--run` command (its index) made it.
    pub program: usize,
    pub pid: i32,
    pub op: Op,
    /// The result: a count or a descriptor, or an error number.
    pub result: Result<i64, Errno>,
    /// The socket it is about (accept: the new one), by inode; 0 if none.
    pub socket: u64,
}

/// What is known of one socket.
#[derive(Debug, Clone, Default)]
pub struct Sock {
    pub local: Option<SocketAddr>,
    pub peer: Option<SocketAddr>,
    pub datagram: bool,
    /// The listening socket this one was accepted from.
    pub listener: Option<u64>,
}

impl Sock {
    /// Its local address, where it names one: a socket bound to 0.0.0.0
    /// (a server on every address, a connect that failed) has none of
    /// its own in the packets.
    pub fn known_local(&self) -> Option<SocketAddr> {
        self.local.filter(|a| !a.ip().is_unspecified())
    }
}

/// What the caller needs to know from a stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    Nothing,
    /// The program now waits for a peer or reaches one (listen, accept,
    /// connect, a datagram receive): the next command may start.
    Ready(usize),
    /// A process ended, with its exit status (128 + signal if killed).
    Exited {
        pid: i32,
        status: i32,
    },
}

/// Every process eco traces and what their calls did.
#[derive(Default)]
pub struct Tracer {
    tracees: HashMap<Pid, Tracee>,
    /// New processes whose first stop came before their parent's event.
    early: HashSet<Pid>,
    pub socks: HashMap<u64, Sock>,
    /// Sockets of other families (Unix, netlink): not shown.
    ignored: HashSet<u64>,
    pub calls: Vec<Call>,
    /// Calls not kept once [`MAX_CALLS`] were.
    pub untold: u64,
    /// One pidfd per process (thread group), to copy descriptors.
    pidfds: HashMap<i32, OwnedFd>,
    /// The ports the programs use (bound, connected to, sent to), told
    /// to the capture as they become known: on the real `lo` only their
    /// packets are kept. Known before any packet on them can be sent.
    pub ports: Ports,
}

/// Ports shared with the capture thread.
pub type Ports = std::sync::Arc<std::sync::Mutex<HashSet<u16>>>;

/// Calls kept at most (a program in a loop makes millions).
const MAX_CALLS: usize = 100_000;

struct Tracee {
    program: usize,
    /// Its process (thread group) id: threads share descriptors.
    tgid: i32,
    /// A new process's first stop (SIGSTOP) is still to come.
    fresh: bool,
    /// The call it is in, between its entry and exit stops.
    entry: Option<Entry>,
}

struct Entry {
    op: Op,
    at: Duration,
    socket: u64,
    /// The descriptor it was made on.
    fd: i32,
    /// socket(): the domain asked for.
    domain: i32,
}

impl Tracer {
    /// Takes over a process just started with `PTRACE_TRACEME`: waits for
    /// its stop at exec, sets the options and lets it run.
    pub fn adopt(&mut self, pid: Pid, program: usize) -> nix::Result<()> {
        match nix::sys::wait::waitpid(pid, Some(nix::sys::wait::WaitPidFlag::__WALL))? {
            WaitStatus::Stopped(_, Signal::SIGTRAP) => {}
            // It died before exec completed: nothing to trace.
            _ => return Err(Errno::ESRCH),
        }
        let options = Options::PTRACE_O_TRACESYSGOOD
            | Options::PTRACE_O_TRACEFORK
            | Options::PTRACE_O_TRACEVFORK
            | Options::PTRACE_O_TRACECLONE
            | Options::PTRACE_O_TRACEEXEC
            // If eco dies, its tracees die with it, not run on untraced.
            | Options::PTRACE_O_EXITKILL;
        ptrace::setoptions(pid, options)?;
        self.tracees.insert(pid, Tracee { program, tgid: pid.as_raw(), fresh: false, entry: None });
        ptrace::syscall(pid, None)
    }

    /// Every traced process (and thread).
    pub fn pids(&self) -> Vec<Pid> {
        self.tracees.keys().copied().collect()
    }

    /// Whether any traced process is still alive.
    pub fn is_empty(&self) -> bool {
        self.tracees.is_empty()
    }

    /// Handles one stop or end reported by `waitpid`, and resumes the tracee.
    pub fn handle(&mut self, status: WaitStatus) -> Seen {
        match status {
            WaitStatus::PtraceSyscall(pid) => {
                let seen = self.syscall_stop(pid);
                resume(pid, None);
                seen
            }
            WaitStatus::PtraceEvent(pid, _, event) => {
                let forked = [Event::PTRACE_EVENT_FORK, Event::PTRACE_EVENT_VFORK, Event::PTRACE_EVENT_CLONE];
                if forked.iter().any(|e| *e as i32 == event)
                    && let (Ok(child), Some(parent)) = (ptrace::getevent(pid), self.tracees.get(&pid))
                {
                    let child = Pid::from_raw(child as i32);
                    let program = parent.program;
                    let tgid = thread_group(child).unwrap_or(child.as_raw());
                    // Its first stop may have come already.
                    let fresh = !self.early.remove(&child);
                    self.tracees.insert(child, Tracee { program, tgid, fresh, entry: None });
                    if !fresh {
                        resume(child, None);
                    }
                }
                resume(pid, None);
                Seen::Nothing
            }
            WaitStatus::Stopped(pid, signal) => {
                match self.tracees.get_mut(&pid) {
                    Some(tracee) if tracee.fresh && signal == Signal::SIGSTOP => {
                        tracee.fresh = false;
                        resume(pid, None);
                    }
                    // A stop of the whole process (Ctrl-Z, SIGSTOP) is
                    // reported again once it happened: no signal is pending
                    // then (no siginfo), and none may be delivered again.
                    Some(_) if is_stop(signal) && ptrace::getsiginfo(pid).is_err() => resume(pid, None),
                    // A signal for the program: deliver it.
                    Some(_) => resume(pid, Some(signal)),
                    // A new process, before the event that names it.
                    None => {
                        self.early.insert(pid);
                    }
                }
                Seen::Nothing
            }
            WaitStatus::Exited(pid, code) => self.ended(pid, code),
            WaitStatus::Signaled(pid, signal, _) => self.ended(pid, 128 + signal as i32),
            _ => Seen::Nothing,
        }
    }

    fn ended(&mut self, pid: Pid, status: i32) -> Seen {
        if let Some(tracee) = self.tracees.remove(&pid)
            && tracee.tgid == pid.as_raw()
        {
            self.pidfds.remove(&tracee.tgid);
        }
        Seen::Exited { pid: pid.as_raw(), status }
    }

    fn syscall_stop(&mut self, pid: Pid) -> Seen {
        let Some(info) = syscall_info(pid) else { return Seen::Nothing };
        match info.op {
            libc::PTRACE_SYSCALL_INFO_ENTRY => {
                // SAFETY: the kernel filled the `entry` member for this op.
                let entry = unsafe { info.u.entry };
                self.enter(pid, entry.nr as i64, entry.args)
            }
            libc::PTRACE_SYSCALL_INFO_EXIT => {
                // SAFETY: the kernel filled the `exit` member for this op.
                let exit = unsafe { info.u.exit };
                let result = if exit.is_error != 0 {
                    // 512-517 (ERESTARTSYS...): the kernel's own "interrupted,
                    // restart or fail with EINTR"; the program sees EINTR.
                    let errno = (-exit.sval) as i32;
                    Err(Errno::from_raw(if (512..=517).contains(&errno) { libc::EINTR } else { errno }))
                } else {
                    Ok(exit.sval)
                };
                self.exit(pid, result)
            }
            _ => Seen::Nothing,
        }
    }

    /// A call begins: keep it if it is one of ours, on a socket of ours.
    fn enter(&mut self, pid: Pid, nr: i64, args: [u64; 6]) -> Seen {
        let Some(tracee) = self.tracees.get(&pid) else { return Seen::Nothing };
        let (program, tgid) = (tracee.program, tracee.tgid);
        let at = now();
        let fd = args[0] as i32;
        let op = match nr {
            libc::SYS_socket => {
                let domain = args[0] as i32;
                let datagram = args[1] as i32 & 0xf == libc::SOCK_DGRAM;
                let op = Op::Socket { v6: domain == libc::AF_INET6, datagram };
                self.begin(pid, Entry { op, at, socket: 0, fd: -1, domain });
                return Seen::Nothing;
            }
            libc::SYS_bind => Op::Bind(read_sockaddr(pid, args[1], args[2])),
            libc::SYS_listen => Op::Listen(args[1] as i32),
            libc::SYS_accept | libc::SYS_accept4 => Op::Accept(None),
            libc::SYS_connect => Op::Connect(read_sockaddr(pid, args[1], args[2])),
            libc::SYS_sendto if args[4] == 0 => Op::Send { name: "send", len: args[2] },
            libc::SYS_sendto => {
                if let Some(to) = read_sockaddr(pid, args[4], args[5]) {
                    self.port(to);
                }
                Op::Send { name: "sendto", len: args[2] }
            }
            libc::SYS_sendmsg => Op::Send { name: "sendmsg", len: msg_len(pid, args[1]) },
            libc::SYS_write => Op::Send { name: "write", len: args[2] },
            // sendfile(out, in, offset, count): a file's bytes to a socket.
            libc::SYS_sendfile => Op::Send { name: "sendfile", len: args[3] },
            libc::SYS_writev => Op::Send { name: "writev", len: iov_len(pid, args[1], args[2]) },
            libc::SYS_recvfrom if args[4] == 0 => Op::Recv { name: "recv", len: args[2] },
            libc::SYS_recvfrom => Op::Recv { name: "recvfrom", len: args[2] },
            libc::SYS_recvmsg => Op::Recv { name: "recvmsg", len: msg_len(pid, args[1]) },
            libc::SYS_read => Op::Recv { name: "read", len: args[2] },
            libc::SYS_readv => Op::Recv { name: "readv", len: iov_len(pid, args[1], args[2]) },
            libc::SYS_shutdown => Op::Shutdown(args[1] as i32),
            libc::SYS_setsockopt => match setsockopt(pid, args) {
                Some(op) => op,
                None => return Seen::Nothing,
            },
            libc::SYS_close => Op::Close,
            _ => return Seen::Nothing,
        };
        if let Op::Bind(Some(addr)) | Op::Connect(Some(addr)) = &op {
            self.port(*addr);
        }
        // read, write and close are calls on any descriptor: only sockets count.
        let Some(socket) = socket_inode(pid, fd) else { return Seen::Nothing };
        if self.ignored.contains(&socket) {
            return Seen::Nothing;
        }
        // Before close() the addresses are still there to read.
        self.learn(tgid, fd, socket);
        if self.ignored.contains(&socket) {
            return Seen::Nothing;
        }
        let datagram = self.socks.get(&socket).is_some_and(|s| s.datagram);
        let ready = match &op {
            Op::Connect(_) | Op::Accept(_) => true,
            Op::Recv { .. } => datagram,
            _ => false,
        };
        self.begin(pid, Entry { op, at, socket, fd, domain: 0 });
        if ready { Seen::Ready(program) } else { Seen::Nothing }
    }

    fn begin(&mut self, pid: Pid, entry: Entry) {
        if let Some(tracee) = self.tracees.get_mut(&pid) {
            tracee.entry = Some(entry);
        }
    }

    /// A call returns: record it with its result.
    fn exit(&mut self, pid: Pid, result: Result<i64, Errno>) -> Seen {
        let Some(tracee) = self.tracees.get_mut(&pid) else { return Seen::Nothing };
        let Some(entry) = tracee.entry.take() else { return Seen::Nothing };
        let (program, tgid) = (tracee.program, tracee.tgid);
        // A non-blocking socket asked too early: a poll, not an event.
        if result == Err(Errno::EAGAIN) && entry.op.waits() {
            return Seen::Nothing;
        }
        let mut op = entry.op;
        let mut socket = entry.socket;
        match (&mut op, result) {
            (Op::Socket { datagram, .. }, Ok(fd)) => {
                if entry.domain != libc::AF_INET && entry.domain != libc::AF_INET6 {
                    if let Some(inode) = socket_inode(pid, fd as i32) {
                        self.ignored.insert(inode);
                    }
                    return Seen::Nothing;
                }
                socket = socket_inode(pid, fd as i32).unwrap_or(0);
                self.socks.insert(socket, Sock { datagram: *datagram, ..Sock::default() });
            }
            (Op::Socket { .. }, Err(_))
                if entry.domain != libc::AF_INET && entry.domain != libc::AF_INET6 =>
            {
                return Seen::Nothing;
            }
            (Op::Accept(peer), Ok(fd)) => {
                let listener = socket;
                socket = socket_inode(pid, fd as i32).unwrap_or(0);
                self.socks.insert(socket, Sock { listener: Some(listener), ..Sock::default() });
                self.learn(tgid, fd as i32, socket);
                *peer = self.socks.get(&socket).and_then(|s| s.peer);
            }
            (Op::Close, _) => {}
            (Op::Connect(target), _) => {
                self.learn(tgid, entry.fd, socket);
                // Refused or still connecting: the peer is where it went.
                if let Some(sock) = self.socks.get_mut(&socket) {
                    sock.peer = sock.peer.or(*target);
                }
            }
            _ => self.learn(tgid, entry.fd, socket),
        }
        let ready = matches!(op, Op::Listen(_)) && result.is_ok();
        let at = if op.waits() { now() } else { entry.at };
        if self.calls.len() < MAX_CALLS {
            self.calls.push(Call { at, program, pid: pid.as_raw(), op, result, socket });
        } else {
            self.untold += 1;
        }
        if ready { Seen::Ready(program) } else { Seen::Nothing }
    }

    /// Reads the addresses (and the type) of `socket` through a copy of
    /// descriptor `fd` of process `tgid`, unless they are known already.
    fn learn(&mut self, tgid: i32, fd: i32, socket: u64) {
        if self.socks.get(&socket).is_some_and(|s| s.local.is_some() && s.peer.is_some()) {
            return;
        }
        let Some(copy) = self.copy_fd(tgid, fd) else { return };
        let sock = socket2::SockRef::from(&copy);
        let local = sock.local_addr().ok();
        // Not an IPv4 or IPv6 socket (one inherited, or made before tracing).
        if local.as_ref().is_some_and(|a| a.as_socket().is_none()) {
            self.ignored.insert(socket);
            self.socks.remove(&socket);
            return;
        }
        if let Some(addr) = local.as_ref().and_then(|a| a.as_socket()) {
            self.port(addr);
        }
        let entry = self.socks.entry(socket).or_default();
        // A dual-stack socket names IPv4 peers as ::ffff:a.b.c.d; the
        // packets say a.b.c.d.
        if let Some(addr) = local.and_then(|a| a.as_socket()).filter(|a| a.port() != 0) {
            entry.local = Some(canonical(addr));
        }
        if let Some(addr) = sock.peer_addr().ok().and_then(|a| a.as_socket()) {
            entry.peer = Some(canonical(addr));
        }
        if let Ok(kind) = sock.r#type() {
            entry.datagram = kind == socket2::Type::DGRAM;
        }
    }

    fn port(&self, addr: SocketAddr) {
        if addr.port() != 0 {
            self.ports.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(addr.port());
        }
    }

    fn copy_fd(&mut self, tgid: i32, fd: i32) -> Option<OwnedFd> {
        use rustix::process::{PidfdFlags, PidfdGetfdFlags, pidfd_getfd, pidfd_open};
        if let std::collections::hash_map::Entry::Vacant(slot) = self.pidfds.entry(tgid) {
            let pid = rustix::process::Pid::from_raw(tgid)?;
            slot.insert(pidfd_open(pid, PidfdFlags::empty()).ok()?);
        }
        // pidfd_getfd(): a copy of the tracee's descriptor in eco (the
        // same socket), allowed because eco may ptrace it.
        pidfd_getfd(self.pidfds.get(&tgid)?, fd, PidfdGetfdFlags::empty()).ok()
    }
}

fn is_stop(signal: Signal) -> bool {
    matches!(signal, Signal::SIGSTOP | Signal::SIGTSTP | Signal::SIGTTIN | Signal::SIGTTOU)
}

/// `[::ffff:127.0.0.1]:80` as `127.0.0.1:80`.
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// Lets a stopped tracee run to its next system call stop.
fn resume(pid: Pid, signal: Option<Signal>) {
    // ESRCH: it died meanwhile; its end comes from waitpid.
    let _ = ptrace::syscall(pid, signal);
}

fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// `PTRACE_GET_SYSCALL_INFO`. (nix's `ptrace::syscall_info` passes a size
/// of 0, so the kernel copies nothing: it is called directly here.)
fn syscall_info(pid: Pid) -> Option<libc::ptrace_syscall_info> {
    // SAFETY: an all-zero ptrace_syscall_info is a valid value of the C struct.
    let mut info: libc::ptrace_syscall_info = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::ptrace_syscall_info>();
    // SAFETY: `info` is live and `size` bytes long; the kernel writes at
    // most that many.
    let rc = unsafe {
        libc::ptrace(libc::PTRACE_GET_SYSCALL_INFO, pid.as_raw(), size as *mut libc::c_void, &raw mut info)
    };
    (rc > 0).then_some(info)
}

/// The thread group (process) of a new task, from /proc.
fn thread_group(pid: Pid) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("Tgid:")).and_then(|v| v.trim().parse().ok())
}

/// The socket behind descriptor `fd` of `pid`: `socket:[INODE]` in /proc.
fn socket_inode(pid: Pid, fd: i32) -> Option<u64> {
    let target = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?;
    let name = target.to_str()?;
    name.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
}

/// Reads `len` bytes at `addr` in the tracee's memory.
fn read_memory(pid: Pid, addr: u64, len: usize) -> Option<Vec<u8>> {
    use nix::sys::uio::{RemoteIoVec, process_vm_readv};
    if addr == 0 || len == 0 {
        return None;
    }
    let mut buf = vec![0u8; len];
    let remote = [RemoteIoVec { base: addr as usize, len }];
    let n = process_vm_readv(pid, &mut [std::io::IoSliceMut::new(&mut buf)], &remote).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// setsockopt(fd, level, name, value, len) of an option worth showing,
/// with its value read from the tracee; `None` for the others.
fn setsockopt(pid: Pid, args: [u64; 6]) -> Option<Op> {
    let (level, option) = (args[1] as i32, args[2] as i32);
    let name = match (level, option) {
        (libc::IPPROTO_TCP, libc::TCP_NODELAY) => "TCP_NODELAY",
        (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE) => "TCP_KEEPIDLE",
        (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL) => "TCP_KEEPINTVL",
        (libc::IPPROTO_TCP, libc::TCP_KEEPCNT) => "TCP_KEEPCNT",
        (libc::IPPROTO_TCP, libc::TCP_QUICKACK) => "TCP_QUICKACK",
        (libc::IPPROTO_TCP, libc::TCP_CORK) => "TCP_CORK",
        (libc::IPPROTO_TCP, libc::TCP_MAXSEG) => "TCP_MAXSEG",
        (libc::SOL_SOCKET, libc::SO_REUSEADDR) => "SO_REUSEADDR",
        (libc::SOL_SOCKET, libc::SO_REUSEPORT) => "SO_REUSEPORT",
        (libc::SOL_SOCKET, libc::SO_KEEPALIVE) => "SO_KEEPALIVE",
        (libc::SOL_SOCKET, libc::SO_RCVBUF) => "SO_RCVBUF",
        (libc::SOL_SOCKET, libc::SO_SNDBUF) => "SO_SNDBUF",
        (libc::SOL_SOCKET, libc::SO_LINGER) => "SO_LINGER",
        _ => return None,
    };
    let bytes = read_memory(pid, args[3], (args[4] as usize).min(8)).unwrap_or_default();
    let int = |at: usize| bytes.get(at..at + 4).map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
    let value = match (name, int(0), int(4)) {
        // struct linger { l_onoff, l_linger }.
        ("SO_LINGER", Some(on), Some(secs)) => format!("{{l_onoff={on}, l_linger={secs}}}"),
        (_, Some(value), _) => value.to_string(),
        _ => "?".into(),
    };
    Some(Op::SetOpt { name, value })
}

/// The address a bind/connect/sendto was given. A `sockaddr_in` or
/// `sockaddr_in6` is a few fixed fields, read by hand: socket2's SockAddr
/// can only be built from them through unsafe code.
fn read_sockaddr(pid: Pid, addr: u64, len: u64) -> Option<SocketAddr> {
    let bytes = read_memory(pid, addr, (len as usize).min(28))?;
    parse_sockaddr(&bytes).map(canonical)
}

fn parse_sockaddr(b: &[u8]) -> Option<SocketAddr> {
    let family = i32::from(u16::from_ne_bytes([*b.first()?, *b.get(1)?]));
    let port = u16::from_be_bytes([*b.get(2)?, *b.get(3)?]);
    match family {
        libc::AF_INET if b.len() >= 8 => {
            let ip = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
            Some(SocketAddr::new(IpAddr::V4(ip), port))
        }
        libc::AF_INET6 if b.len() >= 24 => {
            let octets: [u8; 16] = b[8..24].try_into().ok()?;
            Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(octets)), port))
        }
        _ => None,
    }
}

/// The bytes of an iovec array: the sum of its lengths.
fn iov_len(pid: Pid, iov: u64, count: u64) -> u64 {
    let entry = std::mem::size_of::<libc::iovec>();
    let count = count.min(64) as usize;
    let Some(bytes) = read_memory(pid, iov, entry * count) else { return 0 };
    bytes.chunks_exact(entry).map(|c| u64::from_ne_bytes(c[8..16].try_into().unwrap_or_default())).sum()
}

/// The bytes of a `msghdr`'s iovecs.
fn msg_len(pid: Pid, msg: u64) -> u64 {
    let Some(bytes) = read_memory(pid, msg, std::mem::size_of::<libc::msghdr>()) else { return 0 };
    let word = |at: usize| {
        u64::from_ne_bytes(bytes.get(at..at + 8).and_then(|s| s.try_into().ok()).unwrap_or_default())
    };
    // struct msghdr { name, namelen (padded), iov, iovlen, ... } on 64-bit Linux.
    iov_len(pid, word(16), word(24))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddrs_as_the_kernel_lays_them_out() {
        let mut v4 = vec![0u8; 16];
        v4[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        v4[2..4].copy_from_slice(&5050u16.to_be_bytes());
        v4[4..8].copy_from_slice(&[127, 0, 0, 1]);
        assert_eq!(parse_sockaddr(&v4), Some("127.0.0.1:5050".parse().unwrap()));
        let mut v6 = vec![0u8; 28];
        v6[..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
        v6[2..4].copy_from_slice(&80u16.to_be_bytes());
        v6[23] = 1;
        assert_eq!(parse_sockaddr(&v6), Some("[::1]:80".parse().unwrap()));
        assert_eq!(parse_sockaddr(&v4[..6]), None);
        assert_eq!(parse_sockaddr(&[1, 0]), None);
    }
}
