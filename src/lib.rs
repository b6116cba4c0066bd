//! eco: TCP echo — a server, a client and the classroom exercise they come
//! from, with both levels of the exchange explained: the network level (the
//! kernel's handshake, ACKs and close) and the application level (the echo).
//!
//! # Layout
//! - [`cli`]: clap definitions; turned into each module's `Config` in [`run`].
//! - [`server`]: `eco server`. `server/single.rs` is the exercise's blocking
//!   server, `threads.rs` a thread per client, `async_tokio.rs` a tokio task
//!   per client, `uring.rs` the echo on io_uring, `udp.rs` the datagram echo
//!   and its reflection guard; what
//!   they share lives in `server/mod.rs` (config, sockets, signals),
//!   `conn.rs` (a connection's admission and end), `limits.rs` and
//!   `summary.rs` (floods told once a second); `messages.rs` says it all.
//! - [`client`]: `eco client`: one message, `--count` (ping-like), `--stdin`
//!   (pipe), `--udp`; its messages at the bottom of the file.
//! - [`trace`]: `eco trace`: the packets of an exchange, captured on `lo`
//!   (`capture.rs`, `namespace.rs`) or read from any pcap/pcapng file
//!   (`pcap.rs`, streaming; `stamp.rs`: times as Wireshark keeps them),
//!   decoded (`packet.rs`: every link type; `defrag.rs`: IP reassembly;
//!   `other.rs`: UDP, ICMP, ARP), analysed like Wireshark 4.0 (`flow.rs`:
//!   relative numbers, tags, phases), printed (`table.rs`, `json.rs`; words
//!   in `messages.rs`). `--run` (`run.rs`) starts anybody's programs and
//!   traces their socket calls with ptrace (`syscalls.rs`), placed beside
//!   the frames they cause (`calls.rs`). The pictures: `view.rs` (what is
//!   shown and exported), `ladder.rs` (the diagram as data; terminal and
//!   Mermaid), `svg.rs` (diagram, time/sequence graph), `html.rs` (the page).
//! - [`bench`]: `eco bench`: a verifying load generator: the load
//!   (`worker.rs`), the message format (`message.rs`), HDR statistics
//!   (`stats.rs`), the report (`report.rs`: layout; `messages.rs`: words).
//! - [`demo`]: `eco demo`: server and client in one process, both
//!   transcripts, and the packets when capture is possible.
//! - [`aio`]: socket reads, writes and splices for tokio tasks, one system
//!   call each; shared by the async server and the bench.
//! - [`i18n`]: only what every sentence shares: [`i18n::Lang`], the
//!   [`i18n::Text`] / [`i18n::Sentences`] traits, plurals. Each module owns
//!   its sentences, one exhaustive `match` per language beside its enum;
//!   `i18n` imports nothing from them.
//! - [`console`]: where sentences go (stdout, stderr, a buffer), fitted to
//!   the terminal's width, and the never-blocking writer a server uses.
//! - [`logging`]: the structured log (tracing), text or JSON.
//! - [`error`]: the errors that end a command, their sentences and exit codes.
//! - [`net`]: `--host`/`--port` to socket addresses.
//! - [`usage`]: usage errors in the user's language (the language is known
//!   before clap parses).
//! - [`tcp_info`]: `getsockopt(TCP_INFO)`, the kernel's counters for a
//!   socket (the trace's summary; the server's idle check).

pub mod aio;
pub mod bench;
pub mod cli;
pub mod cli_pt;
pub mod client;
pub mod console;
pub mod demo;
pub mod error;
pub mod i18n;
pub mod lab;
pub mod logging;
pub mod net;
pub mod proxy;
pub mod server;
pub mod tcp_info;
pub mod tls;
pub mod trace;
pub mod usage;

use std::sync::Arc;

pub use error::{Error, Result};

use cli::{BenchArgs, Cli, ClientArgs, Command, ServerArgs, TraceArgs};
use console::Console;
use i18n::Lang;

/// The language for this run: `--lang`, else the environment.
pub fn lang_of(cli: &Cli) -> Lang {
    Lang::detect(cli.lang.map(Lang::from), |name| std::env::var(name).ok())
}

