//! Component-model value types as the canonical ABI sees them: size, alignment, and the
//! flat core-value list of each type (the spec's `flatten_type`, `join`, `size`,
//! `alignment`).

use std::fmt;

/// A resource type: the interface that declares it (the import or export name, e.g.
/// `wasi:i2c/i2c@0.2.0-draft`) and its name there (`i2c`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    pub interface: String,
    pub name: String,
}

/// A component value type.
#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    Bool,
    S8,
    U8,
    S16,
    U16,
    S32,
    U32,
    S64,
    U64,
    F32,
    F64,
    Char,
    String,
    List(Box<Ty>),
    Record(Vec<(String, Ty)>),
    Tuple(Vec<Ty>),
    Variant(Vec<(String, Option<Ty>)>),
    Enum(Vec<String>),
    Option(Box<Ty>),
    Result(Option<Box<Ty>>, Option<Box<Ty>>),
    Flags(Vec<String>),
    Own(Resource),
    Borrow(Resource),
    /// A type this host cannot pass (map, fixed-size list, future, stream, error-context):
    /// kept so that the module's other functions still decode.
    Unsupported(&'static str),
}

/// A core value type of the flat lowering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flat {
    I32,
    I64,
    F32,
    F64,
}

/// The canonical ABI's flattening limits: more parameters are passed through memory, more
/// than one result through a return area.
pub const MAX_FLAT_PARAMS: usize = 16;
pub const MAX_FLAT_RESULTS: usize = 1;

fn align_to(n: u32, align: u32) -> u32 {
    n.div_ceil(align) * align
}

impl Ty {
    /// The cases of a variant-shaped type (variant, enum, option, result) with payloads.
    pub(crate) fn cases(&self) -> Option<Vec<(&str, Option<&Ty>)>> {
        Some(match self {
            Ty::Variant(c) => c.iter().map(|(n, t)| (n.as_str(), t.as_ref())).collect(),
            Ty::Enum(c) => c.iter().map(|n| (n.as_str(), None)).collect(),
            Ty::Option(t) => vec![("none", None), ("some", Some(&**t))],
            Ty::Result(ok, err) => vec![("ok", ok.as_deref()), ("err", err.as_deref())],
            _ => return None,
        })
    }

    /// The element types of a record or tuple, in memory order.
    pub(crate) fn fields(&self) -> Option<Vec<&Ty>> {
        match self {
            Ty::Record(f) => Some(f.iter().map(|(_, t)| t).collect()),
            Ty::Tuple(t) => Some(t.iter().collect()),
            _ => None,
        }
    }

    /// Size of the discriminant of a variant with `n` cases.
    pub(crate) fn discriminant_size(n: usize) -> u32 {
        match n {
            0..=0x100 => 1,
            0x101..=0x1_0000 => 2,
            _ => 4,
        }
    }

    pub fn align(&self) -> u32 {
        match self {
            Ty::Bool | Ty::S8 | Ty::U8 => 1,
            Ty::S16 | Ty::U16 => 2,
            Ty::S32 | Ty::U32 | Ty::F32 | Ty::Char | Ty::Own(_) | Ty::Borrow(_) => 4,
            Ty::S64 | Ty::U64 | Ty::F64 => 8,
            Ty::String | Ty::List(_) => 4,
            Ty::Flags(names) => match names.len() {
                0..=8 => 1,
                9..=16 => 2,
                _ => 4,
            },
            Ty::Unsupported(_) => 1,
            t => {
                if let Some(fields) = t.fields() {
                    return fields.iter().map(|f| f.align()).max().unwrap_or(1);
                }
                let cases = t.cases().expect("variant-shaped");
                let payload = cases.iter().filter_map(|(_, p)| p.map(Ty::align)).max();
                Ty::discriminant_size(cases.len()).max(payload.unwrap_or(1))
            }
        }
    }

