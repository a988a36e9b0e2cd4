//! What keepalived's `global_defs` say about mail, with keepalived's defaults, and the
//! alerts as keepalived words them: `[router] VRRP Instance VI_1 - Entering MASTER state`,
//! `[router] Realserver [ip]:port of virtual server [vip]:port - DOWN`.

use std::net::IpAddr;
use std::time::Duration;

use config::keepalived::GlobalDefs;
use ipvs::ServiceKey;

use super::smtp::Envelope;
use crate::lvs::QuorumChange;

/// keepalived's `smtp_connect_timeout` default (DEFAULT_SMTP_CONNECTION_TIMEOUT).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// RFC 5322 2.1.1: a line is at most 998 characters.
const MAX_HEADER: usize = 900;
/// keepalived keeps a body of 512 bytes at most (MAX_BODY_LENGTH); ours is as bounded.
const MAX_BODY: usize = 1024;

/// Where and to whom alerts go; none (no mail at all, as keepalived) without
/// `notification_email` or `smtp_server`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    /// `notification_email_from` as written, for the From header (keepalived writes it
    /// as it is, `LB <lb@example.com>` included); keepalived's default is the user it
    /// runs as (root here) at the host's name.
    pub from_header: String,
    /// Its address alone, for MAIL FROM.
    pub from: String,
    pub to: Vec<String>,
    /// `smtp_helo_name`; keepalived's default is the host's name.
    pub helo: String,
    /// `smtp_connect_timeout`: for the connection and for each reply.
    pub timeout: Duration,
    /// In each subject's brackets: `router_id`, else the host's name (keepalived's
    /// default router_id).
    pub router: String,
    pub no_email_faults: bool,
    pub no_checker_emails: bool,
    /// Whether a real server without its own `smtp_alert` mails: global
    /// `smtp_alert_checker`, else `smtp_alert`, else on (keepalived keeps this one on
    /// by default, unlike the others, for compatibility).
    pub checker_default: bool,
    /// Whether a virtual server without its own `smtp_alert` mails its quorum: global
    /// `smtp_alert_checker`, else `smtp_alert`, else off.
    pub virtual_server_default: bool,
}

