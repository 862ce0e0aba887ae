//! A TMP102-style temperature sensor (also what LM75/PCT2075 drivers expect).
//!
//! Register map behind a pointer register (the first byte of every write):
//! 0x00 temperature (read-only, 12-bit two's complement left-justified, 0.0625 °C/LSB;
//! 13-bit with bit 0 = 1 in extended mode), 0x01 configuration (reset 0x60A0), 0x02 T_LOW
//! (reset 75 °C), 0x03 T_HIGH (reset 80 °C). Registers are 16 bits, MSB first; a one-byte
//! write (as LM75 drivers do for the configuration) updates the MSB only. Reads start at the
//! MSB of the pointed register after every (repeated) START and alternate MSB/LSB.

use super::SimDevice;
use std::sync::{Arc, Mutex, MutexGuard};

const REG_TEMP: u8 = 0;
const REG_CONFIG: u8 = 1;
const REG_T_LOW: u8 = 2;
// 3 = T_HIGH: the pointer is masked to two bits, so it is every other value.

// Configuration bits (MSB, then LSB).
const CFG_SHUTDOWN: u8 = 0x01;
const CFG_RESOLUTION: u8 = 0x60; // R1:R0 = 11 (12 bit), read-only
const CFG_ONE_SHOT: u8 = 0x80;
const CFG_EXTENDED: u8 = 0x10; // LSB: EM
const CFG_ALERT: u8 = 0x20; // LSB: AL, read-only
const CFG_LSB_WRITABLE: u8 = 0xD0; // CR1 CR0 _ EM; AL and the reserved low nibble are not

struct State {
    /// Temperature in 1/16 °C (the 13-bit extended range; clamped to 12 bits in normal mode).
    sixteenths: i16,
    pointer: u8,
    config: [u8; 2],
    t_low: [u8; 2],
    t_high: [u8; 2],
    /// Bytes received in the current write segment (0 = the pointer byte comes next).
    write_index: usize,
    read_index: usize,
    one_shot_done: bool,
}

/// Handle to a simulated TMP102; clones share the sensor.
#[derive(Clone)]
pub struct SimTmp102 {
    state: Arc<Mutex<State>>,
}

impl SimTmp102 {
    pub fn new(celsius: f32) -> Self {
        let s = SimTmp102 {
            state: Arc::new(Mutex::new(State {
                sixteenths: 0,
                pointer: 0,
                config: [CFG_RESOLUTION, 0xA0],
                t_low: normal_bytes(75 * 16),
                t_high: normal_bytes(80 * 16),
                write_index: 0,
                read_index: 0,
                one_shot_done: false,
            })),
        };
        s.set_temperature(celsius);
        s
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the measured temperature, rounded to 0.0625 °C and clamped to the sensor's
    /// extended range (-256 .. 255.9375 °C).
    pub fn set_temperature(&self, celsius: f32) {
        let v = (celsius * 16.0).round().clamp(-4096.0, 4095.0) as i16;
        self.lock().sixteenths = v;
    }

    /// The temperature as the sensor would report it in its current mode.
    pub fn temperature(&self) -> f32 {
        let s = self.lock();
        f32::from(reported_sixteenths(&s)) / 16.0
    }

    /// The 16-bit configuration register (MSB first).
    pub fn config(&self) -> u16 {
        let s = self.lock();
        u16::from_be_bytes(config_bytes(&s))
    }

    pub fn extended_mode(&self) -> bool {
        self.lock().config[1] & CFG_EXTENDED != 0
    }
}

fn normal_bytes(sixteenths: i16) -> [u8; 2] {
    ((sixteenths.clamp(-2048, 2047) << 4) as u16).to_be_bytes()
}

fn reported_sixteenths(s: &State) -> i16 {
    if s.config[1] & CFG_EXTENDED != 0 {
        s.sixteenths
    } else {
        s.sixteenths.clamp(-2048, 2047)
    }
}

fn config_bytes(s: &State) -> [u8; 2] {
    let os = if s.one_shot_done { CFG_ONE_SHOT } else { 0 };
    [s.config[0] | CFG_RESOLUTION | os, s.config[1]]
}

fn register_bytes(s: &State) -> [u8; 2] {
    match s.pointer {
        REG_TEMP => {
            if s.config[1] & CFG_EXTENDED != 0 {
                (((s.sixteenths << 3) as u16) | 1).to_be_bytes()
            } else {
                normal_bytes(s.sixteenths)
            }
        }
        REG_CONFIG => config_bytes(s),
        REG_T_LOW => s.t_low,
        _ => s.t_high,
    }
}

impl SimDevice for SimTmp102 {
    fn start(&mut self, _address: u16, _read: bool) -> bool {
        let mut s = self.lock();
        s.write_index = 0;
        s.read_index = 0;
        true
    }

