/* script_values.c: the values a script template is rendered with. */
#include "script_values.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int ap_script_values_add(ap_script_values *v, const char *name, const char *fmt, ...) {
        if (v->n >= AP_MAX_SCRIPT_VALUES)
                return -1;
        va_list ap;
        va_start(ap, fmt);
        char *s = NULL;
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -1;
        v->owned[v->n] = s;
        v->vars[v->n] = (ap_template_var){.name = name, .value = s};
        v->n++;
        return 0;
}

void ap_script_values_free(ap_script_values *v) {
        if (!v)
                return;
        for (size_t i = 0; i < v->n; i++)
                free(v->owned[i]);
        v->n = 0;
}

int ap_script_values_common(ap_script_values *v, const ap_injection_plan *plan) {
        const ap_target *t = plan->target;
        int r = 0;
        r |= ap_script_values_add(v, "pid", "%d", (int)t->pid);
        r |= ap_script_values_add(v, "addr_mmap", "0x%" PRIx64, t->addr_mmap);
        r |= ap_script_values_add(v, "addr_munmap", "0x%" PRIx64, t->addr_munmap);
        r |= ap_script_values_add(v, "page_size", "%d", AP_PAGE_SIZE);
        r |= ap_script_values_add(v, "check_addr", "0x%" PRIx64, t->addr_check);
        r |= ap_script_values_add(v, "check_value", "0x%" PRIx64, ap_plan_check_value(plan));
        if (plan->mode == AP_PLAN_SCHEDULE) {
                r |= ap_script_values_add(v, "addr_add_pending_call", "0x%" PRIx64,
                                          t->addr_add_pending_call);
                r |= ap_script_values_add(v, "offset_code", "%d", AP_PAGE_OFFSET_CODE);
                r |= ap_script_values_add(v, "offset_cancel", "%d", AP_PAGE_CANCEL);
        } else {
                r |= ap_script_values_add(v, "safepoint", "%s", plan->safepoint);
                /* slow-call: the direct entry after a 2 s sleep (fault.h) */
                r |= ap_script_values_add(v, "offset_direct", "%zu",
                                          AP_PAGE_OFFSET_CODE +
                                                  (plan->faults.slow_call
                                                           ? ap_trampoline_slow_offset()
                                                           : ap_trampoline_direct_offset()));
                r |= ap_script_values_add(v, "offset_detail", "%d", AP_PAGE_DETAIL);
                r |= ap_script_values_add(v, "state_dlopen_failed", "%d",
                                          AP_TRAMPOLINE_DLOPEN_FAILED);
                r |= ap_script_values_add(v, "state_dlsym_failed", "%d",
                                          AP_TRAMPOLINE_DLSYM_FAILED);
                r |= ap_script_values_add(v, "state_entry_failed", "%d",
                                          AP_TRAMPOLINE_ENTRY_FAILED);
        }
        return r ? -1 : 0;
}

int ap_script_values_pauses(ap_script_values *v, const ap_injection_plan *plan,
                            const char *const pause[5]) {
        static const char *const names[AP_STEP_COUNT_] = {
                [AP_STEP_ATTACHED] = "pause_attached", [AP_STEP_THREAD] = "pause_thread",
                [AP_STEP_MAPPED] = "pause_mapped",     [AP_STEP_WRITTEN] = "pause_written",
                [AP_STEP_CALLED] = "pause_called",
        };
        for (int s = AP_STEP_ATTACHED; s < AP_STEP_COUNT_; s++) {
                int r;
                if (s == AP_STEP_WRITTEN && plan->faults.hang_call && pause[2])
                        r = ap_script_values_add(v, names[s], "%s", pause[2]);
                else if (s == AP_STEP_WRITTEN && plan->faults.slow_call && pause[4])
                        r = ap_script_values_add(v, names[s], "%s", pause[4]);
                else if (s == AP_STEP_WRITTEN && plan->faults.half_restored && pause[3])
                        r = ap_script_values_add(v, names[s], "%s\n%s%s\n%s", pause[3], pause[0],
                                                 ap_step_name((ap_step)s), pause[1]);
                else if (plan->faults.pause_after == (ap_step)s)
                        r = ap_script_values_add(v, names[s], "%s%s\n%s", pause[0],
                                                 ap_step_name((ap_step)s), pause[1]);
                else
                        r = ap_script_values_add(v, names[s], "# step %s",
                                                 ap_step_name((ap_step)s));
                if (r < 0)
                        return -1;
        }
        return 0;
}
