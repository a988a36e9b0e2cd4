//! The second, independent ECMP router of issue 18's scale-out lab: BIRD 2 from Debian in
//! a lab namespace, its kernel protocol with `merge paths on` so that the BGP paths BIRD
//! finds equivalent go into the namespace's kernel as one multipath route (BIRD 2.0's
//! User's Guide, kernel protocol, `merge paths switch [limit number]`: "both best routes
//! and equivalent non-best routes are merged during export to generate one ECMP route
//! for each network"). The namespace is set up as for FRR ([`route_by_flow`]) and its
//! kernel read the same way ([`kernel_next_hops`]); BIRD itself runs as in the speaker's
//! host tests ([`Bird`]).

use crate::bgp_peers::Bird;
use crate::command::Error;
use crate::ecmp_router::{kernel_next_hops, route_by_flow};
use crate::lab::{Host, Lab};

pub struct BirdRouter {
    pub bird: Bird,
}

impl BirdRouter {
    /// Makes `host` a router that spreads flows, then starts BIRD there with `conf`.
    pub fn start(lab: &mut Lab, host: &Host, conf: &str) -> Result<BirdRouter, Error> {
        route_by_flow(host)?;
        let bird = Bird::start(lab, host, &format!("bird-{}", host.name), conf)?;
        Ok(BirdRouter { bird })
    }

    /// The next hops the namespace's kernel has for `prefix`, sorted.
    pub fn next_hops(&self, prefix: &str) -> Vec<String> {
        kernel_next_hops(&self.bird.host, prefix)
    }

    /// What BIRD holds for `prefix` from its protocol `protocol` (`show route PREFIX all`,
    /// the one entry whose `[protocol …]` it is), or `None` when it has nothing from it.
    pub fn path_from(&self, prefix: &str, protocol: &str) -> Option<String> {
        paths(&self.bird.route(prefix))
            .into_iter()
            .find(|(p, _)| p == protocol)
            .map(|(_, entry)| entry)
    }
}

/// `show route … all` cut into its entries: each starts on the line `… unicast [protocol
/// time] …` (the first also names the prefix) and runs until the next such line.
fn paths(shown: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in shown.lines() {
        let head = line
            .split_once(" unicast [")
            .and_then(|(_, rest)| rest.split_whitespace().next());
        match (head, out.last_mut()) {
            (Some(protocol), _) => out.push((protocol.to_string(), format!("{line}\n"))),
            (None, Some((_, entry))) => {
                entry.push_str(line);
                entry.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::paths;

    #[test]
    fn entries_of_show_route_all_by_protocol() {
        let shown = "BIRD 2.0.12 ready.
Table master4:
192.168.0.100/32     unicast [lb1 10:40:01.123] * (100) [AS65002i]
\tvia 192.168.0.101 on eth0
\tBGP.local_pref: 100
                     unicast [lb2 10:40:02.456] (100) [AS65002i]
\tvia 192.168.0.102 on eth0
\tBGP.local_pref: 0
\tBGP.community: (65535,0)
";
        let p = paths(shown);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0].0, "lb1");
        assert!(p[0].1.contains("local_pref: 100") && !p[0].1.contains("65535"));
        assert_eq!(p[1].0, "lb2");
        assert!(p[1].1.contains("BGP.community: (65535,0)"));
        assert!(paths("BIRD 2.0.12 ready.\nNetwork not found\n").is_empty());
    }
}
