//! The errors that end an `eco` command, each naming the value at fault and
//! what to do next, in English and pt-BR.
//!
//! A hand-written enum instead of `thiserror`: the sentences come in two
//! languages (the [`Text`] impl below, one exhaustive `match` each), so a
//! derive would only add a third copy of the English text.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::bench::stats::Errors;
use crate::i18n::{Lang, Sentences, Text};

/// Why an output file cannot be written (checked before a lab runs).
#[derive(Debug)]
pub enum Unwritable {
    NoDirectory(PathBuf),
    IsDirectory,
    Denied,
    /// Another option (`--html`) names the same file.
    Twice(String),
}

#[derive(Debug)]
pub enum Error {
    /// `--host` is neither an IP address nor a name this machine resolves.
    BadHost { host: String },
    /// Another process listens on this address already.
    AddrInUse { addr: SocketAddr },
    /// Ports below 1024 need root or CAP_NET_BIND_SERVICE.
    PortNeedsPrivilege { addr: SocketAddr },
    /// The IP address belongs to no interface of this machine.
    AddrNotAvailable { addr: SocketAddr },
    /// Nothing listens at `addr` (the peer answered with RST).
    ConnectRefused { addr: SocketAddr },
    /// No answer to the SYN within the connect timeout.
    ConnectTimeout { addr: SocketAddr, timeout: Duration },
    /// The echo did not come back within the timeout.
    EchoTimeout { addr: SocketAddr, timeout: Duration, got: usize, expected: usize },
    /// The server closed before echoing everything.
    EchoShort { addr: SocketAddr, got: u64, expected: u64 },
    /// `--stdin`: the server closed before the input was all sent.
    ClosedEarly { addr: SocketAddr, echoed: u64, sent: u64 },
    /// `--stdin`: the connection failed (reset, ...) before the whole echo
    /// came; `ended`: whether all the input had been sent.
    EchoCut { addr: SocketAddr, got: u64, expected: u64, ended: bool, source: io::Error },
    /// The echo differs from what was sent, first at byte `offset`;
    /// `sent` and `got` are short excerpts around it.
    EchoMismatch { addr: SocketAddr, offset: usize, sent: String, got: String, tls: bool },
    /// `--stdin`: the echo goes on past what was sent, from byte `offset`.
    EchoExtra { addr: SocketAddr, offset: usize },
    /// `eco trace` captures on `lo`: the exchange must use a loopback address.
    TraceNotLoopback { addr: SocketAddr },
    /// Opening the packet capture on `lo` failed.
    Capture { source: io::Error },
    /// Capture needs a privilege this process lacks, and no namespace helped.
    CaptureDenied { reason: String },
    /// `--attach` needs to capture on the real `lo`, and may not.
    AttachDenied { reason: String },
    /// `--run` needs a namespace of its own (or root), and got neither.
    RunDenied { reason: String },
    /// A `--run` command line that cannot be split (unbalanced quotes) or is empty.
    BadCommand { command: String },
    /// `eco lab NAME` of no lab.
    LabUnknown { name: String, known: String },
    /// `eco lab NAME --try X` of a variation the lab does not have.
    LabVariant { lab: String, variant: String, known: String },
    /// A lab needs a network namespace of its own and cannot have one.
    LabDenied { reason: String },
    /// `eco lab --html F` without a lab's name.
    LabOptionWithoutName { option: String },
    /// A lab needs a program that is not installed (`nft`).
    LabNeeds { lab: String, program: String, package: String },
    /// An output file (`--pcap`, `--html`...) whose directory cannot be written.
    OutputPath { path: PathBuf, why: Unwritable },
    /// `--read FILE` could not be read as pcap or pcapng.
    PcapRead { path: PathBuf, source: io::Error },
    /// `--pcap FILE` could not be written.
    WriteFile { path: PathBuf, source: io::Error },
    /// `eco bench` saw echoes that were wrong (counted by kind in the report).
    BenchFailed { errors: Errors },
    /// `eco client --udp` with a message longer than one datagram can carry.
    DatagramTooLong { len: usize },
    /// `eco bench --size` out of range.
    BenchSize { size: usize, min: usize, max: usize, of: SizeOf },
    /// TLS set-up: a certificate, key or CA file that cannot be used.
    Tls { problem: String },
    /// The client's TLS handshake failed (a certificate not trusted, ...).
    TlsHandshake { addr: SocketAddr, problem: crate::tls::TlsProblem, insecure: bool },
    /// `--metrics ADDR` could not be opened.
    MetricsBind { addr: SocketAddr, source: io::Error },
    /// An option that does nothing in this setting (`--tls` with `--udp`).
    NotApplicable { option: &'static str, setting: Setting },
    /// `eco bench --engine uring` for a load it does not run.
    EngineLoad,
    /// `eco bench --engine uring` where io_uring is refused.
    EngineUnavailable { source: io::Error },
    /// Any other I/O failure, with what eco was doing.
    Io { doing: Doing, source: io::Error },
}

/// Where an option does nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// `eco server --udp` without `--tcp`: datagrams only.
    UdpOnly,
    /// `eco server` without `--udp`.
    TcpOnly,
    /// `eco server --inetd`.
    Inetd,
}

