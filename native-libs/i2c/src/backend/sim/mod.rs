//! An in-process simulated I2C bus with device models, for tests and benchmarks.
//!
//! The bus replays a transaction the way the wire would see it: a START addressed to the
//! device, the bytes of each run of same-direction operations, a repeated START whenever
//! the direction changes, and a STOP. An address nobody answers is NACKed
//! (`no-acknowledge(address)`). Every bus and device handle is a cheap clone of shared state,
//! so a test can keep a handle, hand a clone to the host, and inspect traffic and device
//! contents afterwards.

mod eeprom;
mod faults;
mod hts221;
mod lcd;
mod tm1650;
mod tmp102;

pub use eeprom::{EepromConfig, SimEeprom};
pub use faults::{Fault, FaultPlan, Injected};
pub use hts221::{SimHts221, HTS221_ADDR};
pub use lcd::{SimLcd, LCD_COLUMNS, LCD_ROWS};
pub use tm1650::{SimTm1650, TM1650_CONTROL, TM1650_DIGITS};
pub use tmp102::SimTmp102;

use crate::backend::{ErrorCode, I2cBus, NoAcknowledgeSource, Operation};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// What a device on the simulated bus sees, byte by byte.
pub trait SimDevice: Send {
    /// A START or repeated START with `address` (one of the addresses the device was attached
    /// at) and the direction bit. Return `false` to NACK the address.
    fn start(&mut self, address: u16, read: bool) -> bool;
    /// The master wrote `byte`. Return `false` to NACK it.
    fn write(&mut self, byte: u8) -> bool;
    /// The master clocks in one byte.
    fn read(&mut self) -> u8;
    /// STOP condition: the transaction is over.
    fn stop(&mut self);
    /// What a display shows, for people (`lcd "row 1" "row 2"`); `None` for other devices.
    fn show(&self) -> Option<String> {
        None
    }
}

/// Counters of everything that went over the simulated wire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Transactions started (an address byte was put on the bus), including NACKed ones.
    pub transactions: u64,
    pub bytes_written: u64,
    pub bytes_read: u64,
    /// Transactions that ended with a NACK.
    pub nacks: u64,
}

impl Traffic {
    pub fn is_idle(&self) -> bool {
        *self == Traffic::default()
    }
}

#[derive(Default)]
struct SimBusState {
    devices: BTreeMap<u16, Box<dyn SimDevice>>,
    /// Addresses that acknowledged a transaction: the displays worth showing.
    touched: std::collections::BTreeSet<u16>,
    traffic: Traffic,
    faults: Option<FaultPlan>,
}

/// A simulated bus. Clones share the same devices and counters.
#[derive(Clone, Default)]
pub struct SimBus {
    state: Arc<Mutex<SimBusState>>,
}

/// Temperature of the default simulated sensor: 23.5 °C is exact in every LM75/TMP102
/// resolution (9 to 13 bits), so drivers of any of these chips read the same value.
pub const DEFAULT_TEMPERATURE_C: f32 = 23.5;
/// Address of the default simulated TMP102.
pub const DEFAULT_SENSOR_ADDR: u16 = 0x48;
/// Address of the default simulated 24C32 EEPROM.
pub const DEFAULT_EEPROM_ADDR: u16 = 0x50;
/// Address of the default simulated LCD backpack (PCF8574).
pub const DEFAULT_LCD_ADDR: u16 = 0x27;
/// Humidity of the default simulated HTS221 (its temperature is [`DEFAULT_TEMPERATURE_C`]).
pub const DEFAULT_HUMIDITY: f64 = 45.0;

impl SimBus {
    /// An empty bus: every address NACKs.
    pub fn new() -> Self {
        Self::default()
    }

    /// The bus `sim` gets when the operator does not configure one: a TMP102 at 0x48 reading
    /// 23.5 °C, an erased 24C32 (4 KiB, 32-byte pages, 2-byte addressing) at 0x50, a 16×2
    /// LCD behind a PCF8574 at 0x27, a TM1650 7-segment display at 0x24 and 0x34..=0x37,
    /// and an HTS221 at 0x5F reading 23.5 °C and 45 %rH.
    pub fn with_default_devices() -> Self {
        let bus = SimBus::new();
        bus.attach_tmp102(DEFAULT_SENSOR_ADDR, SimTmp102::new(DEFAULT_TEMPERATURE_C));
        bus.attach_eeprom(DEFAULT_EEPROM_ADDR, SimEeprom::new(EepromConfig::at24c32()));
        bus.attach(DEFAULT_LCD_ADDR, Box::new(SimLcd::new()));
        bus.attach_tm1650(SimTm1650::new());
        bus.attach(
            HTS221_ADDR,
            Box::new(SimHts221::new(
                f64::from(DEFAULT_TEMPERATURE_C),
                DEFAULT_HUMIDITY,
            )),
        );
        bus
    }

