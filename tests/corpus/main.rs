//! `eco trace --read` against tshark on a directory of public captures.
//!
//! The directory comes from `ECO_CAPTURES` (CI: `../shared/captures`, 1 313
//! files from the test suites of tcpdump, PcapPlusPlus, gopacket and
//! others; see its README). Its `tcponly_disabled_protos.txt` is installed
//! as a tshark profile in a directory of this test's own, so that a TCP
//! frame's Info is TCP's own. For every file: eco must read what tshark
//! reads (no refused file, no crash), give every frame tshark's time
//! (within 1 µs), and the same Info on at least 99.9 % of TCP frames. The
//! rate and the first differences of each class are printed either way.
//!
//! Without `ECO_CAPTURES` the test says so and passes, unless
//! `ECO_REQUIRE_TOOLS` is set (as in CI).

#[path = "../common/tshark.rs"]
mod tshark;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The share of TCP frames whose Info must be tshark's, byte for byte.
const REQUIRED: f64 = 0.999;

/// Examples printed per class of difference.
const EXAMPLES: usize = 3;

fn eco_bin() -> PathBuf {
    std::env::var_os("ECO_BIN").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_eco")), PathBuf::from)
}

/// One frame as tshark or eco shows it.
#[derive(Debug, Clone)]
struct Frame {
    number: u64,
    /// Seconds since the first frame, if the record had a time.
    time: Option<f64>,
    protocol: String,
    info: String,
}

/// What went wrong with one file or frame.
#[derive(Default)]
struct Findings {
    files: usize,
    /// Files tshark itself cannot read (eco may say what it can).
    tshark_refused: usize,
    frames: usize,
    tcp: usize,
    tcp_same: usize,
    /// By class: examples (file, frame, eco's Info, tshark's).
    classes: BTreeMap<String, (usize, Vec<String>)>,
    /// Failures that fail the test whatever the rate.
    fatal: Vec<String>,
}

impl Findings {
    fn differ(&mut self, class: &str, example: String) {
        let entry = self.classes.entry(class.to_string()).or_default();
        entry.0 += 1;
        if entry.1.len() < EXAMPLES {
            entry.1.push(example);
        }
    }
}

/// tshark's frames of `file`, or `None` if tshark reads none of it.
fn tshark(file: &Path, profile: &tshark::Profile) -> Option<Vec<Frame>> {
    let (lines, success) = profile.lines(Path::new("tshark"), file);
    let frames: Vec<Frame> = lines
        .lines()
        .filter_map(|line| {
            let mut fields = line.splitn(4, '\t');
            let number = fields.next()?.parse().ok()?;
            let time = fields.next().and_then(tshark_seconds);
            let protocol = fields.next()?.to_string();
            let info = fields.next().unwrap_or_default().to_string();
            Some(Frame { number, time, protocol, info })
        })
        .collect();
    (!frames.is_empty() || success).then_some(frames)
}

/// tshark's `frame.time_relative` as a number: the number its text reads
/// as. (In a damaged file the nanoseconds are not always below a second,
/// "1.1147483649" for 1 s and 1 147 483 649 ns; eco's JSON gives the same
/// text's number, as a script reading both would compare them.)
fn tshark_seconds(text: &str) -> Option<f64> {
    text.parse().ok()
}

