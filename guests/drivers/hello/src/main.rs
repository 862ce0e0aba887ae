//! `hello [--cat PATH] [--exit CODE] ARGS...`
//!
//! Prints `hello from wasm`, then `arg[i]: ...` for each argument, `GREETING=...` if that
//! variable is set, the content of `--cat PATH` (a file in a preopened directory), and
//! exits with `--exit CODE`. The engine tests compare its output interpreted and AOT.

use std::process::ExitCode;

fn main() -> ExitCode {
    println!("hello from wasm");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut code = 0u8;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--cat" if i + 1 < args.len() => {
                match std::fs::read_to_string(&args[i + 1]) {
                    Ok(text) => print!("file {}: {text}", args[i + 1]),
                    Err(e) => {
                        eprintln!("hello: error: cannot read {}: {e}", args[i + 1]);
                        return ExitCode::from(2);
                    }
                }
                i += 2;
                continue;
            }
            "--exit" if i + 1 < args.len() => {
                code = args[i + 1].parse().unwrap_or(255);
                i += 2;
                continue;
            }
            a => println!("arg[{i}]: {a}"),
        }
        i += 1;
    }
    if let Ok(g) = std::env::var("GREETING") {
        println!("GREETING={g}");
    }
    ExitCode::from(code)
}
