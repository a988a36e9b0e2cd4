//! The console's commands: one table gives the words, the help text and the tab
//! completion; [`parse`] turns a typed line into a [`Command`] or says what was wrong.
//!
//! Only the shape of a command is checked here (its words, how many arguments, a role
//! name, an address for `ping`). What an argument means for the configuration (is this
//! address valid on that interface?) is for the configuration's own validation, which
//! runs in a child process.

use std::net::IpAddr;

/// The longest argument list a command takes (addresses of one interface, `debug run`).
const MAX_WORDS: usize = 64;
/// The most lines one `debug kmsg` writes.
pub const MAX_KMSG_LINES: u32 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpvsColumns {
    Connections,
    Stats,
    Rate,
}

impl IpvsColumns {
    /// The `lvsfw ipvs list` option that prints these columns.
    pub fn option(self) -> Option<&'static str> {
        match self {
            IpvsColumns::Connections => None,
            IpvsColumns::Stats => Some("--stats"),
            IpvsColumns::Rate => Some("--rate"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    /// PID 1's view: version, uptime, the balancer process, configuration state.
    ShowStatus,
    ShowVrrp,
    /// The BGP speaker: neighbors, state, uptime, announced prefixes, last NOTIFICATION.
    ShowBgp,
    /// `drain` (true) / `drain off`: BGP withdraws every prefix, flows keep going.
    Drain(bool),
    ShowIpvs(IpvsColumns),
    ShowInterfaces,
    ShowConfig,
    ShowLog,
    /// The audit trail: logins, changes, updates, reboots (kept across reboots).
    ShowAudit,
    ShowVersion,
    /// The clock and NTP: synchronised or not, from which server, offset, last sync.
    ShowTime,
    /// Both boot slots: versions, which runs, which is good, a pending try.
    ShowSlots,
    /// The page's certificate: whose, names, validity, fingerprint and SPKI pin.
    ShowCertificate,
    /// The lines that follow, up to one holding a single `.`, are an operator's
    /// certificate chain and key (PEM), to be checked and served.
    CertificateImport,
    /// Back to the box's own certificate.
    CertificateOwn,
    /// `update [--allow-downgrade] FILE`: an update file already on the box (a disk such
    /// as /dev/vdb holding one) goes into the slot that does not run.
    Update {
        file: String,
        allow_downgrade: bool,
    },
    /// `set interface ROLE address A/P [A/P...]`: the role's addresses become these.
    SetInterface {
        role: String,
        addresses: Vec<String>,
    },
    SetHostname(String),
    /// `set gateway ADDRESS|none`: the default route.
    SetGateway(String),
    /// `set ntp ADDRESS...|none`: the NTP servers.
    SetNtp(Vec<String>),
    /// Asks for the new password twice, hidden.
    SetPassword,
    /// The lines that follow, up to one holding a single `.`, are a keepalived.conf.
    ConfigImport,
    ConfigValidate,
    /// Puts the candidate in service (keepalived's reload).
    ConfigApply,
    /// Writes the running configuration to the configuration disk.
    ConfigSave,
    /// `config export [--with-secrets]`: secrets (the password hash) only when asked.
    ConfigExport {
        with_secrets: bool,
    },
    ConfigDiff,
    /// Drops the candidate: the running configuration is the candidate again.
    ConfigDiscard,
    /// The saved configuration into service again (after a boot that could not read it).
    ConfigRestore,
    /// `config apply confirm MINUTES`: in service, rolled back unless confirmed in time.
    ConfigApplyConfirm(u32),
    /// The change waiting for its confirmation stays.
    ConfigConfirm,
    /// The saved revisions.
    ConfigHistory,
    /// `config diff REV`: a saved revision against what runs (the number as typed; the
    /// child says what is wrong with it).
    ConfigDiffRevision(String),
    /// `config restore REV`: a saved revision back into service, through apply.
    ConfigRestoreRevision(String),
    Ping(IpAddr),
    Reboot,
    Poweroff,
    /// Asks for confirmation, erases the saved configuration and reboots.
    FactoryReset,
    Logout,
    /// `lvsfw ipvs ARGS...` as it was before `show ipvs` (tests and habits use it).
    Ipvs(Vec<String>),
    /// Kills the balancer child so that its supervision can be seen to work.
    KillBalancer,
    /// Stops (SIGSTOP) the balancer: a hung balancer, for the watchdog's test; only with
    /// `lvsfw.debug`.
    FreezeBalancer,
    /// Prints a file, such as /proc/net/ip_vs.
    DebugCat(String),
    /// Writes this many lines to /dev/kmsg: a flood of kernel messages, for the test
    /// that the log stays bounded and the console usable.
    DebugKmsg(u32),
    /// Runs a program of the image, stdin from a file after `<`; only when the kernel
    /// command line has `lvsfw.debug` (test images carry tools such as ipvsadm).
    DebugRun {
        argv: Vec<String>,
        stdin: Option<String>,
    },
}

impl Command {
    /// The commands that reach past the configuration (any file, the processes): only
    /// with `lvsfw.debug` on the kernel command line.
    pub fn is_debug(&self) -> bool {
        matches!(
            self,
            Command::KillBalancer
                | Command::FreezeBalancer
                | Command::DebugCat(_)
                | Command::DebugKmsg(_)
                | Command::DebugRun { .. }
        )
    }
}

#[path = "command/help.rs"]
mod help;
use help::HELP;

/// The command words, as a tree: a word and what may follow it.
struct Node {
    word: &'static str,
    next: &'static [Node],
}

const fn leaf(word: &'static str) -> Node {
    Node { word, next: &[] }
}

const IPVS_OPTIONS: &[Node] = &[leaf("--stats"), leaf("--rate")];
const ROLES: &[Node] = &[
    Node {
        word: "ext",
        next: &[leaf("address")],
    },
    Node {
        word: "int",
        next: &[leaf("address")],
    },
    Node {
        word: "mgmt",
        next: &[leaf("address")],
    },
];

const WORDS: &[Node] = &[
    leaf("help"),
    Node {
        word: "show",
        next: &[
            leaf("status"),
            leaf("vrrp"),
            leaf("bgp"),
            Node {
                word: "ipvs",
                next: IPVS_OPTIONS,
            },
            leaf("interfaces"),
            leaf("config"),
            leaf("log"),
            leaf("audit"),
            leaf("version"),
            leaf("time"),
            leaf("slots"),
            leaf("certificate"),
        ],
    },
    Node {
        word: "certificate",
        next: &[leaf("import"), leaf("own")],
    },
    Node {
        word: "set",
        next: &[
            Node {
                word: "interface",
                next: ROLES,
            },
            leaf("hostname"),
            leaf("gateway"),
            leaf("ntp"),
            leaf("password"),
        ],
    },
    Node {
        word: "config",
        next: &[
            leaf("import"),
            leaf("validate"),
            leaf("diff"),
            leaf("apply"),
            leaf("save"),
            leaf("export"),
            leaf("discard"),
            leaf("restore"),
            leaf("confirm"),
            leaf("history"),
        ],
    },
    Node {
        word: "drain",
        next: &[leaf("off")],
    },
    leaf("update"),
    leaf("ping"),
    leaf("reboot"),
    leaf("poweroff"),
    leaf("factory-reset"),
    leaf("logout"),
    leaf("exit"),
    leaf("status"),
    Node {
        word: "ipvs",
        next: &[
            Node {
                word: "list",
                next: IPVS_OPTIONS,
            },
            leaf("summary"),
        ],
    },
    Node {
        word: "debug",
        next: &[
            leaf("cat"),
            leaf("run"),
            leaf("kill-balancer"),
            leaf("freeze-balancer"),
            leaf("kmsg"),
        ],
    },
];

pub fn help() -> String {
    let mut text = String::from("commands:\n");
    for (usage, what) in HELP {
        if usage.len() > 26 {
            text.push_str(&format!("  {usage}\n  {:<26}  {what}\n", ""));
        } else {
            text.push_str(&format!("  {usage:<26}  {what}\n"));
        }
    }
    text
}

/// Tab completion: the words that may stand where the last (partial) word of `before`
/// is, given the words before it.
pub fn complete(before: &str) -> Vec<String> {
    let mut words: Vec<&str> = before.split(' ').collect();
    let partial = words.pop().unwrap_or("");
    let mut level = WORDS;
    for word in words.iter().filter(|w| !w.is_empty()) {
        match level.iter().find(|n| n.word == *word) {
            Some(node) => level = node.next,
            None => return Vec::new(),
        }
    }
    level
        .iter()
        .filter(|n| n.word.starts_with(partial))
        .map(|n| n.word.to_string())
        .collect()
}

fn usage(of: &str) -> String {
    let lines: Vec<&str> = HELP
        .iter()
        .filter(|(u, _)| u.split(' ').next() == of.split(' ').next() && u.starts_with(of))
        .map(|(u, _)| *u)
        .collect();
    format!("usage: {}", lines.join(" | "))
}

/// The typed text as an error message shows it: control characters as `?`, long
/// input cut at 40 characters.
fn shown(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(40)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > 40 {
        out.push_str("...");
    }
    out
}

/// `Ok(None)` for a blank line; an error says what was wrong and how to get it right.
pub fn parse(line: &str) -> Result<Option<Command>, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.is_empty() {
        return Ok(None);
    }
    if words.len() > MAX_WORDS {
        return Err(format!(
            "more than {MAX_WORDS} words; no command takes that many"
        ));
    }
    let owned = |w: &[&str]| w.iter().map(|w| w.to_string()).collect::<Vec<_>>();
    let command = match words.as_slice() {
        ["help"] | ["?"] => Command::Help,
        ["status"] | ["show", "status"] => Command::ShowStatus,
        ["show", "vrrp"] => Command::ShowVrrp,
        ["show", "bgp"] => Command::ShowBgp,
        ["drain"] => Command::Drain(true),
        ["drain", "off"] => Command::Drain(false),
        ["show", "ipvs"] => Command::ShowIpvs(IpvsColumns::Connections),
        ["show", "ipvs", "--stats"] => Command::ShowIpvs(IpvsColumns::Stats),
        ["show", "ipvs", "--rate"] => Command::ShowIpvs(IpvsColumns::Rate),
        ["show", "ipvs", ..] => return Err(usage("show ipvs")),
        ["show", "interfaces"] => Command::ShowInterfaces,
        ["show", "config"] => Command::ShowConfig,
        ["show", "log"] => Command::ShowLog,
        ["show", "audit"] => Command::ShowAudit,
        ["show", "version"] => Command::ShowVersion,
        ["show", "time"] => Command::ShowTime,
        ["show", "slots"] => Command::ShowSlots,
        ["show", "certificate"] => Command::ShowCertificate,
        ["show", ..] => {
            return Err(
                "usage: show status|vrrp|ipvs [--stats|--rate]|interfaces|config|log|version|time|slots|certificate"
                    .into(),
            )
        }
        ["certificate", "import"] => Command::CertificateImport,
        ["certificate", "own"] => Command::CertificateOwn,
        ["certificate", ..] => return Err("usage: certificate import|own".into()),
        ["set", "interface", role, rest @ ..] => {
            check_role(role)?;
            match rest {
                ["address", addresses @ ..] if !addresses.is_empty() => Command::SetInterface {
                    role: role.to_string(),
                    addresses: owned(addresses),
                },
                _ => return Err(usage("set interface")),
            }
        }
        ["set", "interface"] => return Err(usage("set interface")),
        ["set", "hostname", name] => Command::SetHostname(name.to_string()),
        ["set", "hostname", ..] => return Err(usage("set hostname")),
        ["set", "gateway", gateway] => Command::SetGateway(gateway.to_string()),
        ["set", "gateway", ..] => return Err(usage("set gateway")),
        ["set", "ntp", servers @ ..] if !servers.is_empty() && servers.len() <= 8 => {
            Command::SetNtp(owned(servers))
        }
        ["set", "ntp", ..] => return Err("usage: set ntp ADDRESS [ADDRESS...] (at most 8) | set ntp none".into()),
        ["set", "password"] => Command::SetPassword,
        ["set", "password", ..] => {
            return Err("usage: set password (the password is asked for, hidden)".into())
        }
        ["set", ..] => {
            return Err(
                "usage: set interface ROLE address A/P [A/P...] | set hostname NAME | set gateway ADDRESS|none | set ntp ADDRESS...|none | set password"
                    .into(),
            )
        }
        ["config", "import"] => Command::ConfigImport,
        ["config", "validate"] => Command::ConfigValidate,
        ["config", "apply"] => Command::ConfigApply,
        ["config", "save"] => Command::ConfigSave,
        ["config", "export"] => Command::ConfigExport {
            with_secrets: false,
        },
        ["config", "export", "--with-secrets"] => Command::ConfigExport { with_secrets: true },
        ["config", "diff"] => Command::ConfigDiff,
        ["config", "discard"] => Command::ConfigDiscard,
        ["config", "restore"] => Command::ConfigRestore,
        ["config", "apply", "confirm", minutes] => match minutes.parse::<u32>() {
            Ok(m) if (1..=60).contains(&m) => Command::ConfigApplyConfirm(m),
            _ => {
                return Err(format!(
                    "\"{}\" is not a number of minutes from 1 to 60; nothing applied",
                    shown(minutes)
                ))
            }
        },
        ["config", "apply", ..] => return Err(usage("config apply")),
        ["config", "confirm"] => Command::ConfigConfirm,
        ["config", "history"] => Command::ConfigHistory,
        ["config", "diff", rev] => Command::ConfigDiffRevision(rev.to_string()),
        ["config", "restore", rev] => Command::ConfigRestoreRevision(rev.to_string()),
        ["config", ..] => {
            return Err(
                "usage: config import|validate|diff [REV]|apply [confirm MINUTES]|confirm|save|export [--with-secrets]|discard|history|restore [REV]".into(),
            )
        }
        ["update", file] if !file.starts_with('-') => Command::Update {
            file: file.to_string(),
            allow_downgrade: false,
        },
        ["update", "--allow-downgrade", file] if !file.starts_with('-') => Command::Update {
            file: file.to_string(),
            allow_downgrade: true,
        },
        ["update", ..] => return Err(usage("update")),
        ["ping", address] => match address.parse::<IpAddr>() {
            Ok(a) => Command::Ping(a),
            Err(_) => {
                return Err(format!(
                    "\"{}\" is not an IPv4 or IPv6 address",
                    shown(address)
                ))
            }
        },
        ["ping", ..] => return Err(usage("ping")),
        ["reboot"] => Command::Reboot,
        ["poweroff"] => Command::Poweroff,
        ["factory-reset"] => Command::FactoryReset,
        ["logout"] | ["exit"] => Command::Logout,
        ["reboot" | "poweroff" | "factory-reset" | "logout" | "exit" | "help" | "status", ..] => {
            return Err(format!("usage: {} (no arguments)", words[0]))
        }
        ["ipvs", "list"] | ["ipvs", "list", "--stats" | "--rate"] | ["ipvs", "summary"] => {
            Command::Ipvs(owned(&words[1..]))
        }
        ["ipvs", ..] => return Err(usage("ipvs")),
        ["debug", "kill-balancer"] => Command::KillBalancer,
        ["debug", "freeze-balancer"] => Command::FreezeBalancer,
        ["debug", "cat", file] => Command::DebugCat(file.to_string()),
        ["debug", "cat", ..] => return Err("usage: debug cat FILE".into()),
        ["debug", "kmsg", count] => match count.parse::<u32>() {
            Ok(n) if (1..=MAX_KMSG_LINES).contains(&n) => Command::DebugKmsg(n),
            _ => return Err(format!("usage: debug kmsg COUNT (1 to {MAX_KMSG_LINES})")),
        },
        ["debug", "kmsg", ..] => {
            return Err(format!("usage: debug kmsg COUNT (1 to {MAX_KMSG_LINES})"))
        }
        ["debug", "run", argv @ .., "<", file] if !argv.is_empty() && !argv.contains(&"<") => {
            Command::DebugRun {
                argv: owned(argv),
                stdin: Some(file.to_string()),
            }
        }
        ["debug", "run", argv @ ..] if !argv.is_empty() && !argv.contains(&"<") => {
            Command::DebugRun {
                argv: owned(argv),
                stdin: None,
            }
        }
        ["debug", "run", ..] => return Err("usage: debug run PROGRAM [ARGS...] [< FILE]".into()),
        ["debug", ..] => {
            return Err("usage: debug cat FILE | debug run ... | debug kill-balancer | debug freeze-balancer | debug kmsg COUNT".into())
        }
        _ => {
            return Err(format!(
                "unknown command \"{}\"; type \"help\" for the list",
                shown(&words.join(" "))
            ))
        }
    };
    Ok(Some(command))
}

fn check_role(role: &str) -> Result<(), String> {
    if ["ext", "int", "mgmt"].contains(&role) {
        Ok(())
    } else {
        Err(format!(
            "\"{}\" is not a NIC role (expected ext, int or mgmt)",
            shown(role)
        ))
    }
}

#[cfg(test)]
mod tests;
