//! Source edits to WAMR 2.4.3's compiler (included by build.rs; applied by
//! `wasi_hw_wamr_build::patch_sources`, which insists on each anchor occurring once).

pub const PATCHES: wasi_hw_wamr_build::Patches = &[
    (
        "iwasm/compilation/aot_emit_control.c",
        &[
            // Suspend check points in every module, not only in those with shared memory:
            // the resident host stops a driver spinning in guest code (a loop that makes no
            // host call) through them (wasi_hw_request_terminate in the runtime's patches).
            // Each is a volatile load, a test and a branch per loop back-edge and call.
            (
                "    /* Only need to check the suspend flags when memory is shared since
       shared memory must be enabled for multi-threading */
    if (!is_shared_memory) {
        return true;
    }",
                "    /* wasi-hw: checked whatever the memory (see runtime/aotc/patches.rs) */
    (void)is_shared_memory;",
            ),
        ],
    ),
    (
        "iwasm/compilation/aot_emit_aot_file.c",
        &[
            // enable_thread_mgr is on for its check points only: the file claims
            // multi-threading (which a runtime without a thread manager refuses) only for a
            // module that really has shared memory.
            (
                "    if (comp_ctx->enable_thread_mgr) {
        obj_data->target_info.feature_flags |= WASM_FEATURE_MULTI_THREAD;
    }",
                "    if (comp_ctx->enable_thread_mgr
        && (comp_ctx->comp_data->memories[0].flags & 0x02)) {
        obj_data->target_info.feature_flags |= WASM_FEATURE_MULTI_THREAD;
    }",
            ),
            // MIPS spells LLVM's private labels with `$` where ELF targets use `.L`: a
            // constant pool or jump table entry of a mipsel module must be rewritten to its
            // section plus offset too, or the runtime cannot resolve `$CPI37_0`.
            (
                "                || str_starts_with(relocation->symbol_name, \".Lswitch.table.\")",
                "                || str_starts_with(relocation->symbol_name, \".Lswitch.table.\")
                || str_starts_with(relocation->symbol_name, \"$CPI\")
                || str_starts_with(relocation->symbol_name, \"$JTI\")
                || str_starts_with(relocation->symbol_name, \"$BB\")
                || str_starts_with(relocation->symbol_name, \"$switch.table.\")",
            ),
        ],
    ),
    (
        "iwasm/compilation/aot_llvm.c",
        &[
            // No musttail on MIPS (WAMR issue 2412: LLVM cannot guarantee it there); the
            // check named "mips" only, so a "mipsel" compile hit "failed to perform tail
            // call elimination" in LLVM and aborted.
            (
                "if (!strcmp(comp_ctx->target_arch, \"mips\")) {",
                "if (!strncmp(comp_ctx->target_arch, \"mips\", 4)) {",
            ),
        ],
    ),
];
