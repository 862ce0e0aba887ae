//! A check of a `.wasm`'s section framing before WAMR loads it: WAMR's loader allocates
//! (and zeroes) `count * sizeof(entry)` for each section's vector count before it reads a
//! single entry, so a 150-byte file claiming 200 million exports made it allocate and
//! touch 3.2 GB (found by the `wasm_bytes` fuzz target) — on a router, the OOM killer ends
//! the host. Every entry takes at least one byte, so a count larger than the section's
//! remaining bytes is refused here, which bounds what the loader allocates by the file's
//! size. Everything else is left to the loader's own checks.

use wasmparser::{Parser, Payload};

use crate::error::Error;

/// Refuses a `.wasm` whose sections claim more entries than they have bytes (see above).
pub fn check_wasm_sections(bytes: &[u8]) -> Result<(), Error> {
    let span = |r: std::ops::Range<u64>| r.end - r.start;
    for payload in Parser::new(0).parse_all(bytes) {
        // Framing the parser cannot read is the loader's to report (with its message):
        // it stops at the same place, before any later section's count.
        let Ok(payload) = payload else {
            return Ok(());
        };
        let (name, count, len) = match &payload {
            Payload::TypeSection(s) => ("type", s.count(), span(s.range())),
            Payload::ImportSection(s) => ("import", s.count(), span(s.range())),
            Payload::FunctionSection(s) => ("function", s.count(), span(s.range())),
            Payload::TableSection(s) => ("table", s.count(), span(s.range())),
            Payload::MemorySection(s) => ("memory", s.count(), span(s.range())),
            Payload::TagSection(s) => ("tag", s.count(), span(s.range())),
            Payload::GlobalSection(s) => ("global", s.count(), span(s.range())),
            Payload::ExportSection(s) => ("export", s.count(), span(s.range())),
            Payload::ElementSection(s) => ("element", s.count(), span(s.range())),
            Payload::DataSection(s) => ("data", s.count(), span(s.range())),
            Payload::CodeSectionStart { count, size, .. } => ("code", *count, u64::from(*size)),
            _ => continue,
        };
        if u64::from(count) > len {
            return Err(Error::Load(format!(
                "malformed module: the {name} section claims {count} entries in {len} bytes"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_larger_than_its_section_is_refused_before_the_loader() {
        let ok = wat::parse_str(r#"(module (func (export "a")) (func (export "b")))"#).unwrap();
        assert!(check_wasm_sections(&ok).is_ok());
        // The fuzz finding: an export section of 19 bytes whose count says 199,539,964.
        let mut bad = b"\0asm\x01\0\0\0".to_vec();
        bad.extend_from_slice(&[7, 7, 0xfc, 0xf9, 0x92, 0x5f, 1, b'a', 0]);
        let err = check_wasm_sections(&bad).unwrap_err().to_string();
        assert!(
            err.contains("export section claims 199539964 entries in 7 bytes"),
            "{err}"
        );
        // And through the engine: one clean error, no 3 GB allocation.
        let err = crate::Module::load_unchecked(bad)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("claims 199539964 entries"), "{err}");
        // A truncated section is left to the loader, which says so.
        assert!(check_wasm_sections(b"\0asm\x01\0\0\0\x07\xff").is_ok());
        let err = crate::Module::load_unchecked(b"\0asm\x01\0\0\0\x07\xff".to_vec())
            .err()
            .unwrap()
            .to_string();
        assert!(err.starts_with("failed to load module:"), "{err}");
    }
}
