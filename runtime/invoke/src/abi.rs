//! Lowering values into a core call and lifting its results (the canonical ABI's
//! `lower_flat`/`store` and `lift_flat`/`load`), over the guest's linear memory.

use anyhow::{anyhow, bail, Context, Result};
use wasi_hw_engine::Val;

use crate::types::{Flat, Ty};
use crate::value::Value;

/// Linear memory as lowering and lifting use it; every access is bounds-checked by the
/// implementation (the engine's `Caller`).
pub trait Memory {
    fn read(&self, ptr: u32, len: u32) -> Result<Vec<u8>>;
    fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<()>;
    /// A fresh allocation through the guest's `cabi_realloc`.
    fn alloc(&mut self, align: u32, size: u32) -> Result<u32>;
    /// Fails unless `[ptr, ptr+len)` lies in memory (copies nothing).
    fn check(&self, ptr: u32, len: u32) -> Result<()>;
}

/// How much a lifted result may hold (bytes of strings and list elements, each element
/// at least one): the guest says how long its lists are, and a list of lists could
/// otherwise make the host allocate far more than the guest's memory.
pub const MAX_RESULT: u64 = 16 << 20;

thread_local! {
    /// What the result being lifted on this thread holds so far ([`MAX_RESULT`]).
    static LIFTED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Starts the count of [`MAX_RESULT`] for a new result.
pub fn reset_result_budget() {
    LIFTED.with(|c| c.set(0));
}

fn spend(n: u64) -> Result<()> {
    LIFTED.with(|c| {
        let total = c.get().saturating_add(n);
        c.set(total);
        if total > MAX_RESULT {
            bail!("the guest's result is larger than {} MiB", MAX_RESULT >> 20);
        }
        Ok(())
    })
}

impl Memory for wasi_hw_engine::Caller<'_> {
    fn read(&self, ptr: u32, len: u32) -> Result<Vec<u8>> {
        Ok(wasi_hw_engine::Caller::read(self, ptr, len)?)
    }
    fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<()> {
        Ok(wasi_hw_engine::Caller::write(self, ptr, bytes)?)
    }
    fn alloc(&mut self, align: u32, size: u32) -> Result<u32> {
        Ok(self.realloc(align, size)?)
    }
    fn check(&self, ptr: u32, len: u32) -> Result<()> {
        Ok(self.check_range(ptr, len)?)
    }
}

fn align_to(n: u32, align: u32) -> u32 {
    n.div_ceil(align) * align
}

/// Bytes a list of `n` elements of `elem` takes, refused past 4 GiB.
fn list_bytes(elem: &Ty, n: usize) -> Result<u32> {
    u32::try_from(n)
        .ok()
        .and_then(|n| n.checked_mul(elem.size()))
        .ok_or_else(|| anyhow!("a list of {n} {elem} does not fit in guest memory"))
}

fn lower_bytes(mem: &mut dyn Memory, align: u32, bytes: &[u8]) -> Result<(u32, u32)> {
    let len = u32::try_from(bytes.len()).context("argument larger than 4 GiB")?;
    let ptr = mem.alloc(align, len)?;
    mem.write(ptr, bytes)?;
    Ok((ptr, len))
}

fn lower_list(mem: &mut dyn Memory, items: &[Value], elem: &Ty) -> Result<(u32, u32)> {
    let size = list_bytes(elem, items.len())?;
    let ptr = mem.alloc(elem.align(), size)?;
    for (i, v) in items.iter().enumerate() {
        store(mem, v, elem, ptr + i as u32 * elem.size())?;
    }
    Ok((ptr, items.len() as u32))
}

