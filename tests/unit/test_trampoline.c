/* test_trampoline.c: run the trampoline (cli/trampoline.S) in this process.
 *
 * A plan's page is copied into an executable page of the test; its slots
 * point at fake dlopen, dlsym, dlerror and munmap functions that record how
 * they were called.  Both entries are called as "int f(void *page)", as
 * Py_AddPendingCall (pending, at +0) and the debugger (direct) call them,
 * through a wrapper that also checks the callee-saved registers the
 * trampoline uses.  The cancel word's three values (cli/page.h): armed,
 * not armed yet, withdrawn. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "backend.h"
#include "page.h"
#include "util.h"

/* ---- the fakes ---------------------------------------------------------------- */

static struct {
        int dlopen_calls, dlsym_calls, dlerror_calls, entry_calls, munmap_calls;
        const char *dlopen_path;
        int dlopen_flags;
        void *dlsym_handle;
        const char *dlsym_name;
        const char *entry_session;
        void *munmap_addr;
        size_t munmap_len;
        /* What they return. */
        bool dlopen_fails, dlsym_fails;
        int entry_rc;
} rec;

static char fake_handle_storage;
static const char fake_dlerror_text[] = "fake.so: cannot open shared object file";

static void *fake_dlopen(const char *path, int flags) {
        rec.dlopen_calls++;
        rec.dlopen_path = path;
        rec.dlopen_flags = flags;
        return rec.dlopen_fails ? NULL : &fake_handle_storage;
}

static int fake_entry(const char *session) {
        rec.entry_calls++;
        rec.entry_session = session;
        return rec.entry_rc;
}

static void *fake_dlsym(void *handle, const char *name) {
        rec.dlsym_calls++;
        rec.dlsym_handle = handle;
        rec.dlsym_name = name;
        return rec.dlsym_fails ? NULL : (void *)(uintptr_t)fake_entry;
}

static char *fake_dlerror(void) {
        rec.dlerror_calls++;
        return (char *)fake_dlerror_text;
}

static int fake_munmap(void *addr, size_t len) {
        rec.munmap_calls++;
        rec.munmap_addr = addr;
        rec.munmap_len = len;
        return 0;
}

/* ---- the page ----------------------------------------------------------------- */

#define AGENT "/opt/attachpy/attachpy-agent.so"
#define SESSION "/tmp/attachpy-TrAmP0"

static ap_target target;

/* A fresh executable page holding a plan's page whose slots are the fakes. */
static unsigned char *make_page(void) {
        memset(&target, 0, sizeof target);
        target.pid = 1;
        target.addr_dlopen = (uint64_t)(uintptr_t)fake_dlopen;
        target.addr_dlsym = (uint64_t)(uintptr_t)fake_dlsym;
        target.addr_dlerror = (uint64_t)(uintptr_t)fake_dlerror;
        target.addr_munmap = (uint64_t)(uintptr_t)fake_munmap;
        ap_injection_plan plan;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_injection_plan_init(&plan, &target, AGENT, SESSION, &err), 0);
        void *p = mmap(NULL, AP_PAGE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ck_assert_msg(p != MAP_FAILED, "mmap RWX: %m");
        memcpy(p, plan.page, AP_PAGE_SIZE);
        memset(&rec, 0, sizeof rec);
        return p;
}

static int32_t state_of(const unsigned char *page) {
        int32_t v;
        memcpy(&v, page + AP_PAGE_STATE, sizeof v);
        return v;
}

static int64_t detail_of(const unsigned char *page) {
        int64_t v;
        memcpy(&v, page + AP_PAGE_DETAIL, sizeof v);
        return v;
}

/* Call fn(page) on a 16-byte aligned stack, with known values in rbx and
 * r12 (the callee-saved registers the trampoline uses), and check that they
 * come back. */
static int call_entry(const unsigned char *page, size_t offset) {
        void *fn = (void *)(page + AP_PAGE_OFFSET_CODE + offset);
        void *arg = (void *)page;
        int ret;
        unsigned long rbx_after, r12_after;
        __asm__ volatile("movq %%rsp, %%r13\n\t"
                         "subq $256, %%rsp\n\t" /* past the red zone */
                         "andq $-16, %%rsp\n\t"
                         "movabsq $0x1122334455667788, %%rbx\n\t"
                         "movabsq $0x0badc0de0badf00d, %%r12\n\t"
                         "call *%[fn]\n\t"
                         "movq %%r13, %%rsp\n\t"
                         "movq %%rbx, %[b]\n\t"
                         "movq %%r12, %[c]\n\t"
                         : "=a"(ret), [b] "=&m"(rbx_after), [c] "=&m"(r12_after), "+D"(arg)
                         : [fn] "r"(fn)
                         : "rbx", "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "r12", "r13",
                           "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                           "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory",
                           "cc");
        ck_assert_msg(rbx_after == 0x1122334455667788UL, "rbx not preserved: %#lx", rbx_after);
        ck_assert_msg(r12_after == 0x0badc0de0badf00dUL, "r12 not preserved: %#lx", r12_after);
        return ret;
}

