//! Command-line definitions (clap derive) for every `eco` subcommand.
//!
//! Only parsing lives here: each subcommand's options are turned into the
//! plain config structs of the module that does the work, so the library can
//! be driven without clap (the demo and the tests do so).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::i18n::Lang;
use crate::server::Mode;
use crate::usage::BadValue;

/// TCP echo toolkit: server, client and the classroom exercise, end to end.
#[derive(Debug, Parser)]
#[command(name = "eco", version, about, propagate_version = true)]
pub struct Cli {
    /// Language of the output: `en` or `pt` (pt-BR). Default: ECO_LANG, then
    /// LC_ALL / LC_MESSAGES / LANG (a value starting with `pt` picks pt).
    #[arg(long, global = true, value_enum)]
    pub lang: Option<LangArg>,

    /// More log lines on stderr: -v one line per connection (peer,
    /// duration, bytes, reason), -vv each connection's start and each
    /// unanswered datagram too.
    #[arg(long, short, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Only errors: no transcript, no notes.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// `text`: the exercise's transcript on stdout, notes on stderr.
    /// `json`: one JSON object per event on stderr instead (for log
    /// collectors), nothing on stdout.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Full-width lines even on a terminal (tables as tshark writes them).
    /// Without it, output on a terminal is fitted to its width.
    #[arg(long, global = true)]
    pub wide: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Wait on HOST:PORT and echo every byte back until the client closes (RFC 862).
    Server(ServerArgs),
    /// Connect, send a message, check that the echo is identical.
    Client(ClientArgs),
    /// Capture an echo exchange on loopback and show its packets, like Wireshark.
    Trace(TraceArgs),
    /// Load an echo server and check every echo: rate, latency percentiles, errors.
    Bench(BenchArgs),
    /// The classroom exercise end to end: a server and a client, both transcripts.
    Demo(DemoArgs),
    /// TCP's classic surprises, live and explained (no NAME: the list).
    Lab(LabArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print eco's manual page (roff), or write one per command to a directory.
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: e.g. `eco completions bash > ~/.local/share/bash-completion/completions/eco`.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write eco.1 and eco-COMMAND.1 into DIR instead of printing eco.1.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `--lang` values. A separate enum so that `i18n` does not depend on clap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LangArg {
    En,
    Pt,
}

impl From<LangArg> for Lang {
    fn from(arg: LangArg) -> Self {
        match arg {
            LangArg::En => Lang::En,
            LangArg::Pt => Lang::Pt,
        }
    }
}

/// `--log-format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// `--mode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Blocking, one client at a time: the exercise's `servidor.py`.
    Single,
    /// One OS thread per connection.
    Threads,
    /// tokio, one task per connection.
    Async,
    /// io_uring, one ring per CPU: one system call for many messages
    /// (Linux 6.1 or later; elsewhere it serves as `async`, and says so).
    Uring,
}

impl From<ModeArg> for Mode {
    fn from(arg: ModeArg) -> Self {
        match arg {
            ModeArg::Single => Mode::Single,
            ModeArg::Threads => Mode::Threads,
            ModeArg::Async => Mode::Async,
            ModeArg::Uring => Mode::Uring,
        }
    }
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Address to listen on (an IP address or a name such as `localhost`).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// TCP port to listen on; 0 picks a free port (printed on stderr).
    #[arg(long, short, default_value_t = 5050)]
    pub port: u16,

    /// How connections are served [default: uring where the kernel allows
    /// it and the options are the plain echo's, else async].
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,

    /// Serve exactly one connection, then exit 0 (how the exercise's run ends).
    #[arg(long)]
    pub once: bool,

