//! tshark as the tests run it: the `tcponly` profile (every protocol above
//! TCP and UDP disabled, from the captures' `tcponly_disabled_protos.txt`)
//! installed in a configuration directory of the test's own, and each
//! frame's number, relative time, protocol and Info as tab-separated lines.
//! Shared by the test binaries that compare eco with tshark (included with
//! `#[path]`).

use std::path::Path;
use std::process::Command;

/// A tshark configuration with the `tcponly` profile, removed when dropped.
pub struct Profile(tempfile::TempDir);

impl Profile {
    /// From `disabled_protos` (the captures' tcponly_disabled_protos.txt).
    pub fn new(disabled_protos: &Path) -> Profile {
        let config = tempfile::tempdir().unwrap();
        let profile = config.path().join("wireshark/profiles/tcponly");
        std::fs::create_dir_all(&profile).unwrap();
        std::fs::copy(disabled_protos, profile.join("disabled_protos")).expect("the tcponly profile's file");
        Profile(config)
    }

    /// `tshark -C tcponly -r FILE`: its lines, and whether it succeeded.
    pub fn lines(&self, tshark: &Path, file: &Path) -> (String, bool) {
        let out = Command::new(tshark)
            .env("XDG_CONFIG_HOME", self.0.path())
            .args(["-C", "tcponly", "-n", "-r"])
            .arg(file)
            .args(["-T", "fields", "-E", "separator=/t", "-E", "quote=n"])
            .args([
                "-e",
                "frame.number",
                "-e",
                "frame.time_relative",
                "-e",
                "_ws.col.Protocol",
                "-e",
                "_ws.col.Info",
            ])
            .output()
            .expect("run tshark");
        (String::from_utf8_lossy(&out.stdout).into_owned(), out.status.success())
    }
}
