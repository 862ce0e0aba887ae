//! USB mass storage, Bulk-Only Transport (class 8, subclass 6 SCSI transparent, protocol
//! 0x50): command/data/status phases with stall and phase-error recovery as the BOT
//! specification prescribes, and the SCSI commands a block reader needs.

//!
//! The protocol itself is the `wasi-hw-bulk-only` crate (shared with the host-side
//! benchmarks); this module runs it over a WASI-USB [`Handle`].

use super::{find_endpoint, Handle, InterfaceDescriptor, LibusbError, EP_BULK};

pub use wasi_hw_bulk_only::{
    Inquiry, Sense, Transport, CLASS_MASS_STORAGE, MAX_TRANSFER, PROTOCOL_BULK_ONLY, READY_TRIES,
    SUBCLASS_SCSI,
};

/// Why a mass-storage command failed.
pub type StorageError = wasi_hw_bulk_only::Error<super::Error>;

/// Whether `intf` is a Bulk-Only SCSI mass-storage interface.
pub fn is_bulk_only(intf: &InterfaceDescriptor) -> bool {
    intf.interface_class == CLASS_MASS_STORAGE
        && intf.interface_subclass == SUBCLASS_SCSI
        && intf.interface_protocol == PROTOCOL_BULK_ONLY
}

/// The bulk endpoint pair of a claimed mass-storage interface, over WASI-USB.
pub struct Pipe<'h> {
    pub handle: &'h Handle,
    pub interface: u8,
    pub ep_in: u8,
    pub ep_out: u8,
    pub timeout_ms: u32,
}

impl<'h> Pipe<'h> {
    /// The bulk endpoint pair of `intf`, which the caller has claimed.
    pub fn new(handle: &'h Handle, intf: &InterfaceDescriptor) -> Result<Self, StorageError> {
        let no_pair = wasi_hw_bulk_only::Error::NoEndpoints;
        let ep_in = find_endpoint(intf, EP_BULK, true).ok_or(no_pair.clone())?;
        let ep_out = find_endpoint(intf, EP_BULK, false).ok_or(no_pair)?;
        Ok(Pipe {
            handle,
            interface: intf.interface_number,
            ep_in: ep_in.endpoint_address,
            ep_out: ep_out.endpoint_address,
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
}

impl Transport for Pipe<'_> {
    type Error = super::Error;
    fn bulk_out(&mut self, data: &[u8]) -> Result<(), super::Error> {
        self.handle.bulk_out(self.ep_out, data, self.timeout_ms)
    }
    fn bulk_in(&mut self, len: usize) -> Result<Vec<u8>, super::Error> {
        self.handle.bulk_in(self.ep_in, len as u32, self.timeout_ms)
    }
    fn is_stall(e: &super::Error) -> bool {
        e.0 == LibusbError::Pipe
    }
    fn clear_halt(&mut self, dir_in: bool) -> Result<(), super::Error> {
        self.handle
            .clear_halt(if dir_in { self.ep_in } else { self.ep_out })
    }
    fn mass_storage_reset(&mut self) -> Result<(), super::Error> {
        self.handle.control_out(
            0x21,
            0xff,
            0,
            u16::from(self.interface),
            &[],
            self.timeout_ms,
        )
    }
}

/// A Bulk-Only Transport session on a claimed interface.
pub type MassStorage<'h> = wasi_hw_bulk_only::BulkOnly<Pipe<'h>>;

/// A session on the bulk endpoint pair of `intf`, which the caller has claimed.
pub fn open<'h>(
    handle: &'h Handle,
    intf: &InterfaceDescriptor,
) -> Result<MassStorage<'h>, StorageError> {
    Ok(MassStorage::new(Pipe::new(handle, intf)?))
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
