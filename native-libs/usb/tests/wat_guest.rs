//! The USB natives driven by a hand-written WAT guest through WAMR, against the simulated
//! devices: enumeration and descriptors as the model defines them, bulk loopback, HID
//! reports, timeouts, removal, the grant policy, and hostile pointers, lengths and handles.
//! Every scenario runs in the interpreter and AOT-compiled (modules `interp`, `aot`).
//! Real Rust guests (SDK + drivers) are tested end to end by the root crate.

use std::time::{Duration, Instant};

use wasi_hw_engine::{Engine, Error, Instance, InstanceConfig, Module, ModuleKind, Val};
use wasi_hw_usb::backend::sim::{self, SIM_STORAGE_PRODUCT, SIM_TEST_PRODUCT, SIM_VENDOR};
use wasi_hw_usb::descriptors::{
    ConfigurationDescriptor, EndpointDescriptor, InterfaceDescriptor, DT_CONFIG, DT_DEVICE,
};
use wasi_hw_usb::{signatures, Dialect, SimController, UsbConfig, UsbError, UsbState};

/// Builds the guest: every native imported with its flat signature and re-exported unchanged
/// (as `<module>#<name>`) so the test can pass any argument, plus memory helpers and a bump
/// `cabi_realloc` (`lie` makes it return an out-of-bounds pointer).
fn guest_wat(lie: bool, dialect: &Dialect) -> String {
    let mut imports = String::new();
    let mut exports = String::new();
    for (i, ((module, name), n)) in signatures().into_iter().enumerate() {
        let params = " i32".repeat(n);
        // The same function under the dialect's module name.
        let import = match module.as_str() {
            wasi_hw_usb::DEVICE_MODULE => dialect.device,
            wasi_hw_usb::TRANSFERS_MODULE => dialect.transfers,
            wasi_hw_usb::HOTPLUG_MODULE => dialect.hotplug,
            other => panic!("unknown module {other}"),
        };
        imports.push_str(&format!(
            "  (import \"{import}\" \"{name}\" (func $f{i} (param{params})))\n"
        ));
        let short = module.split('/').nth(1).unwrap().split('@').next().unwrap();
        let gets: String = (0..n).map(|k| format!(" (local.get {k})")).collect();
        exports.push_str(&format!(
            "  (func (export \"{short}#{name}\") (param{params}) (call $f{i}{gets}))\n"
        ));
    }
    let realloc_result = if lie {
        "(i32.const 0x7ffffff0)"
    } else {
        "(local.get $p)"
    };
    format!(
        r#"(module
{imports}
  (memory (export "memory") 1 256)
  (global $heap (mut i32) (i32.const 0x10000))
  (func (export "cabi_realloc") (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
    (local $p i32) (local $have i32)
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
    {realloc_result})
  (func (export "heap") (result i32) (global.get $heap))
  (func (export "reset_heap") (global.set $heap (i32.const 0x10000)))
  (func (export "memory_size") (result i32) (i32.shl (memory.size) (i32.const 16)))
  (func (export "peek8") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "poke8") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
  (func $pat (param $i i32) (param $seed i32) (result i32)
    (i32.and
      (i32.add
        (i32.mul (i32.xor (local.get $i)
                          (i32.xor (i32.shr_u (local.get $i) (i32.const 8)) (i32.shr_u (local.get $i) (i32.const 16))))
                 (i32.const 31))
        (local.get $seed))
      (i32.const 255)))
  (func (export "fill") (param $p i32) (param $n i32) (param $seed i32) (local $i i32)
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (i32.store8 (i32.add (local.get $p) (local.get $i)) (call $pat (local.get $i) (local.get $seed)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l))))
  (func (export "check") (param $p i32) (param $n i32) (param $seed i32) (result i32) (local $i i32)
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (if (i32.ne (i32.load8_u (i32.add (local.get $p) (local.get $i))) (call $pat (local.get $i) (local.get $seed)))
        (then (return (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (i32.const -1))
{exports})
"#
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Interp,
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    Aot,
    /// Interpreted, importing the wasi-usb proposal repository's names (component:usb).
    ProposalNames,
}

impl Mode {
    fn dialect(self) -> &'static Dialect {
        match self {
            Mode::Interp | Mode::Aot => &wasi_hw_usb::WASI_USB,
            Mode::ProposalNames => &wasi_hw_usb::COMPONENT_USB,
        }
    }
}

fn load(wat: &str, mode: Mode) -> Module {
    let engine = Engine::new().unwrap();
    wasi_hw_usb::register(&engine).unwrap();
    let wasm = wat::parse_str(wat).unwrap();
    let bytes = match mode {
        Mode::Interp | Mode::ProposalNames => wasm,
        #[cfg(target_arch = "x86_64")]
        Mode::Aot => {
            wasi_hw_aotc::compile(&wasm, &wasi_hw_aotc::CompileOptions::default()).unwrap()
        }
        #[cfg(not(target_arch = "x86_64"))]
        Mode::Aot => unreachable!("no AOT compiler in 32-bit ARM builds"),
    };
    let module = Module::new(&engine, bytes).unwrap();
    let expect = match mode {
        Mode::Interp | Mode::ProposalNames => ModuleKind::Wasm,
        Mode::Aot => ModuleKind::Aot,
    };
    assert_eq!(module.kind(), expect);
    module
}

// Guest memory map: return areas below 0x1000, host-allocated lists from 0x10000 up.
const RET: u32 = 0x100;
const SCRATCH: u32 = 0x800;

// transfer-type discriminants.
const CONTROL: u32 = 0;
const BULK: u32 = 1;
const INTERRUPT: u32 = 2;
const ISOCHRONOUS: u32 = 3;

fn v(x: u32) -> Val {
    Val::I32(x as i32)
}

fn pattern(i: u32, seed: u32) -> u8 {
    ((((i ^ (i >> 8) ^ (i >> 16)).wrapping_mul(31)).wrapping_add(seed)) & 0xff) as u8
}

struct Guest {
    inst: Instance,
    sim: Option<SimController>,
}

#[derive(Debug, Clone, PartialEq)]
struct ListedDevice {
    handle: u32,
    descriptor: Vec<u8>,
    vendor: u16,
    product: u16,
    bus: u8,
    address: u8,
    port: u8,
    speed: u8,
}

impl Guest {
    fn new(mode: Mode, grants: &[&str]) -> Guest {
        Self::build(mode, Some(UsbConfig::from_grants(grants).unwrap()), false)
    }

    fn build(mode: Mode, config: Option<UsbConfig>, lie: bool) -> Guest {
        let module = load(&guest_wat(lie, mode.dialect()), mode);
        let mut inst = Instance::new(&module, &InstanceConfig::default()).unwrap();
        let sim = config.as_ref().and_then(UsbConfig::sim_controller);
        if let Some(c) = config {
            wasi_hw_usb::install(&mut inst, c.build());
        }
        Guest { inst, sim }
    }

    fn sim(&self) -> &SimController {
        self.sim.as_ref().unwrap()
    }

    fn raw(&mut self, name: &str, args: &[u32]) -> Result<Vec<Val>, Error> {
        let args: Vec<Val> = args.iter().map(|&a| v(a)).collect();
        self.inst.call(name, &args)
    }

    fn i32(&mut self, name: &str, args: &[u32]) -> i32 {
        match self.raw(name, args).unwrap()[0] {
            Val::I32(x) => x,
            other => panic!("{name} returned {other:?}"),
        }
    }

    fn peek(&mut self, addr: u32, len: u32) -> Vec<u8> {
        (0..len)
            .map(|i| self.i32("peek8", &[addr + i]) as u8)
            .collect()
    }

    fn u32(&mut self, addr: u32) -> u32 {
        u32::from_le_bytes(self.peek(addr, 4).try_into().unwrap())
    }

    fn poke(&mut self, addr: u32, bytes: &[u8]) {
        for (i, b) in bytes.iter().enumerate() {
            self.raw("poke8", &[addr + i as u32, u32::from(*b)])
                .unwrap();
        }
    }

    fn err_at(&mut self, at: u32) -> UsbError {
        let d = self.peek(at, 1)[0];
        UsbError::from_discriminant(d).unwrap_or_else(|| panic!("bad libusb-error {d}"))
    }

    /// Calls a native whose last parameter is the return pointer, with RET.
    fn call_ret(&mut self, name: &str, args: &[u32]) {
        let mut a = args.to_vec();
        a.push(RET);
        self.raw(name, &a)
            .unwrap_or_else(|e| panic!("{name} trapped: {e}"));
    }

    /// `result<_, libusb-error>` (also `result<u8|bool, E>`).
    fn res_u8(&mut self, name: &str, args: &[u32]) -> Result<u8, UsbError> {
        self.call_ret(name, args);
        match self.peek(RET, 1)[0] {
            0 => Ok(self.peek(RET + 1, 1)[0]),
            1 => Err(self.err_at(RET + 1)),
            d => panic!("bad discriminant {d}"),
        }
    }

    fn res_unit(&mut self, name: &str, args: &[u32]) -> Result<(), UsbError> {
        self.res_u8(name, args).map(|_| ())
    }

    /// `result<own<T>, libusb-error>`.
    fn res_handle(&mut self, name: &str, args: &[u32]) -> Result<u32, UsbError> {
        self.call_ret(name, args);
        match self.peek(RET, 1)[0] {
            0 => Ok(self.u32(RET + 4)),
            1 => Err(self.err_at(RET + 4)),
            d => panic!("bad discriminant {d}"),
        }
    }

    /// `result<list<T>, libusb-error>` as (ptr, len).
    fn res_list(&mut self, name: &str, args: &[u32]) -> Result<(u32, u32), UsbError> {
        self.call_ret(name, args);
        match self.peek(RET, 1)[0] {
            0 => Ok((self.u32(RET + 4), self.u32(RET + 8))),
            1 => Err(self.err_at(RET + 4)),
            d => panic!("bad discriminant {d}"),
        }
    }

    fn init(&mut self) {
        self.res_unit("device#init", &[]).unwrap();
    }

    fn list(&mut self) -> Result<Vec<ListedDevice>, UsbError> {
        let (ptr, len) = self.res_list("device#list-devices", &[])?;
        assert_eq!(ptr % 4, 0);
        Ok((0..len)
            .map(|i| {
                let e = ptr + i * 28;
                let descriptor = self.peek(e + 4, 18);
                let loc = self.peek(e + 22, 4);
                ListedDevice {
                    handle: self.u32(e),
                    vendor: u16::from_le_bytes([descriptor[8], descriptor[9]]),
                    product: u16::from_le_bytes([descriptor[10], descriptor[11]]),
                    descriptor,
                    bus: loc[0],
                    address: loc[1],
                    port: loc[2],
                    speed: loc[3],
                }
            })
            .collect())
    }

    fn device(&mut self, product: u16) -> u32 {
        self.init();
        self.list()
            .unwrap()
            .into_iter()
            .find(|d| d.vendor == SIM_VENDOR && d.product == product)
            .expect("device listed")
            .handle
    }

    fn open(&mut self, product: u16) -> u32 {
        let d = self.device(product);
        self.res_handle("device#[method]usb-device.open", &[d])
            .unwrap()
    }

    fn claim(&mut self, h: u32, intf: u32) -> Result<(), UsbError> {
        self.res_unit("device#[method]device-handle.claim-interface", &[h, intf])
    }

    fn detach(&mut self, h: u32, intf: u32) -> Result<(), UsbError> {
        self.res_unit(
            "device#[method]device-handle.detach-kernel-driver",
            &[h, intf],
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn new_transfer(
        &mut self,
        h: u32,
        kind: u32,
        setup: (u8, u8, u16, u16),
        buf_size: u32,
        endpoint: u8,
        timeout_ms: u32,
    ) -> Result<u32, UsbError> {
        self.res_handle(
            "device#[method]device-handle.new-transfer",
            &[
                h,
                kind,
                u32::from(setup.0),
                u32::from(setup.1),
                u32::from(setup.2),
                u32::from(setup.3),
                buf_size,
                u32::from(endpoint),
                timeout_ms,
                0,
                0,
            ],
        )
    }

    fn submit(&mut self, t: u32, ptr: u32, len: u32) -> Result<(), UsbError> {
        self.res_unit("transfers#[method]transfer.submit-transfer", &[t, ptr, len])
    }

    fn await_(&mut self, t: u32) -> Result<(u32, u32), UsbError> {
        self.res_list("transfers#await-transfer", &[t])
    }

    /// new-transfer + submit + await; returns the received bytes.
    #[allow(clippy::too_many_arguments)]
    fn transfer(
        &mut self,
        h: u32,
        kind: u32,
        setup: (u8, u8, u16, u16),
        endpoint: u8,
        out: &[u8],
        in_len: u32,
        timeout_ms: u32,
    ) -> Result<Vec<u8>, UsbError> {
        let size = if out.is_empty() {
            in_len
        } else {
            out.len() as u32
        };
        let t = self.new_transfer(h, kind, setup, size, endpoint, timeout_ms)?;
        self.poke(SCRATCH, out);
        self.submit(t, SCRATCH, out.len() as u32)?;
        let (ptr, len) = self.await_(t)?;
        Ok(self.peek(ptr, len))
    }

    fn control_in(
        &mut self,
        h: u32,
        setup: (u8, u8, u16, u16),
        len: u32,
    ) -> Result<Vec<u8>, UsbError> {
        self.transfer(h, CONTROL, setup, 0, &[], len, 1000)
    }

    fn live(&self) -> usize {
        self.inst
            .extensions()
            .get::<UsbState>()
            .unwrap()
            .live_resources()
    }

    /// Reads the configuration-descriptor record at `at` back into the host type.
    fn config_at(&mut self, at: u32) -> ConfigurationDescriptor {
        let c = self.peek(at, 16);
        let (iptr, n) = (self.u32(at + 4), self.u32(at + 8));
        assert_eq!(iptr % 4, 0);
        let interfaces = (0..n)
            .map(|k| {
                let i = iptr + k * 16;
                let b = self.peek(i, 16);
                let (eptr, ne) = (self.u32(i + 4), self.u32(i + 8));
                assert_eq!(eptr % 2, 0);
                let endpoints = (0..ne)
                    .map(|j| {
                        let e = self.peek(eptr + j * 10, 10);
                        EndpointDescriptor {
                            length: e[0],
                            descriptor_type: e[1],
                            endpoint_address: e[2],
                            attributes: e[3],
                            max_packet_size: u16::from_le_bytes([e[4], e[5]]),
                            interval: e[6],
                            refresh: e[7],
                            synch_address: e[8],
                        }
                    })
                    .collect();
                InterfaceDescriptor {
                    length: b[0],
                    descriptor_type: b[1],
                    interface_number: b[2],
                    alternate_setting: b[3],
                    endpoints,
                    interface_class: b[12],
                    interface_subclass: b[13],
                    interface_protocol: b[14],
                    interface_index: b[15],
                    extra: Vec::new(),
                }
            })
            .collect();
        ConfigurationDescriptor {
            length: c[0],
            descriptor_type: c[1],
            total_length: u16::from_le_bytes([c[2], c[3]]),
            interfaces,
            configuration_value: c[12],
            configuration_index: c[13],
            attributes: c[14],
            max_power: c[15],
        }
    }
}

fn model_config(spec: sim::model::DeviceSpec) -> ConfigurationDescriptor {
    let mut c = spec.configs[0].clone();
    for i in &mut c.interfaces {
        i.extra.clear();
    }
    c
}

fn enumerates_the_model(mode: Mode) {
    let mut g = Guest::new(mode, &["sim"]);
    g.init();
    let devs = g.list().unwrap();
    assert_eq!(devs.len(), 2);
    let test = sim::model::test_device();
    let storage = sim::model::storage_device();
    assert_eq!(devs[0].descriptor, test.descriptor.to_bytes().to_vec());
    assert_eq!(devs[1].descriptor, storage.descriptor.to_bytes().to_vec());
    assert_eq!(
        (devs[0].vendor, devs[0].product),
        (SIM_VENDOR, SIM_TEST_PRODUCT)
    );
    assert_eq!(
        (devs[1].vendor, devs[1].product),
        (SIM_VENDOR, SIM_STORAGE_PRODUCT)
    );
    assert_eq!(
        (devs[0].bus, devs[0].address, devs[0].port, devs[0].speed),
        (1, 2, 1, 3)
    );
    assert_eq!(
        (devs[1].bus, devs[1].address, devs[1].port, devs[1].speed),
        (1, 3, 2, 3)
    );
    assert_eq!(devs[0].descriptor[0], 18);
    assert_eq!(devs[0].descriptor[1], DT_DEVICE);
    assert_ne!(devs[0].handle, 0, "handle 0 is never valid");
    assert_ne!(devs[0].handle, devs[1].handle);
    assert_eq!(g.live(), 2);

    // Configuration descriptors, by index, by value and the active one.
    let d = devs[0].handle;
    for (name, arg) in [
        (
            "device#[method]usb-device.get-configuration-descriptor",
            Some(0),
        ),
        (
            "device#[method]usb-device.get-configuration-descriptor-by-value",
            Some(1),
        ),
        (
            "device#[method]usb-device.get-active-configuration-descriptor",
            None,
        ),
    ] {
        let args: Vec<u32> = [d].into_iter().chain(arg).chain([RET]).collect();
        g.raw(name, &args).unwrap();
        assert_eq!(g.peek(RET, 1)[0], 0, "{name} ok");
        let cfg = g.config_at(RET + 4);
        assert_eq!(cfg.descriptor_type, DT_CONFIG);
        let mut expected = model_config(sim::model::test_device());
        expected.total_length = test.configs[0].to_bytes().len() as u16;
        assert_eq!(cfg, expected, "{name}");
    }
    let storage_cfg = {
        g.raw(
            "device#[method]usb-device.get-configuration-descriptor",
            &[devs[1].handle, 0, RET],
        )
        .unwrap();
        g.config_at(RET + 4)
    };
    assert_eq!(storage_cfg, model_config(storage));
    let (i, e) = (
        &storage_cfg.interfaces[0],
        &storage_cfg.interfaces[0].endpoints,
    );
    assert_eq!(
        (
            i.interface_class,
            i.interface_subclass,
            i.interface_protocol
        ),
        (8, 6, 0x50)
    );
    assert_eq!(e.len(), 2);

    g.raw(
        "device#[method]usb-device.get-configuration-descriptor",
        &[d, 1, RET],
    )
    .unwrap();
    assert_eq!(
        (g.peek(RET, 1)[0], g.err_at(RET + 4)),
        (1, UsbError::NotFound)
    );
    g.raw(
        "device#[method]usb-device.get-configuration-descriptor-by-value",
        &[d, 7, RET],
    )
    .unwrap();
    assert_eq!(
        (g.peek(RET, 1)[0], g.err_at(RET + 4)),
        (1, UsbError::NotFound)
    );

    // Dropping the devices empties the table; a second list makes new handles.
    for dev in &devs {
        g.raw("device#[resource-drop]usb-device", &[dev.handle])
            .unwrap();
    }
    assert_eq!(g.live(), 0);
    assert_eq!(g.list().unwrap().len(), 2);
}

fn standard_requests_over_control_transfers(mode: Mode) {
    let mut g = Guest::new(mode, &["sim"]);
    let h = g.open(SIM_TEST_PRODUCT);
    let dev = g.control_in(h, (0x80, 6, 0x0100, 0), 18).unwrap();
    assert_eq!(
        dev,
        sim::model::test_device().descriptor.to_bytes().to_vec()
    );
    // wLength shorter than the descriptor truncates, as on the wire.
    assert_eq!(
        g.control_in(h, (0x80, 6, 0x0100, 0), 8).unwrap(),
        dev[..8].to_vec()
    );
    let raw_cfg = g.control_in(h, (0x80, 6, 0x0200, 0), 255).unwrap();
    assert_eq!(raw_cfg, sim::model::test_device().configs[0].to_bytes());
    let langs = g.control_in(h, (0x80, 6, 0x0300, 0), 255).unwrap();
    assert_eq!(langs, [4, 3, 0x09, 0x04]);
    let product = g.control_in(h, (0x80, 6, 0x0302, 0x0409), 255).unwrap();
    assert_eq!(
        wasi_hw_usb::descriptors::decode_string_descriptor(&product).unwrap(),
        "Simulated loopback and HID device"
    );
    assert_eq!(g.control_in(h, (0x80, 8, 0, 0), 1).unwrap(), [1]);
    assert_eq!(
        g.res_u8("device#[method]device-handle.get-configuration", &[h]),
        Ok(1)
    );
    // Unknown request: the device stalls endpoint 0.
    assert_eq!(g.control_in(h, (0xc0, 0x42, 0, 0), 4), Err(UsbError::Pipe));
    assert_eq!(
        g.control_in(h, (0x80, 6, 0x0309, 0), 255),
        Err(UsbError::Pipe)
    );
    // A control OUT with the wrong amount of data is refused before anything is sent.
    let t = g
        .new_transfer(h, CONTROL, (0x00, 9, 1, 0), 4, 0, 100)
        .unwrap();
    assert_eq!(g.submit(t, SCRATCH, 3), Err(UsbError::InvalidParam));
    g.raw("transfers#[resource-drop]transfer", &[t]).unwrap();
}

fn bulk_loopback_round_trips(mode: Mode) {
    let mut g = Guest::new(mode, &["sim"]);
    let h = g.open(SIM_TEST_PRODUCT);
    g.claim(h, 0).unwrap();
    for (k, n) in [
        1u32,
        2,
        63,
        64,
        511,
        512,
        513,
        4096,
        65_535,
        65_536,
        1 << 20,
    ]
    .into_iter()
    .enumerate()
    {
        g.raw("reset_heap", &[]).unwrap();
        let seed = k as u32 * 17 + 3;
        let buf = g.i32("cabi_realloc", &[0, 0, 1, n]) as u32;
        g.raw("fill", &[buf, n, seed]).unwrap();
        let out = g
            .new_transfer(h, BULK, (0, 0, 0, 0), n, sim::LOOPBACK_OUT, 1000)
            .unwrap();
        g.submit(out, buf, n).unwrap();
        assert_eq!(g.await_(out).unwrap().1, 0, "OUT returns no data");
        let inn = g
            .new_transfer(h, BULK, (0, 0, 0, 0), n, sim::LOOPBACK_IN, 1000)
            .unwrap();
        g.submit(inn, 0, 0).unwrap();
        let (ptr, len) = g.await_(inn).unwrap();
        assert_eq!(len, n, "{n} bytes back");
        assert_ne!(ptr, buf);
        assert_eq!(g.i32("check", &[ptr, len, seed]), -1, "{n} bytes intact");
        if n <= 64 {
            let got = g.peek(ptr, len);
            let want: Vec<u8> = (0..n).map(|i| pattern(i, seed)).collect();
            assert_eq!(got, want);
        }
    }
    // A read larger than what is queued returns what there is (short packet).
    let t = g.transfer(h, BULK, (0, 0, 0, 0), sim::LOOPBACK_OUT, b"abc", 0, 100);
    assert_eq!(t, Ok(vec![]));
    assert_eq!(
        g.transfer(h, BULK, (0, 0, 0, 0), sim::LOOPBACK_IN, &[], 512, 100),
        Ok(b"abc".to_vec())
    );
    // Submitted IN before OUT: completes once the data is there (asynchronous submit).
    let inn = g
        .new_transfer(h, BULK, (0, 0, 0, 0), 4, sim::LOOPBACK_IN, 1000)
        .unwrap();
    g.submit(inn, 0, 0).unwrap();
    assert_eq!(
        g.transfer(h, BULK, (0, 0, 0, 0), sim::LOOPBACK_OUT, b"late", 0, 100),
        Ok(vec![])
    );
    let (p, l) = g.await_(inn).unwrap();
    assert_eq!(g.peek(p, l), b"late");
    assert_eq!(
        g.live(),
        3,
        "awaited transfers are gone: two devices and the handle remain"
    );
}

fn interrupt_reports_arrive_in_order(mode: Mode) {
    let mut g = Guest::new(mode, &["sim"]);
    let h = g.open(SIM_TEST_PRODUCT);
    // The simulated usbhid driver holds the mouse until detached.
    assert_eq!(
        g.res_u8("device#[method]device-handle.kernel-driver-active", &[h, 1]),
        Ok(1)
    );
    assert_eq!(g.claim(h, 1), Err(UsbError::Busy));
    g.detach(h, 1).unwrap();
    assert_eq!(
        g.detach(h, 1),
        Err(UsbError::NotFound),
        "no driver left to detach"
    );
    assert_eq!(
        g.res_u8("device#[method]device-handle.kernel-driver-active", &[h, 1]),
        Ok(0)
    );
    g.claim(h, 1).unwrap();
    // SET_PROTOCOL(boot), then GET_PROTOCOL reads it back.
    g.transfer(h, CONTROL, (0x21, 0x0b, 0, 1), 0, &[], 0, 100)
        .unwrap();
    assert_eq!(g.control_in(h, (0xa1, 0x03, 0, 1), 1).unwrap(), [0]);
    for n in 0..sim::HID_REPORT_COUNT {
        let r = g
            .transfer(h, INTERRUPT, (0, 0, 0, 0), sim::HID_IN, &[], 8, 100)
            .unwrap();
        assert_eq!(r, sim::hid_report(n).to_vec(), "report {n}");
    }
    // The mouse has nothing more to say: interrupt IN times out.
    let start = Instant::now();
    assert_eq!(
        g.transfer(h, INTERRUPT, (0, 0, 0, 0), sim::HID_IN, &[], 8, 50),
        Err(UsbError::Timeout)
    );
    assert!(start.elapsed() >= Duration::from_millis(50));
    // Interrupt endpoint used as bulk: rejected at submission.
    let t = g
        .new_transfer(h, BULK, (0, 0, 0, 0), 8, sim::HID_IN, 50)
        .unwrap();
    assert_eq!(g.submit(t, 0, 0), Err(UsbError::InvalidParam));
}

fn timeouts_cancellation_and_halts(mode: Mode) {
    let mut g = Guest::new(mode, &["sim"]);
    let h = g.open(SIM_TEST_PRODUCT);
    // Endpoints of an unclaimed interface are not reachable.
    let t = g
        .new_transfer(h, BULK, (0, 0, 0, 0), 4, sim::LOOPBACK_IN, 50)
        .unwrap();
    assert_eq!(g.submit(t, 0, 0), Err(UsbError::NotFound));
    g.claim(h, 0).unwrap();
    let start = Instant::now();
    assert_eq!(
        g.transfer(h, BULK, (0, 0, 0, 0), sim::LOOPBACK_IN, &[], 64, 80),
        Err(UsbError::Timeout)
    );
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(80) && took < Duration::from_secs(5),
        "{took:?}"
    );

    // cancel-transfer: the pending IN then reports interrupted.
    let t = g
        .new_transfer(h, BULK, (0, 0, 0, 0), 64, sim::LOOPBACK_IN, 0)
        .unwrap();
    assert_eq!(
        g.res_unit("transfers#[method]transfer.cancel-transfer", &[t]),
        Err(UsbError::NotFound),
        "not submitted yet"
    );
    g.submit(t, 0, 0).unwrap();
    assert_eq!(g.submit(t, 0, 0), Err(UsbError::Busy), "already submitted");
    g.res_unit("transfers#[method]transfer.cancel-transfer", &[t])
        .unwrap();
    assert_eq!(g.await_(t), Err(UsbError::Interrupted));
    // Awaiting a never-submitted transfer consumes it and reports not-found.
    let t = g
        .new_transfer(h, BULK, (0, 0, 0, 0), 64, sim::LOOPBACK_IN, 0)
        .unwrap();
    assert_eq!(g.await_(t), Err(UsbError::NotFound));

    // SET_FEATURE(ENDPOINT_HALT) then a transfer stalls; clear-halt recovers.
    g.transfer(h, CONTROL, (0x02, 0x03, 0, 0x81), 0, &[], 0, 100)
        .unwrap();
    assert_eq!(g.control_in(h, (0x82, 0, 0, 0x81), 2).unwrap(), [1, 0]);
    g.transfer(h, BULK, (0, 0, 0, 0), sim::LOOPBACK_OUT, b"x", 0, 100)
        .unwrap();
    assert_eq!(
        g.transfer(h, BULK, (0, 0, 0, 0), sim::LOOPBACK_IN, &[], 64, 100),
        Err(UsbError::Pipe)
    );
    g.res_unit("device#[method]device-handle.clear-halt", &[h, 0x81])
        .unwrap();
    assert_eq!(
        g.transfer(h, BULK, (0, 0, 0, 0), sim::LOOPBACK_IN, &[], 64, 100),
        Ok(b"x".to_vec())
    );
    // Alternate setting 1 of interface 0 has no endpoints.
    g.res_unit(
        "device#[method]device-handle.set-interface-altsetting",
        &[h, 0, 1],
    )
    .unwrap();
    assert_eq!(
        g.transfer(h, BULK, (0, 0, 0, 0), sim::LOOPBACK_IN, &[], 64, 10),
        Err(UsbError::NotFound)
    );
    assert_eq!(
        g.res_unit(
            "device#[method]device-handle.set-interface-altsetting",
            &[h, 0, 2]
        ),
        Err(UsbError::NotFound)
    );
    g.res_unit("device#[method]device-handle.release-interface", &[h, 0])
        .unwrap();
    assert_eq!(
        g.res_unit("device#[method]device-handle.release-interface", &[h, 0]),
        Err(UsbError::NotFound)
    );
}

fn removal_mid_transfer_is_no_device(mode: Mode) {
    let mut g = Guest::new(mode, &["sim"]);
    let d = g.device(SIM_TEST_PRODUCT);
    let h = g
        .res_handle("device#[method]usb-device.open", &[d])
        .unwrap();
    g.claim(h, 0).unwrap();
    let t = g
        .new_transfer(h, BULK, (0, 0, 0, 0), 512, sim::LOOPBACK_IN, 0)
        .unwrap();
    g.submit(t, 0, 0).unwrap();
    let unplug = g
        .sim()
        .unplug_after(SIM_VENDOR, SIM_TEST_PRODUCT, Duration::from_millis(100));
    let start = Instant::now();
    assert_eq!(g.await_(t), Err(UsbError::NoDevice));
    assert!(start.elapsed() >= Duration::from_millis(90));
    assert!(unplug.join().unwrap());
    // The host lives on: the handle reports no-device, the device is gone from the list.
    assert_eq!(
        g.res_u8("device#[method]device-handle.get-configuration", &[h]),
        Err(UsbError::NoDevice)
    );
    assert_eq!(
        g.new_transfer(h, BULK, (0, 0, 0, 0), 4, 0x81, 10)
            .and_then(|t| g.submit(t, 0, 0)),
        Err(UsbError::NoDevice)
    );
    assert_eq!(
        g.res_handle("device#[method]usb-device.open", &[d]),
        Err(UsbError::NoDevice)
    );
    let left = g.list().unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].product, SIM_STORAGE_PRODUCT);
    // Replugged, it re-enumerates at a new address and works again.
    assert!(g.sim().replug(SIM_VENDOR, SIM_TEST_PRODUCT));
    let back = g.list().unwrap();
    let dev = back.iter().find(|d| d.product == SIM_TEST_PRODUCT).unwrap();
    assert_ne!(dev.address, 2);
    let h2 = g
        .res_handle("device#[method]usb-device.open", &[dev.handle])
        .unwrap();
    g.claim(h2, 0).unwrap();
    g.transfer(h2, BULK, (0, 0, 0, 0), sim::LOOPBACK_OUT, b"again", 0, 100)
        .unwrap();
    assert_eq!(
        g.transfer(h2, BULK, (0, 0, 0, 0), sim::LOOPBACK_IN, &[], 512, 100),
        Ok(b"again".to_vec())
    );
}

fn hotplug_reports_removal_and_arrival(mode: Mode) {
    let mut g = Guest::new(mode, &["sim", "1209:0002"]);
    g.init();
    g.res_unit("hotplug#enable-hotplug", &[]).unwrap();
    let poll = |g: &mut Guest| -> Vec<(u8, u8, u8, u16, u16, u32)> {
        g.raw("hotplug#poll-events", &[RET]).unwrap();
        let (ptr, len) = (g.u32(RET), g.u32(RET + 4));
        (0..len)
            .map(|i| {
                let e = ptr + i * 12;
                let b = g.peek(e, 12);
                (
                    b[0],
                    b[2],
                    b[3],
                    u16::from_le_bytes([b[4], b[5]]),
                    u16::from_le_bytes([b[6], b[7]]),
                    u32::from_le_bytes(b[8..12].try_into().unwrap()),
                )
            })
            .collect()
    };
    assert!(poll(&mut g).is_empty());
    // The ungranted test device comes and goes unseen.
    g.sim().unplug(SIM_VENDOR, SIM_TEST_PRODUCT);
    assert!(poll(&mut g).is_empty());
    g.sim().unplug(SIM_VENDOR, SIM_STORAGE_PRODUCT);
    g.sim().replug(SIM_VENDOR, SIM_STORAGE_PRODUCT);
    let ev = poll(&mut g);
    assert_eq!(ev.len(), 2);
    let (left, arrived) = (ev[0], ev[1]);
    assert_eq!(
        (left.0, left.1, left.2, left.3, left.4),
        (2, 1, 3, SIM_VENDOR, SIM_STORAGE_PRODUCT)
    );
    assert_eq!(
        (arrived.0, arrived.3, arrived.4),
        (1, SIM_VENDOR, SIM_STORAGE_PRODUCT)
    );
    // The arrived usb-device can be opened; the departed one cannot.
    assert!(g
        .res_handle("device#[method]usb-device.open", &[arrived.5])
        .is_ok());
    assert_eq!(
        g.res_handle("device#[method]usb-device.open", &[left.5]),
        Err(UsbError::NoDevice)
    );
    assert!(poll(&mut g).is_empty());
}

fn ungranted_devices_are_invisible(mode: Mode) {
    // Nothing granted (no --usb at all): an empty list, from the host backend too.
    let mut g = Guest::build(mode, None, false);
    g.init();
    assert_eq!(g.list().unwrap(), vec![]);
    let mut g = Guest::new(mode, &[]);
    g.init();
    assert_eq!(g.list().unwrap(), vec![]);
    // A VID:PID grant narrows the simulated devices.
    let mut g = Guest::new(mode, &["sim", "1209:0002"]);
    g.init();
    let l = g.list().unwrap();
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].product, SIM_STORAGE_PRODUCT);
    let mut g = Guest::new(mode, &["sim", "1209:0001@1-2"]);
    g.init();
    assert!(g.list().unwrap().is_empty(), "wrong port");
    let mut g = Guest::new(mode, &["sim", "1209:0001@1-1"]);
    g.init();
    assert_eq!(g.list().unwrap().len(), 1);
}

