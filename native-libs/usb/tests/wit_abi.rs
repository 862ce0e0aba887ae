//! The natives' names and core signatures, and the record layouts in `abi`, checked against
//! the WIT package in `wit/usb/` with wit-parser's own canonical-ABI code (the same code
//! wit-bindgen generates guest bindings from).

use std::collections::BTreeMap;
use std::path::Path;

use wit_parser::abi::{AbiVariant, WasmType};
use wit_parser::{Resolve, SizeAlign, Type, TypeDefKind, WorldKey};

fn resolve() -> (Resolve, wit_parser::PackageId) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit/usb");
    let mut r = Resolve::default();
    let (pkg, _) = r.push_dir(&dir).expect("wit/usb parses");
    (r, pkg)
}

#[test]
fn package_is_wasi_usb_0_2_1_with_the_proposal_interfaces() {
    let (r, pkg) = resolve();
    let p = &r.packages[pkg];
    assert_eq!(p.name.to_string(), "wasi:usb@0.2.1");
    let mut names: Vec<&str> = p.interfaces.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "configuration",
            "descriptors",
            "device",
            "errors",
            "hotplug",
            "transfers"
        ]
    );
    let world = r.select_world(&[pkg], Some("imports")).unwrap();
    assert_eq!(r.worlds[world].imports.len(), 6);
}

#[test]
fn natives_match_the_wit_signatures() {
    let (r, pkg) = resolve();
    let mut expected: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (_, &iface) in &r.packages[pkg].interfaces {
        let module = r.name_world_key(&WorldKey::Interface(iface));
        for (name, func) in &r.interfaces[iface].functions {
            let sig = r.wasm_signature(AbiVariant::GuestImport, func);
            assert!(
                sig.results.is_empty(),
                "{name}: results go through a return pointer"
            );
            for p in &sig.params {
                assert!(
                    !matches!(p, WasmType::I64 | WasmType::F32 | WasmType::F64),
                    "{name}: every flat parameter is an i32 on wasm32"
                );
            }
            expected.insert((module.clone(), name.clone()), sig.params.len());
        }
        for (name, &ty) in &r.interfaces[iface].types {
            if matches!(r.types[ty].kind, TypeDefKind::Resource) {
                expected.insert((module.clone(), format!("[resource-drop]{name}")), 1);
            }
        }
    }
    let ours: BTreeMap<(String, String), usize> = wasi_hw_usb::signatures()
        .into_iter()
        .map(|((m, n), p)| ((m.to_string(), n.to_string()), p))
        .collect();
    assert_eq!(ours, expected);
    // The registered host modules carry exactly these functions.
    let modules: Vec<String> = wasi_hw_usb::host_modules()
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    assert_eq!(
        modules,
        [
            wasi_hw_usb::DEVICE_MODULE,
            wasi_hw_usb::TRANSFERS_MODULE,
            wasi_hw_usb::HOTPLUG_MODULE
        ]
    );
}

#[test]
fn record_layouts_match_abi_constants() {
    use wasi_hw_usb::abi;
    let (r, pkg) = resolve();
    let mut sizes = SizeAlign::default();
    sizes.fill(&r);
    let ty = |iface: &str, name: &str| -> Type {
        let i = r.packages[pkg].interfaces[iface];
        Type::Id(r.interfaces[i].types[name])
    };
    let layout = |t: &Type| (sizes.size(t).size_wasm32(), sizes.align(t).align_wasm32());
    assert_eq!(layout(&ty("descriptors", "device-descriptor")), (18, 2));
    assert_eq!(
        layout(&ty("descriptors", "endpoint-descriptor")),
        (abi::ENDPOINT_SIZE as usize, abi::ENDPOINT_ALIGN as usize)
    );
    assert_eq!(
        layout(&ty("descriptors", "interface-descriptor")),
        (abi::INTERFACE_SIZE as usize, abi::INTERFACE_ALIGN as usize)
    );
    assert_eq!(
        layout(&ty("descriptors", "configuration-descriptor")),
        (abi::CONFIG_SIZE as usize, 4)
    );
    assert_eq!(layout(&ty("device", "device-location")), (4, 1));
    assert_eq!(layout(&ty("hotplug", "info")), (6, 2));
    assert_eq!(layout(&ty("hotplug", "event")), (1, 1));
    assert_eq!(layout(&ty("errors", "libusb-error")), (1, 1));
    assert_eq!(layout(&ty("configuration", "config-value")), (2, 1));

    // The list-devices element and result types, as the function signatures use them.
    let device = r.packages[pkg].interfaces["device"];
    let list_devices = &r.interfaces[device].functions["list-devices"];
    let result = list_devices.result.unwrap();
    assert_eq!(
        layout(&result),
        (abi::RESULT_LIST.0 as usize, abi::RESULT_LIST.1 as usize)
    );
    let Type::Id(rid) = result else { panic!() };
    let TypeDefKind::Result(res) = &r.types[rid].kind else {
        panic!()
    };
    let Some(Type::Id(lid)) = res.ok else {
        panic!()
    };
    let TypeDefKind::List(elem) = &r.types[lid].kind else {
        panic!()
    };
    assert_eq!(
        layout(elem),
        (
            abi::LIST_DEVICES_ELEM_SIZE as usize,
            abi::LIST_DEVICES_ELEM_ALIGN as usize
        )
    );
    let result_of = |iface: &str, f: &str| {
        let i = r.packages[pkg].interfaces[iface];
        layout(&r.interfaces[i].functions[f].result.unwrap())
    };
    let u = |(s, a): (u32, u32)| (s as usize, a as usize);
    assert_eq!(result_of("device", "init"), u(abi::RESULT_UNIT));
    assert_eq!(
        result_of("device", "[method]usb-device.open"),
        u(abi::RESULT_HANDLE)
    );
    assert_eq!(
        result_of("device", "[method]usb-device.get-configuration-descriptor"),
        u(abi::RESULT_CONFIG)
    );
    assert_eq!(
        result_of("device", "[method]device-handle.get-configuration"),
        u(abi::RESULT_U8)
    );
    assert_eq!(
        result_of("device", "[method]device-handle.kernel-driver-active"),
        u(abi::RESULT_U8)
    );
    assert_eq!(
        result_of("device", "[method]device-handle.new-transfer"),
        u(abi::RESULT_HANDLE)
    );
    assert_eq!(
        result_of("transfers", "await-transfer"),
        u(abi::RESULT_LIST)
    );
    assert_eq!(result_of("hotplug", "poll-events"), u(abi::LIST_RET));
    let hotplug = r.packages[pkg].interfaces["hotplug"];
    let Type::Id(pl) = r.interfaces[hotplug].functions["poll-events"]
        .result
        .unwrap()
    else {
        panic!()
    };
    let TypeDefKind::List(elem) = &r.types[pl].kind else {
        panic!()
    };
    assert_eq!(
        layout(elem),
        (
            abi::HOTPLUG_ELEM_SIZE as usize,
            abi::HOTPLUG_ELEM_ALIGN as usize
        )
    );
}
