//! Command-line handling: usage errors, start-up errors, language choice.

use std::net::TcpListener;

use crate::support::*;

#[test]
fn a_port_in_use_is_named_and_the_exit_is_non_zero() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = eco_output(&["server", "--lang", "en", "--port", &port]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with(&format!("eco: address 127.0.0.1:{port} is already in use")), "{stderr}");
    assert!(stderr.contains("--port"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1);
}

#[test]
fn a_port_out_of_range_is_a_usage_error() {
    let out = eco_output(&["server", "--port", "70000"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("'70000'"), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
}

#[test]
fn a_bad_host_is_a_usage_error_naming_it() {
    let out = eco_output(&["client", "--lang", "en", "--host", "no such host", "--port", "5050"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("eco: cannot resolve host 'no such host'"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_address_of_no_interface_is_explained() {
    // 192.0.2.0/24 is TEST-NET-1: documentation only, never on a machine.
    let out = eco_output(&["server", "--lang", "en", "--host", "192.0.2.1", "--port", "0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("eco: address 192.0.2.1 is not on this machine"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_buffer_of_zero_is_a_usage_error() {
    let out = eco_output(&["server", "--buffer", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("use 1 to"), "{}", text(&out.stderr));
}

#[test]
fn language_comes_from_the_environment_when_no_flag_is_given() {
    let server = Server::start(&[]);
    let out = eco()
        .args(["client", "--port", &server.port(), "-m", "oi"])
        .env("LANG", "pt_BR.UTF-8")
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "Mensagem ecoada: oi\n");
    let out = eco()
        .args(["client", "--port", &server.port(), "-m", "hi"])
        .env("LANG", "pt_BR.UTF-8")
        .env("ECO_LANG", "en")
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "Echoed message: hi\n");
}

#[test]
fn help_lists_the_subcommands() {
    let out = eco_output(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for sub in ["server", "client", "demo"] {
        assert!(help.contains(sub), "{help}");
    }
}

#[test]
fn a_port_below_1024_without_privilege_says_what_to_do() {
    if !root() {
        return;
    }
    let start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").unwrap_or_default();
    if start.trim().parse::<u16>().is_ok_and(|port| port <= 80) {
        eprintln!("skipped: this system lets any user bind port 80 (ip_unprivileged_port_start = {start})");
        return;
    }
    let (mut cmd, _dir) = eco_as_nobody(&["server", "--lang", "en", "--port", "80"]);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "eco: port 80 is below 1024 and needs root or CAP_NET_BIND_SERVICE: choose a port of 1024 \
         or above, e.g. --port 5050\n"
    );
}

/// Usage errors speak the user's language (`--lang pt`, `--lang=pt`,
/// ECO_LANG, LANG): one line with the value and the fix, exit 2.
#[test]
fn usage_errors_in_portuguese() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["client", "--lang", "pt", "--port", "70000"],
            "eco: valor inválido '70000' para --port <PORTA>: '70000' não serve: use um número inteiro de 1 a 65535",
        ),
        (&["server", "--lang=pt", "--port"], "eco: falta o valor de --port <PORTA>"),
        (&["client", "--lang", "pt", "--hots", "x"], "eco: argumento inesperado '--hots': talvez '--host'?"),
        (
            &["bench", "--lang", "pt", "--rate", "0"],
            "eco: valor inválido '0' para --rate <MSGS_POR_S>: '0' não é uma taxa",
        ),
    ];
    for (args, says) in cases {
        let out = eco().args(args).env_remove("ECO_LANG").env("LANG", "C").output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).starts_with(says), "{args:?}: {}", text(&out.stderr));
    }
    let out = eco()
        .args(["client", "--port", "0"])
        .env("LANG", "pt_BR.UTF-8")
        .env_remove("ECO_LANG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("eco: valor inválido '0' para --port"), "{}", text(&out.stderr));
    let out = eco().args(["client", "--port", "0"]).env("LANG", "C").env_remove("ECO_LANG").output().unwrap();
    assert!(
        text(&out.stderr).contains("'0' will not do: use a whole number from 1 to 65535"),
        "{}",
        text(&out.stderr)
    );
    let out = eco().args(["--lang", "pt", "--help"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
}

/// `eco completions bash` is a script bash accepts, naming eco's commands;
/// `eco man` renders with man(1), one page per command with --out.
#[test]
fn completions_and_man_pages() {
    let out = eco_output(&["completions", "bash"]);
    assert!(out.status.success());
    let script = text(&out.stdout);
    for word in ["_eco()", "server", "trace", "lab"] {
        assert!(script.contains(word), "{word}");
    }
    if let Some(bash) = tool("bash") {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("eco.bash");
        std::fs::write(&file, &script).unwrap();
        let check = std::process::Command::new(&bash).arg("-n").arg(&file).status().unwrap();
        assert!(check.success(), "bash -n refused the completion script");
        // Loaded, it completes `eco la` to `lab`.
        let probe = format!(
            "source {}; COMP_WORDS=(eco la); COMP_CWORD=1; COMP_LINE='eco la'; COMP_POINT=6; _eco eco la eco; \
             echo \"${{COMPREPLY[@]}}\"",
            file.display()
        );
        let out = std::process::Command::new(&bash).args(["-c", &probe]).output().unwrap();
        assert_eq!(text(&out.stdout).trim(), "lab", "{}", text(&out.stderr));
    }
    let out = eco_output(&["man"]);
    assert!(out.status.success());
    let page = text(&out.stdout);
    assert!(page.contains(".TH eco 1"), "{page}");
    let dir = tempfile::tempdir().unwrap();
    let out = eco_output(&["--lang", "en", "man", "--out", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for name in ["eco.1", "eco-server.1", "eco-lab.1", "eco-trace.1"] {
        assert!(dir.path().join(name).is_file(), "{name}");
    }
    if let Some(man) = tool("man") {
        let out = std::process::Command::new(man)
            .args(["-l"])
            .arg(dir.path().join("eco-lab.1"))
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .output()
            .unwrap();
        let rendered = text(&out.stdout);
        assert!(rendered.contains("--worksheet"), "{rendered}{}", text(&out.stderr));
    }
    let out = eco_output(&["man", "--out", "/nonexistent/dir"]);
    assert_eq!(out.status.code(), Some(2));
}
