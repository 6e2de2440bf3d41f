// System-wide /proc files, formatted as Linux prints them (fs/proc/meminfo.c,
// stat.c, uptime.c, loadavg.c, arch/x86/kernel/cpu/proc.c) but describing
// the sandbox: its memory budget (--total-memory) and use, its virtual
// CPUs (sentry::kernel::NumCpus), its tasks' CPU times and its boot time.
// Nothing here reads the host's /proc (the sentry opens no host path).
#include <cpuid.h>
#include <fcntl.h>
#include <sys/random.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <functional>
#include <optional>
#include <cstring>

#include "absl/container/flat_hash_set.h"
#include "fs/proc_internal.h"
#include "sentry/ipc/ipc_namespace.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/rusage.h"
#include "sentry/kernel/task.h"
#include <fmt/format.h>

namespace fs::proc {
namespace {

// What uname(2) says (syscalls/process.cc Uname): a fixed release.
constexpr std::string_view kRelease = "6.1.0";
constexpr std::string_view kVersion = "#1 SMP runsc-cpp";

std::string RandomUuid() {
  std::array<uint8_t, 16> b{};
  if (getrandom(b.data(), b.size(), 0) != static_cast<ssize_t>(b.size())) b.fill(0x42);
  b[6] = (b[6] & 0x0f) | 0x40;  // version 4
  b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
  return fmt::format("{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}\n",
                     b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                     b[15]);
}

// ---- Memory (fs/proc/meminfo.c show_val_kb: 16-column label, 8-wide kB).

struct MemCounts {
  uint64_t total = 0, used = 0, file = 0;
};

MemCounts Memory(const Caller& c) {
  MemCounts m;
  if (c.kernel == nullptr) {
    m.total = 64ull << 30;
    return m;
  }
  auto& mf = c.kernel->memory_file();
  m.total = mf.capacity();
  m.used = std::min(mf.committed(), m.total);
  m.file = std::min(mf.file_data(), m.used);
  return m;
}

std::string MeminfoText(const Caller& c) {
  const MemCounts m = Memory(c);
  const uint64_t total = m.total >> 10, free = (m.total - m.used) >> 10, shmem = m.file >> 10;
  const uint64_t anon = (m.used - m.file) >> 10;
  std::string s;
  auto kb = [&s](std::string_view name, uint64_t v) { s += fmt::format("{:<16}{:>8} kB\n", fmt::format("{}:", name), v); };
  kb("MemTotal", total);
  kb("MemFree", free);
  kb("MemAvailable", free);
  kb("Buffers", 0);
  kb("Cached", shmem);  // tmpfs and memfd data, which Linux counts as cache
  kb("SwapCached", 0);
  kb("Active", anon + shmem);
  kb("Inactive", 0);
  kb("Active(anon)", anon + shmem);
  kb("Inactive(anon)", 0);
  kb("Active(file)", 0);
  kb("Inactive(file)", 0);
  kb("Unevictable", 0);
  kb("Mlocked", 0);
  kb("SwapTotal", 0);
  kb("SwapFree", 0);
  kb("Dirty", 0);
  kb("Writeback", 0);
  kb("AnonPages", anon);
  kb("Mapped", 0);
  kb("Shmem", shmem);
  kb("KReclaimable", 0);
  kb("Slab", 0);
  kb("SReclaimable", 0);
  kb("SUnreclaim", 0);
  kb("KernelStack", 0);
  kb("PageTables", 0);
  kb("NFS_Unstable", 0);
  kb("Bounce", 0);
  kb("WritebackTmp", 0);
  kb("CommitLimit", total);
  kb("Committed_AS", anon + shmem);
  kb("VmallocTotal", 34359738367);
  kb("VmallocUsed", 0);
  kb("VmallocChunk", 0);
  kb("Percpu", 0);
  s += "HugePages_Total:       0\nHugePages_Free:        0\nHugePages_Rsvd:        0\nHugePages_Surp:        0\n";
  kb("Hugepagesize", 2048);
  kb("Hugetlb", 0);
  return s;
}

// ---- CPU time: the sandbox's tasks' times, the rest of uptime idle.

struct CpuTotals {
  uint64_t user = 0, system = 0, idle = 0;  // ticks, all CPUs
  double uptime = 0;                       // seconds
  int running = 0, tasks = 0;
  int32_t last_pid = 0;
};

CpuTotals Totals(const Caller& c) {
  CpuTotals t;
  if (c.kernel == nullptr) return t;
  const int64_t up_ns = absl::ToInt64Nanoseconds(absl::Now() - c.kernel->boot_time());
  t.uptime = static_cast<double>(up_ns) / 1e9;
  int64_t user = 0, sys = 0;
  absl::flat_hash_set<const sentry::kernel::ThreadGroup*> groups;
  c.kernel->ForEachTask([&](sentry::kernel::Task& task) {
    ++t.tasks;
    if (!task.times_folded.load()) {
      const sentry::kernel::CpuTimes x = sentry::kernel::TaskTimes(task);
      user += x.utime_ns, sys += x.stime_ns;
    }
    const sentry::kernel::ThreadGroup& tg = task.thread_group();
    t.last_pid = std::max(t.last_pid, task.tid());
    if (groups.insert(&tg).second) {
      // Finished threads and reaped children of live processes.
      user += tg.dead_utime_ns.load() + tg.child_utime_ns.load();
      sys += tg.dead_stime_ns.load() + tg.child_stime_ns.load();
    }
  });
  // A process that exits takes its times with it unless a live parent
  // reaped it: keep the sums monotonic, as top's deltas expect.
  static std::atomic<int64_t> max_user{0}, max_sys{0};
  int64_t prev = max_user.load();
  while (prev < user && !max_user.compare_exchange_weak(prev, user)) {}
  prev = max_sys.load();
  while (prev < sys && !max_sys.compare_exchange_weak(prev, sys)) {}
  user = std::max(user, max_user.load());
  sys = std::max(sys, max_sys.load());
  t.user = NsToTicks(user);
  t.system = NsToTicks(sys);
  const uint64_t all = NsToTicks(up_ns) * static_cast<uint64_t>(sentry::kernel::NumCpus());
  t.idle = all > t.user + t.system ? all - t.user - t.system : 0;
  t.running = 1;  // the reader
  return t;
}

std::string StatText(const Caller& c) {
  const CpuTotals t = Totals(c);
  const uint64_t n = static_cast<uint64_t>(sentry::kernel::NumCpus());
  auto line = [](std::string_view name, uint64_t u, uint64_t s, uint64_t i) {
    return fmt::format("{} {} 0 {} {} 0 0 0 0 0 0\n", name, u, s, i);
  };
  std::string s = line("cpu ", t.user, t.system, t.idle);
  for (uint64_t i = 0; i < n; ++i) {
    // Evenly spread: the sentry does not track which CPU ran what.
    s += line(fmt::format("cpu{}", i), t.user / n, t.system / n, t.idle / n);
  }
  const int64_t btime = c.kernel != nullptr ? absl::ToUnixSeconds(c.kernel->boot_time()) : 0;
  s += fmt::format("intr 0\nctxt 0\nbtime {}\nprocesses {}\nprocs_running {}\nprocs_blocked 0\n", btime, t.last_pid,
                   t.running);
  s += "softirq 0 0 0 0 0 0 0 0 0 0 0\n";
  return s;
}

// ---- /proc/cpuinfo from the host CPU's CPUID (what the app's own cpuid
// instruction sees anyway), one block per virtual CPU.

std::string CpuFlags() {
  struct Bit {
    unsigned leaf, sub;
    char reg;  // 'b', 'c', 'd'
    int bit;
    const char* name;
  };
  static constexpr Bit kBits[] = {
      {1, 0, 'd', 0, "fpu"},      {1, 0, 'd', 1, "vme"},       {1, 0, 'd', 2, "de"},        {1, 0, 'd', 3, "pse"},
      {1, 0, 'd', 4, "tsc"},      {1, 0, 'd', 5, "msr"},       {1, 0, 'd', 6, "pae"},       {1, 0, 'd', 7, "mce"},
      {1, 0, 'd', 8, "cx8"},      {1, 0, 'd', 9, "apic"},      {1, 0, 'd', 11, "sep"},      {1, 0, 'd', 12, "mtrr"},
      {1, 0, 'd', 13, "pge"},     {1, 0, 'd', 14, "mca"},      {1, 0, 'd', 15, "cmov"},     {1, 0, 'd', 16, "pat"},
      {1, 0, 'd', 17, "pse36"},   {1, 0, 'd', 19, "clflush"},  {1, 0, 'd', 23, "mmx"},      {1, 0, 'd', 24, "fxsr"},
      {1, 0, 'd', 25, "sse"},     {1, 0, 'd', 26, "sse2"},     {1, 0, 'd', 28, "ht"},       {0x80000001, 0, 'd', 11, "syscall"},
      {0x80000001, 0, 'd', 20, "nx"}, {0x80000001, 0, 'd', 26, "pdpe1gb"}, {0x80000001, 0, 'd', 27, "rdtscp"},
      {0x80000001, 0, 'd', 29, "lm"}, {1, 0, 'c', 0, "pni"},   {1, 0, 'c', 1, "pclmulqdq"}, {1, 0, 'c', 9, "ssse3"},
      {1, 0, 'c', 12, "fma"},     {1, 0, 'c', 13, "cx16"},     {1, 0, 'c', 19, "sse4_1"},   {1, 0, 'c', 20, "sse4_2"},
      {1, 0, 'c', 22, "movbe"},   {1, 0, 'c', 23, "popcnt"},   {1, 0, 'c', 25, "aes"},      {1, 0, 'c', 26, "xsave"},
      {1, 0, 'c', 28, "avx"},     {1, 0, 'c', 29, "f16c"},     {1, 0, 'c', 30, "rdrand"},   {1, 0, 'c', 31, "hypervisor"},
      {0x80000001, 0, 'c', 0, "lahf_lm"}, {0x80000001, 0, 'c', 5, "abm"}, {0x80000001, 0, 'c', 8, "3dnowprefetch"},
      {7, 0, 'b', 0, "fsgsbase"}, {7, 0, 'b', 3, "bmi1"},      {7, 0, 'b', 5, "avx2"},      {7, 0, 'b', 7, "smep"},
      {7, 0, 'b', 8, "bmi2"},     {7, 0, 'b', 9, "erms"},      {7, 0, 'b', 10, "invpcid"},  {7, 0, 'b', 16, "avx512f"},
      {7, 0, 'b', 17, "avx512dq"}, {7, 0, 'b', 18, "rdseed"},  {7, 0, 'b', 19, "adx"},      {7, 0, 'b', 20, "smap"},
      {7, 0, 'b', 23, "clflushopt"}, {7, 0, 'b', 24, "clwb"},  {7, 0, 'b', 28, "avx512cd"}, {7, 0, 'b', 29, "sha_ni"},
      {7, 0, 'b', 30, "avx512bw"}, {7, 0, 'b', 31, "avx512vl"}, {7, 0, 'c', 1, "avx512vbmi"}, {7, 0, 'c', 8, "gfni"},
      {7, 0, 'c', 9, "vaes"},     {7, 0, 'c', 10, "vpclmulqdq"},
  };
  const unsigned max_basic = __get_cpuid_max(0, nullptr), max_ext = __get_cpuid_max(0x80000000, nullptr);
  std::string out;
  for (const Bit& b : kBits) {
    if ((b.leaf < 0x80000000 && b.leaf > max_basic) || (b.leaf >= 0x80000000 && b.leaf > max_ext)) continue;
    unsigned a = 0, rb = 0, rc = 0, rd = 0;
    __cpuid_count(b.leaf, b.sub, a, rb, rc, rd);
    const unsigned r = b.reg == 'b' ? rb : b.reg == 'c' ? rc : rd;
    if (r & (1u << b.bit)) {
      if (!out.empty()) out += ' ';
      out += b.name;
    }
  }
  return out;
}

std::string CpuinfoText() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  __cpuid(0, a, b, c, d);
  char vendor[13] = {};
  std::memcpy(vendor, &b, 4);
  std::memcpy(vendor + 4, &d, 4);
  std::memcpy(vendor + 8, &c, 4);
  const unsigned max_basic = a;
  __cpuid(1, a, b, c, d);
  unsigned family = (a >> 8) & 0xf, model = (a >> 4) & 0xf;
  const unsigned stepping = a & 0xf;
  if (family == 0xf) family += (a >> 20) & 0xff;
  if (family >= 6) model += ((a >> 16) & 0xf) << 4;
  std::string name;
  if (__get_cpuid_max(0x80000000, nullptr) >= 0x80000004) {
    char brand[49] = {};
    for (unsigned leaf = 0; leaf < 3; ++leaf) {
      unsigned r[4];
      __cpuid(0x80000002 + leaf, r[0], r[1], r[2], r[3]);
      std::memcpy(brand + leaf * 16, r, 16);
    }
    name = brand;
    while (!name.empty() && name.back() == ' ') name.pop_back();
    name.erase(0, name.find_first_not_of(' '));
  }
  if (name.empty()) name = "Virtual CPU";
  const std::string flags = CpuFlags();
  const int n = sentry::kernel::NumCpus();
  std::string s;
  for (int i = 0; i < n; ++i) {
    s += fmt::format(
        "processor\t: {}\nvendor_id\t: {}\ncpu family\t: {}\nmodel\t\t: {}\nmodel name\t: {}\nstepping\t: {}\n"
        "cpu MHz\t\t: 2000.000\ncache size\t: 8192 KB\nphysical id\t: 0\nsiblings\t: {}\ncore id\t\t: {}\n"
        "cpu cores\t: {}\napicid\t\t: {}\ninitial apicid\t: {}\nfpu\t\t: yes\nfpu_exception\t: yes\n"
        "cpuid level\t: {}\nwp\t\t: yes\nflags\t\t: {}\nbugs\t\t:\nbogomips\t: 4000.00\nclflush size\t: 64\n"
        "cache_alignment\t: 64\naddress sizes\t: 46 bits physical, 48 bits virtual\npower management:\n\n",
        i, vendor, family, model, name, stepping, n, i, n, i, i, max_basic, flags);
  }
  return s;
}

std::string UptimeText(const Caller& c) {
  const CpuTotals t = Totals(c);
  return fmt::format("{:.2f} {:.2f}\n", t.uptime, static_cast<double>(t.idle) / kUserHz);
}

std::string LoadavgText(const Caller& c) {
  const CpuTotals t = Totals(c);
  // No run-queue sampling: the load is the fraction of uptime spent busy.
  const double load = t.uptime > 0 ? static_cast<double>(t.user + t.system) / kUserHz / t.uptime : 0;
  return fmt::format("{0:.2f} {0:.2f} {0:.2f} {1}/{2} {3}\n", load, t.running, std::max(t.tasks, 1), t.last_pid);
}

std::shared_ptr<SyntheticDir> Dir(uint64_t dev) {
  auto d = SyntheticDir::New(dev);
  d->SetProcStyle();
  return d;
}

// ---- /proc/sys (fs/proc/proc_sysctl.c, kernel/sysctl.c).

// How a writable key takes a write.
struct SysctlSpec {
  std::string key;  // Kernel::Sysctl key: the path under /proc/sys
  bool is_string = false;
  size_t max_len = 0;              // strings (proc_dostring): bytes kept
  int64_t min = 0, max = INT32_MAX;  // integers (proc_dointvec_minmax)
  int count = 1;                     // integers in the value (ping_group_range: 2)
  bool gid_range = false;            // ipv4_ping_group_range(): high < low means "1 0"
};

// __do_proc_dointvec with sysctl_writes_strict: `spec.count` integers
// (leading blanks, no '+', whitespace between and after), each in range;
// the value as a read shows it (tab-separated), or EINVAL.
Result<std::string> ParseIntSysctl(const SysctlSpec& spec, std::string_view s) {
  std::vector<int64_t> vals;
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n'; };
  for (int i = 0; i < spec.count; ++i) {
    while (!s.empty() && blank(s.front())) s.remove_prefix(1);
    size_t end = 0;
    while (end < s.size() && !blank(s[end]) && s[end] != '\0') ++end;
    std::string_view num = s.substr(0, end);
    if (!num.empty() && num[0] == '+') return Errno::kEINVAL;
    int64_t v = 0;
    auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
    if (num.empty() || ec != std::errc() || p != num.data() + num.size()) return Errno::kEINVAL;
    if (v < spec.min || v > spec.max) return Errno::kEINVAL;
    vals.push_back(v);
    s.remove_prefix(end);
  }
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  if (!s.empty() && s.front() != '\0') return Errno::kEINVAL;
  if (spec.gid_range && vals[1] < vals[0]) vals = {1, 0};
  std::string out;
  for (size_t i = 0; i < vals.size(); ++i) out += (i ? "\t" : "") + std::to_string(vals[i]);
  return out;
}

using SysctlValue = std::function<std::string(sentry::kernel::Kernel*)>;

// An open /proc/sys file: reads show the current value (generated per
// read, as Linux's proc_sys_read does), writes go to the Kernel's value.
// No SEEK_END (SeekableFile's default): the size is 0, as Linux's.
class SysctlFile final : public SeekableFile {
 public:
  SysctlFile(fs::Path at, std::shared_ptr<Inode> inode, int flags, sentry::kernel::Kernel* k, SysctlValue value,
             const SysctlSpec* spec)
      : SeekableFile(std::move(at), std::move(inode), flags), kernel_(k), value_(std::move(value)), spec_(spec) {}

