//! A USB mass-storage function: Bulk-Only Transport carrying SCSI (transparent command set),
//! over a small in-memory disk filled with a known pattern.
//!
//! Supported commands: TEST UNIT READY, REQUEST SENSE, INQUIRY, MODE SENSE(6),
//! READ CAPACITY(10), READ(10), WRITE(10). Anything else fails with CHECK CONDITION and
//! ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE sense data, as a real disk would.
//!
//! Like a real disk (and QEMU's usb-storage), it has a unit attention pending after
//! power-on and after a port reset: the first command other than INQUIRY and REQUEST
//! SENSE fails with CHECK CONDITION, and the sense data say UNIT ATTENTION / POWER ON,
//! RESET, OR BUS DEVICE RESET OCCURRED. Drivers must get past it (REQUEST SENSE, retry).

use super::model::{Function, InOutcome, OutOutcome};
use crate::backend::TransferSetup;
use crate::error::{UsbError, UsbResult};

/// Block size of the simulated disk.
pub const BLOCK_SIZE: usize = 512;
/// Number of blocks (128 KiB disk).
pub const BLOCK_COUNT: u32 = 256;
/// INQUIRY vendor identification (8 bytes, space padded).
pub const INQUIRY_VENDOR: &[u8; 8] = b"WASI-HW ";
/// INQUIRY product identification (16 bytes, space padded).
pub const INQUIRY_PRODUCT: &[u8; 16] = b"SIM DISK        ";
/// INQUIRY product revision (4 bytes).
pub const INQUIRY_REVISION: &[u8; 4] = b"0001";

/// The initial content of block `lba`: an ASCII tag `WASI-HW LBA nnnn` (16 bytes) followed by
/// `(lba * 7 + i) & 0xff` for byte `i`.
pub fn pattern_block(lba: u32) -> [u8; BLOCK_SIZE] {
    let mut b = [0u8; BLOCK_SIZE];
    let tag = format!("WASI-HW LBA {:04}", lba % 10_000);
    b[..16].copy_from_slice(tag.as_bytes());
    for (i, v) in b.iter_mut().enumerate().skip(16) {
        *v = (lba.wrapping_mul(7) as usize + i) as u8;
    }
    b
}

const CBW_SIGNATURE: u32 = 0x4342_5355; // "USBC"
const CSW_SIGNATURE: u32 = 0x5342_5355; // "USBS"
const CBW_LEN: usize = 31;

/// Largest data phase the device accepts for one command (bounds host memory).
const MAX_DATA_PHASE: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sense {
    key: u8,
    asc: u8,
    ascq: u8,
}

const NO_SENSE: Sense = Sense {
    key: 0,
    asc: 0,
    ascq: 0,
};
const INVALID_OPCODE: Sense = Sense {
    key: 0x05,
    asc: 0x20,
    ascq: 0,
};
const LBA_OUT_OF_RANGE: Sense = Sense {
    key: 0x05,
    asc: 0x21,
    ascq: 0,
};
const INVALID_FIELD_IN_CDB: Sense = Sense {
    key: 0x05,
    asc: 0x24,
    ascq: 0,
};
/// UNIT ATTENTION, POWER ON, RESET, OR BUS DEVICE RESET OCCURRED.
pub const UNIT_ATTENTION_RESET: (u8, u8, u8) = (0x06, 0x29, 0x00);

#[derive(Debug)]
enum State {
    /// Waiting for a CBW on bulk OUT.
    Command,
    /// Sending `data[pos..]` on bulk IN, then the CSW.
    DataIn { data: Vec<u8>, pos: usize },
    /// Receiving `expected` bytes on bulk OUT for WRITE(10) at `lba`.
    DataOut {
        lba: u32,
        expected: usize,
        got: Vec<u8>,
    },
    /// Bulk IN stalled (the host asked for data the device does not have); after the host
    /// clears the halt, the CSW follows.
    StallThenStatus,
    /// The CSW is ready on bulk IN.
    Status,
    /// Receiving and dropping `left` bytes on bulk OUT for a command that failed before
    /// its data phase (BOT case 9: the device accepts what the host sends), then the CSW.
    DiscardOut { left: usize },
    /// Invalid CBW: both pipes stall until a Bulk-Only Mass Storage Reset.
    PhaseError,
}

