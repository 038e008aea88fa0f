/* fuzz_template.c: the debugger-script template engine on arbitrary
 * template text.  The seeds are the real scripts (gdbscripts/,
 * lldbscripts/).
 *
 * Each input is rendered three ways:
 * 1. with every placeholder name the real scripts use, each given a safe
 *    value (most inputs fail with "does not use");
 * 2. with a value for each name the input uses as {{name}} (so the real
 *    scripts, whatever their names, render);
 * 3. as the value of a one-placeholder template "{{v}}".
 * Properties: 0 with a string, or -1 with an error of code debugger_failed;
 * the same answer and the same text as a plain second implementation of
 * template.h's rules; a rendered script holds no "{{" and every value;
 * ap_template_value_ok accepts exactly what template.h says, and a value
 * renders iff it is accepted, and then unchanged.
 */
#include <stdbool.h>

#include "fuzz_common.h"
#include "template.h"

static const char *const names[] = {
        "addr_add_pending_call",
        "addr_dlerror",
        "addr_dlopen",
        "addr_dlsym",
        "addr_mmap",
        "addr_munmap",
        "addr_nudge",
        "break_commands",
        "check_addr",
        "check_value",
        "check_value_decimal",
        "futex_condition",
        "guard",
        "log_path",
        "offset_agent",
        "offset_cancel",
        "offset_code",
        "offset_detail",
        "offset_direct",
        "offset_session",
        "offset_symbol",
        "page_size",
        "page_writes",
        "parked_condition",
        "pause_attached",
        "pause_called",
        "pause_mapped",
        "pause_thread",
        "pause_written",
        "pid",
        "safepoint",
        "safepoint_condition",
        "safepoint_kind",
        "state_dlopen_failed",
        "state_dlsym_failed",
        "state_entry_failed",
        "thread_index",
        "thread_syscall",
        "thread_tid",
        "",
        "a b",
};
#define N_NAMES (sizeof names / sizeof names[0])

/* Safe values of every shape the backends generate: numbers, addresses,
 * blocks of lines, expressions, the empty string. */
static const char *const values[] = {
        "4242",
        "0x7f0000001000",
        "set $x = 1\nset $y = 2\n",
        "$rax == -4 && $orig_rax == 202",
        "",
        "parked",
        "1",
        "/tmp/attachpy-XYZ/agent.so",
};
#define N_VALUES (sizeof values / sizeof values[0])

#define MAX_FOUND 32

/* The distinct placeholder names text uses, as the engine reads them (each
 * "{{" up to the next "}}"), at most MAX_FOUND of at most 63 bytes. */
static size_t found_names(const char *text, char found[MAX_FOUND][64]) {
        size_t n = 0;
        for (const char *p = strstr(text, "{{"); p && n < MAX_FOUND; p = strstr(p, "{{")) {
                const char *close = strstr(p + 2, "}}");
                if (!close)
                        break;
                size_t len = (size_t)(close - p - 2);
                p = close + 2;
                if (len > 63)
                        continue;
                bool seen = false;
                for (size_t i = 0; i < n && !seen; i++)
                        seen = strlen(found[i]) == len && memcmp(found[i], close - len, len) == 0;
                if (!seen) {
                        memcpy(found[n], close - len, len);
                        found[n++][len] = '\0';
                }
        }
        return n;
}

/* A second, plain implementation of template.h's rules, to compare with:
 * returns the rendering, or NULL when the template is to be refused. */
static char *reference(const char *text, const ap_template_var *vars, size_t n) {
        size_t cap = strlen(text) + 1;
        for (size_t i = 0; i < n; i++)
                cap += strlen(vars[i].value) * (strlen(text) / 4 + 1);
        char *out = malloc(cap), *o = out;
        bool used[N_NAMES + MAX_FOUND] = {false};
        FUZZ_ASSERT(out && n <= N_NAMES + MAX_FOUND, "out of memory");
        const char *p = text;
        while (*p) {
                if (p[0] != '{' || p[1] != '{') {
                        *o++ = *p++;
                        continue;
                }
                const char *name = p + 2, *close = strstr(name, "}}");
                size_t k = n;
                if (close)
                        for (k = 0; k < n; k++)
                                if (strlen(vars[k].name) == (size_t)(close - name) &&
                                    memcmp(vars[k].name, name, (size_t)(close - name)) == 0)
                                        break;
                if (k == n) { /* unterminated or unknown */
                        free(out);
                        return NULL;
                }
                used[k] = true;
                o = stpcpy(o, vars[k].value);
                p = close + 2;
        }
        *o = '\0';
        for (size_t i = 0; i < n; i++)
                if (!used[i]) {
                        free(out);
                        return NULL;
                }
        return out;
}

static void render(const char *text, const ap_template_var *vars, size_t n) {
        char *out = NULL;
        ap_error err = AP_ERROR_INIT;
        int r = ap_template_render(text, vars, n, &out, &err);
        FUZZ_ASSERT(r == 0 || r == -1, "returned %d", r);
        char *expected = reference(text, vars, n);
        FUZZ_ASSERT((r == 0) == (expected != NULL), "rendered: %d, the reference: %d", r == 0,
                    expected != NULL);
        FUZZ_ASSERT(!expected || strcmp(out, expected) == 0, "renders differ from the reference");
        free(expected);
        if (r == 0) {
                FUZZ_ASSERT(out, "0 without a string");
                FUZZ_ASSERT(!ap_error_is_set(&err), "0 with an error set: %s", err.message);
                FUZZ_ASSERT(!strstr(out, "{{"), "'{{' left in the rendered script");
                for (size_t i = 0; i < n; i++)
                        FUZZ_ASSERT(strstr(out, vars[i].value), "value of '%s' missing",
                                    vars[i].name);
        } else {
                fuzz_check_error(&err, "template");
                FUZZ_ASSERT(err.code == AP_ERR_DEBUGGER_FAILED, "code %s", ap_code_name(err.code));
        }
        free(out);
        ap_error_clear(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_string(data, size);

        ap_template_var all[N_NAMES], some[MAX_FOUND];
        for (size_t i = 0; i < N_NAMES; i++)
                all[i] = (ap_template_var){names[i], values[i % N_VALUES]};
        char found[MAX_FOUND][64];
        size_t n_some = found_names(text, found);
        for (size_t i = 0; i < n_some; i++)
                some[i] = (ap_template_var){found[i], values[i % N_VALUES]};
        render(text, all, N_NAMES);
        render(text, some, n_some);

        /* The value check is what template.h promises: printable ASCII
         * without quotes, backslashes, backticks or semicolons; newlines. */
        bool safe = true;
        for (const unsigned char *p = (const unsigned char *)text; *p; p++)
                if (*p != '\n' && (*p < 0x20 || *p > 0x7e || strchr("\"'\\`;", *p)))
                        safe = false;
        FUZZ_ASSERT(!ap_template_value_ok(text) == !safe, "ap_template_value_ok says %d, not %d",
                    ap_template_value_ok(text), safe);

        ap_template_var v = {"v", text};
        char *out = NULL;
        ap_error err = AP_ERROR_INIT;
        int r = ap_template_render("{{v}}", &v, 1, &out, &err);
        if (safe)
                FUZZ_ASSERT(r == 0 && out && strcmp(out, text) == 0,
                            "a safe value did not render as itself");
        else
                FUZZ_ASSERT(r == -1 && !out && err.code == AP_ERR_DEBUGGER_FAILED,
                            "an unsafe value rendered");
        free(out);
        ap_error_clear(&err);
        free(text);
        return 0;
}
