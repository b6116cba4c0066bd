//! The echo loop for connections that are more than bytes both ways: a
//! PROXY protocol header first (`--proxy-protocol`), TLS (`--tls`), or a
//! server misbehaving on purpose (`--delay`, `--close-after`, ...).
//!
//! Every mode serves such connections here: `async` in the connection's
//! task, `single` and `threads` on a small tokio runtime of the thread that
//! serves the connection. The plain loops of each mode stay as they are,
//! without a branch per read for what they do not do.
//!
//! The order on the wire is the order here: the balancer's PROXY header
//! (before anything else, even TLS), then the TLS handshake, then the echo.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, Interest, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::async_tokio::Idle;
use super::conn::{ConnGuard, EndReason, Ended, Refusal};
use super::misbehave::{self, Act};
use super::{Msg, ProxyMode, reset, room};
use crate::proxy::{self, ProxyProblem, Scan};
use crate::tls::{Negotiated, TlsProblem};

/// How long a PROXY header or a TLS handshake may take (or
/// `--idle-timeout`, if shorter): a client that connects and says nothing
/// must not hold a connection for longer.
const HANDSHAKE_WAIT: Duration = Duration::from_secs(10);

/// Blocking modes: serves one connection on a tokio runtime of this
/// thread. Returns whether the client was served (see [`serve`]).
pub(super) fn serve_blocking(socket: std::net::TcpStream, mut guard: ConnGuard) -> bool {
    // A handle for the signal thread, which resets open connections at
    // the end of the shutdown grace (as the plain loop's).
    if let Ok(handle) = socket.try_clone() {
        guard.register(&Arc::new(handle));
    }
    let cut = guard.shared().cut_token.clone();
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(serve(socket, guard, cut)),
        Err(error) => {
            guard.finish(Ended { bytes_in: 0, bytes_out: 0, reason: EndReason::from_error(error) });
            true
        }
    }
}

/// Serves one admitted connection to its end: header, handshake, echo.
/// `cut`: cancelled when the shutdown grace is over. Returns whether the
/// client was served: `false` when it was turned away at its PROXY header
/// or its TLS handshake failed (for `--once`, which waits for a client it
/// can serve).
pub(super) async fn serve(socket: std::net::TcpStream, mut guard: ConnGuard, cut: CancellationToken) -> bool {
    let shared = Arc::clone(guard.shared());
    let config = &shared.config;
    let tcp = match socket.set_nonblocking(true).and_then(|()| TcpStream::from_std(socket)) {
        Ok(tcp) => tcp,
        Err(error) => {
            guard.finish(Ended { bytes_in: 0, bytes_out: 0, reason: EndReason::from_error(error) });
            return true;
        }
    };
    let wait = config.limits.idle_timeout.map_or(HANDSHAKE_WAIT, |idle| idle.min(HANDSHAKE_WAIT));
    let mut tcp = tcp;
    if let Some(mode) = config.proxy.filter(|_| guard.awaits_header()) {
        let proxy_addr = guard.peer;
        let header = tokio::select! {
            header = read_proxy_header(&tcp, mode, wait) => header,
            () = cut.cancelled() => return true,
        };
        match header {
            Ok(client) => {
                if !guard.readdress(&tcp, client) {
                    return false;
                }
                if client.is_none() {
                    // No header: the bytes looked at may have taken tokio's
                    // readiness with them (a beginning of one that never
                    // went on, `P`). Registering the socket anew makes
                    // epoll tell again what is waiting in it.
                    match tcp.into_std().and_then(TcpStream::from_std) {
                        Ok(again) => tcp = again,
                        Err(error) => {
                            let reason = EndReason::from_error(error);
                            guard.finish(Ended { bytes_in: 0, bytes_out: 0, reason });
                            return true;
                        }
                    }
                }
            }
            Err(problem) => {
                reset(&tcp);
                shared.refuse(proxy_addr, Refusal::ProxyHeader, Some(&problem));
                return false;
            }
        }
    }
    let mut conn = match &config.tls {
        None => Conn::Plain(tcp),
        Some(tls) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(&tls.config));
            let handshake = tokio::select! {
                done = tokio::time::timeout(wait, acceptor.accept(tcp)) => done,
                () = cut.cancelled() => {
                    guard.finish(Ended { bytes_in: 0, bytes_out: 0, reason: EndReason::Shutdown });
                    return true;
                }
            };
            match handshake {
                Ok(Ok(stream)) => {
                    let (_, state) = stream.get_ref();
                    let negotiated = Negotiated::of(state, state.server_name());
                    told_negotiated(&guard, &negotiated);
                    Conn::Tls(Box::new(stream))
                }
                Ok(Err(error)) => {
                    tracing::debug!(peer = %guard.peer, error = %error, "tls handshake failed");
                    let reason = match TlsProblem::of(&error) {
                        // Closed before a word (a TCP health check, a port
                        // scan): a close, not a failure.
                        TlsProblem::Closed => EndReason::Fin,
                        problem => EndReason::Tls(problem),
                    };
                    guard.finish(Ended { bytes_in: 0, bytes_out: 0, reason });
                    return false;
                }
                Err(_elapsed) => {
                    let reason = EndReason::Tls(TlsProblem::Timeout(wait));
                    guard.finish(Ended { bytes_in: 0, bytes_out: 0, reason });
                    return false;
                }
            }
        }
    };
    let ended = echo(&mut conn, &guard, &cut).await;
    if matches!(ended.reason, EndReason::Shutdown) || ended.bytes_out < ended.bytes_in {
        // Cut at the end of the grace, or with echo still owed: a reset,
        // so that the client cannot take a partial echo for a complete one.
        reset(conn.tcp());
    }
    guard.finish(ended);
    true
}

