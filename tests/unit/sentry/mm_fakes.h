// Test doubles for sentry/mm: a platform AddressSpace that keeps a page table
// of what the app could see, and a MappableFile over a string.
#ifndef TESTS_UNIT_SENTRY_MM_FAKES_H_
#define TESTS_UNIT_SENTRY_MM_FAKES_H_

#include <sys/mman.h>

#include <cstring>
#include <map>
#include <string>

#include "sentry/mm/memory_manager.h"

namespace sentry::mm::testing {

inline constexpr int kR = PROT_READ, kRW = PROT_READ | PROT_WRITE, kRX = PROT_READ | PROT_EXEC;
inline constexpr uint64_t kPg = kPageSize;

class FakeAddressSpace : public platform::AddressSpace {
 public:
  struct Page {
    int prot;
    uint64_t offset;  // memory-file offset
  };
  struct State {
    std::map<uint64_t, Page> pages;
    int maps = 0, unmaps = 0, protects = 0;
  };
  explicit FakeAddressSpace(State* s, uint64_t max = 0x7ffffffff000) : s_(s), max_(max) {}

  Result<void> Map(uint64_t addr, uint64_t len, int prot, int, uint64_t offset) override {
    ++s_->maps;
    if ((addr | len | offset) & 4095) return base::Errno::kEINVAL;
    for (uint64_t i = 0; i < len; i += 4096) s_->pages[addr + i] = Page{prot, offset + i};
    return base::Ok();
  }
  Result<void> Unmap(uint64_t addr, uint64_t len) override {
    ++s_->unmaps;
    s_->pages.erase(s_->pages.lower_bound(addr), s_->pages.lower_bound(addr + len));
    return base::Ok();
  }
  Result<void> Protect(uint64_t addr, uint64_t len, int prot) override {
    ++s_->protects;
    for (uint64_t i = 0; i < len; i += 4096) {
      auto it = s_->pages.find(addr + i);
      if (it == s_->pages.end()) return base::Errno::kENOMEM;
      it->second.prot = prot;
    }
    return base::Ok();
  }
  uint64_t MaxUserAddress() const override { return max_; }

 private:
  State* s_;
  uint64_t max_;
};

class FakeFile : public MappableFile {
 public:
  explicit FakeFile(std::string data) : data_(std::move(data)) {}
  Result<size_t> ReadAt(std::span<uint8_t> buf, uint64_t off) override {
    ++reads;
    if (fail) return base::Errno::kEIO;
    if (off >= data_.size()) return size_t{0};
    const size_t n = std::min<size_t>(buf.size(), data_.size() - off);
    memcpy(buf.data(), data_.data() + off, n);
    return n;
  }
  std::string MapsName() const override { return "/bin/fake"; }
  uint32_t MapsDevMajor() const override { return 0xfe; }
  uint64_t MapsInode() const override { return 42; }
  int reads = 0;
  bool fail = false;

 private:
  std::string data_;
};

}  // namespace sentry::mm::testing

#endif  // TESTS_UNIT_SENTRY_MM_FAKES_H_
