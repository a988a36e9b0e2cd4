//! Helpers shared by the integration tests: small keepalived.conf snippets.
#![allow(dead_code)]

use config::keepalived::{read_text, Keepalived, Read};

/// Reads `text` and panics with every issue if it does not read and validate.
pub fn read(text: &str) -> Read {
    match read_text(text, "k.conf") {
        Ok(read) => read,
        Err(issues) => panic!("{text}\n---\n{issues}"),
    }
}

pub fn model(text: &str) -> Keepalived {
    read(text).config
}

/// Every issue of `text`, as check-config prints them.
pub fn errors(text: &str) -> Vec<String> {
    match read_text(text, "k.conf") {
        Ok(_) => panic!("no error in:\n{text}"),
        Err(issues) => issues.iter().map(|i| i.to_string()).collect(),
    }
}

pub fn instance(body: &str) -> String {
    format!("vrrp_instance V {{\n interface ext\n virtual_router_id 1\n{body}\n}}\n")
}

pub fn virtual_server(body: &str) -> String {
    format!("virtual_server 10.0.0.1 80 {{\n protocol TCP\n{body}\n}}\n")
}

pub fn real_server(body: &str) -> String {
    virtual_server(&format!(" real_server 10.0.1.1 80 {{\n{body}\n }}"))
}

pub fn check(kind: &str, body: &str) -> String {
    let url = if kind == "HTTP_GET" || kind == "SSL_GET" {
        "  url {\n   path /\n  }\n"
    } else {
        ""
    };
    real_server(&format!("  {kind} {{\n{url}{body}\n  }}"))
}
