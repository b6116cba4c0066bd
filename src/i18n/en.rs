//! English text for every [`Msg`].

use std::io;

use super::{FrameList, Millis, Msg, Us, lost_percent};
use crate::error::{Doing, Error};
use crate::server::Refusal;
use crate::trace::exchange::AppEvent;
use crate::trace::flow::Phase;

pub(super) fn text(msg: &Msg<'_>) -> String {
    match msg {
        Msg::Waiting => "Waiting for a client connection ...".into(),
        Msg::Listening { addr, mode } => format!("listening on {addr} (mode {mode})"),
        Msg::Connected { peer } => format!("Connected to {peer}"),
        Msg::Closed => "Connection closed :)".into(),
        Msg::ConnectionFailed { peer, error } => {
            format!("connection with {peer} failed: {}", io_reason(error))
        }
        Msg::AcceptFailed { error, retry_in } => format!(
            "accepting a connection failed: {}; trying again in {} s",
            io_reason(error),
            retry_in.as_secs_f64()
        ),
        Msg::ShuttingDown { open, grace } => format!(
            "stopping: no new connections; {open} open connection(s) get {} s to finish",
            grace.as_secs_f64()
        ),
        Msg::Stopped { finished, cut } => {
            format!("stopped: {finished} connection(s) finished within the grace, {cut} cut off at its end")
        }
        Msg::MaxConnsReached { max } => format!(
            "--max-conns reached ({max} open): new clients wait in the kernel's backlog until one closes"
        ),
        Msg::Refused { peer, refusal } => match refusal {
            Refusal::NotAllowed => format!("refused {peer}: not allowed by --allow / --deny"),
            Refusal::PerIpLimit => format!("refused {peer}: --max-conns-per-ip reached for {}", peer.ip()),
        },
        Msg::ConnectionEnded { peer, reason } => match *reason {
            "idle_timeout" => format!("closed {peer}: idle for longer than --idle-timeout"),
            "limit" => format!("closed {peer}: --max-bytes reached"),
            "shutdown" => format!("closed {peer}: still open when the shutdown grace was over"),
            other => format!("closed {peer}: {other}"),
        },
        Msg::UdpDropped { count, details } => format!(
            "UDP: {count} datagram(s) not answered in the last second by the reflection guard ({details})"
        ),
        Msg::RoundTripLost { peer, seq, timeout } => {
            format!("no answer from {peer}: seq={seq} (waited {} s)", timeout.as_secs_f64())
        }
        Msg::Echoed { message } => format!("Echoed message: {message}"),
        Msg::RoundTripTime { bytes, peer, seq, time } => {
            format!("{bytes} bytes from {peer}: seq={seq} time={} ms", Millis(*time))
        }
        Msg::RoundTripSummary { peer, sent, received, min, avg, max } => format!(
            "--- {peer} echo statistics ---\n\
             {sent} sent, {received} echoed, {}% lost, min/avg/max = {}/{}/{} ms",
            lost_percent(*sent, *received),
            Millis(*min),
            Millis(*avg),
            Millis(*max)
        ),
        Msg::DemoServerTitle { addr } => {
            format!("── server (eco server --mode single --once, on {addr}) ──")
        }
        Msg::DemoClientTitle { addr } => format!("── client (eco client, to {addr}) ──"),
        Msg::DemoWhatHappened => "── what happened ──".into(),
        Msg::DemoNetworkLevel => "Network level, answered by the kernel: connect() sent a SYN, \
             the server's kernel answered SYN-ACK and the client's ACK completed the three-way \
             handshake before accept() returned; every data segment was acknowledged (ACK)."
            .into(),
        Msg::DemoApplicationLevel { bytes } => format!(
            "Application level, answered by eco: the client sent {bytes} bytes with send(); \
             the server's recv() got them and its send() wrote the same bytes back; the client \
             read them and printed the echo."
        ),
        Msg::DemoBytesVsChars { chars, bytes } => format!(
            "TCP carries bytes, not characters: the message has {chars} characters and {bytes} \
             bytes in UTF-8 (letters such as á, é, ú take two bytes each)."
        ),
        Msg::DemoCloseLevel => "Close: the client called close() first and sent FIN; the \
             server's recv() returned 0 bytes, so it closed its side too (FIN); each FIN was \
             acknowledged by the other side."
            .into(),
        Msg::TraceTitle { addr, mode } => format!("── packets on lo: {addr}, server mode {mode} ──"),
        Msg::TraceColumns => "No.|Time|Source|Destination|Protocol|Length|Info".into(),
        Msg::TraceEvent { event } => match event {
            AppEvent::ConnectCalled => "client: connect() called: the kernel sends SYN".into(),
            AppEvent::ConnectReturned => "client: connect() returned: the handshake is complete".into(),
            AppEvent::Sent(n) => format!("client: send() handed {n} bytes to the kernel"),
            AppEvent::EchoReceived(n) => format!("client: recv() got the {n}-byte echo"),
            AppEvent::CloseCalled => "client: close() called: the kernel sends FIN".into(),
        },
        Msg::TracePhasesTitle => "── phases ──".into(),
        Msg::TracePhase { phase } => phase_text(phase),
        Msg::TraceTcpInfoTitle => "── TCP_INFO of the client socket, before close() ──".into(),
        Msg::TraceTcpInfo { info } => format!(
            "rtt {} ms (±{} ms), rto {} ms, cwnd {} segments, retransmissions {}, \
             segments sent {} / received {}, bytes acknowledged {} / received {}",
            Millis(info.rtt),
            Millis(info.rttvar),
            Millis(info.rto),
            info.snd_cwnd,
            info.total_retrans,
            info.segs_out,
            info.segs_in,
            info.bytes_acked,
            info.bytes_received
        ),
        Msg::TracePcapWritten { path, frames } => format!("wrote {frames} packets to {path}"),
        Msg::TraceConnectionTitle { a, b } => format!("── connection {a} ↔ {b} ──"),
        Msg::TraceAttached { port } => format!(
            "watching TCP port {port} on lo; each connection is shown when it closes (Ctrl-C to stop)"
        ),
        Msg::DemoNoCapture => "(To see the packets themselves, run `eco demo` as root, or where \
             user namespaces are allowed.)"
            .into(),
        Msg::BenchTitle { report: r } => format!(
            "eco bench: {}{}, {}, {} connection(s), {} B, {:.1} s measured after {:.1} s of warm-up",
            r.target,
            r.server_mode.as_ref().map(|m| format!(" (eco server --mode {m})")).unwrap_or_default(),
            r.kind,
            r.connections,
            r.size,
            r.duration_s,
            r.warmup_s
        ),
        Msg::BenchThroughput { report: r } => match r.kind.as_str() {
            "connect-rate" => format!("  Connections: {:.0}/s", r.rate),
            "bulk" => format!("  Throughput:  {:.3} GiB/s each way", r.mib_per_s / 1024.0),
            _ => format!("  Messages:    {:.0}/s ({:.2} MiB/s each way)", r.rate, r.mib_per_s),
        },
        Msg::BenchLatency { report: r } => {
            let l = &r.latency_us;
            let what = match r.kind.as_str() {
                "rate" => "Latency*:",
                "bulk" => "Transfer:",
                "connect-rate" => "Exchange:",
                _ => "Latency:",
            };
            let mut text = format!(
                "  {what:<12} p50 {} µs, p90 {} µs, p99 {} µs, p99.9 {} µs, max {} µs (mean {} ± n={})",
                Us(l.p50),
                Us(l.p90),
                Us(l.p99),
                Us(l.p99_9),
                Us(l.max),
                Us(l.mean),
                l.count
            );
            if r.kind == "rate" {
                text.push_str("\n  * from each message's due time (corrected for coordinated omission)");
            }
            text
        }
        Msg::BenchConnect { report: r } => format!(
            "  Connect:     p50 {} µs, p99 {} µs, max {} µs",
            Us(r.connect_us.p50),
            Us(r.connect_us.p99),
            Us(r.connect_us.max)
        ),
        Msg::BenchFairness { report: r } => format!(
            "  Fairness:    messages per connection min {} / median {} / max {}",
            r.fairness.min, r.fairness.median, r.fairness.max
        ),
        Msg::BenchServerCpu { seconds, per_message_us } => {
            format!("  Server CPU:  {seconds:.3} s ({per_message_us:.2} µs per message)")
        }
        Msg::BenchServerCpuBulk { seconds, per_gib_s } => {
            format!("  Server CPU:  {seconds:.3} s ({per_gib_s:.3} s per GiB)")
        }
        Msg::BenchErrors { report: r } => {
            let e = &r.errors;
            let mut text = if e.total() == 0 {
                "  Errors:      none, every echo checked".to_string()
            } else {
                format!(
                    "  Errors:      {} (truncated {}, corrupted {}, reordered {}, timeout {}, connect {}, I/O {})",
                    e.total(),
                    e.truncated,
                    e.corrupted,
                    e.reordered,
                    e.timeout,
                    e.connect,
                    e.io
                )
            };
            if e.lost > 0 {
                text.push_str(&format!("; {} datagram(s) lost", e.lost));
            }
            if r.short_reads > 0 {
                text.push_str(&format!(
                    "; {} echo(es) arrived in several reads (fine for TCP)",
                    r.short_reads
                ));
            }
            text
        }
        Msg::BenchCompareHeader => format!(
            "{:<8} {:>10} {:>10} {:>10} {:>10} {:>12}  {}",
            "mode", "msgs/s", "p50 µs", "p99 µs", "p99.9 µs", "CPU µs/msg", "relative"
        ),
        Msg::BenchCompareRow { report: r, relative } => format!(
            "{:<8} {:>10.0} {:>10} {:>10} {:>10} {:>12}  {}",
            r.server_mode.as_deref().unwrap_or("?"),
            r.rate,
            Us(r.latency_us.p50).to_string(),
            Us(r.latency_us.p99).to_string(),
            Us(r.latency_us.p99_9).to_string(),
            r.server_cpu_us_per_msg.map_or("–".into(), |c| format!("{c:.2}")),
            if *relative <= 1.0 { "fastest".to_string() } else { format!("{relative:.2}× slower") }
        ),
        Msg::Error(error) => error_text(error),
        Msg::Raw(text) => (*text).into(),
    }
}

