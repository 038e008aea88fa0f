/* backend_gdb.c: the gdb backend. */
#include "backend.h"

#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "page.h"
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
        {"The program received a signal in another thread while", AP_ERR_INJECTION_FAILED,
         "gdb abandoned the function it was calling in process %d when another thread "
         "stopped: that thread may be left in attachpy's code",
         "check that the process still works; report it (--verbose shows the session)"},
        {"Cannot access memory at address", AP_ERR_INJECTION_FAILED,
         "gdb could not access the memory of process %d",
         "the process may have changed its memory map; run attachpy again"},
        {"The program has no registers now", AP_ERR_TARGET_EXITED,
         "process %d exited while attachpy was attached to it", NULL},
        {NULL, AP_OK, NULL, NULL},
};

/* The script only defines commands; the command line runs the attach, and
 * the CLI sends the plan's command on gdb's stdin once it has read the
 * stopped threads' state (no -batch: gdb reads its stdin until EOF, then
 * quits, detaching).  Each -ex is a command of its own, so a warm-up attach
 * that fails (the idle process gone, a security module's refusal) does not
 * stop the injection, and @@ATTACHPY:ready is printed also when the attach
 * failed. */
static char **gdb_argv(const char *program, const char *script_path, pid_t warm_up) {
        char attach[32];
        snprintf(attach, sizeof attach, "attach %d", (int)warm_up);
        const char *args[] = {
                program,
                "-nx",
                "-nh",
                "-q",
                "--readnever",
                "-iex",
                "set auto-load off",
                "-iex",
                "set debuginfod enabled off",
                "-x",
                script_path,
                "-ex",
                attach,
                "-ex",
                "detach",
                "-ex",
                "attachpy_attach",
                "-ex",
                "printf \"@@ATTACHPY:ready\\n\"",
        };
        size_t n = AP_ARRAY_SIZE(args);
        if (warm_up <= 0) {
                /* No warm-up: drop its two -ex pairs. */
                args[n - 8] = args[n - 4];
                args[n - 7] = args[n - 3];
                args[n - 6] = args[n - 2];
                args[n - 5] = args[n - 1];
                n -= 4;
        }
        return ap_strv_copy(args, n);
}

static int gdb_values(ap_script_values *v, const ap_injection_plan *plan) {
        /* The page: gdb's restore copies the file the CLI wrote into the
         * target in one write (inject.c).  The attach script has none. */
        int r = plan->page_path ? ap_script_values_add(v, "page_file", "%s", plan->page_path) : 0;
        /* The thread's guard compares its registers with the values the
         * command carries (gdbscripts/attach.gdb); the return register holds
         * a restart code in a thread interrupted in its system call. */
        char *restart = ap_restart_condition("$rax");
        if (!restart)
                r = -1;
        if (r == 0)
                r = ap_script_values_add(v, "restart", "%s", restart);
        free(restart);
        /* Where the direct script saves the calling thread's registers, for
         * the trampoline to put back should gdb die during the call
         * (cli/trampoline.S); lldb's relay finishes lldb's calls. */
        if (r == 0 && plan->page_path && plan->mode == AP_PLAN_DIRECT)
                r = plan->target->same_pid_ns
                            ? ap_script_values_add(
                                      v, "save_regs",
                                      "set {long[%d]} ((char *) $attachpy_page + %d) = "
                                      "{(long) $rax, (long) $rbx, (long) $rcx, (long) $rdx, "
                                      "(long) $rsi, (long) $rdi, (long) $rbp, (long) $rsp, "
                                      "(long) $r8, (long) $r9, (long) $r10, (long) $r11, "
                                      "(long) $r12, (long) $r13, (long) $r14, (long) $r15, "
                                      "(long) $pc}",
                                      AP_PAGE_REGS_COUNT, AP_PAGE_REGS)
                            /* Its TracerPid would say 0 with gdb attached
                             * (a tracer outside its namespace): no block,
                             * the trampoline returns to gdb. */
                            : ap_script_values_add(v, "save_regs",
                                                   "# in a PID namespace of its own: no "
                                                   "registers saved");
        return r;
}

/* "attachpy_direct SP PC SAFEPOINT" or "attachpy_schedule SP PC" (SP 0: no
 * thread chosen, the main thread).  The moved fault makes the thread look
 * elsewhere on the first attempt. */
static char *gdb_go(const ap_injection_plan *plan, const char *plan_script) {
        (void)plan_script;
        bool moved = plan->faults.moved && plan->attempt == 0;
        uint64_t sp = 0, pc = 0;
        if (plan->have_thread) {
                sp = plan->thread.sp + (moved ? 8 : 0);
                pc = plan->thread.pc;
        } else if (moved) {
                sp = pc = 1; /* never a thread's */
        }
        char *text = NULL;
        int r = plan->mode == AP_PLAN_DIRECT
                        ? asprintf(&text, "attachpy_direct 0x%" PRIx64 " 0x%" PRIx64 " %s\n", sp,
                                   pc, plan->safepoint)
                        : asprintf(&text, "attachpy_schedule 0x%" PRIx64 " 0x%" PRIx64 "\n", sp,
                                   pc);
        return r < 0 ? NULL : text;
}

const ap_backend ap_backend_gdb = {
        .name = "gdb",
        .package = "gdb",
        .script_dir = "gdbscripts",
        .attach_script = "attach.gdb",
        .direct_script = "direct.gdb",
        .schedule_script = "schedule.gdb",
        .strip_comments = true,
        .page_from_file = true,
        .warms_up = true,
        .done_at_detach = true,
        .pause = {"shell echo @@ATTACHPY:paused ", "shell sleep 3",
                  /* jmp . at AP_PAGE_OFFSET_HANG (attempt.c writes it) */
                  "shell echo @@ATTACHPY:hanging\n"
                  "call ((void (*)(void)) ((char *) $attachpy_page + 4000))()",
                  /* gdb puts orig_rax back last (attach.gdb) */
                  "set $orig_rax = -1", "shell echo @@ATTACHPY:calling"},
        .patterns = gdb_patterns,
        .argv = gdb_argv,
        .values = gdb_values,
        .go = gdb_go,
        .let_go = "attachpy_let_go\n",
        .interrupt_target_signal = 0,
        /* attach.gdb: handle SIGCONT stop nopass.  Harmless should it reach
         * the target after the detach (queued while gdb held the thread). */
        .interrupt_call_signal = SIGCONT,
};
