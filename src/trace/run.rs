//! `eco trace --run CMD ...`: anybody's programs (a student's
//! `servidor.py` and `cliente.py`), run under eco, with their packets
//! captured on `lo` and their socket calls traced (`syscalls.rs`).
//!
//! Without root this runs in the user + network namespace of `eco trace`
//! (see [`super::namespace`]): the programs get a loopback of their own,
//! where theirs are the only packets. As root it runs here, on the real
//! `lo`, and only the connections of the traced programs are shown.
#![allow(unsafe_code)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{self, SigSet, Signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::calls::{self, Placed};
use super::capture::{Capture, Frame};
use super::flow::{Analyzer, PhaseBuilder, Row};
use super::ladder::Side;
use super::messages::Role;
use super::syscalls::{Ports, Seen, Tracer};
use super::view::{self, View};
use crate::console::Console;
use crate::error::{Error, Result};
use crate::i18n::Sentences;

/// What `eco trace --run` was asked to do.
pub struct RunJob {
    /// Each `--run`: one command line, split as a shell would.
    pub commands: Vec<String>,
    pub pcap: Option<PathBuf>,
    pub view: View,
}

/// One `--run` command.
pub struct Program {
    pub argv: Vec<String>,
    /// The name its lines and calls carry (`servidor.py`).
    pub label: String,
}

/// How long a command may take to listen (or connect) before the next
/// one starts anyway.
const READY_WAIT: Duration = Duration::from_secs(10);
/// After the last command ends, how long the others (servers) may take
/// to end by themselves before eco stops them.
const END_GRACE: Duration = Duration::from_secs(2);
/// Frame bytes kept whole; beyond, only each frame's first bytes (the
/// headers, all the analysis needs).
const WHOLE_BYTES: usize = 64 << 20;
const HEAD_BYTES: usize = 256;
/// Frames kept at most.
const MAX_FRAMES: usize = 500_000;

/// Splits each `--run` as a shell would and names it.
pub fn programs(commands: &[String]) -> Result<Vec<Program>> {
    let mut programs: Vec<Program> = Vec::new();
    for command in commands {
        let argv = shlex::split(command).filter(|a| !a.is_empty());
        let Some(argv) = argv else { return Err(Error::BadCommand { command: command.clone() }) };
        let mut label = label(&argv);
        let same =
            programs.iter().filter(|p| p.label == label || p.label.starts_with(&format!("{label}#"))).count();
        if same > 0 {
            label = format!("{label}#{}", same + 1);
        }
        programs.push(Program { argv, label });
    }
    Ok(programs)
}

/// A program's name: its script for an interpreter (`python3 servidor.py`
/// → `servidor.py`), else the file name of the command.
fn label(argv: &[String]) -> String {
    let base = |s: &str| s.rsplit('/').next().unwrap_or(s).to_string();
    let program = base(&argv[0]);
    let interpreters = ["python", "node", "ruby", "perl", "php", "bash", "sh", "java", "lua", "deno", "bun"];
    if !interpreters.iter().any(|i| program.starts_with(i)) {
        return program;
    }
    let mut args = argv[1..].iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            // `python3 -c CODE`: no script to name it after.
            "-c" | "-e" => return program,
            // `python3 -m http.server`: the module.
            "-m" => return args.next().cloned().unwrap_or(program),
            a if a.starts_with('-') => {}
            script => return base(script),
        }
    }
    program
}

/// How each command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Exited with this status (128 + N: killed by signal N).
    Status(i32),
    /// Still running after the last command ended: eco stopped it.
    StoppedByEco,
    /// Still running when eco was interrupted (Ctrl-C): eco stopped it.
    Interrupted,
    /// Could not be started (127: not found, 126: not runnable).
    NotStarted(i32),
}

struct Started {
    pid: Option<Pid>,
    ready: bool,
    ending: Option<Ending>,
}

pub fn run(job: &RunJob, console: &Console) -> Result<u8> {
    let programs = programs(&job.commands)?;
    let recording = record(&programs, console)?;
    let Recording { frames, tracer, endings, interrupted, .. } = &recording;
    let labels: Vec<String> = programs.iter().map(|p| p.label.clone()).collect();
    report(frames, tracer, &labels, &job.view, console)?;
    recording.tell_losses(console);
    if let Some(path) = &job.pcap {
        super::write_pcap(path, frames, console)?;
    }
    for (program, ending) in programs.iter().zip(endings) {
        console.say(&RunMsg::Ended { label: &program.label, ending: *ending });
    }
    // Interrupted: as a program stopped by Ctrl-C would.
    if *interrupted {
        return Ok(130);
    }
    Ok(exit_status(endings))
}

