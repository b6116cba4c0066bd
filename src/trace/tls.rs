//! TLS records in a segment's payload, named as Wireshark's Info column
//! names them (`Client Hello`, `Server Hello, Change Cipher Spec,
//! Application Data`, `Alert (Level: Fatal, Description: Unknown CA)`):
//! the view of a TLS exchange above TCP's own Info.
//!
//! Only the records' 5-byte headers and the handshake messages' 4-byte
//! headers are read: the rest is encrypted, or not needed. Written out
//! rather than with `tls-parser`, which parses every message in depth (and
//! brings a second generation of proc-macro crates to the build) but
//! does not give Wireshark's names, the one thing needed here.
//!
//! As in Wireshark, a record is named in the segment where it ends; a
//! segment that only carries the start or the middle of a record has no
//! name (eco does not reassemble records across segments: those of an
//! echo exchange fit in one).

/// The largest record a TLS 1.2 / 1.3 peer may send: 2^14 bytes of
/// plaintext plus up to 2048 of expansion.
const MAX_RECORD: usize = (1 << 14) + 2048;

/// The names of the records complete in `payload`, joined with `, `, or
/// `None` if the payload does not start with a TLS record.
pub fn records(payload: &[u8]) -> Option<String> {
    let mut names: Vec<String> = Vec::new();
    let mut rest = payload;
    // After Change Cipher Spec, handshake records are encrypted.
    let mut encrypted = false;
    while rest.len() >= 5 {
        let (kind, major, minor) = (rest[0], rest[1], rest[2]);
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        // SSL 3.0 to TLS 1.3 all write 3.x in the record header.
        if !(20..=23).contains(&kind) || major != 3 || minor > 4 || len == 0 || len > MAX_RECORD {
            break;
        }
        if rest.len() < 5 + len {
            // It ends in a later segment.
            break;
        }
        let body = &rest[5..5 + len];
        match kind {
            20 => {
                names.push("Change Cipher Spec".into());
                encrypted = true;
            }
            21 if len == 2 && !encrypted => names.push(alert(body[0], body[1])),
            21 => names.push("Encrypted Alert".into()),
            22 if !encrypted => handshake(body, &mut names),
            22 => names.push("Encrypted Handshake Message".into()),
            _ => names.push("Application Data".into()),
        }
        rest = &rest[5 + len..];
    }
    (!names.is_empty()).then(|| names.join(", "))
}

/// The messages of a handshake record (TLS 1.2 packs several in one:
/// `Server Hello, Certificate, Server Key Exchange, Server Hello Done`).
/// A record whose messages do not fill it exactly is encrypted (TLS 1.2's
/// Finished, when its Change Cipher Spec came in an earlier segment).
fn handshake(body: &[u8], names: &mut Vec<String>) {
    let mut found = Vec::new();
    let mut rest = body;
    while rest.len() >= 4 {
        let len = usize::from(rest[1]) << 16 | usize::from(rest[2]) << 8 | usize::from(rest[3]);
        let Some(name) = handshake_name(rest[0]).filter(|_| 4 + len <= rest.len()) else { break };
        found.push(name.to_string());
        rest = &rest[4 + len..];
    }
    if found.is_empty() || !rest.is_empty() {
        names.push("Encrypted Handshake Message".into());
    } else {
        names.extend(found);
    }
}

fn handshake_name(kind: u8) -> Option<&'static str> {
    Some(match kind {
        0 => "Hello Request",
        1 => "Client Hello",
        2 => "Server Hello",
        4 => "New Session Ticket",
        5 => "End of Early Data",
        8 => "Encrypted Extensions",
        11 => "Certificate",
        12 => "Server Key Exchange",
        13 => "Certificate Request",
        14 => "Server Hello Done",
        15 => "Certificate Verify",
        16 => "Client Key Exchange",
        20 => "Finished",
        _ => return None,
    })
}

