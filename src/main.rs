//! The `eco` binary: parse the arguments, run, turn errors into exit codes.
//! Everything else lives in the library (`src/lib.rs` maps it).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Usage errors (unknown flag, `--port 70000`) end inside `parse` with
    // clap's message and exit status 2.
    let cli = eco::cli::Cli::parse();
    let lang = eco::lang_of(&cli);
    match eco::run(cli, lang) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("eco: {}", err.localized(lang));
            ExitCode::from(err.exit_code())
        }
    }
}
