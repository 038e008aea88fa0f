/* test_backend.c: what the backends share (the injection plan and its page,
 * the plan's choice from /proc, script values for both plan modes, the
 * thread guard, the debugger's environment and selection) and the gdb and
 * lldb backends' argv and generated blocks, down to the bytes their page
 * writes put into the target, and the four real script templates rendered
 * with every placeholder filled.  The trampoline itself is executed in
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
        t.addr_check = t.addr_add_pending_call;
        t.check_code = 0x8b48c9ff485341f3; /* top bit set: printed unsigned */
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
        ck_assert_int_ge(asprintf(&probe, "%s/gdbscripts/direct.gdb", path), 0);
        bool found = access(probe, R_OK) == 0;
        free(probe);
        if (found)
                return path;
        free(path);
        return strdup(AP_SOURCE_ROOT);
}

/* ---- system calls and the guard ------------------------------------------ */

/* The blocking system calls a parked thread may sit in (backend.c), by their
 * names in the kernel's own table. */
static const long parked_calls[] = {
        SYS_read,       SYS_poll,          SYS_readv,
        SYS_select,     SYS_pause,         SYS_nanosleep,
        SYS_accept,     SYS_recvfrom,      SYS_recvmsg,
        SYS_wait4,      SYS_rt_sigsuspend, SYS_rt_sigtimedwait,
        SYS_epoll_wait, SYS_waitid,        SYS_clock_nanosleep,
        SYS_pselect6,   SYS_ppoll,         SYS_epoll_pwait,
        SYS_accept4,    SYS_recvmmsg,      441 /* SYS_epoll_pwait2, newer than some headers */,
};

START_TEST(test_parked_syscall_kinds) {
        /* Every listed wait and nothing else; futex only for FUTEX; ANY is
         * any system call number (not -1: a thread running user code). */
        for (long nr = -1; nr < 512; nr++) {
                bool listed = false;
                for (size_t i = 0; i < AP_ARRAY_SIZE(parked_calls); i++)
                        listed |= parked_calls[i] == nr;
                ck_assert_msg(ap_parked_syscall(AP_PARKED_WAITS, nr) == listed, "WAITS %ld", nr);
                /* restart_syscall: a timed wait the attach interrupted,
                 * its kind unknown: counted as a futex wait. */
                ck_assert_msg(ap_parked_syscall(AP_PARKED_FUTEX, nr) ==
                                      (nr == SYS_futex || nr == SYS_restart_syscall),
                              "FUTEX %ld", nr);
                ck_assert_msg(ap_parked_syscall(AP_PARKED_ANY, nr) == (nr >= 0), "ANY %ld", nr);
        }
        /* A thread waiting for a lock may hold another: futex is never a
         * parked wait, nor are calls that may take loader or libc locks. */
        ck_assert(!ap_parked_syscall(AP_PARKED_WAITS, SYS_futex));
        ck_assert(!ap_parked_syscall(AP_PARKED_WAITS, SYS_mmap));
        ck_assert(!ap_parked_syscall(AP_PARKED_WAITS, SYS_openat));
        ck_assert(!ap_parked_syscall(AP_PARKED_WAITS, SYS_write));
}
END_TEST

START_TEST(test_thread_guard_text) {
        ap_parked_thread t = {
                .index = 3, .tid = 77, .nr = 230, .sp = 0x7ffc12345678, .pc = 0x7f00deadbeef};
        char *g = ap_thread_guard(&t);
        ck_assert_ptr_nonnull(g);
        /* Exactly as gdb and lldb read it: the return register holds one of
         * -ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND,
         * -ERESTART_RESTARTBLOCK, -EINTR (compared as a signed long), and
         * the stack pointer and pc are those /proc showed. */
        ck_assert_str_eq(g,
                         "(((long) $rax == -512 || (long) $rax == -513 || (long) $rax == -514 || "
                         "(long) $rax == -516 || (long) $rax == -4) && $rsp == 0x7ffc12345678 && "
                         "$pc == 0x7f00deadbeef)");
        ck_assert(ap_template_value_ok(g));
        free(g);
        /* Full 64-bit values, lower-case hex, no truncation. */
        t.sp = 0xffffffffffffff00;
        t.pc = 0x1;
        g = ap_thread_guard(&t);
        ck_assert_ptr_nonnull(g);
        ck_assert_msg(strstr(g, "$rsp == 0xffffffffffffff00 && $pc == 0x1)"), "%s", g);
        free(g);
}
END_TEST

/* Parse "(R == a || R == b ...)" at *p into numbers (R may be "(long) $rax");
 * advance *p. */
