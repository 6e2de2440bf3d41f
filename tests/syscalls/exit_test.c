/* exit(2) and exit_group(2). Static C so the earliest sandbox can run it.
 *
 * Modes (the harness checks the exit status of the direct ones):
 *   exit_test                 fork-based cases, exit 0 when all pass
 *   exit_test code N          exit_group(N) at once; expected status N & 0xff
 *   exit_test atexit N        exit(N) after an atexit handler prints
 *                             "atexit handler ran"
 *   exit_test thread N        a second thread calls exit_group(N) while main
 *                             blocks; expected status N */
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "check.h"

static void print_from_atexit(void) {
  static const char msg[] = "atexit handler ran\n";
  ssize_t ignored = write(STDOUT_FILENO, msg, sizeof(msg) - 1);
  (void)ignored;
}

static void* exit_group_from_thread(void* arg) {
  syscall(SYS_exit_group, (int)(long)arg);
  return NULL;
}

/* Forks a child running fn(arg) and returns its wait status (-1 on error). */
static int run_child(void (*fn)(long), long arg) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    fn(arg);
    _exit(100);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return status;
}

static void child_exit_group(long code) { syscall(SYS_exit_group, code); }
static void child_sigkill(long unused) {
  (void)unused;
  kill(getpid(), SIGKILL);
}
static void child_thread_exit_group(long code) {
  pthread_t t;
  if (pthread_create(&t, NULL, exit_group_from_thread, (void*)code) != 0) _exit(101);
  for (;;) pause();
}
/* Only the calling thread ends with exit(2); the process lives on while
 * another thread runs, and ends with the status of the last exit_group. */
static void* exit_only_this_thread(void* arg) {
  (void)arg;
  syscall(SYS_exit, 99);
  return NULL;
}
static void child_thread_exit(long code) {
  pthread_t t;
  if (pthread_create(&t, NULL, exit_only_this_thread, NULL) != 0) _exit(101);
  pthread_join(t, NULL);
  syscall(SYS_exit_group, code);
}

TEST_CASE(ExitGroupStatusReachesParent) {
  int status = run_child(child_exit_group, 42);
  CHECK(WIFEXITED(status));
  CHECK_EQ_LONG(WEXITSTATUS(status), 42);
}

TEST_CASE(ExitStatusKeepsOnlyLowEightBits) {
  int status = run_child(child_exit_group, 256 + 7);
  CHECK(WIFEXITED(status));
  CHECK_EQ_LONG(WEXITSTATUS(status), 7);
}

TEST_CASE(ExitGroupFromSecondThreadEndsWholeProcess) {
  int status = run_child(child_thread_exit_group, 9);
  CHECK(WIFEXITED(status));
  CHECK_EQ_LONG(WEXITSTATUS(status), 9);
}

TEST_CASE(ExitOfOneThreadLeavesProcessRunning) {
  int status = run_child(child_thread_exit, 11);
  CHECK(WIFEXITED(status));
  CHECK_EQ_LONG(WEXITSTATUS(status), 11);
}

TEST_CASE(SigkilledChildReportsSignalNotExit) {
  int status = run_child(child_sigkill, 0);
  CHECK(WIFSIGNALED(status));
  CHECK_EQ_LONG(WTERMSIG(status), SIGKILL);
}

static long parse_code(const char* s) { return strtol(s, NULL, 10); }

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "code") == 0) {
    syscall(SYS_exit_group, parse_code(argv[2]));
    return 100; /* Unreachable: exit_group does not return. */
  }
  if (argc == 3 && strcmp(argv[1], "atexit") == 0) {
    atexit(print_from_atexit);
    exit((int)parse_code(argv[2]));
  }
  if (argc == 3 && strcmp(argv[1], "thread") == 0) {
    child_thread_exit_group(parse_code(argv[2]));
    return 100;
  }
  RUN(ExitGroupStatusReachesParent);
  RUN(ExitStatusKeepsOnlyLowEightBits);
  RUN(ExitGroupFromSecondThreadEndsWholeProcess);
  RUN(ExitOfOneThreadLeavesProcessRunning);
  RUN(SigkilledChildReportsSignalNotExit);
  return check_done();
}
