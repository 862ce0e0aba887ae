//! The exported functions of a core module, from the `component-type*` custom sections
//! that wit-bindgen embeds: each is a component binary holding one component type (the
//! world), whose exports are instances (interfaces) of functions, or bare functions.
//!
//! Type indices are resolved as they are declared, each scope (component or instance type)
//! with its own type and instance index spaces; `outer` aliases reach the enclosing scopes.
//! An instance type is decoded when it is imported or exported, because its resources are
//! named after that import or export.

use std::collections::HashMap;

use anyhow::{anyhow, bail, Context, Result};
use wasmparser::{
    ComponentAlias, ComponentDefinedType, ComponentFuncType, ComponentOuterAliasKind,
    ComponentType, ComponentTypeDeclaration, ComponentTypeRef, ComponentValType,
    InstanceTypeDeclaration, Parser, Payload, PrimitiveValType, TypeBounds,
};

use crate::types::{Resource, Ty};

/// An exported function: its core export name and component-level type.
#[derive(Clone, Debug, PartialEq)]
pub struct Func {
    /// The core export: `interface#name` for a function of an exported interface.
    pub export: String,
    pub params: Vec<(String, Ty)>,
    pub result: Option<Ty>,
}

impl std::fmt::Display for Func {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: func(", self.export)?;
        for (i, (n, t)) in self.params.iter().enumerate() {
            write!(f, "{}{n}: {t}", if i > 0 { ", " } else { "" })?;
        }
        f.write_str(")")?;
        if let Some(r) = &self.result {
            write!(f, " -> {r}")?;
        }
        Ok(())
    }
}

