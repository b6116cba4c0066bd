//! UDP echo (RFC 862): each datagram answered with one identical datagram.
//!
//! UDP has no handshake, so the source address of a datagram is whatever
//! the sender wrote into it. An open UDP echo is the classic reflector
//! (CERT CA-1996-01): spoof the source address of a victim, or of another
//! echo or chargen service, and the answers go there — the echo–chargen
//! storm. So before answering, [`GuardState::check`] asks: is the source a
//! plausible client (not a service port, not broadcast or multicast), and
//! is this source, and the server as a whole, within its rate? Echo does
//! not amplify (the answer is as long as the question); the guard keeps it
//! from being a loop or a flood relay.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use lru::LruCache;
use tokio_util::sync::CancellationToken;

use super::conn::Shared;

/// The largest UDP payload over IPv4 (65 535 − 20 − 8); IPv6 allows 65 527.
pub const MAX_DATAGRAM: usize = 65_527;

/// Source ports of UDP services that answer unsolicited datagrams: a
/// datagram "from" one of them is most likely a spoofed loop or reflection
/// attempt (echo 7, chargen 19 and the rest below 1024 are refused anyway).
const SERVICE_PORTS: [u16; 10] = [
    1900,  // SSDP
    2049,  // NFS
    3283,  // Apple Remote Desktop
    3702,  // WS-Discovery
    5353,  // mDNS
    5683,  // CoAP
    10001, // Ubiquiti discovery
    11211, // memcached
    27015, // game server queries (A2S)
    32414, // Plex discovery
];

/// How many times in a row a datagram already answered to a source
/// (address and port) is answered again when it comes back, each return
/// within [`LOOP_WINDOW`] of the previous one: four from a source port
/// below 32768, 64 from an ephemeral port (32768 and up).
///
/// Another echo server (or chargen, or a second eco) at the source answers
/// every answer at once: datagrams spoofed "from" it start a loop in which
/// each side sees its own answers come back, one payload or many at a
/// time. eco remembers every payload it answered in the last moments (a
/// table bounded by `--udp-rate`, see [`GuardState`]), so any of them
/// coming back from where it went is a return, however many circulate;
/// past the limit, returns get no answer, nothing of the loop is in flight
/// any more, and it is over.
///
/// A client repeating one payload looks the same, so the limit depends on
/// where it comes from: services, and so reflectors, listen on fixed ports
/// (below 32768, where systems do not pick ports for clients: RFC 6056),
/// while clients send from ephemeral ports. A loop through a service is
/// over after five answers each way; `eco client --udp --count 60` (one
/// payload, from an ephemeral port) gets every answer; a loop through an
/// ephemeral port still ends after 65.
pub const MAX_RETURNS: u32 = 4;

/// See [`MAX_RETURNS`]: the limit for ephemeral source ports.
pub const MAX_RETURNS_EPHEMERAL: u32 = 64;

/// The lowest ephemeral port ([`MAX_RETURNS`]).
const EPHEMERAL: u16 = 32_768;

/// See [`MAX_RETURNS`].
pub const LOOP_WINDOW: Duration = Duration::from_secs(1);

/// Network prefixes that share one rate: a /24 of IPv4, a /64 of IPv6
/// (one subnet: whoever holds one address of it can use them all).
const PREFIX_V4: u32 = 24;
const PREFIX_V6: u32 = 64;

/// Sources (addresses, and address-and-port pairs) remembered at most: the
/// least recently seen are forgotten first, in constant time.
const MAX_SOURCES: usize = 100_000;

/// The reflection guard's settings.
#[derive(Debug, Clone)]
pub struct Guard {
    /// Datagrams per second answered for one source address (any port).
    pub per_source_rate: u32,
    /// Datagrams per second answered in all. Sources seen for the first
    /// time get at most half of it, so a flood from ever-new (spoofed)
    /// addresses cannot crowd out the clients already talking; and each
    /// network (/24, /64) gets at most an equal share of it among the
    /// networks sending in the last second, so a flood from one network,
    /// however many addresses it uses, cannot crowd out clients elsewhere.
    pub global_rate: u32,
}

