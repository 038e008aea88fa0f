/* process_memory.c: another process's memory through /proc/PID/mem. */
#include "process_memory.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int ap_process_memory_open(pid_t pid, ap_error *err) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                    "cannot open the memory of process %d: %s", (int)pid,
                                    strerror(errno)),
                       ap_error_hint(err, "run attachpy as the target's user or as root"), -1;
        return fd;
}

int ap_process_memory_read(int fd, uint64_t addr, void *buf, size_t len) {
        return pread(fd, buf, len, (off_t)addr) == (ssize_t)len ? 0 : -1;
}

int ap_process_memory_write(int fd, uint64_t addr, const void *buf, size_t len) {
        return pwrite(fd, buf, len, (off_t)addr) == (ssize_t)len ? 0 : -1;
}

void ap_process_memory_close(int *fd) {
        if (*fd >= 0)
                close(*fd);
        *fd = -1;
}

int ap_pending_word_taken(int fd, uint64_t addr, size_t width) {
        uint64_t word = 0;
        if (fd < 0 || width > sizeof word || ap_process_memory_read(fd, addr, &word, width) < 0)
                return -1;
        return word == 0;
}

int ap_pending_word_withdraw(int fd, uint64_t addr, size_t width) {
        int taken = ap_pending_word_taken(fd, addr, width);
        if (taken != 0)
                return taken < 0 ? -1 : 0;
        const uint64_t zero = 0;
        return ap_process_memory_write(fd, addr, &zero, width) < 0 ? -1 : 1;
}

int ap_pending_word_busy(ap_error *err, pid_t pid) {
        ap_error_set(err, AP_ERR_INJECTION_FAILED,
                     "another client's remote-execution request is pending in process %d",
                     (int)pid);
        ap_error_hint(err, "try again once it has run");
        return -1;
}
