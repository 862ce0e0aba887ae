/*
 * wasi-hw: AOT relocations for 32-bit little-endian MIPS (o32), in place of WAMR 2.4.3's
 * aot_reloc_mips.c, which recognises two relocation types and applies none.
 *
 * The compiler (WAMR's, LLVM static relocation model) leaves these in an .aot for mipsel:
 *   R_MIPS_32    absolute words (jump tables, function tables)
 *   R_MIPS_26    `jal` to other functions of the module and to runtime helpers
 *   R_MIPS_HI16 / R_MIPS_LO16   `lui` + `addiu`/load/store pairs that build an address
 *   R_MIPS_PC16  branches that cross sections
 * o32 objects use REL relocations: the addend is in the instruction. A HI16 addend is only
 * complete with the low half from its LO16 partner (the ABI puts the LO16 after the HI16s
 * that share its symbol), so HI16s wait in a list until that LO16 comes, as the Linux
 * kernel's module loader does. Runtime helpers are called through a 16-byte PLT entry
 * that loads the address into $t9 (`jal` reaches only the current 256 MiB region, and
 * abicalls code of the runtime computes its $gp from $t9).
 */

#include "aot_reloc.h"

#define R_MIPS_NONE 0
#define R_MIPS_32 2
#define R_MIPS_26 4
#define R_MIPS_HI16 5
#define R_MIPS_LO16 6
#define R_MIPS_PC16 10
#define R_MIPS_JALR 37 /* a hint on `jalr` for the linker; nothing to do */

/* libgcc helpers LLVM calls for 64-bit integer arithmetic and conversions on MIPS32 */
void __divdi3(void);
void __moddi3(void);
void __udivdi3(void);
void __umoddi3(void);
void __fixdfdi(void);
void __fixsfdi(void);
void __fixunsdfdi(void);
void __fixunssfdi(void);
void __floatdidf(void);
void __floatdisf(void);
void __floatundidf(void);
void __floatundisf(void);
void __ashldi3(void);
void __ashrdi3(void);
void __lshrdi3(void);
void __muldi3(void);
void __popcountsi2(void);
void __popcountdi2(void);
void __ctzsi2(void);
void __ctzdi2(void);
void __clzdi2(void);

/* clang-format off */
static SymbolMap target_sym_map[] = {
    REG_COMMON_SYMBOLS
    REG_SYM(__divdi3),
    REG_SYM(__moddi3),
    REG_SYM(__udivdi3),
    REG_SYM(__umoddi3),
    REG_SYM(__fixdfdi),
    REG_SYM(__fixsfdi),
    REG_SYM(__fixunsdfdi),
    REG_SYM(__fixunssfdi),
    REG_SYM(__floatdidf),
    REG_SYM(__floatdisf),
    REG_SYM(__floatundidf),
    REG_SYM(__floatundisf),
    REG_SYM(__ashldi3),
    REG_SYM(__ashrdi3),
    REG_SYM(__lshrdi3),
    REG_SYM(__muldi3),
    REG_SYM(__popcountsi2),
    REG_SYM(__popcountdi2),
    REG_SYM(__ctzsi2),
    REG_SYM(__ctzdi2),
    REG_SYM(__clzdi2),
};
/* clang-format on */

#define PLT_ITEM_SIZE 16
#define N_SYMS (sizeof(target_sym_map) / sizeof(SymbolMap))

SymbolMap *
get_target_symbol_map(uint32 *sym_num)
{
    *sym_num = N_SYMS;
    return target_sym_map;
}

void
get_current_target(char *target_buf, uint32 target_buf_size)
{
    /* Not "mips": WAMR compares target names by prefix, and a big-endian "mips" .aot
       must not pass for this little-endian runtime. */
    snprintf(target_buf, target_buf_size, "mipsel");
}

uint32
get_plt_table_size()
{
    return PLT_ITEM_SIZE * N_SYMS;
}

static void
put32(uint8 *p, uint32 v)
{
    memcpy(p, &v, 4);
}

static uint32
get32(const uint8 *p)
{
    uint32 v;
    memcpy(&v, p, 4);
    return v;
}

void
init_plt_table(uint8 *plt)
{
    uint32 i;
    for (i = 0; i < N_SYMS; i++, plt += PLT_ITEM_SIZE) {
        uint32 addr = (uint32)(uintptr_t)target_sym_map[i].symbol_addr;
        put32(plt, 0x3c190000 | (((addr + 0x8000) >> 16) & 0xffff)); /* lui   $t9, %hi */
        put32(plt + 4, 0x27390000 | (addr & 0xffff)); /* addiu $t9, $t9, %lo */
        put32(plt + 8, 0x03200008);                   /* jr    $t9 */
        put32(plt + 12, 0);                           /* nop (delay slot) */
    }
}

