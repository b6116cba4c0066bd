//! `--mode uring`: the echo loop on io_uring, one ring per CPU.
//!
//! The epoll loops (`async`, and the C reference) pay one system call per
//! `recv` and one per `send`, plus an `epoll_wait` per batch. With io_uring
//! eco writes its requests (receive, send, accept) into a ring shared with
//! the kernel and makes *one* `io_uring_enter` for all of them, which also
//! waits for the next completions: with many busy clients, one system
//! call serves many messages.
//!
//! Each connection has one buffer and, at any time, one chain of requests
//! in the kernel: `recv` into the buffer; once bytes came, `send` them
//! (MSG_WAITALL: the kernel retries until all went) *linked* to the next
//! `recv` into the same buffer, which the kernel starts only after the
//! send is complete. Both go in the same `io_uring_enter`, and the send
//! says nothing when it succeeds (CQE_SKIP_SUCCESS): the `recv`'s
//! completion tells both. (When such a send fails, the kernel skips the
//! linked `recv`'s completion too: see `sent`.)
//! A client that streams (a `recv` fills the buffer) is moved socket →
//! pipe → socket inside the kernel (`splice`, as in `async` mode), the ring
//! telling when the socket is readable or writable (`poll`).
//!
//! The ring is set up with SINGLE_ISSUER and DEFER_TASKRUN (Linux 6.1):
//! completions are run when this thread asks for them, not by interrupting
//! it. Where io_uring is refused (an older kernel, a seccomp profile such
//! as Docker's default, `kernel.io_uring_disabled`), eco serves with
//! `async` instead (see [`available`] and `server::effective_mode`).
//!
//! Everything else is the blocking modes' own: admission and limits in
//! [`Shared::admit`], the signal thread's grace and cut-off (it resets the
//! sockets registered with [`ConnGuard::register`]; the pending requests
//! then complete with an error).

// The ring is memory shared with the kernel: handing it a buffer is a
// promise, which the compiler cannot check, that the buffer outlives the
// request. Each `unsafe` below says why it holds.
#![allow(unsafe_code)]

use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use io_uring::{IoUring, opcode, squeue, types};
use slab::Slab;
use tokio_util::sync::CancellationToken;

use super::conn::{Backoff, ConnGuard, EndReason, Ended, Shared};
use super::{Stop, ack_fin_apart, peer_took_bytes, reset, room};
use crate::aio::{PIPE_SIZE, Pipe, Spliced};
use crate::error::{Doing, Error, Result};

/// Requests in the submission queue at most; completions are kept in a
/// queue four times as long (and, past that, by the kernel: no request's
/// completion is ever lost on Linux 5.5 and later).
const ENTRIES: u32 = 1024;

/// The kind of a request, in the low byte of its `user_data`; the
/// connection's key is in the bits above.
const RECV: u64 = 1;
const SEND: u64 = 2;
const POLL_IN: u64 = 3;
const POLL_OUT: u64 = 4;
/// Requests that concern no connection.
const ACCEPT: u64 = u64::MAX;
const WAKE: u64 = u64::MAX - 1;
const CANCEL: u64 = u64::MAX - 2;

/// `IORING_RECVSEND_POLL_FIRST` (Linux 5.19), which the crate does not export.
const RECVSEND_POLL_FIRST: u16 = 1;

/// Splices per readiness at most, so that one streaming client cannot keep
/// the thread from the others (the ring says again when there is more).
const SPLICES_PER_TURN: usize = 16;

/// Whether this system lets eco use io_uring as `--mode uring` needs it:
/// `Err` with the kernel's answer if not.
pub(super) fn available() -> io::Result<()> {
    ring().map(drop)
}

fn ring() -> io::Result<IoUring> {
    IoUring::builder()
        // One thread submits to this ring and reaps it: the kernel may
        // skip its locking...
        .setup_single_issuer()
        // ...and runs the completions' work when this thread enters the
        // kernel to wait, instead of interrupting it (Linux 6.1).
        .setup_defer_taskrun()
        .setup_cqsize(4 * ENTRIES)
        .build(ENTRIES)
        .and_then(|ring| {
            if ring.params().is_feature_ext_arg() && ring.params().is_feature_nodrop() {
                Ok(ring)
            } else {
                Err(io::Error::new(io::ErrorKind::Unsupported, "this kernel's io_uring is too old"))
            }
        })
}

