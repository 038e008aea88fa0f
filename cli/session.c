/* session.c: the run's private directory. */
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

static int remember(ap_session *s, const char *name) {
        if (s->n_names >= AP_ARRAY_SIZE(s->names))
                return -1;
        s->names[s->n_names] = strdup(name);
        if (!s->names[s->n_names])
                return -1;
        s->n_names++;
        return 0;
}

int ap_session_create(ap_session *s, const ap_target *t, ap_error *err) {
        *s = (ap_session)AP_SESSION_INIT;
        char tmpl[] = "/tmp/attachpy-XXXXXX";
        if (!mkdtemp(tmpl))
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "cannot create a session directory in /tmp: %s",
                                    strerror(errno)),
                       ap_error_hint(err, "check that /tmp exists and is writable"), -1;
        s->dir = strdup(tmpl);
        s->dir_fd = open(tmpl, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (!s->dir || s->dir_fd < 0) {
                rmdir(tmpl);
                free(s->dir);
                s->dir = NULL;
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "cannot open the session directory: %s", strerror(errno));
        }
        s->owner_uid = geteuid();
        s->owner_gid = getegid();
        if (t->uid != s->owner_uid) {
                /* The target's user must reach it; nobody else may. */
                if (chown(s->dir, t->uid, t->gid) < 0) {
                        ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                     "cannot hand the session directory to uid %u: %s",
                                     (unsigned)t->uid, strerror(errno));
                        ap_error_hint(err, "run attachpy as the target's user, or as root");
                        ap_session_destroy(s);
                        return -1;
                }
                s->owner_uid = t->uid;
                s->owner_gid = t->gid;
        }
        return 0;
}

char *ap_session_path(const ap_session *s, const char *name) {
        char *p = NULL;
        if (asprintf(&p, "%s/%s", s->dir, name) < 0)
                return NULL;
        return p;
}

int ap_session_write(ap_session *s, const char *name, const void *data, size_t len,
                     ap_error *err) {
        int fd = openat(s->dir_fd, name,
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "cannot create %s/%s: %s",
                                    s->dir, name, strerror(errno));
        if (remember(s, name) < 0) {
                close(fd);
                unlinkat(s->dir_fd, name, 0);
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "too many session files");
        }
        int r = ap_write_all(fd, data, len);
        int e = errno;
        if (r == 0 && s->owner_uid != geteuid() && fchown(fd, s->owner_uid, s->owner_gid) < 0) {
                r = -1;
                e = errno;
        }
        if (close(fd) < 0 && r == 0) {
                r = -1;
                e = errno;
        }
        if (r < 0)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "cannot write %s/%s: %s",
                                    s->dir, name, strerror(e));
        return 0;
}

int ap_session_listen(ap_session *s, ap_error *err) {
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        int n = snprintf(addr.sun_path, sizeof addr.sun_path, "%s/result.sock", s->dir);
        if (n < 0 || (size_t)n >= sizeof addr.sun_path)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "the session path is too long for a socket");
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "cannot create a socket: %s",
                                    strerror(errno));
        if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
                int e = errno;
                close(fd);
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "cannot bind %s: %s",
                                    addr.sun_path, strerror(e));
        }
        if (remember(s, "result.sock") < 0 || listen(fd, 4) < 0 ||
            (s->owner_uid != geteuid() &&
             fchownat(s->dir_fd, "result.sock", s->owner_uid, s->owner_gid, 0) < 0)) {
                int e = errno;
                close(fd);
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "cannot listen on %s: %s",
                                    addr.sun_path, strerror(e));
        }
        s->listen_fd = fd;
        return 0;
}

int ap_session_accept(ap_session *s, pid_t pid, int cancel_fd, double deadline_ms,
                      ap_error *err) {
        for (;;) {
                double left = deadline_ms - ap_now_ms();
                if (left <= 0)
                        return -2;
                struct pollfd p[2] = {{.fd = s->listen_fd, .events = POLLIN},
                                      {.fd = cancel_fd, .events = POLLIN}};
                int r = poll(p, cancel_fd >= 0 ? 2 : 1, left > INT_MAX ? INT_MAX : (int)ceil(left));
                if (r < 0 && errno != EINTR)
                        return ap_error_set(err, AP_ERR_INJECTION_FAILED, "poll: %s",
                                            strerror(errno));
                if (r <= 0)
                        continue;
                if (cancel_fd >= 0 && p[1].revents)
                        return ap_error_set(err, AP_ERR_TIMEOUT,
                                            "interrupted while waiting for the agent");
                int c = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0) {
                        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                                continue;
                        return ap_error_set(err, AP_ERR_INJECTION_FAILED, "accept: %s",
                                            strerror(errno));
                }
                struct ucred cred;
                socklen_t len = sizeof cred;
                if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.pid != pid) {
                        /* Not our agent: ignore it and keep waiting. */
                        close(c);
                        continue;
                }
                return c;
        }
}

void ap_session_destroy(ap_session *s) {
        if (!s)
                return;
        if (s->listen_fd >= 0) {
                close(s->listen_fd);
                s->listen_fd = -1;
        }
        for (size_t i = 0; i < s->n_names; i++) {
                if (s->dir_fd >= 0)
                        unlinkat(s->dir_fd, s->names[i], 0);
                free(s->names[i]);
        }
        s->n_names = 0;
        if (s->dir_fd >= 0) {
                close(s->dir_fd);
                s->dir_fd = -1;
        }
        if (s->dir) {
                rmdir(s->dir);
                free(s->dir);
                s->dir = NULL;
        }
}
