#ifndef TENSORLOG_CFUZZERDRIVER_H
#define TENSORLOG_CFUZZERDRIVER_H

#include <stddef.h>
#include <stdint.h>

// libFuzzer's driver (compiler-rt, LLVM 11+): runs the fuzzing loop with `callback` as the
// target. The fuzz executables call it from the entry point SwiftPM links as `main`.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
