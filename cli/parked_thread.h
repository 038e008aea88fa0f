/* parked_thread.h: threads sitting in a system call, as /proc/PID/task
 * shows them, and the guards the scripts use to check that a thread is
 * still where the CLI saw it.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Which system calls make a thread "parked". */
typedef enum ap_parked_kind {
        AP_PARKED_WAITS, /* read, poll, accept, sleeps, ...: see parked_thread.c */
        AP_PARKED_FUTEX, /* a futex wait: a lock, a condition, a join */
        /* A futex wait with no timeout, never a restarted one: PyPy, whose
         * GIL "stealer" holds a lock of the GIL while it sleeps in a timed
         * wait on the GIL's condition variable (a call that takes the GIL
         * there waits for its own thread). */
        AP_PARKED_FUTEX_UNTIMED,
        AP_PARKED_ANY, /* any system call */
} ap_parked_kind;

/* A thread the CLI found sitting in a system call, from
 * /proc/PID/task/TID/syscall.  The script checks that it is still there
 * (same stack pointer and program counter, a restart code in the return
 * register) before it calls anything in it. */
typedef struct ap_parked_thread {
        int index; /* 1-based rank of its tid among the process's (lldb's thread index) */
        pid_t tid;
        long nr;     /* the system call */
        uint64_t sp; /* its user stack pointer and program counter there */
        uint64_t pc;
} ap_parked_thread;

/* Is system call nr one of kind's? */
bool ap_parked_syscall(ap_parked_kind kind, long nr);

/* The first thread of process pid (main thread first, then in
 * ascending tid order) that sits in a system call of that kind.
 * Returns 1 and fills *ret, 0 if none, -1 if the process cannot be read. */
int ap_find_parked_thread(pid_t pid, ap_parked_kind kind, ap_parked_thread *ret);

/* The first thread in tid order parked in a call of kind, the main thread
 * if it is one; avoid (a tid, or 0) is taken only when no other is.
 * Returns 1 and fills *ret, 0 if none, -1 if the process cannot be read. */
int ap_parked_find(pid_t pid, ap_parked_kind kind, pid_t avoid, ap_parked_thread *ret);

/* Is thread t still in a call of that kind, on the same stack, at the same
 * place?  Fills *now (its index among today's threads). */
bool ap_parked_still_waits(pid_t pid, const ap_parked_thread *t, ap_parked_kind kind,
                           ap_parked_thread *now);

/* A C expression, true in a thread stopped inside a system call of that
 * kind (interrupted by the debugger: the return register holds -ERESTART*
 * or -EINTR, the syscall-number register the call).  ret_reg and nr_reg
 * name the two registers ("$rax", "$orig_rax").  NULL when out of memory. */
char *ap_parked_condition(ap_parked_kind kind, const char *ret_reg, const char *nr_reg);

/* A C expression, true in a thread whose system call the debugger
 * interrupted (ret_reg, e.g. "$rax", holds -ERESTART* or -EINTR).  NULL
 * when out of memory. */
char *ap_restart_condition(const char *ret_reg);

/* The guard: a C expression, true in the thread the plan chose while it is
 * still where the CLI saw it.  Registers are spelled as in gdb and lldb
 * ($rax, $rsp, $pc).  NULL when out of memory. */
char *ap_thread_guard(const ap_parked_thread *t);
