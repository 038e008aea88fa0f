/* recipe.c: answers without writing code. */
#include "recipe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "paths.h"
#include "util.h"

/* recipes/FILE, read whole into b. */
static int read_recipe_file(const char *name, const char *file, ap_buf *b, ap_error *err) {
        _cleanup_free_ char *path = ap_path_script("recipes", file);
        char *text = NULL;
        size_t len = 0;
        if (!path || ap_read_file(path, AP_MAX_CODE_BYTES, &text, &len) < 0)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "cannot read the %s recipe %s: %s", name, path ? path : file,
                                    strerror(errno)),
                       ap_error_hint(err, "reinstall attachpy (meson install), or set "
                                          "ATTACHPY_DATADIR to the directory holding recipes/"),
                       -1;
        int r = ap_buf_append(b, text, len);
        free(text);
        return r < 0 ? ap_error_set(err, AP_ERR_INJECTION_FAILED, "out of memory") : 0;
}

int ap_recipe_load(ap_recipe r, char **ret_code, size_t *ret_len, char **ret_filename,
                   ap_error *err) {
        const char *name = ap_recipe_name(r);
        char file[32];
        snprintf(file, sizeof file, "%s.py", name ? name : "?");
        /* The JSON writer the recipes share, then the recipe. */
        ap_buf code = {0};
        char *filename = NULL;
        if (!name)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "no such recipe");
        if (read_recipe_file(name, "_json.py", &code, err) < 0 ||
            read_recipe_file(name, file, &code, err) < 0) {
                ap_buf_free(&code);
                return -1;
        }
        if (asprintf(&filename, "<attachpy %s>", name) < 0) {
                ap_buf_free(&code);
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "out of memory");
        }
        *ret_len = code.len;
        *ret_code = ap_buf_steal(&code);
        *ret_filename = filename;
        return 0;
}

static const char *str(json_t *o, const char *key) {
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : "";
}

/* The codes a recipe may refuse with; any other is attachpy's bug. */
static ap_code refusal_code(const char *name) {
        static const ap_code allowed[] = {AP_ERR_RECIPE_REFUSED, AP_ERR_UNSUPPORTED_PYTHON,
                                          AP_ERR_USAGE};
        for (size_t k = 0; k < AP_ARRAY_SIZE(allowed); k++)
                if (strcmp(name, ap_code_name(allowed[k])) == 0)
                        return allowed[k];
        return AP_ERR_INJECTION_FAILED;
}

void ap_recipe_take_output(ap_recipe r, ap_report *report) {
        report->recipe = ap_recipe_name(r);
        if (!report->ok || !report->have_result)
                return;
        ap_buf *out = &report->result.out;
        json_error_t jerr;
        json_t *doc = json_loadb(out->data ? out->data : "", out->len, 0, &jerr);
        if (!json_is_object(doc)) {
                json_decref(doc);
                report->ok = false;
                ap_error_set(&report->error, AP_ERR_INJECTION_FAILED,
                             "the %s recipe's answer from process %d could not be read (%s)",
                             report->recipe, (int)report->pid, jerr.text);
                ap_error_hint(&report->error, "run with --verbose and report it");
                return;
        }
        out->len = 0;
        if (out->data)
                out->data[0] = '\0';
        json_t *refusal = json_object_get(doc, "error");
        if (json_is_object(refusal)) {
                /* The recipe refused, from inside the target (memory top
                 * before start, PyPy without tracemalloc). */
                report->ok = false;
                ap_error_set(&report->error, refusal_code(str(refusal, "code")), "%s",
                             str(refusal, "message"));
                ap_error_hint(&report->error, "%s", str(refusal, "hint"));
                json_decref(doc);
                return;
        }
        report->recipe_data = doc;
}

