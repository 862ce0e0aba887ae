//! `sketch:implementation/lcd#write(connection, delay, message)` for an HD44780 16×2
//! LCD behind a PCF8574 I2C backpack at 0x27, in 4-bit mode (datasheet initialisation by
//! instruction). A `\n` in the message moves to the second line. Bus errors are ignored,
//! as the interface gives `write` no error result; the host's log shows them.

wit_bindgen::generate!({
    path: "../../../wit/sketch",
    world: "sketch:implementation/screen",
    generate_all,
});

use exports::sketch::implementation::lcd::Guest;
use wasi::i2c::delay::Delay;
use wasi::i2c::i2c::I2c;

const ADDRESS: u16 = 0x27;
// PCF8574 pins: P0 = RS, P2 = E, P3 = backlight, P4..P7 = D4..D7.
const RS: u8 = 0x01;
const ENABLE: u8 = 0x04;
const BACKLIGHT: u8 = 0x08;

struct Lcd<'a> {
    bus: &'a I2c,
    delay: &'a Delay,
}

impl Lcd<'_> {
    /// One E pulse with `nibble` on D4..D7: the controller latches on the falling edge.
    fn pulse(&self, nibble: u8, rs: u8) {
        let pins = (nibble << 4) | rs | BACKLIGHT;
        let _ = self.bus.write(ADDRESS, &[pins | ENABLE, pins]);
        self.delay.delay_ns(50_000);
    }

    fn byte(&self, b: u8, rs: u8) {
        self.pulse(b >> 4, rs);
        self.pulse(b & 0x0F, rs);
    }

    fn command(&self, c: u8) {
        self.byte(c, 0);
        // Clear and home take 1.52 ms; everything else 37 µs.
        self.delay
            .delay_ns(if c <= 0x03 { 2_000_000 } else { 50_000 });
    }

    fn init(&self) {
        self.delay.delay_ns(40_000_000);
        // Three times "8-bit mode" from any state, then 4-bit mode (datasheet figure 24).
        for wait in [4_100_000, 100_000, 100_000] {
            self.pulse(0x3, 0);
            self.delay.delay_ns(wait);
        }
        self.pulse(0x2, 0);
        self.command(0x28); // function set: 4-bit, 2 lines, 5x8 dots
        self.command(0x08); // display off
        self.command(0x01); // clear
        self.command(0x06); // entry mode: increment, no shift
        self.command(0x0C); // display on, no cursor
    }
}

struct Driver;

impl Guest for Driver {
    fn write(connection: I2c, delay: Delay, message: String) {
        let lcd = Lcd {
            bus: &connection,
            delay: &delay,
        };
        lcd.init();
        for (line, text) in message.split('\n').take(2).enumerate() {
            lcd.command(0x80 | (line as u8 * 0x40)); // DDRAM address of the line
            for c in text.chars().take(40) {
                // The HD44780's ROM matches ASCII for printable characters.
                let b = if c.is_ascii() && !c.is_ascii_control() {
                    c as u8
                } else {
                    b'?'
                };
                lcd.byte(b, RS);
            }
        }
    }
}

export!(Driver);