impl Setting {
    fn en(self) -> &'static str {
        match self {
            Setting::UdpOnly => "for UDP (it is for TCP connections; --tcp --udp serves both)",
            Setting::TcpOnly => "without --udp (it is for datagrams)",
            Setting::Inetd => "with --inetd (one plain connection on standard input and output)",
        }
    }

    fn pt(self) -> &'static str {
        match self {
            Setting::UdpOnly => "para UDP (é para conexões TCP; --tcp --udp atende os dois)",
            Setting::TcpOnly => "sem --udp (é para datagramas)",
            Setting::Inetd => "com --inetd (uma conexão simples na entrada e saída padrão)",
        }
    }
}

/// What `eco bench --size` sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeOf {
    /// A message (with its header).
    Message,
    /// A UDP datagram (a message in one datagram).
    Datagram,
    /// One write of `--stream`.
    StreamWrite,
}

/// What eco was doing when an otherwise unexpected I/O error struck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doing {
    Bind(SocketAddr),
    Connect(SocketAddr),
    Talk(SocketAddr),
    Setup,
    /// Taking the socket systemd passed (LISTEN_FDS).
    Inherited,
}

impl Error {
    /// 2 for bad input (as for a usage error), 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::BadHost { .. }
            | Error::TraceNotLoopback { .. }
            | Error::BenchSize { .. }
            | Error::DatagramTooLong { .. }
            | Error::BadCommand { .. }
            | Error::LabUnknown { .. }
            | Error::OutputPath { .. }
            | Error::LabOptionWithoutName { .. }
            | Error::LabVariant { .. }
            | Error::Tls { .. }
            | Error::NotApplicable { .. }
            | Error::EngineLoad => 2,
            _ => 1,
        }
    }

    /// The one-line message in `lang`.
    pub fn localized(&self, lang: Lang) -> String {
        self.text(lang)
    }

    /// Turns a failed `bind`/`listen` into the error a user can act on.
    pub fn from_bind(addr: SocketAddr, source: io::Error) -> Error {
        match source.kind() {
            io::ErrorKind::AddrInUse => Error::AddrInUse { addr },
            io::ErrorKind::PermissionDenied if addr.port() < 1024 => Error::PortNeedsPrivilege { addr },
            io::ErrorKind::AddrNotAvailable => Error::AddrNotAvailable { addr },
            _ => Error::Io { doing: Doing::Bind(addr), source },
        }
    }

    /// Turns a failed `connect` into the error a user can act on.
    pub fn from_connect(addr: SocketAddr, timeout: Duration, source: io::Error) -> Error {
        match source.kind() {
            io::ErrorKind::ConnectionRefused => Error::ConnectRefused { addr },
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Error::ConnectTimeout { addr, timeout },
            _ => Error::Io { doing: Doing::Connect(addr), source },
        }
    }

    /// The first difference between `sent` and `echo` (at `offset`), with
    /// a short excerpt of each around it: a proxy that answered
    /// `HTTP/1.1 400 Bad Request` should be plain to see.
    pub fn mismatch(addr: SocketAddr, sent: &[u8], echo: &[u8], offset: usize) -> Error {
        // A TLS record header (an alert, a handshake) where the echo
        // should be: the server speaks TLS.
        let tls = offset == 0 && echo.len() >= 2 && matches!(echo[0], 0x15 | 0x16) && echo[1] == 0x03;
        Error::EchoMismatch { addr, offset, sent: excerpt(sent, offset), got: excerpt(echo, offset), tls }
    }
}

