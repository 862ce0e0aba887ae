//! End-to-end tests of the `wasi-hw` binary: WASI guests interpreted and AOT-compiled,
//! the compiler's targets, and the errors users see for bad input.
//! Needs `scripts/build-guests.sh` to have built target/guests/hello.wasm (scripts/test.sh does).
//! Every `.aot` here is signed with the tests' key, and every `run` trusts only that key
//! (`--keys`); the signature errors themselves are tested in tests/signatures.rs.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wasi-hw"))
}

fn guest(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/guests")
        .join(format!("{name}.wasm"));
    assert!(
        p.exists(),
        "{} missing: run scripts/build-guests.sh first",
        p.display()
    );
    p
}

/// Runs the CLI; `run` trusts the tests' key (`--keys`) unless the arguments say otherwise.
fn run(args: &[&str]) -> Output {
    let keys = common::test_key().keys_dir.to_str().unwrap();
    let mut args = args.to_vec();
    if args.first() == Some(&"run") && !args.contains(&"--keys") {
        args.splice(1..1, ["--keys", keys]);
    }
    let out = cli().args(&args).output().expect("spawn wasi-hw");
    // A crash (signal) would leave no exit code: every failure must be a clean exit.
    assert!(
        out.status.code().is_some(),
        "wasi-hw died from a signal: {out:?}"
    );
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn compile(wasm: &Path, out: &Path, target: &str) {
    let o = run(&[
        "compile",
        wasm.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--target",
        target,
    ]);
    assert!(o.status.success(), "compile failed: {}", stderr(&o));
    let secret = common::test_key().secret.to_str().unwrap();
    let o = run(&["sign", "-s", secret, out.to_str().unwrap()]);
    assert!(o.status.success(), "sign failed: {}", stderr(&o));
}

fn wat_file(dir: &Path, name: &str, wat: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, wat::parse_str(wat).unwrap()).unwrap();
    p
}

#[test]
fn hello_runs_the_same_interpreted_and_aot_with_args_env_dir_and_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("note.txt"), "sensor config v1\n").unwrap();
    let wasm = guest("hello");
    let aot = tmp.path().join("hello.aot");
    compile(&wasm, &aot, "x86_64");

    let dir = format!("{}::/data", data.display());
    let common = ["--env", "GREETING=hi there", "--dir", &dir];
    let guest_args = [
        "--",
        "one",
        "two words",
        "--cat",
        "/data/note.txt",
        "--exit",
        "7",
    ];
    let interp = run(&[
        &["run", "--interp"][..],
        &common,
        &[wasm.to_str().unwrap()],
        &guest_args,
    ]
    .concat());
    let native = run(&[&["run"][..], &common, &[aot.to_str().unwrap()], &guest_args].concat());
    let in_memory = run(&[
        &["run"][..],
        &common,
        &[wasm.to_str().unwrap()],
        &guest_args,
    ]
    .concat());

    let expected = "hello from wasm\narg[0]: one\narg[1]: two words\nfile /data/note.txt: sensor config v1\nGREETING=hi there\n";
    for (what, o) in [
        ("interpreter", &interp),
        ("aot", &native),
        ("compiled on load", &in_memory),
    ] {
        assert_eq!(stdout(o), expected, "{what}: stderr {}", stderr(o));
        assert_eq!(o.status.code(), Some(7), "{what}: exit code propagated");
    }
}

