//! The parts of the keepalived model whose JSON defaults depend on another field.

use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;

use super::model::{defaults, Check, CheckKind, UrlCheck};
use crate::units::{opt_seconds, seconds};

/// A check as JSON carries it: `delay_before_retry` defaults by the check's kind.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    kind: CheckKind,
    #[serde(default)]
    url: Vec<UrlCheck>,
    #[serde(default)]
    connect_ip: Option<IpAddr>,
    #[serde(default)]
    connect_port: Option<u16>,
    #[serde(default)]
    bindto: Option<IpAddr>,
    #[serde(default = "connect_timeout", with = "seconds")]
    connect_timeout: Duration,
    #[serde(default = "retry")]
    retry: u32,
    #[serde(default, with = "opt_seconds")]
    delay_before_retry: Option<Duration>,
    #[serde(default, with = "opt_seconds")]
    warmup: Option<Duration>,
    #[serde(default)]
    virtualhost: Option<String>,
    #[serde(default, with = "opt_seconds")]
    delay_loop: Option<Duration>,
}

fn connect_timeout() -> Duration {
    defaults::CONNECT_TIMEOUT
}

fn retry() -> u32 {
    defaults::RETRY
}

impl From<RawCheck> for Check {
    fn from(raw: RawCheck) -> Check {
        Check {
            kind: raw.kind,
            urls: raw.url,
            connect_ip: raw.connect_ip,
            connect_port: raw.connect_port,
            bindto: raw.bindto,
            connect_timeout: raw.connect_timeout,
            retry: raw.retry,
            delay_before_retry: raw
                .delay_before_retry
                .unwrap_or_else(|| raw.kind.default_delay_before_retry()),
            warmup: raw.warmup,
            virtualhost: raw.virtualhost,
            delay_loop: raw.delay_loop,
        }
    }
}
