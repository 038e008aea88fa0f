/* exitwatch.c: did the target end while the code ran, and how? */
#include "exitwatch.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

/* How long the connector's exit event gets after the pidfd said the process
 * ended (the kernel sends it right after notifying the parent). */
#define CONNECTOR_PATIENCE_MS 200.0

/* Ask the process connector to start (PROC_CN_MCAST_LISTEN) or stop
 * (PROC_CN_MCAST_IGNORE) sending fd its events.  0, or -1 when the request
 * could not be sent whole. */
static int connector_request(int fd, uint32_t op, int flags) {
        /* A netlink header, then a cn_msg whose data is op: built in a
         * buffer, since cn_msg ends in a flexible array. */
        union {
                struct nlmsghdr align;
                unsigned char bytes[NLMSG_SPACE(sizeof(struct cn_msg) + sizeof op)];
        } buf;
        memset(&buf, 0, sizeof buf);
        struct nlmsghdr *nl = &buf.align;
        nl->nlmsg_len = NLMSG_LENGTH(sizeof(struct cn_msg) + sizeof op);
        nl->nlmsg_type = NLMSG_DONE;
        struct cn_msg *cn = NLMSG_DATA(nl);
        cn->id.idx = CN_IDX_PROC;
        cn->id.val = CN_VAL_PROC;
        cn->len = sizeof op;
        memcpy(cn->data, &op, sizeof op);
        return send(fd, buf.bytes, nl->nlmsg_len, flags) == (ssize_t)nl->nlmsg_len ? 0 : -1;
}

static int connector_open(void) {
        int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
        if (fd < 0)
                return -1;
        /* Every process's events arrive until the run ends: a big buffer
         * (root may force it) keeps a busy machine from overflowing it. */
        int size = 4 * 1024 * 1024;
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
        struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC, .nl_pid = 0};
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
                close(fd);
                return -1;
        }
        if (connector_request(fd, PROC_CN_MCAST_LISTEN, 0) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

static void connector_close(int fd) {
        (void)connector_request(fd, PROC_CN_MCAST_IGNORE, MSG_DONTWAIT);
        close(fd);
}

void ap_exit_watch_open(ap_exit_watch *w, pid_t pid) {
        w->pid = pid;
        w->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (w->pidfd >= 0)
                (void)fcntl(w->pidfd, F_SETFD, FD_CLOEXEC);
        else
                w->pidfd = -1;
        /* Only root can listen; an unprivileged bind fails with EPERM. */
        w->nl_fd = geteuid() == 0 ? connector_open() : -1;
}

void ap_exit_watch_close(ap_exit_watch *w) {
        if (!w)
                return;
        if (w->pidfd >= 0)
                close(w->pidfd);
        if (w->nl_fd >= 0)
                connector_close(w->nl_fd);
        w->pidfd = w->nl_fd = -1;
}

int ap_exit_status_from_wait(int status, ap_exit_status *ret) {
        if (WIFEXITED(status)) {
                *ret = (ap_exit_status){.how = AP_EXIT_CODE, .value = WEXITSTATUS(status)};
                return 0;
        }
        if (WIFSIGNALED(status)) {
                *ret = (ap_exit_status){.how = AP_EXIT_SIGNAL,
                                        .value = WTERMSIG(status),
                                        .core_dumped = WCOREDUMP(status) != 0};
                return 0;
        }
        return -1;
}

int ap_proc_stat_exit(const char *text, char *ret_state, int *ret_code) {
        /* "pid (comm) S ...": comm may hold spaces and parentheses; it ends
         * at the last ')'. */
        const char *p = strrchr(text, ')');
        if (!p || p[1] != ' ' || !p[2] || p[3] != ' ')
                return -1;
        *ret_state = p[2];
        /* Field 3 is the state; count on to field 52. */
        int field = 3;
        const char *q = p + 3;
        while (*q && field < 52) {
                if (*q == ' ')
                        field++;
                q++;
        }
        *ret_code = -1;
        if (field != 52)
                return 0;
        char *end;
        errno = 0;
        long v = strtol(q, &end, 10);
        if (errno || end == q || (*end && *end != '\n' && *end != ' ') || v < 0 || v > INT32_MAX)
                return 0;
        *ret_code = (int)v;
        return 0;
}

int ap_proc_connector_find_exit(const void *buf, size_t len, pid_t pid, int *ret_status) {
        const struct nlmsghdr *nl = buf;
        int left = len > INT32_MAX ? INT32_MAX : (int)len;
        for (; NLMSG_OK(nl, (unsigned)left); nl = NLMSG_NEXT(nl, left)) {
                if (nl->nlmsg_type == NLMSG_NOOP || nl->nlmsg_type == NLMSG_ERROR)
                        continue;
                size_t payload = nl->nlmsg_len - NLMSG_HDRLEN;
                if (payload < sizeof(struct cn_msg))
                        continue;
                const struct cn_msg *cn = NLMSG_DATA(nl);
                if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC ||
                    cn->len < sizeof(struct proc_event) ||
                    payload - sizeof(struct cn_msg) < sizeof(struct proc_event))
                        continue;
                struct proc_event ev;
                memcpy(&ev, cn->data, sizeof ev);
                if (ev.what != PROC_EVENT_EXIT)
                        continue;
                /* The thread-group leader's exit carries the group's status. */
                if (ev.event_data.exit.process_pid != pid || ev.event_data.exit.process_tgid != pid)
                        continue;
                *ret_status = (int)ev.event_data.exit.exit_code;
                return 1;
        }
        return 0;
}

