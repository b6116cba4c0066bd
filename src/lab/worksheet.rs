//! `--worksheet`: questions on this very capture, in the style of the
//! Kurose & Ross Wireshark TCP lab (initial sequence numbers, relative
//! and raw numbers, the RTT of each segment, the window), answered from
//! the packets: `--answers` prints the key for the teacher, without it
//! the sheet is for students (who answer from the `--pcap` file or the
//! table).

use std::time::Duration;

use super::Run;
use crate::console::Console;
use crate::i18n::Sentences;
use crate::trace::flow::{Row, TcpRow};
use crate::trace::packet::{ACK, FIN, SYN};

/// Questions only, or with their answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sheet {
    Questions,
    Answers,
}

/// One question, and its answer from this capture.
struct Item {
    question: Q,
    answer: Option<A>,
}

enum Q {
    /// Asked only when the capture has them (any connection):
    Resets,
    Resent,
    DupAcks,
    ZeroWindow,
    Probes,
    ClientIsn,
    ServerIsn,
    FirstData,
    Rtt,
    Window,
    Bytes,
    FirstFin,
}

enum A {
    /// Each RST: its frame and the port it came from.
    Resets(Vec<(usize, u16)>),
    /// Each segment sent again: its frame, the frame it repeats, the time between.
    Resent(Vec<(usize, usize, Duration)>),
    /// How many duplicate ACKs, and the frames.
    DupAcks(Vec<usize>),
    /// The frames that advertise a zero window, and the first update after.
    ZeroWindow {
        zero: Vec<usize>,
        update: Option<usize>,
    },
    /// Each keepalive probe: its frame and the time since the one before.
    Probes(Vec<(usize, Option<Duration>)>),
    Isn {
        frame: usize,
        raw: u32,
    },
    ServerIsn {
        frame: usize,
        raw: u32,
        ack: u32,
    },
    FirstData {
        frame: usize,
        seq: u32,
        raw: u32,
        len: u32,
    },
    /// Each data segment of the client: its frame, the frame of the ACK
    /// that covered it, and the time between.
    Rtt(Vec<(usize, usize, Duration)>),
    Window {
        frame: usize,
        raw: u16,
        scaled: u32,
        shift: Option<u8>,
    },
    Bytes(u64),
    FirstFin {
        frame: usize,
        client: bool,
    },
}

pub fn print(run: &Run, sheet: Sheet, pcap: bool, console: &Console) {
    let items = answer(run);
    console.say(&Title { pcap });
    let streams = run.streams();
    if let Some(stream) = chosen(run)
        && streams.len() > 1
    {
        let first = run.stream(stream).first().map_or(0, |(r, _)| r.no);
        let data = run.stream(stream).iter().any(|(_, t)| t.seg.payload_len() > 0);
        console.say(&Which { stream, first, of: streams.len(), data });
    }
    for (i, item) in items.iter().enumerate() {
        console.say(&Asked { n: i + 1, question: &item.question });
        if sheet == Sheet::Answers {
            console.say(&Answered { answer: item.answer.as_ref() });
        }
    }
}

/// The connection the questions are about: the first that carried data
/// (else the first that completed its handshake, else the first). Its
/// client is whoever sent the SYN.
fn chosen(run: &Run) -> Option<u32> {
    let streams = run.streams();
    let opened = |s: &u32| run.stream(*s).iter().any(|(_, t)| t.seg.has(SYN) && t.seg.has(ACK));
    let carried = |s: &u32| opened(s) && run.stream(*s).iter().any(|(_, t)| t.seg.payload_len() > 0);
    streams
        .iter()
        .find(|s| carried(s))
        .or_else(|| streams.iter().find(|s| opened(s)))
        .or(streams.first())
        .copied()
}

