/* backend_gdb.c: the gdb backend. */
#include "backend.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* gdb's own messages for failures that have a precise meaning. */
static const ap_debugger_pattern gdb_patterns[] = {
        {"ptrace: No such process", AP_ERR_TARGET_EXITED,
         "process %d exited before gdb could attach to it", "there is nothing left to run code in"},
        {"ptrace: Operation not permitted", AP_ERR_PERMISSION_DENIED,
         "the kernel did not allow gdb to trace process %d",
         "run attachpy as root or as the target's user, check kernel.yama.ptrace_scope, and that "
         "no other debugger is attached"},
        {"Could not attach to process", AP_ERR_PERMISSION_DENIED,
         "the kernel did not allow gdb to trace process %d",
         "run attachpy as root or as the target's user, and check kernel.yama.ptrace_scope"},
        {"exited normally]", AP_ERR_TARGET_EXITED,
         "process %d exited while attachpy was attached to it", NULL},
        {"exited with code", AP_ERR_TARGET_EXITED,
         "process %d exited while attachpy was attached to it", NULL},
        {"Program terminated with signal", AP_ERR_TARGET_EXITED,
         "process %d was killed by a signal while attachpy was attached to it", NULL},
        {"The program being debugged was signaled while in a function called from GDB",
         AP_ERR_INJECTION_FAILED,
         "process %d received a signal while loading the agent; gdb restored its state",
         "run attachpy again"},
        {"The program being debugged stopped while in a function called from GDB",
         AP_ERR_INJECTION_FAILED,
         "process %d stopped while loading the agent; gdb restored its state",
         "run attachpy again"},
        {"Cannot access memory at address", AP_ERR_INJECTION_FAILED,
         "gdb could not access the memory of process %d",
         "the process may have changed its memory map; run attachpy again"},
        {"The program has no registers now", AP_ERR_TARGET_EXITED,
         "process %d exited while attachpy was attached to it", NULL},
        {NULL, AP_OK, NULL, NULL},
};

static char **gdb_argv(const char *program, const char *script_path) {
        const char *args[] = {
                program,  "-nx",
                "-nh",    "-q",
                "-batch", "--readnever",
                "-iex",   "set auto-load off",
                "-iex",   "set debuginfod enabled off",
                "-x",     script_path,
        };
        return ap_strv_copy(args, AP_ARRAY_SIZE(args));
}

static int gdb_values(ap_script_values *v, const ap_injection_plan *plan) {
        ap_buf writes = {0};
        int r = 0;
        /* The page: only the non-zero 8-byte words, little-endian. */
        for (size_t off = 0; r == 0 && off < AP_PAGE_SIZE; off += 8) {
                uint64_t w = 0;
                memcpy(&w, plan->page + off, 8);
                if (w)
                        r = ap_buf_printf(
                                &writes,
                                "%sset *(unsigned long *) ($attachpy_page + %zu) = 0x%" PRIx64,
                                writes.len ? "\n" : "", off, w);
        }
        /* gdb reads the system call a thread is in ($orig_rax): on the
         * direct plan for a blocking call, any thread parked in one when gdb
         * stops the process will do (the one /proc showed may have woken up
         * since), the main thread first.  Else the thread the CLI chose;
         * none chosen: gdb's first thread, the main thread. */
        char *guard;
        if (plan->mode == AP_PLAN_DIRECT && plan->kind == AP_PARKED_WAITS &&
            !(plan->faults.moved && plan->attempt == 0))
                guard = ap_parked_condition(AP_PARKED_WAITS, "$rax", "$orig_rax");
        else
                guard = ap_plan_guard(plan, "$_thread == 1");
        if (!guard)
                r = -1;
        if (r == 0)
                r = ap_script_values_add(v, "page_writes", "%s", writes.data);
        if (r == 0)
                r = ap_script_values_add(v, "guard", "%s", guard);
        free(guard);
        ap_buf_free(&writes);
        return r;
}

const ap_backend ap_backend_gdb = {
        .name = "gdb",
        .package = "gdb",
        .script_dir = "gdbscripts",
        .direct_script = "direct.gdb",
        .schedule_script = "schedule.gdb",
        .pause = {"shell echo @@ATTACHPY:paused ", "shell sleep 3"},
        .patterns = gdb_patterns,
        .argv = gdb_argv,
        .values = gdb_values,
        .interrupt_target_signal = 0,
};
