//! The resident driver host behind `wasi-hw serve` and `wasi-hw ctl`: WAMR initialised
//! once, each module loaded once, every configured driver in its own instance and thread
//! under a restart policy or a schedule, controlled over a Unix socket, and hot-updated
//! without releasing its devices.
//!
//! - [`config`]: the TOML file (`[host]`, `[[driver]]`), errors with file and line;
//! - [`host::ResidentHost`]: the drivers and the control requests; `driver`: one driver's
//!   thread, restarts, schedule, update and rollback; `modules`: the shared loaded modules;
//! - [`control`]: the socket and the client side; [`protocol`]: the line-delimited JSON;
//! - `output`: drivers' lines tagged with their names (stdio or syslog), or captured.

pub mod config;
pub mod control;
mod driver;
pub mod host;
mod modules;
#[cfg(feature = "mqtt")]
mod mqtt;
mod output;
pub mod protocol;
#[cfg(feature = "fleet")]
mod rollout;
mod watchdog;

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};

pub use config::Config;
pub use host::{HostOptions, ResidentHost};
pub use modules::Compile;

/// Runs the host until SIGTERM or SIGINT (then stops every driver between host calls and
/// returns); SIGHUP reloads the configuration.
pub fn serve(config: &Path, socket: Option<&Path>, options: HostOptions) -> Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    // Before any thread starts, so every thread inherits the mask signal-hook relies on.
    let mut signals =
        signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP]).context("signals")?;
    let sandbox = Config::read(config)?.host.sandbox()?;
    // A wrong user name is an error before any driver starts.
    let ids = sandbox.resolve()?;
    let host = ResidentHost::start(config, options)?;
    let path = socket.map_or_else(|| host.socket_path(), Path::to_path_buf);
    let control = control::ControlSocket::bind(&path)?;
    if !sandbox.is_empty() {
        sandbox.enter(ids.as_ref())?;
    }
    log::info!(
        "serving {} drivers; control socket {}",
        host.handle(protocol::Request::List)
            .drivers
            .map_or(0, |d| d.len()),
        path.display()
    );
    std::thread::Builder::new()
        .name("ctl-accept".into())
        .spawn({
            let host = Arc::clone(&host);
            move || {
                if let Err(e) = control.serve(host) {
                    log::error!("control socket: {e:#}");
                }
            }
        })
        .context("cannot start the control thread")?;
    for signal in signals.forever() {
        match signal {
            SIGHUP => match host.reload() {
                Ok(msg) => log::info!("{msg}"),
                Err(e) => log::error!("{e:#}"),
            },
            _ => break,
        }
    }
    log::info!("stopping every driver");
    host.shutdown();
    let _ = std::fs::remove_file(&path);
    Ok(())
}
