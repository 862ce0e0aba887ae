/*
 * CPU-name validation for the wasi-hw AOT compiler driver (aotc.c). LLVM only warns on
 * stderr about an unknown CPU and then compiles for the generic CPU, which on 32-bit
 * ARM means no FPU: a typo would give a slow (or ABI-mismatched) .aot without an error.
 */

#include <cstdio>
#include <memory>
#include <string>

#include <llvm/MC/MCSubtargetInfo.h>
#include <llvm/MC/TargetRegistry.h>

extern "C" int
wasi_hw_aotc_check_cpu(const char *triple, const char *cpu, char *err,
                       unsigned err_len)
{
    std::string error;
    const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);

    if (!target) {
        std::snprintf(err, err_len, "unsupported target triple %s: %s", triple,
                      error.c_str());
        return 0;
    }
    std::unique_ptr<llvm::MCSubtargetInfo> sti(
        target->createMCSubtargetInfo(triple, "", ""));
    if (!sti) {
        std::snprintf(err, err_len, "no subtarget information for %s", triple);
        return 0;
    }
    if (!sti->isCPUStringValid(cpu)) {
        std::snprintf(err, err_len, "unknown cpu `%s` for target %s", cpu, triple);
        return 0;
    }
    return 1;
}
