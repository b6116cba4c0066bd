//! `eco demo`: the exercise end to end in one command.

use std::process::Command;

use crate::support::*;

struct Expect {
    titles: [&'static str; 4],
    lines: [&'static str; 4],
    phases: [&'static str; 3],
}

fn assert_demo(lang: &str, want: Expect) {
    let out = eco_output(&["demo", "--lang", lang]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let got: Vec<&str> = stdout.lines().collect();
    assert!(got[0].starts_with(want.titles[0]), "{stdout}");
    assert_eq!(got[1], want.lines[0]);
    assert!(got[2].starts_with(want.lines[1]), "{stdout}");
    assert_eq!(got[3], want.lines[2]);
    assert!(got[4].starts_with(want.titles[1]), "{stdout}");
    assert_eq!(got[5], want.lines[3]);
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| text(&o.stdout).trim() == "0");
    if root {
        // The packets of the exchange, in the exercise's layout: 11 frames.
        assert!(got[6].starts_with(want.titles[2]), "{stdout}");
        let numbered = |l: &&&str| l.trim_start().split(' ').next().is_some_and(|n| n.parse::<u32>().is_ok());
        let frames = got.iter().filter(numbered).filter(|l| l.contains(" TCP "));
        assert_eq!(frames.count(), 11, "{stdout}");
        // ... and the same 11 as arrows of the diagram, each way in turn.
        let arrows: Vec<&&str> = got.iter().filter(numbered).filter(|l| l.contains('│')).collect();
        assert_eq!(arrows.len(), 11, "{stdout}");
        assert!(arrows[0].contains("─ SYN  Seq=0") && arrows[0].ends_with("▶│"), "{stdout}");
        assert!(arrows[1].contains("◀─") && arrows[1].contains("SYN, ACK  Seq=0 Ack=1"), "{stdout}");
        for phase in want.phases {
            assert!(got.iter().any(|l| l.starts_with(phase)), "{phase}: {stdout}");
        }
    }
    let what = got.iter().position(|l| *l == want.titles[3]).expect("what happened");
    assert!(got[what..].iter().any(|l| l.contains("52") && l.contains("55")), "{stdout}");
}

#[test]
fn demo_prints_both_transcripts_in_portuguese() {
    assert_demo(
        "pt",
        Expect {
            titles: [
                "── servidor (",
                "── cliente (",
                "── pacotes em lo: 127.0.0.1:",
                "── o que aconteceu ──",
            ],
            lines: [
                "Aguardando conexão de um cliente ...",
                "Conectado em 127.0.0.1:",
                "Conexão fechada :)",
                "Mensagem ecoada: Olá Servidor, meu nome é Cliente e sou o único aqui.",
            ],
            phases: [
                "[1, 2, 3]: Three-way handshake",
                "[4, 5, 6, 7]: Dados e ACKs",
                "[8, 9, 10, 11]: Encerramento",
            ],
        },
    );
}

#[test]
fn demo_prints_both_transcripts_in_english() {
    assert_demo(
        "en",
        Expect {
            titles: ["── server (", "── client (", "── packets on lo: 127.0.0.1:", "── what happened ──"],
            lines: [
                "Waiting for a client connection ...",
                "Connected to 127.0.0.1:",
                "Connection closed :)",
                "Echoed message: Olá Servidor, meu nome é Cliente e sou o único aqui.",
            ],
            phases: [
                "[1, 2, 3]: Three-way handshake",
                "[4, 5, 6, 7]: Data and ACKs",
                "[8, 9, 10, 11]: Four-way close",
            ],
        },
    );
}
