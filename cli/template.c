/* template.c: {{name}} substitution with strict checks. */
#include "template.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MAX_VARS 64

int ap_template_value_ok(const char *value) {
        for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
                if (*p == '\n')
                        continue;
                if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\'' || *p == '\\' || *p == '`' ||
                    *p == ';')
                        return 0;
        }
        return 1;
}

int ap_template_render(const char *text, const ap_template_var *vars, size_t n_vars, char **ret,
                       ap_error *err) {
        bool used[MAX_VARS] = {false};
        if (n_vars > MAX_VARS)
                return ap_error_set(err, AP_ERR_DEBUGGER_FAILED, "too many template values");
        for (size_t i = 0; i < n_vars; i++)
                if (!vars[i].value || !ap_template_value_ok(vars[i].value))
                        return ap_error_set(err, AP_ERR_DEBUGGER_FAILED,
                                            "refusing unsafe value for template placeholder '%s'",
                                            vars[i].name);

        ap_buf out = {0};
        const char *p = text;
        for (;;) {
                const char *open = strstr(p, "{{");
                if (!open) {
                        if (ap_buf_append(&out, p, strlen(p)) < 0)
                                goto oom;
                        break;
                }
                if (ap_buf_append(&out, p, (size_t)(open - p)) < 0)
                        goto oom;
                const char *close = strstr(open + 2, "}}");
                if (!close) {
                        ap_buf_free(&out);
                        return ap_error_set(err, AP_ERR_DEBUGGER_FAILED,
                                            "unterminated placeholder in debugger script "
                                            "template");
                }
                size_t nlen = (size_t)(close - open - 2);
                size_t k = 0;
                for (; k < n_vars; k++)
                        if (strlen(vars[k].name) == nlen &&
                            strncmp(vars[k].name, open + 2, nlen) == 0)
                                break;
                if (k == n_vars) {
                        ap_buf_free(&out);
                        return ap_error_set(err, AP_ERR_DEBUGGER_FAILED,
                                            "debugger script template uses unknown placeholder "
                                            "'%.*s'",
                                            (int)nlen, open + 2);
                }
                used[k] = true;
                if (ap_buf_append(&out, vars[k].value, strlen(vars[k].value)) < 0)
                        goto oom;
                p = close + 2;
        }
        for (size_t i = 0; i < n_vars; i++)
                if (!used[i]) {
                        ap_buf_free(&out);
                        return ap_error_set(err, AP_ERR_DEBUGGER_FAILED,
                                            "debugger script template does not use '%s'",
                                            vars[i].name);
                }
        *ret = ap_buf_steal(&out);
        return *ret ? 0 : ap_error_set(err, AP_ERR_DEBUGGER_FAILED, "out of memory");
oom:
        ap_buf_free(&out);
        return ap_error_set(err, AP_ERR_DEBUGGER_FAILED, "out of memory");
}

void ap_template_strip_comments(char *script) {
        char *out = script;
        const char *line = script;
        while (*line) {
                const char *end = strchr(line, '\n');
                size_t len = end ? (size_t)(end - line) + 1 : strlen(line);
                size_t blank = strspn(line, " \t");
                if (line[blank] != '#') {
                        memmove(out, line, len);
                        out += len;
                }
                line += len;
        }
        *out = '\0';
}
