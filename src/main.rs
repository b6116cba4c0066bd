//! The `eco` binary: parse the arguments, run, turn errors into exit codes.
//! Everything else lives in the library (`src/lib.rs` maps it).

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser};

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
    let mut args = args;
    let lang = eco::usage::set_lang(&args);
    // `eco help lab` is `eco lab --help` (the Portuguese definition has no
    // `help` command of clap's, whose words are English).
    if lang == eco::i18n::Lang::Pt
        && let Some(at) = first_word(&args)
        && args[at] == "help"
    {
        args.remove(at);
        args.push("--help".into());
    }
    let parsed = match lang {
        // `--help` and usage lines in Portuguese: the same definition,
        // its texts replaced (see `cli_pt`).
        eco::i18n::Lang::Pt => eco::cli_pt::translate(eco::cli::Cli::command())
            .try_get_matches_from(&args)
            .and_then(|matches| eco::cli::Cli::from_arg_matches(&matches)),
        eco::i18n::Lang::En => eco::cli::Cli::try_parse_from(&args),
    };
    let cli = match parsed {
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

/// Where the command word is: the first argument that is neither an
/// option nor the value of `--lang` / `--log-format`.
fn first_word(args: &[std::ffi::OsString]) -> Option<usize> {
    let mut i = 1;
    while let Some(arg) = args.get(i) {
        match arg.to_str() {
            Some("--lang" | "--log-format") => i += 2,
            Some(a) if a.starts_with('-') => i += 1,
            _ => return Some(i),
        }
    }
    None
}
