//! time-wait: "Address already in use" after a restart.
//!
//! The server closes its connection first, so its side of it stays in
//! TIME_WAIT (60 s on Linux), on port 5050. Restarted at once, the server
//! cannot bind() 5050 again: EADDRINUSE. Setting SO_REUSEADDR only now
//! does not help on Linux: the connection in TIME_WAIT must have had it
//! too (an accepted socket inherits its listener's). A server that sets
//! it from the start (--try reuseaddr) restarts at once, the old
//! connection staying in TIME_WAIT, harmlessly: why every server sets it.

use std::io::{self, Read, Write};

use nix::errno::Errno;

use super::{Point, Role, Run, has, net, said};
use crate::trace::packet::FIN;
use crate::trace::syscalls::Op;

pub struct Lab;

impl super::Lab for Lab {
    fn name(&self) -> &'static str {
        "time-wait"
    }

    fn title(&self) -> super::Said {
        said!(
            "restart a server that closed first: \"Address already in use\", and SO_REUSEADDR",
            "reinicie um servidor que fechou primeiro: \"Address already in use\", e o SO_REUSEADDR"
        )
    }

    fn variants(&self) -> Vec<(&'static str, super::Said)> {
        vec![(
            "reuseaddr",
            said!(
                "the server sets SO_REUSEADDR from its first start: the restart works",
                "o servidor liga SO_REUSEADDR desde a primeira vez: o reinício funciona"
            ),
        )]
    }

    fn roles(&self, _variant: Option<&str>) -> Vec<Role> {
        vec![Role::SERVER, Role::CLIENT]
    }

    fn act(&self, role: &str, variant: Option<&str>) -> io::Result<()> {
        let reuse = variant == Some("reuseaddr");
        if role == "server" {
            // The first run of the server.
            let listener = net::listen_on(super::PORT, 1, reuse)?;
            serve_one_and_close_first(&listener)?;
            drop(listener);
            // "Restarted" at once, the same way.
            match net::listen_on(super::PORT, 1, reuse) {
                Ok(listener) => return serve_one_and_close_first(&listener),
                Err(e) if e.kind() == io::ErrorKind::AddrInUse && !reuse => {}
                Err(e) => return Err(e),
            }
            // SO_REUSEADDR now, on the new socket only: still refused.
            match net::listen_on(super::PORT, 1, true) {
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => return Ok(()),
                other => return Err(io::Error::other(format!("expected EADDRINUSE, got {other:?}"))),
            }
        }
        for message in [&b"first"[..], b"second"] {
            // The second time, a server that could not restart refuses.
            let Ok(mut stream) = net::connect() else { break };
            stream.write_all(message)?;
            // The echo, then the server's FIN (read returns 0).
            let mut echo = Vec::new();
            stream.read_to_end(&mut echo)?;
            drop(stream);
            // Time for the server to restart.
            net::pause(300);
        }
        Ok(())
    }

    fn explain(&self, run: &Run, variant: Option<&str>) -> Vec<Point> {
        let first = run.streams().first().map(|s| run.stream(*s)).unwrap_or_default();
        let fin = first.iter().find(|(_, t)| has(t, FIN));
        let (f, server_first) = fin.map_or((0, false), |(r, t)| (r.no, run.sender(t) == Some("server")));
        let binds: Vec<_> = run
            .calls_of("server")
            .into_iter()
            .filter(|c| matches!(c.op, Op::Bind(_)))
            .map(|c| c.result)
            .collect();
        let refused = binds.get(1) == Some(&Err(Errno::EADDRINUSE));
        let reuse = run
            .calls_of("server")
            .iter()
            .any(|c| matches!(&c.op, Op::SetOpt { name: "SO_REUSEADDR", value } if value == "1"));
        let second_served = run.streams().get(1).is_some_and(|s| {
            run.stream(*s).iter().any(|(_, t)| t.seg.payload_len() > 0 && run.sender(t) == Some("server"))
        });
        let waiting: Vec<String> = run
            .time_wait
            .iter()
            .filter(|(local, _)| local.port() == super::PORT)
            .map(|(local, remote)| format!("TIME-WAIT {local} {remote}"))
            .collect();
        let n = waiting.len();
        // The second client's connection, refused (default variation).
        let refused_again = run
            .streams()
            .get(1)
            .and_then(|s| run.stream(*s).into_iter().find(|(_, t)| has(t, crate::trace::packet::RST)))
            .map_or(0, |(r, _)| r.no);
        let list = waiting.join("; ");
        let closed_first = Point::new(
            server_first,
            said!(
                "The server closed first (its FIN is frame {f}): its side of the connection, on port \
                 5050, goes to TIME_WAIT for 60 s, so that a late segment is not taken for part of a \
                 new connection on the same ports.",
                "O servidor fechou primeiro (o seu FIN é o quadro {f}): o seu lado da conexão, na porta \
                 5050, vai para TIME_WAIT por 60 s, para que um segmento atrasado não seja tomado por \
                 parte de uma conexão nova nas mesmas portas."
            ),
        );
        let listed = Point::new(
            n >= 1,
            said!(
                "After the run, as `ss -tan state time-wait` shows them: {list}.",
                "Depois da execução, como `ss -tan state time-wait` os mostra: {list}."
            ),
        );
        if variant == Some("reuseaddr") {
            return vec![
                closed_first,
                Point::new(
                    reuse && binds.get(1) == Some(&Ok(0)) && second_served,
                    said!(
                        "With setsockopt(SO_REUSEADDR, 1) before each bind(), the restarted server's bind \
                         worked at once and the second client was served, the old connection still in \
                         TIME_WAIT: servers set it for this (Python: \
                         sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)).",
                        "Com setsockopt(SO_REUSEADDR, 1) antes de cada bind(), o bind do servidor \
                         reiniciado funcionou na hora e o segundo cliente foi atendido, a conexão antiga \
                         ainda em TIME_WAIT: servidores o ligam por isso (Python: \
                         sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1))."
                    ),
                ),
                listed,
            ];
        }
        vec![
            closed_first,
            Point::new(
                refused,
                said!(
                    "Restarted at once, the server's bind(127.0.0.1:5050) failed with EADDRINUSE, \
                     \"Address already in use\", though nothing listens there: the port is held by the \
                     connection in TIME_WAIT.",
                    "Reiniciado na hora, o bind(127.0.0.1:5050) do servidor falhou com EADDRINUSE, \
                     \"Address already in use\", embora nada escute ali: a porta está presa pela conexão \
                     em TIME_WAIT."
                ),
            ),
            Point::new(
                refused_again > 0,
                said!(
                    "Frame {refused_again}: the second client was refused (RST): with no bind, no \
                     listen, nothing listens on 5050 any more. The clients pay for the restart.",
                    "Quadro {refused_again}: o segundo cliente foi recusado (RST): sem bind, sem listen, \
                     nada mais escuta na 5050. Os clientes pagam pelo reinício."
                ),
            ),
            Point::new(
                reuse && binds.get(2) == Some(&Err(Errno::EADDRINUSE)),
                said!(
                    "setsockopt(SO_REUSEADDR, 1) on the new socket alone did not help: on Linux the \
                     connection in TIME_WAIT must have had it too (an accepted socket inherits its \
                     listener's). Set it from the start: --try reuseaddr.",
                    "setsockopt(SO_REUSEADDR, 1) só no socket novo não adiantou: no Linux a conexão em \
                     TIME_WAIT também precisa tê-lo (um socket aceito herda o do seu listener). Ligue-o \
                     desde o início: --try reuseaddr."
                ),
            ),
            listed,
        ]
    }
}

/// accept() one client, echo its message, and close first.
fn serve_one_and_close_first(listener: &std::net::TcpListener) -> io::Result<()> {
    let (mut conn, _) = listener.accept()?;
    let mut buf = [0u8; 1024];
    let n = conn.read(&mut buf)?;
    conn.write_all(&buf[..n])?;
    // close() before the client does: our FIN is the first.
    drop(conn);
    Ok(())
}
