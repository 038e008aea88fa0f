/* ps.c: `attachpy ps`, the Python processes and the preflight's verdict on each. */
#include "ps.h"

#include "agent_channel.h"

#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "util.h"

#define MAX_PROCESSES 65536

bool ap_ps_name_looks_python(const char *path) {
        if (!path || !*path)
                return false;
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        int major, minor;
        if (strcmp(base, "python") == 0 || strcmp(base, "pypy") == 0 || strcmp(base, "pypy3") == 0)
                return true;
        if (strncmp(base, "pypy3.", 6) == 0)
                return true;
        /* python2, python3, python3.11, python3.13t, python3.7m, not python3.11-config */
        if (strncmp(base, "python", 6) != 0 || base[6] < '2' || base[6] > '3')
                return false;
        if (base[7] == '\0')
                return true;
        if (ap_python_version_from_name(base, &major, &minor, NULL) < 0)
                return false;
        const char *p = base + 7 + strspn(base + 7, ".0123456789");
        return *p == '\0' || (strchr("tdmu", *p) && p[1] == '\0');
}

char *ap_ps_cmdline_text(const char *cmdline, size_t len, const char *comm) {
        if (!cmdline || len == 0) {
                char *s = NULL;
                return asprintf(&s, "[%s]", comm ? comm : "?") < 0 ? NULL : s;
        }
        while (len > 0 && cmdline[len - 1] == '\0')
                len--;
        char *s = malloc(len + 1);
        if (!s)
                return NULL;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)cmdline[i];
                s[i] = c == '\0' ? ' ' : (c < 0x20 || c == 0x7f) ? '?' : (char)c;
        }
        s[len] = '\0';
        return s;
}

static char *user_name(uid_t uid) {
        struct passwd pw, *found = NULL;
        char buf[4096];
        char *s = NULL;
        if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found)
                return strdup(found->pw_name);
        return asprintf(&s, "%u", (unsigned)uid) < 0 ? NULL : s;
}

/* argv[0] of a NUL-separated command line. */
static const char *argv0(const ap_target *t) {
        return t->cmdline && t->cmdline_len ? t->cmdline : NULL;
}

/* "3.9" from "libpypy3.9-c.so" or "pypy3.9": PyPy's language version. */
static char *pypy_version(const char *path) {
        const char *base = path ? strrchr(path, '/') : NULL;
        base = base ? base + 1 : path;
        if (!base)
                return NULL;
        if (strncmp(base, "lib", 3) == 0)
                base += 3;
        if (strncmp(base, "pypy", 4) != 0)
                return NULL;
        int major, minor, n = 0;
        if (sscanf(base + 4, "%d.%d%n", &major, &minor, &n) != 2 || n == 0)
                return NULL;
        char *v = NULL;
        return asprintf(&v, "%d.%d", major, minor) < 0 ? NULL : v;
}

/* Decide whether a preflight result is a Python process worth listing, and
 * fill what the name tells when the maps could not be read. */
static bool keep(ap_ps_entry *e) {
        ap_target *t = &e->target;
        if (t->refusal == AP_REFUSAL_GONE || t->refusal == AP_REFUSAL_NOT_PYTHON)
                return false;
        if (t->python_path) {
                if (!t->version && t->impl == AP_IMPL_PYPY)
                        t->version = pypy_version(t->python_path);
                if (!t->version && t->impl == AP_IMPL_PYPY)
                        t->version = pypy_version(t->exe);
                return true;
        }
        if (t->maps_read)
                return false; /* read, and no interpreter in it */
        const char *names[] = {t->exe, argv0(t), t->comm};
        for (size_t i = 0; i < AP_ARRAY_SIZE(names); i++) {
                if (!ap_ps_name_looks_python(names[i]))
                        continue;
                e->by_name = true;
                const char *base = strrchr(names[i], '/');
                base = base ? base + 1 : names[i];
                t->impl = strncmp(base, "pypy", 4) == 0 ? AP_IMPL_PYPY : AP_IMPL_CPYTHON;
                if (!t->version && t->impl == AP_IMPL_CPYTHON &&
                    ap_python_version_from_name(base, &t->version_major, &t->version_minor, NULL) ==
                            0)
                        (void)!asprintf(&t->version, "%d.%d", t->version_major, t->version_minor);
                if (!t->version && t->impl == AP_IMPL_PYPY)
                        t->version = pypy_version(base);
                return true;
        }
        return false;
}

