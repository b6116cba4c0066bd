//! flow-control: a reader that stops. The server asks for a small receive
//! buffer (4096 bytes) and then does not read for 2 s, while the client
//! sends 50000 bytes. The window the server's kernel advertises shrinks
//! as its buffer fills, down to 0 ([TCP ZeroWindow]); the client's kernel
//! then waits, probing the closed window now and then (Linux's probes look
//! like keep-alives); when the server reads again, its kernel reopens the
//! window at once ([TCP Window Update]) and the rest flows, 4096 bytes at
//! a time. The client's program never notices: its send() returned at
//! once, the bytes waiting in its kernel.

use std::io::{self, Read, Write};
use std::time::Duration;

use super::{Point, Role, Run, frames, gap, has, ms, net, pt, said, short};
use crate::trace::flow::{Row, TcpRow};
use crate::trace::packet::{FIN, RST, SYN};
use crate::trace::syscalls::Op;

pub struct Lab;

/// The server's receive buffer, as asked with SO_RCVBUF (Linux doubles it
/// for its own bookkeeping; the window offered is about what was asked).
const RCVBUF: usize = 4096;
/// ... and in `--try bigger-buffer`: room for all the client sends.
const BIG_RCVBUF: usize = 256 * 1024;
/// What the client sends: twelve times the small buffer.
const TOTAL: usize = 50_000;
/// How long the server does not read.
const BUSY_MS: u64 = 2000;

impl super::Lab for Lab {
    fn name(&self) -> &'static str {
        "flow-control"
    }

    fn title(&self) -> super::Said {
        said!(
            "a reader that stops: the window shrinks to zero, the sender probes, a window update \
             restarts it",
            "um leitor que para: a janela encolhe até zero, o remetente sonda, uma atualização de \
             janela o faz voltar"
        )
    }

    fn variants(&self) -> Vec<(&'static str, super::Said)> {
        vec![(
            "bigger-buffer",
            said!(
                "the server asks for a 256 KB receive buffer: the 50000 bytes fit, and the window \
                 never closes",
                "o servidor pede um buffer de recepção de 256 KB: os 50000 bytes cabem, e a \
                 janela nunca fecha"
            ),
        )]
    }

    fn roles(&self, _variant: Option<&str>) -> Vec<Role> {
        vec![Role::SERVER, Role::CLIENT]
    }

    fn act(&self, role: &str, variant: Option<&str>) -> io::Result<()> {
        if role == "server" {
            let size = if variant == Some("bigger-buffer") { BIG_RCVBUF } else { RCVBUF };
            // SO_RCVBUF before listen(): the accepted socket inherits it,
            // and the SYN-ACK's window (and window scale) already follow it.
            let listener = net::listen_with(1, |s| s.set_recv_buffer_size(size))?;
            let (mut conn, _) = listener.accept()?;
            // Busy elsewhere: nothing is read, the buffer fills.
            net::pause(BUSY_MS);
            // Then everything, until the client's FIN.
            let mut buf = vec![0u8; 65536];
            while conn.read(&mut buf)? > 0 {}
            // Our FIN.
            drop(conn);
            return Ok(());
        }
        let mut stream = net::connect()?;
        // Returns as soon as the kernel has the bytes in its send buffer,
        // not when they are sent.
        stream.write_all(&[b'x'; TOTAL])?;
        // Our FIN, queued behind the data.
        stream.shutdown(std::net::Shutdown::Write)?;
        // Until the server's FIN: then all was read.
        let mut buf = [0u8; 16];
        while stream.read(&mut buf)? > 0 {}
        Ok(())
    }

    fn explain(&self, run: &Run, variant: Option<&str>) -> Vec<Point> {
        let f = Facts::of(run);
        let mut points = vec![buffer_point(run, &f, variant), send_point(run, &f, variant)];
        if variant == Some("bigger-buffer") {
            points.extend(open_points(&f));
        } else {
            points.extend(zero_window_points(&f));
        }
        points.push(close_point(run, &f));
        points
    }
}

