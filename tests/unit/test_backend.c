/* test_backend.c: what the backends share (the injection plan, script
 * values, the parked-thread condition, the debugger's environment and
 * selection) and the gdb backend's argv and generated blocks, down to the
 * bytes its page writes put into the target. */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "build-config.h"
#include "template.h"
#include "util.h"

/* ---- fixtures ------------------------------------------------------------- */

static ap_target fake_target(void) {
        ap_target t;
        memset(&t, 0, sizeof t);
        t.pid = 4242;
        t.addr_mmap = 0x7f0000101000;
        t.addr_munmap = 0x7f0000102000;
        t.addr_dlopen = 0x7f0000103abc;
        t.addr_dlsym = 0x7f0000104def;
        t.addr_dlerror = 0x7f0000105000;
        t.addr_add_pending_call = 0x7f1000001000;
        t.addr_nudge = 0x7f1000002000;
        static const uint64_t sp[] = {0x7f1000002000, 0x7f1000003010, 0x7f1000004020,
                                      0x7f1000005030, 0x7f10000060f0};
        memcpy(t.safepoints, sp, sizeof sp);
        t.n_safepoints = AP_ARRAY_SIZE(sp);
        return t;
}

#define AGENT "/usr/lib/x86_64-linux-gnu/attachpy/attachpy-agent.so"
#define SESSION "/tmp/attachpy-Xy12Ab"

static const char *value_of(const ap_script_values *v, const char *name) {
        const char *found = NULL;
        for (size_t i = 0; i < v->n; i++)
                if (strcmp(v->vars[i].name, name) == 0) {
                        ck_assert_msg(!found, "value '%s' given twice", name);
                        found = v->vars[i].value;
                }
        ck_assert_msg(found, "no value '%s'", name);
        return found;
}

/* The source tree: ATTACHPY_SOURCE_ROOT (meson sets it), else two levels
 * above this file (__FILE__ is relative to where it was compiled), else the
 * tree the build was configured from. */
static char *source_root(void) {
        const char *env = getenv("ATTACHPY_SOURCE_ROOT");
        if (env && *env)
                return strdup(env);
        char *file = strdup(__FILE__);
        char *path = NULL;
        ck_assert_int_ge(asprintf(&path, "%s/../..", dirname(file)), 0);
        free(file);
        char *probe = NULL;
        ck_assert_int_ge(asprintf(&probe, "%s/gdbscripts/inject.gdb", path), 0);
        bool found = access(probe, R_OK) == 0;
        free(probe);
        if (found)
                return path;
        free(path);
        return strdup(AP_SOURCE_ROOT);
}

/* ---- the parked condition ------------------------------------------------- */

/* Parse "(R == a || R == b ...)" at *p into numbers; advance *p. */
static size_t parse_clause(const char **p, const char *reg, long *nums, size_t max) {
        ck_assert_int_eq(**p, '(');
        (*p)++;
        size_t n = 0;
        for (;;) {
                size_t rl = strlen(reg);
                ck_assert_msg(strncmp(*p, reg, rl) == 0, "expected %s at: %.40s", reg, *p);
                *p += rl;
                ck_assert_msg(strncmp(*p, " == ", 4) == 0, "expected ' == ' at: %.40s", *p);
                *p += 4;
                char *end;
                errno = 0;
                long v = strtol(*p, &end, 10);
                ck_assert(end != *p && errno == 0);
                ck_assert_uint_lt(n, max);
                nums[n++] = v;
                *p = end;
                if (strncmp(*p, " || ", 4) == 0) {
                        *p += 4;
                        continue;
                }
                ck_assert_int_eq(**p, ')');
                (*p)++;
                return n;
        }
}

static bool contains(const long *v, size_t n, long x) {
        for (size_t i = 0; i < n; i++)
                if (v[i] == x)
                        return true;
        return false;
}

/* The blocking system calls a parked thread may sit in (backend.c), by their
 * names in the kernel's own table. */
static const long parked_calls[] = {
        SYS_read,          SYS_poll,         SYS_readv,          SYS_select,
        SYS_pause,         SYS_nanosleep,    SYS_accept,         SYS_recvfrom,
        SYS_recvmsg,       SYS_wait4,        SYS_rt_sigsuspend,  SYS_rt_sigtimedwait,
        SYS_epoll_wait,    SYS_waitid,       SYS_clock_nanosleep, SYS_pselect6,
        SYS_ppoll,         SYS_epoll_pwait,  SYS_accept4,        SYS_recvmmsg,
        441 /* SYS_epoll_pwait2, newer than some headers */,
};

