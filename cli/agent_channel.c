/* agent_channel.c: the serving agent, from the CLI's side (agent_channel.h). */
#include "agent_channel.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "proc.h"
#include "record.h"

#define PREFIX "attachpy-agent-"
#define SOCKET_NAME "agent.sock"
/* How long the agent gets to answer INFO, DTCH, or to refuse a peer. */
#define ANSWER_MS 2000

int ap_agent_name(pid_t pid, char name[static AP_AGENT_NAME_MAX + 1]) {
        unsigned long long st;
        unsigned char rnd[8];
        if (ap_proc_starttime(pid, &st) < 0 || getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
                return -1;
        static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
        char tail[sizeof rnd + 1];
        for (size_t i = 0; i < sizeof rnd; i++)
                tail[i] = alphabet[rnd[i] % (sizeof alphabet - 1)];
        tail[sizeof rnd] = '\0';
        int n = snprintf(name, AP_AGENT_NAME_MAX + 1, PREFIX "%d-%llu-%s", (int)pid, st, tail);
        return n > 0 && n <= AP_AGENT_NAME_MAX ? 0 : -1;
}

/* "attachpy-agent-<pid>-<starttime>-<tail>": pid and start time, or -1. */
static int parse_name(const char *name, pid_t *ret_pid, unsigned long long *ret_st) {
        int pid, used = 0;
        unsigned long long st;
        if (strncmp(name, PREFIX, strlen(PREFIX)) != 0 ||
            sscanf(name + strlen(PREFIX), "%d-%llu-%n", &pid, &st, &used) != 2 || used == 0 ||
            pid <= 0 || !name[strlen(PREFIX) + (size_t)used])
                return -1;
        *ret_pid = pid;
        *ret_st = st;
        return 0;
}

/* The directory and its socket go (as far as this user may). */
static void remove_dir(int tmp_fd, const char *name) {
        int d = openat(tmp_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (d >= 0) {
                (void)unlinkat(d, SOCKET_NAME, 0);
                close(d);
        }
        (void)unlinkat(tmp_fd, name, AT_REMOVEDIR);
}

/* Connect to <tmp>/<name>/agent.sock: the fd, or -errno. */
static int connect_in(const char *tmp, const char *name) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int n = snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s/" SOCKET_NAME, tmp, name);
        if (n < 0 || (size_t)n >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *)&sa, sizeof sa) < 0) {
                int e = errno;
                close(fd);
                return -e;
        }
        return fd;
}

static bool peer_is(int fd, pid_t pid) {
        struct ucred cred;
        socklen_t len = sizeof cred;
        return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid == pid;
}

int ap_agent_connect(pid_t pid, int *ret_fd, char ret_name[AP_AGENT_NAME_MAX + 1], ap_error *err) {
        char tmp[64];
        unsigned long long st;
        *ret_fd = -1;
        snprintf(tmp, sizeof tmp, "/proc/%d/root/tmp", (int)pid);
        if (ap_proc_starttime(pid, &st) < 0)
                return 0;
        int tmp_fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (tmp_fd < 0)
                return 0; /* not ours to see: preflight has said why, or will */
        DIR *d = fdopendir(tmp_fd);
        if (!d) {
                close(tmp_fd);
                return 0;
        }
        int found = 0;
        struct dirent *e;
        while (found == 0 && (e = readdir(d))) {
                pid_t p;
                unsigned long long s;
                if (parse_name(e->d_name, &p, &s) < 0 || p != pid || s != st)
                        continue;
                int fd = connect_in(tmp, e->d_name);
                if (fd == -ECONNREFUSED || fd == -ENOENT) {
                        /* It no longer listens (exec, a kill): stale. */
                        remove_dir(dirfd(d), e->d_name);
                        continue;
                }
                if (fd == -EACCES || fd == -EPERM) {
                        ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                     "an attachpy agent serves process %d, but its socket is "
                                     "only for root and the process's own user",
                                     (int)pid);
                        ap_error_hint(err,
                                      "run attachpy as the user process %d runs as, or as "
                                      "root",
                                      (int)pid);
                        found = -1;
                        break;
                }
                if (fd < 0)
                        continue;
                if (!peer_is(fd, pid)) {
                        close(fd); /* a socket someone else listens on: not the agent */
                        continue;
                }
                *ret_fd = fd;
                if (ret_name) {
                        /* parse_name and the connect's path bound it. */
                        size_t n = strnlen(e->d_name, AP_AGENT_NAME_MAX);
                        memcpy(ret_name, e->d_name, n);
                        ret_name[n] = '\0';
                }
                found = 1;
        }
        closedir(d);
        return found;
}

