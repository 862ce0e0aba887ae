//! An HTS221 humidity and temperature sensor (ST; address 0x5F), with the register map and
//! calibration scheme of its datasheet (DocID026340).
//!
//! Registers behind a sub-address (the first byte of a write): bit 7 of the sub-address
//! turns on auto-increment for multi-byte reads and writes. WHO_AM_I (0x0F) = 0xBC;
//! AV_CONF 0x10; CTRL_REG1 0x20 (PD bit 7, BDU bit 2, ODR bits 1:0); CTRL_REG2 0x21
//! (BOOT bit 7, ONE_SHOT bit 0, which clears itself when the conversion is done);
//! CTRL_REG3 0x22; STATUS 0x27 (H_DA bit 1, T_DA bit 0); HUMIDITY_OUT 0x28/0x29,
//! TEMP_OUT 0x2A/0x2B (16-bit two's complement, little endian; reading the high byte
//! clears the data-available bit); calibration 0x30..0x3F (read-only). Outputs are
//! computed from the set temperature and humidity by inverting the datasheet's linear
//! interpolation between the calibration points, so a driver that follows the datasheet
//! reads those values back.

use super::SimDevice;
use std::sync::{Arc, Mutex, MutexGuard};

pub const HTS221_ADDR: u16 = 0x5F;
const WHO_AM_I: u8 = 0x0F;
const AV_CONF: u8 = 0x10;
const CTRL_REG1: u8 = 0x20;
const CTRL_REG2: u8 = 0x21;
const CTRL_REG3: u8 = 0x22;
const STATUS: u8 = 0x27;
const HUMIDITY_OUT_H: u8 = 0x29;
const TEMP_OUT_H: u8 = 0x2B;
const AUTO_INCREMENT: u8 = 0x80;

const PD: u8 = 0x80;
const ONE_SHOT: u8 = 0x01;
const H_DA: u8 = 0x02;
const T_DA: u8 = 0x01;

/// The calibration points (what one real part might have; every value in range):
/// T0 = 20.0 °C at T0_OUT = 300, T1 = 35.0 °C at T1_OUT = 1500; H0 = 20.0 %rH at
/// H0_T0_OUT = 2000, H1 = 80.0 %rH at H1_T0_OUT = 14000.
const T0_DEGC_X8: u16 = 160;
const T1_DEGC_X8: u16 = 280;
const T0_OUT: i16 = 300;
const T1_OUT: i16 = 1500;
const H0_RH_X2: u8 = 40;
const H1_RH_X2: u8 = 160;
const H0_T0_OUT: i16 = 2000;
const H1_T0_OUT: i16 = 14000;

struct State {
    celsius: f64,
    humidity: f64,
    regs: [u8; 0x40],
    pointer: u8,
    auto_increment: bool,
    /// Bytes received in the current write (0: the sub-address comes next).
    write_index: usize,
    status: u8,
}

/// Handle to a simulated HTS221; clones share the sensor.
#[derive(Clone)]
pub struct SimHts221 {
    state: Arc<Mutex<State>>,
}