static void check_parked(const char *cond, const char *ret_reg, const char *nr_reg) {
        const char *p = cond;
        long rets[16], nrs[64];
        size_t n_rets = parse_clause(&p, ret_reg, rets, 16);
        ck_assert_msg(strncmp(p, " && ", 4) == 0, "expected ' && ' at: %.40s", p);
        p += 4;
        size_t n_nrs = parse_clause(&p, nr_reg, nrs, 64);
        ck_assert_msg(*p == '\0', "trailing text: %s", p);

        /* -ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND,
         * -ERESTART_RESTARTBLOCK, -EINTR: nothing else. */
        static const long want_rets[] = {-512, -513, -514, -516, -EINTR};
        ck_assert_uint_eq(n_rets, AP_ARRAY_SIZE(want_rets));
        for (size_t i = 0; i < AP_ARRAY_SIZE(want_rets); i++)
                ck_assert_msg(contains(rets, n_rets, want_rets[i]), "%ld missing", want_rets[i]);

        ck_assert_uint_eq(n_nrs, AP_ARRAY_SIZE(parked_calls));
        for (size_t i = 0; i < AP_ARRAY_SIZE(parked_calls); i++)
                ck_assert_msg(contains(nrs, n_nrs, parked_calls[i]), "system call %ld missing",
                              parked_calls[i]);
        /* A thread waiting for a lock may hold another: futex is never a
         * safe place, nor are calls that may take loader or libc locks. */
        ck_assert(!contains(nrs, n_nrs, SYS_futex));
        ck_assert(!contains(nrs, n_nrs, SYS_mmap));
        ck_assert(!contains(nrs, n_nrs, SYS_openat));
        ck_assert(!contains(nrs, n_nrs, SYS_write));
        for (size_t i = 0; i < n_nrs; i++)
                for (size_t j = i + 1; j < n_nrs; j++)
                        ck_assert_msg(nrs[i] != nrs[j], "system call %ld listed twice", nrs[i]);
}

START_TEST(test_parked_condition) {
        char *c = ap_parked_condition(AP_PARKED_WAITS, "$rax", "$orig_rax");
        ck_assert_ptr_nonnull(c);
        check_parked(c, "$rax", "$orig_rax");
        ck_assert_ptr_null(strstr(c, "== 202")); /* futex is not a parked wait */
        ck_assert(ap_template_value_ok(c));
        /* The front, exactly as gdb reads it. */
        ck_assert_msg(strncmp(c, "($rax == -512 || $rax == -513 || ", 33) == 0, "%s", c);
        free(c);
}
END_TEST

START_TEST(test_parked_condition_other_registers) {
        char *c = ap_parked_condition(AP_PARKED_WAITS, "$x0", "$x8");
        ck_assert_ptr_nonnull(c);
        check_parked(c, "$x0", "$x8");
        ck_assert_ptr_null(strstr(c, "rax"));
        free(c);
}
END_TEST

START_TEST(test_futex_condition) {
        char *c = ap_parked_condition(AP_PARKED_FUTEX, "$rax", "$orig_rax");
        ck_assert_ptr_nonnull(c);
        ck_assert_str_eq(c, "($rax == -512 || $rax == -513 || $rax == -514 || $rax == -516 || "
                            "$rax == -4) && ($orig_rax == 202)");
        free(c);
}
END_TEST

/* ---- the plan and the common values -------------------------------------- */

START_TEST(test_plan_page_layout) {
        ap_target t = fake_target();
        ap_injection_plan plan;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_injection_plan_init(&plan, &t, AGENT, SESSION, &err), 0);
        ck_assert_ptr_eq(plan.target, &t);
        unsigned char want[AP_PAGE_SIZE] = {0};
        memcpy(want + AP_PAGE_OFFSET_AGENT, AGENT, strlen(AGENT));
        memcpy(want + AP_PAGE_OFFSET_SYMBOL, "attachpy_agent_start_v1", 23);
        memcpy(want + AP_PAGE_OFFSET_SESSION, SESSION, strlen(SESSION));
        ck_assert(memcmp(plan.page, want, AP_PAGE_SIZE) == 0);
        /* The three strings are C strings in the target. */
        ck_assert_str_eq((const char *)plan.page + AP_PAGE_OFFSET_AGENT, AGENT);
        ck_assert_str_eq((const char *)plan.page + AP_PAGE_OFFSET_SYMBOL, AP_AGENT_ENTRY_SYMBOL);
        ck_assert_str_eq((const char *)plan.page + AP_PAGE_OFFSET_SESSION, SESSION);
}
END_TEST

static char *string_of(size_t len, char c) {
        char *s = malloc(len + 1);
        ck_assert_ptr_nonnull(s);
        memset(s, c, len);
        s[0] = '/';
        s[len] = '\0';
        return s;
}

