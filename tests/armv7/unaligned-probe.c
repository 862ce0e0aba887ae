/* Self-check for scripts/armv7/test.sh: does this qemu-arm fault like ARMv7 hardware
 * on unaligned LDRD/LDM/VLDR? If it did not, a clean run of unaligned.wat under qemu
 * would prove nothing. `probe MODE` does one load from an odd address and prints
 * "MODE ok"; for ldrd, ldm and vldr the expected outcome is SIGBUS. Plain LDR must work
 * (Linux runs ARMv7 user code with unaligned LDR/STR allowed). */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    static unsigned char buf[32] __attribute__((aligned(8)));
    unsigned char *p = buf + 1;
    const char *mode = argc > 1 ? argv[1] : "";
    unsigned lo = 0, hi = 0;

    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)i;
    if (!strcmp(mode, "ldr")) {
        __asm__ volatile("ldr %0, [%1]" : "=r"(lo) : "r"(p));
    } else if (!strcmp(mode, "ldrd")) {
        __asm__ volatile("mov r0, %2\n\tldrd r2, r3, [r0]\n\tmov %0, r2\n\tmov %1, r3"
                         : "=r"(lo), "=r"(hi) : "r"(p) : "r0", "r2", "r3");
    } else if (!strcmp(mode, "ldm")) {
        __asm__ volatile("mov r0, %2\n\tldm r0, {r2, r3}\n\tmov %0, r2\n\tmov %1, r3"
                         : "=r"(lo), "=r"(hi) : "r"(p) : "r0", "r2", "r3");
    } else if (!strcmp(mode, "vldr")) {
        double d;
        __asm__ volatile("vldr %P0, [%1]" : "=w"(d) : "r"(p));
        memcpy(&lo, &d, sizeof lo);
    } else {
        fprintf(stderr, "usage: probe ldr|ldrd|ldm|vldr\n");
        return 2;
    }
    printf("%s ok %08x %08x\n", mode, lo, hi);
    return 0;
}
