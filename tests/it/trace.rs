//! `eco trace`: live captures checked against tshark, the exercise's
//! layout, loss in a network namespace, IPv6, running unprivileged, golden
//! pcaps, and `--attach`.

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::*;

/// One row of eco's table.
#[derive(Debug)]
struct Row {
    no: usize,
    length: u32,
    info: String,
}

/// The frame rows of eco's output (not the header, events or phases).
fn rows(stdout: &str) -> Vec<Row> {
    stdout
        .lines()
        .filter_map(|line| {
            // No., Time, Source, Destination, Protocol, Length, then Info
            // (which has spaces of its own): split off the first six.
            let mut rest = line.trim_start();
            let mut cols = Vec::new();
            for _ in 0..6 {
                let end = rest.find(' ')?;
                cols.push(&rest[..end]);
                rest = rest[end..].trim_start();
            }
            Some(Row { no: cols[0].parse().ok()?, length: cols[5].parse().ok()?, info: rest.to_string() })
        })
        .collect()
}

/// Lines of stdout that start with `[` and a frame number: the phase notes.
fn phases(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.starts_with("[1") || l.starts_with("[4") || l.starts_with("[8"))
        .map(String::from)
        .collect()
}

/// A directory for one test's files, removed when the test ends.
fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("eco-test-").tempdir().unwrap()
}