START_TEST(test_plan_length_limits) {
        ap_target t = fake_target();
        ap_injection_plan plan;
        ap_error err = AP_ERROR_INIT;
        const size_t max_agent = AP_PAGE_OFFSET_SYMBOL - AP_PAGE_OFFSET_AGENT - 1;
        const size_t max_session = AP_PAGE_SIZE - AP_PAGE_OFFSET_SESSION - 1;

        char *a = string_of(max_agent, 'a'), *s = string_of(max_session, 's');
        ck_assert_int_eq(ap_injection_plan_init(&plan, &t, a, s, &err), 0);
        ck_assert_str_eq((const char *)plan.page + AP_PAGE_OFFSET_AGENT, a); /* NUL kept */
        ck_assert_str_eq((const char *)plan.page + AP_PAGE_OFFSET_SYMBOL, AP_AGENT_ENTRY_SYMBOL);
        ck_assert_int_eq(plan.page[AP_PAGE_SIZE - 1], 0);
        free(a);
        free(s);

        a = string_of(max_agent + 1, 'a');
        ck_assert_int_eq(ap_injection_plan_init(&plan, &t, a, SESSION, &err), -1);
        ck_assert_int_eq(err.code, AP_ERR_INJECTION_FAILED);
        ck_assert_msg(strstr(err.message, "too long"), "%s", err.message);
        ap_error_clear(&err);
        free(a);

        s = string_of(max_session + 1, 's');
        ck_assert_int_eq(ap_injection_plan_init(&plan, &t, AGENT, s, &err), -1);
        ck_assert_int_eq(err.code, AP_ERR_INJECTION_FAILED);
        ap_error_clear(&err);
        free(s);
}
END_TEST

START_TEST(test_values_common) {
        ap_target t = fake_target();
        ap_injection_plan plan;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_injection_plan_init(&plan, &t, AGENT, SESSION, &err), 0);
        ap_script_values v = {0};
        ck_assert_int_eq(ap_script_values_common(&v, &plan), 0);
        static const struct {
                const char *name, *value;
        } want[] = {
                {"pid", "4242"},
                {"addr_mmap", "0x7f0000101000"},
                {"addr_munmap", "0x7f0000102000"},
                {"addr_dlopen", "0x7f0000103abc"},
                {"addr_dlsym", "0x7f0000104def"},
                {"addr_dlerror", "0x7f0000105000"},
                {"addr_add_pending_call", "0x7f1000001000"},
                {"addr_nudge", "0x7f1000002000"},
                {"page_size", "4096"},
                {"offset_agent", "0"},
                {"offset_symbol", "2048"},
                {"offset_session", "2304"},
        };
        ck_assert_uint_eq(v.n, AP_ARRAY_SIZE(want));
        for (size_t i = 0; i < AP_ARRAY_SIZE(want); i++) {
                ck_assert_str_eq(value_of(&v, want[i].name), want[i].value);
                ck_assert(ap_template_value_ok(want[i].value));
        }
        /* Values the session path must never reach: only numbers here. */
        for (size_t i = 0; i < v.n; i++)
                ck_assert_ptr_null(strstr(v.vars[i].value, "/tmp"));
        ap_script_values_free(&v);
        ck_assert_uint_eq(v.n, 0);
        ap_script_values_free(&v);
        ap_script_values_free(NULL);
}
END_TEST

START_TEST(test_values_limit) {
        ap_script_values v = {0};
        for (int i = 0; i < AP_MAX_SCRIPT_VALUES; i++)
                ck_assert_int_eq(ap_script_values_add(&v, "n", "%d", i), 0);
        ck_assert_int_eq(ap_script_values_add(&v, "over", "%d", 1), -1);
        ck_assert_uint_eq(v.n, AP_MAX_SCRIPT_VALUES);
        ck_assert_str_eq(v.vars[AP_MAX_SCRIPT_VALUES - 1].value, "31");
        ap_script_values_free(&v);
}
END_TEST

/* ---- gdb ------------------------------------------------------------------ */

START_TEST(test_gdb_table) {
        ck_assert_str_eq(ap_backend_gdb.name, "gdb");
        ck_assert_str_eq(ap_backend_gdb.script_dir, "gdbscripts");
        ck_assert_str_eq(ap_backend_gdb.script_file, "inject.gdb");
        ck_assert_ptr_nonnull(ap_backend_gdb.package);
        ck_assert_ptr_nonnull(ap_backend_gdb.patterns);
        /* The pattern table is terminated and every message has at most one
         * %d and no other conversion. */
        size_t n = 0;
        for (const ap_debugger_pattern *p = ap_backend_gdb.patterns; p->needle; p++, n++) {
                ck_assert(p->code != AP_OK);
                ck_assert_ptr_nonnull(p->message);
                const char *pc = strchr(p->message, '%');
                if (pc) {
                        ck_assert_msg(pc[1] == 'd', "pattern message: %s", p->message);
                        ck_assert_msg(!strchr(pc + 2, '%'), "pattern message: %s", p->message);
                }
        }
        ck_assert_uint_gt(n, 3);
}
END_TEST

