//! What `eco lab` says around a lab, and [`Said`]: a sentence of a lab's
//! narration, written in both languages where the lab explains it.

use crate::i18n::Sentences;

/// A sentence in both languages, built where the facts are at hand:
/// `said!("{n} frames", "{n} quadros")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    pub en: String,
    pub pt: String,
}

impl Sentences for Said {
    fn en(&self) -> String {
        self.en.clone()
    }

    fn pt(&self) -> String {
        self.pt.clone()
    }
}

/// `said!(english, portuguese)`: each a format string over the
/// variables in scope.
macro_rules! said {
    ($en:literal, $pt:literal $(,)?) => {
        $crate::lab::Said { en: format!($en), pt: format!($pt) }
    };
}
pub(crate) use said;

pub enum LabMsg<'a> {
    ListTitle,
    ListEntry { name: &'a str, title: &'a Said },
    ListVariants { variants: &'a str },
    ListHow,
    Title { name: &'a str, title: &'a Said },
    Variant { variant: &'a str, what: &'a Said },
    WhatHappened,
    Point { text: &'a Said },
    NotSeen { text: &'a Said },
    TryThis,
    TryLine { lab: &'a str, variant: &'a str, what: &'a Said },
    KernelDiffers { lab: &'a str },
}

impl Sentences for LabMsg<'_> {
    fn en(&self) -> String {
        match self {
            LabMsg::ListTitle => "TCP's classic surprises, live (eco lab NAME runs one):".into(),
            LabMsg::ListEntry { name, title } => format!("  {name:<20} {}", title.en),
            LabMsg::ListVariants { variants } => format!("  {:<20}   try: {variants}", ""),
            LabMsg::ListHow => "Each lab runs real programs in a network of its own (no root needed), \
                 shows the packets, the calls and the diagram, then explains what happened. \
                 --step: one frame per Enter; --worksheet: questions on this capture (--answers: \
                 with the answers); --html FILE: the page for a course."
                .into(),
            LabMsg::Title { name, title } => format!("── eco lab {name}: {} ──", title.en),
            LabMsg::Variant { variant, what } => format!("(--try {variant}: {})", what.en),
            LabMsg::WhatHappened => "── what happened ──".into(),
            LabMsg::Point { text } => format!("• {}", text.en),
            LabMsg::NotSeen { text } => format!("not seen in this run: {}", text.en),
            LabMsg::TryThis => "── try this ──".into(),
            LabMsg::TryLine { lab, variant, what } => format!("eco lab {lab} --try {variant}: {}", what.en),
            LabMsg::KernelDiffers { lab } => format!(
                "this kernel did not do what lab {lab} expects (see above): worth a look, and a report \
                 at eco's issues"
            ),
        }
    }

    fn pt(&self) -> String {
        match self {
            LabMsg::ListTitle => "As surpresas clássicas do TCP, ao vivo (eco lab NOME roda uma):".into(),
            LabMsg::ListEntry { name, title } => format!("  {name:<20} {}", title.pt),
            LabMsg::ListVariants { variants } => format!("  {:<20}   experimente: {variants}", ""),
            LabMsg::ListHow => "Cada laboratório roda programas de verdade numa rede só dele (sem \
                 root), mostra os pacotes, as chamadas e o diagrama, e depois explica o que aconteceu. \
                 --step: um quadro a cada Enter; --worksheet: perguntas sobre esta captura (--answers: \
                 com as respostas); --html ARQUIVO: a página para o curso."
                .into(),
            LabMsg::Title { name, title } => format!("── eco lab {name}: {} ──", title.pt),
            LabMsg::Variant { variant, what } => format!("(--try {variant}: {})", what.pt),
            LabMsg::WhatHappened => "── o que aconteceu ──".into(),
            LabMsg::Point { text } => format!("• {}", text.pt),
            LabMsg::NotSeen { text } => format!("não visto nesta execução: {}", text.pt),
            LabMsg::TryThis => "── experimente ──".into(),
            LabMsg::TryLine { lab, variant, what } => format!("eco lab {lab} --try {variant}: {}", what.pt),
            LabMsg::KernelDiffers { lab } => format!(
                "este kernel não fez o que o laboratório {lab} espera (veja acima): vale olhar, e \
                 relatar nas issues do eco"
            ),
        }
    }
}
