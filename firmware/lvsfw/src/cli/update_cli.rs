//! `lvsfw update FILE`, `lvsfw update pack ...` (also on the build host: the binary is
//! static) and `lvsfw slots [--json]`.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use update::keys::{Keyring, SigningKey};
use update::payload::{self, Source, Spec};
use update::verify::{self, Policy};
use update::version::Version;

use slots::apply;

const UPDATE_USAGE: &str = "\
usage: lvsfw update [--allow-downgrade] FILE
         write the update FILE into the boot slot that does not run; the next boot
         tries it once and keeps it only if the balancer comes up. It must be signed
         by a key this firmware trusts, for this board, and not older than the running
         version unless --allow-downgrade (never below the box's lowest version)
       lvsfw update --verify FILE
         check FILE as a box would (signed by a key this firmware trusts, whole, undamaged)
         without touching any slot, also on a build host: board, version, signing key
       lvsfw update pack --board BOARD --version VERSION [--floor VERSION] --kernel VMLINUZ
                         --initrd INITRD --signing-key KEY -o FILE [--manifest SIGNED-HEADER]
         make an update file signed with KEY (PKCS#8 Ed25519, PEM or DER), on the build
         host; it carries the keys this firmware trusts (the image inside is this build);
         --manifest also writes its signed header, what a slot keeps beside its files";

pub fn update(args: &[String]) -> ExitCode {
    match args {
        [pack, rest @ ..] if pack == "pack" => match parse_pack(rest) {
            Ok(p) => finish(run_pack(&p)),
            Err(e) => usage_error(&e),
        },
        [file] if !file.starts_with('-') => finish(apply(Path::new(file), false)),
        [flag, file] if flag == "--allow-downgrade" && !file.starts_with('-') => {
            finish(apply(Path::new(file), true))
        }
        [flag, file] if flag == "--verify" && !file.starts_with('-') => {
            finish(check(Path::new(file), &Keyring::compiled()))
        }
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

/// `lvsfw update --verify FILE`: the verifier every install uses, with this firmware's
/// keys and no box (any board, any version), writing nothing.
fn check(file: &Path, keys: &Keyring) -> Result<String, String> {
    let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", file.display());
    let mut input = std::io::BufReader::new(File::open(file).map_err(|e| fail(&e))?);
    let policy = Policy {
        keys: keys.clone(),
        board: None,
        running: None,
        floor: None,
        allow_downgrade: false,
        max_len: payload::MAX_LEN,
    };
    let a = verify::verify(&mut input, policy).map_err(|e| fail(&e))?;
    let m = &a.manifest;
    let floor = m.floor.as_ref().map_or("none".to_string(), |f| {
        format!("{f} (boxes refuse older from then on)")
    });
    let files: Vec<String> = m
        .files
        .iter()
        .map(|f| format!("{} {}", f.name, f.len))
        .collect();
    Ok(format!(
        "{}: a whole, signed update\n\
         board:      {}\n\
         version:    {}\n\
         floor:      {floor}\n\
         signed by:  {}, a key this firmware trusts\n\
         it trusts:  {}\n\
         bytes:      {} ({})\n",
        file.display(),
        m.board,
        m.version,
        a.signer,
        m.keys,
        m.total_len(),
        files.join(", "),
    ))
}

struct Pack {
    board: String,
    version: String,
    floor: Option<String>,
    kernel: PathBuf,
    initrd: PathBuf,
    signing_key: PathBuf,
    out: PathBuf,
    manifest: Option<PathBuf>,
}

fn parse_pack(args: &[String]) -> Result<Pack, String> {
    let (mut board, mut version, mut floor, mut kernel, mut initrd, mut key, mut out) =
        (None, None, None, None, None, None, None);
    let mut manifest = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let slot = match arg.as_str() {
            "--board" => &mut board,
            "--version" => &mut version,
            "--floor" => &mut floor,
            "--kernel" => &mut kernel,
            "--initrd" => &mut initrd,
            "--signing-key" => &mut key,
            "-o" | "--output" => &mut out,
            "--manifest" => &mut manifest,
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
        floor,
        kernel: need(kernel, "--kernel")?.into(),
        initrd: need(initrd, "--initrd")?.into(),
        signing_key: need(key, "--signing-key")?.into(),
        out: need(out, "-o FILE")?.into(),
        manifest: manifest.map(PathBuf::from),
    })
}

fn run_pack(p: &Pack) -> Result<String, String> {
    run_pack_carrying(p, &Keyring::compiled())
}

/// Packs an update whose firmware trusts `keys` (this build's own, outside the tests).
fn run_pack_carrying(p: &Pack, keys: &Keyring) -> Result<String, String> {
    let version = Version::parse(&p.version)?;
    let floor = p.floor.as_deref().map(Version::parse).transpose()?;
    // The key's bytes never appear in a message: only its path and what is wrong.
    let key_bytes =
        std::fs::read(&p.signing_key).map_err(|e| format!("{}: {e}", p.signing_key.display()))?;
    let key = SigningKey::from_pkcs8(&key_bytes)
        .map_err(|e| format!("{}: {e}", p.signing_key.display()))?;
    drop(key_bytes);
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
        &Spec {
            board: &p.board,
            version: &version,
            floor: floor.as_ref(),
            keys,
        },
        Source {
            len: kernel_len,
            reader: &mut kernel,
        },
        Source {
            len: initrd_len,
            reader: &mut initrd,
        },
        &key,
    )
    .map_err(|e| e.to_string())
    .and_then(|m| {
        out.flush()
            .and_then(|_| out.get_ref().sync_all())
            .map_err(|e| fail(&e))?;
        Ok(m)
    });
    let packed = match packed {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_file(&temporary);
            return Err(e);
        }
    };
    std::fs::rename(&temporary, &p.out).map_err(|e| fail(&e))?;
    if let Some(path) = &p.manifest {
        std::fs::write(path, &packed.signed_header)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let manifest = &packed.manifest;
    let trusted = keys.find(key.id()).map_or_else(
        || format!("key {} (not among the keys it carries: {keys})", key.id()),
        |k| k.to_string(),
    );
    Ok(format!(
        "{}: update for board {}, version {}: {} bytes (kernel {kernel_len}, initrd {initrd_len}), \
         signed by {trusted}\n",
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
        let err = parse_pack(&words(&["--board", "b", "--version", "1.0.0-1"]))
            .err()
            .unwrap();
        assert_eq!(err, "update pack: --kernel is missing");
        let err = parse_pack(&words(&["--board"])).err().unwrap();
        assert_eq!(err, "update pack: --board needs a value");
        let err = parse_pack(&words(&["--bored", "x"])).err().unwrap();
        assert_eq!(err, "update pack: unknown argument \"--bored\"");
    }

    #[test]
    fn pack_writes_a_signed_file_that_verifies() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("vmlinuz"), vec![7u8; 100_000]).unwrap();
        std::fs::write(dir.path().join("initrd"), b"cpio").unwrap();
        // The seed [7; 32] as `openssl genpkey` writes a key file, made at test time.
        let pem = update::testing::pkcs8_pem(7);
        std::fs::write(dir.path().join("key.pem"), pem).unwrap();
        let keys = update::testing::keyring(&[7]);
        let out = dir.path().join("x.update");
        let p = Pack {
            board: "qemu-x86_64".into(),
            version: "1.1.0-3".into(),
            floor: Some("1.0.0-0".into()),
            kernel: dir.path().join("vmlinuz"),
            initrd: dir.path().join("initrd"),
            signing_key: dir.path().join("key.pem"),
            out: out.clone(),
            manifest: Some(dir.path().join("manifest")),
        };
        let said = run_pack_carrying(&p, &keys).unwrap();
        assert!(said.contains("version 1.1.0-3"), "{said}");
        assert!(
            said.ends_with(&format!(
                "signed by key7 ({})\n",
                update::testing::key(7).id()
            )),
            "{said}"
        );
        let policy = update::verify::Policy {
            keys: keys.clone(),
            board: Some("qemu-x86_64".into()),
            running: None,
            floor: None,
            allow_downgrade: false,
            max_len: payload::MAX_LEN,
        };
        let m = update::verify::verify(&mut File::open(&out).unwrap(), policy)
            .unwrap()
            .manifest;
        assert_eq!(m.version.to_string(), "1.1.0-3");
        assert_eq!(m.floor.as_ref().unwrap().to_string(), "1.0.0-0");
        assert_eq!(m.keys, keys);
        let kept = std::fs::read(dir.path().join("manifest")).unwrap();
        assert_eq!(update::verify::open_signed(&kept, &keys).unwrap().0, m);

        // --verify: what a release is checked with before it ships.
        let said = check(&out, &keys).unwrap();
        let key7 = update::testing::key(7).id();
        assert_eq!(
            said,
            format!(
                "{}: a whole, signed update\n\
                 board:      qemu-x86_64\n\
                 version:    1.1.0-3\n\
                 floor:      1.0.0-0 (boxes refuse older from then on)\n\
                 signed by:  key7 ({key7}), a key this firmware trusts\n\
                 it trusts:  key7 ({key7})\n\
                 bytes:      {} (vmlinuz 100000, initrd 4, version 8)\n",
                out.display(),
                std::fs::metadata(&out).unwrap().len()
            )
        );
        let err = check(&out, &update::testing::keyring(&[1])).unwrap_err();
        assert!(
            err.starts_with(&format!(
                "{}: signed by key {key7}, which this firmware does not trust",
                out.display()
            )),
            "{err}"
        );
        let mut bytes = std::fs::read(&out).unwrap();
        bytes.truncate(bytes.len() - 1);
        std::fs::write(dir.path().join("cut.update"), bytes).unwrap();
        let err = check(&dir.path().join("cut.update"), &keys).unwrap_err();
        assert!(
            err.ends_with("truncated: file version is 1 byte short"),
            "{err}"
        );

        let missing = Pack {
            kernel: dir.path().join("nope"),
            ..p
        };
        let err = run_pack_carrying(&missing, &keys).unwrap_err();
        assert!(err.contains("nope: No such file"), "{err}");
        std::fs::write(dir.path().join("key.pem"), "not a key").unwrap();
        let bad_key = Pack {
            kernel: dir.path().join("vmlinuz"),
            ..missing
        };
        let err = run_pack_carrying(&bad_key, &keys).unwrap_err();
        assert!(err.contains("key.pem: not an Ed25519 private key"), "{err}");
        assert!(!out.with_extension("update.tmp").exists());
    }
}
