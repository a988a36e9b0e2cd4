//! Running a little code inside a lab namespace from this process: a thread moves into
//! the namespace, runs it and ends. Sockets opened there stay in that namespace, so the
//! rest of the process can use them from any thread.

use nix::sched::{setns, CloneFlags};

use crate::command::Error;
use crate::lab::Host;

/// Runs `f` on a thread inside `host`'s network namespace and returns its result. The
/// thread is scoped, so `f` may borrow from the caller.
pub fn within<T: Send>(host: &Host, f: impl FnOnce() -> T + Send) -> Result<T, Error> {
    let path = format!("/run/netns/{}", host.namespace);
    std::thread::scope(|scope| {
        scope
            .spawn(move || -> Result<T, String> {
                let ns = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
                // setns moves only this thread, which ends after f.
                setns(&ns, CloneFlags::CLONE_NEWNET).map_err(|e| format!("setns {path}: {e}"))?;
                Ok(f())
            })
            .join()
            .map_err(|_| Error(format!("in {}: the thread panicked", host.name)))?
            .map_err(Error)
    })
}
