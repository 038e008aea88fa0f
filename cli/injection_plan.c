/* injection_plan.c: how attachpy gets the agent started in a target: the
 * page it writes (paths, trampoline, slots), and the choice between calling
 * in a parked thread and queueing a pending call. */
#include "injection_plan.h"

#include <stdlib.h>
#include <string.h>

/* The trampoline's bytes (trampoline.S). */
extern const unsigned char ap_trampoline_code[], ap_trampoline_code_end[], ap_trampoline_direct[],
        ap_trampoline_slow[];

size_t ap_trampoline_size(void) { return (size_t)(ap_trampoline_code_end - ap_trampoline_code); }

size_t ap_trampoline_slow_offset(void) { return (size_t)(ap_trampoline_slow - ap_trampoline_code); }

size_t ap_trampoline_direct_offset(void) {
        return (size_t)(ap_trampoline_direct - ap_trampoline_code);
}

static void put_u64(unsigned char *page, size_t off, uint64_t v) {
        memcpy(page + off, &v, sizeof v);
}

int ap_injection_plan_init(ap_injection_plan *plan, const ap_target *target, const char *agent_path,
                           const char *session_dir, ap_error *err) {
        memset(plan, 0, sizeof *plan);
        plan->target = target;
        size_t la = strlen(agent_path), ls = strlen(session_dir);
        if (la >= AP_PAGE_OFFSET_SYMBOL - AP_PAGE_OFFSET_AGENT ||
            ls >= AP_PAGE_OFFSET_CODE - AP_PAGE_OFFSET_SESSION)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "the agent or session path is too long (%zu, %zu bytes)", la,
                                    ls);
        memcpy(plan->page + AP_PAGE_OFFSET_AGENT, agent_path, la);
        memcpy(plan->page + AP_PAGE_OFFSET_SYMBOL, AP_AGENT_ENTRY_SYMBOL,
               strlen(AP_AGENT_ENTRY_SYMBOL));
        memcpy(plan->page + AP_PAGE_OFFSET_SESSION, session_dir, ls);
        _Static_assert(AP_PAGE_OFFSET_CODE + AP_PAGE_CODE_MAX <= AP_PAGE_SLOT_DLOPEN,
                       "the trampoline overlaps the slots");
        if (ap_trampoline_size() > AP_PAGE_CODE_MAX)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "the trampoline is too big");
        memcpy(plan->page + AP_PAGE_OFFSET_CODE, ap_trampoline_code, ap_trampoline_size());
        put_u64(plan->page, AP_PAGE_SLOT_DLOPEN, target->addr_dlopen);
        put_u64(plan->page, AP_PAGE_SLOT_DLSYM, target->addr_dlsym);
        put_u64(plan->page, AP_PAGE_SLOT_DLERROR, target->addr_dlerror);
        put_u64(plan->page, AP_PAGE_SLOT_MUNMAP, target->addr_munmap);
        return 0;
}

void ap_plan_use_thread(ap_injection_plan *plan, const ap_parked_thread *t, ap_parked_kind kind) {
        plan->thread = *t;
        plan->have_thread = true;
        plan->mode = AP_PLAN_DIRECT;
        plan->kind = kind;
        plan->safepoint =
                kind == AP_PARKED_FUTEX || kind == AP_PARKED_FUTEX_UNTIMED ? "futex" : "parked";
}

