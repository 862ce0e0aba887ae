//! `wasi-hw push` and `wasi-hw pull`: drivers through an OCI registry, a thin layer over
//! `wasi-hw-fleet` (the registry and the artifact layout) and `wasi-hw-trust` (signatures).
//! `push` compiles and signs, so it is in the build with the compiler; `pull` is what a
//! gateway runs.

use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{Context, Result};
use clap::Args;
use wasi_hw_engine::Target;
use wasi_hw_fleet::{Credentials, Reference, Registry, Want};
use wasi_hw_trust::{Keyring, DEFAULT_KEYS_DIR};

/// How the registry is reached.
#[derive(Args, Debug, Clone)]
pub struct RegistryArgs {
    /// Plain HTTP instead of HTTPS (a registry on loopback or a lab network).
    #[arg(long)]
    pub plain_http: bool,
    /// Registry login; without it the credentials of `skopeo login` / `docker login`
    /// (auth.json, ~/.docker/config.json) are used, else none.
    #[arg(long, value_name = "USER:PASSWORD", env = "WASI_HW_REGISTRY_CREDS")]
    pub creds: Option<String>,
}

impl RegistryArgs {
    fn connect(&self, reference: &Reference) -> Result<Registry> {
        let credentials = self.creds.as_deref().map(Credentials::parse).transpose()?;
        Registry::new(
            reference,
            &wasi_hw_fleet::Options {
                plain_http: self.plain_http,
                credentials,
            },
        )
    }
}

#[cfg(feature = "aot-compiler")]
#[derive(Args, Debug)]
pub struct PushArgs {
    /// Where to push: REGISTRY/REPOSITORY[:TAG] (tag defaults to `latest`).
    pub reference: String,
    /// The driver's portable module; it is compiled for each target and pushed with them.
    pub module: PathBuf,
    /// Secret key to sign every module with (`wasi-hw keygen`, signify, usign).
    #[arg(short = 's', value_name = "KEY.sec")]
    pub secret: PathBuf,
    /// Targets to compile for, each one platform of the index (default: x86_64, armv7,
    /// aarch64 and mipsel, or none when `--aot` gives the builds).
    #[arg(long = "target", value_delimiter = ',')]
    pub targets: Vec<Target>,
    /// A build of the driver made earlier (`wasi-hw compile`), pushed instead of compiling
    /// for its target (read from the file's header); repeatable.
    #[arg(long = "aot", value_name = "FILE.aot")]
    pub aots: Vec<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Args, Debug)]
