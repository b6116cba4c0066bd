//! Texto em português do Brasil para cada [`Msg`].

use std::io;

use super::{FrameList, Millis, Msg, Us, lost_percent};
use crate::error::{Doing, Error};
use crate::server::Refusal;
use crate::trace::exchange::AppEvent;
use crate::trace::flow::Phase;

pub(super) fn text(msg: &Msg<'_>) -> String {
    match msg {
        Msg::Waiting => "Aguardando conexão de um cliente ...".into(),
        Msg::Listening { addr, mode } => format!("escutando em {addr} (modo {mode})"),
        Msg::Connected { peer } => format!("Conectado em {peer}"),
        Msg::Closed => "Conexão fechada :)".into(),
        Msg::ConnectionFailed { peer, error } => {
            format!("a conexão com {peer} falhou: {}", io_reason(error))
        }
        Msg::AcceptFailed { error, retry_in } => format!(
            "aceitar uma conexão falhou: {}; nova tentativa em {} s",
            io_reason(error),
            retry_in.as_secs_f64()
        ),
        Msg::ShuttingDown { open, grace } => format!(
            "encerrando: nenhuma conexão nova; {open} conexão(ões) aberta(s) têm {} s para terminar",
            grace.as_secs_f64()
        ),
        Msg::Stopped { finished, cut } => format!(
            "encerrado: {finished} conexão(ões) terminaram dentro do prazo, {cut} cortada(s) no fim dele"
        ),
        Msg::MaxConnsReached { max } => format!(
            "--max-conns atingido ({max} abertas): novos clientes esperam no backlog do kernel até uma fechar"
        ),
        Msg::Refused { peer, refusal } => match refusal {
            Refusal::NotAllowed => format!("{peer} recusado: não permitido por --allow / --deny"),
            Refusal::PerIpLimit => format!("{peer} recusado: --max-conns-per-ip atingido para {}", peer.ip()),
        },
        Msg::ConnectionEnded { peer, reason } => match *reason {
            "idle_timeout" => format!("{peer} fechado: ocioso por mais que --idle-timeout"),
            "limit" => format!("{peer} fechado: --max-bytes atingido"),
            "shutdown" => format!("{peer} fechado: ainda aberto ao fim do prazo de encerramento"),
            other => format!("{peer} fechado: {other}"),
        },
        Msg::UdpDropped { count, details } => format!(
            "UDP: {count} datagrama(s) sem resposta no último segundo pela proteção contra reflexão ({details})"
        ),
        Msg::RoundTripLost { peer, seq, timeout } => {
            format!("sem resposta de {peer}: seq={seq} (esperou {} s)", timeout.as_secs_f64())
        }
        Msg::Echoed { message } => format!("Mensagem ecoada: {message}"),
        Msg::RoundTripTime { bytes, peer, seq, time } => {
            format!("{bytes} bytes de {peer}: seq={seq} tempo={} ms", Millis(*time))
        }
        Msg::RoundTripSummary { peer, sent, received, min, avg, max } => format!(
            "--- estatísticas de eco de {peer} ---\n\
             {sent} enviadas, {received} ecoadas, {}% perdidas, mín/méd/máx = {}/{}/{} ms",
            lost_percent(*sent, *received),
            Millis(*min),
            Millis(*avg),
            Millis(*max)
        ),
        Msg::DemoServerTitle { addr } => {
            format!("── servidor (eco server --mode single --once, em {addr}) ──")
        }
        Msg::DemoClientTitle { addr } => format!("── cliente (eco client, para {addr}) ──"),
        Msg::DemoWhatHappened => "── o que aconteceu ──".into(),
        Msg::DemoNetworkLevel => "Nível de rede, respondido pelo kernel: connect() enviou um \
             SYN, o kernel do servidor respondeu SYN-ACK e o ACK do cliente completou o \
             three-way handshake antes de accept() retornar; cada segmento de dados foi \
             confirmado (ACK)."
            .into(),
        Msg::DemoApplicationLevel { bytes } => format!(
            "Nível de aplicação, respondido pelo eco: o cliente enviou {bytes} bytes com \
             send(); o recv() do servidor os recebeu e o seu send() devolveu os mesmos bytes; \
             o cliente os leu e imprimiu o eco."
        ),
        Msg::DemoBytesVsChars { chars, bytes } => format!(
            "O TCP transporta bytes, não caracteres: a mensagem tem {chars} caracteres e \
             {bytes} bytes em UTF-8 (letras como á, é, ú ocupam dois bytes cada)."
        ),
        Msg::DemoCloseLevel => "Encerramento: o cliente chamou close() primeiro e enviou FIN; \
             o recv() do servidor retornou 0 bytes, então ele fechou o seu lado também (FIN); \
             cada FIN foi confirmado pelo outro lado."
            .into(),
        Msg::TraceTitle { addr, mode } => format!("── pacotes em lo: {addr}, servidor no modo {mode} ──"),
        Msg::TraceColumns => "Nº|Tempo|Origem|Destino|Protocolo|Tamanho|Info".into(),
        Msg::TraceEvent { event } => match event {
            AppEvent::ConnectCalled => "cliente: connect() chamado: o kernel envia SYN".into(),
            AppEvent::ConnectReturned => "cliente: connect() retornou: o handshake está completo".into(),
            AppEvent::Sent(n) => format!("cliente: send() entregou {n} bytes ao kernel"),
            AppEvent::EchoReceived(n) => format!("cliente: recv() recebeu o eco de {n} bytes"),
            AppEvent::CloseCalled => "cliente: close() chamado: o kernel envia FIN".into(),
        },
        Msg::TracePhasesTitle => "── fases ──".into(),
        Msg::TracePhase { phase } => phase_text(phase),
        Msg::TraceTcpInfoTitle => "── TCP_INFO do socket do cliente, antes de close() ──".into(),
        Msg::TraceTcpInfo { info } => format!(
            "rtt {} ms (±{} ms), rto {} ms, cwnd {} segmentos, retransmissões {}, \
             segmentos enviados {} / recebidos {}, bytes confirmados {} / recebidos {}",
            Millis(info.rtt),
            Millis(info.rttvar),
            Millis(info.rto),
            info.snd_cwnd,
            info.total_retrans,
            info.segs_out,
            info.segs_in,
            info.bytes_acked,
            info.bytes_received
        ),
        Msg::TracePcapWritten { path, frames } => format!("{frames} pacotes gravados em {path}"),
        Msg::TraceConnectionTitle { a, b } => format!("── conexão {a} ↔ {b} ──"),
        Msg::TraceAttached { port } => format!(
            "observando a porta TCP {port} em lo; cada conexão aparece quando fecha (Ctrl-C para parar)"
        ),
        Msg::DemoNoCapture => "(Para ver os próprios pacotes, rode `eco demo` como root, ou onde \
             namespaces de usuário são permitidos.)"
            .into(),
        Msg::BenchTitle { report: r } => format!(
            "eco bench: {}{}, {}, {} conexão(ões), {} B, {:.1} s medidos após {:.1} s de aquecimento",
            r.target,
            r.server_mode.as_ref().map(|m| format!(" (eco server --mode {m})")).unwrap_or_default(),
            r.kind,
            r.connections,
            r.size,
            r.duration_s,
            r.warmup_s
        ),
        Msg::BenchThroughput { report: r } => match r.kind.as_str() {
            "connect-rate" => format!("  Conexões:    {:.0}/s", r.rate),
            "bulk" => format!("  Vazão:       {:.3} GiB/s em cada sentido", r.mib_per_s / 1024.0),
            _ => format!("  Mensagens:   {:.0}/s ({:.2} MiB/s em cada sentido)", r.rate, r.mib_per_s),
        },
        Msg::BenchLatency { report: r } => {
            let l = &r.latency_us;
            let what = match r.kind.as_str() {
                "rate" => "Latência*:",
                "bulk" => "Transferência:",
                "connect-rate" => "Troca:",
                _ => "Latência:",
            };
            let mut text = format!(
                "  {what:<12} p50 {} µs, p90 {} µs, p99 {} µs, p99.9 {} µs, máx {} µs (média {} ± n={})",
                Us(l.p50),
                Us(l.p90),
                Us(l.p99),
                Us(l.p99_9),
                Us(l.max),
                Us(l.mean),
                l.count
            );
            if r.kind == "rate" {
                text.push_str(
                    "\n  * a partir do horário previsto de cada mensagem (corrigido para omissão coordenada)",
                );
            }
            text
        }
        Msg::BenchConnect { report: r } => format!(
            "  Conexão:     p50 {} µs, p99 {} µs, máx {} µs",
            Us(r.connect_us.p50),
            Us(r.connect_us.p99),
            Us(r.connect_us.max)
        ),
        Msg::BenchFairness { report: r } => format!(
            "  Equidade:    mensagens por conexão mín {} / mediana {} / máx {}",
            r.fairness.min, r.fairness.median, r.fairness.max
        ),
        Msg::BenchServerCpu { seconds, per_message_us } => {
            format!("  CPU do servidor: {seconds:.3} s ({per_message_us:.2} µs por mensagem)")
        }
        Msg::BenchServerCpuBulk { seconds, per_gib_s } => {
            format!("  CPU do servidor: {seconds:.3} s ({per_gib_s:.3} s por GiB)")
        }
        Msg::BenchErrors { report: r } => {
            let e = &r.errors;
            let mut text = if e.total() == 0 {
                "  Erros:       nenhum, cada eco conferido".to_string()
            } else {
                format!(
                    "  Erros:       {} (truncados {}, corrompidos {}, fora de ordem {}, tempo esgotado {}, conexão {}, E/S {})",
                    e.total(),
                    e.truncated,
                    e.corrupted,
                    e.reordered,
                    e.timeout,
                    e.connect,
                    e.io
                )
            };
            if e.lost > 0 {
                text.push_str(&format!("; {} datagrama(s) perdido(s)", e.lost));
            }
            if r.short_reads > 0 {
                text.push_str(&format!(
                    "; {} eco(s) chegaram em várias leituras (normal no TCP)",
                    r.short_reads
                ));
            }
            text
        }
        Msg::BenchCompareHeader => format!(
            "{:<8} {:>10} {:>10} {:>10} {:>10} {:>12}  {}",
            "modo", "msgs/s", "p50 µs", "p99 µs", "p99.9 µs", "CPU µs/msg", "relativo"
        ),
        Msg::BenchCompareRow { report: r, relative } => format!(
            "{:<8} {:>10.0} {:>10} {:>10} {:>10} {:>12}  {}",
            r.server_mode.as_deref().unwrap_or("?"),
            r.rate,
            Us(r.latency_us.p50).to_string(),
            Us(r.latency_us.p99).to_string(),
            Us(r.latency_us.p99_9).to_string(),
            r.server_cpu_us_per_msg.map_or("–".into(), |c| format!("{c:.2}")),
            if *relative <= 1.0 {
                "o mais rápido".to_string()
            } else {
                format!("{relative:.2}× mais lento")
            }
        ),
        Msg::Error(error) => error_text(error),
        Msg::Raw(text) => (*text).into(),
    }
}