type Seg<'a> = (&'a Row, &'a TcpRow);

/// What the narration reads from the run.
struct Facts<'a> {
    /// The server's segments after its SYN-ACK, and the SYN-ACK.
    server: Vec<Seg<'a>>,
    syn_ack: Option<Seg<'a>>,
    /// The client's segments.
    client: Vec<Seg<'a>>,
    /// The server's first [TCP ZeroWindow], and its first [TCP Window
    /// Update] after it.
    zero: Option<Seg<'a>>,
    update: Option<Seg<'a>>,
    /// The client's probes of the closed window, in order.
    probes: Vec<Seg<'a>>,
    /// What the server's recv() calls returned, and when.
    reads: Vec<(Duration, i64)>,
}

impl<'a> Facts<'a> {
    fn of(run: &Run<'a>) -> Facts<'a> {
        let all = run.sent_by("server");
        let syn_ack = all.iter().find(|(_, t)| has(t, SYN)).copied();
        let server: Vec<Seg> = all.into_iter().filter(|(_, t)| !has(t, SYN)).collect();
        let client = run.sent_by("client");
        let zero = server.iter().find(|(_, t)| t.tags.zero_window).copied();
        let after_zero = |no: usize| zero.is_some_and(|(z, _)| no > z.no);
        let update = server.iter().find(|(r, t)| after_zero(r.no) && t.tags.window_update).copied();
        let before_update = |no: usize| update.is_none_or(|(u, _)| no < u.no);
        let probes = client
            .iter()
            .filter(|(r, t)| {
                after_zero(r.no) && before_update(r.no) && (t.tags.keep_alive || t.tags.zero_window_probe)
            })
            .copied()
            .collect();
        let reads = run
            .calls_of("server")
            .iter()
            .filter(|c| matches!(c.op, Op::Recv { .. }))
            .filter_map(|c| c.result.ok().map(|n| (c.at, n)))
            .collect();
        Facts { server, syn_ack, client, zero, update, probes, reads }
    }

    /// The window the SYN-ACK offered.
    fn offered(&self) -> u32 {
        self.syn_ack.map_or(0, |(_, t)| t.window)
    }

    /// The bytes the server's recv() calls got in all.
    fn read_total(&self) -> i64 {
        self.reads.iter().map(|(_, n)| n).sum()
    }
}

/// Seconds, as `2.0 s`.
fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn buffer_point(run: &Run, f: &Facts, variant: Option<&str>) -> Point {
    let asked = if variant == Some("bigger-buffer") { BIG_RCVBUF } else { RCVBUF };
    let set = run
        .calls_of("server")
        .iter()
        .any(|c| matches!(&c.op, Op::SetOpt { name: "SO_RCVBUF", value } if *value == asked.to_string()));
    let listened = run.calls_of("server").iter().position(|c| matches!(c.op, Op::Listen(_)));
    let before = run.calls_of("server").iter().position(|c| matches!(c.op, Op::SetOpt { .. }));
    let in_order = set && before.zip(listened).is_some_and(|(s, l)| s < l);
    let (syn_ack, window) = (f.syn_ack.map_or(0, |(r, _)| r.no), f.offered());
    if variant == Some("bigger-buffer") {
        let scaled = f.syn_ack.is_some_and(|(_, t)| t.seg.window_shift().is_some_and(|shift| shift > 0));
        return Point::new(
            in_order && window > 0 && scaled,
            said!(
                "The server set SO_RCVBUF to {asked} before listen(): its SYN-ACK (frame {syn_ack}) \
                 offers a window of {window} bytes, and window scaling lets the later ACKs offer \
                 more than the 65535 a window field holds. The receive buffer is where the \
                 server's kernel keeps what arrived and the program has not read yet.",
                "O servidor definiu SO_RCVBUF como {asked} antes do listen(): o seu SYN-ACK \
                 (quadro {syn_ack}) oferece uma janela de {window} bytes, e o window scaling deixa \
                 os ACKs seguintes oferecerem mais que os 65535 que o campo de janela comporta. O \
                 buffer de recepção é onde o kernel do servidor guarda o que chegou e o programa \
                 ainda não leu."
            ),
        );
    }
    Point::new(
        in_order && window > 0 && window as usize <= asked,
        said!(
            "The server set SO_RCVBUF to {asked} before listen(), so its SYN-ACK (frame {syn_ack}) \
             already offers a window of only {window} bytes. The receive buffer is where the \
             server's kernel keeps what arrived and the program has not read yet; the window is \
             the room left in it.",
            "O servidor definiu SO_RCVBUF como {asked} antes do listen(), então o seu SYN-ACK \
             (quadro {syn_ack}) já oferece uma janela de só {window} bytes. O buffer de recepção é \
             onde o kernel do servidor guarda o que chegou e o programa ainda não leu; a janela é \
             o espaço que resta nele."
        ),
    )
}

fn send_point(run: &Run, f: &Facts, variant: Option<&str>) -> Point {
    let calls = run.calls_of("client");
    let sent = calls.iter().find(|c| matches!(c.op, Op::Send { .. }) && c.result == Ok(TOTAL as i64));
    let shutdown = calls.iter().find(|c| matches!(c.op, Op::Shutdown(_)));
    // The last data segment left long after the client's program was done
    // sending: it was the kernel that waited.
    let last_data = f.client.iter().rev().find(|(_, t)| t.seg.payload_len() > 0);
    let waited = shutdown.zip(last_data).map(|(s, (r, _))| r.ts.saturating_sub(s.at));
    let waited_text = secs(waited.unwrap_or_default());
    let waited_pt = pt(&waited_text);
    if variant == Some("bigger-buffer") {
        return Point::new(
            sent.is_some() && shutdown.is_some(),
            said!(
                "The client's send() of {TOTAL} bytes returned at once, and so did its \
                 shutdown(): its kernel took the bytes into the socket's send buffer, and sent \
                 them, the FIN behind them.",
                "O send() de {TOTAL} bytes do cliente retornou na hora, e o shutdown() também: o \
                 kernel dele pôs os bytes no buffer de envio do socket e os enviou, com o FIN \
                 atrás deles."
            ),
        );
    }
    Point::new(
        sent.is_some() && waited.is_some_and(|w| w >= Duration::from_millis(BUSY_MS / 2)),
        said!(
            "The client's send() of {TOTAL} bytes returned at once, and so did its shutdown(): \
             its kernel took all the bytes into the socket's send buffer and sends them as the \
             server's window allows, with the FIN behind them. The program does not wait; its \
             kernel does (the last data left {waited_text} after the shutdown()).",
            "O send() de {TOTAL} bytes do cliente retornou na hora, e o shutdown() também: o \
             kernel dele pôs todos os bytes no buffer de envio do socket e os envia conforme a \
             janela do servidor permite, com o FIN atrás deles. O programa não espera; o kernel \
             espera (os últimos dados saíram {waited_pt} depois do shutdown())."
        ),
    )
}

fn zero_window_points(f: &Facts) -> Vec<Point> {
    let mut points = Vec::new();
    // The window shrinking: the server's windows up to the first zero.
    let (zero_no, zero_ts) = f.zero.map_or((0, Duration::ZERO), |(r, _)| (r.no, r.ts));
    let shrinking: Vec<Seg> = f.server.iter().filter(|(r, _)| r.no <= zero_no).copied().collect();
    let windows: Vec<u32> =
        std::iter::once(f.offered()).chain(shrinking.iter().map(|(_, t)| t.window)).collect();
    let syn_ack = f.syn_ack.map_or(0, |(r, _)| r.no);
    let steps: Vec<String> = windows.iter().map(u32::to_string).collect();
    let steps = steps.join(" → ");
    let list = frames(&shrinking);
    let descending = windows.windows(2).all(|w| w[1] <= w[0]) && windows.len() >= 3;
    let full: Vec<Seg> =
        f.client.iter().filter(|(r, t)| r.no < zero_no && t.tags.window_full).copied().collect();
    let full_list = frames(&full);
    let edge = if full.len() == 1 {
        said!("Frame {full_list} is", "O quadro {full_list} é")
    } else {
        said!("Frames {full_list} are", "Os quadros {full_list} são")
    };
    let (edge_en, edge_pt) = (edge.en, edge.pt);
    let held = f.zero.and_then(|(_, t)| t.ack).unwrap_or(1).saturating_sub(1);
    points.push(Point::new(
        f.zero.is_some() && descending && !full.is_empty() && f.reads.iter().all(|(at, _)| *at > zero_ts),
        said!(
            "The window shrinks as the buffer fills, unread: {steps} (frames {syn_ack}, {list}); \
             frame {zero_no} is the [TCP ZeroWindow]. {held} bytes wait in the server's kernel, \
             and the client may send no more. ({edge_en} [TCP Window Full]: the client's data \
             reached the edge of the window.)",
            "A janela encolhe conforme o buffer enche, sem leitura: {steps} (quadros {syn_ack}, \
             {list}); o quadro {zero_no} é o [TCP ZeroWindow]. {held} bytes esperam no kernel do \
             servidor, e o cliente não pode enviar mais nada. ({edge_pt} [TCP Window Full]: os \
             dados do cliente chegaram à borda da janela.)"
        ),
    ));
    // The probes, and the gaps between them (from the zero window on).
    let probe_list = frames(&f.probes);
    let mut gaps = Vec::new();
    let mut from = f.zero.map(|(r, _)| r);
    for (row, _) in &f.probes {
        if let Some(before) = from {
            gaps.push(gap(before, row));
        }
        from = Some(row);
    }
    let doubling = gaps.first().is_some_and(|g| *g >= Duration::from_millis(200))
        && gaps.windows(2).all(|w| w[1].as_secs_f64() >= 1.5 * w[0].as_secs_f64());
    let gap_text = gaps.iter().map(|g| ms(*g)).collect::<Vec<_>>().join(", ");
    let gap_pt = gaps.iter().map(|g| pt(&ms(*g))).collect::<Vec<_>>().join("; ");
    let seq = f.probes.first().map_or(0, |(_, t)| t.seq);
    // Empty, one below the next byte (the one the zero window holds back).
    let below = f.zero.and_then(|(_, t)| t.ack).map(|a| a.wrapping_sub(1));
    let empty = f.probes.iter().all(|(_, t)| t.seg.payload_len() == 0 && Some(t.seq) == below);
    let shape = if f.probes.iter().all(|(_, t)| t.tags.keep_alive) {
        said!(
            "Wireshark tags them [TCP Keep-Alive], for that shape; the 1-byte probe of the RFCs \
             would be a [TCP ZeroWindowProbe].",
            "O Wireshark os marca como [TCP Keep-Alive], por esse formato; a sonda de 1 byte das \
             RFCs seria um [TCP ZeroWindowProbe]."
        )
    } else {
        said!(
            "Wireshark tags them [TCP ZeroWindowProbe].",
            "O Wireshark os marca como [TCP ZeroWindowProbe]."
        )
    };
    let (shape_en, shape_pt) = (shape.en, shape.pt);
    points.push(Point::new(
        f.probes.len() >= 2 && doubling && empty,
        said!(
            "Frames {probe_list}: with data waiting and the window at 0, the client's kernel \
             probes it, so as not to wait forever for a window update that might be lost. Linux \
             sends an empty segment with Seq={seq}, one below the next byte, which the server must \
             answer with its window. {shape_en} Each probe waits about twice as long as the one \
             before ({gap_text}): the exponential backoff of the retransmission timer.",
            "Quadros {probe_list}: com dados esperando e a janela em 0, o kernel do cliente a \
             sonda, para não esperar para sempre por uma atualização de janela que pode se \
             perder. O Linux envia um segmento vazio com Seq={seq}, um abaixo do próximo byte, \
             que o servidor tem de responder com a sua janela. {shape_pt} Cada sonda espera \
             cerca do dobro da anterior ({gap_pt}): o backoff exponencial do temporizador de \
             retransmissão."
        ),
    ));
    // The answers: the server's zero-window ACK right after a probe.
    let mut answered = Vec::new();
    let mut silent = Vec::new();
    for (i, (probe, _)) in f.probes.iter().enumerate() {
        // Up to the next probe, or the window update.
        let until = f.probes.get(i + 1).or(f.update.as_ref()).map_or(usize::MAX, |(r, _)| r.no);
        match f.server.iter().find(|(r, t)| r.no > probe.no && r.no < until && t.window == 0) {
            Some(seg) => answered.push(*seg),
            None => silent.push((probe, answered.last().map(|(r, _): &Seg| gap(r, probe)))),
        }
    }
    let answer_list = frames(&answered);
    let skipped = net::tcp_counter("TCPACKSkippedSeq").unwrap_or(0);
    let (quiet, quiet_ok) = match silent.first() {
        None => (said!("", ""), true),
        Some((probe, since)) => {
            let (no, since) = (probe.no, since.map_or(String::new(), ms));
            (
                said!(
                    " Frame {no} got no answer: Linux answers a segment outside its window at \
                     most once per 500 ms (net.ipv4.tcp_invalid_ratelimit), and it had answered \
                     {since} before.",
                    " O quadro {no} ficou sem resposta: o Linux responde a um segmento fora da sua \
                     janela no máximo uma vez a cada 500 ms (net.ipv4.tcp_invalid_ratelimit), e \
                     tinha respondido {since} antes."
                ),
                skipped > 0 && silent.iter().all(|(_, d)| d.is_some_and(|d| d < Duration::from_millis(500))),
            )
        }
    };
    let (quiet_en, quiet_pt) = (quiet.en, quiet.pt);
    points.push(Point::new(
        !answered.is_empty() && answered.iter().all(|(_, t)| t.tags.zero_window) && quiet_ok,
        said!(
            "Frames {answer_list}: the server's kernel answers [TCP ZeroWindow]: still 0, the \
             program still not reading.{quiet_en}",
            "Quadros {answer_list}: o kernel do servidor responde [TCP ZeroWindow]: ainda 0, o \
             programa ainda sem ler.{quiet_pt}"
        ),
    ));
    // The window update, when the server reads again.
    let (update_no, window, when) =
        f.update.map_or((0, 0, Duration::ZERO), |(r, t)| (r.no, t.window, r.ts.saturating_sub(f.first_ts())));
    let when_text = secs(when);
    let when_pt = pt(&when_text);
    let next =
        f.update.and_then(|(u, _)| f.client.iter().find(|(r, t)| r.no > u.no && t.seg.payload_len() > 0));
    let (next_no, next_gap) =
        next.zip(f.update).map_or((0, String::new()), |((r, _), (u, _))| (r.no, short(gap(u, r))));
    let next_gap_pt = pt(&next_gap);
    let read_then = f.update.is_some_and(|(u, _)| {
        f.reads.first().is_some_and(|(at, _)| at.abs_diff(u.ts) < Duration::from_millis(50))
    });
    let closed_long =
        f.zero.zip(f.update).is_some_and(|((z, _), (u, _))| gap(z, u) >= Duration::from_millis(BUSY_MS / 2));
    // The rest, after the update: never more than the window offered.
    let rest: Vec<Seg> = f
        .update
        .map(|(u, _)| {
            f.client.iter().filter(|(r, t)| r.no > u.no && t.seg.payload_len() > 0).copied().collect()
        })
        .unwrap_or_default();
    let most = f.server.iter().filter(|(r, _)| r.no >= update_no).map(|(_, t)| t.window).max().unwrap_or(0);
    let within = rest.iter().all(|(_, t)| t.seg.payload_len() <= most);
    let bytes: u32 = rest.iter().map(|(_, t)| t.seg.payload_len()).sum();
    let (count, first, last) =
        (rest.len(), rest.first().map_or(0, |(r, _)| r.no), rest.last().map_or(0, |(r, _)| r.no));
    points.push(Point::new(
        window > 0 && read_then && closed_long && next.is_some() && within,
        said!(
            "Frame {update_no} [TCP Window Update], at {when_text}: the server's recv() took the \
             bytes waiting, and its kernel told the client at once: Win={window}. The client's \
             kernel sent the next segment (frame {next_no}) {next_gap} later: the remaining \
             {bytes} bytes went in {count} segments of at most {most} bytes (frames \
             {first}–{last}), each read as it came.",
            "Quadro {update_no} [TCP Window Update], em {when_pt}: o recv() do servidor pegou \
             os bytes que esperavam, e o kernel dele avisou o cliente na hora: Win={window}. O \
             kernel do cliente enviou o segmento seguinte (quadro {next_no}) {next_gap_pt} depois: os \
             {bytes} bytes restantes foram em {count} segmentos de no máximo {most} bytes \
             (quadros {first}–{last}), cada um lido assim que chegou."
        ),
    ));
    points
}

impl Facts<'_> {
    /// The capture's first frame time (the table's time 0).
    fn first_ts(&self) -> Duration {
        let first = self.syn_ack.map(|(r, _)| r.ts);
        let client = self.client.first().map(|(r, _)| r.ts);
        first.into_iter().chain(client).min().unwrap_or_default()
    }
}

