// Fuzz targets: each tests/fuzz/*_fuzz.cc defines the libFuzzer entry point
// LLVMFuzzerTestOneInput and a seed corpus (FuzzSeeds). Built with g++ they
// link fuzz_driver.cc, a seeded random mutator (see README.md); built with
// clang they can link libFuzzer instead (-fsanitize=fuzzer).
#ifndef TESTS_FUZZ_FUZZ_H_
#define TESTS_FUZZ_FUZZ_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

// Valid (or nearly valid) inputs the driver mutates; also the tokens it
// splices in. Defined by each target.
std::vector<std::string> FuzzSeeds();

// A property the target checks on every input: a violation aborts, which the
// driver reports with the seed and iteration that reproduce it.
#define FUZZ_CHECK(cond)                                                              \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

#endif  // TESTS_FUZZ_FUZZ_H_
