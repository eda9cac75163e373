#include "roma_cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

uint32_t roma_cpu_features(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx) return 0;
    const uint64_t xcr0 = xgetbv0();
    const int ymm = (xcr0 & 0x6) == 0x6, zmm = (xcr0 & 0xE6) == 0xE6;
    unsigned b7 = 0, c7 = 0, d7 = 0, a71 = 0, b71, c71, d71;
    if (!__get_cpuid_count(7, 0, &a, &b7, &c7, &d7)) return 0;
    __get_cpuid_count(7, 1, &a71, &b71, &c71, &d71);
    uint32_t f = 0;
    if (ymm && fma && f16c && ((b7 >> 5) & 1)) f |= ROMA_CPU_AVX2;
    const int avx512 = ((b7 >> 16) & 1) && ((b7 >> 17) & 1) && ((b7 >> 30) & 1) && ((b7 >> 31) & 1);  // F, DQ, BW, VL
    if ((f & ROMA_CPU_AVX2) && zmm && avx512) {
        f |= ROMA_CPU_AVX512;
        if ((c7 >> 11) & 1) f |= ROMA_CPU_AVX512_VNNI;
    }
    if ((f & ROMA_CPU_AVX2) && ((a71 >> 4) & 1)) f |= ROMA_CPU_AVX_VNNI;
    if (((b7 >> 29) & 1) && ((c >> 19) & 1)) f |= ROMA_CPU_SHA;   // SHA, SSE4.1
    return f;
}

#ifdef ROMA_BASELINE_V3
/// The Swift modules of this build are compiled for x86-64-v3 (AVX2, FMA, F16C; see Package.swift):
/// on an older CPU say so before any of their code runs, instead of dying on an illegal instruction.
__attribute__((constructor)) static void roma_require_baseline(void) {
    if (!(roma_cpu_features() & ROMA_CPU_AVX2)) {
        fputs("roma: this build needs an x86-64-v3 CPU (AVX2, FMA, F16C); rebuild with ROMA_BASELINE=x86-64 swift build ...\n", stderr);
        exit(1);
    }
}
#endif

#else
uint32_t roma_cpu_features(void) { return 0; }
#endif
