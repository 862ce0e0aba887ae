//! AOT-compiles a .wasm with non-default compiler settings, to measure what they do to load
//! time and code size (see bench/README.md, "Where the cold-start time goes").
//!
//! ```text
//! cargo run --release -p wasi-hw-bench --example aot-variant -- IN.wasm OUT.aot [--opt N] [--size N] [--no-bounds-checks]
//! ```
//! `--no-bounds-checks` is for the `hw-bound-check` runtime build only: on the default
//! runtime nothing would stop an out-of-bounds access.

use anyhow::{bail, Context, Result};
use wasi_hw_aotc::{compile, CompileOptions, Target};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        bail!("usage: aot-variant IN.wasm OUT.aot [--opt N] [--size N] [--no-bounds-checks]");
    };
    let mut opts = CompileOptions::new(Target::host().context("no AOT target for this host")?);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--opt" => opts.opt_level = args.next().context("--opt N")?.parse()?,
            "--size" => opts.size_level = args.next().context("--size N")?.parse()?,
            "--no-bounds-checks" => opts.bounds_checks = false,
            _ => bail!("unexpected argument {a:?}"),
        }
    }
    let wasm = std::fs::read(&input).with_context(|| format!("reading {input}"))?;
    let aot = compile(&wasm, &opts).with_context(|| format!("compiling {input}"))?;
    std::fs::write(&output, aot).with_context(|| format!("writing {output}"))?;
    Ok(())
}
