//! Kernel modules: the board's list, with dependencies from modules.dep, loaded in order.
//! PID 1 loads them in two rounds ([`Round`]): what the interfaces and disks need before
//! the balancer starts, the rest once it runs; the balancer loads the IPVS modules its
//! configuration uses itself before it programs IPVS ([`ipvs_modules`]), and the kernel
//! asks for one that something else names ([`kernel_request`]). Every module of the
//! board is in the image ([`closure_command`]); IPVS's and FNAT's nf_tables modules only
//! load on demand ([`Round::OnDemand`]).
//! Soft dependencies (modules.softdep `pre:`) are loaded first as modprobe would, but may
//! fail: libcrc32c asks the crypto API for "crc32c" (crc32c_intel needs SSE 4.2, the
//! generic one always loads), r8169 wants the realtek PHY driver.

pub mod kernel_request;

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::File;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::kmod::{finit_module, ModuleInitFlags};

/// modules.dep as depmod writes it: `kernel/a/b.ko: kernel/c.ko kernel/d.ko`, each line a
/// module and its full dependency list, deepest dependency last; with modules.softdep and
/// the exact names of modules.alias for the soft dependencies.
#[derive(Debug, Default)]
pub struct ModulesDep {
    entries: HashMap<String, (String, Vec<String>)>,
    builtin: Vec<String>,
    /// `softdep libcrc32c pre: crc32c`: module → the names or aliases it wants first.
    soft_pre: HashMap<String, Vec<String>>,
    /// `alias crc32c crc32c_generic`: alias → modules.
    aliases: HashMap<String, Vec<String>>,
}

/// One module file to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Load {
    pub path: String,
    /// A soft dependency (or what only it needs): failing to load it is no error.
    pub optional: bool,
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
    /// The files depmod wrote under `root` (`/lib/modules/<release>`); a missing one is empty.
    pub fn read(root: &Path) -> ModulesDep {
        let read = |name: &str| std::fs::read_to_string(root.join(name)).unwrap_or_default();
        ModulesDep::parse(&read("modules.dep"), &read("modules.builtin"))
            .with_soft_dependencies(&read("modules.softdep"), &read("modules.alias"))
    }

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

    /// Adds modules.softdep's `pre:` lists and modules.alias's exact names (patterns with
    /// `*`, `?` or `[` are device IDs, which no soft dependency names).
    pub fn with_soft_dependencies(mut self, modules_softdep: &str, modules_alias: &str) -> Self {
        for line in modules_softdep.lines() {
            let mut words = line.split_whitespace();
            let (Some("softdep"), Some(module)) = (words.next(), words.next()) else {
                continue;
            };
            let mut pre = false;
            for word in words {
                match word {
                    "pre:" => pre = true,
                    "post:" => pre = false,
                    name if pre => self
                        .soft_pre
                        .entry(normalize(module))
                        .or_default()
                        .push(name.to_string()),
                    _ => {}
                }
            }
        }
        for line in modules_alias.lines() {
            let mut words = line.split_whitespace();
            if let (Some("alias"), Some(alias), Some(module)) =
                (words.next(), words.next(), words.next())
            {
                if !alias.contains(['*', '?', '[']) {
                    self.aliases
                        .entry(alias.to_string())
                        .or_default()
                        .push(normalize(module));
                }
            }
        }
        self
    }

    /// The module files to load, dependencies first, each once; a module's soft
    /// dependencies (that the kernel has as modules) come before it. Built-in modules need
    /// no loading; a wanted module that is neither known nor built in is an error naming it.
    pub fn load_order(&self, wanted: &[String]) -> Result<Vec<Load>, String> {
        let mut order: Vec<Load> = Vec::new();
        let mut unknown = Vec::new();
        for name in wanted {
            let name = normalize(name);
            if self.entries.contains_key(&name) {
                self.add_with_dependencies(&name, false, &mut order);
            } else if !self.builtin.contains(&name) {
                unknown.push(name);
            }
        }
        if unknown.is_empty() {
            Ok(order)
        } else {
            Err(format!("not in modules.dep: {}", unknown.join(", ")))
        }
    }

    fn add_with_dependencies(&self, name: &str, optional: bool, order: &mut Vec<Load>) {
        let Some((path, deps)) = self.entries.get(name) else {
            return;
        };
        for dep in deps.iter().rev().chain([path]) {
            let dep_name = name_of(dep);
            // Soft dependencies are not followed further: modprobe's own depth, and a
            // bound whatever the files say.
            if !optional {
                for soft in self.soft_pre.get(&dep_name).into_iter().flatten() {
                    for module in self.resolve(soft) {
                        self.add_with_dependencies(&module, true, order);
                    }
                }
            }
            match order.iter_mut().find(|load| load.path == *dep) {
                Some(load) => load.optional &= optional,
                None => order.push(Load {
                    path: dep.clone(),
                    optional,
                }),
            }
        }
    }

    /// The modules a soft dependency names: a module, else every module with that alias.
    fn resolve(&self, soft: &str) -> Vec<String> {
        let name = normalize(soft);
        if self.entries.contains_key(&name) {
            return vec![name];
        }
        self.aliases.get(soft).cloned().unwrap_or_default()
    }
}

