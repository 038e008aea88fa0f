/* lldb_allocations.h: the memory lldb allocated in the target, and leaves.
 *
 * lldb evaluates expressions by JIT-compiling them into pages it allocates
 * in the target (the gdb-remote packet "_M<size>,<permissions>", answered
 * with the address) and never frees them when it detaches: four pages per
 * session.  The lldb scripts log the packets to a file in the session; this
 * module reads the allocations from it, and keeps those that still lie
 * inside one anonymous private mapping of the process (the kernel merges
 * them with anonymous neighbours of the same permissions).  The agent unmaps them
 * (record UNMP, docs/protocol.md) once lldb is gone.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct ap_range {
        uint64_t addr;
        uint64_t len;
} ap_range;

#define AP_MAX_LLDB_ALLOCATIONS 32

/* Allocations (minus those freed with "_m") in an lldb gdb-remote packet
 * log.  Returns how many were stored in out (at most max). */
size_t ap_lldb_allocations_parse(const char *log, ap_range *out, size_t max);

/* Keep the ranges that lie inside one anonymous private mapping in
 * /proc/PID/maps; returns the new count. */
size_t ap_ranges_keep_anonymous(pid_t pid, ap_range *ranges, size_t n);
