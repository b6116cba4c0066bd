//! Fuzz target: any bytes, as a captured frame, through the decoder and the
//! Wireshark-style analysis. Both must never panic, whatever the input
//! (truncated headers, bad lengths, odd options).
//!
//! Run (nightly and cargo-fuzz): `cargo +nightly fuzz run decode -- -max_total_time=60`
#![no_main]

use std::time::Duration;

use eco::trace::flow::Analyzer;
use eco::trace::packet::{Link, decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, frame)) = data.split_first() else { return };
    let link = match selector % 3 {
        0 => Link::Ethernet,
        1 => Link::RawIp,
        _ => Link::LinuxSll,
    };
    // The same frame twice: the second pass exercises the analysis state
    // (retransmission, duplicate ACK) built by the first.
    let mut analyzer = Analyzer::default();
    for n in 0..2u64 {
        let row = analyzer.push(Duration::from_millis(n), frame.len() as u32, decode(link, frame));
        assert!(!row.info.to_string().is_empty() || row.tcp().is_none());
    }
});
