//! Capture times as Wireshark keeps them: whole seconds and nanoseconds
//! apart, the nanoseconds not always below a second.
//!
//! A pcap record stores seconds and a fraction (µs or ns) in two 32-bit
//! fields, and damaged or hand-made files put anything there (a fraction
//! of 2 147 483 648 µs). Wireshark scales the fraction in 32-bit
//! arithmetic and subtracts times field by field; eco does the same, so
//! that on such files its times are tshark's, not some other reading of
//! bytes that mean nothing. On sane files the result is the plain time.

use std::fmt;

const NS_PER_S: i64 = 1_000_000_000;

/// A time in seconds and nanoseconds, each with its own sign.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stamp {
    pub secs: i64,
    pub nsecs: i32,
}

impl Stamp {
    /// From a classic pcap record's fields: the fraction in µs (or in ns
    /// for a nanosecond file), scaled as a 32-bit number (so a fraction
    /// out of range wraps, as in Wireshark).
    pub fn from_pcap(secs: u32, fraction: u32, nanos: bool) -> Stamp {
        let nsecs = if nanos { fraction } else { fraction.wrapping_mul(1000) };
        Stamp { secs: i64::from(secs), nsecs: nsecs as i32 }
    }

    pub fn from_nanos(ns: i64) -> Stamp {
        Stamp { secs: ns.div_euclid(NS_PER_S), nsecs: ns.rem_euclid(NS_PER_S) as i32 }
    }

    /// In nanoseconds since the epoch: what the analysis compares.
    pub fn nanos(self) -> i64 {
        self.secs.saturating_mul(NS_PER_S).saturating_add(i64::from(self.nsecs))
    }

    /// `self − earlier`, field by field with one carry, so that both fields
    /// take the sign of the difference (Wireshark's `nstime_delta`).
    pub fn since(self, earlier: Stamp) -> Stamp {
        let secs = self.secs - earlier.secs;
        let mut nsecs = self.nsecs.wrapping_sub(earlier.nsecs);
        let mut secs = secs;
        if self.secs < earlier.secs && nsecs > 0 {
            nsecs -= NS_PER_S as i32;
            secs += 1;
        } else if self.secs > earlier.secs && nsecs < 0 {
            nsecs += NS_PER_S as i32;
            secs -= 1;
        }
        Stamp { secs, nsecs }
    }

    /// The number its text reads as (the fraction's digits after the point).
    pub fn seconds(self) -> f64 {
        self.to_string().parse().unwrap_or(0.0)
    }
}

impl fmt::Display for Stamp {
    /// `S.NNNNNNNNN`, with one minus sign if either part is negative.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.secs < 0 || self.nsecs < 0 { "-" } else { "" };
        write!(f, "{sign}{}.{:09}", self.secs.unsigned_abs(), self.nsecs.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_times_are_plain_differences() {
        let a = Stamp::from_pcap(100, 999_999, false);
        let b = Stamp::from_pcap(101, 1, false);
        assert_eq!(b.since(a).to_string(), "0.000002000");
        assert_eq!(a.since(b).to_string(), "-0.000002000");
        assert_eq!(Stamp::from_nanos(-1).to_string(), "-1.999999999");
        assert_eq!(Stamp::from_nanos(1_500_000_000).since(Stamp::default()).seconds(), 1.5);
    }

    /// tcpdump's tests `timestamp_invalid_micro` and `_nano`: fractions out
    /// of range, as tshark 4.0 shows them.
    #[test]
    fn fractions_out_of_range_read_as_in_tshark() {
        let first = Stamp::from_pcap(1_418_145_369, 999_999, false);
        assert_eq!(Stamp::from_pcap(1_418_145_370, 1_000_000, false).since(first).to_string(), "1.000001000");
        assert_eq!(
            Stamp::from_pcap(1_418_145_370, 2_147_483_648, false).since(first).to_string(),
            "0.000001000"
        );
        let first = Stamp::from_pcap(1_418_145_369, 999_999_999, true);
        assert_eq!(
            Stamp::from_pcap(1_418_145_370, 2_147_483_648, true).since(first).to_string(),
            "1.1147483649"
        );
    }
}
