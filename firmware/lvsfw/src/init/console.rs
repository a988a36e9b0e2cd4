//! The serial console while PID 1 owns it: lines in, commands out.
//!
//! The tty stays in canonical mode, so the kernel's line discipline echoes and handles
//! backspace; this only has to cut bytes into bounded lines and parse them.

/// The longest line kept; longer input is dropped up to its newline, with one message.
pub const MAX_LINE: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Status,
    Poweroff,
    Reboot,
    /// Kills the balancer child so that its supervision can be seen to work.
    KillBalancer,
    /// Runs `lvsfw ipvs ARGS...` as a short-lived child.
    Ipvs(Vec<String>),
    /// The lines that follow, up to one holding a single `.`, are a keepalived.conf.
    ConfigImport,
    /// Puts the imported keepalived.conf in service (keepalived's reload).
    ConfigApply,
    /// Prints a file, such as /proc/net/ip_vs.
    DebugCat(String),
    /// Runs a program of the image, stdin from a file after `<`; only when the kernel
    /// command line has `lvsfw.debug` (test images carry tools such as ipvsadm).
    DebugRun {
        argv: Vec<String>,
        stdin: Option<String>,
    },
}

const COMMANDS: [(&str, Command, &str); 7] = [
    ("help", Command::Help, "list the commands"),
    (
        "status",
        Command::Status,
        "show the balancer process and uptime",
    ),
    (
        "poweroff",
        Command::Poweroff,
        "stop the balancer cleanly and power off",
    ),
    (
        "reboot",
        Command::Reboot,
        "stop the balancer cleanly and reboot",
    ),
    (
        "config import",
        Command::ConfigImport,
        "paste a keepalived.conf, end with a line holding a single \".\"",
    ),
    (
        "config apply",
        Command::ConfigApply,
        "put the imported keepalived.conf in service",
    ),
    (
        "debug kill-balancer",
        Command::KillBalancer,
        "SIGKILL the balancer (it is restarted)",
    ),
];

pub fn help() -> String {
    let mut text = String::from("commands:\n");
    for (words, _, what) in COMMANDS {
        text.push_str(&format!("  {words:<22}{what}\n"));
    }
    for (words, what) in [
        ("ipvs list [--stats|--rate]", "the kernel's IPVS table"),
        (
            "ipvs summary",
            "how many services, destinations, connections",
        ),
        ("debug cat FILE", "print a file, e.g. /proc/net/ip_vs"),
        (
            "debug run PROG ARGS [< FILE]",
            "with lvsfw.debug on the kernel command line",
        ),
    ] {
        text.push_str(&format!("  {words:<22}{what}\n"));
    }
    text
}

/// `Ok(None)` for a blank line; an error names the unknown input and how to get help.
pub fn parse(line: &str) -> Result<Option<Command>, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.is_empty() {
        return Ok(None);
    }
    let joined = words.join(" ");
    if let Some((_, command, _)) = COMMANDS.iter().find(|(w, _, _)| *w == joined) {
        return Ok(Some(command.clone()));
    }
    let owned = |w: &[&str]| w.iter().map(|w| w.to_string()).collect::<Vec<_>>();
    match words.as_slice() {
        ["ipvs", rest @ ..] => return Ok(Some(Command::Ipvs(owned(rest)))),
        ["debug", "cat", file] => return Ok(Some(Command::DebugCat(file.to_string()))),
        ["debug", "cat", ..] => return Err("usage: debug cat FILE".into()),
        ["debug", "run", argv @ .., "<", file] if !argv.is_empty() => {
            return Ok(Some(Command::DebugRun {
                argv: owned(argv),
                stdin: Some(file.to_string()),
            }))
        }
        ["debug", "run", argv @ ..] if !argv.is_empty() && !argv.contains(&"<") => {
            return Ok(Some(Command::DebugRun {
                argv: owned(argv),
                stdin: None,
            }))
        }
        ["debug", "run", ..] => return Err("usage: debug run PROGRAM [ARGS...] [< FILE]".into()),
        _ => {}
    }
    let shown: String = joined.chars().take(40).collect();
    let ellipsis = if joined.chars().count() > 40 {
        "..."
    } else {
        ""
    };
    let printable: String = shown
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    Err(format!(
        "unknown command \"{printable}{ellipsis}\"; type \"help\" for the list"
    ))
}

