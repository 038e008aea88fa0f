/* cure.c: lldb-server behind a relay that can finish lldb's session. */
#include "cure.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spawn.h"
#include "util.h"

/* How long a call lldb started gets to return once lldb is gone (a dlopen
 * takes about a millisecond), and how long each packet of the cure may take. */
#define CALL_GRACE_MS 3000.0
#define PACKET_MS 2000.0
#define MAX_UNIT (64 * 1024 * 1024)

char *ap_cure_server_path(const char *lldb_program) {
        const char *env = getenv("LLDB_DEBUGSERVER_PATH");
        if (env && *env)
                return access(env, X_OK) == 0 ? strdup(env) : NULL;
        char *prog = ap_find_program(lldb_program);
        if (!prog)
                return NULL;
        char *real = realpath(prog, NULL);
        free(prog);
        if (!real)
                return NULL;
        char *slash = strrchr(real, '/');
        char *out = NULL;
        if (slash) {
                *slash = '\0';
                if (asprintf(&out, "%s/lldb-server", real) < 0)
                        out = NULL;
                else if (access(out, X_OK) < 0) {
                        free(out);
                        out = NULL;
                }
        }
        free(real);
        return out ? out : ap_find_program("lldb-server");
}

size_t ap_remote_unit(const char *buf, size_t len) {
        if (len == 0)
                return 0;
        if (buf[0] != '$' && buf[0] != '%')
                return 1; /* '+', '-', 0x03, or a stray byte */
        const char *hash = memchr(buf, '#', len);
        if (!hash || (size_t)(hash - buf) + 3 > len)
                return 0;
        return (size_t)(hash - buf) + 3;
}

static bool starts(const char *p, size_t len, const char *prefix) {
        size_t n = strlen(prefix);
        return len >= n && memcmp(p, prefix, n) == 0;
}

bool ap_remote_is_kill(const char *p, size_t len) {
        return (len == 1 && p[0] == 'k') || starts(p, len, "vKill");
}

/* The value of ";thread:X" in p, into out. */
static void thread_of(const char *p, size_t len, char *out, size_t n) {
        out[0] = '\0';
        for (size_t i = 0; i + 8 <= len; i++)
                if (memcmp(p + i, "thread:", 7) == 0) {
                        size_t j = i + 7, k = 0;
                        while (j < len && p[j] != ';' && k + 1 < n)
                                out[k++] = p[j++];
                        out[k] = '\0';
                        return;
                }
}

