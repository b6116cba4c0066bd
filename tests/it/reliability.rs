//! What hostile and long-running use found (issue 8), each as the test
//! that would have caught it: eco used the way people use it — streams
//! without a FIN, servers left idle, stderr nobody reads, peers that lie
//! or vanish — not only the shapes its benchmark uses. Each test is named
//! after what broke. Bounded in time; loopback or a namespace of its own.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::*;

/// A UDP socket on a port below the ephemeral range, as a service (an
/// echo server, a reflector) has.
fn service_port_socket() -> UdpSocket {
    (20_000..32_000)
        .find_map(|port| UdpSocket::bind(("127.0.0.1", port)).ok())
        .expect("a free port below 32768")
}

/// A free TCP port on 127.0.0.1 (for servers whose stderr we must not read).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
fn wait_until_listening(port: u16) {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    assert!(eventually(|| TcpStream::connect(addr).is_ok()), "nothing listens on {addr}");
}

each_mode! {
    /// 1 MB pushed pipe → socket with splice() in 4 000-byte pieces, and no
    /// FIN: five rounds on one connection, each echo read back before the
    /// next round (read meanwhile, or after a pause). The async mode used
    /// to take a short splice() for a drained socket and wait for an event
    /// that never came (400–600 kB echoed, then nothing until the idle
    /// timeout).
    fn a_stream_without_fin_is_echoed_whole(mode) {
        let Some(python) = tool("python3") else { return };
        let server = Server::start(&["--mode", mode]);
        for (method, chunk) in [("splice-pause", "4000"), ("splice", "4000"), ("send", "100")] {
            let out = Command::new(&python)
                .arg(python_script("stream_no_fin.py"))
                .args([&server.port(), "1000000", chunk, method, "5"])
                .output()
                .unwrap();
            assert!(out.status.success(), "{method}: {}{}", text(&out.stdout), text(&out.stderr));
            assert_eq!(text(&out.stdout).lines().count(), 5);
        }
    }

    /// A server left idle answers the next client at once. The blocking
    /// modes used to set the idle timeout on the listening socket, which
    /// also timed out accept(): after each idle period the accept loop
    /// backed off 1 s, 2 s, 4 s … and clients waited.
    fn an_idle_server_answers_the_next_client_at_once(mode) {
        let server = Server::start(&["--mode", mode, "--idle-timeout", "0.3", "--lang", "en"]);
        thread::sleep(Duration::from_millis(1500));
        let started = Instant::now();
        let out = eco_output(&["client", "--lang", "en", "--port", &server.port(), "-m", "still there?"]);
        let took = started.elapsed();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(took < Duration::from_millis(500), "the echo took {took:?}");
        assert!(!server.stderr().contains("accepting a connection failed"), "{}", server.stderr());
    }

    /// stderr and stdout are pipes that nobody reads, while a denied
    /// address connects thousands of times: the refusals are told at most
    /// about once a second, and a legitimate client is served all along.
    /// The server used to write one line per refusal and block once the
    /// pipe was full.
    fn an_unread_stderr_never_stops_the_server(mode) {
        let port = free_port();
        let mut child = eco()
            .args(["server", "--lang", "en", "--mode", mode, "--port", &port.to_string(), "--deny", "127.0.0.2"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_until_listening(port);
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        // Four flooders for a second, as fast as the server turns them away.
        let until = Instant::now() + Duration::from_millis(1000);
        let flooders: Vec<_> = (0..4)
            .map(|_| {
                thread::spawn(move || {
                    let mut refused = 0u64;
                    while Instant::now() < until {
                        refused += u64::from(turned_away("127.0.0.2", addr));
                    }
                    refused
                })
            })
            .collect();
        // Meanwhile, the legitimate client (each echo bounded to 2 s).
        let mut served = 0;
        while Instant::now() < until {
            let out = eco_output(&["client", "--port", &port.to_string(), "--timeout", "2", "-m", "me"]);
            assert!(out.status.success(), "a client was not served: {}", text(&out.stderr));
            served += 1;
        }
        let refused: u64 = flooders.into_iter().map(|f| f.join().unwrap()).sum();
        assert!(served > 0 && refused > 1000, "served {served}, refused {refused}");
        // The last second's count is told at the next tick.
        thread::sleep(Duration::from_millis(1100));
        let _ = child.kill();
        let out = wait_output(child);
        let log = text(&out.stderr);
        let refusals: Vec<&str> = log.lines().filter(|l| l.starts_with("eco: refused ")).collect();
        // Thousands of refusals over a second: a handful of lines.
        assert!((2..=6).contains(&refusals.len()), "{} lines: {log}", refusals.len());
        assert!(log.contains("more connections in the last second: "), "{log}");
    }

    /// At the end of the grace a connection still open is reset, in every
    /// mode: a client must never mistake a cut echo for a complete one.
    /// The blocking modes used to close it with a FIN.
    fn a_cut_at_the_end_of_the_grace_is_a_reset(mode) {
        let mut server = Server::start(&["--mode", mode, "--grace", "0.3", "--lang", "en"]);
        let mut stream = connect(server.addr);
        stream.write_all(b"half").unwrap();
        let mut echo = [0u8; 4];
        stream.read_exact(&mut echo).unwrap();
        server.signal("TERM");
        let mut buf = [0u8; 16];
        let read = stream.read(&mut buf);
        assert!(
            matches!(&read, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
            "expected a reset, got {read:?}"
        );
        assert_eq!(server.wait(LIMIT).expect("exits").code(), Some(0));
        assert!(server.stderr().contains("0 connections finished within the grace, 1 reset at its end"));
    }

    /// SIGHUP (a closed terminal, an ssh session that ended) stops the
    /// server gracefully, like SIGTERM. It used to kill it at once (exit
    /// 129, nothing logged).
    fn sighup_stops_gracefully(mode) {
        let mut server = Server::start(&["--mode", mode, "--lang", "en", "--grace", "1"]);
        assert_eq!(echo_of(server.addr, b"before"), b"before");
        server.signal("HUP");
        assert_eq!(server.wait(LIMIT).expect("exits").code(), Some(0));
        assert!(server.stderr().contains("eco: stopping: no new connections"), "{}", server.stderr());
    }

    /// `--allow` / `--deny` written in IPv4-mapped form on a dual-stack
    /// server mean their IPv4 address or network. They used to be
    /// accepted and then ignored (deny) or refuse everyone (allow).
    fn ipv4_mapped_rules_apply_to_ipv4_clients(mode) {
        let server = Server::start(&["--mode", mode, "--host", "::", "--deny", "::ffff:127.0.0.2", "--lang", "en"]);
        let v4: SocketAddr = format!("127.0.0.1:{}", server.port()).parse().unwrap();
        assert!(turned_away("127.0.0.2", v4));
        assert_eq!(echo_of(v4, b"not denied"), b"not denied");
        let server =
            Server::start(&["--mode", mode, "--host", "::", "--allow", "::ffff:127.0.0.0/104", "--lang", "en"]);
        let v4: SocketAddr = format!("127.0.0.1:{}", server.port()).parse().unwrap();
        assert_eq!(echo_of(v4, b"allowed"), b"allowed");
    }
}

/// `eco client --stdin` against a server that echoes 100 bytes, then
/// half-closes and swallows the rest: exit 1, saying how much came back.
/// It used to exit 0 with 100 of 2 000 000 bytes.
#[test]
fn a_short_echo_on_stdin_is_an_error_saying_how_much_came_back() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut first = [0u8; 100];
        stream.read_exact(&mut first).unwrap();
        stream.write_all(&first).unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        let _ = std::io::copy(&mut stream, &mut std::io::sink());
    });
    let data = bytes(2_000_000, 5);
    let out = output_with_input(eco().args(["client", "--stdin", "--lang", "en", "--port", &port]), &data);
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(out.stdout.len(), 100);
    assert_eq!(
        text(&out.stderr),
        format!(
            "eco: 127.0.0.1:{port} closed the connection after echoing 100 of 2000000 bytes: the echo is \
             incomplete\n"
        )
    );
}