START_TEST(test_gdb_argv) {
        char **argv = ap_backend_gdb.argv("/usr/bin/gdb", SESSION "/inject.gdb");
        ck_assert_ptr_nonnull(argv);
        size_t n = 0;
        while (argv[n])
                n++;
        ck_assert_uint_ge(n, 4);
        ck_assert_str_eq(argv[0], "/usr/bin/gdb");
        /* The script comes last, after -x. */
        ck_assert_str_eq(argv[n - 1], SESSION "/inject.gdb");
        ck_assert_str_eq(argv[n - 2], "-x");
        bool nx = false, batch = false, readnever = false, nh = false;
        for (size_t i = 1; i < n; i++) {
                nx |= strcmp(argv[i], "-nx") == 0;
                nh |= strcmp(argv[i], "-nh") == 0;
                batch |= strcmp(argv[i], "-batch") == 0;
                readnever |= strcmp(argv[i], "--readnever") == 0;
                /* No word that would give gdb a target or a program. */
                ck_assert_msg(strcmp(argv[i], "-p") != 0 && strcmp(argv[i], "--pid") != 0 &&
                                      strcmp(argv[i], "--args") != 0,
                              "unexpected %s", argv[i]);
        }
        ck_assert_msg(nx, "-nx missing: gdb would read ~/.gdbinit");
        ck_assert_msg(nh, "-nh missing");
        ck_assert_msg(batch, "-batch missing: gdb would wait for input");
        ck_assert_msg(readnever, "--readnever missing: gdb would read debug info");
        ap_strv_free(argv);
        ap_strv_free(NULL);
}
END_TEST

typedef struct gdb_values {
        ap_target t;
        ap_injection_plan plan;
        ap_script_values v;
} gdb_values;

static void make_gdb_values(gdb_values *g, const char *agent, const char *session) {
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_injection_plan_init(&g->plan, &g->t, agent, session, &err), 0);
        memset(&g->v, 0, sizeof g->v);
        ck_assert_int_eq(ap_backend_gdb.values(&g->v, &g->plan), 0);
}

START_TEST(test_gdb_values_names) {
        gdb_values g = {.t = fake_target()};
        make_gdb_values(&g, AGENT, SESSION);
        ck_assert_uint_eq(g.v.n, 5);
        ck_assert_ptr_nonnull(strstr(value_of(&g.v, "futex_condition"), "$orig_rax == 202"));
        value_of(&g.v, "break_commands");
        value_of(&g.v, "safepoint_condition");
        value_of(&g.v, "page_writes");
        check_parked(value_of(&g.v, "parked_condition"), "$rax", "$orig_rax");
        for (size_t i = 0; i < g.v.n; i++)
                ck_assert_msg(ap_template_value_ok(g.v.vars[i].value), "%s is not template-safe",
                              g.v.vars[i].name);
        ap_script_values_free(&g.v);
}
END_TEST

START_TEST(test_gdb_break_commands) {
        gdb_values g = {.t = fake_target()};
        make_gdb_values(&g, AGENT, SESSION);
        const char *b = value_of(&g.v, "break_commands");
        size_t k = 0;
        for (const char *line = b; line && *line; k++) {
                const char *eol = strchr(line, '\n');
                size_t len = eol ? (size_t)(eol - line) : strlen(line);
                ck_assert_uint_lt(k, g.t.n_safepoints);
                char want[64];
                snprintf(want, sizeof want, "break *0x%" PRIx64, g.t.safepoints[k]);
                /* One breakpoint per line, indented as the script's block. */
                const char *s = line;
                while (*s == ' ')
                        s++;
                ck_assert_msg((size_t)(line + len - s) == strlen(want) && strncmp(s, want, strlen(want)) == 0,
                              "line %zu: '%.*s', want '%s'", k, (int)len, line, want);
                line = eol ? eol + 1 : NULL;
        }
        ck_assert_uint_eq(k, g.t.n_safepoints);

        char want_cond[512] = "(";
        for (size_t i = 0; i < g.t.n_safepoints; i++) {
                char part[64];
                snprintf(part, sizeof part, "%s$pc == 0x%" PRIx64, i ? " || " : "",
                         g.t.safepoints[i]);
                strcat(want_cond, part);
        }
        strcat(want_cond, ")");
        ck_assert_str_eq(value_of(&g.v, "safepoint_condition"), want_cond);
        ap_script_values_free(&g.v);
}
END_TEST

START_TEST(test_gdb_no_safepoints) {
        gdb_values g = {.t = fake_target()};
        g.t.n_safepoints = 0;
        make_gdb_values(&g, AGENT, SESSION);
        const char *b = value_of(&g.v, "break_commands");
        ck_assert_ptr_null(strstr(b, "break"));
        /* Still a valid gdb line (a comment), never empty. */
        ck_assert_msg(strchr(b, '#'), "break_commands: '%s'", b);
        ck_assert_str_eq(value_of(&g.v, "safepoint_condition"), "0");
        ap_script_values_free(&g.v);
}
END_TEST

