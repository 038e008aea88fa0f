/* serve.c: the agent that stays (serve.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ap_cleanup.h"
#include "ap_record.h"
#include "channel.h"
#include "job.h"
#include "request.h"

#define AP_PROTOCOL 1
#define SERVE_PREFIX "attachpy-agent-"
#define SOCKET_NAME "agent.sock"
/* How long a new connection has to send its first record, and each part
 * of a request. */
#define FIRST_RECORD_MS 5000

/* The process's serving agent.  A forked child starts with none
 * (on_fork_child); exit removes the files (on_exit). */
static struct server {
        pthread_mutex_t lock;
        bool serving;
        int listen_fd;
        pid_t pid; /* the process that serves (a child of fork() does not) */
        char dir[AP_SERVE_DIR_MAX];
        char socket_path[AP_SERVE_DIR_MAX + sizeof "/" SOCKET_NAME];
        sigset_t run_mask;
        char identity[48];    /* "cpython 3.12.1" */
        unsigned long runs;   /* requests taken */
        unsigned long active; /* runs not yet over */
} server = {.lock = PTHREAD_MUTEX_INITIALIZER, .listen_fd = -1};

static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

bool ap_serve_name_valid(const char *name, size_t len) {
        size_t plen = strlen(SERVE_PREFIX);
        if (len <= plen || len > AP_SERVE_NAME_MAX || memcmp(name, SERVE_PREFIX, plen) != 0)
                return false;
        for (size_t i = plen; i < len; i++)
                if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
                      name[i] == '-'))
                        return false;
        return true;
}

/* The files go; the caller holds the lock (or the process is exiting). */
static void remove_files(void) {
        (void)unlink(server.socket_path);
        (void)rmdir(server.dir);
}

static void on_fork_child(void) {
        /* No thread of the agent's is in the child: it serves nothing and
         * holds no socket it could answer on; the files are the parent's. */
        if (server.listen_fd >= 0)
                close(server.listen_fd);
        server.listen_fd = -1;
        server.serving = false;
        server.active = 0;
        pthread_mutex_init(&server.lock, NULL);
}

static void on_exit_remove(void) {
        if (server.serving && server.pid == getpid())
                remove_files();
}

static void install_hooks(void) {
        (void)pthread_atfork(NULL, NULL, on_fork_child);
        (void)atexit(on_exit_remove);
}

/* ---- one connection ------------------------------------------------------ */

static bool wait_readable(int fd, int ms) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r;
        do
                r = poll(&p, 1, ms);
        while (r < 0 && errno == EINTR);
        return r > 0;
}

/* Read exactly len bytes, each part within FIRST_RECORD_MS. */
static bool recv_within(int fd, void *buf, size_t len) {
        size_t got = 0;
        while (got < len) {
                if (!wait_readable(fd, FIRST_RECORD_MS))
                        return false;
                ssize_t n = recv(fd, (char *)buf + got, len - got, MSG_DONTWAIT);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n <= 0)
                        return false;
                got += (size_t)n;
        }
        return true;
}

/* One record with a text payload; nothing more once a send failed (the
 * channel's rules, channel.h). */
static void reply(int fd, const char tag[static 4], const char *text) {
        ap_channel ch = {.fd = fd};
        ap_channel_text(&ch, tag, text);
}

/* Stop serving: no new connection is taken; runs under way go on.
 * Returns how many were under way. */
static unsigned long stop_serving(void) {
        pthread_mutex_lock(&server.lock);
        unsigned long active = server.active;
        if (server.serving) {
                server.serving = false;
                remove_files();
                /* Wakes the thread in accept(), which closes the socket. */
                (void)shutdown(server.listen_fd, SHUT_RDWR);
        }
        pthread_mutex_unlock(&server.lock);
        return active;
}

/* The first record decides: REQ (a run), INFO, DTCH (detach).  Anything
 * else, nothing within FIRST_RECORD_MS, or a request too large: dropped. */
static void *connection_thread(void *userdata) {
        int fd = (int)(intptr_t)userdata;
        unsigned char h[AP_RECORD_HEADER_BYTES];
        if (!recv_within(fd, h, sizeof h)) {
                close(fd);
                return NULL;
        }
        uint32_t len = ap_record_header_length(h);
        char text[128];
        if (memcmp(h, "INFO", 4) == 0 && len == 0) {
                pthread_mutex_lock(&server.lock);
                snprintf(text, sizeof text, "%d %ld %lu %lu %s", AP_PROTOCOL, (long)getpid(),
                         server.runs, server.active, server.identity);
                pthread_mutex_unlock(&server.lock);
                reply(fd, "INFO", text);
        } else if (memcmp(h, "DTCH", 4) == 0 && len == 0) {
                snprintf(text, sizeof text, "%lu", stop_serving());
                reply(fd, "DTCH", text);
        } else if (memcmp(h, "REQ ", 4) == 0 && len > 0 && len <= AP_MAX_REQUEST) {
                char *request = malloc(len);
                if (!request || !recv_within(fd, request, len)) {
                        free(request);
                        close(fd);
                        return NULL;
                }
                pthread_mutex_lock(&server.lock);
                server.runs++;
                server.active++;
                sigset_t mask = server.run_mask;
                pthread_mutex_unlock(&server.lock);
                ap_job_run_connected(fd, request, len, &mask); /* takes fd and request */
                pthread_mutex_lock(&server.lock);
                if (server.active)
                        server.active--;
                pthread_mutex_unlock(&server.lock);
                return NULL;
        }
        close(fd);
        return NULL;
}

