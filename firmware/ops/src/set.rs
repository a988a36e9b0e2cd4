//! Changes to the candidate's native part (`set ...`) and its keepalived.conf (an import,
//! the page's editor): each validated whole before anything is written.

use std::io::Read as _;

use super::*;

/// PBKDF2 rounds of a new password hash; unit tests use the least the model takes.
pub(super) const ITERATIONS: u32 = if cfg!(test) {
    config::password::MIN_ITERATIONS
} else {
    config::password::DEFAULT_ITERATIONS
};

/// Changes the candidate's native part with `edit`, validates the whole result and
/// writes it; on any error nothing is written.
pub(super) fn edit_candidate(
    paths: &Paths,
    edit: impl FnOnce(&mut Config) -> Result<String, String>,
) -> Result<String, String> {
    let texts = candidate(paths)?;
    let mut config = native(&texts.native, "candidate")?;
    let mut said = edit(&mut config)?;
    let text = config::native::to_json(&config);
    if let Err(issues) = config::native::from_json(&text) {
        let mut report = String::from("that would make the configuration invalid:\n");
        for issue in issues.iter() {
            let _ = writeln!(report, "  {issue}");
        }
        report.push_str("nothing changed\n");
        return Err(report);
    }
    start_candidate(paths)?;
    write(&paths.candidate_json, &text)?;
    said.push_str(
        "candidate changed; \"config diff\" shows it, \"config apply\" puts it in service\n",
    );
    Ok(said)
}

/// `set interface ROLE address A/P...`: the role's addresses become exactly these.
pub fn set_interface(paths: &Paths, role: Role, addresses: &[String]) -> Result<String, String> {
    let mut parsed = Vec::new();
    let mut bad = String::new();
    for text in addresses {
        match text.parse::<IpPrefix>() {
            Ok(p) if !text.contains('/') => {
                let _ = writeln!(
                    bad,
                    "\"{text}\": give the prefix length too, e.g. {}/{}",
                    p.addr,
                    if p.addr.is_ipv4() { 24 } else { 64 }
                );
            }
            Ok(p) if parsed.contains(&p) => {
                let _ = writeln!(bad, "\"{text}\" is given twice");
            }
            Ok(p) => parsed.push(p),
            Err(why) => {
                let _ = writeln!(bad, "{why}");
            }
        }
    }
    if !bad.is_empty() {
        return Err(format!("{bad}nothing changed\n"));
    }
    edit_candidate(paths, |config| {
        let mut said = String::new();
        match config.interfaces.iter_mut().find(|i| i.role == role) {
            Some(i) => i.addresses = parsed.clone(),
            None => config.interfaces.push(Interface {
                role,
                addresses: parsed.clone(),
                mtu: None,
                accept_ra: false,
                vlan: None,
            }),
        }
        if role == Role::Mgmt {
            if let Some(a) = config.admin.management_address {
                if !parsed.iter().any(|p| p.addr == a) {
                    let new = parsed[0].addr;
                    config.admin.management_address = Some(new);
                    let _ = writeln!(said, "management address: {a} -> {new}");
                }
            }
        }
        drop_unreachable_routes(config, &mut said);
        let list: Vec<String> = parsed.iter().map(|p| p.to_string()).collect();
        let _ = writeln!(said, "{role}: {}", list.join(" "));
        Ok(said)
    })
}

/// Routes whose gateway no interface reaches any more go, and the operator is told.
pub(super) fn drop_unreachable_routes(config: &mut Config, said: &mut String) {
    let on_link = |via: IpAddr, config: &Config| {
        config
            .interfaces
            .iter()
            .flat_map(|i| &i.addresses)
            .any(|p| p.contains(via))
    };
    let before = std::mem::take(&mut config.routes);
    for route in before {
        if on_link(route.via, config) {
            config.routes.push(route);
        } else {
            let _ = writeln!(
                said,
                "route {} via {} removed: no interface reaches {} now",
                route.to, route.via, route.via
            );
        }
    }
}

pub fn set_hostname(paths: &Paths, name: &str) -> Result<String, String> {
    config::native::check_hostname(name).map_err(|why| format!("{why}; nothing changed\n"))?;
    edit_candidate(paths, |config| {
        config.hostname = Some(name.to_string());
        Ok(format!("hostname: {name}\n"))
    })
}