fn phase_text(phase: &Phase) -> String {
    let side = |client: bool| if client { "client" } else { "server" };
    match phase {
        Phase::Handshake { frames } => format!(
            "{}: Three-way handshake (SYN, SYN-ACK, ACK): the kernels agree on initial sequence \
             numbers and options before any data; connect() returns after it.",
            FrameList(frames)
        ),
        Phase::Data { frames, client_bytes, server_bytes, retransmissions } => {
            let mut text = format!(
                "{}: Data and ACKs: the client sent {client_bytes} bytes, the server echoed \
                 {server_bytes} bytes, and each side's kernel acknowledged (ACK) what it received.",
                FrameList(frames)
            );
            if *retransmissions > 0 {
                text.push_str(&format!(
                    " {retransmissions} segment(s) were lost and sent again (retransmission)."
                ));
            }
            text
        }
        Phase::Close { frames, client_first } if frames.len() >= 4 => format!(
            "{}: Four-way close: the {first}'s FIN, the {other}'s ACK, the {other}'s FIN, the {first}'s ACK.",
            FrameList(frames),
            first = side(*client_first),
            other = side(!*client_first)
        ),
        Phase::Close { frames, client_first } => format!(
            "{}: Close in three segments: the {first}'s FIN; the {other}'s FIN carrying the ACK of it \
             (Linux delays that ACK, and the application closes at once); the {first}'s ACK. The \
             exercise's capture shows four segments: --ack-fin-apart sends that ACK alone.",
            FrameList(frames),
            first = side(*client_first),
            other = side(!*client_first)
        ),
        Phase::Reset { frames, by_client } => format!(
            "{}: Reset: the {} sent RST; the connection was aborted without the FIN exchange.",
            FrameList(frames),
            side(*by_client)
        ),
    }
}

