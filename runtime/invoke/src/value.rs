//! Values in WAVE text (the WebAssembly Value Encoding that wasmtime's `--invoke` reads):
//! a call `name(arg, ...)` is parsed into untyped nodes, which are typed against the
//! function's parameter types; results are printed the same way.
//!
//! Hand-written: the `wasm-wave` crate parses the same text, but costs the gateway binary
//! ~245 KB (measured, stripped, opt-level s); this subset is what `--invoke` needs.

use std::fmt::{self, Write as _};

use anyhow::{anyhow, bail, Result};

use crate::types::Ty;

/// A parsed, not yet typed, WAVE value.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Number(String),
    Char(char),
    Str(String),
    /// A label (`true`, `none`, an enum or variant case, a handle kind), with a payload.
    Label(String, Option<Box<Node>>),
    List(Vec<Node>),
    Tuple(Vec<Node>),
    Record(Vec<(String, Node)>),
    Flags(Vec<String>),
}

/// A typed value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Bool(bool),
    S(i64),
    U(u64),
    F32(f32),
    F64(f64),
    Char(char),
    String(String),
    List(Vec<Value>),
    /// Record fields or tuple elements, in order.
    Fields(Vec<Value>),
    /// A variant-shaped value (variant, enum, option, result): case index and payload.
    Case(u32, Option<Box<Value>>),
    Flags(Vec<bool>),
    /// A resource handle, already in the guest's table.
    Handle(u32),
}

/// `name(args)`: the export to call and its argument nodes.
pub fn parse_call(text: &str) -> Result<(String, Vec<Node>)> {
    let mut p = Parser { s: text, at: 0 };
    p.ws();
    let start = p.at;
    while p.peek().is_some_and(|c| c != '(' && !c.is_whitespace()) {
        p.bump();
    }
    let name = text[start..p.at].to_string();
    if name.is_empty() {
        bail!("--invoke `{text}`: expected EXPORT(ARGS)");
    }
    p.ws();
    let args = if p.eat('(') {
        p.items(')')?
    } else {
        Vec::new()
    };
    p.ws();
    if p.at != text.len() {
        bail!(
            "--invoke `{text}`: unexpected `{}` at {}",
            &text[p.at..],
            p.at
        );
    }
    Ok((name, args))
}

/// Parses one value (for tests and config values).
pub fn parse_value(text: &str) -> Result<Node> {
    let mut p = Parser { s: text, at: 0 };
    let n = p.value()?;
    p.ws();
    if p.at != text.len() {
        bail!("unexpected `{}` at {}", &text[p.at..], p.at);
    }
    Ok(n)
}

