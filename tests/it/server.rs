//! `eco server` in every mode: transcript, byte-exact echo, concurrency,
//! half-close, misbehaving clients, signals, and real peers.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::*;

const EXERCISE: &str = "Olá Servidor, meu nome é Cliente e sou o único aqui.";

/// The server's transcript, with the client's port (which varies) checked and cut out.
fn transcript_with_port_checked(stdout: &str, connected: &str) -> String {
    stdout
        .lines()
        .map(|line| match line.strip_prefix(connected) {
            Some(addr) => {
                let port = addr.strip_prefix("127.0.0.1:").expect("peer on 127.0.0.1");
                port.parse::<u16>().expect("peer port is a number");
                format!("{connected}127.0.0.1:PORT\n")
            }
            None => format!("{line}\n"),
        })
        .collect()
}

each_mode! {
    fn exercise_transcript_in_portuguese(mode) {
        let mut server = Server::start(&["--mode", mode, "--once", "--lang", "pt"]);
        let client = eco_output(&["client", "--lang", "pt", "--port", &server.port()]);
        assert!(client.status.success(), "client: {}", text(&client.stderr));
        assert_eq!(text(&client.stdout), format!("Mensagem ecoada: {EXERCISE}\n"));
        let status = server.wait(LIMIT).expect("--once exits after one connection");
        assert!(status.success());
        assert_eq!(
            transcript_with_port_checked(&server.stdout(), "Conectado em "),
            "Aguardando conexão de um cliente ...\nConectado em 127.0.0.1:PORT\nConexão fechada :)\n"
        );
    }

    fn exercise_transcript_in_english(mode) {
        let mut server = Server::start(&["--mode", mode, "--once", "--lang", "en"]);
        let client = eco_output(&["client", "--lang", "en", "--port", &server.port()]);
        assert!(client.status.success(), "client: {}", text(&client.stderr));
        assert_eq!(text(&client.stdout), format!("Echoed message: {EXERCISE}\n"));
        assert!(server.wait(LIMIT).expect("--once exits").success());
        assert_eq!(
            transcript_with_port_checked(&server.stdout(), "Connected to "),
            "Waiting for a client connection ...\nConnected to 127.0.0.1:PORT\nConnection closed :)\n"
        );
    }

    fn byte_exact_echo_of_every_size(mode) {
        let server = Server::start(&["--mode", mode]);
        for (seed, len) in [0, 1, 1023, 1024, 1025, 1 << 20].into_iter().enumerate() {
            let data = bytes(len, seed as u64);
            assert_same(&echo_of(server.addr, &data), &data);
        }
    }

    fn half_close_returns_the_whole_echo_before_eof(mode) {
        // Send everything first, without reading, then shut down our write
        // side: the server must still echo all of it, then close.
        let server = Server::start(&["--mode", mode]);
        let data = bytes(1 << 20, 7);
        let mut stream = connect(server.addr);
        stream.write_all(&data).unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        let mut echo = Vec::new();
        stream.read_to_end(&mut echo).unwrap();
        assert_same(&echo, &data);
    }

    fn a_connection_that_sends_nothing_is_fine(mode) {
        let mut server = Server::start(&["--mode", mode, "--once", "--lang", "en"]);
        assert_eq!(echo_of(server.addr, b""), b"");
        assert!(server.wait(LIMIT).expect("--once exits").success());
        assert!(server.stdout().ends_with("Connection closed :)\n"));
        assert_eq!(server.stderr().lines().count(), 1, "only the listening note: {}", server.stderr());
    }

    fn a_client_that_resets_mid_stream_does_not_stop_the_server(mode) {
        let mut server = Server::start(&["--mode", mode, "--lang", "en"]);
        let stream = connect(server.addr);
        (&stream).write_all(&bytes(256 * 1024, 1)).unwrap();
        // SO_LINGER 0: close() sends RST instead of FIN, dropping any data.
        socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO)).unwrap();
        drop(stream);
        let data = bytes(100_000, 2);
        assert_same(&echo_of(server.addr, &data), &data);
        assert!(server.is_running());
        // Both connections ended with the exercise's line.
        let deadline = Instant::now() + LIMIT;
        while server.stdout().matches("Connection closed :)").count() < 2 {
            assert!(Instant::now() < deadline, "stdout: {}", server.stdout());
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn python_client_written_like_the_exercise(mode) {
        let Some(python) = tool("python3") else { return };
        let mut server = Server::start(&["--mode", mode, "--once", "--lang", "pt"]);
        let out = Command::new(python)
            .arg(python_script("cliente.py"))
            .arg(server.port())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), format!("Mensagem ecoada: {EXERCISE}\n"));
        assert!(server.wait(LIMIT).expect("--once exits").success());
    }

    fn nc_pipes_a_file_through_the_server(mode) {
        let Some(nc) = tool("nc") else { return };
        let server = Server::start(&["--mode", mode]);
        let data = bytes(3 << 20, 11);
        let out = output_with_input(Command::new(nc).args(["-N", "127.0.0.1", &server.port()]), &data);
        assert!(out.status.success(), "nc: {}", text(&out.stderr));
        assert_same(&out.stdout, &data);
    }

    fn sigterm_while_idle_exits_zero(mode) {
        let mut server = Server::start(&["--mode", mode, "--lang", "en"]);
        assert_eq!(echo_of(server.addr, b"before"), b"before");
        server.signal("TERM");
        let status = server.wait(Duration::from_secs(5)).expect("exits on SIGTERM");
        assert_eq!(status.code(), Some(0));
        assert!(server.stderr().contains("eco: stopping: no new connections"), "{}", server.stderr());
    }

    fn sigint_lets_an_open_connection_finish_its_echo(mode) {
        let mut server = Server::start(&["--mode", mode, "--grace", "3"]);
        let mut stream = connect(server.addr);
        stream.write_all(b"first").unwrap();
        let mut buf = [0u8; 5];
        stream.read_exact(&mut buf).unwrap();
        server.signal("INT");
        thread::sleep(Duration::from_millis(200));
        // Still served during the grace...
        let data = bytes(200_000, 5);
        let mut writer = stream.try_clone().unwrap();
        let input = data.clone();
        let sending = thread::spawn(move || {
            writer.write_all(&input).unwrap();
            writer.shutdown(Shutdown::Write).unwrap();
        });
        let mut echo = Vec::new();
        stream.read_to_end(&mut echo).unwrap();
        sending.join().unwrap();
        assert_same(&echo, &data);
        // ...and the process exits 0 as soon as that connection is done.
        let status = server.wait(Duration::from_secs(2)).expect("exits once idle");
        assert_eq!(status.code(), Some(0));
        // New connections are no longer accepted.
        assert!(std::net::TcpStream::connect(server.addr).is_err());
    }

    fn a_connection_past_the_grace_is_cut_off_and_the_server_exits_zero(mode) {
        let mut server = Server::start(&["--mode", mode, "--grace", "0.5"]);
        let _silent = connect(server.addr);
        thread::sleep(Duration::from_millis(100));
        let start = Instant::now();
        server.signal("TERM");
        let status = server.wait(Duration::from_secs(5)).expect("exits after the grace");
        assert_eq!(status.code(), Some(0));
        assert!(start.elapsed() < Duration::from_secs(2), "took {:?}", start.elapsed());
    }
}

