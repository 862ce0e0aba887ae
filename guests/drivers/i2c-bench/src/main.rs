//! `i2c-bench`: the host-call benchmark of `bench/`, as a guest.
//!
//! ```text
//! i2c-bench [--bus sim] [--addr 0x48] [--reads N] [--warmup N]
//! ```
//! Does `--warmup` untimed, then `--reads` timed 2-byte reads at `--addr` through
//! WASI-I2C (`[method]i2c.read`, one host call each) and prints one line:
//! `bench=i2c-read ops=N bytes=B elapsed_ns=T checksum=C`. The loop is
//! `wasi_hw_bench_workload::timed_read_loop`, which `bench-native` runs against the
//! simulated bus directly.

use wasi_hw_bench_workload::{parse_options, timed_read_loop};
use wasi_hw_guest::cli;
use wasi_hw_guest::i2c::I2c;

const PROG: &str = "i2c-bench";

fn main() {
    let opts = parse_options(std::env::args().skip(1)).unwrap_or_else(|e| cli::fail(PROG, e));
    let mut bus = I2c::open(&opts.bus)
        .unwrap_or_else(|e| cli::fail(PROG, format!("cannot open I2C bus {:?}: {e}", opts.bus)));
    match timed_read_loop(&mut bus, opts.addr, opts.reads, opts.warmup) {
        Ok(r) => println!("{}", r.line()),
        Err(e) => cli::fail(PROG, format!("read at {:#04x}: {e}", opts.addr)),
    }
}