static void print_frames(json_t *frames, FILE *out) {
        size_t n = json_array_size(frames);
        /* innermost first, as py-spy and pystack show them */
        for (size_t k = n; k-- > 0;) {
                json_t *f = json_array_get(frames, k);
                if (json_object_get(f, "awaits")) {
                        fprintf(out, "    (waits on %s %s)\n", str(f, "function"),
                                str(f, "awaits"));
                        continue;
                }
                fprintf(out, "    %s (%s:%lld)\n", str(f, "function"), str(f, "file"),
                        (long long)json_integer_value(json_object_get(f, "line")));
                const char *name;
                json_t *v;
                json_object_foreach(json_object_get(f, "locals"), name, v) {
                        fprintf(out, "        %s = %s  (%s)\n", name, str(v, "repr"),
                                str(v, "type"));
                }
        }
}

static void print_stacks(const ap_report *r, json_t *doc, FILE *out) {
        fprintf(out, "Process %d: %s %s (%s)\n", (int)r->pid, ap_impl_name(r->impl),
                r->version ? r->version : "?", r->executable ? r->executable : "?");
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(doc, "threads"), i, t) {
                json_t *native = json_object_get(t, "native_id");
                const char *name = str(t, "name");
                fprintf(out, "\nThread %lld",
                        (long long)(json_is_integer(native)
                                            ? json_integer_value(native)
                                            : json_integer_value(json_object_get(t, "ident"))));
                if (*name)
                        fprintf(out, " \"%s\"", name);
                const char *words[3] = {json_is_true(json_object_get(t, "main")) ? "main" : "",
                                        str(t, "state"),
                                        json_is_true(json_object_get(t, "daemon")) ? "daemon" : ""};
                const char *sep = " (";
                for (int w = 0; w < 3; w++)
                        if (*words[w]) {
                                fprintf(out, "%s%s", sep, words[w]);
                                sep = ", ";
                        }
                fputs(*sep == ',' ? ")\n" : "\n", out);
                print_frames(json_object_get(t, "frames"), out);
        }
        json_t *loop;
        json_array_foreach(json_object_get(doc, "asyncio"), i, loop) {
                fprintf(out, "\nEvent loop %s (%s)\n", str(loop, "loop"),
                        json_is_true(json_object_get(loop, "running"))  ? "running"
                        : json_is_true(json_object_get(loop, "closed")) ? "closed"
                                                                        : "not running");
                size_t k;
                json_t *task;
                json_array_foreach(json_object_get(loop, "tasks"), k, task) {
                        fprintf(out, "  Task %s: %s (%s)\n", str(task, "name"), str(task, "coro"),
                                str(task, "state"));
                        print_frames(json_object_get(task, "awaits"), out);
                }
        }
}

static void print_objects(json_t *doc, FILE *out) {
        fprintf(out, "%lld objects tracked by the garbage collector; the most numerous types:\n",
                (long long)json_integer_value(json_object_get(doc, "tracked")));
        fprintf(out, "%10s %12s  %s\n", "count", "bytes", "type");
        size_t i;
        json_t *row;
        json_array_foreach(json_object_get(doc, "top"), i, row) {
                fprintf(out, "%10lld %12lld  %s\n",
                        (long long)json_integer_value(json_object_get(row, "count")),
                        (long long)json_integer_value(json_object_get(row, "size")),
                        str(row, "type"));
        }
        json_t *diff = json_object_get(doc, "diff");
        if (!json_is_object(diff))
                return;
        json_t *grew = json_object_get(diff, "grew");
        fprintf(out, "\nIn %g s: %lld -> %lld objects tracked; %s\n",
                json_number_value(json_object_get(diff, "seconds")),
                (long long)json_integer_value(json_object_get(diff, "tracked_before")),
                (long long)json_integer_value(json_object_get(diff, "tracked_after")),
                json_array_size(grew) ? "grew:" : "no type grew");
        if (!json_array_size(grew))
                return;
        fprintf(out, "%10s %10s %10s %12s  %s\n", "delta", "before", "after", "bytes", "type");
        json_array_foreach(grew, i, row) {
                fprintf(out, "%+10lld %10lld %10lld %+12lld  %s\n",
                        (long long)json_integer_value(json_object_get(row, "delta")),
                        (long long)json_integer_value(json_object_get(row, "before")),
                        (long long)json_integer_value(json_object_get(row, "after")),
                        (long long)json_integer_value(json_object_get(row, "size_delta")),
                        str(row, "type"));
        }
}

