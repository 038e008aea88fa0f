/* cure.h: the target survives any death of lldb.
 *
 * lldb does nothing to the target itself: lldb-server, its child, is the
 * tracer, and lldb tells it what to do over a socket (gdb-remote packets).
 * Killed while an expression runs, lldb closes that socket, lldb-server
 * quits without PTRACE_DETACH, and the thread that ran the call returns
 * into lldb's breakpoint at the entry point (or is still stopped on it, or
 * single-stepping): the target dies of SIGTRAP.
 *
 * So attachpy starts lldb-server itself, in a *relay* process of its own,
 * and lldb connects to it through attachpy (`process connect fd://N`).  The
 * relay copies the packets both ways and remembers what lldb asked
 * lldb-server to change: the register states it saved before each call
 * (QSaveRegisterState), the breakpoints it inserted (Z0/Z1), whether it
 * detached.  When lldb's end closes without a detach (lldb killed, at any
 * moment), lldb-server still holds the target, and the relay finishes the
 * session in lldb's place: it waits for a call in flight to return (or
 * interrupts it after a grace), puts the saved registers back, removes the
 * breakpoints, and sends the detach (D): lldb-server detaches every thread
 * with PTRACE_DETACH, which clears a trap flag and drops a pending SIGTRAP.
 *
 * The relay is a fork of attachpy in its own process group without a death
 * signal: it outlives attachpy being killed too.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

typedef struct ap_cure {
        pid_t relay;   /* the relay process, 0 if none */
        int lldb_fd;   /* lldb's end of the socket (inherited by lldb), -1 once closed */
        int report_fd; /* the relay's one-line summary, -1 once read */
} ap_cure;

/* How long the CLI waits for the relay once lldb has ended: a call in
 * flight gets 3 s to return, each packet of the cure 2 s. */
#define AP_CURE_WAIT_MS 15000.0

#define AP_CURE_INIT                                                                               \
        { 0, -1, -1 }

/* The lldb-server next to the lldb program (or LLDB_DEBUGSERVER_PATH, as
 * lldb itself does).  malloc'd, or NULL. */
char *ap_cure_server_path(const char *lldb_program);

/* Start the relay for target pid: lldb-server (server_path) is started
 * with --attach PID once lldb first writes to its end.  On success
 * c->lldb_fd is a descriptor for lldb to inherit (not close-on-exec). */
int ap_cure_start(ap_cure *c, pid_t pid, const char *server_path, ap_error *err)
        __attribute__((warn_unused_result));

/* lldb runs (pid lldb): the relay watches it, and attachpy's copy of
 * lldb's end is closed. */
void ap_cure_lldb_started(ap_cure *c, pid_t lldb);

/* Close attachpy's copy of lldb's end. */
void ap_cure_close_lldb_end(ap_cure *c);

/* Wait for the relay (it ends once lldb's end is closed and the target is
 * detached), at most until deadline_ms.  summary gets what the relay did
 * ("" if nothing to cure).  Returns 1 if the relay cured the target (lldb
 * ended without detaching), 0 if nothing was needed, -1 if the relay did
 * not finish in time (it is killed) or failed. */
int ap_cure_finish(ap_cure *c, double deadline_ms, char *summary, size_t n);

/* The gdb-remote packet bookkeeping, for the unit tests. */
typedef struct ap_remote_state {
        bool no_ack;          /* QStartNoAckMode accepted */
        bool detached;        /* D answered OK */
        bool refused_kill;    /* lldb asked for a kill: a detach was sent */
        bool awaiting;        /* a request is not answered yet */
        bool awaiting_stop;   /* ... and it resumed the target (a stop reply is due) */
        char last[32];        /* the last request's first bytes */
        char reply[32];       /* the last answer's first bytes */
        char save_thread[24]; /* the thread of the QSaveRegisterState not answered yet */
        int n_saved;
        struct {
                unsigned id;
                char thread[24];
        } saved[16]; /* saved register states not restored yet */
        int n_breakpoints;
        char breakpoints[32][48]; /* "0,ADDR,KIND" of Z0/Z1 not removed yet */
} ap_remote_state;

/* Is this request of lldb's a kill (k, vKill)?  The relay sends a detach
 * instead: lldb, connected rather than attached, kills the process when it
 * quits early (a guard that failed, an interrupt). */
bool ap_remote_is_kill(const char *payload, size_t len);

/* Feed one packet payload that lldb sent (from_lldb) or lldb-server sent. */
void ap_remote_note(ap_remote_state *s, bool from_lldb, const char *payload, size_t len);

/* Split one unit off the front of a gdb-remote byte stream: '+', '-',
 * 0x03, or a whole "$...#cc" (also "%...#cc").  Returns its length, 0 if
 * the unit is not complete yet. */
size_t ap_remote_unit(const char *buf, size_t len);
