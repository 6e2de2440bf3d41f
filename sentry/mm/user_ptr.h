// UserPtr<T>: an app address, not a pointer. No operator*, no conversion to
// T*: only sentry/mm/ turns it into bytes, through MemoryManager::CopyIn/Out.
#ifndef SENTRY_MM_USER_PTR_H_
#define SENTRY_MM_USER_PTR_H_

#include <cstdint>

namespace sentry::mm {

template <typename T>
class UserPtr {
 public:
  constexpr UserPtr() = default;
  constexpr explicit UserPtr(uint64_t addr) : addr_(addr) {}
  constexpr uint64_t addr() const { return addr_; }
  constexpr bool null() const { return addr_ == 0; }
  // Element i further on (wraps like the app's pointer arithmetic would; the
  // copy checks the range).
  constexpr UserPtr operator+(uint64_t i) const { return UserPtr(addr_ + i * sizeof(T)); }
  template <typename U>
  constexpr UserPtr<U> Cast() const { return UserPtr<U>(addr_); }

 private:
  uint64_t addr_ = 0;
};

}  // namespace sentry::mm

#endif  // SENTRY_MM_USER_PTR_H_