  Result<size_t> PRead(std::span<uint8_t> buf, uint64_t off) override { return ReadText(value_(kernel_), buf, off); }
  Result<size_t> PWrite(std::span<const uint8_t> buf, uint64_t off) override {
    if (spec_ == nullptr || kernel_ == nullptr) return Errno::kEINVAL;
    const std::string_view in(reinterpret_cast<const char*>(buf.data()), std::min<size_t>(buf.size(), 4096));
    if (spec_->is_string) {
      // _proc_do_string with sysctl_writes_strict: a write continues the
      // value at its offset (past the end: ignored) up to a newline or NUL,
      // truncated to the maximum; the whole write is consumed.
      std::string cur = value_(kernel_);
      if (!cur.empty() && cur.back() == '\n') cur.pop_back();
      if (off > cur.size()) return buf.size();
      std::string_view add = in.substr(0, std::min(in.find('\n'), in.find('\0')));
      std::string v = cur.substr(0, off);
      v += add;
      if (v.size() > spec_->max_len) v.resize(spec_->max_len);
      kernel_->SetSysctl(spec_->key, std::move(v));
      return buf.size();
    }
    // Integers: only at offset 0 (sysctl_writes_strict).
    if (off != 0) return 0;
    kernel_->SetSysctl(spec_->key, TRY(ParseIntSysctl(*spec_, in)));
    return buf.size();
  }

