#include "sentry/vdso/timekeeper.h"

#include <cpuid.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

#include "absl/time/clock.h"
#include "base/logging.h"

namespace sentry::vdso {
namespace {

constexpr uint32_t kShift = 32;
constexpr int64_t kMaxSlew = 10'000'000;     // ns of error corrected by slewing; more is stepped
constexpr int64_t kOffsetNoise = 20'000;     // REALTIME-MONOTONIC changes below this are sampling noise

int64_t HostNs(clockid_t c) {
  struct timespec ts {};
  clock_gettime(c, &ts);
  return ts.tv_sec * VVAR_NSEC_PER_SEC + ts.tv_nsec;
}

// CPUID 0x80000007 EDX bit 8: the TSC ticks at a constant rate in every
// power state and is what Linux's clocksource trusts on such hosts.
bool InvariantTsc() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_max(0x80000000, nullptr) < 0x80000007) return false;
  __cpuid(0x80000007, a, b, c, d);
  return (d >> 8) & 1;
}

vvar_clock Split(int64_t ns) {
  vvar_clock c{ns / VVAR_NSEC_PER_SEC, ns % VVAR_NSEC_PER_SEC};
  if (c.nsec < 0) {
    c.nsec += VVAR_NSEC_PER_SEC;
    c.sec--;
  }
  return c;
}

clockid_t HostClock(int vvar_clock) {
  switch (vvar_clock) {
    case VVAR_REALTIME: return CLOCK_REALTIME;
    case VVAR_BOOTTIME: return CLOCK_BOOTTIME;
    default: return CLOCK_MONOTONIC;
  }
}

}  // namespace

Timekeeper::Timekeeper(vvar_data* page) : page_(page) {
  page_->mode = VVAR_MODE_SYSCALL;
  struct timespec res {};
  clock_getres(CLOCK_REALTIME_COARSE, &res);
  page_->coarse_res_ns = static_cast<uint32_t>(res.tv_nsec);
  if (!InvariantTsc()) {
    logging::Info("vdso: the host TSC is not invariant; clocks in the vDSO make syscalls");
    return;
  }
  first_ = TakeSample();
  thread_ = std::thread([this] { Loop(); });
}

Timekeeper::~Timekeeper() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
    cv_.Signal();
  }
  if (thread_.joinable()) thread_.join();
}

Timekeeper::Sample Timekeeper::TakeSample() {
  // The TSC reading closest to the clock reading: the narrowest of a few
  // rdtsc brackets (a preempted one is wide).
  Sample s;
  uint64_t best = std::numeric_limits<uint64_t>::max();
  for (int i = 0; i < 8; i++) {
    const uint64_t t1 = vvar_rdtsc();
    const int64_t m = HostNs(CLOCK_MONOTONIC);
    const uint64_t t2 = vvar_rdtsc();
    if (t2 - t1 < best) {
      best = t2 - t1;
      s.tsc = t1 + (t2 - t1) / 2;
      s.mono = m;
    }
  }
  const int64_t m1 = HostNs(CLOCK_MONOTONIC);
  const int64_t r = HostNs(CLOCK_REALTIME);
  const int64_t m2 = HostNs(CLOCK_MONOTONIC);
  const int64_t b = HostNs(CLOCK_BOOTTIME);
  const int64_t m3 = HostNs(CLOCK_MONOTONIC);
  s.real_off = r - (m1 + (m2 - m1) / 2);
  s.boot_off = b - (m2 + (m3 - m2) / 2);
  return s;
}

void Timekeeper::Update(const Sample& s, int64_t next) {
  if (s.mono <= first_.mono || s.tsc <= first_.tsc) return;
  const double cycles_per_ns = static_cast<double>(s.tsc - first_.tsc) / static_cast<double>(s.mono - first_.mono);
  if (!(cycles_per_ns > 0.05 && cycles_per_ns < 20)) {  // 50 MHz .. 20 GHz: anything else is a broken TSC
    logging::Warn("vdso: implausible TSC rate {} cycles/ns; staying in syscall mode", cycles_per_ns);
    return;
  }
  std::atomic_ref<uint32_t> seq(const_cast<uint32_t&>(page_->seq));
  seq.store(seq.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);

  const uint64_t now = vvar_rdtsc();
  const int64_t truth = s.mono + static_cast<int64_t>(static_cast<double>(now - s.tsc) / cycles_per_ns);
  double rate = 1.0;
  int64_t base = truth;
  if (published_) {
    // Continue the old parameters; slew away the error by the next update.
    const int64_t predicted = mono_base_ + static_cast<int64_t>(vvar_delta_ns(now, tsc_ref_, mult_, kShift));
    const int64_t err = truth - predicted;
    if (err <= kMaxSlew) {
      base = predicted;
      rate = std::clamp(1.0 + static_cast<double>(err) / static_cast<double>(next), 0.99, 1.01);
    }
    if (std::abs(s.real_off - real_off_) > kOffsetNoise) real_off_ = s.real_off;
    if (s.boot_off - boot_off_ > kOffsetNoise) boot_off_ = s.boot_off;
  } else {
    real_off_ = s.real_off;
    boot_off_ = s.boot_off;
  }
  tsc_ref_ = now;
  mono_base_ = base;
  mult_ = static_cast<uint64_t>(std::ldexp(rate / cycles_per_ns, kShift));
  page_->tsc_ref = tsc_ref_;
  page_->mult = mult_;
  page_->shift = kShift;
  const vvar_clock real = Split(base + real_off_), mono = Split(base), boot = Split(base + boot_off_);
  page_->base[VVAR_REALTIME].sec = real.sec;
  page_->base[VVAR_REALTIME].nsec = real.nsec;
  page_->base[VVAR_MONOTONIC].sec = mono.sec;
  page_->base[VVAR_MONOTONIC].nsec = mono.nsec;
  page_->base[VVAR_BOOTTIME].sec = boot.sec;
  page_->base[VVAR_BOOTTIME].nsec = boot.nsec;
  page_->mode = VVAR_MODE_TSC;
  published_ = true;

  std::atomic_thread_fence(std::memory_order_release);
  seq.store(seq.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

void Timekeeper::Loop() {
  // Short first intervals calibrate quickly; later ones cost little.
  constexpr int64_t kSchedule[] = {10'000'000, 50'000'000, 200'000'000, 1'000'000'000};
  size_t step = 0;
  absl::MutexLock l(&mu_);
  while (!stop_) {
    const int64_t wait = kSchedule[step];
    if (step + 1 < std::size(kSchedule)) step++;
    cv_.WaitWithTimeout(&mu_, absl::Nanoseconds(wait));
    if (stop_) break;
    Update(TakeSample(), kSchedule[step]);
  }
}

struct timespec Timekeeper::Now(int vvar_clock) const {
  int64_t sec = 0, nsec = 0;
  if (vvar_read(page_, vvar_clock, &sec, &nsec) == 0) return {sec, nsec};
  struct timespec ts {};
  clock_gettime(HostClock(vvar_clock), &ts);
  return ts;
}

}  // namespace sentry::vdso