/// `eco trace ARGS --pcap F`, then every row against tshark's reading of F.
fn trace_matches_tshark(args: &[&str]) -> (Output, Vec<Row>) {
    let dir = scratch();
    let pcap = dir.path().join("trace.pcap");
    let mut all = vec!["trace", "--lang", "en", "--pcap", pcap.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = eco_output(&all);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows = rows(&text(&out.stdout));
    let Some(tshark_path) = tool("tshark") else { return (out, rows) };
    let fields = [
        "frame.number",
        "frame.len",
        "tcp.srcport",
        "tcp.dstport",
        "tcp.flags",
        "tcp.seq",
        "tcp.ack",
        "tcp.len",
        "_ws.col.Info",
    ];
    let theirs = tshark_fields(&tshark_path, &pcap, "frame,eth,ip,ipv6,tcp", &fields);
    assert_eq!(rows.len(), theirs.len(), "frame count; eco:\n{}", text(&out.stdout));
    for (ours, theirs) in rows.iter().zip(&theirs) {
        assert_eq!(ours.no.to_string(), theirs[0]);
        assert_eq!(ours.length.to_string(), theirs[1]);
        assert_eq!(ours.info, theirs[8], "Info of frame {}", ours.no);
        // The Info text carries ports, flags, seq, ack and len; check that
        // tshark's separate fields say the same.
        let ports = format!("{} → {} ", theirs[2], theirs[3]);
        assert!(ours.info.contains(&ports), "{} vs {ports}", ours.info);
        assert_eq!(
            flags_of(&ours.info),
            u16::from_str_radix(theirs[4].trim_start_matches("0x"), 16).unwrap()
        );
        assert_eq!(field(&ours.info, "Seq="), theirs[5]);
        // Without the ACK flag Info shows no Ack=; tshark's field says 0.
        let ack = field(&ours.info, "Ack=");
        assert_eq!(if ack.is_empty() { "0" } else { &ack }, theirs[6]);
        assert_eq!(field(&ours.info, "Len="), theirs[7]);
    }
    (out, rows)
}

/// The value after `key` in an Info text ("" when absent, as tshark's empty field).
fn field(info: &str, key: &str) -> String {
    info.split(' ').find_map(|w| w.strip_prefix(key)).unwrap_or("").to_string()
}

/// The flag bits named in the `[...]` of an Info text.
fn flags_of(info: &str) -> u16 {
    let start = info.find(" [").unwrap() + 2;
    let end = start + info[start..].find(']').unwrap();
    info[start..end]
        .split(", ")
        .map(|name| match name {
            "FIN" => 0x01,
            "SYN" => 0x02,
            "RST" => 0x04,
            "PSH" => 0x08,
            "ACK" => 0x10,
            "URG" => 0x20,
            "ECE" => 0x40,
            "CWR" => 0x80,
            other => panic!("flag {other}"),
        })
        .sum()
}

/// The flags of each row, as `[...]` text.
fn flag_lists(rows: &[Row]) -> Vec<String> {
    rows.iter()
        .map(|r| {
            let start = r.info.find(" [").unwrap() + 1;
            let end = start + r.info[start..].find(']').unwrap() + 1;
            let len = field(&r.info, "Len=");
            if len == "0" {
                r.info[start..end].to_string()
            } else {
                format!("{} ({len})", &r.info[start..end])
            }
        })
        .collect()
}

#[test]
fn every_row_matches_tshark_for_a_live_trace_in_each_mode() {
    if !root() {
        return;
    }
    for mode in ["single", "threads", "async", "uring"] {
        if mode == "uring" && !crate::support::uring_works() {
            continue;
        }
        let (_, rows) = trace_matches_tshark(&["--mode", mode]);
        assert_eq!(rows.len(), 10, "mode {mode}");
    }
}

#[test]
fn the_exercise_layout_is_eleven_frames_in_three_phases() {
    if !root() {
        return;
    }
    let (out, rows) = trace_matches_tshark(&["--ack-fin-apart"]);
    assert_eq!(
        flag_lists(&rows),
        [
            "[SYN]",
            "[SYN, ACK]",
            "[ACK]",
            "[PSH, ACK] (55)",
            "[ACK]",
            "[PSH, ACK] (55)",
            "[ACK]",
            "[FIN, ACK]",
            "[ACK]",
            "[FIN, ACK]",
            "[ACK]",
        ]
    );
    let stdout = text(&out.stdout);
    let phases = phases(&stdout);
    assert_eq!(phases.len(), 3, "{stdout}");
    assert!(phases[0].starts_with("[1, 2, 3]: Three-way handshake"), "{}", phases[0]);
    assert!(
        phases[1]
            .starts_with("[4, 5, 6, 7]: Data and ACKs: the client sent 55 bytes, the server echoed 55 bytes")
    );
    assert!(phases[2].starts_with("[8, 9, 10, 11]: Four-way close: the client's FIN, the server's ACK"));
}

#[test]
fn linux_default_close_is_three_segments_and_the_table_says_why() {
    if !root() {
        return;
    }
    let (out, rows) = trace_matches_tshark(&[]);
    assert_eq!(flag_lists(&rows)[7..], ["[FIN, ACK]", "[FIN, ACK]", "[ACK]"]);
    let stdout = text(&out.stdout);
    assert!(phases(&stdout)[2].starts_with("[8, 9, 10]: Close in three segments"), "{stdout}");
    // The client's calls sit between the packets they cause.
    let lines: Vec<&str> = stdout.lines().collect();
    let at = |needle: &str| lines.iter().position(|l| l.contains(needle)).expect(needle);
    assert!(at("connect() called") < at("[SYN]"));
    // ... a few microseconds before it (the Time column counts from frame 1).
    let called: Vec<&str> = lines[at("connect() called")].split_whitespace().collect();
    let seconds: f64 = called[1].parse().unwrap();
    assert!((-0.5..0.0).contains(&seconds), "{}", lines[at("connect() called")]);
    assert!(at("connect() returned") > at("[SYN, ACK]"));
    assert!(at("close() called") < at("[FIN, ACK]"));
    assert!(stdout.contains("── TCP_INFO of the client socket, before close() ──"));
    assert!(stdout.contains("retransmissions 0, segments sent"), "{stdout}");
}

#[test]
fn ipv6_is_traced_like_ipv4() {
    if !root() {
        return;
    }
    let (out, rows) = trace_matches_tshark(&["--host", "::1", "--mode", "async"]);
    assert_eq!(rows.len(), 10);
    assert!(rows[0].info.contains("MSS=65476"), "{}", rows[0].info);
    let stdout = text(&out.stdout);
    assert!(stdout.lines().next().unwrap().starts_with("── packets on lo: [::1]:"), "{stdout}");
    let first_row = stdout.lines().find(|l| l.trim_start().starts_with("1 ")).unwrap();
    assert_eq!(first_row.split_whitespace().nth(2), Some("::1"));
}

#[test]
fn portuguese_table_and_phases() {
    if !root() {
        return;
    }
    let out = eco_output(&["trace", "--lang", "pt", "--ack-fin-apart"]);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    assert!(stdout.lines().nth(1).unwrap().trim_start().starts_with("Nº  Tempo"), "{stdout}");
    assert!(stdout.contains("[8, 9, 10, 11]: Encerramento em quatro vias"), "{stdout}");
    assert!(stdout.contains("cliente: connect() retornou"), "{stdout}");
}

/// Runs `eco trace ARGS` inside a new network namespace whose `lo` drops
/// packets as `rule` says (nftables, input hook).
fn trace_with_loss(rule: &str, args: &[&str]) -> Option<(Output, Vec<Row>)> {
    let ns = Namespace::new(&format!("trace{}", args.len()), rule)?;
    let tshark_path = tool("tshark")?;
    let dir = scratch();
    let pcap = dir.path().join(format!("{}.pcap", ns.name));
    let out = ns.eco().args(["trace", "--lang", "en", "--pcap"]).arg(&pcap).args(args).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows = rows(&text(&out.stdout));
    let theirs = tshark_fields(&tshark_path, &pcap, "frame,eth,ip,ipv6,tcp", &["_ws.col.Info"]);
    let ours: Vec<&str> = rows.iter().map(|r| r.info.as_str()).collect();
    let theirs: Vec<&str> = theirs.iter().map(|f| f[0].as_str()).collect();
    assert_eq!(ours, theirs);
    Some((out, rows))
}

#[test]
fn a_dropped_data_segment_shows_as_a_retransmission_and_the_echo_is_still_exact() {
    // Every other PSH segment is dropped once: the client's data, then the
    // server's echo, each arrive on the second try.
    let Some((out, rows)) = trace_with_loss("tcp flags & psh == psh numgen inc mod 2 == 0 drop", &[]) else {
        return;
    };
    let retransmissions: Vec<&Row> =
        rows.iter().filter(|r| r.info.starts_with("[TCP Retransmission] ")).collect();
    assert_eq!(retransmissions.len(), 2, "{}", text(&out.stdout));
    for row in retransmissions {
        assert!(row.info.contains("[PSH, ACK]") && row.info.contains("Len=55"), "{}", row.info);
    }
    // eco trace exits 0 only when the echo was byte-exact.
    let stdout = text(&out.stdout);
    assert!(stdout.contains("client: recv() got the 55-byte echo"));
    assert!(
        stdout.contains(
            "2 segments were lost (or late) and sent again (retransmission); each byte counts once"
        ),
        "{stdout}"
    );
}

#[test]
fn random_loss_with_a_long_message_still_matches_tshark() {
    let message = "e".repeat(20_000);
    trace_with_loss("numgen random mod 8 == 0 drop", &["--mode", "async", "--message", &message]);
}

#[test]
fn unprivileged_user_captures_in_its_own_namespace_or_is_told_what_to_do() {
    if !root() {
        return;
    }
    let as_nobody = |env: &[(&str, &str)]| {
        let (mut cmd, _dir) = eco_as_nobody(&["trace", "--lang", "en"]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let out = as_nobody(&[]);
    let stdout = text(&out.stdout);
    if rows(&stdout).is_empty() {
        // This system forbids unprivileged user namespaces.
        assert_eq!(out.status.code(), Some(1), "{stdout}");
        assert!(text(&out.stderr).contains("sudo eco trace"), "{}", text(&out.stderr));
    } else {
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(rows(&stdout).len(), 10, "{stdout}");
    }
    // Without the namespace: the application level and TCP_INFO, and a
    // message that says what to do. Never a panic or a raw OS error.
    let out = as_nobody(&[("ECO_TRACE_NAMESPACE", "0")]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(rows(&stdout).is_empty());
    assert!(stdout.contains("client: recv() got the 55-byte echo"), "{stdout}");
    assert!(stdout.contains("── TCP_INFO of the client socket, before close() ──"), "{stdout}");
    assert_eq!(
        text(&out.stderr),
        "eco: packets were not captured (ECO_TRACE_NAMESPACE=0): run `sudo eco trace`, or once \
         `sudo setcap cap_net_raw+ep \"$(command -v eco)\"`\n"
    );
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

#[test]
fn golden_pcaps_decode_to_tsharks_info_lines() {
    // truncated.pcap: cut at 60 bytes, so inside the TCP options.
    for name in [
        "exercise-11.pcap",
        "linux-10.pcap",
        "ipv6.pcapng",
        "loss.pcap",
        "random-loss.pcap",
        "truncated.pcap",
    ] {
        let out = eco_output(&["trace", "--lang", "en", "--read", fixture(name).to_str().unwrap()]);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        let ours: Vec<String> = rows(&text(&out.stdout)).into_iter().map(|r| r.info).collect();
        let stem = name.rsplit_once('.').unwrap().0;
        let expected = std::fs::read_to_string(fixture(&format!("{stem}.info"))).unwrap();
        let theirs: Vec<&str> = expected.lines().collect();
        assert_eq!(ours, theirs, "{name}");
    }
}

#[test]
fn the_golden_exercise_capture_has_the_exercises_phases() {
    let out = eco_output(&["trace", "--lang", "pt", "--read", fixture("exercise-11.pcap").to_str().unwrap()]);
    let phases = phases(&text(&out.stdout));
    assert_eq!(phases.len(), 3);
    assert!(phases[0].starts_with("[1, 2, 3]: Three-way handshake"));
    assert!(phases[1].starts_with("[4, 5, 6, 7]: Dados e ACKs"));
    assert!(phases[2].starts_with("[8, 9, 10, 11]: Encerramento em quatro vias"));
}

#[test]
fn a_file_that_is_not_a_capture_is_a_clear_error() {
    let dir = scratch();
    let path = dir.path().join("not-a.pcap");
    std::fs::write(&path, b"hello, this is not a capture file at all").unwrap();
    let out = eco_output(&["trace", "--lang", "en", "--read", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(&format!("eco: cannot read {} as pcap or pcapng: ", path.display())),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1);
}

#[test]
fn a_host_off_loopback_is_a_usage_error() {
    let out = eco_output(&["trace", "--lang", "en", "--host", "192.0.2.1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("needs a loopback address, not 192.0.2.1"), "{}", text(&out.stderr));
}

/// `eco trace --attach` on `server`'s port, once it says it is watching
/// (connections before that are missed); its stderr has been read.
fn watch(server: &Server, args: &[&str]) -> std::process::Child {
    let mut watcher = eco()
        .args(["trace", "--lang", "en", "--attach", "--port", &server.port()])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(watcher.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
    assert!(line.starts_with("eco: watching TCP port "), "{line}");
    watcher
}

#[test]
fn attach_shows_each_connection_to_a_running_server() {
    if !root() {
        return;
    }
    let server = Server::start(&["--mode", "threads"]);
    let watcher = watch(&server, &["--count", "2"]);
    for message in ["one", "two"] {
        let out = eco_output(&["client", "--port", &server.port(), "-m", message]);
        assert!(out.status.success());
    }
    let start = Instant::now();
    let out = wait_output(watcher);
    assert!(out.status.success());
    assert!(start.elapsed() < Duration::from_secs(10));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.matches("── connection 127.0.0.1:").count(), 2, "{stdout}");
    let rows = rows(&stdout);
    assert_eq!(rows.len(), 20, "{stdout}");
    assert!(rows[3].info.contains("Len=3"), "{}", rows[3].info);
}

/// `eco trace --attach | head`: once the reader of stdout has gone, the
/// watcher stops (at its next line) and exits 0, as any Unix filter does.
/// It used to go on capturing.
#[test]
fn attach_stops_when_its_reader_has_gone() {
    if !root() {
        return;
    }
    let server = Server::start(&["--mode", "threads"]);
    let mut watcher = watch(&server, &[]);
    // The reader reads one line, then goes (as `head -1` does).
    let mut stdout = std::io::BufReader::new(watcher.stdout.take().unwrap());
    assert!(eco_output(&["client", "--port", &server.port(), "-m", "one"]).status.success());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
    assert!(first.starts_with("── connection 127.0.0.1:"), "{first}");
    drop(stdout);
    // The next connection's lines meet a closed pipe.
    assert!(eco_output(&["client", "--port", &server.port(), "-m", "two"]).status.success());
    let status = (0..200).find_map(|_| {
        thread::sleep(Duration::from_millis(50));
        watcher.try_wait().unwrap()
    });
    let _ = watcher.kill();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "still capturing after its reader left");
}

/// `eco trace --json` for eco's own exchange: JSON Lines a script can read
/// (jq-style): the frames with the client's calls between them in time
/// order, the connection with its phases (the data phase an echo), then
/// TCP_INFO.
#[test]
fn a_live_trace_in_json_lines() {
    if !root() {
        return;
    }
    let out = eco_output(&["trace", "--json", "--lang", "en"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let objects: Vec<serde_json::Value> =
        text(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("every line is JSON")).collect();
    let frames: Vec<&serde_json::Value> = objects.iter().filter(|o| o.get("number").is_some()).collect();
    assert_eq!(frames.len(), 10, "{objects:?}");
    assert_eq!(frames[0]["tcp"]["flags"], serde_json::json!(["SYN"]));
    let message_len = "Olá Servidor, meu nome é Cliente e sou o único aqui.".len();
    assert!(frames[3]["info"].as_str().unwrap().contains(&format!(" Len={message_len} ")), "{}", frames[3]);
    let first_event = objects.iter().position(|o| o.get("event").is_some()).unwrap();
    assert_eq!(first_event, 0, "connect() is called before the SYN: {objects:?}");
    assert!(objects[0]["event"]["text"].as_str().unwrap().starts_with("client: connect() called"));
    let connection = objects.iter().find(|o| o.get("connection").is_some()).unwrap();
    let phases = connection["connection"]["phases"].as_array().unwrap();
    assert_eq!(
        phases.iter().map(|p| p["phase"].as_str().unwrap()).collect::<Vec<_>>(),
        ["handshake", "data", "close"]
    );
    assert_eq!(phases[1]["echo"], true);
    assert_eq!(phases[1]["client_bytes"], 55);
    assert!(objects.last().unwrap().get("tcp_info").is_some());
}

/// `eco trace --tls`: an echo over TLS. Each frame's TLS records are named
/// as tshark's TLS dissector names them (Client Hello, Server Hello, Change
/// Cipher Spec, Application Data), TCP's own Info is still tshark's, and
/// TLS's handshake is a phase of its own between TCP's and the data.
#[test]
fn tls_echo_records_are_named_as_tshark_names_them() {
    if !root() {
        return;
    }
    let Some(tshark_path) = tool("tshark") else { return };
    let dir = scratch();
    let pcap = dir.path().join("tls.pcap");
    let out = eco_output(&["trace", "--tls", "--lang", "en", "--json", "--pcap", pcap.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> =
        text(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let frames: Vec<&serde_json::Value> = lines.iter().filter(|o| o.get("number").is_some()).collect();
    let port = frames[0]["tcp"]["dstport"].as_u64().unwrap().to_string();
    let tcp_only = tshark_fields(&tshark_path, &pcap, "frame,eth,ip,ipv6,tcp", &["_ws.col.Info"]);
    assert_eq!(frames.len(), tcp_only.len());
    for (ours, theirs) in frames.iter().zip(&tcp_only) {
        // (tshark's TLS heuristics name TLS frames even with the TLS
        // dissector off: those are compared below.)
        if theirs[0].contains(" → ") {
            assert_eq!(ours["info"], theirs[0].as_str(), "TCP's own Info of frame {}", ours["number"]);
        }
    }
    let full = std::process::Command::new(&tshark_path)
        .arg("-r")
        .arg(&pcap)
        .args([
            "-d",
            &format!("tcp.port=={port},tls"),
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "_ws.col.Info",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .unwrap();
    let mut named = 0;
    for line in text(&full.stdout).lines() {
        let (number, info) = line.split_once('\t').unwrap();
        let ours = frames.iter().find(|f| f["number"].as_u64() == number.parse().ok()).unwrap();
        let has_records = !info.contains(" → ");
        if has_records {
            named += 1;
            assert_eq!(ours["tcp"]["tls"], info, "frame {number}");
        } else if !info.contains("[TCP") && !info.contains("reassembled") {
            // (A segment tshark's TCP analysis tags, or holds for
            // reassembly, shows TCP's Info in tshark's column.)
            assert!(ours["tcp"].get("tls").is_none(), "frame {number}: {} vs tshark's {info}", ours["tcp"]);
        }
    }
    assert!(named >= 6, "hello, server hello, client finished, echo both ways, close_notify: {named}");
    let first = frames.iter().find_map(|f| f["tcp"]["tls"].as_str()).unwrap();
    assert_eq!(first, "Client Hello");
    let table = eco_output(&["trace", "--tls", "--lang", "en"]);
    let shown = text(&table.stdout);
    assert!(shown.contains("TLS: Server Hello, Change Cipher Spec"), "{shown}");
    assert!(shown.contains(": TLS handshake, on top of TCP's (Client Hello; Server Hello"), "{shown}");
    assert!(shown.contains("┄ TLS handshake ┄"), "{shown}");
    assert!(shown.contains("client: TLS handshake done"), "{shown}");
}
