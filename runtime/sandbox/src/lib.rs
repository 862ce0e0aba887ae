//! Least privilege for a running host. After the host has opened what it was granted
//! (device nodes, preopened directories, the control socket), [`Sandbox::enter`]:
//! 1. switches to the configured user and group ([`user`]): root's rights end here, and a
//!    device node or file opened later needs that user's permissions;
//! 2. installs a seccomp filter ([`seccomp`]) that allows the syscalls the runtime uses and
//!    makes every other one fail with `EPERM` (logged by the kernel's audit log where it
//!    supports that), so a compromised host cannot exec, fork, open network sockets, trace,
//!    mount or load kernel code.
//!
//! Both are one-way for the whole process, threads included.

pub mod bpf;
pub mod seccomp;
pub mod user;

use anyhow::{Context, Result};

pub use user::{Ids, UserSpec};

/// What to give up, from the command line (`--user`, `--seccomp`) or the host's config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sandbox {
    /// Run as this user (and group) from now on.
    pub user: Option<UserSpec>,
    /// Install the syscall filter.
    pub seccomp: bool,
}

/// What [`Sandbox::enter`] did, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entered {
    pub ids: Option<Ids>,
    /// Syscalls the filter allows (with or without an argument condition).
    pub allowed_syscalls: Option<usize>,
}

impl Sandbox {
    pub fn is_empty(&self) -> bool {
        self.user.is_none() && !self.seccomp
    }

    /// Looks the user up now (so a typo is an error before anything is opened).
    pub fn resolve(&self) -> Result<Option<Ids>> {
        self.user.as_ref().map(UserSpec::resolve_system).transpose()
    }

    /// Switches user (`ids` from [`Sandbox::resolve`]) and installs the filter, in that
    /// order: setuid and setgroups are not in the filter's list.
    pub fn enter(&self, ids: Option<&Ids>) -> Result<Entered> {
        if let Some(ids) = ids {
            user::switch_to(ids).with_context(|| format!("cannot run as {ids}"))?;
        }
        let allowed_syscalls = if self.seccomp {
            Some(seccomp::install().context("cannot install the seccomp filter")?)
        } else {
            None
        };
        let entered = Entered {
            ids: ids.cloned(),
            allowed_syscalls,
        };
        log::info!("{entered}");
        Ok(entered)
    }
}

impl std::fmt::Display for Entered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sandbox: ")?;
        match &self.ids {
            Some(ids) => write!(f, "running as {ids}")?,
            None => write!(f, "user unchanged")?,
        }
        match self.allowed_syscalls {
            Some(n) => write!(f, "; seccomp filter on ({n} syscalls allowed)"),
            None => write!(f, "; no seccomp filter"),
        }
    }
}