/* Only root and the target's own user may use the agent: checked on every
 * connection (SO_PEERCRED), as the kernel checks who may ptrace it. */
static bool peer_allowed(int fd) {
        struct ucred cred;
        socklen_t len = sizeof cred;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return false;
        return cred.uid == 0 || cred.uid == geteuid() || cred.uid == getuid();
}

static void *accept_thread(void *userdata) {
        int listen_fd = (int)(intptr_t)userdata;
        for (;;) {
                int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE ||
                            errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                                if (errno != EINTR && errno != ECONNABORTED)
                                        (void)poll(NULL, 0, 100); /* out of fds: not a busy loop */
                                pthread_mutex_lock(&server.lock);
                                bool go_on = server.serving && server.listen_fd == listen_fd;
                                pthread_mutex_unlock(&server.lock);
                                if (go_on)
                                        continue;
                        }
                        break; /* detached (shutdown), or the socket is broken */
                }
                if (!peer_allowed(fd)) {
                        reply(fd, "DENY",
                              "only root and the process's own user may run "
                              "code through this agent");
                        close(fd);
                        continue;
                }
                if (ap_thread_start_detached(connection_thread, (void *)(intptr_t)fd, NULL) < 0)
                        close(fd);
        }
        pthread_mutex_lock(&server.lock);
        if (server.listen_fd == listen_fd) {
                if (server.serving) {
                        server.serving = false;
                        remove_files();
                }
                server.listen_fd = -1;
        }
        pthread_mutex_unlock(&server.lock);
        close(listen_fd);
        return NULL;
}

/* ---- starting ------------------------------------------------------------ */

static int fail(char *why, size_t why_size, const char *what, int err) {
        snprintf(why, why_size, "%s: %s", what, strerror(err));
        return -1;
}

/* The directory (0700, this process's user) and the listening socket in it. */
static int make_socket(char *why, size_t why_size) {
        if (mkdir(server.dir, 0700) < 0)
                return fail(why, why_size, "cannot create the agent's directory", errno);
        struct stat st;
        if (lstat(server.dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
            (st.st_mode & 0077) != 0) {
                (void)rmdir(server.dir);
                return fail(why, why_size, "the agent's directory is not its own", EPERM);
        }
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", server.socket_path);
        if (fd < 0 || bind(fd, (const struct sockaddr *)&sa, sizeof sa) < 0 ||
            chmod(server.socket_path, 0600) < 0 || listen(fd, 64) < 0) {
                int e = errno;
                if (fd >= 0)
                        close(fd);
                remove_files();
                return fail(why, why_size, "cannot listen on the agent's socket", e);
        }
        server.listen_fd = fd;
        return 0;
}

int ap_serve_start(const char *name, const sigset_t *run_mask, const char *identity,
                   char dir[static AP_SERVE_DIR_MAX], char *why, size_t why_size) {
        (void)pthread_once(&hooks_once, install_hooks);
        pthread_mutex_lock(&server.lock);
        int r = 0;
        if (server.serving) {
                r = 1;
                goto out;
        }
        if (!ap_serve_name_valid(name, strlen(name))) {
                r = fail(why, why_size, "bad name for the agent's directory", EINVAL);
                goto out;
        }
        snprintf(server.dir, sizeof server.dir, "/tmp/%s", name);
        snprintf(server.socket_path, sizeof server.socket_path, "%s/%s", server.dir, SOCKET_NAME);
        if (make_socket(why, why_size) < 0) {
                r = -1;
                goto out;
        }
        server.run_mask = *run_mask;
        snprintf(server.identity, sizeof server.identity, "%s", identity);
        server.pid = getpid();
        server.runs = 0;
        server.serving = true;
        int e = ap_thread_start_detached(accept_thread, (void *)(intptr_t)server.listen_fd, NULL);
        if (e < 0) {
                server.serving = false;
                close(server.listen_fd);
                server.listen_fd = -1;
                remove_files();
                r = fail(why, why_size, "cannot start the agent's thread", -e);
        }
out:
        if (r >= 0)
                snprintf(dir, AP_SERVE_DIR_MAX, "%s", server.dir);
        pthread_mutex_unlock(&server.lock);
        return r;
}
