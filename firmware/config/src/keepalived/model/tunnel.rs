//! keepalived's tunnel options after `lb_kind TUN` / `lvs_method TUN`:
//! `type ipip|gue|gre`, `port N` (GUE's UDP port) and `nocsum|csum|remcsum`, as the
//! kernel's IPVS takes them per real server (IPVS_DEST_ATTR_TUN_TYPE/PORT/FLAGS,
//! Linux 5.2 and 5.3).

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelType {
    /// IP in IP (RFC 2003), LVS's own tunnel; the client's address reaches the server.
    #[default]
    Ipip,
    /// Generic UDP Encapsulation (draft-ietf-intarea-gue): crosses networks that drop
    /// protocol 4, and spreads over a real server's receive queues by UDP port.
    Gue,
    /// GRE (RFC 2784), for real servers that decapsulate GRE but not IPIP.
    Gre,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelCsum {
    #[default]
    Nocsum,
    Csum,
    /// Remote checksum offload (GUE only).
    Remcsum,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tunnel {
    #[serde(rename = "type", default)]
    pub kind: TunnelType,
    /// GUE's destination port; GUE needs one, the others take none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "is_nocsum")]
    pub csum: TunnelCsum,
}

fn is_nocsum(c: &TunnelCsum) -> bool {
    *c == TunnelCsum::Nocsum
}

impl TunnelType {
    pub const ALL: [TunnelType; 3] = [TunnelType::Ipip, TunnelType::Gue, TunnelType::Gre];

    pub fn keyword(self) -> &'static str {
        match self {
            TunnelType::Ipip => "ipip",
            TunnelType::Gue => "gue",
            TunnelType::Gre => "gre",
        }
    }
}

impl TunnelCsum {
    pub const ALL: [TunnelCsum; 3] = [TunnelCsum::Nocsum, TunnelCsum::Csum, TunnelCsum::Remcsum];

    pub fn keyword(self) -> &'static str {
        match self {
            TunnelCsum::Nocsum => "nocsum",
            TunnelCsum::Csum => "csum",
            TunnelCsum::Remcsum => "remcsum",
        }
    }
}

impl Tunnel {
    /// keepalived's rules (check_parser.c): GUE needs a port and only GUE takes one;
    /// IPIP has no checksum option; GRE has no remote checksum.
    pub fn check(&self) -> Result<(), &'static str> {
        match (self.kind, self.port, self.csum) {
            (TunnelType::Gue, None, _) => Err("a gue tunnel needs port PORT"),
            (TunnelType::Ipip | TunnelType::Gre, Some(_), _) => {
                Err("only a gue tunnel takes a port")
            }
            (TunnelType::Ipip, _, TunnelCsum::Csum | TunnelCsum::Remcsum) => {
                Err("an ipip tunnel takes no checksum option")
            }
            (TunnelType::Gre, _, TunnelCsum::Remcsum) => {
                Err("a gre tunnel takes no remote checksum (remcsum)")
            }
            _ => Ok(()),
        }
    }

    /// Reads the words after `TUN` (keepalived's order-free `type T`, `port N`, `csum`).
    /// An error gives the index of the word it is about.
    pub fn parse(words: &[&str]) -> Result<Tunnel, (usize, String)> {
        let mut tunnel = Tunnel::default();
        let mut at = 0;
        while at < words.len() {
            match (words[at], words.get(at + 1)) {
                ("type", Some(kind)) => {
                    tunnel.kind = TunnelType::ALL
                        .into_iter()
                        .find(|t| t.keyword() == *kind)
                        .ok_or_else(|| {
                            (
                                at + 1,
                                format!("\"{kind}\" is not a tunnel type (ipip, gue or gre)"),
                            )
                        })?;
                    at += 2;
                }
                ("port", Some(port)) => {
                    let port = port.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                        (at + 1, format!("\"{port}\" is not a port (1 to 65535)"))
                    })?;
                    tunnel.port = Some(port);
                    at += 2;
                }
                ("type" | "port", None) => {
                    return Err((at, format!("{}: a value must follow", words[at])))
                }
                (word, _) => {
                    tunnel.csum = TunnelCsum::ALL
                        .into_iter()
                        .find(|c| c.keyword() == word)
                        .ok_or_else(|| {
                            (
                                at,
                                format!("\"{word}\" is not a tunnel option (type, port, nocsum, csum or remcsum)"),
                            )
                        })?;
                    at += 1;
                }
            }
        }
        tunnel.check().map_err(|why| (0, why.to_string()))?;
        Ok(tunnel)
    }
}

impl fmt::Display for Tunnel {
    /// As keepalived.conf writes it after `TUN`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "type {}", self.kind.keyword())?;
        if let Some(port) = self.port {
            write!(f, " port {port}")?;
        }
        if self.csum != TunnelCsum::Nocsum {
            write!(f, " {}", self.csum.keyword())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Tunnel, (usize, String)> {
        Tunnel::parse(&text.split_whitespace().collect::<Vec<_>>())
    }

    #[test]
    fn keepalived_s_forms_read_and_write_back() {
        for text in [
            "type ipip",
            "type gue port 6080",
            "type gue port 6080 remcsum",
            "type gre csum",
        ] {
            let tunnel = parse(text).unwrap();
            assert_eq!(tunnel.to_string(), text);
        }
        assert_eq!(
            parse("csum port 5555 type gue").unwrap(),
            Tunnel {
                kind: TunnelType::Gue,
                port: Some(5555),
                csum: TunnelCsum::Csum
            }
        );
        assert_eq!(parse("").unwrap(), Tunnel::default());
    }

    #[test]
    fn each_mistake_names_its_word() {
        assert_eq!(
            parse("type vxlan").unwrap_err(),
            (
                1,
                "\"vxlan\" is not a tunnel type (ipip, gue or gre)".into()
            )
        );
        assert_eq!(
            parse("type gue port 0").unwrap_err(),
            (3, "\"0\" is not a port (1 to 65535)".into())
        );
        assert_eq!(parse("type gue port").unwrap_err().0, 2);
        assert_eq!(
            parse("type gue").unwrap_err(),
            (0, "a gue tunnel needs port PORT".into())
        );
        assert_eq!(
            parse("port 6080").unwrap_err(),
            (0, "only a gue tunnel takes a port".into())
        );
        assert_eq!(
            parse("type ipip csum").unwrap_err(),
            (0, "an ipip tunnel takes no checksum option".into())
        );
        assert_eq!(
            parse("type gre remcsum").unwrap_err(),
            (0, "a gre tunnel takes no remote checksum (remcsum)".into())
        );
        assert_eq!(parse("fast").unwrap_err().0, 0);
    }
}
