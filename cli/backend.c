/* backend.c: the part of a debugger backend that does not depend on the
 * debugger. */
#include "backend.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spawn.h"
#include "util.h"

extern char **environ;

/* The trampoline's bytes (trampoline.S). */
extern const unsigned char ap_trampoline_code[], ap_trampoline_code_end[], ap_trampoline_direct[];

size_t ap_trampoline_size(void) { return (size_t)(ap_trampoline_code_end - ap_trampoline_code); }

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
        plan->safepoint = kind == AP_PARKED_FUTEX ? "futex" : "parked";
}

static int find_parked(pid_t pid, ap_parked_kind kind, pid_t avoid, ap_parked_thread *ret);

int ap_plan_choose(ap_injection_plan *plan, ap_plan_want want) {
        pid_t pid = plan->target->pid;
        pid_t avoid = plan->avoid_tid;
        plan->have_thread = false;
        plan->mode = AP_PLAN_SCHEDULE;
        plan->safepoint = "pending";
        ap_parked_thread t;
        if (want == AP_WANT_WAITER) {
                /* The scheduled call did not run: the main thread runs no
                 * bytecode.  A thread parked in a blocking call, or one that
                 * has waited in a futex wait since the CLI last looked (a
                 * lock, a join of the program's own), holds no lock of the C
                 * library.  The main thread first: it is the likeliest to
                 * stay where it is. */
                int waits = find_parked(pid, AP_PARKED_WAITS, avoid, &t);
                ap_parked_thread f;
                int futex = find_parked(pid, AP_PARKED_FUTEX, avoid, &f);
                bool waits_main = waits == 1 && t.tid == pid;
                bool futex_main = futex == 1 && f.tid == pid;
                if (waits == 1 && (waits_main || !futex_main))
                        ap_plan_use_thread(plan, &t, AP_PARKED_WAITS);
                else if (futex == 1)
                        ap_plan_use_thread(plan, &f, AP_PARKED_FUTEX);
                else
                        return 0;
                return 1;
        }
        if (want == AP_WANT_ANY && find_parked(pid, AP_PARKED_WAITS, avoid, &t) == 1) {
                ap_plan_use_thread(plan, &t, AP_PARKED_WAITS);
                return 1;
        }
        /* A main thread that waits in a futex (a join, a lock, an Event, the
         * GIL) runs no bytecode, so a queued call would wait for it, and a
         * withdrawn one would stay in its queue: call in it directly.  It
         * holds no lock of the C library while it waits. */
        if (want == AP_WANT_ANY && find_parked(pid, AP_PARKED_FUTEX, avoid, &t) == 1 &&
            t.tid == pid) {
                ap_plan_use_thread(plan, &t, AP_PARKED_FUTEX);
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
        if (find_parked(pid, AP_PARKED_ANY, avoid, &plan->thread) == 1)
                plan->have_thread = true;
        return 1;
}

void ap_plan_set_cancel(ap_injection_plan *plan) {
        int32_t c = plan->mode == AP_PLAN_SCHEDULE ? AP_CANCEL_UNARMED : AP_CANCEL_ARMED;
        memcpy(plan->page + AP_PAGE_CANCEL, &c, sizeof c);
}

int ap_script_values_add(ap_script_values *v, const char *name, const char *fmt, ...) {
        if (v->n >= AP_MAX_SCRIPT_VALUES)
                return -1;
        va_list ap;
        va_start(ap, fmt);
        char *s = NULL;
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -1;
        v->owned[v->n] = s;
        v->vars[v->n] = (ap_template_var){.name = name, .value = s};
        v->n++;
        return 0;
}

void ap_script_values_free(ap_script_values *v) {
        if (!v)
                return;
        for (size_t i = 0; i < v->n; i++)
                free(v->owned[i]);
        v->n = 0;
}

/* x86_64 Linux system calls a thread may sit in for a long time while holding
 * no lock of the C library or the dynamic loader.  futex is deliberately not
 * here: a thread waiting for a lock may hold another one. */
static const int parked_syscalls[] = {
        0,   /* read */
        7,   /* poll */
        19,  /* readv */
        23,  /* select */
        34,  /* pause */
        35,  /* nanosleep */
        43,  /* accept */
        45,  /* recvfrom */
        47,  /* recvmsg */
        61,  /* wait4 */
        130, /* rt_sigsuspend */
        128, /* rt_sigtimedwait */
        232, /* epoll_wait */
        247, /* waitid */
        230, /* clock_nanosleep */
        270, /* pselect6 */
        271, /* ppoll */
        281, /* epoll_pwait */
        288, /* accept4 */
        299, /* recvmmsg */
        441, /* epoll_pwait2 */
};

/* -ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND, -ERESTART_RESTARTBLOCK,
 * -EINTR: what the return register holds in a thread whose blocking call the
 * attach interrupted. */
static const int restart_codes[] = {-512, -513, -514, -516, -4};

#define SYSCALL_FUTEX 202
/* A timed wait (a futex, poll or nanosleep with a timeout) that a debugger
 * interrupted is resumed as restart_syscall: which call it was is lost, so it
 * counts as the more cautious kind, a futex wait. */
#define SYSCALL_RESTART 219

char *ap_parked_condition(ap_parked_kind kind, const char *ret_reg, const char *nr_reg) {
        static const int futex[] = {SYSCALL_FUTEX, SYSCALL_RESTART};
        const int *calls = kind == AP_PARKED_FUTEX ? futex : parked_syscalls;
        size_t n_calls =
                kind == AP_PARKED_FUTEX ? AP_ARRAY_SIZE(futex) : AP_ARRAY_SIZE(parked_syscalls);
        ap_buf b = {0};
        int r = ap_buf_printf(&b, "((");
        for (size_t i = 0; r == 0 && i < AP_ARRAY_SIZE(restart_codes); i++)
                r = ap_buf_printf(&b, "%s(long) %s == %d", i ? " || " : "", ret_reg,
                                  restart_codes[i]);
        if (r == 0)
                r = ap_buf_printf(&b, ") && (");
        for (size_t i = 0; r == 0 && i < n_calls; i++)
                r = ap_buf_printf(&b, "%s%s == %d", i ? " || " : "", nr_reg, calls[i]);
        if (r == 0)
                r = ap_buf_printf(&b, "))");
        if (r < 0) {
                ap_buf_free(&b);
                return NULL;
        }
        return ap_buf_steal(&b);
}

char *ap_restart_condition(const char *ret_reg) {
        ap_buf b = {0};
        int r = ap_buf_printf(&b, "(");
        for (size_t i = 0; r == 0 && i < AP_ARRAY_SIZE(restart_codes); i++)
                r = ap_buf_printf(&b, "%s(long) %s == %d", i ? " || " : "", ret_reg,
                                  restart_codes[i]);
        if (r == 0)
                r = ap_buf_printf(&b, ")");
        if (r < 0) {
                ap_buf_free(&b);
                return NULL;
        }
        return ap_buf_steal(&b);
}

char *ap_thread_guard(const ap_parked_thread *t) {
        ap_buf b = {0};
        int r = ap_buf_printf(&b, "((");
        for (size_t i = 0; r == 0 && i < AP_ARRAY_SIZE(restart_codes); i++)
                r = ap_buf_printf(&b, "%s(long) $rax == %d", i ? " || " : "", restart_codes[i]);
        if (r == 0)
                r = ap_buf_printf(&b, ") && $rsp == 0x%" PRIx64 " && $pc == 0x%" PRIx64 ")", t->sp,
                                  t->pc);
        if (r < 0) {
                ap_buf_free(&b);
                return NULL;
        }
        return ap_buf_steal(&b);
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

bool ap_parked_syscall(ap_parked_kind kind, long nr) {
        if (kind == AP_PARKED_ANY)
                return nr >= 0;
        if (kind == AP_PARKED_FUTEX)
                return nr == SYSCALL_FUTEX || nr == SYSCALL_RESTART;
        for (size_t i = 0; i < AP_ARRAY_SIZE(parked_syscalls); i++)
                if (nr == parked_syscalls[i])
                        return true;
        return false;
}

/* /proc/PID/task/TID/syscall: "NR A1 .. A6 SP PC" while in a call. */
static bool read_task_syscall(pid_t pid, pid_t tid, long *nr, uint64_t *sp, uint64_t *pc) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
        char *text = NULL;
        if (ap_read_file(path, 4096, &text, NULL) < 0)
                return false;
        unsigned long long a[6], s, p;
        long n;
        int k = sscanf(text, "%ld %llx %llx %llx %llx %llx %llx %llx %llx", &n, &a[0], &a[1], &a[2],
                       &a[3], &a[4], &a[5], &s, &p);
        free(text);
        if (k != 9)
                return false;
        *nr = n;
        *sp = s;
        *pc = p;
        return true;
}

static int cmp_pid(const void *a, const void *b) {
        pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
        return (x > y) - (x < y);
}

/* The process's tids in ascending order (lldb numbers the threads it
 * attaches to so), malloc'd; -1 if it cannot be read. */
static int list_tids(pid_t pid, pid_t **ret, size_t *ret_n) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
        DIR *d = opendir(path);
        if (!d)
                return -1;
        pid_t *tids = NULL;
        size_t n = 0, cap = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
                if (e->d_name[0] < '0' || e->d_name[0] > '9')
                        continue;
                if (n == cap) {
                        cap = cap ? 2 * cap : 64;
                        pid_t *t = realloc(tids, cap * sizeof *t);
                        if (!t) {
                                free(tids);
                                closedir(d);
                                return -1;
                        }
                        tids = t;
                }
                tids[n++] = (pid_t)atoi(e->d_name);
        }
        closedir(d);
        qsort(tids, n, sizeof *tids, cmp_pid);
        *ret = tids;
        *ret_n = n;
        return 0;
}

