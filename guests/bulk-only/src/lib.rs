//! USB mass storage, Bulk-Only Transport (USB MSC BOT 1.0; class 8, subclass 6 SCSI
//! transparent, protocol 0x50): the command/data/status phases with the stall and
//! phase-error recovery the specification prescribes, the SCSI commands a block reader
//! needs, and the start-up a real driver does (UNIT ATTENTION answered with REQUEST SENSE).
//!
//! It is the one implementation of the protocol in wasi-hw: the guest SDK runs it over
//! WASI-USB (`wasi_hw_guest::usb::storage`), `bench-native` over the host's USB backends,
//! the benchmarks (`wasi-hw-bench-workload`) time it, and the tests run it against fakes. A
//! user of the crate provides a [`Transport`]: bulk OUT, bulk IN, clear-halt and the class
//! reset on one claimed interface.

use std::fmt;

/// The bulk endpoint pair of a claimed mass-storage interface, and its class requests.
pub trait Transport {
    type Error: fmt::Debug;
    /// One bulk OUT transfer of `data`.
    fn bulk_out(&mut self, data: &[u8]) -> Result<(), Self::Error>;
    /// One bulk IN transfer of up to `len` bytes.
    fn bulk_in(&mut self, len: usize) -> Result<Vec<u8>, Self::Error>;
    /// Whether `error` means the endpoint stalled (libusb's `pipe`).
    fn is_stall(error: &Self::Error) -> bool;
    /// CLEAR_FEATURE(ENDPOINT_HALT) on the IN (`true`) or OUT endpoint.
    fn clear_halt(&mut self, dir_in: bool) -> Result<(), Self::Error>;
    /// Bulk-Only Mass Storage Reset: class request 0xff to the interface.
    fn mass_storage_reset(&mut self) -> Result<(), Self::Error>;
}

pub const CLASS_MASS_STORAGE: u8 = 8;
pub const SUBCLASS_SCSI: u8 = 6;
pub const PROTOCOL_BULK_ONLY: u8 = 0x50;

/// Command block wrapper length (host to device).
pub const CBW_LEN: usize = 31;
/// Command status wrapper length (device to host).
pub const CSW_LEN: usize = 13;
const CBW_SIGNATURE: u32 = 0x4342_5355; // "USBC"
const CSW_SIGNATURE: u32 = 0x5342_5355; // "USBS"
/// Largest data phase one command asks for.
pub const MAX_TRANSFER: u32 = 64 * 1024;

/// SCSI sense key of a unit attention (reset, power on, medium changed).
pub const SENSE_UNIT_ATTENTION: u8 = 0x06;
/// SCSI sense key NOT READY.
pub const SENSE_NOT_READY: u8 = 0x02;

/// SCSI sense data (fixed format).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sense {
    pub key: u8,
    pub asc: u8,
    pub ascq: u8,
}

impl Sense {
    /// Whether a command that failed with this sense may succeed when repeated shortly:
    /// a unit attention (reported once, then cleared by REQUEST SENSE), or NOT READY with
    /// "becoming ready" (ASC 04h, ASCQ 01h). Every other condition is final.
    pub fn is_transient(&self) -> bool {
        self.key == SENSE_UNIT_ATTENTION
            || (self.key == SENSE_NOT_READY && self.asc == 0x04 && self.ascq == 0x01)
    }
}

impl fmt::Display for Sense {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sense key {:#x}, ASC {:#04x}, ASCQ {:#04x}",
            self.key, self.asc, self.ascq
        )
    }
}

/// Why a mass-storage command failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error<E> {
    /// The transport failed.
    Transport(E),
    /// The device answered with a malformed or mismatched status wrapper, or with less
    /// data than the command returns.
    BadStatus(String),
    /// The command failed (CSW status 1), with the sense data if it could be read.
    CommandFailed { opcode: u8, sense: Option<Sense> },
    /// CSW status 2: the device lost track of the command; a reset recovery was done.
    PhaseError { opcode: u8 },
    /// The interface lacks a bulk IN or OUT endpoint.
    NoEndpoints,
}

