/* fuzz.h — shared bits of the fuzz targets. A target checks results, not only
 * crashes: RR_FUZZ_CHECK aborts (a finding) when a property does not hold. */
#ifndef RR_FUZZ_H
#define RR_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#define RR_FUZZ_TARGET(name) const char *rr_fuzz_name = #name

#define RR_FUZZ_CHECK(cond)                                                        \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "fuzz check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                               \
        }                                                                          \
    } while (0)

#endif