static size_t parse_clause(const char **p, const char *reg, long *nums, size_t max) {
        ck_assert_msg(**p == '(', "expected ( at: %.40s", *p);
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
                ck_assert_msg(**p == ')', "expected ) at: %.40s", *p);
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

/* "((RET == codes...) && (NR == calls...))": the restart codes and exactly
 * the listed calls. */
static void check_parked(const char *cond, const char *ret_reg, const char *nr_reg) {
        const char *p = cond;
        long rets[16], nrs[64];
        ck_assert_msg(*p == '(', "%s", cond);
        p++;
        size_t n_rets = parse_clause(&p, ret_reg, rets, 16);
        ck_assert_msg(strncmp(p, " && ", 4) == 0, "expected ' && ' at: %.40s", p);
        p += 4;
        size_t n_nrs = parse_clause(&p, nr_reg, nrs, 64);
        ck_assert_msg(strcmp(p, ")") == 0, "trailing text: %s", p);
        static const long want_rets[] = {-512, -513, -514, -516, -EINTR};
        ck_assert_uint_eq(n_rets, AP_ARRAY_SIZE(want_rets));
        for (size_t i = 0; i < AP_ARRAY_SIZE(want_rets); i++)
                ck_assert_msg(contains(rets, n_rets, want_rets[i]), "%ld missing", want_rets[i]);
        ck_assert_uint_eq(n_nrs, AP_ARRAY_SIZE(parked_calls));
        for (size_t i = 0; i < AP_ARRAY_SIZE(parked_calls); i++)
                ck_assert_msg(contains(nrs, n_nrs, parked_calls[i]), "system call %ld missing",
                              parked_calls[i]);
        ck_assert(!contains(nrs, n_nrs, SYS_futex));
        for (size_t i = 0; i < n_nrs; i++)
                for (size_t j = i + 1; j < n_nrs; j++)
                        ck_assert_msg(nrs[i] != nrs[j], "system call %ld listed twice", nrs[i]);
}

START_TEST(test_parked_condition) {
        char *c = ap_parked_condition(AP_PARKED_WAITS, "$rax", "$orig_rax");
        ck_assert_ptr_nonnull(c);
        check_parked(c, "(long) $rax", "$orig_rax");
        ck_assert(ap_template_value_ok(c));
        ck_assert_msg(strncmp(c, "(((long) $rax == -512 || (long) $rax == -513 || ", 47) == 0, "%s",
                      c);
        free(c);
        c = ap_parked_condition(AP_PARKED_WAITS, "$x0", "$x8");
        ck_assert_ptr_nonnull(c);
        check_parked(c, "(long) $x0", "$x8");
        ck_assert_ptr_null(strstr(c, "rax"));
        free(c);
        c = ap_parked_condition(AP_PARKED_FUTEX, "$rax", "$orig_rax");
        ck_assert_ptr_nonnull(c);
        ck_assert_str_eq(c,
                         "(((long) $rax == -512 || (long) $rax == -513 || (long) $rax == -514 || "
                         "(long) $rax == -516 || (long) $rax == -4) && ($orig_rax == 202 || "
                         "$orig_rax == 219))");
        free(c);
}
END_TEST

START_TEST(test_plan_guard_and_faults) {
        ap_target t = fake_target();
        ap_injection_plan plan;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_injection_plan_init(&plan, &t, AGENT, SESSION, &err), 0);
        /* No thread: the backend's own "first thread" expression. */
        char *g = ap_plan_guard(&plan, "$_thread == 1");
        ck_assert_str_eq(g, "$_thread == 1");
        free(g);
        plan.have_thread = true;
        plan.thread = (ap_parked_thread){.index = 1, .tid = 9, .nr = 0, .sp = 0x1000, .pc = 0x2000};
        g = ap_plan_guard(&plan, "1");
        char *want = ap_thread_guard(&plan.thread);
        ck_assert_str_eq(g, want);
        free(g);
        /* The "moved" fault: the first attempt's guard can never hold (a
         * stack pointer off by 8), the retry's is the real one. */
        plan.faults.moved = true;
        g = ap_plan_guard(&plan, "1");
        ck_assert_str_ne(g, want);
        ck_assert_msg(strstr(g, "$rsp == 0x1008"), "%s", g);
        free(g);
        plan.attempt = 1;
        g = ap_plan_guard(&plan, "1");
        ck_assert_str_eq(g, want);
        free(g);
        plan.attempt = 0;
        plan.have_thread = false;
        g = ap_plan_guard(&plan, "1");
        ck_assert_str_eq(g, "0");
        free(g);
        free(want);
        /* The check value: the file's bytes, or (wrong-code) other bytes. */
        ck_assert_uint_eq(ap_plan_check_value(&plan), t.check_code);
        plan.faults.wrong_code = true;
        ck_assert_uint_ne(ap_plan_check_value(&plan), t.check_code);
}
END_TEST

