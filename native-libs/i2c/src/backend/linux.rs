//! Linux i2c-dev backend (`/dev/i2c-N`) over the `i2cdev` crate.
//!
//! Adapters that can do plain I2C (`I2C_FUNC_I2C`) run every transaction as one `I2C_RDWR`
//! ioctl: one message per run of same-direction operations, so a write-read is a single
//! combined transaction with a repeated START. SMBus-only adapters (e.g. the i801 in a PC or
//! QEMU) get the transaction mapped onto the one SMBus command with the same wire bytes, when
//! there is one (see [`plan_smbus`]); anything else is refused with `other` and a log line.
//!
//! Error mapping (Documentation/i2c/fault-codes.rst), errno → `error-code`:
//! - `ENXIO` → `no-acknowledge(address)` (the address phase got no ACK)
//! - `EREMOTEIO` → `no-acknowledge(unknown)` (bcm2835, designware: a NAK in either phase)
//! - `EAGAIN` → `arbitration-loss`
//! - `ETIMEDOUT`, `EBUSY` (bus busy too long) → `bus`
//! - `EIO` → `other`: the kernel documents it as a vague catch-all; i2c-algo-bit uses it for a
//!   data NAK, other drivers for bus faults, so no specific case would be honest
//! - `EOPNOTSUPP`, `EINVAL`, `EPROTO`, `EBADMSG`, `ESHUTDOWN`, anything else → `other`, logged.

use crate::backend::{
    scatter_reads, segments, ErrorCode, I2cBus, NoAcknowledgeSource, Operation, Segment,
};
use i2cdev::core::{I2CDevice, I2CMessage, I2CTransfer};
use i2cdev::linux::{LinuxI2CBus, LinuxI2CDevice, LinuxI2CError, LinuxI2CMessage};
use nix::errno::Errno;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// `I2C_FUNC_*` bits from `<linux/i2c.h>`.
pub mod funcs {
    pub const I2C: u32 = 0x0000_0001;
    pub const TEN_BIT_ADDR: u32 = 0x0000_0002;
    pub const SMBUS_QUICK: u32 = 0x0001_0000;
    pub const SMBUS_READ_BYTE: u32 = 0x0002_0000;
    pub const SMBUS_WRITE_BYTE: u32 = 0x0004_0000;
    pub const SMBUS_READ_BYTE_DATA: u32 = 0x0008_0000;
    pub const SMBUS_WRITE_BYTE_DATA: u32 = 0x0010_0000;
    pub const SMBUS_READ_WORD_DATA: u32 = 0x0020_0000;
    pub const SMBUS_WRITE_WORD_DATA: u32 = 0x0040_0000;
    pub const SMBUS_READ_I2C_BLOCK: u32 = 0x0400_0000;
    pub const SMBUS_WRITE_I2C_BLOCK: u32 = 0x0800_0000;
}

/// `I2C_RDWR_IOCTL_MAX_MSGS` in drivers/i2c/i2c-dev.c.
pub const RDWR_MAX_MSGS: usize = 42;
/// i2c-dev rejects a message longer than this with `EINVAL`.
pub const RDWR_MAX_MSG_LEN: usize = 8192;
/// `I2C_SMBUS_BLOCK_MAX`.
pub const SMBUS_BLOCK_MAX: usize = 32;

const I2C_FUNCS: u16 = 0x0705;
nix::ioctl_read_bad!(ioctl_i2c_funcs, I2C_FUNCS, nix::libc::c_ulong);

/// Maps an errno from the i2c-dev ioctls to the WIT error code.
pub fn errno_to_error_code(errno: i32) -> ErrorCode {
    match Errno::from_i32(errno) {
        Errno::ENXIO => ErrorCode::NoAcknowledge(NoAcknowledgeSource::Address),
        Errno::EREMOTEIO => ErrorCode::NoAcknowledge(NoAcknowledgeSource::Unknown),
        Errno::EAGAIN => ErrorCode::ArbitrationLoss,
        Errno::ETIMEDOUT | Errno::EBUSY => ErrorCode::Bus,
        _ => ErrorCode::Other,
    }
}

