/* config.c: the YAML config file, read with libyaml's event parser.
 *
 * The file is one flat mapping of scalars, so its events are walked directly
 * rather than built into a document.  Every error names the path and the
 * 1-based line and column of the node at fault (libyaml's marks are 0-based).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "util.h"

#define CONFIG_MAX_BYTES (64u * 1024)
#define KEYS_HINT "valid keys: debugger (gdb, lldb or auto) and timeout (seconds)"
#define SYNTAX_HINT "the file must be a YAML mapping, such as 'debugger: gdb' and 'timeout: 30'"

typedef enum config_key {
        KEY_DEBUGGER,
        KEY_TIMEOUT,
        KEY_COUNT_,
} config_key;

static const char *const key_names[KEY_COUNT_] = {
        [KEY_DEBUGGER] = "debugger",
        [KEY_TIMEOUT] = "timeout",
};

typedef struct loader {
        const char *path;
        const char *data;
        size_t len;
        yaml_parser_t parser;
        yaml_event_t event; /* the current event, owned */
        ap_config cfg;
        ap_error *err;
} loader;

static int fail_at(loader *l, size_t line, size_t column, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* Set a usage error "PATH:LINE:COL: MESSAGE"; line and column are 0-based. */
static int fail_at(loader *l, size_t line, size_t column, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *message = NULL;
        int n = vasprintf(&message, fmt, ap);
        va_end(ap);
        if (n < 0)
                return ap_error_set(l->err, AP_ERR_USAGE, "%s: out of memory", l->path);
        ap_error_set(l->err, AP_ERR_USAGE, "%s:%zu:%zu: %s", l->path, line + 1, column + 1,
                     message);
        free(message);
        return -1;
}

#define fail_at_mark(l, mark, ...) fail_at((l), (mark).line, (mark).column, __VA_ARGS__)

/* A scalar as it may appear in a message: at most 60 bytes, control bytes
 * (a file may hold anything) shown as '?'. */
static const char *printable(const yaml_event_t *ev, char buf[static 64]) {
        const unsigned char *s = ev->data.scalar.value;
        size_t len = ev->data.scalar.length;
        size_t max = 60;
        bool cut = len > max;
        if (cut)
                while (max > 0 && (s[max] & 0xC0) == 0x80) /* not inside a UTF-8 sequence */
                        max--;
        size_t n = cut ? max : len;
        for (size_t i = 0; i < n; i++)
                buf[i] = s[i] < 0x20 || s[i] == 0x7f ? '?' : (char)s[i];
        strcpy(buf + n, cut ? "..." : "");
        return buf;
}

/* The scalar's text, or NULL when it holds a NUL byte and so can be no
 * valid name or number. */
static const char *scalar_text(const yaml_event_t *ev) {
        const char *s = (const char *)ev->data.scalar.value;
        return strlen(s) == ev->data.scalar.length ? s : NULL;
}

static bool is_empty_plain(const yaml_event_t *ev) {
        return ev->type == YAML_SCALAR_EVENT && ev->data.scalar.length == 0 &&
               ev->data.scalar.plain_implicit;
}

/* Line and column of a byte offset (reader errors carry no mark). */
static void offset_to_mark(const char *data, size_t len, size_t offset, size_t *line,
                           size_t *column) {
        *line = *column = 0;
        for (size_t i = 0; i < offset && i < len; i++) {
                if (data[i] == '\n') {
                        (*line)++;
                        *column = 0;
                } else
                        (*column)++;
        }
}

static int syntax_error(loader *l) {
        const yaml_parser_t *p = &l->parser;
        if (p->error == YAML_MEMORY_ERROR)
                return ap_error_set(l->err, AP_ERR_USAGE, "%s: out of memory", l->path);

        const char *problem = p->problem ? p->problem : "invalid YAML";
        if (p->error == YAML_READER_ERROR) {
                size_t line, column;
                offset_to_mark(l->data, l->len, p->problem_offset, &line, &column);
                if (p->problem_value >= 0)
                        fail_at(l, line, column, "%s (byte 0x%02X)", problem,
                                (unsigned)p->problem_value);
                else
                        fail_at(l, line, column, "%s", problem);
                ap_error_hint(l->err, "the file must be UTF-8 text without control characters");
                return -1;
        }

        fail_at_mark(l, p->problem_mark, "%s", problem);
        if (p->context)
                ap_error_hint(l->err, "%s at %zu:%zu; " SYNTAX_HINT, p->context,
                              p->context_mark.line + 1, p->context_mark.column + 1);
        else
                ap_error_hint(l->err, SYNTAX_HINT);
        return -1;
}

static int next_event(loader *l) {
        yaml_event_delete(&l->event);
        if (!yaml_parser_parse(&l->parser, &l->event))
                return syntax_error(l);
        return 0;
}

static const char *event_kind(yaml_event_type_t type) {
        switch (type) {
        case YAML_SEQUENCE_START_EVENT:
                return "a list";
        case YAML_MAPPING_START_EVENT:
                return "a mapping";
        case YAML_ALIAS_EVENT:
                return "an alias";
        case YAML_SCALAR_EVENT:
                return "a scalar";
        default:
                return "a value";
        }
}

static const char *const value_hints[KEY_COUNT_] = {
        [KEY_DEBUGGER] = "write 'debugger: gdb', 'lldb' or 'auto' (auto: gdb if it is on PATH, "
                         "else lldb)",
        [KEY_TIMEOUT] = "write 'timeout: SECONDS', a number greater than 0 and at most 86400, "
                        "such as 30 or 2.5",
};

/* The value event of key. */
static int set_value(loader *l, config_key key) {
        const yaml_event_t *ev = &l->event;
        const char *name = key_names[key];
        const char *text = ev->type == YAML_SCALAR_EVENT ? scalar_text(ev) : NULL;
        char shown[64];

        if (ev->type == YAML_ALIAS_EVENT)
                fail_at_mark(l, ev->start_mark, "'%s' may not be an alias", name);
        else if (ev->type != YAML_SCALAR_EVENT)
                fail_at_mark(l, ev->start_mark, "'%s' takes a single value, not %s", name,
                             event_kind(ev->type));
        else if (is_empty_plain(ev))
                fail_at_mark(l, ev->start_mark, "'%s' needs a value", name);
        else if (key == KEY_DEBUGGER && ap_debugger_from_name(text, &l->cfg.debugger) < 0)
                fail_at_mark(l, ev->start_mark, "unknown debugger '%s': use gdb, lldb or auto",
                             printable(ev, shown));
        else if (key == KEY_TIMEOUT && ap_timeout_from_text(text, &l->cfg.timeout_s) < 0)
                fail_at_mark(l, ev->start_mark, "invalid timeout '%s'", printable(ev, shown));
        else {
                if (key == KEY_DEBUGGER)
                        l->cfg.has_debugger = true;
                else
                        l->cfg.has_timeout = true;
                return 0;
        }
        ap_error_hint(l->err, "%s", value_hints[key]);
        return -1;
}

/* The events of the top-level mapping, after its MAPPING-START. */
static int walk_mapping(loader *l) {
        bool seen[KEY_COUNT_] = {false};
        char shown[64];

        for (;;) {
                if (next_event(l) < 0)
                        return -1;
                const yaml_event_t *ev = &l->event;
                if (ev->type == YAML_MAPPING_END_EVENT)
                        return 0;
                if (ev->type != YAML_SCALAR_EVENT) {
                        fail_at_mark(l, ev->start_mark, "a key must be a name, not %s",
                                     event_kind(ev->type));
                        ap_error_hint(l->err, KEYS_HINT);
                        return -1;
                }

                const char *text = scalar_text(ev);
                config_key key = KEY_COUNT_;
                for (size_t k = 0; k < KEY_COUNT_; k++)
                        if (text && strcmp(text, key_names[k]) == 0)
                                key = (config_key)k;
                if (key == KEY_COUNT_) {
                        fail_at_mark(l, ev->start_mark, "unknown key '%s'", printable(ev, shown));
                        ap_error_hint(l->err, KEYS_HINT);
                        return -1;
                }
                if (seen[key]) {
                        fail_at_mark(l, ev->start_mark, "duplicate key '%s'", key_names[key]);
                        ap_error_hint(l->err, "give each key once");
                        return -1;
                }
                seen[key] = true;

                if (next_event(l) < 0 || set_value(l, key) < 0)
                        return -1;
        }
}

/* STREAM-START, at most one document holding a mapping (or nothing), STREAM-END. */
static int walk_stream(loader *l) {
        if (next_event(l) < 0) /* STREAM-START */
                return -1;
        if (next_event(l) < 0)
                return -1;
        if (l->event.type == YAML_STREAM_END_EVENT) /* empty or comments only */
                return 0;

        if (next_event(l) < 0) /* the document's root node */
                return -1;
        const yaml_event_t *ev = &l->event;
        if (ev->type == YAML_MAPPING_START_EVENT) {
                if (walk_mapping(l) < 0)
                        return -1;
        } else if (!is_empty_plain(ev)) { /* "---" alone is an empty document */
                fail_at_mark(l, ev->start_mark, "the top level must be a mapping, not %s",
                             event_kind(ev->type));
                ap_error_hint(l->err, SYNTAX_HINT);
                return -1;
        }

        if (next_event(l) < 0) /* DOCUMENT-END */
                return -1;
        if (next_event(l) < 0)
                return -1;
        if (l->event.type != YAML_STREAM_END_EVENT) {
                fail_at_mark(l, l->event.start_mark, "only one YAML document is allowed");
                ap_error_hint(l->err, "remove the second '---' and what follows it");
                return -1;
        }
        return 0;
}

static int check_syntax(loader *l) {
        do
                if (next_event(l) < 0)
                        return -1;
        while (l->event.type != YAML_STREAM_END_EVENT);
        return 0;
}

static int run_pass(loader *l, int (*pass)(loader *l)) {
        if (!yaml_parser_initialize(&l->parser))
                return ap_error_set(l->err, AP_ERR_USAGE, "%s: out of memory", l->path);
        yaml_parser_set_input_string(&l->parser, (const unsigned char *)l->data, l->len);
        int r = pass(l);
        yaml_event_delete(&l->event);
        yaml_parser_delete(&l->parser);
        return r;
}

static int read_error(const char *path, int errnum, ap_error *err) {
        if (errnum == EFBIG) {
                ap_error_set(err, AP_ERR_USAGE, "%s: config file is larger than %u KiB", path,
                             CONFIG_MAX_BYTES / 1024);
                ap_error_hint(err, "a config file holds two short keys; check that this is the "
                                   "right file");
                return -1;
        }
        ap_error_set(err, AP_ERR_USAGE, "cannot read config file %s: %s", path, strerror(errnum));
        if (errnum == ENOENT)
                ap_error_hint(err, "check the path given with --config");
        else if (errnum == EACCES)
                ap_error_hint(err, "check the file's permissions");
        else
                ap_error_hint(err, "the config file must be a readable YAML file");
        return -1;
}

int ap_config_load(ap_config *cfg, const char *path, bool missing_ok, ap_error *err) {
        if (!path) {
                if (missing_ok) {
                        *cfg = (ap_config){0};
                        return 0;
                }
                return ap_error_set(err, AP_ERR_USAGE, "no config file given");
        }

        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        if (ap_read_file(path, CONFIG_MAX_BYTES, &data, &len) < 0) {
                int e = errno;
                struct stat st;
                /* The default path not reachable (it does not exist, or a
                 * directory on the way is not this user's to search: root's
                 * HOME under sudo -u) is no config file at all. */
                if (missing_ok &&
                    (e == ENOENT || e == ENOTDIR || (e == EACCES && stat(path, &st) < 0))) {
                        *cfg = (ap_config){0};
                        return 0;
                }
                return read_error(path, e, err);
        }

        loader l = {.path = path, .data = data, .len = len, .err = err};
        /* Syntax first: a badly indented line otherwise shows up as a strange
         * value ("gdb timeout") before libyaml reaches the real problem. */
        int r = run_pass(&l, check_syntax);
        if (r == 0)
                r = run_pass(&l, walk_stream);
        if (r < 0)
                return -1;
        *cfg = l.cfg;
        return 0;
}

char *ap_config_default_path(void) {
        const char *xdg = getenv("XDG_CONFIG_HOME");
        char *path = NULL;
        int r;
        if (xdg && xdg[0] == '/')
                r = asprintf(&path, "%s/attachpy/config.yaml", xdg);
        else {
                const char *home = getenv("HOME");
                if (!home || home[0] != '/')
                        return NULL;
                r = asprintf(&path, "%s/.config/attachpy/config.yaml", home);
        }
        return r < 0 ? NULL : path;
}

void ap_options_apply_config(ap_options *opts, const ap_config *cfg) {
        if (!opts)
                return;
        if (!opts->debugger_set)
                opts->debugger = cfg && cfg->has_debugger ? cfg->debugger : AP_DEBUGGER_AUTO;
        if (!opts->timeout_set)
                opts->timeout_s = cfg && cfg->has_timeout ? cfg->timeout_s : AP_DEFAULT_TIMEOUT_S;
}
