//! What operators put an echo server behind and around: PROXY protocol
//! (Python as the balancer, and HAProxy itself), TLS and mutual TLS
//! (Python's ssl, `openssl s_client` and `s_server`), misbehaviour on
//! demand (seen by Python clients and by `eco bench`'s verification), and
//! Prometheus metrics (scraped over HTTP).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::*;

/// Runs a scenario of tests/python/operator_peer.py against `port`.
fn peer(scenario: &str, port: u16, args: &[&str]) -> serde_json::Value {
    let python = tool("python3").expect("python3");
    let out = Command::new(python)
        .arg(python_script("operator_peer.py"))
        .arg(scenario)
        .arg(port.to_string())
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{scenario}: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{scenario}: {}", text(&out.stdout)))
}

/// A CA, a server certificate for localhost and 127.0.0.1, and a client
/// certificate (CN=client one), made with the openssl command line.
fn pki(dir: &Path) -> bool {
    let Some(openssl) = tool("openssl") else { return false };
    let run = |args: &[&str]| {
        let out = Command::new(&openssl).current_dir(dir).args(args).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", text(&out.stderr));
    };
    let key = |name: &str| {
        run(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", name])
    };
    std::fs::write(dir.join("server.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n").unwrap();
    std::fs::write(dir.join("client.ext"), "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
        .unwrap();
    key("ca.key");
    run(&["req", "-x509", "-key", "ca.key", "-out", "ca.pem", "-subj", "/CN=eco test CA", "-days", "2"]);
    for (name, subject) in [("server", "/CN=localhost"), ("client", "/CN=client one/O=eco")] {
        key(&format!("{name}.key"));
        run(&[
            "req",
            "-new",
            "-key",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            subject,
        ]);
        run(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
            "-out",
            &format!("{name}.pem"),
        ]);
    }
    true
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().unwrap().to_string()
}

each_mode! {
    /// PROXY v1 (whole, or in pieces), v2 with a TLV, and a v2 LOCAL
    /// health check are read, the original client logged and the header
    /// not echoed; a connection without a valid header, or with a broken
    /// one, is refused (reset) and logged, never echoed; the server goes on.
    fn proxy_protocol_headers_from_a_python_balancer(mode) {
        let server = Server::start(&["--mode", mode, "--proxy-protocol", "-v"]);
        let port = server.addr.port();
        for kind in ["v1", "v1-split", "v2", "v2-local"] {
            let seen = peer("proxy", port, &[kind]);
            assert_eq!((seen["echoed"].as_bool(), seen["end"].as_str()), (Some(true), Some("eof")), "{kind}: {seen}");
        }
        for kind in ["none", "garbage"] {
            let seen = peer("proxy", port, &[kind]);
            assert_eq!((seen["got"].as_u64(), seen["end"].as_str()), (Some(0), Some("reset")), "{kind}: {seen}");
        }
        assert!(eventually(|| server.stdout().matches("Connection closed :)").count() == 4), "{}", server.stdout());
        let stdout = server.stdout();
        assert!(stdout.contains("Connected to 203.0.113.7:51234 (via 127.0.0.1:"), "{stdout}");
        assert!(stdout.contains("Connected to 198.51.100.9:40000 (via 127.0.0.1:"), "{stdout}");
        assert!(eventually(|| server.stderr().contains("tlvs=0x02=example.com")), "{}", server.stderr());
        let stderr = server.stderr();
        assert!(stderr.contains("no valid PROXY protocol header"), "{stderr}");
        assert!(stderr.contains("peer=203.0.113.7:51234"), "the log names the original client: {stderr}");
        // Still serving after the refusals.
        assert_eq!(peer("proxy", port, &["v2"])["echoed"], true);
    }

    /// `--proxy-protocol optional` serves direct clients too; --deny
    /// applies to the client the header names, not to the balancer.
    fn proxy_protocol_optional_and_allow_lists_apply_to_the_original_client(mode) {
        let server = Server::start(&["--mode", mode, "--proxy-protocol", "optional", "--deny", "203.0.113.0/24"]);
        let port = server.addr.port();
        assert_eq!(peer("proxy", port, &["none"])["echoed"], true);
        assert_eq!(peer("proxy", port, &["v2"])["echoed"], true);
        let denied = peer("proxy", port, &["v1"]);
        assert_eq!((denied["got"].as_u64(), denied["end"].as_str()), (Some(0), Some("reset")), "{denied}");
        assert!(eventually(|| server.stderr().contains("refused 203.0.113.7:51234: not allowed")), "{}", server.stderr());
    }

    /// TLS with a client certificate (mutual TLS) and ALPN, from Python's
    /// ssl and from `openssl s_client`: echoed, and the server tells what
    /// was negotiated; without a client certificate the handshake fails
    /// and the server says why; a PROXY header may come before TLS.
    fn tls_and_mutual_tls_with_python_and_openssl(mode) {
        let dir = tempfile::tempdir().unwrap();
        if !pki(dir.path()) {
            return;
        }
        let p = |name| path(dir.path(), name);
        let server = Server::start(&[
            "--mode", mode, "--tls", "--cert", &p("server.pem"), "--key", &p("server.key"),
            "--client-ca", &p("ca.pem"), "--alpn", "echo", "--proxy-protocol", "optional",
        ]);
        let port = server.addr.port();
        let (ca, cert, key) = (format!("ca={}", p("ca.pem")), format!("cert={}", p("client.pem")), format!("key={}", p("client.key")));
        let seen = peer("tls", port, &[&ca, &cert, &key, "alpn=echo"]);
        assert_eq!((seen["echoed"].as_bool(), seen["alpn"].as_str()), (Some(true), Some("echo")), "{seen}");
        assert_eq!(seen["version"], "TLSv1.3", "{seen}");
        let proxied = peer("tls-proxy", port, &[&ca, &cert, &key]);
        assert_eq!(proxied["echoed"], true, "{proxied}");
        let anonymous = peer("tls", port, &[&ca]);
        assert_ne!(anonymous["echoed"], true, "{anonymous}");
        let openssl = tool("openssl").unwrap();
        let mut s_client = Command::new(openssl)
            .args(["s_client", "-connect", &format!("127.0.0.1:{port}"), "-CAfile", &p("ca.pem")])
            .args(["-cert", &p("client.pem"), "-key", &p("client.key"), "-quiet", "-verify_return_error"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // s_client keeps the connection open after its input ends (-quiet
        // implies -ign_eof): read the echo, then stop it.
        s_client.stdin.as_mut().unwrap().write_all(b"hello from s_client\n").unwrap();
        let mut stdout = std::io::BufReader::new(s_client.stdout.take().unwrap());
        let mut line = String::new();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = std::io::BufRead::read_line(&mut stdout, &mut line);
            let _ = tx.send(line);
        });
        let echoed = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
        let _ = s_client.kill();
        let _ = s_client.wait();
        assert_eq!(echoed, "hello from s_client\n");
        assert!(eventually(|| server.stdout().matches("certificate CN=client one, O=eco").count() == 3), "{}", server.stdout());
        let stdout = server.stdout();
        assert!(stdout.contains("TLS: TLSv1.3 TLS13_"), "{stdout}");
        assert!(stdout.contains("ALPN echo, SNI localhost"), "{stdout}");
        assert!(stdout.contains("Connected to 198.51.100.20:4000 (via"), "{stdout}");
        assert!(eventually(|| server.stderr().contains("the TLS handshake failed: no client certificate")), "{}", server.stderr());
    }

    /// Each misbehaviour as a Python client sees it: --delay (± --jitter)
    /// before each echo, --throttle's pace, --close-after's FIN and
    /// --reset-after's RST after exactly that many bytes, --stall-after's
    /// silence (writes block, the connection stays open), --accept-delay.
    fn misbehaviour_on_demand_seen_by_python_clients(mode) {
        let started = |flags: &[&str]| Server::start(&[&["--mode", mode], flags].concat());
        let delayed = started(&["--delay", "150", "--jitter", "30"]);
        let seen = peer("delay", delayed.addr.port(), &["3"]);
        assert_eq!(seen["echoed"], true);
        for t in seen["times_ms"].as_array().unwrap() {
            let t = t.as_f64().unwrap();
            assert!((115.0..400.0).contains(&t), "delay 150 ± 30 ms, took {t} ms: {seen}");
        }
        assert!(delayed.stderr().contains("misbehaving on purpose, for testing clients: --delay 150 ms ± 30 ms"), "{}", delayed.stderr());
        let throttled = started(&["--throttle", "200K"]);
        let seen = peer("throttle", throttled.addr.port(), &["300000"]);
        let seconds = seen["seconds"].as_f64().unwrap();
        assert_eq!(seen["echoed"], true, "{seen}");
        assert!((1.2..6.0).contains(&seconds), "300 000 bytes at 200 KiB/s take about 1.5 s: {seen}");
        for (flag, end) in [("--close-after", "eof"), ("--reset-after", "reset")] {
            let server = started(&[flag, "5000"]);
            let seen = peer("after", server.addr.port(), &["20000"]);
            assert_eq!((seen["got"].as_u64(), seen["prefix_ok"].as_bool(), seen["end"].as_str()), (Some(5000), Some(true), Some(end)), "{flag}: {seen}");
            assert!(eventually(|| server.stderr().contains(&format!("on purpose ({flag})"))), "{}", server.stderr());
        }
        let stalled = started(&["--stall-after", "1000"]);
        let seen = peer("stall", stalled.addr.port(), &["1000"]);
        assert_eq!((seen["first_echoed"].as_bool(), seen["blocked"].as_bool(), seen["state"].as_str()), (Some(true), Some(true), Some("open")), "{seen}");
        let slow = started(&["--accept-delay", "300"]);
        let seen = peer("accept-delay", slow.addr.port(), &[]);
        assert_eq!(seen["echoed"], true);
        assert!(seen["echo_ms"].as_f64().unwrap() >= 280.0, "{seen}");
        // A stalled connection costs no CPU: the server is idle meanwhile.
        let before = bench_cpu(stalled.pid());
        std::thread::sleep(Duration::from_millis(500));
        assert!(bench_cpu(stalled.pid()) - before < 0.2, "a stalled connection must not spin");
    }
}

/// CPU seconds a process used so far, from /proc/PID/stat.
fn bench_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// HAProxy as the balancer in front of eco (`send-proxy-v2`): eco names the
/// client HAProxy forwarded for, with its real port.
#[test]
fn haproxy_in_front_passes_the_client_through_proxy_protocol_v2() {
    let Some(haproxy) = tool("haproxy") else { return };
    let server = Server::start(&["--proxy-protocol"]);
    let front = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let front_port = front.local_addr().unwrap().port();
    drop(front);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("haproxy.cfg");
    std::fs::write(
        &config,
        format!(
            "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n\
             frontend front\n  bind 127.0.0.1:{front_port}\n  default_backend eco\n\
             backend eco\n  server eco {} send-proxy-v2\n",
            server.addr
        ),
    )
    .unwrap();
    let mut balancer = Command::new(haproxy)
        .arg("-db")
        .arg("-f")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], front_port));
    assert!(eventually(|| TcpStream::connect(addr).is_ok()), "haproxy did not listen");
    let mut client = TcpStream::connect(addr).unwrap();
    let client_addr = client.local_addr().unwrap();
    client.write_all(b"through haproxy").unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let mut echo = Vec::new();
    client.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    client.read_to_end(&mut echo).unwrap();
    let _ = balancer.kill();
    let _ = balancer.wait();
    assert_eq!(echo, b"through haproxy");
    let want = format!("Connected to {client_addr} (via 127.0.0.1:");
    assert!(eventually(|| server.stdout().contains(&want)), "{want}: {}", server.stdout());
}

