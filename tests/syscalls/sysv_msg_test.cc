// System V message queues: msgget/msgsnd/msgrcv/msgctl, type selection,
// size limits, blocking across processes and EIDRM. Queues are IPC_PRIVATE
// and removed at scope end.
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::Eq;
using ::testing::StrEq;

class Queue {
 public:
  Queue() : id_(msgget(IPC_PRIVATE, IPC_CREAT | 0600)) {}
  ~Queue() {
    if (id_ >= 0) msgctl(id_, IPC_RMID, nullptr);
  }
  int id() const { return id_; }
  msqid_ds Stat() const {
    msqid_ds ds{};
    EXPECT_THAT(Libc(msgctl(id_, IPC_STAT, &ds)), Succeeds());
    return ds;
  }

 private:
  int id_;
};

struct Msg {
  long type;
  char text[8192];
};

int Send(int id, long type, const std::string& text, int flags = 0) {
  Msg m{};
  m.type = type;
  memcpy(m.text, text.data(), text.size());
  return msgsnd(id, &m, text.size(), flags);
}

// Receives into *m; returns msgrcv's result.
long Recv(int id, Msg* m, long type, int flags = IPC_NOWAIT, size_t size = sizeof(Msg::text)) {
  memset(m, 0, sizeof(*m));
  return msgrcv(id, m, size, type, flags);
}

template <typename F>
bool WaitUntil(F fn) {
  for (int i = 0; i < 20000; ++i) {
    if (fn()) return true;
    usleep(500);
  }
  return false;
}

int ExitCode(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + status; }

TEST(Msg, SendThenReceiveInOrder) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  ASSERT_THAT(Libc(Send(q.id(), 1, "first")), Succeeds());
  ASSERT_THAT(Libc(Send(q.id(), 1, "second!")), Succeeds());
  msqid_ds ds = q.Stat();
  EXPECT_THAT(ds.msg_qnum, Eq(2u));
  EXPECT_THAT(ds.__msg_cbytes, Eq(12u));
  EXPECT_THAT(ds.msg_lspid, Eq(getpid()));
  Msg m;
  EXPECT_THAT(Recv(q.id(), &m, 0), Eq(5));
  EXPECT_THAT(m.text, StrEq("first"));
  EXPECT_THAT(m.type, Eq(1));
  EXPECT_THAT(Recv(q.id(), &m, 0), Eq(7));
  EXPECT_THAT(m.text, StrEq("second!"));
  EXPECT_THAT(q.Stat().msg_lrpid, Eq(getpid()));
  EXPECT_THAT(Libc(Recv(q.id(), &m, 0)), FailsWith(ENOMSG));
}

TEST(Msg, TypeSelection) {
  Queue q;
  for (long t : {3, 1, 2, 5, 2}) ASSERT_THAT(Libc(Send(q.id(), t, std::to_string(t))), Succeeds());
  Msg m;
  ASSERT_THAT(Recv(q.id(), &m, 2), Eq(1));  // the first of type 2
  EXPECT_THAT(m.type, Eq(2));
  ASSERT_THAT(Recv(q.id(), &m, -4), Eq(1));  // the lowest type <= 4
  EXPECT_THAT(m.type, Eq(1));
  ASSERT_THAT(Recv(q.id(), &m, 3, IPC_NOWAIT | MSG_EXCEPT), Eq(1));  // the first not of type 3
  EXPECT_THAT(m.type, Eq(5));
  EXPECT_THAT(Libc(Recv(q.id(), &m, 4)), FailsWith(ENOMSG));
  ASSERT_THAT(Recv(q.id(), &m, 0), Eq(1));
  EXPECT_THAT(m.type, Eq(3));
  ASSERT_THAT(Recv(q.id(), &m, -100), Eq(1));
  EXPECT_THAT(m.type, Eq(2));
}

TEST(Msg, ShortBufferIsE2bigUnlessNoerror) {
  Queue q;
  ASSERT_THAT(Libc(Send(q.id(), 1, "abcdefgh")), Succeeds());
  Msg m;
  EXPECT_THAT(Libc(Recv(q.id(), &m, 0, IPC_NOWAIT, 4)), FailsWith(E2BIG));
  EXPECT_THAT(q.Stat().msg_qnum, Eq(1u));  // still queued
  EXPECT_THAT(Recv(q.id(), &m, 0, IPC_NOWAIT | MSG_NOERROR, 4), Eq(4));
  EXPECT_THAT(std::string(m.text), StrEq("abcd"));
  EXPECT_THAT(q.Stat().msg_qnum, Eq(0u));
}