    pub fn size(&self) -> u32 {
        match self {
            Ty::Bool | Ty::S8 | Ty::U8 => 1,
            Ty::S16 | Ty::U16 => 2,
            Ty::S32 | Ty::U32 | Ty::F32 | Ty::Char | Ty::Own(_) | Ty::Borrow(_) => 4,
            Ty::S64 | Ty::U64 | Ty::F64 => 8,
            Ty::String | Ty::List(_) => 8,
            Ty::Flags(names) => match names.len() {
                0 => 0,
                1..=8 => 1,
                9..=16 => 2,
                n => 4 * n.div_ceil(32) as u32,
            },
            Ty::Unsupported(_) => 0,
            t => {
                if let Some(fields) = t.fields() {
                    let mut s = 0;
                    for f in fields {
                        s = align_to(s, f.align()) + f.size();
                    }
                    return align_to(s, t.align());
                }
                let (payload_at, max) = t.payload_layout();
                align_to(payload_at + max, t.align())
            }
        }
    }

    /// For a variant-shaped type: the payload's offset and the largest payload's size.
    pub(crate) fn payload_layout(&self) -> (u32, u32) {
        let cases = self.cases().expect("variant-shaped");
        let align = cases
            .iter()
            .filter_map(|(_, p)| p.map(Ty::align))
            .max()
            .unwrap_or(1);
        let at = align_to(Ty::discriminant_size(cases.len()), align);
        let max = cases
            .iter()
            .filter_map(|(_, p)| p.map(Ty::size))
            .max()
            .unwrap_or(0);
        (at, max)
    }

    /// The flat core values this type lowers to.
    pub fn flatten(&self, out: &mut Vec<Flat>) {
        match self {
            Ty::Bool
            | Ty::S8
            | Ty::U8
            | Ty::S16
            | Ty::U16
            | Ty::S32
            | Ty::U32
            | Ty::Char
            | Ty::Own(_)
            | Ty::Borrow(_) => out.push(Flat::I32),
            Ty::S64 | Ty::U64 => out.push(Flat::I64),
            Ty::F32 => out.push(Flat::F32),
            Ty::F64 => out.push(Flat::F64),
            Ty::String | Ty::List(_) => out.extend([Flat::I32, Flat::I32]),
            Ty::Flags(names) => {
                out.extend(std::iter::repeat_n(Flat::I32, names.len().div_ceil(32)))
            }
            Ty::Unsupported(_) => {}
            t => {
                if let Some(fields) = t.fields() {
                    fields.iter().for_each(|f| f.flatten(out));
                    return;
                }
                out.push(Flat::I32);
                out.extend(t.joined_payload());
            }
        }
    }

    /// The joined flat payload slots of a variant-shaped type.
    pub(crate) fn joined_payload(&self) -> Vec<Flat> {
        let mut joined: Vec<Flat> = Vec::new();
        for (_, p) in self.cases().expect("variant-shaped") {
            let mut flat = Vec::new();
            if let Some(p) = p {
                p.flatten(&mut flat);
            }
            for (i, f) in flat.into_iter().enumerate() {
                match joined.get_mut(i) {
                    Some(j) => *j = join(*j, f),
                    None => joined.push(f),
                }
            }
        }
        joined
    }

    /// The first type inside this one that the host cannot pass, if any.
    pub fn unsupported(&self) -> Option<&'static str> {
        match self {
            Ty::Unsupported(what) => Some(what),
            Ty::List(t) | Ty::Option(t) => t.unsupported(),
            Ty::Result(a, b) => a
                .as_deref()
                .and_then(Ty::unsupported)
                .or_else(|| b.as_deref().and_then(Ty::unsupported)),
            Ty::Record(f) => f.iter().find_map(|(_, t)| t.unsupported()),
            Ty::Tuple(t) => t.iter().find_map(Ty::unsupported),
            Ty::Variant(c) => c
                .iter()
                .find_map(|(_, t)| t.as_ref().and_then(Ty::unsupported)),
            _ => None,
        }
    }
}

/// The spec's `join`: the core type both flat values fit in.
fn join(a: Flat, b: Flat) -> Flat {
    match (a, b) {
        (a, b) if a == b => a,
        (Flat::I32, Flat::F32) | (Flat::F32, Flat::I32) => Flat::I32,
        _ => Flat::I64,
    }
}

