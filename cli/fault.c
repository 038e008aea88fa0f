/* fault.c: ATTACHPY_FAULT, fault injection for the test suite. */
#include "fault.h"

#include <string.h>

static const char *const step_names[AP_STEP_COUNT_] = {
        [AP_STEP_NONE] = "none",     [AP_STEP_ATTACHED] = "attached", [AP_STEP_THREAD] = "thread",
        [AP_STEP_MAPPED] = "mapped", [AP_STEP_WRITTEN] = "written",   [AP_STEP_CALLED] = "called",
};

const char *ap_step_name(ap_step step) {
        return step >= 0 && step < AP_STEP_COUNT_ ? step_names[step] : "none";
}

static bool word_is(const char *w, size_t len, const char *s) {
        return strlen(s) == len && strncmp(w, s, len) == 0;
}

ap_faults ap_faults_parse(const char *spec) {
        ap_faults f = {0};
        const char *p = spec;
        while (p && *p) {
                size_t len = strcspn(p, ",");
                static const char pause[] = "pause-after:";
                if (word_is(p, len, "wrong-code"))
                        f.wrong_code = true;
                else if (word_is(p, len, "moved"))
                        f.moved = true;
                else if (word_is(p, len, "schedule"))
                        f.schedule = true;
                else if (word_is(p, len, "hang-call"))
                        f.hang_call = true;
                else if (word_is(p, len, "half-restored"))
                        f.half_restored = true;
                else if (word_is(p, len, "slow-call"))
                        f.slow_call = true;
                else if (word_is(p, len, "stay-queued"))
                        f.stay_queued = true;
                else if (len > sizeof pause - 1 && strncmp(p, pause, sizeof pause - 1) == 0)
                        for (int s = AP_STEP_ATTACHED; s < AP_STEP_COUNT_; s++)
                                if (word_is(p + sizeof pause - 1, len - (sizeof pause - 1),
                                            step_names[s]))
                                        f.pause_after = (ap_step)s;
                p += len;
                if (*p == ',')
                        p++;
        }
        return f;
}
