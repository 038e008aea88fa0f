/* test_target.c: preflight, ap_target_inspect() on real processes this
 * test starts (the pure rules are in test_trace_policy.c, the versions in
 * test_python_version.c): itself, a missing pid, a zombie, a stopped process, a traced
 * one, Pythons that allow and that refuse remote debugging, Pythons attachpy
 * does not support.  Every process started here is ended by its pid, also
 * when a test fails: the python children die with the test process
 * (PR_SET_PDEATHSIG), and a checked fixture kills and reaps what is left. */
#include <check.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "elf_symbols.h"
#include "target.h"
#include "util.h"

#define PYTHON311 "/usr/bin/python3.11"
#define READY_CODE                                                                                 \
        "import sys, time; sys.stdout.write('ready\\n'); sys.stdout.flush(); time.sleep(30)"

/* ---- the pure helpers ------------------------------------------------------ */

START_TEST(test_impl_name) {
        ck_assert_str_eq(ap_impl_name(AP_IMPL_CPYTHON), "cpython");
        ck_assert_str_eq(ap_impl_name(AP_IMPL_PYPY), "pypy");
}
END_TEST

/* ---- processes -------------------------------------------------------------- */

#define MAX_CHILDREN 16
static pid_t children[MAX_CHILDREN];
static ap_target target; /* freed by the teardown, also after a failure */
static ap_error error;

static void track_child(pid_t pid) {
        for (size_t i = 0; i < MAX_CHILDREN; i++)
                if (children[i] == 0) {
                        children[i] = pid;
                        return;
                }
        kill(pid, SIGKILL);
        ck_abort_msg("too many children");
}

/* Kill one of our children by its pid and reap it. */
static void end_child(pid_t pid) {
        if (pid <= 0)
                return;
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        for (size_t i = 0; i < MAX_CHILDREN; i++)
                if (children[i] == pid)
                        children[i] = 0;
}

static void setup(void) {
        memset(&target, 0, sizeof target);
        ap_error_clear(&error);
}

static void teardown(void) {
        for (size_t i = 0; i < MAX_CHILDREN; i++)
                end_child(children[i]);
        ap_target_free(&target);
        ap_error_clear(&error);
}

/* Start python with args and env (NULL-terminated; env replaces ours) and
 * wait until it printed "ready".  The child dies with us. */
static pid_t spawn_python(const char *python, const char *const *args, const char *const *env) {
        char *argv[16];
        size_t n = 0;
        argv[n++] = (char *)python;
        for (; args && *args; args++) {
                ck_assert_uint_lt(n, 14);
                argv[n++] = (char *)*args;
        }
        argv[n] = NULL;
        int p[2];
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        pid_t parent = getpid();
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(127);
                dup2(p[1], 1);
                execve(python, argv, (char *const *)env);
                _exit(127);
        }
        track_child(pid);
        close(p[1]);
        char buf[64] = {0};
        size_t got = 0;
        while (got < 6) {
                struct pollfd pfd = {.fd = p[0], .events = POLLIN};
                int r = poll(&pfd, 1, 15000);
                if (r <= 0)
                        break;
                ssize_t k = read(p[0], buf + got, sizeof buf - 1 - got);
                if (k <= 0)
                        break;
                got += (size_t)k;
        }
        close(p[0]);
        if (strncmp(buf, "ready\n", 6) != 0) {
                end_child(pid);
                ck_abort_msg("%s did not get ready (read '%s')", python, buf);
        }
        return pid;
}