static bool
fail(char *error_buf, uint32 error_buf_size, const char *what, uint32 type,
     uint64 offset)
{
    if (error_buf != NULL)
        snprintf(error_buf, error_buf_size,
                 "AOT relocation (mipsel) type %u at 0x%llx: %s", type,
                 (unsigned long long)offset, what);
    return false;
}

/* HI16 relocations waiting for their LO16. Thread-local: modules may load in parallel. */
#define MAX_PENDING_HI16 64
static __thread struct {
    AOTModule *module;
    uint8 *place;
    uintptr_t symbol;
} pending[MAX_PENDING_HI16];
static __thread uint32 pending_count;

bool
apply_relocation(AOTModule *module, uint8 *target_section_addr,
                 uint32 target_section_size, uint64 reloc_offset,
                 int64 reloc_addend, uint32 reloc_type, void *symbol_addr,
                 int32 symbol_index, char *error_buf, uint32 error_buf_size)
{
    uint8 *place = target_section_addr + reloc_offset;
    uintptr_t s = (uintptr_t)symbol_addr;
    uint32 insn, i;

    if (reloc_offset > target_section_size
        || target_section_size - reloc_offset < 4)
        return fail(error_buf, error_buf_size, "offset outside the section",
                    reloc_type, reloc_offset);
    /* A load that failed half-way leaves its HI16s behind; never pair with them. */
    if (pending_count > 0 && pending[0].module != module)
        pending_count = 0;

    insn = get32(place);
    switch (reloc_type) {
        case R_MIPS_NONE:
        case R_MIPS_JALR:
            break;

        case R_MIPS_32:
            put32(place, (uint32)(insn + s + (uint32)reloc_addend));
            break;

        case R_MIPS_26:
        {
            uint32 target =
                (uint32)(((insn & 0x03ffffff) << 2) + s + (uint32)reloc_addend);
            uint32 pc = (uint32)(uintptr_t)place + 4;
            if (symbol_index >= 0) {
                /* A runtime helper: always through its PLT entry, for $t9. */
                uint8 *plt = (uint8 *)module->code + module->code_size
                             - get_plt_table_size()
                             + PLT_ITEM_SIZE * (uint32)symbol_index;
                target = (uint32)(uintptr_t)plt;
            }
            if ((target & 3) != 0)
                return fail(error_buf, error_buf_size,
                            "jump target not 4-byte aligned", reloc_type,
                            reloc_offset);
            if ((target & 0xf0000000) != (pc & 0xf0000000))
                return fail(error_buf, error_buf_size,
                            "jump target outside the 256 MiB region",
                            reloc_type, reloc_offset);
            put32(place, (insn & 0xfc000000) | ((target >> 2) & 0x03ffffff));
            break;
        }

        case R_MIPS_HI16:
            if (pending_count == MAX_PENDING_HI16)
                return fail(error_buf, error_buf_size,
                            "too many R_MIPS_HI16 without their R_MIPS_LO16",
                            reloc_type, reloc_offset);
            pending[pending_count].module = module;
            pending[pending_count].place = place;
            pending[pending_count].symbol = s + (uintptr_t)reloc_addend;
            pending_count++;
            break;

        case R_MIPS_LO16:
        {
            int32 lo = (int16)(insn & 0xffff);
            uint32 value;
            s += (uintptr_t)reloc_addend;
            for (i = 0; i < pending_count; i++) {
                uint32 hi_insn, ahl;
                if (pending[i].symbol != s)
                    return fail(error_buf, error_buf_size,
                                "R_MIPS_HI16 not followed by its R_MIPS_LO16",
                                reloc_type, reloc_offset);
                hi_insn = get32(pending[i].place);
                ahl = ((hi_insn & 0xffff) << 16) + (uint32)lo;
                value = (uint32)s + ahl;
                put32(pending[i].place, (hi_insn & 0xffff0000)
                                            | (((value + 0x8000) >> 16) & 0xffff));
            }
            pending_count = 0;
            value = (uint32)s + (uint32)lo;
            put32(place, (insn & 0xffff0000) | (value & 0xffff));
            break;
        }

        case R_MIPS_PC16:
        {
            int32 a = (int32)(int16)(insn & 0xffff) * 4;
            int32 delta = (int32)((uint32)s + (uint32)a - (uint32)(uintptr_t)place);
            if ((delta & 3) != 0 || delta < -131072 || delta > 131071)
                return fail(error_buf, error_buf_size,
                            "branch target out of range", reloc_type,
                            reloc_offset);
            put32(place, (insn & 0xffff0000) | ((uint32)(delta >> 2) & 0xffff));
            break;
        }

        default:
            return fail(error_buf, error_buf_size, "relocation type not supported",
                        reloc_type, reloc_offset);
    }
    return true;
}
