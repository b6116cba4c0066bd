//! `eco bench`: short, bounded runs against every server mode in every
//! bench kind, against servers that get the echo wrong, and its outputs.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

/// `eco bench ARGS --json`, parsed.
fn bench_json(args: &[&str]) -> (Option<i32>, Value, String) {
    let mut all = vec!["bench", "--json", "--warmup", "0.1"];
    all.extend_from_slice(args);
    let out = eco_output(&all);
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)));
    (out.status.code(), json, text(&out.stderr))
}

fn errors_total(report: &Value) -> u64 {
    let errors = report["errors"].as_object().expect("errors object");
    errors.iter().filter(|(k, _)| *k != "lost").map(|(_, v)| v.as_u64().unwrap()).sum()
}

/// Every bench kind against every server mode, about half a second each.
#[test]
fn every_kind_against_every_mode() {
    // The three modes at once (each bench spawns its own server).
    let modes: Vec<_> = ["single", "threads", "async", "uring"]
        .into_iter()
        .filter(|&mode| mode != "uring" || crate::support::uring_works())
        .map(|mode| thread::spawn(move || every_kind(mode)))
        .collect();
    for mode in modes {
        mode.join().unwrap();
    }
}

fn every_kind(mode: &str) {
    // `single` serves one connection at a time: one connection.
    let conns = if mode == "single" { "1" } else { "4" };
    let kinds: [&[&str]; 6] =
        [&[], &["--rate", "2000"], &["--bulk", "8M"], &["--stream", "256K"], &["--connect-rate"], &["--udp"]];
    for kind in kinds {
        let mut args = vec!["--spawn", mode, "-c", conns, "-d", "0.3", "-s", "100"];
        args.extend_from_slice(kind);
        let (code, report, stderr) = bench_json(&args);
        assert_eq!(code, Some(0), "{mode} {kind:?}: {stderr}");
        assert_eq!(errors_total(&report), 0, "{mode} {kind:?}: {report}");
        assert!(report["messages"].as_u64().unwrap() > 0, "{mode} {kind:?}: {report}");
        assert_eq!(report["server_mode"], mode);
        assert!(report["server_cpu_s"].as_f64().is_some(), "{report}");
        // No progress bar when stderr is not a terminal.
        assert_eq!(stderr, "");
    }
}

#[test]
fn rate_mode_keeps_the_requested_rate() {
    let (code, report, _) = bench_json(&["--spawn", "async", "-c", "10", "-d", "1", "--rate", "3000"]);
    assert_eq!(code, Some(0));
    let rate = report["rate"].as_f64().unwrap();
    assert!((2700.0..=3300.0).contains(&rate), "{rate}");
    assert_eq!(report["target_rate"], 3000.0);
}

#[test]
fn the_json_report_has_every_documented_field() {
    let (code, report, _) = bench_json(&["--spawn", "threads", "-c", "3", "-d", "0.3", "-s", "512"]);
    assert_eq!(code, Some(0));
    for field in [
        "target",
        "server_mode",
        "kind",
        "connections",
        "size",
        "duration_s",
        "warmup_s",
        "target_rate",
        "messages",
        "rate",
        "mib_per_s",
        "latency_us",
        "connect_us",
        "fairness",
        "errors",
        "short_reads",
        "server_cpu_s",
        "server_cpu_us_per_msg",
        "server_cpu_s_per_gib",
    ] {
        assert!(report.get(field).is_some(), "missing {field}: {report}");
    }
    for p in ["p50", "p90", "p99", "p99_9", "max", "mean", "count"] {
        assert!(report["latency_us"][p].as_f64().is_some(), "latency {p}: {report}");
    }
    assert_eq!(report["connections"], 3);
    assert_eq!(report["size"], 512);
    assert_eq!(report["kind"], "ping-pong");
    let fairness = &report["fairness"];
    assert!(fairness["min"].as_u64() <= fairness["median"].as_u64());
    assert_eq!(report["connect_us"]["count"], 3);
    let (messages, rate, secs) = (
        report["messages"].as_f64().unwrap(),
        report["rate"].as_f64().unwrap(),
        report["duration_s"].as_f64().unwrap(),
    );
    assert!((messages / secs - rate).abs() < 1e-6 * rate.max(1.0));
}

/// How a deliberately wrong echo server gets it wrong.
#[derive(Clone, Copy)]
enum Fault {
    /// Flips one bit of the fourth message.
    FlipBit,
    /// Sends 40 bytes of the third message, then closes.
    Truncate,
    /// From the sixth message on, answers with the first one again.
    Replay,
}