/// One value as flat core values, appended to `out`.
pub fn lower_flat(mem: &mut dyn Memory, v: &Value, ty: &Ty, out: &mut Vec<Val>) -> Result<()> {
    match (v, ty) {
        (Value::Bool(b), _) => out.push(Val::I32(i32::from(*b))),
        (Value::S(n), Ty::S64) => out.push(Val::I64(*n)),
        (Value::U(n), Ty::U64) => out.push(Val::I64(*n as i64)),
        (Value::S(n), _) => out.push(Val::I32(*n as i32)),
        (Value::U(n), _) => out.push(Val::I32(*n as u32 as i32)),
        (Value::F32(x), _) => out.push(Val::F32(*x)),
        (Value::F64(x), _) => out.push(Val::F64(*x)),
        (Value::Char(c), _) => out.push(Val::I32(*c as i32)),
        (Value::Handle(h), _) => out.push(Val::I32(*h as i32)),
        (Value::String(s), _) => {
            let (p, l) = lower_bytes(mem, 1, s.as_bytes())?;
            out.extend([Val::I32(p as i32), Val::I32(l as i32)]);
        }
        (Value::List(items), Ty::List(elem)) => {
            let (p, l) = lower_list(mem, items, elem)?;
            out.extend([Val::I32(p as i32), Val::I32(l as i32)]);
        }
        (Value::Fields(items), t) => {
            for (v, t) in items.iter().zip(t.fields().expect("record or tuple")) {
                lower_flat(mem, v, t, out)?;
            }
        }
        (Value::Flags(set), _) => {
            for word in flag_words(set) {
                out.push(Val::I32(word as i32));
            }
        }
        (Value::Case(i, payload), t) => {
            out.push(Val::I32(*i as i32));
            let slots = t.joined_payload();
            let mut flat = Vec::new();
            if let (Some(p), Some(Some(pt))) = (payload, t.cases().map(|c| c[*i as usize].1)) {
                lower_flat(mem, p, pt, &mut flat)?;
            }
            for (k, want) in slots.iter().enumerate() {
                out.push(match flat.get(k) {
                    Some(v) => widen(*v, *want),
                    None => zero(*want),
                });
            }
        }
        (v, t) => bail!("internal: value {v:?} does not match {t}"),
    }
    Ok(())
}

fn flag_words(set: &[bool]) -> Vec<u32> {
    set.chunks(32)
        .map(|c| {
            c.iter()
                .enumerate()
                .fold(0u32, |w, (i, b)| w | (u32::from(*b) << i))
        })
        .collect()
}

fn zero(f: Flat) -> Val {
    match f {
        Flat::I32 => Val::I32(0),
        Flat::I64 => Val::I64(0),
        Flat::F32 => Val::F32(0.0),
        Flat::F64 => Val::F64(0.0),
    }
}

/// A case's flat value in its joined slot (the spec's coercions in `lower_flat_variant`).
fn widen(v: Val, want: Flat) -> Val {
    match (v, want) {
        (Val::F32(x), Flat::I32) => Val::I32(x.to_bits() as i32),
        (Val::I32(x), Flat::I64) => Val::I64(i64::from(x as u32)),
        (Val::F32(x), Flat::I64) => Val::I64(i64::from(x.to_bits())),
        (Val::F64(x), Flat::I64) => Val::I64(x.to_bits() as i64),
        (v, _) => v,
    }
}

/// A slot's value as the case's own flat type (`lift_flat_variant`).
fn narrow(v: Val, want: Flat) -> Val {
    match (v, want) {
        (Val::I32(x), Flat::F32) => Val::F32(f32::from_bits(x as u32)),
        (Val::I64(x), Flat::I32) => Val::I32(x as i32),
        (Val::I64(x), Flat::F32) => Val::F32(f32::from_bits(x as u32)),
        (Val::I64(x), Flat::F64) => Val::F64(f64::from_bits(x as u64)),
        (v, _) => v,
    }
}

