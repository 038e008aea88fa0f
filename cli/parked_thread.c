/* parked_thread.c: which threads of a process sit in a system call, from
 * /proc/PID/task, and the x86-64 Linux table of the calls that count as
 * "parked" (a thread there holds no lock of the C library or the loader). */
#include "parked_thread.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

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
        bool futex_kind = kind == AP_PARKED_FUTEX || kind == AP_PARKED_FUTEX_UNTIMED;
        const int *calls = futex_kind ? futex : parked_syscalls;
        size_t n_calls = futex_kind ? AP_ARRAY_SIZE(futex) : AP_ARRAY_SIZE(parked_syscalls);
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

bool ap_parked_syscall(ap_parked_kind kind, long nr) {
        if (kind == AP_PARKED_ANY)
                return nr >= 0;
        if (kind == AP_PARKED_FUTEX)
                return nr == SYSCALL_FUTEX || nr == SYSCALL_RESTART;
        if (kind == AP_PARKED_FUTEX_UNTIMED)
                return nr == SYSCALL_FUTEX;
        for (size_t i = 0; i < AP_ARRAY_SIZE(parked_syscalls); i++)
                if (nr == parked_syscalls[i])
                        return true;
        return false;
}

/* The futex operations that wait (FUTEX_WAIT, FUTEX_WAIT_BITSET), without
 * FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME. */
#define FUTEX_OP_MASK 0x7f
#define FUTEX_OP_WAIT 0
#define FUTEX_OP_WAIT_BITSET 9

/* Is a call of number nr with arguments a one of kind's? */
static bool call_matches(ap_parked_kind kind, long nr, const unsigned long long a[6]) {
        if (!ap_parked_syscall(kind, nr))
                return false;
        if (kind != AP_PARKED_FUTEX_UNTIMED)
                return true;
        /* futex(uaddr, op, val, timeout, ...) */
        int op = (int)(a[1] & FUTEX_OP_MASK);
        return (op == FUTEX_OP_WAIT || op == FUTEX_OP_WAIT_BITSET) && a[3] == 0;
}

/* /proc/PID/task/TID/syscall: "NR A1 .. A6 SP PC" while in a call; true
 * when the call is one of kind's. */
static bool read_task_syscall(pid_t pid, pid_t tid, ap_parked_kind kind, long *nr, uint64_t *sp,
                              uint64_t *pc) {
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
        if (k != 9 || !call_matches(kind, n, a))
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

int ap_parked_find(pid_t pid, ap_parked_kind kind, pid_t avoid, ap_parked_thread *ret) {
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
                        if (!read_task_syscall(pid, tids[i], kind, &nr, &sp, &pc))
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

bool ap_parked_still_waits(pid_t pid, const ap_parked_thread *t, ap_parked_kind kind,
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
                if (read_task_syscall(pid, tids[i], kind, &nr, &sp, &pc) && sp == t->sp &&
                    pc == t->pc) {
                        *now = (ap_parked_thread){
                                .index = (int)i + 1, .tid = tids[i], .nr = nr, .sp = sp, .pc = pc};
                        same = true;
                }
                break;
        }
        free(tids);
        return same;
}

int ap_find_parked_thread(pid_t pid, ap_parked_kind kind, ap_parked_thread *ret) {
        return ap_parked_find(pid, kind, 0, ret);
}
