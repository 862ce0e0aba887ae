//! USB mass storage, Bulk-Only Transport (class 8, subclass 6 SCSI transparent, protocol
//! 0x50): command/data/status phases with stall and phase-error recovery as the BOT
//! specification prescribes, and the SCSI commands a block reader needs.

use core::fmt;

use super::{find_endpoint, Handle, InterfaceDescriptor, LibusbError, EP_BULK};

pub const CLASS_MASS_STORAGE: u8 = 8;
pub const SUBCLASS_SCSI: u8 = 6;
pub const PROTOCOL_BULK_ONLY: u8 = 0x50;

const CBW_SIGNATURE: u32 = 0x4342_5355; // "USBC"
const CSW_SIGNATURE: u32 = 0x5342_5355; // "USBS"
/// Largest data phase this reader asks for in one command.
pub const MAX_TRANSFER: u32 = 64 * 1024;

/// Whether `intf` is a Bulk-Only SCSI mass-storage interface.
pub fn is_bulk_only(intf: &InterfaceDescriptor) -> bool {
    intf.interface_class == CLASS_MASS_STORAGE
        && intf.interface_subclass == SUBCLASS_SCSI
        && intf.interface_protocol == PROTOCOL_BULK_ONLY
}

/// SCSI sense data (fixed format).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sense {
    pub key: u8,
    pub asc: u8,
    pub ascq: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageError {
    /// The transport failed (`libusb-error`).
    Usb(super::Error),
    /// The device answered with a malformed or mismatched status wrapper.
    BadStatus(String),
    /// The command failed (CSW status 1), with the sense data if it could be read.
    CommandFailed { opcode: u8, sense: Option<Sense> },
    /// CSW status 2: the device lost track; a reset recovery was done.
    PhaseError { opcode: u8 },
    /// The interface lacks a bulk IN or OUT endpoint.
    NoEndpoints,
}

impl From<super::Error> for StorageError {
    fn from(e: super::Error) -> Self {
        StorageError::Usb(e)
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::Usb(e) => write!(f, "usb: {e}"),
            StorageError::BadStatus(m) => write!(f, "bad command status wrapper: {m}"),
            StorageError::CommandFailed { opcode, sense } => match sense {
                Some(s) => write!(
                    f,
                    "SCSI command {opcode:#04x} failed: sense key {:#x}, ASC {:#04x}, ASCQ {:#04x}",
                    s.key, s.asc, s.ascq
                ),
                None => write!(f, "SCSI command {opcode:#04x} failed"),
            },
            StorageError::PhaseError { opcode } => {
                write!(
                    f,
                    "phase error on SCSI command {opcode:#04x} (device reset)"
                )
            }
            StorageError::NoEndpoints => f.write_str("interface has no bulk IN/OUT endpoint pair"),
        }
    }
}

impl std::error::Error for StorageError {}

/// Standard INQUIRY data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inquiry {
    pub peripheral_type: u8,
    pub removable: bool,
    pub vendor: String,
    pub product: String,
    pub revision: String,
}

/// A Bulk-Only Transport session on a claimed interface.
pub struct MassStorage<'h> {
    handle: &'h Handle,
    interface: u8,
    ep_in: u8,
    ep_out: u8,
    tag: u32,
    pub timeout_ms: u32,
}

fn ascii(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim_end().to_string()
}

impl<'h> MassStorage<'h> {
    /// Uses the bulk endpoint pair of `intf`, which the caller has claimed.
    pub fn new(handle: &'h Handle, intf: &InterfaceDescriptor) -> Result<Self, StorageError> {
        let ep_in = find_endpoint(intf, EP_BULK, true).ok_or(StorageError::NoEndpoints)?;
        let ep_out = find_endpoint(intf, EP_BULK, false).ok_or(StorageError::NoEndpoints)?;
        Ok(MassStorage {
            handle,
            interface: intf.interface_number,
            ep_in: ep_in.endpoint_address,
            ep_out: ep_out.endpoint_address,
            tag: 0,
            timeout_ms: 5000,
        })
    }