fn interface_grants_limit_what_a_handle_can_do(mode: Mode) {
    let mut g = Guest::new(mode, &["sim", "1209:0001:if0"]);
    let h = g.open(SIM_TEST_PRODUCT);
    g.claim(h, 0).unwrap();
    assert_eq!(g.claim(h, 1), Err(UsbError::Access));
    assert_eq!(g.detach(h, 1), Err(UsbError::Access));
    assert_eq!(
        g.res_unit("device#[method]device-handle.set-configuration", &[h, 1, 1]),
        Err(UsbError::Access)
    );
    assert_eq!(
        g.res_unit("device#[method]device-handle.reset-device", &[h]),
        Err(UsbError::Access)
    );
    // Read-only standard device requests pass; vendor/class requests elsewhere do not.
    assert_eq!(g.control_in(h, (0x80, 6, 0x0100, 0), 18).unwrap().len(), 18);
    assert_eq!(
        g.new_transfer(h, CONTROL, (0x21, 0x0b, 0, 1), 0, 0, 100),
        Err(UsbError::Access)
    );
    assert_eq!(
        g.new_transfer(h, CONTROL, (0x40, 1, 0, 0), 0, 0, 100),
        Err(UsbError::Access)
    );
    assert_eq!(
        g.new_transfer(h, CONTROL, (0x02, 1, 0, 0x83), 0, 0, 100),
        Err(UsbError::Access)
    );
    assert_eq!(
        g.res_unit("device#[method]device-handle.clear-halt", &[h, 0x83]),
        Err(UsbError::Access)
    );
    g.res_unit("device#[method]device-handle.clear-halt", &[h, 0x81])
        .unwrap();
    g.transfer(h, BULK, (0, 0, 0, 0), sim::LOOPBACK_OUT, b"ok", 0, 100)
        .unwrap();
}

