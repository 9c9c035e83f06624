#ifndef TENSORLOG_CCRC32C_H
#define TENSORLOG_CCRC32C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Extends a CRC32C (Castagnoli, reflected poly 0x82F63B78) over data. Start with crc = 0; the result of
/// tl_crc32c_extend(0, "123456789", 9) is 0xE3069283. Same contract as LevelDB's crc32c::Extend.
uint32_t tl_crc32c_extend(uint32_t crc, const void *data, size_t length);

/// 1 when the hardware instruction path is used on this CPU, 0 for the portable table path.
int tl_crc32c_uses_hardware(void);

#ifdef __cplusplus
}
#endif

#endif
