//! handshake-and-close: the exercise itself. Three segments open the
//! connection, data and echo are acknowledged, and the close takes 10
//! frames when the server's FIN rides on its ACK of the client's FIN
//! (the server closes at once), 11 when the server is slow to close and
//! its kernel acknowledges the client's FIN alone first. Whoever closes
//! first ends in TIME_WAIT.

use std::io::{self, Read, Write};

use super::{Point, Role, Run, has, net, said};
use crate::client::EXERCISE_MESSAGE;
use crate::trace::packet::{ACK, FIN, SYN};

pub struct Lab;

impl super::Lab for Lab {
    fn name(&self) -> &'static str {
        "handshake-and-close"
    }

    fn title(&self) -> super::Said {
        said!(
            "the exercise: three-way handshake, echo, four-way close, TIME_WAIT",
            "o exercício: three-way handshake, eco, encerramento em quatro vias, TIME_WAIT"
        )
    }

    fn variants(&self) -> Vec<(&'static str, super::Said)> {
        vec![(
            "slow-close",
            said!(
                "the server waits 200 ms before close(): the 11-frame close of the exercise",
                "o servidor espera 200 ms antes do close(): o encerramento em 11 quadros do exercício"
            ),
        )]
    }

    fn roles(&self, _variant: Option<&str>) -> Vec<Role> {
        vec![Role::SERVER, Role::CLIENT]
    }

    fn act(&self, role: &str, variant: Option<&str>) -> io::Result<()> {
        let mut buf = [0u8; 1024];
        if role == "server" {
            // servidor.py: listen, accept one client, echo until it closes.
            let listener = net::listen(1)?;
            let (mut conn, _) = listener.accept()?;
            loop {
                // recv() returns 0 when the client's FIN has arrived.
                let n = conn.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                conn.write_all(&buf[..n])?;
            }
            if variant == Some("slow-close") {
                // Longer than the delayed-ACK timer (40 ms): the kernel
                // acknowledges the client's FIN on its own first.
                net::pause(200);
            }
            // Our FIN. Sent at once, it carries the ACK of theirs.
            drop(conn);
            return Ok(());
        }
        // cliente.py: connect, send the message, read the echo, close.
        let mut stream = net::connect()?;
        stream.write_all(EXERCISE_MESSAGE.as_bytes())?;
        let mut got = 0;
        while got < EXERCISE_MESSAGE.len() {
            match stream.read(&mut buf[got..])? {
                0 => break,
                n => got += n,
            }
        }
        // close(): the client's FIN, the first of the close.
        drop(stream);
        Ok(())
    }

    fn explain(&self, run: &Run, variant: Option<&str>) -> Vec<Point> {
        let tcp: Vec<_> = run.tcp().collect();
        let total = tcp.len();
        let flags = |i: usize, want: &[u16], not: &[u16]| {
            tcp.get(i)
                .is_some_and(|(_, t)| want.iter().all(|f| has(t, *f)) && not.iter().all(|f| !has(t, *f)))
        };
        let handshake = flags(0, &[SYN], &[ACK]) && flags(1, &[SYN, ACK], &[]) && flags(2, &[ACK], &[SYN]);
        let bytes = EXERCISE_MESSAGE.len();
        let chars = EXERCISE_MESSAGE.chars().count();
        let data = tcp.iter().find(|(_, t)| t.seg.payload_len() > 0 && run.sender(t) == Some("client"));
        let echo = tcp.iter().find(|(_, t)| t.seg.payload_len() > 0 && run.sender(t) == Some("server"));
        let first_fin = tcp.iter().find(|(_, t)| has(t, FIN));
        let (d, e) = (data.map_or(0, |(r, _)| r.no), echo.map_or(0, |(r, _)| r.no));
        let (fin, fin_by) = first_fin.map_or((0, None), |(r, t)| (r.no, run.sender(t)));
        let expected = if variant == Some("slow-close") { 11 } else { 10 };
        // The server's FIN and the ACK of the client's FIN in one segment.
        let rides =
            tcp.iter().any(|(_, t)| has(t, FIN) && run.sender(t) == Some("server") && t.ack.is_some())
                && !tcp.iter().any(|(r, t)| {
                    r.no > fin && run.sender(t) == Some("server") && !has(t, FIN) && t.seg.payload_len() == 0
                });
        let client_waits = run.time_wait.iter().any(|(local, _)| local.port() != super::PORT);
        let mut points = vec![
            Point::new(
                handshake,
                said!(
                    "Frames 1-3 are the three-way handshake: SYN from connect(), SYN-ACK from the \
                     server's kernel (before accept() returned), ACK. Nobody's code \
                     answered: the kernels did.",
                    "Os quadros 1-3 são o three-way handshake: SYN do connect(), SYN-ACK do kernel do \
                     servidor (antes de o accept() retornar), ACK. Nenhum código respondeu: os kernels \
                     responderam."
                ),
            ),
            Point::new(
                data.is_some_and(|(_, t)| t.seg.payload_len() as usize == bytes) && echo.is_some(),
                said!(
                    "Frame {d} carries the message: {bytes} bytes for {chars} characters (UTF-8: á, é, \
                     ú take two bytes). Frame {e} is the echo, sent by the server's send().",
                    "O quadro {d} leva a mensagem: {bytes} bytes para {chars} caracteres (UTF-8: á, é, \
                     ú ocupam dois bytes). O quadro {e} é o eco, enviado pelo send() do servidor."
                ),
            ),
            Point::new(
                fin_by == Some("client"),
                said!(
                    "Frame {fin}: the client's close() sends the first FIN. The server's recv() then \
                     returns 0, and its loop ends.",
                    "Quadro {fin}: o close() do cliente envia o primeiro FIN. O recv() do servidor \
                     então devolve 0, e o seu laço termina."
                ),
            ),
        ];
        if expected == 10 {
            points.push(Point::new(
                total == 10 && rides,
                said!(
                    "{total} frames, not the exercise's 11: the server closed at once, so its FIN \
                     carries the ACK of the client's FIN in one segment (the kernel delays a bare ACK \
                     a little, and the FIN caught up with it).",
                    "{total} quadros, não os 11 do exercício: o servidor fechou na hora, então o seu \
                     FIN leva o ACK do FIN do cliente num só segmento (o kernel atrasa um pouco um ACK \
                     sozinho, e o FIN o alcançou)."
                ),
            ));
        } else {
            points.push(Point::new(
                total == 11,
                said!(
                    "{total} frames, as in the exercise: the server waited before close(), so its \
                     kernel acknowledged the client's FIN on its own, and the server's FIN came later \
                     in a segment of its own.",
                    "{total} quadros, como no exercício: o servidor esperou antes do close(), então o \
                     seu kernel confirmou o FIN do cliente sozinho, e o FIN do servidor veio depois \
                     num segmento só seu."
                ),
            ));
        }
        points.push(Point::new(
            client_waits,
            said!(
                "Who closes first waits: the client's socket is now in TIME_WAIT (as `ss -tan state \
                 time-wait` lists it) for 60 s, so that a late segment of this connection is not \
                 taken for one of the next.",
                "Quem fecha primeiro espera: o socket do cliente está agora em TIME_WAIT (como `ss \
                 -tan state time-wait` lista) por 60 s, para que um segmento atrasado desta conexão \
                 não seja tomado por um da próxima."
            ),
        ));
        points
    }
}