/// What a run of the programs left: their packets and calls, and how
/// each ended.
pub struct Recording {
    /// The frames of the programs' sockets (all of `lo` in a namespace).
    pub frames: Vec<Frame>,
    pub tracer: Tracer,
    kept: Kept,
    /// How each program ended, in their order.
    pub endings: Vec<Ending>,
    /// Ctrl-C (or SIGTERM) stopped the run.
    pub interrupted: bool,
}

impl Recording {
    /// Says what the capture or the tracer could not keep.
    pub fn tell_losses(&self, console: &Console) {
        if self.kept.trimmed {
            console.note(&RunMsg::FramesTrimmed);
        }
        if self.kept.dropped > 0 {
            console.warn(&RunMsg::FramesDropped { frames: self.kept.dropped });
        }
        if self.kept.lost > 0 {
            console.warn(&RunMsg::FramesLost { frames: self.kept.lost });
        }
        if self.tracer.untold > 0 {
            console.note(&RunMsg::CallsUntold { calls: self.tracer.untold });
        }
    }
}

/// Runs the programs one after the other (each once the one before
/// listens or connects), traced, with every packet on `lo` captured,
/// until the last one ends (then the others get [`END_GRACE`]).
pub fn record(programs: &[Program], console: &Console) -> Result<Recording> {
    // Stops are told by SIGCHLD; it is blocked here (before any thread
    // starts, so in all of them) and waited for with a timeout.
    let mut sigchld = SigSet::empty();
    sigchld.add(Signal::SIGCHLD);
    sigchld.thread_block().map_err(|e| setup(e.into()))?;
    // Ctrl-C (or SIGTERM) stops the commands and shows what was seen; a
    // second Ctrl-C ends eco at once (its tracees die with it: EXITKILL).
    // (A SIGTERM after a Ctrl-C does not: the parent of a namespace passes
    // its signals on as SIGTERM, and the terminal's Ctrl-C reaches both.)
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register_conditional_shutdown(signal_hook::consts::SIGINT, 130, Arc::clone(&stop))
        .map_err(setup)?;
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).map_err(setup)?;
    }
    let capture =
        Capture::open_loopback_all(Duration::from_millis(50)).map_err(|source| Error::Capture { source })?;
    let capturing = Arc::new(AtomicBool::new(true));
    let mut tracer = Tracer::default();
    let capture_thread = {
        let capturing = Arc::clone(&capturing);
        let ports = Arc::clone(&tracer.ports);
        std::thread::spawn(move || capture_all(capture, &capturing, &ports))
    };

    let mut started: Vec<Started> = Vec::new();
    let mut output = Vec::new();
    let mut waiting: Option<Instant> = None;
    let mut ending: Option<(Instant, u8)> = None;
    loop {
        // Start the next command once the one before is ready.
        let next = started.len();
        if next < programs.len() && !stop.load(Ordering::SeqCst) {
            let before_ready = next == 0 || started[next - 1].ready || started[next - 1].ending.is_some();
            let late = waiting.is_some_and(|at| at.elapsed() > READY_WAIT);
            if late {
                console.note(&RunMsg::NotReady {
                    label: &programs[next - 1].label,
                    next: &programs[next].label,
                });
            }
            if before_ready || late {
                started.push(start(&programs[next], next, &mut tracer, &mut output, console));
                waiting = Some(Instant::now());
                continue;
            }
        }
        let all_started = started.len() == programs.len();
        let last_done = all_started && started.last().is_some_and(|s| s.ending.is_some());
        if (last_done || stop.load(Ordering::SeqCst)) && ending.is_none() {
            ending = Some((Instant::now(), 0));
        }
        if let Some((since, step)) = ending {
            let interrupted = stop.load(Ordering::SeqCst);
            let grace = if interrupted { Duration::ZERO } else { END_GRACE };
            let signal = match step {
                0 if since.elapsed() >= grace => Some((Signal::SIGTERM, 1)),
                1 if since.elapsed() >= grace + Duration::from_secs(1) => Some((Signal::SIGKILL, 2)),
                _ => None,
            };
            if let Some((signal, next_step)) = signal {
                // Every process still traced: the commands, and whatever
                // they started (a daemon, a job in the background).
                for pid in tracer.pids() {
                    let _ = signal::kill(pid, signal);
                }
                for s in started.iter_mut().filter(|s| s.ending.is_none()) {
                    s.ending = Some(if interrupted { Ending::Interrupted } else { Ending::StoppedByEco });
                }
                ending = Some((since, next_step));
            }
        }
        if tracer.is_empty() && (all_started || stop.load(Ordering::SeqCst)) {
            break;
        }
        match waitpid(None, Some(WaitPidFlag::__WALL | WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => wait_for_child(Duration::from_millis(100)),
            Ok(status) => match tracer.handle(status) {
                Seen::Ready(program) => started[program].ready = true,
                Seen::Exited { pid, status } => {
                    if let Some(s) = started.iter_mut().find(|s| s.pid.is_some_and(|p| p.as_raw() == pid)) {
                        s.ending.get_or_insert(Ending::Status(status));
                    }
                }
                Seen::Nothing => {}
            },
            Err(nix::errno::Errno::ECHILD) if all_started => break,
            Err(_) => wait_for_child(Duration::from_millis(10)),
        }
    }
    // The last segments (FINs sent at exit) are on their way: a moment.
    std::thread::sleep(Duration::from_millis(100));
    capturing.store(false, Ordering::SeqCst);
    let (frames, kept) = capture_thread.join().unwrap_or_default();
    let frames = ours(frames, &tracer);
    // Their output ends with them.
    for thread in output {
        let _ = thread.join();
    }
    let endings: Vec<Ending> = started.iter().map(|s| s.ending.unwrap_or(Ending::StoppedByEco)).collect();
    Ok(Recording { frames, tracer, kept, endings, interrupted: stop.load(Ordering::SeqCst) })
}