each_mode! {
    [threads, async_tokio, uring]
    /// Many clients at once, each checking its own bytes (not in single mode,
    /// which serves one at a time by design).
    fn fifty_concurrent_clients(mode) {
        let server = Server::start(&["--mode", mode]);
        let clients: Vec<_> = (0..50u64)
            .map(|seed| {
                let addr = server.addr;
                thread::spawn(move || {
                    let data = bytes(64 * 1024 + seed as usize, seed);
                    assert_same(&echo_of(addr, &data), &data);
                })
            })
            .collect();
        for client in clients {
            client.join().expect("client thread");
        }
    }
}

#[test]
fn single_mode_serves_clients_one_after_another() {
    let server = Server::start(&["--mode", "single", "--lang", "pt"]);
    for seed in 0..3 {
        let data = bytes(5000, seed);
        assert_same(&echo_of(server.addr, &data), &data);
    }
    // Each closed connection is followed by the waiting line again, as a
    // student's loop around accept() would print it.
    let deadline = Instant::now() + LIMIT;
    while server.stdout().matches("Aguardando conexão de um cliente ...").count() < 4 {
        assert!(Instant::now() < deadline, "{}", server.stdout());
        thread::sleep(Duration::from_millis(10));
    }
    let lines: Vec<String> = server.stdout().lines().map(String::from).collect();
    assert_eq!(lines.len(), 10, "{lines:?}");
    for (i, line) in lines.iter().enumerate() {
        match i % 3 {
            0 => assert_eq!(line, "Aguardando conexão de um cliente ..."),
            1 => assert!(line.starts_with("Conectado em 127.0.0.1:"), "{line}"),
            _ => assert_eq!(line, "Conexão fechada :)"),
        }
    }
}

