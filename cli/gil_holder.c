/* gil_holder.c: the thread that holds the GIL, named from /proc. */
#include "gil_holder.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "elf_symbols.h"

/* At most this many threads are looked at, this many stack words scanned
 * and this many callers named. */
#define MAX_THREADS 4096
#define STACK_WORDS 512
#define MAX_CALLERS 1
/* The GIL's condition variable: waiters in either of glibc's two groups
 * wait on words within it. */
#define COND_SPAN 64

int ap_thread_syscall_parse(const char *text, ap_thread_syscall *ret) {
        memset(ret, 0, sizeof *ret);
        if (strncmp(text, "running", 7) == 0) {
                ret->running = true;
                ret->nr = -1;
                return 0;
        }
        char *end;
        errno = 0;
        long nr = strtol(text, &end, 10);
        if (end == text || errno)
                return -1;
        ret->nr = nr;
        uint64_t v[8];
        int n = 0;
        const char *p = end;
        while (n < 8) {
                while (*p == ' ')
                        p++;
                if (*p == '\n' || *p == '\0')
                        break;
                errno = 0;
                unsigned long long x = strtoull(p, &end, 16);
                if (end == p || errno)
                        return -1;
                v[n++] = x;
                p = end;
        }
        while (*p == ' ')
                p++;
        if (*p != '\n' && *p != '\0')
                return -1;
        /* "-1 SP PC" (blocked, not in a system call) or "NR A1..A6 SP PC". */
        if (nr == -1 && n == 2) {
                ret->sp = v[0];
                ret->pc = v[1];
                return 0;
        }
        if (n != 8)
                return -1;
        memcpy(ret->args, v, sizeof ret->args);
        ret->sp = v[6];
        ret->pc = v[7];
        return 0;
}

bool ap_syscall_is_futex(long nr) {
#ifdef SYS_futex
        if (nr == SYS_futex)
                return true;
#endif
#ifdef SYS_futex_waitv
        if (nr == SYS_futex_waitv)
                return true;
#endif
        return false;
}

typedef struct thread {
        pid_t tid;
        char state;
        char comm[32];
        bool have_sc;
        ap_thread_syscall sc;
} thread;

static int read_small(const char *path, char *buf, size_t size) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        ssize_t n = read(fd, buf, size - 1);
        close(fd);
        if (n < 0)
                return -1;
        buf[n] = '\0';
        return 0;
}

static void read_thread(pid_t pid, thread *t) {
        char path[96], buf[512];
        t->state = '?';
        snprintf(t->comm, sizeof t->comm, "?");
        snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)t->tid);
        if (read_small(path, buf, sizeof buf) == 0) {
                char *open_paren = strchr(buf, '('), *close_paren = strrchr(buf, ')');
                if (open_paren && close_paren && close_paren > open_paren) {
                        size_t len = (size_t)(close_paren - open_paren - 1);
                        if (len >= sizeof t->comm)
                                len = sizeof t->comm - 1;
                        memcpy(t->comm, open_paren + 1, len);
                        t->comm[len] = '\0';
                        if (close_paren[1] == ' ' && close_paren[2])
                                t->state = close_paren[2];
                }
        }
        snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", (int)pid, (int)t->tid);
        t->have_sc =
                read_small(path, buf, sizeof buf) == 0 && ap_thread_syscall_parse(buf, &t->sc) == 0;
}

static bool waits_in_futex(const thread *t) {
        return t->have_sc && !t->sc.running && ap_syscall_is_futex(t->sc.nr);
}

/* The executable mapping holding addr: its file and the file offset. */
static bool find_mapping(pid_t pid, uint64_t addr, char *file, size_t size, uint64_t *off) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return false;
        char line[4096];
        bool found = false;
        while (!found && fgets(line, sizeof line, f)) {
                unsigned long long lo, hi, o;
                char perms[8];
                int name_at = 0;
                if (sscanf(line, "%llx-%llx %7s %llx %*s %*s%n", &lo, &hi, perms, &o, &name_at) <
                            4 ||
                    addr < lo || addr >= hi || perms[2] != 'x')
                        continue;
                const char *name = line + name_at;
                while (*name == ' ')
                        name++;
                size_t n = strcspn(name, "\n");
                if (n == 0 || name[0] != '/')
                        break; /* anonymous: no symbols */
                snprintf(file, size, "%.*s", (int)n, name);
                *off = o + (addr - lo);
                found = true;
        }
        fclose(f);
        return found;
}

/* "read (libc.so.6)" for addr, or false. */
static bool symbolize(pid_t pid, uint64_t addr, char *out, size_t size) {
        char file[4096], fn[256], mapped[4200];
        uint64_t off = 0;
        if (!find_mapping(pid, addr, file, sizeof file, &off))
                return false;
        /* Through the target's root: right also in another mount namespace. */
        snprintf(mapped, sizeof mapped, "/proc/%d/root%s", (int)pid, file);
        if (ap_elf_function_at_offset(mapped, off, fn, sizeof fn) < 0 &&
            ap_elf_function_at_offset(file, off, fn, sizeof fn) < 0)
                return false;
        const char *base = strrchr(file, '/');
        snprintf(out, size, "%.200s (%.80s)", fn, base ? base + 1 : file);
        return true;
}

/* Whether the bytes before ra end with a call instruction (x86-64: e8
 * rel32, or ff /2 of 2, 3, 6 or 7 bytes): a return address, not just any
 * code pointer on the stack. */
