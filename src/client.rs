//! `eco client`: the exercise's `cliente.py`, plus ping-like and pipe modes.
//!
//! The order of the calls matters on the wire: connect (the handshake),
//! send, read the whole echo, *then* close. Closing after the echo is read
//! makes the client's FIN the first one, which gives the exercise's close.
//!
//! What the client promises: it exits 0 only when every byte it sent came
//! back, in order, unchanged; anything less (a mismatch, a short echo, a
//! server that closed or reset early, no answer within `--timeout`) is a
//! one-line error and exit status 1.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::tls::TlsProblem;
use socket2::SockRef;

use crate::console::Console;
use crate::error::{Doing, Error, Result};
use crate::i18n::{Lang, Text};

/// What `--timeout 0` waits: no limit, as far as anyone will wait.
const NO_LIMIT: Duration = Duration::from_secs(365 * 86_400);

/// The exercise's message: 52 characters, 55 bytes in UTF-8.
pub const EXERCISE_MESSAGE: &str = "Olá Servidor, meu nome é Cliente e sou o único aqui.";

#[derive(Debug, Clone)]
pub struct Config {
    /// The server's addresses, tried in order (a name may have several).
    pub addrs: Vec<SocketAddr>,
    pub connect_timeout: Duration,
    /// How long a whole echo may take (`--stdin`: how long the rest of the
    /// echo may take to come once the input has ended).
    pub timeout: Duration,
    /// `--proxy-protocol`: the header sent first.
    pub proxy: Option<crate::proxy::Version>,
    /// `--tls`: the handshake's settings and the server's name.
    pub tls: Option<crate::tls::Client>,
}

impl Config {
    /// A plain TCP client of `addrs`.
    pub fn plain(addrs: Vec<SocketAddr>, connect_timeout: Duration, timeout: Duration) -> Config {
        Config { addrs, connect_timeout, timeout, proxy: None, tls: None }
    }
}

/// What the echo goes over: a TCP socket, or TLS on one.
pub trait Stream: Read + Write {
    fn tcp(&self) -> &TcpStream;

    /// The server's address, for messages (also once a reset made the
    /// socket forget it).
    fn peer(&self) -> SocketAddr {
        self.tcp().peer_addr().unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)))
    }
}

impl Stream for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

/// A connection as `eco client` opened it.
pub struct Link {
    peer: SocketAddr,
    inner: Inner,
}

enum Inner {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream for Link {
    fn tcp(&self) -> &TcpStream {
        match &self.inner {
            Inner::Plain(tcp) => tcp,
            Inner::Tls(tls) => &tls.sock,
        }
    }

    fn peer(&self) -> SocketAddr {
        self.peer
    }
}

impl Read for Link {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Plain(tcp) => tcp.read(buf),
            // A server that closes without TLS's close_notify has still
            // closed: the echo check tells whether anything was missing.
            Inner::Tls(tls) => match tls.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
        }
    }
}

impl Write for Link {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Plain(tcp) => tcp.write(buf),
            Inner::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Inner::Plain(tcp) => tcp.flush(),
            Inner::Tls(tls) => tls.flush(),
        }
    }
}

impl Link {
    /// Closes our side in order: TLS's close_notify first, then the FIN.
    /// With TLS the server answers with its own close_notify: that is read
    /// (for a second at most) before the socket closes, else our kernel
    /// would answer it with a reset.
    pub fn close(mut self) {
        if let Inner::Tls(tls) = &mut self.inner {
            tls.conn.send_close_notify();
            let _ = tls.conn.complete_io(&mut tls.sock);
            let _ = tls.sock.shutdown(Shutdown::Write);
            let _ = tls.sock.set_read_timeout(Some(Duration::from_secs(1)));
            let mut rest = [0u8; 1024];
            while matches!(tls.sock.read(&mut rest), Ok(n) if n > 0) {}
        }
    }
}

/// Connects as `config` says: TCP, the PROXY header, the TLS handshake
/// (what it settled is told on stderr).
pub fn open(config: &Config, console: &Console) -> Result<Link> {
    handshake(connect(config)?, config, console)
}