pub struct MassStorage {
    ep_out: u8,
    ep_in: u8,
    disk: Vec<u8>,
    state: State,
    tag: u32,
    residue: u32,
    status: u8,
    sense: Sense,
    /// A unit attention waits for the next command (power-on, port reset).
    unit_attention: bool,
}

impl MassStorage {
    pub fn new(ep_out: u8, ep_in: u8) -> MassStorage {
        let mut disk = Vec::with_capacity(BLOCK_SIZE * BLOCK_COUNT as usize);
        for lba in 0..BLOCK_COUNT {
            disk.extend_from_slice(&pattern_block(lba));
        }
        MassStorage {
            ep_out,
            ep_in,
            disk,
            state: State::Command,
            tag: 0,
            residue: 0,
            status: 0,
            sense: NO_SENSE,
            unit_attention: true,
        }
    }

    fn csw(&self) -> Vec<u8> {
        let mut c = Vec::with_capacity(13);
        c.extend_from_slice(&CSW_SIGNATURE.to_le_bytes());
        c.extend_from_slice(&self.tag.to_le_bytes());
        c.extend_from_slice(&self.residue.to_le_bytes());
        c.push(self.status);
        c
    }

    fn fail(&mut self, sense: Sense) {
        self.status = 1;
        self.sense = sense;
    }

    /// Executes a CDB; returns the data-in payload (empty if none).
    fn execute(&mut self, cdb: &[u8], host_len: usize, host_in: bool) -> Option<Vec<u8>> {
        self.status = 0;
        let op = cdb.first().copied().unwrap_or(0xff);
        let be32 = |at: usize| u32::from_be_bytes([cdb[at], cdb[at + 1], cdb[at + 2], cdb[at + 3]]);
        let be16 = |at: usize| u16::from_be_bytes([cdb[at], cdb[at + 1]]);
        match op {
            // TEST UNIT READY
            0x00 => Some(Vec::new()),
            // REQUEST SENSE
            0x03 => {
                let mut s = vec![0u8; 18];
                s[0] = 0x70;
                s[2] = self.sense.key;
                s[7] = 10;
                s[12] = self.sense.asc;
                s[13] = self.sense.ascq;
                self.sense = NO_SENSE;
                let alloc = usize::from(cdb.get(4).copied().unwrap_or(18));
                s.truncate(alloc);
                Some(s)
            }
            // INQUIRY
            0x12 => {
                if cdb.len() < 6 {
                    self.fail(INVALID_FIELD_IN_CDB);
                    return None;
                }
                let mut d = vec![0x00, 0x80, 0x04, 0x02, 31, 0, 0, 0];
                d.extend_from_slice(INQUIRY_VENDOR);
                d.extend_from_slice(INQUIRY_PRODUCT);
                d.extend_from_slice(INQUIRY_REVISION);
                d.truncate(usize::from(be16(3)));
                Some(d)
            }
            // MODE SENSE(6): header only (no pages), not write protected.
            0x1a => {
                let mut d = vec![3, 0, 0, 0];
                d.truncate(usize::from(cdb.get(4).copied().unwrap_or(4)));
                Some(d)
            }
            // READ CAPACITY(10)
            0x25 => {
                let mut d = (BLOCK_COUNT - 1).to_be_bytes().to_vec();
                d.extend_from_slice(&(BLOCK_SIZE as u32).to_be_bytes());
                Some(d)
            }
            // READ(10)
            0x28 if cdb.len() >= 10 => {
                let lba = be32(2);
                let count = u32::from(be16(7));
                if u64::from(lba) + u64::from(count) > u64::from(BLOCK_COUNT) {
                    self.fail(LBA_OUT_OF_RANGE);
                    return None;
                }
                let bytes = count as usize * BLOCK_SIZE;
                if !host_in || bytes > host_len {
                    // Case 7/10 (Hi < Di or direction mismatch): phase error per BOT 6.7.
                    self.status = 2;
                    return None;
                }
                let start = lba as usize * BLOCK_SIZE;
                Some(self.disk[start..start + bytes].to_vec())
            }
            // WRITE(10): handled by the caller (data-out phase).
            _ => {
                self.fail(INVALID_OPCODE);
                None
            }
        }
    }

