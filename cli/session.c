/* session.c: the run's private directory. */
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

#define NAME_PREFIX "attachpy-"

static int remember(ap_session_dir *d, const char *name) {
        if (d->n_names >= AP_ARRAY_SIZE(d->names))
                return -1;
        d->names[d->n_names] = strdup(name);
        if (!d->names[d->n_names])
                return -1;
        d->n_names++;
        return 0;
}

/* A fresh directory "attachpy-XXXXXXXX" in parent_fd, mode 0700, ours.
 * mkdirat never follows or reuses what is there: a name taken by anything
 * (a planted symlink too) is EEXIST, and another name is tried. */
static int make_dir(ap_session_dir *d, int parent_fd, const char *parent_path, ap_error *err) {
        static const char chars[] =
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        char name[sizeof NAME_PREFIX + 12];
        for (int attempt = 0;; attempt++) {
                unsigned char rnd[10];
                if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
                        return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                            "cannot get random bytes: %s", strerror(errno));
                size_t n = strlen(NAME_PREFIX);
                memcpy(name, NAME_PREFIX, n);
                for (size_t i = 0; i < sizeof rnd; i++)
                        name[n++] = chars[rnd[i] % (sizeof chars - 1)];
                name[n] = '\0';
                if (mkdirat(parent_fd, name, 0700) == 0)
                        break;
                if (errno != EEXIST || attempt >= 100)
                        return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                            "cannot create a session directory in %s: %s",
                                            parent_path, strerror(errno)),
                               ap_error_hint(err, "check that %s exists and is writable",
                                             parent_path),
                               -1;
        }
        d->parent_fd = parent_fd;
        d->name = strdup(name);
        d->fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (!d->name || d->fd < 0 || fstat(d->fd, &st) < 0 || st.st_uid != geteuid() ||
            fchmod(d->fd, 0700) < 0) {
                int e = errno;
                if (d->fd < 0 || !d->name)
                        (void)unlinkat(parent_fd, name, AT_REMOVEDIR);
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "cannot open the session directory %s/%s: %s", parent_path,
                                    name, strerror(e ? e : EPERM));
        }
        if (asprintf(&d->path, "%s/%s", parent_path, name) < 0) {
                d->path = NULL;
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "out of memory");
        }
        return 0;
}

int ap_session_create_in(ap_session *s, const ap_target *t, const char *root, ap_error *err) {
        *s = (ap_session)AP_SESSION_INIT;
        s->owner_uid = geteuid();
        s->owner_gid = getegid();

        /* The target's /tmp.  In another mount namespace it is reached
         * through root (/proc/PID/root); its "tmp" must be a directory, not
         * a symbolic link: that would be resolved in attachpy's namespace
         * (a container's /tmp -> /etc would put the session in the host's
         * /etc). */
        _cleanup_free_ char *tmp_path = NULL;
        int tmp_fd;
        if (!root) {
                tmp_path = strdup("/tmp");
                tmp_fd = open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC);
        } else {
                (void)!asprintf(&tmp_path, "%s/tmp", root);
                _cleanup_close_ int root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
                tmp_fd = root_fd < 0 ? -1
                                     : openat(root_fd, "tmp",
                                              O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (tmp_fd < 0 && (errno == ENOTDIR || errno == ELOOP))
                        return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                            "/tmp of process %d is not a directory (a symbolic "
                                            "link?): attachpy will not stage its session there",
                                            (int)t->pid),
                               ap_error_hint(err, "give the target a real /tmp directory, or run "
                                                  "attachpy inside its container"),
                               -1;
        }
        if (!tmp_path || tmp_fd < 0)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "cannot open %s: %s",
                                    tmp_path ? tmp_path : "/tmp", strerror(errno)),
                       ap_error_hint(err, "the target needs a /tmp directory"), -1;

        if (make_dir(&s->shared, tmp_fd, tmp_path, err) < 0) {
                if (s->shared.parent_fd < 0)
                        close(tmp_fd);
                ap_session_destroy(s);
                return -1;
        }
        s->dir = s->shared.path;
        if (asprintf(&s->target_dir, "/tmp/%s", s->shared.name) < 0) {
                s->target_dir = NULL;
                ap_session_destroy(s);
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "out of memory");
        }

        if (t->uid != s->owner_uid) {
                /* The target's user may enter the directory, not change it:
                 * the files it needs are its own (ap_session_write), the
                 * debugger script stays attachpy's. */
                if (fchmod(s->shared.fd, 0711) < 0) {
                        ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                     "cannot set the mode of the session directory: %s",
                                     strerror(errno));
                        ap_session_destroy(s);
                        return -1;
                }
                s->owner_uid = t->uid;
                s->owner_gid = t->gid;
        }

        if (root) {
                /* Root in a container can change anything in its /tmp: the
                 * debugger script goes into attachpy's own. */
                int host_tmp = open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (host_tmp < 0) {
                        ap_error_set(err, AP_ERR_INJECTION_FAILED, "cannot open /tmp: %s",
                                     strerror(errno));
                        ap_session_destroy(s);
                        return -1;
                }
                if (make_dir(&s->private_, host_tmp, "/tmp", err) < 0) {
                        if (s->private_.parent_fd < 0)
                                close(host_tmp);
                        ap_session_destroy(s);
                        return -1;
                }
        }
        return 0;
}