static const char *const plain_env[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", NULL};

static bool have(const char *path) { return access(path, X_OK) == 0; }

/* The first match of a pattern under pyenv's root, or NULL. */
static char *pyenv_python(const char *pattern) {
        const char *root = getenv("PYENV_ROOT");
        char *pat = NULL;
        ck_assert_int_ge(
                asprintf(&pat, "%s/versions/%s", root && *root ? root : "/root/.pyenv", pattern),
                0);
        glob_t g;
        char *found = NULL;
        if (glob(pat, 0, NULL, &g) == 0) {
                for (size_t i = 0; i < g.gl_pathc && !found; i++)
                        if (have(g.gl_pathv[i]))
                                found = strdup(g.gl_pathv[i]);
                globfree(&g);
        }
        free(pat);
        return found;
}

/* Inspect pid, then end it (before any assertion), and return the result. */
static int inspect_and_end(pid_t pid) {
        int r = ap_target_inspect(&target, pid, &error);
        end_child(pid);
        return r;
}

static void expect_error(int r, ap_code code, const char *fragment) {
        ck_assert_msg(r == -1, "inspect succeeded, expected %s", ap_code_name(code));
        ck_assert_msg(error.code == code, "code %s, expected %s: %s", ap_code_name(error.code),
                      ap_code_name(code), error.message ? error.message : "");
        ck_assert_ptr_nonnull(error.message);
        if (fragment)
                ck_assert_msg(strstr(error.message, fragment), "message lacks '%s': %s", fragment,
                              error.message);
}

START_TEST(test_inspect_self_not_python) {
        int r = ap_target_inspect(&target, getpid(), &error);
        expect_error(r, AP_ERR_NOT_PYTHON, "is not a Python process");
        char pid[32];
        snprintf(pid, sizeof pid, "process %d", (int)getpid());
        ck_assert_msg(strstr(error.message, pid), "%s", error.message);
        ck_assert_ptr_nonnull(error.hint);
        ck_assert_int_eq(target.pid, getpid());
        ck_assert_ptr_nonnull(target.exe);
        ck_assert_int_eq(target.refusal, AP_REFUSAL_NOT_PYTHON);
        ck_assert_str_eq(ap_refusal_name(target.refusal), "not_python");
        ck_assert(target.maps_read);
        ck_assert_ptr_null(target.python_path);
        /* The command line is read, NUL-separated, for `attachpy ps`. */
        ck_assert_ptr_nonnull(target.cmdline);
        ck_assert_uint_gt(target.cmdline_len, 0);
}
END_TEST

START_TEST(test_inspect_no_such_process) {
        /* No pid reaches pid_max. */
        unsigned long pid_max = 4194304;
        char *s = NULL;
        if (ap_read_file("/proc/sys/kernel/pid_max", 64, &s, NULL) == 0)
                pid_max = strtoul(s, NULL, 10);
        free(s);
        int r = ap_target_inspect(&target, (pid_t)pid_max, &error);
        expect_error(r, AP_ERR_NO_SUCH_PROCESS, "no process with PID");
        ck_assert_ptr_nonnull(error.hint);

        /* And a pid that was ours a moment ago. */
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
                _exit(0);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        r = ap_target_inspect(&target, pid, &error);
        if (kill(pid, 0) == 0) /* reused at once: nothing to conclude */
                return;
        expect_error(r, AP_ERR_NO_SUCH_PROCESS, NULL);
}
END_TEST

START_TEST(test_inspect_zombie) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
                _exit(0);
        track_child(pid);
        /* Wait until it has exited, without reaping it. */
        siginfo_t si;
        while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
                ;
        ap_proc_state st;
        int sr = ap_proc_state_read(pid, &st);
        int r = ap_target_inspect(&target, pid, &error);
        end_child(pid); /* reaps */
        ck_assert_int_eq(sr, 0);
        ck_assert_int_eq(st.state, 'Z');
        expect_error(r, AP_ERR_TARGET_EXITED, "zombie");
        ck_assert_int_eq(target.refusal, AP_REFUSAL_ZOMBIE);
        ck_assert_int_eq(target.state, 'Z');
}
END_TEST

START_TEST(test_inspect_stopped) {
        if (!have(PYTHON311)) {
                fprintf(stderr, "SKIP test_inspect_stopped: %s not installed\n", PYTHON311);
                return;
        }
        static const char *const args[] = {"-c", READY_CODE, NULL};
        pid_t pid = spawn_python(PYTHON311, args, plain_env);
        ck_assert_int_eq(kill(pid, SIGSTOP), 0);
        int status;
        while (waitpid(pid, &status, WUNTRACED) < 0 && errno == EINTR)
                ;
        ap_proc_state st;
        int sr = ap_proc_state_read(pid, &st);
        int r = inspect_and_end(pid);
        ck_assert(WIFSTOPPED(status));
        ck_assert_int_eq(sr, 0);
        ck_assert_int_eq(st.state, 'T');
        ck_assert_int_eq(st.tracer_pid, 0);
        expect_error(r, AP_ERR_INJECTION_FAILED, "is stopped");
        ck_assert_msg(error.hint && strstr(error.hint, "kill -CONT"), "hint: %s",
                      error.hint ? error.hint : "(none)");
        /* Refused, yet every fact is there: ps shows what it is. */
        ck_assert_int_eq(target.refusal, AP_REFUSAL_STOPPED);
        ck_assert_str_eq(ap_refusal_name(target.refusal), "stopped");
        ck_assert_ptr_nonnull(target.python_path);
        ck_assert_int_eq(target.impl, AP_IMPL_CPYTHON);
        ck_assert_int_eq(target.version_major, 3);
        ck_assert_int_eq(target.version_minor, 11);
        ck_assert_ptr_nonnull(target.version);
        ck_assert_str_eq(target.exe, PYTHON311);
}
END_TEST

START_TEST(test_inspect_traced) {
        /* A child that asked us to trace it: a second tracer is impossible,
         * and the message names the first. */
        int p[2];
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                long t = ptrace(PTRACE_TRACEME, 0, NULL, NULL);
                char c = t == 0 ? 'y' : 'n';
                (void)!write(p[1], &c, 1);
                for (;;)
                        pause();
        }
        track_child(pid);
        close(p[1]);
        char c = 0;
        (void)!read(p[0], &c, 1);
        close(p[0]);
        if (c != 'y') {
                end_child(pid);
                fprintf(stderr, "SKIP test_inspect_traced: PTRACE_TRACEME failed here\n");
                return;
        }
        ap_proc_state st;
        int sr = ap_proc_state_read(pid, &st);
        int r = inspect_and_end(pid);
        ck_assert_int_eq(sr, 0);
        ck_assert_int_eq(st.tracer_pid, getpid());
        char want[64];
        snprintf(want, sizeof want, "already being traced by process %d", (int)getpid());
        expect_error(r, AP_ERR_PERMISSION_DENIED, want);
        ck_assert_int_eq(target.refusal, AP_REFUSAL_TRACED);
        ck_assert_int_eq(target.tracer_pid, getpid());
}
END_TEST

