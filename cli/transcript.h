/* transcript.h: turn a debugger transcript into an outcome.
 *
 * Pure functions, no I/O: the debugger scripts print marker lines
 * ("@@ATTACHPY:<word> [details]" at the start of a line) and the classifier
 * decides from the markers that appeared, the way the debugger ended, and a
 * table of the debugger's own error messages.  Tested against transcripts
 * recorded from real runs (tests/fixtures/transcripts).
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

#define AP_MARKER_PREFIX "@@ATTACHPY:"

/* How far the script got; each stage implies the ones before. */
typedef enum ap_stage {
        AP_STAGE_NONE = 0,
        AP_STAGE_ATTACHED,
        AP_STAGE_SAFEPOINT, /* in a parked thread, loading the agent */
        AP_STAGE_STARTED,   /* the agent's entry point returned, or its call is queued */
        AP_STAGE_DETACHED,
} ap_stage;

/* A message of the debugger's own that means a known failure. */
typedef struct ap_debugger_pattern {
        const char *needle; /* substring of a transcript line */
        ap_code code;
        const char *message; /* may contain one %d: the target's pid */
        const char *hint;
} ap_debugger_pattern;

/* How the debugger process ended. */
typedef struct ap_debugger_end {
        bool exited;       /* exited normally (else killed by a signal) */
        int exit_code;     /* when exited */
        int term_signal;   /* when killed */
        bool deadline_hit; /* attachpy interrupted it because --timeout expired */
        bool cancelled;    /* attachpy interrupted it because attachpy was asked to stop */
        double timeout_s;  /* the --timeout in force, for messages */
        bool let_go;       /* ended by attachpy once it had detached (backend.h
                              done_at_detach): counts as exited with 0 */
} ap_debugger_end;

typedef struct ap_transcript_outcome {
        ap_stage stage;
        char safepoint[16]; /* "parked" or "futex" (direct calls) */
        bool has_start_rc;
        int start_rc;              /* the agent entry point's return value */
        unsigned long long mapped; /* the scratch page, once mapped (0: not yet) */
        bool scheduled;            /* the trampoline was queued with Py_AddPendingCall */
        unsigned long long page;   /* where, when scheduled */
        int queue_rc;              /* Py_AddPendingCall's result */
        bool armed;                /* the script armed the queued call (cli/page.h) */
        bool moved;                /* the chosen thread was no longer where the CLI saw it */
        bool mismatch;             /* the process is not the one preflight read */
} ap_transcript_outcome;

/* The furthest stage the markers in text reach (for use while the debugger
 * runs). */
ap_stage ap_transcript_stage(const char *text);

/* Does a marker line with that word appear in text?  The interactive
 * drive waits for "stopped" (every thread stopped: attachpy reads /proc and
 * sends the plan's commands), "ready" (the debugger reads its stdin),
 * "fit" and "unfit" (the plan's thread was, or was not, where /proc showed
 * it). */
bool ap_transcript_has_marker(const char *text, const char *word);

/* How many marker lines with that word text holds ("unfit": plans the
 * debugger found the stopped thread unfit for). */
int ap_transcript_count_marker(const char *text, const char *word);

/* Classify a finished run.  Returns 0 when the agent was started (start_rc
 * 0) or its start was queued (scheduled, queue_rc 0), else -1 with err
 * set.  name: "gdb" or "lldb", for messages. */
int ap_transcript_classify(const char *text, const char *name, pid_t pid,
                           const ap_debugger_end *end, const ap_debugger_pattern *patterns,
                           ap_transcript_outcome *ret, ap_error *err);

/* The message for a negative return value of the agent's entry point. */
const char *ap_agent_start_error(int rc);

/* The error when the agent loaded into process pid has no entry point
 * (dlsym failed): an agent of another attachpy version was loaded. */
void ap_agent_no_entry_point(ap_error *err, pid_t pid);
