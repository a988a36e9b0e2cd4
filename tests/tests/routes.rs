//! Issue 16's routes in the real kernel: two appliances with keepalived's
//! `static_ipaddress` and `static_routes` (there after boot whatever the VRRP state) and
//! an instance's `virtual_routes` (on the MASTER only). The second box has the higher
//! priority and preempts: the virtual route leaves the first box and appears on the
//! second. The routes are read from the appliance's own /proc/net/route (the main
//! table) with the console's `debug cat`.

use std::time::{Duration, Instant};

use lvsfw_lab::seed::{three_nic_config, LB1_ADDRS, LB2_ADDRS};
use lvsfw_lab::{Appliance, ApplianceSpec, Error, Lab};

/// /proc/net/route's destinations (network byte order read as a little-endian word).
const VIRTUAL_ROUTE: &str = "0000080A"; // 10.8.0.0
const STATIC_ROUTE: &str = "0000090A"; // 10.9.0.0
const STATIC_ADDRESS_NET: &str = "0009A8C0"; // 192.168.9.0, the static address's subnet

fn conf(priority: u8) -> String {
    format!(
        "static_ipaddress {{
    192.168.9.1/24 dev int
}}
static_routes {{
    10.9.0.0/16 via 192.168.33.1 dev int
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface mgmt
    virtual_router_id 51
    priority {priority}
    advert_int 1
    virtual_ipaddress {{
        192.168.0.100/24 dev ext
    }}
    virtual_routes {{
        10.8.0.0/16 via 192.168.33.1 dev int
    }}
}}
"
    )
}

fn boot(
    lab: &mut Lab,
    name: &str,
    priority: u8,
    addrs: (&str, &str, &str),
) -> Result<Appliance, Error> {
    lab.boot(ApplianceSpec {
        name: name.into(),
        config_json: Some(three_nic_config(name, addrs.0, addrs.1, addrs.2)),
        files: vec![(
            "etc/lvsfw/keepalived.conf".into(),
            conf(priority).into_bytes(),
        )],
        mgmt: true,
        ..ApplianceSpec::default()
    })
}

/// The destinations of the box's main table on `int`.
fn destinations(lb: &mut Appliance) -> Result<Vec<String>, Error> {
    let table = lb.command("debug cat /proc/net/route", Duration::from_secs(20))?;
    Ok(table
        .lines()
        .filter_map(|l| {
            let mut fields = l.split_whitespace();
            match (fields.next(), fields.next()) {
                (Some("int"), Some(dst)) => Some(dst.to_string()),
                _ => None,
            }
        })
        .collect())
}

/// Waits (bounded) until the box's table has `dst` or not, as `wanted`; how long it took.
fn wait_route(
    lb: &mut Appliance,
    dst: &str,
    wanted: bool,
    limit: Duration,
) -> Result<Duration, Error> {
    let start = Instant::now();
    loop {
        let now = destinations(lb)?;
        if now.iter().any(|d| d == dst) == wanted {
            return Ok(start.elapsed());
        }
        if start.elapsed() > limit {
            let word = if wanted { "no" } else { "still a" };
            return Err(Error(format!(
                "{}: {word} route to {dst} after {limit:?}: {now:?}",
                lb.name
            )));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn static_routes_stay_and_the_virtual_route_follows_the_master() -> Result<(), Error> {
    let mut lab = Lab::new("routes", true)?;
    let mut lb1 = boot(&mut lab, "lb1", 100, LB1_ADDRS)?;
    lb1.wait_for("VI_1: BACKUP -> MASTER", Duration::from_secs(90))?;
    // Static: after boot; virtual: on the master.
    let have = destinations(&mut lb1)?;
    assert!(
        have.iter().any(|d| d == STATIC_ROUTE),
        "lb1: no static route: {have:?}"
    );
    assert!(
        have.iter().any(|d| d == STATIC_ADDRESS_NET),
        "lb1: no static address: {have:?}"
    );
    assert!(
        have.iter().any(|d| d == VIRTUAL_ROUTE),
        "lb1 MASTER: no virtual route: {have:?}"
    );

    let mut lb2 = boot(&mut lab, "lb2", 150, LB2_ADDRS)?;
    // Until lb2 preempts, it is a backup: its static route is there, the virtual not.
    lb2.wait_for("interfaces up", Duration::from_secs(90))?;
    lb2.wait_for("VRRP: VI_1 started", Duration::from_secs(30))?;
    let have = destinations(&mut lb2)?;
    assert!(
        have.iter().any(|d| d == STATIC_ROUTE),
        "lb2: no static route: {have:?}"
    );
    let preempted = lb2.console.text().contains("VI_1: BACKUP -> MASTER");
    if !preempted {
        assert!(
            !have.iter().any(|d| d == VIRTUAL_ROUTE),
            "lb2 BACKUP has the virtual route: {have:?}"
        );
    }
    lb2.wait_for("VI_1: BACKUP -> MASTER", Duration::from_secs(30))?;
    lb1.wait_for("VI_1: MASTER -> BACKUP", Duration::from_secs(10))?;
    let appeared = wait_route(&mut lb2, VIRTUAL_ROUTE, true, Duration::from_secs(10))?;
    let left = wait_route(&mut lb1, VIRTUAL_ROUTE, false, Duration::from_secs(10))?;
    eprintln!(
        "after the takeover: on lb2 within {} ms, gone from lb1 within {} ms (console polls of 0.5 s)",
        appeared.as_millis(),
        left.as_millis()
    );
    // The static ones stay on both, whatever the state.
    for lb in [&mut lb1, &mut lb2] {
        let have = destinations(lb)?;
        assert!(
            have.iter().any(|d| d == STATIC_ROUTE),
            "{}: static route gone: {have:?}",
            lb.name
        );
        assert!(
            have.iter().any(|d| d == STATIC_ADDRESS_NET),
            "{}: static address gone: {have:?}",
            lb.name
        );
    }
    Ok(())
}
