//! `eco lab`: each lab run as root and as user `nobody` (eco makes its
//! namespace either way), its point asserted in the packets it wrote to
//! `--pcap`, read back by tshark: the lab's own narration is not taken on
//! trust.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
        tshark_fields(&tshark, &self.pcap, "frame,eth,ip,ipv6,tcp,udp", fields)
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
        text(&out.stderr).contains("has no variation \"fast\": its variation is slow-close"),
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

/// tshark's `field` of each frame, parsed as a number (NaN when empty).
fn numbers(run: &LabRun, field: &str) -> Vec<f64> {
    run.fields(&[field]).iter().map(|f| f[0].parse::<f64>().unwrap_or(f64::NAN)).collect()
}

/// Nothing listening: RST, ACK at once. A firewall that drops: the same
/// SYN three times, 1 s then 2 s apart (×2), or 1 s apart with the
/// kernel's linear timeouts (Linux 6.7+).
#[test]
fn refused_is_a_reset_at_once_and_a_dropped_syn_is_sent_again_after_1_then_2_seconds() {
    // Both variations at once: each mostly waits.
    std::thread::scope(|scope| {
        for (args, second_gap) in [(&[][..], 2.0), (&["--try", "linear"][..], 1.0)] {
            scope.spawn(move || {
                both("refused-vs-timeout", args, |run| {
                    let fields = run.fields(&["frame.time_relative", "tcp.dstport", "tcp.flags"]);
                    let time = |i: usize| fields[i][0].parse::<f64>().unwrap();
                    assert_eq!(flags(run)[1], RST | ACK);
                    assert!(time(1) - time(0) < 0.01, "the RST took {} s", time(1) - time(0));
                    let syns: Vec<f64> =
                        (2..fields.len()).filter(|&i| fields[i][1] == "5051").map(time).collect();
                    assert_eq!(syns.len(), fields.len() - 2, "{}", run.stdout);
                    assert!(syns.len() >= 3, "{}", run.stdout);
                    assert!((syns[1] - syns[0] - 1.0).abs() < 0.3, "{syns:?}");
                    assert!((syns[2] - syns[1] - second_gap).abs() < 0.3, "{syns:?}");
                    assert!(run.stdout.contains("ETIMEDOUT (Connection timed out)"), "{}", run.stdout);
                    // SYNs nobody answered are no handshake.
                    assert!(
                        run.stdout.contains(&format!("No answer: {} SYNs and nothing came back", syns.len())),
                        "{}",
                        run.stdout
                    );
                    assert_eq!(run.stdout.matches("Three-way handshake").count(), 0, "{}", run.stdout);
                })
            });
        }
    });
}

/// Half-close: the echo after the client's FIN. Close with unread data:
/// the server's RST and no FIN from it. SO_LINGER 0: RST, no FIN at all.
#[test]
fn closing_half_close_echoes_after_the_fin_and_unread_data_or_linger_zero_reset() {
    both("closing", &[], |run| {
        let fields = run.fields(&["tcp.stream", "tcp.srcport", "tcp.flags", "tcp.len"]);
        let of = |stream: &str| -> Vec<(bool, u16, u32)> {
            fields
                .iter()
                .filter(|f| f[0] == stream)
                .map(|f| {
                    let flags = u16::from_str_radix(f[2].trim_start_matches("0x"), 16).unwrap();
                    (f[1] == "5050", flags, f[3].parse().unwrap())
                })
                .collect()
        };
        let first = of("0");
        let client_fin = first.iter().position(|(server, f, _)| !server && f & FIN != 0).unwrap();
        let echo = first.iter().position(|(server, _, len)| *server && *len > 0).unwrap();
        assert!(client_fin < echo, "{first:?}");
        let second = of("1");
        assert!(second.iter().any(|(server, f, _)| *server && f & RST != 0), "{second:?}");
        assert!(!second.iter().any(|(server, f, _)| *server && f & FIN != 0), "{second:?}");
        let third = of("2");
        assert!(third.iter().any(|(server, f, _)| !server && f & RST != 0), "{third:?}");
        assert!(!third.iter().any(|(_, f, _)| f & FIN != 0), "{third:?}");
        assert!(
            run.stdout.contains("client: recv(1024) → ECONNRESET (Connection reset by peer)"),
            "{}",
            run.stdout
        );
        assert!(
            run.stdout.contains("client: setsockopt(SO_LINGER, {l_onoff=1, l_linger=0}) → 0"),
            "{}",
            run.stdout
        );
    });
}

