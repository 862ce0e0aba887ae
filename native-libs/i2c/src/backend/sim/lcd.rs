//! A 16×2 character LCD (HD44780 controller) behind a PCF8574 I/O expander, the usual
//! "I2C backpack" (address 0x27; 0x3F with a PCF8574A).
//!
//! The expander drives the controller's pins from the data byte of every write: P0 = RS
//! (0 instruction, 1 data), P1 = R/W, P2 = E, P3 = backlight, P4..P7 = D4..D7. The
//! controller latches D4..D7 on the falling edge of E. After power-on it is in 8-bit mode,
//! where one E pulse is a whole byte (D0..D3 read as 0, as they are not wired); function
//! set with DL = 0 switches it to 4-bit mode, where two pulses make a byte, high nibble
//! first. Modelled instructions: clear display, return home, entry mode (increment or
//! decrement; display shift is not modelled), display on/off, cursor or display shift,
//! function set, CGRAM and DDRAM address; data writes go to DDRAM (or CGRAM). A read of the
//! expander returns its port latch (the pins are quasi-bidirectional).

use super::SimDevice;
use std::sync::{Arc, Mutex, MutexGuard};

const RS: u8 = 0x01;
const RW: u8 = 0x02;
const E: u8 = 0x04;
const BACKLIGHT: u8 = 0x08;

/// Visible columns and rows.
pub const LCD_COLUMNS: usize = 16;
pub const LCD_ROWS: usize = 2;
/// DDRAM: 40 characters per line; line 2 starts at address 0x40.
const LINE_LEN: u8 = 40;
const LINE2: u8 = 0x40;

struct State {
    port: u8,
    four_bit: bool,
    /// The high nibble of a byte in 4-bit mode, until the low one arrives.
    pending: Option<u8>,
    ddram: [u8; 80],
    cgram: [u8; 64],
    /// Address counter, and whether it points into CGRAM.
    address: u8,
    in_cgram: bool,
    increment: bool,
    display_on: bool,
    /// Display shift (scrolls the visible window), in characters.
    shift: i16,
    two_lines: bool,
    /// Bytes latched by the controller: (rs, byte), oldest first.
    latched: Vec<(bool, u8)>,
}

/// Handle to a simulated LCD; clones share the screen.
#[derive(Clone)]
pub struct SimLcd {
    state: Arc<Mutex<State>>,
}

impl Default for SimLcd {
    fn default() -> Self {
        Self::new()
    }
}

