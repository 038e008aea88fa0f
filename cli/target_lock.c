/* target_lock.c: one attachpy at a time per target, by an abstract socket. */
#include "target_lock.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "target.h"
#include "util.h"

#define RETRY_MS 20

void ap_target_lock_name(pid_t pid, unsigned long long starttime, char *buf, size_t size) {
        snprintf(buf, size, "attachpy/target/%d/%llu", (int)pid, starttime);
}

int ap_target_lock(pid_t pid, double deadline_ms, int cancel_fd, ap_error *err) {
        unsigned long long starttime;
        if (ap_proc_starttime(pid, &starttime) < 0)
                return -2;
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        ap_target_lock_name(pid, starttime, addr.sun_path + 1, sizeof addr.sun_path - 1);
        socklen_t len =
                (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(addr.sun_path + 1));
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "socket: %s", strerror(errno));
        for (;;) {
                if (bind(fd, (struct sockaddr *)&addr, len) == 0)
                        return fd;
                if (errno != EADDRINUSE) {
                        int e = errno;
                        close(fd);
                        return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                            "cannot take the lock for process %d: %s", (int)pid,
                                            strerror(e));
                }
                double left = deadline_ms - ap_now_ms();
                if (left <= 0) {
                        close(fd);
                        return ap_error_set(err, AP_ERR_TIMEOUT,
                                            "another attachpy was still injecting into process "
                                            "%d when the --timeout ran out; nothing was injected",
                                            (int)pid),
                               ap_error_hint(err, "wait for the other run to finish, or give "
                                                  "this one a longer --timeout"),
                               -1;
                }
                struct pollfd pf = {.fd = cancel_fd, .events = POLLIN};
                int wait = left < RETRY_MS ? (int)left + 1 : RETRY_MS;
                if (poll(&pf, cancel_fd >= 0 ? 1 : 0, wait) > 0) {
                        close(fd);
                        return ap_error_set(err, AP_ERR_INTERRUPTED,
                                            "attachpy was interrupted while another attachpy "
                                            "injected into process %d; nothing was injected",
                                            (int)pid),
                               -1;
                }
        }
}