static int cmp_entry(const void *a, const void *b) {
        const ap_ps_entry *x = a, *y = b;
        return (x->target.pid > y->target.pid) - (x->target.pid < y->target.pid);
}

void ap_ps_list_free(ap_ps_list *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++) {
                ap_target_free(&l->v[i].target);
                ap_error_clear(&l->v[i].error);
                free(l->v[i].user);
        }
        free(l->v);
        l->v = NULL;
        l->n = 0;
}

int ap_ps_scan(ap_ps_list *ret, const char *proc_dir, ap_error *err) {
        ap_ps_list l = {0};
        DIR *d = opendir(proc_dir);
        if (!d)
                return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                    "cannot list the processes in %s: %s", proc_dir,
                                    strerror(errno)),
                       ap_error_hint(err, "attachpy ps needs a mounted /proc"), -1;
        pid_t self = getpid();
        size_t seen = 0;
        struct dirent *de;
        while ((de = readdir(d)) && seen < MAX_PROCESSES) {
                char *end;
                long pid = strtol(de->d_name, &end, 10);
                if (*end != '\0' || pid <= 0 || pid == self)
                        continue;
                seen++;
                ap_ps_entry e = {.error = AP_ERROR_INIT};
                (void)!ap_target_inspect(&e.target, (pid_t)pid, &e.error);
                if (!keep(&e)) {
                        ap_target_free(&e.target);
                        ap_error_clear(&e.error);
                        continue;
                }
                e.user = user_name(e.target.uid);
                /* The live /proc only (the tests' fake ones have no agents). */
                e.serving = e.target.python_path && strcmp(proc_dir, "/proc") == 0 &&
                            ap_agent_serves((pid_t)pid);
                ap_ps_entry *nv = realloc(l.v, (l.n + 1) * sizeof *nv);
                if (!nv || !e.user) {
                        free(e.user);
                        ap_target_free(&e.target);
                        ap_error_clear(&e.error);
                        if (nv)
                                l.v = nv;
                        closedir(d);
                        ap_ps_list_free(&l);
                        return ap_error_set(err, AP_ERR_USAGE, "out of memory");
                }
                l.v = nv;
                l.v[l.n++] = e;
        }
        closedir(d);
        if (l.n > 1)
                qsort(l.v, l.n, sizeof *l.v, cmp_entry);
        *ret = l;
        return 0;
}

static json_t *jstr_or_null(const char *s) {
        if (!s)
                return json_null();
        json_t *j = json_string(s);
        if (!j) { /* not UTF-8 */
                size_t n = 0;
                char *clean = ap_utf8_sanitize(s, strlen(s), &n);
                j = clean ? json_stringn(clean, n) : NULL;
                free(clean);
        }
        return j ? j : json_null();
}