TEST(Msg, SendChecksSizeAndType) {
  Queue q;
  Msg m{};
  m.type = 1;
  EXPECT_THAT(Libc(msgsnd(q.id(), &m, 8193, 0)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(msgsnd(q.id(), &m, static_cast<size_t>(-1), 0)), FailsWith(EINVAL));
  m.type = 0;
  EXPECT_THAT(Libc(msgsnd(q.id(), &m, 1, 0)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(msgsnd(q.id(), UnmappedAddress(), 1, 0)), FailsWith(EFAULT));
  EXPECT_THAT(Libc(msgsnd(-1, &m, 1, 0)), FailsWith(EINVAL));
  m.type = 1;
  EXPECT_THAT(Libc(msgsnd(q.id(), &m, 0, 0)), Succeeds());  // empty messages are fine
}

TEST(Msg, FullQueueGivesEagainWithNowait) {
  Queue q;
  std::string big(8192, 'x');
  ASSERT_THAT(Libc(Send(q.id(), 1, big)), Succeeds());
  ASSERT_THAT(Libc(Send(q.id(), 1, big)), Succeeds());  // 16384 = MSGMNB
  EXPECT_THAT(Libc(Send(q.id(), 1, "y", IPC_NOWAIT)), FailsWith(EAGAIN));
  // A smaller qbytes (allowed for the owner) applies at once.
  msqid_ds ds = q.Stat();
  EXPECT_THAT(ds.msg_qbytes, Eq(16384u));
  Msg m;
  ASSERT_THAT(Recv(q.id(), &m, 0), Eq(8192));
  ds.msg_qbytes = 8192;
  ASSERT_THAT(Libc(msgctl(q.id(), IPC_SET, &ds)), Succeeds());
  EXPECT_THAT(Libc(Send(q.id(), 1, "y", IPC_NOWAIT)), FailsWith(EAGAIN));
}

TEST(Msg, BlockedReceiverWakesOnSendFromAnotherProcess) {
  Queue q;
  const int id = q.id();
  pid_t pid = fork();
  if (pid == 0) {
    Msg m;
    if (Recv(id, &m, 7, 0) != 3) _exit(1);
    _exit(strcmp(m.text, "abc") == 0 ? 0 : 2);
  }
  // Unrelated messages do not wake it for good.
  ASSERT_THAT(Libc(Send(id, 1, "no")), Succeeds());
  usleep(1000);
  ASSERT_THAT(Libc(Send(id, 7, "abc")), Succeeds());
  int status = 0;
  ASSERT_THAT(waitpid(pid, &status, 0), Eq(pid));
  EXPECT_THAT(ExitCode(status), Eq(0));
  EXPECT_THAT(q.Stat().msg_qnum, Eq(1u));
}

TEST(Msg, BlockedSenderWakesWhenRoomIsMade) {
  Queue q;
  const int id = q.id();
  std::string big(8192, 'x');
  ASSERT_THAT(Libc(Send(id, 1, big)), Succeeds());
  ASSERT_THAT(Libc(Send(id, 2, big)), Succeeds());
  pid_t pid = fork();
  if (pid == 0) _exit(Send(id, 3, "z") == 0 ? 0 : 1);
  Msg m;
  ASSERT_THAT(Recv(id, &m, 1), Eq(8192));
  int status = 0;
  ASSERT_THAT(waitpid(pid, &status, 0), Eq(pid));
  EXPECT_THAT(ExitCode(status), Eq(0));
  ASSERT_THAT(Recv(id, &m, 3), Eq(1));
}

TEST(Msg, RemovalWakesReceiversWithEidrm) {
  // A queue has no waiter count to poll: if the child was not blocked yet
  // it fails with EINVAL (exit 3) and the attempt is repeated, waiting longer.
  int code = -1;
  for (int attempt = 1; attempt <= 5 && code != 0; ++attempt) {
    const int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    ASSERT_GE(id, 0);
    pid_t pid = fork();
    if (pid == 0) {
      Msg m;
      if (Recv(id, &m, 0, 0) == -1) _exit(errno == EIDRM ? 0 : errno == EINVAL ? 3 : 1);
      _exit(2);
    }
    usleep(50000 * attempt * attempt);
    ASSERT_THAT(Libc(msgctl(id, IPC_RMID, nullptr)), Succeeds());
    int status = 0;
    ASSERT_THAT(waitpid(pid, &status, 0), Eq(pid));
    code = ExitCode(status);
    if (code != 3) break;
  }
  EXPECT_THAT(code, Eq(0));
}

void NoteSignal(int) {}

TEST(Msg, SignalWithHandlerInterruptsWithEintr) {
  Queue q;
  const int id = q.id();
  // Installed before fork, so the child has it from the start.
  struct sigaction sa {}, old {};
  sa.sa_handler = NoteSignal;
  sa.sa_flags = SA_RESTART;  // msgrcv is never restarted after a handler
  sigaction(SIGUSR1, &sa, &old);
  pid_t pid = fork();
  if (pid == 0) {
    Msg m;
    _exit(Recv(id, &m, 0, 0) == -1 && errno == EINTR ? 0 : 1);
  }
  // A signal that comes before the child blocks only runs the handler:
  // keep sending until it is out.
  int status = 0;
  pid_t r = 0;
  for (int i = 0; i < 2000 && r == 0; ++i) {
    kill(pid, SIGUSR1);
    usleep(5000);
    r = waitpid(pid, &status, WNOHANG);
  }
  if (r == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  sigaction(SIGUSR1, &old, nullptr);
  EXPECT_THAT(ExitCode(status), Eq(0));
}

TEST(Msg, CopyReadsWithoutRemoving) {
  Queue q;
  ASSERT_THAT(Libc(Send(q.id(), 4, "one")), Succeeds());
  ASSERT_THAT(Libc(Send(q.id(), 5, "two")), Succeeds());
  Msg m;
  long r = Recv(q.id(), &m, 1, IPC_NOWAIT | MSG_COPY);
  if (r == -1 && errno == ENOSYS) GTEST_SKIP() << "kernel without CONFIG_CHECKPOINT_RESTORE";
  ASSERT_THAT(r, Eq(3));
  EXPECT_THAT(m.type, Eq(5));
  EXPECT_THAT(q.Stat().msg_qnum, Eq(2u));
  EXPECT_THAT(Libc(Recv(q.id(), &m, 2, IPC_NOWAIT | MSG_COPY)), FailsWith(ENOMSG));
  EXPECT_THAT(Libc(Recv(q.id(), &m, 0, MSG_COPY)), FailsWith(EINVAL));  // needs IPC_NOWAIT
}

TEST(Msg, CtlStatInfoAndErrors) {
  Queue q;
  msginfo info{};
  EXPECT_GE(msgctl(0, IPC_INFO, reinterpret_cast<msqid_ds*>(&info)), q.id() % 32768);
  EXPECT_THAT(info.msgmax, Eq(8192));
  EXPECT_THAT(info.msgmnb, Eq(16384));
  msqid_ds ds{};
  EXPECT_EQ(msgctl(q.id() % 32768, MSG_STAT, &ds), q.id());
  EXPECT_THAT(Libc(msgctl(q.id(), IPC_STAT, static_cast<msqid_ds*>(UnmappedAddress()))), FailsWith(EFAULT));
  EXPECT_THAT(Libc(msgctl(q.id(), 999, &ds)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(msgctl(-1, IPC_STAT, &ds)), FailsWith(EINVAL));
  Msg m;
  EXPECT_THAT(Libc(msgrcv(q.id(), UnmappedAddress(), 10, 0, IPC_NOWAIT)), FailsWith(ENOMSG));
  ASSERT_THAT(Libc(Send(q.id(), 1, "x")), Succeeds());
  EXPECT_THAT(Libc(msgrcv(q.id(), UnmappedAddress(), 10, 0, IPC_NOWAIT)), FailsWith(EFAULT));
  (void)m;
}

TEST(Msg, RaisingQbytesNeedsCapSysResource) {
  Queue q;
  msqid_ds ds = q.Stat();
  ds.msg_qbytes = 1 << 20;
  const int id = q.id();
  pid_t pid = fork();
  if (pid == 0) {
    if (geteuid() == 0 && (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)) _exit(1);
    // Not the owner any more: EPERM either way.
    _exit(msgctl(id, IPC_SET, &ds) == -1 && errno == EPERM ? 0 : 2);
  }
  int status = 0;
  ASSERT_THAT(waitpid(pid, &status, 0), Eq(pid));
  EXPECT_THAT(ExitCode(status), Eq(0));
}

TEST(Msg, ProcSysvipcListsTheQueue) {
  Queue q;
  ASSERT_THAT(Libc(Send(q.id(), 1, "hello")), Succeeds());
  std::ifstream f("/proc/sysvipc/msg");
  ASSERT_TRUE(f.good());
  std::string line;
  std::getline(f, line);
  bool found = false;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    long key = -1, id = -1, cbytes = 0, qnum = 0;
    std::string perms;
    in >> key >> id >> perms >> cbytes >> qnum;
    if (id == q.id()) {
      found = true;
      EXPECT_THAT(cbytes, Eq(5));
      EXPECT_THAT(qnum, Eq(1));
    }
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace syscall_test