 private:
  sentry::kernel::Kernel* const kernel_;  // the sandbox's: outlives its files
  const SysctlValue value_;
  const SysctlSpec* const spec_;  // owned by the inode
};

// A /proc/sys file. Its mode is Linux's, but only keys with a spec (values
// that mean something in the sandbox) can be written: a write open of the
// others is EACCES, as Linux gives a container's root for keys its user
// namespace does not own. Writing needs euid 0 and a write bit for the
// owner (sysctl_perm(): the uid decides, capabilities do not) and a
// writable key; the write itself checks the value.
class SysctlInode final : public SyntheticInode {
 public:
  SysctlInode(uint64_t dev, uint32_t perm, SysctlValue value, std::optional<SysctlSpec> spec)
      : SyntheticInode(dev, S_IFREG | perm), value_(std::move(value)), spec_(std::move(spec)) {}

  Result<std::shared_ptr<FileDescription>> Open(const Caller& c, const Path& at, int flags) override {
    if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)) {
      const uint32_t bits = c.creds->euid == 0 ? (mode() >> 6) : mode();
      if (!spec_.has_value() || !(bits & 2)) return Errno::kEACCES;
    }
    return std::shared_ptr<FileDescription>(std::make_shared<SysctlFile>(
        at, shared_from_this(), flags, c.kernel, value_, spec_.has_value() ? &*spec_ : nullptr));
  }
  // O_TRUNC (fopen "w", as sysctl(8) and shells do) is ignored.
  Result<void> SetAttr(const Caller& c, const SetAttrRequest& req) override {
    if (req.size.has_value() && !req.mode && !req.uid && !req.gid && !req.atime && !req.mtime) return {};
    return SyntheticInode::SetAttr(c, req);
  }

 private:
  const SysctlValue value_;
  const std::optional<SysctlSpec> spec_;
};