/// The TLS handshake of `--tls` on a connected socket (none without it).
pub fn handshake(tcp: TcpStream, config: &Config, console: &Console) -> Result<Link> {
    let addr = peer_of(&tcp)?;
    let Some(tls) = &config.tls else { return Ok(Link { peer: addr, inner: Inner::Plain(tcp) }) };
    let failed = |problem| Error::TlsHandshake { addr, problem, insecure: tls.unchecked };
    let mut conn = rustls::ClientConnection::new(Arc::clone(&tls.config), tls.name.clone())
        .map_err(|e| failed(TlsProblem::of_rustls(&e)))?;
    let mut tcp = tcp;
    // The handshake, within --connect-timeout (a server that takes the TCP
    // connection but never answers the hello must not hang us).
    let wait = if config.connect_timeout.is_zero() { None } else { Some(config.connect_timeout) };
    tcp.set_read_timeout(wait).map_err(|source| talk(Some(addr), source))?;
    while conn.is_handshaking() {
        if let Err(error) = conn.complete_io(&mut tcp) {
            let problem = match error.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                    TlsProblem::Timeout(config.connect_timeout)
                }
                // Reset by a server that wanted a PROXY header, say.
                io::ErrorKind::ConnectionReset => TlsProblem::Closed,
                _ => TlsProblem::of(&error),
            };
            return Err(failed(problem));
        }
    }
    let negotiated = crate::tls::Negotiated::of(&conn, None);
    console.note(&Msg::Tls { negotiated: &negotiated });
    Ok(Link { peer: addr, inner: Inner::Tls(Box::new(rustls::StreamOwned::new(conn, tcp))) })
}

/// Opens a connection to the first address of `config` that accepts one.
pub fn connect(config: &Config) -> Result<TcpStream> {
    let mut last_error = None;
    for &addr in &config.addrs {
        // connect(): the kernel sends SYN and this call sleeps until the
        // server's SYN-ACK has arrived and our ACK is sent: the three-way
        // handshake is over when it returns.
        // --connect-timeout 0: no limit of ours (the kernel's own, about
        // two minutes of SYN retries, still applies).
        let connected = if config.connect_timeout.is_zero() {
            TcpStream::connect(addr)
        } else {
            TcpStream::connect_timeout(&addr, config.connect_timeout)
        };
        match connected {
            Ok(mut stream) => {
                // TCP_NODELAY: send each message at once; see server::Config.
                stream.set_nodelay(true).map_err(|source| talk(Some(addr), source))?;
                if let Some(version) = config.proxy {
                    // The header a balancer would send: this connection's
                    // own addresses, client first.
                    let local = stream.local_addr().map_err(|source| talk(Some(addr), source))?;
                    let header = crate::proxy::build(version, local, addr);
                    stream.write_all(&header).map_err(|source| talk(Some(addr), source))?;
                }
                return Ok(stream);
            }
            Err(source) => last_error = Some(Error::from_connect(addr, config.connect_timeout, source)),
        }
    }
    Err(last_error.unwrap_or(Error::BadHost { host: String::new() }))
}

/// Sends `message` and reads back exactly as many bytes, into `echo`; fails
/// unless the echo is identical and complete within `timeout`.
pub fn round_trip(
    stream: &mut impl Stream,
    message: &[u8],
    timeout: Duration,
    echo: &mut Vec<u8>,
) -> Result<()> {
    // --timeout 0: no limit (a deadline far beyond any run).
    let deadline = Instant::now() + if timeout.is_zero() { NO_LIMIT } else { timeout };
    send(stream, message)?;
    receive_echo(stream, message, (deadline, timeout), echo)
}

/// Hands all of `message` to the kernel.
pub fn send(stream: &mut impl Stream, message: &[u8]) -> Result<()> {
    // send(): `write_all` hands every byte to the kernel, which sends them
    // in segments and retransmits what is lost; we do not wait for ACKs.
    stream
        .write_all(message)
        .and_then(|()| stream.flush())
        .map_err(|source| talk(Some(stream.peer()), source))
}

