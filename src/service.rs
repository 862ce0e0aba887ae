//! `wasi-hw serve` (the resident driver host) and `wasi-hw ctl` (its control client).

use std::fmt::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use wasi_hw_resident::protocol::{DriverStatus, Reply, Request};

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The drivers to run (TOML: `[host]` and `[[driver]]` tables; see README).
    #[arg(long, short)]
    pub config: PathBuf,
    /// The control socket (default: `socket` in the config's `[host]`, else
    /// /var/run/wasi-hw.sock).
    #[arg(long)]
    pub socket: Option<PathBuf>,
    /// Load .aot files without checking their signatures (development only; logged).
    #[arg(long)]
    pub allow_unsigned: bool,
    /// Only check the configuration (syntax, grants, that each module is one this runtime
    /// runs), print the drivers and exit.
    #[arg(long)]
    pub check: bool,
}

#[derive(Args, Debug)]
pub struct CtlArgs {
    /// The host's control socket.
    #[arg(long, env = "WASI_HW_SOCKET", default_value = wasi_hw_resident::config::DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Print the host's reply as it came (one JSON object).
    #[arg(long)]
    pub json: bool,
    #[command(subcommand)]
    pub verb: CtlVerb,
}

#[derive(Subcommand, Debug)]
pub enum CtlVerb {
    /// Every driver, one line each.
    List,
    /// One driver: state, runs, restarts, last exit, uptime, module digest, bus traffic.
    Status {
        name: String,
    },
    Start {
        name: String,
    },
    /// Stop the driver at its next host call and keep it stopped.
    Stop {
        name: String,
    },
    Restart {
        name: String,
    },
    /// Re-read the configuration (unchanged drivers keep running).
    Reload,
    /// Replace the driver's module; the old one keeps running if the new one is refused.
    Update {
        name: String,
        module: PathBuf,
    },
    /// Run a scheduled or stopped driver now; prints its output and exits with its code.
    Invoke {
        name: String,
        /// Arguments replacing the configured ones.
        #[arg(last = true)]
        args: Vec<String>,
    },
}

pub fn serve(args: ServeArgs) -> Result<i32> {
    if args.check {
        let config = wasi_hw_resident::Config::read(&args.config)?;
        config
            .host
            .sandbox()
            .with_context(|| args.config.display().to_string())?;
        let mut trust = config.host.trust_policy();
        trust.allow_unsigned |= args.allow_unsigned;
        for d in &config.drivers {
            let at = |e: anyhow::Error| {
                anyhow::anyhow!(
                    "{}:{}: driver {:?}: {e:#}",
                    args.config.display(),
                    d.line,
                    d.name
                )
            };
            let file = wasi_hw_wiring::read_module_trusted(&d.module, &trust).map_err(at)?;
            d.grants().map_err(at)?;
            let when = match d.every_ms {
                Some(ms) => format!("every {ms} ms"),
                None if d.autostart => format!("kept running (restart {:?})", d.restart),
                None => "on request".into(),
            };
            println!(
                "{}: {} ({:?}), {when}",
                d.name,
                d.module.display(),
                file.kind()
            );
        }
        return Ok(0);
    }
    let options = wasi_hw_resident::HostOptions {
        compile: compiler(),
        allow_unsigned: args.allow_unsigned,
    };
    wasi_hw_resident::serve(&args.config, args.socket.as_deref(), options)?;
    Ok(0)
}

#[cfg(feature = "aot-compiler")]
fn compiler() -> Option<wasi_hw_resident::Compile> {
    Some(crate::cli::compile_for_host)
}

#[cfg(not(feature = "aot-compiler"))]
fn compiler() -> Option<wasi_hw_resident::Compile> {
    None
}

pub fn ctl(args: CtlArgs) -> Result<i32> {
    let request = match args.verb {
        CtlVerb::List => Request::List,
        CtlVerb::Status { name } => Request::Status { name },
        CtlVerb::Start { name } => Request::Start { name },
        CtlVerb::Stop { name } => Request::Stop { name },
        CtlVerb::Restart { name } => Request::Restart { name },
        CtlVerb::Reload => Request::Reload,
        CtlVerb::Update { name, module } => Request::Update {
            name,
            // The host resolves paths from its own working directory.
            module: std::path::absolute(&module).unwrap_or(module),
        },
        CtlVerb::Invoke { name, args } => Request::Invoke {
            name,
            args: (!args.is_empty()).then_some(args),
        },
    };
    let reply = wasi_hw_resident::control::request(&args.socket, &request)?;
    if args.json {
        println!("{}", serde_json::to_string(&reply)?);
        return Ok(if reply.ok { 0 } else { 1 });
    }
    print_reply(reply)
}

fn print_reply(reply: Reply) -> Result<i32> {
    if !reply.ok {
        bail!("{}", reply.error.unwrap_or_else(|| "request failed".into()));
    }
    if let Some(msg) = reply.message {
        println!("{msg}");
    }
    if let Some(drivers) = reply.drivers {
        println!(
            "{:<16} {:<8} {:>6} {:>8}  LAST EXIT",
            "NAME", "STATE", "RUNS", "RESTARTS"
        );
        for d in drivers {
            println!(
                "{:<16} {:<8} {:>6} {:>8}  {}",
                d.name,
                d.state,
                d.runs,
                d.restarts,
                d.last_exit.as_deref().unwrap_or("-")
            );
        }
    }
    if let Some(status) = reply.status {
        print!("{}", describe(&status));
    }
    if let Some(run) = reply.run {
        print!("{}", run.stdout);
        eprint!("{}", run.stderr);
        return match (run.exit_code, run.trap) {
            (Some(code), _) => Ok(code),
            (None, trap) => bail!("{}", trap.unwrap_or_else(|| "the run failed".into())),
        };
    }
    Ok(0)
}

fn describe(s: &DriverStatus) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "name: {}", s.name);
    let _ = writeln!(out, "state: {}", s.state);
    let _ = writeln!(out, "module: {}", s.module);
    let _ = writeln!(out, "sha256: {}", s.digest);
    if let Some(ms) = s.every_ms {
        let _ = writeln!(out, "every: {ms} ms");
    }
    let _ = writeln!(out, "runs: {}", s.runs);
    let _ = writeln!(out, "restarts: {}", s.restarts);
    if let Some(e) = &s.last_exit {
        let _ = writeln!(out, "last exit: {e}");
    }
    if let Some(ms) = s.uptime_ms {
        let _ = writeln!(out, "uptime: {:.1} s", ms as f64 / 1000.0);
    }
    for b in &s.buses {
        let _ = writeln!(
            out,
            "i2c {}{}: {} transactions, {} failed, {} in flight{}",
            b.name,
            if b.lost {
                " (LOST: the device node is gone)"
            } else {
                ""
            },
            b.transactions,
            b.failed,
            b.in_flight,
            b.last_error
                .as_ref()
                .map(|e| format!(", last error: {e}"))
                .unwrap_or_default()
        );
    }
    for u in &s.usb {
        let _ = writeln!(
            out,
            "usb {}: {}, handed over {} time(s)",
            u.device, u.state, u.handoffs
        );
    }
    if let Some(us) = s.update_gap_us {
        let _ = writeln!(out, "last update gap: {us} us");
    }
    for e in &s.events {
        let _ = writeln!(out, "event: {e}");
    }
    out
}
