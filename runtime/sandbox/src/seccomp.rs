//! The syscalls a running host needs, and the filter that allows only those.
//!
//! Allowed: file I/O on descriptors and below preopened directories (WASI's path calls),
//! memory mapping (WAMR maps linear memory and loads code), signals (WAMR's bounds checks),
//! threads (not processes: `clone` only with `CLONE_THREAD`), clocks and sleeping, polling,
//! `ioctl` (I2C and usbfs; not `TIOCSTI`, which injects input into a terminal), Unix-domain
//! sockets only (the control socket, syslog), and the read-only identity calls.
//! Refused with `EPERM`: everything else — `execve`, `fork`, network sockets, `ptrace`,
//! `mount`, `setuid`, `bpf`, module loading, `kexec`, `reboot`... `clone3` fails with
//! `ENOSYS`, so glibc falls back to `clone`, whose flags the filter can see. The kernel
//! logs each refused call to its audit log (`SECCOMP_FILTER_FLAG_LOG`, Linux 4.14+).

use crate::bpf::{self, Rule};
use anyhow::{bail, Result};
use libc::c_long;

macro_rules! sys {
    ($($name:ident),* $(,)?) => { &[$((stringify!($name), libc::$name as c_long)),*] };
}

/// On every supported arch.
#[rustfmt::skip]
const COMMON: &[(&str, c_long)] = sys![
    // Files and descriptors.
    SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_pread64, SYS_pwrite64, SYS_preadv,
    SYS_pwritev, SYS_lseek, SYS_close, SYS_openat, SYS_getdents64, SYS_readlinkat,
    SYS_faccessat, SYS_faccessat2, SYS_fcntl, SYS_dup, SYS_dup3, SYS_pipe2, SYS_fstatfs,
    SYS_statx, SYS_fstat, SYS_mkdirat, SYS_unlinkat, SYS_renameat2, SYS_linkat,
    SYS_symlinkat, SYS_utimensat, SYS_ftruncate, SYS_fsync, SYS_fdatasync,
    SYS_fallocate, SYS_flock, SYS_memfd_create, SYS_getcwd,
    // Memory.
    SYS_munmap, SYS_mprotect, SYS_mremap, SYS_madvise, SYS_brk, SYS_membarrier,
    // Signals.
    SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_rt_sigreturn, SYS_sigaltstack, SYS_tgkill,
    SYS_tkill, SYS_restart_syscall,
    // Threads.
    SYS_futex, SYS_set_robust_list, SYS_get_robust_list, SYS_rseq, SYS_set_tid_address,
    SYS_sched_yield, SYS_sched_getaffinity, SYS_gettid, SYS_getpid, SYS_getppid,
    SYS_exit, SYS_exit_group,
    // Time.
    SYS_clock_gettime, SYS_clock_getres, SYS_clock_nanosleep, SYS_nanosleep,
    SYS_gettimeofday,
    // Waiting.
    SYS_ppoll, SYS_pselect6, SYS_epoll_create1, SYS_epoll_ctl, SYS_epoll_pwait,
    SYS_epoll_pwait2, SYS_eventfd2, SYS_timerfd_create, SYS_timerfd_settime,
    // Sockets the host already has or Unix-domain ones it makes (`socket` is conditional).
    SYS_accept, SYS_accept4, SYS_recvfrom, SYS_recvmsg, SYS_recvmmsg, SYS_sendto,
    SYS_sendmsg, SYS_sendmmsg, SYS_shutdown, SYS_getsockname, SYS_getpeername,
    SYS_getsockopt, SYS_setsockopt, SYS_connect,
    // Identity and limits (read only).
    SYS_getrandom, SYS_uname, SYS_sysinfo, SYS_prlimit64, SYS_getuid, SYS_geteuid,
    SYS_getgid, SYS_getegid, SYS_getgroups,
];

