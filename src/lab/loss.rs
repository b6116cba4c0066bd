//! loss: what TCP does when a segment never arrives. The lab's firewall
//! (nft, in the lab's own namespace) drops a segment of a burst and, later,
//! a message sent alone — each once: their retransmissions pass. In the
//! burst, the segments after the hole do reach the server, whose
//! kernel answers each with a duplicate ACK (the same Ack: the first byte
//! still missing) and SACK blocks (what did arrive past it): the client
//! learns at once, and resends only the missing segment, well under a
//! millisecond later. The message sent alone has nothing behind it, so no
//! ACK tells the client anything: it waits for a timer, at least 200 ms
//! on Linux.
//!
//! Two settings make loopback show this as a real network would. Its MSS
//! is 65483 (its MTU is 64 KB), so the client asks for 1000 with
//! TCP_MAXSEG; and the lab turns off `lo`'s segmentation offload, without
//! which the kernel hands loopback the burst as a few segments of several
//! MSS each (two of 4940 bytes), as no real network would carry it.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::time::Duration;

use super::{Point, Role, Run, frames, gap, has, ms, net, pt, said, short};
use crate::trace::flow::{Row, TcpRow};
use crate::trace::packet::{SYN, TcpOpt};
use crate::trace::syscalls::Op;

pub struct Lab;

/// The client's TCP_MAXSEG: the MSS its SYN announces, and the largest
/// segment it sends (less the 12 bytes of the timestamp option).
const MAXSEG: u32 = 1000;
/// Segments in the burst, and the one the firewall drops (from 0: the 3rd).
const BURST: usize = 10;
const HOLE: usize = 2;
/// The message sent alone, at the end.
const LAST: usize = 100;
/// What the dropped segments start with: the firewall looks for these 4
/// bytes at the start of the TCP payload.
const HOLE_MARK: &[u8; 4] = b"LOST";
const LAST_MARK: &[u8; 4] = b"LAST";

/// Two nft rules that drop the first segment to the server whose payload
/// starts with `mark`, and let the next ones (its retransmissions) pass.
/// A quota counts the bytes of the packets that reach it: below `quota`
/// (the first packet, shorter than `quota`) the rule does not match and
/// the next one drops it; from the second packet on (twice as many bytes,
/// more than `quota`) it matches, and accepts.
fn drop_once(mark: &[u8; 4], quota: u32) -> [String; 2] {
    let (port, mark) = (super::PORT, u32::from_be_bytes(*mark));
    [
        format!("tcp dport {port} @ih,0,32 {mark:#010x} quota over {quota} bytes accept"),
        format!("tcp dport {port} @ih,0,32 {mark:#010x} drop"),
    ]
}

