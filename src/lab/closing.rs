//! closing: three ways to end a connection, three different wires.
//!
//! 1. `shutdown(SHUT_WR)`, the half-close: the client says "I have sent
//!    everything" (FIN) and goes on reading; the echo still arrives, after
//!    its FIN. This is what an echo client must do (ncat users and tokio's
//!    echo examples hang for want of it).
//! 2. `close()` with data not yet read: the kernel cannot deliver those
//!    bytes to anyone, so it resets the connection (RST) instead of a FIN,
//!    and the peer's next recv() fails: "Connection reset by peer".
//! 3. `SO_LINGER` with a timeout of 0, then `close()`: an abortive close,
//!    RST at once, no FIN, no TIME_WAIT.

use std::io::{self, Read, Write};
use std::time::Duration;

use nix::errno::Errno;

use super::{Point, Role, Run, has, net, said};
use crate::trace::packet::{FIN, RST};
use crate::trace::syscalls::Op;

pub struct Lab;

impl super::Lab for Lab {
    fn name(&self) -> &'static str {
        "closing"
    }

    fn title(&self) -> super::Said {
        said!(
            "shutdown(SHUT_WR) half-close; close() with unread data → RST; SO_LINGER 0 → RST",
            "shutdown(SHUT_WR) e o half-close; close() com dados não lidos → RST; SO_LINGER 0 → RST"
        )
    }

    fn roles(&self, _variant: Option<&str>) -> Vec<Role> {
        vec![Role::SERVER, Role::CLIENT]
    }

    fn act(&self, role: &str, _variant: Option<&str>) -> io::Result<()> {
        let mut buf = [0u8; 1024];
        if role == "server" {
            let listener = net::listen(3)?;
            // 1. An echo server, a slow one (100 ms to answer): echo until
            // the client's FIN (recv → 0).
            let (mut conn, _) = listener.accept()?;
            loop {
                let n = conn.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                net::pause(100);
                conn.write_all(&buf[..n])?;
            }
            drop(conn);
            // 2. A server that closes without reading what arrived.
            let (conn, _) = listener.accept()?;
            net::pause(100);
            drop(conn);
            // 3. A client that aborts: the next recv() fails.
            let (mut conn, _) = listener.accept()?;
            let _ = conn.read(&mut buf);
            return Ok(());
        }
        // 1. Half-close: send, say "done sending" (FIN), then read the echo.
        let mut stream = net::connect()?;
        stream.write_all(b"half-close")?;
        stream.shutdown(std::net::Shutdown::Write)?;
        let mut echo = Vec::new();
        stream.read_to_end(&mut echo)?;
        drop(stream);
        // 2. Data the server never reads: its close() answers with RST.
        let mut stream = net::connect()?;
        stream.write_all(b"nobody reads this")?;
        stream.set_read_timeout(Some(Duration::from_secs(3)))?;
        match stream.read(&mut buf) {
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            other => return Err(io::Error::other(format!("expected a reset, got {other:?}"))),
        }
        drop(stream);
        // 3. SO_LINGER {on, 0 s}: close() discards and resets.
        let stream = net::connect()?;
        socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO))?;
        net::pause(50);
        drop(stream);
        Ok(())
    }

    fn explain(&self, run: &Run, _variant: Option<&str>) -> Vec<Point> {
        let streams = run.streams();
        let conn = |i: usize| streams.get(i).map(|s| run.stream(*s)).unwrap_or_default();
        // 1. The client's FIN, then the echo data from the server.
        let first = conn(0);
        let client_fin = first.iter().find(|(_, t)| has(t, FIN) && run.sender(t) == Some("client"));
        let echo = first.iter().find(|(_, t)| t.seg.payload_len() > 0 && run.sender(t) == Some("server"));
        let (f, e) = (client_fin.map_or(0, |(r, _)| r.no), echo.map_or(0, |(r, _)| r.no));
        let reads = run.reads_of("client");
        let half = f > 0 && e > f && reads.first() == Some(&Ok(10)) && reads.get(1) == Some(&Ok(0));
        // 2. The server's RST, no FIN from it; the client's recv fails.
        let second = conn(1);
        let server_rst = second.iter().find(|(_, t)| has(t, RST) && run.sender(t) == Some("server"));
        let server_fin = second.iter().any(|(_, t)| has(t, FIN) && run.sender(t) == Some("server"));
        let r2 = server_rst.map_or(0, |(r, _)| r.no);
        let reset_read = reads.contains(&Err(Errno::ECONNRESET));
        // 3. The client's RST and no FIN at all; the SO_LINGER call.
        let third = conn(2);
        let client_rst = third.iter().find(|(_, t)| has(t, RST) && run.sender(t) == Some("client"));
        let any_fin = third.iter().any(|(_, t)| has(t, FIN));
        let r3 = client_rst.map_or(0, |(r, _)| r.no);
        let linger = run.calls_of("client").iter().any(
            |c| matches!(&c.op, Op::SetOpt { name: "SO_LINGER", value } if value.contains("l_linger=0")),
        );
        vec![
            Point::new(
                half,
                said!(
                    "First connection: shutdown(SHUT_WR) sent the client's FIN (frame {f}) and the \
                     client went on reading: the echo came after it (frame {e}), then the server's \
                     FIN, and recv() returned 0. A FIN ends one direction only: that is the half-close.",
                    "Primeira conexão: shutdown(SHUT_WR) enviou o FIN do cliente (quadro {f}) e o \
                     cliente continuou lendo: o eco veio depois dele (quadro {e}), depois o FIN do \
                     servidor, e o recv() devolveu 0. Um FIN encerra uma só direção: isso é o half-close."
                ),
            ),
            Point::new(
                r2 > 0 && !server_fin && reset_read,
                said!(
                    "Second connection: the server closed without reading the 17 bytes that had \
                     arrived; its kernel could not hand them to anyone, so it sent RST (frame {r2}), not \
                     FIN, and the client's recv() failed with ECONNRESET, \"Connection reset by peer\".",
                    "Segunda conexão: o servidor fechou sem ler os 17 bytes que tinham chegado; o seu \
                     kernel não tinha a quem entregá-los, então enviou RST (quadro {r2}), não FIN, e o \
                     recv() do cliente falhou com ECONNRESET, \"Connection reset by peer\"."
                ),
            ),
            Point::new(
                r3 > 0 && !any_fin && linger,
                said!(
                    "Third connection: setsockopt(SO_LINGER, {{l_onoff=1, l_linger=0}}) then close(): \
                     an abortive close, RST at once (frame {r3}), no FIN and no TIME_WAIT. Handy for \
                     tests; in real programs it throws away whatever was not yet delivered.",
                    "Terceira conexão: setsockopt(SO_LINGER, {{l_onoff=1, l_linger=0}}) e depois \
                     close(): um encerramento abortivo, RST na hora (quadro {r3}), sem FIN e sem \
                     TIME_WAIT. Útil em testes; em programas de verdade joga fora o que ainda não foi \
                     entregue."
                ),
            ),
        ]
    }
}
