//! The layout of a driver in a registry: one OCI image index, tagged, whose manifests are
//! one per gateway platform plus one portable.
//!
//! - The portable manifest (platform `wasip1/wasm`) is the wasm OCI artifact convention
//!   as wasmCloud, Spin and runwasi read it: config `application/vnd.wasm.config.v0+json`,
//!   one `application/wasm` layer, the module.
//! - A platform manifest (`linux/amd64`, `linux/arm/v7`, `linux/arm64`, `linux/mipsle`)
//!   has the same config and `.wasm` layer (the same blob: stored once) and an
//!   [`AOT_MEDIA_TYPE`] layer with the `.aot` built for that CPU.
//! - Each module layer is followed by its signify/usign signature as a layer of
//!   [`SIGNATURE_MEDIA_TYPE`], annotated with the digest of the layer it signs. A layer and
//!   not an OCI 1.1 referrer: the signature then travels with the manifest through every
//!   copy (`skopeo copy --all`, mirrors) and needs nothing of the registry beyond the 1.0
//!   distribution API (Debian's registry, like many deployed ones, has no referrers API).
//!   It is over the module's bytes, as a `.sig` beside the file is, so a pulled module is
//!   installed with the very `.sig` the runtime checks at every load.
//!
//! Every layer carries `org.opencontainers.image.title`, the file name it is installed as.

use std::collections::HashMap;

use anyhow::{anyhow, bail, Context, Result};
use oci_spec::image::{
    Descriptor, ImageIndex, ImageIndexBuilder, ImageManifest, ImageManifestBuilder, MediaType,
    Platform,
};

use crate::digest;
use crate::platform::{platform_name, portable_platform};
use crate::registry::Registry;

/// The wasm OCI artifact convention's config media type.
pub const WASM_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The convention's layer media type of a WebAssembly module.
pub const WASM_MEDIA_TYPE: &str = "application/wasm";
/// A WAMR AOT module built by `wasi-hw compile` (native code: runs only if signed).
pub const AOT_MEDIA_TYPE: &str = "application/vnd.wasi-hw.aot.v1";
/// A detached signify/usign signature (the text of a `.sig` file).
pub const SIGNATURE_MEDIA_TYPE: &str = "application/vnd.wasi-hw.signature.signify.v1";
/// On a signature layer: the digest of the layer it signs.
pub const SIGNS_ANNOTATION: &str = "dev.wasi-hw.signature.of";
pub const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";

/// Pulled layers larger than this are refused before download (a driver is kilobytes; a
/// registry, or a manifest, that says gigabytes is not to be trusted with the memory).
pub const MAX_LAYER_BYTES: u64 = 64 << 20;
const MAX_SIGNATURE_BYTES: u64 = 4 << 10;

/// A module file and its detached signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    /// The file name it is installed as (`sensor.wasm`, `sensor.aot`).
    pub name: String,
    pub bytes: Vec<u8>,
    /// The text of its `.sig` file.
    pub signature: Vec<u8>,
}

/// What `push` publishes: the portable module and the native builds of it.
#[derive(Clone, Debug)]
pub struct Artifact {
    pub wasm: Module,
    pub natives: Vec<(Platform, Module)>,
}

/// Pushes `artifact` to `repo` and tags its index `tag`; returns the index digest.
pub fn push(registry: &mut Registry, repo: &str, tag: &str, artifact: &Artifact) -> Result<String> {
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "wasm",
        "os": "wasip1",
        "layerDigests": [digest::sha256(&artifact.wasm.bytes)],
    }))?;
    let config_desc = blob(registry, repo, WASM_CONFIG_MEDIA_TYPE, &config, None)?;
    let wasm_layers = module_layers(registry, repo, WASM_MEDIA_TYPE, &artifact.wasm)?;

    let mut entries = Vec::new();
    for (platform, module) in &artifact.natives {
        let mut layers = wasm_layers.clone();
        layers.extend(module_layers(registry, repo, AOT_MEDIA_TYPE, module)?);
        entries.push(manifest(
            registry,
            repo,
            &config_desc,
            layers,
            platform.clone(),
        )?);
    }
    entries.push(manifest(
        registry,
        repo,
        &config_desc,
        wasm_layers,
        portable_platform(),
    )?);
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(entries)
        .build()?;
    let bytes = index.to_string()?.into_bytes();
    registry.push_manifest(repo, tag, MediaType::ImageIndex.as_ref(), &bytes)
}

/// Uploads a blob; its descriptor.
fn blob(
    registry: &mut Registry,
    repo: &str,
    media_type: &str,
    bytes: &[u8],
    annotations: Option<HashMap<String, String>>,
) -> Result<Descriptor> {
    let digest = digest::sha256(bytes);
    registry.push_blob(repo, &digest, bytes)?;
    let mut desc = Descriptor::new(
        MediaType::from(media_type),
        bytes.len() as u64,
        oci_spec::image::Digest::try_from(digest.as_str())?,
    );
    desc.set_annotations(annotations);
    Ok(desc)
}

