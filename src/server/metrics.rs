//! `--metrics ADDR`: the server's counters for Prometheus, on
//! `http://ADDR/metrics`, and `/healthz` for a load balancer's or
//! orchestrator's health check.
//!
//! The counters are prometheus-client's (atomics, cheap to bump from any
//! thread); they are kept whether or not `--metrics` is given. Bytes are
//! counted when a connection ends, so that the echo loops pay nothing per
//! read.
//!
//! The HTTP side is written out here: two GET routes, answered with one
//! response each and closed, do not justify an HTTP server crate (hyper and
//! its stack would double eco's build time).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::{Error, Result};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

/// What the server counts.
pub(crate) struct Metrics {
    registry: Registry,
    open: Gauge,
    accepted: Counter,
    bytes_in: Counter,
    bytes_out: Counter,
    ended: Family<Reason, Counter>,
    refused: Family<Reason, Counter>,
    accept_errors: Counter,
    udp_answered: Counter,
    udp_unanswered: Family<Reason, Counter>,
    /// Set when the server stops: `/healthz` then answers 503.
    stopping: AtomicBool,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("eco");
        let metrics = Metrics {
            open: Gauge::default(),
            accepted: Counter::default(),
            bytes_in: Counter::default(),
            bytes_out: Counter::default(),
            ended: Family::default(),
            refused: Family::default(),
            accept_errors: Counter::default(),
            udp_answered: Counter::default(),
            udp_unanswered: Family::default(),
            stopping: AtomicBool::new(false),
            registry: Registry::default(),
        };
        registry.register("connections_open", "TCP connections being served", metrics.open.clone());
        registry.register("connections", "TCP connections admitted", metrics.accepted.clone());
        registry.register(
            "received_bytes",
            "Bytes received from clients (counted when a connection ends)",
            metrics.bytes_in.clone(),
        );
        registry.register(
            "sent_bytes",
            "Bytes echoed to clients (counted when a connection ends)",
            metrics.bytes_out.clone(),
        );
        registry.register(
            "connections_ended",
            "TCP connections ended, by reason (fin: the client closed)",
            metrics.ended.clone(),
        );
        registry.register(
            "connections_refused",
            "TCP connections refused right after accept, by reason",
            metrics.refused.clone(),
        );
        registry.register("accept_errors", "Failed accept() calls", metrics.accept_errors.clone());
        registry.register("udp_answered", "UDP datagrams echoed", metrics.udp_answered.clone());
        registry.register(
            "udp_unanswered",
            "UDP datagrams left unanswered, by reason",
            metrics.udp_unanswered.clone(),
        );
        Metrics { registry, ..metrics }
    }
}

impl Metrics {
    /// A connection accepted: open until [`Metrics::closed`].
    pub(crate) fn opened(&self) {
        self.open.inc();
    }

    /// A client let in (past --allow, --deny, the per-IP limit, and its
    /// PROXY header if one was due).
    pub(crate) fn admitted(&self) {
        self.accepted.inc();
    }

    pub(crate) fn closed(&self) {
        self.open.dec();
    }

    pub(crate) fn ended(&self, reason: &'static str, bytes_in: u64, bytes_out: u64) {
        self.ended.get_or_create(&Reason { reason }).inc();
        self.bytes_in.inc_by(bytes_in);
        self.bytes_out.inc_by(bytes_out);
    }

    pub(crate) fn refused(&self, reason: &'static str) {
        self.refused.get_or_create(&Reason { reason }).inc();
    }

    pub(crate) fn accept_failed(&self) {
        self.accept_errors.inc();
    }

    pub(crate) fn udp(&self, unanswered: Option<&'static str>) {
        match unanswered {
            None => drop(self.udp_answered.inc()),
            Some(reason) => drop(self.udp_unanswered.get_or_create(&Reason { reason }).inc()),
        }
    }

    pub(crate) fn stopping(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    fn text(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("writing to a String");
        text
    }
}

/// At most this many scrapes at once; more are closed at once.
const MAX_AT_ONCE: usize = 1024;

/// How long one request may take, all told: a client that trickles its
/// request (slowloris) holds a slot this long at most.
const REQUEST_DEADLINE: Duration = Duration::from_secs(2);

/// Opens `addr` and answers scrapes for the life of the process, on a
/// thread of its own: a small tokio runtime, one task per request, so
/// that slow or idle clients cost a few hundred bytes each and a health
/// check still gets through. Returns the address (for `--metrics
/// 127.0.0.1:0`).
pub(crate) fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> Result<SocketAddr> {
    let fail = |source| Error::MetricsBind { addr, source };
    let listener = std::net::TcpListener::bind(addr).map_err(fail)?;
    let local = listener.local_addr().map_err(fail)?;
    listener.set_nonblocking(true).map_err(fail)?;
    let setup = |source| Error::Io { doing: crate::error::Doing::Setup, source };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(setup)?;
    std::thread::Builder::new()
        .name("eco-metrics".into())
        .spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
                let busy = Arc::new(AtomicUsize::new(0));
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        // Out of descriptors, say: the echo comes first.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    };
                    if busy.fetch_add(1, Ordering::SeqCst) >= MAX_AT_ONCE {
                        busy.fetch_sub(1, Ordering::SeqCst);
                        continue;
                    }
                    let (metrics, busy) = (Arc::clone(&metrics), Arc::clone(&busy));
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(REQUEST_DEADLINE, answer(stream, &metrics)).await;
                        busy.fetch_sub(1, Ordering::SeqCst);
                    });
                }
            });
        })
        .map_err(setup)?;
    Ok(local)
}

/// Reads one request's head (up to 8 KiB) and answers it.
async fn answer(mut stream: tokio::net::TcpStream, metrics: &Metrics) -> io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() + n > 8192 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut words = std::str::from_utf8(line).unwrap_or("").split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    let (status, kind, body) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => {
            ("200 OK", "application/openmetrics-text; version=1.0.0; charset=utf-8", metrics.text())
        }
        ("GET" | "HEAD", "/healthz") if metrics.stopping.load(Ordering::Relaxed) => {
            ("503 Service Unavailable", "text/plain; charset=utf-8", "stopping\n".into())
        }
        ("GET" | "HEAD", "/healthz") => ("200 OK", "text/plain; charset=utf-8", "ok\n".into()),
        ("GET" | "HEAD", _) => {
            ("404 Not Found", "text/plain; charset=utf-8", "try /metrics or /healthz\n".into())
        }
        _ => ("405 Method Not Allowed", "text/plain; charset=utf-8", "GET only\n".into()),
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if method != "HEAD" {
        response += &body;
    }
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
