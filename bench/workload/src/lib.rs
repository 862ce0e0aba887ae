//! Driver logic shared by every variant of the wasi-hw benchmarks.
//!
//! The same functions run natively (against the simulated bus through an embedded-hal
//! adapter) and inside the bench guests (against WASI-I2C through the guest SDK), so a
//! native-vs-wasm difference is the cost of the runtime and its host calls, not of
//! different driver code.
//!
//! - [`read_temperature`]: what the `temp-sensor` driver does for one reading (`tmp1x2`).
//! - [`timed_read_loop`]: the host-call benchmark, N 2-byte I2C reads, timed by the driver
//!   itself (a wasm guest reads the clock through WASI).
//! - [`BulkPipe`] / [`timed_round_trips`] / [`timed_stream`]: the USB bulk loopback
//!   benchmarks, over any backend that can do a bulk OUT and a bulk IN.
//! - [`timed_storage_rtt`] / [`timed_storage_read`]: USB mass-storage latency and
//!   throughput over a `wasi_hw_bulk_only` session (the VM benchmarks).
//!
//! Results are printed as one line of `key=value` words (see [`LoopResult::line`]) that
//! the harness parses.

use std::time::Instant;

use embedded_hal::i2c::I2c;
use tmp1x2::{SlaveAddr, Tmp1x2};
use wasi_hw_bulk_only::{BulkOnly, Transport, CBW_LEN, CSW_LEN, MAX_TRANSFER, READY_TRIES};

/// Address of the simulated TMP102 (and of QEMU's tmp105 in the VM tests).
pub const SENSOR_ADDR: u8 = 0x48;

/// One reading through the `tmp1x2` driver crate, as the `temp-sensor` guest does it.
pub fn read_temperature<I: I2c>(bus: I, addr: u8) -> Result<f32, tmp1x2::Error<I::Error>> {
    // SlaveAddr encodes the two address-pin bits above the 0x48 base.
    let pins = SlaveAddr::Alternative(addr & 0b10 != 0, addr & 0b01 != 0);
    Tmp1x2::new(bus, pins).read_temperature()
}

/// The line printed for one reading (same format as the `temp-sensor` guest).
pub fn format_reading(celsius: f32) -> String {
    format!("temperature: {celsius:.2} C")
}

/// Outcome of a timed loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopResult {
    /// Benchmark name (`i2c-read`, `usb-rtt`, `usb-stream`).
    pub name: &'static str,
    /// Operations timed (after the warm-up).
    pub ops: u64,
    /// Bytes moved by the timed operations.
    pub bytes: u64,
    /// Wall time of the timed operations, nanoseconds.
    pub elapsed_ns: u64,
    /// Folded data, so that no read can be optimised away (and to check the data).
    pub checksum: u32,
}

impl LoopResult {
    /// `bench=NAME ops=N bytes=B elapsed_ns=T checksum=C`: the line the harness parses.
    pub fn line(&self) -> String {
        format!(
            "bench={} ops={} bytes={} elapsed_ns={} checksum={}",
            self.name, self.ops, self.bytes, self.elapsed_ns, self.checksum
        )
    }
}

