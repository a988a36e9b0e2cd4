//! Boot benchmark: binary size, initramfs size, and the time from QEMU's start to
//! "balancer: interfaces up" on the console, over several boots one after another.
//! Run with `scripts/bench-boot` (root; expects `scripts/build-image qemu-x86_64`).

use std::time::Duration;

use lvsfw_lab::{ApplianceSpec, Lab};

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let boots: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let image = lvsfw_lab::image_dir();
    let binary = std::fs::metadata(image.join("lvsfw"))?.len();
    let initramfs = std::fs::metadata(image.join("initramfs.cpio"))?.len();
    let mut lab = Lab::new("benchboot", false)?;
    let mut times = Vec::new();
    for n in 0..boots {
        let mut vm = lab.boot(ApplianceSpec {
            name: format!("b{n}"),
            ..ApplianceSpec::default()
        })?;
        vm.wait_for("balancer: interfaces up", Duration::from_secs(60))?;
        times.push(vm.started().elapsed().as_secs_f64() * 1000.0);
        vm.kill();
    }
    times.sort_by(|a, b| a.total_cmp(b));
    println!("| what | value |");
    println!("|---|---|");
    println!(
        "| lvsfw binary (static, musl) | {binary} bytes ({:.2} MiB) |",
        binary as f64 / 1048576.0
    );
    println!(
        "| initramfs (uncompressed cpio) | {initramfs} bytes ({:.2} MiB) |",
        initramfs as f64 / 1048576.0
    );
    println!(
        "| QEMU start to \"interfaces up\", median of {boots} boots (TCG) | {:.0} ms |",
        median(&times)
    );
    println!(
        "| min / max | {:.0} / {:.0} ms |",
        times[0],
        times[times.len() - 1]
    );
    Ok(())
}