/// Up to 32 bytes of `bytes` from a little before `offset`, as text: UTF-8
/// where it is valid (so `Olá` reads as `Olá`), control characters and
/// other bytes escaped as Rust writes them (`\r\n`, `\u{fffd}`).
fn excerpt(bytes: &[u8], offset: usize) -> String {
    let from = offset.saturating_sub(8).min(bytes.len());
    let to = (from + 32).min(bytes.len());
    let text: String = String::from_utf8_lossy(&bytes[from..to]).escape_debug().collect();
    let before = if from > 0 { "…" } else { "" };
    let after = if to < bytes.len() { "…" } else { "" };
    format!("\"{before}{text}{after}\"")
}

impl Sentences for Error {
    fn en(&self) -> String {
        let en = Lang::En;
        match self {
            Error::BadHost { host } => format!(
                "cannot resolve host '{host}': give an IP address such as 127.0.0.1 or ::1, \
                 or a name this machine knows (see /etc/hosts)"
            ),
            Error::AddrInUse { addr } => format!(
                "address {addr} is already in use: stop the program that listens on port {port} \
                 (ss -ltnp 'sport = :{port}' shows it) or choose another port with --port",
                port = addr.port()
            ),
            Error::PortNeedsPrivilege { addr } => format!(
                "port {} is below 1024 and needs root or CAP_NET_BIND_SERVICE: choose a port \
                 of 1024 or above, e.g. --port 5050",
                addr.port()
            ),
            Error::AddrNotAvailable { addr } => format!(
                "address {} is not on this machine: listen on 127.0.0.1, ::1, 0.0.0.0 or an \
                 address of one of its interfaces",
                addr.ip()
            ),
            Error::ConnectRefused { addr } => format!(
                "connection to {addr} refused: nothing listens there. Is `eco server --host {} \
                 --port {}` running?",
                addr.ip(),
                addr.port()
            ),
            Error::ConnectTimeout { addr, timeout } => format!(
                "no answer from {addr} within {} s: check the address and any firewall on the \
                 way; --connect-timeout waits longer",
                timeout.as_secs_f64()
            ),
            Error::EchoTimeout { addr, timeout, got, expected } => format!(
                "the echo from {addr} did not come back within {} s ({got} of {expected} bytes): \
                 is it an echo server? --timeout waits longer",
                timeout.as_secs_f64()
            ),
            Error::EchoShort { addr, got, expected } => format!(
                "{addr} closed the connection after echoing {got} of {expected} bytes: \
                 the echo is incomplete"
            ),
            Error::ClosedEarly { addr, echoed, sent } => format!(
                "{addr} closed the connection before the input ended, after echoing {echoed} of the \
                 {sent} bytes sent so far: the echo is incomplete (a limit of the server, such as \
                 --max-bytes or --idle-timeout?)"
            ),
            Error::EchoCut { addr, got, expected, ended, source } => format!(
                "connection with {addr} failed ({}) after echoing {got} of {expected} bytes{}: the \
                 echo is incomplete",
                source.text(en),
                if *ended { "" } else { " sent so far" }
            ),
            Error::EchoMismatch { addr, offset, sent, got, tls } => format!(
                "the echo from {addr} differs from what was sent at byte {offset}: sent {sent}, \
                 got {got}{}",
                if *tls { " (a TLS record: the server speaks TLS, try --tls)" } else { "" }
            ),
            Error::EchoExtra { addr, offset } => format!(
                "the echo from {addr} goes on past what was sent: byte {offset} onwards was never sent"
            ),
            Error::TraceNotLoopback { addr } => format!(
                "eco trace captures on lo, so it needs a loopback address, not {}: use 127.0.0.1 or ::1",
                addr.ip()
            ),
            Error::Capture { source } => format!("cannot capture on lo: {}", source.text(en)),
            Error::CaptureDenied { reason } => format!(
                "packets were not captured ({reason}): run `sudo eco trace`, or once \
                 `sudo setcap cap_net_raw+ep \"$(command -v eco)\"`"
            ),
            Error::AttachDenied { reason } => format!(
                "cannot watch lo ({reason}): --attach sees other programs' traffic, which needs root or \
                 CAP_NET_RAW: `sudo eco trace --attach ...`, or once `sudo setcap cap_net_raw+ep \"$(command -v eco)\"`. \
                 Without root, run the programs under eco instead: \
                 eco trace --run 'python3 servidor.py' --run 'python3 cliente.py'"
            ),
            Error::RunDenied { reason } => format!(
                "cannot run the commands in a network namespace of their own ({reason}): run \
                 `sudo eco trace --run ...`, or allow user namespaces (sysctl \
                 kernel.unprivileged_userns_clone=1, or user.max_user_namespaces > 0)"
            ),
            Error::LabUnknown { name, known } => {
                format!("there is no lab {name:?}: the labs are {known} (`eco lab` lists them)")
            }
            Error::LabVariant { lab, variant, known } if known.is_empty() => {
                format!("lab {lab} has no variation {variant:?} (it has none): drop --try")
            }
            Error::LabVariant { lab, variant, known } if !known.contains(',') => {
                format!("lab {lab} has no variation {variant:?}: its variation is {known}")
            }
            Error::LabVariant { lab, variant, known } => {
                format!("lab {lab} has no variation {variant:?}: try one of {known}")
            }
            Error::LabOptionWithoutName { option } => {
                format!(
                    "{option} needs a lab: name one, as in `eco lab closing {option} ...` (`eco lab` lists them)"
                )
            }
            Error::LabNeeds { lab, program, package } => format!(
                "lab {lab} needs the program `{program}`, which is not installed: install it (Debian, \
                 Ubuntu: apt install {package}), or try another lab"
            ),
            Error::OutputPath { path, why } => {
                let why = match why {
                    Unwritable::NoDirectory(dir) => format!("there is no directory {}", dir.display()),
                    Unwritable::IsDirectory => "it is a directory".into(),
                    Unwritable::Denied => "you may not write there".into(),
                    Unwritable::Twice(other) => format!("{other} writes to the same file"),
                };
                format!("cannot write {}: {why}: choose another file", path.display())
            }
            Error::LabDenied { reason } => format!(
                "a lab runs in a network namespace of its own, and none could be made ({reason}): allow user \
                 namespaces (sysctl kernel.unprivileged_userns_clone=1, or user.max_user_namespaces > 0)"
            ),
            Error::BadCommand { command } => format!(
                "--run {command:?} is not a command line (an empty one, or a quote left open): quote each \
                 command as for a shell, e.g. --run 'python3 servidor.py'"
            ),
            Error::PcapRead { path, source } => {
                format!("cannot read {} as pcap or pcapng: {}", path.display(), source.text(en))
            }
            Error::WriteFile { path, source } => {
                format!("cannot write {}: {}", path.display(), source.text(en))
            }
            Error::Tls { problem } => format!("TLS: {problem}"),
            Error::TlsHandshake { addr, problem, insecure } => {
                use crate::tls::TlsProblem;
                let hint = match problem {
                    TlsProblem::Untrusted(_) if !insecure => {
                        ": a self-signed server? --pin its fingerprint, --ca FILE, or --insecure"
                    }
                    TlsProblem::NotTls => ": is it a TLS server? (without --tls for a plain one)",
                    TlsProblem::Closed => {
                        ": a plain server, or one that wants a PROXY header first (--proxy-protocol)?"
                    }
                    _ => "",
                };
                format!("the TLS handshake with {addr} failed: {}{hint}", problem.text(en))
            }
            Error::MetricsBind { addr, source } => {
                format!("--metrics {addr} cannot be opened: {}: choose another address", source.text(en))
            }
            Error::NotApplicable { option, setting } => {
                format!("{option} does nothing {}: leave it out", setting.en())
            }
            Error::EngineLoad => "--engine uring runs only the closed-loop ping-pong over plain TCP: leave out \
                 --rate, --bulk, --stream, --connect-rate, --udp, --tls and --proxy-protocol, or use --engine tokio"
                .into(),
            Error::EngineUnavailable { source } => {
                format!("--engine uring: io_uring is not available here ({source}): use --engine tokio")
            }
            Error::DatagramTooLong { len } => format!(
                "a message of {len} bytes does not fit in one UDP datagram: send at most 65507 \
                 bytes with --udp, or use TCP"
            ),
            Error::BenchFailed { errors } => {
                let why = match errors.main_kind() {
                    Failed::Connect => {
                        "connections could not be opened: is the server running, and \
                                        does it take this many connections?"
                    }
                    Failed::Io => "connections were reset or failed: look at the server's log",
                    Failed::Timeout => {
                        "echoes did not come back within --timeout: the server is \
                                        overloaded, stalled, or not an echo"
                    }
                    Failed::Truncated => "the server closed connections in the middle of an echo",
                    Failed::Wrong => "the server, or something between, is not a faithful echo",
                };
                format!("{} echo(es) went wrong (see Errors above): {why}", errors.total())
            }
            Error::BenchSize { size, min, max, of } => match of {
                SizeOf::Message => format!(
                    "a bench message of {size} bytes will not do: use --size from {min} (sequence \
                     number, connection id, checksum) to {max} (for longer streams, --bulk or --stream)"
                ),
                SizeOf::Datagram => format!(
                    "a bench datagram of {size} bytes will not do: use --size from {min} (sequence \
                     number, connection id, checksum) to {max} (what one UDP datagram holds)"
                ),
                SizeOf::StreamWrite => format!(
                    "writes of {size} bytes will not do: with --stream, --size is the size of each \
                     write, from {min} to {max}"
                ),
            },
            Error::Io { doing, source } => {
                let reason = source.text(en);
                match doing {
                    Doing::Bind(addr) => format!("cannot listen on {addr}: {reason}"),
                    Doing::Connect(addr) => format!("cannot connect to {addr}: {reason}"),
                    Doing::Talk(addr) => format!("connection with {addr} failed: {reason}"),
                    Doing::Setup => reason,
                    Doing::Inherited => format!(
                        "the socket passed by systemd (LISTEN_FDS, descriptor 3) is not a listening TCP \
                         socket: {reason}; use ListenStream= in the .socket unit"
                    ),
                }
            }
        }
    }

