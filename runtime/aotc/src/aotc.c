/*
 * wasi-hw AOT compiler driver over WAMR 2.4.3's core/iwasm/compilation.
 *
 * This file is compiled together with a private copy of WAMR's loader and runtime
 * common code (configured as WAMR's own wamrc: WASM_ENABLE_WAMR_COMPILER=1). build.rs
 * partially links all of it into one relocatable object and then makes every global
 * symbol local except the three `wasi_hw_aotc_*` functions below, so this copy of
 * WAMR (its wasm_runtime_* functions, its global state) never meets the runtime
 * library that the same binary links for execution.
 */

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <llvm-c/TargetMachine.h>

#include "aot_export.h"
#include "bh_log.h"
#include "wasm_export.h"

/* aotc_link.c (it needs WAMR's internal compiler headers, which clash with aot_export.h) */
void
wasi_hw_aotc_localise_functions(aot_comp_context_t comp_ctx);

/* aotc_target.cpp */
int
wasi_hw_aotc_check_cpu(const char *triple, const char *cpu, char *err,
                       unsigned err_len);

typedef void (*wasi_hw_aotc_log_fn)(const char *line, size_t len);

/* Mirrors `RawOptions` in src/lib.rs (repr(C)). */
struct wasi_hw_aotc_options {
    const char *target_arch;
    const char *target_abi; /* NULL: WAMR's default ("gnu") */
    const char *cpu;        /* NULL or "": generic CPU of the target */
    const char *cpu_features;
    uint32_t opt_level;
    uint32_t size_level;
    uint32_t bounds_checks; /* 1: software linear-memory bounds checks */
    uint32_t stop_checks;   /* 1: suspend check points (see runtime/aotc/patches.rs) */
};

/* WAMR's compiler keeps global state (runtime init, the last-error buffer,
   LLVM target registry): one compilation at a time. */
static pthread_mutex_t aotc_lock = PTHREAD_MUTEX_INITIALIZER;
static int aotc_inited;

static wasi_hw_aotc_log_fn aotc_log;
static char aotc_line[1024];
static size_t aotc_line_len;

static void
aotc_flush_line(void)
{
    if (aotc_line_len > 0 && aotc_log)
        aotc_log(aotc_line, aotc_line_len);
    aotc_line_len = 0;
}

/* WAMR's os_printf/os_vprintf end here (BH_VPRINTF, see build.rs): its progress
   messages and warnings are forwarded line by line to the Rust logger instead of
   being written to stdout. */