START_TEST(test_inspect_other_user) {
        /* As nobody, a root process (this one) may not be traced. */
        if (geteuid() != 0) {
                fprintf(stderr, "SKIP test_inspect_other_user: needs root to become nobody\n");
                return;
        }
        pid_t root_pid = getpid();
        int p[2];
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                char out[512] = "setuid failed";
                if (setgroups(0, NULL) == 0 && setresgid(65534, 65534, 65534) == 0 &&
                    setresuid(65534, 65534, 65534) == 0) {
                        ap_target t;
                        ap_error e = AP_ERROR_INIT;
                        int r = ap_target_inspect(&t, root_pid, &e);
                        snprintf(out, sizeof out, "%d %s %s|%s", r,
                                 ap_code_name(e.code) ? ap_code_name(e.code) : "ok",
                                 ap_refusal_name(t.refusal) ? ap_refusal_name(t.refusal) : "-",
                                 e.message ? e.message : "");
                        ap_target_free(&t);
                        ap_error_clear(&e);
                }
                (void)!write(p[1], out, strlen(out));
                _exit(0);
        }
        track_child(pid);
        close(p[1]);
        char *out = NULL;
        size_t len = 0;
        int rr = ap_read_fd(p[0], 4096, &out, &len);
        close(p[0]);
        end_child(pid);
        ck_assert_int_eq(rr, 0);
        char want[128];
        snprintf(want, sizeof want,
                 "-1 permission_denied other_user|process %d belongs to uid 0 and attachpy "
                 "runs as uid 65534",
                 (int)root_pid);
        bool ok = strcmp(out, want) == 0;
        char shown[512];
        snprintf(shown, sizeof shown, "%s", out);
        free(out);
        ck_assert_msg(ok, "got '%s', want '%s'", shown, want);
}
END_TEST

START_TEST(test_proc_state_comm_with_parens) {
        /* comm may hold ") Z (": the state is read after the last ')'. */
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                prctl(PR_SET_NAME, "x) Z (y");
                for (;;)
                        pause();
        }
        track_child(pid);
        ap_proc_state st = {0};
        int r = -1;
        char *comm = NULL;
        /* Wait until the name is set. */
        for (int i = 0; i < 500; i++) {
                char path[64];
                snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
                free(comm);
                comm = NULL;
                if (ap_read_file(path, 64, &comm, NULL) == 0 && strncmp(comm, "x) Z (y", 7) == 0)
                        break;
                usleep(10000);
        }
        r = ap_proc_state_read(pid, &st);
        end_child(pid);
        bool named = comm && strncmp(comm, "x) Z (y", 7) == 0;
        free(comm);
        ck_assert(named);
        ck_assert_int_eq(r, 0);
        ck_assert_msg(st.state == 'S' || st.state == 'R', "state '%c'", st.state);
}
END_TEST

START_TEST(test_proc_state_gone) {
        ap_proc_state st;
        unsigned long pid_max = 4194304;
        char *s = NULL;
        if (ap_read_file("/proc/sys/kernel/pid_max", 64, &s, NULL) == 0)
                pid_max = strtoul(s, NULL, 10);
        free(s);
        errno = 0;
        ck_assert_int_eq(ap_proc_state_read((pid_t)pid_max, &st), -1);
        ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* May this (non-root) test trace its own children with Yama on? */
static bool may_trace_children(void) {
        if (geteuid() == 0)
                return true;
        char *s = NULL;
        int scope = 0;
        if (ap_read_file("/proc/sys/kernel/yama/ptrace_scope", 64, &s, NULL) == 0)
                scope = atoi(s);
        free(s);
        return scope == 0;
}

/* The lowest address where the file at path (same inode) is mapped with
 * offset 0 in pid. */
static uint64_t map_base(pid_t pid, const char *path) {
        struct stat want;
        ck_assert_msg(stat(path, &want) == 0, "stat %s", path);
        char mpath[64];
        snprintf(mpath, sizeof mpath, "/proc/%d/maps", (int)pid);
        FILE *f = fopen(mpath, "r");
        ck_assert_ptr_nonnull(f);
        char line[4096];
        uint64_t best = 0;
        while (fgets(line, sizeof line, f)) {
                unsigned long long start, end, off;
                int pos = -1;
                if (sscanf(line, "%llx-%llx %*s %llx %*s %*s %n", &start, &end, &off, &pos) < 3 ||
                    pos < 0 || line[pos] != '/')
                        continue;
                line[strcspn(line, "\n")] = '\0';
                struct stat st;
                if (stat(line + pos, &st) != 0 || st.st_dev != want.st_dev ||
                    st.st_ino != want.st_ino || off != 0)
                        continue;
                if (!best || start < best)
                        best = start;
        }
        fclose(f);
        ck_assert_msg(best, "%s is not mapped in %d", path, (int)pid);
        return best;
}

/* Where a libc function is in pid: its offset in our own libc (the same
 * file) plus pid's libc base. */
static uint64_t libc_addr_in(pid_t pid, const char *name) {
        void *h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
        ck_assert_ptr_nonnull(h);
        void *sym = dlsym(h, name);
        ck_assert_msg(sym, "dlsym %s", name);
        Dl_info di;
        ck_assert(dladdr(sym, &di) != 0);
        uint64_t off = (uint64_t)((uintptr_t)sym - (uintptr_t)di.dli_fbase);
        uint64_t base = map_base(pid, di.dli_fname);
        dlclose(h);
        return base + off;
}

/* 8 bytes of pid's memory at addr, through /proc/PID/mem. */
static uint64_t read_mem_u64(pid_t pid, uint64_t addr) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
        uint64_t v = 0;
        ssize_t n = pread(fd, &v, sizeof v, (off_t)addr);
        int e = errno;
        close(fd);
        ck_assert_msg(n == (ssize_t)sizeof v, "read %s at 0x%" PRIx64 ": %s", path, addr,
                      strerror(e));
        return v;
}

