//! `eco lab`: each lab run as root and as user `nobody` (eco makes its
//! namespace either way), its point asserted in the packets it wrote to
//! `--pcap`, read back by tshark: the lab's own narration is not taken on
//! trust.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::*;

/// A lab's run: its output, and the packets of its `--pcap` as tshark
/// reads them.
pub struct LabRun {
    pub out: Output,
    pub stdout: String,
    pub pcap: PathBuf,
    _dir: tempfile::TempDir,
}

impl LabRun {
    /// tshark's `fields` for each frame (tab-separated in the file).
    pub fn fields(&self, fields: &[&str]) -> Vec<Vec<String>> {
        let Some(tshark) = tool("tshark") else { return Vec::new() };
        let mut cmd = Command::new(tshark);
        cmd.arg("-r").arg(&self.pcap);
        cmd.args(["--disable-protocol", "ALL", "--enable-protocol", "frame,eth,ip,ipv6,tcp,udp"]);
        cmd.args(["-T", "fields", "-E", "separator=\t"]);
        for field in fields {
            cmd.args(["-e", field]);
        }
        let out = cmd.stderr(Stdio::null()).output().expect("run tshark");
        assert!(out.status.success());
        text(&out.stdout).lines().map(|l| l.split('\t').map(String::from).collect()).collect()
    }
}

/// `eco lab NAME ARGS --pcap F` in English, as root when `root_run`, else
/// as user `nobody`. `None` when this machine cannot run it that way (not
/// root, or no `setpriv`; the test then passes over it, saying why).
pub fn lab(name: &str, args: &[&str], root_run: bool) -> Option<LabRun> {
    if !root() || tool("setpriv").is_none() {
        return None;
    }
    let dir = tempfile::Builder::new().prefix("eco-lab-").tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let pcap = dir.path().join("lab.pcap");
    let mut all = vec!["--lang", "en", "lab", name, "--pcap", pcap.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = if root_run {
        eco().args(&all).output().unwrap()
    } else {
        let (mut cmd, _guard) = eco_as_nobody(&all);
        cmd.output().unwrap()
    };
    let stdout = text(&out.stdout);
    assert!(pcap.is_file(), "no pcap: {stdout}{}", text(&out.stderr));
    Some(LabRun { out, stdout, pcap, _dir: dir })
}

/// Runs `check` on the lab run as root and as `nobody`, at the same time.
pub fn both(name: &str, args: &[&str], check: impl Fn(&LabRun) + Sync) {
    std::thread::scope(|scope| {
        for root_run in [true, false] {
            let check = &check;
            scope.spawn(move || {
                if let Some(run) = lab(name, args, root_run) {
                    assert_eq!(run.out.status.code(), Some(0), "{}{}", run.stdout, text(&run.out.stderr));
                    check(&run);
                }
            });
        }
    });
}

/// The TCP flags of each frame, as tshark writes them (`0x0012`: SYN, ACK).
pub fn flags(run: &LabRun) -> Vec<u16> {
    run.fields(&["tcp.flags"])
        .iter()
        .map(|f| u16::from_str_radix(f[0].trim_start_matches("0x"), 16).unwrap_or(0))
        .collect()
}

pub const FIN: u16 = 0x01;
pub const SYN: u16 = 0x02;
pub const RST: u16 = 0x04;
pub const ACK: u16 = 0x10;

#[allow(dead_code)]
pub fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn eco_lab_lists_the_ten_labs_and_an_unknown_one_is_a_usage_error() {
    let out = eco_output(&["--lang", "en", "lab"]);
    assert!(out.status.success());
    let list = text(&out.stdout);
    for name in [
        "handshake-and-close",
        "refused-vs-timeout",
        "closing",
        "byte-stream",
        "nagle-delayed-ack",
        "time-wait",
        "backlog",
        "loss",
        "flow-control",
        "keepalive",
    ] {
        assert!(list.contains(&format!("  {name} ")), "{name}: {list}");
    }
    let out = eco_output(&["--lang", "en", "lab", "nagle"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("there is no lab \"nagle\": the labs are handshake-and-close, "));
    let out = eco_output(&["--lang", "en", "lab", "handshake-and-close", "--try", "fast"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("has no variation \"fast\": try one of slow-close"),
        "{}",
        text(&out.stderr)
    );
}

/// The exercise: 10 frames when the server closes at once (its FIN
/// carries the ACK of the client's FIN), 11 when it waits; the client,
/// which closed first, is in TIME_WAIT.
#[test]
fn handshake_and_close_has_ten_frames_or_eleven_when_the_server_is_slow() {
    both("handshake-and-close", &[], |run| {
        let flags = flags(run);
        assert_eq!(flags.len(), 10, "{}", run.stdout);
        assert_eq!(&flags[..3], &[SYN, SYN | ACK, ACK]);
        // Frame 9: the server's FIN with the ACK of the client's (frame 8).
        assert_eq!(flags[7] & FIN, FIN);
        assert_eq!(flags[8] & (FIN | ACK), FIN | ACK);
        let fields = run.fields(&["tcp.srcport", "tcp.ack", "tcp.seq"]);
        assert_eq!(fields[8][0], "5050");
        assert!(run.stdout.contains("client's socket is now in TIME_WAIT"), "{}", run.stdout);
    });
    both("handshake-and-close", &["--try", "slow-close"], |run| {
        let flags = flags(run);
        assert_eq!(flags.len(), 11, "{}", run.stdout);
        // The server's bare ACK of the client's FIN, then its own FIN.
        assert_eq!(flags[8], ACK);
        assert_eq!(flags[9] & FIN, FIN);
        let times = run.fields(&["frame.time_relative"]);
        let t = |i: usize| times[i][0].parse::<f64>().unwrap();
        assert!(t(9) - t(8) >= 0.15, "{} {}", t(8), t(9));
    });
}
