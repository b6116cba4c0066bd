//! The limits a long-running server needs: who may connect (`--allow`,
//! `--deny`), how many at once (`--max-conns`, `--max-conns-per-ip`), for
//! how long and how much (`--idle-timeout`, `--max-bytes`), and TCP
//! keepalive so that vanished clients are noticed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net};

use crate::usage::BadValue;

#[derive(Debug, Clone)]
pub struct Limits {
    /// At most this many connections at once; the next ones wait in the
    /// kernel's backlog until one closes. `None`: no limit.
    pub max_conns: Option<usize>,
    /// At most this many connections from one IP address; more are
    /// refused at once (RST). `None`: no limit.
    pub max_conns_per_ip: Option<usize>,
    /// Close a connection on which nothing could be read or written for
    /// this long. `None`: never.
    pub idle_timeout: Option<Duration>,
    /// TCP keepalive: probe a silent peer after this long, so that a
    /// client that vanished (cable, crash, NAT) is noticed. `None`: off.
    pub keepalive: Option<Duration>,
    /// Close a connection after echoing this many bytes. `None`: no limit.
    pub max_bytes: Option<u64>,
    /// Only these networks may connect (empty: everyone not denied).
    pub allow: Vec<IpNet>,
    /// These networks may not connect (checked before `allow`).
    pub deny: Vec<IpNet>,
}

impl Default for Limits {
    /// `eco server`'s defaults: idle connections closed after 5 minutes,
    /// keepalive after 60 s, no other limit.
    fn default() -> Limits {
        Limits {
            max_conns: None,
            max_conns_per_ip: None,
            idle_timeout: Some(Duration::from_secs(300)),
            keepalive: Some(Duration::from_secs(60)),
            max_bytes: None,
            allow: Vec::new(),
            deny: Vec::new(),
        }
    }
}

impl Limits {
    /// Whether `ip` may connect at all.
    ///
    /// An IPv4 client matches IPv4 networks, and IPv6 networks that hold
    /// its IPv4-mapped form: `::/0` is every client, of either family.
    pub fn admits(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        let mapped = match ip {
            IpAddr::V4(v4) => Some(IpAddr::V6(v4.to_ipv6_mapped())),
            IpAddr::V6(_) => None,
        };
        let matches = |net: &IpNet| net.contains(&ip) || mapped.is_some_and(|m| net.contains(&m));
        !self.deny.iter().any(matches) && (self.allow.is_empty() || self.allow.iter().any(matches))
    }
}

/// Open connections per client address, for `--max-conns-per-ip`.
#[derive(Default)]
pub(super) struct PerIp {
    counts: Mutex<HashMap<IpAddr, usize>>,
}

impl PerIp {
    /// Counts one more connection from `ip` unless that would pass `max`.
    pub(super) fn try_enter(&self, ip: IpAddr, max: Option<usize>) -> bool {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(ip).or_insert(0);
        if max.is_some_and(|max| *count >= max) {
            if *count == 0 {
                counts.remove(&ip);
            }
            return false;
        }
        *count += 1;
        true
    }

    pub(super) fn leave(&self, ip: IpAddr) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&ip);
            }
        }
    }
}

