//! keepalived's `lvs_timeouts tcp N tcpfin N udp N` (global_defs): the kernel's IPVS
//! connection timeouts, as `ipvsadm --set` sets them.

use config::keepalived::LvsTimeouts;
use ipvs::{Client, Timeouts};

/// The kernel's timeouts with the configured ones put over them: a timeout that is not
/// given, or is 0, stays as it is (ipvsadm's `--set` semantics, which keepalived follows).
pub fn merged(current: Timeouts, wanted: &LvsTimeouts) -> Timeouts {
    let pick = |now: u32, want: Option<u32>| want.filter(|&s| s > 0).unwrap_or(now);
    Timeouts {
        tcp: pick(current.tcp, wanted.tcp),
        tcp_fin: pick(current.tcp_fin, wanted.tcpfin),
        udp: pick(current.udp, wanted.udp),
    }
}

/// Sets the kernel's timeouts; what was set, or why not. Blocking (netlink).
pub fn set(wanted: &LvsTimeouts) -> Result<Timeouts, String> {
    let mut client = Client::connect().map_err(|e| format!("lvs_timeouts: IPVS: {e}"))?;
    let current = client
        .timeouts()
        .map_err(|e| format!("lvs_timeouts: IPVS: {e}"))?;
    let next = merged(current, wanted);
    if next != current {
        client
            .set_timeouts(&next)
            .map_err(|e| format!("lvs_timeouts: IPVS: {e}"))?;
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_given_nonzero_timeouts_change() {
        let kernel = Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300,
        };
        let wanted = LvsTimeouts {
            tcp: Some(7200),
            tcpfin: Some(0),
            udp: None,
        };
        assert_eq!(
            merged(kernel, &wanted),
            Timeouts {
                tcp: 7200,
                tcp_fin: 120,
                udp: 300
            }
        );
    }
}
