/* backend_lldb.c: the lldb backend.
 *
 * lldb's command language cannot branch (and Debian's lldb cannot run
 * Python), so the CLI takes the decision gdb's script takes itself: before
 * attaching it looks in /proc/PID/task/TID/syscall for a thread parked in a
 * blocking system call, and renders a straight-line script for that thread
 * (lldbscripts/inject-parked.lldb) or one that waits at the safe points
 * (lldbscripts/inject-busy.lldb).  In both, an expression that fails unless
 * the target is where the CLI expects it guards the calls: a failing command
 * ends the script and lldb detaches as it quits. */
#include "backend.h"

#include <inttypes.h>
#include <signal.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
        {"attach failed", AP_ERR_PERMISSION_DENIED,
         "lldb could not attach to process %d",
         "run attachpy as root or as the target's user, and check kernel.yama.ptrace_scope"},
        {" exited with status = ", AP_ERR_TARGET_EXITED,
         "process %d exited while attachpy was attached to it", NULL},
        /* The guard: the thread was no longer where the CLI saw it. */
        {"Interpreter couldn't read from memory", AP_ERR_INJECTION_FAILED,
         "process %d was not at the safe point attachpy chose when lldb stopped it; nothing was "
         "injected and it runs on",
         "run attachpy again"},
        {"error: Execution was interrupted", AP_ERR_INJECTION_FAILED,
         "process %d stopped while loading the agent; lldb restored its state",
         "run attachpy again"},
        {NULL, AP_OK, NULL, NULL},
};

static char **lldb_argv(const char *program, const char *script_path) {
        const char *args[] = {program, "--no-lldbinit", "--batch", "-s", script_path};
        return ap_strv_copy(args, AP_ARRAY_SIZE(args));
}

#define LOOKS_FOR_PARKED 6
#define LOOK_INTERVAL_MS 10

/* Does every thread of pid sit in a system call (none runs)? */
static bool all_threads_blocked(pid_t pid) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
        DIR *d = opendir(path);
        if (!d)
                return false;
        bool all = true;
        struct dirent *e;
        while (all && (e = readdir(d))) {
                if (e->d_name[0] < '0' || e->d_name[0] > '9')
                        continue;
                char file[384], *text = NULL;
                snprintf(file, sizeof file, "%s/%s/syscall", path, e->d_name);
                if (ap_read_file(file, 4096, &text, NULL) < 0 || text[0] < '0' || text[0] > '9')
                        all = false;
                free(text);
        }
        closedir(d);
        return all;
}

static int lldb_prepare(ap_injection_plan *plan, ap_error *err) {
        (void)err;
        pid_t pid = plan->target->pid;
        plan->have_parked = false;
        plan->script_file = "inject-busy.lldb";
        plan->parked_kind = AP_PARKED_WAITS;
        /* The first attempt found the parked thread awake (a thread that
         * sleeps in short naps, then waits for the GIL): when some thread
         * runs, wait at the safe points instead. */
        if (plan->attempt > 0 && !all_threads_blocked(pid))
                return 0;
        /* A program that just went idle (printed, then blocks) may take a
         * moment to get there: look a few times before deciding it is busy. */
        for (int i = 0; i < LOOKS_FOR_PARKED; i++) {
                if (i > 0) {
                        struct timespec ts = {0, LOOK_INTERVAL_MS * 1000 * 1000};
                        nanosleep(&ts, NULL);
                }
                if (ap_find_parked_thread(pid, AP_PARKED_WAITS, &plan->parked) == 1) {
                        plan->have_parked = true;
                        plan->script_file = "inject-parked.lldb";
                        return 0;
                }
        }
        /* No thread will reach a breakpoint when every one waits: as gdb's
         * script does after its patience, use a thread that waits in a futex
         * (a lock of the program's own: libc's are held for microseconds),
         * the main thread first, if it still waits there after the patience. */
        ap_parked_thread f1, f2;
        if (!all_threads_blocked(pid) || ap_find_parked_thread(pid, AP_PARKED_FUTEX, &f1) != 1)
                return 0;
        struct timespec ts = {0, (long)(AP_SAFEPOINT_PATIENCE_MS * 1e6)};
        nanosleep(&ts, NULL);
        if (ap_find_parked_thread(pid, AP_PARKED_FUTEX, &f2) != 1 || f2.tid != f1.tid ||
            f2.sp != f1.sp || f2.pc != f1.pc)
                return 0;
        plan->have_parked = true;
        plan->parked = f2;
        plan->parked_kind = AP_PARKED_FUTEX;
        plan->script_file = "inject-parked.lldb";
        return 0;
}

