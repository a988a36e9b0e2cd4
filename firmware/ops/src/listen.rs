//! Where the management page listens: the balancer binds these, and the certificate
//! made at boot names them ([`crate::boot::certificate_names`]), so the rule is here
//! where both reach it.

use std::net::{IpAddr, SocketAddr};

use config::board::Board;
use config::{Config, Role};
use web::{Listen, Scheme};

/// The page's port on the management address, and the plain-HTTP port that only
/// redirects to it.
pub const HTTPS_PORT: u16 = 443;
pub const HTTP_PORT: u16 = 80;
/// The management addresses: `admin.management_address`, else every address of the
/// mgmt link (a NIC, or a VLAN the board or the configuration makes), or of int on a
/// box without mgmt; never ext. Each is bound to
/// its NIC, so the page does not answer on another one.
pub fn listen_addresses(board: Option<&Board>, config: Option<&Config>) -> Vec<Listen> {
    // Without a board file the NICs keep their kernel names; nothing is known to be
    // the management NIC.
    let (Some(board), Some(config)) = (board, config) else {
        return Vec::new();
    };
    let role = if netif::roles::link(board, Some(config), Role::Mgmt).is_some() {
        Role::Mgmt
    } else {
        Role::Int
    };
    let listen = |addr: IpAddr| {
        [(HTTPS_PORT, Scheme::Https), (HTTP_PORT, Scheme::Http)].map(|(port, scheme)| Listen {
            addr: SocketAddr::new(addr, port),
            device: Some(role.name().to_string()),
            scheme,
        })
    };
    let mut out: Vec<Listen> = match config.admin.management_address {
        Some(addr) => listen(addr).to_vec(),
        None => config
            .interface(role)
            .map(|i| {
                i.addresses
                    .iter()
                    .map(|p| p.addr)
                    // A link-local address needs a scope; it is not a management address.
                    .filter(|a| !matches!(a, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80))
                    .flat_map(listen)
                    .collect()
            })
            .unwrap_or_default(),
    };
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board(with_mgmt: bool) -> Board {
        let mut text = "name b\nnic ext pci 0000:00:10.0\nnic int pci 0000:00:11.0\n".to_string();
        if with_mgmt {
            text.push_str("nic mgmt pci 0000:00:12.0\n");
        }
        config::board::parse(&text).unwrap()
    }

    fn native(json: &str) -> Config {
        config::native::from_json(json).unwrap()
    }

    const THREE: &str = r#"{"interfaces": [
        {"role": "ext", "addresses": ["192.168.0.101/24"]},
        {"role": "int", "addresses": ["192.168.33.20/24"]},
        {"role": "mgmt", "addresses": ["10.1.0.1/24", "fd01::1/64", "fe80::1/64"]}]}"#;

    #[test]
    fn the_page_listens_on_mgmt_never_on_ext() {
        let c = native(THREE);
        let l = listen_addresses(Some(&board(true)), Some(&c));
        let shown: Vec<String> = l.iter().map(|l| l.to_string()).collect();
        assert_eq!(
            shown,
            [
                "http://10.1.0.1:80 on mgmt",
                "https://10.1.0.1:443 on mgmt",
                "http://[fd01::1]:80 on mgmt",
                "https://[fd01::1]:443 on mgmt"
            ]
        );
        // A board without mgmt: the int address.
        let l = listen_addresses(Some(&board(false)), Some(&c));
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].to_string(), "http://192.168.33.20:80 on int");
        // admin.management_address picks one.
        let c = native(&THREE.replace(
            "]}]}",
            "]}], \"admin\": {\"management_address\": \"fd01::1\"}}",
        ));
        let l = listen_addresses(Some(&board(true)), Some(&c));
        assert_eq!(l.len(), 2);
        assert_eq!(l[1].to_string(), "https://[fd01::1]:443 on mgmt");
        // Nothing known: nowhere.
        assert!(listen_addresses(None, Some(&c)).is_empty());
        assert!(listen_addresses(Some(&board(true)), None).is_empty());
    }
}
