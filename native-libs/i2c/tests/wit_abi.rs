//! The natives' names and flat signatures checked against the WIT packages in `wit/i2c/`
//! (`wasi:i2c@0.2.0-draft`) and `wit/host/` (`wasi-hw:host@0.1.0`), with wit-parser's own
//! canonical-ABI code (the code wit-bindgen generates guest bindings from), and the memory
//! layouts in `abi` against wit-parser's sizes and alignments.

use std::collections::BTreeMap;
use std::path::Path;

use wit_parser::abi::{AbiVariant, WasmType};
use wit_parser::{Resolve, SizeAlign, Type, TypeDefKind, WorldKey};

fn resolve() -> (Resolve, wit_parser::PackageId) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit/host");
    let mut r = Resolve::default();
    let (pkg, _) = r
        .push_dir(&dir)
        .expect("wit/host (with wit/i2c as a dependency) parses");
    (r, pkg)
}

/// WAMR's signature letter of a flat core type.
fn letter(t: &WasmType) -> char {
    match t {
        WasmType::I32 | WasmType::Pointer | WasmType::Length => 'i',
        WasmType::I64 | WasmType::PointerOrI64 => 'I',
        WasmType::F32 => 'f',
        WasmType::F64 => 'F',
    }
}

#[test]
fn natives_match_the_wit_signatures() {
    let (r, _) = resolve();
    let mut expected: BTreeMap<(String, String), String> = BTreeMap::new();
    for (_, p) in &r.packages {
        let pkg = p.name.to_string();
        assert!(
            ["wasi:i2c@0.2.0-draft", "wasi-hw:host@0.1.0"].contains(&pkg.as_str()),
            "unexpected package {pkg}"
        );
        for (_, &iface) in &p.interfaces {
            let module = r.name_world_key(&WorldKey::Interface(iface));
            for (name, func) in &r.interfaces[iface].functions {
                let sig = r.wasm_signature(AbiVariant::GuestImport, func);
                let params: String = sig.params.iter().map(letter).collect();
                let results: String = sig.results.iter().map(letter).collect();
                expected.insert(
                    (module.clone(), name.clone()),
                    format!("({params}){results}"),
                );
            }
            for (name, &ty) in &r.interfaces[iface].types {
                if matches!(r.types[ty].kind, TypeDefKind::Resource) {
                    expected.insert(
                        (module.clone(), format!("[resource-drop]{name}")),
                        "(i)".into(),
                    );
                }
            }
        }
    }
    let mut ours = BTreeMap::new();
    for m in wasi_hw_i2c::host_modules() {
        for (name, sig) in m.functions() {
            ours.insert((m.name().to_string(), name.to_string()), sig.to_string());
        }
    }
    assert_eq!(ours, expected);
    assert!(ours.contains_key(&(
        wasi_hw_i2c::I2C_MODULE.to_string(),
        "[method]i2c.read".to_string()
    )));
}

#[test]
fn memory_layouts_match_abi_constants() {
    use wasi_hw_i2c::abi;
    let (r, _) = resolve();
    let mut sizes = SizeAlign::default();
    sizes.fill(&r);
    let i2c = r
        .interfaces
        .iter()
        .find(|(_, i)| i.name.as_deref() == Some("i2c"))
        .map(|(_, i)| i)
        .expect("interface i2c");
    let ty = |name: &str| Type::Id(i2c.types[name]);
    let layout = |t: &Type| {
        (
            sizes.size(t).size_wasm32() as u32,
            sizes.align(t).align_wasm32() as u32,
        )
    };
    assert_eq!(layout(&ty("error-code")), (abi::ERROR_CODE_SIZE, 1));
    assert_eq!(
        layout(&ty("operation")),
        (abi::OPERATION_SIZE, abi::OPERATION_ALIGN)
    );
    // The result types of the functions, as the functions use them.
    let result_of = |fname: &str| -> (u32, u32) {
        let f = &i2c.functions[fname];
        layout(f.result.as_ref().expect("a result"))
    };
    assert_eq!(
        result_of("[method]i2c.read"),
        (abi::RESULT_LIST_SIZE, abi::RESULT_LIST_ALIGN)
    );
    assert_eq!(
        result_of("[method]i2c.transaction"),
        (abi::RESULT_LIST_SIZE, abi::RESULT_LIST_ALIGN)
    );
    assert_eq!(
        result_of("[method]i2c.write"),
        (abi::RESULT_UNIT_SIZE, abi::RESULT_UNIT_ALIGN)
    );
    let buses = r
        .interfaces
        .iter()
        .find(|(_, i)| i.name.as_deref() == Some("buses"))
        .map(|(_, i)| i)
        .expect("interface buses");
    let open = buses.functions["open-i2c"].result.as_ref().unwrap();
    assert_eq!(
        layout(open),
        (abi::RESULT_HANDLE_SIZE, abi::RESULT_HANDLE_ALIGN)
    );
}
