/* backend.h: what a debugger backend provides, and what they share.
 *
 * A backend is a table: the program, its script template, the argv to run
 * it, the way it spells the script's generated blocks, and the debugger's own
 * error messages the transcript classifier knows.  Everything else (the
 * injection plan, running, deadlines, classification) is shared.  A new
 * backend is one new backend_<name>.c and one <name>scripts/ folder.
 */
#pragma once

#include <stdbool.h>

#include "error.h"
#include "injection_plan.h"
#include "options.h"
#include "script_values.h"
#include "transcript.h"

typedef struct ap_backend {
        const char *name;       /* "gdb" */
        const char *package;    /* the Debian package providing it */
        const char *script_dir; /* "gdbscripts" */
        const ap_debugger_pattern *patterns;
        /* argv to run the script at script_path with program; NULL-terminated,
         * malloc'd, freed with ap_strv_free.  warm_up: the idle process the
         * debugger attaches to first (warms_up backends), or 0. */
        char **(*argv)(const char *program, const char *script_path, pid_t warm_up);
        /* Add the backend's own values (generated blocks) to v. */
        int (*values)(ap_script_values *v, const ap_injection_plan *plan);
        /* The pause-after fault (cli/fault.h): a command that prints its
         * argument, completed with the step's name, and one that sleeps. */
        /* [2]: a call into the target that never returns, after the page
         * is written (ATTACHPY_FAULT=hang-call: the tests kill the debugger
         * while it is in flight), or NULL.  [3]: before the direct plan's call of the trampoline, a
         * command that leaves the calling thread's registers as the
         * debugger killed while restoring them after a call would
         * (ATTACHPY_FAULT=half-restored), or NULL.  [4]: a command that
         * prints "@@ATTACHPY:calling" (ATTACHPY_FAULT=slow-call), or NULL. */
        const char *pause[5];
        /* The debugger leaves memory it allocated in the target (lldb's JIT
         * pages): its scripts log the allocations to plan->log_path
         * (cli/lldb_allocations.h). */
        bool logs_allocations;
        /* The script templates: attach_script attaches, checks the process
         * and prints @@ATTACHPY:stopped; the CLI reads /proc while the
         * debugger holds the target stopped, chooses the plan, and sends
         * go()'s commands on the debugger's stdin.  One per plan mode
         * after that. */
        const char *attach_script;
        const char *direct_script;
        const char *schedule_script;
        /* true: the plan's template is rendered once the target is stopped
         * and the plan chosen, into a file go() names (lldb).  false: both
         * plans' templates follow the attach script, rendered before the
         * attach, and go() runs one of their commands (gdb). */
        bool plan_after_stop;
        /* What the CLI sends on the debugger's stdin, once the target is
         * stopped, to carry out plan (plan_script: the rendered plan's file,
         * plan_after_stop backends).  malloc'd; NULL when out of memory. */
        char *(*go)(const ap_injection_plan *plan, const char *plan_script);
        /* What it sends when no plan fits the stopped target: prints
         * @@ATTACHPY:moved and lets go of it. */
        const char *let_go;
        /* Drop the templates' comment lines from the rendered script: gdb
         * reads its command file a byte at a time (two system calls per
         * byte). */
        bool strip_comments;
        /* The debugger copies the page into the target from a file the CLI
         * writes next to the script (plan->page_path): one write instead of
         * a command per word, while the target is stopped. */
        bool page_from_file;
        /* The debugger pays for its first attach in a run (gdb: probing
         * ptrace's features with two forks of itself, and more: about 13 ms
         * here) whatever it attaches to: the CLI gives it an idle child of
         * its own to attach to and detach from first, so that the target is
         * not stopped while it does. */
        bool warms_up;
        /* Once the script printed @@ATTACHPY:detached the debugger has
         * nothing left to do with the target, and the CLI ends it rather
         * than wait for it to quit (gdb takes 30 to 70 ms to, here). */
        bool done_at_detach;
        /* 0: the CLI interrupts the debugger with SIGINT.  Else the signal
         * the CLI sends the target instead (the script makes the debugger
         * stop on it and keep it from the target): lldb in batch mode ignores
         * SIGINT while the target runs a called function. */
        int interrupt_target_signal;
        /* Else, while a called function runs in the thread the plan chose:
         * the signal the CLI sends that thread (tgkill) instead of
         * interrupting the debugger, whose own interrupt is sent to the
         * process and lands in another thread, where gdb abandons the call
         * and leaves the thread in it.  Stopped in the calling thread, the
         * debugger unwinds the call (unwindonsignal).  0: none. */
        int interrupt_call_signal;
        /* The debugger's tracer is a server it talks to (lldb-server): the
         * CLI starts it behind a relay that finishes the session if the
         * debugger dies (cli/cure.h); the script connects to
         * plan->server_fd instead of attaching. */
        bool relays_server;
} ap_backend;

extern const ap_backend ap_backend_gdb;
extern const ap_backend ap_backend_lldb;

/* The backend for a choice; auto picks gdb when on PATH, else lldb.  Sets
 * *ret_program to the debugger's full path (caller frees).  A backend whose
 * program is missing is AP_ERR_DEBUGGER_NOT_FOUND. */
int ap_backend_select(ap_debugger_choice choice, const ap_backend **ret, char **ret_program,
                      ap_error *err) __attribute__((warn_unused_result));

/* The environment a debugger runs with: attachpy's, with LC_ALL=C (the
 * classifier reads English messages) and without variables that would make
 * the debugger's own Python or debuginfod misbehave.  Free with ap_strv_free. */
char **ap_debugger_environ(void);