/// Reads exactly `message.len()` bytes into `echo` by `deadline` (which is
/// `timeout` after the send) and checks them against `message`.
pub fn receive_echo(
    stream: &mut impl Stream,
    message: &[u8],
    (deadline, timeout): (Instant, Duration),
    echo: &mut Vec<u8>,
) -> Result<()> {
    let addr = stream.peer();
    echo.clear();
    echo.resize(message.len(), 0);
    let mut got = 0;
    let timed_out = |got| Error::EchoTimeout { addr, timeout, got, expected: message.len() };
    // TCP is a byte stream: the echo may arrive in several pieces, so read
    // until we have as many bytes as we sent (the exercise's single
    // recv(1024) works only because its message is short). Each read waits
    // at most until the deadline, so a server that drips a byte now and
    // then cannot stretch the echo past --timeout.
    while got < message.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out(got));
        }
        stream.tcp().set_read_timeout(Some(left)).map_err(|source| talk(Some(addr), source))?;
        match stream.read(&mut echo[got..]) {
            Ok(0) => {
                echo.truncate(got);
                return check_echo(addr, message, echo);
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Err(timed_out(got));
            }
            Err(source) => return Err(talk(Some(addr), source)),
        }
    }
    check_echo(addr, message, echo)
}

/// The exercise: one message, its echo printed, then close.
pub fn run_message(config: &Config, message: &str, console: &Console) -> Result<()> {
    let mut stream = open(config, console)?;
    let mut echo = Vec::with_capacity(message.len());
    round_trip(&mut stream, message.as_bytes(), config.timeout, &mut echo)?;
    console.say(&Msg::Echoed { message: &String::from_utf8_lossy(&echo) });
    // close(): our FIN goes out first; the server's recv() returns 0 and it
    // closes too.
    stream.close();
    Ok(())
}

/// `--count N`: N round trips on one connection, each timed, like ping.
/// Ctrl-C stops early and still prints the statistics.
pub fn run_count(
    config: &Config,
    message: &str,
    count: u64,
    interval: Duration,
    console: &Console,
) -> Result<()> {
    let mut stream = open(config, console)?;
    let peer = peer_of(stream.tcp())?;
    // On Ctrl-C, shutting down our reading side wakes a read that waits.
    let waker = stream.tcp().try_clone().map_err(|source| talk(Some(peer), source))?;
    let interrupt = Interrupt::install(move || {
        let _ = waker.shutdown(Shutdown::Read);
    })?;
    let mut echo = Vec::with_capacity(message.len());
    let mut times = Vec::with_capacity(count.min(1 << 20) as usize);
    let mut sent = 0;
    for seq in 1..=count {
        if seq > 1 && interrupt.sleep(interval) {
            break;
        }
        let start = Instant::now();
        sent += 1;
        let result = round_trip(&mut stream, message.as_bytes(), config.timeout, &mut echo);
        if interrupt.happened() {
            // Cut short by Ctrl-C, not lost: its echo had no time to come.
            if result.is_err() {
                sent -= 1;
            }
            break;
        }
        result?;
        let time = start.elapsed();
        console.say(&Msg::RoundTripTime { bytes: message.len(), peer, seq, time });
        times.push(time);
    }
    stream.close();
    console.say(&summary(peer, sent, &times));
    Ok(())
}

/// The ping-like summary: sent, echoed, lost, min/avg/max of the round trips.
fn summary(peer: SocketAddr, sent: u64, times: &[Duration]) -> Msg<'static> {
    let zero = Duration::ZERO;
    let (min, max) =
        (times.iter().min().copied().unwrap_or(zero), times.iter().max().copied().unwrap_or(zero));
    let avg = if times.is_empty() { zero } else { times.iter().sum::<Duration>() / times.len() as u32 };
    Msg::RoundTripSummary { peer, sent, received: times.len() as u64, min, avg, max }
}

/// `--udp`: the message as one datagram, its echo as one datagram.
///
/// UDP keeps no connection and promises no delivery: a datagram or its
/// echo may be lost, and nothing resends it. With `--count`, a missing
/// echo counts as lost (like ping); for one message, it is an error.
pub fn run_udp(
    config: &Config,
    message: &str,
    count: Option<u64>,
    interval: Duration,
    console: &Console,
) -> Result<()> {
    // 65 535 minus the IPv4 and UDP headers; longer needs IP fragments no
    // server is obliged to take (IPv6 allows 20 bytes more; one limit is simpler).
    if message.len() > 65_507 {
        return Err(Error::DatagramTooLong { len: message.len() });
    }
    // A name may stand for several addresses: each is tried in turn while
    // the answer is "port unreachable" (nothing listens there).
    let mut last_error = None;
    for &addr in &config.addrs {
        match udp_exchange(addr, config, message, count, interval, console) {
            Err(Error::ConnectRefused { addr }) => last_error = Some(Error::ConnectRefused { addr }),
            other => return other,
        }
    }
    Err(last_error.unwrap_or(Error::BadHost { host: String::new() }))
}

