//! `/metrics` in Prometheus' text format (version 0.0.4), from the same snapshot as the
//! status page: VRRP state and transitions, IPVS counters per service and per real
//! server, and each real server's check result.

use std::fmt::Write;

use crate::backend::Status;

/// A label value with `\`, `"` and line breaks escaped as the format wants.
fn label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", label(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }
}

pub fn render(status: &Status) -> String {
    let mut o = Out(String::new());
    o.family("lvsfw_info", "gauge", "Firmware version and host name.");
    o.sample(
        "lvsfw_info",
        &[("version", &status.version), ("hostname", &status.hostname)],
        1,
    );
    o.family(
        "lvsfw_uptime_seconds",
        "gauge",
        "Seconds since the kernel started.",
    );
    o.sample("lvsfw_uptime_seconds", &[], status.uptime_s);
    o.family(
        "lvsfw_balancer_uptime_seconds",
        "gauge",
        "Seconds since the balancer process started.",
    );
    o.sample(
        "lvsfw_balancer_uptime_seconds",
        &[],
        status.balancer_uptime_s,
    );
    if let Some(kb) = status.balancer_rss_kb {
        o.family(
            "lvsfw_balancer_resident_bytes",
            "gauge",
            "Resident memory of the balancer process.",
        );
        o.sample("lvsfw_balancer_resident_bytes", &[], kb * 1024);
    }

    o.family(
        "lvsfw_not_running_parts",
        "gauge",
        "Parts of the configuration that do not run now (the status page says why).",
    );
    o.sample("lvsfw_not_running_parts", &[], status.not_running.len());

    let vrrp = &status.vrrp;
    if !vrrp.is_empty() {
        o.family(
            "lvsfw_vrrp_state",
            "gauge",
            "VRRP state: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT, 4 NOT RUNNING.",
        );
        for i in vrrp {
            o.sample(
                "lvsfw_vrrp_state",
                &[("instance", &i.name), ("state", i.state.as_str())],
                i.state.number(),
            );
        }
        o.family("lvsfw_vrrp_priority", "gauge", "VRRP priority in use.");
        for i in vrrp {
            o.sample("lvsfw_vrrp_priority", &[("instance", &i.name)], i.priority);
        }
        o.family(
            "lvsfw_vrrp_became_master_total",
            "counter",
            "Transitions to MASTER.",
        );
        for i in vrrp {
            o.sample(
                "lvsfw_vrrp_became_master_total",
                &[("instance", &i.name)],
                i.became_master,
            );
        }
        o.family(
            "lvsfw_vrrp_adverts_sent_total",
            "counter",
            "VRRP advertisements sent.",
        );
        for i in vrrp {
            o.sample(
                "lvsfw_vrrp_adverts_sent_total",
                &[("instance", &i.name)],
                i.adverts_sent,
            );
        }
        o.family(
            "lvsfw_vrrp_adverts_received_total",
            "counter",
            "VRRP advertisements received.",
        );
        for i in vrrp {
            o.sample(
                "lvsfw_vrrp_adverts_received_total",
                &[("instance", &i.name)],
                i.adverts_received,
            );
        }
    }

    let services = &status.services;
    if !services.is_empty() {
        type Pick = fn(&crate::backend::Counters) -> u64;
        let counters: [(&str, &str, Pick); 5] = [
            ("connections_total", "Connections scheduled.", |c| c.conns),
            ("packets_in_total", "Packets in.", |c| c.in_packets),
            ("packets_out_total", "Packets out.", |c| c.out_packets),
            ("bytes_in_total", "Bytes in.", |c| c.in_bytes),
            ("bytes_out_total", "Bytes out.", |c| c.out_bytes),
        ];
        for (suffix, help, pick) in counters {
            let name = format!("lvsfw_ipvs_service_{suffix}");
            o.family(
                &name,
                "counter",
                &format!("{help} Per IPVS virtual service."),
            );
            for s in services {
                o.sample(&name, &[("service", &s.name)], pick(&s.stats));
            }
        }
        o.family(
            "lvsfw_ipvs_server_weight",
            "gauge",
            "Real server weight in the kernel's table (absent: not in the table).",
        );
        for s in services {
            for r in &s.real_servers {
                if let Some(w) = r.weight {
                    o.sample(
                        "lvsfw_ipvs_server_weight",
                        &[("service", &s.name), ("server", &r.address)],
                        w,
                    );
                }
            }
        }
        o.family(
            "lvsfw_ipvs_server_active_connections",
            "gauge",
            "Active connections of a real server.",
        );
        for s in services {
            for r in &s.real_servers {
                o.sample(
                    "lvsfw_ipvs_server_active_connections",
                    &[("service", &s.name), ("server", &r.address)],
                    r.active_conns,
                );
            }
        }
        o.family(
            "lvsfw_ipvs_server_inactive_connections",
            "gauge",
            "Inactive connections of a real server.",
        );
        for s in services {
            for r in &s.real_servers {
                o.sample(
                    "lvsfw_ipvs_server_inactive_connections",
                    &[("service", &s.name), ("server", &r.address)],
                    r.inactive_conns,
                );
            }
        }
        for (suffix, help, pick) in counters {
            let name = format!("lvsfw_ipvs_server_{suffix}");
            o.family(&name, "counter", &format!("{help} Per real server."));
            for s in services {
                for r in &s.real_servers {
                    o.sample(
                        &name,
                        &[("service", &s.name), ("server", &r.address)],
                        pick(&r.stats),
                    );
                }
            }
        }
        o.family(
            "lvsfw_check_up",
            "gauge",
            "Health check result of a real server: 1 up, 0 down (absent: not checked).",
        );
        for s in services {
            for r in &s.real_servers {
                let up = match r.health.as_str() {
                    "up" => 1,
                    "down" => 0,
                    _ => continue,
                };
                o.sample(
                    "lvsfw_check_up",
                    &[("service", &s.name), ("server", &r.address)],
                    up,
                );
            }
        }
    }
    if let Some(b) = &status.bgp {
        bgp::render(&mut o, b);
    }
    o.0
}

