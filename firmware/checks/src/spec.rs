//! What to check on one real server and how often: keepalived's checker keywords, already
//! resolved (the lead's config mapping fills in the virtual server's and real server's
//! inherited values; this crate does not know the config model).
//!
//! Defaults and inheritance follow keepalived.conf(5) ("virtual_server" and the checker
//! blocks) and keepalived's check_data.c, which fills unset checker values from the real
//! server, then the virtual server, then the checker type's own default.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::dns::DnsCheck;
use crate::regex_check::RegexCheck;
use crate::smtp::SmtpCheck;
use crate::udp::UdpCheck;
use crate::StatusCodes;

/// URLs in one HTTP_GET/SSL_GET block. keepalived has no limit; ours keeps one checker's
/// memory and one round of URLs bounded.
pub const MAX_URLS: usize = 64;
/// keepalived builds the request in a 2 KiB buffer (GET_BUFFER_LENGTH); a path or host
/// longer than this could not have been sent by keepalived either.
pub const MAX_PATH_LEN: usize = 1024;
pub const MAX_HOST_LEN: usize = 255;

/// One checker: what to probe, where, and keepalived's timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSpec {
    pub kind: CheckKind,
    /// `connect_ip` and `connect_port`; keepalived's default is the real server's address.
    /// PING_CHECK has no port (any, 0 included, is ignored).
    pub connect_to: SocketAddr,
    /// `bindto`: the source address of the probe's connection.
    pub bindto: Option<IpAddr>,
    pub timing: Timing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckKind {
    /// TCP_CHECK: a completed TCP handshake is a pass.
    Tcp,
    /// HTTP_GET, or SSL_GET when `tls` is set.
    Http(HttpCheck),
    /// PING_CHECK: an ICMP (ICMPv6) echo reply within `connect_timeout` is a pass.
    Ping,
    /// UDP_CHECK.
    Udp(UdpCheck),
    /// DNS_CHECK.
    Dns(DnsCheck),
    /// SMTP_CHECK (one per `host` block, as keepalived makes them).
    Smtp(SmtpCheck),
}