    /// The connection is standard input and output, accepted by inetd or
    /// by systemd (`Accept=yes`, see contrib/): echo it, then exit.
    #[arg(long, conflicts_with_all = ["once", "udp", "host", "port", "proxy_protocol", "tls", "metrics",
          "delay", "jitter", "throttle", "close_after", "reset_after", "stall_after", "accept_delay"])]
    pub inetd: bool,

    /// Bytes read per `recv` call [default: 1024 in single mode, as the
    /// exercise's `recv(1024)`; 32768 otherwise]. Longer messages are still
    /// echoed whole.
    #[arg(long, value_name = "BYTES", value_parser = parse_buffer)]
    pub buffer: Option<usize>,

    /// Leave Nagle's algorithm on (TCP_NODELAY off). By default it is off,
    /// so small echoes do not wait for the 40 ms delayed-ACK stall.
    #[arg(long)]
    pub nagle: bool,

    /// Seconds that open connections get to finish after Ctrl-C, SIGTERM
    /// or SIGHUP; then the rest are reset and eco exits 0.
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = parse_seconds)]
    pub grace: Duration,

    /// Serve TCP (the default; with --udp: both, on the same port).
    #[arg(long)]
    pub tcp: bool,

    /// Serve UDP: each datagram answered with one identical datagram, up to
    /// 65507 bytes, behind the reflection guard (see --udp-rate*).
    #[arg(long)]
    pub udp: bool,

    /// With an IPv6 --host such as `::`: refuse IPv4 clients (by default
    /// `::` serves IPv4 and IPv6).
    #[arg(long)]
    pub v6only: bool,

    /// At most N connections at once; further clients wait in the kernel's
    /// backlog until one closes (their handshake completes, their data
    /// waits). 0: no limit.
    #[arg(help_heading = "Limits", long, value_name = "N", default_value_t = 0, value_parser = parse_count)]
    pub max_conns: usize,

    /// At most N connections at once from one IP address; more are refused
    /// at once (RST) and logged. 0: no limit.
    #[arg(help_heading = "Limits", long, value_name = "N", default_value_t = 0, value_parser = parse_count)]
    pub max_conns_per_ip: usize,

    /// Close a connection after SECONDS without being able to read or write
    /// (a silent client, or one that does not read its echo). 0: never.
    #[arg(help_heading = "Limits", long, value_name = "SECONDS", default_value = "300", value_parser = parse_seconds)]
    pub idle_timeout: Duration,

    /// TCP keepalive: probe a silent client after SECONDS (whole seconds,
    /// up to 32767), so that one that vanished is noticed and closed. 0: off.
    #[arg(help_heading = "Limits", long, value_name = "SECONDS", default_value = "60", value_parser = parse_keepalive)]
    pub keepalive: Duration,

    /// Close a connection after echoing BYTES. 0: no limit.
    #[arg(help_heading = "Limits", long, value_name = "BYTES", default_value_t = 0)]
    pub max_bytes: u64,

    /// Only clients in these networks may connect (CIDR or address;
    /// repeat or separate with commas). Default: everyone.
    #[arg(help_heading = "Limits", long, value_name = "CIDR", value_delimiter = ',', value_parser = crate::server::limits::parse_net)]
    pub allow: Vec<ipnet::IpNet>,

    /// Clients in these networks are refused (checked before --allow).
    #[arg(help_heading = "Limits", long, value_name = "CIDR", value_delimiter = ',', value_parser = crate::server::limits::parse_net)]
    pub deny: Vec<ipnet::IpNet>,

    /// UDP: datagrams per second answered for one source address.
    #[arg(help_heading = "Limits", long, value_name = "N", default_value_t = 100, value_parser = positive_u32)]
    pub udp_rate_per_ip: u32,

    /// UDP: datagrams per second answered in all.
    #[arg(help_heading = "Limits", long, value_name = "N", default_value_t = 20_000, value_parser = positive_u32)]
    pub udp_rate: u32,

    /// Read a PROXY protocol header (HAProxy v1 or v2) before echoing:
    /// the client it names is the one logged and checked against --allow,
    /// --deny and the per-IP limits; the header is not echoed. `required`
    /// (the default of the bare flag) refuses a connection without a valid
    /// one; `optional` also serves clients that connect directly.
    #[arg(long, value_enum, value_name = "WHEN", num_args = 0..=1, default_missing_value = "required",
          help_heading = "Behind a balancer")]
    pub proxy_protocol: Option<crate::server::ProxyMode>,

    /// Believe PROXY headers only from these balancers (CIDR or address;
    /// repeat or separate with commas). Without it any peer's header is
    /// believed: a client that can reach the port directly could name any
    /// address in one.
    #[arg(long, value_name = "CIDR", value_delimiter = ',', value_parser = crate::server::limits::parse_net,
          requires = "proxy_protocol", help_heading = "Behind a balancer")]
    pub proxy_from: Vec<ipnet::IpNet>,

    /// Serve TLS: with --cert and --key, or a self-signed certificate for
    /// localhost made at start (its SHA-256 fingerprint is printed).
    #[arg(long, help_heading = "TLS")]
    pub tls: bool,

    /// The server's certificate chain (PEM).
    #[arg(long, value_name = "FILE", requires_all = ["tls", "key"], help_heading = "TLS")]
    pub cert: Option<PathBuf>,

    /// The server's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires_all = ["tls", "cert"], help_heading = "TLS")]
    pub key: Option<PathBuf>,

    /// Mutual TLS: ask every client for a certificate signed by a CA in
    /// FILE (PEM), and refuse the handshake without one.
    #[arg(long, value_name = "FILE", requires = "tls", help_heading = "TLS")]
    pub client_ca: Option<PathBuf>,

    /// ALPN protocols to offer, in order of preference (repeat or separate
    /// with commas).
    #[arg(long, value_name = "PROTOCOL", value_delimiter = ',', requires = "tls", help_heading = "TLS")]
    pub alpn: Vec<String>,

    /// Wait MS milliseconds before echoing each read's bytes.
    #[arg(long, value_name = "MS", value_parser = parse_millis, help_heading = "Misbehaviour (to test clients)")]
    pub delay: Option<Duration>,

    /// With --delay: vary each wait by up to ± MS milliseconds, at random.
    #[arg(long, value_name = "MS", value_parser = parse_millis, requires = "delay",
          help_heading = "Misbehaviour (to test clients)")]
    pub jitter: Option<Duration>,

    /// Echo at most BYTES per second per connection (K, M, G suffixes).
    #[arg(long, value_name = "BYTES", value_parser = parse_rate_bytes,
          help_heading = "Misbehaviour (to test clients)")]
    pub throttle: Option<u64>,

    /// Close each connection (FIN) after echoing BYTES.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes, help_heading = "Misbehaviour (to test clients)")]
    pub close_after: Option<u64>,

    /// Reset each connection (RST) after echoing BYTES.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes, help_heading = "Misbehaviour (to test clients)")]
    pub reset_after: Option<u64>,

    /// Stop reading each connection after echoing BYTES: the client's
    /// writes then block, as with a hung server (until --idle-timeout).
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes, help_heading = "Misbehaviour (to test clients)")]
    pub stall_after: Option<u64>,

    /// UDP: leave PERCENT of datagrams unanswered, at random (0 to 100).
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent,
          help_heading = "Misbehaviour (to test clients)")]
    pub drop_percent: Option<f64>,

    /// Take one new client per MS milliseconds: each is served that long
    /// after its handshake, the next ones wait in the kernel's backlog
    /// meanwhile (connected, unanswered).
    #[arg(long, value_name = "MS", value_parser = parse_millis, help_heading = "Misbehaviour (to test clients)")]
    pub accept_delay: Option<Duration>,

    /// Serve Prometheus metrics on http://ADDR/metrics, and /healthz
    /// (e.g. 127.0.0.1:9090; port 0 picks a free one, printed on stderr).
    #[arg(long, value_name = "ADDR", value_parser = parse_host_port, help_heading = "Operations")]
    pub metrics: Option<std::net::SocketAddr>,
}

