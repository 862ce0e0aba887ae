//! The simulated devices: their descriptor sets and the functions behind their endpoints.

use std::collections::VecDeque;

use super::storage::MassStorage;
use crate::backend::TransferSetup;
use crate::descriptors::*;
use crate::error::{UsbError, UsbResult};

/// pid.codes' test vendor id.
pub const SIM_VENDOR: u16 = 0x1209;
/// The loopback + HID test device.
pub const SIM_TEST_PRODUCT: u16 = 0x0001;
/// The mass-storage device.
pub const SIM_STORAGE_PRODUCT: u16 = 0x0002;

/// Bulk loopback endpoints of the test device (interface 0).
pub const LOOPBACK_OUT: u8 = 0x01;
pub const LOOPBACK_IN: u8 = 0x81;
/// Interrupt IN endpoint of the test device's boot mouse (interface 1).
pub const HID_IN: u8 = 0x83;
/// Bulk endpoints of the storage device.
pub const STORAGE_OUT: u8 = 0x02;
pub const STORAGE_IN: u8 = 0x82;

/// How many boot-mouse reports the test device produces after each (re)connection or
/// reset; after that its interrupt endpoint NAKs (IN transfers time out).
pub const HID_REPORT_COUNT: u32 = 1024;
/// Boot-mouse report size (buttons, X, Y, wheel).
pub const HID_REPORT_LEN: usize = 4;
/// Bytes the loopback holds before it NAKs further OUT data.
pub const LOOPBACK_CAPACITY: usize = 8 << 20;

/// The `n`-th report of the simulated mouse: buttons cycle through 0..8, X through -5..=5,
/// Y through 3..=-3, wheel stays 0.
pub fn hid_report(n: u32) -> [u8; HID_REPORT_LEN] {
    let buttons = (n % 8) as u8;
    let dx = (n % 11) as i8 - 5;
    let dy = 3 - (n % 7) as i8;
    [buttons, dx as u8, dy as u8, 0]
}

/// HID report descriptor of a 3-button mouse with X, Y and wheel (boot-compatible layout).
pub const MOUSE_REPORT_DESCRIPTOR: &[u8] = &[
    0x05, 0x01, // Usage Page (Generic Desktop)
    0x09, 0x02, // Usage (Mouse)
    0xa1, 0x01, // Collection (Application)
    0x09, 0x01, //   Usage (Pointer)
    0xa1, 0x00, //   Collection (Physical)
    0x05, 0x09, //     Usage Page (Buttons)
    0x19, 0x01, //     Usage Minimum (1)
    0x29, 0x03, //     Usage Maximum (3)
    0x15, 0x00, //     Logical Minimum (0)
    0x25, 0x01, //     Logical Maximum (1)
    0x95, 0x03, //     Report Count (3)
    0x75, 0x01, //     Report Size (1)
    0x81, 0x02, //     Input (Data, Variable, Absolute)
    0x95, 0x01, //     Report Count (1)
    0x75, 0x05, //     Report Size (5)
    0x81, 0x01, //     Input (Constant) padding
    0x05, 0x01, //     Usage Page (Generic Desktop)
    0x09, 0x30, //     Usage (X)
    0x09, 0x31, //     Usage (Y)
    0x09, 0x38, //     Usage (Wheel)
    0x15, 0x81, //     Logical Minimum (-127)
    0x25, 0x7f, //     Logical Maximum (127)
    0x75, 0x08, //     Report Size (8)
    0x95, 0x03, //     Report Count (3)
    0x81, 0x06, //     Input (Data, Variable, Relative)
    0xc0, //       End Collection
    0xc0, //     End Collection
];

/// Result of an IN token on a bulk/interrupt endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InOutcome {
    Data(Vec<u8>),
    /// Nothing to send now (the host retries until its timeout).
    Nak,
    Stall,
}

/// Result of OUT data on a bulk/interrupt endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutOutcome {
    Accepted,
    /// Cannot take the data now (the host retries until its timeout).
    Nak,
    Stall,
}

