// /proc, /sys and /dev files that ps, top, free, glibc and python parse.
// Runs natively too, so these assert formats and invariants, not values.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string line; std::getline(ss, line);) out.push_back(line);
  return out;
}

// "Key:   value kB" files (meminfo, status) as key -> value text.
std::map<std::string, std::string> KeyValues(const std::string& s) {
  std::map<std::string, std::string> m;
  for (const std::string& line : Lines(s)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string v = line.substr(colon + 1);
    v.erase(0, v.find_first_not_of(" \t"));
    m[line.substr(0, colon)] = v;
  }
  return m;
}

std::set<std::string> DirNames(const std::string& path) {
  std::set<std::string> names;
  DIR* d = opendir(path.c_str());
  if (d == nullptr) return names;
  while (dirent* e = readdir(d)) names.insert(e->d_name);
  closedir(d);
  return names;
}

TEST(ProcFilesTest, MeminfoHasTheFieldsFreeReads) {
  const std::string text = ReadFile("/proc/meminfo");
  const std::regex line(R"(^[A-Za-z0-9_()]+: +[0-9]+( kB)?$)");
  for (const std::string& l : Lines(text)) EXPECT_TRUE(std::regex_match(l, line)) << l;
  auto kv = KeyValues(text);
  for (const char* k : {"MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapTotal", "SwapFree", "Shmem"}) {
    EXPECT_TRUE(kv.count(k)) << k;
  }
  EXPECT_EQ(Lines(text).at(0).substr(0, 9), "MemTotal:");
  const uint64_t total = std::stoull(kv["MemTotal"]), free = std::stoull(kv["MemFree"]);
  EXPECT_GT(total, 0u);
  EXPECT_LE(free, total);
  struct sysinfo si {};
  ASSERT_EQ(sysinfo(&si), 0);
  // sysinfo and meminfo describe the same memory (within rounding).
  EXPECT_EQ(static_cast<uint64_t>(si.totalram) * si.mem_unit / 1024, total);
}

TEST(ProcFilesTest, StatCpuLinesCountTheOnlineCpus) {
  const std::vector<std::string> lines = Lines(ReadFile("/proc/stat"));
  ASSERT_FALSE(lines.empty());
  const std::regex cpu(R"(^cpu[0-9]* +[0-9]+( [0-9]+){6,9}$)");
  EXPECT_TRUE(std::regex_match(lines[0], cpu)) << lines[0];
  EXPECT_EQ(lines[0].substr(0, 4), "cpu ");
  int cpus = 0;
  bool btime = false, processes = false;
  for (const std::string& l : lines) {
    if (l.rfind("cpu", 0) == 0 && l[3] != ' ') {
      EXPECT_TRUE(std::regex_match(l, cpu)) << l;
      ++cpus;
    }
    btime |= l.rfind("btime ", 0) == 0;
    processes |= l.rfind("processes ", 0) == 0;
  }
  EXPECT_TRUE(btime);
  EXPECT_TRUE(processes);
  EXPECT_EQ(cpus, get_nprocs());
}

TEST(ProcFilesTest, UptimeAndLoadavgFormats) {
  EXPECT_TRUE(std::regex_match(ReadFile("/proc/uptime"), std::regex(R"([0-9]+\.[0-9]{2} [0-9]+\.[0-9]{2}\n)")));
  EXPECT_TRUE(std::regex_match(ReadFile("/proc/loadavg"),
                               std::regex(R"(([0-9]+\.[0-9]{2} ){3}[0-9]+/[0-9]+ [0-9]+\n)")));
}

TEST(ProcFilesTest, CpuinfoHasOneProcessorPerCpu) {
  int processors = 0;
  for (const std::string& l : Lines(ReadFile("/proc/cpuinfo"))) {
    if (l.rfind("processor", 0) == 0) ++processors;
  }
  EXPECT_EQ(processors, get_nprocs());
}

TEST(ProcFilesTest, SysCpuOnlineMatchesGetNprocs) {
  const std::string online = ReadFile("/sys/devices/system/cpu/online");
  ASSERT_TRUE(std::regex_match(online, std::regex(R"([0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*\n)"))) << online;
  EXPECT_GE(get_nprocs(), 1);
  EXPECT_TRUE(DirNames("/sys/devices/system/cpu").count("cpu0"));
  EXPECT_EQ(sysconf(_SC_NPROCESSORS_ONLN), get_nprocs());
}