json_t *ap_ps_to_json(const ap_ps_list *l) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < l->n; i++) {
                const ap_ps_entry *e = &l->v[i];
                const ap_target *t = &e->target;
                json_t *o = json_object();
                json_object_set_new(o, "pid", json_integer(t->pid));
                json_object_set_new(o, "user", jstr_or_null(e->user));
                json_object_set_new(o, "uid", json_integer(t->uid));
                json_object_set_new(o, "implementation", json_string(ap_impl_name(t->impl)));
                json_object_set_new(o, "version", jstr_or_null(t->version));
                json_object_set_new(o, "executable", jstr_or_null(t->exe));
                json_t *argv = json_array();
                for (size_t k = 0; t->cmdline && k < t->cmdline_len;) {
                        const char *w = t->cmdline + k;
                        size_t wl = strnlen(w, t->cmdline_len - k);
                        char *word = strndup(w, wl);
                        json_array_append_new(argv, jstr_or_null(word));
                        free(word);
                        k += wl + 1;
                }
                json_object_set_new(o, "cmdline", argv);
                json_object_set_new(o, "attachable", json_boolean(t->refusal == AP_REFUSAL_NONE));
                json_object_set_new(o, "agent_serving", json_boolean(e->serving));
                json_object_set_new(o, "reason", jstr_or_null(ap_refusal_name(t->refusal)));
                if (ap_error_is_set(&e->error)) {
                        json_t *err = json_object();
                        json_object_set_new(err, "code", json_string(ap_code_name(e->error.code)));
                        json_object_set_new(err, "message",
                                            jstr_or_null(e->error.message ? e->error.message : ""));
                        json_object_set_new(err, "hint",
                                            jstr_or_null(e->error.hint ? e->error.hint : ""));
                        json_object_set_new(o, "error", err);
                } else {
                        json_object_set_new(o, "error", json_null());
                }
                json_array_append_new(a, o);
        }
        return a;
}

int ap_ps_print_json(const ap_ps_list *l, FILE *out) {
        ap_json_print_line(ap_ps_to_json(l), out);
        return 0;
}

const char *ap_ps_attach_text(const ap_ps_entry *e, char *buf, size_t size) {
        const ap_target *t = &e->target;
        if (t->refusal == AP_REFUSAL_NONE)
                snprintf(buf, size, e->serving ? "yes, agent serving" : "yes");
        else if (t->refusal == AP_REFUSAL_TRACED)
                snprintf(buf, size, "no: traced by %d", (int)t->tracer_pid);
        else
                snprintf(buf, size, "no: %s", ap_refusal_name(t->refusal));
        return buf;
}

static void python_text(const ap_ps_entry *e, char *buf, size_t size) {
        snprintf(buf, size, "%s %s", ap_impl_name(e->target.impl),
                 e->target.version ? e->target.version : "?");
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

int ap_ps_print_text(const ap_ps_list *l, FILE *out, int width) {
        size_t w_pid = strlen("PID"), w_user = strlen("USER"), w_py = strlen("PYTHON"),
               w_att = strlen("ATTACH");
        char buf[128];
        for (size_t i = 0; i < l->n; i++) {
                const ap_ps_entry *e = &l->v[i];
                w_pid = max_sz(w_pid, (size_t)snprintf(buf, sizeof buf, "%d", (int)e->target.pid));
                w_user = max_sz(w_user, strlen(e->user));
                python_text(e, buf, sizeof buf);
                w_py = max_sz(w_py, strlen(buf));
                w_att = max_sz(w_att, strlen(ap_ps_attach_text(e, buf, sizeof buf)));
        }
        for (size_t i = 0; i <= l->n; i++) {
                const ap_ps_entry *e = i ? &l->v[i - 1] : NULL;
                char pid[16], py[128], att[64];
                _cleanup_free_ char *cmd = NULL, *line = NULL;
                if (e) {
                        snprintf(pid, sizeof pid, "%d", (int)e->target.pid);
                        python_text(e, py, sizeof py);
                        ap_ps_attach_text(e, att, sizeof att);
                        cmd = ap_ps_cmdline_text(e->target.cmdline, e->target.cmdline_len,
                                                 e->target.comm);
                }
                int n = asprintf(&line, "%*s  %-*s  %-*s  %-*s  %s", (int)w_pid, e ? pid : "PID",
                                 (int)w_user, e ? e->user : "USER", (int)w_py, e ? py : "PYTHON",
                                 (int)w_att, e ? att : "ATTACH", e ? (cmd ? cmd : "?") : "COMMAND");
                if (n < 0)
                        continue;
                if (width > 0 && n > width)
                        line[width] = '\0';
                fprintf(out, "%s\n", line);
        }
        fflush(out);
        return 0;
}
