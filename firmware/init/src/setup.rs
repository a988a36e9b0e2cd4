//! First-boot setup's questions: on a box without a management NIC, whether management
//! is on a VLAN of int; the management address and prefix, default gateway, hostname,
//! and the admin password twice. Each answer is checked as it is given and
//! asked again with the reason when it is wrong; Enter takes the default in brackets.

use std::net::IpAddr;

use config::IpPrefix;

use ops::{self, Setup};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Vlan,
    Address,
    Gateway,
    Hostname,
    Password,
    Again,
}

#[derive(Debug, Clone)]
pub struct Questions {
    step: Step,
    /// Address/prefix, gateway ("none" for no gateway), hostname, the management VLAN on
    /// int ("none": int's own network; empty: the box has a management NIC and the
    /// question is not asked); an empty one has no default.
    defaults: [String; 4],
    vlan: Option<u16>,
    management: Option<IpPrefix>,
    gateway: Option<IpAddr>,
    hostname: String,
    password: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Taken; ask the next question.
    Next,
    /// Not taken, for this reason; the same question (or, for a second password that
    /// differs, the first) is asked again.
    Again(String),
    Done(Setup),
}

pub const INTRO: &str = "\
First-boot setup: this appliance has no admin password yet.
Answer each question; Enter takes the value in [brackets].
";

/// Said first on a box without a management NIC (a two-NIC box).
pub const TWO_NICS: &str = "\
This box has two NICs: ext faces the clients, int the real servers. Management (the
web page, and the address you give below) lives on int, never on ext: on an 802.1Q
VLAN of int, which keeps it apart from the real servers' network (the switch port
must carry that VLAN tagged), or on int's own network (\"none\").
";

impl Questions {
    pub fn new(defaults: [String; 4]) -> Questions {
        let step = if defaults[3].is_empty() {
            Step::Address
        } else {
            Step::Vlan
        };
        Questions {
            step,
            defaults,
            vlan: None,
            management: None,
            gateway: None,
            hostname: String::new(),
            password: String::new(),
        }
    }

    /// What is said before the first question.
    pub fn intro(&self) -> String {
        if self.defaults[3].is_empty() {
            INTRO.to_string()
        } else {
            format!("{INTRO}{TWO_NICS}")
        }
    }

    pub fn prompt(&self) -> String {
        let with_default = |question: &str, default: &str| {
            if default.is_empty() {
                format!("{question}: ")
            } else {
                format!("{question} [{default}]: ")
            }
        };
        match self.step {
            Step::Vlan => with_default(
                "Management VLAN on int (1 to 4094, or \"none\")",
                &self.defaults[3],
            ),
            Step::Address => with_default("Management address/prefix", &self.defaults[0]),
            Step::Gateway => with_default(
                "Default gateway (\"none\" for no gateway)",
                &self.defaults[1],
            ),
            Step::Hostname => with_default("Hostname", &self.defaults[2]),
            Step::Password => "Admin password (8 to 128 characters, not shown): ".into(),
            Step::Again => "Admin password again: ".into(),
        }
    }

    /// Whether the answer is hidden as it is typed.
    pub fn secret(&self) -> bool {
        matches!(self.step, Step::Password | Step::Again)
    }

