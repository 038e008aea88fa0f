/* scrub.h: remove breakpoints a dead debugger left in a process.
 *
 * A debugger killed while attached cannot take back the int3 bytes it wrote
 * (lldb keeps its shared-library breakpoint in the loader inserted for its
 * whole session; gdb inserts its own while the target runs).  The kernel
 * resumes the process, and the next time it reaches one it dies of SIGTRAP.
 * attachpy compares the executable segments of every file the process maps
 * with the file's bytes and, where the process has 0xCC and the file does
 * not, writes the file's byte back through /proc/PID/mem.
 */
#pragma once

#include <sys/types.h>

/* Returns how many bytes were restored, or -1 when the process cannot be
 * read (gone, or not ours to write). */
int ap_scrub_breakpoints(pid_t pid);