/// A server whose connections each echo 64-byte messages, with `fault`.
fn bad_server(fault: Fault) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(mut stream) = stream else { continue };
            thread::spawn(move || {
                let mut first = None;
                for n in 0.. {
                    let mut message = vec![0u8; 64];
                    if stream.read_exact(&mut message).is_err() {
                        return;
                    }
                    let first = first.get_or_insert_with(|| message.clone()).clone();
                    let reply = match fault {
                        Fault::FlipBit if n == 3 => {
                            message[30] ^= 0x01;
                            message
                        }
                        Fault::Truncate if n == 2 => {
                            let _ = stream.write_all(&message[..40]);
                            let _ = stream.shutdown(Shutdown::Both);
                            return;
                        }
                        Fault::Replay if n >= 5 => first,
                        _ => message,
                    };
                    if stream.write_all(&reply).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

fn bench_bad(fault: Fault, engine: &str) -> (Option<i32>, Value, String) {
    let port = bad_server(fault);
    let args = ["--lang", "en", "--port", &port, "-c", "2", "-d", "0.5", "-s", "64", "--timeout", "1"];
    let (code, report, stderr) = bench_json(&[&args[..], &["--engine", engine]].concat());
    assert_eq!(report["engine"], engine, "{report}");
    (code, report, stderr)
}

/// The load generator's engines: io_uring where the kernel allows it (the
/// default for a ping-pong), and tokio.
fn engines() -> Vec<&'static str> {
    if uring_works() { vec!["uring", "tokio"] } else { vec!["tokio"] }
}

#[test]
fn a_server_that_flips_a_bit_is_caught_as_corrupted() {
    for engine in engines() {
        let (code, report, stderr) = bench_bad(Fault::FlipBit, engine);
        assert_eq!(code, Some(1));
        assert_eq!(report["errors"]["corrupted"], 2, "{engine}: {report}");
        assert_eq!(errors_total(&report), 2);
        assert!(stderr.starts_with("eco: 2 echo(es) went wrong"), "{stderr}");
    }
}

#[test]
fn a_server_that_truncates_is_caught() {
    for engine in engines() {
        let (code, report, _) = bench_bad(Fault::Truncate, engine);
        assert_eq!(code, Some(1));
        assert_eq!(report["errors"]["truncated"], 2, "{engine}: {report}");
        assert_eq!(errors_total(&report), 2);
    }
}

#[test]
fn a_server_that_replays_old_messages_is_caught_as_reordered() {
    for engine in engines() {
        let (code, report, _) = bench_bad(Fault::Replay, engine);
        assert_eq!(code, Some(1));
        assert_eq!(report["errors"]["reordered"], 2, "{engine}: {report}");
        assert_eq!(errors_total(&report), 2);
    }
}

/// `--engine uring` runs the closed-loop ping-pong only: asked for anything
/// else, eco says so (exit 2) rather than quietly running tokio; by default
/// a ping-pong runs on io_uring where it can, the rest on tokio.
#[test]
fn the_engine_is_said_and_uring_refuses_what_it_does_not_run() {
    let out = eco_output(&["bench", "--lang", "en", "--engine", "uring", "--rate", "100", "--port", "9"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("eco: --engine uring runs only the closed-loop ping-pong"),
        "{}",
        text(&out.stderr)
    );
    let (code, report, _) = bench_json(&["--spawn", "async", "-c", "2", "-d", "0.2", "--rate", "200"]);
    assert_eq!((code, report["engine"].as_str()), (Some(0), Some("tokio")), "{report}");
    let (code, report, _) = bench_json(&["--spawn", "async", "-c", "2", "-d", "0.2"]);
    let default = if uring_works() { "uring" } else { "tokio" };
    assert_eq!((code, report["engine"].as_str()), (Some(0), Some(default)), "{report}");
    let (code, report, _) = bench_json(&["--spawn", "async", "-c", "3", "-d", "0.2", "--engine", "tokio"]);
    assert_eq!((code, report["engine"].as_str()), (Some(0), Some("tokio")), "{report}");
    assert!(report["messages"].as_u64().unwrap() > 0, "{report}");
}

#[test]
fn a_server_that_never_answers_times_out_and_the_run_still_ends() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    for engine in engines() {
        let started = std::time::Instant::now();
        let args = ["--port", &port, "-c", "2", "-d", "0.3", "--timeout", "0.5", "--engine", engine];
        let (code, report, _) = bench_json(&args);
        assert_eq!(code, Some(1));
        assert_eq!(report["errors"]["timeout"], 2, "{engine}: {report}");
        assert!(started.elapsed() < Duration::from_secs(3), "{engine}: {:?}", started.elapsed());
    }
    drop(listener);
}

#[test]
fn text_report_compare_and_exports() {
    let dir = tempfile::Builder::new().prefix("eco-bench-").tempdir().unwrap();
    let (json, md) = (dir.path().join("r.json"), dir.path().join("r.md"));
    let out = eco_output(&[
        "bench",
        "--lang",
        "en",
        "--compare",
        "-c",
        "1",
        "-d",
        "0.3",
        "--warmup",
        "0.1",
        "--export-json",
        json.to_str().unwrap(),
        "--export-markdown",
        md.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // `uring` serves as async where the kernel refuses it.
    let uring = if uring_works() { "uring" } else { "async" };
    for mode in [uring, "async", "threads", "single"] {
        assert!(
            stdout.contains(&format!("(eco server --mode {mode}), ping-pong, 1 connection, 64 B")),
            "{stdout}"
        );
    }
    assert!(stdout.contains("  Errors:      none, every echo checked"), "{stdout}");
    assert!(stdout.contains("mode         msgs/s"), "{stdout}");
    assert_eq!(stdout.matches("fastest").count(), 1, "{stdout}");
    let reports: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(reports.as_array().unwrap().len(), 4);
    let markdown = std::fs::read_to_string(&md).unwrap();
    assert_eq!(markdown.lines().count(), 6, "{markdown}");
    assert!(markdown.starts_with("| server | kind |"));
}

#[test]
fn bench_over_ipv6() {
    let (code, report, stderr) = bench_json(&["--host", "::1", "--spawn", "async", "-c", "2", "-d", "0.3"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(report["target"].as_str().unwrap().starts_with("[::1]:"), "{report}");
}

#[test]
fn a_message_smaller_than_its_header_is_a_usage_error() {
    let out = eco_output(&["bench", "--lang", "en", "-s", "8"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("use --size from 16"), "{}", text(&out.stderr));
    let out = eco_output(&["bench", "--lang", "en", "--rate", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("'0' is not a rate"), "{}", text(&out.stderr));
}

#[test]
fn bench_against_a_running_server_with_its_pid() {
    let server = Server::start(&["--mode", "async"]);
    let (code, report, _) = bench_json(&[
        "--port",
        &server.port(),
        "-c",
        "2",
        "-d",
        "0.3",
        "--server-pid",
        &server.pid().to_string(),
    ]);
    assert_eq!(code, Some(0));
    assert!(report["server_cpu_s"].as_f64().is_some(), "{report}");
    assert!(report["server_mode"].is_null());
    // The short reads counter exists and a 64-byte echo on loopback
    // practically always comes in one read.
    assert!(report["short_reads"].as_u64().is_some());
    let _ = TcpStream::connect(server.addr);
}

/// A server whose backlog is full (it never accepts): the connections are
/// opened all at once and given up at the run's deadline, on both engines.
/// The io_uring engine used to connect one at a time, each with the whole
/// `--timeout` (20 connections: 20 timeouts in a row).
#[test]
fn a_full_backlog_ends_the_run_at_its_deadline() {
    for engine in engines() {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
        socket.listen(1).unwrap();
        let port = socket.local_addr().unwrap().as_socket().unwrap().port().to_string();
        let started = std::time::Instant::now();
        let args = ["--port", &port, "-c", "20", "-d", "0.3", "--timeout", "1", "--engine", engine];
        let (code, report, _) = bench_json(&args);
        assert_eq!(code, Some(1), "{engine}: {report}");
        assert!(errors_total(&report) > 0, "{engine}: {report}");
        assert!(started.elapsed() < Duration::from_secs(8), "{engine}: {:?}", started.elapsed());
    }
}

/// A server that accepts and never reads, and a message too large for the
/// socket buffers: the send itself times out, on both engines. The tokio
/// engine used to wait on that send for good.
#[test]
fn a_send_that_never_completes_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let _held = thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(8) {
            held.push(stream);
        }
        thread::sleep(Duration::from_secs(30));
    });
    for engine in engines() {
        let started = std::time::Instant::now();
        let args =
            ["--port", &port, "-c", "1", "-s", "16777216", "-d", "0.3", "--timeout", "1", "--engine", engine];
        let (code, report, _) = bench_json(&args);
        assert_eq!(code, Some(1), "{engine}: {report}");
        assert_eq!(report["errors"]["timeout"], 1, "{engine}: {report}");
        assert!(started.elapsed() < Duration::from_secs(8), "{engine}: {:?}", started.elapsed());
    }
}