impl super::Lab for Lab {
    fn name(&self) -> &'static str {
        "loss"
    }

    fn title(&self) -> super::Said {
        said!(
            "a lost segment: duplicate ACKs, SACK and fast retransmission; alone, the 200 ms timer",
            "um segmento perdido: ACKs duplicados, SACK e retransmissão rápida; sozinho, o \
             temporizador de 200 ms"
        )
    }

    fn variants(&self) -> Vec<(&'static str, super::Said)> {
        vec![
            (
                "no-sack",
                said!(
                    "SACK off (net.ipv4.tcp_sack=0): the duplicate ACKs only say where the hole \
                     starts, Linux counts them (three mean a loss), and the last message waits for \
                     the retransmission timeout itself",
                    "SACK desligado (net.ipv4.tcp_sack=0): os ACKs duplicados só dizem onde começa \
                     o buraco, o Linux os conta (três indicam uma perda), e a última mensagem \
                     espera o próprio timeout de retransmissão"
                ),
            ),
            (
                "one-by-one",
                said!(
                    "the client sends its 10 segments with 10 send() calls (TCP_NODELAY): Linux \
                     resends after the first SACK, not after three duplicate ACKs",
                    "o cliente envia seus 10 segmentos com 10 chamadas send() (TCP_NODELAY): o \
                     Linux reenvia após o primeiro SACK, não após três ACKs duplicados"
                ),
            ),
        ]
    }

    fn firewall(&self) -> bool {
        true
    }

    fn roles(&self, _variant: Option<&str>) -> Vec<Role> {
        vec![Role::SERVER, Role::CLIENT]
    }

    fn setup(&self, variant: Option<&str>) -> io::Result<()> {
        if variant == Some("no-sack") {
            // Neither SYN offers SACK_PERM: no SACK blocks on this connection.
            net::sysctl("net/ipv4/tcp_sack", "0")?;
        }
        // Segments cut to the MSS before the capture, as on a real network.
        net::loopback_tso(false)?;
        // A burst segment is about 1040 bytes of IP packet, the last
        // message about 150: each quota lies between one packet and two.
        let mut rules = Vec::from(drop_once(HOLE_MARK, 1500));
        rules.extend(drop_once(LAST_MARK, 200));
        net::firewall(&rules.iter().map(String::as_str).collect::<Vec<_>>())
    }

    fn act(&self, role: &str, variant: Option<&str>) -> io::Result<()> {
        if role == "server" {
            let listener = net::listen(1)?;
            let (mut conn, _) = listener.accept()?;
            // The burst: its length (4 bytes), then the rest of it. Data
            // past a hole waits in the kernel: recv() returns only bytes
            // in order, once the hole is filled.
            let mut len = [0u8; 4];
            conn.read_exact(&mut len)?;
            let mut burst = vec![0u8; u32::from_be_bytes(len) as usize];
            conn.read_exact(&mut burst)?;
            conn.write_all(b"ok")?;
            // The last message, echoed.
            let mut last = [0u8; LAST];
            conn.read_exact(&mut last)?;
            conn.write_all(&last)?;
            // Until the client's FIN.
            while conn.read(&mut burst)? > 0 {}
            return Ok(());
        }
        // TCP_MAXSEG before connect(): the SYN announces MSS=1000, and the
        // client sends no segment larger than that.
        let mut stream = net::connect_with(super::PORT, |s| s.set_tcp_mss(MAXSEG))?;
        // What one segment carries (the MSS less the timestamp option).
        let mss = socket2::SockRef::from(&stream).tcp_mss()? as usize;
        let mut burst = vec![b'.'; BURST * mss];
        burst[..4].copy_from_slice(&(BURST as u32 * mss as u32 - 4).to_be_bytes());
        burst[HOLE * mss..HOLE * mss + 4].copy_from_slice(HOLE_MARK);
        if variant == Some("one-by-one") {
            // Each send() leaves at once, and the client's kernel reads
            // each ACK before the next send().
            stream.set_nodelay(true)?;
            for segment in burst.chunks(mss) {
                stream.write_all(segment)?;
            }
        } else {
            // One send(): the kernel cuts it into 10 segments and sends
            // them in one go; the server's ACKs that come back meanwhile
            // are handled once the send() is done. As on a real network,
            // where the whole burst leaves before the first ACK is back.
            stream.write_all(&burst)?;
        }
        // The server's "ok": the burst arrived, all of it.
        let mut ok = [0u8; 2];
        stream.read_exact(&mut ok)?;
        // The last message, alone: nothing is sent after it until its echo.
        let mut last = [b'.'; LAST];
        last[..4].copy_from_slice(LAST_MARK);
        stream.write_all(&last)?;
        stream.read_exact(&mut last)?;
        drop(stream);
        Ok(())
    }

    fn explain(&self, run: &Run, variant: Option<&str>) -> Vec<Point> {
        let facts = Facts::of(run);
        let mut points = vec![burst_point(&facts, variant), hole_point(&facts)];
        points.extend(match variant {
            Some("one-by-one") => one_by_one_points(&facts),
            Some("no-sack") => dup_ack_points(&facts, false),
            _ => dup_ack_points(&facts, true),
        });
        points.extend(alone_points(run, &facts));
        points
    }
}

type Seg<'a> = (&'a Row, &'a TcpRow);

/// What the narration reads from the run.
struct Facts<'a> {
    /// The data the client sent for the first time, in order.
    new: Vec<Seg<'a>>,
    /// The client's segments that repeat bytes it had sent.
    resent: Vec<Seg<'a>>,
    /// The server's segments without data: its ACKs.
    acks: Vec<Seg<'a>>,
    /// The bytes one burst segment carries.
    mss: u32,
    /// The burst as it left: the first segments, of `mss` bytes each.
    burst: Vec<Seg<'a>>,
    /// The burst's segment that was sent again, and its first resend.
    hole: Option<(Seg<'a>, Seg<'a>)>,
    /// The last message, and its first resend.
    alone: Option<(Seg<'a>, Option<Seg<'a>>)>,
    /// The sizes the client's send() calls offered.
    sends: Vec<u64>,
    /// Whether both SYNs offered SACK.
    sack_ok: bool,
}