/// Runs the parsed command line and returns the exit status; the binary
/// turns an error into its exit code.
pub fn run(cli: Cli, lang: Lang) -> Result<u8> {
    // `--mermaid -`: stdout is the diagram's, as with `--json`.
    let mermaid_out = match &cli.command {
        Command::Trace(args) => args.view.mermaid.as_deref() == Some(std::path::Path::new("-")),
        Command::Demo(args) => args.view.mermaid.as_deref() == Some(std::path::Path::new("-")),
        _ => false,
    };
    // Silent: `--log-format json` (the log is the output; not for a lab,
    // whose output is its narration), or `server --inetd` (stdout is the
    // connection: nothing else goes there).
    let silent = match &cli.command {
        Command::Server(args) if args.inetd => true,
        Command::Lab(_) => false,
        _ => cli.log_format == cli::LogFormat::Json,
    };
    let level = match (silent, cli.quiet || mermaid_out) {
        (true, _) => console::Level::Silent,
        (_, true) => console::Level::Quiet,
        _ => console::Level::Normal,
    };
    let verbosity = if cli.quiet { -1 } else { cli.verbose.min(2) as i8 };
    if let Command::Server(args) = cli.command {
        // The socket systemd passed (Accept=no), taken before any thread
        // starts (it clears the variables that name it).
        let inherited = if args.inetd { None } else { server::activation::inherited()? };
        // A server never waits for its output (see `console`): its notes
        // and its log share one background writer on stderr.
        let stderr = console::Lossy::spawn(std::io::stderr(), "eco-stderr");
        logging::init(cli.log_format, verbosity, Some(stderr.clone()));
        let console = Arc::new(Console::background(lang, level, stderr));
        let result = run_server(args, inherited, Arc::clone(&console));
        // What is still queued gets a moment to be written.
        console.flush(std::time::Duration::from_secs(1));
        return result.map(|()| 0);
    }
    logging::init(cli.log_format, verbosity, None);
    // Reading a capture prints a file's worth of lines: stdout in blocks.
    let reads_file = matches!(&cli.command, Command::Trace(args) if args.read.is_some());
    let console = if reads_file { Console::stdio_buffered(lang, level) } else { Console::stdio(lang, level) };
    // On a terminal, lines fit its width, 100 columns at most (a line
    // longer than that is hard to read anyway); `--wide`: as they are.
    // `eco lab --compact`: 80 columns at most, terminal or not (a projector).
    let compact = matches!(&cli.command, Command::Lab(args) if args.compact);
    let width = match (compact, cli.wide) {
        (true, _) => Some(console::terminal_width().unwrap_or(80).min(80)),
        (false, true) => None,
        (false, false) => console::terminal_width().map(|w| w.min(100)),
    };
    let console = console.fit(width);
    match cli.command {
        Command::Server(_) => unreachable!("handled above"),
        Command::Client(args) => run_client(args, &console).map(|()| 0),
        Command::Trace(args) => run_trace(args, &console),
        Command::Bench(args) => run_bench(args, &console),
        Command::Lab(args) => run_lab(args, &console),
        Command::Completions(args) => {
            // From the English definition: the words a shell completes are
            // the options, the same in every language.
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(args.shell, &mut command, "eco", &mut std::io::stdout());
            Ok(0)
        }
        Command::Man(args) => man(args.out.as_deref(), &console),
        Command::Demo(args) => match trace::access() {
            trace::Access::Done(code) => Ok(code),
            access => {
                let view = view_of(&args.view, true);
                demo::run(&args.message, matches!(access, trace::Access::Here), &view, &console).map(|()| 0)
            }
        },
    }
}