fn told_negotiated(guard: &ConnGuard, negotiated: &Negotiated) {
    guard.shared().console.say(&Msg::TlsNegotiated { negotiated });
    tracing::info!(
        peer = %guard.peer,
        version = %negotiated.version,
        cipher = %negotiated.cipher,
        alpn = negotiated.alpn.as_deref().unwrap_or(""),
        sni = negotiated.sni.as_deref().unwrap_or(""),
        client_certificate = negotiated.peer_subject.as_deref().unwrap_or(""),
        "tls handshake done"
    );
}

/// Reads the PROXY header at the start of the connection, and no byte
/// more: the bytes are looked at first (MSG_PEEK), and only the header's
/// are taken, so that what follows (a TLS hello, the client's data) is
/// still in the socket for the next step.
///
/// Returns the client the header names (`None`: no header where one is
/// optional, or a LOCAL / UNKNOWN header), or what is wrong.
async fn read_proxy_header(
    tcp: &TcpStream,
    mode: ProxyMode,
    wait: Duration,
) -> Result<Option<SocketAddr>, ProxyProblem> {
    let io = |e: std::io::Error| ProxyProblem::Io(e.to_string());
    let mut buf = vec![0u8; proxy::V2_MAX];
    let deadline = Instant::now() + wait;
    loop {
        let ready = match tokio::time::timeout_at(deadline, tcp.ready(Interest::READABLE)).await {
            Ok(ready) => ready.map_err(io)?,
            Err(_elapsed) => {
                return match mode {
                    // A client that waits for us: it has no header to send.
                    ProxyMode::Optional => Ok(None),
                    ProxyMode::Required => Err(ProxyProblem::Timeout(wait.as_secs())),
                };
            }
        };
        // After the client's FIN no more bytes will come: what is there is
        // all there is (and tokio would report the socket ready forever).
        let closed = ready.is_read_closed();
        // recv(MSG_PEEK): the bytes that came so far, left in the socket.
        // Too few to tell: "would block" makes tokio wait for more.
        let scanned = tcp.try_io(Interest::READABLE, || {
            let (n, _) = rustix::net::recv(tcp, &mut buf[..], rustix::net::RecvFlags::PEEK)?;
            match proxy::scan(&buf[..n]) {
                Scan::More if n > 0 && n < buf.len() && !closed => Err(std::io::ErrorKind::WouldBlock.into()),
                scan => Ok((n, scan)),
            }
        });
        let (n, scan) = match scanned {
            Ok(scanned) => scanned,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(io(e)),
        };
        return match (scan, mode) {
            (Scan::Header { header, .. }, _) if header.datagram => Err(ProxyProblem::WrongTransport),
            (Scan::Header { len, header }, _) => {
                // Take the header's bytes (they are there: we saw them).
                let mut taken = 0;
                while taken < len {
                    match tcp.try_read(&mut buf[taken..len]) {
                        Ok(0) => return Err(ProxyProblem::Closed),
                        Ok(k) => taken += k,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            tcp.readable().await.map_err(io)?
                        }
                        Err(e) => return Err(io(e)),
                    }
                }
                let client = header.addresses.map(|(source, _)| source);
                tracing::info!(
                    proxy = %tcp.peer_addr().map_or("?".into(), |a| a.to_string()),
                    version = %header.version,
                    client = %client.map_or("(none: LOCAL)".into(), |a| a.to_string()),
                    destination = %header.addresses.map_or("".into(), |(_, d)| d.to_string()),
                    tlvs = %proxy::tlvs_text(&header.tlvs),
                    "proxy protocol header"
                );
                Ok(client)
            }
            (Scan::Malformed(problem), _) => Err(ProxyProblem::Malformed(problem)),
            (Scan::Absent | Scan::More, ProxyMode::Optional) => Ok(None),
            (Scan::More, ProxyMode::Required) => Err(ProxyProblem::Closed),
            // A TLS record of type handshake: a client that speaks TLS at once.
            (Scan::Absent, ProxyMode::Required) if buf[..n].starts_with(&[0x16, 0x03]) => {
                Err(ProxyProblem::TlsHello)
            }
            (Scan::Absent, ProxyMode::Required) => Err(ProxyProblem::NoHeader(excerpt(&buf[..n.min(16)]))),
        };
    }
}

