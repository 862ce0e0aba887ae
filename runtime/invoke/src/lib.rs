//! Calling a driver's exported function with host-made handles: `wasi-hw run --invoke
//! 'EXPORT(ARGS)'` and a resident driver's `invoke = "..."`.
//!
//! A driver built with wit-bindgen as a core module exports its world's functions in the
//! canonical ABI (e.g. `sketch:implementation/lcd#write(i32 i2c, i32 delay, i32 ptr, i32
//! len)`) and embeds the world's types in a `component-type` custom section. The types come
//! from that section ([`decode`]), never from guesses; arguments are WAVE text typed
//! against them ([`value`]), lowered into the guest's memory through its `cabi_realloc`
//! ([`abi`]); handle parameters (`own<i2c>`) are made by the embedder, which knows the
//! grants; results are lifted and printed as WAVE; `cabi_post_*` is called.
//!
//! An `.aot` keeps no custom sections of its own: the AOT compiler carries the
//! component-type sections over as WAMR raw custom sections ([`component_type_sections`]), covered by
//! the module's signature like the rest of the file.

pub mod abi;
pub mod decode;
pub mod handles;
pub mod types;
pub mod value;

use anyhow::{bail, Context, Result};
use wasi_hw_engine::{Instance, ModuleKind, Val};

pub use decode::Func;
pub use types::{Resource, Ty};
pub use value::{Node, Value};

/// The component-type section names in an `.aot` (WAMR's raw custom sections), as the
/// compiler writes them.
pub const SECTION_PREFIX: &str = "component-type";

/// The exported functions a module's embedded component types describe (empty when it
/// has none).
pub fn exports_of(bytes: &[u8], kind: ModuleKind) -> Result<Vec<Func>> {
    let sections = match kind {
        ModuleKind::Wasm => component_type_sections(bytes)?,
        ModuleKind::Aot => wasi_hw_engine::aot_custom_sections(bytes)
            .into_iter()
            .filter(|(name, _)| name.starts_with(SECTION_PREFIX))
            .collect(),
    };
    let data: Vec<&[u8]> = sections.iter().map(|(_, d)| *d).collect();
    decode::exports(&data)
}

/// The component-type sections of a `.wasm` (name, contents): what `--invoke` decodes,
/// and what the compiler carries into its `.aot`.
pub fn component_type_sections(wasm: &[u8]) -> Result<Vec<(&str, &[u8])>> {
    let mut out = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::CustomSection(cs) = payload.context("reading the module")? {
            if cs.name().starts_with(SECTION_PREFIX) {
                out.push((cs.name(), cs.data()));
            }
        }
    }
    Ok(out)
}

/// A parsed `EXPORT(ARGS)` with the export's type.
pub struct Call {
    pub func: Func,
    pub args: Vec<Node>,
}

impl Call {
    /// Parses `text` and finds its export among `exports`: by its full core name
    /// (`iface#name`), or by the part after `#` when that is unambiguous.
    pub fn parse(text: &str, exports: &[Func]) -> Result<Call> {
        let (name, args) = value::parse_call(text)?;
        if exports.is_empty() {
            bail!(
                "the module has no component-type section, so the types of `{name}` are \
                 unknown (build it with wit-bindgen, which embeds them)"
            );
        }
        // `iface#func` and `func` may stand for `pkg:ns/iface@version#func`.
        let short = |export: &str| -> [String; 2] {
            let (iface, func) = export.rsplit_once('#').unwrap_or(("", export));
            let iface = iface.rsplit('/').next().unwrap_or(iface);
            let iface = iface.split('@').next().unwrap_or(iface);
            [func.to_string(), format!("{iface}#{func}")]
        };
        let by_short: Vec<&Func> = exports
            .iter()
            .filter(|f| short(&f.export).contains(&name))
            .collect();
        let func = match exports.iter().find(|f| f.export == name) {
            Some(f) => f,
            None if by_short.len() == 1 => by_short[0],
            None => {
                let names: Vec<&str> = exports.iter().map(|f| f.export.as_str()).collect();
                bail!(
                    "the module exports no function `{name}` (it has: {})",
                    names.join(", ")
                );
            }
        };
        if func.params.len() != args.len() {
            let params: Vec<&str> = func.params.iter().map(|(n, _)| n.as_str()).collect();
            bail!(
                "{} takes {} argument(s) ({}), {} given",
                func.export,
                params.len(),
                params.join(", "),
                args.len()
            );
        }
        let types = func.params.iter().map(|(_, t)| t).chain(func.result.iter());
        for t in types {
            if let Some(what) = t.unsupported() {
                bail!("{func}: a {what} cannot be passed by this host");
            }
        }
        Ok(Call {
            func: func.clone(),
            args,
        })
    }
}