// A key whose value is fixed in the sandbox.
std::shared_ptr<Inode> Ro(uint64_t dev, std::string text, uint32_t perm = 0644) {
  return std::make_shared<SysctlInode>(
      dev, perm, [text = std::move(text)](sentry::kernel::Kernel*) { return text; }, std::nullopt);
}

// A writable key kept in Kernel::Sysctl (`dflt` until written).
std::shared_ptr<Inode> Rw(uint64_t dev, SysctlSpec spec, std::function<std::string(sentry::kernel::Kernel&)> dflt) {
  SysctlValue value = [key = spec.key, dflt = std::move(dflt)](sentry::kernel::Kernel* k) -> std::string {
    if (k == nullptr) return "\n";
    return k->Sysctl(key, dflt(*k)) + "\n";
  };
  return std::make_shared<SysctlInode>(dev, 0644, std::move(value), std::move(spec));
}

// The writable keys (the ones a container's linux.sysctl may set, see
// fs::SandboxSysctl).
const SysctlSpec kHostname{.key = "kernel/hostname", .is_string = true, .max_len = 64};
const SysctlSpec kDomainname{.key = "kernel/domainname", .is_string = true, .max_len = 64};
const SysctlSpec kOvercommitMemory{.key = "vm/overcommit_memory", .min = 0, .max = 2};
const SysctlSpec kOvercommitRatio{.key = "vm/overcommit_ratio", .min = 0, .max = INT32_MAX};
const SysctlSpec* const kWritable[] = {&kHostname, &kDomainname, &kOvercommitMemory, &kOvercommitRatio};

