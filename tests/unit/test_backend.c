/* test_backend.c: the gdb and lldb backends: their tables, argv and
 * generated blocks, down to the bytes their page writes put into the target,
 * the real script templates rendered with every placeholder filled, the
 * debugger's environment and the backend's selection.  The plan is tested in
 * test_injection_plan.c, the values in test_script_values.c, the parked
 * threads in test_parked_thread.c, the trampoline executed in
 * test_trampoline.c. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "build-config.h"
#include "plan_fixtures.h"
#include "template.h"
#include "util.h"

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
        ck_assert_int_ge(asprintf(&probe, "%s/gdbscripts/direct.gdb", path), 0);
        bool found = access(probe, R_OK) == 0;
        free(probe);
        if (found)
                return path;
        free(path);
        return strdup(AP_SOURCE_ROOT);
}

START_TEST(test_gdb_table) {
        ck_assert_str_eq(ap_backend_gdb.name, "gdb");
        ck_assert_str_eq(ap_backend_gdb.script_dir, "gdbscripts");
        ck_assert_str_eq(ap_backend_gdb.direct_script, "direct.gdb");
        ck_assert_str_eq(ap_backend_gdb.schedule_script, "schedule.gdb");
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

static size_t strv_len(char **v) {
        size_t n = 0;
        while (v[n])
                n++;
        return n;
}

START_TEST(test_gdb_argv) {
        /* With a process to warm up on: the script defines, the command line
         * runs: attach to the idle process, detach, then the injection. */
        char **argv = ap_backend_gdb.argv("/usr/bin/gdb", SESSION "/inject.gdb", 4321);
        ck_assert_ptr_nonnull(argv);
        size_t n = strv_len(argv);
        ck_assert_uint_ge(n, 10);
        ck_assert_str_eq(argv[0], "/usr/bin/gdb");
        const char *const tail[] = {"-x",  SESSION "/inject.gdb",
                                    "-ex", "attach 4321",
                                    "-ex", "detach",
                                    "-ex", "attachpy_attach",
                                    "-ex", "printf \"@@ATTACHPY:ready\\n\""};
        for (size_t i = 0; i < AP_ARRAY_SIZE(tail); i++)
                ck_assert_str_eq(argv[n - AP_ARRAY_SIZE(tail) + i], tail[i]);
        bool nx = false, batch = false, readnever = false, nh = false;
        ck_assert_uint_ge(n, 12);
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
        /* No -batch: gdb reads the plan's command on its stdin (a pipe) and
         * quits at its EOF. */
        ck_assert_msg(!batch, "-batch: gdb would not read its stdin");
        ck_assert_msg(readnever, "--readnever missing: gdb would read debug info");

        /* Without one: the same, less the warm-up. */
        char **bare = ap_backend_gdb.argv("/usr/bin/gdb", SESSION "/inject.gdb", 0);
        ck_assert_ptr_nonnull(bare);
        ck_assert_uint_eq(strv_len(bare), n - 4);
        for (size_t i = 0; i < n - 8; i++)
                ck_assert_str_eq(bare[i], argv[i]);
        ck_assert_str_eq(bare[n - 8], "-ex");
        ck_assert_str_eq(bare[n - 7], "attachpy_attach");
        ck_assert_str_eq(bare[n - 6], "-ex");
        ap_strv_free(argv);
        ap_strv_free(bare);
        ap_strv_free(NULL);
        ck_assert(ap_backend_gdb.warms_up);
        ck_assert(!ap_backend_lldb.warms_up);
}
END_TEST

typedef struct gdb_values {
        ap_target t;
        ap_injection_plan plan;
        ap_script_values v;
} gdb_values;

#define PAGE_FILE SESSION "/1-gdb.page"

static void make_gdb_values(gdb_values *g, const char *agent, const char *session) {
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_injection_plan_init(&g->plan, &g->t, agent, session, &err), 0);
        g->plan.page_path = PAGE_FILE;
        memset(&g->v, 0, sizeof g->v);
        ck_assert_int_eq(ap_backend_gdb.values(&g->v, &g->plan), 0);
}