int ap_session_create(ap_session *s, const ap_target *t, ap_error *err) {
        if (t->same_root)
                return ap_session_create_in(s, t, NULL, err);
        char root[64];
        snprintf(root, sizeof root, "/proc/%d/root", (int)t->pid);
        return ap_session_create_in(s, t, root, err);
}

char *ap_session_path(const ap_session *s, const char *name) {
        char *p = NULL;
        if (asprintf(&p, "%s/%s", s->shared.path, name) < 0)
                return NULL;
        return p;
}

/* Create name in d (O_EXCL|O_NOFOLLOW: nothing in the way is followed or
 * replaced), write data, hand it to uid/gid when that is not us. */
static int write_in(ap_session_dir *d, const char *name, const void *data, size_t len, mode_t mode,
                    uid_t uid, gid_t gid, ap_error *err) {
        int fd = openat(d->fd, name,
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
        if (fd < 0)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "cannot create %s/%s: %s",
                                    d->path, name, strerror(errno)),
                       ap_error_hint(err, "something else is in the session's place; attachpy "
                                          "did not touch it"),
                       -1;
        if (remember(d, name) < 0) {
                close(fd);
                unlinkat(d->fd, name, 0);
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "too many session files");
        }
        int r = ap_write_all(fd, data, len);
        int e = errno;
        if (r == 0 && (uid != geteuid() || gid != getegid()) && fchown(fd, uid, gid) < 0) {
                r = -1;
                e = errno;
        }
        if (close(fd) < 0 && r == 0) {
                r = -1;
                e = errno;
        }
        if (r < 0)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "cannot write %s/%s: %s", d->path,
                                    name, strerror(e));
        return 0;
}

int ap_session_write(ap_session *s, const char *name, const void *data, size_t len, ap_error *err) {
        return write_in(&s->shared, name, data, len, 0600, s->owner_uid, s->owner_gid, err);
}

int ap_session_write_script(ap_session *s, const char *name, const void *data, size_t len,
                            char **ret_path, ap_error *err) {
        ap_session_dir *d = s->private_.fd >= 0 ? &s->private_ : &s->shared;
        if (write_in(d, name, data, len, 0600, geteuid(), getegid(), err) < 0)
                return -1;
        if (asprintf(ret_path, "%s/%s", d->path, name) < 0) {
                *ret_path = NULL;
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "out of memory");
        }
        return 0;
}