void ap_remote_note(ap_remote_state *s, bool from_lldb, const char *p, size_t len) {
        if (from_lldb) {
                s->awaiting = true;
                s->awaiting_stop = false;
                size_t n = len < sizeof s->last - 1 ? len : sizeof s->last - 1;
                memcpy(s->last, p, n);
                s->last[n] = '\0';
                if (starts(p, len, "QSaveRegisterState"))
                        thread_of(p, len, s->save_thread, sizeof s->save_thread);
                else if (starts(p, len, "QRestoreRegisterState:")) {
                        unsigned id = (unsigned)strtoul(p + 22, NULL, 10);
                        for (int i = 0; i < s->n_saved; i++)
                                if (s->saved[i].id == id) {
                                        s->saved[i] = s->saved[--s->n_saved];
                                        break;
                                }
                } else if ((starts(p, len, "Z0,") || starts(p, len, "Z1,")) &&
                           s->n_breakpoints < (int)AP_ARRAY_SIZE(s->breakpoints) &&
                           len < sizeof s->breakpoints[0]) {
                        memcpy(s->breakpoints[s->n_breakpoints], p + 1, len - 1);
                        s->breakpoints[s->n_breakpoints++][len - 1] = '\0';
                } else if (starts(p, len, "z0,") || starts(p, len, "z1,")) {
                        for (int i = 0; i < s->n_breakpoints; i++)
                                if (strlen(s->breakpoints[i]) == len - 1 &&
                                    memcmp(s->breakpoints[i], p + 1, len - 1) == 0) {
                                        memcpy(s->breakpoints[i],
                                               s->breakpoints[--s->n_breakpoints],
                                               sizeof s->breakpoints[0]);
                                        break;
                                }
                } else if ((len >= 1 &&
                            (p[0] == 'c' || p[0] == 's' || p[0] == 'C' || p[0] == 'S')) ||
                           (starts(p, len, "vCont;"))) {
                        s->awaiting_stop = true;
                }
                return;
        }
        size_t m = len < sizeof s->reply - 1 ? len : sizeof s->reply - 1;
        memcpy(s->reply, p, m);
        s->reply[m] = '\0';
        if (!s->awaiting)
                return; /* an answer to nothing: the interrupt's stop reply */
        if (s->awaiting_stop) {
                if (len == 0 || !strchr("TSWX", p[0]))
                        return; /* console output while it runs */
                s->awaiting = s->awaiting_stop = false;
                return;
        }
        s->awaiting = false;
        bool ok = len == 2 && memcmp(p, "OK", 2) == 0;
        if (strcmp(s->last, "QStartNoAckMode") == 0 && ok)
                s->no_ack = true;
        else if (s->last[0] == 'D' && ok)
                s->detached = true;
        else if (starts(s->last, strlen(s->last), "QSaveRegisterState") && len > 0 && p[0] >= '0' &&
                 p[0] <= '9' && s->n_saved < (int)AP_ARRAY_SIZE(s->saved)) {
                char num[16];
                size_t n = len < sizeof num - 1 ? len : sizeof num - 1;
                memcpy(num, p, n);
                num[n] = '\0';
                s->saved[s->n_saved].id = (unsigned)strtoul(num, NULL, 10);
                memcpy(s->saved[s->n_saved].thread, s->save_thread, sizeof s->save_thread);
                s->n_saved++;
        }
}

/* ---- the relay process ---- */