/* 8 bytes of an ELF file at a link-time address, from its PT_LOAD headers. */
static uint64_t read_file_at_vaddr(const char *file, uint64_t vaddr) {
        FILE *f = fopen(file, "rb");
        ck_assert_msg(f, "open %s: %s", file, strerror(errno));
        Elf64_Ehdr eh;
        ck_assert_uint_eq(fread(&eh, sizeof eh, 1, f), 1);
        ck_assert(memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 && eh.e_ident[EI_CLASS] == ELFCLASS64);
        uint64_t off = 0;
        bool found = false;
        for (unsigned i = 0; i < eh.e_phnum && !found; i++) {
                Elf64_Phdr ph;
                ck_assert_int_eq(
                        fseeko(f, (off_t)(eh.e_phoff + (uint64_t)i * eh.e_phentsize), SEEK_SET), 0);
                ck_assert_uint_eq(fread(&ph, sizeof ph, 1, f), 1);
                if (ph.p_type == PT_LOAD && vaddr >= ph.p_vaddr &&
                    vaddr + 8 <= ph.p_vaddr + ph.p_filesz) {
                        off = vaddr - ph.p_vaddr + ph.p_offset;
                        found = true;
                }
        }
        ck_assert_msg(found, "0x%" PRIx64 " is in no PT_LOAD of %s", vaddr, file);
        uint64_t v = 0;
        ck_assert_int_eq(fseeko(f, (off_t)off, SEEK_SET), 0);
        ck_assert_uint_eq(fread(&v, sizeof v, 1, f), 1);
        fclose(f);
        return v;
}

typedef struct python_expect {
        const char *version_prefix; /* "3.11." */
        const char *python_path;    /* the object exporting the C API */
        bool exec_type;             /* ET_EXEC: link-time addresses are absolute */
} python_expect;

/* Inspect a ready python child (ended before asserting) and check
 * everything preflight learns. */
static void check_python(pid_t pid, const char *exe, const python_expect *x) {
        /* Addresses the target should have, computed independently, before
         * it is ended. */
        static const char *const libc_names[] = {"mmap", "munmap", "dlopen", "dlsym", "dlerror"};
        uint64_t want_libc[AP_ARRAY_SIZE(libc_names)];
        for (size_t i = 0; i < AP_ARRAY_SIZE(libc_names); i++)
                want_libc[i] = libc_addr_in(pid, libc_names[i]);
        uint64_t api_base = x->exec_type ? 0 : map_base(pid, x->python_path);
        ap_elf_sym syms[] = {{.name = "Py_AddPendingCall"}};
        ap_error e2 = AP_ERROR_INIT;
        ck_assert_int_eq(ap_elf_lookup(x->python_path, syms, AP_ARRAY_SIZE(syms), NULL, &e2), 0);
        ck_assert_msg(syms[0].found, "Py_AddPendingCall not exported");
        /* Py_AddPendingCall's first bytes, as the script reads them: in the
         * running process, and in the file (by its program headers, not
         * through elf_symbols.c). */
        uint64_t want_code_mem = read_mem_u64(pid, api_base + syms[0].value);
        uint64_t want_code_file = read_file_at_vaddr(x->python_path, syms[0].value);

        int r = inspect_and_end(pid);
        ck_assert_msg(r == 0, "inspect failed: %s: %s", ap_code_name(error.code),
                      error.message ? error.message : "");
        ck_assert(!ap_error_is_set(&error));
        ck_assert_int_eq(target.pid, pid);
        ck_assert_uint_eq(target.uid, geteuid());
        ck_assert_uint_eq(target.gid, getegid());
        ck_assert_str_eq(target.exe, exe);
        ck_assert_ptr_nonnull(target.comm);
        ck_assert_int_eq(target.impl, AP_IMPL_CPYTHON);
        ck_assert_ptr_nonnull(target.version);
        ck_assert_msg(strncmp(target.version, x->version_prefix, strlen(x->version_prefix)) == 0,
                      "version %s", target.version);
        /* Exact (x.y.z) from Py_Version. */
        int a, b, c;
        ck_assert_msg(sscanf(target.version, "%d.%d.%d", &a, &b, &c) == 3, "version %s",
                      target.version);
        ck_assert_int_eq(target.version_major, a);
        ck_assert_int_eq(target.version_minor, b);
        ck_assert_str_eq(target.python_path, x->python_path);
        ck_assert_ptr_nonnull(target.libc_path);
        ck_assert_msg(strstr(target.libc_path, "libc.so.6"), "%s", target.libc_path);
        ck_assert(target.same_root);

        uint64_t got_libc[] = {target.addr_mmap, target.addr_munmap, target.addr_dlopen,
                               target.addr_dlsym, target.addr_dlerror};
        for (size_t i = 0; i < AP_ARRAY_SIZE(libc_names); i++)
                ck_assert_msg(got_libc[i] == want_libc[i], "%s: 0x%" PRIx64 ", want 0x%" PRIx64,
                              libc_names[i], got_libc[i], want_libc[i]);
        ck_assert_uint_eq(target.addr_add_pending_call, api_base + syms[0].value);
        ck_assert_uint_eq(target.addr_check, target.addr_add_pending_call);
        ck_assert_msg(want_code_mem == want_code_file,
                      "the process's Py_AddPendingCall differs from its file: 0x%" PRIx64
                      " vs 0x%" PRIx64,
                      want_code_mem, want_code_file);
        ck_assert_msg(target.check_code == want_code_file,
                      "check_code 0x%" PRIx64 ", want 0x%" PRIx64, target.check_code,
                      want_code_file);
        ck_assert_uint_ne(target.check_code, 0);
}