    fn command(&mut self, cbw: &[u8]) -> OutOutcome {
        if cbw.len() != CBW_LEN
            || u32::from_le_bytes([cbw[0], cbw[1], cbw[2], cbw[3]]) != CBW_SIGNATURE
            || cbw[13] != 0
            || !(1..=16).contains(&cbw[14])
        {
            log::debug!(
                "sim storage: invalid CBW ({} bytes), phase error",
                cbw.len()
            );
            self.state = State::PhaseError;
            return OutOutcome::Stall;
        }
        self.tag = u32::from_le_bytes([cbw[4], cbw[5], cbw[6], cbw[7]]);
        let host_len = u32::from_le_bytes([cbw[8], cbw[9], cbw[10], cbw[11]]) as usize;
        let host_in = cbw[12] & 0x80 != 0;
        let cdb = &cbw[15..15 + usize::from(cbw[14])];
        log::trace!(
            "sim storage: SCSI op {:#04x}, {host_len} bytes {}",
            cdb[0],
            if host_in { "in" } else { "out" }
        );
        // INQUIRY and REQUEST SENSE are answered despite a unit attention (SPC-4 5.14).
        if self.unit_attention && !matches!(cdb[0], 0x03 | 0x12) {
            self.unit_attention = false;
            let (key, asc, ascq) = UNIT_ATTENTION_RESET;
            self.fail(Sense { key, asc, ascq });
            self.residue = host_len as u32;
            self.state = match (host_in, host_len) {
                (_, 0) => State::Status,
                (true, _) => State::StallThenStatus,
                (false, left) => State::DiscardOut { left },
            };
            return OutOutcome::Accepted;
        }
        if cdb[0] == 0x2a && cdb.len() >= 10 {
            // WRITE(10)
            let lba = u32::from_be_bytes([cdb[2], cdb[3], cdb[4], cdb[5]]);
            let count = usize::from(u16::from_be_bytes([cdb[7], cdb[8]]));
            let bytes = count * BLOCK_SIZE;
            self.status = 0;
            if u64::from(lba) + count as u64 > u64::from(BLOCK_COUNT) {
                self.fail(LBA_OUT_OF_RANGE);
                self.residue = host_len as u32;
                self.state = State::Status;
            } else if host_in || bytes != host_len || bytes > MAX_DATA_PHASE {
                self.status = 2;
                self.residue = host_len as u32;
                self.state = State::Status;
            } else if bytes == 0 {
                self.residue = 0;
                self.state = State::Status;
            } else {
                self.state = State::DataOut {
                    lba,
                    expected: bytes,
                    got: Vec::with_capacity(bytes),
                };
            }
            return OutOutcome::Accepted;
        }
        match self.execute(cdb, host_len, host_in) {
            Some(mut data) if host_in && host_len > 0 => {
                data.truncate(host_len);
                self.residue = (host_len - data.len()) as u32;
                self.state = State::DataIn { data, pos: 0 };
            }
            Some(_) => {
                self.residue = host_len as u32;
                self.state = State::Status;
            }
            None => {
                self.residue = host_len as u32;
                // The host expects data the device will not send: stall bulk IN (case 4/5).
                self.state = if host_in && host_len > 0 {
                    State::StallThenStatus
                } else {
                    State::Status
                };
            }
        }
        OutOutcome::Accepted
    }
}

impl Function for MassStorage {
    fn control(
        &mut self,
        setup: &TransferSetup,
        _data: &[u8],
        _length: usize,
    ) -> UsbResult<Vec<u8>> {
        match (setup.bm_request_type, setup.b_request) {
            // Get Max LUN: one LUN.
            (0xa1, 0xfe) => Ok(vec![0]),
            // Bulk-Only Mass Storage Reset.
            (0x21, 0xff) => {
                self.state = State::Command;
                Ok(Vec::new())
            }
            _ => Err(UsbError::Pipe),
        }
    }

    fn bulk_out(&mut self, ep: u8, data: &[u8]) -> OutOutcome {
        if ep != self.ep_out {
            return OutOutcome::Stall;
        }
        match &mut self.state {
            State::Command => self.command(data),
            State::DataOut { lba, expected, got } => {
                let take = data.len().min(*expected - got.len());
                got.extend_from_slice(&data[..take]);
                if got.len() == *expected {
                    let start = *lba as usize * BLOCK_SIZE;
                    self.disk[start..start + got.len()].copy_from_slice(got);
                    self.residue = 0;
                    self.state = State::Status;
                }
                OutOutcome::Accepted
            }
            State::DiscardOut { left } => {
                *left -= data.len().min(*left);
                if *left == 0 {
                    self.state = State::Status;
                }
                OutOutcome::Accepted
            }
            State::PhaseError => OutOutcome::Stall,
            // Data while the device wants to send: NAK until the host reads.
            _ => OutOutcome::Nak,
        }
    }

