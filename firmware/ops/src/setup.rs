//! First-boot setup: the console's answers into service, and the defaults it offers.

use super::*;

/// First-boot setup's answers, each already checked by the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    pub management: IpPrefix,
    pub gateway: Option<IpAddr>,
    pub hostname: String,
    pub password: String,
    /// On a box without a management NIC: management on this VLAN of int, else on
    /// int's own network.
    pub vlan: Option<u16>,
}

impl Setup {
    /// Five lines: address/prefix, gateway or "none", hostname, password, and the
    /// management VLAN on int or "none" (the line may be left out).
    pub fn from_lines(text: &str) -> Result<Setup, String> {
        let mut lines = text.lines();
        let mut next = |what: &str| {
            lines
                .next()
                .map(str::to_string)
                .ok_or_else(|| format!("setup: no {what} given"))
        };
        let management = next("management address")?.parse::<IpPrefix>()?;
        let gateway = match next("gateway")?.as_str() {
            "none" | "" => None,
            text => Some(
                text.parse::<IpAddr>()
                    .map_err(|_| format!("\"{text}\" is not an IPv4 or IPv6 address"))?,
            ),
        };
        let hostname = next("hostname")?;
        let password = next("password")?;
        let vlan = match next("VLAN").unwrap_or_default().as_str() {
            "none" | "" => None,
            text => Some(
                text.parse()
                    .ok()
                    .filter(|id| config::Vlan::IDS.contains(id))
                    .ok_or_else(|| format!("\"{text}\" is not a VLAN ID (1 to 4094)"))?,
            ),
        };
        Ok(Setup {
            management,
            gateway,
            hostname,
            password,
            vlan,
        })
    }

    pub fn to_lines(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n{}\n",
            self.management,
            self.gateway.map_or("none".into(), |g| g.to_string()),
            self.hostname,
            self.password,
            self.vlan.map_or("none".into(), |v| v.to_string())
        )
    }
}

/// First-boot setup: the running configuration with the answers, put in service at
/// once (the setup is the operator's confirmation). The caller saves it.
pub fn setup(paths: &Paths, answers: &Setup) -> Result<Applied, String> {
    check_password(&answers.password)?;
    config::native::check_hostname(&answers.hostname)?;
    let hash = hash_password(&answers.password)?;
    // Setup starts from the running configuration, not from a candidate left behind.
    discard(paths)?;
    // A box without a management NIC has management on int: on a VLAN of int (the mgmt
    // role), or on int's own network.
    let mgmt_nic = board_has_mgmt_nic(paths);
    edit_candidate(paths, |config| {
        config.hostname = Some(answers.hostname.clone());
        let (role, vlan) = match (mgmt_nic, answers.vlan) {
            (true, _) => (Role::Mgmt, None),
            (false, Some(id)) => (Role::Mgmt, Some(config::Vlan { id, on: Role::Int })),
            (false, None) => {
                config.interfaces.retain(|i| i.role != Role::Mgmt);
                (Role::Int, None)
            }
        };
        match config.interfaces.iter_mut().find(|i| i.role == role) {
            Some(i) => {
                i.addresses = vec![answers.management];
                i.vlan = vlan;
            }
            None => config.interfaces.push(Interface {
                role,
                addresses: vec![answers.management],
                mtu: None,
                accept_ra: false,
                vlan,
            }),
        }
        config.admin.management_address = Some(answers.management.addr);
        config.admin.password = Some(hash);
        let mut said = String::new();
        drop_unreachable_routes(config, &mut said);
        set_default_route(config, answers.gateway, false);
        Ok(said)
    })?;
    apply(paths)
}

/// After first-boot setup: which roles of the board have no address and so stay down
/// (a new box does not guess addresses on networks it was not told about).
pub fn unaddressed_roles_note(paths: &Paths) -> String {
    let config = running(paths)
        .ok()
        .and_then(|t| config::native::from_json(&t.native).ok())
        .unwrap_or_default();
    let roles = board_roles(paths, Some(&config)).unwrap_or_else(|| Role::ALL.to_vec());
    let quiet: Vec<&str> = roles
        .iter()
        .filter(|r| config.interface(**r).is_none_or(|i| i.addresses.is_empty()))
        .map(|r| r.name())
        .collect();
    match quiet.as_slice() {
        [] => String::new(),
        roles => format!(
            "{} {} no address and {} down until given one: \"set interface {} address A/P\", then \"config apply\"\n",
            roles.join(" and "),
            if roles.len() == 1 { "has" } else { "have" },
            if roles.len() == 1 { "stays" } else { "stay" },
            roles[0]
        ),
    }
}

/// Whether the board has a management NIC of its own (else management lives on int).
pub fn board_has_mgmt_nic(paths: &Paths) -> bool {
    paths.board().is_none_or(|b| b.nic(Role::Mgmt).is_some())
}

/// What first-boot setup offers when Enter is pressed: the running configuration's
/// management address, default gateway and hostname, and on a box without a management
/// NIC its management VLAN on int or "none" (empty: the question is not asked).
pub fn setup_defaults(paths: &Paths, board_hostname: Option<&str>) -> [String; 4] {
    let config = running(paths)
        .ok()
        .and_then(|t| config::native::from_json(&t.native).ok())
        .unwrap_or_default();
    let mgmt_nic = board_has_mgmt_nic(paths);
    let vlan = config.interface(Role::Mgmt).and_then(|i| i.vlan);
    let management_role = if mgmt_nic || vlan.is_some() {
        Role::Mgmt
    } else {
        Role::Int
    };
    let first = config
        .interface(management_role)
        .and_then(|i| i.addresses.first());
    let management = first.map(|p| p.to_string()).unwrap_or_default();
    let v4 = first.is_none_or(|p| p.addr.is_ipv4());
    let gateway = config
        .routes
        .iter()
        .find(|r| r.to.len == 0 && r.to.addr.is_ipv4() == v4)
        .map_or("none".into(), |r| r.via.to_string());
    let hostname = config
        .hostname
        .or(board_hostname.map(str::to_string))
        .unwrap_or_else(|| "lvsfw".into());
    let vlan = match (mgmt_nic, vlan) {
        (true, _) => String::new(),
        (false, Some(v)) => v.id.to_string(),
        (false, None) => "none".into(),
    };
    [management, gateway, hostname, vlan]
}