/* Decode page_writes back into a page, as gdb would write it. */
static void apply_page_writes(const char *writes, unsigned char *page) {
        memset(page, 0, AP_PAGE_SIZE);
        bool written[AP_PAGE_SIZE / 8] = {false};
        size_t lines = 0;
        for (const char *line = writes; line && *line; lines++) {
                size_t off;
                unsigned long long w;
                int used = 0;
                int k = sscanf(line, "set *(unsigned long *) ($attachpy_page + %zu) = 0x%llx%n", &off,
                               &w, &used);
                ck_assert_msg(k == 2, "cannot read page write: %.80s", line);
                ck_assert_msg(line[used] == '\n' || line[used] == '\0', "trailing text: %.80s",
                              line);
                ck_assert_msg(off % 8 == 0 && off + 8 <= AP_PAGE_SIZE, "offset %zu", off);
                ck_assert_msg(!written[off / 8], "offset %zu written twice", off);
                ck_assert_msg(w != 0, "a zero word is written at %zu (the page starts zeroed)",
                              off);
                written[off / 8] = true;
                for (int b = 0; b < 8; b++) /* unsigned long on x86_64: little-endian */
                        page[off + (size_t)b] = (unsigned char)(w >> (8 * b));
                const char *eol = strchr(line, '\n');
                line = eol ? eol + 1 : NULL;
        }
        ck_assert_uint_gt(lines, 0);
}

START_TEST(test_gdb_page_writes) {
        gdb_values g = {.t = fake_target()};
        make_gdb_values(&g, AGENT, SESSION);
        unsigned char page[AP_PAGE_SIZE];
        apply_page_writes(value_of(&g.v, "page_writes"), page);
        ck_assert_msg(memcmp(page, g.plan.page, AP_PAGE_SIZE) == 0,
                      "the page writes do not reproduce the plan's page");
        ck_assert_str_eq((const char *)page + AP_PAGE_OFFSET_SESSION, SESSION);
        ap_script_values_free(&g.v);
}
END_TEST

START_TEST(test_gdb_page_writes_odd_lengths) {
        /* Every string length modulo 8, and strings with bytes >= 0x80 (the
         * top bit of a word must not be sign-extended). */
        for (size_t len = 1; len <= 24; len++) {
                char agent[64], session[64];
                memset(agent, 'A', sizeof agent);
                memset(session, 0, sizeof session);
                agent[0] = '/';
                agent[len] = '\0';
                snprintf(session, sizeof session, "/tmp/\xc3\xa9%.*s", (int)len, "0123456789abcdefghijklmnop");
                gdb_values g = {.t = fake_target()};
                make_gdb_values(&g, agent, session);
                unsigned char page[AP_PAGE_SIZE];
                apply_page_writes(value_of(&g.v, "page_writes"), page);
                ck_assert_msg(memcmp(page, g.plan.page, AP_PAGE_SIZE) == 0, "length %zu", len);
                ap_script_values_free(&g.v);
        }
}
END_TEST

START_TEST(test_gdb_renders_real_script) {
        /* The installed template and the backend agree: every placeholder has
         * a value, every value is used, every marker the classifier reads is
         * printed. */
        char *root = source_root();
        char *path = NULL;
        ck_assert_int_ge(asprintf(&path, "%s/gdbscripts/inject.gdb", root), 0);
        char *text = NULL;
        int r = ap_read_file(path, 1024 * 1024, &text, NULL);
        ck_assert_msg(r == 0, "cannot read %s (set ATTACHPY_SOURCE_ROOT): %s", path,
                      strerror(errno));
        gdb_values g = {.t = fake_target()};
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_injection_plan_init(&g.plan, &g.t, AGENT, SESSION, &err), 0);
        ck_assert_int_eq(ap_script_values_common(&g.v, &g.plan), 0);
        ck_assert_int_eq(ap_backend_gdb.values(&g.v, &g.plan), 0);
        char *script = NULL;
        r = ap_template_render(text, g.v.vars, g.v.n, &script, &err);
        ck_assert_msg(r == 0, "render: %s", err.message ? err.message : "");
        ck_assert_ptr_null(strstr(script, "{{"));
        ck_assert_ptr_null(strstr(script, "}}"));
        ck_assert_ptr_nonnull(strstr(script, "\nattach 4242\n"));
        ck_assert_ptr_nonnull(strstr(script, "break *0x7f10000060f0"));
        ck_assert_ptr_nonnull(strstr(script, "0x7f0000103abc"));
        /* The session path travels only as page bytes, never as text. */
        ck_assert_ptr_null(strstr(script, SESSION));
        ck_assert_ptr_null(strstr(script, AGENT));
        static const char *const markers[] = {
                "@@ATTACHPY:attached\\n",        "@@ATTACHPY:safepoint parked %d\\n",
                "@@ATTACHPY:waiting %d\\n",      "@@ATTACHPY:interrupted\\n",
                "@@ATTACHPY:safepoint breakpoint %d\\n", "@@ATTACHPY:mmap-failed\\n",
                "@@ATTACHPY:dlopen-failed %s\\n", "@@ATTACHPY:dlsym-failed\\n",
                "@@ATTACHPY:started %d\\n",      "@@ATTACHPY:detached\\n",
        };
        for (size_t i = 0; i < AP_ARRAY_SIZE(markers); i++)
                ck_assert_msg(strstr(script, markers[i]), "marker %s not printed by the script",
                              markers[i]);
        free(script);
        ap_script_values_free(&g.v);
        free(text);
        free(path);
        free(root);
}
END_TEST