fn answer(run: &Run) -> Vec<Item> {
    let stream = chosen(run);
    let segs: Vec<(&Row, &TcpRow)> = stream.map(|s| run.stream(s)).unwrap_or_default();
    let syn = segs.iter().find(|(_, t)| t.seg.has(SYN) && !t.seg.has(ACK));
    let client = syn.map(|(_, t)| t.seg.src);
    let from_client = |t: &TcpRow| Some(t.seg.src) == client;
    let syn_ack = segs.iter().find(|(_, t)| t.seg.has(SYN) && t.seg.has(ACK));
    let data: Vec<&(&Row, &TcpRow)> =
        segs.iter().filter(|(_, t)| from_client(t) && t.seg.payload_len() > 0 && !t.tags.resent()).collect();
    // As Wireshark measures it: each ACK that acknowledges new data, and
    // the segment (its first copy) that ends exactly there, a FIN counting
    // one. (TCP itself takes no sample from a segment sent again, Karn's
    // rule: which copy was acknowledged cannot be told.)
    let mut highest = 0u32;
    let mut rtts = Vec::new();
    for (ack_row, a) in segs.iter().filter(|(_, a)| !from_client(a)) {
        let Some(ack) = a.ack else { continue };
        if ack.wrapping_sub(highest) as i32 <= 0 {
            continue;
        }
        highest = ack;
        let acked = data.iter().find(|(row, t)| {
            let end = t.seq.wrapping_add(t.seg.payload_len()).wrapping_add(u32::from(t.seg.has(FIN)));
            row.no < ack_row.no && end == ack
        });
        if let Some((row, _)) = acked {
            rtts.push((row.no, ack_row.no, ack_row.ts.saturating_sub(row.ts)));
        }
    }
    let shift = syn_ack.and_then(|(_, t)| {
        t.seg.options.iter().find_map(|o| match o {
            crate::trace::packet::TcpOpt::WindowScale(s) => Some(*s),
            _ => None,
        })
    });
    vec![
        Item { question: Q::ClientIsn, answer: syn.map(|(r, t)| A::Isn { frame: r.no, raw: t.seg.seq }) },
        Item {
            question: Q::ServerIsn,
            answer: syn_ack.map(|(r, t)| A::ServerIsn { frame: r.no, raw: t.seg.seq, ack: t.seg.ack }),
        },
        Item {
            question: Q::FirstData,
            answer: data.first().map(|(r, t)| A::FirstData {
                frame: r.no,
                seq: t.seq,
                raw: t.seg.seq,
                len: t.seg.payload_len(),
            }),
        },
        Item { question: Q::Rtt, answer: Some(A::Rtt(rtts)) },
        Item {
            question: Q::Window,
            answer: syn_ack.map(|(r, t)| A::Window {
                frame: r.no,
                raw: t.seg.window,
                scaled: t.window,
                shift,
            }),
        },
        Item {
            question: Q::Bytes,
            answer: Some(A::Bytes(data.iter().map(|(_, t)| u64::from(t.seg.payload_len())).sum())),
        },
        Item {
            question: Q::FirstFin,
            answer: segs
                .iter()
                .find(|(_, t)| t.seg.has(FIN))
                .map(|(r, t)| A::FirstFin { frame: r.no, client: from_client(t) }),
        },
    ]
    .into_iter()
    .chain(whole_capture(run))
    .collect()
}

/// Questions on what this capture shows beyond one exchange (every
/// connection), asked only when it has them: resets, segments sent again,
/// duplicate ACKs, zero windows, keepalive probes — Wireshark's analysis
/// flags, to be found with its display filters.
fn whole_capture(run: &Run) -> Vec<Item> {
    use crate::trace::packet::RST;
    let all: Vec<(&Row, &TcpRow)> = run.tcp().collect();
    let mut items = Vec::new();
    let resets: Vec<(usize, u16)> =
        all.iter().filter(|(_, t)| t.seg.has(RST)).map(|(r, t)| (r.no, t.seg.src.port())).collect();
    if !resets.is_empty() {
        items.push(Item { question: Q::Resets, answer: Some(A::Resets(resets)) });
    }
    let resent: Vec<(usize, usize, Duration)> = all
        .iter()
        .filter(|(_, t)| t.tags.resent())
        .filter_map(|(r, t)| {
            // The first segment from the same end of the same connection
            // with the same (relative) sequence number, length and flags
            // (a bare ACK shares its Seq).
            let (first, _) = all.iter().find(|(o, u)| {
                o.no < r.no
                    && u.stream == t.stream
                    && u.seg.src == t.seg.src
                    && u.seq == t.seq
                    && u.seg.payload_len() == t.seg.payload_len()
                    && u.seg.flags == t.seg.flags
                    && !u.tags.resent()
            })?;
            Some((r.no, first.no, r.ts.saturating_sub(first.ts)))
        })
        .collect();
    if !resent.is_empty() {
        items.push(Item { question: Q::Resent, answer: Some(A::Resent(resent)) });
    }
    let dups: Vec<usize> = all.iter().filter(|(_, t)| t.tags.dup_ack.is_some()).map(|(r, _)| r.no).collect();
    if !dups.is_empty() {
        items.push(Item { question: Q::DupAcks, answer: Some(A::DupAcks(dups)) });
    }
    let zero: Vec<usize> = all.iter().filter(|(_, t)| t.tags.zero_window).map(|(r, _)| r.no).collect();
    if let Some(&first) = zero.first() {
        let update = all.iter().find(|(r, t)| r.no > first && t.tags.window_update).map(|(r, _)| r.no);
        items.push(Item { question: Q::ZeroWindow, answer: Some(A::ZeroWindow { zero, update }) });
    }
    let probes: Vec<&(&Row, &TcpRow)> = all.iter().filter(|(_, t)| t.tags.keep_alive).collect();
    if !probes.is_empty() {
        let spaced = probes
            .iter()
            .enumerate()
            .map(|(i, (r, _))| (r.no, i.checked_sub(1).map(|j| r.ts.saturating_sub(probes[j].0.ts))))
            .collect();
        items.push(Item { question: Q::Probes, answer: Some(A::Probes(spaced)) });
    }
    items
}

