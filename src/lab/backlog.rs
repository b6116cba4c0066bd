//! backlog: a single-threaded server, busy with one client.
//!
//! The second client "connects" at once: the server's *kernel* completes
//! its handshake and queues it (the accept queue, whose size is listen()'s
//! backlog), and acknowledges its data; but nobody reads it until the
//! server is done with the first client and calls accept() again. A third
//! client finds the queue full: its SYN is dropped, without an answer, and
//! its kernel sends it again later.

use std::io::{self, Read, Write};

use super::{Point, Role, Run, has, ms, net, said};
use crate::trace::packet::{ACK, SYN};
use crate::trace::syscalls::Op;

pub struct Lab;

const ROLES: [Role; 4] = [
    Role::SERVER,
    Role { id: "client1", en: "client 1", pt: "cliente 1" },
    Role { id: "client2", en: "client 2", pt: "cliente 2" },
    Role { id: "client3", en: "client 3", pt: "cliente 3" },
];

impl super::Lab for Lab {
    fn name(&self) -> &'static str {
        "backlog"
    }

    fn title(&self) -> super::Said {
        said!(
            "a busy single-threaded server: the kernel accepts the next client, the program does not",
            "um servidor de uma thread ocupado: o kernel aceita o próximo cliente, o programa não"
        )
    }

    fn roles(&self, _variant: Option<&str>) -> Vec<Role> {
        ROLES.to_vec()
    }

    fn act(&self, role: &str, _variant: Option<&str>) -> io::Result<()> {
        let mut buf = [0u8; 1024];
        if role == "server" {
            // listen(0): room for one connection in the accept queue.
            let listener = net::listen(0)?;
            // One client at a time, as the exercise's servidor.py.
            for _ in 0..3 {
                let (mut conn, _) = listener.accept()?;
                loop {
                    let n = conn.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    conn.write_all(&buf[..n])?;
                }
            }
            return Ok(());
        }
        let mut stream = net::connect()?;
        stream.write_all(role.as_bytes())?;
        let mut echo = vec![0u8; role.len()];
        stream.read_exact(&mut echo)?;
        if role == "client1" {
            // The first client takes its time: the server is busy.
            net::pause(1500);
        }
        Ok(())
    }

    fn explain(&self, run: &Run, _variant: Option<&str>) -> Vec<Point> {
        let streams = run.streams();
        let conn = |i: usize| streams.get(i).map(|s| run.stream(*s)).unwrap_or_default();
        let (first, second, third) = (conn(0), conn(1), conn(2));
        let accepts: Vec<_> = run
            .calls_of("server")
            .into_iter()
            .filter(|c| matches!(c.op, Op::Accept(_)) && c.result.is_ok())
            .map(|c| c.at)
            .collect();
        // Client 2: handshake and data acknowledged before its accept().
        let handshake = second.iter().find(|(_, t)| has(t, ACK) && !has(t, SYN) && t.seg.payload_len() == 0);
        let data = second.iter().find(|(_, t)| t.seg.payload_len() > 0 && run.sender(t) == Some("client2"));
        let acked = data.and_then(|(d, _)| {
            second
                .iter()
                .find(|(r, t)| r.no > d.no && run.sender(t) == Some("server") && t.seg.payload_len() == 0)
        });
        let echo = second.iter().find(|(_, t)| t.seg.payload_len() > 0 && run.sender(t) == Some("server"));
        let accepted = accepts.get(1).copied().unwrap_or_default();
        let (h, d, a, e) = (
            handshake.map_or(0, |(r, _)| r.no),
            data.map_or(0, |(r, _)| r.no),
            acked.map_or(0, |(r, _)| r.no),
            echo.map_or(0, |(r, _)| r.no),
        );
        let before_accept = handshake.is_some_and(|(r, _)| r.ts < accepted)
            && acked.is_some_and(|(r, _)| r.ts < accepted)
            && accepted > std::time::Duration::ZERO;
        let waited = echo.zip(data).map(|((er, _), (dr, _))| er.ts.saturating_sub(dr.ts)).unwrap_or_default();
        let waited_ms = ms(waited);
        let first_fin =
            first.iter().find(|(_, t)| has(t, crate::trace::packet::FIN)).map_or(0, |(r, _)| r.no);
        // Client 3: its SYN sent more than once, answered only later.
        let syns: Vec<usize> =
            third.iter().filter(|(_, t)| has(t, SYN) && !has(t, ACK)).map(|(r, _)| r.no).collect();
        let syn_ack = third.iter().find(|(_, t)| has(t, SYN) && has(t, ACK)).map_or(0, |(r, _)| r.no);
        let tries = syns.len();
        let list: Vec<String> = syns.iter().map(|n| n.to_string()).collect();
        let list = list.join(", ");
        let third_served =
            third.iter().any(|(_, t)| t.seg.payload_len() > 0 && run.sender(t) == Some("server"));
        vec![
            Point::new(
                before_accept && h > 0,
                said!(
                    "Client 2's handshake completed at once (frame {h}), while the server was busy with \
                     client 1: the server's kernel answered the SYN and queued the connection; the \
                     program had not called accept(). Its data (frame {d}) was acknowledged by the \
                     kernel (frame {a}) and waits in the socket's buffer.",
                    "O handshake do cliente 2 se completou na hora (quadro {h}), enquanto o servidor \
                     estava ocupado com o cliente 1: o kernel do servidor respondeu ao SYN e enfileirou \
                     a conexão; o programa não tinha chamado accept(). Os seus dados (quadro {d}) foram \
                     confirmados pelo kernel (quadro {a}) e esperam no buffer do socket."
                ),
            ),
            Point::new(
                e > first_fin && first_fin > 0,
                said!(
                    "Only when client 1 left (its FIN, frame {first_fin}) did the server accept() client 2 \
                     and read its data: the echo (frame {e}) came {waited_ms} after the request. To the \
                     client, \"connected\" meant the kernel, not the program.",
                    "Só quando o cliente 1 saiu (o seu FIN, quadro {first_fin}) o servidor chamou \
                     accept() para o cliente 2 e leu os seus dados: o eco (quadro {e}) veio {waited_ms} \
                     depois do pedido. Para o cliente, \"conectado\" quis dizer o kernel, não o programa."
                ),
            ),
            Point::new(
                tries >= 2 && syn_ack > 0 && third_served,
                said!(
                    "Client 3 found the accept queue full (listen(0) leaves room for one): its SYN was \
                     dropped without an answer, and sent {tries} times (frames {list}) before a SYN-ACK \
                     came (frame {syn_ack}), once the queue had room. It was served last.",
                    "O cliente 3 encontrou a fila de accept cheia (listen(0) deixa lugar para um): o seu \
                     SYN foi descartado sem resposta, e enviado {tries} vezes (quadros {list}) antes de \
                     vir um SYN-ACK (quadro {syn_ack}), quando a fila teve lugar. Foi atendido por último."
                ),
            ),
        ]
    }
}