    fn pt(&self) -> String {
        let pt = Lang::Pt;
        match self {
            Error::BadHost { host } => format!(
                "não foi possível resolver o host '{host}': informe um endereço IP como \
                 127.0.0.1 ou ::1, ou um nome que esta máquina conheça (veja /etc/hosts)"
            ),
            Error::AddrInUse { addr } => format!(
                "o endereço {addr} já está em uso: pare o programa que escuta na porta {port} \
                 (ss -ltnp 'sport = :{port}' mostra qual) ou escolha outra porta com --port",
                port = addr.port()
            ),
            Error::PortNeedsPrivilege { addr } => format!(
                "a porta {} é menor que 1024 e exige root ou CAP_NET_BIND_SERVICE: escolha uma \
                 porta a partir de 1024, por exemplo --port 5050",
                addr.port()
            ),
            Error::AddrNotAvailable { addr } => format!(
                "o endereço {} não pertence a esta máquina: escute em 127.0.0.1, ::1, 0.0.0.0 \
                 ou num endereço de uma de suas interfaces",
                addr.ip()
            ),
            Error::ConnectRefused { addr } => format!(
                "conexão com {addr} recusada: nada escuta ali. O `eco server --host {} --port {}` \
                 está rodando?",
                addr.ip(),
                addr.port()
            ),
            Error::ConnectTimeout { addr, timeout } => format!(
                "nenhuma resposta de {addr} em {} s: confira o endereço e algum firewall no \
                 caminho; --connect-timeout espera mais",
                timeout.as_secs_f64()
            ),
            Error::EchoTimeout { addr, timeout, got, expected } => format!(
                "o eco de {addr} não voltou em {} s ({got} de {expected} bytes): é um servidor \
                 de eco? --timeout espera mais",
                timeout.as_secs_f64()
            ),
            Error::EchoShort { addr, got, expected } => format!(
                "{addr} fechou a conexão depois de ecoar {got} de {expected} bytes: o eco está \
                 incompleto"
            ),
            Error::ClosedEarly { addr, echoed, sent } => format!(
                "{addr} fechou a conexão antes do fim da entrada, depois de ecoar {echoed} dos \
                 {sent} bytes enviados até então: o eco está incompleto (um limite do servidor, \
                 como --max-bytes ou --idle-timeout?)"
            ),
            Error::EchoCut { addr, got, expected, ended, source } => format!(
                "a conexão com {addr} falhou ({}) depois de ecoar {got} de {expected} bytes{}: o eco \
                 está incompleto",
                source.text(pt),
                if *ended { "" } else { " enviados até então" }
            ),
            Error::EchoMismatch { addr, offset, sent, got, tls } => format!(
                "o eco de {addr} difere do que foi enviado no byte {offset}: enviado {sent}, \
                 recebido {got}{}",
                if *tls { " (um registro TLS: o servidor fala TLS, experimente --tls)" } else { "" }
            ),
            Error::EchoExtra { addr, offset } => format!(
                "o eco de {addr} vai além do que foi enviado: do byte {offset} em diante nada foi enviado"
            ),
            Error::TraceNotLoopback { addr } => format!(
                "o eco trace captura em lo, então precisa de um endereço de loopback, não {}: use \
                 127.0.0.1 ou ::1",
                addr.ip()
            ),
            Error::Capture { source } => format!("não foi possível capturar em lo: {}", source.text(pt)),
            Error::CaptureDenied { reason } => format!(
                "os pacotes não foram capturados ({reason}): rode `sudo eco trace`, ou uma vez \
                 `sudo setcap cap_net_raw+ep \"$(command -v eco)\"`"
            ),
            Error::AttachDenied { reason } => format!(
                "não foi possível observar lo ({reason}): --attach vê o tráfego de outros programas, o que exige \
                 root ou CAP_NET_RAW: `sudo eco trace --attach ...`, ou uma vez `sudo setcap cap_net_raw+ep \
                 \"$(command -v eco)\"`. Sem root, rode os programas sob o eco: \
                 eco trace --run 'python3 servidor.py' --run 'python3 cliente.py'"
            ),
            Error::RunDenied { reason } => format!(
                "não foi possível rodar os comandos num namespace de rede próprio ({reason}): rode \
                 `sudo eco trace --run ...`, ou permita namespaces de usuário (sysctl \
                 kernel.unprivileged_userns_clone=1, ou user.max_user_namespaces > 0)"
            ),
            Error::LabUnknown { name, known } => {
                format!("não existe o laboratório {name:?}: os laboratórios são {known} (`eco lab` os lista)")
            }
            Error::LabVariant { lab, variant, known } if known.is_empty() => {
                format!("o laboratório {lab} não tem a variação {variant:?} (não tem nenhuma): tire o --try")
            }
            Error::LabVariant { lab, variant, known } if !known.contains(',') => {
                format!("o laboratório {lab} não tem a variação {variant:?}: a variação dele é {known}")
            }
            Error::LabVariant { lab, variant, known } => {
                format!("o laboratório {lab} não tem a variação {variant:?}: experimente uma de {known}")
            }
            Error::LabOptionWithoutName { option } => format!(
                "{option} precisa de um laboratório: dê o nome, como em `eco lab closing {option} ...` (`eco \
                 lab` os lista)"
            ),
            Error::LabNeeds { lab, program, package } => format!(
                "o laboratório {lab} precisa do programa `{program}`, que não está instalado: instale-o \
                 (Debian, Ubuntu: apt install {package}), ou experimente outro laboratório"
            ),
            Error::OutputPath { path, why } => {
                let why = match why {
                    Unwritable::NoDirectory(dir) => format!("não existe o diretório {}", dir.display()),
                    Unwritable::IsDirectory => "é um diretório".into(),
                    Unwritable::Denied => "você não pode gravar ali".into(),
                    Unwritable::Twice(other) => format!("{other} grava no mesmo arquivo"),
                };
                format!("não é possível gravar {}: {why}: escolha outro arquivo", path.display())
            }
            Error::LabDenied { reason } => format!(
                "um laboratório roda num namespace de rede próprio, e não foi possível criar um ({reason}): \
                 permita namespaces de usuário (sysctl kernel.unprivileged_userns_clone=1, ou \
                 user.max_user_namespaces > 0)"
            ),
            Error::BadCommand { command } => format!(
                "--run {command:?} não é uma linha de comando (vazia, ou com aspas abertas): use aspas como \
                 num shell, por exemplo --run 'python3 servidor.py'"
            ),
            Error::PcapRead { path, source } => {
                format!("não foi possível ler {} como pcap ou pcapng: {}", path.display(), source.text(pt))
            }
            Error::WriteFile { path, source } => {
                format!("não foi possível gravar {}: {}", path.display(), source.text(pt))
            }
            Error::Tls { problem } => format!("TLS: {problem}"),
            Error::TlsHandshake { addr, problem, insecure } => {
                use crate::tls::TlsProblem;
                let hint = match problem {
                    TlsProblem::Untrusted(_) if !insecure => {
                        ": um servidor autoassinado? --pin com a impressão digital, --ca ARQUIVO, ou --insecure"
                    }
                    TlsProblem::NotTls => ": é um servidor TLS? (sem --tls para um comum)",
                    TlsProblem::Closed => {
                        ": um servidor comum, ou um que quer antes um cabeçalho PROXY (--proxy-protocol)?"
                    }
                    _ => "",
                };
                format!("o handshake TLS com {addr} falhou: {}{hint}", problem.text(pt))
            }
            Error::MetricsBind { addr, source } => {
                format!("--metrics {addr} não pode ser aberto: {}: escolha outro endereço", source.text(pt))
            }
            Error::NotApplicable { option, setting } => {
                format!("{option} não faz nada {}: deixe-o de fora", setting.pt())
            }
            Error::EngineLoad => "--engine uring roda só o ping-pong em laço fechado sobre TCP simples: tire \
                 --rate, --bulk, --stream, --connect-rate, --udp, --tls e --proxy-protocol, ou use --engine tokio"
                .into(),
            Error::EngineUnavailable { source } => {
                format!("--engine uring: o io_uring não está disponível aqui ({source}): use --engine tokio")
            }
            Error::DatagramTooLong { len } => format!(
                "uma mensagem de {len} bytes não cabe num datagrama UDP: envie no máximo 65507 \
                 bytes com --udp, ou use TCP"
            ),
            Error::BenchFailed { errors } => {
                let why = match errors.main_kind() {
                    Failed::Connect => {
                        "conexões não puderam ser abertas: o servidor está rodando, \
                                        e aceita tantas conexões?"
                    }
                    Failed::Io => "conexões foram cortadas com RST ou falharam: veja o log do servidor",
                    Failed::Timeout => {
                        "ecos não voltaram dentro de --timeout: o servidor está \
                                        sobrecarregado, travado, ou não é um eco"
                    }
                    Failed::Truncated => "o servidor fechou conexões no meio de um eco",
                    Failed::Wrong => "o servidor, ou algo no caminho, não é um eco fiel",
                };
                format!("{} eco(s) deram errado (veja Erros acima): {why}", errors.total())
            }
            Error::BenchSize { size, min, max, of } => match of {
                SizeOf::Message => format!(
                    "uma mensagem de {size} bytes não serve para o bench: use --size de {min} (número \
                     de sequência, id da conexão, checksum) a {max} (para fluxos maiores, --bulk ou \
                     --stream)"
                ),
                SizeOf::Datagram => format!(
                    "um datagrama de {size} bytes não serve para o bench: use --size de {min} (número \
                     de sequência, id da conexão, checksum) a {max} (o que cabe num datagrama UDP)"
                ),
                SizeOf::StreamWrite => format!(
                    "escritas de {size} bytes não servem: com --stream, --size é o tamanho de cada \
                     escrita, de {min} a {max}"
                ),
            },
            Error::Io { doing, source } => {
                let reason = source.text(pt);
                match doing {
                    Doing::Bind(addr) => format!("não foi possível escutar em {addr}: {reason}"),
                    Doing::Connect(addr) => format!("não foi possível conectar a {addr}: {reason}"),
                    Doing::Talk(addr) => format!("a conexão com {addr} falhou: {reason}"),
                    Doing::Setup => reason,
                    Doing::Inherited => format!(
                        "o socket passado pelo systemd (LISTEN_FDS, descritor 3) não é um socket TCP que \
                         escuta: {reason}; use ListenStream= na unidade .socket"
                    ),
                }
            }
        }
    }
}