/// The module layer and its signature layer.
fn module_layers(
    registry: &mut Registry,
    repo: &str,
    media_type: &str,
    module: &Module,
) -> Result<Vec<Descriptor>> {
    let title = |name: &str| HashMap::from([(TITLE_ANNOTATION.to_string(), name.to_string())]);
    let layer = blob(
        registry,
        repo,
        media_type,
        &module.bytes,
        Some(title(&module.name)),
    )?;
    let mut sig_annotations = title(&format!("{}.sig", module.name));
    sig_annotations.insert(SIGNS_ANNOTATION.into(), layer.digest().to_string());
    let sig = blob(
        registry,
        repo,
        SIGNATURE_MEDIA_TYPE,
        &module.signature,
        Some(sig_annotations),
    )?;
    Ok(vec![layer, sig])
}

/// Pushes a manifest by digest; its index entry.
fn manifest(
    registry: &mut Registry,
    repo: &str,
    config: &Descriptor,
    layers: Vec<Descriptor>,
    platform: Platform,
) -> Result<Descriptor> {
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config.clone())
        .layers(layers)
        .build()?;
    let bytes = manifest.to_string()?.into_bytes();
    let digest = digest::sha256(&bytes);
    registry.push_manifest(repo, &digest, MediaType::ImageManifest.as_ref(), &bytes)?;
    let mut desc = Descriptor::new(
        MediaType::ImageManifest,
        bytes.len() as u64,
        oci_spec::image::Digest::try_from(digest.as_str())?,
    );
    desc.set_platform(Some(platform));
    Ok(desc)
}

/// Which module a pull wants.
#[derive(Clone, Debug)]
pub enum Want {
    /// The native build for this platform, else (with a warning) the portable module.
    Native(Platform),
    /// The portable `.wasm`.
    Portable,
}

/// A pulled module, digests checked (its signature is checked by the caller, against the
/// keys the gateway trusts).
#[derive(Debug)]
pub struct Pulled {
    pub module: Module,
    /// True for an `.aot` layer.
    pub native: bool,
    /// The platform of the manifest it came from.
    pub platform: Option<Platform>,
    /// The digest of that manifest (what a roll-out compares to see a new version).
    pub manifest_digest: String,
    /// The digest of what `reference` named (the index, or a lone manifest).
    pub top_digest: String,
}

const ACCEPT: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
];

/// Resolves `reference` (tag or digest) to its top-level digest without pulling layers.
pub fn resolve(registry: &mut Registry, repo: &str, reference: &str) -> Result<String> {
    let (_, _, digest) = registry.pull_manifest(repo, reference, &ACCEPT)?;
    Ok(digest)
}

/// Pulls the module `want` names from `repo:reference`.
pub fn pull(registry: &mut Registry, repo: &str, reference: &str, want: &Want) -> Result<Pulled> {
    let (media_type, bytes, top_digest) = registry.pull_manifest(repo, reference, &ACCEPT)?;
    let is_index = media_type.starts_with(MediaType::ImageIndex.as_ref())
        || (!media_type.starts_with(MediaType::ImageManifest.as_ref())
            && serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|j| j.get("manifests").cloned())
                .is_some());
    let (manifest, manifest_digest, platform) = if is_index {
        let index = ImageIndex::from_reader(bytes.as_slice())
            .with_context(|| format!("{repo}:{reference}: not an OCI image index"))?;
        let entry = choose(&index, want)
            .with_context(|| format!("{}/{repo}:{reference}", registry.host()))?;
        let digest = entry.digest().to_string();
        if entry.size() > crate::registry::MAX_MANIFEST_BYTES {
            bail!("manifest {digest} is {} bytes: refused", entry.size());
        }
        let (_, bytes, _) = registry.pull_manifest(repo, &digest, &ACCEPT)?;
        let manifest = ImageManifest::from_reader(bytes.as_slice())
            .with_context(|| format!("manifest {digest} is not an OCI image manifest"))?;
        (manifest, digest, entry.platform().clone())
    } else {
        let manifest = ImageManifest::from_reader(bytes.as_slice())
            .with_context(|| format!("{repo}:{reference}: not an OCI image manifest"))?;
        (manifest, top_digest.clone(), None)
    };
    let layers = manifest.layers();
    let aot = layers
        .iter()
        .find(|l| l.media_type().as_ref() == AOT_MEDIA_TYPE);
    let wasm = layers
        .iter()
        .find(|l| l.media_type().as_ref() == WASM_MEDIA_TYPE);
    let (layer, native) = match (want, aot, wasm) {
        (Want::Native(_), Some(aot), _) => (aot, true),
        (_, _, Some(wasm)) => (wasm, false),
        _ => {
            bail!("manifest {manifest_digest} holds no {WASM_MEDIA_TYPE} or {AOT_MEDIA_TYPE} layer")
        }
    };
    let layer_digest = layer.digest().to_string();
    let name = title(layer).unwrap_or_else(|| {
        let ext = if native { "aot" } else { "wasm" };
        format!("{}.{ext}", repo.rsplit('/').next().unwrap_or("driver"))
    });
    check_file_name(&name)?;
    let signature_layer = layers.iter().find(|l| {
        l.media_type().as_ref() == SIGNATURE_MEDIA_TYPE
            && l.annotations()
                .as_ref()
                .and_then(|a| a.get(SIGNS_ANNOTATION))
                .is_some_and(|d| *d == layer_digest)
    });
    let Some(signature_layer) = signature_layer else {
        bail!(
            "{}/{repo}:{reference}: {name} ({layer_digest}) has no signature layer: refused",
            registry.host()
        );
    };
    let bytes = registry.pull_blob(repo, &layer_digest, layer.size(), MAX_LAYER_BYTES)?;
    let signature = registry.pull_blob(
        repo,
        signature_layer.digest().as_ref(),
        signature_layer.size(),
        MAX_SIGNATURE_BYTES,
    )?;
    Ok(Pulled {
        module: Module {
            name,
            bytes,
            signature,
        },
        native,
        platform,
        manifest_digest,
        top_digest,
    })
}