impl Settings {
    /// None (no mail, as keepalived) without `notification_email` or `smtp_server`; an
    /// error when a configured address or name holds what would end its line or header
    /// (a CR or LF would start a header or an SMTP command of its own).
    pub fn from_global(g: &GlobalDefs, hostname: &str) -> Result<Option<Settings>, String> {
        let Some(server) = g.smtp_server.as_ref() else {
            return Ok(None);
        };
        if g.notification_email.is_empty() {
            return Ok(None);
        }
        let from_header = match g.notification_email_from.as_deref() {
            Some(text) => {
                plain("notification_email_from", text)?;
                text.trim().to_string()
            }
            None => format!("root@{hostname}"),
        };
        let from = address("notification_email_from", &bare_address(&from_header))?;
        let to = g
            .notification_email
            .iter()
            .map(|a| {
                plain("notification_email", a)?;
                address("notification_email", &bare_address(a))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let helo = g
            .smtp_helo_name
            .clone()
            .unwrap_or_else(|| hostname.to_string());
        plain("smtp_helo_name", &helo)?;
        if helo.is_empty() || helo.contains(char::is_whitespace) {
            return Err(format!("smtp_helo_name {helo:?} is not one word"));
        }
        plain("smtp_server", &server.host)?;
        Ok(Some(Settings {
            host: server.host.clone(),
            port: server.port,
            from_header,
            from,
            to,
            helo,
            timeout: g.smtp_connect_timeout.unwrap_or(DEFAULT_TIMEOUT),
            router: g.router_id.clone().unwrap_or_else(|| hostname.to_string()),
            no_email_faults: g.no_email_faults,
            no_checker_emails: g.no_checker_emails,
            checker_default: g.smtp_alert_checker.or(g.smtp_alert).unwrap_or(true),
            virtual_server_default: g.smtp_alert_checker.or(g.smtp_alert).unwrap_or(false),
        }))
    }

    /// keepalived's rule for a checker that changed (check_http.c and the others): mailed
    /// when the real server mails (`smtp_alert`, its own or the global default) and
    /// either the server's life changed or `no_checker_emails` is off.
    pub fn checker_mails(&self, own: Option<bool>, change: &CheckerChange) -> bool {
        change.checker_was_up != change.checker_up
            && own.unwrap_or(self.checker_default)
            && (change.alive_before != change.alive || !self.no_checker_emails)
    }

    /// `host:port` for logs (an IPv6 address in brackets).
    pub fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// An alert before it is addressed: its subject after the router's name, and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub subject: String,
    pub body: String,
}

impl Alert {
    /// keepalived's words for an instance (`VRRP Instance`) or a sync group (`VRRP
    /// Group`) entering `state`; none for a state keepalived does not mail.
    pub fn vrrp(what: VrrpWhat, name: &str, state: &str) -> Option<Alert> {
        let (subject, body) = match (what, state) {
            (VrrpWhat::Instance, "MASTER") => (
                "Entering MASTER state",
                "=> VRRP Instance is now owning VRRP VIPs <=",
            ),
            (VrrpWhat::Instance, "BACKUP") => (
                "Entering BACKUP state",
                "=> VRRP Instance is no longer owning VRRP VIPs <=",
            ),
            (VrrpWhat::Instance, "FAULT") => (
                "Entering FAULT state",
                "=> VRRP Instance is no longer owning VRRP VIPs <=",
            ),
            (VrrpWhat::Group, "MASTER") => (
                "Entering MASTER state",
                "=> All VRRP group instances are now in MASTER state <=",
            ),
            (VrrpWhat::Group, "BACKUP") => (
                "Entering BACKUP state",
                "=> All VRRP group instances are now in BACKUP state <=",
            ),
            (VrrpWhat::Group, "FAULT") => (
                "Entering FAULT state",
                "=> All VRRP group instances are now in FAULT state <=",
            ),
            _ => return None,
        };
        let kind = match what {
            VrrpWhat::Instance => "VRRP Instance",
            VrrpWhat::Group => "VRRP Group",
        };
        Some(Alert {
            subject: format!("{kind} {name} - {subject}"),
            body: body.into(),
        })
    }

    /// A virtual server's quorum, in keepalived's words (ipwrapper.c): the threshold
    /// it was judged against is quorum + hysteresis to gain it, quorum - hysteresis to
    /// lose it.
    pub fn quorum(change: &QuorumChange) -> Alert {
        let what = match (change.first, change.up) {
            (true, true) => "Starting with quorum up",
            (true, false) => "Starting with quorum down",
            (false, true) => "Gained quorum",
            (false, false) => "Lost quorum",
        };
        let threshold = if change.up {
            change.quorum.saturating_add(change.hysteresis)
        } else {
            change.quorum.saturating_sub(change.hysteresis)
        };
        Alert {
            subject: format!(
                "Virtualserver {} - {}",
                virtual_server(change.service),
                if change.up { "UP" } else { "DOWN" }
            ),
            body: format!(
                "=> {what} {}+{}={threshold} <= {} <=",
                change.quorum, change.hysteresis, change.live_weight
            ),
        }
    }

    /// A checker of a real server that changed, in keepalived's words: the subject
    /// says the server's life (UP or DOWN), the body what the checker found.
    pub fn checker(change: &CheckerChange) -> Alert {
        Alert {
            subject: format!(
                "Realserver {} of virtual server {} - {}",
                bracketed(change.addr, change.port),
                virtual_server(change.service),
                if change.alive { "UP" } else { "DOWN" }
            ),
            body: if change.checker_up {
                "=> CHECK succeed on service <=".into()
            } else {
                format!("=> CHECK failed on service : {} <=", change.found)
            },
        }
    }
}

/// A checker's result that may change its state, with its real server's life before
/// and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckerChange {
    pub service: ServiceKey,
    pub addr: IpAddr,
    pub port: u16,
    pub checker_was_up: bool,
    pub checker_up: bool,
    pub alive_before: bool,
    pub alive: bool,
    /// What the checker found.
    pub found: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VrrpWhat {
    Instance,
    Group,
}

/// keepalived's FMT_VS: `[10.0.0.1]:80`, `FWM 1`.
fn virtual_server(service: ServiceKey) -> String {
    match service {
        ServiceKey::Addr { addr, port, .. } => bracketed(addr, port),
        ServiceKey::Fwmark { mark, .. } => format!("FWM {mark}"),
    }
}

fn bracketed(addr: IpAddr, port: u16) -> String {
    format!("[{addr}]:{port}")
}

/// `Name <a@b>` or `<a@b>` or `a@b`: the address alone, for the envelope.
fn bare_address(text: &str) -> String {
    match (text.find('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close => text[open + 1..close].trim().to_string(),
        _ => text.trim().to_string(),
    }
}

/// Configured text that goes on a line of its own (a header, an SMTP command): no
/// control character, so that no CR or LF can start another.
fn plain(what: &str, text: &str) -> Result<(), String> {
    if text.chars().any(char::is_control) {
        return Err(format!(
            "{what} {text:?} holds a control character (CR, LF, ...); refused"
        ));
    }
    Ok(())
}

/// An address for MAIL FROM / RCPT TO: one word inside the angle brackets.
fn address(what: &str, bare: &str) -> Result<String, String> {
    if bare.is_empty() || bare.contains(|c: char| c.is_whitespace() || c == '<' || c == '>') {
        return Err(format!("{what} {bare:?} is not a mail address"));
    }
    Ok(bare.to_string())
}

/// A header value from configuration names and the server's words: no CR, LF or other
/// control character may start a header of its own (header injection), and bounded.
fn header_value(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_HEADER)
        .collect()
}

/// The whole mail for `alert`: RFC 5322 headers (Date, From, To, Subject, Message-ID)
/// and keepalived's body. `unix_secs` and `sequence` make the Message-ID unique.
pub fn envelope(settings: &Settings, alert: &Alert, unix_secs: u64, sequence: u64) -> Envelope {
    let subject = header_value(&format!("[{}] {}", settings.router, alert.subject));
    let body: String = alert
        .body
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .take(MAX_BODY)
        .collect();
    let message = format!(
        "Date: {date}\nFrom: {from}\nTo: {to}\nSubject: {subject}\nMessage-ID: <{unix_secs}.{sequence}.{pid}@{host}>\nX-Mailer: lvsfw\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n{body}\n",
        date = rfc5322_date(unix_secs),
        from = header_value(&settings.from_header),
        to = header_value(&settings.to.join(", ")),
        pid = std::process::id(),
        host = header_value(&settings.helo).replace([' ', '<', '>'], ""),
    );
    Envelope {
        helo: header_value(&settings.helo),
        from: header_value(&settings.from),
        to: settings.to.iter().map(|t| header_value(t)).collect(),
        message,
    }
}

/// RFC 5322 3.3: `Fri, 04 Dec 2026 20:41:12 +0000` (the appliance runs in UTC).
pub fn rfc5322_date(unix_secs: u64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = ::status::time::Civil::from_unix(unix_secs);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000",
        DAYS[usize::from(t.weekday)],
        t.day,
        MONTHS[usize::from(t.month - 1)],
        t.year,
        t.hour,
        t.minute,
        t.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(text: &str) -> GlobalDefs {
        config::keepalived::read_text(&format!("global_defs {{\n{text}\n}}\n"), "k.conf")
            .unwrap()
            .config
            .global
    }

    const MAILED: &str = "notification_email {\n a@example.com\n}\nsmtp_server 192.0.2.25";

    fn settings(extra: &str) -> Settings {
        Settings::from_global(&global(&format!("{MAILED}\n{extra}")), "lb1")
            .unwrap()
            .unwrap()
    }

    #[test]
    fn no_recipient_or_no_server_means_no_mail_as_in_keepalived() {
        assert_eq!(
            Settings::from_global(&global("smtp_server 192.0.2.25"), "lb1"),
            Ok(None)
        );
        assert_eq!(
            Settings::from_global(&global("notification_email {\n a@example.com\n}"), "lb1"),
            Ok(None)
        );
    }

    #[test]
    fn keepalived_s_defaults_fill_what_is_not_said() {
        let s = Settings::from_global(
            &global(
                "notification_email {\n a@example.com\n b@example.com\n}\nsmtp_server 192.0.2.25",
            ),
            "lb1",
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.server(), "192.0.2.25:25");
        assert_eq!(s.from, "root@lb1");
        assert_eq!(s.from_header, "root@lb1");
        assert_eq!(s.helo, "lb1");
        assert_eq!(s.router, "lb1");
        assert_eq!(s.timeout, DEFAULT_TIMEOUT);
        assert_eq!(s.to, ["a@example.com", "b@example.com"]);
        assert!(s.checker_default);

        let s = Settings::from_global(
            &global("notification_email {\n a@example.com\n}\nnotification_email_from \"LB <lb@example.com>\"\nsmtp_server 2001:db8::25 2525\nsmtp_helo_name mx-client\nsmtp_connect_timeout 5\nrouter_id LB_A"),
            "lb1",
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.server(), "[2001:db8::25]:2525");
        assert_eq!(s.from, "lb@example.com");
        assert_eq!(s.from_header, "LB <lb@example.com>");
        assert_eq!(s.helo, "mx-client");
        assert_eq!(s.router, "LB_A");
        assert_eq!(s.timeout, Duration::from_secs(5));
    }

    #[test]
    fn a_control_character_in_an_address_or_name_is_refused() {
        let mut g = global(MAILED);
        g.notification_email = vec!["a@example.com\r\nBcc: evil@example.com".into()];
        let e = Settings::from_global(&g, "lb1").unwrap_err();
        assert!(e.starts_with("notification_email "), "{e}");
        let mut g = global(MAILED);
        g.notification_email_from = Some("lb@example.com\nX-Evil: 1".into());
        assert!(Settings::from_global(&g, "lb1").is_err());
        let mut g = global(MAILED);
        g.smtp_helo_name = Some("lb1\r\nRCPT TO:<evil@example.com>".into());
        assert!(Settings::from_global(&g, "lb1").is_err());
        let mut g = global(MAILED);
        g.notification_email = vec!["two words@example.com".into()];
        assert!(Settings::from_global(&g, "lb1").is_err());
    }

    fn change(checker: (bool, bool), alive: (bool, bool)) -> CheckerChange {
        CheckerChange {
            service: ServiceKey::Addr {
                protocol: ipvs::Protocol::Tcp,
                addr: "10.0.0.1".parse().unwrap(),
                port: 80,
            },
            addr: "192.168.33.11".parse().unwrap(),
            port: 8080,
            checker_was_up: checker.0,
            checker_up: checker.1,
            alive_before: alive.0,
            alive: alive.1,
            found: "TCP_CHECK 192.168.33.11:8080: connection refused".into(),
        }
    }

    #[test]
    fn which_checker_changes_mail_under_which_keywords() {
        let down = change((true, false), (true, false));
        // A second checker of a server already down: its life did not change.
        let second = change((true, false), (false, false));
        let same = change((true, true), (true, true));
        // keepalived's default for real servers is on.
        let s = settings("");
        assert!(s.checker_mails(None, &down));
        assert!(s.checker_mails(None, &second));
        assert!(!s.checker_mails(None, &same));
        assert!(!s.checker_mails(Some(false), &down));
        // no_checker_emails: only a change of the server's life.
        let s = settings("no_checker_emails");
        assert!(s.checker_mails(None, &down));
        assert!(!s.checker_mails(None, &second));
        // smtp_alert_checker before smtp_alert; the real server's own before both.
        assert!(!settings("smtp_alert false").checker_mails(None, &down));
        assert!(settings("smtp_alert false\nsmtp_alert_checker").checker_mails(None, &down));
        assert!(!settings("smtp_alert\nsmtp_alert_checker false").checker_mails(None, &down));
        assert!(settings("smtp_alert false").checker_mails(Some(true), &down));
    }

    #[test]
    fn subjects_and_bodies_are_keepalived_s() {
        let a = Alert::vrrp(VrrpWhat::Instance, "VI_1", "MASTER").unwrap();
        assert_eq!(a.subject, "VRRP Instance VI_1 - Entering MASTER state");
        assert_eq!(a.body, "=> VRRP Instance is now owning VRRP VIPs <=");
        let a = Alert::vrrp(VrrpWhat::Group, "G1", "FAULT").unwrap();
        assert_eq!(a.subject, "VRRP Group G1 - Entering FAULT state");
        assert_eq!(Alert::vrrp(VrrpWhat::Instance, "VI_1", "INIT"), None);

        let a = Alert::checker(&change((true, false), (true, false)));
        assert_eq!(
            a.subject,
            "Realserver [192.168.33.11]:8080 of virtual server [10.0.0.1]:80 - DOWN"
        );
        assert_eq!(
            a.body,
            "=> CHECK failed on service : TCP_CHECK 192.168.33.11:8080: connection refused <="
        );
        let mut up = change((false, true), (false, true));
        up.service = ServiceKey::Fwmark {
            ipv6: false,
            mark: 7,
        };
        up.addr = "2001:db8::1".parse().unwrap();
        let a = Alert::checker(&up);
        assert_eq!(
            a.subject,
            "Realserver [2001:db8::1]:8080 of virtual server FWM 7 - UP"
        );
        assert_eq!(a.body, "=> CHECK succeed on service <=");
    }

    #[test]
    fn quorum_mails_are_keepalived_s_and_off_by_default() {
        let change = QuorumChange {
            service: ServiceKey::Addr {
                protocol: ipvs::Protocol::Tcp,
                addr: "10.0.0.1".parse().unwrap(),
                port: 80,
            },
            up: false,
            first: false,
            quorum: 3,
            hysteresis: 1,
            live_weight: 1,
            smtp_alert: None,
        };
        let a = Alert::quorum(&change);
        assert_eq!(a.subject, "Virtualserver [10.0.0.1]:80 - DOWN");
        assert_eq!(a.body, "=> Lost quorum 3+1=2 <= 1 <=");
        let a = Alert::quorum(&QuorumChange {
            up: true,
            first: true,
            live_weight: 4,
            ..change
        });
        assert_eq!(a.subject, "Virtualserver [10.0.0.1]:80 - UP");
        assert_eq!(a.body, "=> Starting with quorum up 3+1=4 <= 4 <=");
        assert!(!settings("").virtual_server_default);
        assert!(settings("smtp_alert").virtual_server_default);
        assert!(!settings("smtp_alert\nsmtp_alert_checker false").virtual_server_default);
    }

    #[test]
    fn the_mail_has_its_headers_and_no_name_can_inject_one() {
        let mut s = settings("notification_email_from \"LB one <lb@example.com>\"");
        s.router = "lb1\r\nBcc: evil@example.com".into();
        let alert = Alert::vrrp(VrrpWhat::Instance, "VI_1\nX-Evil: 1", "MASTER").unwrap();
        let e = envelope(&s, &alert, 1_796_416_872, 3);
        let headers: Vec<&str> = e.message.split("\n\n").next().unwrap().lines().collect();
        assert_eq!(
            headers,
            [
                "Date: Fri, 04 Dec 2026 20:41:12 +0000",
                "From: LB one <lb@example.com>",
                "To: a@example.com",
                "Subject: [lb1  Bcc: evil@example.com] VRRP Instance VI_1 X-Evil: 1 - Entering MASTER state",
                &format!("Message-ID: <1796416872.3.{}@lb1>", std::process::id()),
                "X-Mailer: lvsfw",
                "MIME-Version: 1.0",
                "Content-Type: text/plain; charset=utf-8",
            ]
        );
        assert!(e
            .message
            .ends_with("\n\n=> VRRP Instance is now owning VRRP VIPs <=\n"));
        assert_eq!(e.from, "lb@example.com");
        assert_eq!(e.to, ["a@example.com"]);
    }

    #[test]
    fn dates_are_rfc_5322() {
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
    }
}