#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Server address (an IP address or a name such as `localhost`).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// Server TCP port.
    #[arg(long, short, default_value_t = 5050, value_parser = port)]
    pub port: u16,

    /// The message to send.
    #[arg(long, short, default_value = crate::client::EXERCISE_MESSAGE)]
    pub message: String,

    /// Send the message N times on one connection and print each round trip, like ping.
    #[arg(long, short, value_name = "N", conflicts_with = "stdin",
          value_parser = at_least_one)]
    pub count: Option<u64>,

    /// Seconds to wait between messages with --count.
    #[arg(long, value_name = "SECONDS", default_value = "0", value_parser = parse_seconds,
          requires = "count")]
    pub interval: Duration,

    /// Pipe mode: stream standard input to the server and the echo to standard
    /// output (binary-safe); half-close after stdin's end, exit after the server's.
    #[arg(long, conflicts_with_all = ["message", "tls"])]
    pub stdin: bool,

    /// Use UDP: the message goes as one datagram (up to 65507 bytes) and
    /// the echo must come back as one. With --count, a missing answer is
    /// counted as lost.
    #[arg(long, conflicts_with_all = ["stdin", "tls"])]
    pub udp: bool,

    /// Seconds to wait for the connection to be established. 0: no limit
    /// of eco's (the kernel gives up after about two minutes).
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = parse_seconds)]
    pub connect_timeout: Duration,

    /// Seconds the whole echo may take, however it trickles in (--stdin:
    /// how long the rest of the echo may take once the input has ended).
    /// 0: no limit.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_seconds)]
    pub timeout: Duration,

    /// Send a PROXY protocol header first, naming this client (to test a
    /// balancer, or an `eco server --proxy-protocol`).
    #[arg(long, value_enum, value_name = "VERSION", conflicts_with = "udp")]
    pub proxy_protocol: Option<crate::proxy::Version>,

    #[command(flatten)]
    pub tls: TlsClientArgs,
}

