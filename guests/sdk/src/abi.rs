//! The core-module ABI of the guest imports (documentation only).
//!
//! WAMR has no component model, so a guest is a core wasm module whose imports are
//! the canonical-ABI flattening of the WIT (what `wit-bindgen` emits for a core
//! module). The host's native libraries implement exactly these functions; this table
//! is the contract both sides are checked against (`wasm-objdump -x -j Import` on a
//! built guest shows the same modules, fields and signatures).
//!
//! # Imports
//!
//! | module | field | flat params | result |
//! |---|---|---|---|
//! | `wasi:i2c/i2c@0.2.0-draft` | `[method]i2c.transaction` | `(self i32, address i32, ops_ptr i32, ops_len i32, retptr i32)` | — (writes `result<list<list<u8>>, error-code>` at retptr) |
//! | `wasi:i2c/i2c@0.2.0-draft` | `[method]i2c.read` | `(self i32, address i32, len i64, retptr i32)` | — (writes `result<list<u8>, error-code>`) |
//! | `wasi:i2c/i2c@0.2.0-draft` | `[method]i2c.write` | `(self i32, address i32, data_ptr i32, data_len i32, retptr i32)` | — (writes `result<_, error-code>`) |
//! | `wasi:i2c/i2c@0.2.0-draft` | `[method]i2c.write-read` | `(self i32, address i32, write_ptr i32, write_len i32, read_len i64, retptr i32)` | — (writes `result<list<u8>, error-code>`) |
//! | `wasi:i2c/i2c@0.2.0-draft` | `[resource-drop]i2c` | `(handle i32)` | — |
//! | `wasi:i2c/delay@0.2.0-draft` | `[method]delay.delay-ns` | `(self i32, ns i32)` | — |
//! | `wasi:i2c/delay@0.2.0-draft` | `[resource-drop]delay` | `(handle i32)` | — |
//! | `wasi-hw:host/buses@0.1.0` | `open-i2c` | `(name_ptr i32, name_len i32, retptr i32)` | — (writes `result<own<i2c>, error-code>`) |
//! | `wasi-hw:host/buses@0.1.0` | `open-delay` | `()` | `i32` (own<delay> handle) |
//!
//! Only the imports a guest actually calls appear in its binary (the linker drops
//! the rest); WASI preview 1 (`wasi_snapshot_preview1`) comes on top for args/stdio.
//! The guest exports `memory` and `cabi_realloc`, plus `_start` (a command).
//!
//! Scalars: `address` (u16) travels zero-extended in an i32 (a lift keeps the low
//! 16 bits); `len`/`read_len` (u64) as i64 read unsigned; `ns` (u32) as i32 read
//! unsigned. `self` is a borrow of a handle the host gave out; `[resource-drop]`
//! ends an own handle. Handles are host-chosen u32 values; use non-zero values
//! below `u32::MAX` (wit-bindgen reserves `u32::MAX`, the component model never
//! hands out 0).
//!
//! # Memory layouts (all little endian; offsets in bytes)
//!
//! | type | size | align | layout |
//! |---|---|---|---|
//! | `no-acknowledge-source` (enum) | 1 | 1 | u8: 0 `address`, 1 `data`, 2 `unknown` |
//! | `error-code` (variant) | 2 | 1 | +0 u8 case: 0 `bus`, 1 `arbitration-loss`, 2 `no-acknowledge`, 3 `overrun`, 4 `other`; +1 u8 `no-acknowledge-source` (meaningful only for case 2) |
//! | `list<u8>` | 8 | 4 | +0 u32 ptr, +4 u32 len (bytes, align 1) |
//! | `operation` (variant) | 16 | 8 | +0 u8 case: 0 `read`, 1 `write`; `read`: +8 u64 len; `write`: +8 u32 ptr, +12 u32 len |
//! | `list<operation>` param | — | — | `ops_ptr` points at `ops_len` elements of 16 bytes, 8-aligned |
//! | `result<list<u8>, error-code>` | 12 | 4 | +0 u8: 0 ok, 1 err; ok: +4 u32 ptr, +8 u32 len; err: +4 u8 error case, +5 u8 nack source |
//! | `result<list<list<u8>>, error-code>` | 12 | 4 | +0 u8: 0 ok, 1 err; ok: +4 u32 ptr to `len` elements of `list<u8>` (8 bytes each: u32 ptr, u32 len), +8 u32 len; err: +4 u8 error case, +5 u8 nack source |
//! | `result<_, error-code>` | 3 | 1 | +0 u8: 0 ok, 1 err; err: +1 u8 error case, +2 u8 nack source |
//! | `result<own<i2c>, error-code>` | 8 | 4 | +0 u8: 0 ok, 1 err; ok: +4 u32 handle; err: +4 u8 error case, +5 u8 nack source |
//!
//! The `retptr` areas are allocated by the guest (on its stack) with the size and
//! alignment above; the host only writes into them.
//!
//! # Lists returned to the guest
//!
//! Every list the host returns (the `list<u8>` of `read`/`write-read`, the outer
//! `list<list<u8>>` of `transaction` and each inner `list<u8>`) must live in memory
//! obtained from the guest's export `cabi_realloc(old_ptr i32, old_size i32, align
//! i32, new_size i32) -> i32`, called as `cabi_realloc(0, 0, align, size)` (align 1
//! for bytes, 4 for the outer list of `transaction`): the guest takes ownership and
//! frees them with its own allocator. An empty list must still carry a non-null,
//! aligned pointer (Rust builds a `Vec` from it): call `cabi_realloc(0, 0, align, 0)`,
//! which returns `align`, or write `align` yourself; never 0.
//!
//! # `transaction` results
//!
//! The proposal does not say whether the returned list has one entry per operation
//! or one per `read` operation, and hosts in the wild do both. This SDK accepts
//! either ([`crate::i2c::fill_reads`]). Recommended for hosts (and what wasi-hw's
//! should do): one entry per operation, in order, with an empty list for each
//! `write`; each `read` entry exactly as long as requested.
