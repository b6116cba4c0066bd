//! Fuzz target: any bytes as a capture file, read by the streaming reader
//! and analysed frame by frame. Never a panic, never an endless loop:
//! whatever a damaged or hostile file holds, the reader ends.
//!
//! Run: `bash fuzz/run 60 read`.
#![no_main]

use eco::trace::flow::Analyzer;
use eco::trace::pcap::{Reader, Record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = Reader::from_read(std::io::Cursor::new(data.to_vec())) else { return };
    let mut analyzer = Analyzer::default();
    while let Some(record) = reader.next_record() {
        let row = match record {
            Record::Packet(p) => analyzer.push_frame(p.ts, p.link, &p.data, p.orig_len),
            Record::Custom { pen, copy, len } => analyzer.push_custom(pen, copy, len),
        };
        let _ = row.info.to_string();
    }
});