/// One segment of 3000 bytes read as 1024 + 1024 + 952; two sends read
/// as one; UDP datagrams of 100 and 3000 bytes read as 100 and 1024.
#[test]
fn byte_stream_reads_are_not_messages_and_udp_truncates() {
    both("byte-stream", &[], |run| {
        let lens = numbers(run, "tcp.len");
        assert!(lens.contains(&3000.0), "{lens:?}");
        let udp = numbers(run, "udp.length");
        let udp: Vec<f64> = udp.into_iter().filter(|l| !l.is_nan()).collect();
        assert_eq!(udp, [108.0, 3008.0]);
        for bytes in [1024, 952, 14] {
            let read = format!("server: recv(1024) returned {bytes} bytes");
            assert!(run.stdout.contains(&read), "{read}: {}", run.stdout);
        }
        assert!(run.stdout.contains("server: recvfrom(1024) returned 100 bytes"), "{}", run.stdout);
        assert!(run.stdout.contains("server: recvfrom(1024) returned 1024 bytes"), "{}", run.stdout);
    });
}

/// The gap between a request's two 100-byte pieces: ≥ 35 ms (the delayed
/// ACK) with Nagle, < 5 ms with TCP_NODELAY.
#[test]
fn nagle_stalls_forty_milliseconds_and_nodelay_does_not() {
    // Each request's gap between its two pieces, sorted.
    let gaps = |run: &LabRun| {
        let fields = run.fields(&["frame.time_relative", "tcp.srcport", "tcp.len"]);
        let pieces: Vec<f64> = fields
            .iter()
            .filter(|f| f[1] != "5050" && f[2] == "100")
            .map(|f| f[0].parse().unwrap())
            .collect();
        assert_eq!(pieces.len(), 12, "{}", run.stdout);
        let mut gaps: Vec<f64> = pieces.chunks(2).map(|c| c[1] - c[0]).collect();
        gaps.sort_by(f64::total_cmp);
        gaps
    };
    both("nagle-delayed-ack", &[], |run| {
        let gaps = gaps(run);
        assert!(gaps[5] >= 0.035, "{gaps:?}");
    });
    // Without Nagle: no stall, and the typical gap (the median: a busy
    // machine may delay one write) under 5 ms.
    both("nagle-delayed-ack", &["--try", "nodelay"], |run| {
        let gaps = gaps(run);
        assert!(gaps[5] < 0.035 && gaps[3] < 0.005, "{gaps:?}");
        assert!(run.stdout.contains("client: setsockopt(TCP_NODELAY, 1) → 0"), "{}", run.stdout);
    });
}

/// The server closes first; its restart cannot bind (EADDRINUSE), even
/// with SO_REUSEADDR on the new socket alone; set from the start, it can.
#[test]
fn time_wait_blocks_the_restart_unless_reuseaddr_was_set_from_the_start() {
    both("time-wait", &[], |run| {
        let fields = run.fields(&["tcp.srcport", "tcp.flags"]);
        let fin = fields
            .iter()
            .find(|f| u16::from_str_radix(f[1].trim_start_matches("0x"), 16).unwrap() & FIN != 0);
        assert_eq!(fin.unwrap()[0], "5050");
        assert_eq!(run.stdout.matches("bind(127.0.0.1:5050) → EADDRINUSE").count(), 2, "{}", run.stdout);
        assert!(run.stdout.contains("TIME-WAIT 127.0.0.1:5050 127.0.0.1:"), "{}", run.stdout);
    });
    both("time-wait", &["--try", "reuseaddr"], |run| {
        let streams = run.fields(&["tcp.stream", "tcp.srcport", "tcp.len"]);
        for stream in ["0", "1"] {
            assert!(
                streams.iter().any(|f| f[0] == stream && f[1] == "5050" && f[2] != "0"),
                "{}",
                run.stdout
            );
        }
        assert!(!run.stdout.contains("EADDRINUSE"), "{}", run.stdout);
    });
}