/// FNV-1a over the bytes read, continued from `checksum`.
fn fold(checksum: u32, data: &[u8]) -> u32 {
    data.iter().fold(checksum, |c, &b| {
        (c ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

const FNV_OFFSET: u32 = 0x811c_9dc5;

/// `warmup` untimed then `reads` timed 2-byte reads at `addr` (a TMP102 answers a plain
/// read with its current register, the temperature).
pub fn timed_read_loop<I: I2c>(
    bus: &mut I,
    addr: u8,
    reads: u64,
    warmup: u64,
) -> Result<LoopResult, I::Error> {
    let mut buf = [0u8; 2];
    let mut checksum = FNV_OFFSET;
    for _ in 0..warmup {
        bus.read(addr, &mut buf)?;
    }
    let start = Instant::now();
    for _ in 0..reads {
        bus.read(addr, &mut buf)?;
        checksum = fold(checksum, &buf);
    }
    let elapsed_ns = start.elapsed().as_nanos() as u64;
    Ok(LoopResult {
        name: "i2c-read",
        ops: reads,
        bytes: reads * 2,
        elapsed_ns,
        checksum,
    })
}

/// A device with a bulk loopback: what is written to the OUT endpoint comes back on IN.
pub trait BulkPipe {
    type Error: std::fmt::Debug;
    fn bulk_out(&mut self, data: &[u8]) -> Result<(), Self::Error>;
    /// Reads up to `len` bytes.
    fn bulk_in(&mut self, len: usize) -> Result<Vec<u8>, Self::Error>;
}

/// Why a loopback benchmark stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum LoopbackError<E> {
    Transfer(E),
    /// The device returned other bytes than were sent.
    Mismatch {
        round: u64,
    },
}

fn pattern(round: u64, size: usize) -> Vec<u8> {
    (0..size).map(|i| (round as usize + i) as u8).collect()
}

fn round_trip<P: BulkPipe>(
    pipe: &mut P,
    round: u64,
    size: usize,
) -> Result<Vec<u8>, LoopbackError<P::Error>> {
    let data = pattern(round, size);
    pipe.bulk_out(&data).map_err(LoopbackError::Transfer)?;
    let back = pipe.bulk_in(size).map_err(LoopbackError::Transfer)?;
    if back != data {
        return Err(LoopbackError::Mismatch { round });
    }
    Ok(back)
}

/// `rounds` timed round trips of `size` bytes (OUT then IN), after `warmup` untimed ones;
/// every echo is checked.
pub fn timed_round_trips<P: BulkPipe>(
    pipe: &mut P,
    size: usize,
    rounds: u64,
    warmup: u64,
) -> Result<LoopResult, LoopbackError<P::Error>> {
    for r in 0..warmup {
        round_trip(pipe, r, size)?;
    }
    let mut checksum = FNV_OFFSET;
    let start = Instant::now();
    for r in 0..rounds {
        checksum = fold(checksum, &round_trip(pipe, r, size)?);
    }
    Ok(LoopResult {
        name: "usb-rtt",
        ops: rounds,
        bytes: rounds * size as u64 * 2,
        elapsed_ns: start.elapsed().as_nanos() as u64,
        checksum,
    })
}

/// Throughput: `chunks` loopback round trips of `chunk` bytes each, timed together.
///
/// The payload is made once, outside the clock, and inside the loop only the length and
/// the first and last bytes of each echo are checked; the last echo is compared in full
/// after the clock stops. So the time is the transfers', not the driver's byte loops
/// (which run markedly slower as wasm without SIMD and would blur the runtime's share).
pub fn timed_stream<P: BulkPipe>(
    pipe: &mut P,
    chunk: usize,
    chunks: u64,
) -> Result<LoopResult, LoopbackError<P::Error>> {
    let data = pattern(0, chunk);
    round_trip(pipe, 0, chunk)?; // warm-up, fully checked
    let mut last = Vec::new();
    let start = Instant::now();
    for round in 0..chunks {
        pipe.bulk_out(&data).map_err(LoopbackError::Transfer)?;
        let back = pipe.bulk_in(chunk).map_err(LoopbackError::Transfer)?;
        if back.len() != chunk || back.first() != data.first() || back.last() != data.last() {
            return Err(LoopbackError::Mismatch { round });
        }
        last = back;
    }
    let elapsed_ns = start.elapsed().as_nanos() as u64;
    if chunks > 0 && last != data {
        return Err(LoopbackError::Mismatch { round: chunks - 1 });
    }
    Ok(LoopResult {
        name: "usb-stream",
        ops: chunks,
        bytes: chunks * chunk as u64 * 2,
        elapsed_ns,
        checksum: fold(FNV_OFFSET, &last),
    })
}

// USB mass storage: the VM benchmarks run on QEMU's usb-storage, which has no loopback.
// The protocol (CBW OUT, data phase, CSW IN, with the recovery a real driver does) is the
// `wasi-hw-bulk-only` crate, the same code the guest SDK's storage driver runs.

/// Why a storage benchmark stopped.
pub type StorageError<E> = wasi_hw_bulk_only::Error<E>;

/// What the timed storage loops do first, untimed: wait for the medium as a driver does
/// after claiming a device. A device that was reset, or that no driver has talked to since
/// it was plugged in, answers its first command with CHECK CONDITION / UNIT ATTENTION.
fn storage_ready<T: Transport>(bot: &mut BulkOnly<T>) -> Result<(), StorageError<T::Error>> {
    bot.wait_ready(READY_TRIES)
}

/// Latency: `rounds` timed TEST UNIT READY commands (a 31-byte OUT and a 13-byte IN, the
/// smallest exchange a mass-storage device answers) after `warmup` untimed ones.
pub fn timed_storage_rtt<T: Transport>(
    bot: &mut BulkOnly<T>,
    rounds: u64,
    warmup: u64,
) -> Result<LoopResult, StorageError<T::Error>> {
    storage_ready(bot)?;
    for _ in 0..warmup {
        bot.test_unit_ready()?;
    }
    let start = Instant::now();
    for _ in 0..rounds {
        bot.test_unit_ready()?;
    }
    Ok(LoopResult {
        name: "storage-rtt",
        ops: rounds,
        bytes: rounds * (CBW_LEN + CSW_LEN) as u64,
        elapsed_ns: start.elapsed().as_nanos() as u64,
        checksum: FNV_OFFSET,
    })
}

/// Throughput: `chunks` timed READ(10) commands of `chunk` bytes (rounded down to whole
/// blocks, at least one, at most one transfer's worth) walking through the medium and
/// wrapping at its end, after one untimed read. The checksum folds the first 16 bytes of
/// every chunk (enough to tell blocks apart, cheap enough not to blur the transfer time)
/// and the whole last chunk.
pub fn timed_storage_read<T: Transport>(
    bot: &mut BulkOnly<T>,
    chunk: usize,
    chunks: u64,
) -> Result<LoopResult, StorageError<T::Error>> {
    storage_ready(bot)?;
    let (blocks, block_len) = bot.read_capacity()?;
    if block_len == 0 || blocks == 0 || block_len > MAX_TRANSFER {
        return Err(StorageError::BadStatus(format!(
            "unusable capacity: {blocks} blocks of {block_len} bytes"
        )));
    }
    let per_transfer = u64::from(MAX_TRANSFER / block_len);
    let per = (chunk as u64 / u64::from(block_len)).clamp(1, blocks.min(per_transfer));
    let len = (per * u64::from(block_len)) as usize;
    let mut read = |lba: u64| bot.read10(lba as u32, per as u16, block_len);
    read(0)?;
    let mut checksum = FNV_OFFSET;
    let mut lba = 0;
    let mut last = Vec::new();
    let start = Instant::now();
    for _ in 0..chunks {
        if lba + per > blocks {
            lba = 0;
        }
        let data = read(lba)?;
        checksum = fold(checksum, &data[..data.len().min(16)]);
        lba += per;
        last = data;
    }
    let elapsed_ns = start.elapsed().as_nanos() as u64;
    Ok(LoopResult {
        name: "storage-read",
        ops: chunks,
        bytes: chunks * len as u64,
        elapsed_ns,
        checksum: fold(checksum, &last),
    })
}

/// Options of the bench drivers: `--bus NAME --addr ADDR --reads N --warmup N`, plus
/// `--size BYTES` for USB loops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub bus: String,
    pub addr: u8,
    pub reads: u64,
    pub warmup: u64,
    pub size: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bus: "sim".into(),
            addr: SENSOR_ADDR,
            reads: 10_000,
            warmup: 100,
            size: 32,
        }
    }
}

