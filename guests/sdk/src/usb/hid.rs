//! HID boot-protocol devices (class 3, subclass 1): finding the interface, selecting the
//! boot protocol, reading reports.

use super::{find_endpoint, Handle, InterfaceDescriptor, LibusbError, EP_INTERRUPT};

pub const CLASS_HID: u8 = 3;
pub const SUBCLASS_BOOT: u8 = 1;
pub const PROTOCOL_KEYBOARD: u8 = 1;
pub const PROTOCOL_MOUSE: u8 = 2;

const REQ_GET_PROTOCOL: u8 = 0x03;
const REQ_SET_IDLE: u8 = 0x0a;
const REQ_SET_PROTOCOL: u8 = 0x0b;
/// bmRequestType: class, interface (OUT; the helpers add the IN bit).
const CLASS_INTERFACE: u8 = 0x21;

/// Whether `intf` is a boot keyboard or boot mouse.
pub fn is_boot_interface(intf: &InterfaceDescriptor) -> bool {
    intf.interface_class == CLASS_HID
        && intf.interface_subclass == SUBCLASS_BOOT
        && matches!(intf.interface_protocol, PROTOCOL_KEYBOARD | PROTOCOL_MOUSE)
}

/// "keyboard" / "mouse".
pub fn kind(intf: &InterfaceDescriptor) -> &'static str {
    match intf.interface_protocol {
        PROTOCOL_KEYBOARD => "keyboard",
        PROTOCOL_MOUSE => "mouse",
        _ => "hid",
    }
}

/// The interrupt IN endpoint (address, max packet size) of a HID interface.
pub fn input_endpoint(intf: &InterfaceDescriptor) -> Option<(u8, u16)> {
    find_endpoint(intf, EP_INTERRUPT, true).map(|e| (e.endpoint_address, e.max_packet_size & 0x7ff))
}

/// GET_PROTOCOL: 0 boot, 1 report.
pub fn get_protocol(h: &Handle, interface: u8) -> super::Result<u8> {
    let d = h.control_in(
        CLASS_INTERFACE,
        REQ_GET_PROTOCOL,
        0,
        u16::from(interface),
        1,
        1000,
    )?;
    d.first().copied().ok_or(super::Error(LibusbError::Io))
}

/// Selects the boot protocol unless the device already uses it. Devices that do not
/// implement GET_PROTOCOL (it is optional for non-boot devices) are set unconditionally.
/// Returns whether a SET_PROTOCOL was sent.
pub fn ensure_boot_protocol(h: &Handle, interface: u8) -> super::Result<bool> {
    match get_protocol(h, interface) {
        Ok(0) => Ok(false),
        Ok(_) | Err(super::Error(LibusbError::Pipe)) => {
            h.control_out(
                CLASS_INTERFACE,
                REQ_SET_PROTOCOL,
                0,
                u16::from(interface),
                &[],
                1000,
            )?;
            Ok(true)
        }
        Err(e) => Err(e),
    }
}

/// SET_IDLE(0): report only on change. Optional for mice, so a stall is ignored.
pub fn set_idle_infinite(h: &Handle, interface: u8) -> super::Result<()> {
    match h.control_out(
        CLASS_INTERFACE,
        REQ_SET_IDLE,
        0,
        u16::from(interface),
        &[],
        1000,
    ) {
        Err(super::Error(LibusbError::Pipe)) => Ok(()),
        other => other,
    }
}