START_TEST(test_gdb_values_names) {
        /* gdb's own values: the page's file (the plan templates) and the
         * restart codes of the thread's guard (the attach script). */
        static const char *const names[] = {"page_file", "restart"};
        static const char *const direct_names[] = {"page_file", "restart", "save_regs"};
        static const char *const attach_names[] = {"restart"};
        gdb_values g = {.t = fake_target()};
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_injection_plan_init(&g.plan, &g.t, AGENT, SESSION, &err), 0);

        /* No file for the page: the attach script's values only. */
        ck_assert_int_eq(ap_backend_gdb.values(&g.v, &g.plan), 0);
        check_names(&g.v, attach_names, AP_ARRAY_SIZE(attach_names));
        ck_assert_ptr_nonnull(strstr(value_of(&g.v, "restart"), "(long) $rax == -512"));
        ck_assert_ptr_nonnull(strstr(value_of(&g.v, "restart"), "(long) $rax == -4"));
        ap_script_values_free(&g.v);
        g.plan.page_path = PAGE_FILE;
        g.plan.mode = AP_PLAN_SCHEDULE;
        ck_assert_int_eq(ap_backend_gdb.values(&g.v, &g.plan), 0);
        check_names(&g.v, names, AP_ARRAY_SIZE(names));
        ap_script_values_free(&g.v);
        /* The direct plan's script saves the calling thread's registers in
         * the page (cli/trampoline.S puts them back should gdb die). */
        g.plan.mode = AP_PLAN_DIRECT;
        g.t.same_pid_ns = true;
        ck_assert_int_eq(ap_backend_gdb.values(&g.v, &g.plan), 0);
        check_names(&g.v, direct_names, AP_ARRAY_SIZE(direct_names));
        ck_assert_ptr_nonnull(strstr(value_of(&g.v, "save_regs"),
                                     "set {long[17]} ((char *) $attachpy_page + 3632) = "
                                     "{(long) $rax, (long) $rbx"));
        ck_assert_ptr_nonnull(strstr(value_of(&g.v, "save_regs"), "(long) $r15, (long) $pc}"));
        ap_script_values_free(&g.v);
        /* A target in a PID namespace of its own sees a tracer outside it
         * as TracerPid 0: no registers saved, the trampoline returns to gdb
         * (the container test). */
        g.t.same_pid_ns = false;
        ck_assert_int_eq(ap_backend_gdb.values(&g.v, &g.plan), 0);
        check_names(&g.v, direct_names, AP_ARRAY_SIZE(direct_names));
        ck_assert_ptr_null(strstr(value_of(&g.v, "save_regs"), "set "));
        ap_script_values_free(&g.v);
}
END_TEST

START_TEST(test_gdb_go) {
        /* The command the CLI sends once gdb holds the target stopped: only
         * values attachpy read from /proc, in hex, and a safe point's name. */
        gdb_values g = {.t = fake_target()};
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_injection_plan_init(&g.plan, &g.t, AGENT, SESSION, &err), 0);

        /* Scheduled without a thread: 0 0, gdb's first thread. */
        g.plan.mode = AP_PLAN_SCHEDULE;
        char *go = ap_backend_gdb.go(&g.plan, NULL);
        ck_assert_str_eq(go, "attachpy_schedule 0x0 0x0\n");
        free(go);

        /* Scheduled in a thread in a system call: that thread, exactly. */
        g.plan.have_thread = true;
        g.plan.thread =
                (ap_parked_thread){.index = 2, .tid = 4243, .nr = 202, .sp = 0xa0, .pc = 0xb0};
        go = ap_backend_gdb.go(&g.plan, NULL);
        ck_assert_str_eq(go, "attachpy_schedule 0xa0 0xb0\n");
        free(go);

        /* Direct: the thread and the safe point's name. */
        ap_plan_use_thread(&g.plan, &g.plan.thread, AP_PARKED_FUTEX);
        go = ap_backend_gdb.go(&g.plan, NULL);
        ck_assert_str_eq(go, "attachpy_direct 0xa0 0xb0 futex\n");
        free(go);
        ap_plan_use_thread(&g.plan, &g.plan.thread, AP_PARKED_WAITS);
        go = ap_backend_gdb.go(&g.plan, NULL);
        ck_assert_str_eq(go, "attachpy_direct 0xa0 0xb0 parked\n");
        free(go);

        /* The "moved" fault, first attempt: a stack the thread is not on. */
        g.plan.faults.moved = true;
        go = ap_backend_gdb.go(&g.plan, NULL);
        ck_assert_str_eq(go, "attachpy_direct 0xa8 0xb0 parked\n");
        free(go);
        g.plan.have_thread = false;
        g.plan.mode = AP_PLAN_SCHEDULE;
        go = ap_backend_gdb.go(&g.plan, NULL);
        ck_assert_str_eq(go, "attachpy_schedule 0x1 0x1\n");
        free(go);
        g.plan.attempt = 1;
        go = ap_backend_gdb.go(&g.plan, NULL);
        ck_assert_str_eq(go, "attachpy_schedule 0x0 0x0\n");
        free(go);
        ck_assert_str_eq(ap_backend_gdb.let_go, "attachpy_let_go\n");
}
END_TEST

