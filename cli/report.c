/* report.c: text and JSON reporters. */
#include "report.h"

#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "util.h"

static size_t utf8_valid_prefix(const unsigned char *s, size_t len) {
        unsigned char c = s[0];
        size_t need;
        uint32_t cp;
        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf) {
                need = 1;
                cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
                need = 2;
                cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
                need = 3;
                cp = c & 0x07;
        } else {
                return 0;
        }
        if (len < need + 1)
                return 0;
        for (size_t i = 1; i <= need; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return need + 1;
}

char *ap_utf8_sanitize(const char *data, size_t len, size_t *ret_len) {
        ap_buf b = {0};
        const unsigned char *s = (const unsigned char *)(data ? data : "");
        size_t i = 0;
        int r = ap_buf_append(&b, "", 0);
        while (r == 0 && i < len) {
                size_t n = utf8_valid_prefix(s + i, len - i);
                if (n == 0) {
                        r = ap_buf_append(&b, "\xef\xbf\xbd", 3); /* U+FFFD */
                        i++;
                        continue;
                }
                r = ap_buf_append(&b, s + i, n);
                i += n;
        }
        if (r < 0) {
                ap_buf_free(&b);
                return NULL;
        }
        if (ret_len)
                *ret_len = b.len;
        return ap_buf_steal(&b);
}

static json_t *jstr(const char *s, size_t len) {
        if (!s)
                return json_null();
        size_t clean_len = 0;
        char *clean = ap_utf8_sanitize(s, len, &clean_len);
        json_t *j = clean ? json_stringn(clean, clean_len) : json_null();
        free(clean);
        return j ? j : json_null();
}

static json_t *jstr0(const char *s) { return jstr(s, s ? strlen(s) : 0); }

/* How the target ended: {"exit_code": N, "signal": null, ...}; both null
 * when it could not be learned. */
static json_t *exit_to_json(const ap_exit_status *s) {
        json_t *e = json_object();
        bool code = s->how == AP_EXIT_CODE, sig = s->how == AP_EXIT_SIGNAL;
        const char *name = sig ? ap_signal_name(s->value) : NULL;
        json_object_set_new(e, "exit_code", code ? json_integer(s->value) : json_null());
        json_object_set_new(e, "signal", sig ? json_integer(s->value) : json_null());
        json_object_set_new(e, "signal_name", name ? json_string(name) : json_null());
        json_object_set_new(e, "core_dumped", json_boolean(sig && s->core_dumped));
        return e;
}

json_t *ap_report_to_json(const ap_report *r) {
        json_t *o = json_object();
        if (!o)
                return NULL;
        json_object_set_new(o, "ok", json_boolean(r->ok));
        json_object_set_new(o, "pid", json_integer(r->pid));
        json_object_set_new(o, "debugger", r->debugger ? json_string(r->debugger) : json_null());
        json_object_set_new(o, "mechanism", r->mechanism ? json_string(r->mechanism) : json_null());
        json_object_set_new(o, "serving", r->serving < 0 ? json_null() : json_boolean(r->serving));
        if (r->have_target) {
                json_t *t = json_object();
                json_object_set_new(t, "implementation", json_string(ap_impl_name(r->impl)));
                json_object_set_new(t, "version", jstr0(r->version ? r->version : ""));
                json_object_set_new(t, "executable", jstr0(r->executable ? r->executable : ""));
                json_object_set_new(o, "target", t);
        } else {
                json_object_set_new(o, "target", json_null());
        }
        if (r->have_result) {
                const ap_result *res = &r->result;
                json_t *j = json_object();
                json_object_set_new(j, "stdout",
                                    jstr(res->out.data ? res->out.data : "", res->out.len));
                json_object_set_new(j, "stderr",
                                    jstr(res->err.data ? res->err.data : "", res->err.len));
                if (res->exc_type) {
                        json_t *e = json_object();
                        json_object_set_new(e, "type", jstr0(res->exc_type));
                        json_object_set_new(e, "message",
                                            jstr0(res->exc_message ? res->exc_message : ""));
                        json_object_set_new(e, "traceback",
                                            jstr0(res->exc_traceback ? res->exc_traceback : ""));
                        json_object_set_new(j, "exception", e);
                } else {
                        json_object_set_new(j, "exception", json_null());
                }
                json_t *dropped = json_object();
                json_object_set_new(dropped, "stdout", json_integer((json_int_t)res->out_dropped));
                json_object_set_new(dropped, "stderr", json_integer((json_int_t)res->err_dropped));
                json_object_set_new(j, "truncated", dropped);
                json_object_set_new(j, "target_exit",
                                    r->target_ended ? exit_to_json(&r->exit) : json_null());
                json_object_set_new(o, "result", j);
        } else {
                json_object_set_new(o, "result", json_null());
        }
        if (r->error.code != AP_OK) {
                json_t *e = json_object();
                json_object_set_new(e, "code", json_string(ap_code_name(r->error.code)));
                json_object_set_new(e, "message", jstr0(r->error.message ? r->error.message : ""));
                json_object_set_new(e, "hint", jstr0(r->error.hint ? r->error.hint : ""));
                json_object_set_new(o, "error", e);
        } else {
                json_object_set_new(o, "error", json_null());
        }
        if (r->recipe) {
                json_t *rec = json_object();
                json_object_set_new(rec, "name", json_string(r->recipe));
                json_object_set_new(rec, "data",
                                    r->recipe_data ? json_incref(r->recipe_data) : json_null());
                json_object_set_new(o, "recipe", rec);
        }
        json_t *t = json_object();
        json_object_set_new(t, "total", json_real(r->ms_total));
        json_object_set_new(t, "preflight", json_real(r->ms_preflight));
        json_object_set_new(t, "debugger", json_real(r->ms_debugger));
        json_object_set_new(t, "run", json_real(r->ms_run));
        json_object_set_new(o, "timing_ms", t);
        json_object_set_new(o, "retries", json_integer(r->retries));
        if (r->command && strcmp(r->command, "detach") == 0 && r->ok) {
                json_t *d = json_object();
                json_object_set_new(d, "was_serving", json_boolean(r->detached));
                json_object_set_new(d, "still_running", json_integer((json_int_t)r->still_running));
                json_object_set_new(o, "detach", d);
        }
        return o;
}

