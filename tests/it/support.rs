//! Helpers shared by the integration tests: run `eco` as a real process,
//! talk to it over real loopback sockets, make test data.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Generous upper bound for anything a test waits on: a bug fails the test
/// instead of hanging CI.
pub const LIMIT: Duration = Duration::from_secs(30);

/// The eco binary under test: the one cargo built, or `ECO_BIN` (to run
/// these tests against another build, e.g. an older one, and see which
/// fail there).
pub fn eco_bin() -> PathBuf {
    std::env::var_os("ECO_BIN").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_eco")), PathBuf::from)
}

pub fn eco() -> Command {
    let mut cmd = Command::new(eco_bin());
    // Tests choose the language explicitly; the environment must not.
    for var in ["ECO_LANG", "LC_ALL", "LC_MESSAGES", "LANG"] {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs `eco ARGS` to the end, with a time limit.
pub fn eco_output(args: &[&str]) -> Output {
    let child = eco()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn eco");
    wait_output(child)
}

/// Runs `cmd` with `input` on its stdin (written from another thread, so
/// that a program echoing as it reads never stalls), to the end.
pub fn output_with_input(cmd: &mut Command, input: &[u8]) -> Output {
    let mut child =
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeding = thread::spawn(move || stdin.write_all(&input));
    let out = wait_output(child);
    // A program may stop reading its input early (and say why): that is
    // for the test to judge from its output, not a broken pipe here.
    match feeding.join().unwrap() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("write stdin: {e}"),
        _ => {}
    }
    out
}

/// Waits for `child` to exit (killing it after [`LIMIT`]) and collects its output.
pub fn wait_output(mut child: Child) -> Output {
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let status = wait_status(&mut child, LIMIT).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("eco did not exit within {LIMIT:?}");
    });
    Output { status, stdout: out.join().unwrap(), stderr: err.join().unwrap() }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

fn wait_status(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        thread::sleep(Duration::from_millis(10));
    }
    None
}

/// An `eco server` process on 127.0.0.1 and a free port.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    /// The threads reading stdout and stderr; they end at the child's exit.
    readers: Vec<JoinHandle<()>>,
}

impl Server {
    /// `eco server --port 0 ARGS`; returns once it listens.
    pub fn start(args: &[&str]) -> Server {
        let mut cmd = eco();
        cmd.args(["server", "--port", "0"]).args(args);
        Server::spawn(cmd)
    }

    /// Runs `cmd`, which starts an eco server (perhaps through a wrapper
    /// such as `prlimit`); returns once it listens.
    pub fn spawn(mut cmd: Command) -> Server {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn eco server");
        let (stdout, out_reader) = collect_lines(child.stdout.take().unwrap(), None);
        let (tx, rx) = mpsc::channel();
        let (stderr, err_reader) = collect_lines(child.stderr.take().unwrap(), Some(tx));
        let addr = listening_addr(&rx).unwrap_or_else(|| {
            let _ = child.kill();
            panic!("eco server did not say where it listens; stderr: {}", stderr.lock().unwrap());
        });
        Server { child, addr, stdout, stderr, readers: vec![out_reader, err_reader] }
    }