struct Parser<'a> {
    s: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.s[self.at..].chars().next()
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        Some(c)
    }
    fn ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }
    fn eat(&mut self, c: char) -> bool {
        self.ws();
        if self.peek() == Some(c) {
            self.bump();
            true
        } else {
            false
        }
    }
    fn err<T>(&self, what: &str) -> Result<T> {
        let rest: String = self.s[self.at..].chars().take(12).collect();
        Err(anyhow!("{what} at {} (`{rest}`)", self.at))
    }

    /// Comma-separated values up to `close` (trailing comma allowed).
    fn items(&mut self, close: char) -> Result<Vec<Node>> {
        let mut out = Vec::new();
        loop {
            if self.eat(close) {
                return Ok(out);
            }
            out.push(self.value()?);
            if !self.eat(',') {
                return if self.eat(close) {
                    Ok(out)
                } else {
                    self.err(&format!("expected `,` or `{close}`"))
                };
            }
        }
    }

    fn label(&mut self) -> String {
        let start = self.at;
        if self.peek() == Some('%') {
            self.bump();
        }
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            self.bump();
        }
        self.s[start..self.at].trim_start_matches('%').to_string()
    }

    fn value(&mut self) -> Result<Node> {
        self.ws();
        match self.peek() {
            Some('"') => Ok(Node::Str(self.quoted('"')?)),
            Some('\'') => {
                let s = self.quoted('\'')?;
                let mut chars = s.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Ok(Node::Char(c)),
                    _ => self.err("a char literal holds one character"),
                }
            }
            Some('[') => {
                self.bump();
                Ok(Node::List(self.items(']')?))
            }
            Some('(') => {
                self.bump();
                Ok(Node::Tuple(self.items(')')?))
            }
            Some('{') => {
                self.bump();
                self.record_or_flags()
            }
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let start = self.at;
                self.bump();
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-'))
                {
                    self.bump();
                }
                Ok(Node::Number(self.s[start..self.at].to_string()))
            }
            Some(c) if c.is_ascii_alphabetic() || c == '%' => {
                let name = self.label();
                let payload = if self.peek() == Some('(') {
                    self.bump();
                    let v = self.value()?;
                    if !self.eat(')') {
                        return self.err("expected `)` after a case payload");
                    }
                    Some(Box::new(v))
                } else {
                    None
                };
                Ok(Node::Label(name, payload))
            }
            _ => self.err("expected a value"),
        }
    }

    fn record_or_flags(&mut self) -> Result<Node> {
        let mut fields = Vec::new();
        let mut flags = Vec::new();
        loop {
            if self.eat('}') {
                break;
            }
            self.ws();
            let name = self.label();
            if name.is_empty() {
                return self.err("expected a field or flag name");
            }
            if self.eat(':') {
                fields.push((name, self.value()?));
            } else {
                flags.push(name);
            }
            if !self.eat(',') {
                if self.eat('}') {
                    break;
                }
                return self.err("expected `,` or `}`");
            }
        }
        match (fields.is_empty(), flags.is_empty()) {
            (_, true) => Ok(Node::Record(fields)),
            (true, false) => Ok(Node::Flags(flags)),
            _ => self.err("record fields and flags mixed"),
        }
    }

    fn quoted(&mut self, q: char) -> Result<String> {
        self.bump();
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return self.err("unterminated literal"),
                Some(c) if c == q => return Ok(out),
                Some('\\') => {
                    let c = match self.bump() {
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some(c @ ('\\' | '"' | '\'')) => c,
                        Some('u') if self.peek() == Some('{') => {
                            self.bump();
                            let start = self.at;
                            while self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                                self.bump();
                            }
                            let hex = &self.s[start..self.at];
                            if !self.eat('}') {
                                return self.err("expected `}` in \\u{...}");
                            }
                            u32::from_str_radix(hex, 16)
                                .ok()
                                .and_then(char::from_u32)
                                .ok_or_else(|| anyhow!("bad escape \\u{{{hex}}}"))?
                        }
                        _ => return self.err("unknown escape"),
                    };
                    out.push(c);
                }
                Some(c) => out.push(c),
            }
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Number(n) => f.write_str(n),
            Node::Char(c) => write!(f, "'{}'", escape(&c.to_string(), '\'')),
            Node::Str(s) => write!(f, "\"{}\"", escape(s, '"')),
            Node::Label(l, None) => f.write_str(l),
            Node::Label(l, Some(p)) => write!(f, "{l}({p})"),
            Node::List(_) => f.write_str("a list"),
            Node::Tuple(_) => f.write_str("a tuple"),
            Node::Record(_) => f.write_str("a record"),
            Node::Flags(_) => f.write_str("flags"),
        }
    }
}