impl Default for Guard {
    fn default() -> Guard {
        Guard { per_source_rate: 100, global_rate: 20_000 }
    }
}

/// Why a datagram got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unanswered {
    /// Source port below 1024: a system service, not a client.
    PrivilegedPort,
    /// Source port of a known UDP service, or our own port (another echo).
    ServicePort,
    /// Unspecified, broadcast or multicast source address.
    BadSource,
    /// Refused by `--allow` / `--deny`.
    NotAllowed,
    /// Datagrams already answered came back too many times: a loop.
    Loop,
    /// This source address is over its rate.
    SourceRate,
    /// This source's network (/24, /64) is over its share of the rate.
    NetworkRate,
    /// Sources seen for the first time are over their share of the rate.
    NewSourceRate,
    /// The server as a whole is over its rate.
    GlobalRate,
    /// `--drop-percent`: left unanswered on purpose.
    Dropped,
    /// `--proxy-protocol required`, and the datagram has no valid header.
    ProxyHeader,
}

impl Unanswered {
    /// The reason as the structured log spells it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Unanswered::PrivilegedPort => "privileged_port",
            Unanswered::ServicePort => "service_port",
            Unanswered::BadSource => "bad_source",
            Unanswered::NotAllowed => "not_allowed",
            Unanswered::Loop => "loop",
            Unanswered::SourceRate => "source_rate",
            Unanswered::NetworkRate => "network_rate",
            Unanswered::NewSourceRate => "new_source_rate",
            Unanswered::GlobalRate => "global_rate",
            Unanswered::Dropped => "drop_percent",
            Unanswered::ProxyHeader => "proxy_header",
        }
    }
}

