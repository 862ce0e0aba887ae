use std::process::ExitCode;

use clap::Parser;
use wasi_hw::cli::{self, Cli, Command};

fn print_output(result: anyhow::Result<String>) -> anyhow::Result<i32> {
    result.map(|s| {
        print!("{s}");
        0
    })
}

fn main() -> ExitCode {
    let start = std::time::Instant::now();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => cli::run(*args, start),
        #[cfg(feature = "aot-compiler")]
        Command::Compile(args) => cli::compile(args).map(|()| 0),
        Command::Inspect(args) => cli::inspect(&args).map(|s| {
            print!("{s}");
            0
        }),
        Command::Serve(args) => wasi_hw::service::serve(args),
        Command::Ctl(args) => wasi_hw::service::ctl(args),
        #[cfg(feature = "aot-compiler")]
        Command::Keygen(args) => print_output(wasi_hw::signing::keygen(&args)),
        #[cfg(feature = "aot-compiler")]
        Command::Sign(args) => print_output(wasi_hw::signing::sign(&args)),
        Command::Verify(args) => print_output(wasi_hw::signing::verify(&args)),
        Command::Coldstart(args) => wasi_hw::coldstart::coldstart(args).map(|s| {
            print!("{s}");
            0
        }),
    };
    match result {
        // Exit statuses are 8 bits; WASI exit codes outside 0..=255 are truncated like a shell would.
        Ok(code) => ExitCode::from(code as u8),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}