    fn lock(&self) -> MutexGuard<'_, SimBusState> {
        // A panic in a device model must not wedge every later test: take the data anyway.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Attaches `device` at `address`, replacing whatever answered there.
    pub fn attach(&self, address: u16, device: Box<dyn SimDevice>) {
        self.lock().devices.insert(address, device);
    }

    pub fn detach(&self, address: u16) {
        self.lock().devices.remove(&address);
    }

    pub fn attach_tmp102(&self, address: u16, sensor: SimTmp102) {
        self.attach(address, Box::new(sensor));
    }

    /// Attaches an EEPROM at `base` and, for small chips whose high memory-address bits are
    /// part of the device address (24C04/08/16), at the following addresses too.
    pub fn attach_eeprom(&self, base: u16, eeprom: SimEeprom) {
        let blocks = eeprom.config().device_addresses();
        for i in 0..blocks {
            let mut handle = eeprom.clone();
            handle.set_base_address(base);
            self.attach(base + i, Box::new(handle));
        }
    }

    /// Attaches a TM1650 at its control address and its four digit addresses.
    pub fn attach_tm1650(&self, display: SimTm1650) {
        self.attach(TM1650_CONTROL, Box::new(display.clone()));
        for i in 0..4 {
            self.attach(TM1650_DIGITS + i, Box::new(display.clone()));
        }
    }

    pub fn traffic(&self) -> Traffic {
        self.lock().traffic
    }

    pub fn reset_traffic(&self) {
        self.lock().traffic = Traffic::default();
    }

    /// Injects faults from now on ([`FaultPlan`]); `None` ends injection.
    pub fn set_faults(&self, plan: Option<FaultPlan>) {
        self.lock().faults = plan;
    }

    /// The faults injected since the plan was set.
    pub fn injected(&self) -> Vec<Injected> {
        self.lock()
            .faults
            .as_ref()
            .map(|p| p.injected().to_vec())
            .unwrap_or_default()
    }
}