impl<'a> Facts<'a> {
    fn of(run: &Run<'a>) -> Facts<'a> {
        let mut seen = HashSet::new();
        let (mut new, mut resent) = (Vec::new(), Vec::new());
        for (row, tcp) in run.sent_by("client") {
            if tcp.seg.payload_len() == 0 {
                continue;
            }
            if seen.insert(tcp.seq) {
                new.push((row, tcp));
            } else {
                resent.push((row, tcp));
            }
        }
        let acks = run.sent_by("server").into_iter().filter(|(_, t)| t.seg.payload_len() == 0).collect();
        let mss = new.first().map_or(0, |(_, t)| t.seg.payload_len());
        let burst: Vec<Seg> =
            new.iter().take(BURST).copied().filter(|(_, t)| t.seg.payload_len() == mss).collect();
        let again = |seg: &Seg<'a>| resent.iter().find(|(_, t)| t.seq == seg.1.seq).copied();
        let hole = burst.iter().find_map(|seg| again(seg).map(|r| (*seg, r)));
        let alone =
            new.iter().find(|(_, t)| t.seg.payload_len() as usize == LAST).map(|seg| (*seg, again(seg)));
        let sends = run
            .calls_of("client")
            .iter()
            .filter_map(|c| match c.op {
                Op::Send { len, .. } => Some(len),
                _ => None,
            })
            .collect();
        let syns: Vec<_> = run.tcp().filter(|(_, t)| has(t, SYN)).collect();
        let sack_ok = syns.len() >= 2
            && syns.iter().all(|(_, t)| t.seg.options.iter().any(|o| matches!(o, TcpOpt::SackPerm)));
        Facts { new, resent, acks, mss, burst, hole, alone, sends, sack_ok }
    }

    /// The hole's frame and relative sequence number, and its resend's frame.
    fn hole_numbers(&self) -> (usize, u32, usize) {
        self.hole.map_or((0, 0, 0), |((r, t), (a, _))| (r.no, t.seq, a.no))
    }

    /// The duplicate ACKs: the server's ACKs of the hole's first byte sent
    /// after the one that first asked for it, before the hole was resent.
    fn dup_acks(&self) -> Vec<Seg<'a>> {
        let (lost, seq, again) = self.hole_numbers();
        let asked: Vec<Seg> =
            self.acks.iter().filter(|(r, t)| r.no < again && t.ack == Some(seq)).copied().collect();
        asked.into_iter().skip(1).filter(|(r, _)| r.no > lost).collect()
    }

    /// The end of the burst, as a relative sequence number.
    fn burst_end(&self) -> u32 {
        self.burst.last().map_or(0, |(_, t)| t.seq + t.seg.payload_len())
    }

    /// Time from the hole's first try to its resend.
    fn resend_gap(&self) -> Option<Duration> {
        self.hole.map(|((r, _), (a, _))| gap(r, a))
    }

    /// The server's first ACK after the resend: its frame, and whether it
    /// covers what the client had sent by then (the segments past the
    /// hole were kept). Only the hole was resent.
    fn filled(&self) -> (usize, u32, bool) {
        let (_, _, again) = self.hole_numbers();
        let sent = self
            .new
            .iter()
            .filter(|(r, _)| r.no < again)
            .map(|(_, t)| t.seq + t.seg.payload_len())
            .max()
            .unwrap_or(0);
        let next = self.acks.iter().find(|(r, _)| r.no > again);
        let end = self.burst_end();
        let once = self.resent.iter().filter(|(_, t)| t.seq < end).count() == 1;
        (next.map_or(0, |(r, _)| r.no), sent, once && next.is_some_and(|(_, t)| t.ack == Some(sent)))
    }
}

/// SACK blocks as the Info column writes them: `SLE=2965 SRE=9881`.
fn blocks(tcp: &TcpRow) -> String {
    tcp.sack.iter().map(|(l, r)| format!("SLE={l} SRE={r}")).collect::<Vec<_>>().join(" ")
}

