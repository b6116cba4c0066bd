//! Turning `--host` and `--port` into socket addresses.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use crate::error::{Error, Result};

/// Every address `host` stands for, in the resolver's order.
///
/// An IP literal (`127.0.0.1`, `::1`, `[::1]`) is used as it is; a name goes
/// through the system resolver (`/etc/hosts`, then DNS), as `getaddrinfo` does.
pub fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>> {
    let literal = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let bad_host = || Error::BadHost { host: host.to_owned() };
    if host.is_empty() {
        return Err(bad_host());
    }
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs().map_err(|_| bad_host())?.collect();
    if addrs.is_empty() { Err(bad_host()) } else { Ok(addrs) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_need_no_resolver() {
        assert_eq!(resolve("127.0.0.1", 5050).unwrap(), ["127.0.0.1:5050".parse().unwrap()]);
        assert_eq!(resolve("[::1]", 7).unwrap(), ["[::1]:7".parse().unwrap()]);
        assert_eq!(resolve("::1", 7).unwrap(), ["[::1]:7".parse().unwrap()]);
    }

    #[test]
    fn localhost_resolves_to_loopback() {
        let addrs = resolve("localhost", 5050).unwrap();
        assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 5050), "{addrs:?}");
    }

    #[test]
    fn a_bad_host_is_named() {
        let err = resolve("no such host!", 1).unwrap_err();
        assert!(err.to_string().contains("'no such host!'"), "{err}");
        assert_eq!(err.exit_code(), 2);
        assert_eq!(resolve("", 1).unwrap_err().exit_code(), 2);
    }
}
