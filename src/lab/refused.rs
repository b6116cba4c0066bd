//! refused-vs-timeout: two ways a connect() fails. Nothing listening on
//! the port: the server's kernel answers the SYN with RST at once, and
//! connect() fails with "Connection refused" in well under a millisecond.
//! A firewall that drops the SYN (an nftables rule in the lab's own
//! namespace): nobody answers, the client's kernel sends the SYN again
//! after 1 s, then 2 s later (the timeout doubles each time), and
//! connect() fails with "Connection timed out" after the last wait.

use std::io;

use nix::errno::Errno;

use super::{Point, Role, Run, gap, has, ms, net, said};
use crate::trace::packet::{ACK, RST, SYN};
use crate::trace::syscalls::Op;

pub struct Lab;

/// The port the firewall drops.
const DROPPED: u16 = super::PORT + 1;
/// SYNs sent again before connect() gives up: waits of 1 s, 2 s, then
/// 4 s for an answer to the last.
const RETRIES: u32 = 2;

impl super::Lab for Lab {
    fn name(&self) -> &'static str {
        "refused-vs-timeout"
    }

    fn title(&self) -> super::Said {
        said!(
            "\"Connection refused\" (RST at once) vs a firewall that drops (SYN again after 1 s, 2 s...)",
            "\"Connection refused\" (RST na hora) vs um firewall que descarta (SYN de novo após 1 s, 2 s...)"
        )
    }

    fn variants(&self) -> Vec<(&'static str, super::Said)> {
        vec![(
            "linear",
            said!(
                "the kernel's own SYN timers: since Linux 6.5 the first retries come 1 s apart \
                 (net.ipv4.tcp_syn_linear_timeouts), then they double",
                "os temporizadores de SYN do próprio kernel: desde o Linux 6.5 as primeiras \
                 retransmissões vêm a 1 s uma da outra (net.ipv4.tcp_syn_linear_timeouts), depois dobram"
            ),
        )]
    }

    fn firewall(&self) -> bool {
        true
    }

    fn roles(&self, _variant: Option<&str>) -> Vec<Role> {
        vec![Role::CLIENT]
    }

    fn setup(&self, variant: Option<&str>) -> io::Result<()> {
        // The textbook's exponential back-off from the first retry (the
        // setting is absent before Linux 6.5, where that is the rule).
        if variant != Some("linear")
            && std::path::Path::new("/proc/sys/net/ipv4/tcp_syn_linear_timeouts").exists()
        {
            net::sysctl("net/ipv4/tcp_syn_linear_timeouts", "0")?;
        }
        // How many times a SYN is sent again before connect() gives up
        // (the system's default, 6, would take two minutes).
        net::sysctl("net/ipv4/tcp_syn_retries", &RETRIES.to_string())?;
        // A firewall that drops what comes to port 5051, without a word.
        net::firewall(&[&format!("tcp dport {DROPPED} drop")])
    }

    fn act(&self, _role: &str, _variant: Option<&str>) -> io::Result<()> {
        // Nothing listens on 5050: connect() fails at once.
        match net::connect() {
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
            other => return Err(io::Error::other(format!("port 5050: expected a refusal, got {other:?}"))),
        }
        // 5051 is behind the firewall: connect() waits, and the kernel
        // sends the SYN again, and again.
        match net::connect_with(DROPPED, |_| Ok(())) {
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Ok(()),
            other => Err(io::Error::other(format!("port {DROPPED}: expected a timeout, got {other:?}"))),
        }
    }

    fn explain(&self, run: &Run, variant: Option<&str>) -> Vec<Point> {
        let tcp: Vec<_> = run.tcp().collect();
        let to =
            |port: u16| tcp.iter().filter(move |(_, t)| t.seg.dst.port() == port || t.seg.src.port() == port);
        // Refused: the SYN and the RST, ACK that answers it.
        let refused: Vec<_> = to(super::PORT).collect();
        let (syn, rst) = (refused.first(), refused.get(1));
        let answered = syn.is_some_and(|(_, t)| has(t, SYN))
            && rst.is_some_and(|(_, t)| has(t, RST) && has(t, ACK))
            && refused.len() == 2;
        let (s, r) = (syn.map_or(0, |(r, _)| r.no), rst.map_or(0, |(r, _)| r.no));
        let took = match (syn, rst) {
            (Some((a, _)), Some((b, _))) => gap(a, b),
            _ => Default::default(),
        };
        let took = ms(took);
        let errors: Vec<Errno> = run
            .calls_of("client")
            .iter()
            .filter(|c| matches!(c.op, Op::Connect(_)))
            .filter_map(|c| c.result.err())
            .collect();
        // Dropped: the SYN, sent again and again, never answered.
        let syns: Vec<_> = to(DROPPED).collect();
        let all_syns = syns.iter().all(|(_, t)| has(t, SYN) && !has(t, ACK));
        let gaps: Vec<f64> = syns.windows(2).map(|w| gap(w[0].0, w[1].0).as_secs_f64()).collect();
        let frames: Vec<String> = syns.iter().map(|(r, _)| r.no.to_string()).collect();
        let frames = frames.join(", ");
        let spacing: Vec<String> = gaps.iter().map(|g| format!("{g:.1} s")).collect();
        let spacing = spacing.join(", ");
        let spacing_pt = spacing.replace('.', ",");
        let doubling = gaps.len() == RETRIES as usize
            && gaps.windows(2).all(|w| (1.7..2.3).contains(&(w[1] / w[0])))
            && gaps.first().is_some_and(|g| (0.9..1.3).contains(g));
        let linear = gaps.len() > RETRIES as usize && gaps.iter().all(|g| (0.9..1.3).contains(g));
        let n = syns.len();
        let mut points = vec![
            Point::new(
                answered && errors.first() == Some(&Errno::ECONNREFUSED),
                said!(
                    "Port 5050, where nothing listens: frame {s} is the SYN, frame {r} the answer of the \
                     server's kernel, RST, ACK, {took} later. connect() failed with ECONNREFUSED \
                     (\"Connection refused\"): a machine is there, and says no.",
                    "Porta 5050, onde nada escuta: o quadro {s} é o SYN, o quadro {r} a resposta do \
                     kernel do servidor, RST, ACK, {took} depois. O connect() falhou com ECONNREFUSED \
                     (\"Connection refused\"): há uma máquina lá, e ela diz não."
                ),
            ),
            Point::new(
                n > RETRIES as usize && all_syns && errors.get(1) == Some(&Errno::ETIMEDOUT),
                said!(
                    "Port {DROPPED}, behind a firewall that drops: frames {frames} are the same SYN, \
                     {n} times, and nothing ever answers. connect() failed with ETIMEDOUT (\"Connection \
                     timed out\") after the last wait: from the client, a dropped packet and a machine \
                     that is off look the same.",
                    "Porta {DROPPED}, atrás de um firewall que descarta: os quadros {frames} são o mesmo \
                     SYN, {n} vezes, e nada responde. O connect() falhou com ETIMEDOUT (\"Connection \
                     timed out\") depois da última espera: do cliente, um pacote descartado e uma \
                     máquina desligada parecem iguais."
                ),
            ),
        ];
        if variant == Some("linear") {
            points.push(Point::new(
                linear,
                said!(
                    "The SYNs came {spacing} apart: Linux sends its first SYN retries 1 s apart \
                     (tcp_syn_linear_timeouts, 4 by default), and only then doubles the wait. And {n} \
                     SYNs, not {RETRIES} + 1: tcp_syn_retries={RETRIES} is a time budget (1 + 2 + 4 s, as \
                     if the waits doubled), and 1 s waits fit more SYNs in it.",
                    "Os SYNs vieram com {spacing_pt} de intervalo: o Linux manda as primeiras \
                     retransmissões de SYN a 1 s uma da outra (tcp_syn_linear_timeouts, 4 por padrão), e \
                     só então dobra a espera. E {n} SYNs, não {RETRIES} + 1: tcp_syn_retries={RETRIES} é \
                     um orçamento de tempo (1 + 2 + 4 s, como se as esperas dobrassem), e esperas de 1 s \
                     cabem mais SYNs nele."
                ),
            ));
        } else {
            points.push(Point::new(
                doubling,
                said!(
                    "The SYNs came {spacing} apart: each wait twice the one before (exponential \
                     back-off), so a lost SYN costs 1 s, then 3 s, then 7 s... (Linux 6.5 and later \
                     start with a few 1 s waits: see --try linear.)",
                    "Os SYNs vieram com {spacing_pt} de intervalo: cada espera o dobro da anterior (recuo \
                     exponencial), então um SYN perdido custa 1 s, depois 3 s, depois 7 s... (O Linux \
                     6.5 em diante começa com algumas esperas de 1 s: veja --try linear.)"
                ),
            ));
        }
        points
    }
}
