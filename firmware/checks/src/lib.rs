//! Health checks of real servers: keepalived's HTTP_GET, SSL_GET, TCP_CHECK, PING_CHECK,
//! UDP_CHECK, DNS_CHECK and SMTP_CHECK, with its timing (`delay_loop`, `retry`, `delay_before_retry`, `connect_timeout`, `warmup`) and its
//! up/down rules, so that a pasted keepalived.conf takes servers out and back in at the
//! same moments as keepalived would.
//!
//! - [`spec`]: what to check and how often (keepalived's keywords, defaults resolved);
//! - [`checker`]: the up/down decision and its timers, driven by `(event, now)` (no I/O);
//! - [`request`], [`response`], [`regex_check`]: the GET keepalived sends, and the judging
//!   of the answer (status, MD5 digest, regex) as bytes arrive (no I/O);
//! - [`icmp`], [`udp`], [`dns`], [`smtp`]: the other checks' packets, dialogues and
//!   verdicts (no I/O);
//! - [`probe`]: one probe over TCP or TLS, every step with a deadline;
//! - [`datagram`]: PING_CHECK, UDP_CHECK and DNS_CHECK probes on a few shared sockets;
//! - [`streams`]: TCP_CHECK and HTTP_GET probes as state machines on one epoll set;
//! - [`scheduler`]: thousands of checkers in one task, bounded probes in flight, health
//!   changes out on a channel.
//!
//! The lead maps the configuration to [`CheckSpec`]s and the [`Report`]s to IPVS weights
//! (weight 0 with `inhibit_on_failure`, else removal).

pub mod checker;
pub mod datagram;
pub mod dns;
pub mod icmp;
pub mod outcome;
pub mod probe;
mod random;
pub mod regex_check;
pub mod request;
pub mod response;
pub mod scheduler;
pub mod smtp;
pub mod spec;
mod status_codes;
pub mod streams;
#[cfg(feature = "tls")]
pub mod tls;
pub mod udp;

pub use checker::{Action, Cause, Checker, Event, Health, Probe, Transition};
pub use dns::{DnsCheck, DnsType};
pub use outcome::{Failure, Passed, ProbeResult};
pub use probe::{PreparedCheck, Prober};
pub use regex_check::{RegexCheck, RegexOption};
pub use scheduler::{Handle, HandleError, Limits, Report, Scheduler, Stats};
pub use smtp::SmtpCheck;
pub use spec::{CheckKind, CheckSpec, HttpCheck, HttpProtocol, SpecError, Timing, Url};
pub use status_codes::StatusCodes;
pub use udp::{ReplyPattern, UdpCheck};
