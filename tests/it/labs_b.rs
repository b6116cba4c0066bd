//! `eco lab loss` and `eco lab flow-control`, each run as root and as
//! user `nobody`: their points asserted in the packets of `--pcap`, read
//! back by tshark (its own analysis: retransmissions, duplicate ACKs, SACK
//! blocks, zero windows), not in eco's narration.

use crate::labs::{LabRun, RST, both};

const PORT: &str = "5050";

/// One frame as tshark reads it.
#[derive(Debug)]
struct Frame {
    no: usize,
    time: f64,
    /// Sent by the server (from port 5050).
    server: bool,
    seq: u32,
    ack: u32,
    len: u32,
    window: u32,
    flags: u16,
    /// tshark's analysis flags and fields ("" when absent).
    retransmission: bool,
    fast: bool,
    out_of_order: bool,
    dup_ack: bool,
    sack: bool,
    sack_perm: bool,
    zero_window: bool,
    window_update: bool,
    keep_alive: bool,
    zero_window_probe: bool,
}

fn frames(run: &LabRun) -> Vec<Frame> {
    let fields = [
        "frame.number",
        "frame.time_relative",
        "tcp.srcport",
        "tcp.seq",
        "tcp.ack",
        "tcp.len",
        "tcp.window_size",
        "tcp.flags",
        "tcp.analysis.retransmission",
        "tcp.analysis.fast_retransmission",
        "tcp.analysis.out_of_order",
        "tcp.analysis.duplicate_ack",
        "tcp.options.sack_le",
        "tcp.options.sack_perm",
        "tcp.analysis.zero_window",
        "tcp.analysis.window_update",
        "tcp.analysis.keep_alive",
        "tcp.analysis.zero_window_probe",
    ];
    run.fields(&fields)
        .iter()
        .map(|f| {
            let num = |i: usize| f[i].parse::<u32>().unwrap_or(0);
            let set = |i: usize| f.get(i).is_some_and(|v| !v.is_empty());
            Frame {
                no: f[0].parse().unwrap(),
                time: f[1].parse().unwrap(),
                server: f[2] == PORT,
                seq: num(3),
                ack: num(4),
                len: num(5),
                window: num(6),
                flags: u16::from_str_radix(f[7].trim_start_matches("0x"), 16).unwrap_or(0),
                retransmission: set(8),
                fast: set(9),
                out_of_order: set(10),
                dup_ack: set(11),
                sack: set(12),
                sack_perm: set(13),
                zero_window: set(14),
                window_update: set(15),
                keep_alive: set(16),
                zero_window_probe: set(17),
            }
        })
        .collect()
}

/// The client's data segment at `seq` sent first, and the first one sent
/// again (same seq, later), if any.
fn first_and_again(frames: &[Frame], seq: u32) -> (&Frame, Option<&Frame>) {
    let mut sent = frames.iter().filter(|f| !f.server && f.len > 0 && f.seq == seq);
    (sent.next().unwrap(), sent.next())
}

/// The client's data segments sent again: at a seq it had already sent.
fn resent(frames: &[Frame]) -> Vec<&Frame> {
    let mut seen = std::collections::HashSet::new();
    frames.iter().filter(|f| !f.server && f.len > 0 && !seen.insert(f.seq)).collect()
}

/// What every loss run shows: the 100-byte message sent alone, dropped,
/// and resent only after 200 ms, with nothing from the server between.
fn lone_message_waits_200_ms(frames: &[Frame], stdout: &str) {
    let lone = frames.iter().find(|f| !f.server && f.len == 100).expect(stdout);
    let (first, again) = first_and_again(frames, lone.seq);
    let again = again.expect(stdout);
    assert!(again.retransmission, "{again:?}\n{stdout}");
    assert!(again.time - first.time >= 0.2, "{first:?} {again:?}\n{stdout}");
    assert!(!frames.iter().any(|f| f.server && f.no > first.no && f.no < again.no), "{stdout}");
    // The echo comes only after the resend.
    assert!(frames.iter().any(|f| f.server && f.len == 100 && f.no > again.no), "{stdout}");
}

