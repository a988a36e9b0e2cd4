//! The management page: an HTTP/1.1 server on the management address.

pub mod http;
pub mod server;

pub use server::{serve, Handler, Listen, ServerLimits, Shared};