/* The first thread in tid order parked in a call of kind, the main thread
 * if it is one; avoid (a tid, or 0) is taken only when no other is. */
static int find_parked(pid_t pid, ap_parked_kind kind, pid_t avoid, ap_parked_thread *ret) {
        pid_t *tids = NULL;
        size_t n = 0;
        if (list_tids(pid, &tids, &n) < 0)
                return -1;
        int found = 0;
        for (int pass = 0; pass < 2 && !found; pass++) {
                for (size_t i = 0; i < n; i++) {
                        long nr;
                        uint64_t sp, pc;
                        if (found && tids[i] != pid)
                                continue;
                        if (pass == 0 && avoid > 0 && tids[i] == avoid)
                                continue;
                        if (!read_task_syscall(pid, tids[i], &nr, &sp, &pc) ||
                            !ap_parked_syscall(kind, nr))
                                continue;
                        *ret = (ap_parked_thread){
                                .index = (int)i + 1, .tid = tids[i], .nr = nr, .sp = sp, .pc = pc};
                        found = 1;
                }
                if (avoid <= 0)
                        break;
        }
        free(tids);
        return found;
}

/* Is thread t still in a call of that kind, on the same stack, at the same
 * place?  Fills *now (its index among today's threads). */
static bool still_waits(pid_t pid, const ap_parked_thread *t, ap_parked_kind kind,
                        ap_parked_thread *now) {
        pid_t *tids = NULL;
        size_t n = 0;
        if (list_tids(pid, &tids, &n) < 0)
                return false;
        bool same = false;
        for (size_t i = 0; i < n; i++) {
                long nr;
                uint64_t sp, pc;
                if (tids[i] != t->tid)
                        continue;
                if (read_task_syscall(pid, tids[i], &nr, &sp, &pc) && ap_parked_syscall(kind, nr) &&
                    sp == t->sp && pc == t->pc) {
                        *now = (ap_parked_thread){
                                .index = (int)i + 1, .tid = tids[i], .nr = nr, .sp = sp, .pc = pc};
                        same = true;
                }
                break;
        }
        free(tids);
        return same;
}

