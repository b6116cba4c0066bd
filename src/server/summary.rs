//! Events that can come by the thousand — refused connections, connections
//! reset or timed out, failing `accept` calls, unanswered datagrams,
//! dropped output lines — are told at
//! most about once a second, with counts: a flood must neither fill the log
//! nor slow the server down writing it.
//!
//! The first event of a quiet spell is told in full at once (who was
//! refused, and why); what follows within the second is counted, and a
//! ticker ([`Summary::tick`], once a second) tells the counts.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use super::Msg;
use super::conn::{EndKind, EndReason, Refusal};
use super::udp::Unanswered;
use crate::console::Console;
use crate::i18n::{Lang, Text};
use crate::proxy::ProxyProblem;

#[derive(Default)]
pub(crate) struct Summary {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// A refusal was told in full since the last tick: count the next ones.
    refusing: bool,
    refused: BTreeMap<Refusal, u64>,
    /// The same for connections that ended other than by the client's
    /// FIN, counted by reason (as the log names it).
    ending: bool,
    ended: BTreeMap<EndKind, u64>,
    /// `accept` has been failing: an episode, told when it starts, once a
    /// second while it lasts, and when it ends.
    accept_failing: Option<Failing>,
    unanswered: BTreeMap<Unanswered, u64>,
    /// Dropped output lines already told.
    dropped_told: u64,
}

/// An episode of failing `accept` calls.
struct Failing {
    since: Instant,
    attempts: u64,
    /// Failed attempts since the last tick.
    untold: u64,
    /// An `accept` worked since the last failure: if none fails until the
    /// next tick, the episode is over. (When descriptors run out, each
    /// closing connection frees one for one `accept`, and the next fails
    /// again: that is still the same episode.)
    worked: bool,
}

