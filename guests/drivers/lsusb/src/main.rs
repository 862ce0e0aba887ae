//! `lsusb`: lists the USB devices granted to this driver, one line each, like lsusb:
//!
//! ```text
//! lsusb [-v] [-d VID:PID]
//! Bus 001 Device 002: ID 1209:0001 Simulated loopback and HID device
//! ```
//!
//! The product string is read from the device (GET_DESCRIPTOR) and left out when the
//! device has none or cannot be opened. `-v` adds the location and a dump of the device,
//! configuration, interface and endpoint descriptors in lsusb's layout; `-d` filters by
//! hex vendor/product id (either may be empty). Errors: `lsusb: error: ...` on stderr,
//! exit status 1.

use wasi_hw_guest::cli::{self, Args};
use wasi_hw_guest::usb::{
    self, ConfigurationDescriptor, Device, EndpointDescriptor, Handle, InterfaceDescriptor,
};

const PROG: &str = "lsusb";
const USAGE: &str = "usage: lsusb [-v] [-d VID:PID]";

fn bcd(v: u16) -> String {
    format!("{:x}.{:02x}", v >> 8, v & 0xff)
}

/// ` text` for string descriptor `index`, or nothing.
fn string(h: Option<&Handle>, index: u8) -> String {
    match h.map(|h| h.string_descriptor(index)) {
        Some(Ok(s)) if !s.is_empty() => format!(" {s}"),
        _ => String::new(),
    }
}

fn class_name(class: u8) -> &'static str {
    match class {
        0x00 => "(Defined at Interface level)",
        0x01 => "Audio",
        0x02 => "Communications",
        0x03 => "Human Interface Device",
        0x07 => "Printer",
        0x08 => "Mass Storage",
        0x09 => "Hub",
        0x0a => "CDC Data",
        0x0e => "Video",
        0xe0 => "Wireless",
        0xef => "Miscellaneous Device",
        0xfe => "Application Specific Interface",
        0xff => "Vendor Specific Class",
        _ => "",
    }
}

fn field(indent: usize, name: &str, value: impl std::fmt::Display) {
    println!("{:indent$}{name:<19}{value:>6}", "");
}

fn field_text(indent: usize, name: &str, value: impl std::fmt::Display, text: &str) {
    println!("{:indent$}{name:<19}{value:>6}{text}", "");
}

fn dump_endpoint(e: &EndpointDescriptor) {
    let i = 8;
    println!("{:i$}Endpoint Descriptor:", "");
    let i = 10;
    field(i, "bLength", e.length);
    field(i, "bDescriptorType", e.descriptor_type);
    let dir = if e.endpoint_address & 0x80 != 0 {
        "IN"
    } else {
        "OUT"
    };
    field_text(
        i,
        "bEndpointAddress",
        format!("0x{:02x}", e.endpoint_address),
        &format!("  EP {} {dir}", e.endpoint_address & 0x0f),
    );
    field(i, "bmAttributes", e.attributes);
    let kind = ["Control", "Isochronous", "Bulk", "Interrupt"][usize::from(e.attributes & 3)];
    println!("{:w$}Transfer Type            {kind}", "", w = i + 2);
    let mps = e.max_packet_size;
    let mult = 1 + ((mps >> 11) & 3);
    field_text(
        i,
        "wMaxPacketSize",
        format!("0x{mps:04x}"),
        &format!("  {mult}x {} bytes", mps & 0x7ff),
    );
    field(i, "bInterval", e.interval);
    if e.length >= 9 {
        field(i, "bRefresh", e.refresh);
        field(i, "bSynchAddress", e.synch_address);
    }
}

fn dump_interface(h: Option<&Handle>, intf: &InterfaceDescriptor) {
    println!("    Interface Descriptor:");
    let i = 6;
    field(i, "bLength", intf.length);
    field(i, "bDescriptorType", intf.descriptor_type);
    field(i, "bInterfaceNumber", intf.interface_number);
    field(i, "bAlternateSetting", intf.alternate_setting);
    field(i, "bNumEndpoints", intf.endpoints.len());
    field_text(
        i,
        "bInterfaceClass",
        intf.interface_class,
        &format!(" {}", class_name(intf.interface_class)),
    );
    field(i, "bInterfaceSubClass", intf.interface_subclass);
    field(i, "bInterfaceProtocol", intf.interface_protocol);
    field_text(
        i,
        "iInterface",
        intf.interface_index,
        &string(h, intf.interface_index),
    );
    for e in &intf.endpoints {
        dump_endpoint(e);
    }
}