/// The burst's hole: the one burst segment sent again. Returns it, its
/// resend, and the server's ACKs of its first byte in between (the first
/// of which acknowledges the data before the hole: the others are the
/// duplicates).
fn hole(frames: &[Frame]) -> (&Frame, &Frame, Vec<&Frame>) {
    let again = resent(frames);
    // The lone message is resent too, last: the hole is the first.
    assert_eq!(again.len(), 2, "{frames:#?}");
    let (first, _) = first_and_again(frames, again[0].seq);
    let acks: Vec<&Frame> = frames
        .iter()
        .filter(|f| f.server && f.len == 0 && f.ack == first.seq && f.no < again[0].no)
        .collect();
    (first, again[0], acks)
}

/// The segment after the hole is the first one the server could not
/// acknowledge: everything past it comes back with one ACK after the
/// resend.
fn hole_filled(frames: &[Frame], again: &Frame, stdout: &str) {
    let sent_before = frames
        .iter()
        .filter(|f| !f.server && f.len > 0 && f.no < again.no)
        .map(|f| f.seq + f.len)
        .max()
        .unwrap();
    let next = frames.iter().find(|f| f.server && f.no > again.no).expect(stdout);
    assert_eq!(next.ack, sent_before, "{next:?}\n{stdout}");
}

/// A burst with a hole: at least three duplicate ACKs carrying SACK
/// blocks, then a fast retransmission well under the 200 ms timer; the
/// message sent alone waits for the timer.
#[test]
fn loss_shows_dup_acks_with_sack_a_fast_retransmission_and_a_200_ms_wait() {
    both("loss", &[], |run| {
        let frames = frames(run);
        let syns: Vec<&Frame> = frames.iter().filter(|f| f.flags & crate::labs::SYN != 0).collect();
        assert!(syns.len() == 2 && syns.iter().all(|f| f.sack_perm), "{}", run.stdout);
        // Ten data segments of the same size before any resend.
        let burst: Vec<&Frame> = frames.iter().filter(|f| !f.server && f.len > 0).take(10).collect();
        assert!(burst.iter().all(|f| f.len == burst[0].len && f.len <= 1000), "{}", run.stdout);
        let (first, again, acks) = hole(&frames);
        assert_eq!(first.no, burst[2].no, "the third segment is dropped: {}", run.stdout);
        let dups = &acks[1..];
        assert!(dups.len() >= 3, "{dups:?}\n{}", run.stdout);
        assert!(dups.iter().all(|f| f.sack && f.no > first.no), "{dups:?}\n{}", run.stdout);
        assert!(dups.iter().filter(|f| f.dup_ack).count() >= 2, "{dups:?}\n{}", run.stdout);
        assert!(again.fast && again.retransmission, "{again:?}\n{}", run.stdout);
        assert!(again.time - first.time < 0.05, "{first:?} {again:?}\n{}", run.stdout);
        hole_filled(&frames, again, &run.stdout);
        lone_message_waits_200_ms(&frames, &run.stdout);
        assert!(run.stdout.contains("[TCP Fast Retransmission]"), "{}", run.stdout);
    });
}

/// Without SACK: no SACK_PERM in the SYNs, duplicate ACKs without SACK
/// blocks, still a fast retransmission; the last message waits for the
/// retransmission timeout itself (the tail loss probe needs SACK).
#[test]
fn loss_without_sack_has_bare_dup_acks_and_still_a_fast_retransmission() {
    both("loss", &["--try", "no-sack"], |run| {
        let frames = frames(run);
        assert!(frames.iter().all(|f| !f.sack_perm && !f.sack), "{}", run.stdout);
        let (first, again, acks) = hole(&frames);
        assert!(acks[1..].iter().filter(|f| f.dup_ack).count() >= 3, "{acks:?}\n{}", run.stdout);
        assert!(again.fast, "{again:?}\n{}", run.stdout);
        assert!(again.time - first.time < 0.05, "{first:?} {again:?}\n{}", run.stdout);
        hole_filled(&frames, again, &run.stdout);
        lone_message_waits_200_ms(&frames, &run.stdout);
        assert!(run.stdout.contains("TcpExtTCPTimeouts"), "{}", run.stdout);
    });
}

