// System V semaphores: semget/semop/semtimedop/semctl, SEM_UNDO at exit,
// blocking across processes, EIDRM and EINTR. Sets are IPC_PRIVATE (or a
// pid-derived key) and removed at scope end.
#include <pthread.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::ElementsAre;
using ::testing::Eq;

union semun {
  int val;
  semid_ds* buf;
  unsigned short* array;
  seminfo* info;
};

class Sem {
 public:
  explicit Sem(int nsems, int flags = 0600, key_t key = IPC_PRIVATE) : id_(semget(key, nsems, IPC_CREAT | flags)) {}
  ~Sem() {
    if (id_ >= 0) semctl(id_, 0, IPC_RMID);
  }
  int id() const { return id_; }
  int Get(int n) const { return semctl(id_, n, GETVAL); }
  void Set(int n, int v) const {
    semun a{};
    a.val = v;
    ASSERT_THAT(Libc(semctl(id_, n, SETVAL, a)), Succeeds());
  }

 private:
  int id_;
};

int Op(int id, unsigned short num, short op, short flg = 0) {
  sembuf b{num, op, flg};
  return semop(id, &b, 1);
}

// Polls until fn() holds (another process reached a state); fails the test
// after a generous bound instead of hanging.
template <typename F>
bool WaitUntil(F fn) {
  for (int i = 0; i < 20000; ++i) {
    if (fn()) return true;
    usleep(500);
  }
  return false;
}

int ExitCode(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + status; }

TEST(Sem, SetValGetValAndOps) {
  Sem s(3);
  ASSERT_GE(s.id(), 0);
  EXPECT_THAT(s.Get(0), Eq(0));
  s.Set(1, 5);
  EXPECT_THAT(s.Get(1), Eq(5));
  ASSERT_THAT(Libc(Op(s.id(), 1, -2)), Succeeds());
  ASSERT_THAT(Libc(Op(s.id(), 2, 3)), Succeeds());
  EXPECT_THAT(s.Get(1), Eq(3));
  EXPECT_THAT(s.Get(2), Eq(3));
  EXPECT_THAT(semctl(s.id(), 1, GETPID), Eq(getpid()));
  unsigned short vals[3] = {};
  semun a{};
  a.array = vals;
  ASSERT_THAT(Libc(semctl(s.id(), 0, GETALL, a)), Succeeds());
  EXPECT_THAT(vals, ElementsAre(0, 3, 3));
  unsigned short nv[3] = {7, 8, 9};
  a.array = nv;
  ASSERT_THAT(Libc(semctl(s.id(), 0, SETALL, a)), Succeeds());
  EXPECT_THAT(s.Get(2), Eq(9));
}

TEST(Sem, OperationsApplyAllOrNothing) {
  Sem s(2);
  s.Set(0, 1);
  sembuf ops[2] = {{0, -1, IPC_NOWAIT}, {1, -1, IPC_NOWAIT}};
  EXPECT_THAT(Libc(semop(s.id(), ops, 2)), FailsWith(EAGAIN));
  EXPECT_THAT(s.Get(0), Eq(1));
  // Later operations see earlier ones on the same semaphore.
  sembuf twice[2] = {{1, 2, 0}, {1, -1, 0}};
  ASSERT_THAT(Libc(semop(s.id(), twice, 2)), Succeeds());
  EXPECT_THAT(s.Get(1), Eq(1));
}

TEST(Sem, NowaitAndTimeoutGiveEagain) {
  Sem s(1);
  EXPECT_THAT(Libc(Op(s.id(), 0, -1, IPC_NOWAIT)), FailsWith(EAGAIN));
  s.Set(0, 1);
  EXPECT_THAT(Libc(Op(s.id(), 0, 0, IPC_NOWAIT)), FailsWith(EAGAIN));  // wait-for-zero
  sembuf b{0, -2, 0};
  timespec ts{0, 1000000};
  EXPECT_THAT(Libc(semtimedop(s.id(), &b, 1, &ts)), FailsWith(EAGAIN));
  timespec bad{0, 1000000000};
  EXPECT_THAT(Libc(semtimedop(s.id(), &b, 1, &bad)), FailsWith(EINVAL));
  EXPECT_THAT(s.Get(0), Eq(1));
}

