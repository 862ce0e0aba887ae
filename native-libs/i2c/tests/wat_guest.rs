//! The I2C natives driven by hand-written WAT guests through WAMR (interpreter), against the
//! simulated bus: exact bytes, error codes in guest memory, hostile pointers and lengths.
//! Every scenario runs twice: in the interpreter and AOT-compiled (module `interp`, `aot`).
//! Real Rust guests (SDK + drivers) are tested end to end by the root crate.

use wasi_hw_engine::{Engine, Error, Instance, InstanceConfig, Module, ModuleKind, Val};
use wasi_hw_i2c::abi::{self, RawOperation};
use wasi_hw_i2c::backend::sim::{EepromConfig, SimBus, SimEeprom, SimTmp102};
use wasi_hw_i2c::{ErrorCode, I2cConfig, I2cHost, NoAcknowledgeSource};

/// Imports every native with its canonical-ABI flat signature and re-exports it unchanged,
/// so the test can pass any (also hostile) argument; plus memory pokes and a bump
/// `cabi_realloc` whose break (`heap`) shows whether the host allocated anything.
const GUEST: &str = r#"
(module
  (import "wasi:i2c/i2c@0.2.0-draft" "[method]i2c.read" (func $read (param i32 i32 i64 i32)))
  (import "wasi:i2c/i2c@0.2.0-draft" "[method]i2c.write" (func $write (param i32 i32 i32 i32 i32)))
  (import "wasi:i2c/i2c@0.2.0-draft" "[method]i2c.write-read" (func $write_read (param i32 i32 i32 i32 i64 i32)))
  (import "wasi:i2c/i2c@0.2.0-draft" "[method]i2c.transaction" (func $transaction (param i32 i32 i32 i32 i32)))
  (import "wasi:i2c/i2c@0.2.0-draft" "[resource-drop]i2c" (func $drop_i2c (param i32)))
  (import "wasi:i2c/delay@0.2.0-draft" "[method]delay.delay-ns" (func $delay_ns (param i32 i32)))
  (import "wasi:i2c/delay@0.2.0-draft" "[resource-drop]delay" (func $drop_delay (param i32)))
  (import "wasi-hw:host/buses@0.1.0" "open-i2c" (func $open_i2c (param i32 i32 i32)))
  (import "wasi-hw:host/buses@0.1.0" "open-delay" (func $open_delay (result i32)))
  (memory (export "memory") 1 16)
  (global $heap (mut i32) (i32.const 0x1000))

  (func (export "cabi_realloc") (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
    (local $p i32) (local $have i32)
    ;; p = align_up(heap, align); heap = p + size
    (local.set $p (i32.and (i32.sub (i32.add (global.get $heap) (local.get $align)) (i32.const 1))
                           (i32.sub (i32.const 0) (local.get $align))))
    (global.set $heap (i32.add (local.get $p) (local.get $size)))
    (local.set $have (i32.shl (memory.size) (i32.const 16)))
    (if (i32.gt_u (global.get $heap) (local.get $have))
      (then
        (if (i32.eq (memory.grow (i32.shr_u (i32.add (i32.sub (global.get $heap) (local.get $have))
                                                      (i32.const 0xFFFF))
                                             (i32.const 16)))
                    (i32.const -1))
          (then unreachable))))
    (local.get $p))

  (func (export "heap") (result i32) (global.get $heap))
  (func (export "peek8") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "poke8") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))

  (func (export "read") (param i32 i32 i64 i32)
    (call $read (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
  (func (export "write") (param i32 i32 i32 i32 i32)
    (call $write (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)))
  (func (export "write-read") (param i32 i32 i32 i32 i64 i32)
    (call $write_read (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4) (local.get 5)))
  (func (export "transaction") (param i32 i32 i32 i32 i32)
    (call $transaction (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)))
  (func (export "drop-i2c") (param i32) (call $drop_i2c (local.get 0)))
  (func (export "delay-ns") (param i32 i32) (call $delay_ns (local.get 0) (local.get 1)))
  (func (export "drop-delay") (param i32) (call $drop_delay (local.get 0)))
  (func (export "open-i2c") (param i32 i32 i32) (call $open_i2c (local.get 0) (local.get 1) (local.get 2)))
  (func (export "open-delay") (result i32) (call $open_delay))
)
"#;

// Guest memory map used by the tests.
const NAME: u32 = 0x100;
const RET: u32 = 0x200;
const DATA: u32 = 0x300;
const OPS: u32 = 0x400;

const SENSOR: u16 = 0x48;
const ABSENT: u16 = 0x49;
const EEPROM: u16 = 0x50;
const DENIED: u16 = 0x51;

struct Guest {
    inst: Instance,
    sim: SimBus,
    sensor: SimTmp102,
    eeprom: SimEeprom,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Interp,
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    Aot,
}

/// Loads a WAT guest, as bytecode for the interpreter or compiled by the AOT compiler (wasi-hw-aotc)
/// for the host (software bounds checks on, as the CLI compiles).
fn load(wat: &str, mode: Mode) -> Module {
    let engine = Engine::new().unwrap();
    wasi_hw_i2c::register(&engine).unwrap();
    let wasm = wat::parse_str(wat).unwrap();
    let bytes = match mode {
        Mode::Interp => wasm,
        #[cfg(target_arch = "x86_64")]
        Mode::Aot => {
            wasi_hw_aotc::compile(&wasm, &wasi_hw_aotc::CompileOptions::default()).unwrap()
        }
        #[cfg(not(target_arch = "x86_64"))]
        Mode::Aot => unreachable!("no AOT compiler in 32-bit ARM builds"),
    };
    let module = Module::new(&engine, bytes).unwrap();
    let expect = match mode {
        Mode::Interp => ModuleKind::Wasm,
        Mode::Aot => ModuleKind::Aot,
    };
    assert_eq!(module.kind(), expect);
    module
}

fn i32v(x: u32) -> Val {
    Val::I32(x as i32)
}

impl Guest {
    fn new(mode: Mode) -> Guest {
        Self::with_grants(mode, &["sim:0x48,0x49,0x50"])
    }

    fn with_grants(mode: Mode, grants: &[&str]) -> Guest {
        let module = load(GUEST, mode);
        let sim = SimBus::new();
        let sensor = SimTmp102::new(23.5);
        let eeprom = SimEeprom::new(EepromConfig::at24c32());
        sim.attach_tmp102(SENSOR, sensor.clone());
        sim.attach_eeprom(EEPROM, eeprom.clone());
        sim.attach_tmp102(DENIED, SimTmp102::new(0.0));
        let host = I2cConfig::from_grants(grants)
            .unwrap()
            .with_bus("sim", sim.clone())
            .build()
            .unwrap();
        let mut inst = Instance::new(&module, &InstanceConfig::default()).unwrap();
        wasi_hw_i2c::install(&mut inst, host);
        Guest {
            inst,
            sim,
            sensor,
            eeprom,
        }
    }

    fn call(&mut self, name: &str, args: &[Val]) -> Result<Vec<Val>, Error> {
        self.inst.call(name, args)
    }

    fn poke(&mut self, addr: u32, bytes: &[u8]) {
        for (i, b) in bytes.iter().enumerate() {
            self.call("poke8", &[i32v(addr + i as u32), Val::I32(i32::from(*b))])
                .unwrap();
        }
    }

    fn peek(&mut self, addr: u32, len: u32) -> Vec<u8> {
        (0..len)
            .map(
                |i| match self.call("peek8", &[i32v(addr + i)]).unwrap()[0] {
                    Val::I32(v) => v as u8,
                    v => panic!("peek8 returned {v:?}"),
                },
            )
            .collect()
    }

    fn peek_u32(&mut self, addr: u32) -> u32 {
        u32::from_le_bytes(self.peek(addr, 4).try_into().unwrap())
    }

    fn heap(&mut self) -> u32 {
        match self.call("heap", &[]).unwrap()[0] {
            Val::I32(v) => v as u32,
            v => panic!("heap returned {v:?}"),
        }
    }

    fn host(&self) -> &I2cHost {
        self.inst.extensions().get::<I2cHost>().unwrap()
    }

    fn error_at(&mut self, at: u32) -> ErrorCode {
        let b = self.peek(at, 2);
        abi::decode_error_code([b[0], b[1]]).expect("valid error-code")
    }

    /// Decodes `result<list<u8>, error-code>` at RET.
    fn list_result(&mut self) -> Result<Vec<u8>, ErrorCode> {
        match self.peek(RET, 1)[0] {
            0 => {
                let (ptr, len) = (self.peek_u32(RET + 4), self.peek_u32(RET + 8));
                assert_ne!(ptr, 0, "list pointers are never null");
                Ok(self.peek(ptr, len))
            }
            1 => Err(self.error_at(RET + 4)),
            d => panic!("bad result discriminant {d}"),
        }
    }

    fn open(&mut self, name: &str) -> Result<u32, ErrorCode> {
        self.poke(NAME, name.as_bytes());
        self.call(
            "open-i2c",
            &[i32v(NAME), i32v(name.len() as u32), i32v(RET)],
        )
        .unwrap();
        match self.peek(RET, 1)[0] {
            0 => Ok(self.peek_u32(RET + 4)),
            1 => Err(self.error_at(RET + 4)),
            d => panic!("bad result discriminant {d}"),
        }
    }

    fn read(&mut self, h: u32, addr: u16, len: u64) -> Result<Vec<u8>, Error> {
        self.call(
            "read",
            &[i32v(h), i32v(addr.into()), Val::I64(len as i64), i32v(RET)],
        )?;
        Ok(self
            .list_result()
            .unwrap_or_else(|e| panic!("read failed: {e}")))
    }

    fn read_result(&mut self, h: u32, addr: u16, len: u64) -> Result<Vec<u8>, ErrorCode> {
        self.call(
            "read",
            &[i32v(h), i32v(addr.into()), Val::I64(len as i64), i32v(RET)],
        )
        .unwrap();
        self.list_result()
    }

    fn write(&mut self, h: u32, addr: u16, data: &[u8]) -> Result<(), ErrorCode> {
        self.poke(DATA, data);
        self.call(
            "write",
            &[
                i32v(h),
                i32v(addr.into()),
                i32v(DATA),
                i32v(data.len() as u32),
                i32v(RET),
            ],
        )
        .unwrap();
        match self.peek(RET, 1)[0] {
            0 => Ok(()),
            1 => Err(self.error_at(RET + 1)),
            d => panic!("bad result discriminant {d}"),
        }
    }

    fn write_read(
        &mut self,
        h: u32,
        addr: u16,
        data: &[u8],
        read_len: u64,
    ) -> Result<Vec<u8>, ErrorCode> {
        self.poke(DATA, data);
        self.call(
            "write-read",
            &[
                i32v(h),
                i32v(addr.into()),
                i32v(DATA),
                i32v(data.len() as u32),
                Val::I64(read_len as i64),
                i32v(RET),
            ],
        )
        .unwrap();
        self.list_result()
    }

    /// Lays out `ops` at OPS (write payloads after DATA) and runs a transaction.
    fn transaction(
        &mut self,
        h: u32,
        addr: u16,
        ops: &[Op],
    ) -> Result<Result<Vec<Vec<u8>>, ErrorCode>, Error> {
        let mut data_at = DATA;
        let mut raw = Vec::new();
        for op in ops {
            let r = match op {
                Op::Read(n) => RawOperation::Read(*n),
                Op::Write(d) => {
                    self.poke(data_at, d);
                    let r = RawOperation::Write {
                        ptr: data_at,
                        len: d.len() as u32,
                    };
                    data_at += d.len() as u32;
                    r
                }
            };
            raw.extend_from_slice(&abi::encode_operation(r));
        }
        self.poke(OPS, &raw);
        self.call(
            "transaction",
            &[
                i32v(h),
                i32v(addr.into()),
                i32v(OPS),
                i32v(ops.len() as u32),
                i32v(RET),
            ],
        )?;
        Ok(match self.peek(RET, 1)[0] {
            0 => {
                let (ptr, n) = (self.peek_u32(RET + 4), self.peek_u32(RET + 8));
                assert_eq!(ptr % 4, 0, "outer list must be 4-aligned");
                Ok((0..n)
                    .map(|i| {
                        let (p, l) = (self.peek_u32(ptr + 8 * i), self.peek_u32(ptr + 8 * i + 4));
                        assert_ne!(p, 0, "list pointers are never null");
                        self.peek(p, l)
                    })
                    .collect())
            }
            1 => Err(self.error_at(RET + 4)),
            d => panic!("bad result discriminant {d}"),
        })
    }

    fn trap_message(r: Result<Vec<Val>, Error>) -> String {
        match r {
            Err(Error::Trap(m)) => m,
            other => panic!("expected a trap, got {other:?}"),
        }
    }
}

enum Op {
    Read(u64),
    Write(Vec<u8>),
}

fn reads_the_simulated_sensor(mode: Mode) {
    let mut g = Guest::new(mode);
    let h = g.open("sim").unwrap();
    assert_eq!(g.write_read(h, SENSOR, &[0x00], 2), Ok(vec![0x17, 0x80]));
    // A zero-length read is an address probe: it succeeds with an empty list.
    assert_eq!(g.read(h, SENSOR, 0).unwrap(), Vec::<u8>::new());
    g.sensor.set_temperature(-25.0625);
    // -25.0625 °C = -401/16 → 0xE6F0
    assert_eq!(g.write_read(h, SENSOR, &[0x00], 2), Ok(vec![0xE6, 0xF0]));
    // Pointer stays at 0: a plain read returns the temperature again.
    assert_eq!(g.read(h, SENSOR, 2).unwrap(), vec![0xE6, 0xF0]);
    // Configuration register via write then read.
    assert_eq!(g.write(h, SENSOR, &[0x01, 0x60, 0xB0]), Ok(()));
    assert!(g.sensor.extended_mode());
    assert_eq!(g.write_read(h, SENSOR, &[0x01], 2), Ok(vec![0x60, 0xB0]));
}

fn eeprom_round_trip_with_page_wrap(mode: Mode) {
    let mut g = Guest::new(mode);
    let h = g.open("sim").unwrap();
    let data: Vec<u8> = (1..=8).collect();
    // 0x0010 with 32-byte pages: fits in one page.
    let mut msg = vec![0x00, 0x10];
    msg.extend_from_slice(&data);
    assert_eq!(g.write(h, EEPROM, &msg), Ok(()));
    assert_eq!(&g.eeprom.contents()[0x10..0x18], data.as_slice());
    assert_eq!(g.write_read(h, EEPROM, &[0x00, 0x10], 8), Ok(data.clone()));
    // Starting 2 bytes before a page end: bytes 3.. wrap to the page start (0x20).
    assert_eq!(g.write(h, EEPROM, &[0x00, 0x3E, 0xA1, 0xA2, 0xA3]), Ok(()));
    let m = g.eeprom.contents();
    assert_eq!(&m[0x3E..0x40], &[0xA1, 0xA2]);
    assert_eq!(m[0x20], 0xA3);
    assert_eq!(m[0x40], 0xFF);
    // Sequential read runs across the page boundary.
    assert_eq!(
        g.write_read(h, EEPROM, &[0x00, 0x3E], 3),
        Ok(vec![0xA1, 0xA2, 0xFF])
    );
    // Large read in one call (well under the 64 KiB limit).
    let all = g.write_read(h, EEPROM, &[0x00, 0x00], 4096).unwrap();
    assert_eq!(all, g.eeprom.contents());
}

fn transaction_returns_one_list_per_operation(mode: Mode) {
    let mut g = Guest::new(mode);
    let h = g.open("sim").unwrap();
    g.eeprom.load(0x100, &[10, 11, 12, 13, 14, 15]);
    let r = g
        .transaction(
            h,
            EEPROM,
            &[
                Op::Write(vec![0x01]),
                Op::Write(vec![0x00]), // same direction: continues the address bytes
                Op::Read(3),
                Op::Read(2),
            ],
        )
        .unwrap();
    assert_eq!(r, Ok(vec![vec![], vec![], vec![10, 11, 12], vec![13, 14]]));
    let t = g.sim.traffic();
    assert_eq!((t.transactions, t.bytes_written, t.bytes_read), (1, 2, 5));

    let r = g
        .transaction(h, SENSOR, &[Op::Write(vec![0x00]), Op::Read(2)])
        .unwrap();
    assert_eq!(r, Ok(vec![vec![], vec![0x17, 0x80]]));
    // An empty transaction is valid and returns an empty list.
    assert_eq!(g.transaction(h, SENSOR, &[]).unwrap(), Ok(vec![]));
}

fn nack_on_absent_address_reaches_the_guest(mode: Mode) {
    let mut g = Guest::new(mode);
    let h = g.open("sim").unwrap();
    let nack = ErrorCode::NoAcknowledge(NoAcknowledgeSource::Address);
    assert_eq!(g.read_result(h, ABSENT, 1), Err(nack));
    assert_eq!(g.write(h, ABSENT, &[1, 2]), Err(nack));
    assert_eq!(g.write_read(h, ABSENT, &[0], 2), Err(nack));
    assert_eq!(g.transaction(h, ABSENT, &[Op::Read(1)]).unwrap(), Err(nack));
    // In memory: result disc 1, error case 2 (no-acknowledge), source 0 (address).
    assert_eq!(g.peek(RET, 1), vec![1]);
    assert_eq!(g.peek(RET + 4, 2), vec![2, 0]);
    assert_eq!(g.sim.traffic().nacks, 4);
}

fn denied_address_is_refused_without_bus_traffic(mode: Mode) {
    let mut g = Guest::new(mode);
    let h = g.open("sim").unwrap();
    let heap = g.heap();
    assert_eq!(g.read_result(h, DENIED, 2), Err(ErrorCode::Other));
    assert_eq!(g.write(h, DENIED, &[0x01, 0x00]), Err(ErrorCode::Other));
    assert_eq!(g.write_read(h, DENIED, &[0], 2), Err(ErrorCode::Other));
    assert_eq!(
        g.transaction(h, DENIED, &[Op::Write(vec![0]), Op::Read(2)])
            .unwrap(),
        Err(ErrorCode::Other)
    );
    // 10-bit and reserved addresses, and the address truncation of the u16 lift:
    // 0x1_0048 lifts to 0x0048 (granted), 0x0248 stays 0x248 (not grantable).
    assert_eq!(g.read_result(h, 0x0248, 1), Err(ErrorCode::Other));
    assert_eq!(g.read_result(h, 0x00, 1), Err(ErrorCode::Other));
    assert!(g.sim.traffic().is_idle(), "{:?}", g.sim.traffic());
    assert_eq!(g.heap(), heap, "nothing allocated for refused calls");
    g.call("read", &[i32v(h), i32v(0x1_0048), Val::I64(2), i32v(RET)])
        .unwrap();
    assert_eq!(g.list_result(), Ok(vec![0x17, 0x80]));
}

fn buses_must_be_granted(mode: Mode) {
    let mut g = Guest::with_grants(mode, &["sim:0x48"]);
    assert_eq!(g.open("/dev/i2c-1"), Err(ErrorCode::Other));
    assert_eq!(g.open("SIM"), Err(ErrorCode::Other));
    assert_eq!(g.open(""), Err(ErrorCode::Other));
    let h = g.open("sim").unwrap();
    assert_eq!(g.read_result(h, EEPROM, 1), Err(ErrorCode::Other));
    assert_eq!(g.read(h, SENSOR, 2).unwrap(), vec![0x17, 0x80]);
    assert_eq!(g.sim.traffic().transactions, 1);
}

fn oversized_lengths_are_errors_not_allocations(mode: Mode) {
    let mut g = Guest::new(mode);
    let h = g.open("sim").unwrap();
    let heap = g.heap();
    for len in [1u64 << 40, u64::MAX, 64 * 1024 + 1] {
        assert_eq!(
            g.read_result(h, SENSOR, len),
            Err(ErrorCode::Other),
            "{len}"
        );
    }
    // write of 4 GiB − 1 bytes from a valid pointer: refused before reading guest memory.
    g.call(
        "write",
        &[
            i32v(h),
            i32v(SENSOR.into()),
            i32v(DATA),
            i32v(u32::MAX),
            i32v(RET),
        ],
    )
    .unwrap();
    assert_eq!(g.peek(RET, 3), vec![1, 4, 0]);
    // write-read whose sum overflows the limit.
    g.call(
        "write-read",
        &[
            i32v(h),
            i32v(SENSOR.into()),
            i32v(DATA),
            i32v(1),
            Val::I64(-1),
            i32v(RET),
        ],
    )
    .unwrap();
    assert_eq!(g.list_result(), Err(ErrorCode::Other));
    // A transaction with 2^32−1 operations, and one whose reads add up past the limit.
    g.call(
        "transaction",
        &[
            i32v(h),
            i32v(SENSOR.into()),
            i32v(OPS),
            i32v(u32::MAX),
            i32v(RET),
        ],
    )
    .unwrap();
    assert_eq!(g.list_result(), Err(ErrorCode::Other));
    assert_eq!(
        g.transaction(h, SENSOR, &[Op::Read(40_000), Op::Read(40_000)])
            .unwrap(),
        Err(ErrorCode::Other)
    );
    assert_eq!(
        g.transaction(h, SENSOR, &[Op::Read(u64::MAX), Op::Read(2)])
            .unwrap(),
        Err(ErrorCode::Other)
    );
    assert!(g.sim.traffic().is_idle());
    assert_eq!(g.heap(), heap);
    // The instance and the host still work.
    assert_eq!(g.write_read(h, SENSOR, &[0], 2), Ok(vec![0x17, 0x80]));
}

fn out_of_bounds_pointers_trap_and_the_host_survives(mode: Mode) {
    let mut g = Guest::new(mode);
    let h = g.open("sim").unwrap();
    let oob = 0xFFFF_FFF0u32;
    let cases: Vec<(&str, Vec<Val>)> = vec![
        // data pointer past memory
        (
            "write",
            vec![i32v(h), i32v(SENSOR.into()), i32v(oob), i32v(16), i32v(RET)],
        ),
        // data straddling the end of memory (1 page = 64 KiB)
        (
            "write",
            vec![
                i32v(h),
                i32v(SENSOR.into()),
                i32v(0xFFF8),
                i32v(16),
                i32v(RET),
            ],
        ),
        (
            "write-read",
            vec![
                i32v(h),
                i32v(SENSOR.into()),
                i32v(oob),
                i32v(1),
                Val::I64(2),
                i32v(RET),
            ],
        ),
        // result pointer past memory
        (
            "read",
            vec![i32v(h), i32v(SENSOR.into()), Val::I64(2), i32v(0xFFFF_FFFC)],
        ),
        (
            "write",
            vec![
                i32v(h),
                i32v(SENSOR.into()),
                i32v(DATA),
                i32v(1),
                i32v(0x10000),
            ],
        ),
        // operations array past memory
        (
            "transaction",
            vec![
                i32v(h),
                i32v(SENSOR.into()),
                i32v(0xFFF8),
                i32v(2),
                i32v(RET),
            ],
        ),
        // bus name past memory
        ("open-i2c", vec![i32v(oob), i32v(3), i32v(RET)]),
        ("open-i2c", vec![i32v(NAME), i32v(3), i32v(oob)]),
    ];
    for (f, args) in cases {
        let msg = Guest::trap_message(g.call(f, &args));
        assert!(msg.contains("out of bounds"), "{f}: {msg}");
    }
    assert!(g.sim.traffic().is_idle(), "{:?}", g.sim.traffic());
    // A write operation inside a transaction pointing out of bounds.
    let mut ops = abi::encode_operation(RawOperation::Write { ptr: oob, len: 4 }).to_vec();
    ops.extend_from_slice(&abi::encode_operation(RawOperation::Read(1)));
    g.poke(OPS, &ops);
    let msg = Guest::trap_message(g.call(
        "transaction",
        &[i32v(h), i32v(SENSOR.into()), i32v(OPS), i32v(2), i32v(RET)],
    ));
    assert!(msg.contains("out of bounds"), "{msg}");
    assert!(g.sim.traffic().is_idle());
    // Still alive.
    assert_eq!(g.write_read(h, SENSOR, &[0], 2), Ok(vec![0x17, 0x80]));
}

fn malformed_abi_values_trap(mode: Mode) {
    let mut g = Guest::new(mode);
    let h = g.open("sim").unwrap();
    // Misaligned result area (result<list<u8>, error-code> needs 4).
    let msg = Guest::trap_message(g.call(
        "read",
        &[i32v(h), i32v(SENSOR.into()), Val::I64(1), i32v(RET + 2)],
    ));
    assert!(msg.contains("misaligned"), "{msg}");
    // Misaligned list<operation> (needs 8).
    let msg = Guest::trap_message(g.call(
        "transaction",
        &[
            i32v(h),
            i32v(SENSOR.into()),
            i32v(OPS + 4),
            i32v(1),
            i32v(RET),
        ],
    ));
    assert!(msg.contains("misaligned"), "{msg}");
    // Operation discriminant out of range.
    let mut op = abi::encode_operation(RawOperation::Read(1));
    op[0] = 7;
    g.poke(OPS, &op);
    let msg = Guest::trap_message(g.call(
        "transaction",
        &[i32v(h), i32v(SENSOR.into()), i32v(OPS), i32v(1), i32v(RET)],
    ));
    assert!(msg.contains("discriminant"), "{msg}");
    // Bus name that is not UTF-8.
    g.poke(NAME, &[0xFF, 0xFE]);
    let msg = Guest::trap_message(g.call("open-i2c", &[i32v(NAME), i32v(2), i32v(RET)]));
    assert!(msg.contains("UTF-8"), "{msg}");
    assert!(g.sim.traffic().is_idle());
    assert_eq!(g.read(h, SENSOR, 2).unwrap(), vec![0x17, 0x80]);
}

fn unknown_and_dropped_handles_trap(mode: Mode) {
    let mut g = Guest::new(mode);
    let msg = Guest::trap_message(g.call(
        "read",
        &[i32v(999), i32v(SENSOR.into()), Val::I64(1), i32v(RET)],
    ));
    assert_eq!(msg, "unknown i2c handle 999");
    let h = g.open("sim").unwrap();
    let h2 = g.open("sim").unwrap();
    assert_eq!(g.host().live_handles(), 2);
    g.call("drop-i2c", &[i32v(h)]).unwrap();
    assert_eq!(g.host().live_handles(), 1);
    let msg = Guest::trap_message(g.call(
        "write",
        &[i32v(h), i32v(SENSOR.into()), i32v(DATA), i32v(1), i32v(RET)],
    ));
    assert_eq!(msg, format!("unknown i2c handle {h}"));
    let msg = Guest::trap_message(g.call("drop-i2c", &[i32v(h)]));
    assert_eq!(msg, format!("unknown i2c handle {h}"));
    // A delay handle is not an i2c handle, and vice versa.
    let d = match g.call("open-delay", &[]).unwrap()[0] {
        Val::I32(d) => d as u32,
        v => panic!("{v:?}"),
    };
    let msg = Guest::trap_message(g.call(
        "read",
        &[i32v(d), i32v(SENSOR.into()), Val::I64(1), i32v(RET)],
    ));
    assert!(msg.contains("is a delay"), "{msg}");
    let msg = Guest::trap_message(g.call("delay-ns", &[i32v(h2), i32v(1)]));
    assert!(msg.contains("not a delay"), "{msg}");
    // The other handle still works; no bus traffic from any refused call.
    assert!(g.sim.traffic().is_idle());
    assert_eq!(g.read(h2, SENSOR, 2).unwrap(), vec![0x17, 0x80]);
    // A fresh handle never reuses a dropped number.
    let h3 = g.open("sim").unwrap();
    assert!(h3 != h && h3 != h2 && h3 != d);
}

fn delay_sleeps_at_least_the_requested_time(mode: Mode) {
    let mut g = Guest::new(mode);
    let d = match g.call("open-delay", &[]).unwrap()[0] {
        Val::I32(d) => d as u32,
        v => panic!("{v:?}"),
    };
    let t = std::time::Instant::now();
    g.call("delay-ns", &[i32v(d), i32v(3_000_000)]).unwrap();
    assert!(t.elapsed() >= std::time::Duration::from_millis(3));
    g.call("drop-delay", &[i32v(d)]).unwrap();
    let msg = Guest::trap_message(g.call("delay-ns", &[i32v(d), i32v(1)]));
    assert_eq!(msg, format!("unknown delay handle {d}"));
    assert_eq!(g.host().live_handles(), 0);
}

fn instance_without_host_state_traps_cleanly(mode: Mode) {
    let module = load(GUEST, mode);
    let mut inst = Instance::new(&module, &InstanceConfig::default()).unwrap();
    let err = inst.call("open-delay", &[]).unwrap_err();
    assert!(
        matches!(&err, Error::Trap(m) if m.contains("no I2C host state")),
        "{err}"
    );
}

/// A guest whose allocator hands back a pointer outside its memory.
fn lying_cabi_realloc_traps(mode: Mode) {
    let module = load(
        r#"(module
          (import "wasi:i2c/i2c@0.2.0-draft" "[method]i2c.read" (func $read (param i32 i32 i64 i32)))
          (import "wasi-hw:host/buses@0.1.0" "open-i2c" (func $open (param i32 i32 i32)))
          (memory (export "memory") 1)
          (data (i32.const 0x100) "sim")
          (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 0xFFFF0))
          (func (export "open") (result i32)
            (call $open (i32.const 0x100) (i32.const 3) (i32.const 0x200))
            (i32.load (i32.const 0x204)))
          (func (export "read") (param i32)
            (call $read (local.get 0) (i32.const 0x48) (i64.const 2) (i32.const 0x200))))"#,
        mode,
    );
    let mut inst = Instance::new(&module, &InstanceConfig::default()).unwrap();
    let sim = SimBus::with_default_devices();
    inst.extensions_mut().insert(
        I2cConfig::from_grants(&["sim:0x48"])
            .unwrap()
            .with_bus("sim", sim.clone())
            .build()
            .unwrap(),
    );
    let h = inst.call("open", &[]).unwrap()[0];
    let err = inst.call("read", &[h]).unwrap_err();
    assert!(
        matches!(&err, Error::Trap(m) if m.contains("out of bounds")),
        "{err}"
    );
}