/// When PID 1 loads a board module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    /// Before the balancer starts: NIC and disk drivers, the watchdog's, and any module
    /// this firmware does not know (the safe default).
    First,
    /// Once the balancer runs, while it brings the interfaces up: VLAN and bond support
    /// (the balancer loads what its configuration uses itself, at once: see [`ensure`]),
    /// the power button, the ESP's vfat (the boot-slot trial waits for it).
    Later,
    /// Never by PID 1: IPVS and its schedulers and persistence engines, which the balancer
    /// loads as its configuration names them and the kernel asks for when something else
    /// names one ([`kernel_request`]); nf_tables for FNAT (with conntrack loaded the box
    /// would track every connection).
    OnDemand,
}

/// The round a module of the board's list is loaded in.
pub fn round(module: &str) -> Round {
    let name = normalize(module);
    let later = name.starts_with("nls_")
        || matches!(
            name.as_str(),
            "button" | "evdev" | "vfat" | "fat" | "8021q" | "bonding"
        );
    if name.starts_with("nft_") || name == "ip_vs" || name.starts_with("ip_vs_") {
        Round::OnDemand
    } else if later {
        Round::Later
    } else {
        Round::First
    }
}

/// The board's modules in `round`, in the board's order.
pub fn in_round(wanted: &[String], which: Round) -> Vec<String> {
    wanted
        .iter()
        .filter(|m| round(m) == which)
        .cloned()
        .collect()
}

/// The IPVS modules the virtual servers `(scheduler, persistence engine)` need: `ip_vs`
/// and, for each, `ip_vs_SCHEDULER` and `ip_vs_pe_ENGINE` (the names the kernel itself
/// would ask modprobe for), each once, in order.
pub fn ipvs_modules<'a>(
    services: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> Vec<String> {
    let mut wanted = vec!["ip_vs".to_string()];
    for (scheduler, engine) in services {
        let names = [
            Some(format!("ip_vs_{scheduler}")),
            engine.map(|e| format!("ip_vs_pe_{e}")),
        ];
        for name in names.into_iter().flatten().map(|n| normalize(&n)) {
            if !wanted.contains(&name) {
                wanted.push(name);
            }
        }
    }
    wanted
}

/// For the balancer: loads those of `names` that the kernel does not have yet
/// (/sys/module/NAME) and the board lists (`board`: only those are in the image), with
/// the board's `options`; says in the log what it loaded and what it could not. The
/// names the kernel has afterwards.
pub fn ensure(board: &[String], options: &[(String, String)], names: &[String]) -> Vec<String> {
    let present = |name: &String| Path::new("/sys/module").join(name).exists();
    let listed = |name: &String| board.iter().any(|m| normalize(m) == *name);
    let mut missing = Vec::new();
    for name in names.iter().filter(|n| !present(n)) {
        if listed(name) {
            missing.push(name.clone());
        } else {
            log::warn!("kernel module {name} is needed but not among the board's modules");
        }
    }
    if !missing.is_empty() {
        let count = load(&running_root(), &missing, options);
        log::info!("loaded {count} kernel modules for {}", missing.join(", "));
        for name in missing.iter().filter(|n| !present(n)) {
            log::error!(
                "kernel module {name} could not be loaded (see above): what needs it is refused"
            );
        }
    }
    names.iter().filter(|n| present(n)).cloned().collect()
}