/// What one entry of a scope's type index space is.
#[derive(Clone)]
enum Entry<'a> {
    Value(Ty),
    Resource(Resource),
    /// A function type, resolved where it is declared.
    Func(Vec<(String, Ty)>, Option<Ty>),
    Instance(Box<[InstanceTypeDeclaration<'a>]>, usize),
    Component(Box<[ComponentTypeDeclaration<'a>]>),
}

/// One component or instance type being decoded. `depth` is its place in the scope stack,
/// which the deferred entries (func, instance, component) record to resolve their indices
/// later against the right scope.
struct Scope<'a> {
    types: Vec<Entry<'a>>,
    /// Per imported instance: the types it exports, by name.
    instances: Vec<HashMap<String, Entry<'a>>>,
}

struct Decoder<'a> {
    scopes: Vec<Scope<'a>>,
    funcs: Vec<Func>,
}

/// The functions the world(s) in these sections export.
pub fn exports(sections: &[&[u8]]) -> Result<Vec<Func>> {
    let mut d = Decoder {
        scopes: Vec::new(),
        funcs: Vec::new(),
    };
    for s in sections {
        d.section(s)
            .context("cannot decode the module's component-type section")?;
    }
    Ok(d.funcs)
}

impl<'a> Decoder<'a> {
    fn section(&mut self, data: &'a [u8]) -> Result<()> {
        self.scopes.push(Scope {
            types: Vec::new(),
            instances: Vec::new(),
        });
        for payload in Parser::new(0).parse_all(data) {
            if let Payload::ComponentTypeSection(reader) = payload? {
                for ty in reader {
                    let entry = self.type_entry(ty?)?;
                    self.top().types.push(entry);
                }
            }
        }
        // The section's type is a component exporting the world (a component type); an
        // older encoding has the world as the type itself.
        let outer: Vec<_> = self.top().types.clone();
        for entry in outer {
            if let Entry::Component(decls) = entry {
                self.component(&decls, true)?;
            }
        }
        self.scopes.pop();
        Ok(())
    }

    fn top(&mut self) -> &mut Scope<'a> {
        self.scopes.last_mut().expect("a scope")
    }

    fn depth(&self) -> usize {
        self.scopes.len() - 1
    }

    fn type_entry(&mut self, ty: ComponentType<'a>) -> Result<Entry<'a>> {
        let depth = self.depth();
        Ok(match ty {
            ComponentType::Defined(d) => Entry::Value(self.defined(&d)?),
            ComponentType::Func(f) => {
                if f.async_ {
                    Entry::Value(Ty::Unsupported("async function"))
                } else {
                    self.func_type(&f)?
                }
            }
            ComponentType::Instance(decls) => Entry::Instance(decls, depth),
            ComponentType::Component(decls) => Entry::Component(decls),
            ComponentType::Resource { .. } => Entry::Resource(Resource {
                interface: String::new(),
                name: String::new(),
            }),
        })
    }

    fn entry(&self, index: u32) -> Result<&Entry<'a>> {
        self.scopes
            .last()
            .and_then(|s| s.types.get(index as usize))
            .ok_or_else(|| anyhow!("type index {index} out of range"))
    }

    fn value(&self, ty: ComponentValType) -> Result<Ty> {
        match ty {
            ComponentValType::Primitive(p) => Ok(primitive(p)),
            ComponentValType::Type(i) => match self.entry(i)? {
                Entry::Value(t) => Ok(t.clone()),
                _ => bail!("type index {i} is not a value type"),
            },
        }
    }

    fn resource(&self, index: u32) -> Result<Resource> {
        match self.entry(index)? {
            Entry::Resource(r) => Ok(r.clone()),
            _ => bail!("type index {index} is not a resource"),
        }
    }

    fn defined(&self, d: &ComponentDefinedType<'a>) -> Result<Ty> {
        let boxed = |t: Option<ComponentValType>| -> Result<Option<Box<Ty>>> {
            t.map(|t| self.value(t).map(Box::new)).transpose()
        };
        Ok(match d {
            ComponentDefinedType::Primitive(p) => primitive(*p),
            ComponentDefinedType::Record(f) => Ty::Record(
                f.iter()
                    .map(|(n, t)| Ok((n.to_string(), self.value(*t)?)))
                    .collect::<Result<_>>()?,
            ),
            ComponentDefinedType::Variant(c) => Ty::Variant(
                c.iter()
                    .map(|c| Ok((c.name.to_string(), c.ty.map(|t| self.value(t)).transpose()?)))
                    .collect::<Result<_>>()?,
            ),
            ComponentDefinedType::List(t) => Ty::List(Box::new(self.value(*t)?)),
            ComponentDefinedType::Tuple(t) => {
                Ty::Tuple(t.iter().map(|t| self.value(*t)).collect::<Result<_>>()?)
            }
            ComponentDefinedType::Flags(n) => Ty::Flags(n.iter().map(|s| s.to_string()).collect()),
            ComponentDefinedType::Enum(n) => Ty::Enum(n.iter().map(|s| s.to_string()).collect()),
            ComponentDefinedType::Option(t) => Ty::Option(Box::new(self.value(*t)?)),
            ComponentDefinedType::Result { ok, err } => Ty::Result(boxed(*ok)?, boxed(*err)?),
            ComponentDefinedType::Own(i) => Ty::Own(self.resource(*i)?),
            ComponentDefinedType::Borrow(i) => Ty::Borrow(self.resource(*i)?),
            ComponentDefinedType::Map(..) => Ty::Unsupported("map"),
            ComponentDefinedType::FixedLengthList(..) => Ty::Unsupported("fixed-length list"),
            ComponentDefinedType::Future(_) => Ty::Unsupported("future"),
            ComponentDefinedType::Stream(_) => Ty::Unsupported("stream"),
        })
    }

    /// Resolves an alias declared in the current scope into the entry it names.
    fn alias(&self, alias: &ComponentAlias<'a>) -> Result<Option<Entry<'a>>> {
        match alias {
            ComponentAlias::Outer {
                kind: ComponentOuterAliasKind::Type,
                count,
                index,
            } => {
                let at = self
                    .depth()
                    .checked_sub(*count as usize)
                    .ok_or_else(|| anyhow!("outer alias {count} levels up is out of range"))?;
                let entry = self.scopes[at]
                    .types
                    .get(*index as usize)
                    .ok_or_else(|| anyhow!("outer alias to type {index} out of range"))?;
                Ok(Some(entry.clone()))
            }
            ComponentAlias::InstanceExport {
                kind: wasmparser::ComponentExternalKind::Type,
                instance_index,
                name,
            } => {
                let scope = self.scopes.last().expect("a scope");
                let inst = scope
                    .instances
                    .get(*instance_index as usize)
                    .ok_or_else(|| anyhow!("instance {instance_index} out of range"))?;
                let entry = inst
                    .get(*name)
                    .ok_or_else(|| anyhow!("instance {instance_index} exports no type `{name}`"))?;
                Ok(Some(entry.clone()))
            }
            _ => Ok(None),
        }
    }

    /// A component type: the world (`world` true: its exports are collected) or the type
    /// that wraps it.
    fn component(&mut self, decls: &[ComponentTypeDeclaration<'a>], world: bool) -> Result<()> {
        self.scopes.push(Scope {
            types: Vec::new(),
            instances: Vec::new(),
        });
        for decl in decls {
            match decl {
                ComponentTypeDeclaration::Type(t) => {
                    let e = self.type_entry(t.clone())?;
                    self.top().types.push(e);
                }
                ComponentTypeDeclaration::Alias(a) => {
                    if let Some(e) = self.alias(a)? {
                        self.top().types.push(e);
                    }
                }
                ComponentTypeDeclaration::CoreType(_) => {}
                ComponentTypeDeclaration::Import(imp) => {
                    self.extern_decl(imp.name.name, imp.ty, None)?
                }
                ComponentTypeDeclaration::Export { name, ty } => {
                    let collect = world.then_some(());
                    self.extern_decl(name.name, *ty, collect)?
                }
            }
        }
        self.scopes.pop();
        Ok(())
    }

    /// An import or export of a component type. Exports of the world (`collect`) add their
    /// functions; instance imports add an instance; type imports/exports add a type.
    fn extern_decl(&mut self, name: &str, ty: ComponentTypeRef, collect: Option<()>) -> Result<()> {
        match ty {
            ComponentTypeRef::Instance(i) => {
                let Entry::Instance(decls, depth) = self.entry(i)?.clone() else {
                    bail!("`{name}`: type {i} is not an instance type");
                };
                let exports = self.instance(&decls, depth, name, collect.is_some())?;
                self.top().instances.push(exports);
            }
            ComponentTypeRef::Func(i) if collect.is_some() => {
                let func = self.func(name, name, i)?;
                self.funcs.push(func);
            }
            ComponentTypeRef::Type(bounds) => {
                let e = self.bounded(name, "", bounds)?;
                self.top().types.push(e);
            }
            ComponentTypeRef::Component(i) => {
                if let Entry::Component(decls) = self.entry(i)?.clone() {
                    self.component(&decls, true)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn bounded(&self, name: &str, interface: &str, bounds: TypeBounds) -> Result<Entry<'a>> {
        Ok(match bounds {
            TypeBounds::Eq(i) => self.entry(i)?.clone(),
            TypeBounds::SubResource => Entry::Resource(Resource {
                interface: interface.to_string(),
                name: name.to_string(),
            }),
        })
    }

    fn func_type(&self, f: &ComponentFuncType<'a>) -> Result<Entry<'a>> {
        Ok(Entry::Func(
            f.params
                .iter()
                .map(|(n, t)| Ok((n.to_string(), self.value(*t)?)))
                .collect::<Result<_>>()?,
            f.result.map(|t| self.value(t)).transpose()?,
        ))
    }

    fn func(&self, export: &str, name: &str, index: u32) -> Result<Func> {
        match self.entry(index)? {
            Entry::Func(params, result) => Ok(Func {
                export: export.to_string(),
                params: params.clone(),
                result: result.clone(),
            }),
            Entry::Value(Ty::Unsupported(what)) => {
                bail!("`{name}` is an {what}, which this host cannot call")
            }
            _ => bail!("`{name}`: type {index} is not a function type"),
        }
    }

    /// An instance type imported or exported as `interface`: returns its exported types by
    /// name; with `collect`, also adds its functions as `interface#name`.
    fn instance(
        &mut self,
        decls: &[InstanceTypeDeclaration<'a>],
        depth: usize,
        interface: &str,
        collect: bool,
    ) -> Result<HashMap<String, Entry<'a>>> {
        // The instance type's `outer` aliases count from where it was declared.
        let saved = self.scopes.split_off(depth + 1);
        self.scopes.push(Scope {
            types: Vec::new(),
            instances: Vec::new(),
        });
        let mut exports = HashMap::new();
        let result = (|| -> Result<()> {
            for decl in decls {
                match decl {
                    InstanceTypeDeclaration::Type(t) => {
                        let e = self.type_entry(t.clone())?;
                        self.top().types.push(e);
                    }
                    InstanceTypeDeclaration::Alias(a) => {
                        if let Some(e) = self.alias(a)? {
                            self.top().types.push(e);
                        }
                    }
                    InstanceTypeDeclaration::CoreType(_) => {}
                    InstanceTypeDeclaration::Export { name, ty } => match ty {
                        ComponentTypeRef::Type(b) => {
                            let e = self.bounded(name.name, interface, *b)?;
                            exports.insert(name.name.to_string(), e.clone());
                            self.top().types.push(e);
                        }
                        ComponentTypeRef::Func(i) if collect => {
                            let export = format!("{interface}#{}", name.name);
                            let func = self.func(&export, name.name, *i)?;
                            self.funcs.push(func);
                        }
                        _ => {}
                    },
                }
            }
            Ok(())
        })();
        self.scopes.pop();
        self.scopes.extend(saved);
        result.with_context(|| format!("in `{interface}`"))?;
        Ok(exports)
    }
}

fn primitive(p: PrimitiveValType) -> Ty {
    match p {
        PrimitiveValType::Bool => Ty::Bool,
        PrimitiveValType::S8 => Ty::S8,
        PrimitiveValType::U8 => Ty::U8,
        PrimitiveValType::S16 => Ty::S16,
        PrimitiveValType::U16 => Ty::U16,
        PrimitiveValType::S32 => Ty::S32,
        PrimitiveValType::U32 => Ty::U32,
        PrimitiveValType::S64 => Ty::S64,
        PrimitiveValType::U64 => Ty::U64,
        PrimitiveValType::F32 => Ty::F32,
        PrimitiveValType::F64 => Ty::F64,
        PrimitiveValType::Char => Ty::Char,
        PrimitiveValType::String => Ty::String,
        PrimitiveValType::ErrorContext => Ty::Unsupported("error-context"),
    }
}
