/* runtime_remote.h: the runtime's own remote execution, whichever runtime:
 * CPython 3.14+'s (PEP 768, cli/cpython_remote.h) or PyPy 8's
 * (cli/pypy_remote.h).  One interface for the orchestration (cli/inject.c):
 * ask the target to run a script of the session that starts the agent,
 * see whether it took the request, withdraw it. */
#pragma once

#include <stdbool.h>

#include "cpython_remote.h"
#include "error.h"
#include "pypy_remote.h"
#include "target.h"
#include "util.h"

typedef struct ap_runtime_remote {
        ap_impl impl;
        ap_cpython_remote cpython;
        ap_pypy_remote pypy;
} ap_runtime_remote;

#define AP_RUNTIME_REMOTE_INIT                                                                     \
        { .impl = AP_IMPL_CPYTHON, .cpython = AP_CPYTHON_REMOTE_INIT, .pypy = AP_PYPY_REMOTE_INIT }

/* Whether the target's runtime publishes an interface attachpy can use
 * (preflight found it; the live process may still refuse: open says). */
bool ap_runtime_remote_available(const ap_target *t);

int ap_runtime_remote_open(ap_runtime_remote *r, const ap_target *t, ap_error *err)
        __attribute__((warn_unused_result));
/* The script that starts the agent, for this runtime. */
int ap_runtime_remote_script(const ap_runtime_remote *r, const char *agent_path,
                             const char *session_dir, ap_buf *out)
        __attribute__((warn_unused_result));
int ap_runtime_remote_request(ap_runtime_remote *r, const char *path, ap_error *err)
        __attribute__((warn_unused_result));
/* 1 taken, 0 pending, -1 unreadable. */
int ap_runtime_remote_taken(ap_runtime_remote *r);
/* 1 withdrawn while pending, 0 taken already, -1 cannot be written. */
int ap_runtime_remote_withdraw(ap_runtime_remote *r);
void ap_runtime_remote_close(ap_runtime_remote *r);