/// eco's frames of `file` (`--json`), its exit status and stderr.
fn eco(file: &Path) -> (Vec<Frame>, Option<i32>, String) {
    let out = Command::new(eco_bin())
        .args(["trace", "--lang", "en", "--json", "--read"])
        .arg(file)
        .output()
        .expect("run eco");
    let frames = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|o| o.get("number").is_some())
        .map(|o| Frame {
            number: o["number"].as_u64().unwrap_or(0),
            time: o["time"].as_f64(),
            protocol: o["protocol"].as_str().unwrap_or_default().to_string(),
            info: o["info"].as_str().unwrap_or_default().to_string(),
        })
        .collect();
    (frames, out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Which part of a TCP Info differs, as a short name.
fn class_of(ours: &str, theirs: &str) -> String {
    let tags = |info: &str| -> Vec<String> {
        info.split("] ").take_while(|t| t.starts_with("[TCP ")).map(|t| t.to_string()).collect()
    };
    if tags(ours) != tags(theirs) {
        let (a, b) = (tags(ours), tags(theirs));
        return format!("analysis tags: eco {a:?}, tshark {b:?}");
    }
    if ours.contains("[Packet size limited") != theirs.contains("[Packet size limited")
        || ours.contains("[Malformed") != theirs.contains("[Malformed")
    {
        return "truncation".into();
    }
    for field in ["Seq=", "Ack=", "Win=", "Len=", "Urg="] {
        let value = |info: &str| info.split(' ').find(|w| w.starts_with(field)).map(str::to_string);
        if value(ours) != value(theirs) {
            return field.trim_end_matches('=').to_string();
        }
    }
    if ours.split(" Seq=").next() != theirs.split(" Seq=").next() {
        return "ports or flags".into();
    }
    "options".into()
}

fn compare(name: &str, file: &Path, profile: &tshark::Profile, found: &Mutex<Findings>) {
    let theirs = tshark(file, profile);
    let (ours, code, stderr) = eco(file);
    let mut found = found.lock().unwrap();
    found.files += 1;
    if stderr.contains("panicked") || code == Some(101) || code.is_none() {
        found.fatal.push(format!("{name}: eco crashed: {}", stderr.trim()));
        return;
    }
    let Some(theirs) = theirs else {
        found.tshark_refused += 1;
        return;
    };
    if code != Some(0) && ours.len() < theirs.len() {
        found
            .fatal
            .push(format!("{name}: eco refused a file tshark reads (exit {code:?}): {}", stderr.trim()));
        return;
    }
    if ours.len() < theirs.len() {
        found.fatal.push(format!("{name}: eco shows {} frames, tshark {}", ours.len(), theirs.len()));
    }
    for (t, o) in theirs.iter().zip(&ours) {
        found.frames += 1;
        if t.number != o.number {
            found.fatal.push(format!("{name}: frame {} numbered {} by eco", t.number, o.number));
            break;
        }
        if let (Some(a), Some(b)) = (t.time, o.time)
            && (a - b).abs() > 1e-6
        {
            found.fatal.push(format!("{name}: frame {}: time {b} (tshark: {a})", t.number));
        }
        if t.protocol == "TCP" {
            found.tcp += 1;
            if o.protocol == "TCP" && o.info == t.info {
                found.tcp_same += 1;
            } else {
                let class = if o.protocol == "TCP" { class_of(&o.info, &t.info) } else { "not TCP".into() };
                let example =
                    format!("{name} #{}\n      eco:    {}\n      tshark: {}", t.number, o.info, t.info);
                found.differ(&class, example);
            }
        }
    }
}

/// Every capture under `dir`, by path.
fn captures(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read the captures' directory").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng" | "cap" | "dmp")
            ) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn trace_read_gives_tsharks_info_on_public_captures() {
    let required = std::env::var_os("ECO_REQUIRE_TOOLS").is_some();
    let Some(dir) = std::env::var_os("ECO_CAPTURES").map(PathBuf::from) else {
        assert!(!required, "set ECO_CAPTURES to the captures' directory (ECO_REQUIRE_TOOLS is set)");
        eprintln!("skipped: ECO_CAPTURES is not set");
        return;
    };
    if Command::new("tshark").arg("--version").output().is_err() {
        assert!(!required, "tshark is needed (ECO_REQUIRE_TOOLS is set)");
        eprintln!("skipped: no tshark");
        return;
    }
    // The profile, in a configuration directory of this run's own.
    let profile = tshark::Profile::new(&dir.join("tcponly_disabled_protos.txt"));
    let files = captures(&dir);
    assert!(!files.is_empty(), "no captures under {}", dir.display());
    let found = Mutex::new(Findings::default());
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).min(4);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some(file) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let name = file.strip_prefix(&dir).unwrap_or(file).display().to_string();
                    compare(&name, file, &profile, &found);
                }
            });
        }
    });
    let found = found.into_inner().unwrap();
    let rate = found.tcp_same as f64 / found.tcp.max(1) as f64;
    let mut report = format!(
        "eco trace --read vs tshark -C tcponly on {}: {} files ({} that tshark cannot read), {} frames; \
         TCP Info identical on {} of {} frames: {:.3} %\n",
        dir.display(),
        found.files,
        found.tshark_refused,
        found.frames,
        found.tcp_same,
        found.tcp,
        rate * 100.0
    );
    for (class, (count, examples)) in &found.classes {
        report += &format!("  {count} differ in {class}\n");
        for example in examples {
            report += &format!("    {example}\n");
        }
    }
    for failure in found.fatal.iter().take(20) {
        report += &format!("  FAIL {failure}\n");
    }
    // Shown on failure; kept for CI (and people) to read either way.
    eprint!("{report}");
    let _ = std::fs::write(Path::new(env!("CARGO_TARGET_TMPDIR")).join("corpus-report.txt"), &report);
    assert!(found.fatal.is_empty(), "{} refused files, crashes or time differences", found.fatal.len());
    assert!(
        rate >= REQUIRED,
        "TCP Info identical on {:.3} % of frames, below {} %",
        rate * 100.0,
        REQUIRED * 100.0
    );
}

#[test]
fn tshark_times_read_as_tshark_means_them() {
    assert_eq!(tshark_seconds("0.000001000"), Some(0.000001));
    assert_eq!(tshark_seconds("1.1147483649"), Some(1.1147483649));
    assert_eq!(tshark_seconds("-1.500000000"), Some(-1.5));
    assert_eq!(tshark_seconds(""), None);
}