/// The first bytes of a connection, for a message: as text when they are
/// printable (`"GET / HTTP/1.1"`), else in hex (`16 03 01 ...`, a TLS hello).
fn excerpt(bytes: &[u8]) -> String {
    if bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("\"{}\"", String::from_utf8_lossy(bytes))
    } else {
        bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
    }
}

/// The echo loop: the plain one's steps, with the misbehaviour asked for.
async fn echo(conn: &mut Conn, guard: &ConnGuard, cut: &CancellationToken) -> Ended {
    let config = &guard.shared().config;
    let plan = &config.misbehave;
    let act = plan.next_act();
    let (mut bytes_in, mut bytes_out) = (0u64, 0u64);
    let mut buf = vec![0u8; config.buffer];
    let mut idle = Idle::new(config.limits.idle_timeout);
    // The idle check asks the socket (TCP_INFO) while a read or write of
    // the connection is under way (and borrows `conn`): it names the same
    // descriptor on its own rather than holding a second one (a dup would
    // halve the connections a descriptor limit allows).
    let probe = borrow_descriptor(conn);
    let cancelled = cut.cancelled();
    tokio::pin!(cancelled);
    // --throttle: bytes sent since `paced_from`, at most `rate` a second.
    let (mut paced_from, mut paced) = (Instant::now(), 0u64);
    let reason = 'echo: loop {
        let mut most = room(config.limits.max_bytes, bytes_in, buf.len());
        if let Some((at, act)) = act {
            if bytes_in >= at {
                break 'echo carry_out(act, conn, guard, bytes_out, &mut idle, cancelled.as_mut()).await;
            }
            most = most.min(usize::try_from(at - bytes_in).unwrap_or(usize::MAX));
        }
        if most == 0 {
            break EndReason::Limit;
        }
        let n = tokio::select! {
            biased;
            read = conn.read(&mut buf[..most]) => match read {
                Ok(n) => n,
                // TLS: a client that closed without close_notify (many
                // do) has still closed; the echo was complete.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && matches!(conn, Conn::Tls(_)) => 0,
                Err(error) => break EndReason::from_error(error),
            },
            () = idle.expired(probe) => break EndReason::IdleTimeout,
            () = &mut cancelled => break EndReason::Shutdown,
        };
        if n == 0 {
            // The client's FIN (with TLS: its close_notify, or the FIN
            // alone). Ours follows; with TLS, after our close_notify.
            let _ = conn.shutdown().await;
            break EndReason::Fin;
        }
        bytes_in += n as u64;
        idle.touch();
        if !plan.delay.is_zero() || !plan.jitter.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(plan.echo_delay()) => {}
                () = &mut cancelled => break EndReason::Shutdown,
            }
        }
        if let Some(rate) = plan.throttle
            && misbehave::throttle_wait(rate, paced, paced_from.elapsed()).is_zero()
        {
            // Behind the pace (the client was slow to send): start anew
            // rather than let the saved-up time out as a burst.
            (paced_from, paced) = (Instant::now(), 0);
        }
        let mut sent = 0;
        while sent < n {
            let mut chunk = n - sent;
            if let Some(rate) = plan.throttle {
                chunk = chunk.min(misbehave::throttle_chunk(rate));
                let wait = misbehave::throttle_wait(rate, paced, paced_from.elapsed());
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = &mut cancelled => break 'echo EndReason::Shutdown,
                }
            }
            let wrote = tokio::select! {
                biased;
                wrote = conn.write(&buf[sent..sent + chunk]) => wrote,
                () = idle.expired(probe) => break 'echo EndReason::IdleTimeout,
                () = &mut cancelled => break 'echo EndReason::Shutdown,
            };
            match wrote {
                Ok(k) => {
                    sent += k;
                    bytes_out += k as u64;
                    paced += k as u64;
                    idle.touch();
                }
                Err(error) => break 'echo EndReason::from_error(error),
            }
        }
        // TLS: the record goes out now, not when the next one fills.
        if let Err(error) = conn.flush().await {
            break EndReason::from_error(error);
        }
    };
    Ended { bytes_in, bytes_out, reason }
}