impl SimLcd {
    /// Power-on state: 8-bit mode, display off, DDRAM filled with spaces.
    pub fn new() -> Self {
        SimLcd {
            state: Arc::new(Mutex::new(State {
                port: 0,
                four_bit: false,
                pending: None,
                ddram: [b' '; 80],
                cgram: [0; 64],
                address: 0,
                in_cgram: false,
                increment: true,
                display_on: false,
                shift: 0,
                two_lines: false,
                latched: Vec::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The visible text, one string per row (what a person would read; empty strings while
    /// the display is off).
    pub fn screen(&self) -> [String; LCD_ROWS] {
        let s = self.lock();
        let row = |line: usize| -> String {
            if !s.display_on || (line == 1 && !s.two_lines) {
                return String::new();
            }
            (0..LCD_COLUMNS as i16)
                .map(|col| {
                    let pos = (col + s.shift).rem_euclid(LINE_LEN as i16) as usize;
                    let c = s.ddram[line * LINE_LEN as usize + pos];
                    if (0x20..0x7f).contains(&c) {
                        c as char
                    } else {
                        '?'
                    }
                })
                .collect()
        };
        [row(0), row(1)]
    }

    pub fn backlight(&self) -> bool {
        self.lock().port & BACKLIGHT != 0
    }

    pub fn four_bit_mode(&self) -> bool {
        self.lock().four_bit
    }

    /// Every byte the controller latched, as (is data, byte).
    pub fn latched(&self) -> Vec<(bool, u8)> {
        self.lock().latched.clone()
    }
}

impl State {
    fn port_write(&mut self, byte: u8) {
        let falling_e = self.port & E != 0 && byte & E == 0;
        self.port = byte;
        if !falling_e || byte & RW != 0 {
            return;
        }
        let rs = byte & RS != 0;
        let nibble = byte & 0xF0;
        if !self.four_bit {
            self.latch(rs, nibble);
        } else if let Some(high) = self.pending.take() {
            self.latch(rs, high | (nibble >> 4));
        } else {
            self.pending = Some(nibble);
        }
    }

    fn latch(&mut self, rs: bool, byte: u8) {
        self.latched.push((rs, byte));
        if rs {
            self.write_data(byte);
        } else {
            self.instruction(byte);
        }
    }

    fn instruction(&mut self, i: u8) {
        match i.leading_zeros() {
            7 => {
                // clear display
                self.ddram = [b' '; 80];
                self.address = 0;
                self.in_cgram = false;
                self.increment = true;
                self.shift = 0;
            }
            6 => {
                // return home
                self.address = 0;
                self.in_cgram = false;
                self.shift = 0;
            }
            5 => self.increment = i & 0x02 != 0,
            4 => self.display_on = i & 0x04 != 0,
            3 => {
                let right = i & 0x04 != 0;
                if i & 0x08 != 0 {
                    // display shift: the window moves the other way
                    self.shift += if right { -1 } else { 1 };
                } else {
                    self.step(right);
                }
            }
            2 => {
                self.four_bit = i & 0x10 == 0;
                self.two_lines = i & 0x08 != 0;
                self.pending = None;
            }
            1 => {
                self.in_cgram = true;
                self.address = i & 0x3F;
            }
            0 => {
                self.in_cgram = false;
                self.address = i & 0x7F;
            }
            _ => {} // 0x00: no instruction
        }
    }

    fn write_data(&mut self, byte: u8) {
        if self.in_cgram {
            self.cgram[self.address as usize & 0x3F] = byte;
            self.address = (self.address + if self.increment { 1 } else { 63 }) & 0x3F;
            return;
        }
        if let Some(i) = ddram_index(self.address, self.two_lines) {
            self.ddram[i] = byte;
        }
        self.step(self.increment);
    }

    /// Moves the DDRAM address counter by one, wrapping within the two lines as the
    /// controller does (0x27 -> 0x40, 0x67 -> 0x00 in two-line mode).
    fn step(&mut self, forward: bool) {
        let a = self.address;
        self.address = if self.two_lines {
            match (forward, a) {
                (true, 0x27) => LINE2,
                (true, 0x67) => 0,
                (true, _) => a + 1,
                (false, 0) => 0x67,
                (false, LINE2) => 0x27,
                (false, _) => a - 1,
            }
        } else {
            match (forward, a) {
                (true, 0x4F) => 0,
                (true, _) => a + 1,
                (false, 0) => 0x4F,
                (false, _) => a - 1,
            }
        };
    }
}

/// Where a DDRAM address lives in our 2×40 buffer.
fn ddram_index(address: u8, two_lines: bool) -> Option<usize> {
    if two_lines {
        match address {
            0x00..=0x27 => Some(address as usize),
            0x40..=0x67 => Some(LINE_LEN as usize + (address - LINE2) as usize),
            _ => None,
        }
    } else {
        // One-line mode: 80 characters in a row (we show the first 40 as line 1).
        (address < 80).then_some(address as usize)
    }
}

impl SimDevice for SimLcd {
    fn start(&mut self, _address: u16, _read: bool) -> bool {
        true
    }

    fn write(&mut self, byte: u8) -> bool {
        self.lock().port_write(byte);
        true
    }

    fn read(&mut self) -> u8 {
        self.lock().port
    }

    fn show(&self) -> Option<String> {
        // Nothing while the display is off (e.g. after a bus scan touched it).
        let [top, bottom] = self.screen();
        (!top.is_empty()).then(|| format!("lcd {top:?} {bottom:?}"))
    }

    fn stop(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expander bytes for one byte in 4-bit mode: each nibble with E high, then low.
    fn byte4(rs: bool, b: u8) -> Vec<u8> {
        let flags = BACKLIGHT | if rs { RS } else { 0 };
        let mut out = Vec::new();
        for nibble in [b & 0xF0, (b & 0x0F) << 4] {
            out.extend([nibble | flags | E, nibble | flags]);
        }
        out
    }

    fn send(lcd: &mut SimLcd, bytes: &[u8]) {
        for &b in bytes {
            assert!(lcd.write(b));
        }
    }

    /// The datasheet's 4-bit initialisation (HD44780U figure 24): function set 0x3 three
    /// times and 0x2 as single 8-bit-mode pulses, then 2-line 5×8, display on, clear, entry.
    #[test]
    fn datasheet_initialisation_then_text_on_two_lines() {
        let mut lcd = SimLcd::new();
        for nibble in [0x30, 0x30, 0x30, 0x20] {
            send(&mut lcd, &[nibble | BACKLIGHT | E, nibble | BACKLIGHT]);
        }
        assert!(lcd.four_bit_mode());
        for i in [0x28, 0x0C, 0x01, 0x06] {
            send(&mut lcd, &byte4(false, i));
        }
        for &c in b"Hello" {
            send(&mut lcd, &byte4(true, c));
        }
        send(&mut lcd, &byte4(false, 0x80 | 0x40)); // DDRAM address of line 2
        for &c in b"wasi-hw" {
            send(&mut lcd, &byte4(true, c));
        }
        assert_eq!(
            lcd.screen(),
            [
                "Hello           ".to_string(),
                "wasi-hw         ".to_string()
            ]
        );
        assert!(lcd.backlight());
    }

    /// The seed paper's LCD driver: from power-on it sends 0x02 as two nibbles (0x0, then
    /// 0x2: in 8-bit mode the first pulse is the empty instruction 0x00, the second is
    /// function set 4-bit), then clear and display on with cursor and blink, then the text.
    #[test]
    fn the_papers_sequence_from_power_on() {
        let mut lcd = SimLcd::new();
        for i in [0x02, 0x01, 0x0F] {
            send(&mut lcd, &byte4(false, i));
        }
        for &c in b"Hello" {
            send(&mut lcd, &byte4(true, c));
        }
        assert!(lcd.four_bit_mode());
        assert_eq!(lcd.screen()[0], "Hello           ");
        // One-line mode (function set never set N): the second row stays dark.
        assert_eq!(lcd.screen()[1], "");
        assert_eq!(lcd.latched().last(), Some(&(true, b'o')));
    }

    #[test]
    fn clear_home_entry_mode_and_shifts() {
        let mut lcd = SimLcd::new();
        send(&mut lcd, &[0x20 | E, 0x20]); // 4-bit
        for i in [0x28, 0x0C, 0x01] {
            send(&mut lcd, &byte4(false, i));
        }
        for &c in b"abc" {
            send(&mut lcd, &byte4(true, c));
        }
        // Decrement mode: the next characters go leftwards from the cursor.
        send(&mut lcd, &byte4(false, 0x04));
        send(&mut lcd, &byte4(true, b'X'));
        assert_eq!(&lcd.screen()[0][..4], "abcX");
        // Display shift left: the window moves right by one character.
        send(&mut lcd, &byte4(false, 0x18));
        assert_eq!(&lcd.screen()[0][..3], "bcX");
        // Home undoes the shift; clear empties the screen.
        send(&mut lcd, &byte4(false, 0x02));
        assert_eq!(&lcd.screen()[0][..4], "abcX");
        send(&mut lcd, &byte4(false, 0x01));
        assert_eq!(lcd.screen()[0], " ".repeat(16));
        // Display off hides the text.
        send(&mut lcd, &byte4(false, 0x08));
        assert_eq!(lcd.screen(), [String::new(), String::new()]);
    }

    #[test]
    fn nothing_is_latched_without_a_falling_enable_or_while_reading() {
        let mut lcd = SimLcd::new();
        send(&mut lcd, &[0x20, 0x20 | RW | E, 0x20 | RW]);
        assert!(lcd.latched().is_empty());
        assert!(!lcd.four_bit_mode());
        assert_eq!(lcd.read(), 0x20 | RW);
    }
}
