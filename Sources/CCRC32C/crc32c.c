// CRC32C (Castagnoli), reflected polynomial 0x82F63B78, with the same contract as
// LevelDB's crc32c::Extend: the value passed in and returned is the finished CRC
// (pre- and post-inverted), so tl_crc32c_extend(tl_crc32c_extend(0, a), b) is the CRC of a||b.
//
// Three paths, chosen once per process:
//   - x86_64: the SSE4.2 crc32 instruction, 8 bytes at a time, three interleaved streams
//     (the instruction has a latency of 3 cycles and a throughput of 1 per cycle);
//   - aarch64: the ARMv8 CRC32C instructions, same structure;
//   - anywhere else, or when the CPU lacks the instructions: slicing-by-8 tables.
//
// The interleaved streams are combined as in Mark Adler's crc32c.c: the CRC register
// is linear, so the register after "A then B" is shift(register after A, |B|) XOR
// (register of B started from 0), where shift(r, n) = r * x^(8n) mod P. shift is applied
// with four 256-entry tables per block length (one per byte of r).
//
// Tables are built on first use, guarded by a C11 atomic once-flag (no pthread dependency).

#include "ccrc32c.h"

#include <stdatomic.h>
#include <string.h>

#define TL_POLY 0x82F63B78u

// Block lengths of the interleaved hardware loop (bytes per stream).
#define TL_LONG 8192
#define TL_SHORT 256

#if defined(__x86_64__) || defined(_M_X64)
#  define TL_HW_X86 1
#  include <cpuid.h>
#  include <nmmintrin.h>
#elif defined(__aarch64__) || defined(_M_ARM64)
#  define TL_HW_ARM 1
#  if defined(__linux__) && defined(__has_include)
#    if __has_include(<sys/auxv.h>)
#      include <sys/auxv.h>
#      define TL_HAVE_GETAUXVAL 1
#    endif
#  endif
#  if defined(__APPLE__) && defined(__has_include)
#    if __has_include(<sys/sysctl.h>)
#      include <sys/sysctl.h>
#      define TL_HAVE_SYSCTLBYNAME 1
#    endif
#  endif
#endif

#if defined(TL_HW_X86)
#  define TL_HW_ATTR __attribute__((target("sse4.2")))
#  define TL_HW8(c, v) ((uint32_t)_mm_crc32_u64((c), (v)))
#  define TL_HW1(c, b) _mm_crc32_u8((c), (b))
#elif defined(TL_HW_ARM)
#  define TL_HW_ATTR __attribute__((target("crc")))
#  if defined(__clang__)
#    define TL_HW8(c, v) __builtin_arm_crc32cd((c), (v))
#    define TL_HW1(c, b) __builtin_arm_crc32cb((c), (b))
#  else
#    define TL_HW8(c, v) __builtin_aarch64_crc32cx((c), (v))
#    define TL_HW1(c, b) __builtin_aarch64_crc32cb((c), (b))
#  endif
#endif

// ---------------------------------------------------------------------------
// Tables and one-time initialisation

static uint32_t tl_slice8[8][256];      // slicing-by-8 tables (portable path)
#if defined(TL_HW_ATTR)
static uint32_t tl_zeros_long[4][256];  // shift operator for TL_LONG zero bytes
static uint32_t tl_zeros_short[4][256]; // shift operator for TL_SHORT zero bytes
#endif
static int tl_hardware;                 // 1 when the instruction path is used

static atomic_int tl_init_state;        // 0 = not started, 1 = running, 2 = done

#if defined(TL_HW_ATTR)
// a * b modulo P, both in the reflected representation (x^0 is bit 31).
static uint32_t tl_multmodp(uint32_t a, uint32_t b) {
    uint32_t product = 0;
    for (int i = 31; i >= 0; i--) {
        if (a & (1u << i)) product ^= b;
        b = (b & 1) ? (b >> 1) ^ TL_POLY : b >> 1;
    }
    return product;
}

// x^(8 * bytes) modulo P.
static uint32_t tl_x8nmodp(size_t bytes) {
    uint32_t p = 1u << 31; // x^0
    for (size_t i = 0; i < 8 * bytes; i++) p = (p & 1) ? (p >> 1) ^ TL_POLY : p >> 1;
    return p;
}

static void tl_build_zeros(uint32_t table[4][256], size_t bytes) {
    uint32_t op = tl_x8nmodp(bytes);
    for (int k = 0; k < 4; k++)
        for (uint32_t v = 0; v < 256; v++) table[k][v] = tl_multmodp(op, v << (8 * k));
}
#endif

static int tl_detect_hardware(void) {
#if defined(TL_HW_X86)
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    return (ecx & bit_SSE4_2) != 0;
#elif defined(TL_HW_ARM)
#  if defined(__ARM_FEATURE_CRC32)
    return 1;
#  elif defined(TL_HAVE_GETAUXVAL)
    return (getauxval(AT_HWCAP) & (1UL << 7)) != 0; // HWCAP_CRC32
#  elif defined(TL_HAVE_SYSCTLBYNAME)
    int value = 0;
    size_t size = sizeof(value);
    if (sysctlbyname("hw.optional.armv8_crc32", &value, &size, NULL, 0) != 0) return 0;
    return value != 0;
#  else
    return 0;
#  endif
#else
    return 0;
#endif
}

