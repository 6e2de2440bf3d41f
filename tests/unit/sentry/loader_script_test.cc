// #! scripts, argument limits, and real binaries from the host.
#include "sentry/loader/loader.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sentry/loader/script.h"
#include "tests/unit/sentry/loader_test_util.h"

namespace sentry::loader {
namespace {

using base::Errno;
using ::testing::HasSubstr;
using namespace loader_test;  // NOLINT: test helpers

// #! scripts.

TEST_F(LoaderTest, ScriptWithArgumentRunsInterpreterWithRewrittenArgv) {
  AddFile("/bin/sh", StaticExec());
  AddFile("/bin/script", Bytes("#!/bin/sh -e  \necho hi\n"));
  args_.path = "/bin/script";
  args_.argv = {"script", "a", "b"};
  auto r = DoLoad();
  ASSERT_TRUE(r.ok()) << why_;
  EXPECT_EQ(r.value().exe_path, "/bin/sh");
  const Stack s = ReadStack(r.value().stack_pointer);
  EXPECT_EQ(s.argv, (std::vector<std::string>{"/bin/sh", "-e", "/bin/script", "a", "b"}));
  EXPECT_EQ(ReadString(s.auxv.at(AT_EXECFN)), "/bin/script");
}

TEST_F(LoaderTest, ScriptWithoutArgumentAndArgumentKeepsInnerSpaces) {
  AddFile("/bin/sh", StaticExec());
  AddFile("/s1", Bytes("#! \t/bin/sh\n"));
  AddFile("/s2", Bytes("#!/bin/sh  -x -y  z \t\n"));
  args_.path = "/s1";
  args_.argv = {"s1"};
  auto r = DoLoad();
  ASSERT_TRUE(r.ok()) << why_;
  EXPECT_EQ(ReadStack(r.value().stack_pointer).argv, (std::vector<std::string>{"/bin/sh", "/s1"}));

  SetUp();
  AddFile("/bin/sh", StaticExec());
  AddFile("/s2", Bytes("#!/bin/sh  -x -y  z \t\n"));
  args_.path = "/s2";
  args_.argv = {"s2"};
  r = DoLoad();
  ASSERT_TRUE(r.ok()) << why_;
  EXPECT_EQ(ReadStack(r.value().stack_pointer).argv, (std::vector<std::string>{"/bin/sh", "-x -y  z", "/s2"}));
}

TEST_F(LoaderTest, NestedScriptsUseEachInterpretersNameAsTheScriptPath) {
  AddFile("/bin/sh", StaticExec());
  AddFile("/outer", Bytes("#!/inner arg\n"));
  AddFile("/inner", Bytes("#!/bin/sh\n"));
  args_.path = "/outer";
  args_.argv = {"outer", "x"};
  auto r = DoLoad();
  ASSERT_TRUE(r.ok()) << why_;
  EXPECT_EQ(ReadStack(r.value().stack_pointer).argv,
            (std::vector<std::string>{"/bin/sh", "/inner", "arg", "/outer", "x"}));
}

TEST_F(LoaderTest, FiveScriptLevelsLoadAndSixFailWithEloop) {
  AddFile("/bin/sh", StaticExec());
  // /s1 -> /s2 -> ... -> /s5 -> /bin/sh.
  for (int i = 1; i <= 5; i++)
    AddFile(fmt::format("/s{}", i), Bytes(i == 5 ? "#!/bin/sh\n" : fmt::format("#!/s{}\n", i + 1)));
  args_.path = "/s1";
  auto r = DoLoad();
  ASSERT_TRUE(r.ok()) << why_;
  EXPECT_EQ(r.value().exe_path, "/bin/sh");

  AddFile("/s0", Bytes("#!/s1\n"));
  args_.path = "/s0";
  r = DoLoad();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kELOOP);
}

TEST_F(LoaderTest, SelfReferentialScriptFailsWithEloop) {
  AddFile("/loop", Bytes("#!/loop\n"));
  args_.path = "/loop";
  auto r = DoLoad();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kELOOP);
}