/// `/lib/modules/<release>` of the running kernel.
pub fn running_root() -> PathBuf {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    Path::new("/lib/modules").join(release)
}

/// Loads the board's modules from `root` (`/lib/modules/<release>`), each with the
/// board's options for it (`options`: name and `KEY=VALUE` words); returns how many were
/// loaded now. Failures are logged and do not stop the others.
pub fn load(root: &Path, wanted: &[String], options: &[(String, String)]) -> usize {
    let dep = ModulesDep::read(root);
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
    for load in still_to_load(order, |name| {
        Path::new("/sys/module")
            .join(name)
            .join("initstate")
            .exists()
    }) {
        let path: PathBuf = root.join(&load.path);
        let name = name_of(&load.path);
        let params = options
            .iter()
            .find(|(module, _)| normalize(module) == name)
            .map_or("", |(_, params)| params.as_str());
        match load_one(&path, params) {
            Ok(()) => loaded += 1,
            // crc32c_intel on a CPU without SSE 4.2: the generic one serves instead.
            Err(why) if load.optional => {
                log::warn!("optional module {} not loaded: {why}", path.display())
            }
            Err(why) => log::error!("loading module {}: {why}", path.display()),
        }
    }
    loaded
}

/// Those of `order` the kernel does not have yet (`present`: /sys/module/NAME/initstate,
/// which only a loaded module has), and no soft dependency of a module it has: asking
/// the kernel again reads and checks the file's signature again before it answers
/// EEXIST, and an optional one that cannot load (crc32c_intel) would be tried and logged
/// again on every request. A soft dependency comes right before the module that wants it
/// (with its own dependencies): [`ModulesDep::load_order`].
fn still_to_load(order: Vec<Load>, present: impl Fn(&str) -> bool) -> Vec<Load> {
    let wanted_by: Vec<Option<String>> = (0..order.len())
        .map(|i| {
            order[i..]
                .iter()
                .find(|load| !load.optional)
                .map(|load| name_of(&load.path))
        })
        .collect();
    order
        .into_iter()
        .zip(wanted_by)
        .filter(|(load, wanting)| {
            if present(&name_of(&load.path)) {
                return false;
            }
            // A soft dependency is for the module after it: none once that one is in.
            !load.optional || !wanting.as_deref().is_some_and(&present)
        })
        .map(|(load, _)| load)
        .collect()
}

/// `lvsfw modules-closure DIR MODULE...` on the build host: the module files (paths as
/// in DIR's modules.dep) that loading MODULEs takes, soft dependencies included; the
/// image carries exactly these, by the rule PID 1 loads them with.
pub fn closure_command(args: &[String]) -> std::process::ExitCode {
    let Some((root, wanted)) = args.split_first() else {
        eprintln!("usage: lvsfw modules-closure DIR MODULE...");
        return std::process::ExitCode::from(2);
    };
    let root = Path::new(root);
    if !root.join("modules.dep").is_file() {
        eprintln!("modules-closure: no {}", root.join("modules.dep").display());
        return std::process::ExitCode::FAILURE;
    }
    match ModulesDep::read(root).load_order(wanted) {
        Ok(order) => {
            let mut out = String::new();
            for load in order {
                out.push_str(&load.path);
                out.push('\n');
            }
            print!("{out}");
            std::process::ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!(
                "modules-closure: {}: {why}",
                root.join("modules.dep").display()
            );
            std::process::ExitCode::FAILURE
        }
    }
}

/// MODULE_INIT_COMPRESSED_FILE (Linux 5.17): the kernel decompresses the module itself.
const COMPRESSED_FILE: i32 = 4;

fn load_one(path: &Path, params: &str) -> Result<(), String> {
    let params = CString::new(params).map_err(|_| "a NUL in its options".to_string())?;
    let file = File::open(path).map_err(|e| e.to_string())?;
    let compressed = [".ko.xz", ".ko.zst", ".ko.gz"]
        .iter()
        .any(|ext| path.to_string_lossy().ends_with(ext));
    let flags = if compressed {
        ModuleInitFlags::from_bits_retain(COMPRESSED_FILE as _)
    } else {
        ModuleInitFlags::empty()
    };
    match finit_module(&file, &params, flags) {
        Ok(()) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(e.desc().to_string()),
    }
}

#[cfg(test)]
mod tests;
