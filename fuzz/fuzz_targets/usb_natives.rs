//! The WASI-USB natives without WAMR, as `i2c_natives` does for I2C: arbitrary host calls
//! (init, list, open, descriptors, control/bulk/interrupt transfers, hotplug) against an
//! arbitrary linear memory, on the simulated devices (a mass-storage disk, a HID mouse and
//! keyboard). The instance's stop is requested up front, so a transfer that would wait
//! returns "interrupted" at once instead of sleeping out its timeout.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasi_hw_fuzz::{plain_instance, NativeCalls, Natives};

fuzz_target!(|input: NativeCalls| {
    static NATIVES: std::sync::OnceLock<Natives> = std::sync::OnceLock::new();
    let natives = NATIVES.get_or_init(|| Natives::new(wasi_hw_usb::host_modules()));
    let mut plain = plain_instance();
    let state = wasi_hw_usb::UsbConfig::from_grants(&["sim"])
        .expect("grant")
        .build();
    plain.extensions.insert(state);
    plain.interrupt().request();
    natives.drive(plain, input, |_, _| {});
});
