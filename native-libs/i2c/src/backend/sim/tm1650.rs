//! A TM1650 4-digit 7-segment LED driver (what the seed paper's 7-segment benchmark writes).
//!
//! The chip is not addressed like an I2C device: its command bytes sit where an address
//! byte would, so it answers at several 7-bit addresses. 0x24 (command 0x48) takes the
//! display control byte: bit 0 display on, bit 3 seven-segment mode, bits 4..6 brightness
//! (0 is the brightest of 8 levels); a read at 0x24 (command 0x49) returns the key scan
//! code (0x2E: no key). 0x34..0x37 (commands 0x68, 0x6A, 0x6C, 0x6E) take the segments of
//! digits 1..4 (bit 0 = segment a ... bit 6 = g, bit 7 = decimal point).

use super::SimDevice;
use std::sync::{Arc, Mutex, MutexGuard};

/// The control address; the digit addresses follow at [`TM1650_DIGITS`].
pub const TM1650_CONTROL: u16 = 0x24;
pub const TM1650_DIGITS: u16 = 0x34;
const NO_KEY: u8 = 0x2E;

#[derive(Default)]
struct State {
    control: u8,
    digits: [u8; 4],
    /// The address of the current START.
    address: u16,
}

/// Handle to a simulated TM1650; clones share the display. Attach it at 0x24 and
/// 0x34..=0x37 (see `SimBus::attach_tm1650`).
#[derive(Clone, Default)]
pub struct SimTm1650 {
    state: Arc<Mutex<State>>,
}

impl SimTm1650 {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn display_on(&self) -> bool {
        self.lock().control & 0x01 != 0
    }

    /// Brightness 1 (dimmest) ..= 8 (brightest).
    pub fn brightness(&self) -> u8 {
        match (self.lock().control >> 4) & 0x07 {
            0 => 8,
            n => n,
        }
    }

    /// The raw segments of the four digits.
    pub fn segments(&self) -> [u8; 4] {
        self.lock().digits
    }

    /// What the display shows: each digit as the character its segments draw ('0'..'9',
    /// a few letters, '-', ' ', '?' for other patterns), a '.' after it when its decimal
    /// point is lit; empty while the display is off.
    pub fn text(&self) -> String {
        if !self.display_on() {
            return String::new();
        }
        let mut out = String::new();
        for seg in self.segments() {
            out.push(glyph(seg & 0x7F));
            if seg & 0x80 != 0 {
                out.push('.');
            }
        }
        out
    }
}

/// The character a 7-segment pattern draws.
fn glyph(segments: u8) -> char {
    const GLYPHS: [(u8, char); 17] = [
        (0x3F, '0'),
        (0x06, '1'),
        (0x5B, '2'),
        (0x4F, '3'),
        (0x66, '4'),
        (0x6D, '5'),
        (0x7D, '6'),
        (0x07, '7'),
        (0x7F, '8'),
        (0x6F, '9'),
        (0x77, 'A'),
        (0x7C, 'b'),
        (0x39, 'C'),
        (0x5E, 'd'),
        (0x79, 'E'),
        (0x71, 'F'),
        (0x40, '-'),
    ];
    if segments == 0 {
        return ' ';
    }
    GLYPHS
        .iter()
        .find(|(s, _)| *s == segments)
        .map_or('?', |(_, c)| *c)
}

impl SimDevice for SimTm1650 {
    fn start(&mut self, address: u16, read: bool) -> bool {
        let digit = address.wrapping_sub(TM1650_DIGITS);
        // Only the control command can be read (the key scan).
        let known = address == TM1650_CONTROL || (digit < 4 && !read);
        if known {
            self.lock().address = address;
        }
        known
    }

    fn write(&mut self, byte: u8) -> bool {
        let mut s = self.lock();
        match s.address {
            TM1650_CONTROL => s.control = byte,
            a => {
                let i = (a - TM1650_DIGITS) as usize;
                s.digits[i] = byte;
            }
        }
        true
    }

    fn read(&mut self) -> u8 {
        NO_KEY
    }

    fn show(&self) -> Option<String> {
        self.display_on()
            .then(|| format!("7-segment {:?}", self.text()))
    }

    fn stop(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(d: &mut SimTm1650, address: u16, byte: u8) {
        assert!(d.start(address, false));
        assert!(d.write(byte));
        d.stop();
    }

    #[test]
    fn control_then_digits_show_the_number() {
        let mut d = SimTm1650::new();
        assert_eq!(d.text(), "", "off at power-on");
        // Display on, 8 segments, brightest (as the seed paper's driver: 0x01).
        write(&mut d, TM1650_CONTROL, 0x01);
        assert!(d.display_on());
        assert_eq!(d.brightness(), 8);
        for (i, seg) in [0x06, 0x5B, 0x4F | 0x80, 0x66].into_iter().enumerate() {
            write(&mut d, TM1650_DIGITS + i as u16, seg);
        }
        assert_eq!(d.text(), "123.4");
        write(&mut d, TM1650_DIGITS + 3, 0x49);
        assert_eq!(d.text(), "123.?");
        // Brightness field 3 of 8, then off: the digits stay in the chip.
        write(&mut d, TM1650_CONTROL, 0x31);
        assert_eq!(d.brightness(), 3);
        write(&mut d, TM1650_CONTROL, 0x30);
        assert_eq!(d.text(), "");
        assert_eq!(d.segments()[0], 0x06);
    }

    #[test]
    fn key_scan_reads_no_key_and_digits_are_write_only() {
        let mut d = SimTm1650::new();
        assert!(d.start(TM1650_CONTROL, true));
        assert_eq!(d.read(), NO_KEY);
        assert!(!d.start(TM1650_DIGITS, true));
        assert!(!d.start(TM1650_DIGITS + 4, false));
    }
}