/// A token bucket: `rate` tokens a second, at most one second's worth saved.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn full(rate: u32, now: Instant) -> Bucket {
        Bucket { tokens: f64::from(rate), last: now }
    }

    fn take(&mut self, rate: u32, now: Instant) -> bool {
        let refill = now.saturating_duration_since(self.last).as_secs_f64() * f64::from(rate);
        self.tokens = (self.tokens + refill).min(f64::from(rate));
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What was last answered to one source (address and port).
#[derive(Debug, Clone, Copy)]
struct Answered {
    /// When the last answer went out, and how many returns in a row.
    at: Instant,
    returns: u32,
}

/// One network's share: its bucket, and the second it last sent in.
#[derive(Debug, Clone, Copy)]
struct Network {
    bucket: Bucket,
    second: u64,
}

/// The guard's running state: a bucket per source address and per
/// network, what was answered per source address and port, and the
/// overall buckets. Each datagram costs a few hash lookups, whatever the
/// number of sources.
/// The most answers remembered for loop detection (a few MiB).
const MAX_RECENT: usize = 1 << 17;

pub struct GuardState {
    guard: Guard,
    local_port: u16,
    sources: LruCache<IpAddr, Bucket>,
    networks: LruCache<IpAddr, Network>,
    answers: LruCache<SocketAddr, Answered>,
    /// Every payload answered lately, with where it went: two seconds of
    /// answers at `--udp-rate` (the oldest forgotten first).
    recent: LruCache<(SocketAddr, u64), ()>,
    new_sources: Bucket,
    global: Bucket,
    /// Networks that sent in the current second and in the one before
    /// (seconds counted from `start`).
    start: Instant,
    second: u64,
    active: u32,
    active_before: u32,
}

impl GuardState {
    pub fn new(guard: Guard, local_port: u16, now: Instant) -> GuardState {
        let capacity = NonZeroUsize::new(MAX_SOURCES).expect("not zero");
        // Two seconds at --udp-rate, within bounds: a --udp-rate in the
        // billions (limits lifted for a benchmark) must not reserve memory
        // for billions (the table is allocated up front). A loop's datagrams
        // come back within milliseconds, well inside what the cap covers.
        let recent = (2 * guard.global_rate as usize).clamp(4096, MAX_RECENT);
        let recent = NonZeroUsize::new(recent).expect("not zero");
        GuardState {
            new_sources: Bucket::full(new_source_rate(&guard), now),
            global: Bucket::full(guard.global_rate, now),
            guard,
            local_port,
            sources: LruCache::new(capacity),
            networks: LruCache::new(capacity),
            answers: LruCache::new(capacity),
            recent: LruCache::new(recent),
            start: now,
            second: 0,
            active: 0,
            active_before: 0,
        }
    }

    /// Whether `src` could be a client at all: not a system service's
    /// port, not a known service or this server, not broadcast, multicast
    /// or unspecified (the checks that need no memory of earlier datagrams).
    pub fn plausible(&self, src: SocketAddr) -> Result<(), Unanswered> {
        let port = src.port();
        if port < 1024 {
            return Err(Unanswered::PrivilegedPort);
        }
        if SERVICE_PORTS.contains(&port) || port == self.local_port {
            return Err(Unanswered::ServicePort);
        }
        let bad = match src.ip().to_canonical() {
            IpAddr::V4(v4) => v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast(),
            IpAddr::V6(v6) => v6.is_unspecified() || v6.is_multicast(),
        };
        if bad {
            return Err(Unanswered::BadSource);
        }
        Ok(())
    }

    /// Whether `payload` from `src` may be answered; if so, it is noted as
    /// answered.
    pub fn check(&mut self, src: SocketAddr, payload: &[u8], now: Instant) -> Result<(), Unanswered> {
        self.plausible(src)?;
        let (ip, port) = (src.ip().to_canonical(), src.port());
        let digest = digest(payload);
        let came_back = self.recent.contains(&(src, digest));
        let returns = match self.answers.peek(&src) {
            Some(last) if came_back => {
                let in_a_row = now.saturating_duration_since(last.at) < LOOP_WINDOW;
                if in_a_row { last.returns + 1 } else { 1 }
            }
            Some(last) if now.saturating_duration_since(last.at) < LOOP_WINDOW => last.returns,
            _ => 0,
        };
        let limit = if port < EPHEMERAL { MAX_RETURNS } else { MAX_RETURNS_EPHEMERAL };
        if returns > limit {
            return Err(Unanswered::Loop);
        }
        let rate = self.guard.per_source_rate;
        match self.sources.get_mut(&ip) {
            Some(bucket) => {
                if !bucket.take(rate, now) {
                    return Err(Unanswered::SourceRate);
                }
            }
            None => {
                let mut bucket = Bucket::full(rate, now);
                bucket.take(rate, now);
                // Remembered even if the share below refuses it: its next
                // datagram is then a known source's.
                self.sources.push(ip, bucket);
                if !self.new_sources.take(new_source_rate(&self.guard), now) {
                    return Err(Unanswered::NewSourceRate);
                }
            }
        }
        if !self.network_share(ip, now) {
            return Err(Unanswered::NetworkRate);
        }
        if !self.global.take(self.guard.global_rate, now) {
            return Err(Unanswered::GlobalRate);
        }
        self.answers.push(src, Answered { at: now, returns });
        self.recent.push((src, digest), ());
        Ok(())
    }

    /// Takes a token from `ip`'s network: its share is the global rate
    /// divided among the networks that sent in the last second (at least
    /// one source's rate).
    fn network_share(&mut self, ip: IpAddr, now: Instant) -> bool {
        let second = now.saturating_duration_since(self.start).as_secs();
        if second != self.second {
            self.active_before = if second == self.second + 1 { self.active } else { 0 };
            self.active = 0;
            self.second = second;
        }
        let prefix = match ip {
            IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) & (u32::MAX << (32 - PREFIX_V4))).into()),
            IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & (u128::MAX << (128 - PREFIX_V6))).into()),
        };
        let network = self
            .networks
            .get_or_insert_mut(prefix, || Network { bucket: Bucket::full(u32::MAX, now), second: u64::MAX });
        if network.second != second {
            network.second = second;
            self.active += 1;
        }
        let networks = self.active.max(self.active_before).max(1);
        let share = (self.guard.global_rate / networks).max(self.guard.per_source_rate);
        network.bucket.take(share, now)
    }
}