fn run_lab(args: cli::LabArgs, console: &Console) -> Result<u8> {
    let Some(name) = &args.name else {
        // `eco lab --html x.html`: a page of what? Say so, not the list.
        let view = &args.view;
        if let Some(option) = [
            (view.svg.is_some(), "--svg"),
            (view.html.is_some(), "--html"),
            (view.mermaid.is_some(), "--mermaid"),
            (view.bytes, "--bytes"),
            (view.diagram, "--diagram"),
            (view.no_diagram, "--no-diagram"),
        ]
        .iter()
        .find_map(|(given, option)| given.then_some(*option))
        {
            return Err(Error::LabOptionWithoutName { option: option.into() });
        }
        lab::list(console);
        return Ok(0);
    };
    let Some(found) = lab::find(name) else {
        let known: Vec<&str> = lab::all().iter().map(|l| l.name()).collect();
        return Err(Error::LabUnknown { name: name.clone(), known: known.join(", ") });
    };
    lab::check_variant(found, args.variant.as_deref())?;
    // What the lab needs and where it writes, before it runs (it may take
    // seconds).
    if found.firewall() && trace::run::find_program("nft").is_none() {
        return Err(Error::LabNeeds { lab: name.clone(), program: "nft".into(), package: "nftables".into() });
    }
    let outputs = [
        ("--pcap", &args.pcap),
        ("--html", &args.view.html),
        ("--svg", &args.view.svg),
        ("--mermaid", &args.view.mermaid),
    ];
    let mut seen: Vec<(&str, &std::path::Path)> = Vec::new();
    for (option, path) in outputs.iter().filter_map(|(o, p)| Some((*o, p.as_deref()?))) {
        writable(path)?;
        if let Some((other, _)) = seen.iter().find(|(_, p)| *p == path && path != std::path::Path::new("-")) {
            return Err(Error::OutputPath {
                path: path.to_path_buf(),
                why: error::Unwritable::Twice((*other).into()),
            });
        }
        seen.push((option, path));
    }
    let job = lab::LabJob {
        lab: found,
        variant: args.variant.clone(),
        step: args.step,
        worksheet: args.worksheet.then_some(if args.answers {
            lab::Sheet::Answers
        } else {
            lab::Sheet::Questions
        }),
        pcap: args.pcap.clone(),
        view: view_of(&args.view, true),
    };
    // Always in a namespace of its own (as root too): its firewall rules
    // and kernel settings must touch nothing of the machine's.
    match trace::access_private() {
        trace::Access::Done(code) => Ok(code),
        trace::Access::Here => lab::run(&job, console),
        trace::Access::Denied(reason) => Err(Error::LabDenied { reason }),
    }
}

/// `eco man`: the manual page on stdout, or one per command into `dir`.
fn man(dir: Option<&std::path::Path>, console: &Console) -> Result<u8> {
    let command = <Cli as clap::CommandFactory>::command();
    let Some(dir) = dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(command)
            .render(&mut page)
            .map_err(|source| Error::Io { doing: error::Doing::Setup, source })?;
        use std::io::Write;
        let _ = std::io::stdout().write_all(&page);
        return Ok(0);
    };
    if !dir.is_dir() {
        return Err(Error::OutputPath {
            path: dir.to_path_buf(),
            why: error::Unwritable::NoDirectory(dir.to_path_buf()),
        });
    }
    // eco.1, then eco-server.1, eco-client.1, ...
    clap_mangen::generate_to(command, dir)
        .map_err(|source| Error::WriteFile { path: dir.to_path_buf(), source })?;
    console.note(&ManWritten(dir));
    Ok(0)
}

/// `eco man --out DIR` is done.
struct ManWritten<'a>(&'a std::path::Path);

impl i18n::Sentences for ManWritten<'_> {
    fn en(&self) -> String {
        format!("wrote eco.1 and one page per command (eco-server.1, ...) in {}", self.0.display())
    }

    fn pt(&self) -> String {
        format!("eco.1 e uma página por comando (eco-server.1, ...) gravados em {}", self.0.display())
    }
}

