/* spawn.c: child processes with deadlines. */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

char *ap_find_program(const char *name) {
        if (strchr(name, '/'))
                return access(name, X_OK) == 0 ? strdup(name) : NULL;
        const char *path = getenv("PATH");
        if (!path || !*path)
                path = "/usr/local/bin:/usr/bin:/bin";
        const char *p = path;
        while (*p) {
                size_t len = strcspn(p, ":");
                char *full = NULL;
                if (len > 0 && asprintf(&full, "%.*s/%s", (int)len, p, name) >= 0) {
                        struct stat st;
                        if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0)
                                return full;
                }
                free(full);
                p += len;
                if (*p == ':')
                        p++;
        }
        return NULL;
}

/* In a child just forked from parent: its own process group, and
 * death_signal (0: none) when attachpy dies.  False if attachpy is already
 * gone.  Async-signal-safe. */
static bool become_own_group(pid_t parent, int death_signal) {
        setpgid(0, 0);
        if (death_signal) {
                prctl(PR_SET_PDEATHSIG, death_signal);
                if (getppid() != parent)
                        return false;
        }
        return true;
}

static int spawn(ap_child *c, char *const argv[], char *const envp[], const sigset_t *child_mask,
                 int death_signal, bool stdin_pipe, ap_error *err) {
        *c = (ap_child)AP_CHILD_INIT;
        _cleanup_free_ char *prog = ap_find_program(argv[0]);
        if (!prog)
                return ap_error_set(err, AP_ERR_DEBUGGER_NOT_FOUND,
                                    "%s is not installed (not found on PATH)", argv[0]);

        int pipefd[2];
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return ap_error_set(err, AP_ERR_DEBUGGER_FAILED, "cannot create a pipe: %s",
                                    strerror(errno));
        /* The child's stdin: /dev/null, or the read end of a pipe whose
         * write end attachpy keeps (inpipe[1]). */
        int inpipe[2] = {-1, -1};
        int devnull = -1;
        if (stdin_pipe) {
                if (pipe2(inpipe, O_CLOEXEC) == 0)
                        devnull = inpipe[0];
        } else {
                devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        }
        if (devnull < 0) {
                int e = errno;
                close(pipefd[0]);
                close(pipefd[1]);
                return ap_error_set(err, AP_ERR_DEBUGGER_FAILED,
                                    "cannot open the child's stdin: %s", strerror(e));
        }
        /* Report exec failures through a second close-on-exec pipe. */
        int errpipe[2];
        if (pipe2(errpipe, O_CLOEXEC) < 0) {
                close(pipefd[0]);
                close(pipefd[1]);
                close(devnull);
                if (inpipe[1] >= 0)
                        close(inpipe[1]);
                return ap_error_set(err, AP_ERR_DEBUGGER_FAILED, "cannot create a pipe: %s",
                                    strerror(errno));
        }

        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(pipefd[0]);
                close(pipefd[1]);
                close(errpipe[0]);
                close(errpipe[1]);
                close(devnull);
                if (inpipe[1] >= 0)
                        close(inpipe[1]);
                return ap_error_set(err, AP_ERR_DEBUGGER_FAILED, "cannot fork: %s", strerror(e));
        }
        if (pid == 0) {
                /* Child: only async-signal-safe calls from here on. */
                if (!become_own_group(parent, death_signal))
                        _exit(127); /* the parent is already gone */
                sigset_t empty;
                sigemptyset(&empty);
                sigprocmask(SIG_SETMASK, child_mask ? child_mask : &empty, NULL);
                signal(SIGPIPE, SIG_DFL);
                if (dup2(devnull, STDIN_FILENO) < 0 || dup2(pipefd[1], STDOUT_FILENO) < 0 ||
                    dup2(pipefd[1], STDERR_FILENO) < 0)
                        _exit(127);
                execve(prog, argv, envp ? envp : environ);
                int e = errno;
                (void)!write(errpipe[1], &e, sizeof e);
                _exit(127);
        }
        setpgid(pid, pid); /* also from the parent: no race with the child's own call */
        close(pipefd[1]);
        close(errpipe[1]);
        close(devnull);
        c->in_fd = inpipe[1];

        int exec_errno = 0;
        ssize_t n;
        do
                n = read(errpipe[0], &exec_errno, sizeof exec_errno);
        while (n < 0 && errno == EINTR);
        close(errpipe[0]);
        c->pid = pid;
        c->out_fd = pipefd[0];
        if (n == (ssize_t)sizeof exec_errno) {
                ap_child_kill_and_reap(c);
                return ap_error_set(err, AP_ERR_DEBUGGER_FAILED, "cannot run %s: %s", prog,
                                    strerror(exec_errno));
        }
        fcntl(c->out_fd, F_SETFL, O_NONBLOCK);
        c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (c->pidfd >= 0)
                fcntl(c->pidfd, F_SETFD, FD_CLOEXEC);
        return 0;
}

int ap_spawn(ap_child *c, char *const argv[], char *const envp[], const sigset_t *child_mask,
             int death_signal, ap_error *err) {
        return spawn(c, argv, envp, child_mask, death_signal, false, err);
}

int ap_spawn_piped(ap_child *c, char *const argv[], char *const envp[], const sigset_t *child_mask,
                   int death_signal, ap_error *err) {
        return spawn(c, argv, envp, child_mask, death_signal, true, err);
}