/// Stores one value at `ptr` (already aligned and allocated for `ty`).
pub fn store(mem: &mut dyn Memory, v: &Value, ty: &Ty, ptr: u32) -> Result<()> {
    let le = |n: u64, size: u32| n.to_le_bytes()[..size as usize].to_vec();
    let bytes = match (v, ty) {
        (Value::Bool(b), _) => vec![u8::from(*b)],
        (Value::S(n), t) => le(*n as u64, t.size()),
        (Value::U(n), t) => le(*n, t.size()),
        (Value::F32(x), _) => x.to_le_bytes().to_vec(),
        (Value::F64(x), _) => x.to_le_bytes().to_vec(),
        (Value::Char(c), _) => (*c as u32).to_le_bytes().to_vec(),
        (Value::Handle(h), _) => h.to_le_bytes().to_vec(),
        (Value::String(s), _) => {
            let (p, l) = lower_bytes(mem, 1, s.as_bytes())?;
            [p.to_le_bytes(), l.to_le_bytes()].concat()
        }
        (Value::List(items), Ty::List(elem)) => {
            let (p, l) = lower_list(mem, items, elem)?;
            [p.to_le_bytes(), l.to_le_bytes()].concat()
        }
        (Value::Fields(items), t) => {
            let mut at = 0;
            for (v, t) in items.iter().zip(t.fields().expect("record or tuple")) {
                at = align_to(at, t.align());
                store(mem, v, t, ptr + at)?;
                at += t.size();
            }
            return Ok(());
        }
        (Value::Flags(set), t) => {
            let words: Vec<u8> = flag_words(set)
                .iter()
                .flat_map(|w| w.to_le_bytes())
                .collect();
            words[..t.size() as usize].to_vec()
        }
        (Value::Case(i, payload), t) => {
            let cases = t.cases().expect("variant-shaped");
            mem.write(ptr, &le(u64::from(*i), Ty::discriminant_size(cases.len())))?;
            if let (Some(p), Some(pt)) = (payload, cases[*i as usize].1) {
                store(mem, p, pt, ptr + t.payload_layout().0)?;
            }
            return Ok(());
        }
        (v, t) => bail!("internal: value {v:?} does not match {t}"),
    };
    mem.write(ptr, &bytes)
}

fn string_at(mem: &dyn Memory, ptr: u32, len: u32) -> Result<String> {
    spend(u64::from(len))?;
    String::from_utf8(mem.read(ptr, len)?)
        .map_err(|_| anyhow!("the guest returned a string that is not UTF-8"))
}

fn list_at(mem: &dyn Memory, elem: &Ty, ptr: u32, len: u32) -> Result<Value> {
    let bytes = list_bytes(elem, len as usize)?;
    if !ptr.is_multiple_of(elem.align()) {
        bail!("the guest returned a misaligned list at {ptr:#x}");
    }
    // One bounds check for the whole list before reading its elements.
    mem.check(ptr, bytes)?;
    spend(u64::from(bytes).max(u64::from(len)))?;
    Ok(Value::List(
        (0..len)
            .map(|i| load(mem, elem, ptr + i * elem.size()))
            .collect::<Result<_>>()?,
    ))
}

fn case(ty: &Ty, disc: u32) -> Result<Option<&Ty>> {
    let cases = ty.cases().expect("variant-shaped");
    cases.get(disc as usize).map(|c| c.1).ok_or_else(|| {
        anyhow!(
            "the guest returned case {disc} of {ty}, which has {}",
            cases.len()
        )
    })
}

