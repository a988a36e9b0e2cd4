//! lvsfw's `bgp` block (see [`Bgp`]).

use super::*;

const BLOCK: &str = "bgp";
const NEIGHBOR: &str = "bgp/neighbor";
/// An AS number: 4 octets (RFC 6793); 0 is reserved (RFC 7607).
const AS_MAX: u64 = u32::MAX as u64;

impl Reader {
    pub(super) fn bgp(&mut self, s: &Stmt, at: Node) -> Option<Bgp> {
        self.bare(s);
        let mut bgp = Bgp::new(0);
        let mut local_as = None;
        for st in self.block(s) {
            self.keyword(Some(at), BLOCK, st);
            match st.keyword.text.as_str() {
                "local_as" => local_as = Some(self.number(st, 1, AS_MAX).map(|n| n as u32)),
                "router_id" => {
                    bgp.router_id = self
                        .one(st, "an IPv4 address")
                        .and_then(|w| self.parse(st, w, "an IPv4 address"))
                }
                "graceful_shutdown_time" => {
                    bgp.graceful_shutdown_time = self
                        .seconds(st, 3600.0)
                        .unwrap_or(bgp.graceful_shutdown_time)
                }
                "quorum" => {
                    bgp.quorum = self
                        .number(st, 1, u64::from(u32::MAX))
                        .map_or(bgp.quorum, |n| n as u32)
                }
                "sloppy_tcp" => bgp.sloppy_tcp = self.flag(st),
                "sloppy_sctp" => bgp.sloppy_sctp = self.flag(st),
                "neighbor" => {
                    let n = bgp.neighbors.len();
                    let item = self
                        .spans
                        .child(at, "neighbor", Some(n), Some(&st.keyword.pos));
                    if let Some(neighbor) = self.bgp_neighbor(st, item) {
                        bgp.neighbors.push(neighbor);
                    }
                }
                "announce" => {
                    if !st.args.is_empty() {
                        self.error(
                            &st.args[0],
                            "announce: the prefixes go in its block, one a line",
                        );
                    }
                    for line in self.block(st) {
                        let n = bgp.announce.len();
                        self.spans
                            .child(at, "announce", Some(n), Some(&line.keyword.pos));
                        if let Some(extra) = line.args.first() {
                            self.error(extra, "announce: one prefix a line");
                        }
                        if line.block.is_some() {
                            self.error(&line.keyword, "announce: one prefix a line, no block");
                        }
                        match line.keyword.text.parse::<crate::IpPrefix>() {
                            Ok(p) => bgp.announce.push(p),
                            Err(e) => self.error(&line.keyword, format!("announce: {e}")),
                        }
                    }
                }
                _ => self.other(BLOCK, st, &mut Vec::new()),
            }
        }
        match local_as {
            Some(Some(n)) => bgp.local_as = n,
            // Given, but wrong: its own error said so.
            Some(None) => return None,
            None => {
                self.error(
                    &s.keyword,
                    "bgp: local_as is missing (this box's AS number)",
                );
                return None;
            }
        }
        Some(bgp)
    }

    fn bgp_neighbor(&mut self, s: &Stmt, at: Node) -> Option<BgpNeighbor> {
        let address = self
            .one(s, "the router's address")
            .and_then(|w| self.address(s, w));
        let mut n = BgpNeighbor::new(address.unwrap_or(IpAddr::from([0, 0, 0, 0])), 0);
        let mut remote_as = None;
        for st in self.block(s) {
            self.keyword(Some(at), NEIGHBOR, st);
            match st.keyword.text.as_str() {
                "remote_as" => remote_as = Some(self.number(st, 1, AS_MAX).map(|n| n as u32)),
                "port" => {
                    if let Some(p) = self.number(st, 1, 65535) {
                        n.port = p as u16;
                    }
                }
                "hold_time" => match self.number(st, 0, 65535) {
                    Some(h) if h == 0 || h >= 3 => n.hold_time = h as u16,
                    Some(h) => self.error(
                        &st.args[0],
                        format!(
                            "hold_time: {h} is neither 0 nor 3 to 65535 seconds (RFC 4271 §4.2)"
                        ),
                    ),
                    None => {}
                },
                "keepalive" => n.keepalive = self.number(st, 0, 65535).map(|k| k as u16),
                "connect_retry" => n.connect_retry = self.seconds(st, 3600.0),
                "source_ip" => {
                    n.source_ip = self.one(st, "an address").and_then(|w| self.address(st, w))
                }
                "next_hop_v6" => {
                    n.next_hop_v6 = self
                        .one(st, "an IPv6 address")
                        .and_then(|w| self.parse(st, w, "an IPv6 address"))
                }
                _ => self.other(NEIGHBOR, st, &mut Vec::new()),
            }
        }
        match remote_as {
            Some(Some(remote)) => n.remote_as = remote,
            Some(None) => return None,
            None => {
                self.error(
                    &s.keyword,
                    "neighbor: remote_as is missing (the router's AS number)",
                );
                return None;
            }
        }
        address.map(|_| n)
    }
}
