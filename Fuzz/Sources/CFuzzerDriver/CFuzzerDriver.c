// Declarations only (see include/CFuzzerDriver.h); the driver is in libclang_rt.fuzzer.
#include "CFuzzerDriver.h"