/// Wireshark's tag on a resend, as the table shows it.
fn tag(tcp: &TcpRow) -> &'static str {
    let tags = &tcp.tags;
    if tags.fast {
        "[TCP Fast Retransmission]"
    } else if tags.out_of_order {
        "[TCP Out-Of-Order]"
    } else if tags.spurious {
        "[TCP Spurious Retransmission]"
    } else {
        "[TCP Retransmission]"
    }
}

fn burst_point(f: &Facts, variant: Option<&str>) -> Point {
    let (mss, count) = (f.mss, f.burst.len());
    let total = count as u32 * mss;
    let first = f.burst.first().map_or(0, |(r, _)| r.no);
    let last = f.burst.last().map_or(0, |(r, _)| r.no);
    let whole = count == BURST && mss > 0 && mss <= MAXSEG;
    if variant == Some("one-by-one") {
        let calls = f.sends.iter().filter(|&&len| len == u64::from(mss)).count();
        return Point::new(
            whole && calls >= BURST,
            said!(
                "Frames {first}–{last}: {count} send() calls of {mss} bytes, one segment each \
                 (TCP_NODELAY: each leaves at once). {mss} bytes: the client's TCP_MAXSEG of \
                 {MAXSEG}, less the 12 bytes of the timestamp option.",
                "Quadros {first}–{last}: {count} chamadas send() de {mss} bytes, um segmento cada \
                 (TCP_NODELAY: cada um sai na hora). {mss} bytes: o TCP_MAXSEG de {MAXSEG} do \
                 cliente, menos os 12 bytes da opção de timestamp."
            ),
        );
    }
    Point::new(
        whole && f.sends.contains(&u64::from(total)),
        said!(
            "Frames {first}–{last}: one send() of {total} bytes left as {count} segments of {mss} \
             bytes: the client's TCP_MAXSEG of {MAXSEG}, less the 12 bytes of the timestamp option. \
             (The lab turned off lo's segmentation offload, as `ethtool -K lo tso off` does: with \
             it on, loopback carries them as a few segments of several MSS each.)",
            "Quadros {first}–{last}: um send() de {total} bytes saiu como {count} segmentos de \
             {mss} bytes: o TCP_MAXSEG de {MAXSEG} do cliente, menos os 12 bytes da opção de \
             timestamp. (O laboratório desligou o offload de segmentação (TSO) do lo, como faz \
             `ethtool -K lo tso off`: ligado, o loopback os leva em poucos segmentos de vários MSS \
             cada.)"
        ),
    )
}

fn hole_point(f: &Facts) -> Point {
    let (lost, seq, again) = f.hole_numbers();
    let after = f.burst.len().saturating_sub(HOLE + 1);
    // The burst's segment the lab dropped, and nothing acknowledged it
    // before it was sent again.
    let dropped = f.burst.get(HOLE).is_some_and(|(r, _)| r.no == lost)
        && !f.acks.iter().any(|(r, t)| r.no > lost && r.no < again && t.ack.is_some_and(|a| a > seq));
    Point::new(
        dropped,
        said!(
            "Frame {lost} (Seq={seq}) never reached the server: the lab's firewall (nft, in the \
             lab's network namespace) dropped it after the capture saw it. The {after} segments \
             after it did arrive.",
            "O quadro {lost} (Seq={seq}) nunca chegou ao servidor: o firewall do laboratório (nft, \
             no namespace de rede do laboratório) o descartou depois que a captura o viu. Os \
             {after} segmentos depois dele chegaram."
        ),
    )
}

