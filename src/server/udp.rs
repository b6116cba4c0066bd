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

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::console::Console;
use crate::i18n::Msg;

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

/// The reflection guard's settings.
#[derive(Debug, Clone)]
pub struct Guard {
    /// Datagrams per second answered for one source address (any port).
    pub per_source_rate: u32,
    /// Datagrams per second answered in all.
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
    /// This source address is over its rate.
    SourceRate,
    /// The server as a whole is over its rate.
    GlobalRate,
}

impl Unanswered {
    fn name(self) -> &'static str {
        match self {
            Unanswered::PrivilegedPort => "privileged_port",
            Unanswered::ServicePort => "service_port",
            Unanswered::BadSource => "bad_source",
            Unanswered::SourceRate => "source_rate",
            Unanswered::GlobalRate => "global_rate",
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

/// The guard's running state: one bucket per source address, one overall,
/// and the drops not yet logged.
pub struct GuardState {
    guard: Guard,
    local_port: u16,
    sources: HashMap<IpAddr, Bucket>,
    global: Bucket,
    dropped: HashMap<Unanswered, u64>,
    last_log: Instant,
}

/// Past this many tracked sources, forget those idle for a while.
const MAX_SOURCES: usize = 100_000;

impl GuardState {
    pub fn new(guard: Guard, local_port: u16, now: Instant) -> GuardState {
        let global = Bucket::full(guard.global_rate, now);
        GuardState {
            guard,
            local_port,
            sources: HashMap::new(),
            global,
            dropped: HashMap::new(),
            last_log: now,
        }
    }

    /// Whether a datagram from `src` may be answered; counts it if not.
    pub fn check(&mut self, src: SocketAddr, now: Instant) -> Result<(), Unanswered> {
        let verdict = self.verdict(src, now);
        if let Err(drop) = verdict {
            *self.dropped.entry(drop).or_default() += 1;
        }
        verdict
    }

    fn verdict(&mut self, src: SocketAddr, now: Instant) -> Result<(), Unanswered> {
        let port = src.port();
        if port < 1024 {
            return Err(Unanswered::PrivilegedPort);
        }
        if SERVICE_PORTS.contains(&port) || port == self.local_port {
            return Err(Unanswered::ServicePort);
        }
        let ip = src.ip().to_canonical();
        let bad = match ip {
            IpAddr::V4(v4) => v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast(),
            IpAddr::V6(v6) => v6.is_unspecified() || v6.is_multicast(),
        };
        if bad {
            return Err(Unanswered::BadSource);
        }
        if self.sources.len() >= MAX_SOURCES && !self.sources.contains_key(&ip) {
            self.sources.retain(|_, b| now.saturating_duration_since(b.last) < Duration::from_secs(10));
        }
        let rate = self.guard.per_source_rate;
        let bucket = self.sources.entry(ip).or_insert_with(|| Bucket::full(rate, now));
        if !bucket.take(rate, now) {
            return Err(Unanswered::SourceRate);
        }
        if !self.global.take(self.guard.global_rate, now) {
            return Err(Unanswered::GlobalRate);
        }
        Ok(())
    }

    /// The drops since the last call, at most once a second: `(count, "reason=n ...")`.
    pub fn drops_to_log(&mut self, now: Instant) -> Option<(u64, String)> {
        if self.dropped.is_empty() || now.saturating_duration_since(self.last_log) < Duration::from_secs(1) {
            return None;
        }
        self.last_log = now;
        let mut counts: Vec<(Unanswered, u64)> = self.dropped.drain().collect();
        counts.sort();
        let total = counts.iter().map(|(_, n)| n).sum();
        let details = counts.iter().map(|(d, n)| format!("{}={n}", d.name())).collect::<Vec<_>>().join(" ");
        Some((total, details))
    }
}

/// Answers datagrams on `socket` until `stop` is set.
pub fn serve(socket: &UdpSocket, guard: &Guard, console: &Console, stop: &AtomicBool) {
    let local_port = socket.local_addr().map(|a| a.port()).unwrap_or(0);
    // Wake up now and then to notice `stop` and to log drops.
    let _ = socket.set_read_timeout(Some(Duration::from_millis(200)));
    let mut state = GuardState::new(guard.clone(), local_port, Instant::now());
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    while !stop.load(Ordering::SeqCst) {
        // recvfrom(): one whole datagram and its source address. No
        // connection, no handshake: every datagram stands alone.
        let received = socket.recv_from(&mut buf);
        let now = Instant::now();
        match received {
            Ok((n, src)) => match state.check(src, now) {
                // sendto(): the same bytes, in one datagram, to the source.
                Ok(()) => {
                    if let Err(error) = socket.send_to(&buf[..n], src) {
                        tracing::debug!(peer = %src, error = %error, "udp send failed");
                    }
                }
                Err(drop) => tracing::debug!(peer = %src, reason = drop.name(), "udp datagram dropped"),
            },
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // ICMP errors from earlier answers (port unreachable) surface
            // here on Linux; they concern a past datagram, not this socket.
            Err(e) => tracing::debug!(error = %e, "udp receive error"),
        }
        if let Some((count, details)) = state.drops_to_log(now) {
            console.note(Msg::UdpDropped { count, details: &details });
            tracing::info!(count, details = %details, "udp datagrams not answered");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn service_and_privileged_ports_and_bad_sources_get_no_answer() {
        let now = Instant::now();
        let mut state = GuardState::new(Guard::default(), 7007, now);
        assert_eq!(state.check(addr("127.0.0.1:7"), now), Err(Unanswered::PrivilegedPort));
        assert_eq!(state.check(addr("127.0.0.1:19"), now), Err(Unanswered::PrivilegedPort));
        assert_eq!(state.check(addr("127.0.0.1:1023"), now), Err(Unanswered::PrivilegedPort));
        assert_eq!(state.check(addr("127.0.0.1:2049"), now), Err(Unanswered::ServicePort));
        assert_eq!(state.check(addr("127.0.0.1:7007"), now), Err(Unanswered::ServicePort));
        assert_eq!(state.check(addr("255.255.255.255:40000"), now), Err(Unanswered::BadSource));
        assert_eq!(state.check(addr("224.0.0.1:40000"), now), Err(Unanswered::BadSource));
        assert_eq!(state.check(addr("0.0.0.0:40000"), now), Err(Unanswered::BadSource));
        assert_eq!(state.check(addr("[ff02::1]:40000"), now), Err(Unanswered::BadSource));
        assert_eq!(state.check(addr("127.0.0.1:1024"), now), Ok(()));
        let (count, details) = state.drops_to_log(now + Duration::from_secs(2)).unwrap();
        assert_eq!(count, 9);
        assert_eq!(details, "privileged_port=3 service_port=2 bad_source=4");
        assert_eq!(state.drops_to_log(now + Duration::from_secs(4)), None);
    }

    #[test]
    fn a_flooding_source_is_limited_by_address_not_port_and_others_still_answered() {
        let now = Instant::now();
        let mut state = GuardState::new(Guard { per_source_rate: 10, global_rate: 1000 }, 7, now);
        let answered =
            (0..50).filter(|i| state.check(addr(&format!("127.0.0.2:{}", 40000 + i)), now).is_ok());
        assert_eq!(answered.count(), 10);
        assert_eq!(state.check(addr("127.0.0.3:40000"), now), Ok(()));
        // A second later the bucket has refilled.
        assert_eq!(state.check(addr("127.0.0.2:40000"), now + Duration::from_secs(1)), Ok(()));
    }

    #[test]
    fn the_global_rate_caps_all_sources_together() {
        let now = Instant::now();
        let mut state = GuardState::new(Guard { per_source_rate: 100, global_rate: 5 }, 7, now);
        let answered = (0..20).filter(|i| state.check(addr(&format!("127.0.1.{i}:40000")), now).is_ok());
        assert_eq!(answered.count(), 5);
    }
}
