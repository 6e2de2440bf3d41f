// RangeSet: disjoint half-open ranges, coalesced (memory_manager.cc).
#ifndef SENTRY_MM_RANGE_SET_H_
#define SENTRY_MM_RANGE_SET_H_

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

namespace sentry::mm {

class RangeSet {
 public:
  void Add(uint64_t start, uint64_t end);
  void Remove(uint64_t start, uint64_t end);
  // Sub-ranges of [start, end) that are (covered=true) or are not in the set.
  std::vector<std::pair<uint64_t, uint64_t>> Intersect(uint64_t start, uint64_t end, bool covered) const;
  bool Covers(uint64_t start, uint64_t end) const;
  // Bytes of [start, end) in the set.
  uint64_t Bytes(uint64_t start, uint64_t end) const;
  bool empty() const { return r_.empty(); }

 private:
  std::map<uint64_t, uint64_t> r_;  // start -> end
};

}  // namespace sentry::mm

#endif  // SENTRY_MM_RANGE_SET_H_