/// "4, 5, 9" from frame numbers.
fn list(frames: &[usize]) -> String {
    frames.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
}

/// Milliseconds under a second, else seconds, with three decimals (a
/// decimal comma in Portuguese).
fn secs(d: &Duration, pt: bool) -> String {
    let text = if d.as_secs() == 0 {
        format!("{:.3} ms", d.as_secs_f64() * 1000.0)
    } else {
        format!("{:.3} s", d.as_secs_f64())
    };
    if pt { text.replace('.', ",") } else { text }
}

struct Title {
    /// The capture is kept in a file (`--pcap`).
    pcap: bool,
}

impl Sentences for Title {
    fn en(&self) -> String {
        if self.pcap {
            "── worksheet: answer from this capture (the table above, or the --pcap file in Wireshark) ──"
                .into()
        } else {
            "── worksheet: the table above has relative numbers only; for the raw ones, and to keep this \
             capture (each run has new numbers), add --pcap FILE and open it in Wireshark ──"
                .into()
        }
    }

    fn pt(&self) -> String {
        if self.pcap {
            "── lista de exercícios: responda a partir desta captura (a tabela acima, ou o arquivo --pcap no \
             Wireshark) ──"
                .into()
        } else {
            "── lista de exercícios: a tabela acima só tem números relativos; para os brutos, e para guardar \
             esta captura (cada execução tem números novos), junte --pcap ARQUIVO e abra no Wireshark ──"
                .into()
        }
    }
}

/// Which connection the questions are about, when there are several.
struct Which {
    stream: u32,
    first: usize,
    of: usize,
    /// It carried data (else: none did).
    data: bool,
}

impl Sentences for Which {
    fn en(&self) -> String {
        let why = if self.data { "the first that carried data" } else { "none carried data" };
        format!(
            "(Questions 1-7 are about connection {} of {}, tcp.stream == {}, from frame {}: {why}.)",
            self.stream + 1,
            self.of,
            self.stream,
            self.first
        )
    }

    fn pt(&self) -> String {
        let why = if self.data { "a primeira que levou dados" } else { "nenhuma levou dados" };
        format!(
            "(As perguntas 1-7 são sobre a conexão {} de {}, tcp.stream == {}, a partir do quadro {}: {why}.)",
            self.stream + 1,
            self.of,
            self.stream,
            self.first
        )
    }
}

struct Asked<'a> {
    n: usize,
    question: &'a Q,
}