fn dump_config(h: Option<&Handle>, c: &ConfigurationDescriptor) {
    println!("  Configuration Descriptor:");
    let i = 4;
    field(i, "bLength", c.length);
    field(i, "bDescriptorType", c.descriptor_type);
    field(i, "wTotalLength", format!("0x{:04x}", c.total_length));
    let mut numbers: Vec<u8> = c.interfaces.iter().map(|i| i.interface_number).collect();
    numbers.dedup();
    field(i, "bNumInterfaces", numbers.len());
    field(i, "bConfigurationValue", c.configuration_value);
    field_text(
        i,
        "iConfiguration",
        c.configuration_index,
        &string(h, c.configuration_index),
    );
    field(i, "bmAttributes", format!("0x{:02x}", c.attributes));
    if c.attributes & 0x40 != 0 {
        println!("      Self Powered");
    }
    if c.attributes & 0x20 != 0 {
        println!("      Remote Wakeup");
    }
    field(i, "MaxPower", format!("{}mA", u32::from(c.max_power) * 2));
    for intf in &c.interfaces {
        dump_interface(h, intf);
    }
}

fn dump(dev: &Device, h: Option<&Handle>) {
    let d = &dev.descriptor;
    let loc = &dev.location;
    println!(
        "Location: bus {} port {} address {}, speed {}",
        loc.bus_number,
        loc.port_number,
        loc.device_address,
        usb::speed_name(loc.speed)
    );
    println!("Device Descriptor:");
    let i = 2;
    field(i, "bLength", d.length);
    field(i, "bDescriptorType", d.descriptor_type);
    field(i, "bcdUSB", bcd(d.usb_version_bcd));
    field_text(
        i,
        "bDeviceClass",
        d.device_class,
        &format!(" {}", class_name(d.device_class)),
    );
    field(i, "bDeviceSubClass", d.device_subclass);
    field(i, "bDeviceProtocol", d.device_protocol);
    field(i, "bMaxPacketSize0", d.max_packet_size0);
    field(i, "idVendor", format!("0x{:04x}", d.vendor_id));
    field(i, "idProduct", format!("0x{:04x}", d.product_id));
    field(i, "bcdDevice", bcd(d.device_version_bcd));
    field_text(
        i,
        "iManufacturer",
        d.manufacturer_index,
        &string(h, d.manufacturer_index),
    );
    field_text(i, "iProduct", d.product_index, &string(h, d.product_index));
    field_text(
        i,
        "iSerial",
        d.serial_number_index,
        &string(h, d.serial_number_index),
    );
    field(i, "bNumConfigurations", d.num_configurations);
    for index in 0..d.num_configurations {
        match dev.config_descriptor(index) {
            Ok(c) => dump_config(h, &c),
            Err(e) => println!("  (configuration {index}: {e})"),
        }
    }
    println!();
}

fn main() {
    let args = Args::parse(std::env::args().skip(1), &["-d"], &["-v", "--verbose"])
        .unwrap_or_else(|e| cli::fail(PROG, format!("{e}\n{USAGE}")));
    if !args.positional.is_empty() {
        cli::fail(PROG, USAGE);
    }
    let verbose = args.flag("-v") || args.flag("--verbose");
    let filter = match args.value("-d") {
        Some(f) => usb::parse_vid_pid(f).unwrap_or_else(|e| cli::fail(PROG, format!("-d: {e}"))),
        None => (None, None),
    };
    usb::init().unwrap_or_else(|e| cli::fail(PROG, format!("init: {e}")));
    let devices = usb::devices().unwrap_or_else(|e| cli::fail(PROG, format!("list-devices: {e}")));
    for dev in devices.iter().filter(|d| d.matches(filter)) {
        // Strings need an open device; without access the line is printed without them.
        let handle = dev.open().ok();
        let d = &dev.descriptor;
        println!(
            "Bus {:03} Device {:03}: ID {:04x}:{:04x}{}",
            dev.location.bus_number,
            dev.location.device_address,
            d.vendor_id,
            d.product_id,
            string(handle.as_ref(), d.product_index)
        );
        if verbose {
            dump(dev, handle.as_ref());
        }
    }
}