fn udp_exchange(
    addr: SocketAddr,
    config: &Config,
    message: &str,
    count: Option<u64>,
    interval: Duration,
    console: &Console,
) -> Result<()> {
    let talk = |source: io::Error| match source.kind() {
        // The ICMP "port unreachable" of an earlier datagram, reported on
        // this connected socket.
        io::ErrorKind::ConnectionRefused => Error::ConnectRefused { addr },
        _ => talk(Some(addr), source),
    };
    let local: SocketAddr =
        if addr.is_ipv6() { "[::]:0".parse() } else { "0.0.0.0:0".parse() }.expect("literal");
    let socket = UdpSocket::bind(local).map_err(|source| Error::Io { doing: Doing::Setup, source })?;
    // connect() on UDP sends nothing: it fixes the peer, so that send()
    // needs no address and recv() takes datagrams from that peer only.
    socket.connect(addr).map_err(talk)?;
    socket.set_read_timeout(Some(config.timeout).filter(|t| !t.is_zero())).map_err(talk)?;
    let waker = socket.try_clone().map_err(talk)?;
    let interrupt = Interrupt::install(move || {
        let _ = SockRef::from(&waker).shutdown(Shutdown::Read);
    })?;
    let mut echo = vec![0u8; crate::server::udp::MAX_DATAGRAM + 1];
    let rounds = count.unwrap_or(1);
    let (mut times, mut sent) = (Vec::new(), 0);
    for seq in 1..=rounds {
        if seq > 1 && interrupt.sleep(interval) {
            break;
        }
        let start = Instant::now();
        // A signal (Ctrl-C) may cut a call short (EINTR, which timed
        // socket calls are not restarted after): try again; the signal's
        // own thread then wakes the receive, and the loop ends below.
        while let Err(e) = socket.send(message.as_bytes()) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(talk(e));
            }
        }
        sent += 1;
        let received = loop {
            match socket.recv(&mut echo) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted && !interrupt.happened() => {}
                other => break other,
            }
        };
        if interrupt.happened() {
            break;
        }
        let got = match received {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                if count.is_none() {
                    return Err(Error::EchoTimeout {
                        addr,
                        timeout: config.timeout,
                        got: 0,
                        expected: message.len(),
                    });
                }
                console.say(&Msg::RoundTripLost { peer: addr, seq, timeout: config.timeout });
                continue;
            }
            Err(source) => return Err(talk(source)),
        };
        let time = start.elapsed();
        check_echo(addr, message.as_bytes(), &echo[..got])?;
        match count {
            Some(_) => console.say(&Msg::RoundTripTime { bytes: got, peer: addr, seq, time }),
            None => console.say(&Msg::Echoed { message: &String::from_utf8_lossy(&echo[..got]) }),
        }
        times.push(time);
    }
    if count.is_some() {
        console.say(&summary(addr, sent, &times));
    }
    Ok(())
}

/// Fails unless `echo` is exactly `sent`.
fn check_echo(addr: SocketAddr, sent: &[u8], echo: &[u8]) -> Result<()> {
    if let Some(offset) = sent.iter().zip(echo).position(|(s, e)| s != e) {
        return Err(Error::mismatch(addr, sent, echo, offset));
    }
    if echo.len() != sent.len() {
        return Err(Error::EchoShort { addr, got: echo.len() as u64, expected: sent.len() as u64 });
    }
    Ok(())
}

