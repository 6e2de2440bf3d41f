/* getrandom(2). Static C. */
#include <sys/random.h>
#include <sys/syscall.h>

#include "check.h"

TEST_CASE(GetrandomFillsWholeSmallBuffer) {
  unsigned char buf[64];
  memset(buf, 0, sizeof(buf));
  CHECK_EQ_LONG(syscall(SYS_getrandom, buf, sizeof(buf), 0), sizeof(buf));
  int nonzero = 0;
  for (size_t i = 0; i < sizeof(buf); i++) nonzero |= buf[i];
  CHECK(nonzero); /* 2^-512 chance of a false failure. */
}

TEST_CASE(TwoCallsGiveDifferentBytes) {
  unsigned char a[32], b[32];
  CHECK_EQ_LONG(syscall(SYS_getrandom, a, sizeof(a), 0), sizeof(a));
  CHECK_EQ_LONG(syscall(SYS_getrandom, b, sizeof(b), 0), sizeof(b));
  CHECK(memcmp(a, b, sizeof(a)) != 0);
}

TEST_CASE(ZeroLengthReturnsZero) {
  CHECK_EQ_LONG(syscall(SYS_getrandom, NULL, 0, 0), 0);
}

TEST_CASE(NonblockAndInsecureFlagsAreAccepted) {
  unsigned char buf[16];
  CHECK_EQ_LONG(syscall(SYS_getrandom, buf, sizeof(buf), GRND_NONBLOCK), sizeof(buf));
  CHECK_EQ_LONG(syscall(SYS_getrandom, buf, sizeof(buf), GRND_INSECURE), sizeof(buf));
  CHECK_EQ_LONG(syscall(SYS_getrandom, buf, sizeof(buf), GRND_RANDOM | GRND_NONBLOCK),
                sizeof(buf));
}

TEST_CASE(UnknownFlagFailsWithEinval) {
  unsigned char buf[16];
  CHECK_ERRNO(syscall(SYS_getrandom, buf, sizeof(buf), 0x100), EINVAL);
}

TEST_CASE(RandomWithInsecureFailsWithEinval) {
  unsigned char buf[16];
  CHECK_ERRNO(syscall(SYS_getrandom, buf, sizeof(buf), GRND_RANDOM | GRND_INSECURE), EINVAL);
}

TEST_CASE(BadPointerFailsWithEfault) {
  CHECK_ERRNO(syscall(SYS_getrandom, check_unmapped_address(), 16, 0), EFAULT);
}

TEST_CASE(RequestUpTo256BytesIsAlwaysServedInFull) {
  unsigned char buf[256];
  CHECK_EQ_LONG(syscall(SYS_getrandom, buf, sizeof(buf), 0), sizeof(buf));
}

TEST_CASE(LargeRequestReturnsPositiveCountNoMoreThanAsked) {
  /* man 2 getrandom: above 256 bytes a call may return fewer bytes. */
  size_t len = 1 << 20;
  unsigned char* buf = malloc(len);
  CHECK(buf != NULL);
  if (buf != NULL) {
    long n = syscall(SYS_getrandom, buf, len, 0);
    CHECK(n >= 256 && n <= (long)len);
  }
  free(buf);
}

int main(void) {
  RUN(GetrandomFillsWholeSmallBuffer);
  RUN(TwoCallsGiveDifferentBytes);
  RUN(ZeroLengthReturnsZero);
  RUN(NonblockAndInsecureFlagsAreAccepted);
  RUN(UnknownFlagFailsWithEinval);
  RUN(RandomWithInsecureFailsWithEinval);
  RUN(BadPointerFailsWithEfault);
  RUN(RequestUpTo256BytesIsAlwaysServedInFull);
  RUN(LargeRequestReturnsPositiveCountNoMoreThanAsked);
  return check_done();
}