/// eco's exit status: the first command that failed by itself, else 0.
pub fn exit_status(endings: &[Ending]) -> u8 {
    endings
        .iter()
        .find_map(|e| match e {
            Ending::Status(0) | Ending::StoppedByEco | Ending::Interrupted => None,
            Ending::Status(code) | Ending::NotStarted(code) => Some((*code).clamp(1, 255) as u8),
        })
        .unwrap_or(0)
}

fn setup(source: std::io::Error) -> Error {
    Error::Io { doing: crate::error::Doing::Setup, source }
}

/// Starts one command, traced from its first instruction, its output
/// forwarded line by line with its name in front.
fn start(
    program: &Program,
    index: usize,
    tracer: &mut Tracer,
    output: &mut Vec<std::thread::JoinHandle<()>>,
    console: &Console,
) -> Started {
    // Looked up here, as a shell does: a directory of PATH that this user
    // may not read is passed over, not taken for "permission denied".
    let Some(path) = find_program(&program.argv[0]) else {
        console.note(&RunMsg::NotStarted { label: &program.label, argv0: &program.argv[0], source: None });
        return Started { pid: None, ready: true, ending: Some(Ending::NotStarted(127)) };
    };
    let mut command = Command::new(path);
    command.arg0(&program.argv[0]);
    command.args(&program.argv[1..]).stdout(Stdio::piped()).stderr(Stdio::piped());
    // Python buffers its output in a pipe until exit; a student wants to
    // see "Aguardando conexão..." when it happens.
    if std::env::var_os("PYTHONUNBUFFERED").is_none() {
        command.env("PYTHONUNBUFFERED", "1");
    }
    // SAFETY: between fork and exec only async-signal-safe calls may run;
    // ptrace(PTRACE_TRACEME) is one system call.
    unsafe {
        command.pre_exec(|| nix::sys::ptrace::traceme().map_err(std::io::Error::from));
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(source) => {
            let code = if source.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 };
            console.note(&RunMsg::NotStarted {
                label: &program.label,
                argv0: &program.argv[0],
                source: Some(&source),
            });
            return Started { pid: None, ready: true, ending: Some(Ending::NotStarted(code)) };
        }
    };
    let pid = Pid::from_raw(child.id() as i32);
    if let Some(out) = child.stdout.take() {
        // With `--mermaid -` stdout is the diagram's: their lines go to stderr.
        let to_stderr = console.is_quiet();
        output.push(forward(out, program.label.clone(), to_stderr, console.width()));
    }
    if let Some(err) = child.stderr.take() {
        output.push(forward(err, program.label.clone(), true, console.width()));
    }
    match tracer.adopt(pid, index) {
        Ok(()) => Started { pid: Some(pid), ready: false, ending: None },
        Err(errno) => {
            console.note(&RunMsg::NotTraced { label: &program.label, errno });
            let _ = child.kill();
            let _ = child.wait();
            Started { pid: None, ready: true, ending: Some(Ending::NotStarted(126)) }
        }
    }
}