impl Summary {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A connection turned away right after `accept` (`detail`: what was
    /// wrong with its PROXY header).
    pub(crate) fn refused_for(
        &self,
        console: &Console,
        peer: SocketAddr,
        refusal: Refusal,
        detail: Option<&ProxyProblem>,
    ) {
        let mut state = self.state();
        let told = !state.refusing;
        if told {
            state.refusing = true;
        } else {
            *state.refused.entry(refusal).or_default() += 1;
        }
        drop(state);
        if told {
            console.note(&Msg::Refused { peer, refusal, detail });
        }
        // Every refusal in the log (at debug when the console only counted
        // it), with what was wrong.
        let detail = detail.map(|d| d.text(Lang::En)).unwrap_or_default();
        if told {
            tracing::info!(peer = %peer, reason = refusal.name(), detail, "connection refused");
        } else {
            tracing::debug!(peer = %peer, reason = refusal.name(), detail, "connection refused");
        }
    }

    /// A connection that ended other than by the client's FIN (reset,
    /// idle, a limit, an error): a note (a warning for an error).
    pub(crate) fn ended(&self, console: &Console, peer: SocketAddr, reason: &EndReason) {
        let Some(kind) = reason.kind() else { return };
        let mut state = self.state();
        if state.ending {
            *state.ended.entry(kind).or_default() += 1;
            return;
        }
        state.ending = true;
        drop(state);
        let msg = Msg::ConnectionEnded { peer, reason };
        if kind == EndKind::Error { console.warn(&msg) } else { console.note(&msg) }
    }

    /// A failed `accept` (out of descriptors, of memory, ...).
    pub(crate) fn accept_failed(&self, console: &Console, error: &io::Error) {
        let mut state = self.state();
        if let Some(failing) = &mut state.accept_failing {
            failing.attempts += 1;
            failing.untold += 1;
            failing.worked = false;
            return;
        }
        state.accept_failing = Some(Failing { since: Instant::now(), attempts: 1, untold: 0, worked: false });
        drop(state);
        console.warn(&Msg::AcceptFailed { error });
        tracing::warn!(error = %error, "accept failed");
    }

    /// A successful `accept` after failures (told at the next tick if no
    /// other fails meanwhile).
    pub(crate) fn accepted(&self) {
        if let Some(failing) = &mut self.state().accept_failing {
            failing.worked = true;
        }
    }

    /// A datagram the reflection guard left unanswered.
    pub(crate) fn unanswered(&self, why: Unanswered) {
        *self.state().unanswered.entry(why).or_default() += 1;
    }

    /// Once a second: tells what was counted since the last tick.
    pub(crate) fn tick(&self, console: &Console) {
        let mut state = self.state();
        let refused: Vec<(Refusal, u64)> = std::mem::take(&mut state.refused).into_iter().collect();
        // A second without refusals ends the spell: the next one is told in full.
        state.refusing = !refused.is_empty();
        let ended: Vec<(EndKind, u64)> = std::mem::take(&mut state.ended).into_iter().collect();
        state.ending = !ended.is_empty();
        let unanswered: Vec<(Unanswered, u64)> = std::mem::take(&mut state.unanswered).into_iter().collect();
        let (still_failing, recovered) = match &mut state.accept_failing {
            Some(failing) if failing.untold > 0 => (Some(std::mem::take(&mut failing.untold)), None),
            Some(failing) if failing.worked => (None, Some((failing.attempts, failing.since.elapsed()))),
            _ => (None, None),
        };
        if recovered.is_some() {
            state.accept_failing = None;
        }
        // Dropped lines are told once the reader has caught up (else the
        // telling would be dropped too, and the count lost with it).
        let dropped = console.dropped_lines();
        let newly_dropped = if console.backlogged() { 0 } else { dropped - state.dropped_told.min(dropped) };
        if newly_dropped > 0 {
            state.dropped_told = dropped;
        }
        drop(state);
        if !refused.is_empty() {
            console.note(&Msg::RefusedMore { counts: &refused });
            let count = |r| refused.iter().find(|(k, _)| *k == r).map_or(0, |(_, n)| *n);
            tracing::info!(
                not_allowed = count(Refusal::NotAllowed),
                per_ip_limit = count(Refusal::PerIpLimit),
                no_thread = count(Refusal::NoThread),
                proxy_header = count(Refusal::ProxyHeader),
                "connections refused in the last second"
            );
        }
        if !ended.is_empty() {
            let msg = Msg::EndedMore { counts: &ended };
            if ended.iter().any(|(kind, _)| *kind == EndKind::Error) {
                console.warn(&msg)
            } else {
                console.note(&msg)
            }
        }
        if !unanswered.is_empty() {
            console.note(&Msg::UdpUnanswered { counts: &unanswered });
            let details: Vec<String> =
                unanswered.iter().map(|(why, n)| format!("{}={n}", why.name())).collect();
            let count: u64 = unanswered.iter().map(|(_, n)| n).sum();
            tracing::info!(count, details = %details.join(" "), "udp datagrams not answered");
        }
        if let Some(attempts) = still_failing {
            console.warn(&Msg::AcceptStillFailing { attempts });
            tracing::warn!(attempts, "accept still failing");
        }
        if let Some((attempts, after)) = recovered {
            console.note(&Msg::AcceptRecovered { attempts, after });
            tracing::info!(attempts, after_s = after.as_secs_f64(), "accept works again");
        }
        if newly_dropped > 0 {
            console.warn(&Msg::LinesDropped { count: newly_dropped });
            tracing::warn!(count = newly_dropped, "output lines dropped: stdout or stderr not read in time");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn the_first_refusal_is_told_in_full_the_rest_counted_once_a_second() {
        let (console, _, err) = Console::capture(Lang::En);
        let summary = Summary::default();
        let peer: SocketAddr = "127.0.0.3:40000".parse().unwrap();
        for _ in 0..1000 {
            summary.refused_for(&console, peer, Refusal::NotAllowed, None);
        }
        summary.refused_for(&console, peer, Refusal::PerIpLimit, None);
        assert_eq!(err.text(), "eco: refused 127.0.0.3:40000: not allowed by --allow / --deny\n");
        summary.tick(&console);
        summary.tick(&console);
        summary.refused_for(&console, peer, Refusal::PerIpLimit, None);
        assert_eq!(
            err.text(),
            "eco: refused 127.0.0.3:40000: not allowed by --allow / --deny\n\
             eco: refused 1000 more connections in the last second: 999 not allowed by --allow / \
             --deny, 1 over --max-conns-per-ip\n\
             eco: refused 127.0.0.3:40000: --max-conns-per-ip reached for 127.0.0.3\n"
        );
    }

    #[test]
    fn accept_failures_are_told_once_then_counted_then_the_recovery() {
        let (console, _, err) = Console::capture(Lang::En);
        let summary = Summary::default();
        let error = io::Error::from_raw_os_error(24);
        for _ in 0..5 {
            summary.accept_failed(&console, &error);
        }
        summary.tick(&console);
        summary.tick(&console);
        // Works, fails, works, fails...: one episode.
        for _ in 0..10 {
            summary.accepted();
            summary.accept_failed(&console, &error);
        }
        summary.accepted();
        summary.tick(&console);
        summary.accepted();
        summary.tick(&console);
        summary.tick(&console);
        let text = err.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("eco: accepting a connection failed: Too many open files"), "{text}");
        assert_eq!(lines[1], "eco: accepting connections still fails (4 attempts in the last second)");
        assert_eq!(lines[2], "eco: accepting connections still fails (10 attempts in the last second)");
        assert!(lines[3].starts_with("eco: accepting connections works again, after 15 failed attempts"));
    }

    #[test]
    fn dropped_lines_are_told_with_their_full_count_once_the_reader_is_back() {
        use crate::console::{Captured, Level, Lossy, Stuck};
        let (unblock, wait) = std::sync::mpsc::channel();
        let written = Captured::default();
        let lossy = Lossy::spawn(Stuck(wait, written.clone()), "test-stuck");
        let console = Console::background(Lang::En, Level::Normal, lossy.clone());
        let summary = Summary::default();
        let lines = Lossy::QUEUE + 500;
        for second in 0..3 {
            for _ in 0..lines / 3 {
                console.note(&crate::i18n::Raw("busy"));
            }
            // The reader is still away: nothing told (it would be lost).
            summary.tick(&console);
            assert!(second < 2 || lossy.dropped() > 0);
        }
        let dropped = lossy.dropped();
        assert!(dropped >= 400, "{dropped}");
        // The reader comes back and catches up.
        std::thread::spawn(move || while unblock.send(()).is_ok() {});
        let started = std::time::Instant::now();
        while console.backlogged() && started.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        summary.tick(&console);
        console.flush(std::time::Duration::from_secs(10));
        let text = written.text();
        let told = text.lines().last().unwrap();
        assert_eq!(
            told,
            format!(
                "eco: {dropped} lines of output dropped: nobody read stdout or stderr in time (the server never waits for its logs)"
            )
        );
    }
}