/// The single-send() burst: duplicate ACKs (with SACK blocks, or without),
/// the fast retransmission, one ACK for all.
fn dup_ack_points(f: &Facts, sack: bool) -> Vec<Point> {
    let dups = f.dup_acks();
    let (n, list) = (dups.len(), frames(&dups));
    let (_, hole, again) = f.hole_numbers();
    let tagged = dups.iter().filter(|(_, t)| t.tags.dup_ack.is_some()).count();
    let updates = n - tagged;
    let aside = if tagged < n {
        let (those_en, those_pt) = if updates == 1 {
            ("the one whose window changed", "o que teve a janela mudada")
        } else {
            ("the others, whose window changed,", "os outros, cuja janela mudou,")
        };
        said!(
            " (Wireshark tags {tagged} of them [TCP Dup ACK], and {those_en} [TCP Window Update])",
            " (o Wireshark marca {tagged} deles como [TCP Dup ACK], e {those_pt} como [TCP Window Update])"
        )
    } else {
        said!("", "")
    };
    let (aside_en, aside_pt) = (aside.en, aside.pt);
    let last_blocks = dups.last().map_or(String::new(), |(_, t)| blocks(t));
    let fast = f.hole.is_some_and(|(_, (_, t))| t.tags.fast);
    let took_time = f.resend_gap().unwrap_or(Duration::MAX);
    let took = short(took_time);
    let took_pt = pt(&took);
    let (next, end, filled) = f.filled();
    let mut points = Vec::new();
    if sack {
        points.push(Point::new(
            f.sack_ok && n >= 3 && dups.iter().all(|(_, t)| !t.sack.is_empty()),
            said!(
                "The server's kernel answered each segment past the hole at once, each time with \
                 Ack={hole}: the first byte it still misses. Frames {list} are these {n} duplicate \
                 ACKs{aside_en}. Each has a SACK block (selective ACK, agreed on by SACK_PERM in \
                 both SYNs) telling what did arrive past the hole: the last one, {last_blocks}, \
                 all of it.",
                "O kernel do servidor respondeu na hora a cada segmento depois do buraco, sempre \
                 com Ack={hole}: o primeiro byte que ainda lhe falta. Os quadros {list} são esses \
                 {n} ACKs duplicados{aside_pt}. Cada um traz um bloco SACK (ACK seletivo, \
                 combinado pelo SACK_PERM nos dois SYNs) dizendo o que chegou depois do buraco: o \
                 último, {last_blocks}, tudo."
            ),
        ));
        points.push(Point::new(
            fast && took_time < Duration::from_millis(50)
                && net::tcp_counter("TCPSackRecovery").unwrap_or(0) > 0,
            said!(
                "Frame {again} [TCP Fast Retransmission]: the client resent just the missing \
                 segment, {took} after the first try, without waiting for its 200 ms timer. Linux \
                 decides with RACK (RFC 8985): a segment is lost once one sent after it is SACKed \
                 and, in case the network merely reordered them, a quarter of the shortest round \
                 trip has passed — no waiting once three are SACKed. (The textbook rule: three \
                 duplicate ACKs.)",
                "Quadro {again} [TCP Fast Retransmission]: o cliente reenviou só o segmento que \
                 faltava, {took_pt} depois da primeira tentativa, sem esperar o seu temporizador de \
                 200 ms. O Linux decide com o RACK (RFC 8985): um segmento está perdido quando um \
                 enviado depois dele recebe SACK e, para o caso de a rede só os ter reordenado, já \
                 passou um quarto da menor ida e volta — sem essa espera quando três já receberam \
                 SACK. (A regra dos livros: três ACKs duplicados.)"
            ),
        ));
    } else {
        points.push(Point::new(
            !f.sack_ok && n >= 3 && dups.iter().all(|(_, t)| t.sack.is_empty()),
            said!(
                "The server's kernel answered each segment past the hole at once, each time with \
                 Ack={hole}: frames {list} are these {n} duplicate ACKs{aside_en}. Without SACK \
                 (no SACK_PERM in the SYNs), that is all they say: a byte is missing at {hole}. \
                 Not what arrived after it.",
                "O kernel do servidor respondeu na hora a cada segmento depois do buraco, sempre \
                 com Ack={hole}: os quadros {list} são esses {n} ACKs duplicados{aside_pt}. Sem \
                 SACK (nenhum SACK_PERM nos SYNs), é só isso que dizem: falta um byte em {hole}. \
                 Não o que chegou depois dele."
            ),
        ));
        points.push(Point::new(
            fast && took_time < Duration::from_millis(50)
                && net::tcp_counter("TCPRenoRecovery").unwrap_or(0) > 0,
            said!(
                "Frame {again} [TCP Fast Retransmission]: the client resent the segment at the \
                 hole, {took} after the first try, without waiting for its 200 ms timer. Without \
                 SACK, Linux goes by the textbook rule: three duplicate ACKs mean a loss \
                 (NewReno, RFC 6582; nstat counts it as TcpExtTCPRenoRecovery). It came only after all \
                 of them here: the client's kernel was still in its send() call, and reads the ACKs \
                 that arrived meanwhile once it returns.",
                "Quadro {again} [TCP Fast Retransmission]: o cliente reenviou o segmento do \
                 buraco, {took_pt} depois da primeira tentativa, sem esperar o seu temporizador de \
                 200 ms. Sem SACK, o Linux segue a regra dos livros: três ACKs duplicados indicam \
                 uma perda (NewReno, RFC 6582; o nstat a conta como TcpExtTCPRenoRecovery). Aqui ela \
                 só veio depois de todos eles: o kernel do cliente ainda estava na chamada send(), e lê \
                 os ACKs que chegaram nesse meio-tempo quando ela retorna."
            ),
        ));
    }
    points.push(Point::new(
        filled,
        said!(
            "Frame {next}: one ACK (Ack={end}) covers the whole burst. The server had kept the \
             segments past the hole; they were not sent again.",
            "Quadro {next}: um só ACK (Ack={end}) cobre a rajada inteira. O servidor tinha \
             guardado os segmentos depois do buraco; eles não foram enviados de novo."
        ),
    ));
    points
}