fn storage_bulk_only_transport(mode: Mode) {
    let mut g = Guest::new(mode, &["sim"]);
    let h = g.open(SIM_STORAGE_PRODUCT);
    assert_eq!(g.claim(h, 0), Err(UsbError::Busy), "usb-storage holds it");
    g.detach(h, 0).unwrap();
    g.claim(h, 0).unwrap();
    assert_eq!(
        g.control_in(h, (0xa1, 0xfe, 0, 0), 1).unwrap(),
        [0],
        "one LUN"
    );
    let cbw = |tag: u32, len: u32, cdb: &[u8]| -> Vec<u8> {
        let mut c = b"USBC".to_vec();
        c.extend_from_slice(&tag.to_le_bytes());
        c.extend_from_slice(&len.to_le_bytes());
        c.extend_from_slice(&[0x80, 0, cdb.len() as u8]);
        let mut cb = cdb.to_vec();
        cb.resize(16, 0);
        c.extend_from_slice(&cb);
        c
    };
    let scsi = |g: &mut Guest, tag: u32, cdb: &[u8], len: u32| -> Vec<u8> {
        g.transfer(
            h,
            BULK,
            (0, 0, 0, 0),
            sim::STORAGE_OUT,
            &cbw(tag, len, cdb),
            0,
            1000,
        )
        .unwrap();
        let data = g
            .transfer(h, BULK, (0, 0, 0, 0), sim::STORAGE_IN, &[], len, 1000)
            .unwrap();
        let csw = g
            .transfer(h, BULK, (0, 0, 0, 0), sim::STORAGE_IN, &[], 13, 1000)
            .unwrap();
        assert_eq!(&csw[..4], b"USBS");
        assert_eq!(u32::from_le_bytes(csw[4..8].try_into().unwrap()), tag);
        assert_eq!(csw[12], 0, "command passed");
        data
    };
    let inq = scsi(&mut g, 1, &[0x12, 0, 0, 0, 36, 0], 36);
    assert_eq!(&inq[8..16], b"WASI-HW ");
    assert_eq!(&inq[16..32], b"SIM DISK        ");
    // The power-on unit attention (INQUIRY is exempt): the next command, a TEST UNIT READY
    // without data phase, fails; REQUEST SENSE says why and clears it.
    g.transfer(
        h,
        BULK,
        (0, 0, 0, 0),
        sim::STORAGE_OUT,
        &cbw(10, 0, &[0, 0, 0, 0, 0, 0]),
        0,
        1000,
    )
    .unwrap();
    let csw = g
        .transfer(h, BULK, (0, 0, 0, 0), sim::STORAGE_IN, &[], 13, 1000)
        .unwrap();
    assert_eq!((&csw[..4], csw[12]), (&b"USBS"[..], 1), "CHECK CONDITION");
    let sense = scsi(&mut g, 11, &[0x03, 0, 0, 0, 18, 0], 18);
    assert_eq!(
        (sense[2] & 0x0f, sense[12], sense[13]),
        (0x06, 0x29, 0x00),
        "UNIT ATTENTION: power on, reset, or bus device reset occurred"
    );
    let cap = scsi(&mut g, 2, &[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], 8);
    assert_eq!(
        u32::from_be_bytes(cap[..4].try_into().unwrap()),
        sim::BLOCK_COUNT - 1
    );
    assert_eq!(u32::from_be_bytes(cap[4..].try_into().unwrap()), 512);
    let block = scsi(&mut g, 3, &[0x28, 0, 0, 0, 0, 42, 0, 0, 1, 0], 512);
    assert_eq!(block, sim::pattern_block(42).to_vec());
}