/* ---- environment and selection --------------------------------------------- */

/* The variables these tests change, restored after each (also after a
 * failure: this runs as a checked fixture). */
static const char *const touched_vars[] = {
        "PATH",        "LC_ALL",        "LANG",            "LANGUAGE",    "PYTHONPATH",
        "PYTHONHOME",  "PYTHONSTARTUP", "DEBUGINFOD_URLS", "GDBHISTFILE", "PYTHONPATHX",
        "ATTACHPY_TEST_KEEP", "SHELL",
};
static char *saved_vars[AP_ARRAY_SIZE(touched_vars)];

static void save_env(void) {
        for (size_t i = 0; i < AP_ARRAY_SIZE(touched_vars); i++) {
                const char *v = getenv(touched_vars[i]);
                saved_vars[i] = v ? strdup(v) : NULL;
        }
}

static void restore_env(void) {
        for (size_t i = 0; i < AP_ARRAY_SIZE(touched_vars); i++) {
                if (saved_vars[i])
                        setenv(touched_vars[i], saved_vars[i], 1);
                else
                        unsetenv(touched_vars[i]);
                free(saved_vars[i]);
                saved_vars[i] = NULL;
        }
}

static size_t count_prefix(char **env, const char *prefix) {
        size_t n = 0;
        for (char **e = env; *e; e++)
                n += strncmp(*e, prefix, strlen(prefix)) == 0;
        return n;
}

START_TEST(test_debugger_environ) {
        setenv("LC_ALL", "de_DE.UTF-8", 1);
        setenv("LANG", "fr_FR.UTF-8", 1);
        setenv("LANGUAGE", "fr", 1);
        setenv("PYTHONPATH", "/evil", 1);
        setenv("PYTHONHOME", "/evil", 1);
        setenv("PYTHONSTARTUP", "/evil.py", 1);
        setenv("DEBUGINFOD_URLS", "https://debuginfod.example", 1);
        setenv("GDBHISTFILE", "/tmp/h", 1);
        setenv("PYTHONPATHX", "kept", 1); /* only whole names are dropped */
        setenv("ATTACHPY_TEST_KEEP", "1", 1);
        setenv("SHELL", "/usr/sbin/nologin", 1); /* a service account's login shell */
        char **env = ap_debugger_environ();
        ck_assert_ptr_nonnull(env);
        ck_assert_uint_eq(count_prefix(env, "LC_ALL="), 1);
        size_t n = 0;
        while (env[n])
                n++;
        ck_assert_str_eq(env[n - 1], "LC_ALL=C");
        static const char *const dropped[] = {"LANG=", "LANGUAGE=", "PYTHONPATH=", "PYTHONHOME=",
                                              "PYTHONSTARTUP=", "DEBUGINFOD_URLS=", "GDBHISTFILE="};
        for (size_t i = 0; i < AP_ARRAY_SIZE(dropped); i++)
                ck_assert_msg(count_prefix(env, dropped[i]) == 0, "%s passed to the debugger",
                              dropped[i]);
        ck_assert_uint_eq(count_prefix(env, "PYTHONPATHX=kept"), 1);
        ck_assert_uint_eq(count_prefix(env, "ATTACHPY_TEST_KEEP=1"), 1);
        /* lldb's `platform shell` markers need a POSIX shell. */
        ck_assert_uint_eq(count_prefix(env, "SHELL="), 1);
        ck_assert_uint_eq(count_prefix(env, "SHELL=/bin/sh"), 1);
        ck_assert_uint_eq(count_prefix(env, "PATH="), getenv("PATH") ? 1 : 0);
        ap_strv_free(env);
}
END_TEST