impl CheckKind {
    /// Probes of these kinds are one datagram out and one back, run without a task or a
    /// socket of their own (see `datagram`).
    pub fn is_datagram(&self) -> bool {
        matches!(
            self,
            CheckKind::Ping | CheckKind::Udp(_) | CheckKind::Dns(_)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCheck {
    /// keepalived checks one URL per probe and moves to the next one after a pass; the
    /// server is up again only when every URL has passed in turn (check_http.c).
    pub urls: Vec<Url>,
    /// The checker's `virtualhost`, already falling back to the real server's and the
    /// virtual server's (keepalived's order: url, checker, real server, virtual server).
    pub virtualhost: Option<String>,
    /// SSL_GET rather than HTTP_GET.
    pub tls: bool,
    /// SSL_GET `enable_sni`: send a server name in the TLS handshake. The name is
    /// `sni_name`, else the URL's virtualhost, else the checker's (check_ssl.c).
    pub enable_sni: bool,
    pub sni_name: Option<String>,
    /// SSL_GET `tls_compliant`: end the TLS session with a close_notify alert rather than
    /// just closing the connection (keepalived's default, SSL_set_quiet_shutdown). A
    /// `url`'s own `tls_compliant` turns it on for that URL.
    pub tls_compliant: bool,
    /// `http_protocol`: keepalived's default is 1.0.
    pub protocol: HttpProtocol,
    /// `fast_recovery`: while the server is down or has not been checked yet, the next URL
    /// is probed at once instead of a `delay_loop` later.
    pub fast_recovery: bool,
}

impl HttpCheck {
    /// HTTP_GET with keepalived's defaults for everything but the URLs.
    pub fn new(urls: Vec<Url>) -> Self {
        HttpCheck {
            urls,
            virtualhost: None,
            tls: false,
            enable_sni: false,
            sni_name: None,
            tls_compliant: false,
            protocol: HttpProtocol::default(),
            fast_recovery: false,
        }
    }
}

/// One `url { }` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub path: String,
    /// `status_code`; 200-299 when the block names none.
    pub status_codes: StatusCodes,
    /// `digest`: the MD5 of the response body, as `genhash` prints it.
    pub digest: Option<[u8; 16]>,
    /// The URL's own `virtualhost`, which wins over the checker's.
    pub virtualhost: Option<String>,
    /// `regex` with its options and offsets.
    pub regex: Option<RegexCheck>,
    /// SSL_GET: the URL's `tls_compliant` (see [`HttpCheck::tls_compliant`]).
    pub tls_compliant: bool,
}

impl Url {
    /// A URL with keepalived's defaults: any 2xx passes, no digest.
    pub fn new(path: impl Into<String>) -> Self {
        Url {
            path: path.into(),
            status_codes: StatusCodes::default(),
            digest: None,
            virtualhost: None,
            regex: None,
            tls_compliant: false,
        }
    }
}

/// `http_protocol 1.0 | 1.0C | 1.1` (keepalived.conf(5)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpProtocol {
    /// `GET ... HTTP/1.0`, no Connection header: keepalived's default.
    #[default]
    Http10,
    /// HTTP/1.0 with `Connection: close`.
    Http10Close,
    /// HTTP/1.1 with `Connection: close`.
    Http11,
}

/// When to probe and when to give up: keepalived's timers, one set per checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// `connect_timeout`: bounds the TCP connect (and TLS handshake), and each later read
    /// or write of the exchange. keepalived's default: 5 s.
    pub connect_timeout: Duration,
    /// `retry` (formerly `nb_get_retry`): further attempts after a failed one before an up
    /// server is declared down. keepalived's default: 3 for DNS_CHECK, 1 otherwise.
    pub retry: u32,
    /// `delay_before_retry`: the wait before such a further attempt. keepalived's default:
    /// 3 s for HTTP_GET and SSL_GET, `delay_loop` for DNS_CHECK, 1 s otherwise.
    pub delay_before_retry: Duration,
    /// `delay_loop`: the wait between one finished check and the next. Default 60 s.
    pub delay_loop: Duration,
    /// `warmup`: the first check starts after 1 s plus a random delay of up to this much,
    /// so that many checkers do not all start together. keepalived's default is
    /// `delay_loop`; zero disables the random part.
    pub warmup: Duration,
    /// `alpha`: start as down, and come up only after a pass. Default: start up.
    pub alpha: bool,
}

impl Timing {
    /// keepalived's defaults for a checker of this kind (keepalived.conf(5),
    /// "virtual_server": connect_timeout, retry, delay_before_retry, warmup, delay_loop;
    /// check_api.c, check_http.c and check_dns.c set the per-kind ones).
    pub fn keepalived_default(kind: &CheckKind) -> Self {
        let delay_loop = Duration::from_secs(60);
        Timing {
            connect_timeout: Duration::from_secs(5),
            retry: Self::default_retry(kind),
            delay_before_retry: Self::default_delay_before_retry(kind, delay_loop),
            delay_loop,
            warmup: delay_loop,
            alpha: false,
        }
    }
}

impl Timing {
    /// keepalived's `retry` when none is given for the checker, its real server or its
    /// virtual server: DNS_CHECK's is 3 (check_dns.h DNS_DEFAULT_RETRY).
    pub fn default_retry(kind: &CheckKind) -> u32 {
        match kind {
            CheckKind::Dns(_) => 3,
            _ => 1,
        }
    }

    /// keepalived's `delay_before_retry` when none is given: DNS_CHECK waits its
    /// `delay_loop` (check_dns.c sets no default, and check_data.c falls back to it).
    pub fn default_delay_before_retry(kind: &CheckKind, delay_loop: Duration) -> Duration {
        match kind {
            CheckKind::Http(_) => Duration::from_secs(3),
            CheckKind::Dns(_) => delay_loop,
            _ => Duration::from_secs(1),
        }
    }
}

