//! The classic-BPF program a seccomp filter is: built from a list of rules, no unsafe.
//! Hand-built rather than through a seccomp library: `seccompiler` targets x86_64, aarch64
//! and riscv64 only (not armv7 or mipsel), and `libseccomp` is a C library to cross-build
//! and link statically for each router arch. The program is a straight line of compares,
//! each followed by its own return, so no jump is longer than a few instructions.

/// One classic-BPF instruction (`struct sock_filter`).
pub type Insn = libc::sock_filter;

const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// Offsets in `struct seccomp_data`: `int nr; u32 arch; u64 ip; u64 args[6]`. The
/// argument offset is its low 32 bits: every arch wasi-hw runs on is little-endian.
const NR: u32 = 0;
const ARCH: u32 = 4;
fn arg_low(i: u32) -> u32 {
    16 + 8 * i
}

pub const RET_ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
pub fn ret_errno(errno: i32) -> u32 {
    libc::SECCOMP_RET_ERRNO | (errno as u32 & libc::SECCOMP_RET_DATA)
}

/// What to do with one syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Allow,
    /// Fail with this errno without running (e.g. `ENOSYS`, so libc falls back to an
    /// older call the filter allows).
    Errno(i32),
    /// Allowed if the low 32 bits of argument `arg` have every bit of `mask` set.
    AllowIfBits {
        arg: u32,
        mask: u32,
    },
    /// Allowed if the low 32 bits of argument `arg` are `value`.
    AllowIfEq {
        arg: u32,
        value: u32,
    },
    /// Allowed unless the low 32 bits of argument `arg` are `value`.
    AllowUnlessEq {
        arg: u32,
        value: u32,
    },
}

fn stmt(code: u16, k: u32) -> Insn {
    Insn {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Insn {
    Insn { code, jt, jf, k }
}

/// The filter: calls from another arch (e.g. x86_64's 32-bit entry points) and, when
/// `nr_limit` is given, numbers at or above it (x86_64's x32 range) get `default`; then
/// each `(nr, rule)`; every other call gets `default`.
pub fn program(arch: u32, nr_limit: Option<u32>, rules: &[(u32, Rule)], default: u32) -> Vec<Insn> {
    let mut p = vec![
        stmt(LD_W_ABS, ARCH),
        jump(JEQ_K, arch, 1, 0),
        stmt(RET_K, default),
        stmt(LD_W_ABS, NR),
    ];
    if let Some(limit) = nr_limit {
        p.push(jump(JGE_K, limit, 0, 1));
        p.push(stmt(RET_K, default));
    }
    for &(nr, rule) in rules {
        match rule {
            Rule::Allow => {
                p.push(jump(JEQ_K, nr, 0, 1));
                p.push(stmt(RET_K, RET_ALLOW));
            }
            Rule::Errno(e) => {
                p.push(jump(JEQ_K, nr, 0, 1));
                p.push(stmt(RET_K, ret_errno(e)));
            }
            // Each conditional block ends in returns, so the syscall number is still in
            // the accumulator when the block is skipped.
            Rule::AllowIfBits { arg, mask } => {
                p.push(jump(JEQ_K, nr, 0, 4));
                p.push(stmt(LD_W_ABS, arg_low(arg)));
                p.push(jump(JSET_K, mask, 0, 1));
                p.push(stmt(RET_K, RET_ALLOW));
                p.push(stmt(RET_K, default));
            }
            Rule::AllowIfEq { arg, value } | Rule::AllowUnlessEq { arg, value } => {
                let allow_if_equal = matches!(rule, Rule::AllowIfEq { .. });
                p.push(jump(JEQ_K, nr, 0, 4));
                p.push(stmt(LD_W_ABS, arg_low(arg)));
                p.push(jump(JEQ_K, value, 0, 1));
                let (equal, other) = if allow_if_equal {
                    (RET_ALLOW, default)
                } else {
                    (default, RET_ALLOW)
                };
                p.push(stmt(RET_K, equal));
                p.push(stmt(RET_K, other));
            }
        }
    }
    p.push(stmt(RET_K, default));
    p
}

/// Runs `program` on one call the way the kernel would (the instructions [`program`]
/// emits only), for tests: the action for syscall `nr` from `arch` with `args`.
pub fn evaluate(program: &[Insn], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let word = |off: u32| -> u32 {
        match off {
            NR => nr,
            ARCH => arch,
            o if o >= 16 && (o - 16) % 8 == 0 => args[((o - 16) / 8) as usize] as u32,
            o => panic!("load from offset {o}"),
        }
    };
    let (mut pc, mut acc) = (0usize, 0u32);
    loop {
        let i = program[pc];
        pc += 1;
        let taken = match i.code {
            LD_W_ABS => {
                acc = word(i.k);
                continue;
            }
            RET_K => return i.k,
            JEQ_K => acc == i.k,
            JGE_K => acc >= i.k,
            JSET_K => acc & i.k != 0,
            c => panic!("instruction {c:#x}"),
        };
        pc += usize::from(if taken { i.jt } else { i.jf });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARCH_X: u32 = 0x1234;
    const DENY: u32 = libc::SECCOMP_RET_ERRNO | 1;

    #[test]
    fn rules_decide_and_everything_else_is_the_default() {
        let rules = [
            (10, Rule::Allow),
            (11, Rule::Errno(libc::ENOSYS)),
            (
                12,
                Rule::AllowIfBits {
                    arg: 0,
                    mask: 0x100,
                },
            ),
            (13, Rule::AllowIfEq { arg: 1, value: 7 }),
            (14, Rule::AllowUnlessEq { arg: 2, value: 9 }),
            (15, Rule::Allow),
        ];
        let p = program(ARCH_X, Some(1000), &rules, DENY);
        let run = |nr, args| evaluate(&p, ARCH_X, nr, args);
        assert_eq!(run(10, [0; 6]), RET_ALLOW);
        assert_eq!(run(15, [0; 6]), RET_ALLOW, "after the conditional blocks");
        assert_eq!(run(11, [0; 6]), ret_errno(libc::ENOSYS));
        assert_eq!(run(12, [0x1ff, 0, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(run(12, [0xff, 0, 0, 0, 0, 0]), DENY);
        assert_eq!(run(13, [0, 7, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(run(13, [7, 8, 0, 0, 0, 0]), DENY);
        assert_eq!(run(14, [0, 0, 9, 0, 0, 0]), DENY);
        assert_eq!(run(14, [0, 0, 8, 0, 0, 0]), RET_ALLOW);
        assert_eq!(run(16, [0; 6]), DENY);
        assert_eq!(run(1010, [0; 6]), DENY, "at or above the limit");
        assert_eq!(evaluate(&p, ARCH_X + 1, 10, [0; 6]), DENY, "another arch");
    }
}
