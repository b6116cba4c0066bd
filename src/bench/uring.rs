//! The closed-loop ping-pong on io_uring: what `eco bench` runs by default
//! (plain TCP, no `--rate`, `--tls` or `--proxy-protocol`) where the kernel
//! allows it.
//!
//! A load generator that costs more CPU per message than the server it
//! measures makes every fast server look the same. The tokio loop pays a
//! `send` and a `recv` (and an `epoll_wait` per batch) per message; here
//! each message's send is linked to the receive of its echo, and one
//! `io_uring_enter` submits them and waits for the next echoes, of all of
//! this thread's connections at once. Every echo is still checked
//! (sequence, connection id, checksum, see `message`) and every latency
//! recorded, as in `worker::ping_pong`.

// The ring is memory shared with the kernel: handing it a buffer is a
// promise, which the compiler cannot check, that the buffer outlives the
// request. Each `unsafe` below says why it holds.
#![allow(unsafe_code)]

use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

use io_uring::{IoUring, opcode, squeue, types};
use tokio::time::Instant;

use super::message;
use super::stats::Stats;
use super::worker::Plan;

/// The kinds of request, in the low byte of `user_data` (the connection's
/// index above it).
const SEND: u64 = 1;
const RECV: u64 = 2;
/// After our FIN: the server's FIN is awaited (bytes instead are an error).
const DRAIN: u64 = 3;

/// `IORING_RECVSEND_POLL_FIRST` (Linux 5.19), which the crate does not export.
const RECVSEND_POLL_FIRST: u16 = 1;

/// Whether this system runs rings as this engine sets them up (`Err`:
/// the kernel's answer).
pub fn available() -> std::io::Result<()> {
    ring(8).map(drop)
}

fn ring(entries: u32) -> std::io::Result<IoUring> {
    IoUring::builder().setup_single_issuer().setup_defer_taskrun().setup_cqsize(2 * entries).build(entries)
}

/// One connection of the ping-pong.
struct Conn {
    /// `None`: it could not connect (counted).
    stream: Option<TcpStream>,
    id: u32,
    seq: u64,
    out: Vec<u8>,
    echo: Vec<u8>,
    /// Bytes of the echo in so far, and in how many reads.
    got: usize,
    reads: u32,
    sent_at: Instant,
    /// Requests in the kernel whose completion is due (the linked send says
    /// nothing when it succeeds: the receive after it tells).
    inflight: u8,
    silent_send: bool,
    /// Sending and checking stopped: the run ended, or a fault.
    done: bool,
    /// Our FIN is sent: the server's is awaited until then.
    drain_until: Option<Instant>,
    failed: bool,
    stats: Stats,
}

/// This thread's share of the connections (`ids`), each sending `size`-byte
/// messages until the plan ends. Returns their stats and when the last
/// one finished.
pub fn ping_pong(
    addr: SocketAddr,
    ids: Vec<u32>,
    size: usize,
    plan: &Plan,
) -> std::io::Result<(Stats, Instant)> {
    let entries = (2 * ids.len()).next_power_of_two().clamp(8, 4096) as u32;
    let mut ring = ring(entries)?;
    let mut conns = open_all(addr, ids, size, plan);
    let mut result = Ok(());
    for key in 0..conns.len() {
        if !conns[key].done {
            result = result.and_then(|()| start(&mut ring, &mut conns, key));
        }
    }
    // Past the hard deadline (or after an error of the ring): every socket
    // is shut down, which ends what is pending; this long at most.
    let mut abort_by: Option<std::time::Instant> = None;
    let mut completed = Vec::new();
    let mut last_done = Instant::now();
    // Ctrl-C: no new messages (see `Plan::going_on`), and the echoes
    // still owed get `--timeout` from then, not from the planned end.
    let mut hard_deadline = plan.hard_deadline;
    let mut stop_seen = false;
    while conns.iter().any(|conn| conn.inflight > 0) {
        let now = Instant::now();
        if !stop_seen && plan.stop.load(std::sync::atomic::Ordering::Relaxed) {
            stop_seen = true;
            hard_deadline = hard_deadline.min(now + plan.timeout);
        }
        if result.is_err() || now >= hard_deadline {
            if abort_by.is_none() {
                abort_by = Some(std::time::Instant::now() + Duration::from_secs(2));
                for conn in conns.iter_mut().filter(|conn| conn.inflight > 0) {
                    if !conn.done {
                        // An echo still owed past the end and its timeout.
                        fail(conn, |stats| stats.errors.timeout += 1);
                    }
                    shut(conn, std::net::Shutdown::Both);
                }
            } else if abort_by.is_some_and(|by| std::time::Instant::now() >= by) {
                // The kernel still holds requests on these buffers: keep
                // the buffers (leak them) rather than let it write into
                // freed memory.
                for conn in &mut conns {
                    std::mem::forget(std::mem::take(&mut conn.out));
                    std::mem::forget(std::mem::take(&mut conn.echo));
                }
                break;
            }
        }
        for conn in conns.iter_mut().filter(|conn| conn.drain_until.is_some_and(|until| now >= until)) {
            // The server did not close after our FIN: stop waiting.
            conn.drain_until = None;
            shut(conn, std::net::Shutdown::Read);
        }
        // Woken at least every 100 ms, for the deadlines and Ctrl-C.
        let wait = types::Timespec::from(Duration::from_millis(100));
        match ring.submitter().submit_with_args(1, &types::SubmitArgs::new().timespec(&wait)) {
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR | libc::EBUSY)) => {}
            Err(e) => {
                if result.is_ok() {
                    result = Err(e);
                }
                continue;
            }
        }
        completed.extend(ring.completion().map(|cqe| (cqe.user_data(), cqe.result())));
        for (user_data, res) in completed.drain(..) {
            if let Err(e) = complete(&mut ring, &mut conns, user_data, res, plan, &mut last_done)
                && result.is_ok()
            {
                result = Err(e);
            }
        }
    }
    result?;
    let mut stats = Stats::default();
    for conn in &mut conns {
        conn.stats.per_connection.push(conn.stats.messages);
        stats.merge(&conn.stats);
    }
    Ok((stats, last_done))
}