/// `--stdin`: standard input to the server, the echo to standard output.
///
/// Two directions at once, so two threads: a writer that copies stdin to
/// the socket and then half-closes (shutdown(SHUT_WR) sends FIN, like
/// `nc -N`), and this thread copying the echo to stdout until the server's
/// FIN. One thread could deadlock: blocked writing while the server, whose
/// send buffer is full, waits for us to read.
///
/// Both count their bytes: when the server's FIN comes, the echo is
/// complete only if the input had ended and every byte sent came back.
pub fn run_stdin(config: &Config) -> Result<()> {
    let stream = connect(config)?;
    let addr = peer_of(&stream)?;
    let setup = |source| Error::Io { doing: Doing::Setup, source };
    let progress = Arc::new(Progress::default());
    let to_server = stream.try_clone().map_err(|source| talk(Some(addr), source))?;
    let (writer_progress, timeout) = (Arc::clone(&progress), config.timeout);
    std::thread::Builder::new()
        .name("eco-stdin".into())
        .spawn(move || send_input(to_server, &writer_progress, timeout))
        .map_err(setup)?;
    let mut from_server = stream;
    let mut stdout = io::stdout().lock();
    let mut buf = vec![0u8; 64 * 1024];
    let result = loop {
        match from_server.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                // Checked before it is printed: what reaches stdout is what
                // was sent, or eco says where it differs.
                let offset = progress.received.load(Ordering::SeqCst);
                if let Err(error) = progress.check(addr, offset, &buf[..n]) {
                    progress.finished.store(true, Ordering::SeqCst);
                    return Err(error);
                }
                match stdout.write_all(&buf[..n]).and_then(|()| stdout.flush()) {
                    Ok(()) => {}
                    // Whoever reads our stdout has gone (`eco client --stdin |
                    // head`): not an error, as for any Unix filter.
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
                    Err(source) => break Err(Error::Io { doing: Doing::Setup, source }),
                }
                progress.received.fetch_add(n as u64, Ordering::SeqCst);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => break Err(talk(Some(addr), source)),
        }
    };
    // The server's FIN (or an error) may come while our input is still
    // being sent (a server that half-closed early and drains the rest):
    // give the writer a moment to finish, so that the totals are exact.
    let waited = Instant::now();
    while !progress.input_ended.load(Ordering::SeqCst)
        && !progress.writer_gone.load(Ordering::SeqCst)
        && waited.elapsed() < Duration::from_secs(1)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    progress.finished.store(true, Ordering::SeqCst);
    let (sent, received) = (progress.sent.load(Ordering::SeqCst), progress.received.load(Ordering::SeqCst));
    if progress.timed_out.load(Ordering::SeqCst) {
        let expected = usize::try_from(sent).unwrap_or(usize::MAX);
        return Err(Error::EchoTimeout { addr, timeout, got: received as usize, expected });
    }
    let ended = progress.input_ended.load(Ordering::SeqCst);
    match result {
        // A reset (or other failure) before the whole echo came: say how
        // much did.
        Err(Error::Io { source, .. }) if received < sent || !ended => {
            Err(Error::EchoCut { addr, got: received, expected: sent, ended, source })
        }
        Err(error) => Err(error),
        Ok(()) if received < sent && ended => Err(Error::EchoShort { addr, got: received, expected: sent }),
        Ok(()) if !ended => Err(Error::ClosedEarly { addr, echoed: received, sent }),
        Ok(()) => Ok(()),
    }
}

/// What the two halves of `--stdin` tell each other.
#[derive(Default)]
struct Progress {
    /// Bytes handed to the kernel so far.
    sent: AtomicU64,
    /// Bytes of echo written to stdout so far.
    received: AtomicU64,
    /// Set before our FIN goes out: from then on `sent` is final.
    input_ended: AtomicBool,
    /// The reader saw the end of the echo.
    finished: AtomicBool,
    /// The writer stopped without ending the input (the socket failed).
    writer_gone: AtomicBool,
    /// The rest of the echo did not come within `--timeout`.
    timed_out: AtomicBool,
    /// Bytes sent and not echoed yet, oldest first, to check the echo
    /// against: at most [`MAX_PENDING`] (an echo server's own buffers hold
    /// less; a peer that reads without echoing makes the writer wait).
    pending: Mutex<VecDeque<u8>>,
    /// Signalled when echoed bytes leave `pending`.
    drained: Condvar,
}

/// Bytes sent ahead of their echo, at most: the sockets' buffers hold a
/// few MiB; this bounds the client's memory whatever the peer does.
const MAX_PENDING: usize = 32 << 20;

