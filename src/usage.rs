//! Usage errors in the user's language.
//!
//! clap parses the command line before eco knows the language it will
//! speak, and its value parsers get no context. So the language is looked
//! up once from the raw arguments and the environment ([`set_lang`], called
//! by `main` first), the value parsers word their complaints with it
//! ([`BadValue`]), and [`report`] prints clap's errors: clap's own text in
//! English, eco's one line (the value, the fix) in Portuguese for the
//! common cases.

use std::ffi::OsString;
use std::sync::OnceLock;

use clap::error::{ContextKind, ContextValue, ErrorKind};

use crate::i18n::{Lang, Sentences, Text};

static LANG: OnceLock<Lang> = OnceLock::new();

/// Picks the language from `--lang X` / `--lang=X` among `args`, else from
/// the environment (as [`Lang::detect`] does once the arguments are parsed).
pub fn set_lang(args: &[OsString]) -> Lang {
    let flag = args.iter().enumerate().find_map(|(i, arg)| {
        let arg = arg.to_str()?;
        let value = match arg.strip_prefix("--lang=") {
            Some(value) => value,
            None if arg == "--lang" => args.get(i + 1)?.to_str()?,
            None => return None,
        };
        match value {
            "pt" => Some(Lang::Pt),
            "en" => Some(Lang::En),
            _ => None,
        }
    });
    let lang = Lang::detect(flag, |name| std::env::var(name).ok());
    *LANG.get_or_init(|| lang)
}

/// The language for usage errors (English until [`set_lang`] ran).
pub fn lang() -> Lang {
    LANG.get().copied().unwrap_or(Lang::En)
}