/// `set ntp ADDRESS...|none`: the NTP servers become exactly these.
pub fn set_ntp(paths: &Paths, servers: &[&str]) -> Result<String, String> {
    let servers = match servers {
        ["none"] => Vec::new(),
        list => list
            .iter()
            .map(|t| {
                t.parse::<IpAddr>().map_err(|_| {
                    format!("\"{t}\" is not an IPv4 or IPv6 address (names are not looked up); nothing changed\n")
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    edit_candidate(paths, |config| {
        let said = if servers.is_empty() {
            "NTP servers: none (the clock is left as it is)\n".to_string()
        } else {
            let list: Vec<String> = servers.iter().map(IpAddr::to_string).collect();
            format!("NTP servers: {}\n", list.join(", "))
        };
        config.ntp_servers = servers;
        Ok(said)
    })
}

/// `set gateway ADDRESS|none`: the default route of that address's family.
pub fn set_gateway(paths: &Paths, gateway: &str) -> Result<String, String> {
    let via = match gateway {
        "none" => None,
        text => Some(text.parse::<IpAddr>().map_err(|_| {
            format!("\"{text}\" is not an IPv4 or IPv6 address (or \"none\"); nothing changed\n")
        })?),
    };
    edit_candidate(paths, |config| {
        set_default_route(config, via, true);
        Ok(match via {
            Some(via) => format!("default gateway: {via}\n"),
            None => "default gateway: none\n".into(),
        })
    })
}

pub(super) fn default_route(v4: bool) -> IpPrefix {
    if v4 {
        IpPrefix::new(IpAddr::from([0, 0, 0, 0]), 0).expect("/0 is valid")
    } else {
        IpPrefix::new(IpAddr::from([0u16; 8]), 0).expect("/0 is valid")
    }
}

/// Replaces the default route(s): of `via`'s family, or of IPv4 for `None` (and of
/// IPv6 too when `all_families`).
pub(super) fn set_default_route(config: &mut Config, via: Option<IpAddr>, all_families: bool) {
    let v4 = via.is_none_or(|v| v.is_ipv4());
    config.routes.retain(|r| {
        let default = r.to.len == 0;
        let same_family = r.to.addr.is_ipv4() == v4;
        !(default && (same_family || (via.is_none() && all_families)))
    });
    if let Some(via) = via {
        config.routes.push(Route {
            to: default_route(via.is_ipv4()),
            via,
        });
    }
}

/// Length and characters; the same rule for the console's questions and the page.
pub fn check_password(password: &str) -> Result<(), String> {
    config::password::check_new(password).map_err(|why| why.to_string())
}

/// A new hash of `password` with a fresh random salt.
pub fn hash_password(password: &str) -> Result<PasswordHash, String> {
    let mut salt = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut salt))
        .map_err(|e| format!("/dev/urandom: {e}"))?;
    PasswordHash::new(password, &salt, ITERATIONS)
}

pub fn set_password(paths: &Paths, password: &str) -> Result<String, String> {
    check_password(password).map_err(|why| format!("{why}; nothing changed\n"))?;
    let hash = hash_password(password)?;
    edit_candidate(paths, |config| {
        config.admin.password = Some(hash);
        Ok("admin password: changed\n".into())
    })
}

/// keepalived.conf text as the candidate's (a paste at the console, the page's editor):
/// checked alone and against the candidate's interfaces when they are valid, then
/// written whole; on any error every error is named and nothing is written.
pub fn stage_keepalived(paths: &Paths, text: &str, name: &str) -> Result<String, String> {
    let native = candidate(paths)
        .ok()
        .and_then(|t| config::native::from_json(&t.native).ok());
    let checked = match &native {
        Some(native) => check_keepalived(paths, text, name, native),
        None => config::keepalived::read_text(text, name),
    };
    let read = match checked {
        Ok(read) => read,
        Err(issues) => {
            let mut report: String = issues.iter().map(|i| format!("{i}\n")).collect();
            report.push_str(&format!(
                "{}; nothing imported, the running configuration is unchanged\n",
                config::count(issues.iter().count(), "error", "errors")
            ));
            return Err(report);
        }
    };
    start_candidate(paths)?;
    let candidate = &paths.candidate_conf;
    paths::write_atomic(candidate, text.as_bytes(), true).map_err(|e| format!("{e}\n"))?;
    let mut summary: String = read.notes.iter().map(|n| format!("note: {n}\n")).collect();
    summary.push_str(&format!(
        "imported: {}; \"config apply\" puts it in service\n",
        read.config.summary()
    ));
    Ok(summary)
}

/// Remembers who changed the candidate and how, for the page's "pending" line; a
/// bounded file (the oldest lines go).
pub(super) fn note_change(paths: &Paths, who: &str, said: &str) {
    const KEPT: usize = 20;
    let what = said
        .lines()
        .rfind(|l| !l.starts_with("candidate changed") && !l.starts_with("note:"))
        .unwrap_or("")
        .trim_end_matches("; \"config apply\" puts it in service");
    let line: String = format!("{who}: {what}").chars().take(200).collect();
    let mut lines: Vec<String> = read_optional(&paths.candidate_changes)
        .ok()
        .flatten()
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    lines.push(line);
    let skip = lines.len().saturating_sub(KEPT);
    let text: String = lines[skip..].iter().map(|l| format!("{l}\n")).collect();
    let _ = write(&paths.candidate_changes, &text);
}