pub(super) fn serve(listener: TcpListener, shared: &Arc<Shared>, stop: &Stop) -> Result<()> {
    let setup = |source| Error::Io { doing: Doing::Setup, source };
    let threads =
        if shared.config.once { 1 } else { std::thread::available_parallelism().map_or(1, |n| n.get()) };
    // --max-conns: an accept is asked of the kernel only with a place
    // taken first (the async mode's semaphore), so that clients over the
    // limit wait in the kernel's backlog.
    let places = shared.config.limits.max_conns.map(|max| Arc::new(AtomicUsize::new(max)));
    // Each thread gets an eventfd that a stop writes to: its ring always
    // has a read of it pending, so a stop wakes even a thread that is not
    // accepting.
    let mut wakers = Vec::new();
    let mut parts = Vec::new();
    for _ in 0..threads {
        let wake =
            rustix::event::eventfd(0, rustix::event::EventfdFlags::CLOEXEC).map_err(|e| setup(e.into()))?;
        wakers.push(wake.try_clone().map_err(setup)?);
        let listener = listener.try_clone().map_err(setup)?;
        parts.push(Parts {
            listener,
            shared: Arc::clone(shared),
            places: places.clone(),
            wake,
            stop: stop.stopping(),
        });
    }
    drop(listener);
    // A child of the stop request: cancelled by it, by the end of `--once`
    // without it, and by a thread that could not set up its ring.
    let stopping = stop.stopping().child_token();
    let watched = stopping.clone();
    let watcher = std::thread::Builder::new()
        .name("eco-uring-stop".into())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else { return };
            runtime.block_on(watched.cancelled());
            for waker in &wakers {
                let _ = rustix::io::write(waker, &1u64.to_ne_bytes());
            }
        })
        .map_err(setup)?;
    // Each ring is made on the thread that uses it: SINGLE_ISSUER binds a
    // ring to the thread that created it (another one's io_uring_enter
    // fails with EEXIST).
    let main = parts.pop().expect("at least one thread");
    let (ready, readiness) = std::sync::mpsc::channel();
    let mut handles = Vec::new();
    for (n, parts) in parts.into_iter().enumerate() {
        let ready = ready.clone();
        let handle = std::thread::Builder::new().name(format!("eco-uring-{}", n + 1)).spawn(move || {
            let worker = match Worker::new(parts) {
                Ok(worker) => worker,
                Err(error) => {
                    let _ = ready.send(Err(error));
                    return;
                }
            };
            let _ = ready.send(Ok(()));
            if let Err(error) = worker.run() {
                // The other threads go on serving.
                tracing::error!(error = %error, "an io_uring thread stopped");
            }
        });
        match handle {
            Ok(handle) => handles.push(handle),
            Err(error) => {
                stopping.cancel();
                return Err(setup(error));
            }
        }
    }
    drop(ready);
    // One word from each thread: its ring is set up, or why not (a
    // thread that died without a word ends the channel).
    let mut result = Ok(());
    for _ in 0..handles.len() {
        match readiness.recv() {
            Ok(Ok(())) => {}
            Ok(Err(error)) => result = Err(error),
            Err(_) => break,
        }
    }
    if result.is_ok() {
        result = Worker::new(main).and_then(Worker::run);
    }
    if result.is_err() {
        // Whatever failed, the threads that run stop too.
        stopping.cancel();
    }
    for handle in handles {
        let _ = handle.join();
    }
    // `--once` ended without a signal: the watcher waits for one still.
    stopping.cancel();
    let _ = watcher.join();
    result.map_err(setup)
}

/// What a thread needs to make its worker.
struct Parts {
    listener: TcpListener,
    shared: Arc<Shared>,
    places: Option<Arc<AtomicUsize>>,
    wake: OwnedFd,
    stop: CancellationToken,
}