fn escape(s: &str, quote: char) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Types `node` as `ty`. Handles are not made here: `handle` is asked for each.
pub fn typed(
    node: &Node,
    ty: &Ty,
    handle: &mut dyn FnMut(&crate::types::Resource, &Node) -> Result<u32>,
) -> Result<Value> {
    let mismatch = || anyhow!("`{node}` is not a {ty}");
    let int = |lo: i128, hi: i128, signed: bool| -> Result<Value> {
        let Node::Number(n) = node else {
            return Err(mismatch());
        };
        let v: i128 = n.parse().map_err(|_| mismatch())?;
        if v < lo || v > hi {
            bail!("{n} is out of range for {ty}");
        }
        Ok(if signed {
            Value::S(v as i64)
        } else {
            Value::U(v as u64)
        })
    };
    let float = || -> Result<f64> {
        match node {
            Node::Number(n) => n.parse::<f64>().map_err(|_| mismatch()),
            Node::Label(l, None) if l == "nan" => Ok(f64::NAN),
            Node::Label(l, None) if l == "inf" => Ok(f64::INFINITY),
            _ => Err(mismatch()),
        }
    };
    Ok(match ty {
        Ty::Bool => match node {
            Node::Label(l, None) if l == "true" => Value::Bool(true),
            Node::Label(l, None) if l == "false" => Value::Bool(false),
            _ => return Err(mismatch()),
        },
        Ty::S8 => int(i8::MIN.into(), i8::MAX.into(), true)?,
        Ty::U8 => int(0, u8::MAX.into(), false)?,
        Ty::S16 => int(i16::MIN.into(), i16::MAX.into(), true)?,
        Ty::U16 => int(0, u16::MAX.into(), false)?,
        Ty::S32 => int(i32::MIN.into(), i32::MAX.into(), true)?,
        Ty::U32 => int(0, u32::MAX.into(), false)?,
        Ty::S64 => int(i64::MIN.into(), i64::MAX.into(), true)?,
        Ty::U64 => int(0, u64::MAX.into(), false)?,
        Ty::F32 => Value::F32(float()? as f32),
        Ty::F64 => Value::F64(float()?),
        Ty::Char => match node {
            Node::Char(c) => Value::Char(*c),
            _ => return Err(mismatch()),
        },
        Ty::String => match node {
            Node::Str(s) => Value::String(s.clone()),
            _ => return Err(mismatch()),
        },
        Ty::List(elem) => match node {
            Node::List(items) => Value::List(
                items
                    .iter()
                    .map(|n| typed(n, elem, handle))
                    .collect::<Result<_>>()?,
            ),
            _ => return Err(mismatch()),
        },
        Ty::Tuple(types) => match node {
            Node::Tuple(items) if items.len() == types.len() => Value::Fields(
                items
                    .iter()
                    .zip(types)
                    .map(|(n, t)| typed(n, t, handle))
                    .collect::<Result<_>>()?,
            ),
            _ => return Err(mismatch()),
        },
        Ty::Record(fields) => match node {
            Node::Record(given) => {
                if let Some((n, _)) = given
                    .iter()
                    .find(|(n, _)| !fields.iter().any(|(f, _)| f == n))
                {
                    bail!("{ty} has no field `{n}`");
                }
                let mut out = Vec::new();
                for (name, t) in fields {
                    out.push(match given.iter().find(|(n, _)| n == name) {
                        Some((_, n)) => typed(n, t, handle)?,
                        // WAVE: an option field may be left out.
                        None if matches!(t, Ty::Option(_)) => Value::Case(0, None),
                        None => bail!("field `{name}` missing for {ty}"),
                    });
                }
                Value::Fields(out)
            }
            _ => return Err(mismatch()),
        },
        Ty::Flags(names) => {
            let given: &[String] = match node {
                Node::Flags(f) => f,
                Node::Record(r) if r.is_empty() => &[],
                _ => return Err(mismatch()),
            };
            if let Some(bad) = given.iter().find(|g| !names.contains(g)) {
                bail!("{ty} has no flag `{bad}`");
            }
            Value::Flags(names.iter().map(|n| given.contains(n)).collect())
        }
        Ty::Own(r) | Ty::Borrow(r) => Value::Handle(handle(r, node)?),
        Ty::Unsupported(what) => bail!("cannot pass a {what}"),
        t => {
            let cases = t.cases().expect("variant-shaped");
            let Node::Label(label, payload) = node else {
                return Err(mismatch());
            };
            let Some(i) = cases.iter().position(|(n, _)| n == label) else {
                return Err(mismatch());
            };
            let value = match (cases[i].1, payload) {
                (Some(pt), Some(p)) => Some(Box::new(typed(p, pt, handle)?)),
                (None, None) => None,
                (Some(_), None) => bail!("`{label}` needs a payload ({ty})"),
                (None, Some(_)) => bail!("`{label}` has no payload ({ty})"),
            };
            Value::Case(i as u32, value)
        }
    })
}

/// WAVE text of a value of type `ty`.
pub fn to_text(v: &Value, ty: &Ty) -> String {
    let mut out = String::new();
    write_value(&mut out, v, ty);
    out
}