#[cfg(target_arch = "x86_64")]
mod arch {
    use super::c_long;
    pub const AUDIT_ARCH: u32 = 0xc000_003e; // AUDIT_ARCH_X86_64
    /// x32 calls are numbered from 0x4000_0000.
    pub const NR_LIMIT: Option<u32> = Some(0x4000_0000);
    #[rustfmt::skip]
    pub const EXTRA: &[(&str, c_long)] = sys![
        SYS_open, SYS_stat, SYS_lstat, SYS_newfstatat, SYS_access, SYS_readlink,
        SYS_mkdir, SYS_unlink, SYS_rename, SYS_renameat, SYS_pipe, SYS_dup2,
        SYS_fadvise64, SYS_mmap, SYS_poll, SYS_epoll_wait, SYS_getrlimit,
        SYS_arch_prctl,
    ];
}

#[cfg(target_arch = "aarch64")]
mod arch {
    use super::c_long;
    pub const AUDIT_ARCH: u32 = 0xc000_00b7; // AUDIT_ARCH_AARCH64
    pub const NR_LIMIT: Option<u32> = None;
    pub const EXTRA: &[(&str, c_long)] = sys![SYS_newfstatat, SYS_fadvise64, SYS_mmap];
}

/// The 64-bit-time calls of 32-bit arches (Linux 5.1+), by number: the libc crate does not
/// name them. glibc tries them first and falls back only on `ENOSYS`.
#[cfg(any(target_arch = "arm", target_arch = "mips"))]
const TIME64: &[(&str, c_long)] = &[
    ("clock_gettime64", 403),
    ("clock_getres_time64", 406),
    ("clock_nanosleep_time64", 407),
    ("timerfd_settime64", 411),
    ("utimensat_time64", 412),
    ("pselect6_time64", 413),
    ("ppoll_time64", 414),
    ("recvmmsg_time64", 417),
    ("rt_sigtimedwait_time64", 421),
    ("futex_time64", 422),
];

/// The older and 64-bit-offset calls both 32-bit arches have.
#[cfg(any(target_arch = "arm", target_arch = "mips"))]
#[rustfmt::skip]
const LEGACY_32: &[(&str, c_long)] = sys![
    SYS_mmap2, SYS__llseek, SYS_fstat64, SYS_fstatat64, SYS_stat64, SYS_lstat64, SYS_stat,
    SYS_lstat, SYS_fcntl64, SYS_ftruncate64, SYS_sigreturn, SYS_poll, SYS_epoll_wait,
    SYS_access, SYS_readlink, SYS_mkdir, SYS_unlink, SYS_rename, SYS_renameat, SYS_pipe,
    SYS_dup2, SYS_send, SYS_recv,
];

#[cfg(target_arch = "arm")]
mod arch {
    use super::c_long;
    pub const AUDIT_ARCH: u32 = 0x4000_0028; // AUDIT_ARCH_ARM (EABI, little-endian)
    pub const NR_LIMIT: Option<u32> = None;
    /// Number of the first 64-bit-time call.
    pub const NR_BASE: c_long = 0;
    pub const EXTRA: &[(&str, c_long)] = &[
        // The ARM-private calls: cacheflush (code written at load time) and set_tls.
        ("cacheflush", 0x0f_0002),
        ("set_tls", 0x0f_0005),
        ("arm_fadvise64_64", libc::SYS_arm_fadvise64_64),
        ("ugetrlimit", libc::SYS_ugetrlimit),
        ("getuid32", libc::SYS_getuid32),
        ("geteuid32", libc::SYS_geteuid32),
        ("getgid32", libc::SYS_getgid32),
        ("getegid32", libc::SYS_getegid32),
        ("getgroups32", libc::SYS_getgroups32),
    ];
}

#[cfg(target_arch = "mips")]
mod arch {
    use super::c_long;
    pub const AUDIT_ARCH: u32 = 0x4000_0008; // AUDIT_ARCH_MIPSEL (o32)
    pub const NR_LIMIT: Option<u32> = None;
    /// o32 calls are numbered from 4000.
    pub const NR_BASE: c_long = 4000;
    pub const EXTRA: &[(&str, c_long)] = &[
        ("cacheflush", libc::SYS_cacheflush),
        ("set_thread_area", libc::SYS_set_thread_area),
        ("mmap", libc::SYS_mmap),
        ("fadvise64", libc::SYS_fadvise64),
        ("getrlimit", libc::SYS_getrlimit),
    ];
}

#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "mips"
)))]
compile_error!("the seccomp allow list covers x86_64, aarch64, arm and mips only");