START_TEST(test_inspect_python311) {
        if (!have(PYTHON311)) {
                fprintf(stderr, "SKIP test_inspect_python311: %s not installed\n", PYTHON311);
                return;
        }
        if (!may_trace_children()) {
                fprintf(stderr, "SKIP test_inspect_python311: ptrace_scope forbids it\n");
                return;
        }
        static const char *const args[] = {"-c", READY_CODE, NULL};
        pid_t pid = spawn_python(PYTHON311, args, plain_env);
        python_expect x = {"3.11.", PYTHON311, true};
        check_python(pid, PYTHON311, &x);
        ck_assert_str_eq(target.comm, "python3.11");
}
END_TEST

START_TEST(test_inspect_python_empty_disable_var) {
        /* PYTHON_DISABLE_REMOTE_DEBUG set but empty does not disable. */
        if (!have(PYTHON311) || !may_trace_children()) {
                fprintf(stderr, "SKIP test_inspect_python_empty_disable_var\n");
                return;
        }
        static const char *const args[] = {"-c", READY_CODE, NULL};
        static const char *const env[] = {"PATH=/usr/bin:/bin", "PYTHON_DISABLE_REMOTE_DEBUG=",
                                          "PYTHON_DISABLE_REMOTE_DEBUGGER=1", NULL};
        pid_t pid = spawn_python(PYTHON311, args, env);
        int r = inspect_and_end(pid);
        ck_assert_msg(r == 0, "%s", error.message ? error.message : "");
}
END_TEST

START_TEST(test_inspect_python_env_disabled) {
        if (!have(PYTHON311)) {
                fprintf(stderr, "SKIP test_inspect_python_env_disabled: no %s\n", PYTHON311);
                return;
        }
        static const char *const args[] = {"-c", READY_CODE, NULL};
        static const char *const env[] = {"PATH=/usr/bin:/bin", "PYTHON_DISABLE_REMOTE_DEBUG=1",
                                          NULL};
        pid_t pid = spawn_python(PYTHON311, args, env);
        int r = inspect_and_end(pid);
        expect_error(r, AP_ERR_REMOTE_DEBUG_DISABLED, "PYTHON_DISABLE_REMOTE_DEBUG");
        ck_assert_ptr_nonnull(error.hint);
        ck_assert_int_eq(target.refusal, AP_REFUSAL_REMOTE_DEBUG_DISABLED);
        ck_assert_int_eq(target.version_minor, 11); /* still known, for ps */
}
END_TEST

START_TEST(test_inspect_python_x_disabled) {
        if (!have(PYTHON311)) {
                fprintf(stderr, "SKIP test_inspect_python_x_disabled: no %s\n", PYTHON311);
                return;
        }
        static const char *const args[] = {"-X", "disable_remote_debug", "-c", READY_CODE, NULL};
        pid_t pid = spawn_python(PYTHON311, args, plain_env);
        int r = inspect_and_end(pid);
        expect_error(r, AP_ERR_REMOTE_DEBUG_DISABLED, "-X disable_remote_debug");
}
END_TEST