TEST_F(LoaderTest, ScriptWithMissingInterpreterFailsWithEnoent) {
  AddFile("/s", Bytes("#!/nope\n"));
  args_.path = "/s";
  auto r = DoLoad();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kENOENT);
  EXPECT_THAT(why_, HasSubstr("/nope"));
}

base::Result<internal::ScriptLine> Parse(std::string_view s) {
  std::string why;
  return internal::ParseScriptLine({reinterpret_cast<const uint8_t*>(s.data()), s.size()}, &why);
}

TEST(ScriptLine, ParsesLikeLinux) {
  auto l = Parse("#!/bin/sh\n");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l.value().interp, "/bin/sh");
  EXPECT_FALSE(l.value().arg);
  l = Parse("#!/usr/bin/env python3 -u\n");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l.value().interp, "/usr/bin/env");
  EXPECT_EQ(l.value().arg, "python3 -u");
  l = Parse("#!/bin/sh");  // no newline, file ends: the NUL padding ends the name
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l.value().interp, "/bin/sh");
}

TEST(ScriptLine, NoInterpreterIsEnoexec) {
  for (std::string_view s : {"#!\n", "#!   \n", "#! \t\n"}) {
    auto l = Parse(s);
    ASSERT_FALSE(l.ok()) << s;
    EXPECT_EQ(l.error(), Errno::kENOEXEC);
  }
}

// Without a newline the NUL padding is a terminator: Linux goes on with an
// empty interpreter name, which then fails to open.
TEST(ScriptLine, NoNewlineAndNoNameGivesAnEmptyInterpreter) {
  for (std::string_view s : {"#!", "#! \t"}) {
    auto l = Parse(s);
    ASSERT_TRUE(l.ok()) << s;
    EXPECT_EQ(l.value().interp, "");
  }
}

TEST_F(LoaderTest, ScriptWithEmptyInterpreterFailsWithEnoent) {
  AddFile("/s", Bytes("#!  "));
  AddFile("", StaticExec());  // an Opener that accepted "" must not matter
  args_.path = "/s";
  auto r = DoLoad();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kENOENT);
}

TEST(ScriptLine, InterpreterCutByTheBufferIsEnoexecButALongArgumentIsTruncated) {
  auto l = Parse("#!/" + std::string(300, 'a'));
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error(), Errno::kENOEXEC);

  l = Parse("#!/bin/sh " + std::string(300, 'b'));
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l.value().interp, "/bin/sh");
  // BINPRM_BUF_SIZE - 1 bytes examined, the last one replaced by the NUL.
  EXPECT_EQ(l.value().arg, std::string(kBinprmBufSize - 1 - 10, 'b'));
}

// Argument limits.

TEST_F(LoaderTest, ArgumentLongerThanMaxArgStrlenFailsWithE2big) {
  AddFile("/bin/prog", StaticExec());
  args_.argv.push_back(std::string(kMaxArgStrlen, 'x'));  // + NUL: one too many
  auto r = DoLoad();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kE2BIG);

  args_.argv.back().pop_back();
  r = DoLoad();
  EXPECT_TRUE(r.ok()) << why_;
}

TEST_F(LoaderTest, ArgumentsBeyondAQuarterOfTheStackLimitFailWithE2big) {
  AddFile("/bin/prog", StaticExec());
  args_.stack_rlimit = 1 << 20;  // 256 KiB for strings and pointers
  args_.envp.assign(3, std::string(100 << 10, 'e'));
  auto r = DoLoad();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kE2BIG);
  EXPECT_THAT(why_, HasSubstr("allowed"));

  args_.envp.resize(2);
  r = DoLoad();
  ASSERT_TRUE(r.ok()) << why_;
  EXPECT_EQ(ReadStack(r.value().stack_pointer).envp.size(), 2u);
}

// Real binaries from the host.

