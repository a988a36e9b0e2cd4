//! Remote syslog servers in the native configuration (issue 20):
//!
//! ```json
//! "syslog": [
//!   {"server": "192.168.0.60", "protocol": "tcp", "port": 514, "facility": "local0",
//!    "level": "info", "levels": {"checks": "warning", "kernel": "none"}}
//! ]
//! ```
//!
//! `facility` takes syslog's names (keepalived's `log_facility` takes local0..7; daemon
//! is keepalived's default and ours). `level` is the least severe message sent
//! (RFC 5424 §6.2.1 names; default info), `levels` overrides it per source, and `none`
//! sends nothing of that source.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Issues;

/// Servers one configuration may name.
pub const MAX_SYSLOG_SERVERS: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogServer {
    pub address: IpAddr,
    pub port: u16,
    pub transport: Transport,
    pub facility: Facility,
    /// The least severe message sent; `None`: nothing.
    pub level: Option<Severity>,
    pub levels: BTreeMap<Source, Option<Severity>>,
}

impl SyslogServer {
    /// Whether a message of `source` at `severity` goes to this server.
    pub fn wants(&self, source: Source, severity: Severity) -> bool {
        let limit = self.levels.get(&source).copied().unwrap_or(self.level);
        limit.is_some_and(|limit| severity <= limit)
    }
}

/// UDP (RFC 5426) or TCP with octet counting (RFC 6587 §3.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

