//! `eco lab`: TCP's classic surprises, live — each lab a small module a
//! teacher can read.
//!
//! A lab runs real programs in eco's private network namespace (a
//! loopback of their own, no root needed where user namespaces are
//! allowed): its *actors* (a server, one or more clients) are eco itself,
//! started as `eco __lab-actor LAB ROLE [VARIANT]` and traced like any
//! program of `eco trace --run`, so their socket calls appear between the
//! packets. Then eco shows the table, the ladder and the calls, and the
//! lab *explains*: each point of its narration is checked against the
//! packets of this run. A point that does not hold is said, and eco exits
//! 1: a kernel that behaves differently is noticed, not papered over.
//!
//! The labs live in their own files (`handshake.rs`, `refused.rs`, ...);
//! this file holds what they share: the [`Lab`] trait, the list, the run
//! and the facts a lab reads from it ([`Run`]).

mod backlog;
mod byte_stream;
mod closing;
mod flow_control;
mod handshake;
mod keepalive;
mod loss;
mod messages;
mod nagle;
mod net;
mod refused;
mod step;
mod time_wait;
mod worksheet;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crate::console::Console;
use crate::error::{Error, Result};
use crate::i18n::Lang;
use crate::trace::flow::{Analyzer, Row, TcpRow};
use crate::trace::run::{self, Program};
use crate::trace::syscalls::{Call, Op};
use crate::trace::view::View;
use messages::LabMsg;
pub use messages::Said;
pub(crate) use messages::said;

/// The port every lab's server listens on, in the lab's own namespace:
/// the exercise's 5050 (nothing else runs there to take it).
pub const PORT: u16 = 5050;

/// One lab.
pub trait Lab: Sync {
    /// Its name on the command line: `handshake-and-close`.
    fn name(&self) -> &'static str;
    /// One line: what it shows.
    fn title(&self) -> Said;
    /// The "try this" variations: `--try NAME`, and what each changes.
    fn variants(&self) -> Vec<(&'static str, Said)> {
        Vec::new()
    }
    /// The programs, in the order they start (each once the one before
    /// listens or connects).
    fn roles(&self, variant: Option<&str>) -> Vec<Role>;
    /// Whether it sets firewall rules (with `nft`, checked before
    /// anything starts).
    fn firewall(&self) -> bool {
        false
    }
    /// Before the programs start, in the namespace: kernel settings,
    /// firewall rules.
    fn setup(&self, _variant: Option<&str>) -> io::Result<()> {
        Ok(())
    }
    /// What the program of `role` does (this runs in the actor process).
    fn act(&self, role: &str, variant: Option<&str>) -> io::Result<()>;
    /// The narration, each point checked against this run's packets.
    fn explain(&self, run: &Run, variant: Option<&str>) -> Vec<Point>;
}

/// The labs, in the order a course meets them.
pub fn all() -> [&'static dyn Lab; 10] {
    [
        &handshake::Lab,
        &refused::Lab,
        &closing::Lab,
        &byte_stream::Lab,
        &nagle::Lab,
        &time_wait::Lab,
        &backlog::Lab,
        &loss::Lab,
        &flow_control::Lab,
        &keepalive::Lab,
    ]
}

/// The lab called `name`.
pub fn find(name: &str) -> Option<&'static dyn Lab> {
    all().into_iter().find(|lab| lab.name() == name)
}

/// One program of a lab: `id` on the actor's command line, and its name
/// in each language (the name its calls carry in the table).
#[derive(Debug, Clone, Copy)]
pub struct Role {
    pub id: &'static str,
    pub en: &'static str,
    pub pt: &'static str,
}

impl Role {
    pub const SERVER: Role = Role { id: "server", en: "server", pt: "servidor" };
    pub const CLIENT: Role = Role { id: "client", en: "client", pt: "cliente" };

    fn name(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::En => self.en,
            Lang::Pt => self.pt,
        }
    }
}

/// One point of a lab's narration: what it says, and whether this run's
/// packets and calls show it.
pub struct Point {
    pub holds: bool,
    pub text: Said,
}

impl Point {
    pub fn new(holds: bool, text: Said) -> Point {
        Point { holds, text }
    }
}

/// What `eco lab NAME` was asked to do.
pub struct LabJob {
    pub lab: &'static dyn Lab,
    pub variant: Option<String>,
    pub step: bool,
    pub worksheet: Option<worksheet::Sheet>,
    pub pcap: Option<std::path::PathBuf>,
    pub view: View,
}

pub use worksheet::Sheet;

/// `eco lab`: the list, with each lab's variations.
pub fn list(console: &Console) {
    console.say(&LabMsg::ListTitle);
    for lab in all() {
        console.say(&LabMsg::ListEntry { name: lab.name(), title: &lab.title() });
        let variants: Vec<String> = lab.variants().iter().map(|(name, _)| format!("--try {name}")).collect();
        if !variants.is_empty() {
            console.say(&LabMsg::ListVariants { variants: &variants.join(" | ") });
        }
    }
    console.say(&LabMsg::ListHow);
}