impl SimHts221 {
    /// Powered down (CTRL_REG1 = 0), measuring `celsius` and `humidity` (%rH) once on.
    pub fn new(celsius: f64, humidity: f64) -> Self {
        let mut regs = [0u8; 0x40];
        regs[WHO_AM_I as usize] = 0xBC;
        regs[AV_CONF as usize] = 0x1B;
        regs[0x30] = H0_RH_X2;
        regs[0x31] = H1_RH_X2;
        regs[0x32] = T0_DEGC_X8 as u8;
        regs[0x33] = T1_DEGC_X8 as u8;
        regs[0x35] = ((T0_DEGC_X8 >> 8) as u8 & 0x03) | (((T1_DEGC_X8 >> 8) as u8 & 0x03) << 2);
        regs[0x36..0x38].copy_from_slice(&H0_T0_OUT.to_le_bytes());
        regs[0x3A..0x3C].copy_from_slice(&H1_T0_OUT.to_le_bytes());
        regs[0x3C..0x3E].copy_from_slice(&T0_OUT.to_le_bytes());
        regs[0x3E..0x40].copy_from_slice(&T1_OUT.to_le_bytes());
        SimHts221 {
            state: Arc::new(Mutex::new(State {
                celsius,
                humidity,
                regs,
                pointer: 0,
                auto_increment: false,
                write_index: 0,
                status: 0,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes what the next conversion measures.
    pub fn set(&self, celsius: f64, humidity: f64) {
        let mut s = self.lock();
        s.celsius = celsius;
        s.humidity = humidity;
    }

    pub fn powered(&self) -> bool {
        self.lock().regs[CTRL_REG1 as usize] & PD != 0
    }
}

/// The output count the datasheet's interpolation maps to `value`, rounded and clamped.
fn counts(value: f64, (v0, out0): (f64, i16), (v1, out1): (f64, i16)) -> i16 {
    let out = f64::from(out0) + (value - v0) * f64::from(out1 - out0) / (v1 - v0);
    out.round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16
}

impl State {
    /// A conversion: both output registers and the data-available bits.
    fn convert(&mut self) {
        let t = counts(
            self.celsius,
            (f64::from(T0_DEGC_X8) / 8.0, T0_OUT),
            (f64::from(T1_DEGC_X8) / 8.0, T1_OUT),
        );
        let h = counts(
            self.humidity,
            (f64::from(H0_RH_X2) / 2.0, H0_T0_OUT),
            (f64::from(H1_RH_X2) / 2.0, H1_T0_OUT),
        );
        self.regs[0x28..0x2A].copy_from_slice(&h.to_le_bytes());
        self.regs[0x2A..0x2C].copy_from_slice(&t.to_le_bytes());
        self.status = H_DA | T_DA;
    }

    fn write_register(&mut self, reg: u8, byte: u8) {
        match reg {
            AV_CONF | CTRL_REG3 => self.regs[reg as usize] = byte,
            CTRL_REG1 => {
                self.regs[reg as usize] = byte & 0x87;
                // Continuous mode (ODR != 0) converts right away in the model.
                if byte & PD != 0 && byte & 0x03 != 0 {
                    self.convert();
                }
            }
            CTRL_REG2 => {
                // One-shot: converts if powered, then the bit reads back as 0 (done).
                if byte & ONE_SHOT != 0 && self.regs[CTRL_REG1 as usize] & PD != 0 {
                    self.convert();
                }
                // BOOT and ONE_SHOT clear themselves; the heater bit stays.
                self.regs[reg as usize] = byte & 0x02;
            }
            _ => {} // read-only or reserved: ignored, as the chip does
        }
    }

    fn read_register(&mut self, reg: u8) -> u8 {
        match reg {
            STATUS => self.status,
            HUMIDITY_OUT_H => {
                self.status &= !H_DA;
                self.regs[reg as usize]
            }
            TEMP_OUT_H => {
                self.status &= !T_DA;
                self.regs[reg as usize]
            }
            r if (r as usize) < self.regs.len() => self.regs[r as usize],
            _ => 0,
        }
    }

    fn advance(&mut self) {
        if self.auto_increment {
            self.pointer = (self.pointer + 1) & 0x3F;
        }
    }
}

impl SimDevice for SimHts221 {
    fn start(&mut self, _address: u16, _read: bool) -> bool {
        self.lock().write_index = 0;
        true
    }

    fn write(&mut self, byte: u8) -> bool {
        let mut s = self.lock();
        if s.write_index == 0 {
            s.pointer = byte & 0x3F;
            s.auto_increment = byte & AUTO_INCREMENT != 0;
        } else {
            let reg = s.pointer;
            s.write_register(reg, byte);
            s.advance();
        }
        s.write_index += 1;
        true
    }

    fn read(&mut self) -> u8 {
        let mut s = self.lock();
        let reg = s.pointer;
        let b = s.read_register(reg);
        s.advance();
        b
    }

    fn stop(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(d: &mut SimHts221, bytes: &[u8]) {
        d.start(HTS221_ADDR, false);
        for &b in bytes {
            d.write(b);
        }
        d.stop();
    }

    fn read(d: &mut SimHts221, sub: u8, n: usize) -> Vec<u8> {
        d.start(HTS221_ADDR, false);
        d.write(sub);
        d.start(HTS221_ADDR, true);
        let out = (0..n).map(|_| d.read()).collect();
        d.stop();
        out
    }

    /// The datasheet's procedure (technical note TN1218): read the calibration block with
    /// auto-increment, then interpolate the outputs; the result is what was set.
    fn datasheet_reading(d: &mut SimHts221) -> (f64, f64) {
        let c = read(d, 0x30 | AUTO_INCREMENT, 16);
        let i16_at = |i: usize| f64::from(i16::from_le_bytes([c[i], c[i + 1]]));
        let t0 = f64::from(u16::from(c[2]) | (u16::from(c[5] & 0x03) << 8)) / 8.0;
        let t1 = f64::from(u16::from(c[3]) | (u16::from(c[5] & 0x0C) << 6)) / 8.0;
        let (h0, h1) = (f64::from(c[0]) / 2.0, f64::from(c[1]) / 2.0);
        let (h0_out, h1_out, t0_out, t1_out) = (i16_at(6), i16_at(10), i16_at(12), i16_at(14));
        let o = read(d, 0x28 | AUTO_INCREMENT, 4);
        let h_out = f64::from(i16::from_le_bytes([o[0], o[1]]));
        let t_out = f64::from(i16::from_le_bytes([o[2], o[3]]));
        (
            t0 + (t_out - t0_out) * (t1 - t0) / (t1_out - t0_out),
            h0 + (h_out - h0_out) * (h1 - h0) / (h1_out - h0_out),
        )
    }

    #[test]
    fn identity_and_power_on_state() {
        let mut d = SimHts221::new(23.5, 45.0);
        assert_eq!(read(&mut d, WHO_AM_I, 1), [0xBC]);
        assert!(!d.powered());
        assert_eq!(read(&mut d, STATUS, 1), [0], "no data while powered down");
        // One-shot without power does nothing.
        write(&mut d, &[CTRL_REG2, ONE_SHOT]);
        assert_eq!(read(&mut d, STATUS, 1), [0]);
    }

    #[test]
    fn one_shot_then_the_datasheet_procedure_reads_the_values() {
        let mut d = SimHts221::new(23.5, 45.0);
        write(&mut d, &[CTRL_REG1, PD | 0x04]); // powered, BDU, one-shot mode (ODR 0)
        write(&mut d, &[CTRL_REG2, ONE_SHOT]);
        assert_eq!(read(&mut d, CTRL_REG2, 1), [0], "one-shot done");
        assert_eq!(read(&mut d, STATUS, 1), [H_DA | T_DA]);
        let (t, h) = datasheet_reading(&mut d);
        assert!(
            (t - 23.5).abs() < 1e-9 && (h - 45.0).abs() < 1e-9,
            "{t} {h}"
        );
        // Reading the high bytes cleared the data-available bits.
        assert_eq!(read(&mut d, STATUS, 1), [0]);
        // Continuous mode (ODR 1 Hz) converts the new values.
        d.set(-10.25, 80.0);
        write(&mut d, &[CTRL_REG1, PD | 0x01]);
        let (t, h) = datasheet_reading(&mut d);
        assert!(
            (t + 10.25).abs() < 0.02 && (h - 80.0).abs() < 1e-9,
            "{t} {h}"
        );
    }

    #[test]
    fn without_auto_increment_the_sub_address_stays() {
        let mut d = SimHts221::new(23.5, 45.0);
        assert_eq!(read(&mut d, 0x30, 3), [H0_RH_X2; 3]);
        assert_eq!(
            read(&mut d, 0x30 | AUTO_INCREMENT, 3),
            [H0_RH_X2, H1_RH_X2, 160]
        );
        // Calibration is read-only.
        write(&mut d, &[0x30, 0xFF]);
        assert_eq!(read(&mut d, 0x30, 1), [H0_RH_X2]);
    }
}