TEST(Sem, LimitsAndRanges) {
  Sem s(2);
  std::vector<sembuf> many(501, sembuf{0, 1, 0});
  EXPECT_THAT(Libc(semop(s.id(), many.data(), many.size())), FailsWith(E2BIG));
  EXPECT_THAT(Libc(semop(s.id(), many.data(), 0)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(Op(s.id(), 2, 1)), FailsWith(EFBIG));
  semun a{};
  a.val = 32768;
  EXPECT_THAT(Libc(semctl(s.id(), 0, SETVAL, a)), FailsWith(ERANGE));
  a.val = -1;
  EXPECT_THAT(Libc(semctl(s.id(), 0, SETVAL, a)), FailsWith(ERANGE));
  s.Set(0, 32767);
  EXPECT_THAT(Libc(Op(s.id(), 0, 1)), FailsWith(ERANGE));
  EXPECT_THAT(Libc(semctl(s.id(), 5, GETVAL)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(semctl(s.id(), 0, 1234)), FailsWith(EINVAL));
}

TEST(Sem, GetChecksCountsAndKeys) {
  EXPECT_THAT(Libc(semget(IPC_PRIVATE, 0, IPC_CREAT | 0600)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(semget(IPC_PRIVATE, 32001, IPC_CREAT | 0600)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(semget(IPC_PRIVATE, -1, IPC_CREAT | 0600)), FailsWith(EINVAL));
  const key_t key = static_cast<key_t>(0x53e00000 | ((getpid() & 0xffff) << 4));
  Sem s(2, 0600, key);
  ASSERT_GE(s.id(), 0);
  EXPECT_EQ(semget(key, 0, 0), s.id());
  EXPECT_EQ(semget(key, 2, 0), s.id());
  EXPECT_THAT(Libc(semget(key, 3, 0)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(semget(key, 2, IPC_CREAT | IPC_EXCL | 0600)), FailsWith(EEXIST));
  EXPECT_THAT(Libc(semget(key + 1, 2, 0)), FailsWith(ENOENT));
}

TEST(Sem, StatInfoAndStatByIndex) {
  Sem s(4);
  semid_ds ds{};
  semun a{};
  a.buf = &ds;
  ASSERT_THAT(Libc(semctl(s.id(), 0, IPC_STAT, a)), Succeeds());
  EXPECT_THAT(ds.sem_nsems, Eq(4u));
  EXPECT_THAT(ds.sem_perm.mode & 0777, Eq(0600u));
  EXPECT_THAT(ds.sem_perm.uid, Eq(geteuid()));
  EXPECT_EQ(semctl(s.id() % 32768, 0, SEM_STAT, a), s.id());
  seminfo info{};
  a.info = &info;
  EXPECT_GE(semctl(0, 0, IPC_INFO, a), s.id() % 32768);
  EXPECT_THAT(info.semvmx, Eq(32767));
  EXPECT_GE(info.semmsl, 1);
  a.buf = static_cast<semid_ds*>(UnmappedAddress());
  EXPECT_THAT(Libc(semctl(s.id(), 0, IPC_STAT, a)), FailsWith(EFAULT));
  ds.sem_perm.mode = 0640;
  a.buf = &ds;
  ASSERT_THAT(Libc(semctl(s.id(), 0, IPC_SET, a)), Succeeds());
  ASSERT_THAT(Libc(semctl(s.id(), 0, IPC_STAT, a)), Succeeds());
  EXPECT_THAT(ds.sem_perm.mode & 0777, Eq(0640u));
}

TEST(Sem, BadOpsPointerIsEfault) {
  Sem s(1);
  EXPECT_THAT(Libc(semop(s.id(), static_cast<sembuf*>(UnmappedAddress()), 1)), FailsWith(EFAULT));
  unsigned short* bad = static_cast<unsigned short*>(UnmappedAddress());
  semun a{};
  a.array = bad;
  EXPECT_THAT(Libc(semctl(s.id(), 0, GETALL, a)), FailsWith(EFAULT));
  EXPECT_THAT(Libc(semctl(s.id(), 0, SETALL, a)), FailsWith(EFAULT));
}

TEST(Sem, BlockedWaiterWakesWhenAnotherProcessPosts) {
  Sem s(1);
  const int id = s.id();
  pid_t pid = fork();
  if (pid == 0) _exit(Op(id, 0, -1) == 0 ? 0 : 1);
  ASSERT_TRUE(WaitUntil([&] { return semctl(id, 0, GETNCNT) == 1; }));
  ASSERT_THAT(Libc(Op(id, 0, 1)), Succeeds());
  int status = 0;
  ASSERT_THAT(waitpid(pid, &status, 0), Eq(pid));
  EXPECT_THAT(ExitCode(status), Eq(0));
  EXPECT_THAT(s.Get(0), Eq(0));
  EXPECT_THAT(semctl(id, 0, GETNCNT), Eq(0));
}

TEST(Sem, ZeroWaiterWakesWhenValueReachesZero) {
  Sem s(1);
  s.Set(0, 1);
  const int id = s.id();
  pid_t pid = fork();
  if (pid == 0) _exit(Op(id, 0, 0) == 0 ? 0 : 1);
  ASSERT_TRUE(WaitUntil([&] { return semctl(id, 0, GETZCNT) == 1; }));
  ASSERT_THAT(Libc(Op(id, 0, -1)), Succeeds());
  int status = 0;
  ASSERT_THAT(waitpid(pid, &status, 0), Eq(pid));
  EXPECT_THAT(ExitCode(status), Eq(0));
}

TEST(Sem, RemovalWakesWaitersWithEidrm) {
  const int id = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
  ASSERT_GE(id, 0);
  pid_t pid = fork();
  if (pid == 0) _exit(Op(id, 0, -1) == -1 && errno == EIDRM ? 0 : 1);
  ASSERT_TRUE(WaitUntil([&] { return semctl(id, 0, GETNCNT) == 1; }));
  ASSERT_THAT(Libc(semctl(id, 0, IPC_RMID)), Succeeds());
  int status = 0;
  ASSERT_THAT(waitpid(pid, &status, 0), Eq(pid));
  EXPECT_THAT(ExitCode(status), Eq(0));
  EXPECT_THAT(Libc(semctl(id, 0, GETVAL)), FailsWith(EINVAL));
}

void NoteSignal(int) {}

TEST(Sem, SignalInterruptsWithEintrEvenWithSaRestart) {
  Sem s(1);
  const int id = s.id();
  pid_t pid = fork();
  if (pid == 0) {
    struct sigaction sa {};
    sa.sa_handler = NoteSignal;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, nullptr);
    _exit(Op(id, 0, -1) == -1 && errno == EINTR ? 0 : 1);
  }
  ASSERT_TRUE(WaitUntil([&] { return semctl(id, 0, GETNCNT) == 1; }));
  kill(pid, SIGUSR1);
  int status = 0;
  ASSERT_THAT(waitpid(pid, &status, 0), Eq(pid));
  EXPECT_THAT(ExitCode(status), Eq(0));
  EXPECT_THAT(semctl(id, 0, GETNCNT), Eq(0));
}

TEST(Sem, UndoIsAppliedWhenTheProcessExits) {
  Sem s(2);
  s.Set(1, 5);
  const int id = s.id();
  pid_t pid = fork();
  if (pid == 0) {
    if (Op(id, 0, 3, SEM_UNDO) != 0 || Op(id, 1, -2, SEM_UNDO) != 0) _exit(1);
    _exit(semctl(id, 0, GETVAL) == 3 ? 0 : 2);
  }
  int status = 0;
  ASSERT_THAT(waitpid(pid, &status, 0), Eq(pid));
  EXPECT_THAT(ExitCode(status), Eq(0));
  EXPECT_THAT(s.Get(0), Eq(0));
  EXPECT_THAT(s.Get(1), Eq(5));
  EXPECT_THAT(semctl(id, 0, GETPID), Eq(pid));
}

TEST(Sem, UndoClampsAtZero) {
  Sem s(1);
  const int id = s.id();
  pid_t pid = fork();
  // The child takes its own units back without SEM_UNDO: the adjustment
  // (-2) at exit would go below zero and stops there.
  if (pid == 0) _exit(Op(id, 0, 2, SEM_UNDO) == 0 && Op(id, 0, -2) == 0 ? 0 : 1);
  int status = 0;
  ASSERT_THAT(waitpid(pid, &status, 0), Eq(pid));
  EXPECT_THAT(s.Get(0), Eq(0));
  s.Set(0, 1);
  pid = fork();
  if (pid == 0) {
    if (Op(id, 0, 2, SEM_UNDO) != 0) _exit(1);
    semun a{};
    a.val = 1;
    semctl(id, 0, SETVAL, a);  // SETVAL clears every adjustment
    _exit(0);
  }
  ASSERT_THAT(waitpid(pid, &status, 0), Eq(pid));
  EXPECT_THAT(ExitCode(status), Eq(0));
  EXPECT_THAT(s.Get(0), Eq(1));
}

void* UndoThread(void* arg) {
  const int id = *static_cast<int*>(arg);
  return reinterpret_cast<void*>(static_cast<intptr_t>(Op(id, 0, 1, SEM_UNDO)));
}

TEST(Sem, ThreadsShareTheUndoListUntilTheProcessExits) {
  Sem s(1);
  int id = s.id();
  pid_t pid = fork();
  if (pid == 0) {
    pthread_t th;
    void* ret = nullptr;
    if (pthread_create(&th, nullptr, UndoThread, &id) != 0 || pthread_join(th, &ret) != 0 || ret != nullptr) _exit(1);
    // The thread's exit did not undo: the process (CLONE_SYSVSEM) still holds the list.
    _exit(semctl(id, 0, GETVAL) == 1 ? 0 : 2);
  }
  int status = 0;
  ASSERT_THAT(waitpid(pid, &status, 0), Eq(pid));
  EXPECT_THAT(ExitCode(status), Eq(0));
  EXPECT_THAT(s.Get(0), Eq(0));
}

TEST(Sem, PermissionsApplyToOtherUsers) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch users";
  Sem s(1, 0600);
  const int id = s.id();
  pid_t pid = fork();
  if (pid == 0) {
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(1);
    if (Op(id, 0, 1) != -1 || errno != EACCES) _exit(2);
    if (semctl(id, 0, GETVAL) != -1 || errno != EACCES) _exit(3);
    if (semctl(id, 0, IPC_RMID) != -1 || errno != EPERM) _exit(4);
    _exit(0);
  }
  int status = 0;
  ASSERT_THAT(waitpid(pid, &status, 0), Eq(pid));
  EXPECT_THAT(ExitCode(status), Eq(0));
}

TEST(Sem, ProcSysvipcListsTheSet) {
  Sem s(3);
  std::ifstream f("/proc/sysvipc/sem");
  ASSERT_TRUE(f.good());
  std::string line;
  std::getline(f, line);
  bool found = false;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    long key = -1, id = -1, nsems = 0;
    std::string perms;
    in >> key >> id >> perms >> nsems;
    if (id == s.id()) {
      found = true;
      EXPECT_THAT(nsems, Eq(3));
    }
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace syscall_test
