//! The management page: an HTTP/1.1 server on the management address, HTML pages
//! rendered from templates compiled into the binary (no JavaScript), a JSON API, and
//! `/metrics` for Prometheus.
//!
//! The crate owns the HTTP side (parsing with limits, sessions, CSRF, forms, templates,
//! the candidate configuration); the firmware gives it a [`Backend`] that reads the
//! status and puts changes in service.

mod app;
pub mod backend;
pub mod certificate;
pub mod chart;
pub mod client;
mod edit;
pub mod form;
pub mod history;
pub mod http;
mod metrics;
pub mod multipart;
mod pages;
pub mod server;
pub mod session;
pub mod tls;

pub use app::{native_json, App, NoRandom, Options, Random, MIN_PASSWORD_LEN};
pub use backend::{
    Applied, Backend, Candidates, Change, Names, NotApplied, Notices, Pending, Status,
};
pub use server::{serve, Handler, Listen, Scheme, ServerLimits, Shared};
