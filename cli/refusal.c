/* refusal.c: the stable names of the refusals. */
#include "refusal.h"

#include "util.h"

static const char *const refusal_names[] = {
        [AP_REFUSAL_NONE] = NULL,
        [AP_REFUSAL_GONE] = "gone",
        [AP_REFUSAL_ZOMBIE] = "zombie",
        [AP_REFUSAL_TRACED] = "traced",
        [AP_REFUSAL_STOPPED] = "stopped",
        [AP_REFUSAL_OTHER_USER] = "other_user",
        [AP_REFUSAL_NOT_DUMPABLE] = "not_dumpable",
        [AP_REFUSAL_PTRACE_SCOPE] = "ptrace_scope",
        [AP_REFUSAL_UNREADABLE] = "unreadable",
        [AP_REFUSAL_REMOTE_DEBUG_DISABLED] = "remote_debug_disabled",
        [AP_REFUSAL_NOT_PYTHON] = "not_python",
        [AP_REFUSAL_UNSUPPORTED_PYTHON] = "unsupported_python",
        [AP_REFUSAL_UNSUPPORTED_LIBC] = "unsupported_libc",
};

const char *ap_refusal_name(ap_refusal r) {
        if ((unsigned)r >= AP_ARRAY_SIZE(refusal_names))
                return NULL;
        return refusal_names[r];
}