/// The class- and vendor-specific behaviour of a device; standard requests, configuration,
/// alternate settings and halts are handled by the framework in `super`.
pub trait Function: Send {
    /// A class/vendor control request (or a standard request the framework does not know).
    /// `Err(Pipe)` stalls.
    fn control(&mut self, setup: &TransferSetup, data: &[u8], length: usize) -> UsbResult<Vec<u8>>;
    fn bulk_out(&mut self, ep: u8, data: &[u8]) -> OutOutcome;
    fn bulk_in(&mut self, ep: u8, max: usize) -> InOutcome;
    /// Device reset or re-connection.
    fn reset(&mut self);
}

/// Loopback on interface 0, boot mouse on interface 1.
pub struct TestFunction {
    fifo: VecDeque<u8>,
    next_report: u32,
    /// HID protocol: 0 boot, 1 report.
    protocol: u8,
    idle: u8,
}

impl Default for TestFunction {
    fn default() -> Self {
        TestFunction::new()
    }
}

impl TestFunction {
    pub fn new() -> TestFunction {
        TestFunction {
            fifo: VecDeque::new(),
            next_report: 0,
            protocol: 1,
            idle: 0,
        }
    }
}

impl Function for TestFunction {
    fn control(
        &mut self,
        setup: &TransferSetup,
        _data: &[u8],
        _length: usize,
    ) -> UsbResult<Vec<u8>> {
        let hid_interface = setup.w_index & 0xff == 1;
        match (setup.bm_request_type, setup.b_request) {
            // HID class descriptor requests (standard GET_DESCRIPTOR to the interface).
            (0x81, 0x06) if hid_interface => match (setup.w_value >> 8) as u8 {
                0x22 => Ok(MOUSE_REPORT_DESCRIPTOR.to_vec()),
                0x21 => Ok(hid_descriptor().to_vec()),
                _ => Err(UsbError::Pipe),
            },
            // GET_REPORT (input): the next report, without consuming it.
            (0xa1, 0x01) if hid_interface => Ok(hid_report(self.next_report).to_vec()),
            // GET_IDLE / SET_IDLE
            (0xa1, 0x02) if hid_interface => Ok(vec![self.idle]),
            (0x21, 0x0a) if hid_interface => {
                self.idle = (setup.w_value >> 8) as u8;
                Ok(Vec::new())
            }
            // GET_PROTOCOL / SET_PROTOCOL
            (0xa1, 0x03) if hid_interface => Ok(vec![self.protocol]),
            (0x21, 0x0b) if hid_interface && setup.w_value <= 1 => {
                self.protocol = setup.w_value as u8;
                Ok(Vec::new())
            }
            _ => Err(UsbError::Pipe),
        }
    }

    fn bulk_out(&mut self, ep: u8, data: &[u8]) -> OutOutcome {
        if ep != LOOPBACK_OUT {
            return OutOutcome::Stall;
        }
        if self.fifo.len() + data.len() > LOOPBACK_CAPACITY {
            return OutOutcome::Nak;
        }
        self.fifo.extend(data);
        OutOutcome::Accepted
    }

    fn bulk_in(&mut self, ep: u8, max: usize) -> InOutcome {
        match ep {
            LOOPBACK_IN => {
                if self.fifo.is_empty() {
                    return InOutcome::Nak;
                }
                let n = self.fifo.len().min(max);
                // Copied slice-wise (drain().collect() moves byte by byte, which made the
                // simulated device, not the runtime, the bottleneck of bulk benchmarks).
                let (a, b) = self.fifo.as_slices();
                let from_a = a.len().min(n);
                let mut out = Vec::with_capacity(n);
                out.extend_from_slice(&a[..from_a]);
                out.extend_from_slice(&b[..n - from_a]);
                self.fifo.drain(..n);
                InOutcome::Data(out)
            }
            HID_IN => {
                if self.next_report >= HID_REPORT_COUNT {
                    return InOutcome::Nak;
                }
                let mut r = hid_report(self.next_report).to_vec();
                self.next_report += 1;
                r.truncate(max);
                InOutcome::Data(r)
            }
            _ => InOutcome::Stall,
        }
    }