/// Ten send() calls: the client's kernel reads each ACK before the next
/// segment leaves, and RACK needs no three duplicate ACKs.
fn one_by_one_points(f: &Facts) -> Vec<Point> {
    let dups = f.dup_acks();
    let n = dups.len();
    let (first, blocks) = dups.first().map_or((0, String::new()), |(r, t)| (r.no, blocks(t)));
    let (_, hole, again) = f.hole_numbers();
    let took_time = f.resend_gap().unwrap_or(Duration::MAX);
    let took = short(took_time);
    let took_pt = pt(&took);
    let label = f.hole.map_or("", |(_, (_, t))| tag(t));
    let after = if n == 1 {
        said!("a single duplicate ACK", "um único ACK duplicado")
    } else {
        said!("{n} duplicate ACKs", "{n} ACKs duplicados")
    };
    let (after_en, after_pt) = (after.en, after.pt);
    let why = if label == "[TCP Out-Of-Order]" {
        said!(
            " Wireshark, which knows nothing of RACK, tags it {label}: it came too soon after the \
             newest segment to look like a retransmission.",
            " O Wireshark, que não conhece o RACK, o marca como {label}: ele veio cedo demais \
             depois do segmento mais novo para parecer uma retransmissão."
        )
    } else {
        said!(" Wireshark tags it {label}.", " O Wireshark o marca como {label}.")
    };
    let (why_en, why_pt) = (why.en, why.pt);
    let (next, end, filled) = f.filled();
    vec![
        Point::new(
            f.sack_ok && (1..3).contains(&n) && dups.iter().all(|(_, t)| !t.sack.is_empty()),
            said!(
                "Frame {first}: the server's ACK of the segment after the hole repeats Ack={hole}, \
                 the first byte it still misses, with a SACK block ({blocks}): what did arrive \
                 past the hole.",
                "Quadro {first}: o ACK do servidor para o segmento depois do buraco repete \
                 Ack={hole}, o primeiro byte que ainda lhe falta, com um bloco SACK ({blocks}): o \
                 que chegou depois do buraco."
            ),
        ),
        Point::new(
            took_time < Duration::from_millis(50) && (1..3).contains(&n),
            said!(
                "Frame {again}: the client resent the missing segment {took} after the first try, \
                 after {after_en}, not three. Linux's RACK (RFC 8985) goes by time, not by count: \
                 a segment sent after it was SACKed, and more than a quarter of the shortest \
                 round trip (microseconds on loopback) had passed since it left, so it was \
                 lost.{why_en}",
                "Quadro {again}: o cliente reenviou o segmento que faltava {took_pt} depois da \
                 primeira tentativa, após {after_pt}, não três. O RACK do Linux (RFC 8985) se \
                 guia pelo tempo, não pela contagem: um segmento enviado depois dele recebeu SACK, \
                 e já tinha passado mais de um quarto da menor ida e volta (microssegundos no \
                 loopback) desde que ele saiu, então estava perdido.{why_pt}"
            ),
        ),
        Point::new(
            filled,
            said!(
                "Frame {next}: Ack={end}: the hole is filled, and the segment the server had kept \
                 past it is acknowledged with it.",
                "Quadro {next}: Ack={end}: o buraco foi preenchido, e o segmento que o servidor \
                 tinha guardado depois dele é confirmado junto."
            ),
        ),
    ]
}