/// `name` as `execvp` would find it: a path as it is, else the first
/// executable file of that name in PATH.
pub(crate) fn find_program(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| {
        std::fs::metadata(candidate).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// Copies a program's output to eco's, each line as `name | line`.
/// On a terminal, long lines are wrapped to its `width`.
fn forward(
    stream: impl Read + Send + 'static,
    label: String,
    to_stderr: bool,
    width: Option<usize>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\n', '\r']);
            // What a terminal would show: the text after a carriage return
            // (a progress line redrawn), tabs as spaces to the next stop.
            let text = text.rsplit('\r').next().unwrap_or(text);
            let mut text = expand_tabs(text);
            let prefix = format!("{label} | ");
            let pad = " ".repeat(crate::console::columns(&label)) + " | ";
            let room = width.map(|w| w.saturating_sub(crate::console::columns(&prefix)).max(20));
            // Colour escapes take no columns; a line that must be wrapped
            // loses them (cut in the middle, they would show as text).
            if room.is_some_and(|room| crate::console::columns(&strip_escapes(&text)) > room) {
                text = strip_escapes(&text);
            }
            let lines = match room {
                Some(room) if crate::console::columns(&text) > room => {
                    // Wrapped under its own indent, when that leaves room.
                    let lead = text.len() - text.trim_start().len();
                    let lead = if lead * 2 > room { 0 } else { lead };
                    let wrapped = crate::console::wrap(text.trim_start(), room - lead);
                    wrapped.into_iter().map(|l| format!("{}{l}", " ".repeat(lead))).collect()
                }
                _ => vec![text],
            };
            let text: Vec<String> = lines
                .iter()
                .enumerate()
                .map(|(i, l)| format!("{}{l}", if i == 0 { &prefix } else { &pad }))
                .collect();
            let text = text.join("\n");
            let written = if to_stderr {
                writeln!(std::io::stderr().lock(), "{text}")
            } else {
                writeln!(std::io::stdout().lock(), "{text}")
            };
            // Nobody reads eco's output: keep draining theirs, so they never block.
            let _ = written;
            line.clear();
        }
    })
}

/// `text` without ANSI escape sequences (ESC [ ... letter, and lone ESCs).
fn strip_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        if chars.next_if_eq(&'[').is_some() {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() || c == '~' {
                    break;
                }
            }
        }
    }
    out
}

/// Tabs to spaces, to the next multiple of 8 columns (a terminal's stops).
fn expand_tabs(text: &str) -> String {
    if !text.contains('\t') {
        return text.to_string();
    }
    let mut out = String::new();
    for c in text.chars() {
        if c == '\t' {
            let column = crate::console::columns(&out);
            out.push_str(&" ".repeat(8 - column % 8));
        } else {
            out.push(c);
        }
    }
    out
}

/// Waits until a child changes state (SIGCHLD) or `timeout` passes.
fn wait_for_child(timeout: Duration) {
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    let spec =
        libc::timespec { tv_sec: timeout.as_secs() as libc::time_t, tv_nsec: timeout.subsec_nanos().into() };
    // SAFETY: `set` is a valid, blocked signal set and `spec` a live
    // timespec; no siginfo is asked for. (nix has no sigtimedwait.)
    unsafe {
        libc::sigtimedwait(set.as_ref(), std::ptr::null_mut(), &raw const spec);
    }
}