impl I2cBus for SimBus {
    fn transaction(&mut self, address: u16, ops: &mut [Operation<'_>]) -> Result<(), ErrorCode> {
        let mut guard = self.lock();
        let state = &mut *guard;
        state.traffic.transactions += 1;
        if let Some(e) = state.faults.as_mut().and_then(|p| p.begin(address)) {
            return Err(e); // the adapter failed: nothing went on the wire
        }
        let Some(dev) = state.devices.get_mut(&address) else {
            state.traffic.nacks += 1;
            return Err(ErrorCode::NoAcknowledge(NoAcknowledgeSource::Address));
        };
        let result = run(
            dev.as_mut(),
            address,
            ops,
            &mut state.traffic,
            state.faults.as_mut(),
        );
        dev.stop();
        if result.is_err() {
            state.traffic.nacks += 1;
        }
        if result != Err(ErrorCode::NoAcknowledge(NoAcknowledgeSource::Address)) {
            state.touched.insert(address);
        }
        result
    }

    fn displays(&self) -> Vec<(u16, String)> {
        let state = self.lock();
        let mut out: Vec<(u16, String)> = Vec::new();
        for addr in &state.touched {
            let Some(text) = state.devices.get(addr).and_then(|d| d.show()) else {
                continue;
            };
            // One device at several addresses (a TM1650) is shown once, at the first.
            if !out.iter().any(|(_, t)| *t == text) {
                out.push((*addr, text));
            }
        }
        out
    }
}

fn run(
    dev: &mut dyn SimDevice,
    address: u16,
    ops: &mut [Operation<'_>],
    traffic: &mut Traffic,
    mut faults: Option<&mut FaultPlan>,
) -> Result<(), ErrorCode> {
    // A device that vanishes in this transaction goes at its first data byte written, or
    // at its address if nothing is written.
    let vanish = faults.as_ref().is_some_and(|p| p.vanishes_now());
    let writes = ops
        .iter()
        .any(|op| matches!(op, Operation::Write(d) if !d.is_empty()));
    let mut vanish_at_start = vanish && !writes;
    let mut vanish_at_data = vanish && writes;
    let mut direction: Option<bool> = None;
    for op in ops.iter_mut() {
        let read = matches!(op, Operation::Read(_));
        // Same direction as the previous operation: no new START (embedded-hal contract).
        if direction != Some(read) {
            if let Some(e) = faults
                .as_deref_mut()
                .and_then(|p| p.start(address, std::mem::take(&mut vanish_at_start)))
            {
                return Err(e);
            }
            if !dev.start(address, read) {
                return Err(ErrorCode::NoAcknowledge(NoAcknowledgeSource::Address));
            }
            direction = Some(read);
        }
        match op {
            Operation::Write(data) => {
                for &b in data.iter() {
                    if let Some(e) = faults
                        .as_deref_mut()
                        .and_then(|p| p.data(address, std::mem::take(&mut vanish_at_data)))
                    {
                        return Err(e);
                    }
                    traffic.bytes_written += 1;
                    if !dev.write(b) {
                        return Err(ErrorCode::NoAcknowledge(NoAcknowledgeSource::Data));
                    }
                }
            }
            Operation::Read(buf) => {
                for b in buf.iter_mut() {
                    *b = dev.read();
                }
                traffic.bytes_read += buf.len() as u64;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records the wire events it sees.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<String>>>);

    impl SimDevice for Recorder {
        fn start(&mut self, address: u16, read: bool) -> bool {
            self.0
                .lock()
                .unwrap()
                .push(format!("S{address:#x}{}", if read { "R" } else { "W" }));
            true
        }
        fn write(&mut self, byte: u8) -> bool {
            self.0.lock().unwrap().push(format!("w{byte:02x}"));
            byte != 0xEE // NACK this one
        }
        fn read(&mut self) -> u8 {
            self.0.lock().unwrap().push("r".into());
            0x5A
        }
        fn stop(&mut self) {
            self.0.lock().unwrap().push("P".into());
        }
    }

    #[test]
    fn absent_address_nacks_and_counts_traffic() {
        let mut bus = SimBus::new();
        assert!(bus.traffic().is_idle());
        assert_eq!(
            bus.write(0x20, &[1]),
            Err(ErrorCode::NoAcknowledge(NoAcknowledgeSource::Address))
        );
        let t = bus.traffic();
        assert_eq!((t.transactions, t.nacks, t.bytes_written), (1, 1, 0));
        bus.reset_traffic();
        assert!(bus.traffic().is_idle());
    }

    #[test]
    fn repeated_start_only_on_direction_change() {
        let mut bus = SimBus::new();
        let rec = Recorder::default();
        bus.attach(0x33, Box::new(rec.clone()));
        let (mut a, mut b) = ([0u8; 1], [0u8; 2]);
        bus.transaction(
            0x33,
            &mut [
                Operation::Write(&[1]),
                Operation::Write(&[2]),
                Operation::Read(&mut a),
                Operation::Read(&mut b),
                Operation::Write(&[]),
            ],
        )
        .unwrap();
        assert_eq!(
            rec.0.lock().unwrap().join(" "),
            "S0x33W w01 w02 S0x33R r r r S0x33W P"
        );
        assert_eq!((a, b), ([0x5A], [0x5A, 0x5A]));
        let t = bus.traffic();
        assert_eq!((t.transactions, t.bytes_written, t.bytes_read), (1, 2, 3));
    }

    #[test]
    fn data_nack_stops_the_transaction() {
        let mut bus = SimBus::new();
        let rec = Recorder::default();
        bus.attach(0x33, Box::new(rec.clone()));
        let mut buf = [0u8; 1];
        assert_eq!(
            bus.transaction(
                0x33,
                &mut [Operation::Write(&[0xEE, 0x01]), Operation::Read(&mut buf)]
            ),
            Err(ErrorCode::NoAcknowledge(NoAcknowledgeSource::Data))
        );
        assert_eq!(rec.0.lock().unwrap().join(" "), "S0x33W wee P");
        assert_eq!(bus.traffic().nacks, 1);
    }

    #[test]
    fn default_bus_has_sensor_and_eeprom() {
        let mut bus = SimBus::with_default_devices();
        let mut t = [0u8; 2];
        bus.write_read(DEFAULT_SENSOR_ADDR, &[0x00], &mut t)
            .unwrap();
        assert_eq!(t, [0x17, 0x80]);
        let mut e = [0u8; 4];
        bus.write_read(DEFAULT_EEPROM_ADDR, &[0x00, 0x00], &mut e)
            .unwrap();
        assert_eq!(e, [0xFF; 4]);
        assert!(bus.read(0x49, &mut e).is_err());
    }
}
