//! Fault campaign: the shipped I2C drivers (AOT and interpreted) against a simulated bus
//! that injects NACKs, I/O errors, timeouts, lost arbitration and vanishing devices
//! (`wasi_hw_i2c::backend::sim::FaultPlan`). Every run must end cleanly (exit status, no
//! trap, no host crash); a failed run must name the WIT error code of the fault that
//! stopped it; a successful one must have printed exactly the right values; and the
//! EEPROM must never hold a byte nobody wrote.
//!
//! Smoke size by default (CI); `WASI_HW_FAULTS=N` runs until N faults were injected.

mod common;

use common::{run_module, Mode, MODES};
use wasi_hw_engine::Module;
use wasi_hw_i2c::backend::sim::{EepromConfig, Fault, FaultPlan, SimBus, SimEeprom, SimTmp102};
use wasi_hw_i2c::backend::{ErrorCode, NoAcknowledgeSource};
use wasi_hw_i2c::I2cConfig;

/// The guest's spelling of a WIT `error-code` (the SDK prints the case names).
fn wit_name(e: ErrorCode) -> &'static str {
    match e {
        ErrorCode::Bus => "bus",
        ErrorCode::ArbitrationLoss => "arbitration-loss",
        ErrorCode::NoAcknowledge(NoAcknowledgeSource::Address) => "no-acknowledge(address)",
        ErrorCode::NoAcknowledge(NoAcknowledgeSource::Data) => "no-acknowledge(data)",
        ErrorCode::NoAcknowledge(NoAcknowledgeSource::Unknown) => "no-acknowledge(unknown)",
        ErrorCode::Overrun => "overrun",
        ErrorCode::Other => "other",
    }
}

/// Run `i`'s plan: one kind of fault, at a period that varies from run to run (some runs
/// see none, most see one or a few).
fn plan_for(i: u64) -> FaultPlan {
    let every = 1 + (i * 7 + i / 6) % 23;
    let spec = match i % 6 {
        0 => format!("nack-addr={every}"),
        1 => format!("nack-data={}", 1 + (i * 5) % 61),
        2 => format!("eio={every}/{}", 1 + i % 3),
        3 => format!("timeout={every}"),
        4 => format!("arbitration={every}"),
        _ => format!("vanish={}", 1 + i % 9),
    };
    FaultPlan::parse(&spec).unwrap()
}

struct Drivers {
    temp: Module,
    eeprom: Module,
    tool: Module,
}

impl Drivers {
    fn load(mode: Mode) -> Drivers {
        Drivers {
            temp: common::load("temp-sensor", mode),
            eeprom: common::load("eeprom", mode),
            tool: common::load("i2c-tool", mode),
        }
    }
}

#[derive(Default, Debug)]
struct Tally {
    runs: u64,
    failed_runs: u64,
    faults: u64,
    by_kind: std::collections::BTreeMap<String, u64>,
}

