//! nagle-delayed-ack: the 40 ms stall of write-write-read.
//!
//! The client writes a request in two small pieces, then reads the answer.
//! Nagle's algorithm (on by default) holds the second piece while the
//! first is not yet acknowledged; the server's kernel delays its ACK (up
//! to 40 ms on Linux) hoping to send it with an answer, and the server
//! will not answer before it has the whole request. Each waits for the
//! other until the delayed-ACK timer fires. `TCP_NODELAY` (--try nodelay)
//! sends each piece at once.

use std::io::{self, Read, Write};
use std::time::Duration;

use super::{Point, Role, Run, gap, ms, net, said};
use crate::trace::syscalls::Op;

pub struct Lab;

/// Requests, each written as two pieces of [`PIECE`] bytes.
const ROUNDS: usize = 6;
const PIECE: usize = 100;

impl super::Lab for Lab {
    fn name(&self) -> &'static str {
        "nagle-delayed-ack"
    }

    fn title(&self) -> super::Said {
        said!(
            "write-write-read: Nagle and the delayed ACK make a ~40 ms stall; TCP_NODELAY removes it",
            "write-write-read: Nagle e o ACK atrasado fazem uma parada de ~40 ms; TCP_NODELAY a remove"
        )
    }

    fn variants(&self) -> Vec<(&'static str, super::Said)> {
        vec![(
            "nodelay",
            said!(
                "the client sets TCP_NODELAY: each write goes out at once",
                "o cliente liga TCP_NODELAY: cada write sai na hora"
            ),
        )]
    }

    fn roles(&self, _variant: Option<&str>) -> Vec<Role> {
        vec![Role::SERVER, Role::CLIENT]
    }

    fn act(&self, role: &str, variant: Option<&str>) -> io::Result<()> {
        let mut buf = [0u8; 2 * PIECE];
        if role == "server" {
            // Answers each whole request (both pieces) with 2 × PIECE bytes.
            let listener = net::listen(1)?;
            let (mut conn, _) = listener.accept()?;
            loop {
                let mut got = 0;
                while got < buf.len() {
                    match conn.read(&mut buf[got..])? {
                        0 => return Ok(()),
                        n => got += n,
                    }
                }
                conn.write_all(&buf)?;
            }
        }
        let nodelay = variant == Some("nodelay");
        let mut stream = net::connect_with(super::PORT, |socket| {
            if nodelay {
                // Off with Nagle: small writes are not held back.
                socket.set_tcp_nodelay(true)?;
            }
            Ok(())
        })?;
        for _ in 0..ROUNDS {
            // A request in two writes (a header, then a body)...
            stream.write_all(&[b'h'; PIECE])?;
            stream.write_all(&[b'b'; PIECE])?;
            // ...then its answer.
            stream.read_exact(&mut buf)?;
        }
        Ok(())
    }

    fn explain(&self, run: &Run, variant: Option<&str>) -> Vec<Point> {
        // The client's data segments, first transmissions, in order: each
        // round's first piece and second piece.
        let data: Vec<_> = run
            .sent_by("client")
            .into_iter()
            .filter(|(_, t)| t.seg.payload_len() > 0 && !t.tags.resent())
            .collect();
        let pieces = data.iter().all(|(_, t)| t.seg.payload_len() as usize == PIECE);
        let gaps: Vec<(usize, usize, Duration)> = data
            .chunks(2)
            .filter(|c| c.len() == 2)
            .map(|c| (c[0].0.no, c[1].0.no, gap(c[0].0, c[1].0)))
            .collect();
        let longest = gaps.iter().max_by_key(|(_, _, g)| *g).copied().unwrap_or((0, 0, Duration::ZERO));
        let (a, b, stall) = (longest.0, longest.1, ms(longest.2));
        let stalls = gaps.iter().filter(|(_, _, g)| *g >= Duration::from_millis(35)).count();
        // The typical gap (a busy machine may delay one write now and then).
        let mut sorted: Vec<Duration> = gaps.iter().map(|(_, _, g)| *g).collect();
        sorted.sort_unstable();
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
        let typical = ms(median);
        let rounds = gaps.len();
        let nodelay = run
            .calls_of("client")
            .iter()
            .any(|c| matches!(&c.op, Op::SetOpt { name: "TCP_NODELAY", value } if value == "1"));
        // The first piece's ACK, alone and late: the delayed ACK.
        let ack = run
            .sent_by("server")
            .into_iter()
            .find(|(r, t)| r.no > a && r.no < b && t.seg.payload_len() == 0)
            .map_or(0, |(r, _)| r.no);
        let whole = data.len() == 2 * ROUNDS && pieces;
        if variant == Some("nodelay") {
            return vec![
                Point::new(
                    nodelay && whole && stalls == 0 && median < Duration::from_millis(5),
                    said!(
                        "With setsockopt(TCP_NODELAY, 1) each write went out at once: {typical} between a \
                         request's two pieces (the median of {rounds} requests; the longest, {stall}, \
                         frames {a} and {b}), no stall.",
                        "Com setsockopt(TCP_NODELAY, 1) cada write saiu na hora: {typical} entre as duas \
                         partes de um pedido (a mediana de {rounds} pedidos; a maior, {stall}, quadros {a} \
                         e {b}), nenhuma parada."
                    ),
                ),
                Point::new(
                    whole,
                    said!(
                        "Nagle exists to spare the network a flood of tiny segments (a keystroke per \
                         packet); for request/response programs, write each request in one call, or set \
                         TCP_NODELAY.",
                        "O Nagle existe para poupar a rede de uma enxurrada de segmentos minúsculos (uma \
                         tecla por pacote); em programas de pedido e resposta, escreva cada pedido numa só \
                         chamada, ou ligue TCP_NODELAY."
                    ),
                ),
            ];
        }
        vec![
            Point::new(
                whole && stalls > 0 && ack > 0,
                said!(
                    "Frames {a} and {b} are the two pieces of one request, {stall} apart: the second \
                     write waited in the client's kernel (Nagle: a small segment is held while data is \
                     unacknowledged) until frame {ack}, the server's ACK, which its kernel had delayed \
                     (hoping to send it with an answer that could not come yet). {stalls} of the \
                     {rounds} requests stalled so.",
                    "Os quadros {a} e {b} são as duas partes de um pedido, com {stall} entre eles: o \
                     segundo write esperou no kernel do cliente (Nagle: um segmento pequeno é retido \
                     enquanto há dados sem confirmação) até o quadro {ack}, o ACK do servidor, que o \
                     kernel dele tinha atrasado (esperando mandá-lo junto com uma resposta que ainda \
                     não podia vir). {stalls} dos {rounds} pedidos pararam assim."
                ),
            ),
            Point::new(
                whole,
                said!(
                    "The first requests may go through at once: a new connection acknowledges quickly \
                     (quick-ACK mode) before its kernel starts delaying ACKs. Try --try nodelay.",
                    "Os primeiros pedidos podem passar na hora: uma conexão nova confirma rápido (modo \
                     quick-ACK) antes de o kernel começar a atrasar os ACKs. Experimente --try nodelay."
                ),
            ),
        ]
    }
}
