//! Running a little code inside a lab namespace from this process: a thread moves into
//! the namespace, runs it and ends. Sockets opened there stay in that namespace, so the
//! rest of the process can use them from any thread.

use nix::sched::{setns, CloneFlags};

use crate::command::Error;
use crate::lab::Host;

/// Runs `f` on a thread inside `host`'s network namespace and returns its result. The
/// thread is scoped, so `f` may borrow from the caller.
pub fn within<T: Send>(host: &Host, f: impl FnOnce() -> T + Send) -> Result<T, Error> {
    let namespace = Namespace::open(host)?;
    std::thread::scope(|scope| {
        scope
            .spawn(move || -> Result<T, Error> {
                // Only this thread moves, and it ends after f.
                namespace.enter()?;
                Ok(f())
            })
            .join()
            .map_err(|_| Error(format!("in {}: the thread panicked", host.name)))?
    })
}

/// A lab namespace, opened: a thread of this process can move into it.
pub struct Namespace {
    file: std::fs::File,
    path: String,
}

impl Namespace {
    pub fn open(host: &Host) -> Result<Namespace, Error> {
        let path = format!("/run/netns/{}", host.namespace);
        let file = std::fs::File::open(&path).map_err(|e| Error(format!("{path}: {e}")))?;
        Ok(Namespace { file, path })
    }

    /// Moves the calling thread (only it) into the namespace.
    pub fn enter(&self) -> Result<(), Error> {
        setns(&self.file, CloneFlags::CLONE_NEWNET)
            .map_err(|e| Error(format!("setns {}: {e}", self.path)))
    }
}