/// A value eco's parsers refuse, and the fix.
pub enum BadValue<'a> {
    Rate(&'a str),
    Bytes(&'a str),
    Seconds(&'a str),
    SecondsRange(&'a str),
    Count {
        text: &'a str,
        max: usize,
    },
    Keepalive {
        text: &'a str,
        max: u64,
    },
    BufferRange {
        bytes: usize,
        max: usize,
    },
    /// A whole number from `min` to `max`.
    Number {
        text: &'a str,
        min: u64,
        max: u64,
    },
    Net(&'a str),
    Millis(&'a str),
    HostPort(&'a str),
    Percent(&'a str),
    NetMapped {
        text: &'a str,
        v4: String,
    },
}

impl BadValue<'_> {
    /// In the language of [`lang`]: what a value parser returns.
    pub fn says(&self) -> String {
        self.text(lang())
    }
}

impl Sentences for BadValue<'_> {
    fn en(&self) -> String {
        match self {
            BadValue::Rate(text) => {
                format!(
                    "'{text}' is not a rate: give messages per second, e.g. 1000 (above 0, at most 10000000)"
                )
            }
            BadValue::Bytes(text) => format!("'{text}' is not a byte count: write e.g. 1048576, 512K, 1G"),
            BadValue::Seconds(text) => format!("'{text}' is not a number of seconds: write e.g. 2 or 0.5"),
            BadValue::Millis(text) => {
                format!("'{text}' is not a number of milliseconds from 0 to 3600000: write e.g. 200 or 2.5")
            }
            BadValue::Percent(text) => {
                format!("'{text}' is not a percentage from 0 to 100: write e.g. 10 or 2.5")
            }
            BadValue::HostPort(text) => {
                format!("'{text}' is not an address to listen on: write HOST:PORT, e.g. 127.0.0.1:9090")
            }
            BadValue::SecondsRange(text) => format!("{text} seconds is out of range: use 0 to 86400"),
            BadValue::Count { text, max } => {
                format!("'{text}' is not a connection count: use 0 (no limit) to {max}")
            }
            BadValue::Keepalive { text, max } => format!(
                "'{text}' is not a keepalive time: use whole seconds from 1 to {max}, or 0 to turn keepalive off"
            ),
            BadValue::BufferRange { bytes, max } => format!("{bytes} bytes is out of range: use 1 to {max}"),
            BadValue::Number { text, min, max } => {
                format!("'{text}' will not do: use a whole number from {min} to {max}")
            }
            BadValue::Net(text) => {
                format!("'{text}' is not an address or CIDR network: write e.g. 127.0.0.1 or 10.0.0.0/8")
            }
            BadValue::NetMapped { text, v4 } => format!(
                "'{text}' mixes IPv4-mapped (::ffff:a.b.c.d) and other IPv6 addresses: write the IPv4 network \
                 instead (e.g. {v4}/8), or a prefix of /96 or longer"
            ),
        }
    }

    fn pt(&self) -> String {
        match self {
            BadValue::Rate(text) => format!(
                "'{text}' não é uma taxa: dê mensagens por segundo, por exemplo 1000 (acima de 0, no máximo 10000000)"
            ),
            BadValue::Bytes(text) => {
                format!("'{text}' não é uma quantidade de bytes: escreva por exemplo 1048576, 512K, 1G")
            }
            BadValue::Millis(text) => {
                format!("'{text}' não é um número de milissegundos de 0 a 3600000: escreva p. ex. 200 ou 2.5")
            }
            BadValue::Percent(text) => {
                format!("'{text}' não é uma porcentagem de 0 a 100: escreva p. ex. 10 ou 2.5")
            }
            BadValue::HostPort(text) => {
                format!("'{text}' não é um endereço onde escutar: escreva HOST:PORTA, p. ex. 127.0.0.1:9090")
            }
            BadValue::Seconds(text) => {
                format!("'{text}' não é um número de segundos: escreva por exemplo 2 ou 0.5")
            }
            BadValue::SecondsRange(text) => {
                format!("{text} segundos está fora do intervalo: use de 0 a 86400")
            }
            BadValue::Count { text, max } => {
                format!("'{text}' não é um número de conexões: use de 0 (sem limite) a {max}")
            }
            BadValue::Keepalive { text, max } => format!(
                "'{text}' não é um tempo de keepalive: use segundos inteiros de 1 a {max}, ou 0 para desligar o keepalive"
            ),
            BadValue::BufferRange { bytes, max } => {
                format!("{bytes} bytes está fora do intervalo: use de 1 a {max}")
            }
            BadValue::Number { text, min, max } => {
                format!("'{text}' não serve: use um número inteiro de {min} a {max}")
            }
            BadValue::Net(text) => {
                format!(
                    "'{text}' não é um endereço nem uma rede CIDR: escreva por exemplo 127.0.0.1 ou 10.0.0.0/8"
                )
            }
            BadValue::NetMapped { text, v4 } => format!(
                "'{text}' mistura endereços IPv4 mapeados (::ffff:a.b.c.d) e outros IPv6: escreva a rede IPv4 \
                 (por exemplo {v4}/8), ou um prefixo de /96 ou mais"
            ),
        }
    }
}

/// A whole number from `min` to `max`, for clap (in place of its range
/// parsers, whose complaint is always in English).
pub fn number(text: &str, min: u64, max: u64) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(BadValue::Number { text, min, max }.says()),
    }
}

/// Prints a parse error (or `--help`, `--version`) and returns the exit
/// status: clap's own text in English; in Portuguese eco's line for each
/// kind of error.
pub fn report(error: &clap::Error) -> u8 {
    let code = u8::try_from(error.exit_code()).unwrap_or(2);
    // `--run python3 servidor.py`: the command's words taken for eco's.
    let unquoted = error.kind() == ErrorKind::UnknownArgument && std::env::args().any(|a| a == "--run");
    let hint = || match lang() {
        Lang::En => "eco: each --run takes one command line: quote it, as in --run 'python3 servidor.py'",
        Lang::Pt => {
            "eco: cada --run recebe uma linha de comando: use aspas, como em --run 'python3 servidor.py'"
        }
    };
    // Help, version, and a help shown for want of arguments: clap's text
    // (the Portuguese definition's, see `cli_pt`).
    let shown = matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if lang() == Lang::En || shown {
        let _ = error.print();
        if unquoted {
            eprintln!("{}", hint());
        }
        return code;
    }
    let context = |kind| match error.get(kind) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(list)) => list.join(", "),
        _ => String::new(),
    };
    let (arg, value) = (context(ContextKind::InvalidArg), context(ContextKind::InvalidValue));
    let line = match error.kind() {
        ErrorKind::ValueValidation => {
            let why = std::error::Error::source(error).map(ToString::to_string).unwrap_or_default();
            format!("valor inválido '{value}' para {arg}: {why}")
        }
        // clap reports a missing value as an invalid, empty one.
        ErrorKind::InvalidValue if value.is_empty() => format!("falta o valor de {arg}"),
        ErrorKind::InvalidValue => match context(ContextKind::ValidValue) {
            valid if valid.is_empty() => format!("valor inválido '{value}' para {arg}"),
            valid => format!("valor inválido '{value}' para {arg}: os valores possíveis são {valid}"),
        },
        ErrorKind::UnknownArgument => match context(ContextKind::SuggestedArg) {
            suggested if suggested.is_empty() => format!("argumento inesperado '{arg}'"),
            suggested => format!("argumento inesperado '{arg}': talvez '{suggested}'?"),
        },
        ErrorKind::InvalidSubcommand => {
            let sub = context(ContextKind::InvalidSubcommand);
            match context(ContextKind::SuggestedSubcommand) {
                suggested if suggested.is_empty() => format!("comando desconhecido '{sub}'"),
                suggested => format!("comando desconhecido '{sub}': talvez '{suggested}'?"),
            }
        }
        ErrorKind::ArgumentConflict => match context(ContextKind::PriorArg) {
            prior if prior.is_empty() => format!("o argumento '{arg}' não pode ser usado aqui"),
            prior if prior == arg => format!("o argumento '{arg}' não pode ser dado mais de uma vez"),
            prior => format!("o argumento '{arg}' não pode ser usado junto com '{prior}'"),
        },
        ErrorKind::MissingRequiredArgument => format!("faltam argumentos obrigatórios: {arg}"),
        ErrorKind::MissingSubcommand => "falta o comando: server, client, trace, bench, demo ou lab".into(),
        ErrorKind::TooManyValues => format!("valor a mais '{value}' para {arg}"),
        ErrorKind::WrongNumberOfValues | ErrorKind::TooFewValues => {
            format!("número errado de valores para {arg}")
        }
        ErrorKind::NoEquals => format!("{arg} precisa de um '=' antes do valor"),
        ErrorKind::InvalidUtf8 => "um argumento não é UTF-8 válido".into(),
        // Anything else clap may add: its own words.
        _ => {
            let _ = error.print();
            return code;
        }
    };
    eprintln!("eco: {line}\nPara mais informações, tente '--help'.");
    if unquoted {
        eprintln!("{}", hint());
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_range_and_out() {
        assert_eq!(number("5", 1, 10), Ok(5));
        assert!(number("0", 1, 10).unwrap_err().contains("'0'"));
        assert!(number("x", 1, 10).unwrap_err().contains("1 to 10") || lang() == Lang::Pt);
    }
}
