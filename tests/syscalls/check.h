/* A tiny assertion helper for the static C syscall tests. These programs are
 * built with -static and use nothing but write(2) for output, so the earliest
 * sandbox can run them. Each TEST_CASE prints "[ RUN ]"/"[  OK ]"/"[FAIL]"
 * lines; the program exits 1 if any check failed, 0 otherwise.
 *
 * Macros are the one sanctioned exception here: C has no source_location. */
#ifndef TESTS_SYSCALLS_CHECK_H_
#define TESTS_SYSCALLS_CHECK_H_

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int check_failures;
static int check_case_failed;

static void check_print(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void check_print(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n >= sizeof(buf)) n = sizeof(buf) - 1;
  /* Raw write(2): no stdio buffering to lose if the test dies. */
  const char* p = buf;
  while (n > 0) {
    ssize_t w = write(STDOUT_FILENO, p, (size_t)n);
    if (w <= 0) return;
    p += w;
    n -= (int)w;
  }
}

static void check_fail(const char* file, int line, const char* what) {
  check_print("%s:%d: check failed: %s\n", file, line, what);
  check_case_failed = 1;
}

/* CHECK(cond): records a failure if cond is false. */
#define CHECK(cond)                                         \
  do {                                                      \
    if (!(cond)) check_fail(__FILE__, __LINE__, #cond);     \
  } while (0)

/* CHECK_EQ_LONG(a, b): compares two integers, printing both on mismatch. */
#define CHECK_EQ_LONG(a, b)                                                       \
  do {                                                                            \
    long check_a_ = (long)(a), check_b_ = (long)(b);                              \
    if (check_a_ != check_b_) {                                                   \
      check_print("%s:%d: expected %s == %s, got %ld vs %ld\n", __FILE__,         \
                  __LINE__, #a, #b, check_a_, check_b_);                          \
      check_case_failed = 1;                                                      \
    }                                                                             \
  } while (0)

/* CHECK_ERRNO(call, err): call must return -1 with errno == err. */
#define CHECK_ERRNO(call, err)                                                    \
  do {                                                                            \
    errno = 0;                                                                    \
    long check_r_ = (long)(call);                                                 \
    int check_e_ = errno;                                                         \
    if (check_r_ != -1 || check_e_ != (err)) {                                    \
      const char* check_n_ = strerrorname_np(check_e_);                           \
      check_print("%s:%d: expected %s to fail with %s, got %ld (errno %s)\n",     \
                  __FILE__, __LINE__, #call, strerrorname_np(err), check_r_,      \
                  check_n_ ? check_n_ : "0");                                     \
      check_case_failed = 1;                                                      \
    }                                                                             \
  } while (0)

/* CHECK_OK(call): call must not return -1. */
#define CHECK_OK(call)                                                            \
  do {                                                                            \
    errno = 0;                                                                    \
    long check_r_ = (long)(call);                                                 \
    int check_e_ = errno;                                                         \
    if (check_r_ == -1) {                                                         \
      const char* check_n_ = strerrorname_np(check_e_);                           \
      check_print("%s:%d: expected %s to succeed, failed with %s\n", __FILE__,    \
                  __LINE__, #call, check_n_ ? check_n_ : "?");                    \
      check_case_failed = 1;                                                      \
    }                                                                             \
  } while (0)

/* TEST_CASE(Name) { ... } defines a case; RUN(Name) runs it. */
#define TEST_CASE(name) static void name(void)
#define RUN(name) check_run(#name, name)

/* CHECK_SKIP="A,B" (set by run.py from sandbox_gaps.txt) skips cases. */
static int check_skipped(const char* name) {
  const char* list = getenv("CHECK_SKIP");
  if (list == NULL) return 0;
  size_t n = strlen(name);
  for (const char* p = list; *p != '\0';) {
    const char* end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == n && strncmp(p, name, n) == 0) return 1;
    if (end == NULL) break;
    p = end + 1;
  }
  return 0;
}

static void check_run(const char* name, void (*fn)(void)) {
  if (check_skipped(name)) {
    check_print("[ SKIP ] %s (sandbox_gaps.txt)\n", name);
    return;
  }
  check_print("[ RUN  ] %s\n", name);
  check_case_failed = 0;
  fn();
  if (check_case_failed) {
    check_failures++;
    check_print("[ FAIL ] %s\n", name);
  } else {
    check_print("[   OK ] %s\n", name);
  }
}

/* Returns from main: 0 if every case passed. */
static int check_done(void) {
  if (check_failures) {
    check_print("%d case(s) FAILED\n", check_failures);
    return 1;
  }
  check_print("all cases passed\n");
  return 0;
}

/* True when the harness says we run inside the sandbox. */
static int check_is_sandboxed(void) {
  const char* v = getenv("RUNSC_SANDBOXED");
  return v != NULL && strcmp(v, "1") == 0;
}

/* An address that is certainly unmapped (a page mapped then unmapped). */
static void* check_unmapped_address(void) {
  long page = sysconf(_SC_PAGESIZE);
  void* p = mmap(NULL, (size_t)page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) abort();
  munmap(p, (size_t)page);
  return p;
}

#endif /* TESTS_SYSCALLS_CHECK_H_ */