/// A plaintext alert: `Alert (Level: Fatal, Description: Protocol Version)`.
fn alert(level: u8, description: u8) -> String {
    let level = match level {
        1 => "Warning".to_string(),
        2 => "Fatal".to_string(),
        other => format!("Unknown ({other})"),
    };
    let description = match description {
        0 => "Close Notify",
        10 => "Unexpected Message",
        20 => "Bad Record MAC",
        22 => "Record Overflow",
        40 => "Handshake Failure",
        42 => "Bad Certificate",
        43 => "Unsupported Certificate",
        44 => "Certificate Revoked",
        45 => "Certificate Expired",
        46 => "Certificate Unknown",
        47 => "Illegal Parameter",
        48 => "Unknown CA",
        49 => "Access Denied",
        50 => "Decode Error",
        51 => "Decrypt Error",
        70 => "Protocol Version",
        71 => "Insufficient Security",
        80 => "Internal Error",
        86 => "Inappropriate Fallback",
        90 => "User Canceled",
        100 => "No Renegotiation",
        109 => "Missing Extension",
        110 => "Unsupported Extension",
        112 => "Unrecognized Name",
        116 => "Certificate Required",
        120 => "No Application Protocol",
        _ => "Unknown",
    };
    format!("Alert (Level: {level}, Description: {description})")
}

/// Whether a segment's records belong to the handshake (before the echo):
/// hellos, certificates, key exchange, the switch to encryption.
pub fn is_handshake(names: &str) -> bool {
    names.split(", ").any(|name| name != "Application Data" && !name.contains("Alert"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut r = vec![kind, 3, 3];
        r.extend_from_slice(&(body.len() as u16).to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    fn hs(kind: u8, len: usize) -> Vec<u8> {
        let mut m = vec![kind, 0, (len >> 8) as u8, len as u8];
        m.resize(4 + len, 0xaa);
        m
    }

    #[test]
    fn a_tls13_exchange_is_named_as_wireshark_names_it() {
        assert_eq!(records(&record(22, &hs(1, 200))).as_deref(), Some("Client Hello"));
        let server =
            [record(22, &hs(2, 90)), record(20, &[1]), record(23, &[7; 30]), record(23, &[7; 300])].concat();
        assert_eq!(
            records(&server).as_deref(),
            Some("Server Hello, Change Cipher Spec, Application Data, Application Data")
        );
        let tls12 = record(22, &[hs(2, 70), hs(11, 900), hs(12, 300), hs(14, 0)].concat());
        assert_eq!(
            records(&tls12).as_deref(),
            Some("Server Hello, Certificate, Server Key Exchange, Server Hello Done")
        );
        let finished = [record(20, &[1]), record(22, &hs(20, 12))].concat();
        assert_eq!(records(&finished).as_deref(), Some("Change Cipher Spec, Encrypted Handshake Message"));
        let client = [record(20, &[1]), record(23, &[9; 53])].concat();
        assert_eq!(records(&client).as_deref(), Some("Change Cipher Spec, Application Data"));
        assert_eq!(
            records(&record(21, &[2, 48])).as_deref(),
            Some("Alert (Level: Fatal, Description: Unknown CA)")
        );
        assert_eq!(records(&record(21, &[5; 26])).as_deref(), Some("Encrypted Alert"));
        // TLS 1.2's encrypted Finished: a handshake record that does not parse.
        assert_eq!(records(&record(22, &[0x3c; 40])).as_deref(), Some("Encrypted Handshake Message"));
    }

    #[test]
    fn plain_data_and_record_middles_have_no_name() {
        assert_eq!(records("Olá Servidor".as_bytes()), None);
        assert_eq!(records(b""), None);
        assert_eq!(records(&[0x17, 3, 3]), None);
        assert_eq!(records(&[0x17, 2, 0, 0, 5, 1, 2, 3, 4, 5]), None);
        // A record that ends in a later segment is named there, not here.
        assert_eq!(records(&record(23, &[1; 100])[..50]), None);
        let hello_then_part = [record(22, &hs(2, 70)), record(22, &hs(11, 900))[..300].to_vec()].concat();
        assert_eq!(records(&hello_then_part).as_deref(), Some("Server Hello"));
        assert!(is_handshake("Server Hello, Change Cipher Spec, Application Data"));
        assert!(!is_handshake("Application Data"));
    }
}
