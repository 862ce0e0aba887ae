//! `sketch:implementation/lcd#write(connection, delay, message)` for a TM1650 4-digit
//! 7-segment display: the control byte at 0x24, the digits at 0x34..=0x37. Shows up to
//! four characters of `message` (digits, `-`, space and the hex letters A b C d E F); a
//! `.` lights the decimal point of the character before it.

wit_bindgen::generate!({
    path: "../../../wit/sketch",
    world: "sketch:implementation/screen",
    generate_all,
});

use exports::sketch::implementation::lcd::Guest;
use wasi::i2c::delay::Delay;
use wasi::i2c::i2c::I2c;

const CONTROL: u16 = 0x24;
const DIGITS: u16 = 0x34;
/// Display on, 7-segment mode, brightness level 0 (the brightest).
const DISPLAY_ON: u8 = 0x01 | 0x08;

/// Segments a..g (bits 0..6) of a character, or `None` if the display cannot draw it.
fn segments(c: char) -> Option<u8> {
    Some(match c.to_ascii_uppercase() {
        '0' => 0x3F,
        '1' => 0x06,
        '2' => 0x5B,
        '3' => 0x4F,
        '4' => 0x66,
        '5' => 0x6D,
        '6' => 0x7D,
        '7' => 0x07,
        '8' => 0x7F,
        '9' => 0x6F,
        'A' => 0x77,
        'B' => 0x7C,
        'C' => 0x39,
        'D' => 0x5E,
        'E' => 0x79,
        'F' => 0x71,
        '-' => 0x40,
        ' ' => 0x00,
        _ => return None,
    })
}

struct Driver;

impl Guest for Driver {
    fn write(connection: I2c, _delay: Delay, message: String) {
        let mut digits = [0u8; 4];
        let mut n = 0;
        for c in message.chars() {
            if c == '.' && n > 0 {
                digits[n - 1] |= 0x80;
                continue;
            }
            if n == digits.len() {
                break;
            }
            digits[n] = segments(c).unwrap_or(0x40);
            n += 1;
        }
        let _ = connection.write(CONTROL, &[DISPLAY_ON]);
        for (i, seg) in digits.iter().enumerate() {
            let _ = connection.write(DIGITS + i as u16, &[*seg]);
        }
    }
}

export!(Driver);
