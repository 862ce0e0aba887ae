//! Which native libraries a module imports from, decided before it loads (WAMR resolves
//! imports at load time, so their tables must be registered first, and only those: the
//! WASI-USB tables cost an I2C driver's cold start tens of microseconds).
//!
//! A `.wasm` is read with `wasmparser` (the import section only). A WAMR `.aot` keeps
//! its import names in the init-data section, in a layout no crate parses: the names are
//! looked for there as bytes. Both scans err towards "imported" when the file is broken,
//! so that the load itself reports what is wrong.

use anyhow::{bail, Result};
use wasi_hw_engine::{ModuleFile, ModuleKind};
use wasi_hw_usb::Dialect;

/// What a module names as import modules, found once: the module names of a `.wasm`'s
/// import section, or the region of an `.aot` that holds its import names.
pub enum Imports<'a> {
    /// `None`: the import section could not be read (everything counts as imported).
    Wasm(Option<Vec<String>>),
    Aot(&'a [u8]),
}

impl<'a> Imports<'a> {
    pub fn of(module: &'a ModuleFile) -> Imports<'a> {
        match module.kind() {
            ModuleKind::Wasm => Imports::Wasm(wasm_import_modules(module.bytes()).ok()),
            ModuleKind::Aot => Imports::Aot(aot_import_region(module.bytes())),
        }
    }

    /// Whether the module imports from a module whose name starts with one of `prefixes`.
    pub fn any(&self, prefixes: &[&str]) -> bool {
        match self {
            Imports::Wasm(Some(names)) => names
                .iter()
                .any(|n| prefixes.iter().any(|p| n.starts_with(p))),
            Imports::Wasm(None) => true,
            Imports::Aot(region) => prefixes
                .iter()
                .any(|p| memchr::memmem::find(region, p.as_bytes()).is_some()),
        }
    }

    /// The USB dialects (import-name sets) the module imports from.
    pub fn usb_dialects(&self) -> Vec<&'static Dialect> {
        // An .aot is searched as bytes, one full scan per absent name (~1 µs of an I2C
        // driver's start each): first one scan for what every dialect's names contain.
        if let Imports::Aot(region) = self {
            if memchr::memmem::find(region, b"usb/").is_none() {
                return Vec::new();
            }
        }
        wasi_hw_usb::DIALECTS
            .iter()
            .filter(|d| self.any(&[d.prefix]))
            .collect()
    }
}

/// Where an .aot keeps its import names: the init-data section, or the whole file when
/// the section layout is broken.
fn aot_import_region(aot: &[u8]) -> &[u8] {
    match aot_section(aot, AOT_INIT_DATA_SECTION) {
        Some(Ok(s)) => s,
        Some(Err(())) | None => aot,
    }
}

/// Names that only the WIT of the usb-wasm fork has: its `await-transfer` returns
/// `result<transfer-result, libusb-error>` with `transfer-result { data: list<u8>, packets:
/// list<iso-packet> }` (a 20-byte result where the proposal's `result<list<u8>, ..>` has
/// 12), under the same import names and flat signatures. wit-bindgen embeds the guest's
/// WIT types in `component-type:*` custom sections, where every name is a length-prefixed
/// string: the names are looked for with their length byte, so that the proposal's own
/// `iso-packets` field does not match `iso-packet`.
const FORK_ONLY_TYPE_NAMES: [&str; 2] = ["transfer-result", "iso-packet"];

/// Refuses a `.wasm` built against the usb-wasm fork's WIT: its transfers would read a
/// result layout these natives do not write. (An `.aot` keeps no custom sections; `wasi-hw
/// compile` refuses such a `.wasm` before compiling it.)
pub fn check_usb_layout(module: &ModuleFile) -> Result<()> {
    if module.kind() != ModuleKind::Wasm {
        return Ok(());
    }
    for payload in wasmparser::Parser::new(0).parse_all(module.bytes()) {
        let Ok(wasmparser::Payload::CustomSection(section)) = payload else {
            continue;
        };
        if !section.name().starts_with("component-type") {
            continue;
        }
        if let Some(name) = FORK_ONLY_TYPE_NAMES.iter().find(|n| {
            let mut encoded = vec![n.len() as u8];
            encoded.extend_from_slice(n.as_bytes());
            memchr::memmem::find(section.data(), &encoded).is_some()
        }) {
            bail!(
                "this module was built against the usb-wasm fork's WIT (its types name \
                 `{name}`: `await-transfer` returns `transfer-result {{ data, packets: \
                 list<iso-packet> }}` and borrows the transfer); wasi-hw implements the wasi-usb \
                 proposal's layout, `await-transfer(own<transfer>) -> result<list<u8>, \
                 libusb-error>` (wit/usb, or the proposal repository's component:usb WIT): \
                 rebuild the guest against one of those"
            );
        }
    }
    Ok(())
}

/// The module names of a `.wasm`'s imports, in order (repeats included).
pub fn wasm_import_modules(wasm: &[u8]) -> Result<Vec<String>, wasmparser::BinaryReaderError> {
    let mut names = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload? {
            wasmparser::Payload::ImportSection(imports) => {
                for import in imports.into_imports() {
                    names.push(import?.module.to_string());
                }
            }
            // Sections come in order: nothing after the import section can import.
            wasmparser::Payload::FunctionSection(_)
            | wasmparser::Payload::CodeSectionStart { .. }
            | wasmparser::Payload::End(_) => break,
            _ => {}
        }
    }
    Ok(names)
}

