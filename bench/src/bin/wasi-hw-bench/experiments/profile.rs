//! Where a cold run spends its instructions (callgrind), step by step.

use crate::common::*;

/// Steps of a wasi-hw cold run, as (label, functions to look for in callgrind's inclusive
/// counts; the first one present is used).
pub(crate) const STEPS: &[(&str, &[&str])] = &[
    ("dynamic loader (before main)", &["_dl_start"]),
    ("main thread stack bounds (pthread_getattr_np parses /proc/self/maps; Rust std and WAMR each ask once)", &["pthread_getattr_np@@GLIBC_2.32", "pthread_getattr_np"]),
    ("WAMR runtime init (wasm_runtime_full_init)", &["wasm_runtime_full_init"]),
    ("command-line parsing (clap)", &["clap_builder::builder::command::Command::_do_parse"]),
    ("WASI-I2C native registration", &["wasi_hw_i2c::register"]),
    ("WASI-USB native registration (only for modules that name wasi:usb)", &["wasi_hw_usb::register"]),
    ("module load (wasm_runtime_load)", &["wasm_runtime_load"]),
    ("  of which AOT relocations (load_relocation_section)", &["load_relocation_section"]),
    ("instantiate (wasm_runtime_instantiate)", &["wasm_runtime_instantiate"]),
    ("execution environment (wasm_runtime_create_exec_env)", &["wasm_runtime_create_exec_env"]),
    ("first call: the driver's _start (wasm_runtime_call_wasm_a)", &["wasm_runtime_call_wasm_a"]),
];

/// Instruction counts of one cold run per variant under callgrind (deterministic, unlike
/// wall time on a shared machine), and where the wasi-hw runs spend them.
pub(crate) fn profile(o: &Opts, runner: &mut Runner, rep: &mut Report) -> Result<()> {
    let p = &o.paths;
    let usable = matches!(
        runner.run(Command::new("valgrind").arg("--version")),
        Ok(out) if out.success()
    );
    if o.smoke || !usable {
        rep.sections.insert(
            "profile".into(),
            "Not measured in this run (`--smoke`, or valgrind is not installed).".into(),
        );
        return Ok(());
    }
    let dir = p.p("target/bench/callgrind");
    std::fs::create_dir_all(&dir)?;
    let aot = p.guest("temp-sensor", "aot");
    let wasm = p.guest("temp-sensor", "wasm");
    let temp_args = || TEMP_ARGS.iter().map(OsString::from);
    let cli_run = |cli: PathBuf, interp: bool, m: &PathBuf| -> Vec<OsString> {
        let mut v: Vec<OsString> =
            vec![cli.into(), "run".into(), "--i2c".into(), "sim:0x48".into()];
        if interp {
            v.push("--interp".into());
        }
        v.push(m.into());
        v.push("--".into());
        v.extend(temp_args());
        v
    };
    let gw = if exists(&p.cli_gw()) {
        p.cli_gw()
    } else {
        p.cli_full()
    };
    let mut cmds: Vec<(&str, &str, Vec<OsString>)> = vec![
        (
            "native",
            "native",
            [p.native().into_os_string(), "temp".into()]
                .into_iter()
                .chain(temp_args())
                .collect(),
        ),
        ("aot", "wasi-hw AOT", cli_run(gw.clone(), false, &aot)),
        ("interp", "wasi-hw interpreter", cli_run(gw, true, &wasm)),
        (
            "aot-llvm",
            "wasi-hw AOT, CLI with LLVM linked",
            cli_run(p.cli_full(), false, &aot),
        ),
    ];
    let cwasm = p.guest_cwasm("temp-sensor");
    if exists(&p.wasmtime()) && exists(&cwasm) {
        let v = [
            p.wasmtime().into_os_string(),
            cwasm.into_os_string(),
            "--".into(),
        ]
        .into_iter()
        .chain(temp_args())
        .collect();
        cmds.push(("wasmtime-aot", "wasmtime, precompiled", v));
    }
    let mut t = Table::new(&["command", "instructions (callgrind Ir)", "ratio to native"]);
    let mut native = None;
    // key → (total, inclusive counts per function)
    type Profile = (u64, Vec<(u64, String)>);
    let mut annotated: BTreeMap<&str, Profile> = BTreeMap::new();
    for (key, label, argv) in &cmds {
        let out_file = dir.join(format!("{key}.out"));
        let mut out_arg = OsString::from("--callgrind-out-file=");
        out_arg.push(&out_file);
        let out = runner.run(
            Command::new("valgrind")
                .args(["--tool=callgrind"])
                .arg(&out_arg)
                .arg("--")
                .args(argv),
        )?;
        if !out.success() {
            // e.g. wasmtime refuses its .cwasm under valgrind, whose virtual CPU lacks
            // some of the host's features: report it instead of failing the whole run.
            let why = out
                .stderr
                .lines()
                .find(|l| !l.starts_with("==") && !l.trim().is_empty())
                .unwrap_or("failed");
            // The innermost cause: the last `: `-separated part of the error chain.
            let why = why.rsplit(": ").next().unwrap_or(why).to_string();
            t.row(vec![
                (*label).into(),
                format!("did not run under valgrind: {why}"),
                "–".into(),
            ]);
            continue;
        }
        let total = callgrind_collected(&out.stderr).context("callgrind output")?;
        let base = *native.get_or_insert(total as f64);
        t.row(vec![
            (*label).into(),
            total.to_string(),
            times(ratio(total as f64, base)),
        ]);
        if *key == "aot" || *key == "interp" {
            let ann = runner.run(
                Command::new("callgrind_annotate")
                    .args(["--inclusive=yes", "--threshold=100"])
                    .arg(&out_file),
            )?;
            annotated.insert(key, (total, callgrind_inclusive(&ann.stdout)));
        }
    }
    let mut text = t.to_markdown();
    text.push_str("\nWhere the wasi-hw runs spend them (inclusive counts of the function named in each step):\n\n");
    let mut b = Table::new(&[
        "step",
        "AOT: instructions",
        "AOT: share",
        "interpreter: instructions",
        "interpreter: share",
    ]);
    for (label, funcs) in STEPS {
        let mut row = vec![(*label).to_string()];
        for key in ["aot", "interp"] {
            let found = annotated.get(key).and_then(|(total, lines)| {
                funcs.iter().find_map(|f| {
                    lines
                        .iter()
                        .find(|(_, name)| name == f)
                        .map(|(n, _)| (*n, *total))
                })
            });
            match found {
                Some((n, total)) => {
                    row.push(n.to_string());
                    row.push(format!("{} %", num(n as f64 * 100.0 / total as f64)));
                }
                None => row.extend(["–".to_string(), "–".to_string()]),
            }
        }
        b.row(row);
    }
    text.push_str(&b.to_markdown());
    rep.sections.insert("profile".into(), text);
    Ok(())
}