/// `--close-after`, `--reset-after`, `--stall-after`: the act, once
/// `echoed` bytes went back.
async fn carry_out(
    act: Act,
    conn: &mut Conn,
    guard: &ConnGuard,
    echoed: u64,
    idle: &mut Idle,
    mut cancelled: std::pin::Pin<&mut tokio_util::sync::WaitForCancellationFuture<'_>>,
) -> EndReason {
    tracing::info!(peer = %guard.peer, bytes = echoed, act = act.flag(), "misbehaving on purpose");
    match act {
        Act::Reset => {
            // RST now: connect(AF_UNSPEC), as at the end of the grace.
            reset(conn.tcp());
            EndReason::Planned(act)
        }
        Act::Close => {
            // FIN (TLS: close_notify first). Then what the client still
            // sends is read and dropped for a moment: closing with unread
            // bytes would make the kernel send RST instead of our FIN.
            let _ = conn.shutdown().await;
            let mut sink = [0u8; 4096];
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                while matches!(conn.read(&mut sink).await, Ok(n) if n > 0) {}
            })
            .await;
            EndReason::Planned(act)
        }
        Act::Stall => {
            // Read nothing more: the client's bytes fill our receive
            // buffer, then its send buffer, and its writes block. Only a
            // look (MSG_PEEK) at whether it hung up, so that a client that
            // closed or reset is not held forever.
            let tcp = conn.tcp();
            loop {
                let ready = tokio::select! {
                    ready = tcp.ready(Interest::READABLE) => match ready {
                        Ok(ready) => ready,
                        Err(error) => return EndReason::from_error(error),
                    },
                    () = idle.expired(tcp) => return EndReason::IdleTimeout,
                    () = &mut cancelled => return EndReason::Shutdown,
                };
                if ready.is_read_closed() {
                    // Its FIN came after bytes we leave unread: a hung
                    // server would not notice either. The connection stays
                    // until --idle-timeout or the end of the grace (tokio
                    // would report the socket ready forever: from now on
                    // only an error, a reset, wakes us).
                    tokio::select! {
                        () = idle.expired(tcp) => return EndReason::IdleTimeout,
                        () = &mut cancelled => return EndReason::Shutdown,
                        _ = tcp.ready(Interest::ERROR) => {
                            let error = tcp.take_error().ok().flatten();
                            return EndReason::from_error(error.unwrap_or(std::io::ErrorKind::ConnectionReset.into()));
                        }
                    }
                }
                let peeked = tcp.try_io(Interest::READABLE, || {
                    match rustix::net::recv(tcp, &mut [0u8; 1][..], rustix::net::RecvFlags::PEEK)? {
                        (0, _) => Ok(()),
                        // Bytes we leave alone: wait for the next event.
                        _ => Err(std::io::ErrorKind::WouldBlock.into()),
                    }
                });
                match peeked {
                    Ok(()) => return EndReason::Fin,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(error) => return EndReason::from_error(error),
                }
            }
        }
    }
}

/// A connection as the echo loop sees it: plain TCP, or TLS over it.
enum Conn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(tcp) => tcp,
            Conn::Tls(tls) => tls.get_ref().0,
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(tcp) => std::pin::Pin::new(tcp).poll_read(cx, buf),
            Conn::Tls(tls) => std::pin::Pin::new(tls).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(tcp) => std::pin::Pin::new(tcp).poll_write(cx, buf),
            Conn::Tls(tls) => std::pin::Pin::new(tls).poll_write(cx, buf),
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(tcp) => std::pin::Pin::new(tcp).poll_flush(cx),
            Conn::Tls(tls) => std::pin::Pin::new(tls).poll_flush(cx),
        }
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(tcp) => std::pin::Pin::new(tcp).poll_shutdown(cx),
            Conn::Tls(tls) => std::pin::Pin::new(tls).poll_shutdown(cx),
        }
    }
}

/// The connection's descriptor, for the idle check's TCP_INFO while a read
/// or write holds `conn`.
#[allow(unsafe_code)]
fn borrow_descriptor(conn: &Conn) -> std::os::fd::BorrowedFd<'static> {
    use std::os::fd::AsRawFd;
    // SAFETY: `conn` owns this descriptor and outlives every use of the
    // result: `echo` takes `conn` by reference for its whole run, and the
    // result never leaves `echo`.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(conn.tcp().as_raw_fd()) }
}