bool ap_agent_serves(pid_t pid) {
        int fd;
        ap_error err = AP_ERROR_INIT;
        int r = ap_agent_connect(pid, &fd, NULL, &err);
        ap_error_clear(&err);
        if (r == 1)
                close(fd);
        return r == 1;
}

/* One record from the agent within ANSWER_MS: its tag and text (at most
 * size - 1 bytes; a longer one fails).  peek: leave it in the socket.  0,
 * or -1. */
static int read_record(int fd, char tag[static 5], char *text, size_t size, bool peek) {
        if (peek)
                return ap_record_peek(fd, ANSWER_MS, tag) == AP_RECORD_GOT ? 0 : -1;
        ap_buf payload = {0};
        ap_record_wait w = ap_record_next(fd, -1, ANSWER_MS, (uint32_t)(size - 1), tag, &payload);
        if (w == AP_RECORD_GOT) {
                memcpy(text, payload.data, payload.len);
                text[payload.len] = '\0';
        }
        ap_buf_free(&payload);
        return w == AP_RECORD_GOT ? 0 : -1;
}

static int agent_gone(pid_t pid, const char *what, ap_error *err) {
        ap_error_set(err, AP_ERR_INJECTION_FAILED,
                     "the attachpy agent in process %d did not answer %s", (int)pid, what);
        ap_error_hint(err,
                      "check that process %d is still alive; 'attachpy detach %d' and a new "
                      "'attachpy attach %d' start it afresh",
                      (int)pid, (int)pid, (int)pid);
        return -1;
}

static int denied(pid_t pid, const char *why, ap_error *err) {
        ap_error_set(err, AP_ERR_PERMISSION_DENIED, "the attachpy agent in process %d refused: %s",
                     (int)pid, why);
        ap_error_hint(err, "run attachpy as the user process %d runs as, or as root", (int)pid);
        return -1;
}

int ap_agent_send_request(int fd, pid_t pid, const ap_buf *request, ap_error *err) {
        int r = ap_record_send(fd, "REQ ", request->data, request->len);
        char tag[5], text[256];
        /* A refused peer is told at once; an accepted one hears HELO. */
        if (r == 0 && read_record(fd, tag, text, sizeof text, true) == 0 &&
            strcmp(tag, "DENY") == 0) {
                if (read_record(fd, tag, text, sizeof text, false) < 0)
                        snprintf(text, sizeof text, "no reason given");
                return denied(pid, text, err);
        }
        if (r < 0)
                return agent_gone(pid, "the request", err);
        return 0;
}

int ap_agent_info_get(int fd, ap_agent_info *ret, ap_error *err) {
        char tag[5], text[256];
        int proto;
        long pid;
        if (ap_record_send(fd, "INFO", NULL, 0) < 0 ||
            read_record(fd, tag, text, sizeof text, false) < 0 || strcmp(tag, "INFO") != 0 ||
            sscanf(text, "%d %ld %lu %lu %7s %31s", &proto, &pid, &ret->runs, &ret->active,
                   ret->impl, ret->version) != 6)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "the attachpy agent did not say how it is");
        return 0;
}

int ap_agent_detach(int fd, pid_t pid, unsigned long *ret_active, ap_error *err) {
        char tag[5], text[256];
        if (ap_record_send(fd, "DTCH", NULL, 0) < 0 ||
            read_record(fd, tag, text, sizeof text, false) < 0)
                return agent_gone(pid, "the detach", err);
        if (strcmp(tag, "DENY") == 0)
                return denied(pid, text, err);
        if (strcmp(tag, "DTCH") != 0 || sscanf(text, "%lu", ret_active) != 1)
                return agent_gone(pid, "the detach", err);
        return 0;
}

int ap_agent_reap_stale(const char *dir) {
        DIR *d = opendir(dir);
        if (!d)
                return 0;
        int reaped = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
                pid_t pid;
                unsigned long long st, now;
                if (parse_name(e->d_name, &pid, &st) < 0)
                        continue;
                ap_proc_state ps;
                if (ap_proc_starttime(pid, &now) == 0 && now == st &&
                    !(ap_proc_state_read(pid, &ps) == 0 && (ps.state == 'Z' || ps.state == 'X')))
                        continue; /* its process lives: only a run against it may judge */
                struct stat sb;
                if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISDIR(sb.st_mode) || (geteuid() != 0 && sb.st_uid != geteuid()))
                        continue;
                remove_dir(dirfd(d), e->d_name);
                reaped++;
        }
        closedir(d);
        return reaped;
}