impl CheckSpec {
    /// TCP_CHECK with keepalived's defaults.
    pub fn tcp(connect_to: SocketAddr) -> Self {
        Self::with_defaults(CheckKind::Tcp, connect_to)
    }

    /// HTTP_GET (or SSL_GET when `check.tls`) with keepalived's default timing.
    pub fn http(connect_to: SocketAddr, check: HttpCheck) -> Self {
        Self::with_defaults(CheckKind::Http(check), connect_to)
    }

    /// PING_CHECK with keepalived's defaults (the port is not used).
    pub fn ping(to: IpAddr) -> Self {
        Self::with_defaults(CheckKind::Ping, SocketAddr::new(to, 0))
    }

    /// UDP_CHECK with keepalived's default timing.
    pub fn udp(connect_to: SocketAddr, check: UdpCheck) -> Self {
        Self::with_defaults(CheckKind::Udp(check), connect_to)
    }

    /// DNS_CHECK with keepalived's default timing.
    pub fn dns(connect_to: SocketAddr, check: DnsCheck) -> Self {
        Self::with_defaults(CheckKind::Dns(check), connect_to)
    }

    /// SMTP_CHECK with keepalived's default timing.
    pub fn smtp(connect_to: SocketAddr, check: SmtpCheck) -> Self {
        Self::with_defaults(CheckKind::Smtp(check), connect_to)
    }

    fn with_defaults(kind: CheckKind, connect_to: SocketAddr) -> Self {
        let timing = Timing::keepalived_default(&kind);
        CheckSpec {
            kind,
            connect_to,
            bindto: None,
            timing,
        }
    }

    /// keepalived's name of the checker, for messages.
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            CheckKind::Tcp => "TCP_CHECK",
            CheckKind::Http(http) if http.tls => "SSL_GET",
            CheckKind::Http(_) => "HTTP_GET",
            CheckKind::Ping => "PING_CHECK",
            CheckKind::Udp(_) => "UDP_CHECK",
            CheckKind::Dns(_) => "DNS_CHECK",
            CheckKind::Smtp(_) => "SMTP_CHECK",
        }
    }

    /// Refuses what keepalived refuses (no URL, a URL without a path, zero timers) and what
    /// would let a value break the request line (a CR, LF or space in a path or host).
    pub fn validate(&self) -> Result<(), SpecError> {
        let t = &self.timing;
        if t.delay_loop.is_zero() {
            return Err(SpecError("delay_loop must be greater than 0".into()));
        }
        if t.connect_timeout.is_zero() {
            return Err(SpecError("connect_timeout must be greater than 0".into()));
        }
        if self.connect_to.port() == 0 && !matches!(self.kind, CheckKind::Ping) {
            return Err(SpecError(format!(
                "{}: connect_port must not be 0",
                self.kind_name()
            )));
        }
        if let Some(bind) = self.bindto {
            if bind.is_ipv4() != self.connect_to.is_ipv4() {
                return Err(SpecError(format!(
                    "bindto {bind} is not of the address family of {}",
                    self.connect_to.ip()
                )));
            }
        }
        let http = match &self.kind {
            CheckKind::Http(http) => http,
            CheckKind::Tcp | CheckKind::Ping => return Ok(()),
            CheckKind::Udp(udp) => return udp.validate(),
            CheckKind::Dns(dns) => return dns.validate(),
            CheckKind::Smtp(smtp) => return smtp.validate(),
        };
        if http.tls && !cfg!(feature = "tls") {
            return Err(SpecError(
                "SSL_GET needs lvsfw built with TLS (cargo feature \"tls\")".into(),
            ));
        }
        if http.urls.is_empty() {
            return Err(SpecError(format!(
                "{} has no url (keepalived ignores such a checker)",
                self.kind_name()
            )));
        }
        if http.urls.len() > MAX_URLS {
            return Err(SpecError(format!(
                "{} has {} urls; at most {MAX_URLS}",
                self.kind_name(),
                http.urls.len()
            )));
        }
        for url in &http.urls {
            check_path(&url.path)?;
            if url.status_codes.is_empty() {
                return Err(SpecError(format!("url {}: no status_code", url.path)));
            }
            if let Some(host) = &url.virtualhost {
                check_host(host)?;
            }
            if let Some(regex) = &url.regex {
                regex.compile()?;
            }
        }
        for host in [&http.virtualhost, &http.sni_name].into_iter().flatten() {
            check_host(host)?;
        }
        Ok(())
    }
}

