/* error.c: the table of error codes and their exit statuses. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static const struct {
        const char *name;
        int exit_status;
} code_table[AP_CODE_COUNT_] = {
        [AP_OK] = {NULL, 0},
        [AP_ERR_USAGE] = {"usage", 2},
        [AP_ERR_NO_SUCH_PROCESS] = {"no_such_process", 3},
        [AP_ERR_TARGET_EXITED] = {"target_exited", 3},
        [AP_ERR_PERMISSION_DENIED] = {"permission_denied", 4},
        [AP_ERR_REMOTE_DEBUG_DISABLED] = {"remote_debug_disabled", 4},
        [AP_ERR_NOT_PYTHON] = {"not_python", 5},
        [AP_ERR_UNSUPPORTED_PYTHON] = {"unsupported_python", 5},
        [AP_ERR_DEBUGGER_NOT_FOUND] = {"debugger_not_found", 6},
        [AP_ERR_DEBUGGER_FAILED] = {"debugger_failed", 6},
        [AP_ERR_INJECTION_FAILED] = {"injection_failed", 6},
        [AP_ERR_TIMEOUT] = {"timeout", 7},
        [AP_ERR_SCRIPT_ERROR] = {"script_error", 1},
        [AP_ERR_INTERRUPTED] = {"interrupted", 130},
        [AP_ERR_RECIPE_REFUSED] = {"recipe_refused", 8},
};

const char *ap_code_name(ap_code code) {
        if ((unsigned)code >= AP_CODE_COUNT_)
                return NULL;
        return code_table[code].name;
}

int ap_code_exit_status(ap_code code) {
        if ((unsigned)code >= AP_CODE_COUNT_)
                return 70; /* EX_SOFTWARE: cannot happen */
        return code_table[code].exit_status;
}

__attribute__((format(printf, 1, 0))) static char *vformat(const char *fmt, va_list ap) {
        char *s = NULL;
        if (vasprintf(&s, fmt, ap) < 0)
                return NULL;
        return s;
}

int ap_error_set(ap_error *err, ap_code code, const char *fmt, ...) {
        if (!err)
                return -1;
        ap_error_clear(err);
        va_list ap;
        va_start(ap, fmt);
        err->message = vformat(fmt, ap);
        va_end(ap);
        err->code = code;
        return -1;
}

void ap_error_hint(ap_error *err, const char *fmt, ...) {
        if (!err)
                return;
        free(err->hint);
        va_list ap;
        va_start(ap, fmt);
        err->hint = vformat(fmt, ap);
        va_end(ap);
}

void ap_error_prefix(ap_error *err, const char *fmt, ...) {
        if (!err)
                return;
        va_list ap;
        va_start(ap, fmt);
        char *prefix = vformat(fmt, ap);
        va_end(ap);
        char *joined = NULL;
        if (prefix && asprintf(&joined, "%s: %s", prefix, err->message ? err->message : "") >= 0) {
                free(err->message);
                err->message = joined;
        }
        free(prefix);
}

void ap_error_clear(ap_error *err) {
        if (!err)
                return;
        free(err->message);
        free(err->hint);
        err->message = NULL;
        err->hint = NULL;
        err->code = AP_OK;
}
