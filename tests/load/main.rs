//! Tests that load the machine (a flood of datagrams, a server out of file
//! descriptors), and whose point is how fast eco recovers: a test binary of
//! their own, which cargo runs after the others, one test at a time, so
//! that the time each measures is its own.

#[allow(dead_code, unused_imports, unused_macros)]
#[path = "../it/support.rs"]
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use support::*;

/// Held for the whole of each test: one at a time.
fn alone() -> MutexGuard<'static, ()> {
    static ONE: Mutex<()> = Mutex::new(());
    ONE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Out of file descriptors (`prlimit --nofile=64`) under a flood of 200
/// connections held for 3.5 s, then all closed: the next client is served
/// within a second. The accept loop used to back off 1, 2, 4 … 64 s, and
/// that client waited for the back-off to end. The two modes that accept
/// in a loop, at the same time (the test mostly waits).
#[test]
fn descriptor_exhaustion_recovers_within_a_second() {
    // Alone: beside a UDP flood, the async server drained the ~150 queued
    // connections too slowly for "works again" to be told in time.
    let _alone = alone();
    let Some(prlimit) = tool("prlimit") else { return };
    rlimit::increase_nofile_limit(4096).expect("raise RLIMIT_NOFILE");
    thread::scope(|scope| {
        for mode in ["threads", "async"] {
            scope.spawn(|| exhaust_descriptors(&prlimit, mode));
        }
    });
}

fn exhaust_descriptors(prlimit: &std::path::Path, mode: &str) {
    let mut cmd = Command::new(prlimit);
    cmd.arg("--nofile=64:64").arg(eco_bin()).args(["server", "--port", "0", "--lang", "en", "--mode", mode]);
    let server = Server::spawn(cmd);
    let flood: Vec<TcpStream> = (0..200).map(|_| connect(server.addr)).collect();
    thread::sleep(Duration::from_millis(3500));
    drop(flood);
    let started = Instant::now();
    let mut client = connect(server.addr);
    client.write_all(b"after the flood").unwrap();
    let mut echo = [0u8; 15];
    client.read_exact(&mut echo).unwrap();
    let took = started.elapsed();
    assert_eq!(&echo, b"after the flood");
    assert!(took < Duration::from_secs(1), "served {took:?} after the flood ended; {}", server.stderr());
    assert!(
        eventually(|| server.stderr().contains("accepting connections works again")),
        "{}",
        server.stderr()
    );
    let log = server.stderr();
    assert!(log.contains("accepting a connection failed: Too many open files"), "{log}");
    // Told once, then at most once a second, then the end: not once
    // per attempt.
    assert!(log.lines().count() < 12, "{log}");
}

/// 25 000 datagrams a second from ever-new (spoofed) source addresses for
/// 4.5 s (over 110 000 of them): a legitimate client sending 100 a second still gets at least 99 %
/// answers. The source table used to be scanned for every new source once
/// it held 100 000 (the server then fell behind and dropped the client's
/// datagrams), and the flood could take the whole global rate.
/// benches/udp_flood.py against a UDP server: the client's share of
/// answers, with `extra` arguments for the flood.
fn udp_flood(seconds: &str, extra: &[&str]) -> Option<serde_json::Value> {
    let python = tool("python3")?;
    let server = Server::start(&["--udp"]);
    let bench = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/udp_flood.py");
    let out = Command::new(python)
        .arg(bench)
        .args(["--port", &server.port(), "--pid", &server.pid().to_string(), "--seconds", seconds, "--json"])
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn a_flood_of_new_udp_sources_does_not_starve_a_client() {
    let _alone = alone();
    let Some(report) = udp_flood("4.5", &[]) else { return };
    let share = report["client_answered_share"].as_f64().unwrap();
    assert!(share >= 0.99, "{report}");
    assert!(report["flood_sources"].as_u64().unwrap() > 100_000, "{report}");
}

/// The same 20 000 spoofed addresses over and over (so all of them are
/// soon "known" sources), faster than --udp-rate: they come from one
/// network, and the client from another keeps its share.
#[test]
fn a_flood_from_a_fixed_list_of_spoofed_sources_does_not_starve_a_client() {
    let _alone = alone();
    let Some(report) = udp_flood("3", &["--cycle", "20000", "--rate", "30000"]) else { return };
    let share = report["client_answered_share"].as_f64().unwrap();
    assert!(share >= 0.99, "{report}");
}