/// One connection: its socket, its buffer, and where its echo stands.
struct Conn {
    /// Shared with the signal thread, which resets it at the end of the grace.
    stream: Arc<TcpStream>,
    guard: ConnGuard,
    buf: Box<[u8]>,
    bytes_in: u64,
    bytes_out: u64,
    /// Bytes of the send in the kernel now.
    sending: usize,
    /// That send completes without a completion of its own if it goes
    /// whole (see `received`).
    silent_send: bool,
    /// Requests in the kernel whose completion is still due: the
    /// connection is forgotten only at zero (the kernel writes into `buf`
    /// until then).
    inflight: u8,
    /// Set once the connection is to end, with why.
    ending: Option<EndReason>,
    /// Streaming: bytes go through this pipe, `piped` of them in it now.
    pipe: Option<Pipe>,
    piped: usize,
    /// For the idle timeout: the last progress, and what the peer had
    /// acknowledged when last looked at (see `peer_took_bytes`).
    last: Instant,
    acked: Option<u64>,
    /// Whether the idle timeout already reset the socket.
    reset: bool,
}

struct Worker {
    ring: IoUring,
    listener: TcpListener,
    shared: Arc<Shared>,
    places: Option<Arc<AtomicUsize>>,
    conns: Slab<Conn>,
    /// An accept is in the kernel.
    accepting: bool,
    /// After a failed accept (out of descriptors), none before this.
    paused_until: Option<Instant>,
    backoff: Backoff,
    wake: OwnedFd,
    /// The stop request (the signal thread's).
    stop: CancellationToken,
    /// Where the read of `wake` puts its count; boxed, so that it stays
    /// put while the kernel holds its address.
    wake_buf: Box<[u8; 8]>,
    stopping: bool,
    /// `--once`: the one client was admitted (no more accepts).
    once_taken: bool,
    /// `--once`: ...and served (the thread ends when it has gone).
    once_served: bool,
    next_idle_check: Instant,
    /// The completions of one turn of the loop.
    completed: Vec<(u64, i32)>,
    /// Where the accept in the kernel writes the client's address (boxed:
    /// it stays put while the kernel holds it).
    peer: Box<(socket2::SockAddrStorage, libc::socklen_t)>,
}

impl Worker {
    fn new(parts: Parts) -> io::Result<Worker> {
        let Parts { listener, shared, places, wake, stop } = parts;
        Ok(Worker {
            ring: ring()?,
            listener,
            shared,
            places,
            conns: Slab::new(),
            accepting: false,
            paused_until: None,
            backoff: Backoff::default(),
            wake,
            stop,
            wake_buf: Box::new([0; 8]),
            stopping: false,
            once_taken: false,
            once_served: false,
            next_idle_check: Instant::now(),
            completed: Vec::new(),
            peer: Box::new((socket2::SockAddrStorage::zeroed(), 0)),
        })
    }

    fn run(mut self) -> io::Result<()> {
        // The wake-up read: completes when a stop writes to the eventfd.
        let read = opcode::Read::new(types::Fd(self.wake.as_raw_fd()), self.wake_buf.as_mut_ptr(), 8)
            .build()
            .user_data(WAKE);
        self.push(read)?;
        loop {
            if !self.stopping && !self.once_taken {
                self.arm_accept()?;
            }
            let done_once = self.shared.config.once && self.once_served;
            if (self.stopping || done_once) && self.conns.is_empty() && !self.accepting {
                return Ok(());
            }
            self.wait()?;
            let now = Instant::now();
            // Completions are copied out first: handling one pushes new
            // requests, which needs the ring. (Into the same Vec each time.)
            let mut completed = std::mem::take(&mut self.completed);
            completed.extend(self.ring.completion().map(|cqe| (cqe.user_data(), cqe.result())));
            for &(user_data, result) in &completed {
                self.complete(user_data, result, now)?;
            }
            completed.clear();
            self.completed = completed;
            self.check_idle(now)?;
        }
    }

