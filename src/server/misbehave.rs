//! Misbehaviour on demand: a server that is slow, stingy or rude on
//! purpose, for testing what clients and proxies do then (`--delay`,
//! `--throttle`, `--close-after`, `--reset-after`, `--stall-after`,
//! `--accept-delay`, and `--drop-percent` for UDP). The echo loop that
//! carries them out is [`super::custom`]; this file holds the plan and
//! its arithmetic.

use std::time::Duration;

/// What to do wrong, per connection (or datagram).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Misbehaviour {
    /// Wait this long before echoing each read's bytes...
    pub delay: Duration,
    /// ...give or take up to this much (uniformly).
    pub jitter: Duration,
    /// Echo at most this many bytes per second.
    pub throttle: Option<u64>,
    /// After echoing this many bytes, close (FIN).
    pub close_after: Option<u64>,
    /// After echoing this many bytes, reset (RST).
    pub reset_after: Option<u64>,
    /// After echoing this many bytes, stop reading (and so echoing): the
    /// client's bytes pile up in the kernel's buffers until its writes block.
    pub stall_after: Option<u64>,
    /// Wait this long before each `accept()`.
    pub accept_delay: Duration,
    /// UDP: leave this share of datagrams (0–100 %) unanswered, at random.
    pub drop_percent: f64,
}

/// What a connection does once it has echoed a number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Close,
    Reset,
    Stall,
}

impl Act {
    /// The option that asked for it.
    pub fn flag(self) -> &'static str {
        match self {
            Act::Close => "--close-after",
            Act::Reset => "--reset-after",
            Act::Stall => "--stall-after",
        }
    }
}

impl Misbehaviour {
    /// Whether any TCP misbehaviour is asked for (then connections take the
    /// custom echo loop).
    pub fn on_tcp(&self) -> bool {
        !self.delay.is_zero()
            || !self.jitter.is_zero()
            || self.throttle.is_some()
            || self.close_after.is_some()
            || self.reset_after.is_some()
            || self.stall_after.is_some()
    }

    /// The first act due, and after how many bytes (the smallest limit;
    /// at equal limits a reset beats a close beats a stall).
    pub fn next_act(&self) -> Option<(u64, Act)> {
        [(self.reset_after, Act::Reset), (self.close_after, Act::Close), (self.stall_after, Act::Stall)]
            .into_iter()
            .filter_map(|(at, act)| at.map(|at| (at, act)))
            .min_by_key(|&(at, _)| at)
    }

    /// The wait before one echo: `delay` ± up to `jitter`, never below zero.
    pub fn echo_delay(&self) -> Duration {
        if self.jitter.is_zero() {
            return self.delay;
        }
        let jitter = self.jitter.as_secs_f64();
        let offset = (fastrand::f64() * 2.0 - 1.0) * jitter;
        Duration::from_secs_f64((self.delay.as_secs_f64() + offset).max(0.0))
    }

    /// Whether to leave this datagram unanswered.
    pub fn drop_datagram(&self) -> bool {
        self.drop_percent > 0.0 && fastrand::f64() * 100.0 < self.drop_percent
    }

    /// The options in force, as the start-up note lists them.
    pub fn describe(&self) -> Vec<String> {
        let mut parts = Vec::new();
        if !self.delay.is_zero() || !self.jitter.is_zero() {
            let mut delay = format!("--delay {} ms", self.delay.as_millis());
            if !self.jitter.is_zero() {
                delay += &format!(" ± {} ms", self.jitter.as_millis());
            }
            parts.push(delay);
        }
        if let Some(rate) = self.throttle {
            parts.push(format!("--throttle {rate} B/s"));
        }
        for (at, act) in
            [(self.close_after, Act::Close), (self.reset_after, Act::Reset), (self.stall_after, Act::Stall)]
        {
            if let Some(at) = at {
                parts.push(format!("{} {at}", act.flag()));
            }
        }
        if !self.accept_delay.is_zero() {
            parts.push(format!("--accept-delay {} ms", self.accept_delay.as_millis()));
        }
        if self.drop_percent > 0.0 {
            parts.push(format!("--drop-percent {}", self.drop_percent));
        }
        parts
    }
}

/// `--throttle`: how long to wait before `bytes` more may go, after
/// `sent` bytes in `elapsed` at `rate` bytes per second (a budget that
/// does not save up: time spent waiting on the client does not buy a burst).
pub fn throttle_wait(rate: u64, sent: u64, elapsed: Duration) -> Duration {
    let due = Duration::from_secs_f64(sent as f64 / rate as f64);
    due.saturating_sub(elapsed)
}

/// `--throttle`: the most to write at once, a tenth of a second's worth
/// (at least one byte), so that the pace is smooth.
pub fn throttle_chunk(rate: u64) -> usize {
    usize::try_from(rate / 10).unwrap_or(usize::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smallest_limit_acts_first() {
        let plan = Misbehaviour { close_after: Some(10), reset_after: Some(20), ..Default::default() };
        assert_eq!(plan.next_act(), Some((10, Act::Close)));
        let plan = Misbehaviour { close_after: Some(10), reset_after: Some(10), ..Default::default() };
        assert_eq!(plan.next_act(), Some((10, Act::Reset)));
        assert_eq!(Misbehaviour::default().next_act(), None);
    }

    #[test]
    fn jitter_stays_within_its_bounds() {
        let plan = Misbehaviour {
            delay: Duration::from_millis(10),
            jitter: Duration::from_millis(20),
            ..Default::default()
        };
        for _ in 0..1000 {
            assert!(plan.echo_delay() <= Duration::from_millis(30));
        }
        assert!((0..1000).any(|_| plan.echo_delay().is_zero()), "below zero is clamped to zero");
    }

    #[test]
    fn throttle_paces_by_bytes_sent() {
        assert_eq!(throttle_wait(1000, 500, Duration::from_millis(100)), Duration::from_millis(400));
        assert_eq!(throttle_wait(1000, 500, Duration::from_secs(1)), Duration::ZERO);
        assert_eq!(throttle_chunk(5), 1);
        assert_eq!(throttle_chunk(10_000), 1000);
    }

    #[test]
    fn drops_follow_the_percentage() {
        let plan = Misbehaviour { drop_percent: 30.0, ..Default::default() };
        let dropped = (0..10_000).filter(|_| plan.drop_datagram()).count();
        assert!((2500..3500).contains(&dropped), "{dropped}");
        assert!(!Misbehaviour::default().drop_datagram());
    }
}
