//! `eco demo`: the exercise end to end in one command.

use crate::support::*;

fn assert_demo(lang: &str, titles: [&str; 3], lines: [&str; 4]) {
    let out = eco_output(&["demo", "--lang", lang]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let got: Vec<&str> = stdout.lines().collect();
    assert!(got[0].starts_with(titles[0]), "{stdout}");
    assert_eq!(got[1], lines[0]);
    assert!(got[2].starts_with(lines[1]), "{stdout}");
    assert_eq!(got[3], lines[2]);
    assert!(got[4].starts_with(titles[1]), "{stdout}");
    assert_eq!(got[5], lines[3]);
    assert_eq!(got[6], titles[2]);
    assert!(got.iter().any(|l| l.contains("52") && l.contains("55")), "{stdout}");
}

#[test]
fn demo_prints_both_transcripts_in_portuguese() {
    assert_demo(
        "pt",
        ["── servidor (", "── cliente (", "── o que aconteceu ──"],
        [
            "Aguardando conexão de um cliente ...",
            "Conectado em 127.0.0.1:",
            "Conexão fechada :)",
            "Mensagem ecoada: Olá Servidor, meu nome é Cliente e sou o único aqui.",
        ],
    );
}

#[test]
fn demo_prints_both_transcripts_in_english() {
    assert_demo(
        "en",
        ["── server (", "── client (", "── what happened ──"],
        [
            "Waiting for a client connection ...",
            "Connected to 127.0.0.1:",
            "Connection closed :)",
            "Echoed message: Olá Servidor, meu nome é Cliente e sou o único aqui.",
        ],
    );
}