START_TEST(test_lldb_values_names) {
        ap_target t = fake_target();
        ap_injection_plan plan;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_injection_plan_init(&plan, &t, AGENT, SESSION, &err), 0);
        plan.mode = AP_PLAN_SCHEDULE;
        ap_script_values v = {0};
        ck_assert_int_eq(ap_backend_lldb.values(&v, &plan), 0);
        static const char *const sched[] = {"page_writes",         "guard",
                                            "thread_index",        "log_path",
                                            "check_value_decimal", "server_fd"};
        check_names(&v, sched, AP_ARRAY_SIZE(sched));
        ck_assert_str_eq(value_of(&v, "guard"), "1");
        /* No log asked for: lldb logs to /dev/null. */
        ck_assert_str_eq(value_of(&v, "log_path"), "/dev/null");
        ck_assert_str_eq(value_of(&v, "thread_index"), "1");
        /* The check value in decimal (the shell's test compares decimal
         * text): the same number as check_value's hex. */
        ck_assert_str_eq(value_of(&v, "check_value_decimal"), "10036493867862409715");
        ap_script_values_free(&v);

        plan.log_path = "/tmp/attachpy-AbC123/1-lldb.log";
        plan.mode = AP_PLAN_DIRECT;
        plan.safepoint = "parked";
        plan.have_thread = true;
        plan.thread =
                (ap_parked_thread){.index = 3, .tid = 4250, .nr = 230, .sp = 0xa0, .pc = 0xb0};
        ck_assert_int_eq(ap_backend_lldb.values(&v, &plan), 0);
        static const char *const direct[] = {
                "page_writes",         "guard",      "thread_index",   "log_path",
                "check_value_decimal", "thread_tid", "thread_syscall", "server_fd"};
        check_names(&v, direct, AP_ARRAY_SIZE(direct));
        ck_assert_str_eq(value_of(&v, "thread_index"), "3");
        ck_assert_str_eq(value_of(&v, "thread_tid"), "4250");
        ck_assert_str_eq(value_of(&v, "thread_syscall"), "230");
        ck_assert_str_eq(value_of(&v, "log_path"), "/tmp/attachpy-AbC123/1-lldb.log");
        char *want = ap_thread_guard(&plan.thread);
        ck_assert_str_eq(value_of(&v, "guard"), want);
        free(want);
        ap_script_values_free(&v);

        /* wrong-code: decimal and hex still agree with each other. */
        plan.faults.wrong_code = true;
        ck_assert_int_eq(ap_backend_lldb.values(&v, &plan), 0);
        char dec[32];
        snprintf(dec, sizeof dec, "%" PRIu64, ap_plan_check_value(&plan));
        ck_assert_str_eq(value_of(&v, "check_value_decimal"), dec);
        ck_assert_str_ne(dec, "10036493867862409715");
        ap_script_values_free(&v);
}
END_TEST