#[test]
fn single_mode_reads_1024_bytes_per_recv_yet_echoes_longer_messages_whole() {
    let server = Server::start(&["--mode", "single", "--buffer", "1024"]);
    let message = "x".repeat(5000);
    let out = eco_output(&["client", "--lang", "en", "--port", &server.port(), "--message", &message]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("Echoed message: {message}\n"));
}

/// `eco server --inetd`: the connection is stdin and stdout (a socketpair
/// here, as inetd or systemd's Accept=yes pass one): 200 000 random bytes
/// come back whole, then eco exits 0; nothing else is written to the
/// connection, even with -v when stderr is the same socket (as inetd
/// passes it); with stderr apart, -v logs the connection there.
#[test]
fn inetd_mode_echoes_stdin_to_stdout_and_nothing_else() {
    let Some(python) = tool("python3") else { return };
    let run = |args: &[&str]| -> serde_json::Value {
        let out = Command::new(&python).arg(python_script("inetd_pair.py")).args(args).output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let eco = eco_bin();
    let eco = eco.to_str().unwrap();
    let quiet = run(&[eco]);
    assert_eq!((quiet["echoed_ok"].as_bool(), quiet["status"].as_i64()), (Some(true), Some(0)), "{quiet}");
    assert_eq!(quiet["stderr"], "", "{quiet}");
    let logged = run(&[eco, "-v"]);
    assert_eq!(logged["echoed_ok"], true, "{logged}");
    assert!(logged["stderr"].as_str().unwrap().contains("connection closed"), "{logged}");
    assert!(logged["stderr"].as_str().unwrap().contains("bytes_in=200000"), "{logged}");
    let shared = run(&["--stderr-too", eco, "-v"]);
    assert_eq!(
        (shared["echoed_ok"].as_bool(), shared["got"].as_i64()),
        (Some(true), Some(200_000)),
        "{shared}"
    );
    let out = eco_output(&["server", "--inetd", "--port", "5050"]);
    assert_eq!(out.status.code(), Some(2));
}

each_mode! {
    /// Under systemd with a .socket unit (Accept=no): the listening socket
    /// as descriptor 3 (LISTEN_FDS, LISTEN_PID), READY=1 and STOPPING=1
    /// told on NOTIFY_SOCKET, a client echoed, SIGTERM → exit 0, and the
    /// socket still listening afterwards: it is systemd's, for the next
    /// start (the blocking modes used to shut it down to wake accept()).
    fn systemd_socket_activation(mode) {
        let Some(python) = tool("python3") else { return };
        let out = Command::new(python)
            .arg(python_script("systemd_socket.py"))
            .arg(eco_bin())
            .arg(mode)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for key in ["ready", "echo", "stopping", "still_listening"] {
            assert_eq!(report[key], true, "{key}: {report}");
        }
        assert_eq!(report["status"], 0, "{report}");
    }
}