/// The audit arch value calls from this build's arch carry.
pub const AUDIT_ARCH: u32 = arch::AUDIT_ARCH;

/// Every rule of the filter, by syscall name and number.
pub fn rules() -> Vec<(&'static str, u32, Rule)> {
    let mut rules: Vec<(&'static str, u32, Rule)> = Vec::new();
    let mut allow = |list: &[(&'static str, c_long)]| {
        // `sys!` names are the libc constants' (`SYS_read`): the syscall is the rest.
        let name = |n: &'static str| n.strip_prefix("SYS_").unwrap_or(n);
        rules.extend(
            list.iter()
                .map(|&(n, nr)| (name(n), nr as u32, Rule::Allow)),
        );
    };
    allow(COMMON);
    allow(arch::EXTRA);
    #[cfg(any(target_arch = "arm", target_arch = "mips"))]
    {
        let time64: Vec<(&str, c_long)> = TIME64
            .iter()
            .map(|&(n, nr)| (n, arch::NR_BASE + nr))
            .collect();
        allow(&time64);
        allow(LEGACY_32);
    }
    for (name, nr, rule) in [
        // Threads, not processes.
        (
            "clone",
            libc::SYS_clone,
            Rule::AllowIfBits {
                arg: 0,
                mask: libc::CLONE_THREAD as u32,
            },
        ),
        ("clone3", libc::SYS_clone3, Rule::Errno(libc::ENOSYS)),
        (
            "socket",
            libc::SYS_socket,
            Rule::AllowIfEq {
                arg: 0,
                value: libc::AF_UNIX as u32,
            },
        ),
        (
            "ioctl",
            libc::SYS_ioctl,
            Rule::AllowUnlessEq {
                arg: 1,
                value: libc::TIOCSTI as u32,
            },
        ),
        // Thread names only (Rust's std names its threads).
        (
            "prctl",
            libc::SYS_prctl,
            Rule::AllowIfEq {
                arg: 0,
                value: libc::PR_SET_NAME as u32,
            },
        ),
    ] {
        rules.push((name, nr as u32, rule));
    }
    rules
}

/// The filter program for this arch: refused calls fail with `EPERM`.
pub fn program() -> Vec<bpf::Insn> {
    let rules: Vec<(u32, Rule)> = rules().into_iter().map(|(_, nr, r)| (nr, r)).collect();
    bpf::program(
        AUDIT_ARCH,
        arch::NR_LIMIT,
        &rules,
        bpf::ret_errno(libc::EPERM),
    )
}

/// Installs the filter on every thread of the process (`no_new_privs` first, which a
/// non-root process needs and which keeps set-uid binaries from gaining anything anyway).
/// Returns how many syscalls it allows.
pub fn install() -> Result<usize> {
    let program = program();
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) takes integers only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        bail!(
            "prctl(PR_SET_NO_NEW_PRIVS): {}",
            std::io::Error::last_os_error()
        );
    }
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    let mut flags = libc::SECCOMP_FILTER_FLAG_TSYNC | libc::SECCOMP_FILTER_FLAG_LOG;
    loop {
        // SAFETY: `fprog` points at `program`, alive for the call; the kernel copies it.
        let r = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                flags,
                &fprog as *const libc::sock_fprog,
            )
        };
        if r == 0 {
            break;
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            // Before Linux 4.14 there is no logging flag: filter without it.
            Some(libc::EINVAL) if flags & libc::SECCOMP_FILTER_FLAG_LOG != 0 => {
                log::warn!("seccomp: this kernel cannot log refused calls");
                flags &= !libc::SECCOMP_FILTER_FLAG_LOG;
            }
            Some(libc::ENOSYS) | Some(libc::EINVAL) => bail!(
                "seccomp filters are not available here ({err}): a kernel without \
                 CONFIG_SECCOMP_FILTER, or user-mode emulation (qemu-user)"
            ),
            // TSYNC fails with the id of a thread it could not synchronise.
            _ if r > 0 => bail!("thread {r} could not take the filter"),
            _ => bail!("seccomp(SECCOMP_SET_MODE_FILTER): {err}"),
        }
    }
    Ok(rules().len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::{evaluate, ret_errno, RET_ALLOW};

    fn decide(nr: c_long, args: [u64; 6]) -> u32 {
        evaluate(&program(), AUDIT_ARCH, nr as u32, args)
    }

    #[test]
    fn the_runtime_s_calls_pass_and_dangerous_ones_fail_with_eperm() {
        let eperm = ret_errno(libc::EPERM);
        for nr in [
            libc::SYS_read,
            libc::SYS_openat,
            libc::SYS_futex,
            libc::SYS_exit_group,
        ] {
            assert_eq!(decide(nr, [0; 6]), RET_ALLOW, "{nr}");
        }
        for nr in [
            libc::SYS_execve,
            libc::SYS_ptrace,
            libc::SYS_mount,
            libc::SYS_setuid,
            libc::SYS_setgroups,
            libc::SYS_bpf,
            libc::SYS_init_module,
            libc::SYS_kexec_load,
            libc::SYS_reboot,
            libc::SYS_seccomp,
        ] {
            assert_eq!(decide(nr, [0; 6]), eperm, "{nr}");
        }
        let thread = (libc::CLONE_VM | libc::CLONE_THREAD | libc::CLONE_SIGHAND) as u64;
        assert_eq!(decide(libc::SYS_clone, [thread, 0, 0, 0, 0, 0]), RET_ALLOW);
        let fork = libc::SIGCHLD as u64;
        assert_eq!(decide(libc::SYS_clone, [fork, 0, 0, 0, 0, 0]), eperm);
        assert_eq!(decide(libc::SYS_clone3, [0; 6]), ret_errno(libc::ENOSYS));
        let unix = libc::AF_UNIX as u64;
        assert_eq!(decide(libc::SYS_socket, [unix, 1, 0, 0, 0, 0]), RET_ALLOW);
        for domain in [
            libc::AF_INET,
            libc::AF_INET6,
            libc::AF_NETLINK,
            libc::AF_PACKET,
        ] {
            assert_eq!(
                decide(libc::SYS_socket, [domain as u64, 1, 0, 0, 0, 0]),
                eperm
            );
        }
        let sti = u64::from(libc::TIOCSTI as u32);
        assert_eq!(decide(libc::SYS_ioctl, [1, sti, 0, 0, 0, 0]), eperm);
        assert_eq!(decide(libc::SYS_ioctl, [3, 0x0703, 0, 0, 0, 0]), RET_ALLOW);
        let name = libc::PR_SET_NAME as u64;
        assert_eq!(decide(libc::SYS_prctl, [name, 0, 0, 0, 0, 0]), RET_ALLOW);
        let seccomp = libc::PR_SET_SECCOMP as u64;
        assert_eq!(decide(libc::SYS_prctl, [seccomp, 0, 0, 0, 0, 0]), eperm);
        assert_eq!(
            evaluate(&program(), 0x4000_0003, 0, [0; 6]),
            eperm,
            "i386 call"
        );
    }

    /// procd's policy for the jailed host (packaging/openwrt) lets through everything this
    /// filter allows, and what the host does before installing it (the user switch, the
    /// filter itself).
    #[test]
    fn the_openwrt_policy_allows_every_call_the_filter_allows() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../packaging/openwrt/wasi-hw/files/wasi-hw.seccomp.json"
        );
        let policy: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(policy["defaultAction"], "SCMP_ACT_KILL_PROCESS");
        let allowed: Vec<&str> = policy["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["action"] == "SCMP_ACT_ALLOW")
            .flat_map(|r| r["names"].as_array().unwrap())
            .map(|n| n.as_str().unwrap())
            .collect();
        let needed = rules()
            .into_iter()
            .filter(|(_, _, r)| *r != Rule::Errno(libc::ENOSYS));
        for (name, _, _) in needed {
            assert!(allowed.contains(&name), "{name} is not in {path}");
        }
        for name in ["setgroups", "setgid", "setuid", "prctl", "seccomp"] {
            assert!(allowed.contains(&name), "{name} is not in {path}");
        }
    }

    #[test]
    fn no_syscall_is_listed_twice() {
        let rules = rules();
        let mut nrs: Vec<u32> = rules.iter().map(|r| r.1).collect();
        nrs.sort_unstable();
        nrs.dedup();
        assert_eq!(nrs.len(), rules.len());
        assert!(program().len() < 4096, "BPF_MAXINSNS");
    }
}