/// An output file can be written: its directory exists and is writable
/// (`-`, stdout, always can).
fn writable(path: &std::path::Path) -> Result<()> {
    if path == std::path::Path::new("-") {
        return Ok(());
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    use rustix::fs::{Access, access};
    let why = if !dir.is_dir() {
        Some(error::Unwritable::NoDirectory(dir))
    } else if path.is_dir() {
        Some(error::Unwritable::IsDirectory)
    } else if path.exists() {
        // An existing file is replaced: it must be writable itself.
        access(path, Access::WRITE_OK).is_err().then_some(error::Unwritable::Denied)
    } else {
        access(&dir, Access::WRITE_OK).is_err().then_some(error::Unwritable::Denied)
    };
    match why {
        Some(why) => Err(Error::OutputPath { path: path.to_path_buf(), why }),
        None => Ok(()),
    }
}

fn run_bench(args: BenchArgs, console: &Console) -> Result<u8> {
    let tls = client_tls(&args.tls, &args.host)?;
    let load = if let Some(rate) = args.rate {
        bench::Load::Rate(rate)
    } else if let Some(bytes) = args.bulk {
        bench::Load::Bulk(bytes)
    } else if let Some(bytes) = args.stream {
        bench::Load::Stream(bytes)
    } else if args.connect_rate {
        bench::Load::ConnectRate
    } else if args.udp {
        bench::Load::Udp
    } else {
        bench::Load::PingPong
    };
    // Messages carry a header; a stream's writes are plain bytes; a
    // datagram holds at most 65 507.
    let (default_size, min, max, of) = match load {
        bench::Load::Stream(_) => (4000, 1, bench::message::MAX_SIZE, error::SizeOf::StreamWrite),
        bench::Load::Udp => (64, bench::message::MIN_SIZE, 65_507, error::SizeOf::Datagram),
        _ => (64, bench::message::MIN_SIZE, bench::message::MAX_SIZE, error::SizeOf::Message),
    };
    let size = args.size.unwrap_or(default_size);
    if !(min..=max).contains(&size) {
        return Err(Error::BenchSize { size, min, max, of });
    }
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    // Ctrl-C (or SIGTERM) ends the run early with the report of what was
    // measured, as ping does; a second Ctrl-C ends eco at once.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let setup = |source| Error::Io { doing: error::Doing::Setup, source };
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&stop)).map_err(setup)?;
        signal_hook::flag::register(signal, Arc::clone(&stop)).map_err(setup)?;
    }
    let engine = args.engine.resolve(&load, tls.is_some(), args.proxy_protocol.is_some())?;
    let addrs = net::resolve(&args.host, args.port)?;
    let mut config = bench::Config {
        engine,
        addr: addrs[0],
        load,
        connections: args.connections as usize,
        size,
        duration: args.duration,
        warmup: args.warmup,
        timeout: args.timeout,
        progress: !args.json && bench::progress_wanted(),
        stop,
        proxy: args.proxy_protocol,
        tls: tls.clone().map(|tls| bench::worker::Tls {
            connector: tokio_rustls::TlsConnector::from(tls.config),
            name: tls.name,
        }),
    };
    let modes: Vec<server::Mode> = if args.compare {
        vec![server::Mode::Uring, server::Mode::Async, server::Mode::Threads, server::Mode::Single]
    } else {
        args.spawn.map(server::Mode::from).into_iter().collect()
    };
    let mut reports = Vec::new();
    if modes.is_empty() {
        // Nothing listening fails here, at once, not after a run of errors.
        config.addr = bench::pick_target(&addrs, args.udp, args.proxy_protocol, args.timeout)?;
        if let Some(tls) = tls {
            // One handshake first, as `eco client --tls` does it: a
            // certificate not trusted, a wrong --pin, no ALPN in common
            // fail here with the reason, and what was negotiated is told.
            let probe = client::Config {
                proxy: args.proxy_protocol,
                tls: Some(tls),
                ..client::Config::plain(vec![config.addr], args.timeout, args.timeout)
            };
            client::open(&probe, console)?.close();
        }
        reports.push(bench::run(&config, args.server_pid.map(|pid| (pid, None)))?);
    }
    for mode in modes {
        if config.stop.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
        let spawned = bench::Spawned::start(mode, &args.host, args.udp)?;
        if spawned.mode != mode
            && let (_, Some(why)) = server::effective_mode(&server::Config::new(mode))
        {
            // The spawned server said why in its own notes: said here too.
            console.note(&server::Msg::UringFallback { why: &why });
        }
        config.addr = spawned.addr;
        reports.push(bench::run(&config, Some((spawned.pid(), Some(spawned.mode))))?);
    }
    if args.json {
        bench::report::export_json(std::path::Path::new("-"), &reports)?;
    } else {
        for report in &reports {
            bench::report::print(console, report);
        }
        if reports.len() > 1 {
            bench::report::print_comparison(console, &reports);
        }
    }
    if let Some(path) = &args.export_json {
        bench::report::export_json(path, &reports)?;
    }
    if let Some(path) = &args.export_markdown {
        bench::report::export_markdown(path, &reports)?;
    }
    match reports.iter().map(|r| r.errors).find(|e| e.total() > 0) {
        Some(errors) => Err(Error::BenchFailed { errors }),
        // Stopped before anything was measured: not a success (as ping
        // exits 1 with no reply).
        None if reports.iter().all(|r| r.interrupted && r.duration_s == 0.0) => Ok(1),
        None => Ok(0),
    }
}