static bool after_call(int mem, uint64_t ra) {
#if defined(__x86_64__)
        unsigned char b[7];
        if (ra < sizeof b || pread(mem, b, sizeof b, (off_t)(ra - sizeof b)) != (ssize_t)sizeof b)
                return false;
        if (b[2] == 0xe8)
                return true;
        for (int len = 2; len <= 7; len++) {
                const unsigned char *op = b + 7 - len;
                if (op[0] == 0xff && ((op[1] >> 3) & 7) == 2)
                        return true;
                if (len >= 3 && (op[0] & 0xf0) == 0x40 && op[1] == 0xff && ((op[2] >> 3) & 7) == 2)
                        return true;
        }
        return false;
#else
        (void)mem;
        (void)ra;
        return true;
#endif
}

/* Where thread t is: its pc's function, then its callers found on the
 * stack. */
static void describe_place(pid_t pid, const thread *t, char *out, size_t size) {
        if (!t->have_sc || t->sc.running || !t->sc.pc) {
                snprintf(out, size, "running, in an unknown C function");
                return;
        }
        char here[320];
        if (!symbolize(pid, t->sc.pc, here, sizeof here))
                snprintf(here, sizeof here, "an unknown C function (pc 0x%" PRIx64 ")", t->sc.pc);
        size_t len = (size_t)snprintf(out, size, "in %s", here);
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
        int mem = open(path, O_RDONLY | O_CLOEXEC);
        if (mem < 0)
                return;
        uint64_t words[STACK_WORDS];
        ssize_t n = pread(mem, words, sizeof words, (off_t)t->sc.sp);
        int callers = 0;
        char last[320];
        snprintf(last, sizeof last, "%s", here);
        for (ssize_t i = 0; n > 0 && i < n / 8 && callers < MAX_CALLERS && len < size; i++) {
                char name[320];
                if (words[i] < 4096 || !after_call(mem, words[i]) ||
                    !symbolize(pid, words[i], name, sizeof name) || strcmp(name, last) == 0)
                        continue;
                len += (size_t)snprintf(out + len, size - len, "%s %s",
                                        callers ? "," : " called from", name);
                snprintf(last, sizeof last, "%s", name);
                callers++;
        }
        close(mem);
}

/* The process's threads, read into ts (at most MAX_THREADS). */
static size_t read_threads(pid_t pid, thread *ts) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
        DIR *d = opendir(path);
        size_t n = 0;
        if (d) {
                struct dirent *e;
                while (n < MAX_THREADS && (e = readdir(d)))
                        if (e->d_name[0] >= '1' && e->d_name[0] <= '9')
                                ts[n++].tid = (pid_t)atoi(e->d_name);
                closedir(d);
        }
        for (size_t i = 0; i < n; i++)
                read_thread(pid, &ts[i]);
        return n;
}

/* Which thread holds the GIL the agent thread (agent_tid) waits for; *sure
 * when no other could. */
static const thread *choose_holder(pid_t pid, pid_t agent_tid, const thread *ts, size_t n,
                                   const thread **ret_agent, bool *sure) {
        const thread *agent = NULL;
        for (size_t i = 0; i < n; i++)
                if (ts[i].tid == agent_tid)
                        agent = &ts[i];
        *ret_agent = agent;
        const thread *holder = NULL;
        *sure = false;
        if (agent && waits_in_futex(agent)) {
                /* Candidates: not the agent, not waiting on the GIL. */
                uint64_t cond = agent->sc.args[0];
                size_t n_cand = 0, n_running = 0;
                const thread *cand = NULL, *running = NULL, *main_cand = NULL;
                for (size_t i = 0; i < n; i++) {
                        const thread *t = &ts[i];
                        if (t == agent)
                                continue;
                        if (waits_in_futex(t) && t->sc.args[0] + COND_SPAN > cond &&
                            t->sc.args[0] < cond + COND_SPAN)
                                continue;
                        n_cand++;
                        cand = t;
                        if (t->state == 'R') {
                                n_running++;
                                running = t;
                        }
                        if (t->tid == pid)
                                main_cand = t;
                }
                if (n_cand == 1) {
                        holder = cand;
                        *sure = true;
                } else if (n_running == 1)
                        holder = running;
                else
                        holder = main_cand;
        } else {
                /* A queued call waits for the main thread. */
                for (size_t i = 0; i < n; i++)
                        if (ts[i].tid == pid)
                                holder = &ts[i];
                *sure = agent_tid == 0;
        }
        return holder;
}

/* How long the description waits for the threads to settle: just after a
 * debugger let go, the agent may not wait on the GIL yet and the holder may
 * be restarting the system call the debugger interrupted. */
#define SETTLE_TRIES 20
#define SETTLE_STEP_US 5000

void ap_gil_holder_describe(pid_t pid, pid_t agent_tid, char *buf, size_t size) {
        thread *ts = calloc(MAX_THREADS, sizeof *ts);
        size_t n = 0;
        const thread *holder = NULL, *agent = NULL;
        bool sure = false;
        for (int attempt = 0; ts && attempt < SETTLE_TRIES; attempt++) {
                if (attempt > 0) {
                        memset(ts, 0, MAX_THREADS * sizeof *ts);
                        usleep(SETTLE_STEP_US);
                }
                n = read_threads(pid, ts);
                holder = choose_holder(pid, agent_tid, ts, n, &agent, &sure);
                bool agent_settled = agent_tid == 0 || (agent && waits_in_futex(agent));
                if (agent_settled && holder && holder->have_sc && !holder->sc.running)
                        break;
        }
        if (!holder) {
                snprintf(buf, size, "an unknown thread (%zu threads)", n);
                free(ts);
                return;
        }
        char place[1024];
        describe_place(pid, holder, place, sizeof place);
        snprintf(buf, size, "%sthread %d (%s, %s), %s", sure ? "" : "probably ", (int)holder->tid,
                 holder->comm, holder->tid == pid ? "the main thread" : "not the main thread",
                 place);
        free(ts);
}