impl Progress {
    /// Waits until `n` more bytes fit in `pending`; false if no echo came
    /// for `timeout` meanwhile (0: no limit) or the reader has finished.
    fn make_room(&self, n: usize, timeout: Duration) -> bool {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let mut since = Instant::now();
        let mut before = pending.len();
        while pending.len() + n > MAX_PENDING {
            if self.finished.load(Ordering::SeqCst) {
                return false;
            }
            if pending.len() < before {
                (before, since) = (pending.len(), Instant::now());
            }
            if !timeout.is_zero() && since.elapsed() >= timeout {
                return false;
            }
            pending = self
                .drained
                .wait_timeout(pending, Duration::from_millis(50))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// Checks `echo`, which starts at byte `offset` of the echo, against
    /// what was sent, and takes it off the pending bytes.
    fn check(&self, addr: SocketAddr, offset: u64, echo: &[u8]) -> Result<()> {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let (front, back) = pending.as_slices();
        let sent: Vec<u8> = front.iter().chain(back).take(echo.len()).copied().collect();
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        if let Some(at) = sent.iter().zip(echo).position(|(s, e)| s != e) {
            let mismatch = Error::mismatch(addr, &sent, echo, at);
            return Err(match mismatch {
                Error::EchoMismatch { addr, sent, got, tls, .. } => {
                    Error::EchoMismatch { addr, offset: offset.saturating_add(at), sent, got, tls }
                }
                other => other,
            });
        }
        if sent.len() < echo.len() {
            return Err(Error::EchoExtra { addr, offset: offset.saturating_add(sent.len()) });
        }
        pending.drain(..echo.len());
        self.drained.notify_all();
        Ok(())
    }
}

/// The writer half of `--stdin`: stdin to the socket, then FIN; then it
/// watches that the rest of the echo keeps coming (`--timeout`).
fn send_input(mut socket: TcpStream, progress: &Progress, timeout: Duration) {
    let mut stdin = io::stdin().lock();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        // Noted before it is sent: its echo may be back before write_all
        // returns. Past MAX_PENDING the writer waits for the echo to catch
        // up, at most --timeout without a byte of it.
        if !progress.make_room(n, timeout) {
            progress.timed_out.store(true, Ordering::SeqCst);
            let _ = socket.shutdown(Shutdown::Both);
            return;
        }
        progress.pending.lock().unwrap_or_else(PoisonError::into_inner).extend(&buf[..n]);
        if socket.write_all(&buf[..n]).is_err() {
            // The server closed or reset: the reader sees it and says so.
            progress.writer_gone.store(true, Ordering::SeqCst);
            return;
        }
        progress.sent.fetch_add(n as u64, Ordering::SeqCst);
    }
    // Said before the FIN: the server's FIN may answer ours at once.
    progress.input_ended.store(true, Ordering::SeqCst);
    let _ = socket.shutdown(Shutdown::Write);
    if timeout.is_zero() {
        return;
    }
    // The rest of the echo has `timeout` to come, however it trickles in.
    let deadline = Instant::now() + timeout;
    while !progress.finished.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(20));
        if Instant::now() >= deadline && !progress.finished.load(Ordering::SeqCst) {
            progress.timed_out.store(true, Ordering::SeqCst);
            let _ = socket.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// Ctrl-C (or SIGTERM) during `--count`: stop sending and print the
/// statistics so far, as ping does. A second Ctrl-C ends eco at once.
struct Interrupt {
    flag: Arc<AtomicBool>,
    signalled: Receiver<()>,
}

impl Interrupt {
    /// `wake` unblocks whatever the main thread may be waiting on.
    fn install(wake: impl Fn() + Send + 'static) -> Result<Interrupt> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let setup = |source| Error::Io { doing: Doing::Setup, source };
        let flag = Arc::new(AtomicBool::new(false));
        for signal in [SIGINT, SIGTERM] {
            // Registered first, so it sees the flag before the second handler sets it.
            signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&flag))
                .map_err(setup)?;
        }
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]).map_err(setup)?;
        let (tell, signalled) = mpsc::channel();
        let raised = Arc::clone(&flag);
        std::thread::Builder::new()
            .name("eco-signals".into())
            .spawn(move || {
                if signals.forever().next().is_some() {
                    raised.store(true, Ordering::SeqCst);
                    wake();
                    let _ = tell.send(());
                }
            })
            .map_err(setup)?;
        Ok(Interrupt { flag, signalled })
    }

    fn happened(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Sleeps for `interval`; true if interrupted meanwhile.
    fn sleep(&self, interval: Duration) -> bool {
        if !interval.is_zero() {
            let _ = self.signalled.recv_timeout(interval);
        }
        self.happened()
    }
}