int ap_plan_choose_stopped(ap_injection_plan *plan, ap_plan_want want,
                           const ap_parked_thread *waiter, ap_parked_kind waiter_kind) {
        if (waiter) {
                /* A scheduled call did not run and was withdrawn for this
                 * thread: it has waited there since attachpy looked twice. */
                ap_parked_thread now;
                if (still_waits(plan->target->pid, waiter, waiter_kind, &now)) {
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

int ap_find_parked_thread(pid_t pid, ap_parked_kind kind, ap_parked_thread *ret) {
        return find_parked(pid, kind, 0, ret);
}

int ap_script_values_common(ap_script_values *v, const ap_injection_plan *plan) {
        const ap_target *t = plan->target;
        int r = 0;
        r |= ap_script_values_add(v, "pid", "%d", (int)t->pid);
        r |= ap_script_values_add(v, "addr_mmap", "0x%" PRIx64, t->addr_mmap);
        r |= ap_script_values_add(v, "addr_munmap", "0x%" PRIx64, t->addr_munmap);
        r |= ap_script_values_add(v, "page_size", "%d", AP_PAGE_SIZE);
        r |= ap_script_values_add(v, "check_addr", "0x%" PRIx64, t->addr_check);
        r |= ap_script_values_add(v, "check_value", "0x%" PRIx64, ap_plan_check_value(plan));
        if (plan->mode == AP_PLAN_SCHEDULE) {
                r |= ap_script_values_add(v, "addr_add_pending_call", "0x%" PRIx64,
                                          t->addr_add_pending_call);
                r |= ap_script_values_add(v, "offset_code", "%d", AP_PAGE_OFFSET_CODE);
                r |= ap_script_values_add(v, "offset_cancel", "%d", AP_PAGE_CANCEL);
        } else {
                r |= ap_script_values_add(v, "safepoint", "%s", plan->safepoint);
                r |= ap_script_values_add(v, "offset_direct", "%zu",
                                          AP_PAGE_OFFSET_CODE + ap_trampoline_direct_offset());
                r |= ap_script_values_add(v, "offset_detail", "%d", AP_PAGE_DETAIL);
                r |= ap_script_values_add(v, "state_dlopen_failed", "%d",
                                          AP_TRAMPOLINE_DLOPEN_FAILED);
                r |= ap_script_values_add(v, "state_dlsym_failed", "%d",
                                          AP_TRAMPOLINE_DLSYM_FAILED);
                r |= ap_script_values_add(v, "state_entry_failed", "%d",
                                          AP_TRAMPOLINE_ENTRY_FAILED);
        }
        return r ? -1 : 0;
}

int ap_script_values_pauses(ap_script_values *v, const ap_injection_plan *plan,
                            const char *const pause[3]) {
        static const char *const names[AP_STEP_COUNT_] = {
                [AP_STEP_ATTACHED] = "pause_attached", [AP_STEP_THREAD] = "pause_thread",
                [AP_STEP_MAPPED] = "pause_mapped",     [AP_STEP_WRITTEN] = "pause_written",
                [AP_STEP_CALLED] = "pause_called",
        };
        for (int s = AP_STEP_ATTACHED; s < AP_STEP_COUNT_; s++) {
                int r;
                if (s == AP_STEP_WRITTEN && plan->faults.hang_call && pause[2])
                        r = ap_script_values_add(v, names[s], "%s", pause[2]);
                else if (plan->faults.pause_after == (ap_step)s)
                        r = ap_script_values_add(v, names[s], "%s%s\n%s", pause[0],
                                                 ap_step_name((ap_step)s), pause[1]);
                else
                        r = ap_script_values_add(v, names[s], "# step %s",
                                                 ap_step_name((ap_step)s));
                if (r < 0)
                        return -1;
        }
        return 0;
}

int ap_backend_select(ap_debugger_choice choice, const ap_backend **ret, char **ret_program,
                      ap_error *err) {
        const ap_backend *b = NULL;
        switch (choice) {
        case AP_DEBUGGER_AUTO:
        case AP_DEBUGGER_GDB:
                b = &ap_backend_gdb;
                break;
        case AP_DEBUGGER_LLDB:
                b = &ap_backend_lldb;
                break;
        }
        if (choice == AP_DEBUGGER_AUTO) {
                char *gdb = ap_find_program(ap_backend_gdb.name);
                if (!gdb) {
                        char *lldb = ap_find_program(ap_backend_lldb.name);
                        if (lldb) {
                                b = &ap_backend_lldb;
                                free(lldb);
                        }
                }
                free(gdb);
        }
        if (!b)
                return ap_error_set(err, AP_ERR_USAGE, "unknown debugger");
        char *prog = ap_find_program(b->name);
        if (!prog)
                return ap_error_set(err, AP_ERR_DEBUGGER_NOT_FOUND,
                                    "%s is not installed (not found on PATH)", b->name),
                       ap_error_hint(err, "install it, e.g. 'apt-get install %s'", b->package), -1;
        *ret = b;
        *ret_program = prog;
        return 0;
}

char **ap_debugger_environ(void) {
        static const char *const drop[] = {"LC_ALL=",          "LANG=",
                                           "LANGUAGE=",        "PYTHONHOME=",
                                           "PYTHONPATH=",      "PYTHONSTARTUP=",
                                           "DEBUGINFOD_URLS=", "GDBHISTFILE=",
                                           "SHELL=",           NULL};
        size_t n = 0;
        for (char **e = environ; e && *e; e++)
                n++;
        char **out = calloc(n + 3, sizeof *out);
        if (!out)
                return NULL;
        size_t k = 0;
        for (char **e = environ; e && *e; e++) {
                bool skip = false;
                for (const char *const *d = drop; *d; d++)
                        if (strncmp(*e, *d, strlen(*d)) == 0)
                                skip = true;
                if (skip)
                        continue;
                out[k] = strdup(*e);
                if (!out[k]) {
                        ap_strv_free(out);
                        return NULL;
                }
                k++;
        }
        /* The scripts' shell commands (lldb prints its markers with
         * `platform shell`) need a POSIX shell, not the user's login shell:
         * a service account's is /usr/sbin/nologin. */
        static const char *const add[] = {"SHELL=/bin/sh", "LC_ALL=C"};
        for (size_t i = 0; i < AP_ARRAY_SIZE(add); i++) {
                out[k] = strdup(add[i]);
                if (!out[k]) {
                        ap_strv_free(out);
                        return NULL;
                }
                k++;
        }
        return out;
}

char **ap_strv_copy(const char *const *args, size_t n) {
        char **v = calloc(n + 1, sizeof *v);
        if (!v)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                v[i] = strdup(args[i]);
                if (!v[i]) {
                        ap_strv_free(v);
                        return NULL;
                }
        }
        return v;
}

void ap_strv_free(char **v) {
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}
