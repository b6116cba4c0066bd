//! The pictures of an exchange: SVG, HTML and Mermaid exports parsed and
//! rendered in headless Chromium; the terminal output in terminals of 80
//! and 100 columns.

use std::path::Path;
use std::process::Command;
use std::thread;

use crate::support::*;

/// `eco demo` with every export, in a scratch directory.
fn demo_with_exports(dir: &Path, lang: &str) -> String {
    let path = |name: &str| dir.join(name).display().to_string();
    let out = eco_output(&[
        "demo",
        "--lang",
        lang,
        "--svg",
        &path("demo.svg"),
        "--html",
        &path("demo.html"),
        "--mermaid",
        &path("demo.mmd"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

/// Python's XML parser on a file: well-formed or not, and what it holds.
fn python(code: &str, file: &Path) -> String {
    let out = Command::new("python3").arg("-c").arg(code).arg(file).output().unwrap();
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

/// Frame numbers of the `data-frame` groups in an SVG (parsed as XML).
fn svg_frames(file: &Path) -> Vec<usize> {
    let code = "import sys, xml.etree.ElementTree as ET\n\
                root = ET.parse(sys.argv[1]).getroot()\n\
                assert root.tag == '{http://www.w3.org/2000/svg}svg', root.tag\n\
                print(' '.join(g.get('data-frame') for g in root.iter('{http://www.w3.org/2000/svg}g') if g.get('class') == 'frame'))";
    python(code, file).split_whitespace().map(|n| n.parse().unwrap()).collect()
}

/// No address outside the file: no http(s) except the SVG namespace, no
/// `src=`, no `<link>`, no `<script>`, no `url(` other than `#markers`.
fn assert_self_contained(content: &str) {
    let without_ns = content.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for needle in ["http://", "https://", "src=", "<link", "<script", "@import", "url(http", "url(//"] {
        assert!(!without_ns.contains(needle), "{needle} in export");
    }
    for (i, _) in content.match_indices("url(") {
        assert_eq!(&content[i + 4..i + 5], "#", "url() to something outside");
    }
}

/// Renders `file` in headless Chromium; returns the PNG's stats.
fn render(file: &Path, size: &str) -> serde_json::Value {
    // demo.svg.png, demo.html.png: two renders may run at once.
    let png = Path::new(&format!("{}.png", file.display())).to_path_buf();
    let out = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"])
        .arg(format!("--window-size={size}"))
        // A profile of its own: two browsers may run at once.
        .arg(format!("--user-data-dir={}.profile", file.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", file.display()))
        .output()
        .unwrap();
    assert!(png.is_file(), "chromium wrote no PNG: {}", text(&out.stderr));
    let stats = Command::new("python3").arg(python_script("png_stats.py")).arg(&png).output().unwrap();
    assert!(stats.status.success(), "{}", text(&stats.stderr));
    serde_json::from_slice(&stats.stdout).unwrap()
}

#[test]
fn the_demo_exports_a_well_formed_self_contained_svg_html_and_mermaid() {
    if !root() {
        return;
    }
    if tool("python3").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    demo_with_exports(dir.path(), "pt");
    // SVG: XML, one arrow per frame of the exercise (11), in order.
    let svg = dir.path().join("demo.svg");
    assert_eq!(svg_frames(&svg), (1..=11).collect::<Vec<_>>());
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    assert_self_contained(&svg_text);
    assert!(svg_text.contains("three-way handshake (aperto de mão em três vias)"));
    // HTML: parsed by Python's HTML parser, every frame a row, the payload
    // with its UTF-8 reading, nothing fetched.
    let html = dir.path().join("demo.html");
    let code = "import sys, html.parser\n\
                class P(html.parser.HTMLParser):\n\
                \x20   def __init__(self):\n\
                \x20       super().__init__(); self.rows = []; self.stack = []; self.svgs = 0\n\
                \x20   def handle_starttag(self, tag, attrs):\n\
                \x20       a = dict(attrs)\n\
                \x20       if tag == 'tr' and a.get('class') == 'frame': self.rows.append(a['id'])\n\
                \x20       if tag == 'svg': self.svgs += 1\n\
                \x20       if tag not in ('meta', 'br', 'path', 'line', 'rect', 'circle'): self.stack.append(tag)\n\
                \x20   def handle_endtag(self, tag):\n\
                \x20       if tag in ('meta', 'br', 'path', 'line', 'rect', 'circle'): return\n\
                \x20       assert self.stack and self.stack[-1] == tag, (self.stack[-5:], tag)\n\
                \x20       self.stack.pop()\n\
                p = P(); p.feed(open(sys.argv[1], encoding='utf-8').read()); p.close()\n\
                assert not p.stack, p.stack\n\
                print(p.svgs, ' '.join(p.rows))";
    let parsed = python(code, &html);
    let (svgs, rows) = parsed.trim().split_once(' ').unwrap();
    assert!(svgs.parse::<u32>().unwrap() >= 1);
    let want: Vec<String> = (1..=11).map(|n| format!("f{n}")).collect();
    assert_eq!(rows.split(' ').collect::<Vec<_>>(), want);
    let page = std::fs::read_to_string(&html).unwrap();
    assert_self_contained(&page);
    assert!(page.contains("<html lang=\"pt-BR\">"));
    assert!(page.contains("55 bytes, 52 caracteres em UTF-8"), "payload summary");
    assert!(page.contains("<b>á</b><i>C3 A1</i>"), "á and its two bytes");
    // Mermaid: a sequence diagram with the 11 arrows.
    let mermaid = std::fs::read_to_string(dir.path().join("demo.mmd")).unwrap();
    assert!(mermaid.starts_with("sequenceDiagram\n"));
    assert_eq!(mermaid.lines().filter(|l| l.contains("->>")).count(), 11, "{mermaid}");
    assert!(mermaid.contains("C->>S: 1. SYN"));
    assert!(mermaid.contains("S->>C: 2. SYN, ACK"));
}

#[test]
fn chromium_renders_the_svg_and_the_page() {
    if !root() {
        return;
    }
    if tool("chromium").is_none() || tool("python3").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    demo_with_exports(dir.path(), "en");
    // Two browsers at once: each mostly waits on its own start-up.
    let page = dir.path().join("demo.html");
    let page = thread::spawn(move || render(&page, "1280,2000"));
    let svg = render(&dir.path().join("demo.svg"), "1200,700");
    assert_eq!((svg["width"].as_u64(), svg["height"].as_u64()), (Some(1200), Some(700)));
    // Arrows, lifelines and words: tens of thousands of inked pixels, in
    // several colours (client blue, server red, calls green, phases).
    assert!(svg["ink"].as_u64().unwrap() > 20_000, "{svg}");
    assert!(svg["colors"].as_u64().unwrap() >= 8, "{svg}");
    let page = page.join().unwrap();
    assert_eq!(page["width"].as_u64(), Some(1280));
    assert!(page["ink"].as_u64().unwrap() > 60_000, "{page}");
}

/// `COMMAND` in a terminal `columns` wide; what it wrote, colours removed.
fn in_terminal(columns: usize, args: &[&str]) -> (String, Option<i32>) {
    in_terminal_with(columns, args, &[])
}

/// The same, with environment variables set.
fn in_terminal_with(columns: usize, args: &[&str], env: &[(&str, &str)]) -> (String, Option<i32>) {
    let out = in_terminal_raw(columns, args, env);
    let mut plain = String::new();
    let mut chars = text(&out.stdout).chars().peekable().collect::<Vec<_>>().into_iter().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters final-letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    // A progress bar redraws its line after a carriage return: what stays
    // on the screen is the text after the last one.
    let screen: Vec<&str> = plain.lines().map(|l| l.rsplit('\r').next().unwrap_or(l)).collect();
    (screen.join("\n"), out.status.code())
}

/// What the terminal received, escapes and all; `env`: variables to set.
fn in_terminal_raw(columns: usize, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new("python3");
    cmd.arg(python_script("in_terminal.py")).arg(columns.to_string()).arg(eco_bin()).args(args);
    cmd.env_remove("NO_COLOR").envs(env.iter().copied());
    cmd.output().unwrap()
}

fn assert_fits(output: &str, columns: usize) {
    for line in output.lines() {
        assert!(line.chars().count() <= columns, "{} > {columns}: {line:?}\n{output}", line.chars().count());
    }
}

#[test]
fn the_demo_fits_terminals_of_80_and_100_columns() {
    if !root() || tool("python3").is_none() {
        return;
    }
    for columns in [80, 100] {
        for lang in ["en", "pt"] {
            let (output, status) = in_terminal(columns, &["demo", "--lang", lang, "--bytes"]);
            assert_eq!(status, Some(0), "{output}");
            assert!(output.contains("Olá Servidor"), "{output}");
            // The narrow table, the diagram and the bytes are all there.
            assert!(output.contains("client → server") || output.contains("cliente → servidor"), "{output}");
            assert!(output.contains('▶') && output.contains('◀'), "{output}");
            assert!(output.contains("C3 A1"), "{output}");
            assert_fits(&output, columns);
        }
    }
    // Colour on a terminal; none with NO_COLOR, none in a pipe.
    let coloured = in_terminal_raw(80, &["demo", "--lang", "en"], &[]);
    assert!(text(&coloured.stdout).contains("\x1b[36m"), "arrows in colour");
    let plain = in_terminal_raw(80, &["demo", "--lang", "en"], &[("NO_COLOR", "1")]);
    assert!(!text(&plain.stdout).contains('\x1b'), "NO_COLOR");
    let piped = eco_output(&["demo", "--lang", "en"]);
    assert!(!text(&piped.stdout).contains('\x1b'), "a pipe");
    // A wide terminal: still 100 columns at most.
    let (wide_terminal, _) = in_terminal(160, &["demo", "--lang", "en"]);
    assert_fits(&wide_terminal, 100);
    // --wide keeps tshark's full lines.
    let (wide, _) = in_terminal(80, &["demo", "--lang", "en", "--wide"]);
    assert!(wide.lines().any(|l| l.chars().count() > 100 && l.contains("TSval=")), "{wide}");
}

#[test]
fn help_a_traced_run_and_bench_fit_80_columns() {
    if !root() || tool("python3").is_none() {
        return;
    }
    for args in [&["--help"][..], &["trace", "--help"], &["server", "--help"], &["bench", "--help"]] {
        let (output, status) = in_terminal(80, args);
        assert_eq!(status, Some(0), "{output}");
        assert_fits(&output, 80);
    }
    let dir = tempfile::tempdir().unwrap();
    for name in ["servidor.py", "cliente.py"] {
        std::fs::copy(example(name), dir.path().join(name)).unwrap();
    }
    let server = format!("python3 {}/servidor.py 5151", dir.path().display());
    let client = format!("python3 {}/cliente.py 5151", dir.path().display());
    // In a network namespace of eco's own (as without root): the host's lo
    // is busy with the other tests.
    let (output, status) = in_terminal_with(
        80,
        &["trace", "--lang", "pt", "--run", &server, "--run", &client],
        &[("ECO_TRACE_IN_NAMESPACE", "1")],
    );
    assert_eq!(status, Some(0), "{output}");
    let (bench, status) =
        in_terminal(80, &["bench", "--spawn", "async", "-c", "4", "-d", "0.5", "--warmup", "0.1"]);
    assert_eq!(status, Some(0), "{bench}");
    assert!(bench.contains("Errors:      none"), "{bench}");
    assert_fits(&bench, 80);
    // In the diagram, on the server's side: the call without the program's name.
    assert!(output.contains("recv(1024) devolveu 0: o FIN do outro lado (quadro 8)"), "{output}");
    assert_fits(&output, 80);
}
