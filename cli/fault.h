/* fault.h: fault injection for the test suite (after CRIU's CRIU_FAULT).
 *
 * ATTACHPY_FAULT is a comma-separated list; unknown words are ignored.  It
 * exists so that tests can reproduce, deterministically, faults that real
 * life produces only by chance; it never changes what the debugger does in
 * the target beyond pausing or failing a check, and is documented in
 * docs/architecture.md.
 *
 *   pause-after:STEP  the debugger script prints "@@ATTACHPY:paused STEP"
 *                     and sleeps 3 s after STEP (attached, thread, mapped,
 *                     written, called): the test kills the debugger there.
 *   wrong-code        the script's check of the target's code fails, as
 *                     for a PID reused by another program.
 *   moved             the first script's thread guard fails, as for a
 *                     thread that left its system call before the attach.
 *   schedule          the first plan queues a pending call whatever the
 *                     threads do, as for a main thread that ran when
 *                     attachpy looked and then blocked (the fallback to a
 *                     waiting thread).
 *   half-restored     before the direct plan's call of the trampoline,
 *                     the script sets the calling thread's orig_rax to -1
 *                     and pauses as after pause-after:written: gdb killed
 *                     there leaves the thread as gdb killed while it put
 *                     the registers back after that call (program counter
 *                     and rax restored, orig_rax not yet) would (gdb only).
 *   slow-call         the direct plan calls the trampoline through an entry
 *                     that sleeps 2 s first (trampoline.S), and gdb's
 *                     script prints "@@ATTACHPY:calling" before the call:
 *                     the test kills gdb while the call runs.
 *   stay-queued       a queued call is never withdrawn for a waiting thread:
 *                     it waits for the main thread (or the deadline), as
 *                     for a main thread that holds the GIL in a C call no
 *                     debugger may interrupt.
 */
#pragma once

#include <stdbool.h>

typedef enum ap_step {
        AP_STEP_NONE = 0,
        AP_STEP_ATTACHED,
        AP_STEP_THREAD,
        AP_STEP_MAPPED,
        AP_STEP_WRITTEN,
        AP_STEP_CALLED,
        AP_STEP_COUNT_,
} ap_step;

typedef struct ap_faults {
        ap_step pause_after;
        bool wrong_code;
        bool moved;
        bool schedule;
        bool hang_call; /* hang-call: after the page is written, the debugger
                           calls code that never returns (lldb; cli/cure.h) */
        bool stay_queued;
        bool half_restored;
        bool slow_call;
} ap_faults;

/* Parse a value of ATTACHPY_FAULT (NULL: no faults). */
ap_faults ap_faults_parse(const char *spec);

/* "attached", "thread", ... */
const char *ap_step_name(ap_step step);
