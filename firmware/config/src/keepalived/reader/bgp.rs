//! lvsfw's `bgp` block (see [`Bgp`]).

use super::*;

const BLOCK: &str = "bgp";
const NEIGHBOR: &str = "bgp/neighbor";
const BFD: &str = "bgp/neighbor/bfd";
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
                "lvs_sync_daemon" => bgp.lvs_sync_daemon = self.group_sync(st),
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
                "password" => {
                    // `one`'s and this error name the place, never the key.
                    if let Some(w) = self.one(st, "the TCP-MD5 key (1 to 80 characters)") {
                        match Md5Password::new(&w.text) {
                            Ok(p) => n.password = Some(p),
                            Err(why) => self.error(w, format!("password: {why}")),
                        }
                    }
                }
                "bfd" => {
                    let item = self.spans.child(at, "bfd", None, Some(&st.keyword.pos));
                    n.bfd = Some(self.bgp_bfd(st, item));
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

    /// `bfd` alone (keepalived's defaults) or `bfd { ... }` with `bfd_instance`'s timers.
    fn bgp_bfd(&mut self, s: &Stmt, at: Node) -> BgpBfd {
        use bfd_defaults::{IDLE_TX_MIN, INTERVAL_MAX};
        self.bare(s);
        let mut b = BgpBfd::default();
        let max = u64::from(INTERVAL_MAX);
        for st in s.block.as_deref().unwrap_or(&[]) {
            self.keyword(Some(at), BFD, st);
            match st.keyword.text.as_str() {
                "min_rx" => b.min_rx = self.number(st, 1, max).map_or(b.min_rx, |v| v as u32),
                "min_tx" => b.min_tx = self.number(st, 1, max).map_or(b.min_tx, |v| v as u32),
                "idle_tx" => {
                    b.idle_tx = self
                        .number(st, u64::from(IDLE_TX_MIN), max)
                        .map_or(b.idle_tx, |v| v as u32)
                }
                "multiplier" => {
                    b.multiplier = self.number(st, 1, 255).map_or(b.multiplier, |v| v as u8)
                }
                "passive" => b.passive = self.flag(st),
                // keepalived's bfd_instance keywords that have no place here: say why.
                k @ ("ttl" | "hoplimit" | "max_hops" | "multihop") => self.error(
                    &st.keyword,
                    format!("bfd: {k}: single hop only, TTL 255 sent and required (RFC 5881 §5)"),
                ),
                k @ ("neighbor_ip" | "neighbour_ip" | "source_ip") => self.error(
                    &st.keyword,
                    format!("bfd: {k}: the session runs between the neighbor's address and its source_ip"),
                ),
                _ => self.other(BFD, st, &mut Vec::new()),
            }
        }
        b
    }
}

impl Reader {
    /// The bgp block's `lvs_sync_daemon INTERFACE [id N]`.
    fn group_sync(&mut self, s: &Stmt) -> Option<GroupSync> {
        const EXPECTED: &str = "lvs_sync_daemon: expected INTERFACE [id N] in the bgp block (no VRRP instance: every box runs both daemons)";
        let [ifname, rest @ ..] = s.args.as_slice() else {
            self.error(&s.keyword, EXPECTED);
            return None;
        };
        let id = match rest {
            [] => 0,
            [w, v] if w.text == "id" => self.parse(s, v, "a sync id (0 to 255)")?,
            [extra, ..] => {
                self.error(extra, EXPECTED);
                return None;
            }
        };
        Some(GroupSync {
            interface: ifname.text.clone(),
            id,
        })
    }
}