/* ---- the plan and the common values -------------------------------------- */

static uint64_t word_at(const unsigned char *page, size_t off) {
        uint64_t w;
        memcpy(&w, page + off, sizeof w);
        return w;
}

START_TEST(test_plan_page_layout) {
        ap_target t = fake_target();
        ap_injection_plan plan;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_injection_plan_init(&plan, &t, AGENT, SESSION, &err), 0);
        ck_assert_ptr_eq(plan.target, &t);
        ck_assert(!plan.have_thread);
        /* The whole page, byte for byte: the three strings, the trampoline's
         * code at 3072, the four addresses it calls, and zeros elsewhere
         * (state QUEUED, cancel 0, detail 0). */
        unsigned char want[AP_PAGE_SIZE] = {0};
        memcpy(want + 0, AGENT, strlen(AGENT));
        memcpy(want + 2048, "attachpy_agent_start_v1", 23);
        memcpy(want + 2304, SESSION, strlen(SESSION));
        extern const unsigned char ap_trampoline_code[];
        memcpy(want + 3072, ap_trampoline_code, ap_trampoline_size());
        uint64_t slots[] = {t.addr_dlopen, t.addr_dlsym, t.addr_dlerror, t.addr_munmap};
        memcpy(want + 3584, slots, sizeof slots);
        ck_assert(memcmp(plan.page, want, AP_PAGE_SIZE) == 0);
        /* The same through page.h's names, in the order trampoline.S reads
         * them. */
        ck_assert_str_eq((const char *)plan.page + AP_PAGE_OFFSET_AGENT, AGENT);
        ck_assert_str_eq((const char *)plan.page + AP_PAGE_OFFSET_SYMBOL, AP_AGENT_ENTRY_SYMBOL);
        ck_assert_str_eq((const char *)plan.page + AP_PAGE_OFFSET_SESSION, SESSION);
        ck_assert_uint_eq(word_at(plan.page, AP_PAGE_SLOT_DLOPEN), 0x7f0000103abc);
        ck_assert_uint_eq(word_at(plan.page, AP_PAGE_SLOT_DLSYM), 0x7f0000104def);
        ck_assert_uint_eq(word_at(plan.page, AP_PAGE_SLOT_DLERROR), 0x7f0000105000);
        ck_assert_uint_eq(word_at(plan.page, AP_PAGE_SLOT_MUNMAP), 0x7f0000102000);
        ck_assert_uint_eq(word_at(plan.page, AP_PAGE_STATE), 0); /* state and cancel */
        ck_assert_uint_eq(word_at(plan.page, AP_PAGE_DETAIL), 0);
        for (size_t off = AP_PAGE_DETAIL + 8; off < AP_PAGE_SIZE; off++)
                ck_assert_msg(plan.page[off] == 0, "byte %zu after the detail word", off);
        /* The layout does not overlap: strings, code, slots, words. */
        ck_assert_int_lt(AP_PAGE_OFFSET_SYMBOL + (int)sizeof AP_AGENT_ENTRY_SYMBOL,
                         AP_PAGE_OFFSET_SESSION);
        ck_assert_int_le(AP_PAGE_OFFSET_CODE + AP_PAGE_CODE_MAX, AP_PAGE_SLOT_DLOPEN);
        ck_assert_int_eq(AP_PAGE_SLOT_DLSYM, AP_PAGE_SLOT_DLOPEN + 8);
        ck_assert_int_eq(AP_PAGE_SLOT_DLERROR, AP_PAGE_SLOT_DLSYM + 8);
        ck_assert_int_eq(AP_PAGE_SLOT_MUNMAP, AP_PAGE_SLOT_DLERROR + 8);
        ck_assert_int_eq(AP_PAGE_STATE, AP_PAGE_SLOT_MUNMAP + 8);
        ck_assert_int_eq(AP_PAGE_CANCEL, AP_PAGE_STATE + 4);
        ck_assert_int_eq(AP_PAGE_DETAIL % 8, 0);
        ck_assert_int_le(AP_PAGE_DETAIL + 8, AP_PAGE_SIZE);
}
END_TEST