pub struct PullArgs {
    /// What to pull: REGISTRY/REPOSITORY[:TAG|@DIGEST].
    pub reference: String,
    /// File to install as (with FILE.sig beside it), or a directory to install into
    /// (default: the current directory, under the module's own name).
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// The platform to pull for, OS/ARCH[/VARIANT] (default: this gateway's, e.g.
    /// linux/arm/v7); without a build for it the portable .wasm is pulled.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", conflicts_with = "portable")]
    pub platform: Option<String>,
    /// Pull the portable .wasm (interpreted) rather than a native build.
    #[arg(long)]
    pub portable: bool,
    /// Directory of trusted public keys: the module's signature must verify with one.
    #[arg(long = "keys", value_name = "DIR", default_value = DEFAULT_KEYS_DIR)]
    pub keys_dir: PathBuf,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

fn parse_reference(s: &str) -> Result<(Reference, String)> {
    let reference = Reference::from_str(s).with_context(|| {
        format!("{s:?} is not a registry reference (REGISTRY/REPOSITORY[:TAG])")
    })?;
    let tag_or_digest = reference
        .digest()
        .or(reference.tag())
        .unwrap_or("latest")
        .to_string();
    Ok((reference, tag_or_digest))
}

#[cfg(feature = "aot-compiler")]
pub fn push(args: PushArgs) -> Result<String> {
    use anyhow::bail;
    use wasi_hw_engine::ModuleFile;
    use wasi_hw_fleet::{Artifact, Module, Platform};

    let (reference, tag) = parse_reference(&args.reference)?;
    if reference.digest().is_some() {
        bail!("push to a tag, not a digest: {}", args.reference);
    }
    let file = crate::cli::read_wasm_to_compile(&args.module)?;
    let key = wasi_hw_trust::read_secret_key(&args.secret)?;
    let stem = args
        .module
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "driver".into());
    let signed = |name: String, bytes: Vec<u8>| -> Result<Module> {
        let signature = wasi_hw_trust::signature_text(&name, &bytes, &key)?.into_bytes();
        Ok(Module {
            name,
            bytes,
            signature,
        })
    };
    let wasm = file.into_bytes();
    let mut builds: Vec<(Target, Option<Vec<u8>>)> = Vec::new();
    for path in &args.aots {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let info = ModuleFile::new(bytes.clone())
            .ok()
            .and_then(|f| f.aot_info().ok().flatten())
            .with_context(|| format!("{} is not an .aot module", path.display()))?;
        let target = Target::from_wamr_arch(&info.arch).with_context(|| {
            format!(
                "{}: built for {}, no gateway platform",
                path.display(),
                info.arch
            )
        })?;
        builds.push((target, Some(bytes)));
    }
    let targets = if args.targets.is_empty() && args.aots.is_empty() {
        vec![
            Target::X86_64,
            Target::Armv7,
            Target::Aarch64,
            Target::Mipsel,
        ]
    } else {
        args.targets.clone()
    };
    builds.extend(targets.into_iter().map(|t| (t, None)));
    let mut natives: Vec<(Platform, Module)> = Vec::new();
    for (target, prebuilt) in builds {
        let platform = wasi_hw_fleet::platform_of(target);
        if natives.iter().any(|(p, _)| *p == platform) {
            bail!(
                "two builds for {} (armv7 and thumbv7 are both linux/arm/v7; or an --aot and a --target): give one",
                wasi_hw_fleet::platform_name(&platform)
            );
        }
        let aot = match prebuilt {
            Some(aot) => aot,
            None => wasi_hw_aotc::compile(&wasm, &wasi_hw_aotc::CompileOptions::new(target))
                .with_context(|| format!("compiling {} for {target}", args.module.display()))?,
        };
        log::info!("{stem}.aot for {target}: {} bytes", aot.len());
        natives.push((platform, signed(format!("{stem}.aot"), aot)?));
    }
    let platforms: Vec<String> = natives
        .iter()
        .map(|(p, _)| wasi_hw_fleet::platform_name(p))
        .chain(["wasip1/wasm".to_string()])
        .collect();
    let artifact = Artifact {
        wasm: signed(format!("{stem}.wasm"), wasm)?,
        natives,
    };
    let mut registry = args.registry.connect(&reference)?;
    let digest = wasi_hw_fleet::push(&mut registry, reference.repository(), &tag, &artifact)
        .with_context(|| format!("pushing {}", args.reference))?;
    Ok(format!(
        "pushed {}@{digest} ({}), signed with key {}\n",
        args.reference,
        platforms.join(", "),
        key.number
    ))
}

pub fn pull(args: PullArgs) -> Result<String> {
    let (reference, tag_or_digest) = parse_reference(&args.reference)?;
    let want = if args.portable {
        Want::Portable
    } else {
        let platform = match &args.platform {
            Some(p) => wasi_hw_fleet::parse_platform(p)?,
            None => wasi_hw_fleet::platform_of(
                Target::host().context("this build runs no .aot; pull with --portable")?,
            ),
        };
        Want::Native(platform)
    };
    // The keys first: a gateway that trusts nothing must not download anything.
    let keyring = Keyring::load(&args.keys_dir)?;
    let mut registry = args.registry.connect(&reference)?;
    let output = args.output.clone();
    let fetched = wasi_hw_fleet::fetch(
        &mut registry,
        reference.repository(),
        &tag_or_digest,
        &want,
        &keyring,
        |name| match output {
            Some(p) if p.is_dir() => p.join(name),
            Some(p) => p,
            None => PathBuf::from(name),
        },
    )
    .with_context(|| format!("pulling {}", args.reference))?;
    let (pulled, dest) = (&fetched.pulled, &fetched.dest);
    let (from, verified) = (&fetched.from, &fetched.verified);
    wasi_hw_fleet::install(dest, &pulled.module)?;
    Ok(format!(
        "{}: {} bytes from {}@{} ({from}), signature verified (key {})\n",
        dest.display(),
        pulled.module.bytes.len(),
        args.reference,
        pulled.manifest_digest,
        verified.key
    ))
}