    /// Runs `cmd`, an eco server told to be quiet (so it does not say
    /// where it listens) on 127.0.0.1:`port`; returns once it accepts.
    pub fn spawn_quiet(mut cmd: Command, port: u16) -> Server {
        let mut child =
            cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let (stdout, out_reader) = collect_lines(child.stdout.take().unwrap(), None);
        let (stderr, err_reader) = collect_lines(child.stderr.take().unwrap(), None);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if !eventually(|| TcpStream::connect(addr).is_ok()) {
            let _ = child.kill();
            panic!("quiet eco server not listening on {addr}: {}", stderr.lock().unwrap());
        }
        Server { child, addr, stdout, stderr, readers: vec![out_reader, err_reader] }
    }

    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for the server to exit by itself; `None` if it is still running after `limit`.
    pub fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let status = wait_status(&mut self.child, limit)?;
        // The pipes are closed: the readers take in the last lines and end.
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        Some(status)
    }

    /// Sends `signal` (e.g. "TERM") with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").arg(format!("-{signal}")).arg(self.pid().to_string()).status();
        assert!(status.expect("run kill").success());
    }

    /// The server's resident memory (VmRSS), in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// How many file descriptors the server has open.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid())).unwrap().count()
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `pipe` line by line into a shared string; sends each line to `tx` too.
fn collect_lines(
    pipe: impl Read + Send + 'static,
    tx: Option<mpsc::Sender<String>>,
) -> (Arc<Mutex<String>>, JoinHandle<()>) {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    let reader = thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push_str(&format!("{line}\n"));
            if let Some(tx) = &tx {
                let _ = tx.send(line);
            }
        }
    });
    (text, reader)
}

/// Finds "eco: listening on ADDR (mode M)" (or the pt-BR "escutando em").
fn listening_addr(lines: &Receiver<String>) -> Option<SocketAddr> {
    let deadline = Instant::now() + LIMIT;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        let line = lines.recv_timeout(left).ok()?;
        let rest =
            line.strip_prefix("eco: listening on ").or_else(|| line.strip_prefix("eco: escutando em "));
        if let Some(rest) = rest {
            return rest.split(' ').next()?.parse().ok();
        }
        // --log-format json: {"message":"listening","addr":"127.0.0.1:5050",...}
        if line.contains(r#""message":"listening""#) {
            let addr = line.split(r#""addr":""#).nth(1)?.split('"').next()?;
            return addr.parse().ok();
        }
    }
}

/// Connects from the source address `from` (say 127.0.0.2), with time limits.
pub fn connect_from(from: &str, addr: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::new(from.parse().unwrap(), 0).into()).unwrap();
    socket.connect_timeout(&addr.into(), LIMIT).expect("connect to eco server");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    stream.set_write_timeout(Some(LIMIT)).unwrap();
    stream
}

/// Whether a connection from `from` is turned away: reset during the
/// handshake's last steps (the server's RST can beat `connect()`'s return on
/// loopback), or closed at once.
pub fn turned_away(from: &str, addr: SocketAddr) -> bool {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::new(from.parse().unwrap(), 0).into()).unwrap();
    if socket.connect_timeout(&addr.into(), LIMIT).is_err() {
        return true;
    }
    let mut stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    let _ = stream.write_all(b"hello");
    closed_by_server(&mut stream)
}

/// Whether the server closed or refused `stream`: a read gives EOF or a reset.
pub fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1];
    matches!(stream.read(&mut buf), Ok(0) | Err(_))
}

/// Waits until `check` holds, for at most [`LIMIT`]; false if it never did.
pub fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + LIMIT;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Connects with time limits on every call.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, LIMIT).expect("connect to eco server");
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    stream.set_write_timeout(Some(LIMIT)).unwrap();
    stream
}