/// The share of `--udp-rate` for sources seen for the first time: half.
fn new_source_rate(guard: &Guard) -> u32 {
    (guard.global_rate / 2).max(1)
}

/// A hash of a datagram's bytes, to tell "the same datagram again".
fn digest(payload: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    payload.hash(&mut hasher);
    hasher.finish()
}

/// Datagrams taken (and answered) per system call: `recvmmsg` returns as
/// many as are waiting, up to this, and `sendmmsg` sends their answers in
/// one call. At a high packet rate the system calls, not the echo, are the
/// cost; a lone datagram still gets its answer at once (MSG_WAITFORONE).
const BATCH: usize = 32;

/// Answers datagrams on `socket` until `stop` is cancelled (the signal
/// thread then wakes the blocked `recvmmsg` with a shutdown).
pub(super) fn serve(socket: &UdpSocket, shared: &Shared, stop: &CancellationToken) {
    use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};
    use std::io::IoSliceMut;
    use std::os::fd::AsRawFd;

    let local_port = socket.local_addr().map(|a| a.port()).unwrap_or(0);
    let mut state = GuardState::new(shared.config.udp.clone(), local_port, Instant::now());
    // One buffer per datagram of a batch, each as large as a datagram can be.
    let mut bufs: Vec<Vec<u8>> = (0..BATCH).map(|_| vec![0u8; MAX_DATAGRAM + 1]).collect();
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut sender = Sender::new();
    let mut received: Vec<(usize, Option<SocketAddr>)> = Vec::with_capacity(BATCH);
    while !stop.is_cancelled() {
        received.clear();
        {
            // recvmmsg(): every datagram waiting, up to BATCH, each with its
            // source address. No connection, no handshake: every datagram
            // stands alone.
            let mut slices: Vec<[IoSliceMut<'_>; 1]> =
                bufs.iter_mut().map(|b| [IoSliceMut::new(b)]).collect();
            match recvmmsg(
                socket.as_raw_fd(),
                &mut headers,
                slices.iter_mut(),
                MsgFlags::MSG_WAITFORONE,
                None,
            ) {
                Ok(batch) => {
                    received.extend(batch.map(|m| (m.bytes, m.address.as_ref().and_then(std_addr))));
                }
                Err(nix::errno::Errno::EINTR) => continue,
                // ICMP errors from earlier answers (port unreachable) surface
                // here on Linux; they concern a past datagram, not this socket.
                Err(error) => {
                    tracing::debug!(error = %error, "udp receive error");
                    continue;
                }
            }
        }
        if stop.is_cancelled() {
            break;
        }
        for (i, &(n, from)) in received.iter().enumerate() {
            let Some(from) = from else { continue };
            if let Some(payload) = answer(shared, &mut state, &bufs[i][..n], from) {
                sender.queue(i, payload, from);
            }
        }
        sender.send(socket, &bufs, shared);
    }
}

/// The answers of one batch, sent with `sendmmsg`.
struct Sender {
    headers: nix::sys::socket::MultiHeaders<nix::sys::socket::SockaddrStorage>,
    /// (buffer, payload range in it, destination)
    queued: Vec<(usize, std::ops::Range<usize>, SocketAddr)>,
}

impl Sender {
    fn new() -> Sender {
        Sender {
            headers: nix::sys::socket::MultiHeaders::preallocate(BATCH, None),
            queued: Vec::with_capacity(BATCH),
        }
    }

    fn queue(&mut self, buf: usize, payload: std::ops::Range<usize>, to: SocketAddr) {
        self.queued.push((buf, payload, to));
    }