/// The kind of bench failure that explains the others best.
pub enum Failed {
    Connect,
    Io,
    Timeout,
    Truncated,
    /// Corrupted or reordered echoes.
    Wrong,
}

/// The usual socket errors in words; anything else as the OS says it.
impl Sentences for io::Error {
    fn en(&self) -> String {
        use io::ErrorKind as K;
        match self.kind() {
            K::ConnectionReset => "the peer reset the connection (RST)".into(),
            K::BrokenPipe => "the peer closed the connection while eco was writing".into(),
            K::ConnectionAborted => "the connection was aborted".into(),
            K::TimedOut => "timed out".into(),
            K::UnexpectedEof => "the peer closed the connection too early".into(),
            // io::ErrorKind is open-ended: the OS's own words for the rest.
            _ => self.to_string(),
        }
    }

    fn pt(&self) -> String {
        use io::ErrorKind as K;
        match self.kind() {
            K::ConnectionReset => "o outro lado reiniciou a conexão (RST)".into(),
            K::BrokenPipe => "o outro lado fechou a conexão enquanto o eco escrevia".into(),
            K::ConnectionAborted => "a conexão foi abortada".into(),
            K::TimedOut => "tempo esgotado".into(),
            K::UnexpectedEof => "o outro lado fechou a conexão cedo demais".into(),
            _ => self.to_string(),
        }
    }
}

/// English, so that `{err}` in logs and tests reads the same everywhere.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.en())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. }
            | Error::Capture { source }
            | Error::PcapRead { source, .. }
            | Error::WriteFile { source, .. }
            | Error::EchoCut { source, .. } => Some(source),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mismatch_shows_both_sides_as_text() {
        let addr: SocketAddr = "127.0.0.1:5050".parse().unwrap();
        let sent = "Olá Servidor, meu nome é Cliente".as_bytes();
        let err = Error::mismatch(addr, sent, b"HTTP/1.1 400 Bad Request\r\n\r\n", 0);
        assert_eq!(
            err.to_string(),
            "the echo from 127.0.0.1:5050 differs from what was sent at byte 0: sent \
             \"Olá Servidor, meu nome é Clien…\", got \"HTTP/1.1 400 Bad Request\\r\\n\\r\\n\""
        );
        let err = Error::mismatch(addr, &[b'a'; 100], &[b'a'; 100][..50], 40);
        assert!(err.to_string().contains("sent \"…aaaaaaaa"), "{err}");
    }
}
