//! Source edits applied to WAMR 2.4.3 at build time (included by build.rs). Each edit
//! replaces an anchor that must occur exactly once in the pristine file, so a different
//! WAMR version fails the build loudly instead of compiling a half-patched loader.

/// (file under WAMR's core/, [(anchor, replacement)])
pub const PATCHES: &[(&str, &[(&str, &str)])] = &[
    (
        "iwasm/aot/aot_loader.c",
        &[
            // do_text_relocation resolves every relocation's symbol by name: copy, a chain of
            // strcmp/strncmp against section names and prefixes, atoi, then a linear strcmp
            // search of the runtime's symbol map. A driver's relocations name few distinct
            // symbols (aot_set_exception_with_id, .aot_stack_sizes, aot_call_indirect, ...),
            // and the loader hands out one name pointer per distinct symbol
            // (load_relocation_section's `symbols[]`), so the result is cached per pointer for
            // the group. The cache lives on the stack: loads on different threads share nothing.
            (
                "    void *symbol_addr;
    AOTRelocation *relocation = group->relocations;

    if (group->relocation_count > 0 && !aot_text) {",
                "    void *symbol_addr;
    AOTRelocation *relocation = group->relocations;
    /* wasi-hw: symbols resolved so far in this group, by name pointer */
    struct {
        const char *name;
        void *addr;
        int32 index;
        uint32 got;
    } wasi_hw_resolved[64];

    memset(wasi_hw_resolved, 0, sizeof(wasi_hw_resolved));

    if (group->relocation_count > 0 && !aot_text) {",
            ),
            (
                "    for (i = 0; i < group->relocation_count; i++, relocation++) {
        int32 symbol_index = -1;
        symbol_len = (uint32)strlen(relocation->symbol_name);",
                "    for (i = 0; i < group->relocation_count; i++, relocation++) {
        int32 symbol_index = -1;
        /* GOT relocations of aot_func#N resolve to another address than direct ones */
        uint32 wasi_hw_got = 0, wasi_hw_slot;
#if defined(BUILD_TARGET_X86_64) || defined(BUILD_TARGET_AMD_64)
        wasi_hw_got = relocation->relocation_type == R_X86_64_GOTPCREL
                      || relocation->relocation_type == R_X86_64_GOTPCRELX
                      || relocation->relocation_type == R_X86_64_REX_GOTPCRELX;
#endif
        wasi_hw_slot =
            (uint32)((((uintptr_t)relocation->symbol_name) >> 3) ^ wasi_hw_got)
            % 64;
        if (wasi_hw_resolved[wasi_hw_slot].name == relocation->symbol_name
            && wasi_hw_resolved[wasi_hw_slot].got == wasi_hw_got) {
            if (!apply_relocation(module, aot_text, aot_text_size,
                                  relocation->relocation_offset,
                                  relocation->relocation_addend,
                                  relocation->relocation_type,
                                  wasi_hw_resolved[wasi_hw_slot].addr,
                                  wasi_hw_resolved[wasi_hw_slot].index,
                                  error_buf, error_buf_size))
                return false;
            continue;
        }
        symbol_len = (uint32)strlen(relocation->symbol_name);",
            ),
            (
                "        if (symbol != symbol_buf)
            wasm_runtime_free(symbol);

        if (!apply_relocation(
                module, aot_text, aot_text_size, relocation->relocation_offset,",
                "        if (symbol != symbol_buf)
            wasm_runtime_free(symbol);

        wasi_hw_resolved[wasi_hw_slot].name = relocation->symbol_name;
        wasi_hw_resolved[wasi_hw_slot].addr = symbol_addr;
        wasi_hw_resolved[wasi_hw_slot].index = symbol_index;
        wasi_hw_resolved[wasi_hw_slot].got = wasi_hw_got;

        if (!apply_relocation(
                module, aot_text, aot_text_size, relocation->relocation_offset,",
            ),
        ],
    ),
    (
        "shared/platform/common/posix/posix_thread.c",
        &[
            // The native-stack boundary of the thread that runs wasm, once per thread. For
            // the process's main thread glibc's pthread_getattr_np reads and sscanf-parses
            // /proc/self/maps (~60 µs, a tenth of a driver's whole in-process start). The
            // main thread's stack starts just above __libc_stack_end and may grow to
            // RLIMIT_STACK; what lies above __libc_stack_end (arguments, environment,
            // auxv) is at most a quarter of that limit (the kernel's exec limit), so a
            // boundary three quarters of the limit below __libc_stack_end is inside the
            // stack whatever the arguments were. Other threads keep pthread_getattr_np,
            // which is cheap for them.
            (
                "#ifdef __linux__
    if (pthread_getattr_np(self, &attr) == 0) {",
                "#if defined(__linux__) && defined(__GLIBC__)
    if (getpid() == (pid_t)syscall(SYS_gettid)) {
        extern void *__libc_stack_end;
        struct rlimit limit;
        size_t size = max_stack_size;
        uintptr_t top = ((uintptr_t)__libc_stack_end + (uintptr_t)page_size - 1)
                        & ~((uintptr_t)page_size - 1);

        if (getrlimit(RLIMIT_STACK, &limit) == 0
            && limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < size)
            size = (size_t)limit.rlim_cur;
        addr = (uint8 *)((top - size / 4 * 3) & ~((uintptr_t)page_size - 1));
    }
    else
#endif
#ifdef __linux__
    if (pthread_getattr_np(self, &attr) == 0) {",
            ),
            (
                "#include \"platform_api_vmcore.h\"",
                "#include \"platform_api_vmcore.h\"
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>",
            ),
        ],
    ),
];

/// Applies `edits` to `text`; panics naming the anchor that is missing or not unique.
pub fn apply(file: &str, text: &str, edits: &[(&str, &str)]) -> String {
    let mut out = text.to_string();
    for (anchor, replacement) in edits {
        let n = out.matches(anchor).count();
        assert!(
            n == 1,
            "wasi-hw-wamr-sys: patching {file}: anchor found {n} times (WAMR 2.4.3 expected):\n{anchor}"
        );
        out = out.replacen(anchor, replacement, 1);
    }
    out
}