static int call_pending(const unsigned char *page) { return call_entry(page, 0); }

static int call_direct(const unsigned char *page) {
        return call_entry(page, ap_trampoline_direct_offset());
}

static void drop_page(unsigned char *page) { munmap(page, AP_PAGE_SIZE); }

/* ---- tests ---------------------------------------------------------------------- */

static void check_success(int which) {
        unsigned char *page = make_page();
        int r = which ? call_direct(page) : call_pending(page);
        ck_assert_int_eq(r, 0);
        /* dlopen(agent, RTLD_NOW) */
        ck_assert_int_eq(rec.dlopen_calls, 1);
        ck_assert_ptr_eq(rec.dlopen_path, page + AP_PAGE_OFFSET_AGENT);
        ck_assert_str_eq(rec.dlopen_path, AGENT);
        ck_assert_int_eq(rec.dlopen_flags, 2);
        /* dlsym(handle, "attachpy_agent_start_v1") */
        ck_assert_int_eq(rec.dlsym_calls, 1);
        ck_assert_ptr_eq(rec.dlsym_handle, &fake_handle_storage);
        ck_assert_ptr_eq(rec.dlsym_name, page + AP_PAGE_OFFSET_SYMBOL);
        ck_assert_str_eq(rec.dlsym_name, AP_AGENT_ENTRY_SYMBOL);
        /* entry(session) */
        ck_assert_int_eq(rec.entry_calls, 1);
        ck_assert_ptr_eq(rec.entry_session, page + AP_PAGE_OFFSET_SESSION);
        ck_assert_str_eq(rec.entry_session, SESSION);
        ck_assert_int_eq(rec.dlerror_calls, 0);
        /* ... and munmap(page, 4096) last. */
        ck_assert_int_eq(rec.munmap_calls, 1);
        ck_assert_ptr_eq(rec.munmap_addr, page);
        ck_assert_uint_eq(rec.munmap_len, AP_PAGE_SIZE);
        ck_assert_int_eq(state_of(page), AP_TRAMPOLINE_RUNNING);
        ck_assert_int_eq(detail_of(page), 0);
        drop_page(page);
}

START_TEST(test_success_pending) { check_success(0); }
END_TEST

START_TEST(test_success_direct) { check_success(1); }
END_TEST

START_TEST(test_dlopen_failed) {
        for (int which = 0; which < 2; which++) {
                unsigned char *page = make_page();
                rec.dlopen_fails = true;
                int r = which ? call_direct(page) : call_pending(page);
                /* The direct entry reports the state; the pending one
                 * returns 0 (else the interpreter would raise). */
                ck_assert_int_eq(r, which ? AP_TRAMPOLINE_DLOPEN_FAILED : 0);
                ck_assert_int_eq(rec.dlopen_calls, 1);
                ck_assert_int_eq(rec.dlerror_calls, 1);
                ck_assert_int_eq(rec.dlsym_calls, 0);
                ck_assert_int_eq(rec.entry_calls, 0);
                ck_assert_int_eq(rec.munmap_calls, 0); /* the page says what failed */
                ck_assert_int_eq(state_of(page), AP_TRAMPOLINE_DLOPEN_FAILED);
                ck_assert(detail_of(page) == (int64_t)(uintptr_t)fake_dlerror_text);
                drop_page(page);
        }
}
END_TEST

START_TEST(test_dlsym_failed) {
        for (int which = 0; which < 2; which++) {
                unsigned char *page = make_page();
                rec.dlsym_fails = true;
                int r = which ? call_direct(page) : call_pending(page);
                ck_assert_int_eq(r, which ? AP_TRAMPOLINE_DLSYM_FAILED : 0);
                ck_assert_int_eq(rec.dlopen_calls, 1);
                ck_assert_int_eq(rec.dlsym_calls, 1);
                ck_assert_int_eq(rec.entry_calls, 0);
                ck_assert_int_eq(rec.dlerror_calls, 0);
                ck_assert_int_eq(rec.munmap_calls, 0);
                ck_assert_int_eq(state_of(page), AP_TRAMPOLINE_DLSYM_FAILED);
                ck_assert(detail_of(page) == 0);
                drop_page(page);
        }
}
END_TEST

START_TEST(test_entry_failed) {
        /* The entry point's int result lands sign-extended in detail. */
        static const int rcs[] = {-5, -1, 7, INT32_MIN};
        for (size_t i = 0; i < AP_ARRAY_SIZE(rcs); i++)
                for (int which = 0; which < 2; which++) {
                        unsigned char *page = make_page();
                        rec.entry_rc = rcs[i];
                        int r = which ? call_direct(page) : call_pending(page);
                        ck_assert_int_eq(r, which ? AP_TRAMPOLINE_ENTRY_FAILED : 0);
                        ck_assert_int_eq(rec.entry_calls, 1);
                        ck_assert_int_eq(rec.munmap_calls, 0);
                        ck_assert_int_eq(state_of(page), AP_TRAMPOLINE_ENTRY_FAILED);
                        ck_assert_msg(detail_of(page) == (int64_t)rcs[i], "rc %d: detail %lld",
                                      rcs[i], (long long)detail_of(page));
                        drop_page(page);
                }
}
END_TEST