TEST(ProcFilesTest, VersionAndSysKernelMatchUname) {
  struct utsname u {};
  ASSERT_EQ(uname(&u), 0);
  EXPECT_EQ(ReadFile("/proc/sys/kernel/osrelease"), std::string(u.release) + "\n");
  EXPECT_EQ(ReadFile("/proc/sys/kernel/ostype"), "Linux\n");
  EXPECT_EQ(ReadFile("/proc/sys/kernel/hostname"), std::string(u.nodename) + "\n");
  EXPECT_EQ(ReadFile("/proc/version").rfind(std::string("Linux version ") + u.release, 0), 0u);
  EXPECT_TRUE(std::regex_match(ReadFile("/proc/sys/kernel/random/boot_id"),
                               std::regex(R"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n)")));
  EXPECT_NE(ReadFile("/proc/sys/kernel/random/uuid"), ReadFile("/proc/sys/kernel/random/uuid"));
  for (const char* f : {"/proc/sys/kernel/pid_max", "/proc/sys/kernel/ngroups_max", "/proc/sys/kernel/cap_last_cap",
                        "/proc/sys/vm/overcommit_memory", "/proc/sys/vm/max_map_count", "/proc/sys/fs/file-max",
                        "/proc/sys/fs/nr_open", "/proc/sys/fs/pipe-max-size"}) {
    EXPECT_TRUE(std::regex_match(ReadFile(f), std::regex(R"([0-9]+\n)"))) << f;
  }
  EXPECT_GE(std::stol(ReadFile("/proc/sys/fs/pipe-max-size")), 4096);
}

TEST(ProcFilesTest, PidStatHas52FieldsAndOurIds) {
  const std::string s = ReadFile("/proc/self/stat");
  const size_t close = s.rfind(')');
  ASSERT_NE(close, std::string::npos);
  std::stringstream rest(s.substr(close + 2));
  std::vector<std::string> f;
  for (std::string x; rest >> x;) f.push_back(x);
  ASSERT_EQ(f.size() + 2, 52u) << s;
  EXPECT_EQ(std::stoi(s), getpid());
  EXPECT_EQ(f[0], "R");                          // state: the reader runs
  EXPECT_EQ(std::stoi(f[1]), getppid());        // ppid
  EXPECT_EQ(std::stoi(f[2]), getpgrp());        // pgrp
  EXPECT_EQ(std::stoi(f[17]), 1);               // num_threads
  EXPECT_GT(std::stoull(f[20]), 0u);            // vsize
}

TEST(ProcFilesTest, StatusShowsIdsMemoryAndThreads) {
  auto kv = KeyValues(ReadFile("/proc/self/status"));
  EXPECT_EQ(std::stoi(kv["Pid"]), getpid());
  EXPECT_EQ(std::stoi(kv["PPid"]), getppid());
  EXPECT_EQ(kv["Threads"], "1");
  EXPECT_TRUE(std::regex_match(kv["VmRSS"], std::regex("[0-9]+ kB")));
  EXPECT_TRUE(std::regex_match(kv["VmSize"], std::regex("[0-9]+ kB")));
  EXPECT_TRUE(std::regex_match(kv["SigBlk"], std::regex("[0-9a-f]{16}")));
  EXPECT_TRUE(kv.count("Cpus_allowed_list"));
  EXPECT_TRUE(std::regex_match(ReadFile("/proc/self/statm"), std::regex(R"([0-9]+( [0-9]+){6}\n)")));
}

TEST(ProcFilesTest, TaskDirListsEveryThread) {
  pthread_t th;
  static int go = 0;
  ASSERT_EQ(pthread_create(&th, nullptr, [](void*) -> void* {
    while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE)) usleep(1000);
    return nullptr;
  }, nullptr), 0);
  std::set<std::string> tasks = DirNames("/proc/self/task");
  const std::string tid = std::to_string(syscall(SYS_gettid));
  EXPECT_TRUE(tasks.count(std::to_string(getpid())));
  EXPECT_EQ(tasks.size(), 4u);  // ".", "..", two threads
  auto kv = KeyValues(ReadFile("/proc/self/status"));
  EXPECT_EQ(kv["Threads"], "2");
  char link[64] = {};
  ASSERT_GT(readlink("/proc/thread-self", link, sizeof(link) - 1), 0);
  EXPECT_EQ(std::string(link), std::to_string(getpid()) + "/task/" + tid);
  auto tkv = KeyValues(ReadFile("/proc/thread-self/status"));
  EXPECT_EQ(tkv["Pid"], tid);
  EXPECT_EQ(std::stoi(tkv["Tgid"]), getpid());
  __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
  pthread_join(th, nullptr);
}

TEST(ProcFilesTest, MapsShowsTheStackAndSmapsItsSize) {
  const std::string maps = ReadFile("/proc/self/maps");
  EXPECT_NE(maps.find("[stack]"), std::string::npos);
  const std::regex line(R"(^[0-9a-f]+-[0-9a-f]+ [r-][w-][x-][ps] [0-9a-f]{8} [0-9a-f]{2,}:[0-9a-f]{2,} [0-9]+ *.*$)");
  for (const std::string& l : Lines(maps)) EXPECT_TRUE(std::regex_match(l, line)) << l;
  const std::string smaps = ReadFile("/proc/self/smaps");
  EXPECT_NE(smaps.find("[stack]"), std::string::npos);
  EXPECT_TRUE(std::regex_search(smaps, std::regex(R"(\nSize: +[0-9]+ kB\n)")));
  EXPECT_TRUE(std::regex_search(smaps, std::regex(R"(\nRss: +[0-9]+ kB\n)")));
  EXPECT_TRUE(std::regex_search(smaps, std::regex(R"(\nVmFlags: [a-z ]+\n)")));
}

