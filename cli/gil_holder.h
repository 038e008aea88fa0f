/* gil_holder.h: which thread of a process holds the GIL, and where it is.
 *
 * Read from /proc only, without attaching: a thread that waits for the GIL
 * waits in a futex on the GIL's condition variable, as the agent's own
 * thread does while it waits for it; the thread that holds it is one that
 * does not.  Where the holder is parked in a system call, its program
 * counter and the return addresses on its stack are resolved against the
 * ELF symbols of the mappings they fall in.  A best effort: "unknown" where
 * it cannot tell.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* /proc/PID/task/TID/syscall, parsed. */
typedef struct ap_thread_syscall {
        bool running; /* "running": not in a system call, no registers shown */
        long nr;      /* the system call, -1 when blocked outside one */
        uint64_t args[6];
        uint64_t sp, pc;
} ap_thread_syscall;

/* Parse the text of /proc/PID/task/TID/syscall.  Returns 0, or -1 when
 * malformed. */
int ap_thread_syscall_parse(const char *text, ap_thread_syscall *ret);

/* Whether syscall nr is futex on this architecture. */
bool ap_syscall_is_futex(long nr);

/* Describe the thread that holds the GIL of process pid into buf, e.g.
 * "thread 4242 (python3, the main thread), in read (libc.so.6) called from
 * ffi_call_unix64 (libffi.so.8)".  agent_tid is the agent's thread waiting
 * for the GIL (0 when none: the main thread is described then, the one a
 * queued call waits for).  Always writes something. */
void ap_gil_holder_describe(pid_t pid, pid_t agent_tid, char *buf, size_t size);