fn guest_without_cabi_realloc_gets_a_clear_trap(mode: Mode) {
    let module = load(
        r#"(module
          (import "wasi:i2c/i2c@0.2.0-draft" "[method]i2c.read" (func $read (param i32 i32 i64 i32)))
          (import "wasi-hw:host/buses@0.1.0" "open-i2c" (func $open (param i32 i32 i32)))
          (memory (export "memory") 1)
          (data (i32.const 0x100) "sim")
          (func (export "open") (result i32)
            (call $open (i32.const 0x100) (i32.const 3) (i32.const 0x200))
            (i32.load (i32.const 0x204)))
          (func (export "read") (param i32)
            (call $read (local.get 0) (i32.const 0x48) (i64.const 2) (i32.const 0x200))))"#,
        mode,
    );
    let mut inst = Instance::new(&module, &InstanceConfig::default()).unwrap();
    inst.extensions_mut().insert(
        I2cConfig::from_grants(&["sim:0x48"])
            .unwrap()
            .build()
            .unwrap(),
    );
    let h = inst.call("open", &[]).unwrap()[0];
    let err = inst.call("read", &[h]).unwrap_err();
    assert!(
        matches!(&err, Error::Trap(m) if m.contains("cabi_realloc")),
        "{err}"
    );
}