START_TEST(test_trampoline_size) {
        size_t n = ap_trampoline_size(), d = ap_trampoline_direct_offset();
        ck_assert_uint_gt(n, 16);
        ck_assert_uint_le(n, AP_PAGE_CODE_MAX);
        /* The direct entry is inside the code, after the pending entry. */
        ck_assert_uint_gt(d, 0);
        ck_assert_uint_lt(d, n);
        extern const unsigned char ap_trampoline_code[];
        /* The pending entry starts "xor %eax,%eax" (report nothing), the
         * direct entry "mov $1,%eax" (report the state). */
        ck_assert_int_eq(ap_trampoline_code[0], 0x31);
        ck_assert_int_eq(ap_trampoline_code[1], 0xc0);
        ck_assert_int_eq(ap_trampoline_code[d], 0xb8);
        ck_assert_int_eq(ap_trampoline_code[d + 1], 1);
        /* It ends in ret (0xc3). */
        ck_assert_int_eq(ap_trampoline_code[n - 1], 0xc3);
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
        const size_t max_session = AP_PAGE_OFFSET_CODE - AP_PAGE_OFFSET_SESSION - 1;

        char *a = string_of(max_agent, 'a'), *s = string_of(max_session, 's');
        ck_assert_int_eq(ap_injection_plan_init(&plan, &t, a, s, &err), 0);
        ck_assert_str_eq((const char *)plan.page + AP_PAGE_OFFSET_AGENT, a); /* NUL kept */
        ck_assert_str_eq((const char *)plan.page + AP_PAGE_OFFSET_SYMBOL, AP_AGENT_ENTRY_SYMBOL);
        ck_assert_int_eq(plan.page[AP_PAGE_OFFSET_CODE - 1], 0);
        /* The longest strings leave the trampoline whole. */
        extern const unsigned char ap_trampoline_code[];
        ck_assert(memcmp(plan.page + AP_PAGE_OFFSET_CODE, ap_trampoline_code,
                         ap_trampoline_size()) == 0);
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

/* The names a list of values holds, each once. */
static void check_names(const ap_script_values *v, const char *const *want, size_t n) {
        ck_assert_uint_eq(v->n, n);
        for (size_t i = 0; i < n; i++)
                value_of(v, want[i]);
        for (size_t i = 0; i < v->n; i++)
                ck_assert_msg(ap_template_value_ok(v->vars[i].value), "%s is not template-safe",
                              v->vars[i].name);
}

static bool has_value(const ap_script_values *v, const char *name) {
        for (size_t i = 0; i < v->n; i++)
                if (strcmp(v->vars[i].name, name) == 0)
                        return true;
        return false;
}

START_TEST(test_values_common_schedule) {
        ap_target t = fake_target();
        ap_injection_plan plan;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_injection_plan_init(&plan, &t, AGENT, SESSION, &err), 0);
        plan.mode = AP_PLAN_SCHEDULE;
        plan.safepoint = "pending";
        ap_script_values v = {0};
        ck_assert_int_eq(ap_script_values_common(&v, &plan), 0);
        static const struct {
                const char *name, *value;
        } want[] = {
                {"pid", "4242"},
                {"addr_mmap", "0x7f0000101000"},
                {"addr_munmap", "0x7f0000102000"},
                {"page_size", "4096"},
                {"check_addr", "0x7f1000001000"},
                {"check_value", "0x8b48c9ff485341f3"},
                {"addr_add_pending_call", "0x7f1000001000"},
                {"offset_code", "3072"},
                {"offset_cancel", "3620"},
        };
        ck_assert_uint_eq(v.n, AP_ARRAY_SIZE(want));
        for (size_t i = 0; i < AP_ARRAY_SIZE(want); i++) {
                ck_assert_str_eq(value_of(&v, want[i].name), want[i].value);
                ck_assert(ap_template_value_ok(want[i].value));
        }
        /* Nothing of the direct call. */
        ck_assert(!has_value(&v, "offset_direct"));
        ck_assert(!has_value(&v, "safepoint"));
        /* Values the session path must never reach: only numbers here. */
        for (size_t i = 0; i < v.n; i++)
                ck_assert_ptr_null(strstr(v.vars[i].value, "/tmp"));
        ap_script_values_free(&v);
        ck_assert_uint_eq(v.n, 0);
        ap_script_values_free(&v);
        ap_script_values_free(NULL);
}
END_TEST

START_TEST(test_values_common_direct) {
        ap_target t = fake_target();
        ap_injection_plan plan;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_injection_plan_init(&plan, &t, AGENT, SESSION, &err), 0);
        plan.mode = AP_PLAN_DIRECT;
        plan.safepoint = "futex";
        plan.have_thread = true;
        plan.thread =
                (ap_parked_thread){.index = 2, .tid = 4243, .nr = 202, .sp = 0x10, .pc = 0x20};
        ap_script_values v = {0};
        ck_assert_int_eq(ap_script_values_common(&v, &plan), 0);
        char direct[32];
        snprintf(direct, sizeof direct, "%zu", 3072 + ap_trampoline_direct_offset());
        const struct {
                const char *name, *value;
        } want[] = {
                {"pid", "4242"},
                {"addr_mmap", "0x7f0000101000"},
                {"addr_munmap", "0x7f0000102000"},
                {"page_size", "4096"},
                {"check_addr", "0x7f1000001000"},
                {"check_value", "0x8b48c9ff485341f3"},
                {"safepoint", "futex"},
                {"offset_direct", direct},
                {"offset_detail", "3624"},
                {"state_dlopen_failed", "2"},
                {"state_dlsym_failed", "3"},
                {"state_entry_failed", "4"},
        };
        ck_assert_uint_eq(v.n, AP_ARRAY_SIZE(want));
        for (size_t i = 0; i < AP_ARRAY_SIZE(want); i++)
                ck_assert_str_eq(value_of(&v, want[i].name), want[i].value);
        ck_assert(!has_value(&v, "addr_add_pending_call"));
        ck_assert(!has_value(&v, "offset_code"));
        ap_script_values_free(&v);
}
END_TEST