/// Cuts console bytes into lines of at most [`MAX_LINE`] bytes.
#[derive(Debug, Default)]
pub struct LineBuffer {
    pending: Vec<u8>,
    overlong: bool,
    after_cr: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Text(String),
    /// A line that was too long and was dropped whole.
    TooLong,
}

impl LineBuffer {
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Line> {
        let mut lines = Vec::new();
        for &b in bytes {
            let after_cr = std::mem::replace(&mut self.after_cr, b == b'\r');
            match b {
                b'\n' if after_cr => {}
                b'\n' | b'\r' => {
                    lines.push(if self.overlong {
                        Line::TooLong
                    } else {
                        Line::Text(String::from_utf8_lossy(&self.pending).into_owned())
                    });
                    self.pending.clear();
                    self.overlong = false;
                }
                _ if self.overlong => {}
                _ if self.pending.len() >= MAX_LINE => {
                    self.overlong = true;
                    self.pending.clear();
                }
                _ => self.pending.push(b),
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_parsed_with_any_spacing() {
        assert_eq!(parse("  status "), Ok(Some(Command::Status)));
        assert_eq!(
            parse("debug   kill-balancer"),
            Ok(Some(Command::KillBalancer))
        );
        assert_eq!(parse(""), Ok(None));
        assert_eq!(
            parse("ipvs list --stats"),
            Ok(Some(Command::Ipvs(vec!["list".into(), "--stats".into()])))
        );
        assert_eq!(parse("config  import"), Ok(Some(Command::ConfigImport)));
        assert_eq!(
            parse("debug cat /proc/net/ip_vs"),
            Ok(Some(Command::DebugCat("/proc/net/ip_vs".into())))
        );
        assert_eq!(
            parse("debug run /sbin/ipvsadm -R < /tmp/rules"),
            Ok(Some(Command::DebugRun {
                argv: vec!["/sbin/ipvsadm".into(), "-R".into()],
                stdin: Some("/tmp/rules".into())
            }))
        );
        assert_eq!(
            parse("debug run < /tmp/rules"),
            Err("usage: debug run PROGRAM [ARGS...] [< FILE]".into())
        );
        assert_eq!(
            parse("debug run a < b c"),
            Err("usage: debug run PROGRAM [ARGS...] [< FILE]".into())
        );
        assert_eq!(parse("debug cat"), Err("usage: debug cat FILE".into()));
        assert_eq!(
            parse("reboto now"),
            Err("unknown command \"reboto now\"; type \"help\" for the list".into())
        );
        assert_eq!(
            parse("\x1b[A\x07"),
            Err("unknown command \"?[A?\"; type \"help\" for the list".into())
        );
    }

    #[test]
    fn help_lists_every_command() {
        let text = help();
        for (words, _, _) in COMMANDS {
            assert!(text.contains(words), "{words} missing from help");
        }
        assert!(text.contains("ipvs list"));
    }

    #[test]
    fn lines_are_cut_at_newlines_across_reads() {
        let mut b = LineBuffer::default();
        assert_eq!(b.push(b"sta"), vec![]);
        assert_eq!(b.push(b"tus\nhel"), vec![Line::Text("status".into())]);
        assert_eq!(b.push(b"p\r\n"), vec![Line::Text("help".into())]);
    }

    #[test]
    fn an_overlong_line_is_dropped_whole_and_the_next_one_works() {
        let mut b = LineBuffer::default();
        let long = vec![b'x'; 100 * 1024];
        assert_eq!(b.push(&long), vec![]);
        assert_eq!(
            b.push(b"\nstatus\n"),
            vec![Line::TooLong, Line::Text("status".into())]
        );
    }

    #[test]
    fn binary_garbage_becomes_text_that_fails_to_parse() {
        let mut b = LineBuffer::default();
        let lines = b.push(&[0xff, 0xfe, 0x00, b'\n']);
        let Line::Text(t) = &lines[0] else {
            panic!("{lines:?}")
        };
        assert!(parse(t).is_err());
    }
}
