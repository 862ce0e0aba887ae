//! `wasi-hw run --invoke`: the export-shaped guests (the seed paper's driver shape, built
//! here by scripts/build-guests.sh) called with host-made handles on the simulated
//! devices, interpreted and AOT-compiled, and the errors for calls that cannot be made.

mod common;

use std::process::Output;

fn run(module: &str, ext: &str, grant: &str, call: &str) -> Output {
    let path = common::guest_path(module, ext);
    let keys = common::test_key().keys_dir.clone();
    // The build's .sig files are made with the development key; the tests trust theirs.
    let dir = tempfile::tempdir().unwrap();
    let signed = common::signed_copy(&path, dir.path());
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_wasi-hw"));
    cmd.arg("run").arg("--keys").arg(&keys);
    if ext == "wasm" {
        cmd.arg("--interp");
    }
    let out = cmd
        .args(["--i2c", grant, "--invoke", call])
        .arg(&signed)
        .output()
        .unwrap();
    assert!(out.status.code().is_some(), "died from a signal: {out:?}");
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const EXTS: [&str; 2] = ["wasm", "aot"];

#[test]
fn lcd_writer_shows_the_message_on_the_simulated_lcd() {
    for ext in EXTS {
        let out = run(
            "lcd-writer",
            ext,
            "sim:0x27",
            r#"sketch:implementation/lcd#write(i2c("sim"), delay, "Hello, wasi-hw!\nline 2: \"ok\"")"#,
        );
        assert_eq!(out.status.code(), Some(0), "{ext}: {out:?}");
        assert_eq!(text(&out.stdout), "", "{ext}: write has no result");
        assert!(
            text(&out.stderr).contains(r#"sim 0x27: lcd "Hello, wasi-hw! " "line 2: \"ok\"    ""#),
            "{ext}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn segment_writer_shows_digits_and_decimal_points() {
    for ext in EXTS {
        let out = run(
            "segment-writer",
            ext,
            "sim:0x24,0x34-0x37",
            r#"write(i2c, delay, "-3.14")"#,
        );
        assert_eq!(out.status.code(), Some(0), "{ext}: {out:?}");
        assert!(
            text(&out.stderr).contains(r#"sim 0x24: 7-segment "-3.14""#),
            "{ext}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn hts_reader_returns_the_calibrated_readings() {
    for ext in EXTS {
        let t = run(
            "hts-reader",
            ext,
            "sim:0x5f",
            r#"hts#get-temperature(i2c("sim"))"#,
        );
        assert_eq!(
            (t.status.code(), text(&t.stdout).as_str()),
            (Some(0), "ok(\"23.5 °C\")\n"),
            "{ext}: {t:?}"
        );
        let h = run("hts-reader", ext, "sim:0x5f", "get-humidity(i2c)");
        assert_eq!(text(&h.stdout), "ok(\"45.0 %rH\")\n", "{ext}: {h:?}");
        // Not granted: the guest's write-read fails and it returns the WIT error; exit 1.
        let e = run("hts-reader", ext, "sim:0x48", "get-temperature(i2c)");
        assert_eq!(
            (e.status.code(), text(&e.stdout).as_str()),
            (Some(1), "err(other)\n"),
            "{ext}: {e:?}"
        );
    }
}

#[test]
fn calls_that_cannot_be_made_are_one_clear_error() {
    let cases: [(&str, &str, &str); 6] = [
        ("lcd-writer", "nope(i2c)", "exports no function `nope`"),
        (
            "lcd-writer",
            r#"write(i2c, delay)"#,
            "takes 3 argument(s) (connection, delay, message), 2 given",
        ),
        (
            "lcd-writer",
            r#"write(i2c, delay, 42)"#,
            "`42` is not a string",
        ),
        (
            "lcd-writer",
            r#"write(delay, delay, "x")"#,
            "`delay` for an i2c parameter",
        ),
        (
            "lcd-writer",
            r#"write(i2c("/dev/i2c-9"), delay, "x")"#,
            "the bus is not granted",
        ),
        (
            "lcd-writer",
            r#"write(i2c, delay, "x""#,
            "expected `,` or `)`",
        ),
    ];
    for (guest, call, want) in cases {
        let out = run(guest, "aot", "sim:0x27", call);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{call}: {out:?}");
        assert!(err.contains(want), "{call}: {err}");
    }
    // A command module has no component-type section.
    let out = run("temp-sensor", "aot", "sim:0x48", "read(i2c)");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("has no component-type section"),
        "{out:?}"
    );
}

#[test]
fn inspect_lists_what_can_be_invoked() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wasi-hw"))
        .args(["inspect", "--allow-unsigned"])
        .arg(common::guest_path("hts-reader", "wasm"))
        .output()
        .unwrap();
    let s = text(&out.stdout);
    assert!(
        s.contains("invokable: sketch:implementation/hts#get-temperature: func(connection: i2c) -> result<string, variant {"),
        "{s}"
    );
}
