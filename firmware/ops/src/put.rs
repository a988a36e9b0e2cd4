//! A part of the configuration put in service at once, past the candidate: the page's
//! native editor and the API's whole configuration. The console's rule for a rollback
//! ([`confirm::arm_for`]) holds here too.

use super::*;

/// The native configuration as config.json holds it: everything but `keepalived`
/// (keepalived.conf holds that), the password hash included.
pub fn config_file_json(config: &Config) -> String {
    config::native::to_text(
        config,
        config::native::Without {
            keepalived: true,
            password_hash: false,
        },
    )
}

/// Writes every file to a temporary name beside it and syncs it, then renames them all
/// into place: a failure before the renames leaves every old file as it was.
pub fn write_files(files: &[(&Path, &[u8])]) -> std::io::Result<()> {
    let mut temps: Vec<(PathBuf, &Path)> = Vec::new();
    let written = files.iter().try_for_each(|(path, bytes)| {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("web-new");
        let mut file = std::fs::File::create(&tmp)?;
        temps.push((tmp, path));
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(e) = written {
        for (tmp, _) in &temps {
            let _ = std::fs::remove_file(tmp);
        }
        return Err(e);
    }
    for (tmp, path) in temps {
        std::fs::rename(tmp, path)?;
    }
    Ok(())
}

/// Writes the parts given (each whole, all or none) with a rollback armed when asked
/// for or when the change needs one; says what the rollback is, if one is armed.
pub(super) fn put(
    paths: &Paths,
    native: Option<&Config>,
    keepalived: Option<&str>,
    rollback: Option<u32>,
    who: &str,
) -> Result<String, Error> {
    let old = running(paths)
        .ok()
        .and_then(|t| config::native::from_json(&t.native).ok());
    let armed = confirm::arm_for(paths, rollback, old.as_ref(), native, who)
        .map_err(|e| Error::Refused(e.trim_end().to_string()))?;
    let json = native.map(config_file_json);
    let mut files: Vec<(&Path, &[u8])> = Vec::new();
    if let Some(json) = &json {
        files.push((&paths.running_json, json.as_bytes()));
    }
    if let Some(text) = keepalived {
        files.push((&paths.running_conf, text.as_bytes()));
    }
    if let Err(e) = write_files(&files) {
        if armed.is_some() {
            confirm::disarm(paths);
        }
        return Err(Error::Io(format!("writing the configuration: {e}")));
    }
    Ok(armed
        .as_ref()
        .map(|p| confirm::announce(p).trim_end().to_string())
        .unwrap_or_default())
}