START_TEST(test_values_pauses) {
        ap_target t = fake_target();
        ap_injection_plan plan;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_injection_plan_init(&plan, &t, AGENT, SESSION, &err), 0);
        static const char *const names[] = {"pause_attached", "pause_thread", "pause_mapped",
                                            "pause_written", "pause_called"};
        /* No fault: five comments, one per step. */
        ap_script_values v = {0};
        ck_assert_int_eq(ap_script_values_pauses(&v, &plan, ap_backend_gdb.pause), 0);
        check_names(&v, names, AP_ARRAY_SIZE(names));
        for (size_t i = 0; i < v.n; i++)
                ck_assert_msg(strncmp(v.vars[i].value, "# step ", 7) == 0, "%s: %s", v.vars[i].name,
                              v.vars[i].value);
        ap_script_values_free(&v);
        /* pause-after:mapped: the backend's two commands there, only. */
        plan.faults.pause_after = AP_STEP_MAPPED;
        ck_assert_int_eq(ap_script_values_pauses(&v, &plan, ap_backend_gdb.pause), 0);
        ck_assert_str_eq(value_of(&v, "pause_mapped"),
                         "shell echo @@ATTACHPY:paused mapped\nshell sleep 3");
        ck_assert_str_eq(value_of(&v, "pause_called"), "# step called");
        ap_script_values_free(&v);
        ck_assert_int_eq(ap_script_values_pauses(&v, &plan, ap_backend_lldb.pause), 0);
        ck_assert_str_eq(value_of(&v, "pause_mapped"),
                         "platform shell echo @@ATTACHPY:paused mapped\nplatform shell sleep 3");
        ap_script_values_free(&v);
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
        ck_assert_int_eq(ap_backend_gdb.values(&g.v, &g.plan), 0);
        check_names(&g.v, names, AP_ARRAY_SIZE(names));
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
                                 3072 + ap_trampoline_direct_offset());
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
                                   "0x7f1000001000)((char *) $attachpy_page + 3072, "
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
                                   "0x7f1000001000)((char *) $attachpy_page + 3072, "
                                   "$attachpy_page)",
                                   file);
                }
                free(script);
        }
}
END_TEST

/* ---- environment and selection --------------------------------------------- */

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

START_TEST(test_plan_choose_stopped) {
        /* The plan chosen while the debugger holds the process stopped:
         * from /proc now.  A child in pause(): its main thread is parked. */
        pid_t child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
                for (;;)
                        pause();
        }
        ap_target t = fake_target();
        t.pid = child;
        ap_injection_plan plan;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_injection_plan_init(&plan, &t, AGENT, SESSION, &err), 0);
        ap_parked_thread seen = {0};
        int found = 0;
        for (int i = 0; i < 200 && found != 1; i++) {
                found = ap_find_parked_thread(child, AP_PARKED_WAITS, &seen);
                usleep(5000);
        }
        int any = ap_plan_choose_stopped(&plan, AP_WANT_ANY, NULL, AP_PARKED_WAITS);
        ap_plan_mode any_mode = plan.mode;
        pid_t any_tid = plan.thread.tid;
        /* The waiter a withdrawn call chose, still where it was: taken. */
        int same = ap_plan_choose_stopped(&plan, AP_WANT_WAITER, &seen, AP_PARKED_WAITS);
        int same_index = plan.thread.index;
        /* A waiter that is not where it was (another stack): a thread
         * parked in a blocking call is as good (the same one, here). */
        ap_parked_thread elsewhere = seen;
        elsewhere.sp += 8;
        int other = ap_plan_choose_stopped(&plan, AP_WANT_WAITER, &elsewhere, AP_PARKED_WAITS);
        ap_parked_kind other_kind = plan.kind;
        /* Asked to schedule: schedule, the calls in the parked thread. */
        int sched = ap_plan_choose_stopped(&plan, AP_WANT_SCHEDULE, NULL, AP_PARKED_WAITS);
        ap_plan_mode sched_mode = plan.mode;
        bool sched_thread = plan.have_thread;
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        ck_assert_int_eq(found, 1);
        ck_assert_int_eq(any, 1);
        ck_assert_int_eq(any_mode, AP_PLAN_DIRECT);
        ck_assert_int_eq(any_tid, child);
        ck_assert_int_eq(same, 1);
        ck_assert_int_eq(same_index, 1);
        ck_assert_int_eq(other, 1);
        ck_assert_int_eq(other_kind, AP_PARKED_WAITS);
        ck_assert_int_eq(sched, 1);
        ck_assert_int_eq(sched_mode, AP_PLAN_SCHEDULE);
        ck_assert(sched_thread);
        /* A process that is gone: nothing fits (PyPy's case too). */
        t.pid = 0x7ffffff0;
        t.addr_add_pending_call = 0;
        ck_assert_int_eq(ap_injection_plan_init(&plan, &t, AGENT, SESSION, &err), 0);
        ck_assert_int_eq(ap_plan_choose_stopped(&plan, AP_WANT_ANY, NULL, AP_PARKED_WAITS), 0);
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

