//! Canonical-ABI layouts of the wasi:usb@0.2.1 types on wasm32, and the code that stores
//! results into guest memory (the "lower" half; parameters are lifted in `host`).
//!
//! Layout rules (CanonicalABI.md): a record's fields are laid out in order, each aligned to
//! its own alignment, the record aligned to its largest field and padded to a multiple of
//! it; `u8`/`bool`/enums of < 256 cases/flags of <= 8 flags are 1 byte, `u16` 2, `u32`,
//! handles and list (ptr, len) pairs 4 each. A `result<T, E>` is a u8 discriminant (0 ok,
//! 1 err) followed by the payload at the payload's alignment. A result that flattens to more
//! than one core value is returned through a pointer the caller passes as the last
//! parameter (retptr). Lists are allocated in the guest with its `cabi_realloc`.
//!
//! | type                      | size | align | fields (offset)                                                        |
//! |---------------------------|------|-------|------------------------------------------------------------------------|
//! | device-descriptor         | 18   | 2     | length 0, type 1, bcdUSB 2, class 4, subclass 5, protocol 6, mps0 7,   |
//! |                           |      |       | vendor 8, product 10, bcdDevice 12, iMfr 14, iProduct 15, iSerial 16,  |
//! |                           |      |       | num-configurations 17                                                  |
//! | device-location           | 4    | 1     | bus 0, address 1, port 2, speed 3                                      |
//! | tuple<usb-device, device-descriptor, device-location> | 28 | 4 | handle 0, descriptor 4, location 22          |
//! | endpoint-descriptor       | 10   | 2     | length 0, type 1, address 2, attributes 3, mps 4, interval 6,          |
//! |                           |      |       | refresh 7, synch-address 8                                             |
//! | interface-descriptor      | 16   | 4     | length 0, type 1, number 2, alt 3, endpoints (ptr 4, len 8), class 12, |
//! |                           |      |       | subclass 13, protocol 14, iInterface 15                                |
//! | configuration-descriptor  | 16   | 4     | length 0, type 1, total-length 2, interfaces (ptr 4, len 8), value 12, |
//! |                           |      |       | iConfiguration 13, attributes 14, max-power 15                         |
//! | hotplug info              | 6    | 2     | bus 0, address 1, vendor 2, product 4                                  |
//! | tuple<event, info, usb-device> | 12 | 4  | flags 0, info 2, handle 8                                              |
//! | result<_, libusb-error>   | 2    | 1     | disc 0, error 1                                                        |
//! | result<u8 / bool, E>      | 2    | 1     | disc 0, value/error 1                                                  |
//! | result<own<T>, E>         | 8    | 4     | disc 0, handle/error 4                                                 |
//! | result<list<…>, E>        | 12   | 4     | disc 0, ptr 4 / error 4, len 8                                         |
//! | result<configuration-descriptor, E> | 20 | 4 | disc 0, descriptor/error 4                                         |
//! | list<…> (poll-events ret) | 8    | 4     | ptr 0, len 4                                                           |

use wasi_hw_engine::Trap;

use crate::backend::DeviceInfo;
use crate::descriptors::{
    ConfigurationDescriptor, DeviceDescriptor, EndpointDescriptor, InterfaceDescriptor,
};
use crate::error::UsbError;

pub const DEVICE_DESCRIPTOR_SIZE: u32 = 18;
pub const LIST_DEVICES_ELEM_SIZE: u32 = 28;
pub const LIST_DEVICES_ELEM_ALIGN: u32 = 4;
pub const ENDPOINT_SIZE: u32 = 10;
pub const ENDPOINT_ALIGN: u32 = 2;
pub const INTERFACE_SIZE: u32 = 16;
pub const INTERFACE_ALIGN: u32 = 4;
pub const CONFIG_SIZE: u32 = 16;
pub const HOTPLUG_ELEM_SIZE: u32 = 12;
pub const HOTPLUG_ELEM_ALIGN: u32 = 4;

/// (size, align) of the result areas behind each retptr.
pub const RESULT_UNIT: (u32, u32) = (2, 1);
pub const RESULT_U8: (u32, u32) = (2, 1);
pub const RESULT_HANDLE: (u32, u32) = (8, 4);
pub const RESULT_LIST: (u32, u32) = (12, 4);
pub const RESULT_CONFIG: (u32, u32) = (20, 4);
pub const LIST_RET: (u32, u32) = (8, 4);