/// Client 2's handshake and data are acknowledged at once, its echo comes
/// only after client 1 leaves; client 3's SYN is sent more than once.
#[test]
fn backlog_the_kernel_accepts_while_the_program_is_busy() {
    both("backlog", &[], |run| {
        let fields =
            run.fields(&["frame.time_relative", "tcp.stream", "tcp.srcport", "tcp.flags", "tcp.len"]);
        let second: Vec<&Vec<String>> = fields.iter().filter(|f| f[1] == "1").collect();
        let time = |f: &Vec<String>| f[0].parse::<f64>().unwrap();
        let data = second.iter().find(|f| f[2] != "5050" && f[4] != "0").unwrap();
        let acked = second.iter().find(|f| f[2] == "5050" && f[4] == "0" && time(f) >= time(data)).unwrap();
        let echo = second.iter().find(|f| f[2] == "5050" && f[4] != "0").unwrap();
        assert!(time(acked) - time(data) < 0.1, "{second:?}");
        assert!(time(echo) - time(data) > 1.0, "{second:?}");
        let syns = fields.iter().filter(|f| f[1] == "2" && f[3] == "0x0002").count();
        assert!(syns >= 2, "{}", run.stdout);
    });
}

/// Probes answered while the server is there; unanswered once it
/// vanished; then the client's RST, and its recv() fails with ETIMEDOUT.
#[test]
fn keepalive_probes_then_a_vanished_peer_times_out() {
    both("keepalive", &[], |run| {
        let fields = run.fields(&["tcp.srcport", "tcp.analysis.keep_alive", "tcp.flags"]);
        let probes = fields.iter().filter(|f| f[0] != "5050" && !f[1].is_empty()).count();
        assert!(probes >= 4, "{}", run.stdout);
        let last = fields.last().unwrap();
        assert!(
            last[0] != "5050"
                && u16::from_str_radix(last[2].trim_start_matches("0x"), 16).unwrap() & RST != 0
        );
        assert!(run.stdout.contains("client: recv(16) → ETIMEDOUT"), "{}", run.stdout);
    });
}

