//! `--mode uring`: what is its own. The mode also runs every test of the
//! `each_mode!` lists; here are its fallback where io_uring is refused, and
//! the corners of its request chains (pipelined messages, a stream that
//! switches to splice and back, clients that reset mid-send).

use std::io::{Read, Write};
use std::net::Shutdown;
use std::process::Command;
use std::thread;
use std::time::Duration;

use crate::support::*;

/// Where io_uring is refused (here: a seccomp filter, as Docker's default
/// profile), `--mode uring` says so in one line, in the user's language,
/// and serves as `async`.
#[test]
fn refused_io_uring_falls_back_to_async_with_one_line() {
    let Some(python) = tool("python3") else { return };
    for (lang, said, listening) in [
        ("en", "io_uring is not available here (refused by the system", "(mode async)"),
        ("pt", "io_uring não está disponível aqui (recusado pelo sistema", "(modo async)"),
    ] {
        let mut cmd = Command::new(&python);
        cmd.arg(python_script("no_io_uring.py")).arg(eco_bin());
        cmd.args(["server", "--port", "0", "--mode", "uring", "--lang", lang]);
        let server = Server::spawn(cmd);
        let mut stream = connect(server.addr);
        stream.write_all(b"still echoed").unwrap();
        let mut echo = [0u8; 12];
        stream.read_exact(&mut echo).unwrap();
        assert_eq!(&echo, b"still echoed");
        let log = server.stderr();
        let lines: Vec<_> = log.lines().filter(|line| line.contains("io_uring")).collect();
        assert_eq!(lines.len(), 1, "{log}");
        assert!(lines[0].starts_with(&format!("eco: {said}")), "{log}");
        assert!(lines[0].ends_with("--mode async"), "{log}");
        assert!(log.contains(listening), "{log}");
    }
    // The commands that start a server of their own say it too, and name
    // the mode that served.
    let wrapped = |args: &[&str]| {
        let mut cmd = Command::new(&python);
        cmd.arg(python_script("no_io_uring.py")).arg(eco_bin()).args(args);
        cmd.output().unwrap()
    };
    let out = wrapped(&[
        "bench", "--lang", "en", "--spawn", "uring", "-c", "2", "-d", "0.2", "--warmup", "0.1", "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["server_mode"].as_str(), report["engine"].as_str()), (Some("async"), Some("tokio")));
    assert!(text(&out.stderr).starts_with("eco: io_uring is not available here"), "{}", text(&out.stderr));
    if root() {
        let out = wrapped(&["trace", "--lang", "en", "--mode", "uring"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains(", server mode async ──"), "{}", text(&out.stdout));
        assert!(
            text(&out.stderr).starts_with("eco: io_uring is not available here"),
            "{}",
            text(&out.stderr)
        );
    }
}

/// What only the tokio loop does (TLS, PROXY headers, misbehaviour) makes
/// `--mode uring` serve as `async`, and say why.
#[test]
fn options_of_the_tokio_loop_make_uring_serve_as_async() {
    for option in [&["--tls"][..], &["--proxy-protocol"], &["--accept-delay", "10"], &["--delay", "5"]] {
        let mut args = vec!["--mode", "uring", "--lang", "en"];
        args.extend_from_slice(option);
        let server = Server::start(&args);
        assert!(eventually(|| server.stderr().contains("(mode async)")), "{option:?}: {}", server.stderr());
        assert!(
            server.stderr().contains("--mode uring serves the plain echo; with --tls, --proxy-protocol"),
            "{option:?}: {}",
            server.stderr()
        );
    }
}

/// Messages sent back to back without waiting (the next one is often in
/// the socket before the echo of the last is out), then one large enough
/// to fill the buffer (the connection moves to splice), then small ones
/// again: every byte back, in order.
#[test]
fn pipelined_and_switching_streams_come_back_whole() {
    if !uring_works() {
        eprintln!("skipped: this kernel refuses io_uring");
        return;
    }
    let server = Server::start(&["--mode", "uring"]);
    let clients: Vec<_> = (0..8u8)
        .map(|seed| {
            let addr = server.addr;
            thread::spawn(move || {
                let mut sent = Vec::new();
                for n in 0..3000usize {
                    sent.extend(
                        (0..(1 + n % 200)).map(|i| (i as u8).wrapping_mul(seed).wrapping_add(n as u8)),
                    );
                }
                sent.extend((0..3_000_000usize).map(|i| (i % 251) as u8 ^ seed));
                for n in 0..500usize {
                    sent.extend(std::iter::repeat_n(seed ^ n as u8, 1 + n % 50));
                }
                let stream = connect(addr);
                let mut writer = stream.try_clone().unwrap();
                let data = sent.clone();
                let write = thread::spawn(move || {
                    // In pieces of all sizes, so that they arrive as
                    // many messages, not as one.
                    let mut at = 0;
                    let mut step = 1;
                    while at < data.len() {
                        let end = (at + step).min(data.len());
                        writer.write_all(&data[at..end]).unwrap();
                        at = end;
                        step = step * 7 % 70_001 + 1;
                    }
                    writer.shutdown(Shutdown::Write).unwrap();
                });
                let mut got = Vec::new();
                (&stream).read_to_end(&mut got).unwrap();
                write.join().unwrap();
                assert_eq!(got.len(), sent.len(), "client {seed}");
                assert!(got == sent, "client {seed}: the echo differs");
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
}

/// Clients that send a lot and reset without reading (a send of the
/// server's fails mid-way, its linked recv is cancelled): the server
/// forgets each of them, so that with `--max-conns 4` the next clients are
/// still served, and it logs them as resets.
#[test]
fn clients_that_reset_mid_send_are_forgotten() {
    if !uring_works() {
        eprintln!("skipped: this kernel refuses io_uring");
        return;
    }
    let server = Server::start(&["--mode", "uring", "--max-conns", "4", "--log-format", "json"]);
    for round in 0..40 {
        let mut stream = connect(server.addr);
        // More than the socket buffers hold, so that the echo blocks.
        let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
        let chunk = vec![round as u8; 1 << 20];
        for _ in 0..8 {
            if stream.write_all(&chunk).is_err() {
                break;
            }
        }
        // SO_LINGER 0: close() sends RST.
        socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO)).unwrap();
        drop(stream);
    }
    for _ in 0..4 {
        let mut stream = connect(server.addr);
        stream.write_all(b"served").unwrap();
        let mut echo = [0u8; 6];
        stream.read_exact(&mut echo).unwrap();
        assert_eq!(&echo, b"served");
    }
    assert!(
        eventually(|| server.stderr().matches(r#""reason":"reset""#).count() >= 30),
        "{}",
        server.stderr()
    );
}

/// One ring per CPU, each serving: the main thread's ring used to be made
/// only after a stop (it waited for words its helper threads never
/// finished sending), leaving one CPU's ring out.
#[test]
fn every_cpu_gets_a_ring() {
    if !uring_works() {
        eprintln!("skipped: this kernel refuses io_uring");
        return;
    }
    let server = Server::start(&["--mode", "uring"]);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rings = || {
        std::fs::read_dir(format!("/proc/{}/fd", server.pid()))
            .unwrap()
            .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
            .filter(|target| target.to_string_lossy() == "anon_inode:[io_uring]")
            .count()
    };
    assert!(eventually(|| rings() == cpus), "{} rings for {cpus} CPUs", rings());
    for _ in 0..20 {
        assert_eq!(echo_of(server.addr, b"ring"), b"ring");
    }
}

/// Without `--mode`, a plain echo is served on io_uring where the kernel
/// allows it; where it does not, or with options only the tokio loop has,
/// as async, quietly: nobody asked for uring.
#[test]
fn the_default_mode_is_uring_where_it_serves_and_async_quietly_elsewhere() {
    let default = if uring_works() { "(mode uring)" } else { "(mode async)" };
    let server = Server::start(&["--lang", "en"]);
    assert!(server.stderr().contains(default), "{}", server.stderr());
    assert_eq!(echo_of(server.addr, b"default"), b"default");
    let server = Server::start(&["--lang", "en", "--tls"]);
    assert!(server.stderr().contains("(mode async)"), "{}", server.stderr());
    assert!(!server.stderr().contains("uring"), "{}", server.stderr());
    let Some(python) = tool("python3") else { return };
    let mut cmd = Command::new(&python);
    cmd.arg(python_script("no_io_uring.py")).arg(eco_bin()).args(["server", "--port", "0", "--lang", "en"]);
    let server = Server::spawn(cmd);
    assert_eq!(echo_of(server.addr, b"quiet"), b"quiet");
    assert!(server.stderr().contains("(mode async)"), "{}", server.stderr());
    assert!(!server.stderr().contains("io_uring"), "{}", server.stderr());
}