/// Checks `--try` before anything runs: an unknown variation is a usage
/// error that names the ones there are.
pub fn check_variant(lab: &dyn Lab, variant: Option<&str>) -> Result<()> {
    let Some(variant) = variant else { return Ok(()) };
    let known: Vec<&str> = lab.variants().iter().map(|(name, _)| *name).collect();
    if known.contains(&variant) {
        return Ok(());
    }
    Err(Error::LabVariant { lab: lab.name().into(), variant: variant.into(), known: known.join(", ") })
}

/// Runs a lab (in the namespace already): setup, the programs, then the
/// table, the pictures and the narration. Exit status: 0 when every
/// point held, 1 when one did not.
pub fn run(job: &LabJob, console: &Console) -> Result<u8> {
    let lab = job.lab;
    let variant = job.variant.as_deref();
    let lang = console.lang();
    lab.setup(variant).map_err(|source| Error::Io { doing: crate::error::Doing::Setup, source })?;
    let exe =
        std::env::current_exe().map_err(|source| Error::Io { doing: crate::error::Doing::Setup, source })?;
    let roles = lab.roles(variant);
    let programs: Vec<Program> = roles
        .iter()
        .map(|role| {
            let mut argv = vec![exe.display().to_string(), ACTOR.into(), lab.name().into(), role.id.into()];
            argv.extend(variant.map(String::from));
            Program { argv, label: role.name(lang).into() }
        })
        .collect();
    console.say(&LabMsg::Title { name: lab.name(), title: &lab.title() });
    if let Some(variant) = variant
        && let Some((_, what)) = lab.variants().into_iter().find(|(name, _)| *name == variant)
    {
        console.say(&LabMsg::Variant { variant, what: &what });
    }
    let recording = run::record(&programs, console)?;
    let mut analyzer = Analyzer::default();
    let rows: Vec<Row> = recording.frames.iter().map(|f| analyzer.push_captured(f)).collect();
    let labels: Vec<String> = programs.iter().map(|p| p.label.clone()).collect();
    let facts = Run::new(&rows, &recording.tracer.calls, &recording.tracer.socks, &roles, time_wait());
    let points = lab.explain(&facts, variant);
    let others: Vec<(&str, Said)> =
        lab.variants().into_iter().filter(|(name, _)| Some(*name) != variant).collect();
    // Ctrl-C while the lab ran: what was captured, at once, and 130.
    if job.step && !recording.interrupted {
        if !step::walk(&rows, &recording.tracer, &labels, console) {
            return Ok(130);
        }
    } else {
        // The page for a course: the narration first, then the pictures.
        let mut view = job.view.clone();
        let bare = |line: String| line.trim_matches(['─', ' ']).to_string();
        view.title = Some(bare(lang.text(&LabMsg::Title { name: lab.name(), title: &lab.title() })));
        let said: Vec<String> = points.iter().filter(|p| p.holds).map(|p| lang.text(&p.text)).collect();
        view.notes.push((bare(lang.text(&LabMsg::WhatHappened)), said));
        let tries: Vec<String> = others
            .iter()
            .map(|(name, what)| lang.text(&LabMsg::TryLine { lab: lab.name(), variant: name, what }))
            .collect();
        if !tries.is_empty() {
            view.notes.push((bare(lang.text(&LabMsg::TryThis)), tries));
        }
        run::report(&recording.frames, &recording.tracer, &labels, &view, console)?;
    }
    // The questions come after the table they are answered from.
    if let Some(sheet) = &job.worksheet {
        worksheet::print(&facts, *sheet, job.pcap.is_some(), console);
    }
    recording.tell_losses(console);
    if let Some(path) = &job.pcap {
        crate::trace::write_pcap(path, &recording.frames, console)?;
    }
    if recording.interrupted {
        return Ok(130);
    }
    if job.worksheet.is_some() {
        return Ok(0);
    }
    console.say(&LabMsg::WhatHappened);
    for point in &points {
        if point.holds {
            console.say(&LabMsg::Point { text: &point.text });
        }
    }
    let missed: Vec<&Point> = points.iter().filter(|p| !p.holds).collect();
    for point in &missed {
        console.warn(&LabMsg::NotSeen { text: &point.text });
    }
    let others: Vec<(&str, Said)> =
        lab.variants().into_iter().filter(|(name, _)| Some(*name) != variant).collect();
    if !others.is_empty() {
        console.say(&LabMsg::TryThis);
        for (name, what) in &others {
            console.say(&LabMsg::TryLine { lab: lab.name(), variant: name, what });
        }
    }
    if !missed.is_empty() {
        console.warn(&LabMsg::KernelDiffers { lab: lab.name() });
        return Ok(1);
    }
    Ok(0)
}

/// The hidden command an actor runs as: `eco __lab-actor LAB ROLE [VARIANT]`.
pub const ACTOR: &str = "__lab-actor";