    pub fn answer(&mut self, raw: &str) -> Answer {
        // Passwords are taken as typed, spaces included; other answers trimmed.
        let typed = raw.trim();
        let given = |i: usize| {
            if typed.is_empty() {
                self.defaults[i].clone()
            } else {
                typed.to_string()
            }
        };
        match self.step {
            Step::Vlan => match given(3).as_str() {
                "none" => {
                    self.vlan = None;
                    self.step = Step::Address;
                    Answer::Next
                }
                text => match text
                    .parse()
                    .ok()
                    .filter(|id| config::Vlan::IDS.contains(id))
                {
                    Some(id) => {
                        self.vlan = Some(id);
                        self.step = Step::Address;
                        Answer::Next
                    }
                    None => Answer::Again(format!(
                        "\"{text}\" is not a VLAN ID (1 to 4094) or \"none\""
                    )),
                },
            },
            Step::Address => match check_address(&given(0)) {
                Ok(p) => {
                    self.management = Some(p);
                    // The old gateway default only stands if the new network reaches it.
                    if let Ok(g) = self.defaults[1].parse::<IpAddr>() {
                        if check_gateway(&g.to_string(), p).is_err() {
                            self.defaults[1] = "none".into();
                        }
                    }
                    self.step = Step::Gateway;
                    Answer::Next
                }
                Err(why) => Answer::Again(why),
            },
            Step::Gateway => {
                let management = self.management.expect("asked after the address");
                let text = if given(1).is_empty() {
                    "none".to_string()
                } else {
                    given(1)
                };
                match check_gateway(&text, management) {
                    Ok(g) => {
                        self.gateway = g;
                        self.step = Step::Hostname;
                        Answer::Next
                    }
                    Err(why) => Answer::Again(why),
                }
            }
            Step::Hostname => {
                let name = given(2);
                match config::native::check_hostname(&name) {
                    Ok(()) => {
                        self.hostname = name;
                        self.step = Step::Password;
                        Answer::Next
                    }
                    Err(why) => Answer::Again(why),
                }
            }
            Step::Password => match ops::check_password(raw) {
                Ok(()) => {
                    self.password = raw.to_string();
                    self.step = Step::Again;
                    Answer::Next
                }
                Err(why) => Answer::Again(why),
            },
            Step::Again if raw != self.password => {
                self.password.clear();
                self.step = Step::Password;
                Answer::Again("the two passwords differ; once more, from the first".into())
            }
            Step::Again => Answer::Done(Setup {
                management: self.management.expect("asked before"),
                gateway: self.gateway,
                hostname: self.hostname.clone(),
                password: std::mem::take(&mut self.password),
                vlan: self.vlan,
            }),
        }
    }
}

fn check_address(text: &str) -> Result<IpPrefix, String> {
    if text.is_empty() {
        return Err("an address is needed, e.g. 192.168.1.10/24".into());
    }
    let p: IpPrefix = text.parse()?;
    if !text.contains('/') {
        return Err(format!(
            "give the prefix length too, e.g. {}/{}",
            p.addr,
            if p.addr.is_ipv4() { 24 } else { 64 }
        ));
    }
    if p.len == 0 {
        return Err("a prefix length of 0 is every address; give the network's, e.g. /24".into());
    }
    if p.addr.is_unspecified() || p.addr.is_loopback() || p.addr.is_multicast() {
        return Err(format!(
            "{} is not an address for an interface (unspecified, loopback or multicast)",
            p.addr
        ));
    }
    if let IpAddr::V6(a) = p.addr {
        // The page and the console's address need one that routes; every IPv6 NIC has
        // a link-local address of its own anyway.
        if a.is_unicast_link_local() {
            return Err(format!(
                "{a} is a link-local address, which needs a scope to be reached; give one that routes, e.g. fd00::10/64"
            ));
        }
    }
    if let IpAddr::V4(a) = p.addr {
        if a.is_broadcast() {
            return Err(format!("{a} is the broadcast address"));
        }
        if p.len <= 30 {
            let host = u32::from(a) & !(u32::MAX << (32 - p.len));
            if host == 0 {
                return Err(format!(
                    "{a} is the network address of {}/{}; give a host's",
                    p.network(),
                    p.len
                ));
            }
            if host == !(u32::MAX << (32 - p.len)) {
                return Err(format!(
                    "{a} is the broadcast address of {}/{}; give a host's",
                    p.network(),
                    p.len
                ));
            }
        }
    }
    Ok(p)
}