/// The TLS options of `eco client` and `eco bench`.
#[derive(Debug, Args)]
pub struct TlsClientArgs {
    /// Speak TLS (after the PROXY header, if any). Prints what was
    /// negotiated on stderr.
    #[arg(id = "tls", long = "tls", help_heading = "TLS")]
    pub on: bool,

    /// Accept any server certificate (a self-signed test server).
    #[arg(long, requires = "tls", conflicts_with = "ca", help_heading = "TLS")]
    pub insecure: bool,

    /// Trust the CA certificates in FILE (PEM) instead of the system's.
    #[arg(long, value_name = "FILE", requires = "tls", help_heading = "TLS")]
    pub ca: Option<PathBuf>,

    /// Our certificate (PEM), for a server that asks for one (mutual TLS).
    #[arg(long, value_name = "FILE", requires_all = ["tls", "key"], help_heading = "TLS")]
    pub cert: Option<PathBuf>,

    /// Our private key (PEM), with --cert.
    #[arg(long, value_name = "FILE", requires_all = ["tls", "cert"], help_heading = "TLS")]
    pub key: Option<PathBuf>,

    /// The server name to send (SNI) and to check the certificate against
    /// [default: --host].
    #[arg(long, value_name = "NAME", requires = "tls", help_heading = "TLS")]
    pub sni: Option<String>,

    /// Accept exactly the server certificate of this SHA-256 fingerprint
    /// (the one a self-signed `eco server --tls` prints), whoever signed it.
    #[arg(long, value_name = "SHA256", requires = "tls", conflicts_with_all = ["ca", "insecure"], help_heading = "TLS")]
    pub pin: Option<String>,

