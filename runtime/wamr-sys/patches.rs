//! Source edits applied to WAMR 2.4.3 at build time (included by build.rs; applied by
//! `wasi_hw_wamr_build::patch_sources`, which insists on each anchor occurring once).

pub const PATCHES: wasi_hw_wamr_build::Patches = &[
    (
        "iwasm/common/wasm_exec_env.c",
        &[
            // A stop request for AOT code in a loop that makes no host call: the compiler
            // (wasi-hw-aotc) puts WAMR's suspend check points into every module, which
            // return from the running function at the next loop back-edge or call once
            // the terminate flag is set. WAMR sets the flag only from its thread manager,
            // which this runtime does not have; this is the one place that sets it.
            (
                "void
wasm_exec_env_destroy(WASMExecEnv *exec_env)
{",
                "void
wasi_hw_request_terminate(WASMExecEnv *exec_env)
{
    WASM_SUSPEND_FLAGS_FETCH_OR(exec_env->suspend_flags,
                                WASM_SUSPEND_FLAG_TERMINATE);
}

void
wasm_exec_env_destroy(WASMExecEnv *exec_env)
{",
            ),
        ],
    ),
    (
        "iwasm/aot/aot_loader.c",
        &[
            // wasm_binary_freeable (LoadArgs): the flag was copied to the module only after
            // the load, but load_mem_init_data_list reads it during the load. So data
            // segments pointed into the caller's buffer while unload freed them ("free():
            // invalid pointer"), and the loader made a second copy of text and data
            // (try_merge_data_and_text) as for a buffer it may not free. Taken from the
            // arguments right after the module is created, the loader copies what it keeps
            // once, and the caller can release the file's bytes right after the load.
            (
                "    AOTModule *module = create_module(args->name, error_buf, error_buf_size);

    if (!module)
        return NULL;

    os_thread_jit_write_protect_np(false); /* Make memory writable */",
                "    AOTModule *module = create_module(args->name, error_buf, error_buf_size);

    if (!module)
        return NULL;
    module->is_binary_freeable = args->wasm_binary_freeable;

    os_thread_jit_write_protect_np(false); /* Make memory writable */",
            ),
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
    (
        "shared/platform/common/posix/posix_memmap.c",
        &[
            // The AOT loader writes the code (copy, relocations, PLT) through the data
            // cache and then calls os_icache_flush before running it; on Linux that was
            // empty. x86 keeps the caches coherent, but ARMv7, AArch64 and MIPS do not: a
            // stale instruction cache line runs old bytes. GCC's builtin does the right
            // thing per arch (the cacheflush syscall on 32-bit ARM and MIPS, DC CVAU/IC
            // IVAU on AArch64, nothing on x86). QEMU's TCG invalidates its translations
            // on writes, so no emulated test can see the difference; real boards can.
            (
                "#if defined(__APPLE__) || defined(__MACH__)
    sys_icache_invalidate(start, len);
#else
    (void)start;
    (void)len;
#endif",
                "#if defined(__APPLE__) || defined(__MACH__)
    sys_icache_invalidate(start, len);
#else
    __builtin___clear_cache((char *)start, (char *)start + len);
#endif
    /* wasi-hw: counted, so tests can see every load flush the code it wrote */
    __atomic_add_fetch(&wasi_hw_icache_flushes, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&wasi_hw_icache_flushed_bytes, (unsigned long)len,
                       __ATOMIC_RELAXED);",
            ),
            (
                "void
os_icache_flush(void *start, size_t len)",
                "unsigned long wasi_hw_icache_flushes;
unsigned long wasi_hw_icache_flushed_bytes;

void
os_icache_flush(void *start, size_t len)",
            ),
        ],
    ),
    (
        "iwasm/libraries/libc-wasi/sandboxed-system-primitives/src/posix.c",
        &[
            // path_symlink checked the target with validate_path: realpath of the target
            // from the *host's* working directory, prefix-compared (strncmp) with the
            // preopens' directories. With a preopen mapped to guest `/`, or any target
            // that does not exist yet, every target passed, so a guest could plant links to
            // absolute host paths (wasi-testsuite rust/symlink_create) for host programs to
            // follow. A link's target is read from the link's own directory: absolute
            // targets are refused (EPERM), and relative ones whose `..` climb above the
            // directory the link is created in (ENOTCAPABLE). Lexical, so it does not
            // depend on what exists; the link's own path was already checked by
            // path_get_nofollow.
            (
                "__wasi_errno_t
wasmtime_ssp_path_symlink(wasm_exec_env_t exec_env, struct fd_table *curfds,",
                "/* wasi-hw: whether a symlink at `link` (relative to the directory fd it is made
   in) to `target` stays inside that directory's tree. */
static __wasi_errno_t
wasi_hw_check_symlink_target(const char *target, const char *link,
                             size_t link_len)
{
    long depth = 0;
    size_t i = 0, start, n;
    int last;

    if (target[0] == '/')
        return __WASI_EPERM;
    /* the link's directory: every component of `link` but the last */
    while (i < link_len) {
        while (i < link_len && link[i] == '/')
            i++;
        start = i;
        while (i < link_len && link[i] != '/')
            i++;
        n = i - start;
        last = 1;
        for (size_t j = i; j < link_len; j++)
            if (link[j] != '/')
                last = 0;
        if (n == 0 || last)
            break;
        if (n == 2 && link[start] == '.' && link[start + 1] == '.')
            depth--;
        else if (!(n == 1 && link[start] == '.'))
            depth++;
    }
    for (i = 0; target[i] != '\\0';) {
        while (target[i] == '/')
            i++;
        start = i;
        while (target[i] != '\\0' && target[i] != '/')
            i++;
        n = i - start;
        if (n == 2 && target[start] == '.' && target[start + 1] == '.') {
            if (--depth < 0)
                return __WASI_ENOTCAPABLE;
        }
        else if (n > 0 && !(n == 1 && target[start] == '.'))
            depth++;
    }
    return 0;
}

__wasi_errno_t
wasmtime_ssp_path_symlink(wasm_exec_env_t exec_env, struct fd_table *curfds,",
            ),
            (
                "    rwlock_rdlock(&prestats->lock);
    if (!validate_path(target, prestats)) {
        rwlock_unlock(&prestats->lock);
        wasm_runtime_free(target);
        return __WASI_EBADF;
    }
    rwlock_unlock(&prestats->lock);

    error = os_symlinkat(target, pa.fd, pa.path);",
                "    (void)prestats;
    error = wasi_hw_check_symlink_target(target, new_path, new_path_len);
    if (error != 0) {
        path_put(&pa);
        wasm_runtime_free(target);
        return error;
    }

    error = os_symlinkat(target, pa.fd, pa.path);",
            ),
        ],
    ),
    (
        "iwasm/libraries/libc-wasi/libc_wasi_wrapper.c",
        &[
            // A stop request (wasi_hw_request_terminate) also wakes a guest asleep in
            // poll_oneoff (Rust's thread::sleep, C's nanosleep), which WAMR only does with
            // its thread manager (in 1 s slices): relative clock waits go in slices of at
            // most 20 ms with the flag checked between them; a stopped wait is EINTR.
            // Absolute clocks and waits on descriptors alone block as before.
            (
                "static wasi_errno_t
wasi_poll_oneoff(wasm_exec_env_t exec_env, const wasi_subscription_t *in,",
                "static wasi_errno_t
wasi_hw_poll_oneoff(wasm_exec_env_t exec_env, struct fd_table *curfds,
                    const wasi_subscription_t *in, wasi_event_t *out,
                    uint32 nsubscriptions, size_t *nevents)
{
    const uint64 slice_ns = 20 * 1000 * 1000;
    uint64 min_ns = UINT64_MAX, size, start_us, elapsed_ns, left;
    wasi_subscription_t *slices;
    wasi_errno_t err;
    size_t n;
    uint32 i;
    bool last;

    for (i = 0; i < nsubscriptions; i++) {
        if (in[i].u.type != __WASI_EVENTTYPE_CLOCK)
            continue;
        if (in[i].u.u.clock.flags & __WASI_SUBSCRIPTION_CLOCK_ABSTIME)
            min_ns = 0; /* not sliced */
        else if (in[i].u.u.clock.timeout < min_ns)
            min_ns = in[i].u.u.clock.timeout;
    }
    if (min_ns <= slice_ns || min_ns == UINT64_MAX)
        return wasmtime_ssp_poll_oneoff(exec_env, curfds, in, out,
                                        nsubscriptions, nevents);
    size = (uint64)nsubscriptions * sizeof(wasi_subscription_t);
    if (size >= UINT32_MAX
        || !(slices = (wasi_subscription_t *)wasm_runtime_malloc((uint32)size)))
        return __WASI_ENOMEM;
    start_us = os_time_get_boot_us();
    for (;;) {
        if (WASM_SUSPEND_FLAGS_GET(exec_env->suspend_flags)
            & WASM_SUSPEND_FLAG_TERMINATE) {
            err = __WASI_EINTR;
            break;
        }
        elapsed_ns = (os_time_get_boot_us() - start_us) * 1000;
        left = min_ns > elapsed_ns ? min_ns - elapsed_ns : 0;
        /* the last slice waits for the real remainders; earlier ones for a slice */
        last = left <= slice_ns;
        bh_memcpy_s(slices, (uint32)size, in, (uint32)size);
        for (i = 0; i < nsubscriptions; i++) {
            if (slices[i].u.type != __WASI_EVENTTYPE_CLOCK)
                continue;
            if (!last)
                slices[i].u.u.clock.timeout = slice_ns;
            else if (slices[i].u.u.clock.timeout > elapsed_ns)
                slices[i].u.u.clock.timeout -= elapsed_ns;
            else
                slices[i].u.u.clock.timeout = 0;
        }
        err = wasmtime_ssp_poll_oneoff(exec_env, curfds, slices, out,
                                       nsubscriptions, nevents);
        if (err || last)
            break;
        /* a slice ended: only descriptor events are real */
        n = 0;
        for (i = 0; i < *nevents; i++)
            if (out[i].type != __WASI_EVENTTYPE_CLOCK)
                out[n++] = out[i];
        *nevents = n;
        if (n > 0)
            break;
    }
    wasm_runtime_free(slices);
    return err;
}

static wasi_errno_t
wasi_poll_oneoff(wasm_exec_env_t exec_env, const wasi_subscription_t *in,",
            ),
            (
                "#if WASM_ENABLE_THREAD_MGR == 0
    err = wasmtime_ssp_poll_oneoff(exec_env, curfds, in, out, nsubscriptions,
                                   &nevents);",
                "#if WASM_ENABLE_THREAD_MGR == 0
    err = wasi_hw_poll_oneoff(exec_env, curfds, in, out, nsubscriptions,
                              &nevents);",
            ),
        ],
    ),
    (
        "iwasm/interpreter/wasm_interp_fast.c",
        &[
            // A stop request for interpreted code in a loop that makes no host call: the
            // interpreter's suspend checks (at branches, calls and loop back-edges) exist
            // only with WAMR's thread manager. Here they are compiled in, and a set
            // terminate flag (wasi_hw_request_terminate) raises an exception, which
            // unwinds the interpreter like any trap (WAMR's own check returns without
            // one, leaving its caller to read results that were never written).
            (
                "        /* TODO: support suspend and breakpoint */          \\
        WASM_SUSPEND_FLAGS_UNLOCK(exec_env->wait_lock);     \\
    } while (0)
#endif",
                "        /* TODO: support suspend and breakpoint */          \\
        WASM_SUSPEND_FLAGS_UNLOCK(exec_env->wait_lock);     \\
    } while (0)
#else
#define CHECK_SUSPEND_FLAGS()                                     \\
    do {                                                          \\
        if (WASM_SUSPEND_FLAGS_GET(exec_env->suspend_flags)       \\
            & WASM_SUSPEND_FLAG_TERMINATE) {                      \\
            wasm_set_exception(module, \"terminated by the host\"); \\
            goto got_exception;                                   \\
        }                                                         \\
    } while (0)
#endif",
            ),
            (
                "[every 1]
#if WASM_ENABLE_THREAD_MGR != 0
        CHECK_SUSPEND_FLAGS();",
                "#if 1 /* wasi-hw: stop checks */
        CHECK_SUSPEND_FLAGS();",
            ),
            (
                "[every 10]
#if WASM_ENABLE_THREAD_MGR != 0
                CHECK_SUSPEND_FLAGS();",
                "#if 1 /* wasi-hw: stop checks */
                CHECK_SUSPEND_FLAGS();",
            ),
            (
                "[every 3]
#if WASM_ENABLE_THREAD_MGR != 0
                        CHECK_SUSPEND_FLAGS();",
                "#if 1 /* wasi-hw: stop checks */
                        CHECK_SUSPEND_FLAGS();",
            ),
        ],
    ),
    (
        "iwasm/interpreter/wasm_loader.c",
        &[
            // The fast interpreter's code is only 2-byte aligned on CPUs without unaligned
            // accesses (MIPS: WASM_CPU_SUPPORTS_UNALIGNED_ADDR_ACCESS 0), and every other
            // write of a handler address goes through STORE_U32, which splits it. These
            // rewrites of a `select` opcode stored a plain uint32 at a 2-aligned address:
            // SIGBUS on MIPS (ARMv7 forgives it). Linux on MIPS would fix it up in the
            // trap handler, slowly; qemu-user does not.
            (
                "[every 2]
                                *(uint32 *)(p_code_compiled_tmp
                                            - sizeof(uint32)) =
                                    (uint32)(uintptr_t)handle_table[opcode_tmp];",
                "                                STORE_U32(p_code_compiled_tmp - sizeof(uint32),
                                    (uint32)(uintptr_t)handle_table[opcode_tmp]);",
            ),
            (
                "                        *(uint32 *)(p_code_compiled_tmp - sizeof(uint32)) =
                            (uint32)(uintptr_t)handle_table[opcode_tmp];",
                "                        STORE_U32(p_code_compiled_tmp - sizeof(uint32),
                            (uint32)(uintptr_t)handle_table[opcode_tmp]);",
            ),
            // A multi-value block end laid out its scratch arrays as value_count bytes,
            // then int16s: an odd count put every int16 at an odd address (SIGBUS on
            // MIPS). The int16 arrays go first, the bytes last.
            (
                "        cells = emit_data;
        src_offsets = (int16 *)(cells + value_count);
        dst_offsets = (uint16 *)(src_offsets + value_count);",
                "        src_offsets = (int16 *)emit_data;
        dst_offsets = (uint16 *)(src_offsets + value_count);
        cells = (uint8 *)(dst_offsets + value_count);",
            ),
            // The same layout for a block's parameters.
            (
                "    cells = emit_data;
    src_offsets = (int16 *)(cells + param_count);",
                "    src_offsets = (int16 *)emit_data;
    cells = (uint8 *)(src_offsets + param_count);",
            ),
        ],
    ),
];