/// Shuts the connection's socket down (which ends its pending requests).
fn shut(conn: &Conn, how: std::net::Shutdown) {
    if let Some(stream) = &conn.stream {
        let _ = stream.shutdown(how);
    }
}

/// Opens this thread's connections, all at once as the tokio engine does:
/// a non-blocking `connect()` each, then `poll()` until every handshake is
/// done, the run's hard deadline passes, or Ctrl-C. Each handshake is
/// timed from the start (as in `worker::connect`).
fn open_all(addr: SocketAddr, ids: Vec<u32>, size: usize, plan: &Plan) -> Vec<Conn> {
    use rustix::event::{PollFd, PollFlags, poll};
    use socket2::{Domain, Protocol, Socket, Type};
    let started = Instant::now();
    let mut conns: Vec<Conn> = ids.into_iter().map(|id| Conn::new(id, size, started)).collect();
    let mut pending: Vec<(usize, Socket)> = Vec::new();
    for (key, conn) in conns.iter_mut().enumerate() {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
            .and_then(|socket| socket.set_nonblocking(true).map(|()| socket));
        let Ok(socket) = socket else {
            conn.stats.errors.connect += 1;
            continue;
        };
        match socket.connect(&addr.into()) {
            Ok(()) => pending.push((key, socket)),
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => pending.push((key, socket)),
            Err(_) => conn.stats.errors.connect += 1,
        }
    }
    while !pending.is_empty() {
        if Instant::now() >= plan.hard_deadline || plan.stop.load(std::sync::atomic::Ordering::Relaxed) {
            for (key, _) in pending.drain(..) {
                conns[key].stats.errors.connect += 1;
            }
            break;
        }
        let mut fds: Vec<PollFd<'_>> =
            pending.iter().map(|(_, socket)| PollFd::new(socket, PollFlags::OUT)).collect();
        // At most 50 ms: the deadline and Ctrl-C are looked at between.
        let timeout = rustix::event::Timespec { tv_sec: 0, tv_nsec: 50_000_000 };
        if poll(&mut fds, Some(&timeout)).is_err() {
            continue;
        }
        let ready: Vec<bool> = fds.iter().map(|fd| !fd.revents().is_empty()).collect();
        drop(fds);
        let mut still = Vec::new();
        for ((key, socket), ready) in pending.drain(..).zip(ready) {
            if !ready {
                still.push((key, socket));
                continue;
            }
            let conn = &mut conns[key];
            // Small messages must not wait for Nagle; the ring's requests
            // need no non-blocking socket.
            let set = socket.set_tcp_nodelay(true).and_then(|()| socket.set_nonblocking(false));
            match (socket.take_error(), set) {
                (Ok(None), Ok(())) => {
                    conn.stats.record_connect(started.elapsed());
                    conn.stream = Some(socket.into());
                    conn.done = false;
                }
                _ => conn.stats.errors.connect += 1,
            }
        }
        pending = still;
    }
    conns
}

impl Conn {
    /// A connection not (yet) open.
    fn new(id: u32, size: usize, started: Instant) -> Conn {
        Conn {
            stream: None,
            id,
            seq: 0,
            out: vec![0; size],
            echo: vec![0; size],
            got: 0,
            reads: 0,
            sent_at: started,
            inflight: 0,
            silent_send: false,
            done: true,
            drain_until: None,
            failed: false,
            stats: Stats::default(),
        }
    }
}

fn push(ring: &mut IoUring, entry: &squeue::Entry) -> std::io::Result<()> {
    loop {
        // SAFETY: every entry points only into a connection's `out` or
        // `echo`, heap buffers that are neither moved nor dropped while a
        // request on them is in the kernel: `ping_pong` returns only once
        // no request is left (`inflight` zero everywhere), or after
        // leaking the buffers when the kernel would not let go of them.
        if unsafe { ring.submission().push(entry) }.is_ok() {
            return Ok(());
        }
        ring.submit()?;
    }
}