int
wasi_hw_aotc_vprintf(const char *format, va_list ap)
{
    char buf[1024];
    int n = vsnprintf(buf, sizeof(buf), format, ap);
    size_t len, i;

    if (n < 0)
        return n;
    len = (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1;
    for (i = 0; i < len; i++) {
        if (buf[i] == '\n') {
            aotc_flush_line();
        }
        else if (aotc_line_len < sizeof(aotc_line)) {
            aotc_line[aotc_line_len++] = buf[i];
        }
    }
    return n;
}

void
wasi_hw_aotc_set_log(wasi_hw_aotc_log_fn log)
{
    pthread_mutex_lock(&aotc_lock);
    aotc_log = log;
    pthread_mutex_unlock(&aotc_lock);
}

static void
set_error(char *err, uint32_t err_len, const char *prefix, const char *msg)
{
    if (!err || err_len == 0)
        return;
    /* WAMR's compiler errors start with "Error: " already */
    if (msg && strncmp(msg, "Error: ", 7) == 0)
        msg += 7;
    snprintf(err, err_len, "%s%s", prefix, msg && *msg ? msg : "unknown error");
}

static int
aotc_init(char *err, uint32_t err_len)
{
    RuntimeInitArgs init_args;

    if (aotc_inited)
        return 1;
    memset(&init_args, 0, sizeof(init_args));
    /* Plain malloc/free: this copy never runs wasm, it only needs the loader. */
    init_args.mem_alloc_type = Alloc_With_System_Allocator;
    /* Initialised once and never destroyed: wasm_runtime_destroy() calls
       LLVMShutdown(), after which LLVM cannot be initialised again. */
    if (!wasm_runtime_full_init(&init_args)) {
        set_error(err, err_len, "", "initialising the WAMR compiler runtime failed");
        return 0;
    }
    bh_log_set_verbose_level(BH_LOG_LEVEL_WARNING);
    aotc_inited = 1;
    return 1;
}

/* A private, unique path for LLVM's stack-usage file (needed for the native stack
   bounds checks). WAMR's default is a name relative to the current directory,
   which fails in read-only directories and litters the working directory. */
static int
stack_usage_path(char *buf, size_t len)
{
    const char *dir = getenv("TMPDIR");
    int fd;

    if (!dir || !*dir)
        dir = "/tmp";
    if (snprintf(buf, len, "%s/wasi-hw-aotc-XXXXXX", dir) >= (int)len)
        return 0;
    if ((fd = mkstemp(buf)) < 0)
        return 0;
    close(fd);
    return 1;
}

/* Rejects CPU names LLVM does not know for the target (LLVM itself would only
   print a warning and fall back to the generic CPU). The triple is built as WAMR
   builds it for a Linux target: <arch>-pc-linux-<abi>, abi "gnu" by default. */
static int
check_cpu(const struct wasi_hw_aotc_options *opts, char *err, uint32_t err_len)
{
    char triple[128];
    char *norm;
    int ok;

    if (!opts->cpu || !*opts->cpu)
        return 1;
    snprintf(triple, sizeof(triple), "%s-pc-linux-%s", opts->target_arch,
             opts->target_abi && *opts->target_abi ? opts->target_abi : "gnu");
    if (!(norm = LLVMNormalizeTargetTriple(triple))) {
        set_error(err, err_len, "", "normalising the target triple failed");
        return 0;
    }
    ok = wasi_hw_aotc_check_cpu(norm, opts->cpu, err, err_len);
    LLVMDisposeMessage(norm);
    return ok;
}

/*
 * Compiles `wasm` to a WAMR AOT file. On success returns 1 and stores a buffer
 * (free it with wasi_hw_aotc_free) in *out / *out_len. On failure returns 0 with a
 * NUL-terminated message in err.
 */
int
wasi_hw_aotc_compile(const uint8_t *wasm, uint32_t wasm_len,
                     const struct wasi_hw_aotc_options *opts, uint8_t **out,
                     uint32_t *out_len, char *err, uint32_t err_len)
{
    uint8_t *wasm_copy = NULL, *aot = NULL;
    uint32_t aot_len = 0;
    wasm_module_t module = NULL;
    aot_comp_data_t comp_data = NULL;
    aot_comp_context_t comp_ctx = NULL;
    AOTCompOption option;
    char load_err[128] = { 0 };
    char su_path[512];
    int have_su = 0, ok = 0;

    *out = NULL;
    *out_len = 0;
    if (err && err_len)
        err[0] = '\0';

    pthread_mutex_lock(&aotc_lock);
    if (!aotc_init(err, err_len))
        goto done;

    if (!check_cpu(opts, err, err_len))
        goto done;

    if (wasm_len < 8
        || get_package_type(wasm, wasm_len) != Wasm_Module_Bytecode) {
        set_error(err, err_len, "",
                  wasm_len >= 4 && get_package_type(wasm, wasm_len)
                                       == Wasm_Module_AoT
                      ? "input is already an AOT module"
                      : "input is not a WebAssembly binary (bad magic header)");
        goto done;
    }

    /* WAMR's loader may write into its input buffer and keeps pointers into it
       until the module is unloaded: give it a private copy. */
    if (!(wasm_copy = malloc(wasm_len))) {
        set_error(err, err_len, "", "out of memory");
        goto done;
    }
    memcpy(wasm_copy, wasm, wasm_len);

    if (!(module = wasm_runtime_load(wasm_copy, wasm_len, load_err,
                                     sizeof(load_err)))) {
        set_error(err, err_len, "loading the wasm module failed: ", load_err);
        goto done;
    }

    if (!(comp_data = aot_create_comp_data(module, opts->target_arch, false))) {
        set_error(err, err_len, "", aot_get_last_error());
        goto done;
    }

    if (!stack_usage_path(su_path, sizeof(su_path))) {
        set_error(err, err_len, "", "creating a temporary file failed");
        goto done;
    }
    have_su = 1;

    memset(&option, 0, sizeof(option));
    option.target_arch = (char *)opts->target_arch;
    option.target_abi = (char *)opts->target_abi;
    option.target_cpu = (char *)opts->cpu;
    option.cpu_features = (char *)opts->cpu_features;
    option.opt_level = opts->opt_level > 3 ? 3 : opts->opt_level;
    option.size_level = opts->size_level > 3 ? 3 : opts->size_level;
    option.output_format = AOT_FORMAT_FILE;
    option.bounds_checks = opts->bounds_checks ? 1 : 0;
    /* The runtime library is built without guard pages for the native stack
       (WASM_DISABLE_STACK_HW_BOUND_CHECK): AOT code must check it itself. */
    option.stack_bounds_checks = 1;
    option.stack_usage_file = su_path;
    /* Wasm features: exactly what the runtime library is built with (bulk memory,
       reference types, call_indirect overlong; no SIMD, threads, tail calls, GC).
       WAMR turns each off again when the module does not use it. */
    option.enable_bulk_memory = true;
    option.enable_bulk_memory_opt = true;
    option.enable_ref_types = true;
    option.enable_call_indirect_overlong = true;
    option.enable_simd = false;
    option.enable_aux_stack_check = true;
    /* Suspend check points at loop back-edges and calls, so the runtime can stop a
       driver spinning in guest code (see runtime/aotc/patches.rs). */
    option.enable_thread_mgr = opts->stop_checks != 0;
    aot_call_stack_features_init_default(&option.call_stack_features);

    if (!(comp_ctx = aot_create_comp_context(comp_data, &option))) {
        set_error(err, err_len, "", aot_get_last_error());
        goto done;
    }
    if (!aot_compile_wasm(comp_ctx)) {
        set_error(err, err_len, "", aot_get_last_error());
        goto done;
    }
    wasi_hw_aotc_localise_functions(comp_ctx);
    if (!(aot = aot_emit_aot_file_buf(comp_ctx, comp_data, &aot_len))) {
        set_error(err, err_len, "", aot_get_last_error());
        goto done;
    }
    *out = aot;
    *out_len = aot_len;
    ok = 1;

done:
    if (comp_ctx)
        aot_destroy_comp_context(comp_ctx);
    if (comp_data)
        aot_destroy_comp_data(comp_data);
    if (module)
        wasm_runtime_unload(module);
    free(wasm_copy);
    if (have_su)
        (void)unlink(su_path);
    aotc_flush_line();
    pthread_mutex_unlock(&aotc_lock);
    return ok;
}

void
wasi_hw_aotc_free(uint8_t *buf)
{
    if (buf)
        wasm_runtime_free(buf);
}