/* Decode lldb's page_writes (one expression) back into a page. */
static void apply_lldb_page_writes(const char *writes, unsigned char *page) {
        memset(page, 0, AP_PAGE_SIZE);
        static const char head[] = "expression -l c -- (void) (";
        ck_assert_msg(strncmp(writes, head, strlen(head)) == 0, "%.80s", writes);
        ck_assert_ptr_null(strchr(writes, '\n')); /* one command */
        bool written[AP_PAGE_SIZE / 8] = {false};
        const char *p = writes + strlen(head);
        size_t n = 0;
        for (;;) {
                size_t off;
                unsigned long long w;
                int used = 0;
                int k = sscanf(p, "*(unsigned long *) ((char *) $attachpy_page + %zu) = 0x%llx%n",
                               &off, &w, &used);
                ck_assert_msg(k == 2, "cannot read page write: %.80s", p);
                ck_assert_msg(off % 8 == 0 && off + 8 <= AP_PAGE_SIZE, "offset %zu", off);
                ck_assert_msg(!written[off / 8], "offset %zu written twice", off);
                ck_assert_msg(w != 0, "a zero word is written at %zu", off);
                written[off / 8] = true;
                for (int b = 0; b < 8; b++)
                        page[off + (size_t)b] = (unsigned char)(w >> (8 * b));
                n++;
                p += used;
                if (strncmp(p, ", ", 2) == 0) {
                        p += 2;
                        continue;
                }
                ck_assert_str_eq(p, ")");
                break;
        }
        ck_assert_uint_gt(n, 0);
}

START_TEST(test_gdb_page_file) {
        /* gdb copies the page from the file the CLI wrote (inject.c writes
         * plan->page there, whole): the script names that file. */
        gdb_values g = {.t = fake_target()};
        make_gdb_values(&g, AGENT, SESSION);
        ck_assert_str_eq(value_of(&g.v, "page_file"), PAGE_FILE);
        ck_assert(ap_backend_gdb.page_from_file);
        ck_assert(!ap_backend_lldb.page_from_file);
        ap_script_values_free(&g.v);
}
END_TEST

START_TEST(test_lldb_page_writes) {
        for (size_t len = 1; len <= 17; len++) {
                char agent[64], session[64];
                memset(agent, 'B', sizeof agent);
                agent[0] = '/';
                agent[len] = '\0';
                snprintf(session, sizeof session, "/tmp/\xc3\xa9%.*s", (int)len,
                         "0123456789abcdefghijklmnop");
                ap_target t = fake_target();
                ap_injection_plan plan;
                ap_error err = AP_ERROR_INIT;
                ck_assert_int_eq(ap_injection_plan_init(&plan, &t, agent, session, &err), 0);
                ap_script_values v = {0};
                ck_assert_int_eq(ap_backend_lldb.values(&v, &plan), 0);
                unsigned char page[AP_PAGE_SIZE];
                apply_lldb_page_writes(value_of(&v, "page_writes"), page);
                ck_assert_msg(memcmp(page, plan.page, AP_PAGE_SIZE) == 0, "length %zu", len);
                ap_script_values_free(&v);
        }
}
END_TEST

START_TEST(test_plan_set_cancel) {
        /* A scheduled plan's page is written unarmed (cancel 1): a call whose
         * debugger dies before its last step runs no code.  A direct plan's
         * is armed.  lldb's page writes carry the word (gdb's file is the
         * page itself). */
        for (int m = 0; m < 2; m++) {
                gdb_values g = {.t = fake_target()};
                ap_error err = AP_ERROR_INIT;
                ck_assert_int_eq(ap_injection_plan_init(&g.plan, &g.t, AGENT, SESSION, &err), 0);
                g.plan.mode = m ? AP_PLAN_SCHEDULE : AP_PLAN_DIRECT;
                ap_plan_set_cancel(&g.plan);
                int32_t cancel, state;
                memcpy(&cancel, g.plan.page + AP_PAGE_CANCEL, sizeof cancel);
                memcpy(&state, g.plan.page + AP_PAGE_STATE, sizeof state);
                ck_assert_int_eq(cancel, m ? AP_CANCEL_UNARMED : AP_CANCEL_ARMED);
                ck_assert_int_eq(state, AP_TRAMPOLINE_QUEUED);
                unsigned char page[AP_PAGE_SIZE];
                ap_script_values lv = {0};
                ck_assert_int_eq(ap_backend_lldb.values(&lv, &g.plan), 0);
                apply_lldb_page_writes(value_of(&lv, "page_writes"), page);
                ck_assert(memcmp(page, g.plan.page, AP_PAGE_SIZE) == 0);
                ap_script_values_free(&lv);
        }
}
END_TEST