/* ---- the plan's choice, from /proc ------------------------------------------ */

/* Children of the test: they die with it (PR_SET_PDEATHSIG, alarm) even when
 * an assertion ends the test before it kills them by pid. */
static void child_guard(void) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        alarm(60);
}

static void end_child(pid_t pid) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
}

static volatile unsigned long spin_counter;

static void spin_forever(void) {
        for (;;)
                spin_counter++;
}

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;

static void *lock_waiter(void *arg) {
        (void)arg;
        pthread_mutex_lock(&held); /* blocks in a futex wait for ever */
        return NULL;
}

/* A child whose main thread spins; with_waiter: and whose second thread
 * waits for a lock.  Returns once /proc shows it so. */
static pid_t spinning_child(bool with_waiter) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                child_guard();
                if (with_waiter) {
                        pthread_mutex_lock(&held);
                        pthread_t th;
                        if (pthread_create(&th, NULL, lock_waiter, NULL) != 0)
                                _exit(3);
                }
                spin_forever();
        }
        if (with_waiter) {
                ap_parked_thread t;
                int found = 0;
                for (int i = 0; i < 400 && found != 1; i++) {
                        found = ap_find_parked_thread(pid, AP_PARKED_FUTEX, &t);
                        if (found != 1)
                                usleep(5000);
                }
                if (found != 1)
                        end_child(pid);
                ck_assert_int_eq(found, 1);
        }
        return pid;
}

static void *pause_forever(void *arg) {
        (void)arg;
        for (;;)
                pause();
        return NULL;
}

/* A child whose main thread waits in pthread_join (a futex) for a thread
 * that sits in pause(). */
static pid_t joining_child(void) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                child_guard();
                pthread_t th;
                if (pthread_create(&th, NULL, pause_forever, NULL) != 0)
                        _exit(3);
                pthread_join(th, NULL);
                _exit(0);
        }
        /* Both threads where we want them. */
        ap_parked_thread t, f;
        for (int i = 0; i < 400; i++) {
                if (ap_find_parked_thread(pid, AP_PARKED_WAITS, &t) == 1 &&
                    ap_find_parked_thread(pid, AP_PARKED_FUTEX, &f) == 1 && f.tid == pid)
                        return pid;
                usleep(5000);
        }
        end_child(pid);
        ck_abort_msg("the joining child never settled");
        return -1;
}

/* A child whose main thread, and with_second a second thread, sit in
 * pause(); returns once /proc shows every thread there. */
static pid_t pausing_child_of(bool with_second) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                child_guard();
                pthread_t th;
                if (with_second && pthread_create(&th, NULL, pause_forever, NULL) != 0)
                        _exit(3);
                for (;;)
                        pause();
        }
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
        for (int i = 0; i < 400; i++) {
                ap_parked_thread t;
                int tasks = 0;
                DIR *d = opendir(path);
                struct dirent *e;
                while (d && (e = readdir(d)))
                        tasks += e->d_name[0] != '.';
                if (d)
                        closedir(d);
                if (tasks == (with_second ? 2 : 1) &&
                    ap_find_parked_thread(pid, AP_PARKED_WAITS, &t) == 1 && t.tid == pid)
                        return pid;
                usleep(5000);
        }
        end_child(pid);
        ck_abort_msg("the pausing child never paused");
        return -1;
}

static pid_t pausing_child(void) { return pausing_child_of(false); }

static void plan_of(ap_injection_plan *plan, ap_target *t, pid_t pid) {
        *t = fake_target();
        t->pid = pid;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_injection_plan_init(plan, t, AGENT, SESSION, &err), 0);
}

