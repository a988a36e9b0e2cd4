//! What every long-running command (`balancer`, `run`) does before its own work: log as
//! its component, parse its arguments, and run on a single-threaded tokio runtime whose
//! blocking pool (the web page's handlers, netlink calls) is kept to 8 threads.

use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

/// How long a stopping service waits for its blocking tasks once its work is done.
const SHUTDOWN_WAIT: Duration = Duration::from_millis(200);

pub fn run<O, Fut>(
    component: &'static str,
    args: &[String],
    parse: impl FnOnce(&[String]) -> Result<O, String>,
    serve: impl FnOnce(O) -> Fut,
) -> ExitCode
where
    Fut: Future<Output = ExitCode>,
{
    logger::init(component);
    let options = match parse(args) {
        Ok(o) => o,
        Err(why) => {
            log::error!("{why}");
            return ExitCode::from(2);
        }
    };
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(8)
        .build()
    {
        Ok(runtime) => {
            let code = runtime.block_on(serve(options));
            // Dropping a runtime waits for every blocking task (a web handler, a netlink
            // call) to end; a stopping service waits for none longer than this.
            runtime.shutdown_timeout(SHUTDOWN_WAIT);
            code
        }
        Err(e) => {
            log::error!("starting the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}
