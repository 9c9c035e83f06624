#ifndef TENSORLOG_CLZ4_SHIM_H
#define TENSORLOG_CLZ4_SHIM_H

// The LZ4 block API (LZ4_compress_default, LZ4_decompress_safe, LZ4_compressBound),
// from the system liblz4 found through pkg-config (apt: liblz4-dev).
#include <lz4.h>

#endif