    /// Submits what was pushed and waits for at least one completion, or
    /// until the next check is due (a paused accept, the idle timeout).
    fn wait(&mut self) -> io::Result<()> {
        let now = Instant::now();
        let mut due: Option<Instant> = self.paused_until;
        if self.shared.config.limits.idle_timeout.is_some() && !self.conns.is_empty() {
            due = Some(due.map_or(self.next_idle_check, |d| d.min(self.next_idle_check)));
        }
        if !self.accepting && !self.stopping && !self.once_taken {
            // Not accepting because of --max-conns: look again shortly
            // (places are freed by the other threads' connections too).
            due = Some(
                due.map_or(now + Duration::from_millis(100), |d| d.min(now + Duration::from_millis(100))),
            );
        }
        let submitted = match due {
            None => self.ring.submit_and_wait(1),
            Some(due) => {
                let timeout = types::Timespec::from(due.saturating_duration_since(now));
                let args = types::SubmitArgs::new().timespec(&timeout);
                self.ring.submitter().submit_with_args(1, &args)
            }
        };
        match submitted {
            Ok(_) => Ok(()),
            // The timeout passed, or a signal came: both are turns of the loop.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR | libc::EBUSY)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Puts a request in the submission queue, making room first if it is
    /// full.
    fn push(&mut self, entry: squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: every entry pushed here points only into memory that
            // outlives its request: a connection's `buf` (dropped only when
            // its `inflight` count is back to zero), and `wake_buf` and
            // `peer` (the worker's own, which live until the ring is
            // dropped with it, first).
            if unsafe { self.ring.submission().push(&entry) }.is_ok() {
                return Ok(());
            }
            self.ring.submit()?;
        }
    }

    fn arm_accept(&mut self) -> io::Result<()> {
        if self.accepting || self.paused_until.is_some_and(|until| Instant::now() < until) {
            return Ok(());
        }
        self.paused_until = None;
        if let Some(places) = &self.places {
            let taken =
                places.fetch_update(Ordering::AcqRel, Ordering::Acquire, |free| free.checked_sub(1)).is_ok();
            if !taken {
                let max = self.shared.config.limits.max_conns.unwrap_or_default();
                if self.shared.active.count() >= max {
                    self.shared.max_conns_reached(max);
                }
                return Ok(());
            }
        }
        // accept4(): the kernel's next finished handshake, as a new socket
        // (close-on-exec, as the standard library's accept makes it), and
        // the client's address (which a client that already reset no
        // longer has for getpeername).
        let peer = &mut *self.peer;
        peer.1 = peer.0.size_of();
        // SAFETY: a sockaddr fits in the storage, which is made for it.
        let address: *mut libc::sockaddr = unsafe { peer.0.view_as::<libc::sockaddr>() };
        let accept = opcode::Accept::new(types::Fd(self.listener.as_raw_fd()), address, &raw mut peer.1)
            .flags(libc::SOCK_CLOEXEC)
            .build()
            .user_data(ACCEPT);
        self.push(accept)?;
        self.accepting = true;
        Ok(())
    }

    fn give_back_place(&self) {
        if let Some(places) = &self.places {
            places.fetch_add(1, Ordering::AcqRel);
        }
    }

    fn complete(&mut self, user_data: u64, result: i32, now: Instant) -> io::Result<()> {
        match user_data {
            ACCEPT => self.accepted(result),
            WAKE => {
                self.stopping = true;
                if self.accepting {
                    // The pending accept ends (cancelled) without a client.
                    let cancel = opcode::AsyncCancel::new(ACCEPT).build().user_data(CANCEL);
                    self.push(cancel)?;
                }
                Ok(())
            }
            CANCEL => Ok(()),
            _ => {
                let key = (user_data >> 8) as usize;
                let Some(conn) = self.conns.get_mut(key) else { return Ok(()) };
                conn.inflight -= 1;
                match user_data & 0xff {
                    RECV => self.received(key, result, now),
                    SEND => self.sent(key, result, now),
                    POLL_IN => self.readable(key, result, now),
                    POLL_OUT => self.writable(key, result, now),
                    _ => Ok(()),
                }
            }
        }
    }

    fn accepted(&mut self, result: i32) -> io::Result<()> {
        self.accepting = false;
        if result < 0 {
            self.give_back_place();
            let error = io::Error::from_raw_os_error(-result);
            // Stopping: the accept was cancelled, or the signal thread shut
            // the listening socket down.
            if !self.stopping && !self.stop.is_cancelled() {
                let pause = self.shared.accept_failed(&error, &mut self.backoff);
                if !pause.is_zero() {
                    self.paused_until = Some(Instant::now() + pause);
                }
            }
            return Ok(());
        }
        // SAFETY: a successful accept's result is a new descriptor that
        // nothing else owns.
        let stream = unsafe { TcpStream::from_raw_fd(result) };
        if self.stopping || self.stop.is_cancelled() {
            // A late client, or the connection that wakes a socket that
            // systemd keeps: closed, not served.
            self.give_back_place();
            return Ok(());
        }
        self.shared.accepted(&mut self.backoff);
        let storage = std::mem::replace(&mut self.peer.0, socket2::SockAddrStorage::zeroed());
        // SAFETY: the accept wrote a socket address of `peer.1` bytes
        // (at most the storage's size, which it was told) into `storage`.
        let address = unsafe { socket2::SockAddr::new(storage, self.peer.1) };
        let Some(peer) = address.as_socket() else {
            self.give_back_place();
            return Ok(());
        };
        let Some(mut guard) = self.shared.admit(&stream, peer) else {
            self.give_back_place();
            return Ok(());
        };
        if self.shared.config.once {
            self.once_taken = true;
        }
        let stream = Arc::new(stream);
        guard.register(&stream);
        let key = self.conns.insert(Conn {
            stream,
            guard,
            buf: vec![0u8; self.shared.config.buffer].into_boxed_slice(),
            bytes_in: 0,
            bytes_out: 0,
            sending: 0,
            silent_send: false,
            inflight: 0,
            ending: None,
            pipe: None,
            piped: 0,
            last: Instant::now(),
            acked: None,
            reset: false,
        });
        self.recv(key)
    }

    /// Asks for the connection's next bytes, into its buffer.
    fn recv(&mut self, key: usize) -> io::Result<()> {
        let max_bytes = self.shared.config.limits.max_bytes;
        let conn = &mut self.conns[key];
        let room = room(max_bytes, conn.bytes_in, conn.buf.len());
        if room == 0 {
            return self.end(key, EndReason::Limit);
        }
        let recv = opcode::Recv::new(types::Fd(conn.stream.as_raw_fd()), conn.buf.as_mut_ptr(), room as u32)
            .build()
            .user_data(tag(key, RECV));
        conn.inflight += 1;
        self.push(recv)
    }

    fn received(&mut self, key: usize, result: i32, now: Instant) -> io::Result<()> {
        let max_bytes = self.shared.config.limits.max_bytes;
        let conn = &mut self.conns[key];
        if conn.silent_send {
            // This recv ran, so the send linked before it completed
            // whole: it said nothing (CQE_SKIP_SUCCESS), and counts now.
            // (Had it failed, it would have said so, and this recv would
            // have been cancelled without a completion.)
            conn.silent_send = false;
            conn.inflight -= 1;
            conn.bytes_out += conn.sending as u64;
            conn.sending = 0;
        }
        if conn.ending.is_some() {
            // Ended meanwhile (the idle timeout): what is due still
            // comes, then it goes.
            return self.settle(key);
        }
        if result < 0 {
            return self.end(key, EndReason::from_error(io::Error::from_raw_os_error(-result)));
        }
        if result == 0 {
            // The client's FIN: everything has been echoed.
            let _ = ack_fin_apart(&*conn.stream, &self.shared.config);
            return self.end(key, EndReason::Fin);
        }
        let n = result as usize;
        conn.bytes_in += n as u64;
        conn.last = now;
        if n == conn.buf.len() && conn.pipe.is_none() {
            // A full buffer: the client streams. From the next turn on,
            // splice (if the system gives a pipe; copying works without).
            // The splices and the peek must not wait (the ring says when
            // to call them): the socket becomes non-blocking, which the
            // ring's own requests do not mind.
            if conn.stream.set_nonblocking(true).is_ok() {
                conn.pipe = Pipe::new().ok();
            }
        }
        let next_room = room(max_bytes, conn.bytes_in, conn.buf.len());
        // send() with MSG_WAITALL: complete only when every byte is in the
        // send buffer (the kernel waits for room as often as it takes),
        // so that the linked recv may reuse the buffer.
        let link = next_room > 0 && conn.pipe.is_none();
        let (fd, buf) = (types::Fd(conn.stream.as_raw_fd()), conn.buf.as_mut_ptr());
        let send = opcode::Send::new(fd, buf, n as u32)
            .flags(libc::MSG_WAITALL | libc::MSG_NOSIGNAL)
            .build()
            // Linked to the next recv, a send that went whole says
            // nothing (CQE_SKIP_SUCCESS): the recv's completion tells it,
            // and a client's next message costs one io_uring_enter.
            .flags(if link {
                squeue::Flags::IO_LINK | squeue::Flags::SKIP_SUCCESS
            } else {
                squeue::Flags::empty()
            })
            .user_data(tag(key, SEND));
        conn.silent_send = link;
        conn.sending = n;
        conn.inflight += if link { 2 } else { 1 };
        self.push(send)?;
        if link {
            // recv(), linked: the kernel starts it once the send is
            // complete, in the same io_uring_enter as the send.
            // IORING_RECVSEND_POLL_FIRST: the client sends its next
            // bytes only after it has this echo, so a first try to read
            // would find nothing; wait for them (poll) straight away.
            let recv = opcode::Recv::new(fd, buf, next_room as u32)
                .ioprio(RECVSEND_POLL_FIRST)
                .build()
                .user_data(tag(key, RECV));
            self.push(recv)?;
        }
        Ok(())
    }

    fn sent(&mut self, key: usize, result: i32, now: Instant) -> io::Result<()> {
        let conn = &mut self.conns[key];
        if conn.silent_send {
            // A silent send speaks only when it failed; the recv linked
            // after it is then cancelled without a word (the kernel skips
            // the completions of a failed link whose head skips its own).
            conn.silent_send = false;
            conn.inflight -= 1;
        }
        if result > 0 {
            conn.bytes_out += result as u64;
            conn.last = now;
        }
        if conn.ending.is_some() {
            return self.settle(key);
        }
        if result < 0 {
            return self.end(key, EndReason::from_error(io::Error::from_raw_os_error(-result)));
        }
        if (result as usize) < conn.sending {
            // MSG_WAITALL stops short only when the connection broke.
            let broke = io::Error::from_raw_os_error(libc::ECONNRESET);
            return self.end(key, EndReason::from_error(broke));
        }
        conn.sending = 0;
        if conn.inflight > 0 {
            // The linked recv is on its way.
            return Ok(());
        }
        if conn.pipe.is_some() { self.poll(key, POLL_IN) } else { self.recv(key) }
    }

    /// Asks the ring to say when the socket is readable (`POLL_IN`) or
    /// writable (`POLL_OUT`): the splice path's epoll.
    fn poll(&mut self, key: usize, kind: u64) -> io::Result<()> {
        let conn = &mut self.conns[key];
        let events = if kind == POLL_IN { libc::POLLIN } else { libc::POLLOUT };
        let poll = opcode::PollAdd::new(types::Fd(conn.stream.as_raw_fd()), events as u32)
            .build()
            .user_data(tag(key, kind));
        conn.inflight += 1;
        self.push(poll)
    }

    /// Streaming: the socket has bytes (or its FIN, or an error). Splice
    /// them into the pipe and out, a few turns at most.
    fn readable(&mut self, key: usize, result: i32, now: Instant) -> io::Result<()> {
        if self.conns[key].ending.is_some() {
            return self.settle(key);
        }
        if result < 0 {
            return self.end(key, EndReason::from_error(io::Error::from_raw_os_error(-result)));
        }
        let max_bytes = self.shared.config.limits.max_bytes;
        for _ in 0..SPLICES_PER_TURN {
            let conn = &mut self.conns[key];
            let room = room(max_bytes, conn.bytes_in, PIPE_SIZE);
            if room == 0 {
                return self.end(key, EndReason::Limit);
            }
            let pipe = conn.pipe.as_ref().expect("streaming connections have a pipe");
            match crate::aio::splice_in_now(&conn.stream, pipe, room) {
                Ok(Spliced::Moved(0)) => {
                    let _ = ack_fin_apart(&*conn.stream, &self.shared.config);
                    return self.end(key, EndReason::Fin);
                }
                Ok(Spliced::Moved(n)) => {
                    conn.bytes_in += n as u64;
                    conn.piped = n;
                    conn.last = now;
                    match self.pump(key, now) {
                        Ok(true) => {}
                        // The client does not read: wait for room.
                        Ok(false) => return self.poll(key, POLL_OUT),
                        Err(e) => return self.end(key, EndReason::from_error(e)),
                    }
                }
                // Past an urgent mark only a recv goes (see aio::Spliced).
                Ok(Spliced::AtUrgentMark) => return self.recv(key),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return self.poll(key, POLL_IN),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.end(key, EndReason::from_error(e)),
            }
        }
        // More may wait: the ring says so at once if it does.
        self.poll(key, POLL_IN)
    }

    /// Splices the pipe out to the socket: `Ok(false)` if the socket's
    /// send buffer is full first.
    fn pump(&mut self, key: usize, now: Instant) -> io::Result<bool> {
        let idle = self.shared.config.limits.idle_timeout.is_some();
        let conn = &mut self.conns[key];
        let pipe = conn.pipe.as_ref().expect("streaming connections have a pipe");
        while conn.piped > 0 {
            match crate::aio::splice_out_now(pipe, &conn.stream, conn.piped) {
                Ok(moved) => {
                    conn.piped -= moved;
                    conn.bytes_out += moved as u64;
                    conn.last = now;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if idle {
                        // For the idle check to compare with later.
                        peer_took_bytes(&*conn.stream, &mut conn.acked);
                    }
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    fn writable(&mut self, key: usize, result: i32, now: Instant) -> io::Result<()> {
        if self.conns[key].ending.is_some() {
            return self.settle(key);
        }
        if result < 0 {
            return self.end(key, EndReason::from_error(io::Error::from_raw_os_error(-result)));
        }
        match self.pump(key, now) {
            Ok(true) => self.readable(key, 0, now),
            Ok(false) => self.poll(key, POLL_OUT),
            Err(e) => self.end(key, EndReason::from_error(e)),
        }
    }

    /// The connection ends for `reason`: told once nothing of it is left
    /// in the kernel.
    fn end(&mut self, key: usize, reason: EndReason) -> io::Result<()> {
        let conn = &mut self.conns[key];
        conn.ending.get_or_insert(reason);
        self.settle(key)
    }

    /// Forgets an ending connection once its last request completed:
    /// closes its socket (reset if echo is still owed, or cut at the end of
    /// the grace) and tells how it ended.
    fn settle(&mut self, key: usize) -> io::Result<()> {
        if self.conns[key].inflight > 0 {
            return Ok(());
        }
        let conn = self.conns.remove(key);
        let reason = conn.ending.unwrap_or(EndReason::Fin);
        if matches!(reason, EndReason::Shutdown) || conn.bytes_out < conn.bytes_in {
            reset(&*conn.stream);
        }
        drop(conn.stream);
        conn.guard.finish(Ended { bytes_in: conn.bytes_in, bytes_out: conn.bytes_out, reason });
        self.give_back_place();
        if self.shared.config.once {
            self.once_served = true;
        }
        Ok(())
    }

    /// The idle timeout, checked a few times a second: a connection without
    /// progress for the limit (and whose peer acknowledged nothing
    /// meanwhile) ends. Its requests are ended by shutting its socket's
    /// reading down: a pending receive then completes with 0, after which
    /// the connection closes with a FIN, its echo complete. A send still
    /// pending on the next check (the client stopped reading: echo owed)
    /// is ended by a reset.
    ///
    /// Not by cancelling the requests (AsyncCancel): a cancelled receive
    /// cannot tell whether the silent send linked before it went whole.
    fn check_idle(&mut self, now: Instant) -> io::Result<()> {
        let Some(limit) = self.shared.config.limits.idle_timeout else { return Ok(()) };
        if now < self.next_idle_check {
            return Ok(());
        }
        self.next_idle_check = now + (limit / 8).clamp(Duration::from_millis(10), Duration::from_millis(250));
        for (_, conn) in &mut self.conns {
            if conn.ending.is_some() {
                if conn.inflight > 0 && !conn.reset {
                    // Still not over after the shutdown: a send waits for a
                    // client that does not read.
                    conn.reset = true;
                    reset(&*conn.stream);
                }
                continue;
            }
            if now >= conn.last + limit {
                if peer_took_bytes(&*conn.stream, &mut conn.acked) {
                    conn.last = now;
                } else {
                    conn.ending = Some(EndReason::IdleTimeout);
                    let _ = conn.stream.shutdown(Shutdown::Read);
                }
            }
        }
        Ok(())
    }
}

/// A request's `user_data`: the connection's key and the kind of request.
fn tag(key: usize, kind: u64) -> u64 {
    ((key as u64) << 8) | kind
}