/// One driver run under `plan`; checks its outcome and returns the faults injected.
fn campaign_run(d: &Drivers, i: u64, tally: &mut Tally) {
    let bus = SimBus::new();
    bus.attach_tmp102(0x48, SimTmp102::new(23.5));
    let eeprom = SimEeprom::new(EepromConfig::at24c32());
    bus.attach_eeprom(0x50, eeprom.clone());
    // Known contents before each write, so that every byte afterwards is accounted for.
    let before: Vec<u8> = (0..4096u32).map(|n| (n * 31 % 251) as u8).collect();
    eeprom.load(0, &before);
    let data: Vec<u8> = (0..40u8).map(|n| n.wrapping_mul(13) ^ (i as u8)).collect();
    let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
    let offset = (i * 37 % 4000) as usize;
    let offset_arg = offset.to_string();
    let (module, name, args): (&Module, &str, Vec<&str>) = match i % 4 {
        0 => (&d.temp, "temp-sensor", vec!["--bus", "sim", "--count", "3"]),
        1 => (
            &d.eeprom,
            "eeprom",
            vec![
                "--bus",
                "sim",
                "--page-size",
                "32",
                "write",
                "--verify",
                &offset_arg,
                &hex,
            ],
        ),
        2 => (
            &d.eeprom,
            "eeprom",
            vec!["--bus", "sim", "read", &offset_arg, "40"],
        ),
        _ => (
            &d.tool,
            "i2c-tool",
            vec!["--bus", "sim", "write-read", "0x48", "00", "2"],
        ),
    };
    bus.set_faults(Some(plan_for(i)));
    let host_bus = bus.clone();
    let o = run_module(module, name, &args, move |inst| {
        let host = I2cConfig::from_grants(&["sim:0x48,0x50"])
            .unwrap()
            .with_bus("sim", host_bus)
            .build()
            .unwrap();
        wasi_hw_i2c::install(inst, host);
    })
    .unwrap_or_else(|e| panic!("run {i} ({name} {args:?}): the guest trapped: {e}"));
    let injected = bus.injected();
    tally.runs += 1;
    tally.faults += injected.len() as u64;
    for f in &injected {
        *tally.by_kind.entry(format!("{:?}", f.fault)).or_default() += 1;
    }
    let what = format!("run {i}: {name} {args:?} with {injected:?}");
    let after = eeprom.contents();
    if o.code == 0 {
        match i % 4 {
            0 => assert_eq!(
                o.stdout,
                "temperature: 23.50 C\n".repeat(3),
                "{what}: wrong reading"
            ),
            1 => {
                assert_eq!(after[offset..offset + 40], data[..], "{what}: data lost");
                assert_eq!(after[..offset], before[..offset], "{what}");
                assert_eq!(after[offset + 40..], before[offset + 40..], "{what}");
            }
            2 => {
                let read: Vec<u8> = common::parse_dump(&o.stdout);
                assert_eq!(read, before[offset..offset + 40], "{what}: wrong data");
            }
            _ => assert_eq!(o.stdout, "17 80\n", "{what}"),
        }
    } else {
        tally.failed_runs += 1;
        assert_eq!(o.code, 1, "{what}: {}", o.stderr);
        let last = injected
            .last()
            .unwrap_or_else(|| panic!("{what}: failed without a fault: {}", o.stderr));
        // A vanished device also NACKs its address on every later transaction.
        let mut expected = vec![wit_name(last.error)];
        if last.fault == Fault::Vanish {
            expected.push("no-acknowledge(address)");
        }
        assert!(
            expected.iter().any(|e| o.stderr.contains(e)),
            "{what}: the guest was told something else: {}",
            o.stderr
        );
    }
    // Whatever happened, no byte outside the write, and none inside it that is neither the
    // old nor the new value.
    if i % 4 == 1 {
        for (n, (&a, &b)) in after.iter().zip(&before).enumerate() {
            let inside = (offset..offset + 40).contains(&n);
            assert!(
                a == b || (inside && a == data[n - offset]),
                "{what}: byte {n:#x} is {a:#04x}, neither old {b:#04x} nor written"
            );
        }
    } else {
        assert_eq!(after, before, "{what}: a read changed the EEPROM");
    }
}

#[test]
fn injected_i2c_faults_reach_the_guest_as_their_error_codes() {
    let target: u64 = std::env::var("WASI_HW_FAULTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    for mode in MODES {
        let drivers = Drivers::load(mode);
        let mut tally = Tally::default();
        let mut i = 0;
        while tally.faults < target / 2 {
            campaign_run(&drivers, i, &mut tally);
            i += 1;
        }
        eprintln!("{mode:?}: {tally:?}");
        assert!(
            tally.failed_runs > 0 && tally.failed_runs < tally.runs,
            "{tally:?}"
        );
        assert_eq!(tally.by_kind.len(), 6, "every kind injected: {tally:?}");
    }
}
