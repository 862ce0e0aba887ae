//! USB descriptors as the `wasi:usb/descriptors` records, parsed from (and, for the simulated
//! devices, serialised to) their wire format.

/// Descriptor type codes (USB 2.0 table 9-5).
pub const DT_DEVICE: u8 = 1;
pub const DT_CONFIG: u8 = 2;
pub const DT_STRING: u8 = 3;
pub const DT_INTERFACE: u8 = 4;
pub const DT_ENDPOINT: u8 = 5;

/// Upper bound on the descriptors of one configuration we accept from a device: wTotalLength
/// is a u16, so nothing legitimate is larger.
pub const MAX_CONFIG_LEN: usize = u16::MAX as usize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceDescriptor {
    pub length: u8,
    pub descriptor_type: u8,
    pub usb_version_bcd: u16,
    pub device_class: u8,
    pub device_subclass: u8,
    pub device_protocol: u8,
    pub max_packet_size0: u8,
    pub vendor_id: u16,
    pub product_id: u16,
    pub device_version_bcd: u16,
    pub manufacturer_index: u8,
    pub product_index: u8,
    pub serial_number_index: u8,
    pub num_configurations: u8,
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

impl DeviceDescriptor {
    /// Parses the 18-byte device descriptor.
    pub fn parse(b: &[u8]) -> Option<DeviceDescriptor> {
        if b.len() < 18 || b[0] < 18 || b[1] != DT_DEVICE {
            return None;
        }
        Some(DeviceDescriptor {
            length: b[0],
            descriptor_type: b[1],
            usb_version_bcd: le16(b, 2),
            device_class: b[4],
            device_subclass: b[5],
            device_protocol: b[6],
            max_packet_size0: b[7],
            vendor_id: le16(b, 8),
            product_id: le16(b, 10),
            device_version_bcd: le16(b, 12),
            manufacturer_index: b[14],
            product_index: b[15],
            serial_number_index: b[16],
            num_configurations: b[17],
        })
    }

    pub fn to_bytes(&self) -> [u8; 18] {
        let mut b = [0u8; 18];
        b[0] = 18;
        b[1] = DT_DEVICE;
        b[2..4].copy_from_slice(&self.usb_version_bcd.to_le_bytes());
        b[4] = self.device_class;
        b[5] = self.device_subclass;
        b[6] = self.device_protocol;
        b[7] = self.max_packet_size0;
        b[8..10].copy_from_slice(&self.vendor_id.to_le_bytes());
        b[10..12].copy_from_slice(&self.product_id.to_le_bytes());
        b[12..14].copy_from_slice(&self.device_version_bcd.to_le_bytes());
        b[14] = self.manufacturer_index;
        b[15] = self.product_index;
        b[16] = self.serial_number_index;
        b[17] = self.num_configurations;
        b
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointDescriptor {
    pub length: u8,
    pub descriptor_type: u8,
    pub endpoint_address: u8,
    pub attributes: u8,
    pub max_packet_size: u16,
    pub interval: u8,
    pub refresh: u8,
    pub synch_address: u8,
}

/// bmAttributes transfer types (bits 0..1).
pub const EP_CONTROL: u8 = 0;
pub const EP_ISOCHRONOUS: u8 = 1;
pub const EP_BULK: u8 = 2;
pub const EP_INTERRUPT: u8 = 3;

impl EndpointDescriptor {
    /// A 7-byte endpoint descriptor.
    pub fn new(address: u8, transfer_type: u8, max_packet_size: u16, interval: u8) -> Self {
        EndpointDescriptor {
            length: 7,
            descriptor_type: DT_ENDPOINT,
            endpoint_address: address,
            attributes: transfer_type & 3,
            max_packet_size,
            interval,
            refresh: 0,
            synch_address: 0,
        }
    }

    pub fn transfer_type(&self) -> u8 {
        self.attributes & 3
    }

    pub fn is_in(&self) -> bool {
        self.endpoint_address & 0x80 != 0
    }

    /// Bytes per packet (bits 0..10 of wMaxPacketSize).
    pub fn packet_size(&self) -> usize {
        usize::from(self.max_packet_size & 0x7ff)
    }

    fn write(&self, out: &mut Vec<u8>) {
        let len = if self.length >= 9 { 9 } else { 7 };
        out.extend_from_slice(&[len, DT_ENDPOINT, self.endpoint_address, self.attributes]);
        out.extend_from_slice(&self.max_packet_size.to_le_bytes());
        out.push(self.interval);
        if len == 9 {
            out.extend_from_slice(&[self.refresh, self.synch_address]);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceDescriptor {
    pub length: u8,
    pub descriptor_type: u8,
    pub interface_number: u8,
    pub alternate_setting: u8,
    pub endpoints: Vec<EndpointDescriptor>,
    pub interface_class: u8,
    pub interface_subclass: u8,
    pub interface_protocol: u8,
    pub interface_index: u8,
    /// Class-specific descriptors that follow the interface descriptor (e.g. the HID
    /// descriptor). Not part of the WIT record; kept so devices can be serialised.
    pub extra: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigurationDescriptor {
    pub length: u8,
    pub descriptor_type: u8,
    pub total_length: u16,
    pub interfaces: Vec<InterfaceDescriptor>,
    pub configuration_value: u8,
    pub configuration_index: u8,
    pub attributes: u8,
    pub max_power: u8,
}

impl ConfigurationDescriptor {
    /// Parses a configuration descriptor with all its sub-descriptors (what GET_DESCRIPTOR
    /// (CONFIGURATION) returns). Rejects truncated or malformed descriptor chains.
    pub fn parse(raw: &[u8]) -> Option<ConfigurationDescriptor> {
        if raw.len() < 9 || raw[0] < 9 || raw[1] != DT_CONFIG {
            return None;
        }
        let total = usize::from(le16(raw, 2));
        if total < 9 || total > raw.len() {
            return None;
        }
        let raw = &raw[..total];
        let mut cfg = ConfigurationDescriptor {
            length: raw[0],
            descriptor_type: raw[1],
            total_length: le16(raw, 2),
            interfaces: Vec::new(),
            configuration_value: raw[5],
            configuration_index: raw[6],
            attributes: raw[7],
            max_power: raw[8],
        };
        let mut at = usize::from(raw[0]);
        while at < raw.len() {
            let len = usize::from(raw[at]);
            if len < 2 || at + len > raw.len() {
                return None;
            }
            let d = &raw[at..at + len];
            match d[1] {
                DT_INTERFACE if len >= 9 => cfg.interfaces.push(InterfaceDescriptor {
                    length: d[0],
                    descriptor_type: d[1],
                    interface_number: d[2],
                    alternate_setting: d[3],
                    endpoints: Vec::new(),
                    interface_class: d[5],
                    interface_subclass: d[6],
                    interface_protocol: d[7],
                    interface_index: d[8],
                    extra: Vec::new(),
                }),
                DT_ENDPOINT if len >= 7 => {
                    let ep = EndpointDescriptor {
                        length: d[0],
                        descriptor_type: d[1],
                        endpoint_address: d[2],
                        attributes: d[3],
                        max_packet_size: le16(d, 4),
                        interval: d[6],
                        refresh: if len >= 9 { d[7] } else { 0 },
                        synch_address: if len >= 9 { d[8] } else { 0 },
                    };
                    // An endpoint before any interface is malformed; libusb rejects it too.
                    cfg.interfaces.last_mut()?.endpoints.push(ep);
                }
                DT_INTERFACE | DT_ENDPOINT => return None,
                _ => {
                    // Class/vendor descriptors: kept with the interface they follow.
                    if let Some(intf) = cfg.interfaces.last_mut() {
                        intf.extra.extend_from_slice(d);
                    }
                }
            }
            at += len;
        }
        Some(cfg)
    }

    /// Serialises the configuration with its interfaces, class descriptors and endpoints;
    /// wTotalLength and bNumInterfaces are computed.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut body = Vec::new();
        for intf in &self.interfaces {
            body.extend_from_slice(&[
                9,
                DT_INTERFACE,
                intf.interface_number,
                intf.alternate_setting,
                intf.endpoints.len() as u8,
                intf.interface_class,
                intf.interface_subclass,
                intf.interface_protocol,
                intf.interface_index,
            ]);
            body.extend_from_slice(&intf.extra);
            for ep in &intf.endpoints {
                ep.write(&mut body);
            }
        }
        let mut numbers: Vec<u8> = self.interfaces.iter().map(|i| i.interface_number).collect();
        numbers.dedup();
        let total = (9 + body.len()) as u16;
        let mut out = vec![
            9,
            DT_CONFIG,
            total as u8,
            (total >> 8) as u8,
            numbers.len() as u8,
            self.configuration_value,
            self.configuration_index,
            self.attributes,
            self.max_power,
        ];
        out.extend_from_slice(&body);
        out
    }

    /// The interface descriptor of `number` with alternate setting `alt`.
    pub fn interface(&self, number: u8, alt: u8) -> Option<&InterfaceDescriptor> {
        self.interfaces
            .iter()
            .find(|i| i.interface_number == number && i.alternate_setting == alt)
    }
}

/// Decodes a string descriptor (UTF-16LE after the 2-byte header).
pub fn decode_string_descriptor(b: &[u8]) -> Option<String> {
    if b.len() < 2 || b[1] != DT_STRING || usize::from(b[0]) > b.len() || b[0] < 2 {
        return None;
    }
    let units: Vec<u16> = b[2..usize::from(b[0])]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    Some(String::from_utf16_lossy(&units))
}

/// Encodes a string descriptor (truncated to the 126 UTF-16 units a descriptor can hold).
pub fn encode_string_descriptor(s: &str) -> Vec<u8> {
    let units: Vec<u16> = s.encode_utf16().take(126).collect();
    let mut out = vec![(2 + units.len() * 2) as u8, DT_STRING];
    for u in units {
        out.extend_from_slice(&u.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_config() -> ConfigurationDescriptor {
        ConfigurationDescriptor {
            length: 9,
            descriptor_type: DT_CONFIG,
            total_length: 0,
            interfaces: vec![
                InterfaceDescriptor {
                    length: 9,
                    descriptor_type: DT_INTERFACE,
                    interface_number: 0,
                    alternate_setting: 0,
                    endpoints: vec![
                        EndpointDescriptor::new(0x01, EP_BULK, 512, 0),
                        EndpointDescriptor::new(0x81, EP_BULK, 512, 0),
                    ],
                    interface_class: 0xff,
                    interface_subclass: 0,
                    interface_protocol: 0,
                    interface_index: 4,
                    extra: vec![],
                },
                InterfaceDescriptor {
                    length: 9,
                    descriptor_type: DT_INTERFACE,
                    interface_number: 1,
                    alternate_setting: 0,
                    endpoints: vec![EndpointDescriptor::new(0x83, EP_INTERRUPT, 4, 10)],
                    interface_class: 3,
                    interface_subclass: 1,
                    interface_protocol: 2,
                    interface_index: 0,
                    extra: vec![9, 0x21, 0x11, 0x01, 0, 1, 0x22, 50, 0],
                },
            ],
            configuration_value: 1,
            configuration_index: 0,
            attributes: 0x80,
            max_power: 50,
        }
    }

    #[test]
    fn config_round_trip() {
        let cfg = sample_config();
        let raw = cfg.to_bytes();
        assert_eq!(raw.len(), 9 + 9 + 7 + 7 + 9 + 9 + 7);
        assert_eq!(raw[4], 2, "bNumInterfaces");
        let parsed = ConfigurationDescriptor::parse(&raw).unwrap();
        assert_eq!(parsed.total_length as usize, raw.len());
        let mut expected = cfg;
        expected.total_length = raw.len() as u16;
        assert_eq!(parsed, expected);
        assert_eq!(
            parsed.interface(1, 0).unwrap().endpoints[0].endpoint_address,
            0x83
        );
        assert!(parsed.interface(1, 1).is_none());
    }

    #[test]
    fn device_round_trip() {
        let d = DeviceDescriptor {
            length: 18,
            descriptor_type: DT_DEVICE,
            usb_version_bcd: 0x0200,
            device_class: 0,
            device_subclass: 0,
            device_protocol: 0,
            max_packet_size0: 64,
            vendor_id: 0x1209,
            product_id: 0x0001,
            device_version_bcd: 0x0100,
            manufacturer_index: 1,
            product_index: 2,
            serial_number_index: 3,
            num_configurations: 1,
        };
        assert_eq!(DeviceDescriptor::parse(&d.to_bytes()), Some(d));
        assert_eq!(DeviceDescriptor::parse(&[18, 1, 0]), None);
    }

    #[test]
    fn malformed_configs_are_rejected() {
        let raw = sample_config().to_bytes();
        // Truncated below wTotalLength.
        assert!(ConfigurationDescriptor::parse(&raw[..raw.len() - 1]).is_none());
        // A zero-length descriptor would loop forever if accepted.
        let mut bad = raw.clone();
        bad[9] = 0;
        assert!(ConfigurationDescriptor::parse(&bad).is_none());
        // Descriptor running past the end.
        let mut bad = raw.clone();
        bad[9] = 200;
        assert!(ConfigurationDescriptor::parse(&bad).is_none());
        // Endpoint before any interface.
        let bad = [9, 2, 16, 0, 0, 1, 0, 0x80, 50, 7, 5, 0x81, 2, 0, 2, 0];
        assert!(ConfigurationDescriptor::parse(&bad).is_none());
        assert!(ConfigurationDescriptor::parse(&[]).is_none());
    }

    #[test]
    fn strings() {
        let e = encode_string_descriptor("héllo");
        assert_eq!(e[0] as usize, e.len());
        assert_eq!(decode_string_descriptor(&e).as_deref(), Some("héllo"));
        assert_eq!(decode_string_descriptor(&[4, 2, 0, 0]), None);
    }
}