// /proc/sys/net's writable keys: the integer keys a container's root may
// tune (netns-owned in Linux), with Linux 6.x defaults for a new network
// namespace. Kept in Kernel::Sysctl under their path for netstack/ to
// consult; a container's linux.sysctl may set them (fs::SandboxSysctl).
struct NetKey {
  SysctlSpec spec;
  const char* dflt;
};
const std::vector<NetKey>& NetKeys() {
  static const std::vector<NetKey> keys = [] {
    std::vector<NetKey> k;
    const auto add = [&k](std::string key, const char* dflt, int64_t min, int64_t max) {
      k.push_back({SysctlSpec{.key = std::move(key), .min = min, .max = max}, dflt});
    };
    add("net/core/somaxconn", "4096", 0, INT32_MAX);
    add("net/core/netdev_max_backlog", "1000", 0, INT32_MAX);
    for (const char* n : {"rmem_default", "rmem_max", "wmem_default", "wmem_max"}) {
      add(fmt::format("net/core/{}", n), "212992", 4608, INT32_MAX);
    }
    add("net/core/optmem_max", "20480", 0, INT32_MAX);
    add("net/ipv4/ip_unprivileged_port_start", "1024", 0, 65535);
    add("net/ipv4/ip_forward", "0", 0, 1);
    add("net/ipv4/ip_default_ttl", "64", 1, 255);
    add("net/ipv4/ip_nonlocal_bind", "0", 0, 1);
    struct IntKey {
      const char* name;
      const char* dflt;
      int64_t min, max;
    };
    for (const IntKey& i : {IntKey{"tcp_syncookies", "1", 0, 2}, IntKey{"tcp_sack", "1", 0, 1},
                            IntKey{"tcp_timestamps", "1", 0, 2}, IntKey{"tcp_window_scaling", "1", 0, 1},
                            IntKey{"tcp_fin_timeout", "60", 0, INT32_MAX}, IntKey{"tcp_keepalive_time", "7200", 1, 32767},
                            IntKey{"tcp_keepalive_intvl", "75", 1, 32767}, IntKey{"tcp_keepalive_probes", "9", 1, 127},
                            IntKey{"tcp_max_syn_backlog", "4096", 0, INT32_MAX}, IntKey{"tcp_tw_reuse", "2", 0, 2},
                            IntKey{"tcp_fastopen", "1", 0, INT32_MAX}, IntKey{"tcp_mtu_probing", "0", 0, 2},
                            IntKey{"tcp_syn_retries", "6", 1, 127}, IntKey{"tcp_synack_retries", "5", 0, 255},
                            IntKey{"tcp_retries2", "15", 0, 255}, IntKey{"tcp_no_metrics_save", "0", 0, 1},
                            IntKey{"tcp_slow_start_after_idle", "1", 0, 1}}) {
      add(fmt::format("net/ipv4/{}", i.name), i.dflt, i.min, i.max);
    }
    // ipv4_ping_group_range(): two gids, 0..INT_MAX; high < low disables.
    k.push_back({SysctlSpec{.key = "net/ipv4/ping_group_range", .min = 0, .max = INT32_MAX, .count = 2,
                            .gid_range = true},
                 "1\t0"});
    add("net/ipv6/bindv6only", "0", 0, 1);
    for (const char* iface : {"all", "default", "lo"}) {
      add(fmt::format("net/ipv6/conf/{}/disable_ipv6", iface), "0", 0, INT32_MAX);
      add(fmt::format("net/ipv6/conf/{}/forwarding", iface), "0", 0, INT32_MAX);
      add(fmt::format("net/ipv6/conf/{}/hop_limit", iface), "64", 1, 255);
    }
    add("net/unix/max_dgram_qlen", "512", 0, INT32_MAX);
    return k;
  }();
  return keys;
}