/// `--allow` / `--deny` values: a CIDR (`10.0.0.0/8`, `::1/128`) or a bare
/// address (one host).
///
/// An IPv4-mapped IPv6 rule (`::ffff:127.0.0.2`, `::ffff:127.0.0.0/104`)
/// means its IPv4 address or network: that is how a dual-stack server
/// (`--host ::`) shows IPv4 clients, and [`Limits::admits`] compares
/// those as IPv4. A network that would mix mapped and other IPv6 addresses
/// is refused with the form to write instead.
pub fn parse_net(text: &str) -> Result<IpNet, String> {
    let net = text
        .parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| BadValue::Net(text).says())?;
    let IpNet::V6(v6) = net else { return Ok(net) };
    let Some(v4) = v6.addr().to_ipv4_mapped() else { return Ok(net) };
    match v6.prefix_len().checked_sub(96) {
        Some(prefix) => Ok(Ipv4Net::new(v4, prefix).expect("0 to 32").trunc().into()),
        None => Err(BadValue::NetMapped { text, v4: v4.to_string() }.says()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| parse_net(n).unwrap()).collect()
    }

    #[test]
    fn deny_wins_over_allow_and_empty_allow_admits_all() {
        let limits =
            Limits { allow: nets(&["127.0.0.0/8"]), deny: nets(&["127.0.0.3"]), ..Limits::default() };
        assert!(limits.admits("127.0.0.2".parse().unwrap()));
        assert!(!limits.admits("127.0.0.3".parse().unwrap()));
        assert!(!limits.admits("10.1.2.3".parse().unwrap()));
        // An IPv4 client of a dual-stack socket shows as ::ffff:a.b.c.d.
        assert!(limits.admits("::ffff:127.0.0.2".parse().unwrap()));
        assert!(Limits::default().admits("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn per_ip_counts_up_to_the_limit_and_back() {
        let per_ip = PerIp::default();
        let ip: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(per_ip.try_enter(ip, Some(2)));
        assert!(per_ip.try_enter(ip, Some(2)));
        assert!(!per_ip.try_enter(ip, Some(2)));
        per_ip.leave(ip);
        assert!(per_ip.try_enter(ip, Some(2)));
        assert!(per_ip.try_enter("127.0.0.3".parse().unwrap(), Some(2)));
    }

    #[test]
    fn ipv4_mapped_rules_mean_their_ipv4_address_or_network() {
        assert_eq!(parse_net("::ffff:127.0.0.2").unwrap().to_string(), "127.0.0.2/32");
        assert_eq!(parse_net("::ffff:127.0.0.0/104").unwrap().to_string(), "127.0.0.0/8");
        assert_eq!(parse_net("::ffff:10.1.2.3/120").unwrap().to_string(), "10.1.2.0/24");
        assert!(parse_net("::ffff:127.0.0.0/80").unwrap_err().contains("write the IPv4 network instead"));
        let limits = Limits { deny: nets(&["::ffff:127.0.0.2"]), ..Limits::default() };
        assert!(!limits.admits("::ffff:127.0.0.2".parse().unwrap()));
        assert!(!limits.admits("127.0.0.2".parse().unwrap()));
        assert!(limits.admits("127.0.0.3".parse().unwrap()));
        let limits = Limits { allow: nets(&["::ffff:127.0.0.0/104"]), ..Limits::default() };
        assert!(limits.admits("::ffff:127.0.0.9".parse().unwrap()));
        assert!(!limits.admits("::ffff:10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn ipv6_networks_that_hold_the_mapped_addresses_match_ipv4_clients() {
        for (deny, v4_admitted, v6_admitted) in
            [("::/0", false, false), ("::/80", false, true), ("2001:db8::/32", true, true)]
        {
            let limits = Limits { deny: nets(&[deny]), ..Limits::default() };
            assert_eq!(limits.admits("10.1.2.3".parse().unwrap()), v4_admitted, "--deny {deny}");
            assert_eq!(limits.admits("::ffff:10.1.2.3".parse().unwrap()), v4_admitted, "--deny {deny}");
            assert_eq!(limits.admits("fe80::1".parse().unwrap()), v6_admitted, "--deny {deny}");
        }
        let limits = Limits { allow: nets(&["::/0"]), ..Limits::default() };
        assert!(limits.admits("127.0.0.1".parse().unwrap()));
        assert!(limits.admits("::1".parse().unwrap()));
    }

    #[test]
    fn nets_parse_with_a_clear_error() {
        assert_eq!(parse_net("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse_net("::1").unwrap().to_string(), "::1/128");
        assert!(parse_net("10.0.0.0/33").unwrap_err().contains("'10.0.0.0/33'"));
    }
}
