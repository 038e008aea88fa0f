/* test_injection_plan.c: the injection plan: its page (layout, length
 * limits, the trampoline), the guard with its faults, and the choice of
 * plan and thread from /proc against real child processes (parked, spinning,
 * joining, waiting in a futex, a thread that moved). */
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
         * code at 2816, the four addresses it calls, and zeros elsewhere
         * (state QUEUED, cancel 0, detail 0). */
        unsigned char want[AP_PAGE_SIZE] = {0};
        memcpy(want + 0, AGENT, strlen(AGENT));
        memcpy(want + 2048, "attachpy_agent_start_v1", 23);
        memcpy(want + 2112, SESSION, strlen(SESSION));
        extern const unsigned char ap_trampoline_code[];
        memcpy(want + 2816, ap_trampoline_code, ap_trampoline_size());
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

static Suite *injection_plan_suite(void) {
        Suite *s = suite_create("injection_plan");
        TCase *tc;
        tc = tcase_create("page");
        tcase_add_test(tc, test_plan_guard_and_faults);
        tcase_add_test(tc, test_plan_page_layout);
        tcase_add_test(tc, test_trampoline_size);
        tcase_add_test(tc, test_plan_length_limits);
        suite_add_tcase(s, tc);
        tc = tcase_create("choose");
        tcase_set_timeout(tc, 20);
        tcase_add_test(tc, test_plan_choose_stopped);
        tcase_add_test(tc, test_plan_choose_avoids_moved_thread);
        tcase_add_test(tc, test_plan_choose_parked);
        tcase_add_test(tc, test_plan_choose_schedule_main);
        tcase_add_test(tc, test_plan_choose_futex);
        tcase_add_test(tc, test_plan_choose_main_first);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(injection_plan_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
