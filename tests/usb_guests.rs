//! The Rust USB guest drivers against the simulated USB devices, interpreted and AOT.

mod common;

use common::{run_guest, MODES};
use wasi_hw_usb::UsbConfig;

fn grant(args: &[&str]) -> impl FnOnce(&mut wasi_hw_engine::Instance) {
    let config = UsbConfig::from_grants(args).unwrap();
    move |inst| wasi_hw_usb::install(inst, config.build())
}

#[test]
fn lsusb_lists_exactly_the_granted_simulated_devices() {
    for mode in MODES {
        let all = run_guest("lsusb", mode, &[], grant(&["sim"]));
        assert_eq!(all.code, 0, "{mode:?}: {}", all.stderr);
        assert!(
            all.stdout.contains("ID 1209:0001"),
            "{mode:?}: {}",
            all.stdout
        );
        assert!(
            all.stdout.contains("ID 1209:0002"),
            "{mode:?}: {}",
            all.stdout
        );

        let one = run_guest("lsusb", mode, &[], grant(&["sim", "1209:0002"]));
        assert_eq!(one.code, 0, "{mode:?}: {}", one.stderr);
        assert!(
            one.stdout.contains("ID 1209:0002") && !one.stdout.contains("1209:0001"),
            "{mode:?}: {}",
            one.stdout
        );

        let none = run_guest("lsusb", mode, &[], |_| {});
        assert!(
            !none.stdout.contains("ID "),
            "{mode:?}: nothing granted, nothing listed: {}",
            none.stdout
        );
    }
}

/// The same driver built against the wasi-usb proposal repository's WIT names
/// (`component:usb/...`) imports only those and prints exactly what `lsusb` prints.
#[test]
fn a_guest_of_the_proposal_repository_names_runs_unchanged() {
    let wasm = std::fs::read(common::guest_path("lsusb-component", "wasm")).unwrap();
    let text = String::from_utf8_lossy(&wasm);
    assert!(text.contains("component:usb/device@0.2.1") && !text.contains("wasi:usb/"));
    for mode in MODES {
        let theirs = run_guest("lsusb-component", mode, &["-v"], grant(&["sim"]));
        let ours = run_guest("lsusb", mode, &["-v"], grant(&["sim"]));
        assert_eq!(theirs.code, 0, "{mode:?}: {}", theirs.stderr);
        assert!(
            theirs.stdout.contains("ID 1209:0002"),
            "{mode:?}: {}",
            theirs.stdout
        );
        assert_eq!(theirs.stdout, ours.stdout, "{mode:?}");
    }
}

#[test]
fn storage_reader_dumps_a_known_block() {
    for mode in MODES {
        let o = run_guest("usb-storage", mode, &["3"], grant(&["sim"]));
        assert_eq!(o.code, 0, "{mode:?}: {}", o.stderr);
        assert!(
            o.stdout.contains("WASI-HW LBA 0003"),
            "{mode:?}: {}",
            o.stdout
        );
        let other = run_guest("usb-storage", mode, &["200"], grant(&["sim"]));
        assert!(
            other.stdout.contains("WASI-HW LBA 0200"),
            "{mode:?}: {}",
            other.stdout
        );
    }
}

#[test]
fn hid_reader_gets_reports_in_order() {
    for mode in MODES {
        let o = run_guest("hid", mode, &["--count", "5"], grant(&["sim"]));
        assert_eq!(o.code, 0, "{mode:?}: {}", o.stderr);
        let lines: Vec<&str> = o.stdout.lines().collect();
        assert_eq!(lines.len(), 5, "{mode:?}: {}", o.stdout);
        for (n, line) in lines.iter().enumerate() {
            let expected: String = wasi_hw_usb::backend::sim::hid_report(n as u32)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ");
            assert!(
                line.contains(&expected),
                "{mode:?}: report {n}: {line} vs {expected}"
            );
        }
    }
}

#[test]
fn cli_lists_the_simulated_devices() {
    // The "done when": `wasi-hw run --usb sim lsusb.aot`.
    let tmp = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_wasi-hw"))
        .args(["run", "--usb", "sim", "--keys"])
        .arg(&common::test_key().keys_dir)
        .arg(common::signed_copy(
            &common::guest_path("lsusb", "aot"),
            tmp.path(),
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("ID 1209:0001") && out.contains("ID 1209:0002"),
        "{out}"
    );
}

#[test]
fn bench_guest_reads_the_simulated_disk_like_the_native_baseline() {
    // bench-native's unit test reads the same 20 chunks natively and gets this checksum.
    const NATIVE_CHECKSUM: &str = "checksum=3347203768";
    for mode in MODES {
        let args = ["storage-read", "--reads", "20", "--size", "4096"];
        let o = run_guest("usb-bench", mode, &args, grant(&["sim"]));
        assert_eq!(o.code, 0, "{mode:?}: {}", o.stderr);
        assert!(
            o.stdout
                .starts_with("bench=storage-read ops=20 bytes=81920 ")
                && o.stdout.trim_end().ends_with(NATIVE_CHECKSUM),
            "{mode:?}: {}",
            o.stdout
        );
        let rtt = run_guest(
            "usb-bench",
            mode,
            &["storage-rtt", "--reads", "3"],
            grant(&["sim"]),
        );
        assert!(
            rtt.stdout.starts_with("bench=storage-rtt ops=3 bytes=132 "),
            "{mode:?}: {}",
            rtt.stdout
        );
        let none = run_guest(
            "usb-bench",
            mode,
            &["storage-rtt"],
            grant(&["sim", "1209:0001"]),
        );
        assert_eq!(none.code, 1, "{mode:?}: only the loopback device granted");
        assert!(
            none.stderr
                .contains("no Bulk-Only mass-storage device granted"),
            "{mode:?}: {}",
            none.stderr
        );
    }
}
