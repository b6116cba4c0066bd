//! `eco client`: against eco, against the exercise's Python server, and
//! against servers that misbehave.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::thread;

use crate::support::*;

const EXERCISE: &str = "Olá Servidor, meu nome é Cliente e sou o único aqui.";

#[test]
fn eco_client_against_a_python_server_written_like_the_exercise() {
    let Some(python) = tool("python3") else {
        return;
    };
    let mut server =
        Command::new(python).arg(python_script("servidor.py")).stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let port = first.strip_prefix("port ").expect("servidor.py prints its port first");
    let out = eco_output(&["client", "--lang", "pt", "--port", port]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("Mensagem ecoada: {EXERCISE}\n"));
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(server.wait().unwrap().success());
    assert_eq!(rest[0], "Aguardando conexão de um cliente ...");
    assert!(rest[1].starts_with("Conectado em ('127.0.0.1', "), "{}", rest[1]);
    assert_eq!(rest[2], "Conexão fechada :)");
}

#[test]
fn stdin_mode_round_trips_10_mib_of_random_bytes() {
    let server = Server::start(&[]);
    let data = bytes(10 << 20, 42);
    let out = output_with_input(eco().args(["client", "--stdin", "--port", &server.port()]), &data);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_same(&out.stdout, &data);
}

#[test]
fn stdin_mode_with_empty_input_exits_zero_with_empty_output() {
    let server = Server::start(&[]);
    let out = eco_output(&["client", "--stdin", "--port", &server.port()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
}

#[test]
fn count_prints_each_round_trip_and_a_summary() {
    let server = Server::start(&[]);
    let out = eco_output(&["client", "--lang", "en", "--port", &server.port(), "--count", "3", "-m", "ping"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    for (i, line) in lines[..3].iter().enumerate() {
        let prefix = format!("4 bytes from {}: seq={} time=", server.addr, i + 1);
        let ms = line.strip_prefix(&prefix).and_then(|r| r.strip_suffix(" ms")).expect(line);
        assert!(ms.parse::<f64>().unwrap() >= 0.0);
    }
    assert_eq!(lines[3], format!("--- {} echo statistics ---", server.addr));
    assert!(lines[4].starts_with("3 sent, 3 echoed, 0% lost, min/avg/max = "), "{}", lines[4]);
}

#[test]
fn connection_refused_says_to_start_eco_server() {
    // A port that was free a moment ago: bind, note it, close.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let out = eco_output(&["client", "--lang", "en", "--port", &port]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "eco: connection to 127.0.0.1:{port} refused: nothing listens there. \
             Is `eco server --host 127.0.0.1 --port {port}` running?\n"
        )
    );
    let out = eco_output(&["client", "--lang", "pt", "--port", &port]);
    assert!(text(&out.stderr).starts_with(&format!("eco: conexão com 127.0.0.1:{port} recusada")));
}

/// A one-connection server that answers with `reply(received)` and closes.
fn fake_server(reply: fn(Vec<u8>) -> Vec<u8>) -> (String, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; EXERCISE.len()];
        stream.read_exact(&mut buf).unwrap();
        let _ = stream.write_all(&reply(buf));
    });
    (port, handle)
}

#[test]
fn an_echo_that_differs_is_an_error_naming_the_byte() {
    let (port, server) = fake_server(|mut got| {
        got[3] ^= 0x20;
        got
    });
    let out = eco_output(&["client", "--lang", "en", "--port", &port]);
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    // Both sides shown as text around the difference: "á" is 0xc3 0xa1,
    // and 0xc3 0x81 is "Á".
    assert_eq!(
        text(&out.stderr),
        format!(
            "eco: the echo from 127.0.0.1:{port} differs from what was sent at byte 3: \
             sent \"Olá Servidor, meu nome é Clien…\", got \"OlÁ Servidor, meu nome é Clien…\"\n"
        )
    );
}

#[test]
fn a_server_that_closes_early_is_an_error() {
    let (port, server) = fake_server(|got| got[..10].to_vec());
    let out = eco_output(&["client", "--lang", "en", "--port", &port]);
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "eco: 127.0.0.1:{port} closed the connection after echoing 10 of 55 bytes: \
             the echo is incomplete\n"
        )
    );
}

#[test]
fn a_server_that_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let out = eco_output(&["client", "--lang", "en", "--port", &port, "--timeout", "0.3"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("did not come back within 0.3 s (0 of 55 bytes)"),
        "{}",
        text(&out.stderr)
    );
    drop(listener);
}
