//! keepalive: an idle connection, probed; then a peer that vanishes.
//!
//! With SO_KEEPALIVE, a connection silent for TCP_KEEPIDLE seconds gets a
//! probe: a segment with no data, one byte back in sequence, that the
//! peer's kernel must acknowledge. While the peer is there, each probe is
//! answered. Then the server "vanishes" (a firewall in the lab's namespace
//! drops everything it sends, as a cable pulled or a machine gone would):
//! the probes go unanswered, and after TCP_KEEPCNT of them the client's
//! kernel gives up, and its blocked recv() fails with ETIMEDOUT. Without
//! keepalive, that recv() would wait forever.

use std::io::{self, Read};
use std::time::Duration;

use nix::errno::Errno;

use super::{Point, Role, Run, gap, net, said};

pub struct Lab;

/// Probes unanswered before the client's kernel gives up.
const PROBES: u32 = 2;

impl super::Lab for Lab {
    fn name(&self) -> &'static str {
        "keepalive"
    }

    fn title(&self) -> super::Said {
        said!(
            "an idle connection's keepalive probes, and a peer that vanishes",
            "as sondas de keepalive de uma conexão ociosa, e um par que some"
        )
    }

    fn firewall(&self) -> bool {
        true
    }

    fn roles(&self, _variant: Option<&str>) -> Vec<Role> {
        vec![Role::SERVER, Role::CLIENT]
    }

    fn act(&self, role: &str, _variant: Option<&str>) -> io::Result<()> {
        if role == "server" {
            let listener = net::listen(1)?;
            let (_conn, _) = listener.accept()?;
            // Silent, but there: the kernel answers the probes.
            net::pause(2500);
            // Gone: from now on nothing it sends arrives.
            net::firewall_out(&[&format!("tcp sport {} drop", super::PORT)])?;
            net::pause(3000);
            return Ok(());
        }
        let mut stream = net::connect_with(super::PORT, |socket| {
            // Probe after 1 s of silence, every 1 s, give up after PROBES
            // unanswered (the system's defaults: 2 hours, 75 s, 9).
            let keepalive = socket2::TcpKeepalive::new()
                .with_time(Duration::from_secs(1))
                .with_interval(Duration::from_secs(1))
                .with_retries(PROBES);
            socket.set_tcp_keepalive(&keepalive)
        })?;
        // Waits for data that never comes, until keepalive gives up.
        let mut buf = [0u8; 16];
        match stream.read(&mut buf) {
            Err(e) if e.raw_os_error() == Some(libc::ETIMEDOUT) => Ok(()),
            other => Err(io::Error::other(format!("expected ETIMEDOUT, got {other:?}"))),
        }
    }

    fn explain(&self, run: &Run, _variant: Option<&str>) -> Vec<Point> {
        let probes: Vec<_> = run.sent_by("client").into_iter().filter(|(_, t)| t.tags.keep_alive).collect();
        let answers: Vec<_> = run.sent_by("server");
        // The first answer may be tagged [TCP Window Update]: its window
        // differs from the one the server last advertised (its SYN-ACK's).
        let first_update = probes
            .first()
            .and_then(|(p, _)| answers.iter().find(|(a, _)| a.no > p.no))
            .filter(|(_, t)| t.tags.window_update)
            .map(|(r, _)| r.no);
        let (update_en, update_pt) = match first_update {
            Some(no) => (
                format!(
                    "; frame {no}, the first, is tagged [TCP Window Update]: its window differs from the SYN-ACK's"
                ),
                format!(
                    "; o quadro {no}, a primeira, é marcado [TCP Window Update]: a janela dele difere da do SYN-ACK"
                ),
            ),
            None => (String::new(), String::new()),
        };
        // A probe is answered when an ACK from the server follows it
        // before the next probe.
        let answered: Vec<usize> = probes
            .iter()
            .filter(|(p, _)| {
                answers.iter().any(|(a, _)| a.no > p.no && gap(p, a) < Duration::from_millis(500))
            })
            .map(|(p, _)| p.no)
            .collect();
        let unanswered: Vec<usize> =
            probes.iter().map(|(p, _)| p.no).filter(|no| !answered.contains(no)).collect();
        let spacing: Vec<f64> = probes.windows(2).map(|w| gap(w[0].0, w[1].0).as_secs_f64()).collect();
        let second_apart = !spacing.is_empty() && spacing.iter().all(|s| (0.8..1.6).contains(s));
        let list = |v: &[usize]| v.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ");
        let (yes, no) = (list(&answered), list(&unanswered));
        let timed_out = run.reads_of("client").contains(&Err(Errno::ETIMEDOUT));
        let n = unanswered.len();
        let reset = run.sent_by("client").into_iter().find(|(_, t)| super::has(t, crate::trace::packet::RST));
        let r = reset.map_or(0, |(r, _)| r.no);
        vec![
            Point::new(
                !answered.is_empty() && second_apart,
                said!(
                    "The connection was idle: after 1 s of silence the client's kernel sent a keepalive \
                     probe, then one a second (frames {yes} were answered): no data, one byte back in \
                     sequence, and the server's kernel acknowledged each one while its program slept \
                     (Wireshark tags such answers [TCP Keep-Alive ACK]{update_en}).",
                    "A conexão estava ociosa: depois de 1 s de silêncio o kernel do cliente enviou uma \
                     sonda de keepalive, e depois uma por segundo (os quadros {yes} foram respondidos): \
                     sem dados, um byte para trás na sequência, e o kernel do servidor confirmou cada \
                     uma enquanto o seu programa dormia (o Wireshark marca essas respostas como [TCP \
                     Keep-Alive ACK]{update_pt})."
                ),
            ),
            Point::new(
                n as u32 >= PROBES && timed_out && r > 0,
                said!(
                    "Then the server vanished (a firewall drops what it sends): probes {no} went \
                     unanswered, and after {PROBES} of them the client's kernel gave up, with a RST \
                     (frame {r}) in case anyone still listens: its recv(), blocked all along, failed \
                     with ETIMEDOUT. Without keepalive it would still be waiting.",
                    "Então o servidor sumiu (um firewall descarta o que ele envia): as sondas {no} \
                     ficaram sem resposta, e depois de {PROBES} delas o kernel do cliente desistiu, com \
                     um RST (quadro {r}) caso alguém ainda escute: o seu recv(), bloqueado o tempo todo, \
                     falhou com ETIMEDOUT. Sem keepalive ele ainda estaria esperando."
                ),
            ),
        ]
    }
}
