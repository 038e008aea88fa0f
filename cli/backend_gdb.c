/* backend_gdb.c: the gdb backend. */
#include "backend.h"

#include <inttypes.h>
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
                program,
                "-nx",
                "-nh",
                "-q",
                "-batch",
                "--readnever",
                "-iex",
                "set auto-load off",
                "-iex",
                "set debuginfod enabled off",
                "-x",
                script_path,
        };
        return ap_strv_copy(args, AP_ARRAY_SIZE(args));
}

static int gdb_values(ap_script_values *v, const ap_injection_plan *plan) {
        const ap_target *t = plan->target;
        ap_buf breaks = {0}, cond = {0}, writes = {0};
        int r = 0;
        for (size_t i = 0; r == 0 && i < t->n_safepoints; i++) {
                r = ap_buf_printf(&breaks, "%s  break *0x%" PRIx64, i ? "\n" : "", t->safepoints[i]);
                if (r == 0)
                        r = ap_buf_printf(&cond, "%s$pc == 0x%" PRIx64, i ? " || " : "(",
                                          t->safepoints[i]);
        }
        if (r == 0)
                r = ap_buf_printf(&cond, t->n_safepoints ? ")" : "0");
        if (r == 0 && !breaks.data)
                r = ap_buf_printf(&breaks, "  # no safe points known");
        /* The page: only the non-zero 8-byte words, little-endian. */
        for (size_t off = 0; r == 0 && off < AP_PAGE_SIZE; off += 8) {
                uint64_t w = 0;
                memcpy(&w, plan->page + off, 8);
                if (w)
                        r = ap_buf_printf(&writes, "%sset *(unsigned long *) ($attachpy_page + %zu) = 0x%" PRIx64,
                                          writes.len ? "\n" : "", off, w);
        }
        char *parked = r == 0 ? ap_parked_condition(AP_PARKED_WAITS, "$rax", "$orig_rax") : NULL;
        char *futex = r == 0 ? ap_parked_condition(AP_PARKED_FUTEX, "$rax", "$orig_rax") : NULL;
        if (!parked || !futex)
                r = -1;
        if (r == 0)
                r = ap_script_values_add(v, "break_commands", "%s", breaks.data);
        if (r == 0)
                r = ap_script_values_add(v, "safepoint_condition", "%s", cond.data);
        if (r == 0)
                r = ap_script_values_add(v, "page_writes", "%s", writes.data);
        if (r == 0)
                r = ap_script_values_add(v, "parked_condition", "%s", parked);
        if (r == 0)
                r = ap_script_values_add(v, "futex_condition", "%s", futex);
        free(parked);
        free(futex);
        ap_buf_free(&breaks);
        ap_buf_free(&cond);
        ap_buf_free(&writes);
        return r;
}

const ap_backend ap_backend_gdb = {
        .name = "gdb",
        .package = "gdb",
        .script_dir = "gdbscripts",
        .script_file = "inject.gdb",
        .patterns = gdb_patterns,
        .argv = gdb_argv,
        .values = gdb_values,
        .prepare = NULL,
        .patience_sigint = true,
        .interrupt_target_signal = 0,
};
