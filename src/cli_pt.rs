//! `--help` in Portuguese: the same command line as [`crate::cli`] (the
//! English text lives there, in its doc comments), with each command's
//! description and each option's help replaced at runtime (clap allows
//! it: `mut_arg`, `about`, `help_template`).
//!
//! The English side stays the single source of truth for what exists:
//! the test at the bottom walks every command and every option of the
//! parsed definition and fails if one has no Portuguese here, so an option
//! added without its translation does not pass CI.

use clap::{Arg, ArgAction, Command};

/// clap's layout without its English "Usage:" heading (the usage line is
/// ours, [`usage`]).
const TEMPLATE: &str = "\
{about-with-newline}
{usage}

{all-args}{after-help}";

/// The command line, in Portuguese.
pub fn translate(command: Command) -> Command {
    let command = localize(command, "");
    let names: Vec<String> = command.get_subcommands().map(|s| s.get_name().to_string()).collect();
    let mut command = command;
    for name in names {
        command = command.mut_subcommand(&name, |sub| localize(sub, &name));
    }
    command.subcommand_help_heading("Comandos").disable_help_subcommand(true)
}

/// One command: its description, headings, and every option's help.
fn localize(command: Command, name: &str) -> Command {
    let ids: Vec<String> = command.get_arguments().map(|a| a.get_id().to_string()).collect();
    // clap adds its -h and -V (in English) when it builds the command:
    // ours instead.
    let mut command =
        command.help_template(TEMPLATE).override_usage(usage(name)).disable_help_flag(true).arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help("Mostra a ajuda")
                .help_heading("Opções"),
        );
    if let Some(about) = about(name) {
        command = command.about(about);
    }
    if name.is_empty() {
        command = command.disable_version_flag(true).arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .global(true)
                .help("Mostra a versão")
                .help_heading("Opções"),
        );
    }
    for id in ids {
        if id == "help" || id == "version" {
            continue;
        }
        if let Some(help) = help(name, &id) {
            command = command.mut_arg(&id, |arg| {
                let positional = arg.is_positional();
                // The values and defaults are named in the Portuguese text
                // itself (clap would add them in English).
                let takes_value =
                    arg.get_num_args().is_some_and(|n| n.takes_values()) || arg.get_action().takes_values();
                let names: Vec<&'static str> = arg
                    .get_value_names()
                    .unwrap_or_default()
                    .iter()
                    .map(|n| value_name(n.as_str()))
                    .collect();
                // clap's "[default: X]", as "[padrão: X]".
                let defaults: Vec<String> =
                    arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
                let help = match defaults.as_slice() {
                    [] => help.to_string(),
                    [one] if one.contains(' ') => format!("{help} [padrão: \"{one}\"]"),
                    all => format!("{help} [padrão: {}]", all.join(", ")),
                };
                let arg = arg.help(help).long_help(None);
                let arg = if names.is_empty() { arg } else { arg.value_names(names) };
                let arg =
                    if takes_value { arg.hide_possible_values(true).hide_default_value(true) } else { arg };
                if positional {
                    arg.help_heading("Argumentos")
                } else {
                    let heading = heading(arg.get_help_heading());
                    arg.help_heading(heading)
                }
            });
        }
    }
    command
}

/// A group of options in `--help` (`None`: the command's own options).
fn heading(english: Option<&str>) -> &'static str {
    match english {
        None => "Opções",
        Some("Limits") => "Limites",
        Some("Behind a balancer") => "Atrás de um balanceador",
        Some("TLS") => "TLS",
        Some("Misbehaviour (to test clients)") => "Mau comportamento (para testar clientes)",
        Some("Operations") => "Operação",
        Some(other) => unreachable!("option group {other:?} without its Portuguese name"),
    }
}