fn phase_text(phase: &Phase) -> String {
    let side = |client: bool| if client { "cliente" } else { "servidor" };
    match phase {
        Phase::Handshake { frames } => format!(
            "{}: Three-way handshake (SYN, SYN-ACK, ACK): os kernels combinam os números de \
             sequência iniciais e as opções antes de qualquer dado; connect() retorna depois dele.",
            FrameList(frames)
        ),
        Phase::Data { frames, client_bytes, server_bytes, retransmissions } => {
            let mut text = format!(
                "{}: Dados e ACKs: o cliente enviou {client_bytes} bytes, o servidor ecoou \
                 {server_bytes} bytes, e o kernel de cada lado confirmou (ACK) o que recebeu.",
                FrameList(frames)
            );
            if *retransmissions > 0 {
                text.push_str(&format!(
                    " {retransmissions} segmento(s) se perderam e foram reenviados (retransmissão)."
                ));
            }
            text
        }
        Phase::Close { frames, client_first } if frames.len() >= 4 => format!(
            "{}: Encerramento em quatro vias: FIN do {first}, ACK do {other}, FIN do {other}, ACK do {first}.",
            FrameList(frames),
            first = side(*client_first),
            other = side(!*client_first)
        ),
        Phase::Close { frames, client_first } => format!(
            "{}: Encerramento em três segmentos: FIN do {first}; FIN do {other} levando o ACK dele \
             (o Linux atrasa esse ACK, e a aplicação fecha em seguida); ACK do {first}. A captura do \
             exercício mostra quatro segmentos: --ack-fin-apart envia esse ACK sozinho.",
            FrameList(frames),
            first = side(*client_first),
            other = side(!*client_first)
        ),
        Phase::Reset { frames, by_client } => format!(
            "{}: Reset: o {} enviou RST; a conexão foi abortada sem a troca de FINs.",
            FrameList(frames),
            side(*by_client)
        ),
    }
}

