#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "syscalls/compat_doc.h"
#include "syscalls/syscall.h"

namespace syscalls {
namespace {

TEST(SyscallTable, EntriesSitAtTheirOwnNumber) {
  auto t = Table();
  for (size_t i = 0; i < t.size(); ++i) EXPECT_EQ(t[i].nr, static_cast<int>(i));
}

TEST(SyscallTable, NamesAreUnique) {
  std::set<std::string_view> seen;
  for (const auto& e : Table()) {
    if (e.name.empty()) continue;
    EXPECT_TRUE(seen.insert(e.name).second) << e.name;
  }
}

TEST(SyscallTable, NumbersMatchTheX8664Abi) {
  EXPECT_EQ(Lookup(0)->name, "read");
  EXPECT_EQ(Lookup(1)->name, "write");
  EXPECT_EQ(Lookup(39)->name, "getpid");
  EXPECT_EQ(Lookup(59)->name, "execve");
  EXPECT_EQ(Lookup(231)->name, "exit_group");
  EXPECT_EQ(Lookup(257)->name, "openat");
  EXPECT_EQ(Lookup(435)->name, "clone3");
}

TEST(SyscallTable, UnknownNumbersHaveNoEntry) {
  EXPECT_EQ(Lookup(~0ull), nullptr);
  EXPECT_EQ(Lookup(100000), nullptr);
  EXPECT_EQ(Lookup(335), nullptr);  // the hole between rseq and pidfd_send_signal
}

TEST(SyscallTable, SupportLevelAgreesWithHandler) {
  for (const auto& e : Table()) {
    if (e.name.empty()) continue;
    if (e.support == Support::kNone) {
      EXPECT_EQ(e.fn, nullptr) << e.name;
    } else {
      EXPECT_NE(e.fn, nullptr) << e.name;
    }
    if (e.support == Support::kPartial) {
      EXPECT_FALSE(e.note.empty()) << e.name << " is partial without a note";
    }
  }
}

TEST(SyscallTable, RseqIsUnsupportedSoLibcFallsBack) {
  const SyscallEntry* e = Lookup(334);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->name, "rseq");
  EXPECT_EQ(e->fn, nullptr);
}

TEST(CompatibilityDoc, CheckedInCopyMatchesTheTable) {
  const char* src = std::getenv("SOURCE_DIR");
  ASSERT_NE(src, nullptr) << "meson sets SOURCE_DIR";
  std::ifstream f(std::string(src) + "/docs/compatibility.md");
  ASSERT_TRUE(f.good()) << "docs/compatibility.md missing";
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_EQ(ss.str(), CompatibilityMarkdown())
      << "regenerate: build/runsc/runsc compat-doc > docs/compatibility.md";
}

}  // namespace
}  // namespace syscalls