impl<E> From<E> for Error<E> {
    fn from(e: E) -> Self {
        Error::Transport(e)
    }
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Transport(e) => write!(f, "usb: {e}"),
            Error::BadStatus(m) => write!(f, "bad command status wrapper: {m}"),
            Error::CommandFailed { opcode, sense } => match sense {
                Some(s) => write!(f, "SCSI command {opcode:#04x} failed: {s}"),
                None => write!(f, "SCSI command {opcode:#04x} failed"),
            },
            Error::PhaseError { opcode } => {
                write!(
                    f,
                    "phase error on SCSI command {opcode:#04x} (device reset)"
                )
            }
            Error::NoEndpoints => f.write_str("interface has no bulk IN/OUT endpoint pair"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for Error<E> {}

/// Standard INQUIRY data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inquiry {
    pub peripheral_type: u8,
    pub removable: bool,
    pub vendor: String,
    pub product: String,
    pub revision: String,
}

fn ascii(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim_end().to_string()
}

/// How often [`BulkOnly::wait_ready`] asks by default: a unit attention takes one failed
/// command, a device still spinning up a few more.
pub const READY_TRIES: u32 = 5;

/// A Bulk-Only Transport session on a claimed interface (LUN 0).
pub struct BulkOnly<T> {
    transport: T,
    tag: u32,
}

impl<T: Transport> BulkOnly<T> {
    pub fn new(transport: T) -> Self {
        BulkOnly { transport, tag: 0 }
    }

    /// The transport, e.g. for class requests this crate does not make.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Bulk-Only Mass Storage Reset, then clear both halts (BOT 5.3.4 reset recovery).
    pub fn reset_recovery(&mut self) -> Result<(), Error<T::Error>> {
        self.transport.mass_storage_reset()?;
        self.transport.clear_halt(true)?;
        self.transport.clear_halt(false)?;
        Ok(())
    }

    fn cbw(&mut self, cdb: &[u8], len: u32, dir_in: bool) -> [u8; CBW_LEN] {
        self.tag = self.tag.wrapping_add(1);
        let mut c = [0u8; CBW_LEN];
        c[0..4].copy_from_slice(&CBW_SIGNATURE.to_le_bytes());
        c[4..8].copy_from_slice(&self.tag.to_le_bytes());
        c[8..12].copy_from_slice(&len.to_le_bytes());
        c[12] = if dir_in { 0x80 } else { 0 };
        c[13] = 0; // LUN 0
        c[14] = cdb.len() as u8;
        c[15..15 + cdb.len()].copy_from_slice(cdb);
        c
    }

    /// Reads the CSW, clearing a stalled IN pipe once (BOT 6.7.2); (residue, status).
    fn status(&mut self) -> Result<(u32, u8), Error<T::Error>> {
        let csw = match self.transport.bulk_in(CSW_LEN) {
            Err(e) if T::is_stall(&e) => {
                self.transport.clear_halt(true)?;
                self.transport.bulk_in(CSW_LEN)?
            }
            other => other?,
        };
        if csw.len() != CSW_LEN {
            return Err(Error::BadStatus(format!("{} bytes", csw.len())));
        }
        let sig = u32::from_le_bytes([csw[0], csw[1], csw[2], csw[3]]);
        let tag = u32::from_le_bytes([csw[4], csw[5], csw[6], csw[7]]);
        if sig != CSW_SIGNATURE {
            return Err(Error::BadStatus(format!("signature {sig:#010x}")));
        }
        if tag != self.tag {
            return Err(Error::BadStatus(format!(
                "tag {tag} for command {}",
                self.tag
            )));
        }
        let residue = u32::from_le_bytes([csw[8], csw[9], csw[10], csw[11]]);
        Ok((residue, csw[12]))
    }

    /// Runs one command with an optional data-in phase of `len` bytes; returns the data.
    /// A failed command (CSW status 1) is followed by REQUEST SENSE, whose data is in the
    /// error; a phase error (status 2) by a reset recovery.
    pub fn command_in(&mut self, cdb: &[u8], len: u32) -> Result<Vec<u8>, Error<T::Error>> {
        assert!(!cdb.is_empty() && cdb.len() <= 16, "CDB is 1..=16 bytes");
        assert!(len <= MAX_TRANSFER, "data phase larger than MAX_TRANSFER");
        let cbw = self.cbw(cdb, len, true);
        self.transport.bulk_out(&cbw)?;
        let mut data = Vec::new();
        if len > 0 {
            match self.transport.bulk_in(len as usize) {
                Ok(d) => data = d,
                // The device has no (more) data: it stalled; the CSW follows the clear.
                Err(e) if T::is_stall(&e) => self.transport.clear_halt(true)?,
                Err(e) => return Err(e.into()),
            }
        }
        let (_residue, status) = self.status()?;
        match status {
            0 => Ok(data),
            1 => {
                // REQUEST SENSE itself failing has no sense to fetch.
                let sense = if cdb[0] == 0x03 {
                    None
                } else {
                    self.request_sense().ok()
                };
                Err(Error::CommandFailed {
                    opcode: cdb[0],
                    sense,
                })
            }
            _ => {
                self.reset_recovery()?;
                Err(Error::PhaseError { opcode: cdb[0] })
            }
        }
    }