fn hostile_arguments_trap_or_fail(mode: Mode) {
    let mut g = Guest::new(mode, &["sim"]);
    let mem = g.i32("memory_size", &[]) as u32;
    let trap = |g: &mut Guest, name: &str, args: &[u32]| -> String {
        match g.raw(name, args) {
            Err(Error::Trap(m)) => m,
            other => panic!("{name}{args:?} should trap, got {other:?}"),
        }
    };
    // Return areas out of bounds, wrapping, or misaligned.
    assert!(trap(&mut g, "device#init", &[mem - 1]).contains("out of bounds"));
    assert!(trap(&mut g, "device#list-devices", &[u32::MAX - 3]).contains("out of bounds"));
    assert!(trap(&mut g, "device#list-devices", &[RET + 2]).contains("misaligned"));
    // The host survives and nothing leaked into the table.
    g.init();
    let devs = g.list().unwrap();
    assert_eq!(g.live(), 2);
    let d = devs[0].handle;
    // Unknown, zero, wrong-type and dropped handles.
    assert!(trap(&mut g, "device#[method]usb-device.open", &[999, RET])
        .contains("unknown usb-device handle 999"));
    assert!(trap(&mut g, "device#[method]usb-device.open", &[0, RET]).contains("unknown"));
    let h = g
        .res_handle("device#[method]usb-device.open", &[d])
        .unwrap();
    assert!(trap(&mut g, "device#[method]usb-device.open", &[h, RET]).contains("not a usb-device"));
    assert!(trap(
        &mut g,
        "device#[method]device-handle.claim-interface",
        &[d, 0, RET]
    )
    .contains("not a device-handle"));
    assert!(trap(&mut g, "transfers#await-transfer", &[h, RET]).contains("not a transfer"));
    g.raw("device#[resource-drop]usb-device", &[devs[1].handle])
        .unwrap();
    assert!(trap(
        &mut g,
        "device#[resource-drop]usb-device",
        &[devs[1].handle]
    )
    .contains("unknown"));
    // Out-of-range discriminants.
    assert!(trap(
        &mut g,
        "device#[method]device-handle.set-configuration",
        &[h, 2, 0, RET]
    )
    .contains("config-value"));
    let args = [h, 4, 0, 0, 0, 0, 8, 0x81, 0, 0, 0, RET];
    assert!(
        trap(&mut g, "device#[method]device-handle.new-transfer", &args).contains("transfer-type")
    );
    // Sizes: a 4 GiB buffer is an error, not an allocation; control wLength is 16 bits.
    let heap = g.i32("heap", &[]);
    assert_eq!(
        g.new_transfer(h, BULK, (0, 0, 0, 0), u32::MAX, 0x81, 10),
        Err(UsbError::InvalidParam)
    );
    assert_eq!(
        g.new_transfer(h, BULK, (0, 0, 0, 0), (2 << 20) + 1, 0x81, 10),
        Err(UsbError::InvalidParam)
    );
    assert_eq!(
        g.new_transfer(h, CONTROL, (0x80, 6, 0x100, 0), 70_000, 0, 10),
        Err(UsbError::InvalidParam)
    );
    assert_eq!(
        g.new_transfer(h, BULK, (0, 0, 0, 0), 8, 0x80, 10),
        Err(UsbError::InvalidParam),
        "endpoint 0"
    );
    assert_eq!(
        g.new_transfer(h, ISOCHRONOUS, (0, 0, 0, 0), 8, 0x81, 10),
        Err(UsbError::NotSupported)
    );
    assert_eq!(
        g.i32("heap", &[]),
        heap,
        "nothing was allocated in the guest"
    );
    // submit-transfer data out of bounds traps; an OUT length different from buf-size fails.
    g.claim(h, 0).unwrap();
    let t = g
        .new_transfer(h, BULK, (0, 0, 0, 0), 16, sim::LOOPBACK_OUT, 10)
        .unwrap();
    let mem = g.i32("memory_size", &[]) as u32;
    assert!(trap(
        &mut g,
        "transfers#[method]transfer.submit-transfer",
        &[t, mem - 8, 16, RET]
    )
    .contains("out of bounds"));
    assert!(trap(
        &mut g,
        "transfers#[method]transfer.submit-transfer",
        &[t, u32::MAX, 16, RET]
    )
    .contains("out of bounds"));
    assert_eq!(g.submit(t, SCRATCH, 15), Err(UsbError::InvalidParam));
    assert!(trap(
        &mut g,
        "transfers#[method]transfer.submit-transfer",
        &[t, SCRATCH, 0x7fff_0000, RET]
    )
    .contains("out of bounds"));
    g.submit(t, SCRATCH, 16).unwrap();
    g.await_(t).unwrap();
    assert!(
        trap(&mut g, "transfers#await-transfer", &[t, RET]).contains("unknown transfer handle"),
        "await consumed it"
    );
    // Stream lists are bounds-checked, then refused.
    assert!(trap(
        &mut g,
        "device#[method]device-handle.alloc-streams",
        &[h, 2, u32::MAX, 2, RET]
    )
    .contains("out of bounds"));
    assert_eq!(
        g.res_unit(
            "device#[method]device-handle.alloc-streams",
            &[h, 2, SCRATCH, 2]
        ),
        Err(UsbError::NotSupported)
    );
    // close: later use traps, drop still works.
    g.raw("device#[method]device-handle.close", &[h]).unwrap();
    assert!(trap(
        &mut g,
        "device#[method]device-handle.claim-interface",
        &[h, 0, RET]
    )
    .contains("after close"));
    g.raw("device#[resource-drop]device-handle", &[h]).unwrap();
    assert!(trap(&mut g, "device#[resource-drop]device-handle", &[h]).contains("unknown"));
    g.raw("device#[resource-drop]usb-device", &[d]).unwrap();
    assert_eq!(g.live(), 0);
}