/// Sends `data` (from a second thread, so that neither side can stall),
/// half-closes, and returns everything read until the server's FIN.
pub fn echo_of(addr: SocketAddr, data: &[u8]) -> Vec<u8> {
    let stream = connect(addr);
    let mut writer = stream.try_clone().unwrap();
    let data_for_writer = data.to_vec();
    let sending = thread::spawn(move || {
        writer.write_all(&data_for_writer).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let mut echo = Vec::with_capacity(data.len());
    (&stream).read_to_end(&mut echo).expect("read the echo to EOF");
    sending.join().unwrap();
    echo
}

/// Deterministic pseudo-random bytes (xorshift64*): enough to catch
/// reordered or corrupted data, with no dependency for it.
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

/// Asserts equality without printing megabytes on failure.
#[track_caller]
pub fn assert_same(got: &[u8], want: &[u8]) {
    if got != want {
        let first = got.iter().zip(want).position(|(a, b)| a != b);
        panic!("echo differs: got {} bytes, want {}; first difference at {first:?}", got.len(), want.len());
    }
}

/// An external program the tests use as a real peer. CI installs them all
/// and sets ECO_REQUIRE_TOOLS=1, so there a missing one fails; on a
/// developer's machine the test says what to install and passes over it.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|dir| dir.join(name)).find(|p| p.is_file()));
    if found.is_none() {
        assert!(
            std::env::var_os("ECO_REQUIRE_TOOLS").is_none(),
            "{name} is required (ECO_REQUIRE_TOOLS is set) but not on PATH"
        );
        eprintln!("skipped: {name} is not installed (apt-get install {})", package_of(name));
    }
    found
}

fn package_of(tool: &str) -> &str {
    match tool {
        "nc" => "netcat-openbsd",
        "python3" => "python3",
        "ss" | "ip" => "iproute2",
        other => other,
    }
}

/// A program of `examples/` (the exercise's servidor.py and cliente.py).
pub fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples").join(name)
}

pub fn python_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python").join(name)
}

/// Capture, network namespaces and low ports need root here (CI runs as
/// root). Elsewhere these tests say so and pass over it, unless
/// ECO_REQUIRE_TOOLS demands everything.
pub fn root() -> bool {
    let uid = Command::new("id").arg("-u").output().map(|o| text(&o.stdout).trim().to_string());
    let is_root = uid.is_ok_and(|uid| uid == "0");
    if !is_root {
        assert!(
            std::env::var_os("ECO_REQUIRE_TOOLS").is_none(),
            "this test needs root (ECO_REQUIRE_TOOLS is set)"
        );
        eprintln!("skipped: needs root");
    }
    is_root
}

/// A command that runs `eco ARGS` as user `nobody` (uid 65534, no groups),
/// from a link to the binary in a directory that user can read, wherever
/// the checkout is. It runs in that directory, which is removed when the
/// returned guard is dropped.
pub fn eco_as_nobody(args: &[&str]) -> (Command, tempfile::TempDir) {
    eco_as_user(65534, args)
}

/// The same as user `uid` (a test that limits a user's processes takes a
/// uid of its own: other tests run as `nobody` at the same time).
pub fn eco_as_user(uid: u32, args: &[&str]) -> (Command, tempfile::TempDir) {
    let guard = tempfile::Builder::new().prefix("eco-nobody-").tempdir().unwrap();
    let dir = guard.path().to_path_buf();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let eco_copy = dir.join("eco");
    // A hard link, not a copy: a copy is a file open for writing, and a
    // child another test forks meanwhile inherits it until it execs, so
    // running the copy could fail with "Text file busy".
    if std::fs::hard_link(eco_bin(), &eco_copy).is_err() {
        std::fs::copy(eco_bin(), &eco_copy).unwrap();
    }
    let mut cmd = Command::new("setpriv");
    cmd.args([format!("--reuid={uid}"), format!("--regid={uid}"), "--clear-groups".into()])
        .arg(&eco_copy)
        .args(args)
        .current_dir(&dir);
    (cmd, guard)
}

/// tshark's `fields` for each frame of `pcap` (tab-separated), with only
/// the dissectors `protocols` enabled: a free port may belong to some
/// other protocol's dissector, which would rewrite the Info column.
pub fn tshark_fields(tshark: &Path, pcap: &Path, protocols: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new(tshark);
    cmd.arg("-r").arg(pcap);
    cmd.args(["--disable-protocol", "ALL", "--enable-protocol", protocols]);
    cmd.args(["-T", "fields", "-E", "separator=\t"]);
    for field in fields {
        cmd.args(["-e", field]);
    }
    let out = cmd.stderr(Stdio::null()).output().expect("run tshark");
    assert!(out.status.success());
    text(&out.stdout).lines().map(|l| l.split('\t').map(String::from).collect()).collect()
}

/// stdout as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8 output")
}

