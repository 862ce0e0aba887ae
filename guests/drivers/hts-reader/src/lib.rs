//! `sketch:implementation/hts`: temperature and relative humidity from an HTS221 at
//! 0x5F, one-shot conversions, converted with the part's own calibration registers by
//! the datasheet's linear interpolation. Bus errors are returned as the WIT error code.

wit_bindgen::generate!({
    path: "../../../wit/sketch",
    world: "sketch:implementation/sensor",
    generate_all,
});

use exports::sketch::implementation::hts::Guest;
use wasi::i2c::i2c::{ErrorCode, I2c};

const ADDRESS: u16 = 0x5F;
const WHO_AM_I: u8 = 0x0F;
const CTRL_REG1: u8 = 0x20;
const CTRL_REG2: u8 = 0x21;
const STATUS: u8 = 0x27;
const HUMIDITY_OUT: u8 = 0x28;
const TEMP_OUT: u8 = 0x2A;
const CALIBRATION: u8 = 0x30;
/// Bit 7 of a sub-address: auto-increment over a multi-byte read.
const MULTI: u8 = 0x80;

fn read(bus: &I2c, reg: u8, len: u64) -> Result<Vec<u8>, ErrorCode> {
    bus.write_read(ADDRESS, &[reg | MULTI], len)
}

fn i16_at(b: &[u8], at: usize) -> f64 {
    f64::from(i16::from_le_bytes([b[at], b[at + 1]]))
}

/// Powers the sensor up (block data update on), starts one conversion and waits for both
/// outputs; returns the 16 calibration bytes.
fn convert(bus: &I2c) -> Result<Vec<u8>, ErrorCode> {
    if read(bus, WHO_AM_I, 1)?[0] != 0xBC {
        return Err(ErrorCode::Other);
    }
    bus.write(ADDRESS, &[CTRL_REG1, 0x84])?;
    bus.write(ADDRESS, &[CTRL_REG2, 0x01])?;
    for _ in 0..100 {
        if read(bus, STATUS, 1)?[0] & 0x03 == 0x03 {
            return read(bus, CALIBRATION, 16);
        }
    }
    Err(ErrorCode::Other)
}

fn interpolate(x: f64, (x0, y0): (f64, f64), (x1, y1): (f64, f64)) -> f64 {
    y0 + (x - x0) * (y1 - y0) / (x1 - x0)
}

struct Driver;

impl Guest for Driver {
    fn get_temperature(connection: I2c) -> Result<String, ErrorCode> {
        let cal = convert(&connection)?;
        let msb = u16::from(cal[5]);
        let t0 = f64::from(u16::from(cal[2]) | (msb & 0x03) << 8) / 8.0;
        let t1 = f64::from(u16::from(cal[3]) | (msb & 0x0C) << 6) / 8.0;
        let out = read(&connection, TEMP_OUT, 2)?;
        let t = interpolate(
            i16_at(&out, 0),
            (i16_at(&cal, 12), t0),
            (i16_at(&cal, 14), t1),
        );
        Ok(format!("{t:.1} °C"))
    }

    fn get_humidity(connection: I2c) -> Result<String, ErrorCode> {
        let cal = convert(&connection)?;
        let h0 = f64::from(cal[0]) / 2.0;
        let h1 = f64::from(cal[1]) / 2.0;
        let out = read(&connection, HUMIDITY_OUT, 2)?;
        let h = interpolate(
            i16_at(&out, 0),
            (i16_at(&cal, 6), h0),
            (i16_at(&cal, 10), h1),
        );
        Ok(format!("{:.1} %rH", h.clamp(0.0, 100.0)))
    }
}

export!(Driver);
