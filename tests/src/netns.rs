//! Running a little code inside a lab namespace from this process: a thread moves into
//! the namespace, runs it and ends. Sockets opened there stay in that namespace, so the
//! rest of the process can use them from any thread.

use nix::sched::{setns, CloneFlags};

use crate::command::Error;
use crate::lab::Host;

/// Runs `f` on a thread inside `host`'s network namespace and returns its result.
pub fn within<T: Send + 'static>(
    host: &Host,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Error> {
    let path = format!("/run/netns/{}", host.namespace);
    let thread = std::thread::spawn(move || -> Result<T, String> {
        let ns = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
        // setns moves only this thread, which ends after f.
        setns(&ns, CloneFlags::CLONE_NEWNET).map_err(|e| format!("setns {path}: {e}"))?;
        Ok(f())
    });
    thread
        .join()
        .map_err(|_| Error(format!("in {}: the thread panicked", host.name)))?
        .map_err(Error)
}
