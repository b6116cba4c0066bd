//! The load: one tokio task per connection, each with its own buffers and
//! histograms, so that nothing is shared or allocated per message. A
//! message costs one `write` and (usually) one `read`.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{Instant, Sleep};

use super::message::{self, Mismatch};
use super::stats::Stats;
use crate::aio;

/// When a run starts measuring, ends, and gives up.
#[derive(Debug, Clone)]
pub struct Plan {
    pub start: Instant,
    /// Messages before this are warm-up: sent and checked, not counted.
    pub measure_from: Instant,
    pub end: Instant,
    /// Past `end`, how long an unfinished echo may still take.
    pub hard_deadline: Instant,
    /// How long one echo (a message, a burst) may take.
    pub timeout: Duration,
    /// Set by Ctrl-C: stop early, as if `end` had come.
    pub stop: Arc<AtomicBool>,
    /// `--proxy-protocol`: the header each connection starts with.
    pub proxy: Option<crate::proxy::Version>,
    /// `--tls`: each connection's handshake, timed on its own.
    pub tls: Option<Tls>,
}

/// `eco bench --tls`: the client's config and the server's name.
#[derive(Clone)]
pub struct Tls {
    pub connector: tokio_rustls::TlsConnector,
    pub name: rustls::pki_types::ServerName<'static>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("name", &self.name).finish_non_exhaustive()
    }
}

/// What a ping-pong goes over: a plain socket (one system call per read
/// and write, see [`aio`]) or TLS on one. Static dispatch: the plain path
/// costs what it did before TLS existed.
trait Wire {
    async fn send(&mut self, data: &[u8]) -> io::Result<()>;
    async fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Our FIN (TLS: close_notify first).
    async fn finish(&mut self);
}

impl Wire for AsyncFd<std::net::TcpStream> {
    async fn send(&mut self, data: &[u8]) -> io::Result<()> {
        aio::write_all(self, data).await
    }

    async fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        aio::read(self, buf).await
    }

    async fn finish(&mut self) {
        let _ = self.get_ref().shutdown(std::net::Shutdown::Write);
    }
}

impl Wire for tokio_rustls::client::TlsStream<TcpStream> {
    async fn send(&mut self, data: &[u8]) -> io::Result<()> {
        self.write_all(data).await?;
        self.flush().await
    }

    async fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.read(buf).await {
            // A server that closes without close_notify has closed.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
            other => other,
        }
    }

    async fn finish(&mut self) {
        let _ = self.shutdown().await;
    }
}

impl Plan {
    /// Whether to start another message (or burst, or connection).
    pub(super) fn going_on(&self) -> bool {
        Instant::now() < self.end && !self.stop.load(Ordering::Relaxed)
    }
}

/// How a connection failed; counted by kind.
enum Failure {
    Truncated,
    Mismatch(Mismatch),
    Timeout,
    Io,
}

fn count(stats: &mut Stats, failure: Failure) {
    match failure {
        Failure::Truncated => stats.errors.truncated += 1,
        Failure::Mismatch(m) => stats.errors.mismatch(m),
        Failure::Timeout => stats.errors.timeout += 1,
        Failure::Io => stats.errors.io += 1,
    }
}

/// Connects, for a ping-pong with one system call per read and write (see [`aio`]).
async fn connect_fd(
    addr: SocketAddr,
    plan: &Plan,
    stats: &mut Stats,
) -> Option<AsyncFd<std::net::TcpStream>> {
    let stream = connect(addr, plan, stats).await?;
    match stream.into_std().and_then(aio::register) {
        Ok(socket) => Some(socket),
        Err(_) => {
            stats.errors.connect += 1;
            None
        }
    }
}

async fn connect(addr: SocketAddr, plan: &Plan, stats: &mut Stats) -> Option<TcpStream> {
    let started = Instant::now();
    match tokio::time::timeout_at(plan.hard_deadline, TcpStream::connect(addr)).await {
        Ok(Ok(mut stream)) => {
            stats.record_connect(started.elapsed());
            // Small messages must not wait for Nagle.
            let _ = stream.set_nodelay(true);
            if let Some(version) = plan.proxy {
                // As a balancer would: the connection's own addresses.
                let local = stream.local_addr().unwrap_or(addr);
                if stream.write_all(&crate::proxy::build(version, local, addr)).await.is_err() {
                    stats.errors.connect += 1;
                    return None;
                }
            }
            Some(stream)
        }
        _ => {
            stats.errors.connect += 1;
            None
        }
    }
}