int ap_plan_choose(ap_injection_plan *plan, ap_plan_want want) {
        pid_t pid = plan->target->pid;
        pid_t avoid = plan->avoid_tid;
        plan->have_thread = false;
        plan->mode = AP_PLAN_SCHEDULE;
        plan->safepoint = "pending";
        ap_parked_thread t;
        /* PyPy (no pending call): never a thread in a timed futex wait,
         * which may be its GIL's stealer (parked_thread.h). */
        ap_parked_kind futex_kind =
                plan->target->addr_add_pending_call ? AP_PARKED_FUTEX : AP_PARKED_FUTEX_UNTIMED;
        if (want == AP_WANT_WAITER) {
                /* The scheduled call did not run: the main thread runs no
                 * bytecode.  A thread parked in a blocking call, or one that
                 * has waited in a futex wait since the CLI last looked (a
                 * lock, a join of the program's own), holds no lock of the C
                 * library.  The main thread first: it is the likeliest to
                 * stay where it is. */
                int waits = ap_parked_find(pid, AP_PARKED_WAITS, avoid, &t);
                ap_parked_thread f;
                int futex = ap_parked_find(pid, futex_kind, avoid, &f);
                bool waits_main = waits == 1 && t.tid == pid;
                bool futex_main = futex == 1 && f.tid == pid;
                if (waits == 1 && (waits_main || !futex_main))
                        ap_plan_use_thread(plan, &t, AP_PARKED_WAITS);
                else if (futex == 1)
                        ap_plan_use_thread(plan, &f, futex_kind);
                else
                        return 0;
                return 1;
        }
        if (want == AP_WANT_ANY && ap_parked_find(pid, AP_PARKED_WAITS, avoid, &t) == 1) {
                ap_plan_use_thread(plan, &t, AP_PARKED_WAITS);
                return 1;
        }
        /* A main thread that waits in a futex (a join, a lock, an Event, the
         * GIL) runs no bytecode, so a queued call would wait for it, and a
         * withdrawn one would stay in its queue: call in it directly.  It
         * holds no lock of the C library while it waits. */
        if (want == AP_WANT_ANY && ap_parked_find(pid, futex_kind, avoid, &t) == 1 &&
            t.tid == pid) {
                ap_plan_use_thread(plan, &t, futex_kind);
                return 1;
        }
        /* No pending call to use (PyPy): only a thread that waits will do,
         * any of them. */
        if (!plan->target->addr_add_pending_call) {
                if (want != AP_WANT_WAITER && ap_plan_choose(plan, AP_WANT_WAITER) == 1)
                        return 1;
                plan->mode = AP_PLAN_DIRECT;
                return 0;
        }
        /* Schedule.  The calls (mmap, Py_AddPendingCall) are best made in a
         * thread that sits in a system call: it is in no critical section. */
        if (ap_parked_find(pid, AP_PARKED_ANY, avoid, &plan->thread) == 1)
                plan->have_thread = true;
        return 1;
}

void ap_plan_set_cancel(ap_injection_plan *plan) {
        int32_t c = plan->mode == AP_PLAN_SCHEDULE ? AP_CANCEL_UNARMED : AP_CANCEL_ARMED;
        memcpy(plan->page + AP_PAGE_CANCEL, &c, sizeof c);
}

char *ap_plan_guard(const ap_injection_plan *plan, const char *no_thread) {
        bool moved = plan->faults.moved && plan->attempt == 0;
        if (!plan->have_thread)
                return strdup(moved ? "0" : no_thread);
        ap_parked_thread t = plan->thread;
        if (moved)
                t.sp += 8;
        return ap_thread_guard(&t);
}

uint64_t ap_plan_check_value(const ap_injection_plan *plan) {
        uint64_t v = plan->target->check_code;
        return plan->faults.wrong_code ? v ^ 0xff : v;
}

int ap_plan_choose_stopped(ap_injection_plan *plan, ap_plan_want want,
                           const ap_parked_thread *waiter, ap_parked_kind waiter_kind) {
        if (waiter) {
                /* A scheduled call did not run and was withdrawn for this
                 * thread: it has waited there since attachpy looked twice. */
                ap_parked_thread now;
                if (ap_parked_still_waits(plan->target->pid, waiter, waiter_kind, &now)) {
                        ap_plan_use_thread(plan, &now, waiter_kind);
                        return 1;
                }
                /* Gone: a thread parked in a blocking call is as good; a
                 * futex wait seen once may be a lock held for microseconds. */
                if (ap_plan_choose(plan, AP_WANT_WAITER) == 1 && plan->kind == AP_PARKED_WAITS)
                        return 1;
                return ap_plan_choose(plan, AP_WANT_SCHEDULE);
        }
        return ap_plan_choose(plan, want) == 1 || ap_plan_choose(plan, AP_WANT_SCHEDULE) == 1;
}