fn map_error(path: &Path, what: &str, e: LinuxI2CError) -> ErrorCode {
    let errno = match &e {
        LinuxI2CError::Errno(n) => Some(*n),
        LinuxI2CError::Io(io) => io.raw_os_error(),
    };
    let code = errno.map(errno_to_error_code).unwrap_or(ErrorCode::Other);
    match code {
        // Expected outcomes (probing, absent devices): not worth a warning.
        ErrorCode::NoAcknowledge(_) => {
            log::debug!("{}: {what}: {e} → {code}", path.display())
        }
        _ if errno == Some(Errno::EOPNOTSUPP as i32) => log::warn!(
            "{}: {what}: the adapter does not support this operation ({e}) → {code}",
            path.display()
        ),
        _ => log::warn!("{}: {what}: {e} → {code}", path.display()),
    }
    code
}

/// One SMBus command that puts exactly the transaction's bytes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmbusCall {
    /// Address only, direction bit = read (`true`) or write.
    Quick(bool),
    WriteByte(u8),
    WriteByteData(u8, u8),
    /// SMBus words go low byte first: the value is `u16::from_le_bytes(data[1..3])`.
    WriteWordData(u8, u16),
    WriteI2cBlock(u8, Vec<u8>),
    ReadByte,
    ReadByteData(u8),
    ReadWordData(u8),
    ReadI2cBlock(u8, u8),
}

/// Finds the SMBus command equivalent to a transaction (already merged into segments), given
/// the adapter's `I2C_FUNCS` bits. `Err` carries a description of the unsupported operation.
pub(crate) fn plan_smbus(segs: &[Segment], f: u32) -> Result<SmbusCall, String> {
    let has = |bit: u32| f & bit != 0;
    let call = match segs {
        [Segment::Write(d)] => match d.as_slice() {
            [] if has(funcs::SMBUS_QUICK) => Some(SmbusCall::Quick(false)),
            [b] if has(funcs::SMBUS_WRITE_BYTE) => Some(SmbusCall::WriteByte(*b)),
            [c, v] if has(funcs::SMBUS_WRITE_BYTE_DATA) => Some(SmbusCall::WriteByteData(*c, *v)),
            [c, lo, hi] if has(funcs::SMBUS_WRITE_WORD_DATA) => {
                Some(SmbusCall::WriteWordData(*c, u16::from_le_bytes([*lo, *hi])))
            }
            [c, rest @ ..]
                if !rest.is_empty()
                    && rest.len() <= SMBUS_BLOCK_MAX
                    && has(funcs::SMBUS_WRITE_I2C_BLOCK) =>
            {
                Some(SmbusCall::WriteI2cBlock(*c, rest.to_vec()))
            }
            _ => None,
        },
        [Segment::Read(0)] if has(funcs::SMBUS_QUICK) => Some(SmbusCall::Quick(true)),
        [Segment::Read(1)] if has(funcs::SMBUS_READ_BYTE) => Some(SmbusCall::ReadByte),
        [Segment::Write(w), Segment::Read(n)] if w.len() == 1 => {
            let c = w[0];
            match *n {
                1 if has(funcs::SMBUS_READ_BYTE_DATA) => Some(SmbusCall::ReadByteData(c)),
                2 if has(funcs::SMBUS_READ_WORD_DATA) => Some(SmbusCall::ReadWordData(c)),
                n if (1..=SMBUS_BLOCK_MAX).contains(&n) && has(funcs::SMBUS_READ_I2C_BLOCK) => {
                    Some(SmbusCall::ReadI2cBlock(c, n as u8))
                }
                _ => None,
            }
        }
        _ => None,
    };
    call.ok_or_else(|| describe(segs))
}