START_TEST(test_inspect_python_x_after_c) {
        /* "-X disable_remote_debug" after -c CODE is the program's argument. */
        if (!have(PYTHON311) || !may_trace_children()) {
                fprintf(stderr, "SKIP test_inspect_python_x_after_c\n");
                return;
        }
        static const char *const args[] = {"-c", READY_CODE, "-X", "disable_remote_debug", NULL};
        pid_t pid = spawn_python(PYTHON311, args, plain_env);
        int r = inspect_and_end(pid);
        ck_assert_msg(r == 0, "%s", error.message ? error.message : "");
}
END_TEST

START_TEST(test_inspect_pyenv_shared) {
        /* A CPython with its C API in libpython (pyenv's builds), if any. */
        static const struct {
                const char *exe_glob, *lib_glob, *prefix;
        } builds[] = {
                {"3.6*/bin/python3.6", "3.6*/lib/libpython3.6m.so.1.0", "3.6."},
                {"3.9*/bin/python3.9", "3.9*/lib/libpython3.9.so.1.0", "3.9."},
                {"3.12*/bin/python3.12", "3.12*/lib/libpython3.12.so.1.0", "3.12."},
                {"3.13*/bin/python3.13", "3.13*/lib/libpython3.13.so.1.0", "3.13."},
        };
        if (!may_trace_children())
                return;
        int tested = 0;
        for (size_t i = 0; i < AP_ARRAY_SIZE(builds); i++) {
                char *exe = pyenv_python(builds[i].exe_glob);
                char *lib = pyenv_python(builds[i].lib_glob);
                if (!exe || !lib || access(lib, R_OK) != 0) {
                        free(exe);
                        free(lib);
                        continue;
                }
                char exe_real[4096], lib_real[4096];
                ck_assert_ptr_nonnull(realpath(exe, exe_real));
                ck_assert_ptr_nonnull(realpath(lib, lib_real));
                free(exe);
                free(lib);
                static const char *const args[] = {"-c", READY_CODE, NULL};
                pid_t pid = spawn_python(exe_real, args, plain_env);
                python_expect x = {builds[i].prefix, lib_real, false};
                check_python(pid, exe_real, &x);
                ap_target_free(&target);
                tested++;
        }
        if (!tested)
                fprintf(stderr, "SKIP test_inspect_pyenv_shared: no pyenv 3.12/3.13\n");
}
END_TEST

START_TEST(test_inspect_unsupported_versions) {
        static const struct {
                const char *glob, *fragment;
        } old[] = {
                {"2.7*/bin/python2.7", "runs Python 2.7."},
        };
        if (!may_trace_children())
                return;
        int tested = 0;
        for (size_t i = 0; i < AP_ARRAY_SIZE(old); i++) {
                char *exe = pyenv_python(old[i].glob);
                if (!exe)
                        continue;
                char real[4096];
                bool ok = realpath(exe, real) != NULL;
                free(exe);
                ck_assert(ok);
                static const char *const args[] = {"-c", READY_CODE, NULL};
                pid_t pid = spawn_python(real, args, plain_env);
                int r = inspect_and_end(pid);
                expect_error(r, AP_ERR_UNSUPPORTED_PYTHON, old[i].fragment);
                ck_assert_int_eq(target.refusal, AP_REFUSAL_UNSUPPORTED_PYTHON);
                ck_assert_msg(error.hint && strstr(error.hint, "3.6 to 3.15"), "hint: %s",
                              error.hint ? error.hint : "(none)");
                ck_assert_int_eq(target.impl, AP_IMPL_CPYTHON);
                ap_target_free(&target);
                ap_error_clear(&error);
                tested++;
        }
        if (!tested)
                fprintf(stderr, "SKIP test_inspect_unsupported_versions: no pyenv 2.7\n");
}
END_TEST

/* What the interpreter itself says its version is (platform.python_version(),
 * which is PY_VERSION cut at the first space). */
static void version_of(const char *python, char *buf, size_t size) {
        char *cmd = NULL;
        /* Not an LD_LIBRARY_PATH of the test runner's. */
        ck_assert_int_ge(asprintf(&cmd,
                                  "env -u LD_LIBRARY_PATH '%s' -c "
                                  "'import platform; print(platform.python_version())'",
                                  python),
                         0);
        FILE *p = popen(cmd, "r");
        free(cmd);
        ck_assert_ptr_nonnull(p);
        ck_assert_ptr_nonnull(fgets(buf, (int)size, p));
        ck_assert_int_eq(pclose(p), 0);
        buf[strcspn(buf, "\n")] = '\0';
}

/* target.version is exact for every interpreter here, read from the object
 * the process maps (Py_Version on 3.11+, PY_VERSION through Py_GetVersion
 * before), also for the ones preflight refuses (the message names it). */
