//! Fuzz target: any bytes, as a captured frame of any link type eco reads,
//! through the decoder (with IP reassembly) and the Wireshark-style
//! analysis. Both must never panic, whatever the input (truncated headers,
//! bad lengths, odd options, fragments).
//!
//! Run: `bash fuzz/run 60` (or `cargo +nightly fuzz run decode`).
#![no_main]

use eco::trace::flow::Analyzer;
use eco::trace::packet::linktype;
use eco::trace::stamp::Stamp;
use libfuzzer_sys::fuzz_target;

const LINKS: [u32; 13] = [
    linktype::NULL,
    linktype::ETHERNET,
    linktype::PPP,
    linktype::RAW_12,
    linktype::RAW_14,
    linktype::PPP_HDLC,
    linktype::RAW,
    linktype::C_HDLC,
    linktype::LOOP,
    linktype::LINUX_SLL,
    linktype::IPV4,
    linktype::IPV6,
    linktype::LINUX_SLL2,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let link = LINKS[usize::from(selector) % LINKS.len()];
    // The second byte: how much longer the frame was on the wire.
    let Some((&extra, frame)) = rest.split_first() else { return };
    // The same frame three times: the later passes exercise the analysis
    // state (retransmission, duplicate ACK) and the reassembly built by
    // the first.
    let mut analyzer = Analyzer::default();
    for n in 0..3 {
        let row = analyzer.push_frame(
            Some(Stamp::from_nanos(n * 1_000_000)),
            link,
            frame,
            frame.len() as u32 + u32::from(extra),
        );
        let _ = row.info.to_string();
    }
});