fn check_gateway(text: &str, management: IpPrefix) -> Result<Option<IpAddr>, String> {
    if text == "none" {
        return Ok(None);
    }
    let g: IpAddr = text
        .parse()
        .map_err(|_| format!("\"{text}\" is not an IPv4 or IPv6 address (or \"none\")"))?;
    if g.is_ipv4() != management.addr.is_ipv4() {
        return Err(format!("{g} is not of the same family as {management}"));
    }
    if g == management.addr {
        return Err(format!("{g} is the management address itself"));
    }
    if !management.contains(g) {
        return Err(format!(
            "{g} is not in the management network {}/{}; the gateway must be reachable on it",
            management.network(),
            management.len
        ));
    }
    Ok(Some(g))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> [String; 4] {
        [
            "10.0.2.15/24".into(),
            "none".into(),
            "lvsfw".into(),
            String::new(),
        ]
    }

    #[test]
    fn defaults_are_taken_with_enter() {
        let mut q = Questions::new(defaults());
        assert_eq!(q.prompt(), "Management address/prefix [10.0.2.15/24]: ");
        assert_eq!(q.answer(""), Answer::Next);
        assert_eq!(
            q.prompt(),
            "Default gateway (\"none\" for no gateway) [none]: "
        );
        assert_eq!(q.answer(""), Answer::Next);
        assert_eq!(q.prompt(), "Hostname [lvsfw]: ");
        assert!(!q.secret());
        assert_eq!(q.answer(""), Answer::Next);
        assert!(q.secret());
        assert_eq!(q.answer("s3cret-pass"), Answer::Next);
        assert_eq!(q.prompt(), "Admin password again: ");
        assert_eq!(
            q.answer("s3cret-pass"),
            Answer::Done(Setup {
                management: "10.0.2.15/24".parse().unwrap(),
                gateway: None,
                hostname: "lvsfw".into(),
                password: "s3cret-pass".into(),
                vlan: None,
            })
        );
    }

    #[test]
    fn every_wrong_answer_is_asked_again_with_the_reason() {
        let mut q = Questions::new(["".into(), "10.0.2.2".into(), "lvsfw".into(), String::new()]);
        assert_eq!(q.prompt(), "Management address/prefix: ");
        let again = |q: &mut Questions, typed: &str| match q.answer(typed) {
            Answer::Again(why) => why,
            other => panic!("{typed:?} was taken: {other:?}"),
        };
        assert_eq!(
            again(&mut q, ""),
            "an address is needed, e.g. 192.168.1.10/24"
        );
        assert_eq!(
            again(&mut q, "10.0.5.300/24"),
            "\"10.0.5.300\" is not an IPv4 or IPv6 address"
        );
        assert_eq!(
            again(&mut q, "10.0.5.1"),
            "give the prefix length too, e.g. 10.0.5.1/24"
        );
        assert_eq!(
            again(&mut q, "10.0.5.1/33"),
            "prefix length 33 is longer than 32"
        );
        assert_eq!(
            again(&mut q, "10.0.5.0/24"),
            "10.0.5.0 is the network address of 10.0.5.0/24; give a host's"
        );
        assert_eq!(
            again(&mut q, "10.0.5.255/24"),
            "10.0.5.255 is the broadcast address of 10.0.5.0/24; give a host's"
        );
        assert_eq!(
            again(&mut q, "127.0.0.1/8"),
            "127.0.0.1 is not an address for an interface (unspecified, loopback or multicast)"
        );
        assert_eq!(q.answer(" 10.0.5.1/24 "), Answer::Next);
        // 10.0.2.2 is not in 10.0.5.0/24: the default falls back to none.
        assert_eq!(
            q.prompt(),
            "Default gateway (\"none\" for no gateway) [none]: "
        );
        assert_eq!(
            again(&mut q, "10.9.9.9"),
            "10.9.9.9 is not in the management network 10.0.5.0/24; the gateway must be reachable on it"
        );
        assert_eq!(
            again(&mut q, "10.0.5.1"),
            "10.0.5.1 is the management address itself"
        );
        assert_eq!(
            again(&mut q, "fd00::1"),
            "fd00::1 is not of the same family as 10.0.5.1/24"
        );
        assert_eq!(
            again(&mut q, "gw"),
            "\"gw\" is not an IPv4 or IPv6 address (or \"none\")"
        );
        assert_eq!(q.answer("10.0.5.254"), Answer::Next);
        assert_eq!(
            again(&mut q, "lb_1"),
            "\"lb_1\" is not a host name (letters, digits and '-', dot-separated, at most 64 characters)"
        );
        assert_eq!(q.answer("lb1"), Answer::Next);
        assert_eq!(
            again(&mut q, "short"),
            "a password has 8 to 128 characters (5 given)"
        );
        assert_eq!(q.answer("s3cret-pass"), Answer::Next);
        assert_eq!(
            again(&mut q, "s3cret-pasS"),
            "the two passwords differ; once more, from the first"
        );
        assert!(q.prompt().starts_with("Admin password (8 to 128"));
        assert_eq!(q.answer("an0ther-pass"), Answer::Next);
        let Answer::Done(setup) = q.answer("an0ther-pass") else {
            panic!()
        };
        assert_eq!(setup.gateway, Some("10.0.5.254".parse().unwrap()));
        assert_eq!(setup.hostname, "lb1");
        assert_eq!(setup.password, "an0ther-pass");
        // What the console hands to `lvsfw config setup` reads back the same.
        assert_eq!(Setup::from_lines(&setup.to_lines()).unwrap(), setup);
    }

    #[test]
    fn an_ipv6_management_address_and_gateway() {
        let mut q = Questions::new(defaults());
        let again = |q: &mut Questions, typed: &str| match q.answer(typed) {
            Answer::Again(why) => why,
            other => panic!("{typed:?} was taken: {other:?}"),
        };
        assert_eq!(
            again(&mut q, "fe80::10/64"),
            "fe80::10 is a link-local address, which needs a scope to be reached; give one that routes, e.g. fd00::10/64"
        );
        assert_eq!(
            again(&mut q, "fd00:5::1"),
            "give the prefix length too, e.g. fd00:5::1/64"
        );
        assert_eq!(q.answer("fd00:5::1/64"), Answer::Next);
        // The IPv4 default gateway does not reach an IPv6 network.
        assert_eq!(
            q.prompt(),
            "Default gateway (\"none\" for no gateway) [none]: "
        );
        assert_eq!(
            again(&mut q, "10.0.2.2"),
            "10.0.2.2 is not of the same family as fd00:5::1/64"
        );
        assert_eq!(
            again(&mut q, "fd00:6::1"),
            "fd00:6::1 is not in the management network fd00:5::/64; the gateway must be reachable on it"
        );
        assert_eq!(q.answer("fd00:5::fffe"), Answer::Next);
        assert_eq!(q.answer("lb1"), Answer::Next);
        assert_eq!(q.answer("s3cret-pass"), Answer::Next);
        let Answer::Done(setup) = q.answer("s3cret-pass") else {
            panic!()
        };
        assert_eq!(setup.management, "fd00:5::1/64".parse().unwrap());
        assert_eq!(setup.gateway, Some("fd00:5::fffe".parse().unwrap()));
        assert_eq!(Setup::from_lines(&setup.to_lines()).unwrap(), setup);
    }

    #[test]
    fn a_two_nic_box_asks_for_the_management_vlan_first() {
        let mut q = Questions::new([
            "10.0.2.15/24".into(),
            "none".into(),
            "lvsfw".into(),
            "none".into(),
        ]);
        assert!(q.intro().contains("This box has two NICs"), "{}", q.intro());
        assert!(!Questions::new(defaults()).intro().contains("two NICs"));
        assert_eq!(
            q.prompt(),
            "Management VLAN on int (1 to 4094, or \"none\") [none]: "
        );
        assert_eq!(
            q.answer("4095"),
            Answer::Again("\"4095\" is not a VLAN ID (1 to 4094) or \"none\"".into())
        );
        assert_eq!(q.answer("10"), Answer::Next);
        assert_eq!(q.prompt(), "Management address/prefix [10.0.2.15/24]: ");
        for answer in ["10.0.5.1/24", "", "lb1", "s3cret-pass"] {
            assert_eq!(q.answer(answer), Answer::Next);
        }
        let Answer::Done(setup) = q.answer("s3cret-pass") else {
            panic!()
        };
        assert_eq!(setup.vlan, Some(10));
        assert_eq!(Setup::from_lines(&setup.to_lines()).unwrap(), setup);
        // Enter takes "none": int's own network.
        let mut q = Questions::new([
            "10.0.2.15/24".into(),
            "none".into(),
            "lvsfw".into(),
            "none".into(),
        ]);
        assert_eq!(q.answer(""), Answer::Next);
        for answer in ["", "", "", "s3cret-pass"] {
            assert_eq!(q.answer(answer), Answer::Next);
        }
        let Answer::Done(setup) = q.answer("s3cret-pass") else {
            panic!()
        };
        assert_eq!(setup.vlan, None);
    }
}