    fn write(&mut self, byte: u8) -> bool {
        let mut s = self.lock();
        let i = s.write_index;
        s.write_index += 1;
        if i == 0 {
            // Only P1:P0 exist.
            s.pointer = byte & 0x03;
            return true;
        }
        // Bytes past the LSB are acknowledged and ignored.
        if i > 2 {
            return true;
        }
        let half = i - 1; // 0 = MSB, 1 = LSB
        match s.pointer {
            REG_TEMP => {} // read-only
            REG_CONFIG => {
                if half == 0 {
                    if byte & CFG_ONE_SHOT != 0 && byte & CFG_SHUTDOWN != 0 {
                        // A one-shot conversion in shutdown mode completes instantly.
                        s.one_shot_done = true;
                    } else if byte & CFG_SHUTDOWN == 0 {
                        s.one_shot_done = false;
                    }
                    s.config[0] = (byte & !CFG_ONE_SHOT) | CFG_RESOLUTION;
                } else {
                    s.config[1] = (byte & CFG_LSB_WRITABLE) | (s.config[1] & CFG_ALERT);
                }
            }
            REG_T_LOW => s.t_low[half] = byte,
            _ => s.t_high[half] = byte,
        }
        true
    }

    fn read(&mut self) -> u8 {
        let mut s = self.lock();
        let b = register_bytes(&s)[s.read_index % 2];
        s.read_index += 1;
        b
    }

    fn stop(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::sim::SimBus;
    use crate::backend::I2cBus;

    fn bus_with(t: f32) -> (SimBus, SimTmp102) {
        let bus = SimBus::new();
        let sensor = SimTmp102::new(t);
        bus.attach_tmp102(0x48, sensor.clone());
        (bus, sensor)
    }

    fn read_reg(bus: &mut SimBus, reg: u8) -> [u8; 2] {
        let mut b = [0u8; 2];
        bus.write_read(0x48, &[reg], &mut b).unwrap();
        b
    }

    #[test]
    fn temperature_encoding() {
        let (mut bus, sensor) = bus_with(23.5);
        assert_eq!(read_reg(&mut bus, 0), [0x17, 0x80]);
        // Datasheet examples: 0.0625 → 0x0010, -0.25 → 0xFFC0, -55 → 0xC900, 127.9375 → 0x7FF0.
        for (t, raw) in [
            (0.0625f32, 0x0010u16),
            (-0.25, 0xFFC0),
            (-55.0, 0xC900),
            (127.9375, 0x7FF0),
            (0.0, 0x0000),
        ] {
            sensor.set_temperature(t);
            assert_eq!(read_reg(&mut bus, 0), raw.to_be_bytes(), "{t}");
            assert_eq!(sensor.temperature(), t);
        }
        // Normal mode clamps at the 12-bit range.
        sensor.set_temperature(150.0);
        assert_eq!(read_reg(&mut bus, 0), [0x7F, 0xF0]);
        assert_eq!(sensor.temperature(), 127.9375);
    }

    #[test]
    fn extended_mode() {
        let (mut bus, sensor) = bus_with(150.0);
        assert_eq!(read_reg(&mut bus, 1), [0x60, 0xA0]);
        bus.write(0x48, &[0x01, 0x60, 0xB0]).unwrap(); // set EM
        assert!(sensor.extended_mode());
        // 150 °C = 2400/16 → 2400 << 3 | 1 = 0x4B01
        assert_eq!(read_reg(&mut bus, 0), [0x4B, 0x01]);
        assert_eq!(sensor.temperature(), 150.0);
    }

    #[test]
    fn config_read_only_bits_and_one_shot() {
        let (mut bus, sensor) = bus_with(20.0);
        // Try to clear the resolution bits and the AL bit: they stay.
        bus.write(0x48, &[0x01, 0x00, 0x00]).unwrap();
        assert_eq!(sensor.config(), 0x6020);
        // Shutdown + one-shot: the conversion is done at once, OS reads 1.
        bus.write(0x48, &[0x01, 0x81, 0x20]).unwrap();
        assert_eq!(read_reg(&mut bus, 1), [0xE1, 0x20]);
        // Back to continuous: OS reads 0.
        bus.write(0x48, &[0x01, 0x00]).unwrap();
        assert_eq!(read_reg(&mut bus, 1), [0x60, 0x20]);
    }

    #[test]
    fn thresholds_pointer_and_plain_reads() {
        let (mut bus, _s) = bus_with(20.0);
        assert_eq!(read_reg(&mut bus, 2), [0x4B, 0x00]);
        assert_eq!(read_reg(&mut bus, 3), [0x50, 0x00]);
        bus.write(0x48, &[0x03, 0x55, 0x10]).unwrap();
        // The pointer stays at T_HIGH: a plain read returns it, wrapping MSB/LSB.
        let mut b = [0u8; 3];
        bus.read(0x48, &mut b).unwrap();
        assert_eq!(b, [0x55, 0x10, 0x55]);
        // Writing the temperature register is ignored.
        bus.write(0x48, &[0x00, 0x12, 0x34]).unwrap();
        assert_eq!(read_reg(&mut bus, 0), [0x14, 0x00]);
        // Pointer bits above P1:P0 are ignored (0x05 → register 1).
        assert_eq!(read_reg(&mut bus, 0x05), [0x60, 0xA0]);
    }
}
