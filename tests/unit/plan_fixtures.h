/* plan_fixtures.h: what the plan, values and backend tests share: a fake
 * target with addresses whose printing is checked, and lookups in a set of
 * script values. */
#pragma once

#include <check.h>
#include <string.h>

#include "backend.h"

static inline ap_target fake_target(void) {
        ap_target t;
        memset(&t, 0, sizeof t);
        t.pid = 4242;
        t.addr_mmap = 0x7f0000101000;
        t.addr_munmap = 0x7f0000102000;
        t.addr_dlopen = 0x7f0000103abc;
        t.addr_dlsym = 0x7f0000104def;
        t.addr_dlerror = 0x7f0000105000;
        t.addr_add_pending_call = 0x7f1000001000;
        t.addr_check = t.addr_add_pending_call;
        t.check_code = 0x8b48c9ff485341f3; /* top bit set: printed unsigned */
        return t;
}

#define AGENT "/usr/lib/x86_64-linux-gnu/attachpy/attachpy-agent.so"
#define SESSION "/tmp/attachpy-Xy12Ab"

static inline const char *value_of(const ap_script_values *v, const char *name) {
        const char *found = NULL;
        for (size_t i = 0; i < v->n; i++)
                if (strcmp(v->vars[i].name, name) == 0) {
                        ck_assert_msg(!found, "value '%s' given twice", name);
                        found = v->vars[i].value;
                }
        ck_assert_msg(found, "no value '%s'", name);
        return found;
}

/* The names a list of values holds, each once. */
static inline void check_names(const ap_script_values *v, const char *const *want, size_t n) {
        ck_assert_uint_eq(v->n, n);
        for (size_t i = 0; i < n; i++)
                value_of(v, want[i]);
        for (size_t i = 0; i < v->n; i++)
                ck_assert_msg(ap_template_value_ok(v->vars[i].value), "%s is not template-safe",
                              v->vars[i].name);
}