static char *read_real(const ap_backend *b, const char *file) {
        char *root = source_root();
        char *path = NULL;
        ck_assert_int_ge(asprintf(&path, "%s/%s/%s", root, b->script_dir, file), 0);
        char *text = NULL;
        int r = ap_read_file(path, 1024 * 1024, &text, NULL);
        ck_assert_msg(r == 0, "cannot read %s (set ATTACHPY_SOURCE_ROOT): %s", path,
                      strerror(errno));
        free(path);
        free(root);
        return text;
}

/* Render a real template from the source tree with the values attachpy
 * gives it (inject.c render_script: common, pauses, the backend's; each
 * template gets those it names). */
static char *render_one(const ap_backend *b, const char *file, ap_injection_plan *plan) {
        char *text = read_real(b, file);
        ap_script_values v = {0};
        ck_assert_int_eq(ap_script_values_common(&v, plan), 0);
        ck_assert_int_eq(ap_script_values_pauses(&v, plan, b->pause), 0);
        ck_assert_int_eq(b->values(&v, plan), 0);
        ap_template_var used[AP_MAX_SCRIPT_VALUES];
        size_t n_used = 0;
        for (size_t i = 0; i < v.n; i++) {
                char ph[96];
                snprintf(ph, sizeof ph, "{{%s}}", v.vars[i].name);
                if (strstr(text, ph))
                        used[n_used++] = v.vars[i];
        }
        char *script = NULL;
        ap_error err = AP_ERROR_INIT;
        int r = ap_template_render(text, used, n_used, &script, &err);
        ck_assert_msg(r == 0, "render %s: %s", file, err.message ? err.message : "");
        if (b->strip_comments) { /* as inject.c does */
                ap_template_strip_comments(script);
                ck_assert_ptr_null(strstr(script, "\n#"));
                ck_assert_int_ne(script[0], '#');
        }
        ap_script_values_free(&v);
        free(text);
        return script;
}

/* What the debugger runs for a plan: the attach script, then the plan's
 * (gdb: both plans' commands follow the attach script; lldb: the plan's
 * script is sourced once the target is stopped). */
static char *render_real(const ap_backend *b, ap_injection_plan *plan) {
        const char *file = plan->mode == AP_PLAN_DIRECT ? b->direct_script : b->schedule_script;
        char *attach = render_one(b, b->attach_script, plan);
        char *part = render_one(b, file, plan);
        char *script = NULL;
        ck_assert_int_ge(asprintf(&script, "%s\n%s", attach, part), 0);
        free(attach);
        free(part);
        /* Every value is used by one of the backend's templates (no value
         * the scripts forgot). */
        ap_script_values v = {0};
        ck_assert_int_eq(ap_script_values_common(&v, plan), 0);
        ck_assert_int_eq(ap_script_values_pauses(&v, plan, b->pause), 0);
        ck_assert_int_eq(b->values(&v, plan), 0);
        char *texts[3] = {read_real(b, b->attach_script), read_real(b, b->direct_script),
                          read_real(b, b->schedule_script)};
        for (size_t i = 0; i < v.n; i++) {
                char ph[96];
                snprintf(ph, sizeof ph, "{{%s}}", v.vars[i].name);
                /* gdb's command carries the safe point's name (gdb_go). */
                if (b == &ap_backend_gdb && strcmp(v.vars[i].name, "safepoint") == 0)
                        continue;
                ck_assert_msg(strstr(texts[0], ph) || strstr(texts[1], ph) || strstr(texts[2], ph),
                              "no %s template uses %s", b->name, ph);
        }
        for (int i = 0; i < 3; i++)
                free(texts[i]);
        ap_script_values_free(&v);
        ck_assert_ptr_null(strstr(script, "{{"));
        ck_assert_ptr_null(strstr(script, "}}"));
        /* The session and agent paths travel only as page bytes. */
        ck_assert_ptr_null(strstr(script, SESSION));
        ck_assert_ptr_null(strstr(script, AGENT));
        /* No breakpoint, ever. */
        ck_assert_ptr_null(strstr(script, "\nbreak "));
        ck_assert_ptr_null(strstr(script, "breakpoint set"));
        return script;
}