    fn bulk_in(&mut self, ep: u8, max: usize) -> InOutcome {
        if ep != self.ep_in {
            return InOutcome::Stall;
        }
        match &mut self.state {
            State::DataIn { data, pos } => {
                let n = (data.len() - *pos).min(max);
                let chunk = data[*pos..*pos + n].to_vec();
                *pos += n;
                if *pos == data.len() {
                    self.state = State::Status;
                }
                InOutcome::Data(chunk)
            }
            State::Status => {
                let csw = self.csw();
                self.state = State::Command;
                InOutcome::Data(csw)
            }
            State::StallThenStatus => {
                self.state = State::Status;
                InOutcome::Stall
            }
            State::PhaseError => InOutcome::Stall,
            State::Command | State::DataOut { .. } | State::DiscardOut { .. } => InOutcome::Nak,
        }
    }

    fn reset(&mut self) {
        self.state = State::Command;
        self.sense = NO_SENSE;
        self.unit_attention = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cbw(tag: u32, len: u32, dir_in: bool, cdb: &[u8]) -> Vec<u8> {
        let mut c = Vec::new();
        c.extend_from_slice(&CBW_SIGNATURE.to_le_bytes());
        c.extend_from_slice(&tag.to_le_bytes());
        c.extend_from_slice(&len.to_le_bytes());
        c.push(if dir_in { 0x80 } else { 0 });
        c.push(0);
        c.push(cdb.len() as u8);
        let mut padded = cdb.to_vec();
        padded.resize(16, 0);
        c.extend_from_slice(&padded);
        c
    }

    fn read_in(s: &mut MassStorage, max: usize) -> Vec<u8> {
        match s.bulk_in(0x82, max) {
            InOutcome::Data(d) => d,
            other => panic!("expected data, got {other:?}"),
        }
    }

    fn csw_of(s: &mut MassStorage) -> (u32, u32, u8) {
        let c = read_in(s, 13);
        assert_eq!(c.len(), 13);
        assert_eq!(
            u32::from_le_bytes(c[0..4].try_into().unwrap()),
            CSW_SIGNATURE
        );
        (
            u32::from_le_bytes(c[4..8].try_into().unwrap()),
            u32::from_le_bytes(c[8..12].try_into().unwrap()),
            c[12],
        )
    }

    /// A disk past its power-on unit attention (what a driver's start-up does).
    fn ready_disk() -> MassStorage {
        let mut s = MassStorage::new(0x02, 0x82);
        s.bulk_out(0x02, &cbw(100, 0, false, &[0, 0, 0, 0, 0, 0]));
        assert_eq!(csw_of(&mut s), (100, 0, 1));
        s.bulk_out(0x02, &cbw(101, 18, true, &[0x03, 0, 0, 0, 18, 0]));
        let sense = read_in(&mut s, 18);
        assert_eq!((sense[2], sense[12], sense[13]), UNIT_ATTENTION_RESET);
        assert_eq!(csw_of(&mut s), (101, 0, 0));
        s
    }

    #[test]
    fn unit_attention_after_power_on_and_port_reset() {
        let mut s = ready_disk();
        s.bulk_out(0x02, &cbw(1, 0, false, &[0, 0, 0, 0, 0, 0]));
        assert_eq!(csw_of(&mut s), (1, 0, 0), "reported once");
        s.reset();
        // A data-in command hit by it: bulk IN stalls, then the CSW says failed.
        s.bulk_out(0x02, &cbw(2, 8, true, &[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
        assert!(matches!(s.bulk_in(0x82, 8), InOutcome::Stall));
        assert_eq!(csw_of(&mut s), (2, 8, 1));
        s.bulk_out(0x02, &cbw(3, 18, true, &[0x03, 0, 0, 0, 18, 0]));
        assert_eq!(read_in(&mut s, 18)[2], 0x06);
        assert_eq!(csw_of(&mut s), (3, 0, 0));
        // A data-out command hit by it: the data is accepted and dropped, nothing written.
        s.reset();
        s.bulk_out(
            0x02,
            &cbw(4, 512, false, &[0x2a, 0, 0, 0, 0, 9, 0, 0, 1, 0]),
        );
        assert_eq!(s.bulk_out(0x02, &[0xab; 512]), OutOutcome::Accepted);
        assert_eq!(csw_of(&mut s), (4, 512, 1));
        s.bulk_out(0x02, &cbw(5, 512, true, &[0x28, 0, 0, 0, 0, 9, 0, 0, 1, 0]));
        assert_eq!(read_in(&mut s, 512), pattern_block(9));
        assert_eq!(csw_of(&mut s), (5, 0, 0));
    }

    #[test]
    fn inquiry_capacity_read() {
        // INQUIRY is answered despite the power-on unit attention.
        let mut s = MassStorage::new(0x02, 0x82);
        assert_eq!(
            s.bulk_out(0x02, &cbw(1, 36, true, &[0x12, 0, 0, 0, 36, 0])),
            OutOutcome::Accepted
        );
        let inq = read_in(&mut s, 512);
        assert_eq!(inq.len(), 36);
        assert_eq!(&inq[8..16], INQUIRY_VENDOR);
        assert_eq!(&inq[16..32], INQUIRY_PRODUCT);
        assert_eq!(csw_of(&mut s), (1, 0, 0));

        let mut s = ready_disk();
        s.bulk_out(0x02, &cbw(2, 8, true, &[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
        let cap = read_in(&mut s, 512);
        assert_eq!(cap, [0, 0, 0, 255, 0, 0, 2, 0]);
        assert_eq!(csw_of(&mut s), (2, 0, 0));

        // READ(10) of blocks 5..7 in 512-byte transfers.
        s.bulk_out(
            0x02,
            &cbw(3, 1024, true, &[0x28, 0, 0, 0, 0, 5, 0, 0, 2, 0]),
        );
        let a = read_in(&mut s, 512);
        let b = read_in(&mut s, 512);
        assert_eq!(a, pattern_block(5));
        assert_eq!(b, pattern_block(6));
        assert_eq!(&a[..16], b"WASI-HW LBA 0005");
        assert_eq!(csw_of(&mut s), (3, 0, 0));
    }

    #[test]
    fn out_of_range_read_stalls_then_reports_sense() {
        let mut s = ready_disk();
        s.bulk_out(0x02, &cbw(9, 512, true, &[0x28, 0, 0, 0, 1, 0, 0, 0, 1, 0]));
        assert!(matches!(s.bulk_in(0x82, 512), InOutcome::Stall));
        assert_eq!(csw_of(&mut s), (9, 512, 1));
        s.bulk_out(0x02, &cbw(10, 18, true, &[0x03, 0, 0, 0, 18, 0]));
        let sense = read_in(&mut s, 512);
        assert_eq!((sense[2], sense[12]), (0x05, 0x21));
        assert_eq!(csw_of(&mut s), (10, 0, 0));
    }

    #[test]
    fn unknown_opcode_and_bad_cbw() {
        let mut s = ready_disk();
        s.bulk_out(0x02, &cbw(4, 0, false, &[0xee, 0, 0, 0, 0, 0]));
        assert_eq!(csw_of(&mut s), (4, 0, 1));
        assert_eq!(s.bulk_out(0x02, b"garbage"), OutOutcome::Stall);
        assert!(matches!(s.bulk_in(0x82, 13), InOutcome::Stall));
        // Bulk-Only Mass Storage Reset recovers.
        let reset = TransferSetup {
            bm_request_type: 0x21,
            b_request: 0xff,
            w_value: 0,
            w_index: 0,
        };
        s.control(&reset, &[], 0).unwrap();
        s.bulk_out(0x02, &cbw(5, 0, false, &[0, 0, 0, 0, 0, 0]));
        assert_eq!(csw_of(&mut s), (5, 0, 0));
    }

    #[test]
    fn write_then_read_back() {
        let mut s = ready_disk();
        s.bulk_out(
            0x02,
            &cbw(6, 512, false, &[0x2a, 0, 0, 0, 0, 9, 0, 0, 1, 0]),
        );
        assert_eq!(s.bulk_out(0x02, &[0xab; 512]), OutOutcome::Accepted);
        assert_eq!(csw_of(&mut s), (6, 0, 0));
        s.bulk_out(0x02, &cbw(7, 512, true, &[0x28, 0, 0, 0, 0, 9, 0, 0, 1, 0]));
        assert_eq!(read_in(&mut s, 512), vec![0xab; 512]);
        assert_eq!(csw_of(&mut s), (7, 0, 0));
    }
}
