//! Fault campaign for USB: the shipped USB drivers (AOT and interpreted) against simulated
//! devices whose transfers stall, time out, babble or lose the device
//! (`wasi_hw_usb::backend::sim::UsbFaultPlan`). Every run must end cleanly (exit status,
//! no trap, no host crash); a successful run must print exactly what it prints without
//! faults (no invented or lost data); a failed one must name the libusb-error code of the
//! fault that stopped it.
//!
//! Smoke size by default (CI); `WASI_HW_FAULTS=N` runs until N faults were injected.

mod common;

use common::{run_module, MODES};
use wasi_hw_usb::backend::sim::{UsbFault, UsbFaultPlan};
use wasi_hw_usb::UsbConfig;

/// Run `i`'s plan: one kind of fault at a period that varies from run to run.
fn plan_for(i: u64) -> UsbFaultPlan {
    let every = 1 + (i * 5 + i / 4) % 17;
    let kind = match i % 4 {
        0 => "stall",
        1 => "timeout",
        2 => "overflow",
        _ => "disconnect",
    };
    UsbFaultPlan::parse(&format!("{kind}={every}")).unwrap()
}

/// The cases: driver and arguments.
fn case(i: u64) -> (&'static str, Vec<String>) {
    match i % 3 {
        0 => ("usb-storage", vec![(i / 3 % 256).to_string()]),
        1 => ("lsusb", vec!["-v".into()]),
        _ => (
            "hid",
            vec![
                "--count".into(),
                "3".into(),
                "--timeout".into(),
                "200".into(),
            ],
        ),
    }
}

fn run(
    modules: &std::collections::BTreeMap<&str, wasi_hw_engine::Module>,
    name: &str,
    args: &[String],
    plan: Option<UsbFaultPlan>,
) -> (common::Outcome, Vec<wasi_hw_usb::backend::sim::InjectedUsb>) {
    let config = UsbConfig::from_grants(&["sim"]).unwrap();
    let world = config.sim_controller().expect("the simulated backend");
    world.set_faults(plan);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = run_module(&modules[name], name, &args, move |inst| {
        wasi_hw_usb::install(inst, config.build())
    })
    .unwrap_or_else(|e| panic!("{name} {args:?}: the guest trapped: {e}"));
    (o, world.injected())
}

#[test]
fn injected_usb_faults_reach_the_guest_as_their_error_codes() {
    let target: u64 = std::env::var("WASI_HW_FAULTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    for mode in MODES {
        let modules: std::collections::BTreeMap<&str, wasi_hw_engine::Module> =
            ["usb-storage", "lsusb", "hid"]
                .into_iter()
                .map(|n| (n, common::load(n, mode)))
                .collect();
        let mut baselines = std::collections::HashMap::new();
        let (mut runs, mut failed, mut faults, mut protocol_errors) = (0u64, 0u64, 0u64, 0u64);
        let mut by_kind = std::collections::BTreeMap::<String, u64>::new();
        let mut i = 0u64;
        while faults < target / 2 {
            let (name, args) = case(i);
            let baseline = baselines
                .entry((name, args.clone()))
                .or_insert_with(|| {
                    let (o, _) = run(&modules, name, &args, None);
                    assert_eq!(o.code, 0, "{name} {args:?} without faults: {}", o.stderr);
                    o.stdout
                })
                .clone();
            let (o, injected) = run(&modules, name, &args, Some(plan_for(i)));
            runs += 1;
            faults += injected.len() as u64;
            for f in &injected {
                *by_kind.entry(format!("{:?}", f.fault)).or_default() += 1;
            }
            let what = format!("run {i} ({mode:?}): {name} {args:?} with {injected:?}");
            if o.code == 0 {
                if name == "lsusb" {
                    // Like lsusb(8), what cannot be read is left out: a string descriptor
                    // (`iProduct  2` without its text), or the rest of a device that was
                    // unplugged. So each line is a line of the fault-free output, in order,
                    // or one without its string; nothing else.
                    let mut want = baseline.lines();
                    let reported: Vec<String> = injected
                        .iter()
                        .map(|f| format!(": {})", f.fault.error().name()))
                        .collect();
                    for g in o.stdout.lines() {
                        // What it could not read, it says, with the injected error's code.
                        let t = g.trim_start();
                        if t.starts_with('(') && reported.iter().any(|r| t.ends_with(r.as_str())) {
                            continue;
                        }
                        let ok = want.by_ref().any(|w| {
                            g == w
                                || (w.starts_with(g) && g.ends_with(|c: char| c.is_ascii_digit()))
                        });
                        assert!(ok, "{what}: line {g:?} is not in the fault-free output");
                    }
                } else {
                    assert_eq!(
                        o.stdout, baseline,
                        "{what}: output differs from the fault-free run"
                    );
                }
            } else {
                failed += 1;
                assert_eq!(o.code, 1, "{what}: {}", o.stderr);
                let last = injected
                    .last()
                    .unwrap_or_else(|| panic!("{what}: failed without a fault: {}", o.stderr));
                // After a disconnect, whatever the guest does next also meets no-device.
                let expected = last.fault.error().name();
                let named = o.stderr.contains(expected)
                    || (last.fault == UsbFault::Disconnect && o.stderr.contains("no-device"));
                // Bulk-Only Transport recovers from a stalled or lost data phase (clear
                // halt, read the status wrapper, reset recovery); the device model did not
                // see the faulted transfer, so the recovery can end in a protocol error,
                // which the driver names as such.
                let protocol = name == "usb-storage"
                    && ["status wrapper", "SCSI command", "phase error"]
                        .iter()
                        .any(|m| o.stderr.contains(m));
                protocol_errors += u64::from(!named && protocol);
                assert!(
                    named || protocol,
                    "{what}: the guest was told something else: {}",
                    o.stderr
                );
            }
            i += 1;
        }
        eprintln!(
            "{mode:?}: {runs} runs, {failed} failed ({protocol_errors} as Bulk-Only protocol \
             errors), {faults} faults: {by_kind:?}"
        );
        assert!(failed > 0 && failed < runs);
        assert_eq!(by_kind.len(), 4, "every kind injected: {by_kind:?}");
    }
}