/// What to show and export, from the flags; `diagram`: whether the
/// terminal diagram is shown unless asked otherwise.
fn view_of(args: &cli::ViewArgs, diagram: bool) -> trace::view::View {
    trace::view::View {
        diagram: (diagram || args.diagram) && !args.no_diagram,
        bytes: args.bytes,
        color: trace::view::color_wanted(),
        svg: args.svg.clone(),
        html: args.html.clone(),
        mermaid: args.mermaid.clone(),
        ..Default::default()
    }
}

fn run_trace(args: TraceArgs, console: &Console) -> Result<u8> {
    if !args.run.is_empty() {
        // Checked before a namespace is made: a typo is a usage error.
        trace::run::programs(&args.run)?;
        let job = trace::run::RunJob {
            commands: args.run.clone(),
            pcap: args.pcap.clone(),
            view: view_of(&args.view, true),
        };
        return match trace::access() {
            trace::Access::Done(code) => Ok(code),
            trace::Access::Here => trace::run::run(&job, console),
            trace::Access::Denied(reason) => Err(Error::RunDenied { reason }),
        };
    }
    if let Some(path) = &args.read {
        let job = trace::ReadJob {
            path: path.clone(),
            json: args.json,
            stream: args.stream,
            port: Some(args.port).filter(|&p| p != 0),
            view: view_of(&args.view, false),
        };
        return trace::run_read(&job, console);
    }
    let addr = net::resolve(&args.host, args.port)?[0];
    if !addr.ip().is_loopback() {
        return Err(Error::TraceNotLoopback { addr });
    }
    if args.attach {
        return trace::run_attach(args.port, args.count, console).map(|()| 0);
    }
    let job = trace::TraceJob {
        options: trace::exchange::Options {
            addr,
            message: args.message,
            mode: server::Mode::from(args.mode),
            ack_fin_apart: args.ack_fin_apart,
            tls: args.tls,
        },
        pcap: args.pcap,
        json: args.json,
        view: view_of(&args.view, true),
    };
    let capture = match trace::access() {
        trace::Access::Done(code) => return Ok(code),
        trace::Access::Here => Ok(()),
        trace::Access::Denied(reason) => Err(reason),
    };
    trace::run_live(&job, capture, console).map(|()| 0)
}