/// The last message: nothing after it, so no duplicate ACK; a timer.
fn alone_points(run: &Run, f: &Facts) -> Vec<Point> {
    let Some(((lost, lt), again)) = f.alone else {
        return vec![Point::new(
            false,
            said!(
                "The client's last message ({LAST} bytes) left in a segment of its own.",
                "A última mensagem do cliente ({LAST} bytes) saiu num segmento só seu."
            ),
        )];
    };
    let (l, a) = (lost.no, again.map_or(0, |(r, _)| r.no));
    let waited = again.map_or(Duration::ZERO, |(r, _)| gap(lost, r));
    let took = ms(waited);
    let took_pt = pt(&took);
    let tagged = again.is_some_and(|(_, t)| t.tags.retransmission && t.seq == lt.seq);
    // Nothing came back from the server in between: no ACK to go by.
    let silent = !run.sent_by("server").iter().any(|(r, _)| r.no > l && r.no < a);
    let probes = net::tcp_counter("TCPLossProbes").unwrap_or(0);
    let timeouts = net::tcp_counter("TCPTimeouts").unwrap_or(0);
    let why = if probes > 0 && timeouts == 0 {
        said!(
            "The kernel's counters (nstat) say which timer it was: TcpExtTCPLossProbes, Linux's \
             tail loss probe (RACK-TLP, RFC 8985), not the retransmission timeout (RTO) itself. \
             With one segment in flight the probe waits two round trips plus 200 ms, but never \
             longer than the RTO, whose minimum on Linux is 200 ms.",
            "Os contadores do kernel (nstat) dizem qual temporizador foi: TcpExtTCPLossProbes, o \
             tail loss probe do Linux (a sonda de perda no fim do envio, RACK-TLP, RFC 8985), \
             não o próprio timeout de retransmissão (RTO). Com um só segmento em trânsito, a sonda \
             espera duas idas e voltas mais 200 ms, mas nunca mais que o RTO, cujo mínimo no \
             Linux é 200 ms."
        )
    } else {
        said!(
            "The kernel's counters (nstat) say which timer it was: TcpExtTCPTimeouts, the \
             retransmission timeout (RTO), at least 200 ms on Linux.",
            "Os contadores do kernel (nstat) dizem qual temporizador foi: TcpExtTCPTimeouts, o \
             timeout de retransmissão (RTO), de pelo menos 200 ms no Linux."
        )
    };
    let (why_en, why_pt) = (why.en, why.pt);
    let echo = run
        .sent_by("server")
        .into_iter()
        .find(|(r, t)| r.no > a && t.seg.payload_len() as usize == LAST)
        .map_or(0, |(r, _)| r.no);
    // The server's recv() of the last message returned only after the
    // resend: long after the first try.
    let late_read = run.calls_of("server").iter().any(|c| {
        matches!(c.op, Op::Recv { .. })
            && c.result == Ok(LAST as i64)
            && c.at.saturating_sub(lost.ts) >= Duration::from_millis(150)
    });
    vec![
        Point::new(
            tagged && silent && waited >= Duration::from_millis(200),
            said!(
                "Frame {l}: the last message ({LAST} bytes) was dropped too, and nothing was sent \
                 after it: no duplicate ACK could tell the client. It waited, and resent it {took} \
                 later (frame {a}, [TCP Retransmission]). {why_en}",
                "Quadro {l}: a última mensagem ({LAST} bytes) também foi descartada, e nada foi \
                 enviado depois dela: nenhum ACK duplicado podia avisar o cliente. Ele esperou, e \
                 a reenviou {took_pt} depois (quadro {a}, [TCP Retransmission]). {why_pt}"
            ),
        ),
        Point::new(
            late_read && echo > 0,
            said!(
                "The server's recv() got the last message only then, and its echo (frame {echo}) \
                 reached the client {took} late: a loss with nothing after it costs at least \
                 200 ms; a loss inside a burst, a fraction of a millisecond.",
                "O recv() do servidor só recebeu a última mensagem então, e o eco (quadro {echo}) \
                 chegou ao cliente {took_pt} atrasado: uma perda sem nada depois dela custa pelo \
                 menos 200 ms; uma perda no meio de uma rajada, uma fração de milissegundo."
            ),
        ),
    ]
}