/// The actor's side: the program of one role. Exit status 0, or 1 with
/// the error on stderr (the lab shows it, named after the role).
pub fn actor(args: &[String]) -> u8 {
    let (Some(lab), Some(role)) = (args.first().and_then(|name| find(name)), args.get(1)) else {
        eprintln!("eco: {ACTOR} LAB ROLE [VARIANT]");
        return 2;
    };
    match lab.act(role, args.get(2).map(String::as_str)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

/// The sockets in TIME_WAIT in this namespace now (local, remote), as
/// `ss -tan state time-wait` lists them.
fn time_wait() -> Vec<(SocketAddr, SocketAddr)> {
    net::sockets().into_iter().filter(|s| s.state == net::TIME_WAIT).map(|s| (s.local, s.remote)).collect()
}

/// What a lab's narration reads: the rows and the calls of this run, and
/// who sent what.
pub struct Run<'a> {
    pub rows: &'a [Row],
    pub calls: &'a [Call],
    roles: &'a [Role],
    /// Which program each socket address belongs to.
    owner: HashMap<SocketAddr, usize>,
    /// The TIME_WAIT sockets just after the run.
    pub time_wait: Vec<(SocketAddr, SocketAddr)>,
}

impl<'a> Run<'a> {
    fn new(
        rows: &'a [Row],
        calls: &'a [Call],
        socks: &HashMap<u64, crate::trace::syscalls::Sock>,
        roles: &'a [Role],
        time_wait: Vec<(SocketAddr, SocketAddr)>,
    ) -> Run<'a> {
        let mut owner = HashMap::new();
        for call in calls {
            if let Some(local) = socks.get(&call.socket).and_then(|s| s.known_local()) {
                owner.entry(local).or_insert(call.program);
            }
        }
        Run { rows, calls, roles, owner, time_wait }
    }

    /// The TCP segments, in capture order.
    pub fn tcp(&self) -> impl Iterator<Item = (&'a Row, &'a TcpRow)> + '_ {
        self.rows.iter().filter_map(|r| r.tcp().map(|t| (r, t)))
    }

    /// The id of the role that sent `tcp` (`"server"`), if known.
    pub fn sender(&self, tcp: &TcpRow) -> Option<&'static str> {
        self.owner.get(&tcp.seg.src).map(|&p| self.roles[p].id)
    }

    /// The segments `role` sent.
    pub fn sent_by(&self, role: &str) -> Vec<(&'a Row, &'a TcpRow)> {
        self.tcp().filter(|(_, t)| self.sender(t) == Some(role)).collect()
    }

    /// The calls of `role`, in order.
    pub fn calls_of(&self, role: &str) -> Vec<&'a Call> {
        let index = self.roles.iter().position(|r| r.id == role);
        self.calls.iter().filter(|c| Some(c.program) == index).collect()
    }

    /// The results of `role`'s receive calls (bytes, or the error).
    pub fn reads_of(&self, role: &str) -> Vec<std::result::Result<i64, nix::errno::Errno>> {
        self.calls_of(role).iter().filter(|c| matches!(c.op, Op::Recv { .. })).map(|c| c.result).collect()
    }

    /// The TCP streams (connections) of the run, by `tcp.stream`.
    pub fn streams(&self) -> Vec<u32> {
        let mut streams: Vec<u32> = self.tcp().map(|(_, t)| t.stream).collect();
        streams.sort_unstable();
        streams.dedup();
        streams
    }

    /// The segments of one connection.
    pub fn stream(&self, stream: u32) -> Vec<(&'a Row, &'a TcpRow)> {
        self.tcp().filter(|(_, t)| t.stream == stream).collect()
    }
}

/// Time from `a` to `b` (zero if `b` came first).
pub fn gap(a: &Row, b: &Row) -> Duration {
    b.ts.saturating_sub(a.ts)
}

/// Milliseconds, as a narration writes them.
pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    match ms {
        _ if ms < 1.0 => format!("{} µs", d.as_micros()),
        _ if ms < 10.0 => format!("{ms:.1} ms"),
        _ => format!("{ms:.0} ms"),
    }
}

/// A short time as a narration writes it: microseconds under a
/// millisecond (`45 µs`), else as [`ms`].
pub fn short(d: Duration) -> String {
    if d < Duration::from_millis(1) { format!("{} µs", d.as_micros()) } else { ms(d) }
}

/// A number as Brazilian Portuguese writes it: `2,0 s`.
pub fn pt(text: &str) -> String {
    text.replace('.', ",")
}

/// Frame numbers as a narration lists them: `11, 12, 18–22`.
pub fn frames<'a>(segs: impl IntoIterator<Item = &'a (&'a Row, &'a TcpRow)>) -> String {
    let mut list = crate::trace::flow::Frames::default();
    for (row, _) in segs {
        list.push(row.no);
    }
    list.to_string().trim_matches(['[', ']']).to_string()
}

/// The flags of a segment, as `SYN` / `FIN, ACK`.
pub fn has(tcp: &TcpRow, flag: u16) -> bool {
    tcp.seg.has(flag)
}
