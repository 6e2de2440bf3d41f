#include "sentry/kernel/seccomp.h"

#include <cstring>

namespace sentry::kernel {
namespace {

// BPF_MAXINSNS, MAX_INSNS_PER_PATH (kernel/seccomp.c), BPF_MEMWORDS.
constexpr size_t kMaxInsns = 4096;
constexpr size_t kMaxInsnsPerPath = (1 << 18) / sizeof(sock_filter);
constexpr uint32_t kMemWords = 16;

bool IsCondJump(uint16_t code) {
  switch (code) {
    case BPF_JMP | BPF_JEQ | BPF_K:
    case BPF_JMP | BPF_JEQ | BPF_X:
    case BPF_JMP | BPF_JGE | BPF_K:
    case BPF_JMP | BPF_JGE | BPF_X:
    case BPF_JMP | BPF_JGT | BPF_K:
    case BPF_JMP | BPF_JGT | BPF_X:
    case BPF_JMP | BPF_JSET | BPF_K:
    case BPF_JMP | BPF_JSET | BPF_X:
      return true;
    default:
      return false;
  }
}

// The opcodes seccomp_check_filter lets through (after its rewrite of the
// two loads it treats specially).
bool SeccompAllows(uint16_t code) {
  switch (code) {
    case BPF_RET | BPF_K:
    case BPF_RET | BPF_A:
    case BPF_ALU | BPF_ADD | BPF_K:
    case BPF_ALU | BPF_ADD | BPF_X:
    case BPF_ALU | BPF_SUB | BPF_K:
    case BPF_ALU | BPF_SUB | BPF_X:
    case BPF_ALU | BPF_MUL | BPF_K:
    case BPF_ALU | BPF_MUL | BPF_X:
    case BPF_ALU | BPF_DIV | BPF_K:
    case BPF_ALU | BPF_DIV | BPF_X:
    case BPF_ALU | BPF_AND | BPF_K:
    case BPF_ALU | BPF_AND | BPF_X:
    case BPF_ALU | BPF_OR | BPF_K:
    case BPF_ALU | BPF_OR | BPF_X:
    case BPF_ALU | BPF_XOR | BPF_K:
    case BPF_ALU | BPF_XOR | BPF_X:
    case BPF_ALU | BPF_LSH | BPF_K:
    case BPF_ALU | BPF_LSH | BPF_X:
    case BPF_ALU | BPF_RSH | BPF_K:
    case BPF_ALU | BPF_RSH | BPF_X:
    case BPF_ALU | BPF_NEG:
    case BPF_LD | BPF_IMM:
    case BPF_LDX | BPF_IMM:
    case BPF_MISC | BPF_TAX:
    case BPF_MISC | BPF_TXA:
    case BPF_LD | BPF_MEM:
    case BPF_LDX | BPF_MEM:
    case BPF_ST:
    case BPF_STX:
    case BPF_JMP | BPF_JA:
    case BPF_LD | BPF_W | BPF_ABS:
    case BPF_LD | BPF_W | BPF_LEN:
    case BPF_LDX | BPF_W | BPF_LEN:
      return true;
    default:
      return IsCondJump(code);
  }
}

}  // namespace

base::Result<void> CheckSeccompProgram(std::span<const sock_filter> prog) {
  const size_t n = prog.size();
  if (n == 0 || n > kMaxInsns) return base::Errno::kEINVAL;
  for (size_t pc = 0; pc < n; ++pc) {
    const sock_filter& f = prog[pc];
    if (!SeccompAllows(f.code)) return base::Errno::kEINVAL;
    switch (f.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        // Only aligned words of struct seccomp_data.
        if (f.k >= sizeof(SeccompData) || (f.k & 3) != 0) return base::Errno::kEINVAL;
        break;
      case BPF_ALU | BPF_DIV | BPF_K:
        if (f.k == 0) return base::Errno::kEINVAL;
        break;
      case BPF_ALU | BPF_LSH | BPF_K:
      case BPF_ALU | BPF_RSH | BPF_K:
        if (f.k >= 32) return base::Errno::kEINVAL;
        break;
      case BPF_LD | BPF_MEM:
      case BPF_LDX | BPF_MEM:
      case BPF_ST:
      case BPF_STX:
        if (f.k >= kMemWords) return base::Errno::kEINVAL;
        break;
      case BPF_JMP | BPF_JA:
        if (f.k >= n - pc - 1) return base::Errno::kEINVAL;
        break;
      default:
        if (IsCondJump(f.code) && (pc + f.jt + 1 >= n || pc + f.jf + 1 >= n)) return base::Errno::kEINVAL;
        break;
    }
  }
  const uint16_t last = prog[n - 1].code;
  if (last != (BPF_RET | BPF_K) && last != (BPF_RET | BPF_A)) return base::Errno::kEINVAL;
  // check_load_and_stores(): no scratch word read before a store on every
  // path to it. Jumps only go forward, so one pass sees every edge.
  std::vector<uint16_t> masks(n, 0xffff);
  uint16_t valid = 0;
  for (size_t pc = 0; pc < n; ++pc) {
    const sock_filter& f = prog[pc];
    valid &= masks[pc];
    if (f.code == BPF_ST || f.code == BPF_STX) {
      valid |= static_cast<uint16_t>(1u << f.k);
    } else if (f.code == (BPF_LD | BPF_MEM) || f.code == (BPF_LDX | BPF_MEM)) {
      if (!(valid & (1u << f.k))) return base::Errno::kEINVAL;
    } else if (f.code == (BPF_JMP | BPF_JA)) {
      masks[pc + 1 + f.k] &= valid;
      valid = 0xffff;
    } else if (IsCondJump(f.code)) {
      masks[pc + 1 + f.jt] &= valid;
      masks[pc + 1 + f.jf] &= valid;
      valid = 0xffff;
    }
  }
  return {};
}

SeccompFilter::SeccompFilter(std::vector<sock_filter> prog, bool log, std::shared_ptr<const SeccompFilter> prev)
    : prog_(std::move(prog)),
      log_(log),
      prev_(std::move(prev)),
      depth_(prev_ != nullptr ? prev_->depth_ + 1 : 1),
      path_insns_(prog_.size() + 4 + (prev_ != nullptr ? prev_->path_insns_ : 0)) {}

base::Result<std::shared_ptr<const SeccompFilter>> SeccompFilter::Create(std::vector<sock_filter> prog, bool log,
                                                                         std::shared_ptr<const SeccompFilter> prev) {
  TRY(CheckSeccompProgram(prog));
  // seccomp_attach_filter: the new program plus 4 per filter already there.
  const size_t total = prog.size() + (prev != nullptr ? prev->path_insns_ : 0);
  if (total > kMaxInsnsPerPath) return base::Errno::kENOMEM;
  return std::make_shared<const SeccompFilter>(std::move(prog), log, std::move(prev));
}

uint32_t SeccompFilter::RunOne(const SeccompData& d) const {
  uint32_t a = 0, x = 0;
  uint32_t mem[kMemWords] = {};
  const size_t n = prog_.size();
  // Every jump goes forward (checked at Create): the loop ends.
  for (size_t pc = 0; pc < n; ++pc) {
    const sock_filter& f = prog_[pc];
    switch (f.code) {
      case BPF_RET | BPF_K: return f.k;
      case BPF_RET | BPF_A: return a;
      case BPF_LD | BPF_W | BPF_ABS: std::memcpy(&a, reinterpret_cast<const uint8_t*>(&d) + f.k, 4); break;
      case BPF_LD | BPF_W | BPF_LEN: a = sizeof(SeccompData); break;
      case BPF_LDX | BPF_W | BPF_LEN: x = sizeof(SeccompData); break;
      case BPF_LD | BPF_IMM: a = f.k; break;
      case BPF_LDX | BPF_IMM: x = f.k; break;
      case BPF_LD | BPF_MEM: a = mem[f.k]; break;
      case BPF_LDX | BPF_MEM: x = mem[f.k]; break;
      case BPF_ST: mem[f.k] = a; break;
      case BPF_STX: mem[f.k] = x; break;
      case BPF_MISC | BPF_TAX: x = a; break;
      case BPF_MISC | BPF_TXA: a = x; break;
      case BPF_ALU | BPF_ADD | BPF_K: a += f.k; break;
      case BPF_ALU | BPF_ADD | BPF_X: a += x; break;
      case BPF_ALU | BPF_SUB | BPF_K: a -= f.k; break;
      case BPF_ALU | BPF_SUB | BPF_X: a -= x; break;
      case BPF_ALU | BPF_MUL | BPF_K: a *= f.k; break;
      case BPF_ALU | BPF_MUL | BPF_X: a *= x; break;
      case BPF_ALU | BPF_DIV | BPF_K: a /= f.k; break;
      case BPF_ALU | BPF_DIV | BPF_X:
        if (x == 0) return 0;  // classic BPF: division by zero ends with 0 (KILL_THREAD)
        a /= x;
        break;
      case BPF_ALU | BPF_AND | BPF_K: a &= f.k; break;
      case BPF_ALU | BPF_AND | BPF_X: a &= x; break;
      case BPF_ALU | BPF_OR | BPF_K: a |= f.k; break;
      case BPF_ALU | BPF_OR | BPF_X: a |= x; break;
      case BPF_ALU | BPF_XOR | BPF_K: a ^= f.k; break;
      case BPF_ALU | BPF_XOR | BPF_X: a ^= x; break;
      case BPF_ALU | BPF_LSH | BPF_K: a <<= f.k; break;
      case BPF_ALU | BPF_LSH | BPF_X: a = x < 32 ? a << x : 0; break;
      case BPF_ALU | BPF_RSH | BPF_K: a >>= f.k; break;
      case BPF_ALU | BPF_RSH | BPF_X: a = x < 32 ? a >> x : 0; break;
      case BPF_ALU | BPF_NEG: a = 0u - a; break;
      case BPF_JMP | BPF_JA: pc += f.k; break;
      case BPF_JMP | BPF_JEQ | BPF_K: pc += a == f.k ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JEQ | BPF_X: pc += a == x ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JGE | BPF_K: pc += a >= f.k ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JGE | BPF_X: pc += a >= x ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JGT | BPF_K: pc += a > f.k ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JGT | BPF_X: pc += a > x ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JSET | BPF_K: pc += (a & f.k) ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JSET | BPF_X: pc += (a & x) ? f.jt : f.jf; break;
      default: return 0;  // unreachable: Create checked every opcode
    }
  }
  return 0;  // unreachable: the last instruction returns
}

uint32_t SeccompFilter::Run(const SeccompData& d) const {
  // ACTION_ONLY() compares as s32, so KILL_PROCESS (0x80000000) wins.
  const auto action = [](uint32_t r) { return static_cast<int32_t>(r & kSeccompRetActionFull); };
  uint32_t ret = kSeccompRetAllow;
  for (const SeccompFilter* f = this; f != nullptr; f = f->prev_.get()) {
    const uint32_t cur = f->RunOne(d);
    if (action(cur) < action(ret)) ret = cur;
  }
  return ret;
}

}  // namespace sentry::kernel