    /// ALPN protocols to offer (repeat or separate with commas).
    #[arg(long, value_name = "PROTOCOL", value_delimiter = ',', requires = "tls", help_heading = "TLS")]
    pub alpn: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TraceArgs {
    /// Loopback address for the exchange: 127.0.0.1 (or any 127.x.y.z) or ::1.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// Server port; 0 picks a free one. With --attach: the port to watch.
    /// With --read: only frames to or from this port.
    #[arg(long, short, default_value_t = 0)]
    pub port: u16,

    /// The message the client sends.
    #[arg(long, short, default_value = crate::client::EXERCISE_MESSAGE)]
    pub message: String,

    /// How the server serves the exchange.
    #[arg(long, value_enum, default_value_t = ModeArg::Single)]
    pub mode: ModeArg,

    /// The server acknowledges the client's FIN in a segment of its own
    /// (TCP_QUICKACK), as in the exercise's 11-frame capture. Linux
    /// otherwise lets that ACK ride on the server's FIN (10 frames).
    #[arg(long)]
    pub ack_fin_apart: bool,

    /// Echo over TLS (a self-signed server, a client that accepts it): the
    /// TLS records are named as Wireshark names them (Client Hello, ...),
    /// and TLS's handshake is a phase of its own.
    #[arg(long, conflicts_with_all = ["read", "run", "attach"])]
    pub tls: bool,

    /// Also write the captured packets to FILE (pcap, opens in Wireshark).
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,

    /// Show the table for a pcap or pcapng FILE taken elsewhere (`-`:
    /// standard input), instead of running an exchange.
    #[arg(long, value_name = "FILE",
          conflicts_with_all = ["attach", "pcap", "message", "ack_fin_apart", "run", "mode", "host"])]
    pub read: Option<PathBuf>,

    /// Run COMMAND (one command line, quoted as for a shell) and trace it:
    /// its packets on loopback and its socket calls. Repeat for each
    /// program, server first: each starts once the one before listens.
    /// Without root it runs in a network namespace of its own.
    #[arg(long, value_name = "COMMAND",
          conflicts_with_all = ["attach", "message", "ack_fin_apart", "mode", "json", "port", "host"])]
    pub run: Vec<String>,

    /// With --read: only this TCP connection (its index, from 0, as
    /// Wireshark's `tcp.stream`).
    #[arg(long, value_name = "N", requires = "read")]
    pub stream: Option<u32>,

    /// JSON Lines instead of the table: one object per frame (and, for an
    /// exchange, per call of the client), then one per TCP connection with
    /// its phases.
    #[arg(long, conflicts_with = "attach")]
    pub json: bool,

    /// Watch connections to a server already running on --port (any server,
    /// any client), and show each one when it closes.
    #[arg(long, requires = "port", conflicts_with_all = ["pcap", "message", "ack_fin_apart"])]
    pub attach: bool,

    /// With --attach: stop after N connections.
    #[arg(long, short, value_name = "N", requires = "attach",
          value_parser = at_least_one)]
    pub count: Option<u64>,

    #[command(flatten)]
    pub view: ViewArgs,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// Server port.
    #[arg(long, short, default_value_t = 5050, value_parser = port)]
    pub port: u16,

    /// Connections at once.
    #[arg(long = "connections", short = 'c', default_value_t = 50,
          value_parser = connections)]
    pub connections: u64,

    /// Message size in bytes (at least 16: sequence number, connection id,
    /// checksum); with --stream, the size of each write [default: 64;
    /// --stream: 4000].
    #[arg(long, short)]
    pub size: Option<usize>,

    /// Seconds to measure.
    #[arg(long, short, value_name = "SECONDS", default_value = "5", value_parser = parse_seconds)]
    pub duration: Duration,

    /// Seconds of load before measuring (connections open, caches warm).
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = parse_seconds)]
    pub warmup: Duration,

    /// Seconds past the end that an unfinished echo may still take; then
    /// it counts as a timeout and the run ends anyway.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_seconds)]
    pub timeout: Duration,

    /// Open loop: this many messages per second in all, at fixed times;
    /// latency counts from each message's due time (no coordinated omission).
    #[arg(long, value_name = "MSGS_PER_S", conflicts_with_all = ["bulk", "connect_rate", "udp"],
          value_parser = parse_rate)]
    pub rate: Option<f64>,

    /// Stream BYTES through each connection (writer and reader at once,
    /// every byte checked) and report GiB/s. Suffixes K, M, G (binary).
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes, conflicts_with_all = ["connect_rate", "udp", "tls"])]
    pub bulk: Option<u64>,

    /// Rounds of BYTES on each connection, written in --size writes
    /// without closing, each round's echo read back and checked before the
    /// next (what `cmd | nc` or a file upload does): rounds/s and round
    /// latency. A server that waits for more bytes, or a FIN, before
    /// sending what it has stalls here. Suffixes K, M, G (binary).
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes,
          conflicts_with_all = ["rate", "bulk", "connect_rate", "udp", "tls"])]
    pub stream: Option<u64>,

    /// Connect, send one message, close; again and again: connections/s
    /// and handshake latency.
    #[arg(long, conflicts_with = "udp")]
    pub connect_rate: bool,

    /// Ping-pong with UDP datagrams (a missing echo counts as lost).
    #[arg(long, conflicts_with = "tls")]
    pub udp: bool,

    /// Start an `eco server` of this mode on a free port and bench it
    /// (also measures the server's CPU time per message).
    #[arg(long, value_enum, conflicts_with_all = ["port", "compare", "tls"])]
    pub spawn: Option<ModeArg>,

    /// Also measure the CPU time of this server process (any server on
    /// this machine), from /proc/PID/stat over the measured window.
    #[arg(long, value_name = "PID", conflicts_with_all = ["spawn", "compare"])]
    pub server_pid: Option<u32>,

    /// Bench every server mode, one after another, and compare them.
    #[arg(long, conflicts_with_all = ["port", "tls"])]
    pub compare: bool,

    /// Print the report as JSON on stdout instead of text.
    #[arg(long)]
    pub json: bool,

    /// Also write the report as JSON to FILE (`-`: stdout).
    #[arg(long, value_name = "FILE")]
    pub export_json: Option<PathBuf>,

    /// Also write the report as a Markdown table to FILE (`-`: stdout).
    #[arg(long, value_name = "FILE")]
    pub export_markdown: Option<PathBuf>,
    /// How the load generator runs its connections: `uring` (io_uring: one
    /// system call for many messages; the closed-loop ping-pong over plain
    /// TCP only), `tokio`, or `auto`: uring where it can.
    #[arg(long, value_enum, default_value = "auto")]
    pub engine: crate::bench::Engine,
    /// Start every connection with a PROXY protocol header naming it (to
    /// load a balancer, or an `eco server --proxy-protocol`).
    #[arg(long, value_enum, value_name = "VERSION", conflicts_with = "udp")]
    pub proxy_protocol: Option<crate::proxy::Version>,
    #[command(flatten)]
    pub tls: TlsClientArgs,
}

