//! Kernel modules: the board's list, with dependencies from modules.dep, loaded in order.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::File;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::kmod::{finit_module, ModuleInitFlags};

/// modules.dep as depmod writes it: `kernel/a/b.ko: kernel/c.ko kernel/d.ko`, each line a
/// module and its full dependency list, deepest dependency last.
#[derive(Debug, Default)]
pub struct ModulesDep {
    entries: HashMap<String, (String, Vec<String>)>,
    builtin: Vec<String>,
}

/// `ip_vs-rr` and `ip_vs_rr` name the same module, as for modprobe.
fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

fn name_of(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.split(".ko").next().unwrap_or(file);
    normalize(stem)
}

impl ModulesDep {
    pub fn parse(modules_dep: &str, modules_builtin: &str) -> ModulesDep {
        let mut dep = ModulesDep::default();
        for line in modules_dep.lines() {
            let Some((path, deps)) = line.split_once(':') else {
                continue;
            };
            let deps = deps.split_whitespace().map(str::to_string).collect();
            dep.entries
                .insert(name_of(path), (path.trim().to_string(), deps));
        }
        dep.builtin = modules_builtin.lines().map(name_of).collect();
        dep
    }

    /// The module files to load, dependencies first, each once. Built-in modules need no
    /// loading; a module that is neither known nor built in is an error naming it.
    pub fn load_order(&self, wanted: &[String]) -> Result<Vec<String>, String> {
        let mut order: Vec<String> = Vec::new();
        let mut unknown = Vec::new();
        for name in wanted {
            let name = normalize(name);
            match self.entries.get(&name) {
                Some((path, deps)) => {
                    for dep in deps.iter().rev().chain([path]) {
                        if !order.contains(dep) {
                            order.push(dep.clone());
                        }
                    }
                }
                None if self.builtin.contains(&name) => {}
                None => unknown.push(name),
            }
        }
        if unknown.is_empty() {
            Ok(order)
        } else {
            Err(format!("not in modules.dep: {}", unknown.join(", ")))
        }
    }
}

/// Loads the board's modules from `root` (`/lib/modules/<release>`); returns how many were
/// loaded now. Failures are logged and do not stop the others.
pub fn load(root: &Path, wanted: &[String]) -> usize {
    let read = |name: &str| std::fs::read_to_string(root.join(name)).unwrap_or_default();
    let dep = ModulesDep::parse(&read("modules.dep"), &read("modules.builtin"));
    let order = match dep.load_order(wanted) {
        Ok(order) => order,
        Err(why) => {
            log::error!("{}: {why}", root.join("modules.dep").display());
            wanted
                .iter()
                .filter_map(|w| dep.load_order(std::slice::from_ref(w)).ok())
                .flatten()
                .collect()
        }
    };
    let mut loaded = 0;
    for relative in order {
        let path: PathBuf = root.join(&relative);
        match load_one(&path) {
            Ok(()) => loaded += 1,
            Err(why) => log::error!("loading module {}: {why}", path.display()),
        }
    }
    loaded
}

/// MODULE_INIT_COMPRESSED_FILE (Linux 5.17): the kernel decompresses the module itself.
const COMPRESSED_FILE: i32 = 4;

fn load_one(path: &Path) -> Result<(), String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let compressed = [".ko.xz", ".ko.zst", ".ko.gz"]
        .iter()
        .any(|ext| path.to_string_lossy().ends_with(ext));
    let flags = if compressed {
        ModuleInitFlags::from_bits_retain(COMPRESSED_FILE as _)
    } else {
        ModuleInitFlags::empty()
    };
    match finit_module(&file, &CString::default(), flags) {
        Ok(()) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(e.desc().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEP: &str = "\
kernel/net/netfilter/ipvs/ip_vs_rr.ko: kernel/net/netfilter/ipvs/ip_vs.ko kernel/net/netfilter/nf_conntrack.ko kernel/lib/libcrc32c.ko
kernel/net/netfilter/ipvs/ip_vs.ko: kernel/net/netfilter/nf_conntrack.ko kernel/lib/libcrc32c.ko
kernel/net/netfilter/nf_conntrack.ko: kernel/lib/libcrc32c.ko
kernel/lib/libcrc32c.ko:
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
";

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn dependencies_come_first_and_once() {
        let dep = ModulesDep::parse(DEP, "kernel/drivers/tty/serial/8250/8250.ko\n");
        assert_eq!(
            dep.load_order(&strings(&["ip_vs", "ip_vs-rr", "virtio_net", "8250"]))
                .unwrap(),
            strings(&[
                "kernel/lib/libcrc32c.ko",
                "kernel/net/netfilter/nf_conntrack.ko",
                "kernel/net/netfilter/ipvs/ip_vs.ko",
                "kernel/net/netfilter/ipvs/ip_vs_rr.ko",
                "kernel/net/core/failover.ko",
                "kernel/drivers/net/net_failover.ko",
                "kernel/drivers/net/virtio_net.ko",
            ])
        );
    }

    #[test]
    fn unknown_modules_are_named() {
        let dep = ModulesDep::parse(DEP, "");
        assert_eq!(
            dep.load_order(&strings(&["ip_vs", "e1000e", "igb"]))
                .unwrap_err(),
            "not in modules.dep: e1000e, igb"
        );
    }

    #[test]
    fn compressed_module_names_are_recognised() {
        let dep = ModulesDep::parse("kernel/a/foo-bar.ko.xz:\n", "");
        assert_eq!(
            dep.load_order(&strings(&["foo_bar"])).unwrap(),
            strings(&["kernel/a/foo-bar.ko.xz"])
        );
    }
}
