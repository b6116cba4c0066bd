//! `eco trace --read` on one small capture per kind of frame it once got
//! wrong (issue 10): analysis tags, window scaling, options, flags, port
//! reuse, link types, snapshot lengths, fragments, pcapng resolutions, a
//! file cut short, frames that are not TCP. Each FILE in
//! tests/fixtures/classes was written by its make.py, and FILE.tsv holds
//! tshark 4.0's lines for it (profile `tcponly`); eco must give every frame
//! the same time (within 1 µs), protocol and Info. Where tshark and the
//! profile are at hand (CI), the .tsv files are checked against tshark too,
//! so that they stay tshark's.

use std::path::{Path, PathBuf};

use crate::support::*;

#[path = "../common/tshark.rs"]
mod tshark;

fn classes() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/classes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng")))
        .collect();
    files.sort();
    files
}

/// (number, time, protocol, info) of each frame in a .tsv of tshark's.
fn tsv(text: &str) -> Vec<(u64, f64, String, String)> {
    text.lines()
        .map(|line| {
            let f: Vec<&str> = line.splitn(4, '\t').collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].to_string(),
                f.get(3).unwrap_or(&"").to_string(),
            )
        })
        .collect()
}

fn eco_frames(file: &Path) -> (Vec<(u64, f64, String, String)>, std::process::Output) {
    let out = eco_output(&["trace", "--lang", "en", "--json", "--read", file.to_str().unwrap()]);
    let frames = text(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|o| o.get("number").is_some())
        .map(|o| {
            (
                o["number"].as_u64().unwrap(),
                o["time"].as_f64().unwrap_or(f64::NAN),
                o["protocol"].as_str().unwrap().to_string(),
                o["info"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (frames, out)
}

#[test]
fn every_class_of_frame_decodes_as_tshark_does() {
    let files = classes();
    assert!(files.len() >= 30, "{files:?}");
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let expected = tsv(&std::fs::read_to_string(format!("{}.tsv", file.display())).unwrap());
        let (ours, out) = eco_frames(&file);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        assert_eq!(ours.len(), expected.len(), "{name}: {ours:#?}");
        for (o, t) in ours.iter().zip(&expected) {
            assert_eq!(o.0, t.0, "{name}");
            assert!((o.1 - t.1).abs() <= 1e-6, "{name} #{}: time {} (tshark: {})", t.0, o.1, t.1);
            assert_eq!((&o.2, &o.3), (&t.2, &t.3), "{name} #{}", t.0);
        }
    }
}

/// The .tsv files are tshark's own: checked against tshark wherever it and
/// the `tcponly` profile (from ECO_CAPTURES) are at hand.
#[test]
fn the_golden_lines_are_tsharks() {
    let Some(tshark) = tool("tshark") else { return };
    let Some(captures) = std::env::var_os("ECO_CAPTURES").map(PathBuf::from) else {
        eprintln!("skipped: ECO_CAPTURES (for the tcponly profile) is not set");
        return;
    };
    let profile = tshark::Profile::new(&captures.join("tcponly_disabled_protos.txt"));
    for file in classes() {
        let (lines, _) = profile.lines(&tshark, &file);
        let expected = std::fs::read_to_string(format!("{}.tsv", file.display())).unwrap();
        assert_eq!(lines, expected, "{}", file.display());
    }
}

/// A file cut in the middle of a packet: the frames before, then a warning
/// (exit 0, as tshark shows them too); an empty file: a clear error.
#[test]
fn a_file_cut_short_shows_what_it_holds_and_an_empty_one_says_so() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/classes");
    let (frames, out) = eco_frames(&dir.join("cut-mid-packet.pcap"));
    assert!(out.status.success());
    assert_eq!(frames.len(), 2);
    assert!(
        text(&out.stderr)
            .contains("ends in the middle of a packet (it was cut short): the frames before are shown")
    );
    let scratch = tempfile::tempdir().unwrap();
    let empty = scratch.path().join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    let out = eco_output(&["trace", "--lang", "en", "--read", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim(),
        format!("eco: cannot read {} as pcap or pcapng: the file is empty", empty.display())
    );
}

/// Frames of a link type eco does not decode: listed, and said once.
#[test]
fn an_unknown_link_type_is_listed_and_told() {
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("link-147.pcap");
    let mut bytes = Vec::new();
    for field in [
        0xa1b2_c3d4u32.to_le_bytes().to_vec(),
        vec![2, 0, 4, 0],
        vec![0; 8],
        65535u32.to_le_bytes().to_vec(),
        147u32.to_le_bytes().to_vec(),
    ] {
        bytes.extend(field);
    }
    for _ in 0..3 {
        bytes.extend([1, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef]);
    }
    std::fs::write(&file, bytes).unwrap();
    let (frames, out) = eco_frames(&file);
    assert!(out.status.success());
    assert_eq!(frames.len(), 3);
    assert_eq!(
        text(&out.stderr).matches("link type 147, which eco does not decode").count(),
        1,
        "{}",
        text(&out.stderr)
    );
}

/// The phase notes say what the packets show: a refused connect, a reset,
/// a capture begun mid-stream, bytes sent twice counted once, and no hint
/// about eco's own options for another program's close.
#[test]
fn the_phase_notes_follow_what_happened() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/classes");
    let phases = |name: &str| {
        let out = eco_output(&["trace", "--lang", "en", "--read", dir.join(name).to_str().unwrap()]);
        let stdout = text(&out.stdout);
        stdout.split("── phases ──").nth(1).unwrap_or_default().to_string()
    };
    let refused = phases("refused.pcap");
    assert!(refused.contains("[1, 2]: Refused: the SYN was answered with a reset"), "{refused}");
    assert!(!refused.contains("handshake"), "{refused}");
    let reset = phases("reset.pcap");
    assert!(reset.contains("[5]: Reset: the server sent RST"), "{reset}");
    let mid = phases("mid-stream.pcap");
    assert!(
        mid.contains(
            "(the capture began after the handshake): the client sent 100 bytes, the server sent 40 bytes"
        ),
        "{mid}"
    );
    assert!(!mid.contains("echoed"), "{mid}");
    let resent = phases("resent.pcap");
    assert!(
        resent.contains("[4–8]: Data and ACKs: the client sent 100 bytes, the server sent 100 bytes"),
        "{resent}"
    );
    assert!(resent.contains("1 segment was lost (or late) and sent again"), "{resent}");
    assert!(!resent.contains("--ack-fin-apart"), "{resent}");
    let json = eco_output(&["trace", "--json", "--read", dir.join("resent.pcap").to_str().unwrap()]);
    let connection: serde_json::Value = text(&json.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|o| o.get("connection").is_some())
        .unwrap();
    let data = &connection["connection"]["phases"][1];
    assert_eq!(data["phase"], "data", "{connection}");
    assert_eq!(data["client_bytes"], 100, "{connection}");
    assert_eq!(data["resent"], 1, "{connection}");
}

/// A capture of many connections: the table tells the phases of the
/// first 100 and says how many more there were; JSON has every one, once.
#[test]
fn many_connections_phases_are_bounded_in_the_table_and_whole_in_json() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/classes/many-connections.pcap");
    let out = eco_output(&["trace", "--lang", "en", "--read", file.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(stdout.matches("── connection ").count(), 100, "{stdout}");
    assert!(stdout.contains("── and 20 more connections: the phases of one with --stream N"), "{stdout}");
    let out = eco_output(&["trace", "--json", "--read", file.to_str().unwrap()]);
    let mut streams: Vec<u64> = text(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|o| o.get("connection").map(|c| c["stream"].as_u64().unwrap()))
        .collect();
    streams.sort_unstable();
    assert_eq!(streams, (0..120).collect::<Vec<u64>>());
    let out = eco_output(&["trace", "--lang", "en", "--stream", "110", "--read", file.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().filter(|l| l.contains(" → ")).count(), 6, "{stdout}");
    assert!(stdout.contains("── phases ──"), "{stdout}");
}