void ap_json_print_line(json_t *j, FILE *out) {
        if (j) {
                json_dumpf(j, out, JSON_COMPACT | JSON_ENSURE_ASCII);
                fputc('\n', out);
                json_decref(j);
        }
        fflush(out);
}

int ap_report_print_json(const ap_report *r, FILE *out) {
        ap_json_print_line(ap_report_to_json(r), out);
        return ap_code_exit_status(r->error.code);
}

int ap_report_print_text(const ap_report *r, FILE *out, FILE *err) {
        if (r->have_result) {
                const ap_result *res = &r->result;
                if (res->out.len)
                        fwrite(res->out.data, 1, res->out.len, out);
                fflush(out);
                if (res->err.len)
                        fwrite(res->err.data, 1, res->err.len, err);
                if (res->exc_traceback && *res->exc_traceback) {
                        fputs(res->exc_traceback, err);
                        size_t n = strlen(res->exc_traceback);
                        if (res->exc_traceback[n - 1] != '\n')
                                fputc('\n', err);
                }
                if (res->out_dropped)
                        fprintf(err,
                                "attachpy: note: stdout was cut at %u MiB: %" PRIu64
                                " more bytes were dropped\n",
                                AP_MAX_RESULT_BYTES / (1024 * 1024), res->out_dropped);
                if (res->err_dropped)
                        fprintf(err,
                                "attachpy: note: stderr was cut at %u MiB: %" PRIu64
                                " more bytes were dropped\n",
                                AP_MAX_RESULT_BYTES / (1024 * 1024), res->err_dropped);
        }
        if (r->scheduled_only)
                fprintf(err,
                        "attachpy: the code is scheduled in process %d; its output goes to "
                        "the process's own stdout and stderr\n",
                        (int)r->pid);
        if (r->command && r->ok && strcmp(r->command, "attach") == 0)
                fprintf(out,
                        "attachpy: an agent serves process %d: runs need no debugger and do not "
                        "stop it ('attachpy detach %d' ends it)\n",
                        (int)r->pid, (int)r->pid);
        else if (r->command && r->ok && r->detached)
                fprintf(out, "attachpy: the agent in process %d stopped serving%s\n", (int)r->pid,
                        r->still_running ? "; runs under way finish first" : "");
        else if (r->command && r->ok)
                fprintf(out, "attachpy: no agent served process %d: nothing to do\n", (int)r->pid);
        fflush(out);
        bool shown = r->have_result && r->result.exc_traceback && *r->result.exc_traceback;
        if (r->error.code != AP_OK && !(r->error.code == AP_ERR_SCRIPT_ERROR && shown)) {
                fprintf(err, "attachpy: error: %s\n", r->error.message ? r->error.message : "");
                if (r->error.hint && *r->error.hint)
                        fprintf(err, "attachpy: hint: %s\n", r->error.hint);
        }
        fflush(err);
        return ap_code_exit_status(r->error.code);
}

void ap_report_free(ap_report *report) {
        if (!report)
                return;
        free(report->version);
        free(report->executable);
        ap_result_free(&report->result);
        ap_error_clear(&report->error);
        json_decref(report->recipe_data);
        memset(report, 0, sizeof *report);
}