#[test]
fn unpreopened_file_is_not_reachable() {
    let o = run(&[
        "run",
        guest("hello").to_str().unwrap(),
        "--",
        "--cat",
        "/etc/hostname",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot read /etc/hostname"));
}

#[test]
fn armv7_output_is_produced_inspected_and_refused_here() {
    let tmp = tempfile::tempdir().unwrap();
    let aot = tmp.path().join("hello.armv7.aot");
    compile(&guest("hello"), &aot, "armv7");
    let o = run(&["inspect", aot.to_str().unwrap()]);
    assert!(o.status.success());
    let info = stdout(&o);
    assert!(
        info.contains("kind: aot") && info.contains("target: armv7") && info.contains("bits: 32"),
        "{info}"
    );

    let o = run(&["run", aot.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("AOT-compiled for armv7") && err.contains("--target x86_64"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one-line error: {err}");

    for target in ["thumbv7", "aarch64", "mipsel"] {
        let out = tmp.path().join(format!("hello.{target}.aot"));
        compile(&guest("hello"), &out, target);
        let info = stdout(&run(&["inspect", out.to_str().unwrap()]));
        assert!(info.contains(&format!("target: {target}")), "{info}");
    }

    // Big-endian MIPS: refused with the reason, nothing written.
    let out = tmp.path().join("hello.mips.aot");
    let o = run(&[
        "compile",
        guest("hello").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--target",
        "mips",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("big-endian MIPS is not supported"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
}

#[test]
fn inspect_lists_imports_and_exports() {
    let o = run(&["inspect", guest("temp-sensor").to_str().unwrap()]);
    let info = stdout(&o);
    assert!(info.contains("kind: wasm"), "{info}");
    assert!(
        info.contains("import: wasi:i2c/i2c@0.2.0-draft::[method]i2c.write-read (Func)"),
        "{info}"
    );
    assert!(info.contains("export: cabi_realloc (Func)"), "{info}");
    assert!(
        !info.contains("not provided"),
        "every import is provided: {info}"
    );
}

const OOB: &str = r#"(module (memory (export "memory") 1)
  (func (export "_start") (drop (i32.load (i32.const 65534)))))"#;

#[test]
fn load_past_memory_traps_interpreted_and_aot() {
    let tmp = tempfile::tempdir().unwrap();
    let wasm = wat_file(tmp.path(), "oob.wasm", OOB);
    let aot = tmp.path().join("oob.aot");
    compile(&wasm, &aot, "x86_64");
    for args in [
        vec!["run", "--interp", wasm.to_str().unwrap()],
        vec!["run", aot.to_str().unwrap()],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&o).contains("wasm trap: out of bounds memory access"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn runaway_recursion_on_the_main_thread_is_a_trap_whatever_the_stack_limit() {
    // The CLI runs the guest on the process's main thread, whose native-stack boundary the
    // runtime derives from RLIMIT_STACK (runtime/wamr-sys/patches.rs): the AOT code's
    // stack check must fire before the real end of the stack, for small, default and
    // unlimited limits alike.
    let tmp = tempfile::tempdir().unwrap();
    let wasm = wat_file(
        tmp.path(),
        "deep.wasm",
        r#"(module
            (func $f (param i64) (result i64)
              (i64.add (call $f (i64.add (local.get 0) (i64.const 1))) (local.get 0)))
            (func (export "_start") (drop (call $f (i64.const 0)))))"#,
    );
    let aot = tmp.path().join("deep.aot");
    compile(&wasm, &aot, "x86_64");
    let bin = env!("CARGO_BIN_EXE_wasi-hw");
    for limit in ["1024", "8192", "65536", "unlimited"] {
        let o = Command::new("sh")
            .args([
                "-c",
                &format!("ulimit -s {limit} && exec \"$0\" run --keys \"$2\" \"$1\""),
            ])
            .args([bin, aot.to_str().unwrap()])
            .arg(&common::test_key().keys_dir)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "ulimit -s {limit}: {o:?}");
        assert!(
            stderr(&o).contains("native stack overflow"),
            "ulimit -s {limit}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn traps_carry_their_message() {
    let tmp = tempfile::tempdir().unwrap();
    let wasm = wat_file(
        tmp.path(),
        "boom.wasm",
        r#"(module (func (export "_start") unreachable))"#,
    );
    let o = run(&["run", wasm.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("wasm trap: unreachable"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bad_input_gives_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let check = |args: &[&str], needle: &str| {
        let o = run(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = stderr(&o);
        assert!(
            err.contains(needle),
            "{args:?}: expected {needle:?} in {err:?}"
        );
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err:?}");
    };
    let missing = tmp.path().join("nope.aot");
    check(&["run", missing.to_str().unwrap()], "cannot read");

    let text = tmp.path().join("notes.txt");
    std::fs::write(&text, "not a module").unwrap();
    check(
        &["run", text.to_str().unwrap()],
        "is not a WebAssembly (.wasm) or WAMR AOT (.aot) module",
    );

    let aot = tmp.path().join("hello.aot");
    compile(&guest("hello"), &aot, "x86_64");
    let bytes = std::fs::read(&aot).unwrap();
    let truncated = tmp.path().join("truncated.aot");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    // Signed as it is: the section walk refuses it before WAMR parses it.
    common::sign(&truncated);
    check(
        &["run", truncated.to_str().unwrap()],
        "corrupt AOT file: text section at offset",
    );
    let mut corrupt = bytes.clone();
    for b in corrupt.iter_mut().skip(64).step_by(7) {
        *b ^= 0x5a;
    }
    let corrupt_path = tmp.path().join("corrupt.aot");
    std::fs::write(&corrupt_path, &corrupt).unwrap();
    common::sign(&corrupt_path);
    let o = run(&["run", corrupt_path.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "corrupt AOT must fail cleanly: {}",
        stderr(&o)
    );

    let mut future = bytes.clone();
    future[4] = 11;
    let future_path = tmp.path().join("future.aot");
    std::fs::write(&future_path, &future).unwrap();
    check(
        &["run", future_path.to_str().unwrap()],
        "AOT format version 11 is not supported",
    );

    let wasm = guest("hello");
    let wasm_bytes = std::fs::read(&wasm).unwrap();
    let cut = tmp.path().join("cut.wasm");
    std::fs::write(&cut, &wasm_bytes[..wasm_bytes.len() - 100]).unwrap();
    check(
        &["run", "--interp", cut.to_str().unwrap()],
        "failed to load module",
    );

    let imports = wat_file(
        tmp.path(),
        "imp.wasm",
        r#"(module (import "vendor:gpio/pins" "set" (func)) (func (export "_start")))"#,
    );
    check(
        &["run", imports.to_str().unwrap()],
        "unknown import: vendor:gpio/pins::set",
    );
    check(
        &["run", "--interp", aot.to_str().unwrap()],
        "--interp needs a .wasm module",
    );
}

/// USB guests built from the wasi-usb proposal repository's WIT (component:usb names) run;
/// guests built against the usb-wasm fork's WIT (same names, another transfer-result
/// layout, recognisable by the types wit-bindgen embeds) are refused by `run` and
/// `compile` with one line saying why, and `inspect` says which names a module uses.
#[test]
fn usb_dialects_run_or_are_refused_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let wat = |types: &str| {
        format!(
            r#"(module
              (import "component:usb/device@0.2.1" "init" (func $init (param i32)))
              (@custom "component-type:wit-bindgen:0.41.0:component:usb@0.2.1:guest" "{types}")
              (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
              (memory (export "memory") 1)
              (func (export "_start")
                (call $init (i32.const 16))
                (call $exit (i32.load8_u (i32.const 16)))))"#
        )
    };
    let proposal = tmp.path().join("proposal.wasm");
    // Names as the component-type section encodes them: a length byte, then the name (the
    // proposal's WIT has a field `iso-packets`; only the fork has `transfer-result`).
    std::fs::write(&proposal, wat::parse_str(wat(r"\0biso-packets")).unwrap()).unwrap();
    let fork = tmp.path().join("fork.wasm");
    std::fs::write(&fork, wat::parse_str(wat(r"\0ftransfer-result")).unwrap()).unwrap();
    let p = proposal.to_str().unwrap();
    for mode in [&["--interp"][..], &[]] {
        let mut args = vec!["run", "--usb", "sim"];
        args.extend_from_slice(mode);
        args.push(p);
        let o = run(&args);
        // `init` stored result<_, libusb-error> ok (discriminant 0): exit 0.
        assert!(o.status.success(), "{mode:?}: {}", stderr(&o));
    }
    let inspect = stdout(&run(&["inspect", p]));
    assert!(
        inspect.contains("usb-dialect: component:usb@0.2.1"),
        "{inspect}"
    );
    let f = fork.to_str().unwrap();
    let aot = tmp.path().join("fork.aot");
    for args in [
        vec!["run", "--usb", "sim", f],
        vec!["compile", f, "-o", aot.to_str().unwrap()],
    ] {
        let o = run(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("usb-wasm fork") && err.contains(f), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    assert!(!aot.exists());
}

/// A guest given a directory (`--dir`, writable) must not be able to rewrite its own code:
/// a module inside a given directory is refused with one line.
#[test]
fn a_module_inside_a_given_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let module = tmp.path().join("hello.wasm");
    std::fs::copy(guest("hello"), &module).unwrap();
    let dir = tmp.path().to_str().unwrap();
    let o = run(&["run", "--interp", "--dir", dir, module.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("rewrite its own code"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // The same module run from outside the given directory runs.
    let other = tempfile::tempdir().unwrap();
    let o = run(&[
        "run",
        "--interp",
        "--dir",
        other.path().to_str().unwrap(),
        module.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// `run --timings` prints one parseable line of phases on stderr after the guest's
/// output; `coldstart` runs it as fresh processes and prints median/p90 per phase, and a
/// native command's figures and the ratio when given one.
#[test]
fn timings_and_coldstart_report_every_phase() {
    let hello = guest("hello");
    let h = hello.to_str().unwrap();
    let o = run(&["run", "--timings", "--interp", h]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    let line = err
        .lines()
        .find(|l| l.starts_with(wasi_hw::timings::PREFIX))
        .unwrap_or_else(|| panic!("no timings line in {err}"));
    let phases: Vec<String> = wasi_hw::timings::parse(line)
        .unwrap()
        .into_iter()
        .map(|(name, us)| {
            assert!(us >= 0.0, "{line}");
            name
        })
        .collect();
    assert_eq!(
        phases,
        [
            "start",
            "read",
            "init",
            "register",
            "load",
            "instantiate",
            "run",
            "total"
        ]
    );
    let o = run(&[
        "coldstart",
        "-n",
        "3",
        "--native",
        "/bin/true",
        "--",
        "--interp",
        h,
    ]);
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    for row in ["load", "instantiate", "process", "native", "ratio"] {
        assert!(
            out.lines().any(|l| l.starts_with(row)),
            "no {row} row in:\n{out}"
        );
    }
    // A module that does not run is one clear error, not a table.
    let o = run(&["coldstart", "-n", "2", "--", "/nonexistent.aot"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("run 1 failed"), "{}", stderr(&o));
}

/// `inspect` hands an `.aot` to WAMR (to list its imports) only once its signature verifies:
/// a corrupt native file of unknown origin can crash the loader.
#[test]
fn inspect_lists_an_aot_only_when_its_signature_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let signed = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/guests/hello.aot");
    let copy = tmp.path().join("hello.aot");
    std::fs::copy(&signed, &copy).unwrap();
    let info = stdout(&run(&["inspect", copy.to_str().unwrap()]));
    assert!(
        info.contains("kind: aot") && info.contains("hello.aot.sig is missing"),
        "{info}"
    );
    assert!(!info.contains("import:"), "{info}");
    let info = stdout(&run(&[
        "inspect",
        "--allow-unsigned",
        copy.to_str().unwrap(),
    ]));
    assert!(info.contains("signature: not checked"), "{info}");
    assert!(
        info.contains("import: wasi_snapshot_preview1::fd_write"),
        "{info}"
    );
    // The module's own signature, by the development key the set-up trusts.
    std::fs::copy(
        signed.with_extension("aot.sig"),
        tmp.path().join("hello.aot.sig"),
    )
    .unwrap();
    let info = stdout(&run(&["inspect", copy.to_str().unwrap()]));
    assert!(info.contains("signature: verified"), "{info}");
    assert!(info.contains("import: "), "{info}");
}

#[test]
fn run_limits_wall_time_and_handles() {
    let tmp = tempfile::tempdir().unwrap();
    // Spins without host calls (AOT stop checks, interpreter suspend checks), and sleeps
    // 60 s in poll_oneoff: both are stopped by --timeout-ms.
    let spins = wat_file(tmp.path(), "spins.wasm", common::SPINS);
    let sleeps = wat_file(tmp.path(), "sleeps.wasm", common::SLEEPS_60S);
    let spins_aot = tmp.path().join("spins.aot");
    compile(&spins, &spins_aot, "x86_64");
    for args in [
        vec!["run", "--timeout-ms", "300", spins_aot.to_str().unwrap()],
        vec![
            "run",
            "--timeout-ms",
            "300",
            "--interp",
            spins.to_str().unwrap(),
        ],
        vec![
            "run",
            "--timeout-ms",
            "300",
            "--interp",
            sleeps.to_str().unwrap(),
        ],
    ] {
        let t = std::time::Instant::now();
        let o = run(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o), "error: timed out after 300 ms\n", "{args:?}");
        assert!(t.elapsed() < std::time::Duration::from_secs(10), "{args:?}");
    }
    // Ten delay handles: refused at the sixth under --max-handles 5.
    let opens = wat_file(tmp.path(), "opens.wasm", common::OPENS_10_DELAYS);
    let opens = opens.to_str().unwrap();
    let o = run(&["run", "--interp", "--max-handles", "5", opens]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("open-delay"), "{}", stderr(&o));
    assert!(run(&["run", "--interp", opens]).status.success());
    let o = run(&["run", "--max-handles", "0", opens]);
    assert_eq!(o.status.code(), Some(2), "clap refuses 0: {}", stderr(&o));
}
