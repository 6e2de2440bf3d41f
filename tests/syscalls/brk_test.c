/* brk(2), through the raw syscall: glibc's sbrk caches the break. Static C. */
#include <stdint.h>
#include <sys/syscall.h>

#include "check.h"

static uintptr_t raw_brk(uintptr_t addr) { return (uintptr_t)syscall(SYS_brk, addr); }

TEST_CASE(BrkZeroReturnsCurrentBreak) {
  uintptr_t a = raw_brk(0);
  uintptr_t b = raw_brk(0);
  CHECK(a != 0);
  CHECK_EQ_LONG(a, b);
}

TEST_CASE(GrowingBreakGivesWritableZeroedMemory) {
  uintptr_t start = raw_brk(0);
  uintptr_t want = start + 3 * 4096 + 100; /* Not page aligned on purpose. */
  CHECK_EQ_LONG(raw_brk(want), want);
  CHECK_EQ_LONG(raw_brk(0), want);
  volatile unsigned char* p = (volatile unsigned char*)start;
  int all_zero = 1;
  for (uintptr_t i = 0; i < want - start; i++) all_zero &= (p[i] == 0);
  CHECK(all_zero);
  for (uintptr_t i = 0; i < want - start; i++) p[i] = (unsigned char)i;
  CHECK_EQ_LONG(p[4097], (unsigned char)4097);
  CHECK_EQ_LONG(raw_brk(start), start);
}

TEST_CASE(ShrunkThenRegrownBreakIsZeroedAgain) {
  uintptr_t start = raw_brk(0);
  /* Page-aligned region beyond the first page so shrinking really unmaps. */
  uintptr_t base = (start + 4095) & ~(uintptr_t)4095;
  uintptr_t top = base + 2 * 4096;
  CHECK_EQ_LONG(raw_brk(top), top);
  volatile unsigned char* p = (volatile unsigned char*)(base + 4096);
  p[0] = 0xab;
  CHECK_EQ_LONG(raw_brk(base), base);
  CHECK_EQ_LONG(raw_brk(top), top);
  CHECK_EQ_LONG(p[0], 0);
  CHECK_EQ_LONG(raw_brk(start), start);
}

TEST_CASE(BrkBelowStartFailsByReturningCurrentBreak) {
  /* Linux never returns an errno from brk: failure returns the old break. */
  uintptr_t cur = raw_brk(0);
  CHECK_EQ_LONG(raw_brk(4096), cur);
  CHECK_EQ_LONG(raw_brk(0), cur);
}

TEST_CASE(HugeBrkFailsByReturningCurrentBreak) {
  uintptr_t cur = raw_brk(0);
  /* Beyond the 47-bit user address space: fails whatever the overcommit
   * policy. */
  CHECK_EQ_LONG(raw_brk(cur + ((uintptr_t)1 << 47)), cur);
  CHECK_EQ_LONG(raw_brk((uintptr_t)-4096), cur);
  CHECK_EQ_LONG(raw_brk(0), cur);
}

TEST_CASE(MallocStillWorksAfterBrkProbes) {
  char* p = malloc(1000);
  CHECK(p != NULL);
  if (p != NULL) {
    memset(p, 'x', 1000);
    CHECK_EQ_LONG(p[999], 'x');
  }
  free(p);
}

int main(void) {
  RUN(BrkZeroReturnsCurrentBreak);
  RUN(GrowingBreakGivesWritableZeroedMemory);
  RUN(ShrunkThenRegrownBreakIsZeroedAgain);
  RUN(BrkBelowStartFailsByReturningCurrentBreak);
  RUN(HugeBrkFailsByReturningCurrentBreak);
  RUN(MallocStillWorksAfterBrkProbes);
  return check_done();
}