macro_rules! named {
    ($name:ident, $what:literal, { $($variant:ident = $text:literal => $value:expr),* $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
            /// The number RFC 5424 gives it.
            pub fn code(self) -> u8 {
                match self { $($name::$variant => $value),* }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                $name::ALL.iter().copied().find(|v| v.name() == text).ok_or_else(|| {
                    let names: Vec<&str> = $name::ALL.iter().map(|v| v.name()).collect();
                    format!("\"{text}\" is not a {} (expected one of {})", $what, names.join(", "))
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

named!(Facility, "syslog facility", {
    Kern = "kern" => 0, User = "user" => 1, Daemon = "daemon" => 3, Auth = "auth" => 4,
    Syslog = "syslog" => 5, Authpriv = "authpriv" => 10,
    Local0 = "local0" => 16, Local1 = "local1" => 17, Local2 = "local2" => 18,
    Local3 = "local3" => 19, Local4 = "local4" => 20, Local5 = "local5" => 21,
    Local6 = "local6" => 22, Local7 = "local7" => 23,
});

// In order of severity: Emerg is the most severe (the smallest code).
named!(Severity, "syslog severity", {
    Emerg = "emerg" => 0, Alert = "alert" => 1, Crit = "crit" => 2, Err = "err" => 3,
    Warning = "warning" => 4, Notice = "notice" => 5, Info = "info" => 6, Debug = "debug" => 7,
});

named!(Source, "log source", {
    Init = "init" => 0, Balancer = "balancer" => 1, Web = "web" => 2, Vrrp = "vrrp" => 3,
    Checks = "checks" => 4, Kernel = "kernel" => 5, Audit = "audit" => 6,
});

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSyslogServer {
    server: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    facility: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    level: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    levels: BTreeMap<String, String>,
}

fn level_of(text: &str) -> Result<Option<Severity>, String> {
    if text == "none" {
        return Ok(None);
    }
    text.parse::<Severity>()
        .map(Some)
        .map_err(|e| format!("{e}, or none"))
}

fn level_name(level: Option<Severity>) -> String {
    level.map_or("none".into(), |s| s.name().into())
}

pub(crate) fn validate(raw: Vec<RawSyslogServer>, issues: &mut Issues) -> Vec<SyslogServer> {
    if raw.len() > MAX_SYSLOG_SERVERS {
        issues.push(
            "syslog",
            format!("more than {MAX_SYSLOG_SERVERS} syslog servers"),
        );
    }
    let mut servers = Vec::new();
    for (i, r) in raw.into_iter().enumerate() {
        let at = format!("syslog[{i}]");
        let mut ok = true;
        let mut check = |field: &str, result: Result<(), String>| {
            if let Err(why) = result {
                issues.push(format!("{at}.{field}"), why);
                ok = false;
            }
        };
        let address = r.server.parse::<IpAddr>();
        check(
            "server",
            address
                .as_ref()
                .map(|_| ())
                .map_err(|_| format!("\"{}\" is not an IP address", r.server)),
        );
        let transport = match r.protocol.as_deref().unwrap_or("udp") {
            "udp" => Ok(Transport::Udp),
            "tcp" => Ok(Transport::Tcp),
            other => Err(format!("\"{other}\" is not udp or tcp")),
        };
        check("protocol", transport.clone().map(|_| ()));
        let facility = r
            .facility
            .as_deref()
            .unwrap_or("daemon")
            .parse::<Facility>();
        check("facility", facility.clone().map(|_| ()));
        let level = level_of(r.level.as_deref().unwrap_or("info"));
        check("level", level.clone().map(|_| ()));
        if r.port == Some(0) {
            check("port", Err("0 is not a port".into()));
        }
        let mut levels = BTreeMap::new();
        for (source, text) in &r.levels {
            match (source.parse::<Source>(), level_of(text)) {
                (Ok(source), Ok(level)) => {
                    levels.insert(source, level);
                }
                (Err(why), _) => check(&format!("levels.{source}"), Err(why)),
                (_, Err(why)) => check(&format!("levels.{source}"), Err(why)),
            }
        }
        if let (true, Ok(address), Ok(transport), Ok(facility), Ok(level)) =
            (ok, address, transport, facility, level)
        {
            servers.push(SyslogServer {
                address,
                port: r.port.unwrap_or(514),
                transport,
                facility,
                level,
                levels,
            });
        }
    }
    servers
}

pub(crate) fn to_raw(servers: &[SyslogServer]) -> Option<Vec<RawSyslogServer>> {
    if servers.is_empty() {
        return None;
    }
    Some(
        servers
            .iter()
            .map(|s| RawSyslogServer {
                server: s.address.to_string(),
                port: (s.port != 514).then_some(s.port),
                protocol: (s.transport == Transport::Tcp).then(|| "tcp".into()),
                facility: (s.facility != Facility::Daemon).then(|| s.facility.name().into()),
                level: (s.level != Some(Severity::Info)).then(|| level_name(s.level)),
                levels: s
                    .levels
                    .iter()
                    .map(|(k, v)| (k.name().to_string(), level_name(*v)))
                    .collect(),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use crate::native::{from_json, to_json};

    use super::*;

    #[test]
    fn servers_read_write_back_and_filter_per_source() {
        let text = r#"{"syslog": [
            {"server": "192.168.0.60", "protocol": "tcp", "facility": "local3",
             "level": "notice", "levels": {"checks": "warning", "kernel": "none", "audit": "debug"}},
            {"server": "2001:db8::5", "port": 1514}
        ]}"#;
        let config = from_json(text).unwrap();
        let [tcp, udp] = &config.syslog[..] else {
            panic!("{:?}", config.syslog)
        };
        assert_eq!(tcp.transport, Transport::Tcp);
        assert_eq!(tcp.facility.code(), 19);
        assert_eq!(tcp.port, 514);
        assert!(tcp.wants(Source::Vrrp, Severity::Notice));
        assert!(!tcp.wants(Source::Vrrp, Severity::Info));
        assert!(!tcp.wants(Source::Checks, Severity::Notice));
        assert!(tcp.wants(Source::Checks, Severity::Err));
        assert!(!tcp.wants(Source::Kernel, Severity::Emerg));
        assert!(tcp.wants(Source::Audit, Severity::Info));
        assert_eq!(
            (udp.transport, udp.facility, udp.port, udp.level),
            (Transport::Udp, Facility::Daemon, 1514, Some(Severity::Info))
        );
        assert_eq!(from_json(&to_json(&config)).unwrap(), config);
    }

    #[test]
    fn bad_servers_are_named_with_where() {
        let text = r#"{"syslog": [{"server": "loghost", "protocol": "tls",
            "facility": "local9", "level": "loud", "levels": {"dns": "info", "web": "x"}}]}"#;
        let issues = from_json(text).unwrap_err().to_string();
        for expected in [
            "syslog[0].server: \"loghost\" is not an IP address",
            "syslog[0].protocol: \"tls\" is not udp or tcp",
            "syslog[0].facility: \"local9\" is not a syslog facility",
            "syslog[0].level: \"loud\" is not a syslog severity",
            "syslog[0].levels.dns: \"dns\" is not a log source",
            "syslog[0].levels.web: \"x\" is not a syslog severity",
        ] {
            assert!(issues.contains(expected), "{expected} not in {issues}");
        }
    }
}
