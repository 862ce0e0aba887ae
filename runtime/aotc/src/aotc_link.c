/* Part of the AOT compiler driver (aotc.c) that works on WAMR's compilation context
   directly. */

#include <string.h>

#include <llvm-c/Core.h>

#include "aot_llvm.h"

/* Gives the guest functions (`aot_func#N`, WAMR's per-function entry with the
   native-stack check) internal linkage once the module is optimised, just before
   object emission. Calls between them are then resolved by the assembler within .text
   instead of being left as relocations against global symbols, which WAMR's AOT loader
   resolves one by one, by name, at every load (for a typical driver about 40 % of all
   its relocations). The symbols stay in the object's symbol table as local symbols,
   which is where WAMR's emitter looks up each function's offset; nothing links
   against them by name. */
void
wasi_hw_aotc_localise_functions(AOTCompContext *comp_ctx)
{
    static const char prefix[] = AOT_FUNC_PREFIX;
    LLVMValueRef f;

    for (f = LLVMGetFirstFunction(comp_ctx->module); f; f = LLVMGetNextFunction(f)) {
        size_t len = 0;
        const char *name = LLVMGetValueName2(f, &len);

        if (LLVMIsDeclaration(f) || len < sizeof(prefix) - 1
            || memcmp(name, prefix, sizeof(prefix) - 1) != 0)
            continue;
        LLVMSetLinkage(f, LLVMInternalLinkage);
        LLVMSetVisibility(f, LLVMDefaultVisibility);
    }
}
