/* pending.c: a queued trampoline, watched and cancelled through /proc/PID/mem. */
#include "pending.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "page.h"

int ap_pending_open(ap_pending *p, pid_t pid, uint64_t page, ap_error *err) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
        p->pid = pid;
        p->page = page;
        p->mem_fd = open(path, O_RDWR | O_CLOEXEC);
        if (p->mem_fd < 0)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "cannot open %s to follow the queued call: %s", path,
                                    strerror(errno)),
                       ap_error_hint(err,
                                     "the call stays queued in process %d and will load "
                                     "the agent when it runs",
                                     (int)pid),
                       -1;
        return 0;
}

static int read_word(ap_pending *p, size_t off, void *buf, size_t size) {
        ssize_t n = pread(p->mem_fd, buf, size, (off_t)(p->page + off));
        if (n == 0)
                errno = ESRCH; /* the process has no memory any more: it exited */
        else if (n > 0 && n < (ssize_t)size)
                errno = EIO;
        return n == (ssize_t)size ? 0 : -1;
}

/* Unmapped (EIO), or the process is gone (its memory cannot be read at
 * all)? */
static ap_pending_status why_unreadable(ap_pending *p) {
        int e = errno;
        /* EIO: the address is not mapped (the trampoline unmapped its page),
         * unless the whole process is gone. */
        if (e == EIO || e == EFAULT) {
                char path[64];
                snprintf(path, sizeof path, "/proc/%d/stat", (int)p->pid);
                if (access(path, F_OK) < 0)
                        return AP_PENDING_LOST;
                return AP_PENDING_DONE;
        }
        return AP_PENDING_LOST;
}

ap_pending_status ap_pending_status_read(ap_pending *p, int *state, int64_t *detail) {
        int32_t s = 0;
        int64_t d = 0;
        if (read_word(p, AP_PAGE_STATE, &s, sizeof s) < 0)
                return why_unreadable(p);
        if (state)
                *state = s;
        switch (s) {
        case AP_TRAMPOLINE_QUEUED:
                return AP_PENDING_QUEUED;
        case AP_TRAMPOLINE_RUNNING:
                return AP_PENDING_RUNNING;
        default:
                if (read_word(p, AP_PAGE_DETAIL, &d, sizeof d) < 0)
                        return why_unreadable(p);
                if (detail)
                        *detail = d;
                return AP_PENDING_FAILED;
        }
}

int ap_pending_cancel(ap_pending *p) {
        int32_t withdrawn = AP_CANCEL_WITHDRAWN;
        if (pwrite(p->mem_fd, &withdrawn, sizeof withdrawn, (off_t)(p->page + AP_PAGE_CANCEL)) !=
            (ssize_t)sizeof withdrawn)
                return why_unreadable(p) == AP_PENDING_DONE ? 0 : -1;
        /* The trampoline sets state, then reads cancel; we set cancel, then
         * read state: one of the two sees the other's write. */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        int32_t s = 0;
        if (read_word(p, AP_PAGE_STATE, &s, sizeof s) < 0)
                return why_unreadable(p) == AP_PENDING_DONE ? 0 : -1;
        return s == AP_TRAMPOLINE_QUEUED ? 1 : 0;
}

int ap_pending_arm(ap_pending *p) {
        int32_t c = 0;
        if (read_word(p, AP_PAGE_CANCEL, &c, sizeof c) < 0)
                return -1;
        if (c != AP_CANCEL_UNARMED)
                return 0;
        int32_t armed = AP_CANCEL_ARMED;
        if (pwrite(p->mem_fd, &armed, sizeof armed, (off_t)(p->page + AP_PAGE_CANCEL)) !=
            (ssize_t)sizeof armed)
                return -1;
        /* As for cancel: a trampoline that ran already (unarmed) has set
         * state; one that runs from now on sees the armed word. */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        int32_t s = 0;
        if (read_word(p, AP_PAGE_STATE, &s, sizeof s) < 0)
                return -1;
        return s == AP_TRAMPOLINE_QUEUED ? 1 : 0;
}

void ap_pending_read_string(ap_pending *p, uint64_t addr, char *buf, size_t size) {
        if (size == 0)
                return;
        buf[0] = '\0';
        if (!addr)
                return;
        /* A read that crosses into an unmapped page returns what came before
         * it. */
        ssize_t n = pread(p->mem_fd, buf, size - 1, (off_t)addr);
        buf[n > 0 ? (size_t)n : 0] = '\0';
}

void ap_pending_close(ap_pending *p) {
        if (p->mem_fd >= 0)
                close(p->mem_fd);
        p->mem_fd = -1;
}
