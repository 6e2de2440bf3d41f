// Prints the cost of ptrace platform round trips under different wait
// policies (CPU pinning, spinning). Not a test: numbers for
// platform/ptrace/README.md. Usage: ptrace_roundtrip [iterations]
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "platform/platform.h"
#include "platform/ptrace/ptrace.h"
#include "platform/systrap/systrap.h"

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kCode = 0x400000;

// 0: mov $39, %eax; 5: syscall; 7: jmp 0 — one syscall stop per Switch.
const uint8_t kSyscallLoop[] = {0xb8, 0x27, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xeb, 0xf7};
// 9: mov (%rbx), %rax — a read fault per Switch (rip stays on it).
const uint8_t kLoad[] = {0x48, 0x8b, 0x03};

struct Numbers {
  double syscall_us = 0, fault_us = 0, map_us = 0, new_as_us = 0;
  size_t fp_size = 0;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Runs on a fresh thread so that pinning from one configuration does not leak
// into the next.
Numbers Measure(int mem_fd, const platform::ptrace::Options& opts, int iters, bool systrap = false) {
  Numbers n;
  std::string why;
  platform::systrap::Options sopts;
  sopts.pin_cpu = opts.pin_cpu;
  auto plat = systrap ? platform::systrap::NewSystrapPlatform(mem_fd, sopts, &why)
                      : platform::ptrace::NewPtracePlatform(mem_fd, opts, &why);
  if (!plat.ok()) {
    std::fprintf(stderr, "platform: %s\n", why.c_str());
    std::exit(1);
  }
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto as = std::move(plat.value()->NewAddressSpace()).value();
  n.new_as_us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
  auto ctx = std::move(plat.value()->NewContext()).value();
  if (!as->Map(kCode, kPage, platform::kProtRead | platform::kProtExec, mem_fd, 0).ok()) std::exit(1);
  auto per_op_us = [](Clock::time_point a, Clock::time_point b, int k) {
    return std::chrono::duration<double, std::micro>(b - a).count() / k;
  };
  constexpr int kRounds = 5;
  std::vector<double> sys, fault, map;
  for (int round = 0; round < kRounds; ++round) {
    platform::Registers regs = platform::InitialRegisters(kCode, 0);
    auto t0 = Clock::now();
    for (int i = 0; i < iters; ++i) {
      if (ctx->Switch(*as, regs).value().reason != platform::StopReason::kSyscall) std::exit(2);
      regs.regs.rax = 1;
    }
    sys.push_back(per_op_us(t0, Clock::now(), iters));
    regs = platform::InitialRegisters(kCode + sizeof(kSyscallLoop), 0);
    regs.regs.rbx = 0x10000000;
    t0 = Clock::now();
    for (int i = 0; i < iters / 4; ++i) {
      if (ctx->Switch(*as, regs).value().reason != platform::StopReason::kFault) std::exit(3);
    }
    fault.push_back(per_op_us(t0, Clock::now(), iters / 4));
    t0 = Clock::now();
    for (int i = 0; i < iters / 4; ++i) {
      if (!as->Map(0x20000000, kPage, platform::kProtRead, mem_fd, kPage).ok()) std::exit(4);
    }
    map.push_back(per_op_us(t0, Clock::now(), iters / 4));
  }
  auto fp = std::make_unique<platform::FpState>();
  if (ctx->GetFpState(*fp).ok()) n.fp_size = fp->size;
  n.syscall_us = Median(sys);
  n.fault_us = Median(fault);
  n.map_us = Median(map);
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  const int iters = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int mem_fd = memfd_create("roundtrip-mem", MFD_CLOEXEC);
  if (mem_fd < 0 || ftruncate(mem_fd, 4 * kPage) != 0) return 1;
  auto* mem = static_cast<uint8_t*>(mmap(nullptr, 4 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, mem_fd, 0));
  std::memcpy(mem, kSyscallLoop, sizeof(kSyscallLoop));
  std::memcpy(mem + sizeof(kSyscallLoop), kLoad, sizeof(kLoad));
  std::printf("cpus online: %ld, iterations: %d (medians of 5 rounds)\n", sysconf(_SC_NPROCESSORS_ONLN), iters);
  std::printf("%-20s %13s %13s %13s %13s\n", "config", "syscall (us)", "fault (us)", "Map (us)",
              "new AS (us)");
  struct Config {
    const char* name;
    platform::ptrace::Options opts;
    bool systrap = false;
  };
  // argv[2]: only the configs whose name contains it (e.g. "systrap").
  const std::string only = argc > 2 ? argv[2] : "";
  const Config configs[] = {
      {"no pin, block", {false, 0}},
      {"no pin, spin 5us", {false, 5000}},
      {"no pin, spin 20us", {false, 20000}},
      {"no pin, spin 50us", {false, 50000}},
      {"pin, block", {true, 0}},
      {"pin, spin 5us", {true, 5000}},
      {"pin, spin 20us", {true, 20000}},
      {"systrap, no pin", {false, 0}, true},
      {"systrap, pin", {true, 0}, true},
  };
  for (const Config& c : configs) {
    if (!only.empty() && std::string(c.name).find(only) == std::string::npos) continue;
    Numbers n;
    std::thread([&] { n = Measure(mem_fd, c.opts, iters, c.systrap); }).join();
    std::printf("%-20s %13.2f %13.2f %13.2f %13.0f\n", c.name, n.syscall_us, n.fault_us, n.map_us, n.new_as_us);
  }
  Numbers n;
  std::thread([&] { n = Measure(mem_fd, {}, 100); }).join();
  std::printf("XSAVE state size: %zu bytes\n", n.fp_size);
  return 0;
}