static long long num(json_t *o, const char *key) {
        return (long long)json_integer_value(json_object_get(o, key));
}

static void print_memory(const ap_report *r, json_t *doc, FILE *out) {
        const char *action = str(doc, "action");
        int pid = (int)r->pid;
        if (strcmp(action, "start") == 0) {
                fprintf(out,
                        "tracemalloc traces the memory of process %d (%lld frames a traceback); "
                        "'attachpy memory top %d' shows where it goes\n",
                        pid, num(doc, "frames"), pid);
                return;
        }
        if (strcmp(action, "stop") == 0) {
                fprintf(out,
                        "tracemalloc stopped in process %d, its %lld bytes of traces freed; "
                        "nothing of attachpy memory is left there\n",
                        pid, num(doc, "freed"));
                return;
        }
        size_t i;
        json_t *row;
        if (strcmp(action, "diff") == 0) {
                fprintf(out, "In %g s: %lld -> %lld bytes (%+lld) in %lld -> %lld blocks; %s\n",
                        json_number_value(json_object_get(doc, "seconds")), num(doc, "size_before"),
                        num(doc, "size_after"), num(doc, "size_after") - num(doc, "size_before"),
                        num(doc, "count_before"), num(doc, "count_after"),
                        json_array_size(json_object_get(doc, "changes")) ? "the largest changes:"
                                                                         : "no site changed");
                if (!json_array_size(json_object_get(doc, "changes")))
                        return;
                fprintf(out, "%12s %9s %12s %9s  %s\n", "bytes", "blocks", "now", "blocks", "site");
                json_array_foreach(json_object_get(doc, "changes"), i, row) {
                        fprintf(out, "%+12lld %+9lld %12lld %9lld  %s:%lld\n",
                                num(row, "size_diff"), num(row, "count_diff"), num(row, "size"),
                                num(row, "count"), str(row, "file"), num(row, "line"));
                }
                return;
        }
        json_t *totals = json_object_get(doc, "totals");
        json_t *unknown = json_object_get(totals, "no_python_frame");
        fprintf(out,
                "Process %d: %lld bytes in %lld blocks traced%s, and %lld bytes with no Python "
                "frame (peak %lld, tracemalloc's own %lld); the top sites:\n",
                pid, num(totals, "size"), num(totals, "count"),
                strcmp(str(doc, "tracing_by"), "program") == 0 ? " by the program's own tracing"
                                                               : "",
                num(unknown, "size"), num(totals, "peak"), num(totals, "overhead"));
        fprintf(out, "%12s %9s  %s\n", "bytes", "blocks", "site");
        json_array_foreach(json_object_get(doc, "sites"), i, row) {
                fprintf(out, "%12lld %9lld  %s:%lld\n", num(row, "size"), num(row, "count"),
                        str(row, "file"), num(row, "line"));
                json_t *tb = json_object_get(row, "traceback");
                /* innermost first, as stacks prints them; the site itself is
                 * the first line */
                for (size_t k = json_array_size(tb); k-- > 0;) {
                        if (k + 1 == json_array_size(tb))
                                continue;
                        json_t *f = json_array_get(tb, k);
                        fprintf(out, "%24s  %s:%lld\n", "from", str(f, "file"), num(f, "line"));
                }
        }
}

void ap_recipe_print_text(const ap_report *r, FILE *out) {
        if (!r->recipe_data)
                return;
        if (r->recipe && strcmp(r->recipe, "stacks") == 0)
                print_stacks(r, r->recipe_data, out);
        else if (r->recipe && strcmp(r->recipe, "memory") == 0)
                print_memory(r, r->recipe_data, out);
        else
                print_objects(r->recipe_data, out);
        fflush(out);
}
