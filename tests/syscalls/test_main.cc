// main() for the GoogleTest syscall tests: like gtest_main, but keeps argv[0]
// for tests about the running binary (readlink("/proc/self/exe")).
#include <gtest/gtest.h>

#include "util.h"

int main(int argc, char** argv) {
  syscall_test::SetArgv0(argv[0]);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