const NetKey* FindNetKey(std::string_view key) {
  for (const NetKey& k : NetKeys()) {
    if (k.spec.key == key) return &k;
  }
  return nullptr;
}

// /proc/sys/net: the sandbox's one network namespace (the loopback of
// /proc/net), not the host's: NetKeys() writable, the other (multi-value)
// keys read-only.
std::shared_ptr<SyntheticDir> NetSysTree(uint64_t dev) {
  // Each writable file under `dir` named by the last part of its key.
  const auto add_rw = [dev](SyntheticDir& dir, std::string_view prefix) {
    for (const NetKey& k : NetKeys()) {
      const std::string_view key = k.spec.key;
      if (key.substr(0, key.rfind('/') + 1) != prefix) continue;
      dir.AddChild(std::string(key.substr(prefix.size())),
                   Rw(dev, k.spec, [d = std::string(k.dflt)](sentry::kernel::Kernel&) { return d; }));
    }
  };
  auto net = Dir(dev);
  auto core = Dir(dev);
  add_rw(*core, "net/core/");
  net->AddChild("core", core);

  auto ipv4 = Dir(dev);
  add_rw(*ipv4, "net/ipv4/");
  ipv4->AddChild("ip_local_port_range", Ro(dev, "32768\t60999\n"));
  ipv4->AddChild("tcp_rmem", Ro(dev, "4096\t131072\t6291456\n"));
  ipv4->AddChild("tcp_wmem", Ro(dev, "4096\t16384\t4194304\n"));
  ipv4->AddChild("tcp_congestion_control", Ro(dev, "cubic\n"));
  ipv4->AddChild("tcp_available_congestion_control", Ro(dev, "reno cubic\n", 0444));
  net->AddChild("ipv4", ipv4);

  auto ipv6 = Dir(dev);
  add_rw(*ipv6, "net/ipv6/");
  auto conf = Dir(dev);
  // IPv6 is on (/proc/net/if_inet6 lists ::1).
  for (const char* iface : {"all", "default", "lo"}) {
    auto d = Dir(dev);
    add_rw(*d, fmt::format("net/ipv6/conf/{}/", iface));
    conf->AddChild(iface, d);
  }
  ipv6->AddChild("conf", conf);
  net->AddChild("ipv6", ipv6);

  auto unix_dir = Dir(dev);
  add_rw(*unix_dir, "net/unix/");
  net->AddChild("unix", unix_dir);
  return net;
}