/// Connects and does the TLS handshake (timed apart from the TCP one).
async fn connect_tls(
    addr: SocketAddr,
    tls: &Tls,
    plan: &Plan,
    stats: &mut Stats,
) -> Option<tokio_rustls::client::TlsStream<TcpStream>> {
    let stream = connect(addr, plan, stats).await?;
    let started = Instant::now();
    match tokio::time::timeout_at(plan.hard_deadline, tls.connector.connect(tls.name.clone(), stream)).await {
        Ok(Ok(stream)) => {
            // Every handshake of the run, as for `connect()`.
            stats.record_handshake(started.elapsed());
            Some(stream)
        }
        _ => {
            stats.errors.connect += 1;
            None
        }
    }
}

/// Reads exactly `buf.len()` bytes; counts a message that took several reads.
async fn read_echo(
    socket: &mut impl Wire,
    buf: &mut [u8],
    deadline: &mut std::pin::Pin<&mut Sleep>,
    stats: &mut Stats,
) -> Result<(), Failure> {
    let mut got = 0;
    let mut reads = 0;
    while got < buf.len() {
        let n = tokio::select! {
            biased;
            read = socket.recv(&mut buf[got..]) => read.map_err(|_| Failure::Io)?,
            _ = deadline.as_mut() => return Err(Failure::Timeout),
        };
        if n == 0 {
            return Err(Failure::Truncated);
        }
        got += n;
        reads += 1;
    }
    if reads > 1 {
        stats.short_reads += 1;
    }
    Ok(())
}

/// One message out and its echo back, checked: `out` is filled with
/// message `seq` of connection `id`, `echo` receives the answer.
async fn round_trip(
    socket: &mut impl Wire,
    (out, echo): (&mut [u8], &mut [u8]),
    (id, seq): (u32, u64),
    deadline: &mut std::pin::Pin<&mut Sleep>,
    stats: &mut Stats,
) -> Result<(), Failure> {
    message::encode(out, id, seq);
    // Bounded like the reading: a server that stops reading would
    // otherwise hold a message that does not fit in the socket buffers
    // here for good.
    tokio::select! {
        biased;
        sent = socket.send(out) => sent.map_err(|_| Failure::Io)?,
        _ = deadline.as_mut() => return Err(Failure::Timeout),
    }
    read_echo(socket, echo, deadline, stats).await?;
    message::check(echo, out, id, seq).map_err(Failure::Mismatch)
}

/// Ping-pong on one connection: send a message, read its echo, check it,
/// repeat. With `interval` (open loop, `--rate`), messages are due at fixed
/// times and latency counts from the due time: a slow echo delays the next
/// send, and that wait is part of the next message's latency (the
/// correction for coordinated omission, as wrk2 does).
pub async fn ping_pong(
    addr: SocketAddr,
    id: u32,
    size: usize,
    interval: Option<Duration>,
    plan: Plan,
) -> Stats {
    let mut stats = Stats::default();
    match plan.tls.clone() {
        None => {
            if let Some(socket) = connect_fd(addr, &plan, &mut stats).await {
                ping_pong_on(socket, id, size, interval, &plan, &mut stats).await;
            }
        }
        Some(tls) => {
            if let Some(socket) = connect_tls(addr, &tls, &plan, &mut stats).await {
                ping_pong_on(socket, id, size, interval, &plan, &mut stats).await;
            }
        }
    }
    stats.per_connection.push(stats.messages);
    stats
}