/// WIT-style text of a type, for messages and `inspect`.
impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, items: &[&Ty]| -> fmt::Result {
            for (i, t) in items.iter().enumerate() {
                write!(f, "{}{t}", if i > 0 { ", " } else { "" })?;
            }
            Ok(())
        };
        match self {
            Ty::Bool => f.write_str("bool"),
            Ty::S8 => f.write_str("s8"),
            Ty::U8 => f.write_str("u8"),
            Ty::S16 => f.write_str("s16"),
            Ty::U16 => f.write_str("u16"),
            Ty::S32 => f.write_str("s32"),
            Ty::U32 => f.write_str("u32"),
            Ty::S64 => f.write_str("s64"),
            Ty::U64 => f.write_str("u64"),
            Ty::F32 => f.write_str("f32"),
            Ty::F64 => f.write_str("f64"),
            Ty::Char => f.write_str("char"),
            Ty::String => f.write_str("string"),
            Ty::List(t) => write!(f, "list<{t}>"),
            Ty::Record(fields) => {
                f.write_str("record { ")?;
                for (i, (n, t)) in fields.iter().enumerate() {
                    write!(f, "{}{n}: {t}", if i > 0 { ", " } else { "" })?;
                }
                f.write_str(" }")
            }
            Ty::Tuple(t) => {
                f.write_str("tuple<")?;
                list(f, &t.iter().collect::<Vec<_>>())?;
                f.write_str(">")
            }
            Ty::Variant(c) => {
                f.write_str("variant { ")?;
                for (i, (n, t)) in c.iter().enumerate() {
                    write!(f, "{}{n}", if i > 0 { ", " } else { "" })?;
                    if let Some(t) = t {
                        write!(f, "({t})")?;
                    }
                }
                f.write_str(" }")
            }
            Ty::Enum(c) => write!(f, "enum {{ {} }}", c.join(", ")),
            Ty::Flags(c) => write!(f, "flags {{ {} }}", c.join(", ")),
            Ty::Option(t) => write!(f, "option<{t}>"),
            Ty::Result(None, None) => f.write_str("result"),
            Ty::Result(Some(t), None) => write!(f, "result<{t}>"),
            Ty::Result(None, Some(e)) => write!(f, "result<_, {e}>"),
            Ty::Result(Some(t), Some(e)) => write!(f, "result<{t}, {e}>"),
            Ty::Own(r) => f.write_str(&r.name),
            Ty::Borrow(r) => write!(f, "borrow<{}>", r.name),
            Ty::Unsupported(what) => f.write_str(what),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_code() -> Ty {
        // wasi:i2c's error-code: bus, arbitration-loss, no-acknowledge(enum of 3), other.
        Ty::Variant(vec![
            ("bus".into(), None),
            ("arbitration-loss".into(), None),
            (
                "no-acknowledge".into(),
                Some(Ty::Enum(vec![
                    "address".into(),
                    "data".into(),
                    "unknown".into(),
                ])),
            ),
            ("other".into(), None),
        ])
    }

    #[test]
    fn layouts_follow_the_canonical_abi() {
        assert_eq!((error_code().size(), error_code().align()), (2, 1));
        let r = Ty::Result(Some(Box::new(Ty::String)), Some(Box::new(error_code())));
        assert_eq!((r.size(), r.align()), (12, 4));
        let rec = Ty::Record(vec![("a".into(), Ty::U8), ("b".into(), Ty::U64)]);
        assert_eq!((rec.size(), rec.align()), (16, 8));
        let o = Ty::Option(Box::new(Ty::U16));
        assert_eq!((o.size(), o.align()), (4, 2));
        let flags = Ty::Flags((0..33).map(|i| i.to_string()).collect());
        assert_eq!((flags.size(), flags.align()), (8, 4));
    }

    #[test]
    fn variants_join_their_payloads() {
        let mut flat = Vec::new();
        let v = Ty::Variant(vec![
            ("a".into(), Some(Ty::F32)),
            ("b".into(), Some(Ty::U32)),
            ("c".into(), Some(Ty::F64)),
        ]);
        v.flatten(&mut flat);
        assert_eq!(flat, [Flat::I32, Flat::I64]);
        flat.clear();
        let r = Ty::Result(Some(Box::new(Ty::String)), Some(Box::new(error_code())));
        r.flatten(&mut flat);
        assert_eq!(flat, [Flat::I32, Flat::I32, Flat::I32]);
    }
}