/// An echo cut by the server (its `--max-bytes`) while the client still
/// sends: `eco client --stdin` exits 1 and says how much was echoed.
#[test]
fn a_server_limit_mid_stream_fails_the_stdin_client() {
    let server = Server::start(&["--max-bytes", "100"]);
    let data = bytes(2_000_000, 6);
    let out =
        output_with_input(eco().args(["client", "--stdin", "--lang", "en", "--port", &server.port()]), &data);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout.len(), 100);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("after echoing 100 of") || stderr.contains("(100 bytes echoed)"), "{stderr}");
}

/// `eco bench` against a server that resets mid-run exits 1 and says the
/// echoes were cut, not that the server is unfaithful.
#[test]
fn bench_against_a_server_that_cuts_reports_truncation() {
    let server = Server::start(&["--max-bytes", "10000"]);
    let out = eco_output(&[
        "bench",
        "--lang",
        "en",
        "--port",
        &server.port(),
        "-c",
        "2",
        "-d",
        "0.5",
        "--warmup",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("the server closed connections in the middle of an echo")
            || stderr.contains("connections were reset"),
        "{stderr}"
    );
}

/// A datagram "from" another echo server bounces at most five times each
/// way: here the other side is a plain echo with no guard at all (the
/// worst case), and eco stops answering it after five. A client sending
/// the same payload five times is still answered every time. The guard
/// used to answer such a loop about a hundred times (its rate limit), and
/// a loop of two payloads forever.
#[test]
fn a_udp_echo_loop_dies_within_ten_datagrams() {
    let server = Server::start(&["--udp", "--lang", "en"]);
    // Each loop from an echo of its own (two ports, both bound at once).
    let echoes = [service_port_socket(), service_port_socket()];
    for (size, other_echo) in [5usize, 65_507].into_iter().zip(&echoes) {
        other_echo.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        let payload = bytes(size, size as u64);
        // The "spoofed" first datagram: from the other echo's own port.
        other_echo.send_to(&payload, server.addr).unwrap();
        let mut buf = vec![0u8; 70_000];
        let mut answers = 0;
        while let Ok((n, from)) = other_echo.recv_from(&mut buf) {
            assert_eq!(from, server.addr);
            answers += 1;
            assert!(answers <= 100, "the loop goes on");
            other_echo.send_to(&buf[..n], from).unwrap();
        }
        // Our answers, and the other echo's: 5 + 5, after the first.
        assert_eq!(answers, 5, "{size}-byte loop");
    }
    // Several payloads spoofed at once circulate together, each coming
    // back in turn: they die too, after four returns, however many there
    // are (eco once remembered eight per source, and nine looped forever).
    let other_echo = service_port_socket();
    other_echo.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    for n in 0..12u8 {
        other_echo.send_to(&[b'p', n], server.addr).unwrap();
    }
    let mut buf = [0u8; 100];
    let mut answers = 0;
    while let Ok((n, from)) = other_echo.recv_from(&mut buf) {
        answers += 1;
        assert!(answers <= 100, "the loop goes on");
        std::thread::sleep(Duration::from_millis(10));
        other_echo.send_to(&buf[..n], from).unwrap();
    }
    assert_eq!(answers, 12 + 4, "a loop of twelve payloads");
    let out = eco_output(&[
        "client",
        "--udp",
        "--lang",
        "en",
        "--port",
        &server.port(),
        "--count",
        "5",
        "-m",
        "ping",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("5 sent, 5 echoed, 0% lost"), "{}", text(&out.stdout));
    // From an ephemeral port (a client's), one payload may come back longer.
    let out = eco_output(&[
        "client",
        "--udp",
        "--lang",
        "en",
        "--port",
        &server.port(),
        "--count",
        "40",
        "-m",
        "ping",
    ]);
    assert!(text(&out.stdout).contains("40 sent, 40 echoed, 0% lost"), "{}", text(&out.stdout));
    assert!(
        eventually(|| server.stderr().contains("coming back after being answered (an echo loop)")),
        "{}",
        server.stderr()
    );
}

/// `--max-conns` and `--keepalive` out of what the system takes are usage
/// errors at start (exit 2, naming the value), not a panic (exit 101) or
/// "Invalid argument" at listen().
#[test]
fn impossible_limits_are_usage_errors() {
    for (flag, value, says) in [
        ("--max-conns", "3000000000000000000", "use 0 (no limit) to 10000000"),
        ("--keepalive", "0.5", "use whole seconds from 1 to 32767"),
        ("--keepalive", "40000", "use whole seconds from 1 to 32767"),
        ("--deny", "::ffff:127.0.0.0/80", "write the IPv4 network instead"),
    ] {
        let out = eco_output(&["server", "--port", "0", flag, value]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(&format!("'{value}'")) && stderr.contains(says), "{stderr}");
    }
}

/// `--once` means one client served: a refused one does not end the
/// server. It used to.
#[test]
fn once_waits_for_a_client_it_serves() {
    let mut server = Server::start(&["--mode", "single", "--once", "--deny", "127.0.0.2", "--lang", "en"]);
    assert!(turned_away("127.0.0.2", server.addr));
    assert_eq!(echo_of(server.addr, b"the one"), b"the one");
    assert_eq!(server.wait(LIMIT).expect("exits after serving").code(), Some(0));
}

/// `--timeout` bounds the whole echo: a server that drips a byte every
/// 0.3 s cannot stretch a 55-byte echo past it. It used to bound each
/// read (55 × 0.3 s, exit 0).
#[test]
fn timeout_bounds_the_whole_echo() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut message = [0u8; 55];
        stream.read_exact(&mut message).unwrap();
        for byte in message {
            if stream.write_all(&[byte]).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(300));
        }
    });
    let started = Instant::now();
    let out = eco_output(&["client", "--lang", "en", "--port", &port, "--timeout", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(text(&out.stderr).contains("did not come back within 1 s ("), "{}", text(&out.stderr));
}

/// `eco bench` with nothing listening fails at once, saying so. It used to
/// run its whole duration and then blame the echo's fidelity.
#[test]
fn bench_with_nothing_listening_fails_at_once() {
    let port = free_port().to_string();
    let started = Instant::now();
    let out = eco_output(&["bench", "--lang", "en", "--port", &port, "-d", "5"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        text(&out.stderr),
        format!(
            "eco: connection to 127.0.0.1:{port} refused: nothing listens there. Is `eco server --host \
             127.0.0.1 --port {port}` running?\n"
        )
    );
}

/// Ctrl-C during `eco bench` prints the report of what was measured (and
/// says so); during `eco client --count`, the statistics so far — as ping
/// does. Both used to lose everything.
#[test]
fn ctrl_c_keeps_what_was_measured() {
    let server = Server::start(&[]);
    let bench = eco()
        .args(["bench", "--lang", "en", "--port", &server.port(), "-c", "2", "-d", "30", "--warmup", "0.2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = eco()
        .args(["client", "--lang", "en", "--port", &server.port(), "--count", "1000", "--interval", "0.1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    thread::sleep(Duration::from_millis(1200));
    for pid in [bench.id(), client.id()] {
        assert!(Command::new("kill").args(["-INT", &pid.to_string()]).status().unwrap().success());
    }
    let (bench, client) = (wait_output(bench), wait_output(client));
    assert_eq!(bench.status.code(), Some(0), "{}", text(&bench.stderr));
    let report = text(&bench.stdout);
    assert!(report.contains("(interrupted: the figures cover the "), "{report}");
    assert!(report.contains("  Errors:      none, every echo checked"), "{report}");
    assert_eq!(client.status.code(), Some(0), "{}", text(&client.stderr));
    let stats = text(&client.stdout);
    assert!(stats.contains(" echo statistics ---\n"), "{stats}");
    let last = stats.lines().last().unwrap();
    assert!(last.contains(" echoed, 0% lost, min/avg/max = "), "{stats}");
}

/// A one-at-a-time server under 5 connections: the report warns that
/// some completed nothing, and latencies come with their deviation.
#[test]
fn bench_warns_about_starved_connections() {
    let out = eco_output(&[
        "bench", "--lang", "en", "--spawn", "single", "-c", "5", "-d", "0.5", "--warmup", "0.1",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(
        report.contains("connections completed nothing in the measured window: the server served them late"),
        "{report}"
    );
    let latency = report.lines().find(|l| l.starts_with("  Latency:")).expect(&report);
    let (_, mean) = latency.split_once("(mean ").unwrap();
    assert!(mean.contains(" ± ") && mean.contains(" µs, n="), "{latency}");
}

/// `eco bench --udp` against a server with its default guard loses most
/// datagrams to the per-source rate: the report says what the likely
/// cause is and how to raise it.
#[test]
fn bench_udp_losses_come_with_the_likely_cause() {
    let server = Server::start(&["--udp"]);
    let out = eco_output(&[
        "bench",
        "--lang",
        "en",
        "--udp",
        "--port",
        &server.port(),
        "-c",
        "1",
        "-d",
        "1.5",
        "--warmup",
        "0",
    ]);
    let report = text(&out.stdout);
    assert!(report.contains("its reflection guard answers 100 datagrams/s per source address"), "{report}");
    assert!(report.contains("--udp-rate-per-ip 1000000"), "{report}");
}

each_mode! {
    [threads, async_tokio, uring]
    /// A client that vanishes (its packets dropped by a firewall in a
    /// namespace) is closed by keepalive and logged as such, with the idle
    /// timeout off. It used to be logged `idle_timeout`.
    fn a_vanished_client_is_logged_as_keepalive(mode) {
        let Some(python) = tool("python3") else { return };
        let Some(ns) = Namespace::new(&format!("ka-{mode}"), "") else { return };
        let server = ns
            .eco()
            .args(["server", "--mode", mode, "--port", "5050", "--keepalive", "1", "--idle-timeout", "0"])
            .args(["--log-format", "json"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let client = ns
            .command(python)
            .args(["-c", "import socket,time\ns=socket.create_connection(('127.0.0.1',5050))\ns.sendall(b'hi')\ns.recv(2)\nprint('ok',flush=True)\ntime.sleep(30)"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut client = client;
        let mut ok = [0u8; 3];
        client.stdout.take().unwrap().read_exact(&mut ok).unwrap();
        // The client vanishes: everything to it is dropped from now on.
        ns.rule("tcp sport 5050 drop");
        let server_log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (log, mut server) = (std::sync::Arc::clone(&server_log), server);
        let stderr = server.stderr.take().unwrap();
        thread::spawn(move || {
            for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
                log.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let closed = eventually(|| server_log.lock().unwrap().contains(r#""message":"connection closed""#));
        let _ = client.kill();
        let _ = server.kill();
        let log = server_log.lock().unwrap().clone();
        assert!(closed, "{log}");
        assert!(log.contains(r#""reason":"keepalive""#), "{log}");
    }
}

// What the second hostile review found (issue 8, round two).

each_mode! {
    /// A client that reads its echo at 50 kB/s through an 8 KiB receive
    /// buffer makes progress the whole time: it is not idle, whatever
    /// --idle-timeout says. The async mode used to reset it after the
    /// timeout (its write waited for a large part of the send buffer to
    /// free up, which took longer than the timeout).
    fn a_slow_reader_is_not_idle(mode) {
        let server = Server::start(&["--mode", mode, "--idle-timeout", "1", "--lang", "en"]);
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.set_recv_buffer_size(8192).unwrap();
        socket.connect(&server.addr.into()).unwrap();
        let mut stream: TcpStream = socket.into();
        let mut writer = stream.try_clone().unwrap();
        thread::spawn(move || {
            let _ = writer.write_all(&vec![b'z'; 8 << 20]);
        });
        let started = Instant::now();
        let mut got = 0;
        let mut buf = [0u8; 5000];
        while started.elapsed() < Duration::from_millis(2500) {
            match stream.read(&mut buf) {
                Ok(0) => panic!("FIN after {got} bytes"),
                Ok(n) => got += n,
                Err(e) => panic!("{e} after {got} bytes and {:?}", started.elapsed()),
            }
            thread::sleep(Duration::from_millis(100));
        }
        assert!(got > 60_000, "{got}");
        assert!(!server.stderr().contains("idle for longer"), "{}", server.stderr());
    }

    /// One urgent byte (MSG_OOB) in the middle of a stream: the bytes
    /// around it are echoed (the urgent byte itself is not part of the
    /// stream), in every mode. The async mode, once it splices, used to
    /// stop at the urgent mark for good.
    fn an_urgent_byte_does_not_stall_the_echo(mode) {
        let server = Server::start(&["--mode", mode]);
        let stream = connect(server.addr);
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        // 1 MiB first: the async mode then splices.
        let data = bytes(1 << 20, 8);
        let mut writer = stream.try_clone().unwrap();
        let sent = data.clone();
        let sender = thread::spawn(move || writer.write_all(&sent).unwrap());
        let mut echo = vec![0u8; data.len()];
        (&stream).read_exact(&mut echo).unwrap();
        sender.join().unwrap();
        assert_same(&echo, &data);
        let socket = socket2::SockRef::from(&stream);
        socket.send(b"abc").unwrap();
        socket.send_out_of_band(b"X").unwrap();
        thread::sleep(Duration::from_millis(50));
        socket.send(b"def").unwrap();
        let mut echo = [0u8; 6];
        (&stream).read_exact(&mut echo).unwrap();
        assert_eq!(&echo, b"abcdef");
        (&stream).write_all(b"ghi").unwrap();
        let mut echo = [0u8; 3];
        (&stream).read_exact(&mut echo).unwrap();
        assert_eq!(&echo, b"ghi");
    }

    /// An urgent byte in a stream that then ends (FIN) at once: the whole
    /// stream comes back but the urgent byte, then a FIN. Once the FIN is
    /// in, the kernel's splice stops at the urgent mark as at the end of
    /// the stream: the async and uring modes took it for the client's FIN,
    /// closed with bytes unread (a reset) and logged a clean end.
    fn an_urgent_byte_before_the_fin_does_not_cut_the_stream(mode) {
        let server = Server::start(&["--mode", mode]);
        for round in 0..4 {
            let stream = connect(server.addr);
            let reader = stream.try_clone().unwrap();
            let read = thread::spawn(move || {
                let mut got = Vec::new();
                (&reader).read_to_end(&mut got).map(|_| got)
            });
            let socket = socket2::SockRef::from(&stream);
            (&stream).write_all(&vec![b'A'; 200_000]).unwrap();
            socket.send_out_of_band(b"X").unwrap();
            (&stream).write_all(&vec![b'B'; 200_000]).unwrap();
            stream.shutdown(Shutdown::Write).unwrap();
            let got = read.join().unwrap().unwrap_or_else(|e| panic!("round {round}: {e}"));
            let want: Vec<u8> = [vec![b'A'; 200_000], vec![b'B'; 200_000]].concat();
            assert_eq!(got.len(), want.len(), "round {round}");
            assert!(got == want, "round {round}: the echo differs");
        }
        assert!(!server.stderr().contains("reset"), "{}", server.stderr());
    }

    /// A client that stops reading while eco still owes it echo, past
    /// --idle-timeout, with nothing left for eco to read (so a close
    /// would be a plain FIN): it gets everything and a FIN, or a reset,
    /// never a FIN after part of its echo (which it would take for all of
    /// it). The async mode used to end with that FIN.
    fn an_idle_timeout_with_echo_owed_is_a_reset(mode) {
        let Some(python) = tool("python3") else { return };
        let server = Server::start(&["--mode", mode, "--idle-timeout", "2"]);
        let out = Command::new(python).arg(python_script("owed_echo.py")).args([&server.port(), "3"]).output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let (sent, got) = (report["sent"].as_u64().unwrap(), report["got"].as_u64().unwrap());
        assert!(report["end"] == "reset" || (report["end"] == "fin" && got == sent), "{report}");
    }
}

/// `--timeout 0` and `--connect-timeout 0` mean no limit (as the help
/// says), not "fail at once".
#[test]
fn zero_timeouts_mean_no_limit() {
    let server = Server::start(&[]);
    let port = server.port();
    for args in [&["--timeout", "0"][..], &["--connect-timeout", "0"], &["--timeout", "0", "--count", "2"]] {
        let mut all = vec!["client", "--lang", "en", "--port", &port, "-m", "hi"];
        all.extend_from_slice(args);
        let out = eco_output(&all);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
}

/// A server that is not quite an echo, for the `--stdin` client: it flips
/// a byte, adds bytes, or drips one byte every 300 ms.
fn liar(kind: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().flatten().take(1) {
            let mut stream = stream;
            let mut buf = vec![0u8; 65536];
            loop {
                let n = match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let chunk = &mut buf[..n];
                match kind {
                    "corrupt" => {
                        chunk[n / 2] ^= 0x20;
                        let _ = stream.write_all(chunk);
                    }
                    "drip" => {
                        for byte in chunk.iter() {
                            let _ = stream.write_all(&[*byte]);
                            thread::sleep(Duration::from_millis(300));
                        }
                    }
                    _ => {
                        let _ = stream.write_all(chunk);
                    }
                }
            }
            if kind == "extra" {
                let _ = stream.write_all(b"EXTRA");
            }
        }
    });
    addr
}

/// `--stdin` checks the echo against the input: a changed byte, bytes
/// never sent, or an echo that drips past --timeout fail (exit 1, saying
/// which); eco used to print whatever came back and exit 0, and to wait
/// as long as a byte came now and then.
#[test]
fn the_stdin_client_checks_its_echo_and_its_deadline() {
    let input = bytes(100_000, 3);
    for (kind, says) in [
        ("corrupt", "differs from what was sent at byte"),
        ("extra", "goes on past what was sent: byte 100000 onwards was never sent"),
        ("drip", "did not come back within 1 s"),
    ] {
        let addr = liar(kind);
        let started = Instant::now();
        let out = output_with_input(
            eco().args([
                "client",
                "--stdin",
                "--lang",
                "en",
                "--timeout",
                "1",
                "--port",
                &addr.port().to_string(),
            ]),
            &input,
        );
        assert_eq!(out.status.code(), Some(1), "{kind}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(says), "{kind}: {}", text(&out.stderr));
        assert!(started.elapsed() < Duration::from_secs(5), "{kind}: {:?}", started.elapsed());
        // What reached stdout is what was sent, as far as it goes.
        assert_eq!(&input[..out.stdout.len()], &out.stdout[..], "{kind}");
    }
}

/// Ctrl-C during the warm-up: nothing measured, and eco says so (not "0.0
/// s measured" and a warning about starved connections).
#[test]
fn a_bench_stopped_during_its_warm_up_says_nothing_was_measured() {
    let server = Server::start(&[]);
    let child = eco()
        .args(["bench", "--lang", "en", "--port", &server.port(), "-c", "4", "--warmup", "5", "-d", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    thread::sleep(Duration::from_millis(700));
    let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    let out = wait_output(child);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("interrupted during the warm-up: nothing was measured"), "{stdout}");
    assert_eq!(out.status.code(), Some(1), "nothing measured is no success");
    assert!(!stdout.contains("completed nothing"), "{stdout}");
}

/// `--mode threads` out of threads (`ulimit -u`, as a user the limit
/// applies to): the clients it cannot serve are refused and told as
/// refusals (once, then counted), not one "Resource temporarily
/// unavailable" line each; the server lives on and serves again once
/// threads are free.
#[test]
fn threads_mode_out_of_threads_refuses_and_says_why() {
    if !root() {
        return;
    }
    let Some(prlimit) = tool("prlimit") else { return };
    // A user of its own: the process limit counts all of a user's
    // processes, and other tests run as `nobody` meanwhile.
    let (cmd, dir) = eco_as_user(65532, &[]);
    drop(cmd);
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65532", "--regid=65532", "--clear-groups"])
        .arg(prlimit)
        .arg("--nproc=16")
        .arg(dir.path().join("eco"))
        .args(["server", "--port", "0", "--mode", "threads", "--lang", "en"])
        .current_dir(dir.path());
    let server = Server::spawn(cmd);
    let held: Vec<TcpStream> = (0..40).map(|_| connect(server.addr)).collect();
    for mut stream in &held {
        let _ = stream.write_all(b"x");
    }
    assert!(
        eventually(|| server.stderr().contains("no thread could be started for it (out of threads")),
        "{}",
        server.stderr()
    );
    assert!(!server.stderr().contains("Resource temporarily unavailable"), "{}", server.stderr());
    drop(held);
    thread::sleep(Duration::from_millis(500));
    let out = eco_output(&["client", "--lang", "en", "--port", &server.port(), "-m", "back"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// `--stdin` against a peer that reads and never echoes (a discard server,
/// an HTTP server): eco holds at most 32 MiB of input ahead of its echo,
/// then waits, and fails after --timeout without echo; it once held every
/// byte sent (1 GiB of input, 1 GiB of memory).
#[test]
fn the_stdin_client_holds_bounded_input_against_a_peer_that_never_echoes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut buf = vec![0u8; 1 << 20];
            while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
        }
    });
    let mut child = eco()
        .args(["client", "--stdin", "--lang", "en", "--timeout", "1", "--port", &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = thread::spawn(move || {
        let chunk = vec![b'd'; 1 << 20];
        for _ in 0..200 {
            if stdin.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    // Its peak memory, while it runs: VmHWM of /proc/PID/status.
    let mut peak_kib = 0u64;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { break };
        if let Some(kib) =
            status.lines().find_map(|l| l.strip_prefix("VmHWM:")?.trim().strip_suffix(" kB")?.parse().ok())
        {
            peak_kib = kib;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let _ = feeder.join();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("did not come back within 1 s"), "{}", text(&out.stderr));
    assert!(peak_kib < 100 << 10, "peak {peak_kib} KiB");
}