    /// TEST UNIT READY: a 31-byte OUT and a 13-byte IN, the smallest exchange a
    /// mass-storage device answers.
    pub fn test_unit_ready(&mut self) -> Result<(), Error<T::Error>> {
        self.command_in(&[0x00, 0, 0, 0, 0, 0], 0).map(drop)
    }

    pub fn request_sense(&mut self) -> Result<Sense, Error<T::Error>> {
        let d = self.command_in(&[0x03, 0, 0, 0, 18, 0], 18)?;
        if d.len() < 14 {
            return Err(Error::BadStatus(format!("sense data of {} bytes", d.len())));
        }
        Ok(Sense {
            key: d[2] & 0x0f,
            asc: d[12],
            ascq: d[13],
        })
    }

    /// Waits for the medium as a driver does after claiming a device: TEST UNIT READY,
    /// and while it fails with a transient condition ([`Sense::is_transient`]: the unit
    /// attention every device reports after power-on or reset, or "becoming ready"),
    /// again, at most `tries` times in all. Any other failure is returned at once.
    pub fn wait_ready(&mut self, tries: u32) -> Result<(), Error<T::Error>> {
        let mut left = tries.max(1);
        loop {
            left -= 1;
            match self.test_unit_ready() {
                Err(Error::CommandFailed { sense: Some(s), .. })
                    if s.is_transient() && left > 0 => {}
                other => return other,
            }
        }
    }