    fn reset(&mut self) {
        self.fifo.clear();
        self.next_report = 0;
        self.protocol = 1;
        self.idle = 0;
    }
}

fn hid_descriptor() -> [u8; 9] {
    let len = MOUSE_REPORT_DESCRIPTOR.len() as u16;
    [9, 0x21, 0x11, 0x01, 0, 1, 0x22, len as u8, (len >> 8) as u8]
}

/// Everything the framework needs to know about one simulated device.
pub struct DeviceSpec {
    pub descriptor: DeviceDescriptor,
    pub configs: Vec<ConfigurationDescriptor>,
    /// String descriptors 1..; index 0 is the language list.
    pub strings: Vec<&'static str>,
    /// Interfaces that a (simulated) kernel driver is bound to at connection.
    pub kernel_drivers: Vec<u8>,
    pub speed: crate::backend::UsbSpeed,
    pub function: Box<dyn Function>,
}

fn device_descriptor(product: u16, num_configurations: u8) -> DeviceDescriptor {
    DeviceDescriptor {
        length: 18,
        descriptor_type: DT_DEVICE,
        usb_version_bcd: 0x0200,
        device_class: 0,
        device_subclass: 0,
        device_protocol: 0,
        max_packet_size0: 64,
        vendor_id: SIM_VENDOR,
        product_id: product,
        device_version_bcd: 0x0100,
        manufacturer_index: 1,
        product_index: 2,
        serial_number_index: 3,
        num_configurations,
    }
}

fn interface(
    number: u8,
    alt: u8,
    class: (u8, u8, u8),
    string: u8,
    endpoints: Vec<EndpointDescriptor>,
    extra: Vec<u8>,
) -> InterfaceDescriptor {
    InterfaceDescriptor {
        length: 9,
        descriptor_type: DT_INTERFACE,
        interface_number: number,
        alternate_setting: alt,
        endpoints,
        interface_class: class.0,
        interface_subclass: class.1,
        interface_protocol: class.2,
        interface_index: string,
        extra,
    }
}

fn config(value: u8, string: u8, interfaces: Vec<InterfaceDescriptor>) -> ConfigurationDescriptor {
    let mut c = ConfigurationDescriptor {
        length: 9,
        descriptor_type: DT_CONFIG,
        total_length: 0,
        interfaces,
        configuration_value: value,
        configuration_index: string,
        attributes: 0x80,
        max_power: 50,
    };
    c.total_length = c.to_bytes().len() as u16;
    c
}

/// 1209:0001 — interface 0 (vendor class): bulk loopback 0x01 → 0x81, alternate setting 1
/// without endpoints; interface 1: HID boot mouse on interrupt IN 0x83.
pub fn test_device() -> DeviceSpec {
    let loopback = interface(
        0,
        0,
        (0xff, 0, 0),
        4,
        vec![
            EndpointDescriptor::new(LOOPBACK_OUT, EP_BULK, 512, 0),
            EndpointDescriptor::new(LOOPBACK_IN, EP_BULK, 512, 0),
        ],
        vec![],
    );
    let idle = interface(0, 1, (0xff, 0, 0), 4, vec![], vec![]);
    let mouse = interface(
        1,
        0,
        (3, 1, 2),
        5,
        vec![EndpointDescriptor::new(
            HID_IN,
            EP_INTERRUPT,
            HID_REPORT_LEN as u16,
            10,
        )],
        hid_descriptor().to_vec(),
    );
    DeviceSpec {
        descriptor: device_descriptor(SIM_TEST_PRODUCT, 1),
        configs: vec![config(1, 0, vec![loopback, idle, mouse])],
        strings: vec![
            "wasi-hw",
            "Simulated loopback and HID device",
            "SIM0001",
            "Loopback",
            "Boot mouse",
        ],
        kernel_drivers: vec![1],
        speed: crate::backend::UsbSpeed::High,
        function: Box::new(TestFunction::new()),
    }
}