START_TEST(test_inspect_exact_version_everywhere) {
        if (!may_trace_children())
                return;
        const char *root = getenv("PYENV_ROOT");
        char *pat = NULL;
        ck_assert_int_ge(asprintf(&pat, "%s/versions/[0-9]*/bin/python[0-9].[0-9]*",
                                  root && *root ? root : "/root/.pyenv"),
                         0);
        glob_t g = {0};
        int gr = glob(pat, 0, NULL, &g);
        free(pat);
        char *pythons[64];
        size_t n = 0;
        for (size_t i = 0; gr == 0 && i < g.gl_pathc && n < 60; i++) {
                const char *base = strrchr(g.gl_pathv[i], '/') + 1;
                /* python3.9, not python3.9-config or python3.6m */
                if (strspn(base + 6, "0123456789.") == strlen(base + 6) && have(g.gl_pathv[i]))
                        pythons[n++] = strdup(g.gl_pathv[i]);
        }
        if (gr == 0)
                globfree(&g);
        if (have(PYTHON311))
                pythons[n++] = strdup(PYTHON311);
        if (!n) {
                fprintf(stderr, "SKIP test_inspect_exact_version_everywhere: no interpreter\n");
                return;
        }
        for (size_t i = 0; i < n; i++) {
                char want[64];
                version_of(pythons[i], want, sizeof want);
                static const char *const args[] = {"-c", READY_CODE, NULL};
                pid_t pid = spawn_python(pythons[i], args, plain_env);
                int r = inspect_and_end(pid);
                ck_assert_msg(target.version && strcmp(target.version, want) == 0,
                              "%s: version %s, want %s", pythons[i],
                              target.version ? target.version : "(none)", want);
                if (r < 0)
                        ck_assert_msg(error.message && strstr(error.message, want),
                                      "%s: message does not name %s: %s", pythons[i], want,
                                      error.message ? error.message : "");
                fprintf(stderr, "version %-45s %s%s\n", pythons[i], target.version,
                        r < 0 ? " (refused)" : "");
                ap_target_free(&target);
                ap_error_clear(&error);
                free(pythons[i]);
        }
}
END_TEST

/* A child of ours that loads the given libraries (RTLD_LOCAL, like a
 * plugin host) and waits: a process with a synthetic Python runtime. */
static pid_t spawn_host(const char *const *libs) {
        int p[2];
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        pid_t parent = getpid();
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(127);
                for (; *libs; libs++)
                        if (!dlopen(*libs, RTLD_NOW | RTLD_LOCAL))
                                _exit(126);
                if (write(p[1], "ready\n", 6) != 6)
                        _exit(125);
                for (;;)
                        pause();
        }
        track_child(pid);
        close(p[1]);
        char buf[8] = {0};
        struct pollfd pfd = {.fd = p[0], .events = POLLIN};
        bool ready = poll(&pfd, 1, 15000) == 1 && read(p[0], buf, 6) == 6;
        close(p[0]);
        if (!ready || strcmp(buf, "ready\n") != 0) {
                end_child(pid);
                ck_abort_msg("the host did not load %s", libs[0]);
        }
        return pid;
}

static const char *fake_libpython(const char *var) {
        const char *path = getenv(var);
        ck_assert_msg(path && access(path, R_OK) == 0, "%s is not set to a built library", var);
        return path;
}

START_TEST(test_inspect_fake_runtime_with_gil) {
        if (!may_trace_children())
                return;
        const char *lib = fake_libpython("ATTACHPY_FAKE_LIBPYTHON_GIL");
        const char *const libs[] = {lib, NULL};
        int r = inspect_and_end(spawn_host(libs));
        ck_assert_msg(r == 0, "%s", error.message ? error.message : "");
        ck_assert_str_eq(target.python_path, lib);
        ck_assert_str_eq(target.version, "3.13.1");
}
END_TEST

/* A free-threaded build is told by what it exports, whatever its name. */
START_TEST(test_inspect_fake_runtime_free_threaded) {
        if (!may_trace_children())
                return;
        const char *const libs[] = {fake_libpython("ATTACHPY_FAKE_LIBPYTHON_NOGIL"), NULL};
        int r = inspect_and_end(spawn_host(libs));
        expect_error(r, AP_ERR_UNSUPPORTED_PYTHON, "free-threaded CPython 3.13.1");
        ck_assert_msg(error.hint && strstr(error.hint, "with the GIL"), "%s",
                      error.hint ? error.hint : "");
}
END_TEST

/* A version newer than the table's: unsupported_python naming it and the
 * range (never not_python); a pre-release of a supported version is
 * supported. */
START_TEST(test_inspect_fake_runtime_future_and_prerelease) {
        if (!may_trace_children())
                return;
        const char *const future[] = {fake_libpython("ATTACHPY_FAKE_LIBPYTHON_FUTURE"), NULL};
        int r = inspect_and_end(spawn_host(future));
        expect_error(r, AP_ERR_UNSUPPORTED_PYTHON, "runs Python 3.16.0a1");
        ck_assert_int_eq(target.refusal, AP_REFUSAL_UNSUPPORTED_PYTHON);
        ck_assert_msg(error.hint && strstr(error.hint, "CPython 3.6 to 3.15"), "%s",
                      error.hint ? error.hint : "");
        ap_target_free(&target);
        ap_error_clear(&error);
        const char *const rc[] = {fake_libpython("ATTACHPY_FAKE_LIBPYTHON_PRERELEASE"), NULL};
        r = inspect_and_end(spawn_host(rc));
        ck_assert_msg(r == 0, "%s", error.message ? error.message : "");
        ck_assert_str_eq(target.version, "3.15.0rc1");
}
END_TEST