/* -ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND, -ERESTART_RESTARTBLOCK,
 * -EINTR (as in backend.c). */
static const int restart_codes[] = {-512, -513, -514, -516, -4};

static int lldb_values(ap_script_values *v, const ap_injection_plan *plan) {
        const ap_target *t = plan->target;
        ap_buf breaks = {0}, cond = {0}, writes = {0}, guard = {0};
        int r = 0;
        for (size_t i = 0; r == 0 && i < t->n_safepoints; i++) {
                r = ap_buf_printf(&breaks, "%sbreakpoint set --address 0x%" PRIx64, i ? "\n" : "",
                                  t->safepoints[i]);
                if (r == 0)
                        r = ap_buf_printf(&cond, "%s$pc == 0x%" PRIx64, i ? " || " : "(",
                                          t->safepoints[i]);
        }
        if (r == 0)
                r = ap_buf_printf(&cond, t->n_safepoints ? ")" : "0");
        if (r == 0 && !breaks.data)
                r = ap_buf_printf(&breaks, "# no safe points known");
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
                r = writes.len ? ap_buf_printf(&writes, ")") : ap_buf_printf(&writes, "# empty page");
        /* Still in the call the CLI saw: interrupted (a restart code in
         * rax), on the same stack (the thread), at the same place. */
        if (r == 0)
                r = ap_buf_printf(&guard, "(");
        for (size_t i = 0; r == 0 && i < AP_ARRAY_SIZE(restart_codes); i++)
                r = ap_buf_printf(&guard, "%s(long) $rax == %d", i ? " || " : "", restart_codes[i]);
        if (r == 0)
                r = ap_buf_printf(&guard, ") && $rsp == 0x%" PRIx64 " && $pc == 0x%" PRIx64,
                                  plan->parked.sp, plan->parked.pc);
        if (r == 0)
                r = ap_script_values_add(v, "page_writes", "%s", writes.data);
        if (r == 0 && !plan->have_parked) {
                r = ap_script_values_add(v, "break_commands", "%s", breaks.data);
                if (r == 0)
                        r = ap_script_values_add(v, "safepoint_condition", "%s", cond.data);
        }
        if (r == 0 && plan->have_parked) {
                r = ap_script_values_add(v, "guard", "%s", guard.data);
                if (r == 0)
                        r = ap_script_values_add(v, "thread_index", "%d", plan->parked.index);
                if (r == 0)
                        r = ap_script_values_add(v, "safepoint_kind", "%s",
                                                 plan->parked_kind == AP_PARKED_FUTEX ? "futex"
                                                                                      : "parked");
                if (r == 0)
                        r = ap_script_values_add(v, "thread_tid", "%d", (int)plan->parked.tid);
                if (r == 0)
                        r = ap_script_values_add(v, "thread_syscall", "%ld", plan->parked.nr);
        }
        ap_buf_free(&breaks);
        ap_buf_free(&cond);
        ap_buf_free(&writes);
        ap_buf_free(&guard);
        return r;
}

const ap_backend ap_backend_lldb = {
        .name = "lldb",
        .package = "lldb",
        .script_dir = "lldbscripts",
        .script_file = "inject.lldb",
        .patterns = lldb_patterns,
        .argv = lldb_argv,
        .values = lldb_values,
        .prepare = lldb_prepare,
        .patience_sigint = false,
        .interrupt_target_signal = SIGCONT,
};
