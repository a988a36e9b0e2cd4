//! `lvsfw update FILE`, `lvsfw update pack ...` (also on the build host: the binary is
//! static) and `lvsfw slots [--json]`.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use update::payload::{self, Source};

use crate::board;
use crate::slots;

const UPDATE_USAGE: &str = "\
usage: lvsfw update FILE
         write the update FILE into the boot slot that does not run; the next boot
         tries it once and keeps it only if the balancer comes up
       lvsfw update pack --board BOARD --version VERSION --kernel VMLINUZ --initrd INITRD -o FILE
         make an update file (on the build host)";

pub fn update(args: &[String]) -> ExitCode {
    match args {
        [pack, rest @ ..] if pack == "pack" => match parse_pack(rest) {
            Ok(p) => finish(run_pack(&p)),
            Err(e) => usage_error(&e),
        },
        [file] if !file.starts_with('-') => finish(apply(Path::new(file))),
        _ => usage_error("lvsfw update needs one FILE"),
    }
}

fn usage_error(why: &str) -> ExitCode {
    eprintln!("error: {why}\n{UPDATE_USAGE}");
    ExitCode::from(2)
}

fn finish(result: Result<String, String>) -> ExitCode {
    match result {
        Ok(said) => {
            print!("{said}");
            let _ = std::io::stdout().flush();
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// This box's board name, from its board file.
fn board_name() -> Result<String, String> {
    let text = std::fs::read_to_string(board::PATH).map_err(|e| {
        format!(
            "{}: {e}: this box's board is unknown, so no update can be checked against it",
            board::PATH
        )
    })?;
    board::parse(&text)
        .map(|b| b.name)
        .map_err(|_| format!("{}: has errors; no update is applied", board::PATH))
}

/// `lvsfw update FILE`; what it did, for the operator.
pub fn apply(file: &Path) -> Result<String, String> {
    let started = Instant::now();
    let board = board_name()?;
    let running = slots::running_slot().ok_or(
        "not booted from a disk image (no lvsfw.slot= on the kernel command line): there is no slot to update",
    )?;
    let esp = slots::mount_esp()?;
    let done = slots::writing(&esp, |esp| slots::install(file, &board, esp, running))?;
    let m = &done.manifest;
    let line = format!(
        "slot {} now holds version {} ({} bytes, written in {:.1} s); slot {running} keeps version {}",
        done.slot,
        m.version,
        done.bytes,
        started.elapsed().as_secs_f64(),
        slots::running_version(),
    );
    log::info!("update: {line}");
    Ok(format!(
        "{line}\nthe next boot (\"reboot\") tries slot {} once: it is kept when the balancer comes up, \
         otherwise the box returns to slot {running} by itself\n",
        done.slot
    ))
}

struct Pack {
    board: String,
    version: String,
    kernel: PathBuf,
    initrd: PathBuf,
    out: PathBuf,
}

fn parse_pack(args: &[String]) -> Result<Pack, String> {
    let (mut board, mut version, mut kernel, mut initrd, mut out) = (None, None, None, None, None);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let slot = match arg.as_str() {
            "--board" => &mut board,
            "--version" => &mut version,
            "--kernel" => &mut kernel,
            "--initrd" => &mut initrd,
            "-o" | "--output" => &mut out,
            other => return Err(format!("update pack: unknown argument \"{other}\"")),
        };
        *slot = Some(
            it.next()
                .cloned()
                .ok_or_else(|| format!("update pack: {arg} needs a value"))?,
        );
    }
    let need =
        |v: Option<String>, what: &str| v.ok_or_else(|| format!("update pack: {what} is missing"));
    Ok(Pack {
        board: need(board, "--board")?,
        version: need(version, "--version")?,
        kernel: need(kernel, "--kernel")?.into(),
        initrd: need(initrd, "--initrd")?.into(),
        out: need(out, "-o FILE")?.into(),
    })
}

fn run_pack(p: &Pack) -> Result<String, String> {
    let open = |path: &Path| {
        let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let len = file
            .metadata()
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len();
        Ok::<_, String>((std::io::BufReader::new(file), len))
    };
    let (mut kernel, kernel_len) = open(&p.kernel)?;
    let (mut initrd, initrd_len) = open(&p.initrd)?;
    // Written under a temporary name: a half-written update never carries the real one.
    let mut temporary = p.out.clone().into_os_string();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", temporary.display());
    let file = File::create(&temporary).map_err(|e| fail(&e))?;
    let mut out = std::io::BufWriter::new(file);
    let packed = payload::pack(
        &mut out,
        &p.board,
        &p.version,
        Source {
            len: kernel_len,
            reader: &mut kernel,
        },
        Source {
            len: initrd_len,
            reader: &mut initrd,
        },
    )
    .map_err(|e| e.to_string())
    .and_then(|m| {
        out.flush()
            .and_then(|_| out.get_ref().sync_all())
            .map_err(|e| fail(&e))?;
        Ok(m)
    });
    let manifest = match packed {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_file(&temporary);
            return Err(e);
        }
    };
    std::fs::rename(&temporary, &p.out).map_err(|e| fail(&e))?;
    Ok(format!(
        "{}: update for board {}, version {}: {} bytes (kernel {kernel_len}, initrd {initrd_len})\n",
        p.out.display(),
        manifest.board,
        manifest.version,
        manifest.total_len()
    ))
}

/// `lvsfw slots [--json]`.
pub fn slots(args: &[String]) -> ExitCode {
    let json = match args {
        [] => false,
        [j] if j == "--json" => true,
        _ => {
            eprintln!("usage: lvsfw slots [--json]");
            return ExitCode::from(2);
        }
    };
    let running = slots::running_slot();
    let esp = slots::mount_esp();
    let state = slots::read(esp, running);
    if json {
        match serde_json::to_string_pretty(&state) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                println!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", state.render());
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pack_arguments_name_what_is_missing() {
        let err = parse_pack(&words(&["--board", "b", "--version", "1"]))
            .err()
            .unwrap();
        assert_eq!(err, "update pack: --kernel is missing");
        let err = parse_pack(&words(&["--board"])).err().unwrap();
        assert_eq!(err, "update pack: --board needs a value");
        let err = parse_pack(&words(&["--bored", "x"])).err().unwrap();
        assert_eq!(err, "update pack: unknown argument \"--bored\"");
    }

    #[test]
    fn pack_writes_a_file_that_verifies() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("vmlinuz"), vec![7u8; 100_000]).unwrap();
        std::fs::write(dir.path().join("initrd"), b"cpio").unwrap();
        let out = dir.path().join("x.update");
        let p = Pack {
            board: "qemu-x86_64".into(),
            version: "1.1".into(),
            kernel: dir.path().join("vmlinuz"),
            initrd: dir.path().join("initrd"),
            out: out.clone(),
        };
        let said = run_pack(&p).unwrap();
        assert!(said.contains("version 1.1"), "{said}");
        let m = payload::verify(&mut File::open(&out).unwrap(), Some("qemu-x86_64")).unwrap();
        assert_eq!(m.version, "1.1");
        let missing = Pack {
            kernel: dir.path().join("nope"),
            ..p
        };
        let err = run_pack(&missing).unwrap_err();
        assert!(err.contains("nope: No such file"), "{err}");
    }
}