/// A network namespace of the test's own (`ip netns add`), with `lo` up
/// and, optionally, an nftables rule on its input hook: where tests lose
/// packets on purpose, or make a client vanish, without touching the host.
/// Deleted when dropped. Needs root and `nft`; `None` (the test passes
/// over it, saying why) without them.
pub struct Namespace {
    pub name: String,
    nft: PathBuf,
}

impl Namespace {
    pub fn new(tag: &str, rule: &str) -> Option<Namespace> {
        if !root() {
            return None;
        }
        let nft = tool("nft")?;
        let name = format!("eco-{tag}-{}", std::process::id());
        let ip =
            |args: &[&str]| assert!(Command::new("ip").args(args).status().unwrap().success(), "ip {args:?}");
        ip(&["netns", "add", &name]);
        let ns = Namespace { name, nft };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
        ns.rule(rule);
        Some(ns)
    }

    /// Replaces the input hook's rules with `rule` (empty: none).
    pub fn rule(&self, rule: &str) {
        let rules = format!(
            "flush ruleset\ntable inet eco {{\n chain input {{\n  type filter hook input priority 0;\n  {rule}\n }}\n}}\n"
        );
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .arg(&self.nft)
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(rules.as_bytes()).unwrap();
        assert!(child.wait().unwrap().success(), "nft rule: {rule}");
    }

    /// `PROGRAM ARGS` inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// `eco ARGS` inside the namespace.
    pub fn eco(&self) -> Command {
        self.command(eco_bin())
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

/// `--mode` for a test function's name (`async` is a keyword in Rust).
/// Whether this kernel sets up io_uring as `--mode uring` needs it (Linux
/// 6.1's DEFER_TASKRUN): where it does not, eco falls back to `async`
/// (tested on its own, under a seccomp filter), and the uring variants of
/// the mode tests are skipped with a note.
pub fn uring_works() -> bool {
    static WORKS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WORKS.get_or_init(|| {
        let ring: std::io::Result<io_uring::IoUring> =
            io_uring::IoUring::builder().setup_single_issuer().setup_defer_taskrun().build(8);
        ring.is_ok()
    })
}

pub fn mode_of(test_name: &str) -> &'static str {
    match test_name {
        "single" => "single",
        "threads" => "threads",
        "async_tokio" => "async",
        "uring" => "uring",
        other => panic!("no server mode for {other}"),
    }
}

/// Runs each listed test body once per server mode, as a module per test
/// with one `#[test]` per mode: every mode by default, or those listed
/// first (`each_mode! { [threads, async_tokio] fn ... }`), as ripgrep's
/// `rgtest!` runs each body once per regex engine.
macro_rules! each_mode {
    (@one [$($each:ident),+] $(#[$meta:meta])* fn $name:ident($mode:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $(#[$meta])*
            fn run($mode: &str) $body
            $( #[test] fn $each() {
                let mode = $crate::support::mode_of(stringify!($each));
                if mode == "uring" && !$crate::support::uring_works() {
                    eprintln!("skipped: this kernel refuses io_uring (eco serves --mode uring as async there)");
                    return;
                }
                run(mode)
            } )+
        }
    };
    ([$($each:ident),+] $( $(#[$meta:meta])* fn $name:ident($mode:ident) $body:block )*) => {
        $crate::support::each_mode! { @all [$($each),+] $( $(#[$meta])* fn $name($mode) $body )* }
    };
    (@all $modes:tt $( $(#[$meta:meta])* fn $name:ident($mode:ident) $body:block )*) => {$(
        $crate::support::each_mode! { @one $modes $(#[$meta])* fn $name($mode) $body }
    )*};
    ($( $(#[$meta:meta])* fn $name:ident($mode:ident) $body:block )*) => {
        $crate::support::each_mode! { @all [single, threads, async_tokio, uring] $( $(#[$meta])* fn $name($mode) $body )* }
    };
}
pub(crate) use each_mode;
