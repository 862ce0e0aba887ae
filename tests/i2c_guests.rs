//! The Rust guest drivers (embedded-hal driver crates compiled to wasm) against the
//! simulated I2C bus, interpreted and AOT, with exact values.

mod common;

use common::{run_guest, MODES};
use wasi_hw_engine::Instance;
use wasi_hw_i2c::backend::sim::{EepromConfig, SimBus, SimEeprom, SimTmp102};
use wasi_hw_i2c::I2cConfig;

fn install(bus: &SimBus, grant: &str) -> impl FnOnce(&mut Instance) {
    let bus = bus.clone();
    let grant = grant.to_string();
    move |inst: &mut Instance| {
        let host = I2cConfig::from_grants(&[grant])
            .unwrap()
            .with_bus("sim", bus)
            .build()
            .unwrap();
        wasi_hw_i2c::install(inst, host);
    }
}

#[test]
fn temperature_driver_reads_the_simulated_sensor() {
    for mode in MODES {
        for (celsius, expected) in [
            (25.5, "temperature: 25.50 C"),
            (-12.25, "temperature: -12.25 C"),
            (0.0625, "temperature: 0.06 C"),
        ] {
            let bus = SimBus::new();
            bus.attach_tmp102(0x48, SimTmp102::new(celsius));
            let o = run_guest(
                "temp-sensor",
                mode,
                &["--bus", "sim", "--addr", "0x48"],
                install(&bus, "sim:0x48"),
            );
            assert_eq!(o.code, 0, "{mode:?}: {}", o.stderr);
            assert_eq!(o.stdout.trim(), expected, "{mode:?}");
            assert!(bus.traffic().transactions > 0);
        }
    }
}

#[test]
fn eeprom_round_trips_across_pages() {
    for mode in MODES {
        let bus = SimBus::new();
        let eeprom = SimEeprom::new(EepromConfig::at24c32());
        bus.attach_eeprom(0x50, eeprom.clone());
        let data: Vec<u8> = (0..70u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
        let args = [
            "--bus",
            "sim",
            "--addr",
            "0x50",
            "--addr-bytes",
            "2",
            "--page-size",
            "32",
            "write",
            "0x1e",
            &hex,
        ];
        let o = run_guest("eeprom", mode, &args, install(&bus, "sim:0x50"));
        assert_eq!(o.code, 0, "{mode:?}: {}", o.stderr);
        assert_eq!(o.stdout.trim(), "wrote 70 bytes at 0x001e", "{mode:?}");
        // The simulated chip holds exactly what was written; page writes did not wrap.
        assert_eq!(&eeprom.contents()[0x1e..0x1e + 70], &data[..], "{mode:?}");
        assert!(eeprom.contents()[..0x1e].iter().all(|&b| b == 0xff));

        let args = [
            "--bus",
            "sim",
            "--addr",
            "0x50",
            "--addr-bytes",
            "2",
            "read",
            "0x1e",
            "70",
        ];
        let o = run_guest("eeprom", mode, &args, install(&bus, "sim:0x50"));
        assert_eq!(o.code, 0, "{mode:?}: {}", o.stderr);
        let dumped: Vec<u8> = common::parse_dump(&o.stdout);
        assert_eq!(dumped, data, "{mode:?}: {}", o.stdout);
    }
}

#[test]
fn absent_device_reports_no_acknowledge_address() {
    for mode in MODES {
        let bus = SimBus::with_default_devices();
        let o = run_guest(
            "temp-sensor",
            mode,
            &["--bus", "sim", "--addr", "0x49"],
            install(&bus, "sim:0x48,0x49"),
        );
        assert_eq!(o.code, 1, "{mode:?}");
        assert!(
            o.stderr.contains("no-acknowledge(address)"),
            "{mode:?}: {}",
            o.stderr
        );
    }
}

#[test]
fn ungranted_address_is_refused_without_bus_traffic() {
    for mode in MODES {
        let bus = SimBus::new();
        let eeprom = SimEeprom::new(EepromConfig::at24c32());
        bus.attach_eeprom(0x50, eeprom.clone());
        let args = [
            "--bus",
            "sim",
            "--addr",
            "0x50",
            "--addr-bytes",
            "2",
            "write",
            "0",
            "aabb",
        ];
        let o = run_guest("eeprom", mode, &args, install(&bus, "sim:0x48"));
        assert_eq!(o.code, 1, "{mode:?}: {}", o.stdout);
        assert!(o.stderr.contains("error"), "{mode:?}: {}", o.stderr);
        assert_eq!(
            bus.traffic().transactions,
            0,
            "{mode:?}: denied access touched the bus"
        );
        assert!(eeprom.contents().iter().all(|&b| b == 0xff));

        // An ungranted bus name is refused as well.
        let o = run_guest(
            "temp-sensor",
            mode,
            &["--bus", "/dev/i2c-7", "--addr", "0x48"],
            install(&bus, "sim:0x48"),
        );
        assert_eq!(o.code, 1, "{mode:?}");
        assert_eq!(bus.traffic().transactions, 0);
    }
}

#[test]
fn cli_runs_the_aot_driver_with_the_default_simulated_sensor() {
    let tmp = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_wasi-hw"))
        .args(["run", "--i2c", "sim:0x48", "--keys"])
        .arg(&common::test_key().keys_dir)
        .arg(common::signed_copy(
            &common::guest_path("temp-sensor", "aot"),
            tmp.path(),
        ))
        .args(["--", "--bus", "sim", "--addr", "0x48", "--count", "2"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "temperature: 23.50 C\ntemperature: 23.50 C\n"
    );
}
