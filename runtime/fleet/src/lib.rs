//! Drivers as signed multi-arch OCI artifacts. A fleet of gateways gets its drivers from
//! the distribution system the ecosystem already runs: any OCI registry (the CNCF
//! distribution server, Harbor, zot, the clouds'). `push` publishes one image index with a
//! native `.aot` per gateway CPU, the portable `.wasm` and a signature for each; `pull`
//! picks the build for its own platform, checks every digest and installs atomically. The
//! signature is checked by the caller against the gateway's trusted keys (`wasi-hw-trust`)
//! before anything is written. The layout is in [`artifact`].
//!
//! Blocking HTTP (ureq, TLS by rustls): no async runtime on the gateway.

pub mod artifact;
pub mod auth;
pub mod deploy;
pub mod digest;
pub mod install;
pub mod platform;
pub mod reference;
pub mod registry;

pub use artifact::{pull, push, resolve, Artifact, Module, Pulled, Want};
pub use auth::Credentials;
pub use deploy::{fetch, Fetched};
pub use install::{install, promote};
pub use oci_spec::image::Platform;
pub use platform::{
    host_platform, linux_platform, parse_platform, platform_name, platform_of, portable_platform,
};
pub use reference::Reference;
pub use registry::{Options, Registry};