fn parse_int(name: &str, v: &str) -> Result<u64, String> {
    let parsed = match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => v.parse(),
    };
    parsed.map_err(|_| format!("{name} {v:?}: not a number"))
}

/// Parses the bench drivers' arguments (without the program name).
pub fn parse_options<I: IntoIterator<Item = String>>(args: I) -> Result<Options, String> {
    let mut o = Options::default();
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (a.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "--bus" => o.bus = value()?,
            "--addr" => {
                let v = value()?;
                o.addr = u8::try_from(parse_int("--addr", &v)?)
                    .ok()
                    .filter(|a| *a < 0x80)
                    .ok_or_else(|| format!("--addr {v}: not a 7-bit address"))?;
            }
            "--reads" => o.reads = parse_int("--reads", &value()?)?,
            "--warmup" => o.warmup = parse_int("--warmup", &value()?)?,
            "--size" => {
                let v = value()?;
                o.size = usize::try_from(parse_int("--size", &v)?)
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("--size {v}: must be at least 1"))?;
            }
            _ => return Err(format!("unexpected argument {a:?}")),
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal::i2c::{ErrorKind, ErrorType, Operation};

    /// A TMP102 register file answering every read with the temperature register.
    struct FakeSensor {
        reg: [u8; 2],
        reads: u64,
    }

    impl ErrorType for FakeSensor {
        type Error = ErrorKind;
    }

    impl I2c for FakeSensor {
        fn transaction(&mut self, address: u8, ops: &mut [Operation<'_>]) -> Result<(), ErrorKind> {
            if address != SENSOR_ADDR {
                return Err(ErrorKind::NoAcknowledge(
                    embedded_hal::i2c::NoAcknowledgeSource::Address,
                ));
            }
            for op in ops {
                if let Operation::Read(buf) = op {
                    buf.copy_from_slice(&self.reg);
                    self.reads += 1;
                }
            }
            Ok(())
        }
    }

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn temperature_through_tmp1x2() {
        let s = FakeSensor {
            reg: [0x17, 0x80],
            reads: 0,
        };
        let t = read_temperature(s, SENSOR_ADDR).unwrap();
        assert_eq!(format_reading(t), "temperature: 23.50 C");
    }

    #[test]
    fn read_loop_counts_and_checksums() {
        let mut s = FakeSensor {
            reg: [1, 2],
            reads: 0,
        };
        let r = timed_read_loop(&mut s, SENSOR_ADDR, 3, 2).unwrap();
        assert_eq!(s.reads, 5, "warm-up reads happen too");
        assert_eq!((r.ops, r.bytes), (3, 6));
        assert_eq!(
            r.checksum,
            fold(fold(fold(FNV_OFFSET, &[1, 2]), &[1, 2]), &[1, 2])
        );
        assert!(r
            .line()
            .starts_with("bench=i2c-read ops=3 bytes=6 elapsed_ns="));
        assert!(timed_read_loop(&mut s, 0x49, 1, 0).is_err());
    }

    struct Loopback {
        queue: Vec<u8>,
        corrupt: bool,
        /// Reads answered correctly before `corrupt` applies.
        good_reads: usize,
    }

    impl BulkPipe for Loopback {
        type Error = ();
        fn bulk_out(&mut self, data: &[u8]) -> Result<(), ()> {
            self.queue.extend_from_slice(data);
            Ok(())
        }
        fn bulk_in(&mut self, len: usize) -> Result<Vec<u8>, ()> {
            let mut out: Vec<u8> = self.queue.drain(..len.min(self.queue.len())).collect();
            if self.good_reads > 0 {
                self.good_reads -= 1;
            } else if self.corrupt {
                let mid = out.len() / 2;
                out[mid] ^= 1;
            }
            Ok(out)
        }
    }

    #[test]
    fn loopback_round_trips_are_checked() {
        let mut p = Loopback {
            queue: vec![],
            corrupt: false,
            good_reads: 0,
        };
        let r = timed_round_trips(&mut p, 32, 4, 1).unwrap();
        assert_eq!((r.name, r.ops, r.bytes), ("usb-rtt", 4, 256));
        let s = timed_stream(&mut p, 512, 2).unwrap();
        assert_eq!((s.name, s.bytes), ("usb-stream", 2048));
        p.corrupt = true;
        assert_eq!(
            timed_round_trips(&mut p, 8, 1, 0),
            Err(LoopbackError::Mismatch { round: 0 })
        );
        // The stream's warm-up round is checked in full too ...
        assert_eq!(
            timed_stream(&mut p, 8, 3),
            Err(LoopbackError::Mismatch { round: 0 })
        );
        // ... and the last echo after the clock, even if only its middle is wrong.
        p.queue.clear();
        p.good_reads = 3;
        assert_eq!(
            timed_stream(&mut p, 8, 3),
            Err(LoopbackError::Mismatch { round: 2 })
        );
    }

    /// A Bulk-Only disk of `blocks` 512-byte blocks whose byte `i` of block `n` is `n + i`,
    /// with the unit attention of a freshly reset device pending: its first command (other
    /// than REQUEST SENSE) fails with CHECK CONDITION and a data-in phase stalls.
    struct FakeDisk {
        blocks: u32,
        replies: std::collections::VecDeque<Result<Vec<u8>, &'static str>>,
        unit_attention: bool,
        sense: [u8; 3],
        fail_read: bool,
    }

    impl FakeDisk {
        fn new(blocks: u32) -> Self {
            FakeDisk {
                blocks,
                replies: Default::default(),
                unit_attention: true,
                sense: [0; 3],
                fail_read: false,
            }
        }
    }

    impl Transport for FakeDisk {
        type Error = &'static str;
        fn bulk_out(&mut self, w: &[u8]) -> Result<(), Self::Error> {
            assert_eq!((w.len(), &w[0..4]), (31, &b"USBC"[..]));
            let tag = &w[4..8];
            let cdb = &w[15..15 + usize::from(w[14])];
            let data_in = w[8..12] != [0; 4];
            let mut status = 0;
            match cdb[0] {
                0x03 => {
                    let mut d = vec![0u8; 18];
                    (d[2], d[12], d[13]) = (self.sense[0], self.sense[1], self.sense[2]);
                    self.sense = [0; 3];
                    self.replies.push_back(Ok(d));
                }
                _ if self.unit_attention => {
                    self.unit_attention = false;
                    self.sense = [0x06, 0x29, 0];
                    if data_in {
                        self.replies.push_back(Err("stall"));
                    }
                    status = 1;
                }
                0x00 => {}
                0x25 => {
                    let mut d = (self.blocks - 1).to_be_bytes().to_vec();
                    d.extend_from_slice(&512u32.to_be_bytes());
                    self.replies.push_back(Ok(d));
                }
                0x28 => {
                    let lba = u32::from_be_bytes([cdb[2], cdb[3], cdb[4], cdb[5]]);
                    let n = u32::from(u16::from_be_bytes([cdb[7], cdb[8]]));
                    assert!(lba + n <= self.blocks, "read past the end");
                    let d = (lba..lba + n)
                        .flat_map(|b| (0..512u32).map(move |i| (b + i) as u8))
                        .collect();
                    self.replies.push_back(Ok(d));
                    if self.fail_read {
                        self.sense = [0x03, 0x11, 0];
                        status = 1;
                    }
                }
                op => panic!("unexpected opcode {op:#x}"),
            }
            let mut csw = b"USBS".to_vec();
            csw.extend_from_slice(tag);
            csw.extend_from_slice(&[0, 0, 0, 0, status]);
            self.replies.push_back(Ok(csw));
            Ok(())
        }
        fn bulk_in(&mut self, len: usize) -> Result<Vec<u8>, Self::Error> {
            let d = self.replies.pop_front().ok_or("no reply")??;
            assert_eq!(
                d.len(),
                len,
                "the bench asks for exactly what the command returns"
            );
            Ok(d)
        }
        fn is_stall(e: &Self::Error) -> bool {
            *e == "stall"
        }
        fn clear_halt(&mut self, _dir_in: bool) -> Result<(), Self::Error> {
            Ok(())
        }
        fn mass_storage_reset(&mut self) -> Result<(), Self::Error> {
            Err("no reset expected")
        }
    }

    #[test]
    fn storage_loops_get_past_the_unit_attention_and_check_the_data() {
        // A fresh device: its first TEST UNIT READY fails; the loop recovers, untimed.
        let mut d = BulkOnly::new(FakeDisk::new(10));
        let r = timed_storage_rtt(&mut d, 3, 1).unwrap();
        assert_eq!((r.name, r.ops, r.bytes), ("storage-rtt", 3, 3 * 44));
        // 4 blocks per chunk over 10 blocks: LBAs 0, 4, then wrap to 0 (4 + 4 + 4 > 10).
        let mut d = BulkOnly::new(FakeDisk::new(10));
        let r = timed_storage_read(&mut d, 2048, 3).unwrap();
        assert_eq!((r.name, r.ops, r.bytes), ("storage-read", 3, 3 * 2048));
        let mut expect = FNV_OFFSET;
        for lba in [0u32, 4, 0] {
            let first: Vec<u8> = (0..16).map(|i| (lba + i) as u8).collect();
            expect = fold(expect, &first);
        }
        let last: Vec<u8> = (0..4u32)
            .flat_map(|b| (0..512u32).map(move |i| (b + i) as u8))
            .collect();
        assert_eq!(r.checksum, fold(expect, &last));
        // A chunk smaller than a block reads one block; a larger one than a transfer, one
        // transfer's worth.
        assert_eq!(timed_storage_read(&mut d, 100, 1).unwrap().bytes, 512);
        let mut big = BulkOnly::new(FakeDisk::new(1000));
        let r = timed_storage_read(&mut big, 1 << 20, 1).unwrap();
        assert_eq!(r.bytes, u64::from(MAX_TRANSFER));
        // A failed read is an error with the device's sense data, not a number.
        d.transport_mut().fail_read = true;
        assert_eq!(
            timed_storage_read(&mut d, 512, 1).unwrap_err().to_string(),
            "SCSI command 0x28 failed: sense key 0x3, ASC 0x11, ASCQ 0x00"
        );
    }

    #[test]
    fn options_parse() {
        assert_eq!(parse_options(words(&[])).unwrap(), Options::default());
        let o = parse_options(words(&[
            "--bus",
            "/dev/i2c-1",
            "--addr=0x49",
            "--reads",
            "5",
            "--warmup",
            "0",
            "--size",
            "64",
        ]))
        .unwrap();
        assert_eq!(
            o,
            Options {
                bus: "/dev/i2c-1".into(),
                addr: 0x49,
                reads: 5,
                warmup: 0,
                size: 64
            }
        );
        assert!(parse_options(words(&["--addr", "0x80"])).is_err());
        assert!(parse_options(words(&["--reads"])).is_err());
        assert!(parse_options(words(&["--reads", "x"])).is_err());
        assert!(parse_options(words(&["--size", "0"])).is_err());
        assert!(parse_options(words(&["extra"])).is_err());
    }
}