fn describe(segs: &[Segment]) -> String {
    let parts: Vec<String> = segs
        .iter()
        .map(|s| match s {
            Segment::Write(d) => format!("write {} byte(s)", d.len()),
            Segment::Read(n) => format!("read {n} byte(s)"),
        })
        .collect();
    if parts.is_empty() {
        "empty transaction".into()
    } else {
        parts.join(" + ")
    }
}

/// A bus opened through `/dev/i2c-N`.
pub struct LinuxI2c {
    path: PathBuf,
    funcs: u32,
    rdwr: LinuxI2CBus,
    /// Separate fd bound to one slave address (`I2C_SLAVE`), for SMBus commands.
    smbus: Option<(u16, LinuxI2CDevice)>,
}

impl std::fmt::Debug for LinuxI2c {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinuxI2c")
            .field("path", &self.path)
            .field("funcs", &format_args!("{:#010x}", self.funcs))
            .finish()
    }
}

impl LinuxI2c {
    /// Opens the adapter and reads its functionality bits.
    pub fn open(path: impl AsRef<Path>) -> std::io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let rdwr = LinuxI2CBus::new(&path).map_err(std::io::Error::from)?;
        let mut f: nix::libc::c_ulong = 0;
        // SAFETY: I2C_FUNCS writes one `unsigned long` through the pointer, which points to a
        // live local of that type; the fd is owned by `rdwr` and open.
        unsafe { ioctl_i2c_funcs(rdwr.as_raw_fd(), &mut f) }.map_err(|e| {
            std::io::Error::other(format!(
                "{}: I2C_FUNCS failed: {e} (not an i2c-dev node?)",
                path.display()
            ))
        })?;
        let funcs = f as u32;
        let mut smbus = None;
        if funcs & funcs::I2C == 0 {
            log::info!(
                "{}: adapter supports only SMBus (funcs {funcs:#010x}); transactions are mapped to SMBus commands where possible",
                path.display()
            );
            // The SMBus descriptor is opened now, with the bus: a host that switches user
            // after set-up (`--user`) could not open the root-only node later.
            // Address 0 (general call) is only a placeholder until the first command.
            match LinuxI2CDevice::new(&path, 0) {
                Ok(dev) => smbus = Some((0, dev)),
                Err(e) => log::debug!("{}: SMBus descriptor: {e}", path.display()),
            }
        }
        Ok(LinuxI2c {
            path,
            funcs,
            rdwr,
            smbus,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The adapter's `I2C_FUNCS` bits (see [`funcs`]).
    pub fn functionality(&self) -> u32 {
        self.funcs
    }

    fn rdwr(&mut self, address: u16, ops: &mut [Operation<'_>]) -> Result<(), ErrorCode> {
        let segs = segments(ops);
        if segs.len() > RDWR_MAX_MSGS {
            log::warn!(
                "{}: transaction of {} messages exceeds the kernel's I2C_RDWR limit of {RDWR_MAX_MSGS}",
                self.path.display(),
                segs.len()
            );
            return Err(ErrorCode::Other);
        }
        let mut bufs: Vec<(bool, Vec<u8>)> = Vec::with_capacity(segs.len());
        for s in segs {
            let (read, buf) = match s {
                Segment::Write(d) => (false, d),
                Segment::Read(n) => (true, vec![0u8; n]),
            };
            if buf.len() > RDWR_MAX_MSG_LEN {
                log::warn!(
                    "{}: message of {} bytes exceeds i2c-dev's limit of {RDWR_MAX_MSG_LEN}",
                    self.path.display(),
                    buf.len()
                );
                return Err(ErrorCode::Other);
            }
            bufs.push((read, buf));
        }
        let expected = bufs.len() as u32;
        let res = {
            let mut msgs: Vec<LinuxI2CMessage<'_>> = bufs
                .iter_mut()
                .map(|(read, buf)| {
                    if *read {
                        LinuxI2CMessage::read(buf.as_mut_slice())
                    } else {
                        LinuxI2CMessage::write(buf.as_slice())
                    }
                    .with_address(address)
                })
                .collect();
            self.rdwr.transfer(&mut msgs)
        };
        match res {
            Ok(n) if n == expected => {}
            Ok(n) => {
                log::warn!(
                    "{}: I2C_RDWR transferred {n} of {expected} messages",
                    self.path.display()
                );
                return Err(ErrorCode::Other);
            }
            Err(e) => return Err(map_error(&self.path, "I2C_RDWR", e)),
        }
        let read_bytes: Vec<u8> = bufs
            .into_iter()
            .filter(|(read, _)| *read)
            .flat_map(|(_, b)| b)
            .collect();
        scatter_reads(&read_bytes, ops);
        Ok(())
    }

    fn smbus_device(&mut self, address: u16) -> Result<&mut LinuxI2CDevice, ErrorCode> {
        let stale = !matches!(&self.smbus, Some((a, _)) if *a == address);
        if stale {
            let res = match self.smbus.take() {
                Some((_, mut dev)) => dev.set_slave_address(address).map(|_| dev),
                None => LinuxI2CDevice::new(&self.path, address),
            };
            match res {
                Ok(dev) => self.smbus = Some((address, dev)),
                Err(e) => {
                    if matches!(e, LinuxI2CError::Errno(n) if n == Errno::EBUSY as i32) {
                        log::warn!(
                            "{}: address {address:#04x} is in use by a kernel driver (I2C_SLAVE: EBUSY)",
                            self.path.display()
                        );
                        return Err(ErrorCode::Other);
                    }
                    return Err(map_error(&self.path, "I2C_SLAVE", e));
                }
            }
        }
        match &mut self.smbus {
            Some((_, dev)) => Ok(dev),
            None => Err(ErrorCode::Other),
        }
    }

    fn smbus(&mut self, address: u16, ops: &mut [Operation<'_>]) -> Result<(), ErrorCode> {
        let segs = segments(ops);
        let call = plan_smbus(&segs, self.funcs).map_err(|what| {
            log::warn!(
                "adapter {} supports only SMBus; operation {what} not supported",
                self.path.display()
            );
            ErrorCode::Other
        })?;
        let path = self.path.clone();
        let dev = self.smbus_device(address)?;
        let err = |e| map_error(&path, "SMBus", e);
        let read: Vec<u8> = match call {
            SmbusCall::Quick(r) => dev.smbus_write_quick(r).map(|_| vec![]).map_err(err)?,
            SmbusCall::WriteByte(b) => dev.smbus_write_byte(b).map(|_| vec![]).map_err(err)?,
            SmbusCall::WriteByteData(c, v) => dev
                .smbus_write_byte_data(c, v)
                .map(|_| vec![])
                .map_err(err)?,
            SmbusCall::WriteWordData(c, v) => dev
                .smbus_write_word_data(c, v)
                .map(|_| vec![])
                .map_err(err)?,
            SmbusCall::WriteI2cBlock(c, d) => dev
                .smbus_write_i2c_block_data(c, &d)
                .map(|_| vec![])
                .map_err(err)?,
            SmbusCall::ReadByte => vec![dev.smbus_read_byte().map_err(err)?],
            SmbusCall::ReadByteData(c) => vec![dev.smbus_read_byte_data(c).map_err(err)?],
            SmbusCall::ReadWordData(c) => dev
                .smbus_read_word_data(c)
                .map_err(err)?
                .to_le_bytes()
                .to_vec(),
            SmbusCall::ReadI2cBlock(c, n) => {
                let v = dev.smbus_read_i2c_block_data(c, n).map_err(err)?;
                if v.len() != usize::from(n) {
                    log::warn!(
                        "{}: SMBus I2C block read returned {} of {n} bytes",
                        path.display(),
                        v.len()
                    );
                    return Err(ErrorCode::Other);
                }
                v
            }
        };
        scatter_reads(&read, ops);
        Ok(())
    }
}

impl I2cBus for LinuxI2c {
    fn transaction(&mut self, address: u16, ops: &mut [Operation<'_>]) -> Result<(), ErrorCode> {
        if address > 0x7f {
            log::warn!(
                "{}: 10-bit address {address:#x} not supported",
                self.path.display()
            );
            return Err(ErrorCode::Other);
        }
        if self.funcs & funcs::I2C != 0 {
            self.rdwr(address, ops)
        } else {
            self.smbus(address, ops)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use funcs::*;

    const ALL_SMBUS: u32 = SMBUS_QUICK
        | SMBUS_READ_BYTE
        | SMBUS_WRITE_BYTE
        | SMBUS_READ_BYTE_DATA
        | SMBUS_WRITE_BYTE_DATA
        | SMBUS_READ_WORD_DATA
        | SMBUS_WRITE_WORD_DATA
        | SMBUS_READ_I2C_BLOCK
        | SMBUS_WRITE_I2C_BLOCK;

    fn w(d: &[u8]) -> Segment {
        Segment::Write(d.to_vec())
    }

    #[test]
    fn errno_mapping() {
        use NoAcknowledgeSource::*;
        assert_eq!(
            errno_to_error_code(nix::libc::ENXIO),
            ErrorCode::NoAcknowledge(Address)
        );
        assert_eq!(
            errno_to_error_code(nix::libc::EREMOTEIO),
            ErrorCode::NoAcknowledge(Unknown)
        );
        assert_eq!(
            errno_to_error_code(nix::libc::EAGAIN),
            ErrorCode::ArbitrationLoss
        );
        assert_eq!(errno_to_error_code(nix::libc::ETIMEDOUT), ErrorCode::Bus);
        assert_eq!(errno_to_error_code(nix::libc::EBUSY), ErrorCode::Bus);
        for e in [
            nix::libc::EIO,
            nix::libc::EOPNOTSUPP,
            nix::libc::EINVAL,
            nix::libc::EPROTO,
            nix::libc::EBADMSG,
            nix::libc::ESHUTDOWN,
            nix::libc::EPERM,
            0,
            99999,
        ] {
            assert_eq!(errno_to_error_code(e), ErrorCode::Other, "errno {e}");
        }
    }

    #[test]
    fn io_errors_map_through_raw_os_error() {
        let e = LinuxI2CError::Io(std::io::Error::from_raw_os_error(nix::libc::ENXIO));
        assert_eq!(
            map_error(Path::new("/dev/i2c-9"), "test", e),
            ErrorCode::NoAcknowledge(NoAcknowledgeSource::Address)
        );
        let e = LinuxI2CError::Io(std::io::Error::other("x"));
        assert_eq!(
            map_error(Path::new("/dev/i2c-9"), "test", e),
            ErrorCode::Other
        );
    }

    #[test]
    fn smbus_writes() {
        assert_eq!(
            plan_smbus(&[w(&[])], ALL_SMBUS),
            Ok(SmbusCall::Quick(false))
        );
        assert_eq!(
            plan_smbus(&[w(&[7])], ALL_SMBUS),
            Ok(SmbusCall::WriteByte(7))
        );
        assert_eq!(
            plan_smbus(&[w(&[1, 2])], ALL_SMBUS),
            Ok(SmbusCall::WriteByteData(1, 2))
        );
        assert_eq!(
            plan_smbus(&[w(&[1, 0x34, 0x12])], ALL_SMBUS),
            Ok(SmbusCall::WriteWordData(1, 0x1234))
        );
        let long: Vec<u8> = (0..33).collect();
        assert_eq!(
            plan_smbus(&[w(&long)], ALL_SMBUS),
            Ok(SmbusCall::WriteI2cBlock(0, (1..33).collect()))
        );
        let too_long: Vec<u8> = (0..34).collect();
        assert_eq!(
            plan_smbus(&[w(&too_long)], ALL_SMBUS),
            Err("write 34 byte(s)".into())
        );
    }

    #[test]
    fn smbus_write_falls_back_to_i2c_block() {
        let f = SMBUS_WRITE_I2C_BLOCK;
        assert_eq!(
            plan_smbus(&[w(&[1, 2])], f),
            Ok(SmbusCall::WriteI2cBlock(1, vec![2]))
        );
        assert_eq!(
            plan_smbus(&[w(&[1, 2, 3])], f),
            Ok(SmbusCall::WriteI2cBlock(1, vec![2, 3]))
        );
        assert!(plan_smbus(&[w(&[1])], f).is_err());
        assert!(plan_smbus(&[w(&[])], f).is_err());
    }

    #[test]
    fn smbus_reads() {
        assert_eq!(
            plan_smbus(&[Segment::Read(1)], ALL_SMBUS),
            Ok(SmbusCall::ReadByte)
        );
        assert_eq!(
            plan_smbus(&[Segment::Read(0)], ALL_SMBUS),
            Ok(SmbusCall::Quick(true))
        );
        assert_eq!(
            plan_smbus(&[Segment::Read(2)], ALL_SMBUS),
            Err("read 2 byte(s)".into())
        );
        assert_eq!(
            plan_smbus(&[w(&[0x10]), Segment::Read(1)], ALL_SMBUS),
            Ok(SmbusCall::ReadByteData(0x10))
        );
        assert_eq!(
            plan_smbus(&[w(&[0x10]), Segment::Read(2)], ALL_SMBUS),
            Ok(SmbusCall::ReadWordData(0x10))
        );
        assert_eq!(
            plan_smbus(&[w(&[0x10]), Segment::Read(32)], ALL_SMBUS),
            Ok(SmbusCall::ReadI2cBlock(0x10, 32))
        );
        assert_eq!(
            plan_smbus(&[w(&[0x10]), Segment::Read(2)], SMBUS_READ_I2C_BLOCK),
            Ok(SmbusCall::ReadI2cBlock(0x10, 2))
        );
        assert_eq!(
            plan_smbus(&[w(&[0x10]), Segment::Read(33)], ALL_SMBUS),
            Err("write 1 byte(s) + read 33 byte(s)".into())
        );
        // 2-byte register address (EEPROM random read) has no SMBus equivalent.
        assert!(plan_smbus(&[w(&[0, 0x10]), Segment::Read(4)], ALL_SMBUS).is_err());
        assert!(plan_smbus(&[w(&[0x10]), Segment::Read(0)], ALL_SMBUS).is_err());
        assert!(plan_smbus(&[Segment::Read(1), w(&[1])], ALL_SMBUS).is_err());
        assert_eq!(plan_smbus(&[], ALL_SMBUS), Err("empty transaction".into()));
    }

    #[test]
    fn smbus_needs_the_functionality_bit() {
        assert!(plan_smbus(&[w(&[7])], ALL_SMBUS & !SMBUS_WRITE_BYTE).is_err());
        assert!(plan_smbus(&[Segment::Read(1)], 0).is_err());
        assert!(plan_smbus(&[w(&[0x10]), Segment::Read(1)], SMBUS_READ_BYTE).is_err());
    }

    #[test]
    fn open_reports_missing_device() {
        let err = LinuxI2c::open("/nonexistent/i2c-99").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }

    #[test]
    fn open_rejects_a_non_i2c_node() {
        // /dev/null opens read-write but the I2C_FUNCS ioctl fails on it.
        let err = LinuxI2c::open("/dev/null").unwrap_err();
        assert!(err.to_string().contains("I2C_FUNCS"), "{err}");
    }
}