/// One send() per segment: the client's kernel reads each ACK before the
/// next segment leaves, and Linux resends after the first duplicate ACK
/// with a SACK block (RACK), not after three.
#[test]
fn loss_one_by_one_resends_after_the_first_sack() {
    both("loss", &["--try", "one-by-one"], |run| {
        let frames = frames(run);
        let (first, again, acks) = hole(&frames);
        let dups = &acks[1..];
        assert!((1..3).contains(&dups.len()) && dups.iter().all(|f| f.sack), "{dups:?}\n{}", run.stdout);
        assert!(again.retransmission || again.out_of_order, "{again:?}\n{}", run.stdout);
        assert!(again.time - first.time < 0.05, "{first:?} {again:?}\n{}", run.stdout);
        hole_filled(&frames, again, &run.stdout);
        lone_message_waits_200_ms(&frames, &run.stdout);
    });
}

/// A reader that stops: the window shrinks to 0, the client probes it,
/// and a window update from the server, 1.5 s and more later, restarts
/// the transfer; all 50000 bytes arrive and both sides close cleanly.
#[test]
fn flow_control_shows_a_zero_window_probes_and_a_window_update() {
    both("flow-control", &[], |run| {
        let frames = frames(run);
        let out = &run.stdout;
        let syn_ack = frames.iter().find(|f| f.server && f.flags & crate::labs::SYN != 0).expect(out);
        assert_eq!(syn_ack.window, 4096, "{out}");
        let zero = frames.iter().find(|f| f.server && f.zero_window).expect(out);
        assert_eq!(zero.window, 0);
        // The window shrank on the way.
        let windows: Vec<u32> = frames
            .iter()
            .filter(|f| f.server && f.no >= syn_ack.no && f.no <= zero.no)
            .map(|f| f.window)
            .collect();
        assert!(windows.windows(2).all(|w| w[1] <= w[0]) && windows.len() >= 3, "{windows:?}\n{out}");
        let update = frames.iter().find(|f| f.server && f.no > zero.no && f.window_update).expect(out);
        assert!(update.window > 0 && update.time - zero.time >= 1.5, "{zero:?} {update:?}\n{out}");
        // The client probed the closed window in between, more than once,
        // and nothing new went out until the update.
        let probes: Vec<&Frame> = frames
            .iter()
            .filter(|f| {
                !f.server && f.no > zero.no && f.no < update.no && (f.keep_alive || f.zero_window_probe)
            })
            .collect();
        assert!(probes.len() >= 2, "{probes:?}\n{out}");
        assert!(probes[0].time - zero.time >= 0.2, "{out}");
        assert!(
            !frames.iter().any(|f| !f.server && f.len > 1 && f.no > zero.no && f.no < update.no),
            "{out}"
        );
        // Everything, then a clean close: the last ACK covers the 50000
        // bytes and the client's FIN.
        assert!(frames.iter().all(|f| f.flags & RST == 0), "{out}");
        let last_ack = frames.iter().filter(|f| f.server).map(|f| f.ack).max().unwrap();
        assert_eq!(last_ack, 50_002, "{out}");
        assert_eq!(frames.iter().filter(|f| f.flags & crate::labs::FIN != 0).count(), 2, "{out}");
    });
}

/// With a receive buffer larger than what the client sends, the window
/// never closes: no zero window, no probe.
#[test]
fn flow_control_with_a_bigger_buffer_never_closes_the_window() {
    both("flow-control", &["--try", "bigger-buffer"], |run| {
        let frames = frames(run);
        let out = &run.stdout;
        assert!(frames.iter().all(|f| !f.zero_window && !f.keep_alive && !f.zero_window_probe), "{out}");
        assert!(frames.iter().filter(|f| f.server).all(|f| f.window > 0), "{out}");
        assert!(frames.iter().all(|f| f.flags & RST == 0), "{out}");
        let last_ack = frames.iter().filter(|f| f.server).map(|f| f.ack).max().unwrap();
        assert_eq!(last_ack, 50_002, "{out}");
    });
}
