//! `"ntp_servers": ["192.0.2.1", "2001:db8::123"]`: the servers the clock follows.
//! Addresses only: the box has no resolver, and a name that cannot be looked up would
//! leave the clock wrong without a word.

use std::collections::HashSet;
use std::net::IpAddr;

use crate::{Issues, MAX_NTP_SERVERS};

pub(super) fn validate_servers(raw: &[String], issues: &mut Issues) -> Vec<IpAddr> {
    if raw.len() > MAX_NTP_SERVERS {
        issues.push(
            "ntp_servers",
            format!("more than {MAX_NTP_SERVERS} NTP servers"),
        );
    }
    let mut seen = HashSet::new();
    let mut servers = Vec::new();
    for (i, text) in raw.iter().enumerate() {
        let at = format!("ntp_servers[{i}]");
        match text.trim().parse::<IpAddr>() {
            Ok(a) if a.is_unspecified() || a.is_multicast() || a.is_loopback() => issues.push(
                at,
                format!("{a} cannot be an NTP server; give a server's unicast address"),
            ),
            Ok(a) if !seen.insert(a) => issues.push(at, format!("{a} is given twice")),
            Ok(a) => servers.push(a),
            Err(_) => issues.push(
                at,
                format!(
                    "\"{}\" is not an IP address (names are not looked up: give the server's address)",
                    text.chars().take(64).collect::<String>()
                ),
            ),
        }
    }
    servers
}
