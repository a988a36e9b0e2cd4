//! The lines of `static_routes` / `virtual_routes` and `static_rules` / `virtual_rules`.
//! keepalived skips a line whose address does not parse, with a warning: so does lvsfw,
//! with a note.

use super::*;
use crate::IpPrefix;

/// `ip route` options that take no value.
const ROUTE_FLAGS: &[&str] = &["onlink", "no_track", "pervasive"];

impl Reader {
    pub(super) fn routes(&mut self, s: &Stmt, at: Node, field: &'static str) -> Vec<IpRoute> {
        let mut out = Vec::new();
        for line in self.block(s) {
            let words: Vec<&Word> = std::iter::once(&line.keyword).chain(&line.args).collect();
            match self.route(s, &words) {
                Ok(route) => {
                    self.item(at, field, Some(out.len()), line);
                    out.push(route);
                }
                Err(Skip::Lenient(why)) => self.lenient(
                    line,
                    &format!("{why}; the route is skipped, as keepalived does"),
                ),
                Err(Skip::Error(at, why)) => self.error(at, format!("{}: {why}", s.keyword.text)),
            }
        }
        out
    }

    fn route<'w>(&mut self, s: &'w Stmt, words: &[&'w Word]) -> Result<IpRoute, Skip<'w>> {
        let mut words = words.iter().copied().peekable();
        let mut kind = None;
        let mut src = None;
        // Before the destination: a route type, `src ADDR`, `to`.
        let to = loop {
            let Some(w) = words.next() else {
                return Err(Skip::Error(
                    &s.keyword,
                    "a route line needs a destination".into(),
                ));
            };
            match w.text.as_str() {
                t if ROUTE_TYPES.contains(&t) && kind.is_none() => kind = Some(t.to_string()),
                "src" => src = Some(value_addr(w, words.next())?),
                "to" => continue,
                "default" => {
                    break IpPrefix::new("0.0.0.0".parse().expect("an address"), 0)
                        .expect("a prefix")
                }
                text => match text.parse::<IpPrefix>() {
                    Ok(p) => break p,
                    Err(why) => return Err(Skip::Lenient(why)),
                },
            }
        };
        let mut r = IpRoute {
            kind,
            to,
            src,
            via: None,
            dev: None,
            table: None,
            metric: None,
            scope: None,
            protocol: None,
            onlink: false,
            no_track: false,
            options: Vec::new(),
        };
        while let Some(w) = words.next() {
            match w.text.as_str() {
                "src" => r.src = Some(value_addr(w, words.next())?),
                // `gw` is keepalived's old word for via.
                "via" | "gw" => r.via = Some(value_addr(w, words.next())?),
                "dev" | "oif" => r.dev = Some(value(w, words.next())?.text.clone()),
                "table" => r.table = Some(value(w, words.next())?.text.clone()),
                "metric" | "priority" | "preference" => {
                    let v = value(w, words.next())?;
                    r.metric = Some(v.text.parse().map_err(|_| {
                        Skip::Error(
                            v,
                            format!("{}: \"{}\" is not a whole number", w.text, v.text),
                        )
                    })?)
                }
                "scope" => r.scope = Some(value(w, words.next())?.text.clone()),
                "protocol" | "proto" => r.protocol = Some(value(w, words.next())?.text.clone()),
                "onlink" => r.onlink = true,
                "no_track" => r.no_track = true,
                _ => {
                    // Anything else `ip route` takes, kept as written (with its value, if
                    // the next word is not an option of its own).
                    r.options.push(w.text.clone());
                    if !ROUTE_FLAGS.contains(&w.text.as_str()) {
                        if let Some(v) = words.next_if(|v| !is_route_option(&v.text)) {
                            r.options.push(v.text.clone());
                        }
                    }
                }
            }
        }
        Ok(r)
    }

    pub(super) fn rules(&mut self, s: &Stmt, at: Node, field: &'static str) -> Vec<IpRule> {
        let mut out = Vec::new();
        for line in self.block(s) {
            let words: Vec<&Word> = std::iter::once(&line.keyword).chain(&line.args).collect();
            match rule(&words) {
                Ok(rule) => {
                    self.item(at, field, Some(out.len()), line);
                    out.push(rule);
                }
                Err(Skip::Lenient(why)) => self.lenient(
                    line,
                    &format!("{why}; the rule is skipped, as keepalived does"),
                ),
                Err(Skip::Error(at, why)) => self.error(at, format!("{}: {why}", s.keyword.text)),
            }
        }
        out
    }
}

fn rule<'w>(words: &[&'w Word]) -> Result<IpRule, Skip<'w>> {
    let mut r = IpRule::default();
    let mut words = words.iter().copied();
    while let Some(w) = words.next() {
        match w.text.as_str() {
            "from" => r.from = Some(prefix(value(w, words.next())?)?),
            "to" => r.to = Some(prefix(value(w, words.next())?)?),
            "table" | "lookup" => r.table = Some(value(w, words.next())?.text.clone()),
            "priority" | "preference" | "order" | "pref" => {
                let v = value(w, words.next())?;
                r.priority = Some(v.text.parse().map_err(|_| {
                    Skip::Error(
                        v,
                        format!("{}: \"{}\" is not a whole number", w.text, v.text),
                    )
                })?)
            }
            "fwmark" => r.fwmark = Some(value(w, words.next())?.text.clone()),
            "iif" | "dev" => r.iif = Some(value(w, words.next())?.text.clone()),
            "oif" => r.oif = Some(value(w, words.next())?.text.clone()),
            "no_track" => r.no_track = true,
            "inet" | "inet6" | "nop" | "suppress_ifgroup_none" => r.options.push(w.text.clone()),
            _ => {
                r.options.push(w.text.clone());
                if let Some(v) = words.next() {
                    r.options.push(v.text.clone());
                }
            }
        }
    }
    Ok(r)
}

/// Why a line is not read: keepalived skips it with a warning, or refuses it.
enum Skip<'w> {
    Lenient(String),
    Error(&'w Word, String),
}

fn value<'w>(key: &'w Word, v: Option<&'w Word>) -> Result<&'w Word, Skip<'w>> {
    v.ok_or_else(|| Skip::Error(key, format!("{} needs a value", key.text)))
}

fn value_addr<'w>(key: &'w Word, v: Option<&'w Word>) -> Result<IpAddr, Skip<'w>> {
    let v = value(key, v)?;
    v.text
        .parse()
        .map_err(|_| Skip::Lenient(format!("{}: \"{}\" is not an address", key.text, v.text)))
}

fn prefix(v: &Word) -> Result<IpPrefix, Skip<'_>> {
    if v.text == "all" || v.text == "default" {
        return Ok(IpPrefix::new("0.0.0.0".parse().expect("an address"), 0).expect("a prefix"));
    }
    v.text.parse().map_err(Skip::Lenient)
}

/// Words that start an option of their own in a route line.
fn is_route_option(word: &str) -> bool {
    matches!(
        word,
        "src"
            | "via"
            | "gw"
            | "dev"
            | "oif"
            | "table"
            | "metric"
            | "priority"
            | "preference"
            | "scope"
            | "protocol"
            | "proto"
            | "onlink"
            | "no_track"
            | "nexthop"
            | "or"
            | "mtu"
            | "advmss"
            | "realms"
            | "encap"
            | "expires"
            | "track_group"
            | "lock"
    )
}