typedef struct stream {
        int fd;
        char *buf;
        size_t len, cap;
        bool eof;
} stream;

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t w = write(fd, p, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return -1;
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

/* Read what is there into s (one read). */
static void fill(stream *s) {
        if (s->cap - s->len < 65536) {
                size_t cap = s->cap ? s->cap * 2 : 131072;
                char *b = cap <= MAX_UNIT ? realloc(s->buf, cap) : NULL;
                if (!b) {
                        s->eof = true;
                        return;
                }
                s->buf = b;
                s->cap = cap;
        }
        ssize_t n = read(s->fd, s->buf + s->len, s->cap - s->len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n <= 0)
                s->eof = true;
        else
                s->len += (size_t)n;
}

/* Take each whole unit off the front of s, note it, and forward it to
 * to_fd (-1: nowhere).  Packets from lldb-server are acknowledged when
 * acks are still on and nobody forwards them (lldb is gone). */
static void pass_units(stream *s, bool from_lldb, int to_fd, ap_remote_state *st, int ack_fd) {
        size_t at = 0;
        for (;;) {
                size_t n = ap_remote_unit(s->buf + at, s->len - at);
                if (n == 0)
                        break;
                const char *u = s->buf + at;
                if (from_lldb && u[0] == '$' && ap_remote_is_kill(u + 1, n - 4)) {
                        /* lldb connected rather than attached, so it kills
                         * the process when it quits early (a guard that
                         * failed, an interrupt): attachpy never lets it. */
                        static const char detach[] = "$D#44";
                        ap_remote_note(st, true, "D", 1);
                        if (to_fd >= 0)
                                (void)write_all(to_fd, detach, sizeof detach - 1);
                        st->refused_kill = true;
                        at += n;
                        continue;
                }
                if (u[0] == '$' && n >= 4)
                        ap_remote_note(st, from_lldb, u + 1, n - 4);
                if (to_fd >= 0)
                        (void)write_all(to_fd, u, n);
                else if (ack_fd >= 0 && u[0] == '$' && !st->no_ack)
                        (void)write_all(ack_fd, "+", 1);
                at += n;
        }
        memmove(s->buf, s->buf + at, s->len - at);
        s->len -= at;
}

static int send_packet(int fd, const char *payload) {
        unsigned sum = 0;
        for (const char *p = payload; *p; p++)
                sum += (unsigned char)*p;
        char out[256];
        int n = snprintf(out, sizeof out, "$%s#%02x", payload, sum & 0xff);
        return n > 0 && (size_t)n < sizeof out ? write_all(fd, out, (size_t)n) : -1;
}

/* Read lldb-server's output until the state has no unanswered request, or
 * the deadline. */
static bool await_answer(stream *srv, ap_remote_state *st, double deadline) {
        while (st->awaiting && !srv->eof) {
                double left = deadline - ap_now_ms();
                if (left <= 0)
                        return false;
                struct pollfd p = {.fd = srv->fd, .events = POLLIN};
                if (poll(&p, 1, (int)left + 1) > 0)
                        fill(srv);
                pass_units(srv, false, -1, st, srv->fd);
        }
        return !st->awaiting;
}

static bool request(stream *srv, ap_remote_state *st, const char *payload) {
        ap_remote_note(st, true, payload, strlen(payload));
        if (send_packet(srv->fd, payload) < 0)
                return false;
        return await_answer(srv, st, ap_now_ms() + PACKET_MS);
}

/* lldb is gone without detaching: finish its session. */
static void finish_for_lldb(stream *srv, ap_remote_state *st, char *sum, size_t n) {
        const char *call = "none in flight";
        if (st->awaiting_stop) {
                /* A call lldb started, or a resume: let it return to lldb's
                 * breakpoint, then interrupt. */
                if (await_answer(srv, st, ap_now_ms() + CALL_GRACE_MS))
                        call = "returned";
                else {
                        (void)write_all(srv->fd, "\x03", 1);
                        call = await_answer(srv, st, ap_now_ms() + PACKET_MS) ? "interrupted"
                                                                              : "did not stop";
                }
        } else if (st->awaiting) {
                call = await_answer(srv, st, ap_now_ms() + PACKET_MS) ? "request answered"
                                                                      : "request unanswered";
        }
        int restored = 0, removed = 0;
        for (int i = st->n_saved - 1; i >= 0; i--) {
                char pkt[96];
                if (st->saved[i].thread[0])
                        snprintf(pkt, sizeof pkt, "QRestoreRegisterState:%u;thread:%s;",
                                 st->saved[i].id, st->saved[i].thread);
                else
                        snprintf(pkt, sizeof pkt, "QRestoreRegisterState:%u", st->saved[i].id);
                if (request(srv, st, pkt))
                        restored++;
        }
        while (st->n_breakpoints > 0) {
                char pkt[64];
                snprintf(pkt, sizeof pkt, "z%s", st->breakpoints[st->n_breakpoints - 1]);
                int before = st->n_breakpoints;
                if (request(srv, st, pkt))
                        removed++;
                if (st->n_breakpoints == before)
                        st->n_breakpoints--;
        }
        st->reply[0] = '\0';
        bool detached = request(srv, st, "D") && st->detached;
        snprintf(sum, n,
                 "lldb ended without detaching; attachpy finished its session: call %s, %d "
                 "register state%s restored, %d breakpoint%s removed, %s%s%s",
                 call, restored, restored == 1 ? "" : "s", removed, removed == 1 ? "" : "s",
                 detached ? "detached" : "detach failed: ", detached ? "" : st->reply,
                 detached || st->reply[0] ? "" : "no answer");
}

static pid_t start_server(const char *server, pid_t pid, int *srv_fd) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return -1;
        char fdarg[32], pidarg[32];
        snprintf(fdarg, sizeof fdarg, "--fd=%d", sv[1]);
        snprintf(pidarg, sizeof pidarg, "%d", (int)pid);
        pid_t child = fork();
        if (child == 0) {
                int devnull = open("/dev/null", O_RDWR);
                if (devnull >= 0) {
                        dup2(devnull, 0);
                        dup2(devnull, 1);
                        dup2(devnull, 2);
                }
                fcntl(sv[1], F_SETFD, 0);
                char gdbserver[] = "gdbserver", regs[] = "--native-regs", setsid_[] = "--setsid",
                     attach[] = "--attach";
                char *argv[] = {(char *)server, gdbserver, fdarg,  regs,
                                setsid_,        attach,    pidarg, NULL};
                execv(server, argv);
                _exit(127);
        }
        close(sv[1]);
        if (child < 0) {
                close(sv[0]);
                return -1;
        }
        *srv_fd = sv[0];
        return child;
}