// The canonical-ABI pieces every library shares (return-area checks, list lowering) are
// the engine's; this module adds the layouts of the `wasi:usb` types.
pub use wasi_hw_engine::cabi::{
    alloc_array, check_area, lower_array, lower_bytes, GuestMemory as GuestMem,
};

pub fn device_descriptor_bytes(d: &DeviceDescriptor) -> [u8; 18] {
    let mut b = [0u8; 18];
    b[0] = d.length;
    b[1] = d.descriptor_type;
    b[2..4].copy_from_slice(&d.usb_version_bcd.to_le_bytes());
    b[4] = d.device_class;
    b[5] = d.device_subclass;
    b[6] = d.device_protocol;
    b[7] = d.max_packet_size0;
    b[8..10].copy_from_slice(&d.vendor_id.to_le_bytes());
    b[10..12].copy_from_slice(&d.product_id.to_le_bytes());
    b[12..14].copy_from_slice(&d.device_version_bcd.to_le_bytes());
    b[14] = d.manufacturer_index;
    b[15] = d.product_index;
    b[16] = d.serial_number_index;
    b[17] = d.num_configurations;
    b
}

/// One `tuple<usb-device, device-descriptor, device-location>`.
pub fn list_devices_elem(handle: u32, info: &DeviceInfo) -> [u8; 28] {
    let mut b = [0u8; 28];
    b[0..4].copy_from_slice(&handle.to_le_bytes());
    b[4..22].copy_from_slice(&device_descriptor_bytes(&info.descriptor));
    b[22] = info.bus;
    b[23] = info.address;
    b[24] = info.port_number();
    b[25] = info.speed as u8;
    b
}

pub fn endpoint_bytes(e: &EndpointDescriptor) -> [u8; 10] {
    let mut b = [0u8; 10];
    b[0] = e.length;
    b[1] = e.descriptor_type;
    b[2] = e.endpoint_address;
    b[3] = e.attributes;
    b[4..6].copy_from_slice(&e.max_packet_size.to_le_bytes());
    b[6] = e.interval;
    b[7] = e.refresh;
    b[8] = e.synch_address;
    b
}

pub fn interface_bytes(i: &InterfaceDescriptor, endpoints_ptr: u32) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0] = i.length;
    b[1] = i.descriptor_type;
    b[2] = i.interface_number;
    b[3] = i.alternate_setting;
    b[4..8].copy_from_slice(&endpoints_ptr.to_le_bytes());
    b[8..12].copy_from_slice(&(i.endpoints.len() as u32).to_le_bytes());
    b[12] = i.interface_class;
    b[13] = i.interface_subclass;
    b[14] = i.interface_protocol;
    b[15] = i.interface_index;
    b
}

pub fn config_bytes(c: &ConfigurationDescriptor, interfaces_ptr: u32) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0] = c.length;
    b[1] = c.descriptor_type;
    b[2..4].copy_from_slice(&c.total_length.to_le_bytes());
    b[4..8].copy_from_slice(&interfaces_ptr.to_le_bytes());
    b[8..12].copy_from_slice(&(c.interfaces.len() as u32).to_le_bytes());
    b[12] = c.configuration_value;
    b[13] = c.configuration_index;
    b[14] = c.attributes;
    b[15] = c.max_power;
    b
}

/// Lowers a configuration descriptor (allocating its nested lists) and returns its 16
/// bytes, to be stored by the caller.
pub fn lower_config(mem: &mut dyn GuestMem, c: &ConfigurationDescriptor) -> Result<[u8; 16], Trap> {
    let mut intf_bytes = Vec::with_capacity(c.interfaces.len() * INTERFACE_SIZE as usize);
    for intf in &c.interfaces {
        let eps = alloc_array(mem, intf.endpoints.len(), ENDPOINT_SIZE, ENDPOINT_ALIGN)?;
        let mut ep_bytes = Vec::with_capacity(intf.endpoints.len() * ENDPOINT_SIZE as usize);
        for e in &intf.endpoints {
            ep_bytes.extend_from_slice(&endpoint_bytes(e));
        }
        mem.write(eps, &ep_bytes)?;
        intf_bytes.extend_from_slice(&interface_bytes(intf, eps));
    }
    let intfs = alloc_array(mem, c.interfaces.len(), INTERFACE_SIZE, INTERFACE_ALIGN)?;
    mem.write(intfs, &intf_bytes)?;
    Ok(config_bytes(c, intfs))
}