    /// sendmmsg(): the same bytes back, each in one datagram, to its
    /// source; all the batch's answers in one call (more if the kernel
    /// takes fewer at once).
    fn send(&mut self, socket: &UdpSocket, bufs: &[Vec<u8>], shared: &Shared) {
        use nix::sys::socket::{ControlMessage, MsgFlags, SockaddrStorage, sendmmsg};
        use std::os::fd::AsRawFd;
        let mut from = 0;
        while from < self.queued.len() {
            let pending = &self.queued[from..];
            let slices: Vec<[std::io::IoSlice<'_>; 1]> =
                pending.iter().map(|(i, r, _)| [std::io::IoSlice::new(&bufs[*i][r.clone()])]).collect();
            let addrs: Vec<Option<SockaddrStorage>> =
                pending.iter().map(|(_, _, to)| Some(SockaddrStorage::from(*to))).collect();
            let no_cmsgs: [ControlMessage<'_>; 0] = [];
            match sendmmsg(
                socket.as_raw_fd(),
                &mut self.headers,
                &slices,
                &addrs,
                no_cmsgs,
                MsgFlags::empty(),
            ) {
                Ok(sent) => {
                    let sent = sent.count().max(1);
                    for _ in 0..sent.min(pending.len()) {
                        shared.metrics.udp(None);
                    }
                    from += sent;
                }
                Err(nix::errno::Errno::EINTR) => {}
                Err(error) => {
                    // The first of the rest failed (an unreachable
                    // destination, say): skip it, send the others.
                    tracing::debug!(peer = %pending[0].2, error = %error, "udp send failed");
                    from += 1;
                }
            }
        }
        self.queued.clear();
    }
}

fn std_addr(addr: &nix::sys::socket::SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        Some(SocketAddr::from((v4.ip(), v4.port())))
    } else {
        addr.as_sockaddr_in6().map(|v6| SocketAddr::from((v6.ip(), v6.port())))
    }
}

/// What to answer to one datagram from `from`: the range of it to echo,
/// or `None` (told and counted why).
///
/// With `--proxy-protocol`, a v2 header before the payload names the
/// original client: the guard and `--allow` / `--deny` apply to it, the
/// header is not echoed, and the answer goes to the proxy that sent it.
fn answer(
    shared: &Shared,
    state: &mut GuardState,
    datagram: &[u8],
    from: SocketAddr,
) -> Option<std::ops::Range<usize>> {
    let trusted = shared.config.trusts_proxy(from.ip());
    let (client, start) = match shared.config.proxy {
        // A header is believed only from the balancers of --proxy-from.
        Some(mode) if trusted => match crate::proxy::scan(datagram) {
            // v2 for a datagram (or unspecified) connection; v1 is TCP's.
            crate::proxy::Scan::Header { len, header }
                if header.version == crate::proxy::Version::V2
                    && (header.datagram || header.addresses.is_none()) =>
            {
                if len == datagram.len() {
                    // A header and nothing after it: nothing to echo.
                    return None;
                }
                (header.addresses.map_or(from, |(source, _)| source), len)
            }
            crate::proxy::Scan::Absent if mode == super::ProxyMode::Optional => (from, 0),
            _ => return unanswered(shared, from, Unanswered::ProxyHeader),
        },
        Some(super::ProxyMode::Required) => return unanswered(shared, from, Unanswered::ProxyHeader),
        _ => (from, 0),
    };
    let payload = &datagram[start..];
    // --allow / --deny first: they hold for datagrams as for connections.
    if !shared.config.limits.admits(client.ip()) {
        return unanswered(shared, client, Unanswered::NotAllowed);
    }
    if let Err(why) = state.check(client, payload, Instant::now()) {
        return unanswered(shared, client, why);
    }
    if client != from {
        // The answer goes to the datagram's own source, not to the client
        // its header names: that source must pass the guard too, or a
        // spoofed header would reflect answers anywhere. A balancer of
        // --proxy-from is trusted with the rates (all its clients' traffic
        // comes from it); anyone else is held to them as any source is.
        let checked = if shared.config.proxy_from.is_empty() {
            state.check(from, payload, Instant::now())
        } else {
            state.plausible(from)
        };
        if let Err(why) = checked {
            return unanswered(shared, from, why);
        }
    }
    if shared.config.misbehave.drop_datagram() {
        return unanswered(shared, client, Unanswered::Dropped);
    }
    Some(start..datagram.len())
}

fn unanswered(shared: &Shared, peer: SocketAddr, why: Unanswered) -> Option<std::ops::Range<usize>> {
    shared.summary.unanswered(why);
    shared.metrics.udp(Some(why.name()));
    tracing::debug!(peer = %peer, reason = why.name(), "udp datagram dropped");
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn lifted_rates_do_not_reserve_memory_for_them() {
        // u32::MAX datagrams a second (limits lifted for a benchmark): the
        // guard's tables stay small (this allocated 292 GB and aborted).
        let guard = Guard { per_source_rate: u32::MAX, global_rate: u32::MAX };
        let mut state = GuardState::new(guard, 7007, Instant::now());
        assert_eq!(state.check("127.0.0.1:40000".parse().unwrap(), b"x", Instant::now()), Ok(()));
    }

    #[test]
    fn service_and_privileged_ports_and_bad_sources_get_no_answer() {
        let now = Instant::now();
        let mut state = GuardState::new(Guard::default(), 7007, now);
        let mut check = |src| state.check(addr(src), b"x", now);
        assert_eq!(check("127.0.0.1:7"), Err(Unanswered::PrivilegedPort));
        assert_eq!(check("127.0.0.1:19"), Err(Unanswered::PrivilegedPort));
        assert_eq!(check("127.0.0.1:1023"), Err(Unanswered::PrivilegedPort));
        assert_eq!(check("127.0.0.1:2049"), Err(Unanswered::ServicePort));
        assert_eq!(check("127.0.0.1:7007"), Err(Unanswered::ServicePort));
        assert_eq!(check("255.255.255.255:40000"), Err(Unanswered::BadSource));
        assert_eq!(check("224.0.0.1:40000"), Err(Unanswered::BadSource));
        assert_eq!(check("0.0.0.0:40000"), Err(Unanswered::BadSource));
        assert_eq!(check("[ff02::1]:40000"), Err(Unanswered::BadSource));
        assert_eq!(check("127.0.0.1:1024"), Ok(()));
    }

    #[test]
    fn a_flooding_source_is_limited_by_address_not_port_and_others_still_answered() {
        let now = Instant::now();
        let mut state = GuardState::new(Guard { per_source_rate: 10, global_rate: 1000 }, 7, now);
        let answered =
            (0..50).filter(|i| state.check(addr(&format!("127.0.0.2:{}", 40000 + i)), b"x", now).is_ok());
        assert_eq!(answered.count(), 10);
        assert_eq!(state.check(addr("127.0.0.3:40000"), b"x", now), Ok(()));
        // A second later the bucket has refilled.
        assert_eq!(state.check(addr("127.0.0.2:40000"), b"y", now + Duration::from_secs(1)), Ok(()));
    }

    #[test]
    fn the_global_rate_caps_all_sources_together() {
        let now = Instant::now();
        let mut state = GuardState::new(Guard { per_source_rate: 100, global_rate: 10 }, 7, now);
        // Five known sources (their first datagrams take the new-source share).
        for i in 0..5 {
            assert_eq!(state.check(addr(&format!("127.0.1.{i}:40000")), b"hi", now), Ok(()));
        }
        let answered =
            (0..20).filter(|i| state.check(addr(&format!("127.0.1.{}:40000", i % 5)), &[*i], now).is_ok());
        assert_eq!(answered.count(), 5);
    }

    #[test]
    fn new_sources_get_half_the_global_rate_and_known_ones_the_rest() {
        let now = Instant::now();
        let mut state = GuardState::new(Guard { per_source_rate: 100, global_rate: 100 }, 7, now);
        assert_eq!(state.check(addr("127.0.0.9:40000"), b"client", now), Ok(()));
        // A flood from 1 000 new addresses: 49 more are answered (half of
        // 100, less the client's first datagram).
        let flood = (0..1000u32).filter(|i| {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            state.check(SocketAddr::new(ip.into(), 40000), b"spoofed", now).is_ok()
        });
        assert_eq!(flood.count(), 49);
        // The known client is still answered.
        for i in 0..40u8 {
            assert_eq!(state.check(addr("127.0.0.9:40000"), &[i], now), Ok(()), "datagram {i}");
        }
    }

    #[test]
    fn the_same_datagram_coming_back_is_answered_five_times_in_a_row() {
        let start = Instant::now();
        let mut state = GuardState::new(Guard::default(), 7, start);
        // Another echo service: a port below the ephemeral range.
        let other_echo = addr("127.0.0.1:20007");
        let at = |i: u64| start + Duration::from_micros(i * 30);
        let answered: Vec<bool> = (0..8).map(|i| state.check(other_echo, b"loop", at(i)).is_ok()).collect();
        assert_eq!(answered, [true, true, true, true, true, false, false, false]);
        // Another payload from the same source, or the same a second later: answered.
        assert_eq!(state.check(other_echo, b"new", at(9)), Ok(()));
        let mut state = GuardState::new(Guard::default(), 7, start);
        for i in 0..5 {
            assert_eq!(state.check(other_echo, b"ping", at(i)), Ok(()));
        }
        assert_eq!(state.check(other_echo, b"ping", at(5)), Err(Unanswered::Loop));
        assert_eq!(state.check(other_echo, b"ping", at(5) + LOOP_WINDOW), Ok(()));
        // The same payload from another port of the same address is another source.
        assert_eq!(state.check(addr("127.0.0.1:20008"), b"ping", at(6)), Ok(()));
    }

    #[test]
    fn several_payloads_looping_at_once_are_stopped_too() {
        let start = Instant::now();
        let mut state = GuardState::new(Guard::default(), 7, start);
        let other_echo = addr("127.0.0.1:20007");
        let at = |i: u64| start + Duration::from_millis(i * 10);
        // Twenty payloads spoofed at once, each coming back in turn (eco
        // once remembered eight per source, and nine looped for good).
        let payloads: Vec<Vec<u8>> = (0..20u8).map(|i| vec![b'q', i]).collect();
        // (Within a second: a real loop has nothing in flight once cut.)
        let answered =
            (0..90).filter(|&i| state.check(other_echo, &payloads[i % 20], at(i as u64)).is_ok()).count();
        assert_eq!(answered, 20 + 4);
    }

    #[test]
    fn a_client_on_an_ephemeral_port_may_repeat_a_payload_longer() {
        let start = Instant::now();
        let mut state = GuardState::new(Guard::default(), 7, start);
        let client = addr("127.0.0.1:45000");
        let at = |i: u64| start + Duration::from_millis(i * 10);
        // `eco client --udp --count 60`: one payload, sixty times.
        assert!((0..60).all(|i| state.check(client, b"status?", at(i)).is_ok()));
        // A loop through an ephemeral port still ends.
        let answered = (60..150).filter(|&i| state.check(client, b"status?", at(i)).is_ok()).count();
        assert_eq!(answered, 65 - 60);
    }

    #[test]
    fn a_flood_from_one_network_leaves_clients_elsewhere_their_share() {
        let start = Instant::now();
        let guard = Guard { per_source_rate: 100, global_rate: 1000 };
        let mut state = GuardState::new(guard, 7, start);
        let client = addr("127.0.0.9:40000");
        // 2 000 addresses in 10.1.0.0/21 (eight /24s) at 3 000 datagrams a
        // second for five seconds, the client at 50 a second.
        let mut client_answered = 0;
        let mut flood_answered = 0;
        for n in 0..15_000u32 {
            let now = start + Duration::from_micros(u64::from(n) * 333);
            let ip = std::net::Ipv4Addr::from(0x0a01_0000 + n % 2000);
            if state.check(SocketAddr::new(ip.into(), 40000), &n.to_be_bytes(), now).is_ok() {
                flood_answered += 1;
            }
            if n % 60 == 0 {
                client_answered += u32::from(state.check(client, &n.to_be_bytes(), now).is_ok());
            }
        }
        assert_eq!(client_answered, 250, "every one of the client's datagrams");
        // The eight flooding networks share the rest: at most their share
        // (1000 / 9 a second each) plus one second's burst.
        assert!(flood_answered <= 8 * (1000 / 9) * 6, "{flood_answered}");
    }
}