static void plan_for(ap_injection_plan *plan, const ap_target *t, ap_plan_mode mode) {
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_injection_plan_init(plan, t, AGENT, SESSION, &err), 0);
        plan->mode = mode;
        plan->have_thread = true;
        plan->thread = (ap_parked_thread){
                .index = 2, .tid = 4243, .nr = 230, .sp = 0x7ffc00001230, .pc = 0x7f00000045a6};
        plan->safepoint = mode == AP_PLAN_DIRECT ? "parked" : "pending";
        plan->kind = AP_PARKED_WAITS;
        plan->page_path = "/run/attachpy-test/1-gdb.page";
}

static void assert_has(const char *script, const char *what, const char *file) {
        ck_assert_msg(strstr(script, what), "%s: '%s' missing", file, what);
}

START_TEST(test_gdb_renders_real_scripts) {
        ap_target t = fake_target();
        ap_injection_plan plan;
        for (int m = 0; m < 2; m++) {
                ap_plan_mode mode = m ? AP_PLAN_SCHEDULE : AP_PLAN_DIRECT;
                const char *file = m ? "schedule.gdb" : "direct.gdb";
                plan_for(&plan, &t, mode);
                char *script = render_real(&ap_backend_gdb, &plan);
                assert_has(script, "\nattach 4242\n", file);
                assert_has(script, "if *(unsigned long *) 0x7f1000001000 != 0x8b48c9ff485341f3\n",
                           file);
                /* The thread: the registers the CLI sends, read from /proc
                 * while gdb holds the target stopped (gdb_go). */
                assert_has(script, "$rsp == $attachpy_sp && $pc == $attachpy_pc", file);
                assert_has(script, "(long) $rax == -512 ||", file);
                assert_has(script,
                           mode == AP_PLAN_DIRECT
                                   ? "\ndefine attachpy_direct\nset $attachpy_sp = $arg0\n"
                                   : "\ndefine attachpy_schedule\nset $attachpy_sp = $arg0\n",
                           file);
                assert_has(script, "printf \"@@ATTACHPY:stopped\\n\"\nend\n", file);
                assert_has(script, "\nset prompt\n", file);
                assert_has(script, "0x7f0000101000)((void *) 0, 4096, 7, 0x22, -1, 0)", file);
                /* The page, from the CLI's file, in one command. */
                assert_has(script,
                           "\nrestore /run/attachpy-test/1-gdb.page binary $attachpy_page\n", file);
                /* Everything that runs while the target is stopped is read
                 * before gdb attaches: the script defines, the command line
                 * runs (test_gdb_argv). */
                assert_has(script, "\ndefine attachpy_attach\nattach 4242\n", file);
                assert_has(script, "\ndefine attachpy_check\n", file);
                /* The plan's command ends by quitting, or does nothing when
                 * its thread is unfit. */
                const char *last = strstr(script, "\nquit 0\nend\nend\n");
                ck_assert_ptr_nonnull(last);
                ck_assert_str_eq(last, "\nquit 0\nend\nend\n");
                assert_has(script, "\nif $attachpy_thread != 0\n", file);
                assert_has(script, "printf \"@@ATTACHPY:unfit\\n\"", file);
                assert_has(script, "printf \"@@ATTACHPY:fit %d\\n\", $attachpy_thread", file);
                /* gdb reads no file of the target's: no shared library. */
                assert_has(script, "\nset sysroot /dev/null\n", file);
                /* Markers the classifier reads, printed by the script. */
                assert_has(script, "printf \"@@ATTACHPY:attached\\n\"", file);
                assert_has(script, "printf \"@@ATTACHPY:mismatch\\n\"", file);
                assert_has(script, "printf \"@@ATTACHPY:moved\\n\"", file);
                assert_has(script, "printf \"@@ATTACHPY:mmap-failed\\n\"", file);
                assert_has(script, "printf \"@@ATTACHPY:detached\\n\"", file);
                if (mode == AP_PLAN_DIRECT) {
                        char call[96];
                        snprintf(call, sizeof call,
                                 "((char *) $attachpy_page + %zu))($attachpy_page)",
                                 2816 + ap_trampoline_direct_offset());
                        assert_has(script, call, file);
                        assert_has(script, "@@ATTACHPY:safepoint $arg2 %d\\n", file);
                        assert_has(script, "@@ATTACHPY:started 0\\n", file);
                        assert_has(script, "@@ATTACHPY:started %d\\n", file);
                        assert_has(script, "@@ATTACHPY:dlopen-failed %s\\n", file);
                        assert_has(script, "@@ATTACHPY:dlsym-failed\\n", file);
                        assert_has(script, "$attachpy_page + 3624", file);
                        ck_assert_ptr_null(strstr(script, "0x7f1000001000)((char *)"));
                } else {
                        assert_has(script,
                                   "0x7f1000001000)((char *) $attachpy_page + 2816, "
                                   "$attachpy_page)",
                                   file);
                        assert_has(script, "@@ATTACHPY:scheduled 0x%lx %d\\n", file);
                        assert_has(script, "@@ATTACHPY:armed\\n", file);
                        assert_has(script, "((char *) $attachpy_page + 3620) = 0", file);
                        ck_assert_ptr_null(strstr(script, "@@ATTACHPY:started"));
                }
                free(script);
        }
}
END_TEST