fn lying_cabi_realloc_traps(mode: Mode) {
    let mut g = Guest::build(mode, Some(UsbConfig::from_grants(&["sim"]).unwrap()), true);
    g.init();
    match g.raw("device#list-devices", &[RET]) {
        Err(Error::Trap(m)) => assert!(
            m.contains("cabi_realloc") || m.contains("out of bounds"),
            "{m}"
        ),
        other => panic!("expected a trap, got {other:?}"),
    }
}

fn dropped_transfers_are_cancelled(mode: Mode) {
    let mut g = Guest::new(mode, &["sim"]);
    let h = g.open(SIM_TEST_PRODUCT);
    g.claim(h, 0).unwrap();
    let t = g
        .new_transfer(h, BULK, (0, 0, 0, 0), 64, sim::LOOPBACK_IN, 0)
        .unwrap();
    g.submit(t, 0, 0).unwrap();
    g.raw("transfers#[resource-drop]transfer", &[t]).unwrap();
    // The dropped IN did not swallow later data.
    g.transfer(h, BULK, (0, 0, 0, 0), sim::LOOPBACK_OUT, b"kept", 0, 100)
        .unwrap();
    assert_eq!(
        g.transfer(h, BULK, (0, 0, 0, 0), sim::LOOPBACK_IN, &[], 64, 100),
        Ok(b"kept".to_vec())
    );
    // Dropping the handle releases its claim: a second handle can claim interface 0.
    g.raw("device#[resource-drop]device-handle", &[h]).unwrap();
    let h2 = g.open(SIM_TEST_PRODUCT);
    g.claim(h2, 0).unwrap();
}