START_TEST(test_plan_choose_avoids_moved_thread) {
        /* A thread that was not where attachpy saw it (a main loop that
         * ticks) is chosen last on the next attempt: another parked thread
         * first, for the direct call and for the scheduled plan's calls. */
        pid_t pid = pausing_child_of(true);
        ap_target t;
        ap_injection_plan any, sched, waiter, plain;
        plan_of(&any, &t, pid);
        any.avoid_tid = pid;
        sched = waiter = any;
        plain = any;
        plain.avoid_tid = 0;
        int r = ap_plan_choose(&any, AP_WANT_ANY);
        int rs = ap_plan_choose(&sched, AP_WANT_SCHEDULE);
        int rw = ap_plan_choose(&waiter, AP_WANT_WAITER);
        int rp = ap_plan_choose(&plain, AP_WANT_ANY);
        end_child(pid);
        ck_assert_int_eq(r, 1);
        ck_assert_int_eq(any.mode, AP_PLAN_DIRECT);
        ck_assert(any.have_thread);
        ck_assert_int_ne(any.thread.tid, pid);
        ck_assert_int_eq(any.thread.index, 2);
        ck_assert_int_eq(rs, 1);
        ck_assert_int_eq(sched.mode, AP_PLAN_SCHEDULE);
        ck_assert(sched.have_thread);
        ck_assert_int_ne(sched.thread.tid, pid);
        ck_assert_int_eq(rw, 1);
        ck_assert_int_ne(waiter.thread.tid, pid);
        /* Nothing to avoid: the main thread first, as always. */
        ck_assert_int_eq(rp, 1);
        ck_assert_int_eq(plain.thread.tid, pid);

        /* The only thread that waits is the one to avoid: it is taken. */
        pid = pausing_child();
        ap_injection_plan only;
        plan_of(&only, &t, pid);
        only.avoid_tid = pid;
        int ro = ap_plan_choose(&only, AP_WANT_ANY);
        end_child(pid);
        ck_assert_int_eq(ro, 1);
        ck_assert_int_eq(only.mode, AP_PLAN_DIRECT);
        ck_assert_int_eq(only.thread.tid, pid);
}
END_TEST

START_TEST(test_plan_choose_parked) {
        pid_t pid = pausing_child();
        ap_target t;
        ap_injection_plan any, sched, waiter;
        plan_of(&any, &t, pid);
        sched = waiter = any;
        int r = ap_plan_choose(&any, AP_WANT_ANY);
        int rs = ap_plan_choose(&sched, AP_WANT_SCHEDULE);
        int rw = ap_plan_choose(&waiter, AP_WANT_WAITER);
        end_child(pid);
        /* Direct, in the main thread parked in pause(). */
        ck_assert_int_eq(r, 1);
        ck_assert_int_eq(any.mode, AP_PLAN_DIRECT);
        ck_assert_str_eq(any.safepoint, "parked");
        ck_assert_int_eq(any.kind, AP_PARKED_WAITS);
        ck_assert(any.have_thread);
        ck_assert_int_eq(any.thread.tid, pid);
        ck_assert_int_eq(any.thread.index, 1);
        ck_assert_int_eq(any.thread.nr, SYS_pause);
        /* Told to schedule (the direct plan's thread moved): scheduled,
         * with the calls made in that thread. */
        ck_assert_int_eq(rs, 1);
        ck_assert_int_eq(sched.mode, AP_PLAN_SCHEDULE);
        ck_assert_str_eq(sched.safepoint, "pending");
        ck_assert(sched.have_thread);
        ck_assert_int_eq(sched.thread.tid, pid);
        /* A waiter: the parked thread too. */
        ck_assert_int_eq(rw, 1);
        ck_assert_int_eq(waiter.mode, AP_PLAN_DIRECT);
        ck_assert_str_eq(waiter.safepoint, "parked");
}
END_TEST

START_TEST(test_plan_choose_schedule_main) {
        /* Nothing in a system call: schedule, the calls in the main thread;
         * and no waiter to fall back to. */
        pid_t pid = spinning_child(false);
        usleep(20000);
        ap_target t;
        ap_injection_plan plan, waiter;
        plan_of(&plan, &t, pid);
        waiter = plan;
        int r = ap_plan_choose(&plan, AP_WANT_ANY);
        int rw = ap_plan_choose(&waiter, AP_WANT_WAITER);
        end_child(pid);
        ck_assert_int_eq(r, 1);
        ck_assert_int_eq(plan.mode, AP_PLAN_SCHEDULE);
        ck_assert_str_eq(plan.safepoint, "pending");
        ck_assert(!plan.have_thread);
        ck_assert_int_eq(rw, 0);
        ck_assert(!waiter.have_thread);
}
END_TEST