/// The ping-pong of [`ping_pong`] on an open connection.
async fn ping_pong_on(
    mut socket: impl Wire,
    id: u32,
    size: usize,
    interval: Option<Duration>,
    plan: &Plan,
    stats: &mut Stats,
) {
    let mut failed = false;
    {
        let (mut out, mut echo) = (vec![0u8; size], vec![0u8; size]);
        let deadline = tokio::time::sleep_until(plan.hard_deadline);
        tokio::pin!(deadline);
        // Connections start spread over one interval, not all at once.
        let mut due =
            plan.start + interval.map_or(Duration::ZERO, |i| i.mul_f64(f64::from(id % 1000) / 1000.0));
        let mut seq = 0u64;
        while plan.going_on() {
            let now = Instant::now();
            let sent_at = match interval {
                // Behind schedule (the last echo was late): this message
                // was due already, and its latency counts from then.
                Some(interval) if due <= now => {
                    let intended = due;
                    due += interval;
                    intended
                }
                // On time: wait. The timer may wake us late (tokio's has
                // millisecond granularity); that delay is the load
                // generator's, not the server's, so count from the send.
                Some(interval) => {
                    tokio::time::sleep_until(due).await;
                    due += interval;
                    Instant::now()
                }
                None => now,
            };
            let buffers = (&mut out[..], &mut echo[..]);
            if let Err(failure) = round_trip(&mut socket, buffers, (id, seq), &mut deadline, stats).await {
                // After a bad echo the stream's framing is lost: stop here
                // (and the bytes still coming belong to that one fault).
                count(stats, failure);
                failed = true;
                break;
            }
            if sent_at >= plan.measure_from {
                stats.count_message(sent_at.elapsed(), size as u64);
            }
            seq += 1;
        }
        // Close as a client should: our FIN, then the server's.
        socket.finish().await;
        let mut rest = [0u8; 64];
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(1), socket.recv(&mut rest)).await
            && n > 0
            && !failed
        {
            // Bytes nobody asked for: an echo server does not send them.
            stats.errors.reordered += 1;
        }
    }
}

/// `--connect-rate`: connect, one message, close; again and again. Counts
/// connections; `connect` latency is the handshake.
pub async fn connect_rate(addr: SocketAddr, id: u32, size: usize, plan: Plan) -> Stats {
    let mut stats = Stats::default();
    let (mut out, mut echo) = (vec![0u8; size], vec![0u8; size]);
    let deadline = tokio::time::sleep_until(plan.hard_deadline);
    tokio::pin!(deadline);
    let mut seq = 0u64;
    while plan.going_on() {
        let started = Instant::now();
        let buffers = (&mut out[..], &mut echo[..]);
        let exchanged = match &plan.tls {
            None => match connect_fd(addr, &plan, &mut stats).await {
                Some(socket) => exchange_once(socket, buffers, (id, seq), &mut deadline, &mut stats).await,
                None => break,
            },
            Some(tls) => match connect_tls(addr, tls, &plan, &mut stats).await {
                Some(socket) => exchange_once(socket, buffers, (id, seq), &mut deadline, &mut stats).await,
                None => break,
            },
        };
        if let Err(failure) = exchanged {
            count(&mut stats, failure);
            break;
        }
        if started >= plan.measure_from {
            stats.count_message(started.elapsed(), size as u64);
        }
        seq += 1;
    }
    stats.per_connection.push(stats.messages);
    stats
}

/// One message and its echo, then our FIN and the server's.
async fn exchange_once(
    mut socket: impl Wire,
    buffers: (&mut [u8], &mut [u8]),
    who: (u32, u64),
    deadline: &mut std::pin::Pin<&mut Sleep>,
    stats: &mut Stats,
) -> Result<(), Failure> {
    round_trip(&mut socket, (&mut *buffers.0, &mut *buffers.1), who, deadline, stats).await?;
    socket.finish().await;
    // Wait for the server's FIN, so that the connection is complete.
    let _ = tokio::time::timeout(Duration::from_secs(1), socket.recv(buffers.1)).await;
    Ok(())
}

/// The repeating block a `--bulk` stream is made of: its length is prime,
/// so that the block never lines up with read or write sizes.
pub fn bulk_block() -> Arc<Vec<u8>> {
    const LEN: u64 = 1_048_573;
    Arc::new((0..LEN).map(message::bulk_byte).collect())
}