/// The AOT format's section type that holds the import names.
const AOT_INIT_DATA_SECTION: u32 = 1;

/// The content of section `ty` of a WAMR `.aot` (sections: u32 type, u32 size, content,
/// each starting 4-byte aligned):
/// `Some(Ok(content))` of the first one, `Some(Ok(&[]))` if there is none,
/// `Some(Err(()))` if the layout is broken.
fn aot_section(bytes: &[u8], ty: u32) -> Option<Result<&[u8], ()>> {
    let word = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    };
    let mut at = 8;
    while at < bytes.len() {
        let (Some(t), Some(size)) = (word(at), word(at + 4)) else {
            return Some(Err(()));
        };
        let start = at + 8;
        let Some(end) = start
            .checked_add(size as usize)
            .filter(|e| *e <= bytes.len())
        else {
            return Some(Err(()));
        };
        if t == ty {
            return Some(Ok(&bytes[start..end]));
        }
        at = end.next_multiple_of(4);
    }
    Some(Ok(&[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(bytes: Vec<u8>) -> ModuleFile {
        ModuleFile::new(bytes).unwrap()
    }

    #[test]
    fn wasm_imports_are_read_from_the_import_section() {
        let wasm = wat::parse_str(
            r#"(module (import "wasi:i2c/i2c@0.2.0-draft" "f" (func))
                (func (export "g")) (data (i32.const 0) "wasi:usb/device") (memory 1))"#,
        )
        .unwrap();
        let wasm = file(wasm);
        assert!(Imports::of(&wasm).any(&["wasi:i2c/"]));
        assert!(
            !Imports::of(&wasm).any(&["wasi:usb/"]),
            "data is not an import"
        );
        let none = file(wat::parse_str(r#"(module (func (export "g")))"#).unwrap());
        assert!(!Imports::of(&none).any(&["wasi:i2c/"]));
        // A broken file errs towards "imported"; the load reports the damage.
        let mut cut = wasm.bytes().to_vec();
        cut.truncate(12);
        assert!(Imports::of(&file(cut)).any(&["wasi:usb/"]));
    }

    #[test]
    fn usb_dialects_and_the_forks_layout() {
        let wasm = |imports: &str, custom: &str| {
            file(wat::parse_str(format!("(module {imports} {custom})")).unwrap())
        };
        let proposal = wasm(
            r#"(import "component:usb/device@0.2.1" "init" (func (param i32)))"#,
            // The proposal's transfer-options has a field `iso-packets`.
            r#"(@custom "component-type:wit-bindgen:0.41.0:component:usb@0.2.1:guest" "..\0biso-packets..")"#,
        );
        assert_eq!(
            Imports::of(&proposal).usb_dialects(),
            [&wasi_hw_usb::COMPONENT_USB]
        );
        assert!(check_usb_layout(&proposal).is_ok());
        let ours = wasm(
            r#"(import "wasi:usb/device@0.2.1" "init" (func (param i32)))"#,
            "",
        );
        assert_eq!(Imports::of(&ours).usb_dialects(), [&wasi_hw_usb::WASI_USB]);
        let fork = wasm(
            r#"(import "component:usb/transfers@0.2.1" "await-transfer" (func (param i32 i32)))"#,
            r#"(@custom "component-type:wit-bindgen:0.41.0:component:usb@0.2.1:guest" "..\0ftransfer-result..\0aiso-packet..")"#,
        );
        let err = check_usb_layout(&fork).unwrap_err().to_string();
        assert!(
            err.contains("usb-wasm fork") && err.contains("iso-packet"),
            "{err}"
        );
        // The names elsewhere (a data segment, another custom section) mean nothing.
        let data = wasm(
            r#"(memory 1) (data (i32.const 0) "\0ftransfer-result")"#,
            r#"(@custom "name-of-something" "\0aiso-packet")"#,
        );
        assert!(check_usb_layout(&data).is_ok());
        assert!(Imports::of(&data).usb_dialects().is_empty());
    }

    #[test]
    fn aot_imports_are_looked_for_in_the_init_data_section() {
        let mut aot = b"\0aot\x06\0\0\0".to_vec();
        // Target info (type 0, 6 bytes, padded to 4) naming USB, then init data (type 1).
        aot.extend_from_slice(&[0, 0, 0, 0, 6, 0, 0, 0]);
        aot.extend_from_slice(b"wasi:u\0\0");
        aot.extend_from_slice(&[1, 0, 0, 0, 9, 0, 0, 0]);
        aot.extend_from_slice(b"wasi:i2c/");
        assert!(Imports::of(&file(aot.clone())).any(&["wasi:i2c/"]));
        assert!(!Imports::of(&file(aot.clone())).any(&["wasi:u\0"]));
        aot.truncate(aot.len() - 1);
        // Truncated: the whole file is searched.
        assert!(Imports::of(&file(aot)).any(&["wasi:u\0"]));
    }
}