/// Reads a value of `ty` at `ptr`.
pub fn load(mem: &dyn Memory, ty: &Ty, ptr: u32) -> Result<Value> {
    if !ptr.is_multiple_of(ty.align()) {
        bail!("the guest returned a misaligned {ty} at {ptr:#x}");
    }
    let raw = mem.read(ptr, ty.size())?;
    let u = |b: &[u8]| b.iter().rev().fold(0u64, |n, x| (n << 8) | u64::from(*x));
    let word = |at: usize| u32::from_le_bytes(raw[at..at + 4].try_into().expect("4 bytes"));
    Ok(match ty {
        Ty::Bool => Value::Bool(raw[0] != 0),
        Ty::S8 => Value::S(i64::from(raw[0] as i8)),
        Ty::S16 => Value::S(i64::from(u(&raw) as u16 as i16)),
        Ty::S32 => Value::S(i64::from(u(&raw) as u32 as i32)),
        Ty::S64 => Value::S(u(&raw) as i64),
        Ty::U8 | Ty::U16 | Ty::U32 | Ty::U64 => Value::U(u(&raw)),
        Ty::F32 => Value::F32(f32::from_bits(word(0))),
        Ty::F64 => Value::F64(f64::from_bits(u(&raw))),
        Ty::Char => Value::Char(char_of(word(0))?),
        Ty::Own(_) | Ty::Borrow(_) => Value::Handle(word(0)),
        Ty::String => Value::String(string_at(mem, word(0), word(4))?),
        Ty::List(elem) => list_at(mem, elem, word(0), word(4))?,
        Ty::Flags(names) => {
            let bits = u(&raw);
            let words: Vec<u32> = (0..raw.len() / 4).map(|i| word(i * 4)).collect();
            Value::Flags(
                (0..names.len())
                    .map(|i| match raw.len() {
                        0..=2 => bits >> i & 1 == 1,
                        _ => words[i / 32] >> (i % 32) & 1 == 1,
                    })
                    .collect(),
            )
        }
        Ty::Unsupported(what) => bail!("cannot read a {what}"),
        t if t.fields().is_some() => {
            let mut at = 0;
            let mut out = Vec::new();
            for f in t.fields().expect("record or tuple") {
                at = align_to(at, f.align());
                out.push(load(mem, f, ptr + at)?);
                at += f.size();
            }
            Value::Fields(out)
        }
        t => {
            let n = t.cases().expect("variant-shaped").len();
            let disc = u(&raw[..Ty::discriminant_size(n) as usize]) as u32;
            let payload = match case(t, disc)? {
                Some(pt) => Some(Box::new(load(mem, pt, ptr + t.payload_layout().0)?)),
                None => None,
            };
            Value::Case(disc, payload)
        }
    })
}

fn char_of(c: u32) -> Result<char> {
    char::from_u32(c).ok_or_else(|| anyhow!("the guest returned {c:#x}, which is not a char"))
}