/// Captures every frame on `lo` until told to stop. Returns the frames
/// and whether some were cut to their headers (or dropped) to bound memory.
fn capture_all(mut capture: Capture, capturing: &AtomicBool, ports: &Ports) -> (Vec<Frame>, Kept) {
    use super::packet::{Decoded, decode, linktype};
    let mut frames = Vec::new();
    let (mut bytes, mut trimmed, mut dropped, mut lost) = (0usize, false, 0u64, 0u64);
    loop {
        match capture.next_frame() {
            Ok(Some(mut frame)) => {
                // Only the programs' ports (on the real `lo`, other
                // programs talk too), and ICMP (a port unreachable).
                let theirs = |a: SocketAddr, b: SocketAddr| {
                    let known = ports.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    known.contains(&a.port()) || known.contains(&b.port())
                };
                let keep = match decode(linktype::ETHERNET, &frame.data, frame.orig_len) {
                    Decoded::Tcp(seg) => theirs(seg.src, seg.dst),
                    Decoded::Udp { src, dst, .. } => theirs(src, dst),
                    Decoded::Icmp { .. } => true,
                    _ => false,
                };
                if !keep {
                    continue;
                }
                if frames.len() >= MAX_FRAMES {
                    dropped += 1;
                    continue;
                }
                bytes += frame.data.len();
                if bytes > WHOLE_BYTES && frame.data.len() > HEAD_BYTES {
                    frame.data.truncate(HEAD_BYTES);
                    frame.data.shrink_to_fit();
                    trimmed = true;
                }
                frames.push(frame);
            }
            // Told to stop and nothing more queued.
            Ok(None) if !capturing.load(Ordering::SeqCst) => {
                lost += u64::from(capture.dropped());
                break;
            }
            Ok(None) => {}
            Err(_) => break,
        }
    }
    (frames, Kept { trimmed, dropped, lost })
}

/// What the capture could not keep whole.
#[derive(Default)]
struct Kept {
    /// Later frames kept without their payload.
    trimmed: bool,
    /// Frames past [`MAX_FRAMES`], not kept at all.
    dropped: u64,
    /// Packets the kernel dropped before eco could read them.
    lost: u64,
}

/// The frames to or from the traced programs' sockets: on the real `lo`
/// (as root) other programs' packets are there too, and are left out.
fn ours(frames: Vec<Frame>, tracer: &Tracer) -> Vec<Frame> {
    use super::packet::{Decoded, decode, linktype};
    let ends: HashSet<SocketAddr> = tracer
        .socks
        .values()
        .flat_map(|s| [s.known_local(), if s.known_local().is_none() { s.peer } else { None }])
        .flatten()
        .collect();
    let datagrams = tracer.socks.values().any(|s| s.datagram);
    frames
        .into_iter()
        .filter(|frame| match decode(linktype::ETHERNET, &frame.data, frame.orig_len) {
            Decoded::Tcp(seg) => ends.contains(&seg.src) || ends.contains(&seg.dst),
            Decoded::Udp { src, dst, .. } => ends.contains(&src) || ends.contains(&dst),
            // "Port unreachable" answers to datagrams.
            Decoded::Icmp { .. } => datagrams,
            _ => false,
        })
        .collect()
}