fn transfers_in_flight_are_bounded(mode: Mode) {
    let mut g = Guest::new(mode, &["sim"]);
    let h = g.open(SIM_TEST_PRODUCT);
    g.claim(h, 0).unwrap();
    let max = wasi_hw_usb::MAX_TRANSFER_SIZE;
    let per_budget = (wasi_hw_usb::MAX_IN_FLIGHT / u64::from(max)) as usize;
    let mut submitted = Vec::new();
    for _ in 0..per_budget {
        let t = g
            .new_transfer(h, BULK, (0, 0, 0, 0), max, sim::LOOPBACK_IN, 0)
            .unwrap();
        g.submit(t, 0, 0).unwrap();
        submitted.push(t);
    }
    // One more would pin more host memory than the budget: no-mem, nothing submitted.
    let extra = g
        .new_transfer(h, BULK, (0, 0, 0, 0), max, sim::LOOPBACK_IN, 0)
        .unwrap();
    assert_eq!(g.submit(extra, 0, 0), Err(UsbError::NoMem));
    // A dropped transfer gives its bytes back.
    g.raw("transfers#[resource-drop]transfer", &[submitted[0]])
        .unwrap();
    g.submit(extra, 0, 0).unwrap();
}

/// Every scenario in both execution modes, and under the proposal repository's names.
macro_rules! in_both_modes {
    ($($name:ident),* $(,)?) => {
        mod interp {
            $( #[test] fn $name() { super::$name(super::Mode::Interp) } )*
        }
        mod proposal_names {
            $( #[test] fn $name() { super::$name(super::Mode::ProposalNames) } )*
        }
        #[cfg(target_arch = "x86_64")]
        mod aot {
            $( #[test] fn $name() { super::$name(super::Mode::Aot) } )*
        }
    };
}

in_both_modes!(
    enumerates_the_model,
    standard_requests_over_control_transfers,
    bulk_loopback_round_trips,
    interrupt_reports_arrive_in_order,
    timeouts_cancellation_and_halts,
    removal_mid_transfer_is_no_device,
    hotplug_reports_removal_and_arrival,
    ungranted_devices_are_invisible,
    interface_grants_limit_what_a_handle_can_do,
    storage_bulk_only_transport,
    hostile_arguments_trap_or_fail,
    lying_cabi_realloc_traps,
    dropped_transfers_are_cancelled,
    transfers_in_flight_are_bounded,
);