/// Options that would do nothing where they are given: an error, not a
/// silent no-op (a user who asks for `--tls` on a UDP echo must be told).
fn not_applicable(args: &ServerArgs) -> Result<()> {
    use error::Setting;
    let tcp_only: [(&'static str, bool); 15] = [
        ("--once", args.once),
        ("--mode", args.mode.is_some()),
        ("--max-conns", args.max_conns > 0),
        ("--max-conns-per-ip", args.max_conns_per_ip > 0),
        ("--max-bytes", args.max_bytes > 0),
        ("--nagle", args.nagle),
        ("--buffer", args.buffer.is_some()),
        ("--tls", args.tls),
        ("--delay", args.delay.is_some()),
        ("--jitter", args.jitter.is_some()),
        ("--throttle", args.throttle.is_some()),
        ("--close-after", args.close_after.is_some()),
        ("--reset-after", args.reset_after.is_some()),
        ("--stall-after", args.stall_after.is_some()),
        ("--accept-delay", args.accept_delay.is_some()),
    ];
    let udp_only = args.udp && !args.tcp;
    if let Some((option, _)) = tcp_only.iter().find(|(_, given)| *given).filter(|_| udp_only) {
        return Err(Error::NotApplicable { option, setting: Setting::UdpOnly });
    }
    let default = server::udp::Guard::default();
    let udp_only_options = [
        ("--drop-percent", args.drop_percent.is_some()),
        ("--udp-rate-per-ip", args.udp_rate_per_ip != default.per_source_rate),
        ("--udp-rate", args.udp_rate != default.global_rate),
    ];
    if let Some((option, _)) = udp_only_options.iter().find(|(_, given)| *given).filter(|_| !args.udp) {
        return Err(Error::NotApplicable { option, setting: Setting::TcpOnly });
    }
    Ok(())
}

fn run_server(
    args: ServerArgs,
    inherited: Option<std::net::TcpListener>,
    console: Arc<Console>,
) -> Result<()> {
    not_applicable(&args)?;
    // No --mode: io_uring where it serves (quietly async elsewhere).
    let mode = args.mode.map_or(server::Mode::Uring, server::Mode::from);
    let nonzero = |n: usize| (n > 0).then_some(n);
    let config = server::Config {
        once: args.once,
        buffer: args.buffer.unwrap_or(mode.default_buffer()),
        nodelay: !args.nagle,
        grace: args.grace,
        limits: server::Limits {
            max_conns: nonzero(args.max_conns),
            max_conns_per_ip: nonzero(args.max_conns_per_ip),
            idle_timeout: Some(args.idle_timeout).filter(|d| !d.is_zero()),
            keepalive: Some(args.keepalive).filter(|d| !d.is_zero()),
            max_bytes: Some(args.max_bytes).filter(|&b| b > 0),
            allow: args.allow,
            deny: args.deny,
        },
        udp: server::udp::Guard { per_source_rate: args.udp_rate_per_ip, global_rate: args.udp_rate },
        inherited: inherited.is_some(),
        mode_asked: args.mode.is_some(),
        proxy: args.proxy_protocol,
        proxy_from: args.proxy_from,
        tls: if args.tls {
            Some(tls::Server::new(&tls::ServerOptions {
                cert: args.cert,
                key: args.key,
                client_ca: args.client_ca,
                alpn: args.alpn,
            })?)
        } else {
            None
        },
        misbehave: server::misbehave::Misbehaviour {
            delay: args.delay.unwrap_or_default(),
            jitter: args.jitter.unwrap_or_default(),
            throttle: args.throttle,
            close_after: args.close_after,
            reset_after: args.reset_after,
            stall_after: args.stall_after,
            accept_delay: args.accept_delay.unwrap_or_default(),
            drop_percent: args.drop_percent.unwrap_or_default(),
        },
        metrics: args.metrics,
        ..server::Config::new(mode)
    };
    if args.inetd {
        return server::inetd::serve(&config);
    }
    let addr = net::resolve(&args.host, args.port)?[0];
    // Many connections need many descriptors: lift the soft limit to the
    // hard one, as Go's runtime does at start (the default soft 1024 is
    // a relic of select()).
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let serve_tcp = args.tcp || !args.udp;
    let listener = match inherited {
        // systemd's socket (--host and --port are its ListenStream=): the
        // options every connection inherits are set on it as on our own.
        Some(listener) => {
            let setup = |source| Error::Io { doing: error::Doing::Inherited, source };
            server::configure(&socket2::SockRef::from(&listener), &config).map_err(setup)?;
            Some(listener)
        }
        None if serve_tcp => Some(server::listen(addr, args.v6only, &config)?),
        None => None,
    };
    // `--tcp --udp --port 0`: UDP takes the port the kernel gave TCP.
    let udp_addr = listener.as_ref().and_then(|l| l.local_addr().ok()).unwrap_or(addr);
    let udp = if args.udp { Some(server::bind_udp(udp_addr, args.v6only)?) } else { None };
    server::serve_both(listener, udp, &config, console)
}

/// `--tls` and its options, for `eco client` and `eco bench`.
fn client_tls(args: &cli::TlsClientArgs, host: &str) -> Result<Option<tls::Client>> {
    if !args.on {
        return Ok(None);
    }
    let options = tls::ClientOptions {
        insecure: args.insecure,
        ca: args.ca.clone(),
        cert: args.cert.clone(),
        key: args.key.clone(),
        sni: args.sni.clone(),
        pin: args.pin.clone(),
        alpn: args.alpn.clone(),
    };
    tls::Client::new(&options, host).map(Some)
}

fn run_client(args: ClientArgs, console: &Console) -> Result<()> {
    let tls = client_tls(&args.tls, &args.host)?;
    let config = client::Config {
        proxy: args.proxy_protocol,
        tls,
        ..client::Config::plain(net::resolve(&args.host, args.port)?, args.connect_timeout, args.timeout)
    };
    if args.udp {
        client::run_udp(&config, &args.message, args.count, args.interval, console)
    } else if args.stdin {
        client::run_stdin(&config)
    } else if let Some(count) = args.count {
        client::run_count(&config, &args.message, count, args.interval, console)
    } else {
        client::run_message(&config, &args.message, console)
    }
}