/// A TCP or UDP port, 1 to 65535.
fn port(text: &str) -> Result<u16, String> {
    crate::usage::number(text, 1, 65_535).map(|n| n as u16)
}

/// `--count`: at least one.
fn at_least_one(text: &str) -> Result<u64, String> {
    crate::usage::number(text, 1, u64::MAX)
}

/// `--connections`: 1 to 100 000.
fn connections(text: &str) -> Result<u64, String> {
    crate::usage::number(text, 1, 100_000)
}

/// Rates of the UDP guard: at least one a second.
fn positive_u32(text: &str) -> Result<u32, String> {
    crate::usage::number(text, 1, u64::from(u32::MAX)).map(|n| n as u32)
}

/// `--rate`: a positive number of messages per second, at most 10 million.
fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate > 0.0 && rate <= 1e7 => Ok(rate),
        _ => Err(BadValue::Rate(text).says()),
    }
}

/// `--delay`, `--jitter`, `--accept-delay`: milliseconds, up to an hour.
fn parse_millis(text: &str) -> Result<Duration, String> {
    match text.trim().parse::<f64>() {
        Ok(ms) if (0.0..=3_600_000.0).contains(&ms) => Ok(Duration::from_secs_f64(ms / 1000.0)),
        _ => Err(BadValue::Millis(text).says()),
    }
}