START_TEST(test_plan_choose_futex) {
        /* The main thread runs, a second thread waits for a lock. */
        pid_t pid = spinning_child(true);
        ap_target t;
        ap_injection_plan plan, fut;
        plan_of(&plan, &t, pid);
        fut = plan;
        int r = ap_plan_choose(&plan, AP_WANT_ANY);
        int rf = ap_plan_choose(&fut, AP_WANT_WAITER);
        end_child(pid);
        /* First: schedule, with the calls made in the waiting thread (it is
         * in a system call, so in no critical section). */
        ck_assert_int_eq(r, 1);
        ck_assert_int_eq(plan.mode, AP_PLAN_SCHEDULE);
        ck_assert_str_eq(plan.safepoint, "pending");
        ck_assert(plan.have_thread);
        ck_assert_int_ne(plan.thread.tid, pid);
        ck_assert_int_eq(plan.thread.index, 2);
        ck_assert_int_eq(plan.thread.nr, SYS_futex);
        /* The fallback: call directly in the futex waiter. */
        ck_assert_int_eq(rf, 1);
        ck_assert_int_eq(fut.mode, AP_PLAN_DIRECT);
        ck_assert_str_eq(fut.safepoint, "futex");
        ck_assert_int_eq(fut.kind, AP_PARKED_FUTEX);
        ck_assert(fut.have_thread);
        ck_assert_int_eq(fut.thread.tid, plan.thread.tid);
        ck_assert_int_eq(fut.thread.nr, SYS_futex);
        ck_assert(fut.thread.sp != 0 && fut.thread.pc != 0);
}
END_TEST

START_TEST(test_plan_choose_main_first) {
        /* The main thread waits in a join (futex), another thread sits in
         * pause().  Any: the parked thread.  A waiter: the main thread
         * first, in its futex wait. */
        pid_t pid = joining_child();
        ap_target t;
        ap_injection_plan any, waiter;
        plan_of(&any, &t, pid);
        waiter = any;
        int r = ap_plan_choose(&any, AP_WANT_ANY);
        int rw = ap_plan_choose(&waiter, AP_WANT_WAITER);
        end_child(pid);
        ck_assert_int_eq(r, 1);
        ck_assert_int_eq(any.mode, AP_PLAN_DIRECT);
        ck_assert_str_eq(any.safepoint, "parked");
        ck_assert_int_ne(any.thread.tid, pid);
        ck_assert_int_eq(any.thread.nr, SYS_pause);
        ck_assert_int_eq(rw, 1);
        ck_assert_int_eq(waiter.mode, AP_PLAN_DIRECT);
        ck_assert_str_eq(waiter.safepoint, "futex");
        ck_assert_int_eq(waiter.kind, AP_PARKED_FUTEX);
        ck_assert_int_eq(waiter.thread.tid, pid);
        ck_assert_int_eq(waiter.thread.index, 1);
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
        tcase_add_test(tc, test_parked_syscall_kinds);
        tcase_add_test(tc, test_thread_guard_text);
        tcase_add_test(tc, test_parked_condition);
        tcase_add_test(tc, test_plan_guard_and_faults);
        tcase_add_test(tc, test_plan_page_layout);
        tcase_add_test(tc, test_trampoline_size);
        tcase_add_test(tc, test_plan_length_limits);
        tcase_add_test(tc, test_values_common_schedule);
        tcase_add_test(tc, test_values_common_direct);
        tcase_add_test(tc, test_values_pauses);
        tcase_add_test(tc, test_values_limit);
        suite_add_tcase(s, tc);

        tc = tcase_create("choose");
        tcase_set_timeout(tc, 20);
        tcase_add_test(tc, test_plan_choose_parked);
        tcase_add_test(tc, test_plan_choose_avoids_moved_thread);
        tcase_add_test(tc, test_plan_choose_schedule_main);
        tcase_add_test(tc, test_plan_choose_futex);
        tcase_add_test(tc, test_plan_choose_main_first);
        tcase_add_test(tc, test_find_parked_thread_errors);
        tcase_add_test(tc, test_plan_choose_stopped);
        suite_add_tcase(s, tc);

        tc = tcase_create("scripts");
        tcase_add_test(tc, test_gdb_table);
        tcase_add_test(tc, test_gdb_argv);
        tcase_add_test(tc, test_gdb_values_names);
        tcase_add_test(tc, test_gdb_go);
        tcase_add_test(tc, test_lldb_values_names);
        tcase_add_test(tc, test_gdb_page_file);
        tcase_add_test(tc, test_plan_set_cancel);
        tcase_add_test(tc, test_lldb_page_writes);
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