mod bgp;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::*;

    #[test]
    fn renders_every_family_with_escaped_labels() {
        let status = Status {
            version: "0.1.0".into(),
            hostname: "lb\"1".into(),
            uptime_s: 10,
            balancer_uptime_s: 9,
            balancer_rss_kb: Some(2),
            not_running: vec!["VRRP VI_2: not running: why".into()],
            vrrp: vec![
                VrrpStatus {
                    name: "VI_1".into(),
                    state: crate::backend::VrrpState::Master,
                    priority: 100,
                    became_master: 1,
                    adverts_sent: 5,
                    ..VrrpStatus::default()
                },
                VrrpStatus {
                    name: "VI_2".into(),
                    state: crate::backend::VrrpState::NotRunning,
                    reason: Some("why".into()),
                    ..VrrpStatus::default()
                },
            ],
            services: vec![ServiceStatus {
                name: "TCP 192.168.0.100:80".into(),
                scheduler: "rr".into(),
                stats: Counters {
                    conns: 7,
                    ..Counters::default()
                },
                real_servers: vec![
                    RealServerStatus {
                        address: "192.168.33.11:80".into(),
                        weight: Some(0),
                        health: "down".into(),
                        ..RealServerStatus::default()
                    },
                    RealServerStatus {
                        address: "192.168.33.12:80".into(),
                        weight: Some(1),
                        health: "up".into(),
                        active_conns: 3,
                        ..RealServerStatus::default()
                    },
                ],
                ..ServiceStatus::default()
            }],
            ..Status::default()
        };
        let text = render(&status);
        for line in [
            "lvsfw_info{version=\"0.1.0\",hostname=\"lb\\\"1\"} 1",
            "lvsfw_balancer_resident_bytes 2048",
            "# TYPE lvsfw_vrrp_state gauge",
            "lvsfw_vrrp_state{instance=\"VI_1\",state=\"MASTER\"} 2",
            "lvsfw_vrrp_state{instance=\"VI_2\",state=\"NOT RUNNING\"} 4",
            "lvsfw_not_running_parts 1",
            "lvsfw_vrrp_became_master_total{instance=\"VI_1\"} 1",
            "lvsfw_ipvs_service_connections_total{service=\"TCP 192.168.0.100:80\"} 7",
            "lvsfw_ipvs_server_weight{service=\"TCP 192.168.0.100:80\",server=\"192.168.33.11:80\"} 0",
            "lvsfw_ipvs_server_active_connections{service=\"TCP 192.168.0.100:80\",server=\"192.168.33.12:80\"} 3",
            "lvsfw_check_up{service=\"TCP 192.168.0.100:80\",server=\"192.168.33.11:80\"} 0",
            "lvsfw_check_up{service=\"TCP 192.168.0.100:80\",server=\"192.168.33.12:80\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing from\n{text}");
        }
        // Every sample line belongs to a family declared before it.
        let mut declared = Vec::new();
        for l in text.lines() {
            if let Some(rest) = l.strip_prefix("# TYPE ") {
                declared.push(rest.split(' ').next().unwrap().to_string());
            } else if !l.starts_with('#') {
                let name = l.split(['{', ' ']).next().unwrap();
                assert!(declared.iter().any(|d| d == name), "{l}");
            }
        }
    }
}