/// 1209:0002 — mass storage (class 8, SCSI transparent 6, Bulk-Only 0x50) on bulk 0x02/0x82.
pub fn storage_device() -> DeviceSpec {
    let msc = interface(
        0,
        0,
        (8, 6, 0x50),
        0,
        vec![
            EndpointDescriptor::new(STORAGE_OUT, EP_BULK, 512, 0),
            EndpointDescriptor::new(STORAGE_IN, EP_BULK, 512, 0),
        ],
        vec![],
    );
    DeviceSpec {
        descriptor: device_descriptor(SIM_STORAGE_PRODUCT, 1),
        configs: vec![config(1, 0, vec![msc])],
        strings: vec!["wasi-hw", "Simulated mass storage", "0123456789AB"],
        kernel_drivers: vec![0],
        speed: crate::backend::UsbSpeed::High,
        function: Box::new(MassStorage::new(STORAGE_OUT, STORAGE_IN)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hid_reports_are_deterministic_and_distinct_in_sequence() {
        assert_eq!(hid_report(0), [0, 0xfb, 3, 0]);
        assert_eq!(hid_report(1), [1, 0xfc, 2, 0]);
        assert_ne!(hid_report(2), hid_report(3));
    }

    #[test]
    fn descriptors_parse_back() {
        for spec in [test_device(), storage_device()] {
            for cfg in &spec.configs {
                let raw = cfg.to_bytes();
                assert_eq!(ConfigurationDescriptor::parse(&raw).as_ref(), Some(cfg));
            }
        }
        let t = test_device();
        assert_eq!(t.configs[0].interfaces.len(), 3);
        assert_eq!(
            t.configs[0].to_bytes()[4],
            2,
            "two interfaces, three alt settings"
        );
        assert_eq!(MOUSE_REPORT_DESCRIPTOR.len(), 52);
    }

    /// The loopback returns bytes in order across the ring buffer's wrap-around.
    #[test]
    fn loopback_keeps_order_across_wraparound() {
        let mut f = TestFunction::new();
        let mut expected = std::collections::VecDeque::new();
        let mut next = 0u8;
        for round in 0..200usize {
            let out: Vec<u8> = (0..(round * 7) % 50 + 1)
                .map(|_| {
                    next = next.wrapping_add(1);
                    next
                })
                .collect();
            assert_eq!(f.bulk_out(LOOPBACK_OUT, &out), OutOutcome::Accepted);
            expected.extend(out);
            let want = (round * 13) % 40 + 1;
            let n = expected.len().min(want);
            let got: Vec<u8> = expected.drain(..n).collect();
            assert_eq!(
                f.bulk_in(LOOPBACK_IN, want),
                InOutcome::Data(got),
                "round {round}"
            );
        }
    }

    #[test]
    fn loopback_and_hid() {
        let mut f = TestFunction::new();
        assert_eq!(f.bulk_in(LOOPBACK_IN, 512), InOutcome::Nak);
        assert_eq!(f.bulk_out(LOOPBACK_OUT, b"hello"), OutOutcome::Accepted);
        assert_eq!(f.bulk_in(LOOPBACK_IN, 3), InOutcome::Data(b"hel".to_vec()));
        assert_eq!(f.bulk_in(LOOPBACK_IN, 512), InOutcome::Data(b"lo".to_vec()));
        for n in 0..HID_REPORT_COUNT {
            assert_eq!(
                f.bulk_in(HID_IN, 8),
                InOutcome::Data(hid_report(n).to_vec())
            );
        }
        assert_eq!(f.bulk_in(HID_IN, 8), InOutcome::Nak);
        f.reset();
        assert_eq!(
            f.bulk_in(HID_IN, 8),
            InOutcome::Data(hid_report(0).to_vec())
        );
    }
}