/// The placeholder of a value (`<FILE>` → `<ARQUIVO>`).
fn value_name(name: &str) -> &'static str {
    match name {
        "FILE" => "ARQUIVO",
        "VARIATION" => "VARIAÇÃO",
        "NAME" => "NOME",
        "SECONDS" => "SEGUNDOS",
        "COMMAND" => "COMANDO",
        "BYTES" => "BYTES",
        "LANG" => "IDIOMA",
        "LOG_FORMAT" => "FORMATO",
        "MODE" => "MODO",
        "HOST" => "HOST",
        "PORT" => "PORTA",
        "MESSAGE" => "MENSAGEM",
        "CIDR" => "CIDR",
        "N" => "N",
        "MSGS_PER_S" => "MSGS_POR_S",
        "PID" => "PID",
        "RATE" => "TAXA",
        "SIZE" => "TAMANHO",
        "SPAWN" => "MODO",
        "CONNECTIONS" => "CONEXÕES",
        "SHELL" => "SHELL",
        "DIR" => "DIR",
        "WHEN" => "QUANDO",
        "PROTOCOL" => "PROTOCOLO",
        "MS" => "MS",
        "PERCENT" => "PORCENTO",
        "ADDR" => "ENDEREÇO",
        "VERSION" => "VERSÃO",
        "SHA256" => "SHA256",
        _ => "VALOR",
    }
}

/// "Uso:" lines (clap's heading is fixed in English; the usage is ours).
fn usage(name: &str) -> String {
    match name {
        "" => "Uso: eco [OPÇÕES] <COMANDO>".into(),
        "lab" => "Uso: eco lab [OPÇÕES] [NOME]".into(),
        "completions" => "Uso: eco completions [OPÇÕES] <SHELL>".into(),
        other => format!("Uso: eco {other} [OPÇÕES]"),
    }
}

fn about(name: &str) -> Option<&'static str> {
    Some(match name {
        "" => {
            "Eco TCP e UDP: servidor, cliente, gerador de carga que confere cada eco e rastreador de pacotes"
        }
        "server" => "Espera em HOST:PORTA e devolve cada byte até o cliente fechar (RFC 862)",
        "client" => "Conecta, envia uma mensagem e confere se o eco é idêntico",
        "trace" => "Captura uma troca de eco no loopback e mostra os pacotes, como o Wireshark",
        "bench" => "Põe carga num servidor de eco e confere cada eco: taxa, percentis de latência, erros",
        "demo" => {
            "O exercício de sala de aula de ponta a ponta: um servidor e um cliente, as duas transcrições"
        }
        "lab" => "As surpresas clássicas do TCP, ao vivo e explicadas (sem NOME: a lista)",
        "completions" => "Mostra um script de completação para o shell (bash, zsh, fish, elvish, powershell)",
        "man" => "Mostra a página de manual do eco (roff), ou grava uma por comando num diretório",
        _ => return None,
    })
}