fn error_text(error: &Error) -> String {
    match error {
        Error::BadHost { host } => format!(
            "cannot resolve host '{host}': give an IP address such as 127.0.0.1 or ::1, \
             or a name this machine knows (see /etc/hosts)"
        ),
        Error::AddrInUse { addr } => format!(
            "address {addr} is already in use: stop the program that listens on port {port} \
             (ss -ltnp 'sport = :{port}' shows it) or choose another port with --port",
            port = addr.port()
        ),
        Error::PortNeedsPrivilege { addr } => format!(
            "port {} is below 1024 and needs root or CAP_NET_BIND_SERVICE: choose a port \
             of 1024 or above, e.g. --port 5050",
            addr.port()
        ),
        Error::AddrNotAvailable { addr } => format!(
            "address {} is not on this machine: listen on 127.0.0.1, ::1, 0.0.0.0 or an \
             address of one of its interfaces",
            addr.ip()
        ),
        Error::ConnectRefused { addr } => format!(
            "connection to {addr} refused: nothing listens there. Is `eco server --host {} \
             --port {}` running?",
            addr.ip(),
            addr.port()
        ),
        Error::ConnectTimeout { addr, timeout } => format!(
            "no answer from {addr} within {} s: check the address and any firewall on the \
             way; --connect-timeout waits longer",
            timeout.as_secs_f64()
        ),
        Error::EchoTimeout { addr, timeout, got, expected } => format!(
            "the echo from {addr} did not come back within {} s ({got} of {expected} bytes): \
             is it an echo server? --timeout waits longer",
            timeout.as_secs_f64()
        ),
        Error::EchoShort { addr, got, expected } => format!(
            "{addr} closed the connection after echoing {got} of {expected} bytes: \
             is it an echo server?"
        ),
        Error::EchoMismatch { addr, offset, sent, got } => format!(
            "the echo from {addr} differs from what was sent at byte {offset}: \
             sent 0x{sent:02x}, got 0x{got:02x}"
        ),
        Error::TraceNotLoopback { addr } => format!(
            "eco trace captures on lo, so it needs a loopback address, not {}: use 127.0.0.1 or ::1",
            addr.ip()
        ),
        Error::Capture { source } => format!("cannot capture on lo: {}", io_reason(source)),
        Error::CaptureDenied { reason } => format!(
            "packets were not captured ({reason}): run `sudo eco trace`, or once \
             `sudo setcap cap_net_raw+ep \"$(command -v eco)\"`"
        ),
        Error::PcapRead { path, source } => {
            format!("cannot read {} as pcap or pcapng: {}", path.display(), io_reason(source))
        }
        Error::WriteFile { path, source } => {
            format!("cannot write {}: {}", path.display(), io_reason(source))
        }
        Error::DatagramTooLong { len } => format!(
            "a message of {len} bytes does not fit in one UDP datagram: send at most 65507 bytes with --udp, or use TCP"
        ),
        Error::BenchFailed { errors } => format!(
            "{} echo(es) went wrong (see Errors above): the server, or something between, is not a faithful echo",
            errors.total()
        ),
        Error::BenchSize { size } => format!(
            "a bench message of {size} bytes will not do: use --size from {} (sequence number, connection id, \
             checksum) to {} (for longer streams, --bulk)",
            crate::bench::message::MIN_SIZE,
            crate::bench::message::MAX_SIZE
        ),
        Error::Io { doing, source } => {
            let reason = io_reason(source);
            match doing {
                Doing::Bind(addr) => format!("cannot listen on {addr}: {reason}"),
                Doing::Connect(addr) => format!("cannot connect to {addr}: {reason}"),
                Doing::Talk(addr) => format!("connection with {addr} failed: {reason}"),
                Doing::Setup => reason,
            }
        }
    }
}

/// The usual socket errors in words; anything else as the OS says it.
fn io_reason(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionReset => "the peer reset the connection (RST)".into(),
        io::ErrorKind::BrokenPipe => "the peer closed the connection while eco was writing".into(),
        io::ErrorKind::ConnectionAborted => "the connection was aborted".into(),
        io::ErrorKind::TimedOut => "timed out".into(),
        io::ErrorKind::UnexpectedEof => "the peer closed the connection too early".into(),
        _ => error.to_string(),
    }
}