    pub fn inquiry(&mut self) -> Result<Inquiry, Error<T::Error>> {
        let d = self.command_in(&[0x12, 0, 0, 0, 36, 0], 36)?;
        if d.len() < 36 {
            return Err(Error::BadStatus(format!(
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
    pub fn read_capacity(&mut self) -> Result<(u64, u32), Error<T::Error>> {
        let d = self.command_in(&[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], 8)?;
        if d.len() < 8 {
            return Err(Error::BadStatus(format!(
                "capacity data of {} bytes",
                d.len()
            )));
        }
        let last = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
        let block = u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
        Ok((u64::from(last) + 1, block))
    }

    /// READ(10) of `count` blocks from `lba`; exactly `count * block_len` bytes or an error.
    pub fn read10(
        &mut self,
        lba: u32,
        count: u16,
        block_len: u32,
    ) -> Result<Vec<u8>, Error<T::Error>> {
        let len = u32::from(count) * block_len;
        let l = lba.to_be_bytes();
        let c = count.to_be_bytes();
        let data = self.command_in(&[0x28, 0, l[0], l[1], l[2], l[3], 0, c[0], c[1], 0], len)?;
        if data.len() as u32 != len {
            return Err(Error::BadStatus(format!(
                "READ(10) returned {} of {len} bytes",
                data.len()
            )));
        }
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    const UNIT_ATTENTION_RESET: Sense = Sense {
        key: SENSE_UNIT_ATTENTION,
        asc: 0x29,
        ascq: 0,
    };

    #[derive(Debug, PartialEq, Eq)]
    enum Fault {
        Stall,
        Gone,
    }

    /// A one-LUN disk of `blocks` 512-byte blocks (byte `i` of block `n` is `n + i`) that,
    /// like a real one, reports a unit attention on the first commands after power-on
    /// (INQUIRY and REQUEST SENSE excepted) until REQUEST SENSE fetches it.
    struct FakeDisk {
        blocks: u32,
        pending: Option<Sense>,
        not_ready: u32,
        sense: Option<Sense>,
        replies: VecDeque<Result<Vec<u8>, Fault>>,
        resets: u32,
        commands: Vec<u8>,
    }

    impl FakeDisk {
        fn new(blocks: u32) -> Self {
            FakeDisk {
                blocks,
                pending: Some(UNIT_ATTENTION_RESET),
                not_ready: 0,
                sense: None,
                replies: VecDeque::new(),
                resets: 0,
                commands: Vec::new(),
            }
        }
    }

    impl Transport for FakeDisk {
        type Error = Fault;
        fn bulk_out(&mut self, w: &[u8]) -> Result<(), Fault> {
            assert_eq!((w.len(), &w[0..4]), (31, &b"USBC"[..]));
            let tag = &w[4..8];
            let cdb = &w[15..15 + usize::from(w[14])];
            self.commands.push(cdb[0]);
            let fail = |s: &mut Self, sense| {
                s.sense = Some(sense);
                1
            };
            let status = match cdb[0] {
                0x03 => {
                    let s = self.pending.take().or(self.sense.take());
                    let s = s.unwrap_or(Sense {
                        key: 0,
                        asc: 0,
                        ascq: 0,
                    });
                    let mut d = vec![0u8; 18];
                    d[0] = 0x70;
                    d[2] = s.key;
                    d[12] = s.asc;
                    d[13] = s.ascq;
                    self.replies.push_back(Ok(d));
                    0
                }
                0x12 => {
                    let mut d = vec![0, 0x80, 4, 2, 31, 0, 0, 0];
                    d.extend_from_slice(b"WASI-HW FAKE DISK       0001");
                    self.replies.push_back(Ok(d));
                    0
                }
                _ if self.pending.is_some() => {
                    let s = self.pending.unwrap();
                    if w[12] & 0x80 != 0 && w[8..12] != [0; 4] {
                        self.replies.push_back(Err(Fault::Stall));
                    }
                    fail(self, s)
                }
                0x00 if self.not_ready > 0 => {
                    self.not_ready -= 1;
                    fail(
                        self,
                        Sense {
                            key: SENSE_NOT_READY,
                            asc: 0x04,
                            ascq: 0x01,
                        },
                    )
                }
                0x00 => 0,
                0x25 => {
                    let mut d = (self.blocks - 1).to_be_bytes().to_vec();
                    d.extend_from_slice(&512u32.to_be_bytes());
                    self.replies.push_back(Ok(d));
                    0
                }
                0x28 => {
                    let lba = u32::from_be_bytes([cdb[2], cdb[3], cdb[4], cdb[5]]);
                    let n = u32::from(u16::from_be_bytes([cdb[7], cdb[8]]));
                    if lba + n > self.blocks {
                        self.replies.push_back(Err(Fault::Stall));
                        fail(
                            self,
                            Sense {
                                key: 5,
                                asc: 0x21,
                                ascq: 0,
                            },
                        )
                    } else {
                        let d = (lba..lba + n)
                            .flat_map(|b| (0..512u32).map(move |i| (b + i) as u8))
                            .collect();
                        self.replies.push_back(Ok(d));
                        0
                    }
                }
                op => panic!("unexpected opcode {op:#x}"),
            };
            let mut csw = b"USBS".to_vec();
            csw.extend_from_slice(tag);
            csw.extend_from_slice(&[0, 0, 0, 0, status]);
            self.replies.push_back(Ok(csw));
            Ok(())
        }
        fn bulk_in(&mut self, len: usize) -> Result<Vec<u8>, Fault> {
            let d = self.replies.pop_front().ok_or(Fault::Gone)??;
            assert!(d.len() <= len, "the device sends at most what was asked");
            Ok(d)
        }
        fn is_stall(e: &Fault) -> bool {
            *e == Fault::Stall
        }
        fn clear_halt(&mut self, _dir_in: bool) -> Result<(), Fault> {
            Ok(())
        }
        fn mass_storage_reset(&mut self) -> Result<(), Fault> {
            self.resets += 1;
            self.replies.clear();
            Ok(())
        }
    }

    #[test]
    fn first_command_after_power_on_reports_unit_attention_and_ready_recovers() {
        let mut bot = BulkOnly::new(FakeDisk::new(8));
        // A bare TEST UNIT READY fails with the unit attention, fetched by REQUEST SENSE ...
        assert_eq!(
            bot.test_unit_ready(),
            Err(Error::CommandFailed {
                opcode: 0,
                sense: Some(UNIT_ATTENTION_RESET)
            })
        );
        assert_eq!(bot.transport().commands, [0x00, 0x03]);
        // ... which cleared it: the next one passes.
        bot.test_unit_ready().unwrap();

        // wait_ready does that by itself, and a data command after it reads every byte.
        let mut bot = BulkOnly::new(FakeDisk::new(8));
        bot.wait_ready(READY_TRIES).unwrap();
        assert_eq!(bot.transport().commands, [0x00, 0x03, 0x00]);
        let d = bot.read10(2, 1, 512).unwrap();
        assert!(d
            .iter()
            .enumerate()
            .all(|(i, &b)| b == (2 + i as u32) as u8));
    }

    #[test]
    fn a_data_command_hit_by_the_unit_attention_stalls_then_reports_it() {
        let mut bot = BulkOnly::new(FakeDisk::new(8));
        let e = bot.read_capacity().unwrap_err();
        assert_eq!(
            e,
            Error::CommandFailed {
                opcode: 0x25,
                sense: Some(UNIT_ATTENTION_RESET)
            }
        );
        assert_eq!(bot.read_capacity().unwrap(), (8, 512));
    }

    #[test]
    fn wait_ready_retries_transient_conditions_only_and_is_bounded() {
        let mut d = FakeDisk::new(8);
        d.not_ready = 2;
        let mut bot = BulkOnly::new(d);
        // UNIT ATTENTION, then NOT READY (becoming ready) twice, then ready: four tries.
        bot.wait_ready(4).unwrap();

        let mut d = FakeDisk::new(8);
        d.not_ready = 10;
        let mut bot = BulkOnly::new(d);
        let e = bot.wait_ready(3).unwrap_err();
        assert!(
            matches!(e, Error::CommandFailed { sense: Some(s), .. } if s.key == SENSE_NOT_READY),
            "{e:?}"
        );
        assert_eq!(
            bot.transport().commands.iter().filter(|&&c| c == 0).count(),
            3
        );

        // A non-transient failure is not retried.
        let mut d = FakeDisk::new(8);
        d.pending = Some(Sense {
            key: 0x04,
            asc: 0x44,
            ascq: 0,
        });
        let mut bot = BulkOnly::new(d);
        assert!(bot.wait_ready(READY_TRIES).is_err());
        assert_eq!(bot.transport().commands, [0x00, 0x03]);
    }

    #[test]
    fn inquiry_is_answered_despite_the_unit_attention() {
        let mut bot = BulkOnly::new(FakeDisk::new(8));
        let inq = bot.inquiry().unwrap();
        assert_eq!(
            (
                inq.vendor.as_str(),
                inq.product.as_str(),
                inq.revision.as_str()
            ),
            ("WASI-HW", "FAKE DISK", "0001")
        );
        assert!(inq.removable);
    }

    #[test]
    fn out_of_range_read_reports_its_sense_and_short_data_is_an_error() {
        let mut bot = BulkOnly::new(FakeDisk::new(8));
        bot.wait_ready(READY_TRIES).unwrap();
        assert_eq!(
            bot.read10(7, 2, 512),
            Err(Error::CommandFailed {
                opcode: 0x28,
                sense: Some(Sense {
                    key: 5,
                    asc: 0x21,
                    ascq: 0
                })
            })
        );
        // Asking for 1024-byte blocks of a 512-byte disk: the data phase is short.
        assert!(matches!(bot.read10(0, 1, 1024), Err(Error::BadStatus(_))));
    }

    #[test]
    fn phase_error_resets_and_bad_wrappers_are_refused() {
        let mut bot = BulkOnly::new(FakeDisk::new(8));
        bot.wait_ready(READY_TRIES).unwrap();
        // A CSW with status 2.
        bot.transport.replies.clear();
        let tag = bot.tag + 1;
        let cbw_then_status = |bot: &mut BulkOnly<FakeDisk>, csw: Vec<u8>| {
            bot.transport.pending = None;
            bot.transport.replies.push_back(Ok(csw));
        };
        let mut csw = b"USBS".to_vec();
        csw.extend_from_slice(&tag.to_le_bytes());
        csw.extend_from_slice(&[0, 0, 0, 0, 2]);
        cbw_then_status(&mut bot, csw);
        // The fake answers TUR itself too; the pre-queued CSW comes first.
        assert_eq!(bot.test_unit_ready(), Err(Error::PhaseError { opcode: 0 }));
        assert_eq!(bot.transport().resets, 1);
        // A wrong signature and a wrong tag.
        let mut csw = b"XXXX".to_vec();
        csw.extend_from_slice(&(bot.tag + 1).to_le_bytes());
        csw.extend_from_slice(&[0; 5]);
        cbw_then_status(&mut bot, csw);
        assert!(
            matches!(bot.test_unit_ready(), Err(Error::BadStatus(m)) if m.contains("signature"))
        );
        bot.transport.replies.clear();
        let mut csw = b"USBS".to_vec();
        csw.extend_from_slice(&(bot.tag + 7).to_le_bytes());
        csw.extend_from_slice(&[0; 5]);
        cbw_then_status(&mut bot, csw);
        assert!(matches!(bot.test_unit_ready(), Err(Error::BadStatus(m)) if m.contains("tag")));
        // A vanished device is the transport's error, not a panic.
        bot.transport.replies.clear();
        bot.transport.replies.push_back(Err(Fault::Gone));
        assert_eq!(bot.test_unit_ready(), Err(Error::Transport(Fault::Gone)));
    }

    #[test]
    fn errors_read_as_one_line() {
        let e: Error<String> = Error::CommandFailed {
            opcode: 0,
            sense: Some(UNIT_ATTENTION_RESET),
        };
        assert_eq!(
            e.to_string(),
            "SCSI command 0x00 failed: sense key 0x6, ASC 0x29, ASCQ 0x00"
        );
    }
}