/* A directory holding fake debuggers (shell scripts) named names. */
static void fake_debuggers(char *dir, const char *const *names) {
        ck_assert_ptr_nonnull(mkdtemp(dir));
        for (const char *const *n = names; *n; n++) {
                char path[256];
                snprintf(path, sizeof path, "%s/%s", dir, *n);
                FILE *f = fopen(path, "w");
                ck_assert_ptr_nonnull(f);
                fputs("#!/bin/sh\nexit 1\n", f);
                fclose(f);
                chmod(path, 0755);
        }
}

static void remove_fake_debuggers(const char *dir, const char *const *names) {
        for (const char *const *n = names; *n; n++) {
                char path[256];
                snprintf(path, sizeof path, "%s/%s", dir, *n);
                unlink(path);
        }
        rmdir(dir);
}

START_TEST(test_select_lldb_missing) {
        setenv("PATH", "/nonexistent-attachpy-test-dir", 1);
        const ap_backend *b = NULL;
        char *prog = (char *)"untouched";
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_backend_select(AP_DEBUGGER_LLDB, &b, &prog, &err), -1);
        ck_assert_int_eq(err.code, AP_ERR_DEBUGGER_NOT_FOUND);
        ck_assert_msg(strstr(err.message, "lldb"), "%s", err.message);
        ck_assert_msg(err.hint && strstr(err.hint, "apt-get install lldb"), "hint: %s",
                      err.hint ? err.hint : "(none)");
        ck_assert_ptr_null(b);
        ck_assert_str_eq(prog, "untouched");
        ap_error_clear(&err);
}
END_TEST

START_TEST(test_select_lldb) {
        /* --debugger=lldb picks lldb even when gdb is there; auto picks lldb
         * only when gdb is missing. */
        static const char *const both[] = {"gdb", "lldb", NULL};
        static const char *const only_lldb[] = {"lldb", NULL};
        for (int k = 0; k < 3; k++) {
                const char *const *names = k == 2 ? only_lldb : both;
                char dir[] = "/tmp/test_backend.XXXXXX";
                fake_debuggers(dir, names);
                char path[sizeof dir + 32];
                snprintf(path, sizeof path, "/nonexistent-x:%s", dir);
                setenv("PATH", path, 1);
                const ap_backend *b = NULL;
                char *prog = NULL;
                ap_error err = AP_ERROR_INIT;
                ap_debugger_choice choice = k == 0 ? AP_DEBUGGER_LLDB : AP_DEBUGGER_AUTO;
                int r = ap_backend_select(choice, &b, &prog, &err);
                remove_fake_debuggers(dir, names);
                ck_assert_int_eq(r, 0);
                const ap_backend *want = k == 1 ? &ap_backend_gdb : &ap_backend_lldb;
                ck_assert_ptr_eq(b, want);
                char expect[sizeof dir + 8];
                snprintf(expect, sizeof expect, "%s/%s", dir, want->name);
                ck_assert_str_eq(prog, expect);
                free(prog);
        }
}
END_TEST

START_TEST(test_lldb_backend_table) {
        ck_assert_str_eq(ap_backend_lldb.name, "lldb");
        ck_assert_str_eq(ap_backend_lldb.package, "lldb");
        ck_assert_str_eq(ap_backend_lldb.script_dir, "lldbscripts");
        ck_assert_ptr_nonnull(ap_backend_lldb.prepare);
        ck_assert(!ap_backend_lldb.patience_sigint);
        ck_assert(ap_backend_gdb.patience_sigint);
        ck_assert_ptr_null(ap_backend_gdb.prepare);
        ck_assert_int_eq(ap_backend_gdb.interrupt_target_signal, 0);
        char **v = ap_backend_lldb.argv("/usr/bin/lldb", "/tmp/s.lldb");
        ck_assert_ptr_nonnull(v);
        ck_assert_str_eq(v[0], "/usr/bin/lldb");
        ck_assert_str_eq(v[1], "--no-lldbinit");
        ck_assert_str_eq(v[2], "--batch");
        ck_assert_str_eq(v[3], "-s");
        ck_assert_str_eq(v[4], "/tmp/s.lldb");
        ck_assert_ptr_null(v[5]);
        ap_strv_free(v);
}
END_TEST

START_TEST(test_parked_syscall_lists) {
        ck_assert(ap_parked_syscall(AP_PARKED_WAITS, 0));    /* read */
        ck_assert(ap_parked_syscall(AP_PARKED_WAITS, 230));  /* clock_nanosleep */
        ck_assert(!ap_parked_syscall(AP_PARKED_WAITS, 202)); /* futex */
        ck_assert(!ap_parked_syscall(AP_PARKED_WAITS, 1));   /* write */
        ck_assert(ap_parked_syscall(AP_PARKED_FUTEX, 202));
        ck_assert(!ap_parked_syscall(AP_PARKED_FUTEX, 0));
}
END_TEST