std::shared_ptr<SyntheticDir> SysTree(uint64_t dev) {
  auto sys = Dir(dev);
  auto kernel = Dir(dev);
  // The UTS names (__NEW_UTS_LEN: 64 bytes), shared with uname(2) and
  // sethostname(2).
  kernel->AddChild("hostname", Rw(dev, kHostname, [](sentry::kernel::Kernel& k) { return k.hostname(); }));
  kernel->AddChild("domainname", Rw(dev, kDomainname, [](sentry::kernel::Kernel& k) { return k.domainname(); }));
  kernel->AddChild("osrelease", Ro(dev, std::string(kRelease) + "\n", 0444));
  kernel->AddChild("ostype", Ro(dev, "Linux\n", 0444));
  kernel->AddChild("version", Ro(dev, std::string(kVersion) + "\n", 0444));
  kernel->AddChild("pid_max", Ro(dev, "4194304\n"));
  kernel->AddChild("threads-max", Ro(dev, "127408\n"));
  kernel->AddChild("ngroups_max", Ro(dev, "65536\n", 0444));
  kernel->AddChild("cap_last_cap", Ro(dev, "40\n", 0444));
  kernel->AddChild("overflowuid", Ro(dev, "65534\n"));
  kernel->AddChild("overflowgid", Ro(dev, "65534\n"));
  kernel->AddChild("shmmax", FixedFile(dev, "18446744073692774399\n", 0644));
  kernel->AddChild("shmall", FixedFile(dev, "18446744073692774399\n", 0644));
  kernel->AddChild("shmmni", FixedFile(dev, "4096\n", 0644));
  kernel->AddChild("msgmax", FixedFile(dev, "8192\n", 0644));
  kernel->AddChild("msgmnb", FixedFile(dev, "16384\n", 0644));
  kernel->AddChild("msgmni", FixedFile(dev, "32000\n", 0644));
  kernel->AddChild("sem", FixedFile(dev, "32000\t1024000000\t500\t32000\n", 0644));
  kernel->AddChild("tainted", Ro(dev, "0\n"));
  kernel->AddChild("randomize_va_space", Ro(dev, "2\n"));
  kernel->AddChild("dmesg_restrict", Ro(dev, "1\n"));
  kernel->AddChild("kptr_restrict", Ro(dev, "1\n"));
  kernel->AddChild("core_pattern", Ro(dev, "core\n"));
  auto random = Dir(dev);
  random->AddChild("boot_id", Ro(dev, RandomUuid(), 0444));
  random->AddChild("uuid", std::make_shared<SysctlInode>(
                             dev, 0444, [](sentry::kernel::Kernel*) { return RandomUuid(); }, std::nullopt));
  random->AddChild("entropy_avail", Ro(dev, "256\n", 0444));
  random->AddChild("poolsize", Ro(dev, "256\n", 0444));
  random->AddChild("urandom_min_reseed_secs", Ro(dev, "60\n"));
  random->AddChild("write_wakeup_threshold", Ro(dev, "256\n"));
  kernel->AddChild("random", random);
  auto yama = Dir(dev);
  yama->AddChild("ptrace_scope", Ro(dev, "0\n"));
  kernel->AddChild("yama", yama);
  sys->AddChild("kernel", kernel);

  auto vm = Dir(dev);
  // The policy is the sandbox's (sentry/mm may consult it); 0..2 as Linux.
  vm->AddChild("overcommit_memory", Rw(dev, kOvercommitMemory, [](sentry::kernel::Kernel&) { return "0"; }));
  vm->AddChild("overcommit_ratio", Rw(dev, kOvercommitRatio, [](sentry::kernel::Kernel&) { return "50"; }));
  vm->AddChild("max_map_count", Ro(dev, "65530\n"));
  vm->AddChild("mmap_min_addr", Ro(dev, "65536\n"));
  vm->AddChild("swappiness", Ro(dev, "60\n"));
  sys->AddChild("vm", vm);

  auto fsdir = Dir(dev);
  fsdir->AddChild("file-max", Ro(dev, "9223372036854775807\n"));
  fsdir->AddChild("file-nr", Ro(dev, "0\t0\t9223372036854775807\n", 0444));
  fsdir->AddChild("nr_open", Ro(dev, "1073741816\n"));
  fsdir->AddChild("pipe-max-size", Ro(dev, "1048576\n"));
  fsdir->AddChild("pipe-user-pages-hard", Ro(dev, "0\n"));
  fsdir->AddChild("pipe-user-pages-soft", Ro(dev, "16384\n"));
  fsdir->AddChild("protected_symlinks", Ro(dev, "1\n"));
  fsdir->AddChild("protected_hardlinks", Ro(dev, "1\n"));
  auto inotify = Dir(dev);
  inotify->AddChild("max_user_watches", Ro(dev, "8192\n"));
  inotify->AddChild("max_user_instances", Ro(dev, "128\n"));
  inotify->AddChild("max_queued_events", Ro(dev, "16384\n"));
  fsdir->AddChild("inotify", inotify);
  sys->AddChild("fs", fsdir);
  sys->AddChild("net", NetSysTree(dev));
  return sys;
}

}  // namespace