fn check_path(path: &str) -> Result<(), SpecError> {
    if path.is_empty() {
        return Err(SpecError("url has no path".into()));
    }
    if path.len() > MAX_PATH_LEN {
        return Err(SpecError(format!(
            "url path is {} bytes long; at most {MAX_PATH_LEN}",
            path.len()
        )));
    }
    if path
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(SpecError(format!(
            "url path {path:?} has a space or control character"
        )));
    }
    Ok(())
}

fn check_host(host: &str) -> Result<(), SpecError> {
    if host.is_empty() || host.len() > MAX_HOST_LEN {
        return Err(SpecError(format!(
            "virtualhost {host:?} must be 1 to {MAX_HOST_LEN} bytes"
        )));
    }
    if host
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(SpecError(format!(
            "virtualhost {host:?} has a space or control character"
        )));
    }
    Ok(())
}

/// Why a [`CheckSpec`] cannot be run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError(pub String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SpecError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        "192.0.2.1:80".parse().unwrap()
    }

    #[test]
    fn keepalived_defaults_differ_by_kind_only_in_delay_before_retry() {
        let tcp = CheckSpec::tcp(addr());
        let http = CheckSpec::http(addr(), HttpCheck::new(vec![Url::new("/")]));
        assert_eq!(tcp.timing.connect_timeout, Duration::from_secs(5));
        assert_eq!(tcp.timing.delay_loop, Duration::from_secs(60));
        assert_eq!(tcp.timing.warmup, tcp.timing.delay_loop);
        assert_eq!(tcp.timing.retry, 1);
        assert!(!tcp.timing.alpha);
        assert_eq!(tcp.timing.delay_before_retry, Duration::from_secs(1));
        assert_eq!(http.timing.delay_before_retry, Duration::from_secs(3));
        assert_eq!(
            Timing {
                delay_before_retry: tcp.timing.delay_before_retry,
                ..http.timing
            },
            tcp.timing
        );
    }

    #[test]
    fn dns_check_retries_three_times_a_delay_loop_apart_by_default() {
        let dns = CheckSpec::dns("192.0.2.1:53".parse().unwrap(), DnsCheck::default());
        assert_eq!(dns.timing.retry, 3);
        assert_eq!(dns.timing.delay_before_retry, dns.timing.delay_loop);
        let short = Duration::from_secs(2);
        assert_eq!(Timing::default_delay_before_retry(&dns.kind, short), short);
        for spec in [
            CheckSpec::ping("192.0.2.1".parse().unwrap()),
            CheckSpec::udp(addr(), UdpCheck::default()),
            CheckSpec::smtp(addr(), SmtpCheck::default()),
        ] {
            assert_eq!(spec.timing.retry, 1, "{}", spec.kind_name());
            assert_eq!(spec.timing.delay_before_retry, Duration::from_secs(1));
            assert_eq!(spec.validate(), Ok(()), "{}", spec.kind_name());
        }
    }

    #[test]
    fn ping_check_needs_no_port_but_the_others_do() {
        assert_eq!(
            CheckSpec::ping("2001:db8::1".parse().unwrap()).validate(),
            Ok(())
        );
        let udp = CheckSpec::udp("192.0.2.1:0".parse().unwrap(), UdpCheck::default());
        assert!(udp
            .validate()
            .unwrap_err()
            .0
            .contains("UDP_CHECK: connect_port"));
    }

    #[test]
    fn the_new_kinds_validate_their_own_settings() {
        let dns = DnsCheck {
            name: "a..b".into(),
            ..DnsCheck::default()
        };
        assert!(CheckSpec::dns(addr(), dns).validate().is_err());
        let smtp = SmtpCheck {
            helo_name: "x\r\nRSET".into(),
        };
        assert!(CheckSpec::smtp(addr(), smtp).validate().is_err());
        let mut url = Url::new("/");
        url.regex = Some(RegexCheck::new("(unclosed"));
        let error = CheckSpec::http(addr(), HttpCheck::new(vec![url]))
            .validate()
            .unwrap_err();
        assert!(error.0.starts_with("regex \"(unclosed\": "), "{error}");
    }

    #[test]
    fn names_follow_keepalived() {
        let mut http = HttpCheck::new(vec![Url::new("/")]);
        assert_eq!(
            CheckSpec::http(addr(), http.clone()).kind_name(),
            "HTTP_GET"
        );
        http.tls = true;
        assert_eq!(CheckSpec::http(addr(), http).kind_name(), "SSL_GET");
        assert_eq!(CheckSpec::tcp(addr()).kind_name(), "TCP_CHECK");
    }

    #[test]
    fn a_sound_spec_passes_validation() {
        let mut http = HttpCheck::new(vec![Url::new("/health?x=1")]);
        http.virtualhost = Some("www.example.com".into());
        assert_eq!(CheckSpec::http(addr(), http).validate(), Ok(()));
        assert_eq!(CheckSpec::tcp(addr()).validate(), Ok(()));
    }

    #[test]
    fn ssl_get_is_refused_up_front_only_when_built_without_tls() {
        let mut http = HttpCheck::new(vec![Url::new("/")]);
        http.tls = true;
        let verdict = CheckSpec::http(addr(), http).validate();
        assert_eq!(verdict.is_ok(), cfg!(feature = "tls"), "{verdict:?}");
    }

    #[test]
    fn validation_refuses_what_would_break_the_request_or_the_timers() {
        let bad_paths = ["", "/a b", "/a\r\nX: y", &"/".repeat(MAX_PATH_LEN + 1)];
        for path in bad_paths {
            let spec = CheckSpec::http(addr(), HttpCheck::new(vec![Url::new(path)]));
            assert!(spec.validate().is_err(), "path {path:?} accepted");
        }
        let spec = CheckSpec::http(addr(), HttpCheck::new(vec![]));
        assert!(spec.validate().unwrap_err().0.contains("no url"));

        let mut http = HttpCheck::new(vec![Url::new("/")]);
        http.virtualhost = Some("a\nb".into());
        assert!(CheckSpec::http(addr(), http).validate().is_err());

        let mut url = Url::new("/");
        url.status_codes = StatusCodes::empty();
        let spec = CheckSpec::http(addr(), HttpCheck::new(vec![url]));
        assert!(spec.validate().is_err());

        let mut spec = CheckSpec::tcp(addr());
        spec.timing.delay_loop = Duration::ZERO;
        assert!(spec.validate().is_err());
        let mut spec = CheckSpec::tcp(addr());
        spec.timing.connect_timeout = Duration::ZERO;
        assert!(spec.validate().is_err());
        let mut spec = CheckSpec::tcp(addr());
        spec.bindto = Some("2001:db8::1".parse().unwrap());
        assert!(spec.validate().is_err());
        let spec = CheckSpec::tcp("192.0.2.1:0".parse().unwrap());
        assert!(spec.validate().is_err());

        let urls = vec![Url::new("/"); MAX_URLS + 1];
        let spec = CheckSpec::http(addr(), HttpCheck::new(urls));
        assert!(spec.validate().is_err());
    }
}