/* What 3.13+ publishes decides even when no exported function tells. */
START_TEST(test_inspect_fake_runtime_published_free_threaded) {
        if (!may_trace_children())
                return;
        const char *const libs[] = {fake_libpython("ATTACHPY_FAKE_LIBPYTHON_PUBLISHED_NOGIL"),
                                    NULL};
        int r = inspect_and_end(spawn_host(libs));
        expect_error(r, AP_ERR_UNSUPPORTED_PYTHON, "free-threaded CPython 3.14.0");
}
END_TEST

/* Two runtimes mapped: refused, naming how many. */
START_TEST(test_inspect_two_runtimes) {
        if (!may_trace_children())
                return;
        const char *const libs[] = {fake_libpython("ATTACHPY_FAKE_LIBPYTHON_GIL"),
                                    fake_libpython("ATTACHPY_FAKE_LIBPYTHON_NOGIL"), NULL};
        int r = inspect_and_end(spawn_host(libs));
        expect_error(r, AP_ERR_UNSUPPORTED_PYTHON, "2 Python runtimes");
}
END_TEST

/* PyPy: told apart from CPython, both its versions read from the process,
 * and refused with a message naming them. */
START_TEST(test_inspect_pypy) {
        static const char *const pypy3 = "/usr/bin/pypy3";
        if (!have(pypy3)) {
                ck_assert_msg(!getenv("CI") || strcmp(getenv("CI"), "true") != 0,
                              "%s is not installed (tools/setup.sh installs it)", pypy3);
                fprintf(stderr, "SKIP test_inspect_pypy: no %s\n", pypy3);
                return;
        }
        if (!may_trace_children())
                return;
        char want[64], want_pypy[64], *cmd = NULL;
        version_of(pypy3, want, sizeof want);
        ck_assert_int_ge(asprintf(&cmd,
                                  "env -u LD_LIBRARY_PATH %s -c 'import sys; "
                                  "print(\"%%d.%%d.%%d\" %% sys.pypy_version_info[:3])'",
                                  pypy3),
                         0);
        FILE *p = popen(cmd, "r");
        free(cmd);
        ck_assert_ptr_nonnull(p);
        ck_assert_ptr_nonnull(fgets(want_pypy, sizeof want_pypy, p));
        ck_assert_int_eq(pclose(p), 0);
        want_pypy[strcspn(want_pypy, "\n")] = '\0';

        static const char *const args[] = {"-c", READY_CODE, NULL};
        pid_t pid = spawn_python(pypy3, args, plain_env);
        int r = inspect_and_end(pid);
        ck_assert_msg(r == 0, "refused: %s", error.message ? error.message : "");
        ck_assert_int_eq(target.impl, AP_IMPL_PYPY);
        ck_assert_str_eq(target.version, want);
        ck_assert_ptr_nonnull(target.impl_version);
        ck_assert_str_eq(target.impl_version, want_pypy);
        ck_assert_msg(strstr(target.python_path, "libpypy"), "%s", target.python_path);
        /* No pending call to use (docs/pypy.md); the code check is at
         * PyPyGILState_Ensure. */
        ck_assert_uint_eq(target.addr_add_pending_call, 0);
        ck_assert_uint_ne(target.addr_check, 0);
        ck_assert_uint_ne(target.check_code, 0);
}
END_TEST

static Suite *target_suite(void) {
        Suite *s = suite_create("target");
        TCase *tc = tcase_create("helpers");
        tcase_add_test(tc, test_impl_name);
        suite_add_tcase(s, tc);

        tc = tcase_create("processes");
        tcase_set_timeout(tc, 120);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_inspect_self_not_python);
        tcase_add_test(tc, test_inspect_no_such_process);
        tcase_add_test(tc, test_inspect_zombie);
        tcase_add_test(tc, test_inspect_stopped);
        tcase_add_test(tc, test_inspect_traced);
        tcase_add_test(tc, test_inspect_other_user);
        tcase_add_test(tc, test_proc_state_comm_with_parens);
        tcase_add_test(tc, test_proc_state_gone);
        tcase_add_test(tc, test_inspect_python311);
        tcase_add_test(tc, test_inspect_python_empty_disable_var);
        tcase_add_test(tc, test_inspect_python_env_disabled);
        tcase_add_test(tc, test_inspect_python_x_disabled);
        tcase_add_test(tc, test_inspect_python_x_after_c);
        tcase_add_test(tc, test_inspect_pyenv_shared);
        tcase_add_test(tc, test_inspect_unsupported_versions);
        tcase_add_test(tc, test_inspect_exact_version_everywhere);
        tcase_add_test(tc, test_inspect_fake_runtime_with_gil);
        tcase_add_test(tc, test_inspect_fake_runtime_free_threaded);
        tcase_add_test(tc, test_inspect_fake_runtime_future_and_prerelease);
        tcase_add_test(tc, test_inspect_fake_runtime_published_free_threaded);
        tcase_add_test(tc, test_inspect_two_runtimes);
        tcase_add_test(tc, test_inspect_pypy);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(target_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