START_TEST(test_lldb_renders_real_scripts) {
        ap_target t = fake_target();
        ap_injection_plan plan;
        for (int m = 0; m < 2; m++) {
                ap_plan_mode mode = m ? AP_PLAN_SCHEDULE : AP_PLAN_DIRECT;
                const char *file = m ? "schedule.lldb" : "direct.lldb";
                plan_for(&plan, &t, mode);
                plan.server_fd = 9;
                char *script = render_real(&ap_backend_lldb, &plan);
                /* lldb-server is attachpy's, behind its relay (cli/cure.h). */
                assert_has(script, "\nprocess connect -p gdb-remote fd://9\n", file);
                ck_assert_msg(!strstr(script, "\nprocess attach"), "%s attaches itself", file);
                assert_has(script, "\nthread select 2\n", file);
                assert_has(script,
                           "`*(unsigned long *) 0x7f1000001000` = 10036493867862409715 || "
                           "echo @@ATTACHPY:mismatch",
                           file);
                assert_has(script, "*(unsigned long *) 0x7f1000001000 == 0x8b48c9ff485341f3UL",
                           file);
                assert_has(script, "$rsp == 0x7ffc00001230 && $pc == 0x7f00000045a6", file);
                assert_has(script, "|| echo @@ATTACHPY:unfit", file);
                assert_has(script, "platform shell echo @@ATTACHPY:fit 2\n", file);
                assert_has(script, "platform shell echo @@ATTACHPY:attached\n", file);
                assert_has(script, "platform shell echo @@ATTACHPY:stopped\n", file);
                assert_has(script, "platform shell echo @@ATTACHPY:detached", file);
                assert_has(script,
                           "\nexpression -l c -- (void) (*(unsigned long *) ((char *) "
                           "$attachpy_page + 0) = ",
                           file);
                if (mode == AP_PLAN_DIRECT) {
                        assert_has(script, "platform shell echo @@ATTACHPY:safepoint parked 2",
                                   file);
                        assert_has(script, "echo @@ATTACHPY:started `$attachpy_rc`", file);
                        assert_has(script, "echo @@ATTACHPY:dlopen-failed", file);
                        assert_has(script, "echo @@ATTACHPY:dlsym-failed", file);
                        assert_has(script, "tid 4243", file);
                } else {
                        assert_has(script, "|| echo @@ATTACHPY:armed", file);
                        assert_has(script, "((char *) $attachpy_page + 3620) = 0", file);
                        assert_has(script,
                                   "echo @@ATTACHPY:scheduled `(unsigned long) "
                                   "$attachpy_page` `$attachpy_queued`",
                                   file);
                        assert_has(script,
                                   "0x7f1000001000)((char *) $attachpy_page + 2816, "
                                   "$attachpy_page)",
                                   file);
                }
                free(script);
        }
}
END_TEST

