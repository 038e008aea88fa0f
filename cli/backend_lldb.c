/* backend_lldb.c: the lldb backend.
 *
 * lldb's command language cannot branch (and Debian's lldb cannot run
 * Python): the scripts are straight lines, and expressions that fail unless
 * the target is where the CLI expects it guard the calls: a failing command
 * ends the script and lldb detaches as it quits.  Conditional markers are
 * printed by `platform shell test ... || echo`. */
#include "backend.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* lldb's own messages for failures that have a precise meaning. */
static const ap_debugger_pattern lldb_patterns[] = {
        /* What lldb 14 says when the pid is gone. */
        {"attach failed: Cannot get process architecture", AP_ERR_TARGET_EXITED,
         "process %d exited before lldb could attach to it",
         "there is nothing left to run code in"},
        {"Operation not permitted", AP_ERR_PERMISSION_DENIED,
         "the kernel did not allow lldb to trace process %d",
         "run attachpy as root or as the target's user, check kernel.yama.ptrace_scope, and that "
         "no other debugger is attached"},
        {"attach failed", AP_ERR_PERMISSION_DENIED, "lldb could not attach to process %d",
         "run attachpy as root or as the target's user, and check kernel.yama.ptrace_scope"},
        {" exited with status = ", AP_ERR_TARGET_EXITED,
         "process %d exited while attachpy was attached to it", NULL},
        /* A guard failed without its marker. */
        {"Interpreter couldn't read from memory", AP_ERR_INJECTION_FAILED,
         "process %d was not where attachpy expected it when lldb stopped it; nothing was "
         "injected and it runs on",
         "run attachpy again"},
        {"error: Execution was interrupted", AP_ERR_INJECTION_FAILED,
         "process %d stopped while loading the agent; lldb restored its state",
         "run attachpy again"},
        {NULL, AP_OK, NULL, NULL},
};

/* No --batch: lldb reads its stdin once the attach script is done, until
 * EOF, then quits, detaching.  @@ATTACHPY:ready is printed also when the
 * attach script stopped at a failing command. */
static char **lldb_argv(const char *program, const char *script_path, pid_t warm_up) {
        (void)warm_up; /* lldb's costs are the target's own (backend.h warms_up) */
        const char *args[] = {program, "--no-lldbinit",
                              "-s",    script_path,
                              "-o",    "platform shell echo @@ATTACHPY:ready"};
        return ap_strv_copy(args, AP_ARRAY_SIZE(args));
}

static int lldb_values(ap_script_values *v, const ap_injection_plan *plan) {
        ap_buf writes = {0};
        int r = 0;
        /* The page: only the non-zero 8-byte words, little-endian, in one
         * expression (each expression costs lldb a compilation). */
        for (size_t off = 0; r == 0 && off < AP_PAGE_SIZE; off += 8) {
                uint64_t w = 0;
                memcpy(&w, plan->page + off, 8);
                if (w)
                        r = ap_buf_printf(&writes,
                                          "%s*(unsigned long *) ((char *) $attachpy_page + %zu) = "
                                          "0x%" PRIx64,
                                          writes.len ? ", " : "expression -l c -- (void) (", off,
                                          w);
        }
        if (r == 0)
                r = writes.len ? ap_buf_printf(&writes, ")")
                               : ap_buf_printf(&writes, "# empty page");
        /* No thread chosen: lldb's first thread is the main thread. */
        char *guard = ap_plan_guard(plan, "1");
        if (!guard)
                r = -1;
        if (r == 0)
                r = ap_script_values_add(v, "page_writes", "%s", writes.data);
        if (r == 0)
                r = ap_script_values_add(v, "guard", "%s", guard);
        if (r == 0)
                r = ap_script_values_add(v, "thread_index", "%d",
                                         plan->have_thread ? plan->thread.index : 1);
        if (r == 0)
                r = ap_script_values_add(v, "log_path", "%s",
                                         plan->log_path ? plan->log_path : "/dev/null");
        if (r == 0)
                r = ap_script_values_add(v, "server_fd", "%d", plan->server_fd);
        if (r == 0)
                r = ap_script_values_add(v, "check_value_decimal", "%" PRIu64,
                                         ap_plan_check_value(plan));
        if (r == 0 && plan->mode == AP_PLAN_DIRECT) {
                r = ap_script_values_add(v, "thread_tid", "%d", (int)plan->thread.tid);
                if (r == 0)
                        r = ap_script_values_add(v, "thread_syscall", "%ld", plan->thread.nr);
        }
        free(guard);
        ap_buf_free(&writes);
        return r;
}

/* Source the plan's script, rendered once the target was stopped: a
 * command of it that fails ends it, and the CLI's EOF makes lldb quit. */
static char *lldb_go(const ap_injection_plan *plan, const char *plan_script) {
        (void)plan;
        char *text = NULL;
        if (!plan_script || asprintf(&text, "command source %s\n", plan_script) < 0)
                return NULL;
        return text;
}

const ap_backend ap_backend_lldb = {
        .name = "lldb",
        .package = "lldb",
        .script_dir = "lldbscripts",
        .attach_script = "attach.lldb",
        .direct_script = "direct.lldb",
        .plan_after_stop = true,
        .go = lldb_go,
        .let_go = "platform shell echo @@ATTACHPY:moved\n",
        .schedule_script = "schedule.lldb",
        .pause = {"platform shell echo @@ATTACHPY:paused ", "platform shell sleep 3",
                  /* jmp . at AP_PAGE_OFFSET_HANG (inject.c writes it) */
                  "platform shell echo @@ATTACHPY:hanging\n"
                  "expression -l c -- ((void (*)(void)) ((char *) $attachpy_page + 4000))()"},
        .logs_allocations = true,
        .patterns = lldb_patterns,
        .argv = lldb_argv,
        .values = lldb_values,
        .interrupt_target_signal = SIGCONT,
        .relays_server = true,
};