impl Sentences for Asked<'_> {
    fn en(&self) -> String {
        let q = match self.question {
            Q::ClientIsn => {
                "What is the client's initial sequence number (ISN), raw as on the wire? In which \
                 frame? (Wireshark shows it as relative 0.)"
            }
            Q::ServerIsn => {
                "What is the server's ISN (raw), in which frame, and what acknowledgement number does \
                 that segment carry? Why that value?"
            }
            Q::FirstData => {
                "Which frame carries the client's first data? Give its relative and its raw sequence \
                 numbers and its length."
            }
            Q::Rtt => {
                "For each data segment of the client, which frame acknowledges it, and what is the \
                 RTT (time from the segment to its ACK)? (As Wireshark's tcp.analysis.ack_rtt: the \
                 segment an ACK ends at, timed from its first copy; TCP itself takes no sample from a \
                 segment sent again: Karn's rule.)"
            }
            Q::Window => {
                "What receive window does the server advertise in its SYN-ACK (the raw field), \
                 and which window scale does it offer?"
            }
            Q::Bytes => "How many bytes of data did the client send in all?",
            Q::FirstFin => "Which frame is the first FIN, and who sent it?",
            Q::Resets => "Which frames are resets (RST), and from which port? (Filter: tcp.flags.reset == 1)",
            Q::Resent => {
                "Which frames are a segment sent again, which frame does each repeat, and how long after it? \
                 (Filter: tcp.analysis.retransmission or tcp.analysis.fast_retransmission)"
            }
            Q::DupAcks => {
                "How many duplicate ACKs are there, in which frames? (Filter: tcp.analysis.duplicate_ack)"
            }
            Q::ZeroWindow => {
                "Which frames advertise a zero window, and which frame opens it again? (Filters: \
                 tcp.analysis.zero_window, tcp.analysis.window_update)"
            }
            Q::Probes => {
                "Which frames does Wireshark flag as keep-alive (probes of an idle connection, or of a \
                 closed window), and how far apart? (Filter: tcp.analysis.keep_alive)"
            }
        };
        format!("{}. {q}", self.n)
    }

    fn pt(&self) -> String {
        let q = match self.question {
            Q::ClientIsn => {
                "Qual é o número de sequência inicial (ISN) do cliente, bruto como vai no fio? Em qual \
                 quadro? (O Wireshark o mostra como 0 relativo.)"
            }
            Q::ServerIsn => {
                "Qual é o ISN do servidor (bruto), em qual quadro, e que número de confirmação esse \
                 segmento leva? Por que esse valor?"
            }
            Q::FirstData => {
                "Qual quadro leva os primeiros dados do cliente? Dê os números de sequência relativo e \
                 bruto e o comprimento."
            }
            Q::Rtt => {
                "Para cada segmento de dados do cliente, qual quadro o confirma, e qual é o RTT (tempo \
                 do segmento até o seu ACK)? (Como o tcp.analysis.ack_rtt do Wireshark: o segmento em \
                 que um ACK termina, contado da sua primeira cópia; o próprio TCP não tira amostra de um \
                 segmento reenviado: a regra de Karn.)"
            }
            Q::Window => {
                "Que janela de recepção o servidor anuncia no seu SYN-ACK (o campo bruto), e \
                 qual escala de janela ele oferece?"
            }
            Q::Bytes => "Quantos bytes de dados o cliente enviou ao todo?",
            Q::FirstFin => "Qual quadro é o primeiro FIN, e quem o enviou?",
            Q::Resets => "Quais quadros são resets (RST), e de qual porta? (Filtro: tcp.flags.reset == 1)",
            Q::Resent => {
                "Quais quadros são um segmento reenviado, qual quadro cada um repete, e quanto tempo depois? \
                 (Filtro: tcp.analysis.retransmission or tcp.analysis.fast_retransmission)"
            }
            Q::DupAcks => {
                "Quantos ACKs duplicados há, em quais quadros? (Filtro: tcp.analysis.duplicate_ack)"
            }
            Q::ZeroWindow => {
                "Quais quadros anunciam uma janela zero, e qual quadro a abre de novo? (Filtros: \
                 tcp.analysis.zero_window, tcp.analysis.window_update)"
            }
            Q::Probes => {
                "Quais quadros o Wireshark marca como keep-alive (sondas de uma conexão ociosa, ou de \
                 uma janela fechada), e a que distância um do outro? (Filtro: tcp.analysis.keep_alive)"
            }
        };
        format!("{}. {q}", self.n)
    }
}

struct Answered<'a> {
    answer: Option<&'a A>,
}

