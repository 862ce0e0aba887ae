//! One experiment per file; `main.rs` runs them in order into one report.

pub(crate) mod cold_start;
pub(crate) mod cycles;
pub(crate) mod footprint;
pub(crate) mod host_calls;
pub(crate) mod in_vm;
pub(crate) mod machine;
pub(crate) mod paper;
pub(crate) mod phases;
pub(crate) mod profile;
pub(crate) mod resident;
pub(crate) mod usb;

pub(crate) use cold_start::*;
pub(crate) use cycles::*;
pub(crate) use footprint::*;
pub(crate) use host_calls::*;
pub(crate) use in_vm::*;
pub(crate) use machine::*;
pub(crate) use paper::*;
pub(crate) use phases::*;
pub(crate) use profile::*;
pub(crate) use resident::*;
pub(crate) use usb::*;
