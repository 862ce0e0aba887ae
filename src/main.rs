use std::process::ExitCode;
use std::sync::Mutex;

use clap::{Args, FromArgMatches, Parser};
use wasi_hw::cli::{self, Cli, Command, RunArgs};

/// `run` is the cold-start path, so its arguments go through a parser of `run` alone:
/// building the parser of every subcommand and dropping it again cost ~10 % of the
/// instructions of `main` in an AOT sensor run under callgrind (1.31 M -> 1.18 M Ir).
/// The parser is kept in a static, never freed: the process ends with the run. Usage, help and errors are those of `wasi-hw run`.
fn parse() -> Command {
    let mut args = std::env::args_os();
    let program = args.next();
    if args.next().as_deref() != Some("run".as_ref()) {
        return Cli::parse().command;
    }
    static RUN: Mutex<Option<clap::Command>> = Mutex::new(None);
    let mut run = RUN.lock().unwrap_or_else(|e| e.into_inner());
    let run = run.get_or_insert_with(|| {
        // The about after the arguments: a flattened struct's doc would replace it.
        RunArgs::augment_args(clap::Command::new("run"))
            .bin_name("wasi-hw run")
            .about("Run a WASI command module (.wasm or .aot); its exit code becomes ours")
    });
    let argv = program.into_iter().chain(args);
    let parsed = run
        .try_get_matches_from_mut(argv)
        .and_then(|m| RunArgs::from_arg_matches(&m));
    match parsed {
        Ok(run_args) => Command::Run(Box::new(run_args)),
        Err(e) => e.format(run).exit(),
    }
}

fn print_output(result: anyhow::Result<String>) -> anyhow::Result<i32> {
    result.map(|s| {
        print!("{s}");
        0
    })
}

fn main() -> ExitCode {
    let start = std::time::Instant::now();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let result = match parse() {
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
        #[cfg(all(feature = "fleet", feature = "aot-compiler"))]
        Command::Push(args) => print_output(wasi_hw::fleet::push(args)),
        #[cfg(feature = "fleet")]
        Command::Pull(args) => print_output(wasi_hw::fleet::pull(args)),
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
