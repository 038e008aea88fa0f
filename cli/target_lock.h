/* target_lock.h: one attachpy at a time per target process.
 *
 * Two runs on one process would race for its ptrace slot and interleave
 * their debuggers' calls.  A run holds an abstract unix socket named after
 * the target's PID and start time for its whole length; a second run waits
 * for it (within its --timeout) and then goes on.  The kernel releases the
 * name when the holder exits, however it exits: nothing is left behind, no
 * file in a shared directory.  (Abstract names live in the network
 * namespace: runs from different network namespaces do not see each other;
 * the ptrace check still refuses the second of two overlapping attaches.)
 */
#pragma once

#include <sys/types.h>

#include "error.h"

/* Wait until this process holds pid's lock, or deadline_ms (ap_now_ms()) or
 * cancel_fd readable.  Returns a file descriptor to close to release it;
 * -1 with err set (timeout: another attachpy still holds it).  A process
 * that cannot be read (gone) gets -2 and no error: preflight says why. */
int ap_target_lock(pid_t pid, double deadline_ms, int cancel_fd, ap_error *err);

/* The lock's name for a process started at starttime (clock ticks after
 * boot, /proc/PID/stat field 22), without the leading NUL. */
void ap_target_lock_name(pid_t pid, unsigned long long starttime, char *buf, size_t size);