/// `--bulk`: `total` bytes through one connection, writer and reader at
/// once, every byte checked; latency is the whole transfer. Ctrl-C stops
/// the writer early; the echo of what was written is still checked.
pub async fn bulk(addr: SocketAddr, total: u64, block: Arc<Vec<u8>>, plan: Plan) -> Stats {
    let mut stats = Stats::default();
    let Some(stream) = connect(addr, &plan, &mut stats).await else { return stats };
    let started = Instant::now();
    let (mut reader, mut writer) = stream.into_split();
    let (writing_block, stop) = (Arc::clone(&block), Arc::clone(&plan.stop));
    let writing = tokio::spawn(async move {
        let mut offset = 0u64;
        while offset < total && !stop.load(Ordering::Relaxed) {
            let at = (offset % writing_block.len() as u64) as usize;
            let n = ((writing_block.len() - at) as u64).min(total - offset).min(256 * 1024) as usize;
            writer.write_all(&writing_block[at..at + n]).await?;
            offset += n as u64;
        }
        writer.shutdown().await?;
        Ok::<u64, io::Error>(offset)
    });
    let mut buf = vec![0u8; 256 * 1024];
    let mut offset = 0u64;
    let result: Result<(), Failure> = loop {
        let read = tokio::time::timeout_at(plan.hard_deadline, reader.read(&mut buf)).await;
        let n = match read {
            Err(_) => break Err(Failure::Timeout),
            Ok(Err(_)) => break Err(Failure::Io),
            Ok(Ok(0)) => break Ok(()),
            Ok(Ok(n)) => n,
        };
        if offset + n as u64 > total || !matches_block(&block, offset, &buf[..n]) {
            break Err(Failure::Mismatch(Mismatch::Corrupted));
        }
        offset += n as u64;
    };
    let elapsed = started.elapsed();
    if result.is_err() {
        // The echo stopped coming (a stalled server, say): the writer may
        // be blocked for good on a full window. Stop it.
        writing.abort();
    }
    let wrote = writing.await.map_err(|_| ()).and_then(|r| r.map_err(|_| ()));
    match (result, wrote) {
        (Err(failure), _) => count(&mut stats, failure),
        (Ok(()), Err(())) => count(&mut stats, Failure::Io),
        // The server's FIN came before the whole echo.
        (Ok(()), Ok(written)) if offset < written => count(&mut stats, Failure::Truncated),
        (Ok(()), Ok(written)) => stats.count_message(elapsed, written),
    }
    stats.per_connection.push(stats.messages);
    stats
}

/// `--stream BURST`: what `cmd | nc`, a file upload or a chatty protocol
/// does to an echo server. Each round writes `burst` bytes in writes of
/// `write_size` without closing our side, then reads the whole echo back,
/// every byte checked, before the next round; latency is the round's.
///
/// The server never sees a FIN in between, so one that waits for the
/// client's next byte (or its FIN) before sending what it already has
/// stalls here, and the round times out after `--timeout`.
pub async fn stream(
    addr: SocketAddr,
    burst: u64,
    write_size: usize,
    block: Arc<Vec<u8>>,
    plan: Plan,
) -> Stats {
    let mut stats = Stats::default();
    let Some(socket) = connect_fd(addr, &plan, &mut stats).await else { return stats };
    let mut buf = vec![0u8; 256 * 1024];
    // Where in the endless pattern the next round starts: rounds follow
    // each other in one stream, so a byte lost or repeated shifts the rest.
    let mut offset = 0u64;
    while plan.going_on() {
        let started = Instant::now();
        let writer = async {
            let mut at = offset;
            while at < offset + burst {
                let in_block = (at % block.len() as u64) as usize;
                let n = (block.len() - in_block).min(write_size).min((offset + burst - at) as usize);
                aio::write_all(&socket, &block[in_block..in_block + n]).await.map_err(|_| Failure::Io)?;
                at += n as u64;
            }
            Ok(())
        };
        let reader = async {
            let mut got = 0u64;
            while got < burst {
                let room = buf.len().min((burst - got) as usize);
                let n = aio::read(&socket, &mut buf[..room]).await.map_err(|_| Failure::Io)?;
                if n == 0 {
                    return Err(Failure::Truncated);
                }
                if !matches_block(&block, offset + got, &buf[..n]) {
                    return Err(Failure::Mismatch(Mismatch::Corrupted));
                }
                got += n as u64;
            }
            Ok(())
        };
        let round = async { tokio::try_join!(writer, reader).map(|_| ()) };
        let result = match tokio::time::timeout(plan.timeout, round).await {
            Ok(result) => result,
            Err(_) => Err(Failure::Timeout),
        };
        if let Err(failure) = result {
            count(&mut stats, failure);
            break;
        }
        if started >= plan.measure_from {
            stats.count_message(started.elapsed(), burst);
        }
        offset += burst;
    }
    let _ = socket.get_ref().shutdown(std::net::Shutdown::Write);
    stats.per_connection.push(stats.messages);
    stats
}

