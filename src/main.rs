//! The `eco` binary: parse the arguments, run, turn errors into exit codes.
//! Everything else lives in the library (`src/lib.rs` maps it).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Usage errors (unknown flag, `--port 70000`) end here with one line
    // in the user's language and exit status 2 (help and version: 0).
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // A lab's program (its server, its client): eco itself, started by
    // `eco lab` under trace. Nothing else runs first, so that the calls
    // it shows are the lab's.
    if args.get(1).is_some_and(|a| a == eco::lab::ACTOR) {
        let rest: Vec<String> = args[2..].iter().map(|a| a.to_string_lossy().into_owned()).collect();
        return ExitCode::from(eco::lab::actor(&rest));
    }
    eco::usage::set_lang(&args);
    let cli = match eco::cli::Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(error) => return ExitCode::from(eco::usage::report(&error)),
    };
    let lang = eco::lang_of(&cli);
    match eco::run(cli, lang) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("eco: {}", err.localized(lang));
            ExitCode::from(err.exit_code())
        }
    }
}
