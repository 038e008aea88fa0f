/* process_memory.h: another process's memory through /proc/PID/mem, and
 * the pending-request word that the runtimes' own remote execution
 * (cli/cpython_remote.h, cli/pypy_remote.h) is driven by.  Reading and
 * writing need the same rights as ptrace; nothing here stops the process.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Open pid's memory for reading and writing: the descriptor, or -1 with
 * permission_denied in err. */
int ap_process_memory_open(pid_t pid, ap_error *err) __attribute__((warn_unused_result));

/* len bytes at addr: 0, or -1 when not all of them could be moved. */
int ap_process_memory_read(int fd, uint64_t addr, void *buf, size_t len)
        __attribute__((warn_unused_result));
int ap_process_memory_write(int fd, uint64_t addr, const void *buf, size_t len)
        __attribute__((warn_unused_result));

/* Close *fd if open, and mark it closed (-1): safe to call twice. */
void ap_process_memory_close(int *fd);

/* A request word of width 4 or 8 bytes at addr, non-zero while a request
 * is pending.  taken: 1 when it is zero again (the target took the
 * request), 0 while pending, -1 unreadable.  withdraw: 1 when it was still
 * pending and is now withdrawn, 0 when the target had taken it, -1 when it
 * cannot be read or written. */
int ap_pending_word_taken(int fd, uint64_t addr, size_t width);
int ap_pending_word_withdraw(int fd, uint64_t addr, size_t width);

/* The error when another client's request is still pending (the word was
 * up before attachpy wrote anything): injection_failed, with a hint.
 * Returns -1. */
int ap_pending_word_busy(ap_error *err, pid_t pid);