std::shared_ptr<SyntheticFile> FixedFile(uint64_t dev, std::string text, uint32_t perm) {
  return SyntheticFile::New(dev, perm, [text = std::move(text)](const Caller&) -> Result<std::string> { return text; });
}

// /proc/sysvipc: the sandbox's System V IPC objects (sentry/ipc/), as
// ipcs(1) reads them.
std::shared_ptr<SyntheticDir> SysvipcDir(uint64_t dev) {
  auto d = Dir(dev);
  d->AddChild("shm", SyntheticFile::New(dev, 0444, [](const Caller& c) -> Result<std::string> {
                if (c.kernel == nullptr) return Errno::kENOENT;
                return c.kernel->ipc().shm().ProcText();
              }));
  d->AddChild("sem", SyntheticFile::New(dev, 0444, [](const Caller& c) -> Result<std::string> {
                if (c.kernel == nullptr) return Errno::kENOENT;
                return c.kernel->ipc().sem().ProcText();
              }));
  d->AddChild("msg", SyntheticFile::New(dev, 0444, [](const Caller& c) -> Result<std::string> {
                if (c.kernel == nullptr) return Errno::kENOENT;
                return c.kernel->ipc().msg().ProcText();
              }));
  return d;
}

void AddSystemFiles(SyntheticDir& root, uint64_t dev) {
  root.AddChild("meminfo", SyntheticFile::New(dev, 0444, [](const Caller& c) -> Result<std::string> {
                  return MeminfoText(c);
                }));
  root.AddChild("stat", SyntheticFile::New(dev, 0444, [](const Caller& c) -> Result<std::string> {
                  return StatText(c);
                }));
  root.AddChild("uptime", SyntheticFile::New(dev, 0444, [](const Caller& c) -> Result<std::string> {
                  return UptimeText(c);
                }));
  root.AddChild("loadavg", SyntheticFile::New(dev, 0444, [](const Caller& c) -> Result<std::string> {
                  return LoadavgText(c);
                }));
  root.AddChild("cpuinfo", FixedFile(dev, CpuinfoText()));
  root.AddChild("version", FixedFile(dev, fmt::format("Linux version {} (runsc@sandbox) (runsc-cpp) {}\n", kRelease,
                                                      kVersion)));
  root.AddChild("cmdline", FixedFile(dev, fmt::format("BOOT_IMAGE=/vmlinuz-{}-runsc quiet\n", kRelease)));
  root.AddChild("filesystems",
                FixedFile(dev, "nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tdevtmpfs\nnodev\tdevpts\n"
                               "nodev\toverlay\nnodev\t9p\n"));
  root.AddChild("sys", SysTree(dev));
  root.AddChild("sysvipc", SysvipcDir(dev));
}

}  // namespace fs::proc

namespace fs {

Result<std::pair<std::string, std::string>> SandboxSysctl(std::string_view key, std::string_view value) {
  std::string path(key);
  if (path.find('/') == std::string::npos) std::replace(path.begin(), path.end(), '.', '/');
  const proc::SysctlSpec* spec = nullptr;
  for (const proc::SysctlSpec* s : proc::kWritable) {
    if (s->key == path) spec = s;
  }
  if (const proc::NetKey* k = proc::FindNetKey(path)) spec = &k->spec;
  if (spec == nullptr) return Errno::kENOENT;
  if (spec->is_string) {
    // What a write of the value (and a newline) leaves in the key.
    if (value.find('\n') != std::string_view::npos || value.find('\0') != std::string_view::npos) {
      return Errno::kEINVAL;
    }
    if (value.size() > spec->max_len) return Errno::kENAMETOOLONG;
    return std::make_pair(path, std::string(value));
  }
  // As SysctlFile::PWrite would take it.
  return std::make_pair(path, TRY(proc::ParseIntSysctl(*spec, value)));
}

std::vector<std::string> SandboxSysctlKeys() {
  std::vector<std::string> keys;
  for (const proc::SysctlSpec* s : proc::kWritable) {
    keys.push_back(s->key);
    std::replace(keys.back().begin(), keys.back().end(), '/', '.');
  }
  return keys;
}

}  // namespace fs
