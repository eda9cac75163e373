#ifndef ROMA_CPU_H
#define ROMA_CPU_H
#include <stddef.h>
#include <stdint.h>

/// Instruction-set features the kernels can use, as the CPU and the OS report them (CPUID + XGETBV).
enum {
    ROMA_CPU_AVX2 = 1 << 0,         ///< AVX2 + FMA + F16C, YMM state enabled by the OS
    ROMA_CPU_AVX512 = 1 << 1,       ///< AVX-512 F/BW/DQ/VL, ZMM and opmask state enabled by the OS
    ROMA_CPU_AVX512_VNNI = 1 << 2,  ///< AVX-512 VNNI (vpdpbusd / vpdpwssd on zmm)
    ROMA_CPU_AVX_VNNI = 1 << 3,     ///< AVX-VNNI (the VEX-coded ymm forms)
    ROMA_CPU_SHA = 1 << 4,          ///< SHA extensions (sha256rnds2 / sha256msg1 / sha256msg2) with SSE4.1
};

/// The ROMA_CPU_* bits of this CPU (0 on other architectures).
uint32_t roma_cpu_features(void);

/// SHA-256's compression function (FIPS 180-4, 6.2.2) on `blocks` consecutive 64-byte blocks at `data`,
/// updating the eight state words `state` (a..h) in place, on the SHA extensions. Only call it where
/// roma_cpu_features() reports ROMA_CPU_SHA.
void roma_sha256_blocks_sha_ni(uint32_t state[8], const uint8_t *data, size_t blocks);

/// SHA-256's 64 round constants K_0..K_63 (FIPS 180-4, 4.2.2), for every engine.
const uint32_t *roma_sha256_constants(void);

/// A hint to fetch the cache line holding `p` into every cache level ahead of a streaming read
/// (prefetcht0; a no-op where the compiler has no prefetch). For the decode cells, which read each code once.
static inline void roma_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

#endif
