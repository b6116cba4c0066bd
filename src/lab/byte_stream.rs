//! byte-stream: TCP carries bytes, not messages.
//!
//! 1. One send() of 3 000 bytes, read with recv(1024): three reads (1024,
//!    1024, 952). The boundaries a program sees are those of its reads.
//! 2. Two quick sends, read once: one recv() returns both. A protocol on
//!    TCP needs its own framing (a length, a newline).
//! 3. UDP keeps each datagram whole, one per recvfrom(), and a datagram
//!    longer than the buffer is cut: the rest is gone.

use std::io::{self, Read, Write};
use std::net::UdpSocket;

use super::{Point, Role, Run, net, said};
use crate::trace::syscalls::Op;

pub struct Lab;

const BIG: usize = 3000;
const FIRST: &[u8] = "Olá, ".as_bytes();
const SECOND: &[u8] = b"Servidor";

impl super::Lab for Lab {
    fn name(&self) -> &'static str {
        "byte-stream"
    }

    fn title(&self) -> super::Said {
        said!(
            "recv(1024) returns part of a message, or two at once; UDP keeps boundaries (and truncates)",
            "recv(1024) devolve parte de uma mensagem, ou duas de uma vez; o UDP mantém as fronteiras (e corta)"
        )
    }

    fn roles(&self, _variant: Option<&str>) -> Vec<Role> {
        vec![Role::SERVER, Role::CLIENT]
    }

    fn act(&self, role: &str, _variant: Option<&str>) -> io::Result<()> {
        let mut buf = [0u8; 1024];
        if role == "server" {
            // The UDP socket first: it must be there before the client sends.
            let udp = UdpSocket::bind(net::server_addr())?;
            let listener = net::listen(2)?;
            // 1. Everything has arrived by the time we read (we wait 100
            // ms): still, each recv(1024) returns at most 1024 bytes.
            let (mut conn, _) = listener.accept()?;
            net::pause(100);
            let mut got = 0;
            while got < BIG {
                match conn.read(&mut buf)? {
                    0 => break,
                    n => got += n,
                }
            }
            drop(conn);
            // 2. Two sends have arrived: one recv() returns both.
            let (mut conn, _) = listener.accept()?;
            net::pause(100);
            let _ = conn.read(&mut buf)?;
            while conn.read(&mut buf)? > 0 {}
            drop(conn);
            // 3. Two datagrams, 100 and 3000 bytes: two recvfrom(1024).
            for _ in 0..2 {
                udp.recv_from(&mut buf)?;
            }
            return Ok(());
        }
        let mut stream = net::connect()?;
        // One send() of 3000 bytes.
        stream.write_all(&[b'a'; BIG])?;
        // The server closes when it has read them all.
        while stream.read(&mut buf)? > 0 {}
        drop(stream);
        let mut stream = net::connect()?;
        stream.write_all(FIRST)?;
        stream.write_all(SECOND)?;
        drop(stream);
        let udp = UdpSocket::bind("127.0.0.1:0")?;
        net::pause(150);
        udp.send_to(&[b'u'; 100], net::server_addr())?;
        udp.send_to(&[b'U'; BIG], net::server_addr())?;
        Ok(())
    }

    fn explain(&self, run: &Run, _variant: Option<&str>) -> Vec<Point> {
        let server = run.calls_of("server");
        let recvs: Vec<i64> = server
            .iter()
            .filter(|c| matches!(c.op, Op::Recv { name: "recv", .. }))
            .filter_map(|c| c.result.ok())
            .collect();
        let datagrams: Vec<i64> = server
            .iter()
            .filter(|c| matches!(c.op, Op::Recv { name: "recvfrom", .. }))
            .filter_map(|c| c.result.ok())
            .collect();
        let streams = run.streams();
        let data_segments = |i: usize| {
            streams
                .get(i)
                .map(|s| run.stream(*s).iter().filter(|(_, t)| t.seg.payload_len() > 0).count())
                .unwrap_or(0)
        };
        let segments = data_segments(0);
        let big_reads = recvs.get(..3) == Some(&[1024, 1024, 952]);
        let both = (FIRST.len() + SECOND.len()) as i64;
        let sends = data_segments(1);
        let word = |n: usize, one: &'static str, many: &'static str| if n == 1 { one } else { many };
        let (seg_en, seg_pt) =
            (word(segments, "segment", "segments"), word(segments, "segmento", "segmentos"));
        let (sends_en, sends_pt) = (word(sends, "segment", "segments"), word(sends, "segmento", "segmentos"));
        let udp_rows: Vec<u32> = run.rows.iter().filter(|r| r.protocol == "UDP").map(|r| r.length).collect();
        let udp_n = udp_rows.len();
        let cut = datagrams == [100, 1024];
        vec![
            Point::new(
                big_reads,
                said!(
                    "One send() of {BIG} bytes went out in {segments} {seg_en}, and the server's \
                     recv(1024) returned 1024, 1024, then 952 bytes: recv() returns what has arrived, \
                     up to the size asked for. Where a \"message\" ends is not TCP's business.",
                    "Um send() de {BIG} bytes saiu em {segments} {seg_pt}, e o recv(1024) do \
                     servidor devolveu 1024, 1024, e depois 952 bytes: o recv() devolve o que chegou, \
                     até o tamanho pedido. Onde uma \"mensagem\" termina não é assunto do TCP."
                ),
            ),
            Point::new(
                recvs.get(3) == Some(&both),
                said!(
                    "Two send() calls, \"Olá, \" and \"Servidor\" ({sends} {sends_en} on the wire), and \
                     one recv() returned all {both} bytes. A protocol on TCP must mark its messages \
                     itself: a length in front, or a newline at the end.",
                    "Duas chamadas send(), \"Olá, \" e \"Servidor\" ({sends} {sends_pt} no fio), e um \
                     recv() devolveu os {both} bytes. Um protocolo sobre TCP precisa marcar as suas \
                     mensagens: um comprimento na frente, ou uma quebra de linha no fim."
                ),
            ),
            Point::new(
                udp_n == 2 && cut,
                said!(
                    "UDP: {udp_n} datagrams, of 100 and {BIG} bytes; each recvfrom(1024) returned one \
                     datagram, never two, and the second only its first 1024 bytes: the rest of a \
                     datagram longer than the buffer is dropped, with no error.",
                    "UDP: {udp_n} datagramas, de 100 e {BIG} bytes; cada recvfrom(1024) devolveu um \
                     datagrama, nunca dois, e o segundo só os seus primeiros 1024 bytes: o resto de um \
                     datagrama maior que o buffer é descartado, sem erro."
                ),
            ),
        ]
    }
}