/// Stores `result<_, libusb-error>` (also `result<u8, E>` / `result<bool, E>` with `value`).
pub fn store_result_u8(
    mem: &mut dyn GuestMem,
    retptr: u32,
    r: Result<u8, UsbError>,
) -> Result<(), Trap> {
    let b = match r {
        Ok(v) => [0, v],
        Err(e) => [1, e.discriminant()],
    };
    mem.write(retptr, &b)
}

pub fn store_result_unit(
    mem: &mut dyn GuestMem,
    retptr: u32,
    r: Result<(), UsbError>,
) -> Result<(), Trap> {
    store_result_u8(mem, retptr, r.map(|()| 0))
}

/// Stores `result<own<T>, libusb-error>`.
pub fn store_result_handle(
    mem: &mut dyn GuestMem,
    retptr: u32,
    r: Result<u32, UsbError>,
) -> Result<(), Trap> {
    let mut b = [0u8; 8];
    match r {
        Ok(h) => b[4..8].copy_from_slice(&h.to_le_bytes()),
        Err(e) => {
            b[0] = 1;
            b[4] = e.discriminant();
        }
    }
    mem.write(retptr, &b)
}

/// Stores `result<list<T>, libusb-error>` where the list was already lowered to (ptr, len).
pub fn store_result_list(
    mem: &mut dyn GuestMem,
    retptr: u32,
    r: Result<(u32, u32), UsbError>,
) -> Result<(), Trap> {
    let mut b = [0u8; 12];
    match r {
        Ok((ptr, len)) => {
            b[4..8].copy_from_slice(&ptr.to_le_bytes());
            b[8..12].copy_from_slice(&len.to_le_bytes());
        }
        Err(e) => {
            b[0] = 1;
            b[4] = e.discriminant();
        }
    }
    mem.write(retptr, &b)
}

/// Stores `result<configuration-descriptor, libusb-error>`.
pub fn store_result_config(
    mem: &mut dyn GuestMem,
    retptr: u32,
    r: Result<&ConfigurationDescriptor, UsbError>,
) -> Result<(), Trap> {
    let mut b = [0u8; 20];
    match r {
        Ok(c) => b[4..20].copy_from_slice(&lower_config(mem, c)?),
        Err(e) => {
            b[0] = 1;
            b[4] = e.discriminant();
        }
    }
    mem.write(retptr, &b)
}