/// `--step` in a terminal: one question per frame after the first, and
/// nothing of the next frame before Enter.
#[test]
fn step_reveals_one_frame_per_enter() {
    let (Some(python), true) = (tool("python3"), root()) else { return };
    let out = Command::new(python)
        .arg(python_script("step_through.py"))
        .arg(eco_bin())
        .args(["--lang", "pt", "lab", "handshake-and-close", "--step"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let output = report["output"].as_str().unwrap();
    assert_eq!(report["status"], 0, "{output}");
    assert_eq!(report["prompts"], 9, "{output}");
    assert_eq!(report["leaked"], 0, "{output}");
    assert!(
        output.contains("── quadro 2 de 10: quem responde a um SYN, e com o quê? (Enter) ──"),
        "{output}"
    );
    assert!(output.contains("── o que aconteceu ──"), "{output}");
    // Ctrl-C at the third question: the lab ends there, 130, as an
    // interrupted run does (it used to wait for Enter whatever came).
    let out = Command::new("python3")
        .arg(python_script("step_through.py"))
        .args(["--interrupt-at", "3"])
        .arg(eco_bin())
        .args(["lab", "handshake-and-close", "--step"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let output = report["output"].as_str().unwrap();
    assert_eq!(report["status"], 130, "{output}");
    assert_eq!(report["prompts"], 3, "{output}");
    assert!(!output.contains("── what happened ──"), "{output}");
}

/// The worksheet's answers are tshark's fields of the same capture.
#[test]
fn worksheet_answers_match_tshark() {
    let Some(run) = lab("handshake-and-close", &["--worksheet", "--answers"], true) else { return };
    if tool("tshark").is_none() {
        return;
    }
    let out = &run.stdout;
    let fields = run.fields(&[
        "tcp.seq_raw",
        "tcp.ack_raw",
        "tcp.seq",
        "tcp.len",
        "tcp.window_size_value",
        "tcp.options.wscale.shift",
        "tcp.analysis.acks_frame",
        "tcp.analysis.ack_rtt",
        "tcp.srcport",
        "tcp.flags.fin",
    ]);
    assert!(out.contains(&format!("   → {} (frame 1)", fields[0][0])), "{out}");
    assert!(out.contains(&format!("   → {} (frame 2); ack {}", fields[1][0], fields[1][1])), "{out}");
    let data = fields.iter().position(|f| f[8] != "5050" && f[3] != "0").unwrap();
    let d = &fields[data];
    assert!(
        out.contains(&format!("frame {}: relative seq {}, raw {}, {} bytes", data + 1, d[2], d[0], d[3])),
        "{out}"
    );
    // Each client data segment's ACK, and tshark's RTT for it: the same
    // pairs, no more.
    let mut pairs = 0;
    for (i, f) in fields.iter().enumerate() {
        // Only the ACKs of data (tshark has the handshake's too).
        let acked: usize = match f[6].parse() {
            Ok(acked) if f[8] == "5050" => acked,
            _ => continue,
        };
        if fields[acked - 1][3] == "0" {
            continue;
        }
        let rtt: f64 = f[7].parse().unwrap();
        let line = format!("frame {} → ACK in frame {}: {:.3} ms", f[6], i + 1, rtt * 1000.0);
        assert!(out.contains(&line), "{line}: {out}");
        pairs += 1;
    }
    assert_eq!(out.matches(" → ACK in frame ").count(), pairs, "{out}");
    assert!(
        out.contains(&format!("   → {} (frame 2); window scale {}", fields[1][4], fields[1][5])),
        "{out}"
    );
    let fin = fields.iter().position(|f| f[9] == "1" || f[9] == "True").unwrap();
    assert!(out.contains(&format!("frame {}, sent by the client", fin + 1)), "{out}");
    // The students' sheet: the same questions, no answers.
    let students = eco_output(&["--lang", "en", "lab", "handshake-and-close", "--worksheet"]);
    let sheet = text(&students.stdout);
    assert!(sheet.contains("1. What is the client's initial sequence number (ISN)"), "{sheet}");
    assert!(!sheet.contains("   → "), "{sheet}");
}

/// `eco --lang pt lab --help` and the lab's usage errors in Portuguese;
/// the narration too (LANG=pt_BR.UTF-8).
#[test]
fn lab_help_usage_errors_and_narration_in_portuguese() {
    let out = eco_output(&["--lang", "pt", "lab", "--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for line in [
        "As surpresas clássicas do TCP, ao vivo e explicadas (sem NOME: a lista)",
        "Uso: eco lab [OPÇÕES] [NOME]",
        "Argumentos:",
        "Opções:",
        "--try <VARIAÇÃO>",
        "Modo sala de aula: um quadro (e as suas chamadas) a cada Enter",
        "Mostra a ajuda",
    ] {
        assert!(help.contains(line), "{line}: {help}");
    }
    for english in ["Usage:", "Options:", "Print help", "[default:", "possible values"] {
        assert!(!help.contains(english), "{english}: {help}");
    }
    let out =
        eco().args(["lab", "--answers"]).env("LANG", "pt_BR.UTF-8").env_remove("ECO_LANG").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "eco: faltam argumentos obrigatórios: --worksheet, <NOME>\nPara mais informações, tente '--help'.\n"
    );
    let out = eco_output(&["--lang", "pt", "lab", "nagle"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("eco: não existe o laboratório \"nagle\": os laboratórios são "));
    if !root() {
        return;
    }
    let out =
        eco().args(["lab", "closing"]).env("LANG", "pt_BR.UTF-8").env_remove("ECO_LANG").output().unwrap();
    let said = text(&out.stdout);
    assert!(said.contains("── o que aconteceu ──"), "{said}");
    assert!(said.contains("• Primeira conexão: shutdown(SHUT_WR) enviou o FIN do cliente"), "{said}");
    assert!(said.contains("cliente: recv(1024) → ECONNRESET"), "{said}");
}

/// `--html` of a lab: the course page opens with the narration, then the
/// diagram and the table; `--compact` keeps the table to 80 columns.
#[test]
fn a_labs_html_page_has_its_narration_and_compact_fits_80_columns() {
    let Some(run) = lab("closing", &["--compact"], true) else { return };
    for line in run.stdout.lines() {
        assert!(line.chars().count() <= 80, "{line}");
    }
    assert!(run.stdout.contains("client → server"), "{}", run.stdout);
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("page.html");
    let out = eco().args(["--lang", "en", "lab", "closing", "--html", path(&page)]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<h1>eco lab closing: shutdown(SHUT_WR) half-close"), "{html}");
    let notes = html.find("<section class=\"notes\">\n<h2>what happened</h2>").expect("the narration");
    let diagram = html.find("<svg").expect("the diagram");
    assert!(notes < diagram);
    assert!(html.contains("<li>First connection: shutdown(SHUT_WR) sent the client&apos;s FIN"), "{html}");
}

/// What would fail after a lab has run is refused before: an output in a
/// directory that does not exist, an export without a lab, a lab whose
/// firewall needs `nft` where there is none.
#[test]
fn a_labs_bad_outputs_and_missing_programs_are_told_before_it_runs() {
    let started = std::time::Instant::now();
    let out = eco_output(&["--lang", "en", "lab", "keepalive", "--pcap", "/nonexistent/dir/x.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "eco: cannot write /nonexistent/dir/x.pcap: there is no directory /nonexistent/dir: choose another file\n"
    );
    // keepalive takes 5 s when it runs.
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    let out = eco_output(&["--lang", "en", "lab", "--html", "x.html"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("eco: --html needs a lab: name one"), "{}", text(&out.stderr));
    let out = eco().args(["--lang", "pt", "lab", "loss"]).env("PATH", "/nonexistent").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .starts_with("eco: o laboratório loss precisa do programa `nft`, que não está instalado"),
        "{}",
        text(&out.stderr)
    );
}

/// The worksheet's questions on the whole capture (segments sent again,
/// duplicate ACKs, zero windows, keepalive probes, resets) name the frames
/// Wireshark's analysis flags name.
#[test]
fn worksheet_capture_questions_name_the_frames_tshark_flags() {
    let flagged = |run: &LabRun, field: &str| -> Vec<String> {
        let fields = run.fields(&["frame.number", field]);
        fields
            .iter()
            .filter(|f| !f[1].is_empty() && f[1] != "0" && f[1] != "False")
            .map(|f| f[0].clone())
            .collect()
    };
    let answer = |run: &LabRun, question: &str| -> String {
        let at = run.stdout.find(question).unwrap_or_else(|| panic!("{question}: {}", run.stdout));
        let rest = &run.stdout[at..];
        rest.lines().nth(1).unwrap_or_default().to_string()
    };
    let checks: [(&str, &[&str]); 3] = [
        (
            "loss",
            &[
                "tcp.analysis.retransmission",
                "tcp.analysis.fast_retransmission",
                "tcp.analysis.duplicate_ack",
            ],
        ),
        ("flow-control", &["tcp.analysis.zero_window"]),
        ("keepalive", &["tcp.analysis.keep_alive"]),
    ];
    std::thread::scope(|scope| {
        for (name, fields) in checks {
            scope.spawn(move || {
                let Some(run) = lab(name, &["--worksheet", "--answers"], true) else { return };
                if tool("tshark").is_none() {
                    return;
                }
                // An RTO retransmission repeats the frame tshark names
                // (tcp.analysis.rto_frame), not a bare ACK with its Seq.
                for f in run
                    .fields(&["frame.number", "tcp.analysis.rto_frame"])
                    .iter()
                    .filter(|f| !f[1].is_empty())
                {
                    let line = answer(&run, ". Which frames are a segment sent again");
                    assert!(
                        line.contains(&format!("frame {} repeats frame {}", f[0], f[1])),
                        "{name}: {line}"
                    );
                }
                for field in fields {
                    let frames = flagged(&run, field);
                    let (question, prefix) = match *field {
                        "tcp.analysis.duplicate_ack" => (". How many duplicate ACKs", "frames "),
                        "tcp.analysis.zero_window" => {
                            (". Which frames advertise a zero window", "zero window: frames ")
                        }
                        "tcp.analysis.keep_alive" => {
                            (". Which frames does Wireshark flag as keep-alive", "frame ")
                        }
                        _ => (". Which frames are a segment sent again", "frame "),
                    };
                    let line = answer(&run, question);
                    assert!(!frames.is_empty(), "{name}: no {field}");
                    for frame in &frames {
                        assert!(
                            line.contains(&format!("{prefix}{frame}"))
                                || line.contains(&format!(", {frame}")),
                            "{name}: {field} frame {frame} not in {line}"
                        );
                    }
                }
            });
        }
    });
}
