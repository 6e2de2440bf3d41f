// Threads of a thread group (kernel/fork.c copy_process for CLONE_THREAD,
// kernel/exit.c): registration, thread exit (clear_child_tid, robust
// futexes), and the leader waiting for its threads. Kernel::CloneThread
// (kernel.h) creates threads.
#ifndef SENTRY_KERNEL_THREAD_H_
#define SENTRY_KERNEL_THREAD_H_

#include "sentry/kernel/task.h"

namespace sentry::kernel {

// Adds `t` to its thread group's live threads (idempotent: true if it is
// there already). False, and nothing done, if a group exit is under way.
// Any thread; takes signal_mu (Kernel::mu_ may be held).
bool RegisterThread(Task& t);

// Ends `t` as a thread: CLONE_CHILD_CLEARTID write and futex wake, robust
// list walk, removal from the group. The group leader then waits until all
// other threads are gone (Linux's delayed leader reaping). Returns the Linux
// wait status: the group exit status if one is under way, else the task's.
// Task thread, after its run loop.
int ExitThread(Task& t);

// execve's mm_release() for the old memory: the robust list is walked and
// forgotten; clear_child_tid is written and woken only if another user of
// the memory remains (a vfork parent), then forgotten. Task thread.
void ExecReleaseMm(Task& t);

// The last step of a non-leader thread's sentry thread, after its Task has
// left the registry and been destroyed: lets the leader's ExitThread return.
void ThreadFinished(ThreadGroup& tg);

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_THREAD_H_