/// One `tuple<event, info, usb-device>` of poll-events. `arrived` sets flag bit 0, else
/// bit 1 (`left`).
pub fn hotplug_elem(arrived: bool, info: &DeviceInfo, handle: u32) -> [u8; 12] {
    let mut b = [0u8; 12];
    b[0] = if arrived { 1 } else { 2 };
    b[2] = info.bus;
    b[3] = info.address;
    b[4..6].copy_from_slice(&info.descriptor.vendor_id.to_le_bytes());
    b[6..8].copy_from_slice(&info.descriptor.product_id.to_le_bytes());
    b[8..12].copy_from_slice(&handle.to_le_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::sim::model;
    use crate::backend::UsbSpeed;
    use wasi_hw_engine::cabi::BufferMemory as FakeMem;

    fn info() -> DeviceInfo {
        DeviceInfo {
            key: 1,
            descriptor: model::test_device().descriptor,
            bus: 3,
            address: 7,
            ports: vec![1, 4],
            speed: UsbSpeed::High,
        }
    }

    #[test]
    fn list_devices_element_layout() {
        let b = list_devices_elem(5, &info());
        assert_eq!(u32::from_le_bytes(b[0..4].try_into().unwrap()), 5);
        assert_eq!(b[4], 18);
        assert_eq!(b[5], 1);
        assert_eq!(u16::from_le_bytes([b[6], b[7]]), 0x0200);
        assert_eq!(b[11], 64);
        assert_eq!(u16::from_le_bytes([b[12], b[13]]), 0x1209);
        assert_eq!(u16::from_le_bytes([b[14], b[15]]), 0x0001);
        assert_eq!(b[21], 1, "num-configurations");
        assert_eq!(&b[22..26], &[3, 7, 4, UsbSpeed::High as u8]);
        assert_eq!(&b[26..28], &[0, 0], "padding to 28");
    }

    #[test]
    fn config_descriptor_lowering() {
        let cfg = &model::test_device().configs[0];
        let mut mem = FakeMem::new(8192);
        store_result_config(&mut mem, 16, Ok(cfg)).unwrap();
        assert_eq!(mem.u8(16), 0, "ok");
        let c = 20;
        assert_eq!(mem.u8(c), 9);
        assert_eq!(mem.u8(c + 1), 2);
        assert_eq!(mem.u16(c + 2), cfg.total_length);
        let (intfs, n) = (mem.u32(c + 4), mem.u32(c + 8));
        assert_eq!(n, 3);
        assert_eq!(intfs % 4, 0);
        assert_eq!(mem.u8(c + 12), 1, "bConfigurationValue");
        assert_eq!(mem.u8(c + 14), 0x80);
        assert_eq!(mem.u8(c + 15), 50);
        // Interface 1 (the mouse) is the third alt-setting entry.
        let i = intfs + 2 * INTERFACE_SIZE;
        assert_eq!((mem.u8(i + 2), mem.u8(i + 3)), (1, 0));
        assert_eq!(
            (
                mem.u8(i + 12),
                mem.u8(i + 13),
                mem.u8(i + 14),
                mem.u8(i + 15)
            ),
            (3, 1, 2, 5)
        );
        let (eps, ne) = (mem.u32(i + 4), mem.u32(i + 8));
        assert_eq!(ne, 1);
        assert_eq!(eps % 2, 0);
        assert_eq!(mem.u8(eps + 2), 0x83);
        assert_eq!(mem.u8(eps + 3), 3);
        assert_eq!(mem.u16(eps + 4), 4);
        assert_eq!(mem.u8(eps + 6), 10);
        // The zero-endpoint alternate setting gets an empty list without an allocation.
        let alt1 = intfs + INTERFACE_SIZE;
        assert_eq!(mem.u32(alt1 + 8), 0);
        assert_eq!(
            mem.allocs.len(),
            3,
            "two endpoint lists and the interface list"
        );
    }

    #[test]
    fn error_results() {
        let mut mem = FakeMem::new(64);
        store_result_config(&mut mem, 0, Err(UsbError::NotFound)).unwrap();
        assert_eq!((mem.u8(0), mem.u8(4)), (1, 4));
        store_result_handle(&mut mem, 24, Err(UsbError::Access)).unwrap();
        assert_eq!((mem.u8(24), mem.u8(28)), (1, 2));
        store_result_handle(&mut mem, 24, Ok(7)).unwrap();
        assert_eq!((mem.u8(24), mem.u32(28)), (0, 7));
        store_result_unit(&mut mem, 40, Err(UsbError::Other)).unwrap();
        assert_eq!((mem.u8(40), mem.u8(41)), (1, 12));
        store_result_u8(&mut mem, 40, Ok(1)).unwrap();
        assert_eq!((mem.u8(40), mem.u8(41)), (0, 1));
        store_result_list(&mut mem, 48, Ok((100, 3))).unwrap();
        assert_eq!((mem.u8(48), mem.u32(52), mem.u32(56)), (0, 100, 3));
    }

    #[test]
    fn bad_return_areas_trap() {
        let mem = FakeMem::new(64);
        assert!(check_area(&mem, 2, RESULT_HANDLE).is_err(), "misaligned");
        assert!(
            check_area(&mem, 60, RESULT_HANDLE).is_err(),
            "out of bounds"
        );
        assert!(check_area(&mem, u32::MAX, RESULT_UNIT).is_err(), "wraps");
        assert!(check_area(&mem, 56, RESULT_HANDLE).is_ok());
    }

    #[test]
    fn hotplug_layout() {
        let b = hotplug_elem(false, &info(), 9);
        assert_eq!(b[0], 2, "left");
        assert_eq!(&b[2..4], &[3, 7]);
        assert_eq!(u16::from_le_bytes([b[4], b[5]]), 0x1209);
        assert_eq!(u32::from_le_bytes(b[8..12].try_into().unwrap()), 9);
    }
}
