//! Reading keepalived.conf for the balancer: the model, its notes, or why not.

use super::*;

pub enum Loaded {
    /// Boxed: the model is a few hundred bytes, the other variants none.
    Config {
        config: Box<config::keepalived::Keepalived>,
        notes: Vec<String>,
    },
    Absent,
    Invalid,
}

/// keepalived.conf is optional: without it the balancer only keeps the interfaces.
/// With the appliance's own configuration (`native`), what only both show is checked
/// too: a priority of 255 only for the address owner, NAT real servers reachable
/// through an int address.
pub fn load_keepalived(path: &Path, native: Option<&Config>) -> Loaded {
    if !path.exists() {
        return Loaded::Absent;
    }
    let read = config::keepalived::read_file(path).and_then(|read| match native {
        Some(native) => read.validate_with(native).map(|()| read),
        None => Ok(read),
    });
    match read {
        Ok(read) => {
            log::info!("{}: {}", path.display(), read.config.summary());
            Loaded::Config {
                config: Box::new(read.config),
                notes: read.notes,
            }
        }
        Err(issues) => {
            for issue in issues.iter() {
                log::error!("{issue}");
            }
            log::error!("{}: not used; nothing of it is applied", path.display());
            Loaded::Invalid
        }
    }
}