static void reap(pid_t child) {
        for (int i = 0; i < 200; i++) {
                if (waitpid(child, NULL, WNOHANG) == child)
                        return;
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
}

/* The control socket from attachpy carries lldb's pid once lldb runs: the
 * relay then watches lldb itself (a pidfd), since lldb's own children (its
 * `platform shell` commands) inherit its end of the socket and can keep it
 * open after lldb died.  Returns the pidfd, or -1. */
static int watch_lldb(int *ctl) {
        int32_t pid = 0;
        ssize_t n = read(*ctl, &pid, sizeof pid);
        if (n <= 0 || n != (ssize_t)sizeof pid) {
                *ctl = -1; /* attachpy is gone or never sent it: EOF alone tells */
                return -1;
        }
        *ctl = -1;
        return (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
}

static void relay_main(int lldb_side, int report, pid_t pid, const char *server) {
        char sum[512] = "";
        int ctl = report, lldb_pidfd = -1;
        bool lldb_gone = false;
        /* Wait for lldb to connect: its first packet. */
        for (;;) {
                struct pollfd p[3] = {{.fd = lldb_side, .events = POLLIN},
                                      {.fd = ctl, .events = POLLIN},
                                      {.fd = lldb_pidfd, .events = POLLIN}};
                if (poll(p, 3, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        _exit(2);
                }
                if (p[1].revents)
                        lldb_pidfd = watch_lldb(&ctl);
                if (p[2].revents)
                        lldb_gone = true;
                char peek;
                if (p[0].revents && recv(lldb_side, &peek, 1, MSG_PEEK) <= 0)
                        lldb_gone = true;
                if (lldb_gone)
                        _exit(0); /* lldb ended before it connected */
                if (p[0].revents)
                        break;
        }
        int srv_fd = -1;
        pid_t srv_pid = start_server(server, pid, &srv_fd);
        if (srv_pid < 0) {
                snprintf(sum, sizeof sum, "cannot start %s: %s", server, strerror(errno));
                (void)write_all(report, sum, strlen(sum));
                _exit(2);
        }
        stream l = {.fd = lldb_side}, s = {.fd = srv_fd};
        static ap_remote_state st;
        while (!l.eof && !s.eof && !lldb_gone) {
                struct pollfd p[4] = {{.fd = l.fd, .events = POLLIN},
                                      {.fd = s.fd, .events = POLLIN},
                                      {.fd = ctl, .events = POLLIN},
                                      {.fd = lldb_pidfd, .events = POLLIN}};
                if (poll(p, 4, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[0].revents)
                        fill(&l);
                if (p[1].revents)
                        fill(&s);
                if (p[2].revents)
                        lldb_pidfd = watch_lldb(&ctl);
                if (p[3].revents)
                        lldb_gone = true;
                pass_units(&l, true, s.fd, &st, -1);
                pass_units(&s, false, l.fd, &st, -1);
        }
        int code = 0;
        if ((l.eof || lldb_gone) && !s.eof && !st.detached) {
                close(l.fd);
                /* lldb may have died before acknowledging lldb-server's
                 * last packet: a spare ack is ignored. */
                if (!st.no_ack)
                        (void)write_all(s.fd, "+", 1);
                finish_for_lldb(&s, &st, sum, sizeof sum);
                code = 1;
        } else if (s.eof && !st.detached) {
                snprintf(sum, sizeof sum, "lldb-server ended without detaching");
                code = 3;
        } else if (st.refused_kill) {
                snprintf(sum, sizeof sum,
                         "lldb asked lldb-server to kill process %d as it quit; attachpy's relay "
                         "detached it instead",
                         (int)pid);
        }
        close(s.fd);
        reap(srv_pid);
        (void)write_all(report, sum, strlen(sum));
        _exit(code);
}

int ap_cure_start(ap_cure *c, pid_t pid, const char *server_path, ap_error *err) {
        *c = (ap_cure)AP_CURE_INIT;
        int sv[2], rep[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return ap_error_set(err, AP_ERR_DEBUGGER_FAILED, "socketpair: %s", strerror(errno));
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, rep) < 0) {
                int e = errno;
                close(sv[0]);
                close(sv[1]);
                return ap_error_set(err, AP_ERR_DEBUGGER_FAILED, "pipe: %s", strerror(e));
        }
        pid_t child = fork();
        if (child == 0) {
                /* The relay: its own group, no death signal (it must outlive
                 * attachpy), nothing of attachpy's but its two ends. */
                setpgid(0, 0);
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                signal(SIGPIPE, SIG_IGN);
                int a = fcntl(sv[1], F_DUPFD_CLOEXEC, 10), b = fcntl(rep[1], F_DUPFD_CLOEXEC, 10);
                if (a < 0 || b < 0 || dup2(a, 3) < 0 || dup2(b, 4) < 0)
                        _exit(2);
                int devnull = open("/dev/null", O_RDWR);
                if (devnull >= 0) {
                        dup2(devnull, 0);
                        dup2(devnull, 1);
                        dup2(devnull, 2);
                }
                syscall(SYS_close_range, 5U, ~0U, 0U);
                fcntl(3, F_SETFD, FD_CLOEXEC);
                fcntl(4, F_SETFD, FD_CLOEXEC);
                relay_main(3, 4, pid, server_path);
        }
        int e = errno;
        close(sv[1]);
        close(rep[1]);
        if (child < 0) {
                close(sv[0]);
                close(rep[0]);
                return ap_error_set(err, AP_ERR_DEBUGGER_FAILED, "cannot fork: %s", strerror(e));
        }
        fcntl(sv[0], F_SETFD, 0); /* for lldb */
        c->relay = child;
        c->lldb_fd = sv[0];
        c->report_fd = rep[0];
        return 0;
}

void ap_cure_lldb_started(ap_cure *c, pid_t lldb) {
        int32_t pid = (int32_t)lldb;
        if (c->report_fd >= 0)
                (void)write_all(c->report_fd, (const char *)&pid, sizeof pid);
        ap_cure_close_lldb_end(c);
}

void ap_cure_close_lldb_end(ap_cure *c) {
        if (c->lldb_fd >= 0)
                close(c->lldb_fd);
        c->lldb_fd = -1;
}

int ap_cure_finish(ap_cure *c, double deadline_ms, char *summary, size_t n) {
        if (n)
                summary[0] = '\0';
        ap_cure_close_lldb_end(c);
        if (!c->relay)
                return 0;
        size_t got = 0;
        bool done = false;
        while (c->report_fd >= 0) {
                double left = deadline_ms - ap_now_ms();
                if (left <= 0)
                        break;
                struct pollfd p = {.fd = c->report_fd, .events = POLLIN};
                int r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left + 1);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        break;
                ssize_t k = got + 1 < n ? read(c->report_fd, summary + got, n - 1 - got) : 0;
                char sink[256];
                if (got + 1 >= n)
                        k = read(c->report_fd, sink, sizeof sink);
                else if (k > 0)
                        got += (size_t)k;
                if (k <= 0) {
                        done = true;
                        break;
                }
        }
        if (n)
                summary[got] = '\0';
        if (c->report_fd >= 0)
                close(c->report_fd);
        c->report_fd = -1;
        int status = 0;
        if (!done)
                kill(c->relay, SIGKILL);
        waitpid(c->relay, &status, 0);
        c->relay = 0;
        if (!done || !WIFEXITED(status))
                return -1;
        return WEXITSTATUS(status) == 1 ? 1 : WEXITSTATUS(status) == 0 ? 0 : -1;
}
