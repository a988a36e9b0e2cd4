//! Health checks of real servers: keepalived's HTTP_GET, SSL_GET and TCP_CHECK, with its
//! timing (`delay_loop`, `retry`, `delay_before_retry`, `connect_timeout`, `warmup`) and its
//! up/down rules, so that a pasted keepalived.conf takes servers out and back in at the
//! same moments as keepalived would.
//!
//! - [`spec`]: what to check and how often (keepalived's keywords, defaults resolved);
//! - [`checker`]: the up/down decision and its timers, driven by `(event, now)` (no I/O);
//! - [`request`], [`response`]: the GET keepalived sends, and the judging of the answer
//!   (status, MD5 digest) as bytes arrive (no I/O);
//! - [`probe`]: one probe over TCP or TLS, every step with a deadline;
//! - [`scheduler`]: thousands of checkers in one task, bounded probes in flight, health
//!   changes out on a channel.
//!
//! The lead maps the configuration to [`CheckSpec`]s and the [`Report`]s to IPVS weights
//! (weight 0 with `inhibit_on_failure`, else removal).

pub mod checker;
pub mod icmp;
pub mod outcome;
pub mod probe;
mod random;
pub mod request;
pub mod response;
pub mod scheduler;
pub mod spec;
mod status_codes;
#[cfg(feature = "tls")]
pub mod tls;

pub use checker::{Action, Cause, Checker, Event, Health, Probe, Transition};
pub use outcome::{Failure, Passed, ProbeResult};
pub use probe::{PreparedCheck, Prober};
pub use scheduler::{Handle, HandleError, Limits, Report, Scheduler, Stats};
pub use spec::{CheckKind, CheckSpec, HttpCheck, HttpProtocol, SpecError, Timing, Url};
pub use status_codes::StatusCodes;
