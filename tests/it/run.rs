//! `eco trace --run`: a student's own programs (Python, C), traced as
//! root and as an unprivileged user; their frames against tshark's, their
//! calls against the frames they cause or answer; exit statuses.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// The two exercise scripts, copied where user `nobody` can read them.
fn scripts(dir: &Path) -> (String, String) {
    for name in ["servidor.py", "cliente.py"] {
        std::fs::copy(example(name), dir.join(name)).unwrap();
    }
    let path = |name: &str| dir.join(name).display().to_string();
    (path("servidor.py"), path("cliente.py"))
}

fn open_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("eco-run-").tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    dir
}

/// A table row of the wide layout: number and Info.
#[derive(Debug)]
struct Frame {
    line: usize,
    no: usize,
    info: String,
}

fn frames(stdout: &str) -> Vec<Frame> {
    stdout
        .lines()
        .enumerate()
        .filter_map(|(line, text)| {
            let cells: Vec<&str> = text.split_whitespace().collect();
            let no = cells.first()?.parse().ok()?;
            // No. Time Source Destination Protocol Length Info...
            let info_at = text.find(" TCP ").map(|i| i + 5)?;
            let info = text[info_at..].trim_start().split_once("  ").map_or("", |(_, info)| info).to_string();
            Some(Frame { line, no, info })
        })
        .collect()
}

/// The line where `needle` is, exactly once.
fn line_of(stdout: &str, needle: &str) -> usize {
    let found: Vec<usize> =
        stdout.lines().enumerate().filter(|(_, l)| l.contains(needle)).map(|(i, _)| i).collect();
    assert_eq!(found.len(), 1, "{needle:?} once in:\n{stdout}");
    found[0]
}

/// Checks what every exercise run shows: the programs' own lines, each
/// call with its result, next to the frame it caused or answered.
fn check_exercise(stdout: &str, port: u16) {
    assert!(stdout.contains("servidor.py | Aguardando conexão de um cliente ..."), "{stdout}");
    assert!(
        stdout.contains("cliente.py | Mensagem ecoada: Olá Servidor, meu nome é Cliente e sou o único aqui."),
        "{stdout}"
    );
    let rows = frames(stdout);
    let row = |no: usize| rows.iter().find(|f| f.no == no).unwrap_or_else(|| panic!("frame {no}:\n{stdout}"));
    assert!(row(1).info.contains("[SYN]"), "{stdout}");
    let listen = line_of(stdout, "servidor.py: listen(");
    let bind = line_of(stdout, &format!("servidor.py: bind(127.0.0.1:{port}) → 0"));
    let connect = line_of(stdout, &format!("cliente.py: connect(127.0.0.1:{port}) → 0, SYN: frame 1"));
    assert!(bind < listen && listen < connect && connect < row(1).line, "{stdout}");
    // accept() returns once the handshake is done.
    let accept = line_of(stdout, "servidor.py: accept() → descriptor");
    assert!(accept > row(3).line, "{stdout}");
    // The message: 55 bytes in one segment, sent before it, received after.
    let data =
        rows.iter().find(|f| f.info.contains("Len=55") && f.info.contains("Seq=1 Ack=1")).expect("data");
    let send = line_of(stdout, &format!("cliente.py: send(55) → 55 bytes (frame {})", data.no));
    let recv = line_of(stdout, &format!("servidor.py: recv(1024) returned 55 bytes (frame {})", data.no));
    assert!(send < data.line && data.line < recv, "{stdout}");
    // The echo back.
    let echo = rows.iter().find(|f| f.info.contains("Len=55") && f.info.contains("Ack=56")).expect("echo");
    let sent_back = line_of(stdout, &format!("servidor.py: send(55) → 55 bytes (frame {})", echo.no));
    let got = line_of(stdout, &format!("cliente.py: recv(1024) returned 55 bytes (frame {})", echo.no));
    assert!(sent_back < echo.line && echo.line < got, "{stdout}");
    // The client's close sends the first FIN; the server's recv returns 0 after it.
    let fin = rows.iter().find(|f| f.info.contains("[FIN, ACK] Seq=56 Ack=56")).expect("client FIN");
    let close = line_of(stdout, &format!("cliente.py: close() → 0, FIN: frame {}", fin.no));
    let eof =
        line_of(stdout, &format!("servidor.py: recv(1024) returned 0: the peer's FIN (frame {})", fin.no));
    assert!(close < fin.line && fin.line < eof, "{stdout}");
    assert!(stdout.contains("servidor.py: exited with status 0"), "{stdout}");
    assert!(stdout.contains("cliente.py: exited with status 0"), "{stdout}");
}