TEST(ProcFilesTest, EnvironHoldsOurEnvironment) {
  setenv("PROC_FILES_TEST_UNUSED", "x", 1);  // after exec: not in environ
  const std::string env = ReadFile("/proc/self/environ");
  ASSERT_FALSE(env.empty());
  EXPECT_EQ(env.back(), '\0');
  EXPECT_EQ(env.find("PROC_FILES_TEST_UNUSED"), std::string::npos);
  const char* path = getenv("PATH");
  if (path != nullptr) {
    EXPECT_NE(env.find(std::string("PATH=") + path), std::string::npos);
  }
}

TEST(ProcFilesTest, LimitsMatchGetrlimit) {
  const std::vector<std::string> lines = Lines(ReadFile("/proc/self/limits"));
  ASSERT_GE(lines.size(), 17u);
  EXPECT_EQ(lines[0].rfind("Limit                     Soft Limit           Hard Limit           Units", 0), 0u);
  struct rlimit r {};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &r), 0);
  const std::string want = "Max open files            " + std::to_string(r.rlim_cur);
  bool found = false;
  for (const std::string& l : lines) found |= l.rfind(want, 0) == 0;
  EXPECT_TRUE(found) << want;
}

TEST(ProcFilesTest, FdinfoShowsOffsetAndFlags) {
  const int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  char buf[10];
  ASSERT_EQ(read(fd, buf, sizeof(buf)), 10);
  auto kv = KeyValues(ReadFile("/proc/self/fdinfo/" + std::to_string(fd)));
  EXPECT_EQ(kv["pos"], "10");
  EXPECT_TRUE(std::stoul(kv["flags"], nullptr, 8) & O_CLOEXEC);
  EXPECT_TRUE(DirNames("/proc/self/fdinfo").count(std::to_string(fd)));
  close(fd);
}

TEST(ProcFilesTest, MountsListProcAndRoot) {
  bool root = false, proc = false;
  for (const std::string& l : Lines(ReadFile("/proc/self/mounts"))) {
    std::stringstream ss(l);
    std::string src, point, type, opts, a, b;
    ASSERT_TRUE(static_cast<bool>(ss >> src >> point >> type >> opts >> a >> b)) << l;
    root |= point == "/";
    proc |= point == "/proc" && type == "proc";
  }
  EXPECT_TRUE(root);
  EXPECT_TRUE(proc);
  const std::regex info(R"(^[0-9]+ [0-9]+ [0-9]+:[0-9]+ /\S* /\S* \S+( \S+:\S+)* - \S+ \S+ \S+$)");
  for (const std::string& l : Lines(ReadFile("/proc/self/mountinfo"))) EXPECT_TRUE(std::regex_match(l, info)) << l;
  EXPECT_EQ(ReadFile("/proc/mounts"), ReadFile("/proc/self/mounts"));
}

TEST(ProcFilesTest, SmallPerProcessFiles) {
  EXPECT_TRUE(std::regex_match(ReadFile("/proc/self/oom_score_adj"), std::regex(R"(-?[0-9]+\n)")));
  EXPECT_TRUE(std::regex_match(ReadFile("/proc/self/cgroup"), std::regex(R"(([0-9]+:[^\n]*\n)+)")));
  EXPECT_TRUE(std::regex_match(ReadFile("/proc/self/comm"), std::regex("proc_files_test\n")));
}

TEST(DevFilesTest, FullNullZeroAndFdLinks) {
  const int full = open("/dev/full", O_WRONLY);
  ASSERT_GE(full, 0);
  errno = 0;
  EXPECT_EQ(write(full, "x", 1), -1);
  EXPECT_EQ(errno, ENOSPC);
  close(full);
  const int zero = open("/dev/zero", O_RDONLY);
  char b[4] = {1, 1, 1, 1};
  EXPECT_EQ(read(zero, b, 4), 4);
  EXPECT_EQ(b[0] | b[1] | b[2] | b[3], 0);
  close(zero);
  const int null = open("/dev/null", O_RDWR);
  EXPECT_EQ(write(null, "abc", 3), 3);
  EXPECT_EQ(read(null, b, 4), 0);
  close(null);
  char link[64] = {};
  ASSERT_GT(readlink("/dev/fd", link, sizeof(link) - 1), 0);
  EXPECT_EQ(std::string(link), "/proc/self/fd");
  struct stat st {};
  ASSERT_EQ(stat("/dev/urandom", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(major(st.st_rdev), 1u);
  EXPECT_EQ(minor(st.st_rdev), 9u);
  ASSERT_EQ(stat("/dev/shm", &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  ASSERT_EQ(stat("/dev/pts", &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  const std::set<std::string> dev = DirNames("/dev");
  for (const char* n : {"null", "zero", "full", "random", "urandom", "tty", "fd", "stdin", "stdout", "stderr", "shm",
                        "ptmx", "pts"}) {
    EXPECT_TRUE(dev.count(n)) << n;
  }
}

}  // namespace
