//! A 24Cxx serial EEPROM.
//!
//! A write transaction starts with 1 or 2 memory-address bytes (MSB first), then data bytes
//! that go into a page latch: like the real chip, the address counter wraps within the page
//! (writing past the page end overwrites the page start). The page is programmed at STOP; a
//! repeated START instead of a STOP aborts the write (no write cycle), as on the real part.
//! Reads return bytes from the address counter and auto-increment across the whole array,
//! wrapping at the end. Chips with 1-byte addressing larger than 256 bytes (24C04/08/16) take
//! the high memory-address bits from the low bits of the device address, so they answer at
//! several consecutive bus addresses. Write cycles complete instantly (no ACK polling).

use super::SimDevice;
use std::sync::{Arc, Mutex, MutexGuard};

/// Geometry of a 24Cxx part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EepromConfig {
    /// Bytes in the array (a power of two).
    pub size: u32,
    /// Bytes per page write (a power of two dividing `size`).
    pub page_size: u32,
    /// Memory-address bytes after the device address: 1 or 2.
    pub addr_bytes: u8,
}

impl EepromConfig {
    /// # Panics
    /// On an impossible geometry (sizes not powers of two, page larger than the array,
    /// `addr_bytes` not 1 or 2, or more than 8 bus addresses needed).
    pub fn new(size: u32, page_size: u32, addr_bytes: u8) -> Self {
        assert!(size.is_power_of_two(), "EEPROM size must be a power of two");
        assert!(
            page_size.is_power_of_two() && page_size <= size,
            "EEPROM page size must be a power of two ≤ size"
        );
        assert!(
            addr_bytes == 1 || addr_bytes == 2,
            "EEPROM addressing is 1 or 2 bytes"
        );
        let c = EepromConfig {
            size,
            page_size,
            addr_bytes,
        };
        assert!(
            c.device_addresses() <= 8,
            "EEPROM needs more than 8 bus addresses"
        );
        c
    }

    /// 24C02: 256 bytes, 8-byte pages, 1 address byte.
    pub fn at24c02() -> Self {
        Self::new(256, 8, 1)
    }

    /// 24C16: 2 KiB, 16-byte pages, 1 address byte, 8 bus addresses.
    pub fn at24c16() -> Self {
        Self::new(2048, 16, 1)
    }

    /// 24C32: 4 KiB, 32-byte pages, 2 address bytes.
    pub fn at24c32() -> Self {
        Self::new(4096, 32, 2)
    }

    /// 24C256: 32 KiB, 64-byte pages, 2 address bytes.
    pub fn at24c256() -> Self {
        Self::new(32768, 64, 2)
    }

    /// How many consecutive bus addresses the chip answers at.
    pub fn device_addresses(&self) -> u16 {
        let span = 1u64 << (8 * u32::from(self.addr_bytes));
        u64::from(self.size).div_ceil(span).max(1) as u16
    }
}

struct State {
    cfg: EepromConfig,
    mem: Vec<u8>,
    /// The chip's address counter.
    counter: u32,
    /// Current segment is a write addressed to this block (bus address − base).
    writing: Option<u32>,
    addr_received: u8,
    word_addr: u32,
    /// Page latch: (page base, bytes per page offset) of the write in progress.
    latch_base: u32,
    latch: Vec<Option<u8>>,
    latch_offset: u32,
    latched: bool,
    write_cycles: u64,
}

impl State {
    fn commit(&mut self) {
        if !self.latched {
            return;
        }
        for (i, b) in self.latch.iter_mut().enumerate() {
            if let Some(v) = b.take() {
                self.mem[self.latch_base as usize + i] = v;
            }
        }
        self.latched = false;
        self.write_cycles += 1;
    }

    fn discard(&mut self) {
        if self.latched {
            log::debug!("sim eeprom: repeated START without STOP, page write aborted");
        }
        self.latch.iter_mut().for_each(|b| *b = None);
        self.latched = false;
    }
}

