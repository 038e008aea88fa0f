/* error.h: errors as values.
 *
 * An ap_error carries a stable code, a message saying what happened and a
 * hint saying what to do next.  It maps 1:1 onto the JSON "error" object and,
 * through ap_code_exit_status(), onto the process exit status.
 *
 * Ownership: an ap_error owns its message and hint; ap_error_clear() frees
 * them and accepts a zeroed or already-cleared error.
 */
#pragma once

#include <stdbool.h>

typedef enum ap_code {
        AP_OK = 0,
        AP_ERR_USAGE,
        AP_ERR_NO_SUCH_PROCESS,
        AP_ERR_TARGET_EXITED,
        AP_ERR_PERMISSION_DENIED,
        AP_ERR_REMOTE_DEBUG_DISABLED,
        AP_ERR_NOT_PYTHON,
        AP_ERR_UNSUPPORTED_PYTHON,
        AP_ERR_DEBUGGER_NOT_FOUND,
        AP_ERR_DEBUGGER_FAILED,
        AP_ERR_INJECTION_FAILED,
        AP_ERR_TIMEOUT,
        AP_ERR_SCRIPT_ERROR,
        AP_ERR_INTERRUPTED,
        AP_ERR_RECIPE_REFUSED, /* a recipe's action does not fit the target's state */
        AP_CODE_COUNT_,
} ap_code;

typedef struct ap_error {
        ap_code code;
        char *message; /* what happened, in the user's terms */
        char *hint;    /* what to do next; may be NULL */
} ap_error;

#define AP_ERROR_INIT                                                                              \
        { AP_OK, NULL, NULL }

/* The contract name of a code ("usage", "no_such_process", ...); NULL for
 * AP_OK. */
const char *ap_code_name(ap_code code);

/* The exit status for a code: 0 for AP_OK. */
int ap_code_exit_status(ap_code code);

/* Set err (freeing what it held) and return -1, so that callers can write
 * `return ap_error_set(err, ...)`.  err may be NULL. */
int ap_error_set(ap_error *err, ap_code code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Set or replace the hint of an error already set. */
void ap_error_hint(ap_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefix the message: "<prefix>: <old message>". */
void ap_error_prefix(ap_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void ap_error_clear(ap_error *err);

static inline bool ap_error_is_set(const ap_error *err) { return err && err->code != AP_OK; }