/// The traced connections, each with its table, phases and diagram; then
/// the calls that belong to none.
pub fn report(
    frames: &[Frame],
    tracer: &Tracer,
    labels: &[String],
    view: &View,
    console: &Console,
) -> Result<()> {
    let lang = console.lang();
    let mut analyzer = Analyzer::default();
    let rows: Vec<Row> = frames.iter().map(|f| analyzer.push_captured(f)).collect();
    let placed = calls::place(&tracer.calls, &tracer.socks, &rows, labels);
    // The connections the programs made or accepted; on the real `lo`
    // (as root) other programs' connections are left out.
    let mut streams: Vec<u32> = placed.iter().filter_map(|p| p.stream).collect();
    streams.sort_unstable();
    streams.dedup();
    let local_of = |p: &Placed| p.local;
    let mut connections = Vec::new();
    // Each connection's rows and calls, gathered in one pass.
    let mut rows_of: HashMap<u32, Vec<&Row>> = HashMap::new();
    for row in &rows {
        if let Some(tcp) = row.tcp() {
            rows_of.entry(tcp.stream).or_default().push(row);
        }
    }
    let mut calls_of: HashMap<u32, Vec<&Placed>> = HashMap::new();
    for p in &placed {
        if let Some(stream) = p.stream {
            calls_of.entry(stream).or_default().push(p);
        }
    }
    for &stream in &streams {
        let rows = rows_of.remove(&stream).unwrap_or_default();
        let calls = calls_of.remove(&stream).unwrap_or_default();
        let mut phases = PhaseBuilder::default();
        for row in &rows {
            phases.see(row);
        }
        let Some((client, server)) = phases.endpoints() else { continue };
        let name = |addr: SocketAddr, fallback: Role| {
            let program = calls.iter().find(|p| local_of(p) == Some(addr)).map(|p| p.label.to_string());
            program.unwrap_or_else(|| lang.text(&fallback))
        };
        let payloads = rows
            .iter()
            .filter_map(|r| {
                let len = r.tcp()?.seg.payload_len();
                (len > 0).then(|| Some((r.no, view::payload(&frames.get(r.no - 1)?.data, len)?))).flatten()
            })
            .collect();
        connections.push(view::Connection {
            events: calls.iter().map(|p| (p.call.at, local_of(p), lang.text(&calls::Line(p)))).collect(),
            phases: phases.finish(),
            client: Side { addr: client, name: name(client, Role::Client) },
            server: Side { addr: server, name: name(server, Role::Server) },
            rows,
            payloads,
        });
    }
    let ours: HashSet<u32> = streams.iter().copied().collect();
    let loose = view::Loose {
        rows: rows.iter().filter(|r| r.tcp().is_none()).collect(),
        events: placed
            .iter()
            .filter(|p| p.stream.is_none_or(|s| !ours.contains(&s)))
            .map(|p| (p.call.at, lang.text(&calls::Line(p))))
            .collect(),
    };
    let title = labels.join(" + ");
    view::show(&connections, &loose, view, &title, console)
}

/// What `--run` tells its user.
pub enum RunMsg<'a> {
    NotReady {
        label: &'a str,
        next: &'a str,
    },
    /// Not found on PATH (`source`: none), or not runnable.
    NotStarted {
        label: &'a str,
        argv0: &'a str,
        source: Option<&'a std::io::Error>,
    },
    NotTraced {
        label: &'a str,
        errno: nix::errno::Errno,
    },
    FramesTrimmed,
    FramesDropped {
        frames: u64,
    },
    FramesLost {
        frames: u64,
    },
    CallsUntold {
        calls: u64,
    },
    Ended {
        label: &'a str,
        ending: Ending,
    },
}