fn peer_of(stream: &TcpStream) -> Result<SocketAddr> {
    stream.peer_addr().map_err(|source| Error::Io { doing: Doing::Setup, source })
}

fn talk(addr: Option<SocketAddr>, source: io::Error) -> Error {
    let doing = addr.map_or(Doing::Setup, Doing::Talk);
    Error::Io { doing, source }
}

/// What the client tells its user.
pub enum Msg<'a> {
    /// The exercise's client line.
    Echoed { message: &'a str },
    /// One round trip of `--count`, like ping's line.
    RoundTripTime { bytes: usize, peer: SocketAddr, seq: u64, time: Duration },
    /// `--count --udp`: no answer to one datagram within the timeout.
    RoundTripLost { peer: SocketAddr, seq: u64, timeout: Duration },
    /// `--tls`: what the handshake settled (on stderr).
    Tls { negotiated: &'a crate::tls::Negotiated },
    /// The summary after `--count` (or Ctrl-C).
    RoundTripSummary {
        peer: SocketAddr,
        sent: u64,
        received: u64,
        min: Duration,
        avg: Duration,
        max: Duration,
    },
}

impl Text for Msg<'_> {
    fn text(&self, lang: Lang) -> String {
        match (lang, self) {
            (Lang::En, Msg::Echoed { message }) => format!("Echoed message: {message}"),
            (Lang::Pt, Msg::Echoed { message }) => format!("Mensagem ecoada: {message}"),
            (lang, Msg::Tls { negotiated }) => format!("TLS: {}", negotiated.text(lang)),
            (Lang::En, Msg::RoundTripTime { bytes, peer, seq, time }) => {
                format!("{bytes} bytes from {peer}: seq={seq} time={} ms", Millis(*time))
            }
            (Lang::Pt, Msg::RoundTripTime { bytes, peer, seq, time }) => {
                format!("{bytes} bytes de {peer}: seq={seq} tempo={} ms", Millis(*time))
            }
            (Lang::En, Msg::RoundTripLost { peer, seq, timeout }) => {
                format!("no answer from {peer}: seq={seq} (waited {} s)", timeout.as_secs_f64())
            }
            (Lang::Pt, Msg::RoundTripLost { peer, seq, timeout }) => {
                format!("sem resposta de {peer}: seq={seq} (esperou {} s)", timeout.as_secs_f64())
            }
            (Lang::En, Msg::RoundTripSummary { peer, sent, received, min, avg, max }) => format!(
                "--- {peer} echo statistics ---\n\
                 {sent} sent, {received} echoed, {}% lost, min/avg/max = {}/{}/{} ms",
                lost_percent(*sent, *received),
                Millis(*min),
                Millis(*avg),
                Millis(*max)
            ),
            (Lang::Pt, Msg::RoundTripSummary { peer, sent, received, min, avg, max }) => format!(
                "--- estatísticas de eco de {peer} ---\n\
                 {sent} enviadas, {received} ecoadas, {}% perdidas, mín/méd/máx = {}/{}/{} ms",
                lost_percent(*sent, *received),
                Millis(*min),
                Millis(*avg),
                Millis(*max)
            ),
        }
    }
}

/// The share of `sent` that never came back, in whole percent.
fn lost_percent(sent: u64, received: u64) -> u64 {
    (sent.saturating_sub(received) * 100).checked_div(sent).unwrap_or(0)
}

/// A [`Duration`] as milliseconds with three decimals, as ping prints it.
pub(crate) struct Millis(pub Duration);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}", self.0.as_secs_f64() * 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exercise_message_is_52_characters_and_55_bytes() {
        assert_eq!(EXERCISE_MESSAGE.chars().count(), 52);
        assert_eq!(EXERCISE_MESSAGE.len(), 55);
    }

    #[test]
    fn every_address_of_a_name_is_tried_in_turn() {
        // The first address refuses (nothing listens there any more).
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let open = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let config = Config::plain(
            vec![closed, open.local_addr().unwrap()],
            Duration::from_secs(5),
            Duration::from_secs(5),
        );
        let stream = connect(&config).expect("the second address answers");
        assert_eq!(stream.peer_addr().unwrap(), open.local_addr().unwrap());
    }

    #[test]
    fn lost_share_in_whole_percent() {
        assert_eq!(lost_percent(4, 3), 25);
        assert_eq!(lost_percent(0, 0), 0);
    }
}
