//! Benchmark: read + validate a generated keepalived.conf of 1,000 virtual servers with 10
//! real servers each (TCP_CHECK and HTTP_GET alternating), and the same configuration as
//! native JSON. Prints a table; asserts nothing (timing claims live here, not in tests).
//!
//!   cargo run --release -p lvsfw-config --example bench_read [RUNS]     (default 7)

use std::fmt::Write;
use std::time::{Duration, Instant};

use config::{keepalived, native, Config};

const VIRTUAL_SERVERS: usize = 1_000;
const REAL_SERVERS: usize = 10;
/// The goal issue 3 sets for reading and validating this configuration.
const GOAL: Duration = Duration::from_millis(50);

fn generate() -> String {
    let mut text = String::from(
        "global_defs {\n    router_id lb1\n}\n\nvrrp_instance VI_1 {\n    state MASTER\n    interface ext\n    virtual_router_id 51\n    priority 100\n    advert_int 1\n    virtual_ipaddress {\n        192.168.0.100/24 dev ext\n    }\n}\n",
    );
    for v in 0..VIRTUAL_SERVERS {
        let _ = write!(
            text,
            "\nvirtual_server 172.16.{}.{} 80 {{\n    delay_loop 6\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n",
            v / 250,
            v % 250 + 1
        );
        for r in 0..REAL_SERVERS {
            let _ = write!(
                text,
                "    real_server 10.{}.{}.{} 80 {{\n        weight 1\n        inhibit_on_failure\n",
                v / 250,
                v % 250,
                r + 1
            );
            if r % 2 == 0 {
                text.push_str("        TCP_CHECK {\n            connect_port 80\n            connect_timeout 3\n        }\n");
            } else {
                text.push_str("        HTTP_GET {\n            url {\n              path /health\n              status_code 200\n            }\n            connect_timeout 3\n            nb_get_retry 3\n            delay_before_retry 3\n        }\n");
            }
            text.push_str("    }\n");
        }
        text.push_str("}\n");
    }
    text
}

struct Row {
    what: &'static str,
    times: Vec<Duration>,
}

impl Row {
    fn measure(what: &'static str, runs: usize, mut f: impl FnMut()) -> Row {
        let times = (0..runs)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect();
        Row { what, times }
    }

    fn print(&self) {
        let mut sorted = self.times.clone();
        sorted.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{:<34} {:>9.1} {:>9.1} {:>9.1}",
            self.what,
            ms(sorted[sorted.len() / 2]),
            ms(sorted[0]),
            ms(sorted[sorted.len() - 1])
        );
    }

    fn median(&self) -> Duration {
        let mut sorted = self.times.clone();
        sorted.sort();
        sorted[sorted.len() / 2]
    }
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(7);
    let text = generate();
    let model = keepalived::read_text(&text, "bench.conf")
        .expect("the generated configuration is valid")
        .config;
    let json = native::to_json(&Config {
        keepalived: model.clone(),
        ..Config::default()
    });

    println!(
        "input: {VIRTUAL_SERVERS} virtual servers x {REAL_SERVERS} real servers; keepalived.conf {} bytes, {} lines; JSON {} bytes",
        text.len(),
        text.lines().count(),
        json.len()
    );
    println!(
        "{:<34} {:>9} {:>9} {:>9}   ({runs} runs)",
        "", "median ms", "min ms", "max ms"
    );
    let conf = Row::measure("keepalived.conf: read + validate", runs, || {
        let read = keepalived::read_text(&text, "bench.conf").unwrap();
        assert_eq!(read.config.virtual_servers.len(), VIRTUAL_SERVERS);
    });
    conf.print();
    Row::measure("native JSON: read + validate", runs, || {
        let config = native::from_json(&json).unwrap();
        assert_eq!(config.keepalived.virtual_servers.len(), VIRTUAL_SERVERS);
    })
    .print();
    Row::measure("export keepalived.conf", runs, || {
        assert!(!keepalived::to_keepalived_conf(&model).is_empty());
    })
    .print();
    Row::measure("export native JSON", runs, || {
        assert!(!native::to_json(&Config {
            keepalived: model.clone(),
            ..Config::default()
        })
        .is_empty());
    })
    .print();
    println!(
        "goal: keepalived.conf read + validate under {} ms: {}",
        GOAL.as_millis(),
        if conf.median() < GOAL {
            "met"
        } else {
            "NOT met"
        }
    );
}
