//! The two languages of everything eco prints for people: English and
//! Brazilian Portuguese.
//!
//! This module holds only what every sentence shares: [`Lang`] (which
//! language, from `--lang` or the environment), the [`Text`] trait, and
//! small helpers such as [`plural`]. The sentences themselves live beside
//! what they describe — `server/messages.rs`, `trace/messages.rs`,
//! `bench/messages.rs`, `error.rs`, the bottom of `client.rs` and
//! `demo.rs` — each as an enum whose `Text` is one exhaustive `match` per
//! language, with no `_` arm: a message added without its translation does
//! not compile. `i18n` itself imports nothing from those modules.

/// The language of everything eco prints for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Pt,
}

impl Lang {
    /// `--lang` wins; else `ECO_LANG`; else the first of `LC_ALL`,
    /// `LC_MESSAGES`, `LANG` that is set and not empty (the POSIX order)
    /// picks Portuguese when it starts with `pt`; else English.
    ///
    /// `env` is passed in so that tests need not touch the process environment.
    pub fn detect(flag: Option<Lang>, env: impl Fn(&str) -> Option<String>) -> Lang {
        if let Some(lang) = flag {
            return lang;
        }
        if let Some(value) = env("ECO_LANG").filter(|v| !v.is_empty()) {
            return Lang::from_locale(&value);
        }
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .find_map(|name| env(name).filter(|v| !v.is_empty()))
            .map_or(Lang::En, |value| Lang::from_locale(&value))
    }

    /// `pt`, `pt_BR.UTF-8`, `pt-PT` → Portuguese; anything else → English.
    fn from_locale(value: &str) -> Lang {
        if value.to_ascii_lowercase().starts_with("pt") { Lang::Pt } else { Lang::En }
    }

    /// `text` in this language.
    pub fn text(self, text: &(impl Text + ?Sized)) -> String {
        text.text(self)
    }
}

/// Something eco tells a person, which it can say in either language.
pub trait Text {
    fn text(&self, lang: Lang) -> String;
}

/// How a message is written: once per language, each an exhaustive `match`
/// over the message's enum. Every `Sentences` is a [`Text`].
pub trait Sentences {
    fn en(&self) -> String;
    fn pt(&self) -> String;
}

impl<T: Sentences + ?Sized> Text for T {
    fn text(&self, lang: Lang) -> String {
        match lang {
            Lang::En => self.en(),
            Lang::Pt => self.pt(),
        }
    }
}

/// Text that is the same in every language: a line captured from a
/// transcript already in the user's language, a table row of numbers.
pub struct Raw<'a>(pub &'a str);

impl Sentences for Raw<'_> {
    fn en(&self) -> String {
        self.0.to_owned()
    }

    fn pt(&self) -> String {
        self.0.to_owned()
    }
}

/// `one` for a count of 1, else `many`: `plural(n, "conexão", "conexões")`.
pub fn plural<'a>(count: u64, one: &'a str, many: &'a str) -> &'a str {
    if count == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn flag_beats_environment() {
        let env = env_of(&[("ECO_LANG", "pt"), ("LANG", "pt_BR.UTF-8")]);
        assert_eq!(Lang::detect(Some(Lang::En), env), Lang::En);
    }

    #[test]
    fn eco_lang_beats_locale() {
        let env = env_of(&[("ECO_LANG", "en"), ("LANG", "pt_BR.UTF-8")]);
        assert_eq!(Lang::detect(None, env), Lang::En);
    }

    #[test]
    fn locale_order_is_lc_all_then_lc_messages_then_lang() {
        let env = env_of(&[("LC_ALL", "C.UTF-8"), ("LANG", "pt_BR.UTF-8")]);
        assert_eq!(Lang::detect(None, env), Lang::En);
        let env = env_of(&[("LC_ALL", ""), ("LC_MESSAGES", "pt_BR"), ("LANG", "en_US")]);
        assert_eq!(Lang::detect(None, env), Lang::Pt);
        let env = env_of(&[("LANG", "pt_PT.UTF-8")]);
        assert_eq!(Lang::detect(None, env), Lang::Pt);
    }

    #[test]
    fn nothing_set_means_english() {
        assert_eq!(Lang::detect(None, env_of(&[])), Lang::En);
    }

    #[test]
    fn plurals() {
        assert_eq!(plural(1, "conexão", "conexões"), "conexão");
        assert_eq!(plural(0, "conexão", "conexões"), "conexões");
        assert_eq!(plural(2, "connection", "connections"), "connections");
    }
}