impl Sentences for RunMsg<'_> {
    fn en(&self) -> String {
        match self {
            RunMsg::NotReady { label, next } => format!(
                "{label} neither listened nor connected in {} s: starting {next} anyway",
                READY_WAIT.as_secs()
            ),
            RunMsg::NotStarted { label, argv0, source: None } => {
                format!("{label}: cannot run {argv0}: command not found (not a file, nor in PATH)")
            }
            RunMsg::NotStarted { label, argv0, source: Some(source) } => {
                format!("{label}: cannot run {argv0}: {source}")
            }
            RunMsg::NotTraced { label, errno } => format!(
                "{label}: cannot trace its calls ({errno:?}: {}): is ptrace forbidden here (seccomp, \
                 kernel.yama.ptrace_scope=3)?",
                errno.desc()
            ),
            RunMsg::FramesTrimmed => format!(
                "more than {} MiB of packets: the later ones were kept without their payload (their headers, \
                 and so the table, are whole)",
                WHOLE_BYTES >> 20
            ),
            RunMsg::FramesDropped { frames } => format!(
                "{frames} more packets came after the first {MAX_FRAMES} and were not kept: the table, the \
                 phases and their byte counts stop there (`--pcap` with tcpdump gets them all)"
            ),
            RunMsg::FramesLost { frames } => format!(
                "the kernel dropped {frames} packets on lo before eco could read them (other programs were \
                 busy there): the table may miss some; without root eco runs the commands in a network \
                 namespace of their own, where theirs are the only packets"
            ),
            RunMsg::CallsUntold { calls } => format!("{calls} more socket calls were made and not kept"),
            RunMsg::Ended { label, ending } => match ending {
                Ending::Status(0) => format!("{label}: exited with status 0"),
                Ending::Status(code) if *code > 128 => {
                    format!("{label}: killed by signal {} (status {code})", code - 128)
                }
                Ending::Status(code) => format!("{label}: exited with status {code}"),
                Ending::StoppedByEco => {
                    format!("{label}: still running after the last command ended: stopped")
                }
                Ending::Interrupted => format!("{label}: still running when eco was interrupted: stopped"),
                Ending::NotStarted(code) => format!("{label}: not started (status {code})"),
            },
        }
    }

    fn pt(&self) -> String {
        match self {
            RunMsg::NotReady { label, next } => format!(
                "{label} não escutou nem conectou em {} s: iniciando {next} mesmo assim",
                READY_WAIT.as_secs()
            ),
            RunMsg::NotStarted { label, argv0, source: None } => {
                format!(
                    "{label}: não foi possível executar {argv0}: comando não encontrado (nem arquivo, nem no PATH)"
                )
            }
            RunMsg::NotStarted { label, argv0, source: Some(source) } => {
                format!("{label}: não foi possível executar {argv0}: {source}")
            }
            RunMsg::NotTraced { label, errno } => format!(
                "{label}: não foi possível rastrear suas chamadas ({errno:?}): o ptrace é proibido aqui \
                 (seccomp, kernel.yama.ptrace_scope=3)?"
            ),
            RunMsg::FramesTrimmed => format!(
                "mais de {} MiB de pacotes: os seguintes foram guardados sem o conteúdo (os cabeçalhos, e \
                 portanto a tabela, estão completos)",
                WHOLE_BYTES >> 20
            ),
            RunMsg::FramesDropped { frames } => format!(
                "mais {frames} pacotes vieram depois dos primeiros {MAX_FRAMES} e não foram guardados: a \
                 tabela, as fases e suas contagens de bytes param ali"
            ),
            RunMsg::FramesLost { frames } => format!(
                "o kernel descartou {frames} pacotes em lo antes que o eco os lesse (outros programas estavam \
                 ativos ali): pode faltar algo na tabela; sem root o eco roda os comandos num namespace de rede \
                 próprio, onde só há os pacotes deles"
            ),
            RunMsg::CallsUntold { calls } => {
                format!("mais {calls} chamadas de socket foram feitas e não guardadas")
            }
            RunMsg::Ended { label, ending } => match ending {
                Ending::Status(0) => format!("{label}: terminou com status 0"),
                Ending::Status(code) if *code > 128 => {
                    format!("{label}: morto pelo sinal {} (status {code})", code - 128)
                }
                Ending::Status(code) => format!("{label}: terminou com status {code}"),
                Ending::StoppedByEco => {
                    format!("{label}: ainda rodava quando o último comando terminou: foi parado")
                }
                Ending::Interrupted => {
                    format!("{label}: ainda rodava quando o eco foi interrompido: foi parado")
                }
                Ending::NotStarted(code) => format!("{label}: não iniciado (status {code})"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_split_as_a_shell_would_and_named_by_their_script() {
        let programs = programs(&[
            "python3 -u servidor.py 5050".into(),
            "python3 'meu cliente.py' \"Olá mundo\"".into(),
        ])
        .unwrap();
        assert_eq!(programs[0].argv, ["python3", "-u", "servidor.py", "5050"]);
        assert_eq!(programs[0].label, "servidor.py");
        assert_eq!(programs[1].argv[2], "Olá mundo");
        assert_eq!(programs[1].label, "meu cliente.py");
        let same = super::programs(&["./client".into(), "/tmp/client x".into()]).unwrap();
        assert_eq!([same[0].label.as_str(), same[1].label.as_str()], ["client", "client#2"]);
        assert!(matches!(super::programs(&["python3 'unbalanced".into()]), Err(Error::BadCommand { .. })));
        assert!(matches!(super::programs(&["  ".into()]), Err(Error::BadCommand { .. })));
    }

    #[test]
    fn escapes_are_taken_out_and_tabs_expanded() {
        assert_eq!(strip_escapes("\x1b[1;31mERR\x1b[0m ok"), "ERR ok");
        assert_eq!(expand_tabs("a\tb"), "a       b");
    }

    #[test]
    fn the_first_command_that_failed_by_itself_gives_the_status() {
        assert_eq!(exit_status(&[Ending::StoppedByEco, Ending::Status(0)]), 0);
        assert_eq!(exit_status(&[Ending::Status(0), Ending::Status(3)]), 3);
        assert_eq!(exit_status(&[Ending::NotStarted(127), Ending::Status(1)]), 127);
        assert_eq!(exit_status(&[Ending::Status(130)]), 130);
    }
}