static bool wait_readable(int fd, double until) {
        for (;;) {
                double left = until - ap_now_ms();
                if (left < 0)
                        left = 0;
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int r = poll(&p, 1, (int)ceil(left));
                if (r > 0)
                        return true;
                if (r == 0 || (r < 0 && errno != EINTR))
                        return false;
        }
}

static bool from_connector(ap_exit_watch *w, double until, ap_exit_status *ret) {
        /* Large enough for any datagram the connector sends. */
        static _Thread_local char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
        for (;;) {
                ssize_t n = recv(w->nl_fd, buf, sizeof buf, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == ENOBUFS)
                        continue; /* some events were lost; later ones are not */
                if (n < 0) {
                        if (errno != EAGAIN || !wait_readable(w->nl_fd, until))
                                return false;
                        continue;
                }
                int status;
                if (ap_proc_connector_find_exit(buf, (size_t)n, w->pid, &status) == 1)
                        return ap_exit_status_from_wait(status, ret) == 0;
        }
}

static bool from_zombie(ap_exit_watch *w, ap_exit_status *ret) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)w->pid);
        _cleanup_free_ char *text = NULL;
        if (ap_read_file(path, 4096, &text, NULL) < 0)
                return false;
        char state;
        int code;
        if (ap_proc_stat_exit(text, &state, &code) < 0 || state != 'Z' || code < 0)
                return false;
        /* Still ours: the pidfd's process is not reaped (its PID not reused)
         * after the read. */
        if (syscall(SYS_pidfd_send_signal, w->pidfd, 0, NULL, 0) < 0)
                return false;
        return ap_exit_status_from_wait(code, ret) == 0;
}

int ap_exit_watch_ended(ap_exit_watch *w, double until, ap_exit_status *ret) {
        if (w->pidfd < 0)
                return -1;
        if (!wait_readable(w->pidfd, until))
                return 0;
        ap_exit_status s = {.how = AP_EXIT_UNKNOWN};
        if (w->nl_fd >= 0 && from_connector(w, ap_now_ms() + CONNECTOR_PATIENCE_MS, &s)) {
                *ret = s;
                return 1;
        }
        if (!from_zombie(w, &s))
                s = (ap_exit_status){.how = AP_EXIT_UNKNOWN};
        *ret = s;
        return 1;
}

const char *ap_signal_name(int sig) {
        static const struct {
                int sig;
                const char *name;
        } names[] = {
                {SIGHUP, "SIGHUP"},       {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"},
                {SIGILL, "SIGILL"},       {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"},
                {SIGBUS, "SIGBUS"},       {SIGFPE, "SIGFPE"},   {SIGKILL, "SIGKILL"},
                {SIGUSR1, "SIGUSR1"},     {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
                {SIGPIPE, "SIGPIPE"},     {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"},
                {SIGXCPU, "SIGXCPU"},     {SIGXFSZ, "SIGXFSZ"}, {SIGSYS, "SIGSYS"},
                {SIGVTALRM, "SIGVTALRM"}, {SIGPROF, "SIGPROF"}, {SIGSTKFLT, "SIGSTKFLT"},
                {SIGIO, "SIGIO"},         {SIGPWR, "SIGPWR"},
        };
        for (size_t i = 0; i < AP_ARRAY_SIZE(names); i++)
                if (names[i].sig == sig)
                        return names[i].name;
        return NULL;
}

void ap_exit_status_describe(const ap_exit_status *s, char *buf, size_t size) {
        const char *name;
        switch (s->how) {
        case AP_EXIT_CODE:
                snprintf(buf, size, "exit status %d", s->value);
                return;
        case AP_EXIT_SIGNAL:
                name = ap_signal_name(s->value);
                if (name)
                        snprintf(buf, size, "signal %d (%s)%s", s->value, name,
                                 s->core_dumped ? ", core dumped" : "");
                else
                        snprintf(buf, size, "signal %d%s", s->value,
                                 s->core_dumped ? ", core dumped" : "");
                return;
        case AP_EXIT_UNKNOWN:
        default:
                snprintf(buf, size, "unknown");
                return;
        }
}