fn write_value(out: &mut String, v: &Value, ty: &Ty) {
    let seq = |out: &mut String, items: &mut dyn Iterator<Item = (Option<&str>, &Value, &Ty)>| {
        let mut first = true;
        for (name, v, t) in items {
            if !first {
                out.push_str(", ");
            }
            first = false;
            if let Some(n) = name {
                let _ = write!(out, "{n}: ");
            }
            write_value(out, v, t);
        }
    };
    match (v, ty) {
        (Value::Bool(b), _) => {
            let _ = write!(out, "{b}");
        }
        (Value::S(n), _) => {
            let _ = write!(out, "{n}");
        }
        (Value::U(n), _) => {
            let _ = write!(out, "{n}");
        }
        (Value::F32(x), _) => write_float(out, f64::from(*x)),
        (Value::F64(x), _) => write_float(out, *x),
        (Value::Char(c), _) => {
            let _ = write!(out, "'{}'", escape(&c.to_string(), '\''));
        }
        (Value::String(s), _) => {
            let _ = write!(out, "\"{}\"", escape(s, '"'));
        }
        (Value::List(items), Ty::List(t)) => {
            out.push('[');
            seq(out, &mut items.iter().map(|v| (None, v, &**t)));
            out.push(']');
        }
        (Value::Fields(items), Ty::Record(fields)) => {
            out.push('{');
            seq(
                out,
                &mut items
                    .iter()
                    .zip(fields)
                    .map(|(v, (n, t))| (Some(n.as_str()), v, t)),
            );
            out.push('}');
        }
        (Value::Fields(items), Ty::Tuple(types)) => {
            out.push('(');
            seq(out, &mut items.iter().zip(types).map(|(v, t)| (None, v, t)));
            out.push(')');
        }
        (Value::Flags(set), Ty::Flags(names)) => {
            let on: Vec<&str> = names
                .iter()
                .zip(set)
                .filter(|(_, b)| **b)
                .map(|(n, _)| n.as_str())
                .collect();
            let _ = write!(out, "{{{}}}", on.join(", "));
        }
        (Value::Handle(h), t) => {
            let _ = write!(out, "{t}#{h}");
        }
        (Value::Case(i, payload), t) => {
            let cases = t.cases().unwrap_or_default();
            let (name, pt) = cases.get(*i as usize).copied().unwrap_or(("?", None));
            out.push_str(name);
            if let (Some(p), Some(pt)) = (payload, pt) {
                out.push('(');
                write_value(out, p, pt);
                out.push(')');
            }
        }
        _ => out.push('?'),
    }
}

fn write_float(out: &mut String, x: f64) {
    if x.is_nan() {
        out.push_str("nan");
    } else if x.is_infinite() {
        out.push_str(if x > 0.0 { "inf" } else { "-inf" });
    } else {
        let _ = write!(out, "{x}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_handles(_: &crate::types::Resource, n: &Node) -> Result<u32> {
        bail!("no handle for {n}")
    }

    #[test]
    fn parses_a_call_with_handles_strings_and_lists() {
        let (name, args) = parse_call(
            r#"sketch:implementation/lcd#write(i2c("/dev/i2c-1"), delay, "Hi \"x\"\n", [1, 2,])"#,
        )
        .unwrap();
        assert_eq!(name, "sketch:implementation/lcd#write");
        assert_eq!(
            args,
            [
                Node::Label("i2c".into(), Some(Box::new(Node::Str("/dev/i2c-1".into())))),
                Node::Label("delay".into(), None),
                Node::Str("Hi \"x\"\n".into()),
                Node::List(vec![Node::Number("1".into()), Node::Number("2".into())]),
            ]
        );
        assert_eq!(parse_call("run").unwrap(), ("run".into(), vec![]));
        assert!(parse_call("f(1, 2").is_err());
        assert!(parse_call("f(\"open)").is_err());
        assert!(parse_call("f(1) x").is_err());
    }

    #[test]
    fn values_are_typed_and_printed_back() {
        let ty = Ty::Record(vec![
            ("a".into(), Ty::U8),
            ("b".into(), Ty::Option(Box::new(Ty::String))),
            ("c".into(), Ty::Flags(vec!["x".into(), "y".into()])),
            ("d".into(), Ty::Result(Some(Box::new(Ty::F32)), None)),
        ]);
        let node = parse_value(r#"{a: 200, c: {y}, d: ok(1.5)}"#).unwrap();
        let v = typed(&node, &ty, &mut no_handles).unwrap();
        assert_eq!(to_text(&v, &ty), "{a: 200, b: none, c: {y}, d: ok(1.5)}");
        let err = typed(&parse_value("{a: 300}").unwrap(), &ty, &mut no_handles).unwrap_err();
        assert_eq!(err.to_string(), "300 is out of range for u8");
        let s = Value::String("a\"\n".into());
        assert_eq!(to_text(&s, &Ty::String), r#""a\"\n""#);
        assert!(typed(&Node::Str("x".into()), &Ty::U32, &mut no_handles).is_err());
        assert!(typed(
            &parse_value("some").unwrap(),
            &Ty::Option(Box::new(Ty::U8)),
            &mut no_handles
        )
        .is_err());
    }
}