static void set_cancel(unsigned char *page, int32_t v) {
        memcpy(page + AP_PAGE_CANCEL, &v, sizeof v);
}

START_TEST(test_withdrawn) {
        /* attachpy withdrew the call before it ran: nothing but
         * munmap(page). */
        for (int which = 0; which < 2; which++) {
                unsigned char *page = make_page();
                set_cancel(page, AP_CANCEL_WITHDRAWN);
                int r = which ? call_direct(page) : call_pending(page);
                ck_assert_int_eq(r, 0);
                ck_assert_int_eq(rec.dlopen_calls, 0);
                ck_assert_int_eq(rec.dlsym_calls, 0);
                ck_assert_int_eq(rec.entry_calls, 0);
                ck_assert_int_eq(rec.dlerror_calls, 0);
                ck_assert_int_eq(rec.munmap_calls, 1);
                ck_assert_ptr_eq(rec.munmap_addr, page);
                ck_assert_uint_eq(rec.munmap_len, AP_PAGE_SIZE);
                /* It marked the page running before it looked at cancel: the
                 * canceller, reading state after writing cancel, sees it. */
                ck_assert_int_eq(state_of(page), AP_TRAMPOLINE_RUNNING);
                drop_page(page);
        }
}
END_TEST

START_TEST(test_unarmed) {
        /* Queued but never armed (its debugger died first): it calls
         * nothing at all, keeps its page and says so. */
        for (int which = 0; which < 2; which++) {
                unsigned char *page = make_page();
                set_cancel(page, AP_CANCEL_UNARMED);
                int r = which ? call_direct(page) : call_pending(page);
                ck_assert_int_eq(r, which ? AP_TRAMPOLINE_UNARMED : 0);
                ck_assert_int_eq(rec.dlopen_calls + rec.dlsym_calls + rec.entry_calls +
                                         rec.dlerror_calls + rec.munmap_calls,
                                 0);
                ck_assert_int_eq(state_of(page), AP_TRAMPOLINE_UNARMED);
                ck_assert_int_eq(detail_of(page), 0);
                drop_page(page);
        }
}
END_TEST

START_TEST(test_plan_cancel_word) {
        /* ap_plan_set_cancel: a scheduled plan's page starts unarmed, a
         * direct one's armed; the scheduled page run as is does nothing,
         * armed (the script's last step) it loads the agent. */
        unsigned char *page = make_page();
        ap_injection_plan plan;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_injection_plan_init(&plan, &target, AGENT, SESSION, &err), 0);
        plan.mode = AP_PLAN_SCHEDULE;
        ap_plan_set_cancel(&plan);
        memcpy(page, plan.page, AP_PAGE_SIZE);
        ck_assert_int_eq(call_pending(page), 0);
        ck_assert_int_eq(rec.dlopen_calls, 0);
        ck_assert_int_eq(state_of(page), AP_TRAMPOLINE_UNARMED);
        memcpy(page, plan.page, AP_PAGE_SIZE);
        set_cancel(page, AP_CANCEL_ARMED);
        ck_assert_int_eq(call_pending(page), 0);
        ck_assert_int_eq(rec.entry_calls, 1);
        ck_assert_int_eq(rec.munmap_calls, 1);
        memset(&rec, 0, sizeof rec);
        plan.mode = AP_PLAN_DIRECT;
        ap_plan_set_cancel(&plan);
        memcpy(page, plan.page, AP_PAGE_SIZE);
        ck_assert_int_eq(call_direct(page), 0);
        ck_assert_int_eq(rec.entry_calls, 1);
        ck_assert_int_eq(rec.munmap_calls, 1);
        drop_page(page);
}
END_TEST

START_TEST(test_page_independent) {
        /* Position independent: the same bytes work at two addresses. */
        unsigned char *a = make_page();
        unsigned char *b = make_page();
        ck_assert_ptr_ne(a, b);
        ck_assert_int_eq(call_direct(b), 0);
        ck_assert_ptr_eq(rec.munmap_addr, b);
        ck_assert_ptr_eq(rec.entry_session, b + AP_PAGE_OFFSET_SESSION);
        memset(&rec, 0, sizeof rec);
        ck_assert_int_eq(call_direct(a), 0);
        ck_assert_ptr_eq(rec.munmap_addr, a);
        ck_assert_ptr_eq(rec.dlopen_path, a);
        drop_page(a);
        drop_page(b);
}
END_TEST

static Suite *trampoline_suite(void) {
        Suite *s = suite_create("trampoline");
        TCase *tc = tcase_create("run");
        tcase_add_test(tc, test_success_pending);
        tcase_add_test(tc, test_success_direct);
        tcase_add_test(tc, test_dlopen_failed);
        tcase_add_test(tc, test_dlsym_failed);
        tcase_add_test(tc, test_entry_failed);
        tcase_add_test(tc, test_withdrawn);
        tcase_add_test(tc, test_unarmed);
        tcase_add_test(tc, test_plan_cancel_word);
        tcase_add_test(tc, test_page_independent);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(trampoline_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