fn title(layer: &Descriptor) -> Option<String> {
    layer.annotations().as_ref()?.get(TITLE_ANNOTATION).cloned()
}

/// A title from a registry becomes a file name: no directories, nothing hidden.
fn check_file_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') || name.contains('\0') {
        bail!("layer title {name:?} is not a plain file name: refused");
    }
    Ok(())
}

/// The index entry for `want`.
fn choose<'a>(index: &'a ImageIndex, want: &Want) -> Result<&'a Descriptor> {
    let portable = portable_platform();
    let is = |d: &Descriptor, p: &Platform| {
        d.platform().as_ref().is_some_and(|dp| {
            dp.os() == p.os()
                && dp.architecture() == p.architecture()
                && (dp.variant().is_none() || dp.variant() == p.variant())
        })
    };
    let find = |p: &Platform| index.manifests().iter().find(|d| is(d, p));
    match want {
        Want::Native(p) => find(p).map(Ok).unwrap_or_else(|| {
            let entry = find(&portable).ok_or_else(|| {
                anyhow!(
                    "no manifest for {} and no portable one (the index has {})",
                    platform_name(p),
                    platforms(index)
                )
            })?;
            log::warn!(
                "no build for {} (the index has {}): pulling the portable .wasm",
                platform_name(p),
                platforms(index)
            );
            Ok(entry)
        }),
        Want::Portable => find(&portable).ok_or_else(|| {
            anyhow!(
                "no portable (wasip1/wasm) manifest; the index has {}",
                platforms(index)
            )
        }),
    }
}

fn platforms(index: &ImageIndex) -> String {
    let names: Vec<String> = index
        .manifests()
        .iter()
        .map(|d| {
            d.platform()
                .as_ref()
                .map(platform_name)
                .unwrap_or_else(|| "?".into())
        })
        .collect();
    if names.is_empty() {
        "no manifests".into()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::linux_platform;

    fn entry(p: Platform) -> Descriptor {
        let mut d = Descriptor::new(
            MediaType::ImageManifest,
            10,
            oci_spec::image::Digest::try_from(
                digest::sha256(platform_name(&p).as_bytes()).as_str(),
            )
            .unwrap(),
        );
        d.set_platform(Some(p));
        d
    }

    fn index(platforms: Vec<Platform>) -> ImageIndex {
        ImageIndexBuilder::default()
            .schema_version(2u32)
            .manifests(platforms.into_iter().map(entry).collect::<Vec<_>>())
            .build()
            .unwrap()
    }

    #[test]
    fn picks_the_platform_then_falls_back_to_portable() {
        let arm = linux_platform("arm", Some("v7"));
        let i = index(vec![
            linux_platform("amd64", None),
            arm.clone(),
            portable_platform(),
        ]);
        let got = choose(&i, &Want::Native(arm.clone())).unwrap();
        assert_eq!(got.platform().as_ref(), Some(&arm));
        let got = choose(&i, &Want::Native(linux_platform("mipsle", None))).unwrap();
        assert_eq!(got.platform().as_ref(), Some(&portable_platform()));
        let got = choose(&i, &Want::Portable).unwrap();
        assert_eq!(got.platform().as_ref(), Some(&portable_platform()));
        let v6 = index(vec![linux_platform("arm", Some("v6"))]);
        let e = choose(&v6, &Want::Native(arm)).unwrap_err().to_string();
        assert!(e.contains("linux/arm/v6"), "{e}");
    }

    #[test]
    fn titles_must_be_plain_file_names() {
        for bad in ["", "../x.aot", "a/b", ".hidden"] {
            assert!(check_file_name(bad).is_err(), "{bad}");
        }
        check_file_name("sensor.aot").unwrap();
    }
}