/* Can uid/gid read path?  Asked in a child that becomes that user. */
static bool user_can_read(uid_t uid, gid_t gid, const char *path) {
        pid_t pid = fork();
        if (pid < 0)
                return false;
        if (pid == 0) {
                if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
                    setresuid(uid, uid, uid) < 0)
                        _exit(2);
                _exit(access(path, R_OK) == 0 ? 0 : 1);
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return false;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int ap_session_stage_agent(ap_session *s, const ap_target *t, const char *agent_path,
                           ap_error *err) {
        bool foreign_root = s->private_.fd >= 0;
        if (!foreign_root && (t->uid == geteuid() || user_can_read(t->uid, t->gid, agent_path))) {
                s->agent = strdup(agent_path);
                return s->agent ? 0 : ap_error_set(err, AP_ERR_INJECTION_FAILED, "out of memory");
        }
        /* A copy the target can read: in its mount namespace, its user's. */
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        if (ap_read_file(agent_path, 64u * 1024 * 1024, &data, &len) < 0)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "cannot read the agent %s: %s",
                                    agent_path, strerror(errno)),
                       ap_error_hint(err, "reinstall attachpy"), -1;
        if (write_in(&s->shared, "attachpy-agent.so", data, len, 0500, s->owner_uid, s->owner_gid,
                     err) < 0)
                return -1;
        if (asprintf(&s->agent, "%s/attachpy-agent.so", s->target_dir) < 0) {
                s->agent = NULL;
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "out of memory");
        }
        return 0;
}

int ap_session_listen(ap_session *s, ap_error *err) {
        /* Bound through the directory's fd: the same inode whatever happens
         * to the path, and a path short enough whatever the target's root. */
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        int n = snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/result.sock",
                         s->shared.fd);
        if (n < 0 || (size_t)n >= sizeof addr.sun_path)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "socket path too long");
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "cannot create a socket: %s",
                                    strerror(errno));
        /* 0600 from the start: no moment in which another user may connect. */
        mode_t old = umask(0177);
        int r = bind(fd, (struct sockaddr *)&addr, sizeof addr);
        int e = errno;
        umask(old);
        if (r < 0) {
                close(fd);
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "cannot bind %s/result.sock: %s",
                                    s->shared.path, strerror(e)),
                       ap_error_hint(err, "something else is in the session's place; attachpy "
                                          "did not touch it"),
                       -1;
        }
        if (remember(&s->shared, "result.sock") < 0 || listen(fd, 4) < 0 ||
            ((s->owner_uid != geteuid() || s->owner_gid != getegid()) &&
             fchownat(s->shared.fd, "result.sock", s->owner_uid, s->owner_gid,
                      AT_SYMLINK_NOFOLLOW) < 0)) {
                e = errno;
                close(fd);
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "cannot listen on %s/result.sock: %s", s->shared.path,
                                    strerror(e));
        }
        s->listen_fd = fd;
        return 0;
}

int ap_session_accept(ap_session *s, pid_t pid, int cancel_fd, double deadline_ms, ap_error *err) {
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
                        return ap_error_set(err, AP_ERR_INTERRUPTED,
                                            "attachpy was interrupted while waiting for the "
                                            "agent");
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

static void dir_destroy(ap_session_dir *d) {
        for (size_t i = 0; i < d->n_names; i++) {
                if (d->fd >= 0)
                        (void)unlinkat(d->fd, d->names[i], 0);
                free(d->names[i]);
                d->names[i] = NULL;
        }
        d->n_names = 0;
        if (d->fd >= 0) {
                close(d->fd);
                d->fd = -1;
        }
        if (d->parent_fd >= 0) {
                if (d->name)
                        (void)unlinkat(d->parent_fd, d->name, AT_REMOVEDIR);
                close(d->parent_fd);
                d->parent_fd = -1;
        }
        free(d->name);
        d->name = NULL;
        free(d->path);
        d->path = NULL;
}

void ap_session_destroy(ap_session *s) {
        if (!s)
                return;
        if (s->listen_fd >= 0) {
                close(s->listen_fd);
                s->listen_fd = -1;
        }
        dir_destroy(&s->shared);
        dir_destroy(&s->private_);
        s->dir = NULL;
        free(s->target_dir);
        s->target_dir = NULL;
        free(s->agent);
        s->agent = NULL;
}