static void tl_build_tables(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ TL_POLY : c >> 1;
        tl_slice8[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = tl_slice8[0][n];
        for (int k = 1; k < 8; k++) {
            c = tl_slice8[0][c & 0xff] ^ (c >> 8);
            tl_slice8[k][n] = c;
        }
    }
#if defined(TL_HW_ATTR)
    tl_build_zeros(tl_zeros_long, TL_LONG);
    tl_build_zeros(tl_zeros_short, TL_SHORT);
#endif
    tl_hardware = tl_detect_hardware();
}

static void tl_ensure_init(void) {
    if (atomic_load_explicit(&tl_init_state, memory_order_acquire) == 2) return;
    int expected = 0;
    if (atomic_compare_exchange_strong_explicit(&tl_init_state, &expected, 1,
                                                memory_order_acq_rel, memory_order_acquire)) {
        tl_build_tables();
        atomic_store_explicit(&tl_init_state, 2, memory_order_release);
        return;
    }
    // Another thread is building the tables (it takes microseconds).
    while (atomic_load_explicit(&tl_init_state, memory_order_acquire) != 2) {
    }
}

// ---------------------------------------------------------------------------
// Helpers

static inline uint64_t tl_load_le64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

#if defined(TL_HW_ATTR)
static inline uint32_t tl_shift(const uint32_t zeros[4][256], uint32_t crc) {
    return zeros[0][crc & 0xff] ^ zeros[1][(crc >> 8) & 0xff] ^ zeros[2][(crc >> 16) & 0xff] ^
           zeros[3][crc >> 24];
}
#endif

// ---------------------------------------------------------------------------
// Portable path: slicing-by-8. crc is the raw (inverted) register.

static uint32_t tl_crc_portable(uint32_t crc, const unsigned char *p, size_t n) {
    while (n >= 8) {
        uint64_t w = tl_load_le64(p) ^ crc;
        crc = tl_slice8[7][w & 0xff] ^ tl_slice8[6][(w >> 8) & 0xff] ^
              tl_slice8[5][(w >> 16) & 0xff] ^ tl_slice8[4][(w >> 24) & 0xff] ^
              tl_slice8[3][(w >> 32) & 0xff] ^ tl_slice8[2][(w >> 40) & 0xff] ^
              tl_slice8[1][(w >> 48) & 0xff] ^ tl_slice8[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--) crc = tl_slice8[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

// ---------------------------------------------------------------------------
// Hardware path. crc is the raw (inverted) register.


#if defined(TL_HW_ATTR)
TL_HW_ATTR static uint32_t tl_crc_hardware(uint32_t crc0, const unsigned char *p, size_t n) {
    // Align to 8 bytes so the wide loads do not straddle cache lines.
    while (n > 0 && ((uintptr_t)p & 7) != 0) {
        crc0 = TL_HW1(crc0, *p++);
        n--;
    }
    while (n >= 3 * (size_t)TL_LONG) {
        uint32_t crc1 = 0, crc2 = 0;
        const unsigned char *end = p + TL_LONG;
        do {
            crc0 = TL_HW8(crc0, tl_load_le64(p));
            crc1 = TL_HW8(crc1, tl_load_le64(p + TL_LONG));
            crc2 = TL_HW8(crc2, tl_load_le64(p + 2 * TL_LONG));
            p += 8;
        } while (p < end);
        crc0 = tl_shift(tl_zeros_long, crc0) ^ crc1;
        crc0 = tl_shift(tl_zeros_long, crc0) ^ crc2;
        p += 2 * TL_LONG;
        n -= 3 * (size_t)TL_LONG;
    }
    while (n >= 3 * (size_t)TL_SHORT) {
        uint32_t crc1 = 0, crc2 = 0;
        const unsigned char *end = p + TL_SHORT;
        do {
            crc0 = TL_HW8(crc0, tl_load_le64(p));
            crc1 = TL_HW8(crc1, tl_load_le64(p + TL_SHORT));
            crc2 = TL_HW8(crc2, tl_load_le64(p + 2 * TL_SHORT));
            p += 8;
        } while (p < end);
        crc0 = tl_shift(tl_zeros_short, crc0) ^ crc1;
        crc0 = tl_shift(tl_zeros_short, crc0) ^ crc2;
        p += 2 * TL_SHORT;
        n -= 3 * (size_t)TL_SHORT;
    }
    while (n >= 8) {
        crc0 = TL_HW8(crc0, tl_load_le64(p));
        p += 8;
        n -= 8;
    }
    while (n > 0) {
        crc0 = TL_HW1(crc0, *p++);
        n--;
    }
    return crc0;
}
#endif

// ---------------------------------------------------------------------------
// Public API

uint32_t tl_crc32c_extend(uint32_t crc, const void *data, size_t length) {
    if (length == 0) return crc;
    tl_ensure_init();
    const unsigned char *p = (const unsigned char *)data;
    uint32_t reg = ~crc;
#if defined(TL_HW_ATTR)
    if (tl_hardware) return ~tl_crc_hardware(reg, p, length);
#endif
    return ~tl_crc_portable(reg, p, length);
}

int tl_crc32c_uses_hardware(void) {
    tl_ensure_init();
#if defined(TL_HW_ATTR)
    return tl_hardware;
#else
    return 0;
#endif
}