/// `eco client --proxy-protocol` and `eco bench --proxy-protocol` send the
/// header eco's server reads (the client's own addresses).
#[test]
fn eco_client_and_bench_send_proxy_headers() {
    let server = Server::start(&["--proxy-protocol", "-v"]);
    let port = server.port();
    for version in ["v1", "v2"] {
        let out = eco_output(&["client", "--port", &port, "--proxy-protocol", version, "-m", "hi"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            eventually(|| server.stderr().contains(&format!("version={version} client=127.0.0.1:"))),
            "{}",
            server.stderr()
        );
    }
    let out = eco_output(&[
        "bench",
        "--port",
        &port,
        "--proxy-protocol",
        "v2",
        "-c",
        "4",
        "-d",
        "0.5",
        "--warmup",
        "0",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["messages"].as_u64().unwrap() > 0, "{report}");
    // Without the header, the same server refuses the bench's connections.
    let out = eco_output(&["bench", "--port", &port, "-c", "1", "-d", "0.3", "--warmup", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

/// eco's TLS client: against `openssl s_server -rev` (an echo that reverses
/// each line: a palindrome comes back the same), and against eco's own
/// server with mutual TLS; it prints what was negotiated, and an untrusted
/// certificate fails with a one-line error saying what to do.
#[test]
fn eco_tls_client_against_openssl_s_server_and_eco() {
    let dir = tempfile::tempdir().unwrap();
    if !pki(dir.path()) {
        return;
    }
    let p = |name| path(dir.path(), name);
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port().to_string();
    drop(free);
    let mut s_server = Command::new(tool("openssl").unwrap())
        .args([
            "s_server",
            "-accept",
            &port,
            "-cert",
            &p("server.pem"),
            "-key",
            &p("server.key"),
            "-rev",
            "-quiet",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    assert!(eventually(|| TcpStream::connect(addr).is_ok()), "s_server did not listen");
    let out = eco_output(&[
        "client",
        "--port",
        &port,
        "--tls",
        "--ca",
        &p("ca.pem"),
        "--host",
        "localhost",
        "-m",
        "level\n",
    ]);
    let _ = s_server.kill();
    let _ = s_server.wait();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("TLS: TLSv1.3"), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("certificate CN=localhost"), "{}", text(&out.stderr));

    let server = Server::start(&[
        "--tls",
        "--cert",
        &p("server.pem"),
        "--key",
        &p("server.key"),
        "--client-ca",
        &p("ca.pem"),
    ]);
    let port = server.port();
    let mtls = [
        "client",
        "--port",
        &port,
        "--tls",
        "--ca",
        &p("ca.pem"),
        "--cert",
        &p("client.pem"),
        "--key",
        &p("client.key"),
        "-c",
        "2",
    ];
    let out = eco_output(&mtls);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("2 sent, 2 echoed"), "{}", text(&out.stdout));
    let untrusted = eco_output(&["client", "--port", &port, "--tls"]);
    assert_eq!(untrusted.status.code(), Some(1));
    let said = text(&untrusted.stderr);
    assert!(said.contains("the TLS handshake with 127.0.0.1:") && said.contains("--insecure"), "{said}");
    let bad = eco_output(&["client", "--port", &port, "--tls", "--ca", "/nonexistent.pem"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("/nonexistent.pem"), "{}", text(&bad.stderr));
}

/// `--tls` without a certificate: a self-signed one is made, its SHA-256
/// fingerprint printed, and it is the one the server presents.
#[test]
fn self_signed_certificate_fingerprint_is_the_one_presented() {
    let Some(python) = tool("python3") else { return };
    let server = Server::start(&["--tls"]);
    assert!(eventually(|| server.stderr().contains("SHA-256 fingerprint")), "{}", server.stderr());
    let printed = server
        .stderr()
        .split("SHA-256 fingerprint ")
        .nth(1)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_string();
    let script = format!(
        "import socket,ssl,hashlib\nc=ssl.create_default_context();c.check_hostname=False;c.verify_mode=ssl.CERT_NONE\n\
         s=c.wrap_socket(socket.create_connection(('127.0.0.1',{})),server_hostname='localhost')\n\
         d=hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest().upper()\n\
         print(':'.join(d[i:i+2] for i in range(0,len(d),2)))\ns.sendall(b'x');print(s.recv(1))",
        server.addr.port()
    );
    let out = Command::new(python).args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{printed}\nb'x'\n"));
    let out = eco_output(&["client", "--port", &server.port(), "--tls", "--insecure"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// `eco bench` against a misbehaving server reports each misbehaviour as
/// its own error kind: a reset as an I/O error, an early FIN as a
/// truncated echo, a stall as a timeout.
#[test]
fn bench_reports_each_misbehaviour_as_its_error_kind() {
    for (flag, kind) in
        [("--reset-after", "io"), ("--close-after", "truncated"), ("--stall-after", "timeout")]
    {
        let server = Server::start(&[flag, "20000"]);
        let out = eco_output(&[
            "bench",
            "--port",
            &server.port(),
            "-c",
            "2",
            "-d",
            "0.5",
            "--warmup",
            "0",
            "--timeout",
            "1",
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(1), "{flag}: {}", text(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["errors"][kind], 2, "{flag}: {}", report["errors"]);
    }
}

/// UDP: --drop-percent leaves about that share unanswered; a PROXY v2
/// header before a datagram names the client that --deny is applied to,
/// and is not echoed.
#[test]
fn udp_drop_percent_and_proxy_headers() {
    let server = Server::start(&["--udp", "--drop-percent", "50", "--udp-rate-per-ip", "100000"]);
    let seen = peer("udp", server.addr.port(), &["300"]);
    let answered = seen["answered"].as_u64().unwrap();
    assert!((90..=210).contains(&answered), "about half of 300: {seen}");
    assert!(
        eventually(|| server.stderr().contains("dropped on purpose (--drop-percent)")),
        "{}",
        server.stderr()
    );
    let server = Server::start(&[
        "--udp",
        "--proxy-protocol",
        "--udp-rate-per-ip",
        "100000",
        "--deny",
        "198.51.100.0/24",
    ]);
    let port = server.addr.port();
    assert_eq!(peer("udp-proxy", port, &["10", "203.0.113.1"])["answered"], 10);
    assert_eq!(peer("udp-proxy", port, &["10", "198.51.100.1"])["answered"], 0);
    assert_eq!(peer("udp", port, &["10"])["answered"], 0, "a header is required");
}

/// `--metrics`: after a known workload (3 connections echoing 1000 bytes,
/// one reset by its client), the scraped counters say exactly that;
/// /healthz answers ok, other paths 404.
#[test]
fn metrics_scraped_after_a_known_workload() {
    let server = Server::start(&["--metrics", "127.0.0.1:0"]);
    assert!(eventually(|| server.stderr().contains("metrics on http://")), "{}", server.stderr());
    let stderr = server.stderr();
    let metrics_addr = stderr.split("metrics on http://").nth(1).unwrap().split('/').next().unwrap();
    let metrics_port = metrics_addr.rsplit(':').next().unwrap();
    let seen = peer("metrics", server.addr.port(), &[metrics_port]);
    let m = &seen["metrics"];
    assert_eq!(m["eco_connections_total"], 4.0, "{m}");
    assert_eq!(m["eco_connections_open"], 0.0, "{m}");
    assert_eq!(m["eco_received_bytes_total"], 3010.0, "{m}");
    assert_eq!(m["eco_sent_bytes_total"], 3010.0, "{m}");
    assert_eq!(m["eco_connections_ended_total{reason=\"fin\"}"], 3.0, "{m}");
    assert_eq!(m["eco_connections_ended_total{reason=\"reset\"}"], 1.0, "{m}");
    assert_eq!((seen["health"].as_u64(), seen["health_body"].as_str()), (Some(200), Some("ok\n")));
    assert_eq!(seen["missing"], 404);
}

/// Bad values of the new options: one line naming the value, exit 2.
#[test]
fn operator_options_reject_bad_values() {
    for args in [
        &["server", "--drop-percent", "150"][..],
        &["server", "--delay", "-5"],
        &["server", "--throttle", "0"],
        &["server", "--proxy-protocol", "sometimes"],
        &["server", "--tls", "--cert", "/nonexistent.pem", "--key", "/nonexistent.key"],
        &["server", "--cert", "x.pem"],
        &["client", "--proxy-protocol", "v3"],
        &["client", "--insecure"],
    ] {
        let out = eco_output(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert!(!stderr.trim().is_empty(), "{args:?}");
    }
}

/// `eco bench --tls`: every echo over TLS still checked, and the TLS
/// handshakes reported as their own figures (count and percentiles); with
/// `--connect-rate` that is the handshake rate. Against a plain server the
/// handshakes fail and the bench says so (exit 1).
#[test]
fn bench_over_tls_reports_handshakes() {
    let server = Server::start(&["--tls"]);
    let port = server.port();
    for (kind, connections) in [("--connections", "3"), ("--connect-rate", "")] {
        let mut args =
            vec!["bench", "--port", &port, "--tls", "--insecure", "-d", "0.5", "--warmup", "0", "--json"];
        args.extend(if connections.is_empty() { vec![kind, "-c", "2"] } else { vec![kind, connections] });
        let out = eco_output(&args);
        assert!(out.status.success(), "{kind}: {}", text(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let handshakes = report["tls_handshake_us"]["count"].as_u64().unwrap();
        assert!(handshakes >= 2, "{kind}: {report}");
        assert!(report["tls_handshake_us"]["p50"].as_f64().unwrap() > 0.0, "{report}");
        assert_eq!(report["errors"]["connect"], 0, "{report}");
        if kind == "--connect-rate" {
            assert!(
                handshakes >= report["messages"].as_u64().unwrap(),
                "one handshake per connection: {report}"
            );
        }
    }
    // A short bench over TLS of the server at `port`.
    let short_tls_bench = |port: &str| {
        eco_output(&["bench", "--port", port, "--tls", "--insecure", "-c", "1", "-d", "0.3", "--warmup", "0"])
    };
    let text_report = short_tls_bench(&port);
    assert!(text(&text_report.stdout).contains("TLS:"), "{}", text(&text_report.stdout));
    let plain = Server::start(&[]);
    let out = short_tls_bench(&plain.port());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

each_mode! {
    /// A stop comes through whatever the misbehaviour: SIGTERM with a
    /// connection asleep in --delay, or a client waiting out
    /// --accept-delay, ends the server within the grace, exit 0.
    fn a_stop_is_prompt_while_misbehaving(mode) {
        for flag in ["--delay", "--accept-delay"] {
            let mut server = Server::start(&["--mode", mode, "--grace", "1", flag, "60000"]);
            let mut client = connect(server.addr);
            client.write_all(b"waiting").unwrap();
            std::thread::sleep(Duration::from_millis(300));
            let asked = std::time::Instant::now();
            server.signal("TERM");
            let status = server.wait(Duration::from_secs(10));
            assert_eq!(status.and_then(|s| s.code()), Some(0), "{flag}: {}", server.stderr());
            assert!(asked.elapsed() < Duration::from_secs(4), "{flag}: {:?}", asked.elapsed());
        }
    }

    /// `--proxy-protocol optional`: a client whose first bytes could begin
    /// a header (`P`) and then waits still gets its echo, once the header
    /// wait is over (here --idle-timeout, 2 s).
    fn an_optional_header_that_never_comes_does_not_hold_the_echo(mode) {
        let server = Server::start(&["--mode", mode, "--proxy-protocol", "optional", "--idle-timeout", "2"]);
        let out = eco_output(&["client", "--port", &server.port(), "-m", "P", "--timeout", "8"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }

    /// `--once` is one client served: a connection turned away at its
    /// PROXY header (a port scan, a health check) does not end the server.
    fn once_waits_for_a_client_it_can_serve(mode) {
        let mut server = Server::start(&["--mode", mode, "--once", "--proxy-protocol"]);
        let seen = peer("proxy", server.addr.port(), &["none"]);
        assert_eq!(seen["end"], "reset", "{seen}");
        std::thread::sleep(Duration::from_millis(200));
        assert!(server.is_running(), "ended by a refused connection: {}", server.stderr());
        assert_eq!(peer("proxy", server.addr.port(), &["v1"])["echoed"], true);
        assert_eq!(server.wait(Duration::from_secs(10)).and_then(|s| s.code()), Some(0));
    }
}

/// `--proxy-from`: a header is believed only from those balancers. With
/// `required`, anyone else is refused; with `optional`, anyone else is a
/// client of its own, whose bytes (a header included) are echoed as data.
#[test]
fn proxy_headers_are_believed_only_from_proxy_from() {
    let server = Server::start(&["--proxy-protocol", "--proxy-from", "10.0.0.0/8"]);
    let seen = peer("proxy", server.addr.port(), &["v1"]);
    assert_eq!(seen["end"], "reset", "{seen}");
    assert!(eventually(|| server.stderr().contains("not one of --proxy-from")), "{}", server.stderr());
    let trusted = Server::start(&["--proxy-protocol", "--proxy-from", "127.0.0.0/8"]);
    assert_eq!(peer("proxy", trusted.addr.port(), &["v1"])["echoed"], true);
    let optional = Server::start(&["--proxy-protocol", "optional", "--proxy-from", "10.0.0.1"]);
    let header = b"PROXY TCP4 203.0.113.7 192.0.2.1 51234 5050\r\nhello";
    assert_eq!(echo_of(optional.addr, header), header, "an untrusted header is the client's data");
    assert!(eventually(|| optional.stdout().contains("Connected to 127.0.0.1:")), "{}", optional.stdout());
}

/// A request trickled byte by byte (slowloris) holds no more than its
/// deadline, and a health check gets through 100 of them.
#[test]
fn metrics_answer_a_health_check_through_slow_clients() {
    let server = Server::start(&["--metrics", "127.0.0.1:0"]);
    assert!(eventually(|| server.stderr().contains("metrics on http://")), "{}", server.stderr());
    let stderr = server.stderr();
    let addr = stderr.split("metrics on http://").nth(1).unwrap().split('/').next().unwrap();
    let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
    let seen = peer("slowloris", port, &["100"]);
    assert_eq!(seen["health"], 200, "{seen}");
    assert!(seen["seconds"].as_f64().unwrap() < 1.0, "{seen}");
}

/// Options that would do nothing are refused, not silently ignored.
#[test]
fn options_that_would_do_nothing_are_refused() {
    for (args, option) in [
        (&["server", "--udp", "--tls"][..], "--tls"),
        (&["server", "--udp", "--delay", "100"], "--delay"),
        (&["server", "--drop-percent", "10"], "--drop-percent"),
        (&["server", "--inetd", "--proxy-protocol"], "--proxy-protocol"),
        (&["server", "--tls", "--alpn", ""], "--alpn"),
        (&["client", "--tls", "--alpn", ","], "--alpn"),
        (&["client", "--tls", "--pin", "12:34"], "--pin"),
        (&["server", "--udp", "--once"], "--once"),
        (&["server", "--udp", "--max-conns", "5"], "--max-conns"),
        (&["server", "--udp-rate", "5"], "--udp-rate"),
    ] {
        let out = eco_output(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(option), "{args:?}: {}", text(&out.stderr));
    }
    // With --tcp --udp, TCP's options stand.
    let server = Server::start(&["--tcp", "--udp", "--delay", "1"]);
    assert_eq!(echo_of(server.addr, b"both"), b"both");
}

/// The TLS client's errors say what to do: a plain server (here an eco
/// server without --tls, which echoes the hello back) is "not TLS"; a
/// self-signed one suggests --pin; --pin of the printed fingerprint works,
/// another fingerprint does not.
#[test]
fn tls_client_errors_and_pinning() {
    let plain = Server::start(&[]);
    let out = eco_output(&["client", "--port", &plain.port(), "--tls", "--insecure"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("does not speak TLS"), "{}", text(&out.stderr));
    let server = Server::start(&["--tls"]);
    assert!(eventually(|| server.stderr().contains("SHA-256 fingerprint")), "{}", server.stderr());
    let stderr = server.stderr();
    let fingerprint =
        stderr.split("SHA-256 fingerprint ").nth(1).unwrap().lines().next().unwrap().trim().to_string();
    let plain_client = eco_output(&["client", "--port", &server.port()]);
    assert!(
        text(&plain_client.stderr).contains("the server speaks TLS, try --tls"),
        "{}",
        text(&plain_client.stderr)
    );
    // eco bench says the same, at once, before any load.
    let bench = eco_output(&["bench", "--port", &server.port(), "--tls", "-d", "5"]);
    assert_eq!(bench.status.code(), Some(1));
    assert!(text(&bench.stderr).contains("not trusted"), "{}", text(&bench.stderr));
    let untrusted = eco_output(&["client", "--port", &server.port(), "--tls"]);
    assert!(text(&untrusted.stderr).contains("--pin"), "{}", text(&untrusted.stderr));
    let pinned = eco_output(&["client", "--port", &server.port(), "--tls", "--pin", &fingerprint]);
    assert!(pinned.status.success(), "{}", text(&pinned.stderr));
    assert!(text(&pinned.stderr).contains("certificate CN=localhost"), "{}", text(&pinned.stderr));
    let other = "00".repeat(32);
    let wrong = eco_output(&["client", "--port", &server.port(), "--tls", "--pin", &other]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(text(&wrong.stderr).contains("fingerprint is not --pin's"), "{}", text(&wrong.stderr));
}

/// `eco bench --bulk` against a server that stops reading ends at
/// --duration + --timeout, the stalled transfer counted as a timeout.
#[test]
fn bench_bulk_against_a_stalled_server_ends_on_time() {
    let server = Server::start(&["--stall-after", "1000"]);
    let started = std::time::Instant::now();
    let out = eco_output(&[
        "bench",
        "--port",
        &server.port(),
        "--bulk",
        "10M",
        "-c",
        "1",
        "-d",
        "1",
        "--timeout",
        "1",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["errors"]["timeout"], 1, "{report}");
}

/// A Python echo server that misbehaves in one way, and its port.
struct BadEcho(std::process::Child, String);

impl BadEcho {
    fn start(mode: &str) -> Option<BadEcho> {
        let python = tool("python3")?;
        let mut child = Command::new(python)
            .arg(python_script("bad_echo.py"))
            .arg(mode)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line)
            .unwrap();
        Some(BadEcho(child, line.trim().to_string()))
    }
}

impl Drop for BadEcho {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// eco bench names each fault once and rightly: a TCP echo repeated once
/// is one reordered echo per connection (not one more for the bytes left
/// at close); over UDP a datagram one byte longer is corrupted (not "cut
/// short"), a duplicate is counted, and the flow goes on after either.
#[test]
fn bench_names_each_fault_once_and_rightly() {
    let run = |port: &str, extra: &[&str]| -> serde_json::Value {
        let mut args =
            vec!["bench", "--port", port, "-c", "2", "-d", "1", "--warmup", "0", "--timeout", "1", "--json"];
        args.extend_from_slice(extra);
        let out = eco_output(&args);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let Some(tcp) = BadEcho::start("tcp-repeat") else { return };
    let report = run(&tcp.1, &[]);
    assert_eq!(report["errors"]["reordered"], 2, "{}", report["errors"]);
    assert_eq!(report["errors"]["corrupted"], 0, "{}", report["errors"]);
    let longer = BadEcho::start("udp-longer").unwrap();
    let report = run(&longer.1, &["--udp"]);
    assert_eq!(report["errors"]["truncated"], 0, "{}", report["errors"]);
    assert!(report["errors"]["corrupted"].as_u64().unwrap() >= 2, "{}", report["errors"]);
    assert!(report["messages"].as_u64().unwrap() > 500, "the flows go on: {report}");
    let twice = BadEcho::start("udp-twice").unwrap();
    let report = run(&twice.1, &["--udp"]);
    assert!(report["errors"]["reordered"].as_u64().unwrap() >= 2, "{}", report["errors"]);
}

/// `--udp --proxy-protocol`: a header cannot turn the server into a
/// reflector. Datagrams from port 7 (a service port) naming plausible
/// clients in their headers get no answer: the answer would go to port 7.
#[test]
fn udp_proxy_headers_do_not_open_a_reflector() {
    let Some(python) = tool("python3") else { return };
    if !root() {
        return;
    }
    let server = Server::start(&["--udp", "--proxy-protocol"]);
    let script = format!(
        "import socket,struct\n\
         s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
         s.bind(('127.0.0.1',7));s.settimeout(1)\n\
         sig=b'\\r\\n\\r\\n\\x00\\r\\nQUIT\\n'\n\
         for i in range(20):\n\
         \x20 body=socket.inet_aton('10.0.%d.9'%i)+socket.inet_aton('192.0.2.1')+struct.pack('!HH',40000,7)\n\
         \x20 s.sendto(sig+bytes([0x21,0x12])+struct.pack('!H',len(body))+body+b'payload',('127.0.0.1',{}))\n\
         got=0\n\
         try:\n\
         \x20 while True: s.recvfrom(100); got+=1\n\
         except socket.timeout: pass\n\
         print(got)",
        server.addr.port()
    );
    let out = Command::new(python).args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "0", "answers reflected to port 7");
}

/// A TLS handshake with an RSA key in `--mode threads` (the thread of a
/// plain connection has a small stack; this one overflowed it, and the
/// whole server died): served, and the server goes on.
#[test]
fn tls_with_an_rsa_key_in_thread_mode() {
    let Some(openssl) = tool("openssl") else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(openssl)
        .current_dir(dir.path())
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rsa.key", "-out", "rsa.pem"])
        .args(["-subj", "/CN=localhost", "-days", "2", "-addext", "basicConstraints=CA:FALSE"])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (cert, key) = (path(dir.path(), "rsa.pem"), path(dir.path(), "rsa.key"));
    let mut server = Server::start(&["--mode", "threads", "--tls", "--cert", &cert, "--key", &key]);
    for _ in 0..2 {
        let out =
            eco_output(&["client", "--port", &server.port(), "--tls", "--ca", &cert, "--host", "localhost"]);
        assert!(out.status.success(), "{}{}", text(&out.stderr), server.stderr());
    }
    assert!(server.is_running());
}

/// A connection on the misbehaving / TLS / PROXY path holds one
/// descriptor, as on the plain path: its idle check used to hold a second
/// one (a dup), halving the clients a descriptor limit lets in.
#[test]
fn a_misbehaving_connection_holds_one_descriptor() {
    let server = Server::start(&["--mode", "async", "--delay", "1", "--idle-timeout", "30"]);
    let open = |count: usize| -> Vec<TcpStream> {
        (0..count)
            .map(|_| {
                let mut stream = connect(server.addr);
                stream.write_all(b"x").unwrap();
                let mut echo = [0u8; 1];
                // Echoed: the connection is in its echo loop.
                stream.read_exact(&mut echo).unwrap();
                stream
            })
            .collect()
    };
    // The first connections also make what the server opens once (each
    // thread's runtime); counted from there on.
    let _first = open(10);
    let before = server.open_fds();
    let clients = open(30);
    let held = server.open_fds() - before;
    assert!(held <= clients.len() + 2, "{held} descriptors for {} connections", clients.len());
}