/* The variables these tests change, restored after each (also after a
 * failure: this runs as a checked fixture). */
static const char *const touched_vars[] = {
        "PATH",
        "LC_ALL",
        "LANG",
        "LANGUAGE",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "DEBUGINFOD_URLS",
        "GDBHISTFILE",
        "PYTHONPATHX",
        "ATTACHPY_TEST_KEEP",
        "SHELL",
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
        static const char *const dropped[] = {
                "LANG=",          "LANGUAGE=",        "PYTHONPATH=", "PYTHONHOME=",
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
        ck_assert_str_eq(ap_backend_lldb.direct_script, "direct.lldb");
        ck_assert_str_eq(ap_backend_lldb.schedule_script, "schedule.lldb");
        /* lldb in batch mode ignores SIGINT during a called function: the
         * CLI interrupts the target with SIGCONT (the script stops on it). */
        ck_assert_int_eq(ap_backend_lldb.interrupt_target_signal, SIGCONT);
        ck_assert_int_eq(ap_backend_gdb.interrupt_target_signal, 0);
        char **v = ap_backend_lldb.argv("/usr/bin/lldb", "/tmp/s.lldb", 4321);
        ck_assert_ptr_nonnull(v);
        ck_assert_str_eq(v[0], "/usr/bin/lldb");
        ck_assert_str_eq(v[1], "--no-lldbinit");
        /* No --batch: lldb reads the plan's command on its stdin, and quits
         * (detaching) at its EOF. */
        ck_assert_str_eq(v[2], "-s");
        ck_assert_str_eq(v[3], "/tmp/s.lldb");
        ck_assert_str_eq(v[4], "-o");
        ck_assert_str_eq(v[5], "platform shell echo @@ATTACHPY:ready");
        ck_assert_ptr_null(v[6]);
        ap_strv_free(v);
        ck_assert(ap_backend_lldb.plan_after_stop);
        ck_assert(!ap_backend_gdb.plan_after_stop);
        ck_assert_str_eq(ap_backend_lldb.attach_script, "attach.lldb");
        ck_assert_str_eq(ap_backend_gdb.attach_script, "attach.gdb");
        /* lldb sources the plan rendered once the target is stopped. */
        ap_target t = fake_target();
        ap_injection_plan plan;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_injection_plan_init(&plan, &t, AGENT, SESSION, &err), 0);
        char *go = ap_backend_lldb.go(&plan, "/tmp/attachpy-x/1-direct.lldb");
        ck_assert_str_eq(go, "command source /tmp/attachpy-x/1-direct.lldb\n");
        free(go);
        ck_assert_ptr_null(ap_backend_lldb.go(&plan, NULL));
        ck_assert_ptr_nonnull(strstr(ap_backend_lldb.let_go, "@@ATTACHPY:moved"));
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
        TCase *tc = tcase_create("scripts");
        tcase_add_test(tc, test_gdb_table);
        tcase_add_test(tc, test_gdb_argv);
        tcase_add_test(tc, test_gdb_values_names);
        tcase_add_test(tc, test_gdb_go);
        tcase_add_test(tc, test_lldb_values_names);
        tcase_add_test(tc, test_gdb_page_file);
        tcase_add_test(tc, test_lldb_page_writes);
        tcase_add_test(tc, test_plan_set_cancel);
        tcase_add_test(tc, test_gdb_renders_real_scripts);
        tcase_add_test(tc, test_lldb_renders_real_scripts);
        suite_add_tcase(s, tc);

        tc = tcase_create("environment");
        tcase_add_checked_fixture(tc, save_env, restore_env);
        tcase_add_test(tc, test_debugger_environ);
        tcase_add_test(tc, test_select_lldb_missing);
        tcase_add_test(tc, test_select_lldb);
        tcase_add_test(tc, test_lldb_backend_table);
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