    /// Get Max LUN (class request); devices with one LUN may stall it, which means 0.
    pub fn max_lun(&self) -> Result<u8, StorageError> {
        match self
            .handle
            .control_in(0xa1, 0xfe, 0, u16::from(self.interface), 1, self.timeout_ms)
        {
            Ok(d) => Ok(d.first().copied().unwrap_or(0)),
            Err(super::Error(LibusbError::Pipe)) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    /// Bulk-Only Mass Storage Reset, then clear both halts (BOT 5.3.4 reset recovery).
    pub fn reset_recovery(&self) -> Result<(), StorageError> {
        self.handle.control_out(
            0x21,
            0xff,
            0,
            u16::from(self.interface),
            &[],
            self.timeout_ms,
        )?;
        self.handle.clear_halt(self.ep_in)?;
        self.handle.clear_halt(self.ep_out)?;
        Ok(())
    }

    fn cbw(&mut self, cdb: &[u8], len: u32, dir_in: bool) -> [u8; 31] {
        self.tag = self.tag.wrapping_add(1);
        let mut c = [0u8; 31];
        c[0..4].copy_from_slice(&CBW_SIGNATURE.to_le_bytes());
        c[4..8].copy_from_slice(&self.tag.to_le_bytes());
        c[8..12].copy_from_slice(&len.to_le_bytes());
        c[12] = if dir_in { 0x80 } else { 0 };
        c[13] = 0; // LUN 0
        c[14] = cdb.len() as u8;
        c[15..15 + cdb.len()].copy_from_slice(cdb);
        c
    }

    /// Reads the CSW, clearing a stalled IN pipe once (BOT 6.7.2).
    fn status(&self) -> Result<(u32, u8), StorageError> {
        let csw = match self.handle.bulk_in(self.ep_in, 13, self.timeout_ms) {
            Err(super::Error(LibusbError::Pipe)) => {
                self.handle.clear_halt(self.ep_in)?;
                self.handle.bulk_in(self.ep_in, 13, self.timeout_ms)?
            }
            other => other?,
        };
        if csw.len() != 13 {
            return Err(StorageError::BadStatus(format!("{} bytes", csw.len())));
        }
        let sig = u32::from_le_bytes([csw[0], csw[1], csw[2], csw[3]]);
        let tag = u32::from_le_bytes([csw[4], csw[5], csw[6], csw[7]]);
        if sig != CSW_SIGNATURE {
            return Err(StorageError::BadStatus(format!("signature {sig:#010x}")));
        }
        if tag != self.tag {
            return Err(StorageError::BadStatus(format!(
                "tag {tag} for command {}",
                self.tag
            )));
        }
        let residue = u32::from_le_bytes([csw[8], csw[9], csw[10], csw[11]]);
        Ok((residue, csw[12]))
    }

    /// Runs one command with an optional data-in phase of `len` bytes; returns the data.
    pub fn command_in(&mut self, cdb: &[u8], len: u32) -> Result<Vec<u8>, StorageError> {
        assert!(!cdb.is_empty() && cdb.len() <= 16, "CDB is 1..=16 bytes");
        assert!(len <= MAX_TRANSFER, "data phase larger than MAX_TRANSFER");
        let cbw = self.cbw(cdb, len, true);
        self.handle.bulk_out(self.ep_out, &cbw, self.timeout_ms)?;
        let mut data = Vec::new();
        if len > 0 {
            match self.handle.bulk_in(self.ep_in, len, self.timeout_ms) {
                Ok(d) => data = d,
                // The device has no (more) data: it stalled; the CSW follows the clear.
                Err(super::Error(LibusbError::Pipe)) => self.handle.clear_halt(self.ep_in)?,
                Err(e) => return Err(e.into()),
            }
        }
        let (_residue, status) = self.status()?;
        match status {
            0 => Ok(data),
            1 => {
                let sense = if cdb[0] == 0x03 {
                    None
                } else {
                    self.request_sense().ok()
                };
                Err(StorageError::CommandFailed {
                    opcode: cdb[0],
                    sense,
                })
            }
            _ => {
                self.reset_recovery()?;
                Err(StorageError::PhaseError { opcode: cdb[0] })
            }
        }
    }

    pub fn test_unit_ready(&mut self) -> Result<(), StorageError> {
        self.command_in(&[0x00, 0, 0, 0, 0, 0], 0).map(|_| ())
    }

    pub fn request_sense(&mut self) -> Result<Sense, StorageError> {
        let d = self.command_in(&[0x03, 0, 0, 0, 18, 0], 18)?;
        if d.len() < 14 {
            return Err(StorageError::BadStatus(format!(
                "sense data of {} bytes",
                d.len()
            )));
        }
        Ok(Sense {
            key: d[2] & 0x0f,
            asc: d[12],
            ascq: d[13],
        })
    }

    /// Waits for the medium: TEST UNIT READY up to `tries` times (a fresh device often
    /// answers the first ones with UNIT ATTENTION).
    pub fn wait_ready(&mut self, tries: u32) -> Result<(), StorageError> {
        let mut last = Ok(());
        for _ in 0..tries.max(1) {
            last = self.test_unit_ready();
            if last.is_ok() {
                return Ok(());
            }
        }
        last
    }

    pub fn inquiry(&mut self) -> Result<Inquiry, StorageError> {
        let d = self.command_in(&[0x12, 0, 0, 0, 36, 0], 36)?;
        if d.len() < 36 {
            return Err(StorageError::BadStatus(format!(
                "INQUIRY data of {} bytes",
                d.len()
            )));
        }
        Ok(Inquiry {
            peripheral_type: d[0] & 0x1f,
            removable: d[1] & 0x80 != 0,
            vendor: ascii(&d[8..16]),
            product: ascii(&d[16..32]),
            revision: ascii(&d[32..36]),
        })
    }

    /// READ CAPACITY(10): (number of blocks, block length in bytes).
    pub fn read_capacity(&mut self) -> Result<(u64, u32), StorageError> {
        let d = self.command_in(&[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], 8)?;
        if d.len() < 8 {
            return Err(StorageError::BadStatus(format!(
                "capacity data of {} bytes",
                d.len()
            )));
        }
        let last = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
        let block = u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
        Ok((u64::from(last) + 1, block))
    }

    /// READ(10) of `count` blocks from `lba`.
    pub fn read10(
        &mut self,
        lba: u32,
        count: u16,
        block_len: u32,
    ) -> Result<Vec<u8>, StorageError> {
        let len = u32::from(count) * block_len;
        let l = lba.to_be_bytes();
        let c = count.to_be_bytes();
        let data = self.command_in(&[0x28, 0, l[0], l[1], l[2], l[3], 0, c[0], c[1], 0], len)?;
        if data.len() as u32 != len {
            return Err(StorageError::BadStatus(format!(
                "READ(10) returned {} of {len} bytes",
                data.len()
            )));
        }
        Ok(data)
    }
}

/// Formats `data` like `hexdump -C`: offset, 16 hex bytes, ASCII column.
pub fn hexdump(data: &[u8], base: u64) -> String {
    let mut out = String::new();
    for (i, chunk) in data.chunks(16).enumerate() {
        out.push_str(&format!("{:08x}  ", base + (i * 16) as u64));
        for j in 0..16 {
            match chunk.get(j) {
                Some(b) => out.push_str(&format!("{b:02x} ")),
                None => out.push_str("   "),
            }
            if j == 7 {
                out.push(' ');
            }
        }
        out.push_str(" |");
        out.extend(chunk.iter().map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '.'
            }
        }));
        out.push_str("|\n");
    }
    out
}