/// `eco trace --lang en --wide [EXTRA] --run C1 --run C2 ...` as user
/// nobody (eco makes its own namespace), to its end.
fn traced_as_nobody(extra: &[&str], commands: &[String]) -> Output {
    let mut args = vec!["trace", "--lang", "en", "--wide"];
    args.extend_from_slice(extra);
    for command in commands {
        args.extend(["--run", command.as_str()]);
    }
    let (cmd, _guard) = eco_as_nobody(&args);
    finish(cmd)
}

/// Runs `cmd` to its end, at most a minute.
fn finish(mut cmd: Command) -> Output {
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    wait_output(child)
}

/// tshark's Info of each frame of `pcap`.
fn tshark_infos(tshark: &Path, pcap: &Path) -> Vec<String> {
    let out = Command::new(tshark)
        .args(["-n", "-r"])
        .arg(pcap)
        .args(["-T", "fields", "-e", "_ws.col.Info"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).lines().map(str::to_string).collect()
}

#[test]
fn a_students_python_pair_as_root_matches_a_tshark_capture_of_the_same_run() {
    let Some(ns) = Namespace::new("run", "") else { return };
    let Some(tshark) = tool("tshark") else { return };
    let dir = open_dir();
    let (server, client) = scripts(dir.path());
    // tshark captures lo in the same namespace, as a user would beside eco.
    let theirs = dir.path().join("tshark.pcapng");
    let mut capture = ns
        .command(&tshark)
        .args(["-i", "lo", "-w"])
        .arg(&theirs)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = capture.stderr.take().unwrap();
    let mut said = Vec::new();
    let start = Instant::now();
    while !String::from_utf8_lossy(&said).contains("Capturing on")
        && start.elapsed() < Duration::from_secs(30)
    {
        let mut byte = [0u8; 1];
        if std::io::Read::read(&mut err, &mut byte).unwrap_or(0) == 0 {
            break;
        }
        said.push(byte[0]);
    }
    let ours = dir.path().join("eco.pcap");
    let mut cmd = ns.eco();
    cmd.args(["trace", "--lang", "en", "--wide", "--pcap"]).arg(&ours).args([
        "--run",
        &format!("python3 {server}"),
        "--run",
        &format!("python3 {client}"),
    ]);
    let out = finish(cmd);
    // Let tshark write the last frames, then stop it as Ctrl-C would.
    std::thread::sleep(Duration::from_millis(500));
    let _ = Command::new("kill").args(["-INT", &capture.id().to_string()]).status();
    let _ = capture.wait();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    check_exercise(&stdout, 5050);
    let rows = frames(&stdout);
    let infos = tshark_infos(&tshark, &theirs);
    assert_eq!(rows.len(), infos.len(), "frames: eco\n{stdout}\ntshark\n{infos:#?}");
    for (row, info) in rows.iter().zip(&infos) {
        assert_eq!(&row.info, info, "frame {}", row.no);
    }
    // And the capture eco wrote is the same frames.
    assert_eq!(tshark_infos(&tshark, &ours), infos);
}

#[test]
fn a_students_python_pair_without_root_in_a_namespace_of_its_own() {
    if !root() || tool("setpriv").is_none() {
        return;
    }
    let Some(tshark) = tool("tshark") else { return };
    let dir = open_dir();
    let (server, client) = scripts(dir.path());
    let pcap = dir.path().join("run.pcap");
    let pcap_arg = pcap.display().to_string();
    // The port of the exercise: in eco's own namespace, it is free.
    let out = traced_as_nobody(
        &["--pcap", &pcap_arg],
        &[format!("python3 {server} 5050"), format!("python3 {client} 5050")],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    check_exercise(&stdout, 5050);
    let rows = frames(&stdout);
    let infos = tshark_infos(&tshark, &pcap);
    assert_eq!(rows.iter().map(|r| r.info.clone()).collect::<Vec<_>>(), infos);
}

#[test]
fn a_c_client_shows_its_write_and_read() {
    if !root() {
        return;
    }
    let Some(gcc) = tool("gcc") else { return };
    let dir = open_dir();
    let (server, _) = scripts(dir.path());
    let binary = dir.path().join("cliente");
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/c/cliente.c");
    let built = Command::new(gcc).arg("-O1").arg("-o").arg(&binary).arg(source).status().unwrap();
    assert!(built.success());
    let out =
        traced_as_nobody(&[], &[format!("python3 {server} 7070"), format!("{} 7070", binary.display())]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("cliente | echo: Ola, C"), "{stdout}");
    let rows = frames(&stdout);
    let data =
        rows.iter().find(|f| f.info.contains("Len=6") && f.info.contains("Seq=1 Ack=1")).expect("data");
    let write = line_of(&stdout, &format!("cliente: write(6) → 6 bytes (frame {})", data.no));
    assert!(write < data.line, "{stdout}");
    let read = line_of(&stdout, "cliente: read(1023) returned 6 bytes");
    assert!(read > data.line, "{stdout}");
    assert!(stdout.contains("cliente: connect(127.0.0.1:7070) → 0, SYN: frame 1"), "{stdout}");
}

#[test]
fn a_failing_command_gives_eco_its_exit_status() {
    if !root() {
        return;
    }
    let out = traced_as_nobody(&[], &["python3 -c 'import sys; sys.exit(3)'".into()]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("python3: exited with status 3"), "{}", text(&out.stdout));
    // A command that is not there: 127, as a shell says.
    let out = traced_as_nobody(&[], &["no-such-program-eco-test".into()]);
    assert_eq!(out.status.code(), Some(127));
    assert!(text(&out.stderr).contains("cannot run no-such-program-eco-test"), "{}", text(&out.stderr));
}

#[test]
fn a_refused_connection_is_traced_and_its_error_passed_on() {
    if !root() {
        return;
    }
    let dir = open_dir();
    let (_, client) = scripts(dir.path());
    let out = traced_as_nobody(&[], &[format!("python3 {client} 6060")]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("cliente.py: connect(127.0.0.1:6060) → ECONNREFUSED"), "{stdout}");
    assert!(stdout.contains("[RST, ACK]"), "{stdout}");
    assert!(stdout.contains("Refused: the SYN was answered with a reset"), "{stdout}");
    assert!(text(&out.stderr).contains("cliente.py | ConnectionRefusedError"), "{}", text(&out.stderr));
}

#[test]
fn a_server_left_running_is_stopped_once_the_client_is_done() {
    if !root() {
        return;
    }
    let dir = open_dir();
    let server = dir.path().join("forever.py");
    std::fs::write(
        &server,
        "import socket\ns = socket.create_server(('127.0.0.1', 5050))\nwhile True:\n    c, _ = s.accept()\n    \
         c.sendall(c.recv(100))\n    c.close()\n",
    )
    .unwrap();
    let (_, client) = scripts(dir.path());
    let started = Instant::now();
    let out = traced_as_nobody(&[], &[format!("python3 {}", server.display()), format!("python3 {client}")]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("forever.py: still running after the last command ended: stopped"), "{stdout}");
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn a_command_line_that_is_not_one_is_a_usage_error() {
    let out = eco_output(&["trace", "--lang", "en", "--run", "python3 'open"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--run \"python3 'open\" is not a command line"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn attach_without_root_says_what_works_without_root() {
    if !root() || tool("setpriv").is_none() {
        return;
    }
    let (cmd, _guard) = eco_as_nobody(&["trace", "--lang", "en", "--attach", "--port", "5050"]);
    let out = finish(cmd);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("eco trace --run 'python3 servidor.py' --run 'python3 cliente.py'"), "{stderr}");
    assert!(stderr.contains("setcap cap_net_raw+ep"), "{stderr}");
}

#[test]
fn a_udp_pair_shows_its_datagrams_beside_sendto_and_recvfrom() {
    if !root() || tool("setpriv").is_none() {
        return;
    }
    let dir = open_dir();
    let server = dir.path().join("udp_servidor.py");
    let client = dir.path().join("udp_cliente.py");
    std::fs::write(
        &server,
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('127.0.0.1', 9999))\n\
         data, addr = s.recvfrom(1024)\ns.sendto(data, addr)\n",
    )
    .unwrap();
    std::fs::write(
        &client,
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         s.sendto('olá'.encode(), ('127.0.0.1', 9999))\nprint(s.recvfrom(1024)[0].decode())\n",
    )
    .unwrap();
    let page = dir.path().join("udp.html");
    let page_arg = page.display().to_string();
    let out = traced_as_nobody(
        &["--html", &page_arg],
        &[format!("python3 {}", server.display()), format!("python3 {}", client.display())],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("udp_cliente.py | olá"), "{stdout}");
    // The page has the datagrams too, between the calls.
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("<tr id=\"f1\" class=\"frame\">") && html.contains("<tr id=\"f2\" class=\"frame\">")
    );
    // Two datagrams of 4 bytes ("olá" in UTF-8), each between its calls.
    let datagram = |port_first: bool| {
        stdout
            .lines()
            .position(|l| {
                l.contains(" UDP ") && l.contains("Len=4") && (l.contains(" → 9999 ") != port_first)
            })
            .unwrap_or_else(|| panic!("datagram:\n{stdout}"))
    };
    let (there, back) = (datagram(false), datagram(true));
    let sent = line_of(&stdout, "udp_cliente.py: sendto(4) → 4 bytes (frame 1)");
    let got = line_of(&stdout, "udp_servidor.py: recvfrom(1024) returned 4 bytes (frame 1)");
    let echoed = line_of(&stdout, "udp_servidor.py: sendto(4) → 4 bytes (frame 2)");
    let answer = line_of(&stdout, "udp_cliente.py: recvfrom(1024) returned 4 bytes (frame 2)");
    assert!(sent < there && there < got && got < echoed && echoed < back && back < answer, "{stdout}");
}

#[test]
fn a_server_deaf_to_sigterm_and_a_daemon_are_stopped_and_the_report_comes() {
    if !root() || tool("setpriv").is_none() {
        return;
    }
    let dir = open_dir();
    let deaf = dir.path().join("surdo.py");
    std::fs::write(
        &deaf,
        "import signal, socket, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n\
         s = socket.create_server(('127.0.0.1', 6011))\nwhile True:\n    time.sleep(1)\n",
    )
    .unwrap();
    // Forks twice and leaves its parent: still traced, still eco's to stop.
    let daemon = dir.path().join("daemon.py");
    std::fs::write(
        &daemon,
        "import os, socket, time\nif os.fork(): os._exit(0)\nos.setsid()\nif os.fork(): os._exit(0)\n\
         s = socket.create_server(('127.0.0.1', 6012))\nwhile True:\n    time.sleep(1)\n",
    )
    .unwrap();
    let started = Instant::now();
    let out = traced_as_nobody(
        &["--no-diagram"],
        &[format!("python3 {}", deaf.display()), format!("python3 {}", daemon.display()), "true".into()],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    assert!(stdout.contains("surdo.py: still running after the last command ended: stopped"), "{stdout}");
    assert!(stdout.contains("surdo.py: listen(128) → 0"), "{stdout}");
    assert!(stdout.contains("daemon.py: listen(128) → 0"), "{stdout}");
    let left = Command::new("pgrep").args(["-f", &dir.path().display().to_string()]).output().unwrap();
    assert!(left.stdout.is_empty(), "left running: {}", text(&left.stdout));
}

#[test]
fn each_small_send_and_recv_names_its_own_frame_and_shut_rd_sends_nothing() {
    if !root() || tool("setpriv").is_none() {
        return;
    }
    let dir = open_dir();
    let server = dir.path().join("um_a_um.py");
    std::fs::write(
        &server,
        "import socket\ns = socket.create_server(('127.0.0.1', 6013))\nc, _ = s.accept()\n\
         while c.recv(1):\n    pass\nc.close()\nd, _ = s.accept()\nd.recv(1)\n",
    )
    .unwrap();
    let data = dir.path().join("arquivo.txt");
    std::fs::write(&data, "abc").unwrap();
    let client = dir.path().join("cliente_bytes.py");
    std::fs::write(
        &client,
        format!(
            "import socket, time\ns = socket.create_connection(('127.0.0.1', 6013))\n\
             s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)\ns.shutdown(socket.SHUT_RD)\n\
             for _ in range(10):\n    s.send(b'x')\n    time.sleep(0.02)\n\
             with open('{}', 'rb') as f:\n    s.sendfile(f)\ns.close()\n\
             t = socket.create_connection(('127.0.0.1', 6013))\nt.shutdown(socket.SHUT_RD)\ntime.sleep(0.1)\n\
             import os\nos._exit(0)\n",
            data.display()
        ),
    )
    .unwrap();
    let out = traced_as_nobody(
        &["--no-diagram"],
        &[format!("python3 {}", server.display()), format!("python3 {}", client.display())],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    // Ten one-byte segments: each send names its own, and each recv(1) too.
    let frame_of = |line: &str| {
        line.rsplit("(frame ").next().and_then(|f| f.trim_end_matches(')').parse::<usize>().ok())
    };
    let sends: Vec<usize> = stdout
        .lines()
        .filter(|l| l.contains("cliente_bytes.py: send(1) → 1 byte ("))
        .filter_map(frame_of)
        .collect();
    let recvs: Vec<usize> = stdout
        .lines()
        .filter(|l| l.contains("um_a_um.py: recv(1) returned 1 byte ("))
        .filter_map(frame_of)
        .collect();
    assert_eq!(sends.len(), 10, "{stdout}");
    let mut distinct = sends.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), 10, "{stdout}");
    assert_eq!(recvs[..10], sends[..], "{stdout}");
    // sendfile() is a send; shutdown(SHUT_RD) sends nothing: the FIN is close()'s.
    assert!(stdout.contains("cliente_bytes.py: sendfile(3) → 3 bytes (frame "), "{stdout}");
    // (The second connection ends without a close(): the kernel's FIN at
    // exit is no call's, not its shutdown(SHUT_RD)'s.)
    let shut: Vec<&str> =
        stdout.lines().filter(|l| l.contains("cliente_bytes.py: shutdown(SHUT_RD)")).collect();
    assert_eq!(shut.len(), 2, "{stdout}");
    assert!(shut.iter().all(|l| l.ends_with("shutdown(SHUT_RD) → 0")), "{stdout}");
    assert!(stdout.contains("cliente_bytes.py: close() → 0, FIN: frame"), "{stdout}");
}

#[test]
fn a_dual_stack_server_keeps_its_side_and_a_close_with_unread_data_is_a_reset() {
    if !root() || tool("setpriv").is_none() {
        return;
    }
    let dir = open_dir();
    // Bound to :: (as Node.js binds by default): an IPv4 peer is named
    // ::ffff:127.0.0.1 by the socket, 127.0.0.1 by the packets.
    let server = dir.path().join("servidor_v6.py");
    std::fs::write(
        &server,
        "import socket\ns = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)\n\
         s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)\ns.bind(('::', 6014))\ns.listen()\n\
         c, _ = s.accept()\nc.recv(3)\nc.close()\n",
    )
    .unwrap();
    let client = dir.path().join("cliente_rst.py");
    std::fs::write(
        &client,
        "import socket, time\ns = socket.create_connection(('127.0.0.1', 6014))\ns.sendall(b'hello world')\n\
         time.sleep(0.3)\ntry:\n    s.recv(10)\nexcept ConnectionResetError:\n    print('reset')\n",
    )
    .unwrap();
    let out = traced_as_nobody(
        &["--no-diagram"],
        &[format!("python3 {}", server.display()), format!("python3 {}", client.display())],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("cliente_rst.py | reset"), "{stdout}");
    assert!(stdout.contains(" → servidor_v6.py 127.0.0.1:6014 ──"), "{stdout}");
    assert!(stdout.contains("servidor_v6.py: recv(3) returned 3 bytes (frame 4)"), "{stdout}");
    // accept() answered the handshake's ACK, not the data.
    assert!(stdout.contains("a connection from 127.0.0.1:") && stdout.contains("(frame 3)"), "{stdout}");
    let close = stdout.lines().find(|l| l.contains("servidor_v6.py: close() → 0, RST: frame ")).expect("RST");
    let frame: usize = close.rsplit("frame ").next().unwrap().trim().parse().unwrap();
    let row = stdout.lines().find(|l| l.trim_start().starts_with(&format!("{frame} "))).unwrap();
    assert!(row.contains("[RST, ACK]"), "{row}");
    assert!(!stdout.contains("calls and packets of no TCP connection"), "{stdout}");
}
