//! Health checks: HTTP_GET, SSL_GET, TCP_CHECK, PING_CHECK, UDP_CHECK, DNS_CHECK,
//! SMTP_CHECK, in a real server or a vrrp_script.

use super::*;
use crate::units::hex16;

/// The table's block of a check kind's keywords (the same inside a vrrp_script).
fn block_of(kind: CheckKind) -> &'static str {
    match kind {
        CheckKind::HttpGet => "virtual_server/real_server/HTTP_GET",
        CheckKind::SslGet => "virtual_server/real_server/SSL_GET",
        CheckKind::Tcp => "virtual_server/real_server/TCP_CHECK",
        CheckKind::Ping => "virtual_server/real_server/PING_CHECK",
        CheckKind::Udp => "virtual_server/real_server/UDP_CHECK",
        CheckKind::Dns => "virtual_server/real_server/DNS_CHECK",
        CheckKind::Smtp => "virtual_server/real_server/SMTP_CHECK",
    }
}

impl Reader {
    /// The checks one check block stands for (one, or one per SMTP_CHECK `host`), each
    /// with the timing it set itself (the real and virtual server's apply to the rest).
    /// Pushes onto `out` (a real server's checks and their timings, without a Vec of its
    /// own for each check: a large file has tens of thousands).
    pub(super) fn check(
        &mut self,
        s: &Stmt,
        kind: CheckKind,
        at: Node,
        out: (&mut Vec<Check>, &mut Vec<CheckDefaults>),
    ) {
        let quiet = !acted("virtual_server/real_server", kind.keyword());
        self.quietly(quiet, |r| r.check_block(s, kind, at, out))
    }

    fn check_block(
        &mut self,
        s: &Stmt,
        kind: CheckKind,
        at: Node,
        (checks, timings): (&mut Vec<Check>, &mut Vec<CheckDefaults>),
    ) {
        let block = block_of(kind);
        let mut c = Check::new(kind);
        let mut own = CheckDefaults::default();
        let mut hosts = Vec::new();
        for st in self.block(s) {
            // Only what validation names by itself gets a place of its own; the rest is
            // reported at the check (marking every line costs a large file ~10 %).
            let marked = matches!(
                st.keyword.text.as_str(),
                "connect_port" | "bindto" | "retry" | "delay_before_retry"
            );
            self.keyword(marked.then_some(at), block, st);
            let k = st.keyword.text.as_str();
            if self.connection(st, k, &mut c, &mut own) {
                continue;
            }
            match k {
                "url" if kind.is_http() => {
                    if let Some(u) = self.url(st, kind) {
                        c.urls.push(u);
                    }
                }
                "nb_get_retry" if kind.is_http() => {
                    own.retry = self.number(st, 0, 1000).map(|n| n as u32)
                }
                "virtualhost" if kind.is_http() => c.virtualhost = self.text(st, "a host name"),
                "http_protocol" if kind.is_http() => match self.one(st, "1.0, 1.1 or 1.0C") {
                    Some(w) if w.text == "1.0c" || HTTP_PROTOCOLS.contains(&w.text.as_str()) => {
                        c.http_protocol = Some(w.text.to_ascii_uppercase())
                    }
                    Some(w) => {
                        let message =
                            format!("http_protocol: \"{}\" is not 1.0, 1.1 or 1.0C", w.text);
                        self.error(w, message)
                    }
                    None => {}
                },
                "enable_sni" if kind.is_http() => c.enable_sni = self.flag(st),
                "sni_name" if kind.is_http() => c.sni_name = self.text(st, "a host name"),
                "fast_recovery" if kind.is_http() => c.fast_recovery = self.flag(st),
                "tls_compliant" if kind == CheckKind::SslGet => c.tls_compliant = self.flag(st),
                "payload" if kind == CheckKind::Udp => c.payload = self.hex(st, false),
                "require_reply" if kind == CheckKind::Udp => {
                    c.require_reply = Some(RequireReply {
                        data: if st.args.is_empty() {
                            None
                        } else {
                            self.hex(st, true)
                        },
                    })
                }
                "min_reply_length" if kind == CheckKind::Udp => {
                    c.min_reply_length = self.number(st, 0, 65535).map(|n| n as u32)
                }
                "max_reply_length" if kind == CheckKind::Udp => {
                    c.max_reply_length = self.number(st, 0, 65535).map(|n| n as u32)
                }
                "type" if kind == CheckKind::Dns => {
                    if let Some(w) = self.one(st, "a record type") {
                        let upper = w.text.to_ascii_uppercase();
                        if DNS_TYPES.contains(&upper.as_str()) {
                            c.dns_type = Some(upper);
                        } else {
                            let message = format!(
                                "type: \"{}\" is not a record type DNS_CHECK asks for ({})",
                                w.text,
                                DNS_TYPES.join(" ")
                            );
                            self.error(w, message);
                        }
                    }
                }
                "name" if kind == CheckKind::Dns => c.dns_name = self.text(st, "a domain name"),
                "helo_name" if kind == CheckKind::Smtp => {
                    c.helo_name = self.text(st, "a host name")
                }
                "host" if kind == CheckKind::Smtp => hosts.push(st),
                _ => self.other(block, st, &mut c.noted),
            }
        }
        if kind.is_http() && c.urls.is_empty() {
            self.error(
                &s.keyword,
                format!("{}: needs at least one url {{ path ... }}", s.keyword.text),
            );
            return;
        }
        if hosts.is_empty() {
            checks.push(c);
            timings.push(own);
            return;
        }
        // keepalived: each host of an SMTP_CHECK is a checker of its own.
        self.note_once(
            hosts[0],
            "deprecated in keepalived; each host is read (and written back) as an SMTP_CHECK of its own",
        );
        for host in hosts {
            let (mut hc, mut hown) = (c.clone(), own.clone());
            for st in self.block(host) {
                self.seen("virtual_server/real_server/SMTP_CHECK/host", st);
                let k = st.keyword.text.as_str();
                if !self.connection(st, k, &mut hc, &mut hown) {
                    self.other(
                        "virtual_server/real_server/SMTP_CHECK/host",
                        st,
                        &mut hc.noted,
                    );
                }
            }
            checks.push(hc);
            timings.push(hown);
        }
    }