/// Makes a handle of resource type `r` in the instance's table from an argument node such
/// as `i2c("/dev/i2c-1")` or `delay`.
pub type HandleMaker<'a> = dyn FnMut(&mut Instance, &Resource, &Node) -> Result<u32> + 'a;

/// What a call returned.
#[derive(Debug, PartialEq)]
pub struct Returned {
    /// The result as WAVE text; `None` for a function without a result.
    pub text: Option<String>,
    /// The result is the `err` case of a `result` type.
    pub is_err: bool,
}

/// Calls `call` on `instance` (initialising a reactor first) and returns its result.
pub fn invoke(
    instance: &mut Instance,
    call: &Call,
    make: &mut HandleMaker<'_>,
) -> Result<Returned> {
    let exports: Vec<String> = instance
        .module()
        .exports()
        .into_iter()
        .map(|e| e.name)
        .collect();
    let has = |n: &str| exports.iter().any(|e| e == n);
    if has("_initialize") {
        instance.call("_initialize", &[]).context("_initialize")?;
    }
    let func = &call.func;
    let mut values = Vec::new();
    for ((name, ty), node) in func.params.iter().zip(&call.args) {
        let v = value::typed(node, ty, &mut |r, n| make(instance, r, n))
            .with_context(|| format!("argument `{name}` of {}", func.export))?;
        values.push(v);
    }
    let mut flat_types = Vec::new();
    func.params
        .iter()
        .for_each(|(_, t)| t.flatten(&mut flat_types));
    let args = {
        let mut caller = instance.caller();
        let mem: &mut dyn abi::Memory = &mut caller;
        if flat_types.len() > types::MAX_FLAT_PARAMS {
            // Too many for core parameters: one pointer to them, stored as a tuple.
            let tuple = Ty::Tuple(func.params.iter().map(|(_, t)| t.clone()).collect());
            let ptr = mem.alloc(tuple.align(), tuple.size())?;
            abi::store(mem, &Value::Fields(values), &tuple, ptr)?;
            vec![Val::I32(ptr as i32)]
        } else {
            let mut out = Vec::new();
            for ((_, t), v) in func.params.iter().zip(&values) {
                abi::lower_flat(mem, v, t, &mut out)?;
            }
            out
        }
    };
    log::debug!("calling {} with {args:?}", func.export);
    let results = instance
        .call(&func.export, &args)
        .with_context(|| format!("calling {}", func.export))?;
    let mut is_err = false;
    let text = match &func.result {
        None => None,
        Some(ty) => {
            abi::reset_result_budget();
            let caller = instance.caller();
            let mut flat = Vec::new();
            ty.flatten(&mut flat);
            let v = if flat.len() > types::MAX_FLAT_RESULTS {
                let Some(Val::I32(ptr)) = results.first() else {
                    bail!("{} returned no return-area pointer", func.export);
                };
                abi::load(&caller, ty, *ptr as u32)
            } else {
                abi::lift_flat(&caller, ty, &mut results.iter().copied())
            }
            .with_context(|| format!("the result of {}", func.export))?;
            is_err = matches!((ty, &v), (Ty::Result(..), Value::Case(1, _)));
            Some(value::to_text(&v, ty))
        }
    };
    let post = format!("cabi_post_{}", func.export);
    if has(&post) {
        instance
            .call(&post, &results)
            .with_context(|| post.clone())?;
    }
    Ok(Returned { text, is_err })
}