/// The next message: written into `out`, sent, and its echo asked for, in
/// one go (the receive starts once the send is complete).
fn start(ring: &mut IoUring, conns: &mut [Conn], key: usize) -> std::io::Result<()> {
    let conn = &mut conns[key];
    let Some(stream) = &conn.stream else { return Ok(()) };
    let fd = types::Fd(stream.as_raw_fd());
    message::encode(&mut conn.out, conn.id, conn.seq);
    let send = opcode::Send::new(fd, conn.out.as_ptr(), conn.out.len() as u32)
        .flags(libc::MSG_WAITALL | libc::MSG_NOSIGNAL)
        .build()
        .flags(squeue::Flags::IO_LINK | squeue::Flags::SKIP_SUCCESS)
        .user_data(tag(key, SEND));
    // The echo cannot be there before the message has gone: wait for it
    // (poll) straight away.
    let recv = opcode::Recv::new(fd, conn.echo.as_mut_ptr(), conn.echo.len() as u32)
        .ioprio(RECVSEND_POLL_FIRST)
        .build()
        .user_data(tag(key, RECV));
    conn.got = 0;
    conn.reads = 0;
    conn.silent_send = true;
    conn.inflight += 2;
    conn.sent_at = Instant::now();
    push(ring, &send)?;
    push(ring, &recv)
}

fn complete(
    ring: &mut IoUring,
    conns: &mut [Conn],
    user_data: u64,
    result: i32,
    plan: &Plan,
    last_done: &mut Instant,
) -> std::io::Result<()> {
    let key = (user_data >> 8) as usize;
    let conn = &mut conns[key];
    conn.inflight -= 1;
    if user_data & 0xff == DRAIN {
        conn.drain_until = None;
        if result > 0 && !conn.failed {
            // Bytes nobody asked for: an echo server does not send them.
            conn.stats.errors.reordered += 1;
        }
        *last_done = Instant::now();
        return Ok(());
    }
    if user_data & 0xff == SEND {
        // Only a failed send speaks; the receive linked after it is then
        // cancelled without a word (the kernel skips the completions of a
        // failed link whose head skips its own).
        conn.silent_send = false;
        conn.inflight -= 1;
        fail(conn, |stats| stats.errors.io += 1);
        return Ok(());
    }
    if conn.silent_send {
        // The receive ran: the send before it went whole.
        conn.silent_send = false;
        conn.inflight -= 1;
    }
    if conn.failed {
        return Ok(());
    }
    if result < 0 {
        fail(conn, |stats| stats.errors.io += 1);
        return Ok(());
    }
    if result == 0 {
        // The server closed in the middle of an echo.
        fail(conn, |stats| stats.errors.truncated += 1);
        return Ok(());
    }
    conn.got += result as usize;
    conn.reads += 1;
    if conn.got < conn.echo.len() {
        // The rest of the echo (TCP may split it anywhere).
        let Some(stream) = &conn.stream else { return Ok(()) };
        let rest = &mut conn.echo[conn.got..];
        let recv = opcode::Recv::new(types::Fd(stream.as_raw_fd()), rest.as_mut_ptr(), rest.len() as u32)
            .build()
            .user_data(tag(key, RECV));
        conn.inflight += 1;
        return push(ring, &recv);
    }
    if conn.reads > 1 {
        conn.stats.short_reads += 1;
    }
    if let Err(mismatch) = message::check(&conn.echo, &conn.out, conn.id, conn.seq) {
        // The stream's framing is lost: this connection stops here.
        fail(conn, |stats| stats.errors.mismatch(mismatch));
        return Ok(());
    }
    if conn.sent_at >= plan.measure_from {
        let size = conn.out.len() as u64;
        conn.stats.count_message(conn.sent_at.elapsed(), size);
    }
    conn.seq += 1;
    if plan.going_on() {
        start(ring, conns, key)
    } else {
        conn.done = true;
        finish(ring, conn, key)
    }
}

/// Closes as a client should, once its last echo is in: our FIN (so that
/// a server that serves one connection at a time takes the next one now),
/// then the server's, awaited for a second at most.
fn finish(ring: &mut IoUring, conn: &mut Conn, key: usize) -> std::io::Result<()> {
    let Some(stream) = &conn.stream else { return Ok(()) };
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let recv =
        opcode::Recv::new(types::Fd(stream.as_raw_fd()), conn.echo.as_mut_ptr(), conn.echo.len() as u32)
            .build()
            .user_data(tag(key, DRAIN));
    conn.inflight += 1;
    conn.drain_until = Some(Instant::now() + Duration::from_secs(1));
    push(ring, &recv)
}

/// Counts a connection's fault once; it sends nothing more.
fn fail(conn: &mut Conn, count: impl FnOnce(&mut Stats)) {
    if !conn.failed {
        conn.failed = true;
        conn.done = true;
        count(&mut conn.stats);
        // What is still pending on it ends now.
        shut(conn, std::net::Shutdown::Both);
    }
}

/// A request's `user_data`: the connection's index and the kind of request.
fn tag(key: usize, kind: u64) -> u64 {
    ((key as u64) << 8) | kind
}
