use std::fmt;

/// Errors of the embedding API. Messages from WAMR are carried verbatim.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("WAMR runtime initialisation failed")]
    Init,
    #[error("not a WebAssembly or WAMR AOT module (bad magic number)")]
    NotAModule,
    #[error("{0}")]
    Read(String),
    #[error("truncated or corrupt AOT header")]
    AotHeader,
    #[error("corrupt AOT file: {0}")]
    AotLayout(String),
    #[error(
        "AOT format version {0} is not supported (this runtime, WAMR 2.4.3, reads version {v}); recompile it with `wasi-hw compile`",
        v = crate::AOT_VERSION
    )]
    AotVersion(u32),
    #[error("AOT-compiled for {found}, but this runtime runs {host} code; recompile it with `wasi-hw compile --target {host}`")]
    AotTarget { found: String, host: &'static str },
    #[error("module too large ({0} bytes)")]
    TooLarge(usize),
    #[error("failed to load module: {0}")]
    Load(String),
    #[error("unknown import: {module}::{name} is not provided by this runtime")]
    MissingImport { module: String, name: String },
    #[error("failed to instantiate module: {0}")]
    Instantiate(String),
    #[error("export `{0}` not found (or not a function)")]
    MissingExport(String),
    #[error("wrong arguments for `{func}`: {msg}")]
    Signature { func: String, msg: String },
    #[error("wasm trap: {0}")]
    Trap(String),
    #[error("failed to register host module `{0}`")]
    Register(String),
    #[error("invalid string for WAMR (contains NUL): {0:?}")]
    Nul(String),
}

/// A trap raised by a host function: the running guest call is aborted with this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trap(String);

impl Trap {
    pub fn new(msg: impl Into<String>) -> Trap {
        Trap(msg.into())
    }

    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Trap {}
