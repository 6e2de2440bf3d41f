#include "sentry/mm/file_pages.h"

#include <algorithm>
#include <cstring>

namespace sentry::mm {

// ---- SharedMappers ----

class Registration final : public MapperRegistration {
 public:
  Registration(std::weak_ptr<SharedMappers> set, SharedMapper* m) : set_(std::move(set)), m_(m) {}
  ~Registration() override {
    if (auto s = set_.lock()) s->Remove(m_);
  }
  bool alive() const override { return !set_.expired(); }

 private:
  std::weak_ptr<SharedMappers> set_;  // the file may go first
  SharedMapper* m_;
};

std::unique_ptr<MapperRegistration> SharedMappers::Add(SharedMapper* m) {
  absl::MutexLock l(&mu_);
  ++mappers_[m];
  return std::make_unique<Registration>(weak_from_this(), m);
}

void SharedMappers::Remove(SharedMapper* m) {
  absl::MutexLock l(&mu_);
  auto it = mappers_.find(m);
  if (it != mappers_.end() && --it->second == 0) mappers_.erase(it);
}

void SharedMappers::Release(MemoryFile& mf, const void* id, uint64_t start, uint64_t end,
                            std::vector<std::pair<uint64_t, uint64_t>> ranges) {
  auto batch = std::make_shared<FreedPages>(mf, std::move(ranges));
  absl::MutexLock l(&mu_);
  for (auto& [m, n] : mappers_) m->QueueInvalidation(id, start, end, batch);
  // Without mappers the batch frees here, when `batch` goes.
}

void SharedMappers::Resync(const void* id, uint64_t start, uint64_t end, std::shared_ptr<FreedPages> done) {
  absl::MutexLock l(&mu_);
  for (auto& [m, n] : mappers_) m->QueueInvalidation(id, start, end, done);
}

// ---- FilePages ----

FilePages::~FilePages() {
  for (const auto& [idx, e] : ext_) mf_.Free(e.mf_off, e.npages * kPage);
  mf_.AddFileData(-static_cast<int64_t>(npages_ * kPage));
}

void FilePages::SplitAt(uint64_t idx) {
  auto it = ext_.upper_bound(idx);
  if (it == ext_.begin()) return;
  --it;
  if (it->first < idx && it->first + it->second.npages > idx) {
    const uint64_t head = idx - it->first;
    ext_[idx] = Extent{it->second.npages - head, it->second.mf_off + head * kPage};
    it->second.npages = head;
  }
}

void FilePages::ForEach(uint64_t off, uint64_t len, absl::FunctionRef<void(uint64_t, uint8_t*, size_t)> fn) const {
  const uint64_t end = off + len;
  uint64_t pos = off;
  auto it = ext_.upper_bound(off / kPage);
  if (it != ext_.begin()) --it;
  while (pos < end) {
    while (it != ext_.end() && (it->first + it->second.npages) * kPage <= pos) ++it;
    if (it == ext_.end() || it->first * kPage >= end) {
      fn(pos - off, nullptr, end - pos);
      return;
    }
    const uint64_t es = it->first * kPage, ee = (it->first + it->second.npages) * kPage;
    if (pos < es) {
      fn(pos - off, nullptr, es - pos);
      pos = es;
    }
    const uint64_t stop = std::min(ee, end);
    fn(pos - off, mf_.Data(it->second.mf_off + (pos - es)), stop - pos);
    pos = stop;
  }
}

uint64_t FilePages::Fill(uint64_t first, uint64_t end) {
  uint64_t idx = first;
  while (idx < end) {
    auto next = ext_.upper_bound(idx);
    if (next != ext_.begin()) {
      auto prev = std::prev(next);
      const uint64_t pend = prev->first + prev->second.npages;
      if (pend > idx) {  // present
        idx = pend;
        continue;
      }
    }
    const uint64_t gap_end = std::min(end, next == ext_.end() ? end : next->first);
    uint64_t n = gap_end - idx;
    // Sequential writes: grow the previous extent in place when the memory
    // file has room right after it, so the file stays a few large runs.
    if (next != ext_.begin()) {
      auto prev = std::prev(next);
      if (prev->first + prev->second.npages == idx &&
          mf_.TryExtend(prev->second.mf_off + prev->second.npages * kPage, n * kPage)) {
        prev->second.npages += n;
        npages_ += n;
        mf_.AddFileData(static_cast<int64_t>(n * kPage));
        idx += n;
        continue;
      }
    }
    base::Result<uint64_t> off = mf_.Allocate(n * kPage);
    if (!off.ok()) {
      // Nearly full: take what is left a page at a time, as a write that
      // runs out of space still writes what fits.
      off = mf_.Allocate(kPage);
      if (!off.ok()) return idx;
      n = 1;
    }
    ext_[idx] = Extent{n, off.value()};
    npages_ += n;
    mf_.AddFileData(static_cast<int64_t>(n * kPage));
    idx += n;
  }
  return end;
}

std::vector<std::pair<uint64_t, uint64_t>> FilePages::Remove(uint64_t first, uint64_t end) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  if (first >= end) return out;
  SplitAt(first);
  SplitAt(end);
  auto it = ext_.lower_bound(first);
  while (it != ext_.end() && it->first < end) {
    out.emplace_back(it->second.mf_off, it->second.npages * kPage);
    npages_ -= it->second.npages;
    it = ext_.erase(it);
  }
  return out;
}

std::vector<FilePages::Run> FilePages::Runs(uint64_t first, uint64_t end) const {
  std::vector<Run> out;
  auto it = ext_.upper_bound(first);
  if (it != ext_.begin()) --it;
  for (; it != ext_.end() && it->first < end; ++it) {
    const uint64_t s = std::max(it->first, first), e = std::min(it->first + it->second.npages, end);
    if (s >= e) continue;
    const uint64_t mf = it->second.mf_off + (s - it->first) * kPage;
    if (!out.empty() && out.back().page + out.back().npages == s &&
        out.back().mf_off + out.back().npages * kPage == mf) {
      out.back().npages += e - s;
    } else {
      out.push_back(Run{s, e - s, mf});
    }
  }
  return out;
}

uint64_t FilePages::NextData(uint64_t idx) const {
  auto it = ext_.upper_bound(idx);
  if (it != ext_.begin()) {
    auto prev = std::prev(it);
    if (prev->first + prev->second.npages > idx) return idx;
  }
  return it == ext_.end() ? UINT64_MAX : it->first;
}

uint64_t FilePages::NextHole(uint64_t idx) const {
  auto it = ext_.upper_bound(idx);
  if (it == ext_.begin()) return idx;
  --it;
  while (it != ext_.end() && it->first <= idx) {
    idx = std::max(idx, it->first + it->second.npages);
    ++it;
  }
  return idx;
}

}  // namespace sentry::mm
