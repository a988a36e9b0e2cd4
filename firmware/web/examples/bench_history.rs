//! What the status page's last-hour history costs at the configuration's limits: heap
//! (counted by this program's allocator) and the time of one reading, median of several.
//!
//! `cargo run --release -p lvsfw-web --example bench_history [RUNS]`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use web::history::{real_server_key, History, Kind, Totals, MAX_ROWS, SAMPLES, STEP_S};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged; only a counter is kept.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's layout is passed on as it came.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// `services` services with `per` real servers each, every one busy at `step`.
fn totals(services: usize, per: usize, step: u64) -> Vec<Totals> {
    let mut out = Vec::with_capacity(services * (per + 1));
    for s in 0..services {
        let name = format!("TCP 10.{}.{}.1:80", s / 256, s % 256);
        for r in 0..per {
            out.push(Totals {
                kind: Kind::RealServer,
                key: real_server_key(&name, &format!("172.16.{}.{}:8080", r / 256, r % 256)),
                conns: step * (r as u64 + 1),
                bytes: step * 1_000,
            });
        }
        out.push(Totals {
            kind: Kind::Service,
            key: name,
            conns: step * per as u64,
            bytes: step * 1_000 * per as u64,
        });
    }
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5)
        .max(1);
    println!(
        "status page history: {SAMPLES} samples a row, one every {STEP_S} s; at most {MAX_ROWS} rows; median of {runs} readings"
    );
    println!(
        "{:>9} {:>12} {:>7} {:>10} {:>12} {:>10} {:>12}",
        "services", "real servers", "rows", "untracked", "heap", "per row", "reading ms"
    );
    for (services, per) in [(100, 10), (1_000, 10), (10_000, 0), (10_000, 10)] {
        let before = LIVE.load(Ordering::Relaxed);
        let mut history = History::new();
        let mut times = Vec::new();
        for step in 0..=runs as u64 {
            let readings = totals(services, per, step);
            let started = Instant::now();
            history.observe(step * STEP_S * 1000, STEP_S as f64, readings);
            if step > 0 {
                times.push(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
        let heap = LIVE.load(Ordering::Relaxed) - before;
        let (rows, untracked) = history.rows();
        println!(
            "{:>9} {:>12} {:>7} {:>10} {:>9.1} MiB {:>8} B {:>12.1}",
            services,
            services * per,
            rows,
            untracked,
            heap as f64 / (1 << 20) as f64,
            heap / rows.max(1),
            median(times)
        );
        assert!(
            heap >= history.heap_bytes() / 2,
            "the count and the estimate disagree"
        );
    }
}