int ap_child_send(ap_child *c, const char *text) {
        if (!c || c->in_fd < 0)
                return -1;
        size_t len = strlen(text), done = 0;
        while (done < len) {
                /* SIGPIPE is ignored by attachpy (main.c): a debugger gone is
                 * EPIPE here. */
                ssize_t n = write(c->in_fd, text + done, len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -1;
                done += (size_t)n;
        }
        return 0;
}

void ap_child_close_stdin(ap_child *c) {
        if (c && c->in_fd >= 0) {
                close(c->in_fd);
                c->in_fd = -1;
        }
}

int ap_spawn_idle(ap_child *c, ap_error *err) {
        *c = (ap_child)AP_CHILD_INIT;
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull < 0)
                return ap_error_set(err, AP_ERR_DEBUGGER_FAILED, "cannot open /dev/null: %s",
                                    strerror(errno));
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(devnull);
                return ap_error_set(err, AP_ERR_DEBUGGER_FAILED, "cannot fork: %s", strerror(e));
        }
        if (pid == 0) {
                /* Child: only async-signal-safe calls from here on. */
                if (!become_own_group(parent, SIGKILL))
                        _exit(0);
                struct sigaction dfl;
                memset(&dfl, 0, sizeof dfl);
                dfl.sa_handler = SIG_DFL;
                for (int sig = 1; sig < NSIG; sig++)
                        if (sig != SIGKILL && sig != SIGSTOP)
                                sigaction(sig, &dfl, NULL);
                sigset_t empty;
                sigemptyset(&empty);
                sigprocmask(SIG_SETMASK, &empty, NULL);
                if (dup2(devnull, STDIN_FILENO) < 0 || dup2(devnull, STDOUT_FILENO) < 0 ||
                    dup2(devnull, STDERR_FILENO) < 0)
                        _exit(0);
                if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0)
                        for (int fd = 3; fd < 4096; fd++)
                                close(fd);
                for (;;)
                        pause();
        }
        setpgid(pid, pid); /* also from the parent: no race with the child's own call */
        close(devnull);
        c->pid = pid;
        return 0;
}

static void try_reap(ap_child *c) {
        if (c->exited || c->pid <= 0)
                return;
        int status;
        pid_t r = waitpid(c->pid, &status, WNOHANG);
        if (r == c->pid) {
                c->exited = true;
                c->status = status;
                c->pid = 0;
                if (c->pidfd >= 0) {
                        close(c->pidfd);
                        c->pidfd = -1;
                }
        }
}

static int drain(ap_child *c, ap_buf *out) {
        char chunk[8192];
        int got = 0;
        while (c->out_fd >= 0) {
                ssize_t n = read(c->out_fd, chunk, sizeof chunk);
                if (n > 0) {
                        if (out && ap_buf_append(out, chunk, (size_t)n) < 0)
                                return -1;
                        got = 1;
                        continue;
                }
                if (n == 0) {
                        close(c->out_fd);
                        c->out_fd = -1;
                        got = 1;
                        break;
                }
                if (errno == EINTR)
                        continue;
                if (errno == EAGAIN)
                        break;
                return -1;
        }
        return got;
}

int ap_child_wait(ap_child *c, ap_buf *out, int extra_fd, double deadline_ms) {
        for (;;) {
                try_reap(c);
                if (c->exited && c->out_fd < 0)
                        return 1;
                struct pollfd p[3];
                nfds_t np = 0;
                int out_i = -1, pid_i = -1, extra_i = -1;
                if (c->out_fd >= 0) {
                        out_i = (int)np;
                        p[np++] = (struct pollfd){.fd = c->out_fd, .events = POLLIN};
                }
                if (!c->exited && c->pidfd >= 0) {
                        pid_i = (int)np;
                        p[np++] = (struct pollfd){.fd = c->pidfd, .events = POLLIN};
                }
                if (extra_fd >= 0) {
                        extra_i = (int)np;
                        p[np++] = (struct pollfd){.fd = extra_fd, .events = POLLIN};
                }
                double left = deadline_ms - ap_now_ms();
                if (left <= 0)
                        return 0;
                int timeout = left > INT_MAX ? INT_MAX : (int)ceil(left);
                /* Without a pidfd, look again for the exit every 50 ms. */
                if (!c->exited && c->pidfd < 0 && c->out_fd < 0 && timeout > 50)
                        timeout = 50;
                int r = poll(p, np, timeout);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                if (r == 0)
                        continue;
                if (extra_i >= 0 && (p[extra_i].revents & (POLLIN | POLLHUP | POLLERR)))
                        return 2;
                int happened = 0;
                if (out_i >= 0 && p[out_i].revents) {
                        int d = drain(c, out);
                        if (d < 0)
                                return -1;
                        happened |= d;
                }
                if (pid_i >= 0 && p[pid_i].revents) {
                        try_reap(c);
                        happened = 1;
                }
                if (happened)
                        return 1;
        }
}

void ap_child_signal(ap_child *c, int sig) {
        if (c && c->pid > 0 && !c->exited)
                kill(c->pid, sig);
}

int ap_child_finish(ap_child *c, ap_buf *out, double deadline_ms) {
        while (!(c->exited && c->out_fd < 0)) {
                int r = ap_child_wait(c, out, -1, deadline_ms);
                if (r == 0)
                        return -1;
                if (r < 0) {
                        /* Output failed to read: drop it, still reap. */
                        if (c->out_fd >= 0) {
                                close(c->out_fd);
                                c->out_fd = -1;
                        }
                }
        }
        return 0;
}

void ap_child_kill_and_reap(ap_child *c) {
        if (!c)
                return;
        if (c->pid > 0 && !c->exited) {
                kill(-c->pid, SIGKILL);
                kill(c->pid, SIGKILL);
                int status;
                while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
                        ;
                c->exited = true;
                c->status = status;
                c->pid = 0;
        }
        if (c->out_fd >= 0) {
                close(c->out_fd);
                c->out_fd = -1;
        }
        if (c->pidfd >= 0) {
                close(c->pidfd);
                c->pidfd = -1;
        }
        ap_child_close_stdin(c);
}