/// `--try bigger-buffer`: the window never closes.
fn open_points(f: &Facts) -> Vec<Point> {
    let windows: Vec<u32> = f.server.iter().map(|(_, t)| t.window).collect();
    let least = windows.iter().min().copied().unwrap_or(0);
    let zero = f.server.iter().any(|(_, t)| t.tags.zero_window) || !f.probes.is_empty();
    let (first_read, at) = f.reads.first().map_or((0, Duration::ZERO), |(at, n)| (*n, *at));
    let when = secs(at.saturating_sub(f.first_ts()));
    let when_pt = pt(&when);
    vec![
        Point::new(
            !zero && least > 0 && !f.client.iter().any(|(_, t)| t.tags.keep_alive),
            said!(
                "The window never closed: after the handshake the server's ACKs offered at least \
                 {least} bytes. No [TCP ZeroWindow], no probe: all {TOTAL} bytes went at once, and \
                 waited in the server's kernel.",
                "A janela nunca fechou: depois do handshake os ACKs do servidor ofereceram pelo \
                 menos {least} bytes. Nada de [TCP ZeroWindow], nenhuma sonda: os {TOTAL} bytes \
                 foram de uma vez, e esperaram no kernel do servidor."
            ),
        ),
        Point::new(
            first_read as usize == TOTAL
                && at.saturating_sub(f.first_ts()) >= Duration::from_millis(BUSY_MS / 2),
            said!(
                "At {when}, the server's first recv() returned all {first_read} bytes in one call: \
                 a slow reader costs nothing on the wire while its buffer has room.",
                "Em {when_pt}, o primeiro recv() do servidor devolveu os {first_read} bytes numa só \
                 chamada: um leitor lento não custa nada na rede enquanto o seu buffer tem espaço."
            ),
        ),
    ]
}

fn close_point(run: &Run, f: &Facts) -> Point {
    let total = f.read_total();
    let fins: Vec<Seg> = run.tcp().filter(|(_, t)| has(t, FIN)).collect();
    let fin_list = frames(&fins);
    let reset = run.tcp().any(|(_, t)| has(t, RST));
    let client_done = run.reads_of("client").last() == Some(&Ok(0));
    Point::new(
        total as usize == TOTAL && fins.len() == 2 && !reset && client_done,
        said!(
            "The server's recv() calls got all {total} bytes, then 0: the client's FIN. FINs in \
             frames {fin_list}, no reset: a clean close, nothing lost, however long the reader \
             stopped.",
            "As chamadas recv() do servidor receberam os {total} bytes, depois 0: o FIN do \
             cliente. FINs nos quadros {fin_list}, nenhum reset: um encerramento limpo, nada \
             perdido, por mais que o leitor tenha parado."
        ),
    )
}
