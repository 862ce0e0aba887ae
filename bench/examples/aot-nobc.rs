//! AOT-compiles a .wasm *without* software bounds checks, for the `hw-bound-check` build of
//! the runtime only (guard pages do the checking there). Never run such a module on the
//! default runtime: nothing would stop an out-of-bounds access.
//!
//! ```text
//! cargo run --release -p wasi-hw-bench --example aot-nobc -- IN.wasm OUT.aot
//! ```

use anyhow::{Context, Result};
use wasi_hw::compiler::{compile, CompileOptions, Target};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: aot-nobc IN.wasm OUT.aot");
    };
    let wasm = std::fs::read(&input).with_context(|| format!("reading {input}"))?;
    let mut opts = CompileOptions::new(Target::host().context("no AOT target for this host")?);
    opts.bounds_checks = false;
    let aot = compile(&wasm, &opts).with_context(|| format!("compiling {input}"))?;
    std::fs::write(&output, aot).with_context(|| format!("writing {output}"))?;
    Ok(())
}