START_TEST(test_find_parked_thread_errors) {
        ap_parked_thread t = {0};
        /* No such process. */
        ck_assert_int_eq(ap_find_parked_thread(0x7ffffff0, AP_PARKED_WAITS, &t), -1);
        /* A child in pause(): its main thread is parked (and in no futex). */
        pid_t child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
                for (;;)
                        pause();
        }
        int found = 0;
        for (int i = 0; i < 200 && found != 1; i++) {
                found = ap_find_parked_thread(child, AP_PARKED_WAITS, &t);
                usleep(5000);
        }
        int futex = ap_find_parked_thread(child, AP_PARKED_FUTEX, &t);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        ck_assert_int_eq(found, 1);
        ck_assert_int_eq(futex, 0);
        ck_assert_int_eq(t.tid, child);
        ck_assert_int_eq(t.index, 1);
        ck_assert_int_eq(t.nr, 34); /* pause */
        ck_assert(t.sp != 0 && t.pc != 0);
}
END_TEST

START_TEST(test_select_gdb_missing) {
        setenv("PATH", "/nonexistent-attachpy-test-dir", 1);
        for (int c = 0; c < 2; c++) {
                ap_debugger_choice choice = c ? AP_DEBUGGER_AUTO : AP_DEBUGGER_GDB;
                const ap_backend *b = NULL;
                char *prog = NULL;
                ap_error err = AP_ERROR_INIT;
                ck_assert_int_eq(ap_backend_select(choice, &b, &prog, &err), -1);
                ck_assert_int_eq(err.code, AP_ERR_DEBUGGER_NOT_FOUND);
                ck_assert_msg(strstr(err.message, "gdb"), "%s", err.message);
                ck_assert_msg(err.hint && strstr(err.hint, "apt-get install gdb"), "hint: %s",
                              err.hint ? err.hint : "(none)");
                ck_assert_ptr_null(b);
                ck_assert_ptr_null(prog);
                ap_error_clear(&err);
        }
}
END_TEST

START_TEST(test_select_gdb_on_path) {
        char dir[] = "/tmp/test_backend.XXXXXX";
        ck_assert_ptr_nonnull(mkdtemp(dir));
        char gdb[sizeof dir + 8];
        snprintf(gdb, sizeof gdb, "%s/gdb", dir);
        FILE *f = fopen(gdb, "w");
        ck_assert_ptr_nonnull(f);
        fputs("#!/bin/sh\nexit 1\n", f);
        fclose(f);
        chmod(gdb, 0755);
        char path[sizeof dir + 32];
        snprintf(path, sizeof path, "/nonexistent-x:%s", dir);
        setenv("PATH", path, 1);
        const ap_backend *b = NULL;
        char *prog = NULL;
        ap_error err = AP_ERROR_INIT;
        int r = ap_backend_select(AP_DEBUGGER_AUTO, &b, &prog, &err);
        unlink(gdb);
        rmdir(dir);
        ck_assert_int_eq(r, 0);
        ck_assert_ptr_eq(b, &ap_backend_gdb);
        ck_assert_str_eq(prog, gdb);
        free(prog);
}
END_TEST

static Suite *backend_suite(void) {
        Suite *s = suite_create("backend");
        TCase *tc = tcase_create("common");
        tcase_add_test(tc, test_parked_condition);
        tcase_add_test(tc, test_parked_condition_other_registers);
        tcase_add_test(tc, test_futex_condition);
        tcase_add_test(tc, test_plan_page_layout);
        tcase_add_test(tc, test_plan_length_limits);
        tcase_add_test(tc, test_values_common);
        tcase_add_test(tc, test_values_limit);
        suite_add_tcase(s, tc);

        tc = tcase_create("gdb");
        tcase_add_test(tc, test_gdb_table);
        tcase_add_test(tc, test_gdb_argv);
        tcase_add_test(tc, test_gdb_values_names);
        tcase_add_test(tc, test_gdb_break_commands);
        tcase_add_test(tc, test_gdb_no_safepoints);
        tcase_add_test(tc, test_gdb_page_writes);
        tcase_add_test(tc, test_gdb_page_writes_odd_lengths);
        tcase_add_test(tc, test_gdb_renders_real_script);
        suite_add_tcase(s, tc);

        tc = tcase_create("environment");
        tcase_add_checked_fixture(tc, save_env, restore_env);
        tcase_add_test(tc, test_debugger_environ);
        tcase_add_test(tc, test_select_lldb_missing);
        tcase_add_test(tc, test_select_lldb);
        tcase_add_test(tc, test_lldb_backend_table);
        tcase_add_test(tc, test_parked_syscall_lists);
        tcase_add_test(tc, test_find_parked_thread_errors);
        tcase_add_test(tc, test_select_gdb_missing);
        tcase_add_test(tc, test_select_gdb_on_path);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(backend_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