    /// The keywords every kind of check has (keepalived's checker common keywords);
    /// false when `k` is not one.
    fn connection(&mut self, st: &Stmt, k: &str, c: &mut Check, own: &mut CheckDefaults) -> bool {
        match k {
            "connect_ip" => {
                c.connect_ip = self.one(st, "an address").and_then(|w| self.address(st, w))
            }
            "connect_port" => {
                c.connect_port = self.one(st, "a port").and_then(|w| self.port(st, w))
            }
            "bindto" => c.bindto = self.one(st, "an address").and_then(|w| self.address(st, w)),
            "bind_port" => c.bind_port = self.one(st, "a port").and_then(|w| self.port(st, w)),
            "bind_if" => c.bind_if = self.text(st, "an interface name"),
            "fwmark" => c.fwmark = self.number(st, 0, u32::MAX as u64).map(|n| n as u32),
            "connect_timeout" => own.connect_timeout = self.seconds(st, 3600.0),
            "retry" => own.retry = self.number(st, 0, 1000).map(|n| n as u32),
            "delay_before_retry" => own.delay_before_retry = self.seconds(st, 3600.0),
            "warmup" => own.warmup = self.seconds(st, 86400.0),
            "delay_loop" => c.delay_loop = self.seconds(st, 86400.0),
            "alpha" => c.alpha = Some(self.flag(st)),
            "log_all_failures" => c.log_all_failures = Some(self.flag(st)),
            _ => return false,
        }
        true
    }

    /// keepalived's hex string: every word after the keyword.
    fn hex(&mut self, st: &Stmt, wildcards: bool) -> Option<HexBytes> {
        let text = st
            .args
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        match HexBytes::parse(&text, wildcards) {
            Ok(h) => Some(h),
            Err(why) => {
                self.error(&st.keyword, format!("{}: {why}", st.keyword.text));
                None
            }
        }
    }

    fn url(&mut self, s: &Stmt, kind: CheckKind) -> Option<UrlCheck> {
        let block = match kind {
            CheckKind::SslGet => "virtual_server/real_server/SSL_GET/url",
            _ => "virtual_server/real_server/HTTP_GET/url",
        };
        let mut u = UrlCheck::new("");
        for st in self.block(s) {
            self.seen(block, st);
            match st.keyword.text.as_str() {
                "path" => u.path = self.one(st, "a path")?.text.clone(),
                "status_code" => {
                    let mut codes = StatusCodes::default();
                    for w in &st.args {
                        match w.text.parse::<StatusCodes>() {
                            Ok(one) => codes.0.extend(one.0),
                            Err(why) => self.error(w, format!("status_code: {why}")),
                        }
                    }
                    if st.args.is_empty() {
                        self.error(
                            &st.keyword,
                            "status_code: expected codes or ranges such as 200-299 503",
                        );
                    }
                    u.status_code = Some(codes);
                }
                "digest" => {
                    let w = self.one(st, "32 hex digits (an MD5 digest)")?;
                    u.digest = hex16(&w.text);
                    if u.digest.is_none() {
                        let msg = format!(
                            "digest: \"{}\" is not 32 hex digits (an MD5 digest)",
                            w.text
                        );
                        self.error(w, msg);
                    }
                }
                "virtualhost" => u.virtualhost = self.text(st, "a host name"),
                "regex" => u.regex = self.text(st, "a regular expression (quote it)"),
                "regex_no_match" => u.regex_no_match = self.flag(st),
                "regex_options" => {
                    for w in &st.args {
                        if REGEX_OPTIONS.contains(&w.text.as_str()) {
                            u.regex_options.push(w.text.clone());
                        } else {
                            let message = format!(
                                "regex_options: \"{}\" is not a PCRE2 option keepalived names",
                                w.text
                            );
                            self.error(w, message);
                        }
                    }
                }
                "regex_min_offset" => {
                    u.regex_min_offset = self.number(st, 0, u32::MAX as u64).map(|n| n as u32)
                }
                "regex_max_offset" => {
                    u.regex_max_offset = self.number(st, 0, u32::MAX as u64).map(|n| n as u32)
                }
                "tls_compliant" if kind == CheckKind::SslGet => u.tls_compliant = self.flag(st),
                _ => self.other(block, st, &mut u.noted),
            }
        }
        if u.path.is_empty() {
            self.error(&s.keyword, "url: path is missing");
            return None;
        }
        Some(u)
    }
}