fn imports_match_the_proposal_names(mode: Mode) {
    let module = load(GUEST, mode);
    let imports = module.imports();
    assert!(imports.iter().all(|i| i.linked), "every import is provided");
    let imports: Vec<(String, String)> = imports.into_iter().map(|i| (i.module, i.name)).collect();
    for (m, f) in [
        ("wasi:i2c/i2c@0.2.0-draft", "[method]i2c.transaction"),
        ("wasi:i2c/i2c@0.2.0-draft", "[method]i2c.write-read"),
        ("wasi:i2c/delay@0.2.0-draft", "[method]delay.delay-ns"),
        ("wasi-hw:host/buses@0.1.0", "open-i2c"),
    ] {
        assert!(
            imports.iter().any(|(a, b)| a == m && b == f),
            "{m}::{f} missing from {imports:?}"
        );
    }
}

/// Every scenario in both execution modes.
macro_rules! in_both_modes {
    ($($name:ident),* $(,)?) => {
        mod interp {
            $( #[test] fn $name() { super::$name(super::Mode::Interp) } )*
        }
        #[cfg(target_arch = "x86_64")]
        mod aot {
            $( #[test] fn $name() { super::$name(super::Mode::Aot) } )*
        }
    };
}

in_both_modes!(
    reads_the_simulated_sensor,
    eeprom_round_trip_with_page_wrap,
    transaction_returns_one_list_per_operation,
    nack_on_absent_address_reaches_the_guest,
    denied_address_is_refused_without_bus_traffic,
    buses_must_be_granted,
    oversized_lengths_are_errors_not_allocations,
    out_of_bounds_pointers_trap_and_the_host_survives,
    malformed_abi_values_trap,
    unknown_and_dropped_handles_trap,
    delay_sleeps_at_least_the_requested_time,
    instance_without_host_state_traps_cleanly,
    lying_cabi_realloc_traps,
    guest_without_cabi_realloc_gets_a_clear_trap,
    imports_match_the_proposal_names,
);