/// `--metrics`: HOST:PORT, the host an address or a name (`localhost:9090`).
fn parse_host_port(text: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    text.to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| BadValue::HostPort(text).says())
}

/// `--drop-percent`: 0 to 100.
fn parse_percent(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(BadValue::Percent(text).says()),
    }
}

/// `--throttle`: a positive byte count per second.
fn parse_rate_bytes(text: &str) -> Result<u64, String> {
    match parse_bytes(text)? {
        0 => Err(BadValue::Bytes(text).says()),
        n => Ok(n),
    }
}

/// A byte count with an optional binary suffix: `1G`, `512K`, `1048576`.
fn parse_bytes(text: &str) -> Result<u64, String> {
    let (digits, shift) = match text.trim().to_ascii_uppercase().strip_suffix(['K', 'M', 'G']) {
        Some(digits) => {
            let shift = match text.trim().chars().last().map(|c| c.to_ascii_uppercase()) {
                Some('K') => 10,
                Some('M') => 20,
                _ => 30,
            };
            (digits.to_string(), shift)
        }
        None => (text.trim().to_string(), 0),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .filter(|&n| n > 0)
        .ok_or_else(|| BadValue::Bytes(text).says())
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The message the client sends.
    #[arg(long, short, default_value = crate::client::EXERCISE_MESSAGE)]
    pub message: String,

    #[command(flatten)]
    pub view: ViewArgs,
}

#[derive(Debug, Args)]
pub struct LabArgs {
    /// The lab to run (`eco lab` lists them).
    #[arg(value_name = "NAME")]
    pub name: Option<String>,

    /// A "try this" variation of the lab (each lab lists its own).
    #[arg(long = "try", value_name = "VARIATION", requires = "name")]
    pub variant: Option<String>,

    /// Classroom mode: one frame (and its calls) per Enter, with a question
    /// about what comes next before it is shown.
    #[arg(long, requires = "name", conflicts_with_all = ["worksheet", "svg", "html", "mermaid"])]
    pub step: bool,

    /// Questions on this run's capture (ISNs, relative and raw sequence
    /// numbers, RTTs, windows), after its table, for students.
    #[arg(long, requires = "name")]
    pub worksheet: bool,

    /// With --worksheet: the answers too (the teacher's key).
    #[arg(long, requires = "worksheet")]
    pub answers: bool,

    /// For a projector: the table at most 80 columns wide, its endpoints
    /// by name (client → server), whatever the terminal.
    #[arg(long, requires = "name")]
    pub compact: bool,

    /// Also write the captured packets to FILE (pcap, for Wireshark).
    #[arg(long, value_name = "FILE", requires = "name")]
    pub pcap: Option<PathBuf>,

    #[command(flatten)]
    pub view: ViewArgs,
}

/// The pictures of a trace and where they go.
#[derive(Debug, Args)]
pub struct ViewArgs {
    /// Write the ladder diagram as SVG to FILE (one file per connection:
    /// FILE, then FILE-2.svg, ...).
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,

    /// Write one self-contained HTML page to FILE: diagram, table, phases,
    /// calls, payload bytes, time/sequence graph. Opens offline.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Write the diagram as a Mermaid sequenceDiagram to FILE (`-`: stdout).
    #[arg(long, value_name = "FILE")]
    pub mermaid: Option<PathBuf>,

    /// Show each segment's payload bytes, with their UTF-8 characters.
    #[arg(long)]
    pub bytes: bool,

    /// Show the ladder diagram in the terminal (shown by default, except
    /// with --read and --attach).
    #[arg(long, overrides_with = "no_diagram")]
    pub diagram: bool,

    /// Do not show the ladder diagram in the terminal.
    #[arg(long)]
    pub no_diagram: bool,
}

/// Seconds as a decimal number (`0.5`, `2`), at most one day.
fn parse_seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text.parse().map_err(|_| BadValue::Seconds(text).says())?;
    if !(0.0..=86_400.0).contains(&secs) {
        return Err(BadValue::SecondsRange(text).says());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `--max-conns`, `--max-conns-per-ip`: a count up to ten million (far
/// past any file descriptor limit), 0 meaning no limit.
fn parse_count(text: &str) -> Result<usize, String> {
    const MAX: usize = 10_000_000;
    match text.parse::<usize>() {
        Ok(n) if n <= MAX => Ok(n),
        _ => Err(BadValue::Count { text, max: MAX }.says()),
    }
}

/// `--keepalive`: 0 (off) or whole seconds from 1 to 32767, what Linux
/// takes for TCP_KEEPIDLE.
fn parse_keepalive(text: &str) -> Result<Duration, String> {
    const MAX: u64 = 32_767;
    match text.parse::<u64>() {
        Ok(secs) if secs <= MAX => Ok(Duration::from_secs(secs)),
        _ => Err(BadValue::Keepalive { text, max: MAX }.says()),
    }
}

/// The largest `--buffer` accepted: 16 MiB is far past any socket buffer.
const MAX_BUFFER: usize = 16 << 20;

fn parse_buffer(text: &str) -> Result<usize, String> {
    let bytes: usize = text.parse().map_err(|_| BadValue::Bytes(text).says())?;
    if !(1..=MAX_BUFFER).contains(&bytes) {
        return Err(BadValue::BufferRange { bytes, max: MAX_BUFFER }.says());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn seconds_accept_fractions_and_reject_nonsense() {
        assert_eq!(parse_seconds("0.5"), Ok(Duration::from_millis(500)));
        assert!(parse_seconds("-1").unwrap_err().contains("-1"));
        assert!(parse_seconds("abc").unwrap_err().contains("'abc'"));
    }

    #[test]
    fn rates_are_positive_and_bounded() {
        assert_eq!(parse_rate("2500"), Ok(2500.0));
        assert!(parse_rate("0").unwrap_err().contains("'0'"));
        assert!(parse_rate("-5").is_err());
        assert!(parse_rate("inf").is_err());
    }

    #[test]
    fn byte_counts_with_suffixes() {
        assert_eq!(parse_bytes("1G"), Ok(1 << 30));
        assert_eq!(parse_bytes("512k"), Ok(512 << 10));
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert!(parse_bytes("0").is_err());
        assert!(parse_bytes("lots").unwrap_err().contains("'lots'"));
    }

    #[test]
    fn keepalive_is_whole_seconds_within_what_linux_takes() {
        assert_eq!(parse_keepalive("60"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_keepalive("0"), Ok(Duration::ZERO));
        assert!(parse_keepalive("0.5").unwrap_err().contains("whole seconds from 1 to 32767"));
        assert!(parse_keepalive("40000").unwrap_err().contains("'40000'"));
    }

    #[test]
    fn connection_counts_are_bounded() {
        assert_eq!(parse_count("1000"), Ok(1000));
        assert!(parse_count("3000000000000000000").unwrap_err().contains("0 (no limit) to 10000000"));
        assert!(parse_count("-1").is_err());
    }

    #[test]
    fn buffer_bounds() {
        assert_eq!(parse_buffer("1024"), Ok(1024));
        assert!(parse_buffer("0").unwrap_err().contains("use 1 to"));
        assert!(parse_buffer("x").is_err());
    }
}