/// Whether `data`, found at stream `offset`, is the bulk pattern there.
fn matches_block(block: &[u8], offset: u64, mut data: &[u8]) -> bool {
    let mut at = (offset % block.len() as u64) as usize;
    while !data.is_empty() {
        let n = (block.len() - at).min(data.len());
        if data[..n] != block[at..at + n] {
            return false;
        }
        data = &data[n..];
        at = 0;
    }
    true
}

/// `--udp`: ping-pong with datagrams. An echo that does not come within
/// `wait` is lost (UDP does not resend), not an error.
pub async fn udp(addr: SocketAddr, id: u32, size: usize, wait: Duration, plan: Plan) -> Stats {
    let mut stats = Stats::default();
    let local: SocketAddr = if addr.is_ipv6() { "[::]:0" } else { "0.0.0.0:0" }.parse().expect("literal");
    let socket = match UdpSocket::bind(local).await {
        Ok(socket) if socket.connect(addr).await.is_ok() => socket,
        _ => {
            stats.errors.connect += 1;
            return stats;
        }
    };
    let (mut out, mut echo) = (vec![0u8; size], vec![0u8; size + 1]);
    let mut seq = 0u64;
    // Messages whose echo did not come in time: one may still come, late
    // (fine); an earlier message's echo that is not among these is a
    // duplicate.
    let mut missing: std::collections::VecDeque<u64> = std::collections::VecDeque::new();
    while plan.going_on() {
        let sent_at = Instant::now();
        message::encode(&mut out, id, seq);
        if socket.send(&out).await.is_err() {
            count(&mut stats, Failure::Io);
            break;
        }
        // Read until this message's echo, skipping late echoes of earlier ones.
        let outcome = loop {
            match tokio::time::timeout(wait, socket.recv(&mut echo)).await {
                Err(_) => break None,
                Ok(Err(_)) => break Some(Err(Failure::Io)),
                // A datagram is whole or lost: one of another length was
                // changed on the way (UDP has no "cut short").
                Ok(Ok(n)) if n != size => break Some(Err(Failure::Mismatch(Mismatch::Corrupted))),
                Ok(Ok(_)) => match message::verify(&echo[..size], id, seq) {
                    Err(Mismatch::Reordered)
                        if u64::from_le_bytes(echo[..8].try_into().expect("8")) < seq =>
                    {
                        let earlier = u64::from_le_bytes(echo[..8].try_into().expect("8"));
                        match missing.iter().position(|&m| m == earlier) {
                            Some(at) => drop(missing.remove(at)),
                            None => stats.errors.reordered += 1,
                        }
                    }
                    other => break Some(other.map_err(Failure::Mismatch)),
                },
            }
        };
        match outcome {
            None => {
                stats.errors.lost += 1;
                if missing.len() == 1024 {
                    missing.pop_front();
                }
                missing.push_back(seq);
            }
            // Datagrams stand alone: a bad one is counted, and the next
            // message goes on (only a socket error ends the flow).
            Some(Err(Failure::Io)) => {
                count(&mut stats, Failure::Io);
                break;
            }
            Some(Err(failure)) => count(&mut stats, failure),
            Some(Ok(())) if sent_at >= plan.measure_from => {
                stats.count_message(sent_at.elapsed(), size as u64);
            }
            Some(Ok(())) => {}
        }
        seq += 1;
    }
    stats.per_connection.push(stats.messages);
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bulk_pattern_is_checked_across_block_boundaries() {
        let block = bulk_block();
        let len = block.len() as u64;
        let data: Vec<u8> = (len - 10..len + 10).map(|o| block[(o % len) as usize]).collect();
        assert!(matches_block(&block, len - 10, &data));
        let mut shifted = data.clone();
        shifted.rotate_left(1);
        assert!(!matches_block(&block, len - 10, &shifted));
    }
}