/// The help of option `id` of command `name` (`""`: eco itself).
pub fn help(name: &str, id: &str) -> Option<&'static str> {
    let text = match (name, id) {
        ("", "lang") => {
            "Idioma da saída: `en` ou `pt` (pt-BR). Padrão: ECO_LANG, depois LC_ALL / LC_MESSAGES / LANG \
             (um valor que começa com `pt` escolhe pt)"
        }
        ("", "verbose") => {
            "Mais linhas de log no stderr: -v uma linha por conexão (par, duração, bytes, motivo), -vv \
             também o início de cada conexão e cada datagrama sem resposta"
        }
        ("", "quiet") => "Só erros: sem transcrição, sem notas",
        ("", "log_format") => {
            "`text`: a transcrição do exercício no stdout, notas no stderr. `json`: um objeto JSON por \
             evento no stderr (para coletores de log), nada no stdout"
        }
        ("", "wide") => {
            "Linhas na largura toda mesmo num terminal (tabelas como o tshark as escreve). Sem isso, a \
             saída num terminal se ajusta à largura dele"
        }
        ("server", "host") => "Endereço onde escutar (um IP ou um nome como `localhost`)",
        ("server", "port") => "Porta TCP onde escutar; 0 escolhe uma livre (mostrada no stderr)",
        ("server", "mode") => {
            "Como as conexões são atendidas: `single` (bloqueante, um cliente por vez: o servidor.py do \
             exercício), `threads` (uma thread do sistema por conexão), `async` (tokio, uma tarefa por \
             conexão), `uring` (io_uring, um anel por CPU: uma chamada ao sistema para muitas mensagens; \
             Linux 6.1 ou mais novo, senão atende como `async` e avisa) [padrão: uring onde o kernel \
             deixa e as opções são as do eco simples, senão async]"
        }
        ("server", "once") => "Atende exatamente uma conexão e sai com 0 (como termina o exercício)",
        ("server", "inetd") => {
            "A conexão é a entrada e a saída padrão, aceita pelo inetd ou pelo systemd (`Accept=yes`, veja \
             contrib/): ecoa a conexão e sai"
        }
        ("server", "buffer") => {
            "Bytes lidos por chamada `recv` [padrão: 1024 no modo single, como o `recv(1024)` do exercício; \
             32768 nos outros]. Mensagens maiores são ecoadas inteiras mesmo assim"
        }
        ("server", "nagle") => {
            "Deixa o algoritmo de Nagle ligado (TCP_NODELAY desligado). Por padrão ele fica desligado, para \
             que ecos pequenos não esperem a parada de 40 ms do ACK atrasado"
        }
        ("server", "grace") => {
            "Segundos que as conexões abertas têm para terminar depois de Ctrl-C, SIGTERM ou SIGHUP; depois \
             as restantes são resetadas e o eco sai com 0"
        }
        ("server", "tcp") => "Atende TCP (o padrão; com --udp: os dois, na mesma porta)",
        ("server", "udp") => {
            "Atende UDP: cada datagrama respondido com um datagrama idêntico, até 65507 bytes, atrás da \
             proteção contra reflexão (veja --udp-rate*)"
        }
        ("server", "v6only") => {
            "Com um --host IPv6 como `::`: recusa clientes IPv4 (por padrão `::` atende IPv4 e IPv6)"
        }
        ("server", "max_conns") => {
            "No máximo N conexões de uma vez; os demais clientes esperam no backlog do kernel até uma fechar \
             (o handshake deles se completa, os dados esperam). 0: sem limite"
        }
        ("server", "max_conns_per_ip") => {
            "No máximo N conexões de uma vez vindas de um endereço IP; as demais são recusadas na hora (RST) \
             e registradas. 0: sem limite"
        }
        ("server", "idle_timeout") => {
            "Fecha uma conexão depois de SEGUNDOS sem conseguir ler nem escrever (um cliente calado, ou um \
             que não lê o seu eco). 0: nunca"
        }
        ("server", "keepalive") => {
            "Keepalive do TCP: sonda um cliente calado depois de SEGUNDOS (segundos inteiros, até 32767), \
             para que um que sumiu seja notado e fechado. 0: desligado"
        }
        ("server", "max_bytes") => "Fecha uma conexão depois de ecoar BYTES. 0: sem limite",
        ("server", "allow") => {
            "Só clientes destas redes podem conectar (CIDR ou endereço; repita ou separe com vírgulas). \
             Padrão: todos"
        }
        ("server", "deny") => "Clientes destas redes são recusados (verificado antes de --allow)",
        ("server", "udp_rate_per_ip") => "UDP: datagramas por segundo respondidos para um endereço de origem",
        ("server", "udp_rate") => "UDP: datagramas por segundo respondidos ao todo",
        ("server", "proxy_protocol") => {
            "Lê um cabeçalho PROXY protocol (HAProxy v1 ou v2) antes de ecoar: o cliente que ele nomeia é o \
             que aparece no log e passa por --allow, --deny e os limites por IP; o cabeçalho não é ecoado. \
             `required` (o padrão da opção sozinha) recusa uma conexão sem um válido; `optional` também \
             atende clientes que conectam direto"
        }
        ("server", "proxy_from") => {
            "Só acredita em cabeçalhos PROXY vindos destes balanceadores (CIDR ou endereço; repita ou \
             separe com vírgulas). Sem isso, acredita no cabeçalho de qualquer um: um cliente que alcança \
             a porta direto poderia pôr nele qualquer endereço"
        }
        ("server", "tls") => {
            "Atende TLS: com --cert e --key, ou um certificado autoassinado para localhost feito na \
             partida (a impressão digital SHA-256 é mostrada)"
        }
        ("server", "cert") => "A cadeia de certificados do servidor (PEM)",
        ("server", "key") => "A chave privada do servidor (PEM: PKCS#8, PKCS#1 ou SEC1)",
        ("server", "client_ca") => {
            "TLS mútuo: pede a cada cliente um certificado assinado por uma CA de ARQUIVO (PEM) e recusa o \
             handshake sem um"
        }
        ("server" | "client" | "bench", "alpn") => {
            "Protocolos ALPN a oferecer, em ordem de preferência (repita ou separe com vírgulas)"
        }
        ("server", "delay") => "Espera MS milissegundos antes de ecoar os bytes de cada leitura",
        ("server", "jitter") => "Com --delay: varia cada espera em até ± MS milissegundos, ao acaso",
        ("server", "throttle") => "Ecoa no máximo BYTES por segundo por conexão (sufixos K, M, G)",
        ("server", "close_after") => "Fecha cada conexão (FIN) depois de ecoar BYTES",
        ("server", "reset_after") => "Reinicia cada conexão (RST) depois de ecoar BYTES",
        ("server", "stall_after") => {
            "Para de ler cada conexão depois de ecoar BYTES: as escritas do cliente então bloqueiam, como \
             com um servidor travado (até --idle-timeout)"
        }
        ("server", "drop_percent") => "UDP: deixa PORCENTO dos datagramas sem resposta, ao acaso (0 a 100)",
        ("server", "accept_delay") => {
            "Atende um cliente novo a cada MS milissegundos: cada um é atendido esse tempo depois do \
             handshake, os seguintes esperam no backlog do kernel enquanto isso (conectados, sem resposta)"
        }
        ("server", "metrics") => {
            "Serve métricas Prometheus em http://ENDEREÇO/metrics, e /healthz (p. ex. 127.0.0.1:9090; \
             porta 0 escolhe uma livre, mostrada no stderr)"
        }
        ("client", "proxy_protocol") => {
            "Envia antes um cabeçalho PROXY protocol com este cliente (para testar um balanceador, ou um \
             `eco server --proxy-protocol`)"
        }
        ("client" | "bench", "tls") => {
            "Fala TLS (depois do cabeçalho PROXY, se houver). Mostra no stderr o que foi negociado"
        }
        ("client" | "bench", "insecure") => {
            "Aceita qualquer certificado do servidor (um servidor de teste autoassinado)"
        }
        ("client" | "bench", "ca") => "Confia nos certificados de CA de ARQUIVO (PEM) em vez dos do sistema",
        ("client" | "bench", "cert") => "O nosso certificado (PEM), para um servidor que pede um (TLS mútuo)",
        ("client" | "bench", "key") => "A nossa chave privada (PEM), com --cert",
        ("client" | "bench", "pin") => {
            "Aceita exatamente o certificado do servidor com esta impressão digital SHA-256 (a que um \
             `eco server --tls` autoassinado mostra), seja quem for que o assinou"
        }
        ("client" | "bench", "sni") => {
            "O nome do servidor a enviar (SNI) e a conferir no certificado [padrão: --host]"
        }
        ("trace", "tls") => {
            "Eco por TLS (um servidor autoassinado, um cliente que o aceita): os registros TLS recebem os \
             nomes que o Wireshark dá (Client Hello, ...), e o handshake do TLS é uma fase própria"
        }
        ("bench", "engine") => {
            "Como o gerador de carga roda as conexões: `uring` (io_uring: uma chamada ao sistema para \
             muitas mensagens; só o ping-pong em laço fechado sobre TCP simples), `tokio`, ou `auto`: \
             uring onde der"
        }
        ("bench", "proxy_protocol") => {
            "Começa cada conexão com um cabeçalho PROXY protocol que a nomeia (para pôr carga num \
             balanceador, ou num `eco server --proxy-protocol`)"
        }
        ("client", "host") => "Endereço do servidor (um IP ou um nome como `localhost`)",
        ("client", "port") => "Porta TCP do servidor",
        ("client" | "trace", "message") => "A mensagem que o cliente envia",
        ("demo", "message") => "A mensagem que o cliente envia",
        ("client", "count") => {
            "Envia a mensagem N vezes na mesma conexão e mostra cada ida e volta, como o ping"
        }
        ("client", "interval") => "Segundos de espera entre mensagens com --count",
        ("client", "stdin") => {
            "Modo pipe: manda a entrada padrão ao servidor e o eco para a saída padrão (seguro para \
             binários); half-close no fim da entrada, sai depois do fim do servidor"
        }
        ("client", "udp") => {
            "Usa UDP: a mensagem vai como um datagrama (até 65507 bytes) e o eco precisa voltar como um. \
             Com --count, uma resposta que falta conta como perdida"
        }
        ("client", "connect_timeout") => {
            "Segundos de espera para a conexão se estabelecer. 0: sem limite do eco (o kernel desiste \
             depois de uns dois minutos)"
        }
        ("client", "timeout") => {
            "Segundos que o eco inteiro pode levar, por mais que chegue aos poucos (--stdin: quanto o resto \
             do eco pode levar depois do fim da entrada). 0: sem limite"
        }
        ("trace", "host") => "Endereço de loopback da troca: 127.0.0.1 (ou qualquer 127.x.y.z) ou ::1",
        ("trace", "port") => {
            "Porta do servidor; 0 escolhe uma livre. Com --attach: a porta a observar. Com --read: só os \
             quadros de ou para esta porta"
        }
        ("trace", "mode") => "Como o servidor atende a troca: `single`, `threads`, `async` ou `uring`",
        ("trace", "ack_fin_apart") => {
            "O servidor confirma o FIN do cliente num segmento só seu (TCP_QUICKACK), como na captura de 11 \
             quadros do exercício. Senão o Linux deixa esse ACK ir junto com o FIN do servidor (10 quadros)"
        }
        ("trace" | "lab", "pcap") => {
            "Também grava os pacotes capturados em ARQUIVO (pcap, abre no Wireshark)"
        }
        ("trace", "read") => {
            "Mostra a tabela de um ARQUIVO pcap ou pcapng capturado em outro lugar (`-`: entrada padrão), \
             em vez de rodar uma troca"
        }
        ("trace", "run") => {
            "Roda COMANDO (uma linha de comando, com aspas como num shell) e o rastreia: os pacotes no \
             loopback e as chamadas de socket. Repita para cada programa, servidor primeiro: cada um começa \
             quando o anterior escuta. Sem root roda num namespace de rede próprio"
        }
        ("trace", "stream") => {
            "Com --read: só esta conexão TCP (o seu índice, a partir de 0, como o `tcp.stream` do Wireshark)"
        }
        ("trace", "json") => {
            "JSON Lines em vez da tabela: um objeto por quadro (e, numa troca, por chamada do cliente), \
             depois um por conexão TCP com as suas fases"
        }
        ("trace", "attach") => {
            "Observa as conexões de um servidor que já roda em --port (qualquer servidor, qualquer \
             cliente), e mostra cada uma quando ela fecha"
        }
        ("trace", "count") => "Com --attach: para depois de N conexões",
        (_, "svg") => {
            "Grava o diagrama de escada em SVG em ARQUIVO (um arquivo por conexão: ARQUIVO, depois \
             ARQUIVO-2.svg, ...)"
        }
        (_, "html") => {
            "Grava uma página HTML autocontida em ARQUIVO: diagrama, tabela, fases, chamadas, bytes, gráfico \
             tempo/sequência. Abre sem rede"
        }
        (_, "mermaid") => "Grava o diagrama como um sequenceDiagram do Mermaid em ARQUIVO (`-`: stdout)",
        (_, "bytes") => "Mostra os bytes de cada segmento, com os seus caracteres UTF-8",
        (_, "diagram") => {
            "Mostra o diagrama de escada no terminal (mostrado por padrão, exceto com --read e --attach)"
        }
        (_, "no_diagram") => "Não mostra o diagrama de escada no terminal",
        ("bench", "host") => "Endereço do servidor",
        ("bench", "port") => "Porta do servidor",
        ("bench", "connections") => "Conexões de uma vez",
        ("bench", "size") => {
            "Tamanho da mensagem em bytes (no mínimo 16: número de sequência, id da conexão, checksum); com \
             --stream, o tamanho de cada escrita [padrão: 64; --stream: 4000]"
        }
        ("bench", "duration") => "Segundos de medição",
        ("bench", "warmup") => "Segundos de carga antes de medir (conexões abertas, caches quentes)",
        ("bench", "timeout") => {
            "Segundos depois do fim que um eco inacabado ainda pode levar; depois conta como timeout e a \
             execução termina de qualquer jeito"
        }
        ("bench", "rate") => {
            "Laço aberto: esta quantidade de mensagens por segundo ao todo, em horários fixos; a latência \
             conta a partir do horário previsto de cada mensagem (sem omissão coordenada)"
        }
        ("bench", "bulk") => {
            "Passa BYTES por cada conexão (escritor e leitor ao mesmo tempo, cada byte conferido) e mostra \
             GiB/s. Sufixos K, M, G (binários)"
        }
        ("bench", "stream") => {
            "Rodadas de BYTES em cada conexão, escritos em escritas de --size sem fechar, o eco de cada \
             rodada lido e conferido antes da próxima (o que `cmd | nc` ou um upload faz): rodadas/s e \
             latência por rodada. Sufixos K, M, G (binários)"
        }
        ("bench", "connect_rate") => {
            "Conecta, envia uma mensagem, fecha; de novo e de novo: conexões/s e latência do handshake"
        }
        ("bench", "udp") => "Pingue-pongue com datagramas UDP (um eco que falta conta como perdido)",
        ("bench", "spawn") => {
            "Inicia um `eco server` deste modo (`single`, `threads` ou `async`) numa porta livre e o mede \
             (mede também o tempo de CPU do servidor por mensagem)"
        }
        ("bench", "server_pid") => {
            "Mede também o tempo de CPU deste processo servidor (qualquer servidor nesta máquina), pelo \
             /proc/PID/stat na janela medida"
        }
        ("bench", "compare") => "Mede cada modo de servidor, um depois do outro, e os compara",
        ("bench", "json") => "Mostra o relatório em JSON no stdout em vez de texto",
        ("bench", "export_json") => "Também grava o relatório em JSON em ARQUIVO (`-`: stdout)",
        ("bench", "export_markdown") => {
            "Também grava o relatório como uma tabela Markdown em ARQUIVO (`-`: stdout)"
        }
        ("lab", "name") => "O laboratório a rodar (`eco lab` os lista)",
        ("lab", "variant") => "Uma variação \"experimente\" do laboratório (cada um lista as suas)",
        ("lab", "step") => {
            "Modo sala de aula: um quadro (e as suas chamadas) a cada Enter, com uma pergunta sobre o que \
             vem a seguir antes de mostrá-lo"
        }
        ("lab", "worksheet") => {
            "Perguntas sobre a captura desta execução (ISNs, números de sequência relativos e brutos, RTTs, \
             janelas), depois da tabela, para os alunos"
        }
        ("completions", "shell") => {
            "O shell: por exemplo `eco completions bash > ~/.local/share/bash-completion/completions/eco`"
        }
        ("man", "out") => "Grava eco.1 e eco-COMANDO.1 em DIR em vez de mostrar eco.1",
        ("lab", "answers") => "Com --worksheet: as respostas também (o gabarito do professor)",
        ("lab", "compact") => {
            "Para um projetor: a tabela com no máximo 80 colunas, as pontas pelo nome (cliente → servidor), \
             qualquer que seja o terminal"
        }
        _ => return None,
    };
    Some(text)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Every command and every option of `eco` has its Portuguese.
    #[test]
    fn every_option_has_its_portuguese() {
        let command = crate::cli::Cli::command();
        let mut missing = Vec::new();
        let mut check = |name: &str, command: &Command| {
            if about(name).is_none() {
                missing.push(format!("about of {name:?}"));
            }
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id != "help" && id != "version" && help(name, id).is_none() {
                    missing.push(format!("{name} {id}"));
                }
            }
        };
        check("", &command);
        for sub in command.get_subcommands() {
            check(sub.get_name(), sub);
        }
        assert!(missing.is_empty(), "without Portuguese: {missing:?}");
    }

    #[test]
    fn the_portuguese_command_still_parses_what_the_english_one_does() {
        let command = translate(crate::cli::Cli::command());
        command.clone().debug_assert();
        let matches = command.try_get_matches_from(["eco", "lab", "closing", "--step"]).unwrap();
        assert_eq!(matches.subcommand_name(), Some("lab"));
    }
}