/// Handle to a simulated 24Cxx; clones share the memory array.
#[derive(Clone)]
pub struct SimEeprom {
    state: Arc<Mutex<State>>,
    /// Bus address of block 0 (set when attached).
    base: u16,
}

impl SimEeprom {
    /// An erased chip (all 0xFF).
    pub fn new(cfg: EepromConfig) -> Self {
        SimEeprom {
            state: Arc::new(Mutex::new(State {
                cfg,
                mem: vec![0xFF; cfg.size as usize],
                counter: 0,
                writing: None,
                addr_received: 0,
                word_addr: 0,
                latch_base: 0,
                latch: vec![None; cfg.page_size as usize],
                latch_offset: 0,
                latched: false,
                write_cycles: 0,
            })),
            base: 0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_base_address(&mut self, base: u16) {
        self.base = base;
    }

    pub fn config(&self) -> EepromConfig {
        self.lock().cfg
    }

    /// A copy of the whole array.
    pub fn contents(&self) -> Vec<u8> {
        self.lock().mem.clone()
    }

    /// Writes `data` into the array at `offset` directly (not over the bus).
    ///
    /// # Panics
    /// If the range exceeds the array.
    pub fn load(&self, offset: u32, data: &[u8]) {
        let mut s = self.lock();
        let start = offset as usize;
        s.mem[start..start + data.len()].copy_from_slice(data);
    }

    /// Page programming cycles performed (one per STOP after data bytes).
    pub fn write_cycles(&self) -> u64 {
        self.lock().write_cycles
    }
}

impl SimDevice for SimEeprom {
    fn start(&mut self, address: u16, read: bool) -> bool {
        let block = u32::from(address.wrapping_sub(self.base));
        let mut s = self.lock();
        s.discard();
        if read {
            s.writing = None;
        } else {
            s.writing = Some(block);
            s.addr_received = 0;
            s.word_addr = 0;
        }
        true
    }

    fn write(&mut self, byte: u8) -> bool {
        let mut s = self.lock();
        let Some(block) = s.writing else {
            return false;
        };
        if s.addr_received < s.cfg.addr_bytes {
            s.word_addr = (s.word_addr << 8) | u32::from(byte);
            s.addr_received += 1;
            if s.addr_received == s.cfg.addr_bytes {
                let shift = 8 * u32::from(s.cfg.addr_bytes);
                let addr = ((block << shift) | s.word_addr) & (s.cfg.size - 1);
                s.counter = addr;
                s.latch_base = addr & !(s.cfg.page_size - 1);
                s.latch_offset = addr & (s.cfg.page_size - 1);
            }
            return true;
        }
        // Data byte into the page latch; the counter rolls over within the page.
        let off = s.latch_offset as usize;
        s.latch[off] = Some(byte);
        s.latched = true;
        s.latch_offset = (s.latch_offset + 1) & (s.cfg.page_size - 1);
        s.counter = s.latch_base + s.latch_offset;
        true
    }

    fn read(&mut self) -> u8 {
        let mut s = self.lock();
        let b = s.mem[s.counter as usize];
        s.counter = (s.counter + 1) & (s.cfg.size - 1);
        b
    }

    fn stop(&mut self) {
        let mut s = self.lock();
        s.commit();
        s.writing = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::sim::SimBus;
    use crate::backend::{I2cBus, Operation};

    fn bus_with(cfg: EepromConfig) -> (SimBus, SimEeprom) {
        let bus = SimBus::new();
        let e = SimEeprom::new(cfg);
        bus.attach_eeprom(0x50, e.clone());
        (bus, e)
    }

    #[test]
    fn geometry() {
        assert_eq!(EepromConfig::at24c02().device_addresses(), 1);
        assert_eq!(EepromConfig::at24c16().device_addresses(), 8);
        assert_eq!(EepromConfig::new(512, 16, 1).device_addresses(), 2);
        assert_eq!(EepromConfig::at24c256().device_addresses(), 1);
    }

    #[test]
    #[should_panic(expected = "page size")]
    fn bad_geometry_panics() {
        EepromConfig::new(256, 24, 1);
    }

    #[test]
    fn two_byte_addressing_write_then_random_read() {
        let (mut bus, e) = bus_with(EepromConfig::at24c32());
        bus.write(0x50, &[0x01, 0x23, 0xAA, 0xBB, 0xCC]).unwrap();
        assert_eq!(e.write_cycles(), 1);
        assert_eq!(&e.contents()[0x123..0x126], &[0xAA, 0xBB, 0xCC]);
        let mut buf = [0u8; 4];
        bus.write_read(0x50, &[0x01, 0x22], &mut buf).unwrap();
        assert_eq!(buf, [0xFF, 0xAA, 0xBB, 0xCC]);
        // Current-address read continues from the counter.
        let mut one = [0u8; 1];
        bus.read(0x50, &mut one).unwrap();
        assert_eq!(one, [0xFF]);
    }

    #[test]
    fn page_write_wraps_within_the_page() {
        let (mut bus, e) = bus_with(EepromConfig::at24c02()); // 8-byte pages
        bus.write(0x50, &[0x06, 1, 2, 3, 4]).unwrap();
        let m = e.contents();
        // 0x06, 0x07 then back to 0x00, 0x01 (not 0x08).
        assert_eq!(&m[0..8], &[3, 4, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2]);
        assert_eq!(m[8], 0xFF);
        // More than a page: the latch keeps the last page_size bytes.
        bus.write(0x50, &[0x10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
            .unwrap();
        assert_eq!(&e.contents()[0x10..0x18], &[8, 9, 2, 3, 4, 5, 6, 7]);
    }

    #[test]
    fn sequential_read_crosses_pages_and_wraps_the_array() {
        let (mut bus, e) = bus_with(EepromConfig::at24c02());
        let pattern: Vec<u8> = (0..=255u8).collect();
        e.load(0, &pattern);
        let mut buf = [0u8; 20];
        bus.write_read(0x50, &[0xF6], &mut buf).unwrap();
        let expect: Vec<u8> = (0xF6..=0xFFu8).chain(0..10).collect();
        assert_eq!(buf.to_vec(), expect);
    }

    #[test]
    fn block_addresses_of_small_chips() {
        let (mut bus, e) = bus_with(EepromConfig::at24c16());
        // Block 3 (bus address 0x53), word 0x10 → memory 0x310.
        bus.write(0x53, &[0x10, 0x42]).unwrap();
        assert_eq!(e.contents()[0x310], 0x42);
        let mut b = [0u8; 1];
        bus.write_read(0x53, &[0x10], &mut b).unwrap();
        assert_eq!(b, [0x42]);
        assert!(bus.write(0x58, &[0]).is_err(), "0x58 is outside the chip");
    }

    #[test]
    fn repeated_start_aborts_the_page_write() {
        let (mut bus, e) = bus_with(EepromConfig::at24c02());
        let mut b = [0u8; 1];
        bus.transaction(
            0x50,
            &mut [Operation::Write(&[0x00, 0x11]), Operation::Read(&mut b)],
        )
        .unwrap();
        assert_eq!(e.contents()[0], 0xFF);
        assert_eq!(e.write_cycles(), 0);
    }

    #[test]
    fn address_only_write_programs_nothing() {
        let (mut bus, e) = bus_with(EepromConfig::at24c32());
        bus.write(0x50, &[0x00, 0x05]).unwrap();
        assert_eq!(e.write_cycles(), 0);
        let mut b = [0u8; 1];
        e.load(5, &[0x77]);
        bus.read(0x50, &mut b).unwrap();
        assert_eq!(b, [0x77]);
    }
}