fn rtt_ms(d: &Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// The same with a decimal comma, as Portuguese writes it.
fn rtt_ms_pt(d: &Duration) -> String {
    rtt_ms(d).replace('.', ",")
}

impl Sentences for Answered<'_> {
    fn en(&self) -> String {
        let text = match self.answer {
            None => "(not in this capture)".to_string(),
            Some(A::Isn { frame, raw }) => format!("{raw} (frame {frame})"),
            Some(A::ServerIsn { frame, raw, ack }) => {
                format!(
                    "{raw} (frame {frame}); ack {ack}: the client's ISN + 1: the SYN takes one sequence number"
                )
            }
            Some(A::FirstData { frame, seq, raw, len }) => {
                format!("frame {frame}: relative seq {seq}, raw {raw}, {len} bytes")
            }
            Some(A::Rtt(rtts)) if rtts.is_empty() => "(no data segment was acknowledged)".into(),
            Some(A::Rtt(rtts)) => rtts
                .iter()
                .map(|(data, ack, rtt)| format!("frame {data} → ACK in frame {ack}: {}", rtt_ms(rtt)))
                .collect::<Vec<_>>()
                .join("; "),
            Some(A::Window { frame, raw, scaled, shift }) => match shift {
                Some(shift) => format!(
                    "{raw} (frame {frame}); window scale {shift} (×{}), applied from the next segment on \
                     (the SYN-ACK's own window is never scaled: {scaled})",
                    1u32 << shift
                ),
                None => format!("{raw} (frame {frame}); no window scaling"),
            },
            Some(A::Bytes(n)) => format!("{n} bytes"),
            Some(A::FirstFin { frame, client }) => {
                format!("frame {frame}, sent by the {}", if *client { "client" } else { "server" })
            }
            Some(A::Resets(resets)) => resets
                .iter()
                .map(|(f, port)| format!("frame {f} from port {port}"))
                .collect::<Vec<_>>()
                .join("; "),
            Some(A::Resent(resent)) => resent
                .iter()
                .map(|(f, first, d)| format!("frame {f} repeats frame {first}, {} later", secs(d, false)))
                .collect::<Vec<_>>()
                .join("; "),
            Some(A::DupAcks(frames)) => {
                format!(
                    "{}: {} {}",
                    frames.len(),
                    if frames.len() == 1 { "frame" } else { "frames" },
                    list(frames)
                )
            }
            Some(A::ZeroWindow { zero, update }) => match update {
                Some(u) => format!("zero window: frames {}; opened again by frame {u}", list(zero)),
                None => format!("zero window: frames {}; not opened again in this capture", list(zero)),
            },
            Some(A::Probes(probes)) => probes
                .iter()
                .map(|(f, gap)| match gap {
                    Some(d) => format!("frame {f} (+{})", secs(d, false)),
                    None => format!("frame {f}"),
                })
                .collect::<Vec<_>>()
                .join(", "),
        };
        format!("   → {text}")
    }

    fn pt(&self) -> String {
        let text = match self.answer {
            None => "(não está nesta captura)".to_string(),
            Some(A::Isn { frame, raw }) => format!("{raw} (quadro {frame})"),
            Some(A::ServerIsn { frame, raw, ack }) => {
                format!(
                    "{raw} (quadro {frame}); ack {ack}: o ISN do cliente + 1: o SYN ocupa um número de sequência"
                )
            }
            Some(A::FirstData { frame, seq, raw, len }) => {
                format!("quadro {frame}: seq relativo {seq}, bruto {raw}, {len} bytes")
            }
            Some(A::Rtt(rtts)) if rtts.is_empty() => "(nenhum segmento de dados foi confirmado)".into(),
            Some(A::Rtt(rtts)) => rtts
                .iter()
                .map(|(data, ack, rtt)| format!("quadro {data} → ACK no quadro {ack}: {}", rtt_ms_pt(rtt)))
                .collect::<Vec<_>>()
                .join("; "),
            Some(A::Window { frame, raw, scaled, shift }) => match shift {
                Some(shift) => format!(
                    "{raw} (quadro {frame}); escala de janela {shift} (×{}), aplicada a partir do próximo \
                     segmento (a janela do próprio SYN-ACK nunca é escalada: {scaled})",
                    1u32 << shift
                ),
                None => format!("{raw} (quadro {frame}); sem escala de janela"),
            },
            Some(A::Bytes(n)) => format!("{n} bytes"),
            Some(A::FirstFin { frame, client }) => {
                format!("quadro {frame}, enviado pelo {}", if *client { "cliente" } else { "servidor" })
            }
            Some(A::Resets(resets)) => resets
                .iter()
                .map(|(f, port)| format!("quadro {f} da porta {port}"))
                .collect::<Vec<_>>()
                .join("; "),
            Some(A::Resent(resent)) => resent
                .iter()
                .map(|(f, first, d)| format!("quadro {f} repete o quadro {first}, {} depois", secs(d, true)))
                .collect::<Vec<_>>()
                .join("; "),
            Some(A::DupAcks(frames)) => {
                format!(
                    "{}: {} {}",
                    frames.len(),
                    if frames.len() == 1 { "quadro" } else { "quadros" },
                    list(frames)
                )
            }
            Some(A::ZeroWindow { zero, update }) => match update {
                Some(u) => format!("janela zero: quadros {}; aberta de novo pelo quadro {u}", list(zero)),
                None => format!("janela zero: quadros {}; não foi aberta de novo nesta captura", list(zero)),
            },
            Some(A::Probes(probes)) => probes
                .iter()
                .map(|(f, gap)| match gap {
                    Some(d) => format!("quadro {f} (+{})", secs(d, true)),
                    None => format!("quadro {f}"),
                })
                .collect::<Vec<_>>()
                .join(", "),
        };
        format!("   → {text}")
    }
}