/// Lifts a value of `ty` from flat core values (the export's results, at most one here;
/// variant payloads take several).
pub fn lift_flat(mem: &dyn Memory, ty: &Ty, vals: &mut dyn Iterator<Item = Val>) -> Result<Value> {
    let mut next = || {
        vals.next()
            .ok_or_else(|| anyhow!("the guest returned too few values"))
    };
    let i32_of = |v: Val| match v {
        Val::I32(x) => Ok(x),
        v => bail!("expected an i32 result, got {v:?}"),
    };
    Ok(match ty {
        Ty::Bool => Value::Bool(i32_of(next()?)? != 0),
        Ty::S8 => Value::S(i64::from(i32_of(next()?)? as i8)),
        Ty::S16 => Value::S(i64::from(i32_of(next()?)? as i16)),
        Ty::S32 => Value::S(i64::from(i32_of(next()?)?)),
        Ty::U8 => Value::U(u64::from(i32_of(next()?)? as u8)),
        Ty::U16 => Value::U(u64::from(i32_of(next()?)? as u16)),
        Ty::U32 => Value::U(u64::from(i32_of(next()?)? as u32)),
        Ty::S64 | Ty::U64 => match next()? {
            Val::I64(x) if *ty == Ty::S64 => Value::S(x),
            Val::I64(x) => Value::U(x as u64),
            v => bail!("expected an i64 result, got {v:?}"),
        },
        Ty::F32 => match next()? {
            Val::F32(x) => Value::F32(x),
            v => bail!("expected an f32 result, got {v:?}"),
        },
        Ty::F64 => match next()? {
            Val::F64(x) => Value::F64(x),
            v => bail!("expected an f64 result, got {v:?}"),
        },
        Ty::Char => Value::Char(char_of(i32_of(next()?)? as u32)?),
        Ty::Own(_) | Ty::Borrow(_) => Value::Handle(i32_of(next()?)? as u32),
        Ty::String => {
            let (p, l) = (i32_of(next()?)? as u32, i32_of(next()?)? as u32);
            Value::String(string_at(mem, p, l)?)
        }
        Ty::List(elem) => {
            let (p, l) = (i32_of(next()?)? as u32, i32_of(next()?)? as u32);
            list_at(mem, elem, p, l)?
        }
        Ty::Flags(names) => {
            let words: Vec<u32> = (0..names.len().div_ceil(32))
                .map(|_| Ok(i32_of(next()?)? as u32))
                .collect::<Result<_>>()?;
            Value::Flags(
                (0..names.len())
                    .map(|i| words[i / 32] >> (i % 32) & 1 == 1)
                    .collect(),
            )
        }
        Ty::Unsupported(what) => bail!("cannot read a {what}"),
        t if t.fields().is_some() => Value::Fields(
            t.fields()
                .expect("record or tuple")
                .into_iter()
                .map(|f| lift_flat(mem, f, &mut *vals))
                .collect::<Result<_>>()?,
        ),
        t => {
            let disc = i32_of(next()?)? as u32;
            let slots: Vec<(Val, Flat)> = t
                .joined_payload()
                .into_iter()
                .map(|f| Ok((next()?, f)))
                .collect::<Result<_>>()?;
            let payload = match case(t, disc)? {
                Some(pt) => {
                    let mut want = Vec::new();
                    pt.flatten(&mut want);
                    let mut vals = slots.iter().zip(want).map(|((v, _), w)| narrow(*v, w));
                    Some(Box::new(lift_flat(mem, pt, &mut vals)?))
                }
                None => None,
            };
            Value::Case(disc, payload)
        }
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Linear memory for tests: a byte vector with a bump allocator.
    pub(crate) struct VecMemory(pub Vec<u8>, pub u32);

    impl Memory for VecMemory {
        fn read(&self, ptr: u32, len: u32) -> Result<Vec<u8>> {
            self.0
                .get(ptr as usize..ptr as usize + len as usize)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| anyhow!("out of bounds"))
        }
        fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<()> {
            self.0
                .get_mut(ptr as usize..ptr as usize + bytes.len())
                .ok_or_else(|| anyhow!("out of bounds"))?
                .copy_from_slice(bytes);
            Ok(())
        }
        fn alloc(&mut self, align: u32, size: u32) -> Result<u32> {
            let p = align_to(self.1, align);
            self.1 = p + size;
            Ok(p)
        }
        fn check(&self, ptr: u32, len: u32) -> Result<()> {
            if ptr as usize + len as usize > self.0.len() {
                bail!("out of bounds");
            }
            Ok(())
        }
    }

    fn round_trip(ty: &Ty, text: &str) {
        let node = crate::value::parse_value(text).unwrap();
        let v = crate::value::typed(&node, ty, &mut |_, _| Ok(7)).unwrap();
        let mut mem = VecMemory(vec![0; 4096], 8);
        // Through memory.
        let at = mem.alloc(ty.align(), ty.size()).unwrap();
        store(&mut mem, &v, ty, at).unwrap();
        assert_eq!(load(&mem, ty, at).unwrap(), v, "{text} through memory");
        // Flat.
        let mut flat = Vec::new();
        lower_flat(&mut mem, &v, ty, &mut flat).unwrap();
        let mut want = Vec::new();
        ty.flatten(&mut want);
        assert_eq!(flat.len(), want.len());
        let back = lift_flat(&mem, ty, &mut flat.into_iter()).unwrap();
        assert_eq!(back, v, "{text} flat");
        assert_eq!(crate::value::to_text(&back, ty), text);
    }

    #[test]
    fn values_survive_lowering_and_lifting() {
        let err = Ty::Variant(vec![
            ("bus".into(), None),
            (
                "no-acknowledge".into(),
                Some(Ty::Enum(vec!["address".into(), "data".into()])),
            ),
            ("wide".into(), Some(Ty::F64)),
            ("narrow".into(), Some(Ty::F32)),
        ]);
        round_trip(
            &Ty::Result(Some(Box::new(Ty::String)), Some(Box::new(err.clone()))),
            "ok(\"21.5 C\")",
        );
        round_trip(
            &Ty::Result(Some(Box::new(Ty::String)), Some(Box::new(err.clone()))),
            "err(no-acknowledge(data))",
        );
        round_trip(&err, "wide(-2.25)");
        round_trip(&err, "narrow(1.5)");
        round_trip(&Ty::List(Box::new(Ty::S16)), "[-1, 2, 300]");
        round_trip(
            &Ty::Tuple(vec![
                Ty::U8,
                Ty::String,
                Ty::Option(Box::new(Ty::U64)),
                Ty::Char,
            ]),
            "(1, \"é\", some(18446744073709551615), 'x')",
        );
        round_trip(
            &Ty::Flags((0..40).map(|i| format!("f{i}")).collect()),
            "{f1, f39}",
        );
        round_trip(
            &Ty::List(Box::new(Ty::List(Box::new(Ty::Bool)))),
            "[[true, false], []]",
        );
    }

    /// Whatever bytes a guest leaves in memory, lifting any type from anywhere is a value
    /// or an error, never a panic, and never more than the result budget.
    #[test]
    fn lifting_arbitrary_memory_never_panics() {
        let nested = Ty::List(Box::new(Ty::List(Box::new(Ty::Tuple(vec![])))));
        let types = [
            Ty::String,
            Ty::List(Box::new(Ty::U32)),
            nested,
            Ty::Result(Some(Box::new(Ty::String)), Some(Box::new(Ty::Char))),
            Ty::Option(Box::new(Ty::List(Box::new(Ty::Flags(vec![
                "a".into();
                40
            ]))))),
            Ty::Variant(vec![
                ("x".into(), Some(Ty::F64)),
                ("y".into(), Some(Ty::String)),
            ]),
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let mut mem = VecMemory((0..4096).map(|_| next() as u8).collect(), 0);
            // Lengths and pointers that are sometimes in range.
            for at in (0..4096).step_by(4) {
                if next() % 3 == 0 {
                    mem.write(at, &((next() % 4096) as u32).to_le_bytes())
                        .unwrap();
                }
            }
            for ty in &types {
                reset_result_budget();
                let ptr = (next() % 4200) as u32 & !7;
                let _ = load(&mem, ty, ptr);
                let flat = [
                    Val::I32(next() as i32),
                    Val::I32(next() as i32),
                    Val::I32(7),
                ];
                let _ = lift_flat(&mem, ty, &mut flat.into_iter());
            }
        }
        // A list of 2^32-1 empty tuples fits in no memory budget.
        let mut mem = VecMemory(vec![0; 64], 0);
        mem.write(0, &[8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]).unwrap();
        reset_result_budget();
        let err = load(&mem, &Ty::List(Box::new(Ty::Tuple(vec![]))), 0).unwrap_err();
        assert!(err.to_string().contains("larger than 16 MiB"), "{err}");
    }

    #[test]
    fn bad_results_are_errors() {
        let mem = VecMemory(vec![0; 64], 0);
        assert!(load(&mem, &Ty::String, 60).is_err());
        let mut bad = VecMemory(vec![0; 64], 0);
        bad.write(0, &[0xff, 0xfe, 0, 0, 0, 0, 0, 0]).unwrap();
        bad.write(8, &[0, 0, 0, 0, 2, 0, 0, 0]).unwrap();
        assert!(load(&bad, &Ty::String, 8).is_err());
        let e = Ty::Enum(vec!["a".into()]);
        assert!(lift_flat(&mem, &e, &mut [Val::I32(5)].into_iter()).is_err());
    }
}
