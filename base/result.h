// Result<T>: a value or an Errno. The error path of all app-facing code.
#ifndef BASE_RESULT_H_
#define BASE_RESULT_H_

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

#include "base/errno.h"

namespace base {

template <typename T>
class [[nodiscard]] Result {
 public:
  using value_type = T;
  // Implicit on purpose: `return Errno::kEINVAL;` and `return value;`.
  Result(Errno e) : v_(std::in_place_index<1>, e) {}  // NOLINT
  template <typename U = T,
            typename = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                        !std::is_same_v<std::decay_t<U>, Errno> &&
                                        !std::is_same_v<std::decay_t<U>, Result>>>
  Result(U&& value) : v_(std::in_place_index<0>, std::forward<U>(value)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  Errno error() const {
    assert(!ok());
    return std::get<1>(v_);
  }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T value_or(T other) const& { return ok() ? std::get<0>(v_) : std::move(other); }

 private:
  std::variant<T, Errno> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Errno e) : err_(e), ok_(false) {}  // NOLINT
  bool ok() const { return ok_; }
  Errno error() const {
    assert(!ok_);
    return err_;
  }
  void value() const {}

 private:
  Errno err_{};
  bool ok_ = true;
};

inline Result<void> Ok() { return {}; }

}  // namespace base

// The one macro (STYLE.md): yields the value or returns the error. A GNU
// statement expression, as in SerenityOS AK/Try.h. Never nest it.
#define TRY(e)                                   \
  ({                                             \
    auto&& try_ = (e);                           \
    if (!try_.ok()) [[unlikely]]                 \
      return try_.error();                       \
    std::move(try_).value();                     \
  })

#endif  // BASE_RESULT_H_