fn error_text(error: &Error) -> String {
    match error {
        Error::BadHost { host } => format!(
            "não foi possível resolver o host '{host}': informe um endereço IP como \
             127.0.0.1 ou ::1, ou um nome que esta máquina conheça (veja /etc/hosts)"
        ),
        Error::AddrInUse { addr } => format!(
            "o endereço {addr} já está em uso: pare o programa que escuta na porta {port} \
             (ss -ltnp 'sport = :{port}' mostra qual) ou escolha outra porta com --port",
            port = addr.port()
        ),
        Error::PortNeedsPrivilege { addr } => format!(
            "a porta {} é menor que 1024 e exige root ou CAP_NET_BIND_SERVICE: escolha uma \
             porta a partir de 1024, por exemplo --port 5050",
            addr.port()
        ),
        Error::AddrNotAvailable { addr } => format!(
            "o endereço {} não pertence a esta máquina: escute em 127.0.0.1, ::1, 0.0.0.0 \
             ou num endereço de uma de suas interfaces",
            addr.ip()
        ),
        Error::ConnectRefused { addr } => format!(
            "conexão com {addr} recusada: nada escuta ali. O `eco server --host {} --port {}` \
             está rodando?",
            addr.ip(),
            addr.port()
        ),
        Error::ConnectTimeout { addr, timeout } => format!(
            "nenhuma resposta de {addr} em {} s: confira o endereço e algum firewall no \
             caminho; --connect-timeout espera mais",
            timeout.as_secs_f64()
        ),
        Error::EchoTimeout { addr, timeout, got, expected } => format!(
            "o eco de {addr} não voltou em {} s ({got} de {expected} bytes): é um servidor \
             de eco? --timeout espera mais",
            timeout.as_secs_f64()
        ),
        Error::EchoShort { addr, got, expected } => format!(
            "{addr} fechou a conexão depois de ecoar {got} de {expected} bytes: é um \
             servidor de eco?"
        ),
        Error::EchoMismatch { addr, offset, sent, got } => format!(
            "o eco de {addr} difere do que foi enviado no byte {offset}: enviado \
             0x{sent:02x}, recebido 0x{got:02x}"
        ),
        Error::TraceNotLoopback { addr } => format!(
            "o eco trace captura em lo, então precisa de um endereço de loopback, não {}: use \
             127.0.0.1 ou ::1",
            addr.ip()
        ),
        Error::Capture { source } => format!("não foi possível capturar em lo: {}", io_reason(source)),
        Error::CaptureDenied { reason } => format!(
            "os pacotes não foram capturados ({reason}): rode `sudo eco trace`, ou uma vez \
             `sudo setcap cap_net_raw+ep \"$(command -v eco)\"`"
        ),
        Error::PcapRead { path, source } => {
            format!("não foi possível ler {} como pcap ou pcapng: {}", path.display(), io_reason(source))
        }
        Error::WriteFile { path, source } => {
            format!("não foi possível gravar {}: {}", path.display(), io_reason(source))
        }
        Error::DatagramTooLong { len } => format!(
            "uma mensagem de {len} bytes não cabe num datagrama UDP: envie no máximo 65507 bytes com --udp, ou use TCP"
        ),
        Error::BenchFailed { errors } => format!(
            "{} eco(s) deram errado (veja Erros acima): o servidor, ou algo no caminho, não é um eco fiel",
            errors.total()
        ),
        Error::BenchSize { size } => format!(
            "uma mensagem de {size} bytes não serve para o bench: use --size de {} (número de sequência, \
             id da conexão, checksum) a {} (para fluxos maiores, --bulk)",
            crate::bench::message::MIN_SIZE,
            crate::bench::message::MAX_SIZE
        ),
        Error::Io { doing, source } => {
            let reason = io_reason(source);
            match doing {
                Doing::Bind(addr) => format!("não foi possível escutar em {addr}: {reason}"),
                Doing::Connect(addr) => format!("não foi possível conectar a {addr}: {reason}"),
                Doing::Talk(addr) => format!("a conexão com {addr} falhou: {reason}"),
                Doing::Setup => reason,
            }
        }
    }
}

/// Os erros de socket mais comuns em palavras; os demais como o SO os diz.
fn io_reason(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionReset => "o outro lado reiniciou a conexão (RST)".into(),
        io::ErrorKind::BrokenPipe => "o outro lado fechou a conexão enquanto o eco escrevia".into(),
        io::ErrorKind::ConnectionAborted => "a conexão foi abortada".into(),
        io::ErrorKind::TimedOut => "tempo esgotado".into(),
        io::ErrorKind::UnexpectedEof => "o outro lado fechou a conexão cedo demais".into(),
        _ => error.to_string(),
    }
}