class HostFile : public mm::MappableFile {
 public:
  explicit HostFile(base::UniqueFd fd, std::string name) : fd_(std::move(fd)), name_(std::move(name)) {}
  base::Result<size_t> ReadAt(std::span<uint8_t> buf, uint64_t off) override {
    const ssize_t n = pread(fd_.get(), buf.data(), buf.size(), off);
    if (n < 0) return base::FromHost(errno);
    return static_cast<size_t>(n);
  }
  std::string MapsName() const override { return name_; }

 private:
  base::UniqueFd fd_;
  std::string name_;
};

base::Result<ExecFile> OpenHost(std::string_view path) {
  char real[PATH_MAX];
  if (realpath(std::string(path).c_str(), real) == nullptr) return base::FromHost(errno);
  base::UniqueFd fd(open(real, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return base::FromHost(errno);
  return ExecFile{std::make_shared<HostFile>(std::move(fd), real), real};
}

TEST_F(LoaderTest, LoadsHostBusybox) {
  if (access("/bin/busybox", R_OK) != 0) GTEST_SKIP() << "no /bin/busybox";
  args_.path = "/bin/busybox";
  args_.argv = {"busybox", "true"};
  auto r = Load(*mm_, OpenHost, args_, &why_);
  ASSERT_TRUE(r.ok()) << why_;
  EXPECT_EQ(r.value().interp_base, 0u);
  const Stack s = ReadStack(r.value().stack_pointer);
  // Entry is inside an executable mapping and equals AT_ENTRY.
  EXPECT_EQ(s.auxv.at(AT_ENTRY), r.value().entry);
  bool exec = false;
  for (const mm::VmaInfo& v : mm_->Vmas())
    if (v.start <= r.value().entry && r.value().entry < v.end) exec = (v.prot & PROT_EXEC) != 0;
  EXPECT_TRUE(exec);
  // AT_PHDR holds the file's program headers.
  auto phdr = mm_->CopyIn(mm::UserPtr<Elf64_Phdr>(s.auxv.at(AT_PHDR)));
  ASSERT_TRUE(phdr.ok());
  EXPECT_TRUE(phdr.value().p_type == PT_LOAD || phdr.value().p_type == PT_PHDR);
  EXPECT_GT(r.value().brk_start, r.value().entry);
}

TEST_F(LoaderTest, LoadsHostDynamicTrueWithItsInterpreter) {
  if (access("/bin/true", R_OK) != 0 || access("/lib64/ld-linux-x86-64.so.2", R_OK) != 0)
    GTEST_SKIP() << "no dynamic /bin/true";
  args_.path = "/bin/true";
  args_.argv = {"true"};
  auto r = Load(*mm_, OpenHost, args_, &why_);
  ASSERT_TRUE(r.ok()) << why_;
  const uint64_t base = r.value().interp_base;
  ASSERT_NE(base, 0u);
  // ld.so starts at its own entry; the program's entry is in AT_ENTRY.
  auto ld_ehdr = mm_->CopyIn(mm::UserPtr<Elf64_Ehdr>(base));
  ASSERT_TRUE(ld_ehdr.ok());
  EXPECT_EQ(std::memcmp(ld_ehdr.value().e_ident, ELFMAG, SELFMAG), 0);
  EXPECT_EQ(r.value().entry, base + ld_ehdr.value().e_entry);
  const Stack s = ReadStack(r.value().stack_pointer);
  EXPECT_EQ(s.auxv.at(AT_BASE), base);
  auto ehdr = mm_->CopyIn(mm::UserPtr<Elf64_Ehdr>(r.value().load_bias));
  ASSERT_TRUE(ehdr.ok());
  EXPECT_EQ(s.auxv.at(AT_ENTRY), r.value().load_bias + ehdr.value().e_entry);
  EXPECT_EQ(s.auxv.at(AT_PHNUM), ehdr.value().e_phnum);
  auto phdr = mm_->CopyIn(mm::UserPtr<Elf64_Phdr>(s.auxv.at(AT_PHDR)));
  ASSERT_TRUE(phdr.ok());
  EXPECT_EQ(phdr.value().p_type, uint32_t{PT_PHDR});
  EXPECT_EQ(r.value().load_bias, kElfEtDynBase);
}

}  // namespace
}  // namespace sentry::loader
