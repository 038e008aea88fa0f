/* target.c: preflight of a target process, from /proc and ELF files only. */
#include "target.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf_symbols.h"
#include "mapped_file.h"
#include "pypy_remote.h"
#include "runtimes.h"
#include "util.h"

#define MAX_PROC_FILE (4u * 1024 * 1024)
#define MAX_OBJECTS 4096

const char *ap_impl_name(ap_impl impl) { return impl == AP_IMPL_PYPY ? "pypy" : "cpython"; }

static int read_proc(pid_t pid, const char *name, char **ret, size_t *ret_len) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
        return ap_read_file(path, MAX_PROC_FILE, ret, ret_len);
}

int ap_proc_starttime(pid_t pid, unsigned long long *ret) {
        char path[64], *text = NULL;
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        if (ap_read_file(path, 4096, &text, NULL) < 0)
                return -1;
        /* The fields after the command name, which may hold spaces and ')':
         * state is field 3, starttime field 22. */
        char *p = strrchr(text, ')');
        int r = -1;
        if (p) {
                p++;
                for (int field = 3; field < 22 && p; field++)
                        p = strchr(p + 1, ' ');
                if (p && sscanf(p, " %llu", ret) == 1)
                        r = 0;
        }
        free(text);
        return r;
}

int ap_proc_state_read(pid_t pid, ap_proc_state *ret) {
        _cleanup_free_ char *stat = NULL, *status = NULL;
        if (read_proc(pid, "stat", &stat, NULL) < 0)
                return -1;
        /* "pid (comm) S ...": comm may hold anything, so search from the end. */
        char *rp = strrchr(stat, ')');
        if (!rp || rp[1] != ' ' || !rp[2]) {
                errno = EINVAL;
                return -1;
        }
        ret->state = rp[2];
        ret->tracer_pid = 0;
        if (read_proc(pid, "status", &status, NULL) < 0)
                return -1;
        const char *tp = strstr(status, "\nTracerPid:");
        if (tp)
                ret->tracer_pid = (pid_t)strtol(tp + strlen("\nTracerPid:"), NULL, 10);
        return 0;
}

static bool status_ids(const char *status, const char *key, unsigned long *ret_effective) {
        const char *p = strstr(status, key);
        if (!p)
                return false;
        p += strlen(key);
        unsigned long real = 0, eff = 0;
        if (sscanf(p, "%lu %lu", &real, &eff) != 2)
                return false;
        *ret_effective = eff;
        return true;
}

static bool have_cap_sys_ptrace(void) {
        _cleanup_free_ char *status = NULL;
        if (ap_read_file("/proc/self/status", MAX_PROC_FILE, &status, NULL) < 0)
                return false;
        const char *p = strstr(status, "\nCapEff:");
        if (!p)
                return false;
        unsigned long long caps = strtoull(p + strlen("\nCapEff:"), NULL, 16);
        return caps & (1ULL << 19); /* CAP_SYS_PTRACE */
}

bool ap_environ_has_nonempty(const char *env, size_t len, const char *var) {
        size_t vlen = strlen(var);
        for (size_t i = 0; i < len;) {
                const char *e = env + i;
                size_t elen = strnlen(e, len - i);
                if (elen > vlen + 1 && strncmp(e, var, vlen) == 0 && e[vlen] == '=')
                        return true;
                i += elen + 1;
        }
        return false;
}

static bool x_option_disables(const char *val) {
        size_t n = strcspn(val, "="); /* CPython ignores a value after '=' */
        return (n == strlen("disable_remote_debug") &&
                strncmp(val, "disable_remote_debug", n) == 0) ||
               (n == strlen("disable-remote-debug") &&
                strncmp(val, "disable-remote-debug", n) == 0);
}

/* Walk the interpreter's own options the way CPython's getopt does: they end
 * at the first word that is not an option, at "-", "--", or at -c/-m (what
 * follows belongs to the program).  Single-letter flags may be combined
 * ("-BX disable_remote_debug", "-bWignore"); -X and -W take a value, glued
 * or as the next word. */
bool ap_cmdline_disables_remote_debug(const char *cmdline, size_t len) {
        size_t i = strnlen(cmdline, len) + 1; /* skip argv[0] */
        while (i < len) {
                const char *a = cmdline + i;
                i += strnlen(a, len - i) + 1;
                if (a[0] != '-' || a[1] == '\0' || strcmp(a, "--") == 0)
                        return false;
                if (a[1] == '-') {
                        if (strcmp(a, "--check-hash-based-pycs") == 0 && i < len)
                                i += strnlen(cmdline + i, len - i) + 1;
                        continue;
                }
                for (const char *c = a + 1; *c; c++) {
                        if (*c == 'c' || *c == 'm')
                                return false;
                        if (*c != 'X' && *c != 'W')
                                continue;
                        const char *val = c + 1;
                        if (!*val) {
                                if (i >= len)
                                        return false;
                                val = cmdline + i;
                                i += strnlen(val, len - i) + 1;
                        }
                        if (*c == 'X' && x_option_disables(val))
                                return true;
                        break;
                }
        }
        return false;
}

int ap_python_version_from_name(const char *name, int *major, int *minor, bool *free_threaded) {
        const char *base = strrchr(name, '/');
        base = base ? base + 1 : name;
        const char *p = NULL;
        if (strncmp(base, "libpython", 9) == 0)
                p = base + 9;
        else if (strncmp(base, "python", 6) == 0)
                p = base + 6;
        if (!p || !isdigit((unsigned char)p[0]))
                return -1;
        char *end;
        long ma = strtol(p, &end, 10);
        if (*end != '.' || !isdigit((unsigned char)end[1]))
                return -1;
        long mi = strtol(end + 1, &end, 10);
        if (ma < 2 || ma > 9 || mi < 0 || mi > 99)
                return -1;
        *major = (int)ma;
        *minor = (int)mi;
        if (free_threaded)
                *free_threaded = *end == 't';
        return 0;
}

static const char *digits(const char *p, const char *end, long *ret) {
        const char *q = p;
        long v = 0;
        while (q < end && isdigit((unsigned char)*q) && q - p < 4)
                v = v * 10 + (*q++ - '0');
        if (q == p || (q < end && isdigit((unsigned char)*q)))
                return NULL;
        *ret = v;
        return q;
}

int ap_python_version_parse(const char *s, size_t n, int *major, int *minor) {
        const char *end = s + n, *p = s;
        long ma, mi, micro;
        if (!(p = digits(p, end, &ma)) || p >= end || *p++ != '.' || !(p = digits(p, end, &mi)) ||
            p >= end || *p++ != '.' || !(p = digits(p, end, &micro)))
                return -1;
        /* A release level and serial ("a2", "b1", "rc1"), a "+" for a
         * build past a tag. */
        while (p < end && *p && (strchr("abrc+", *p) || isdigit((unsigned char)*p)))
                p++;
        if (p >= end || *p != '\0' || p - s > 24)
                return -1;
        if (ma < 2 || ma > 9 || mi > 99)
                return -1;
        *major = (int)ma;
        *minor = (int)mi;
        return 0;
}

int ap_python_version_from_hex(uint32_t hex, char *buf, size_t size) {
        int major = (int)(hex >> 24) & 0xff, minor = (int)(hex >> 16) & 0xff,
            micro = (int)(hex >> 8) & 0xff, level = (int)(hex >> 4) & 0xf, serial = (int)hex & 0xf;
        static const char *const levels[] = {[0xa] = "a", [0xb] = "b", [0xc] = "rc"};
        if (major < 2 || major > 9 || (level != 0xf && (level < 0xa || level > 0xc)))
                return -1;
        int r = level == 0xf ? snprintf(buf, size, "%d.%d.%d", major, minor, micro)
                             : snprintf(buf, size, "%d.%d.%d%s%d", major, minor, micro,
                                        levels[level], serial);
        return r < 0 || (size_t)r >= size ? -1 : 0;
}

size_t ap_code_address_operands(const uint8_t *code, size_t n, uint64_t vaddr, uint64_t *out,
                                size_t max) {
        size_t found = 0;
        for (size_t i = 0; i < n && found < max; i++) {
                /* lea disp32(%rip), %r64: REX.W (48 or 4c), 8d, ModRM 00 reg 101. */
                if (i + 7 <= n && (code[i] == 0x48 || code[i] == 0x4c) && code[i + 1] == 0x8d &&
                    (code[i + 2] & 0xc7) == 0x05) {
                        int32_t disp;
                        memcpy(&disp, code + i + 3, 4);
                        out[found++] = vaddr + i + 7 + (uint64_t)(int64_t)disp;
                        continue;
                }
                /* mov $imm32, %r32: b8+r, or 41 b8+r for r8d..r15d. */
                size_t op = i + (code[i] == 0x41 ? 1 : 0);
                if (op + 5 <= n && code[op] >= 0xb8 && code[op] <= 0xbf) {
                        uint32_t imm;
                        memcpy(&imm, code + op + 1, 4);
                        out[found++] = imm;
                }
                /* No skipping: a byte inside another instruction may look
                 * like an opcode, and the caller checks every address. */
        }
        return found;
}

/* One object mapped into the target, with its load bias. */
typedef struct mapped_object {
        char *path;            /* as the target sees it */
        char *open_path;       /* where we can read it (/proc/PID/root/..., map_files) */
        uint64_t start;        /* lowest address mapped */
        uint64_t start_offset; /* file offset of that mapping */
} mapped_object;

typedef struct object_list {
        mapped_object *v;
        size_t n;
} object_list;

static void object_list_free(object_list *l) {
        for (size_t i = 0; i < l->n; i++) {
                free(l->v[i].path);
                free(l->v[i].open_path);
        }
        free(l->v);
        l->v = NULL;
        l->n = 0;
}

/* Why /proc/PID may be unreadable, for whoever attachpy runs as. */
static const char *unreadable_hint(void) {
        if (geteuid() == 0)
                return "even root may not read it: the process is probably in another user "
                       "namespace (a rootless container) or a kernel-protected one; run "
                       "attachpy inside its container";
        return "run attachpy as the target's user (sudo -u USER attachpy ...), or as root";
}

static int parse_maps(pid_t pid, object_list *out, ap_error *err) {
        _cleanup_free_ char *maps = NULL;
        if (read_proc(pid, "maps", &maps, NULL) < 0) {
                if (errno == ENOENT || errno == ESRCH)
                        return ap_error_set(err, AP_ERR_TARGET_EXITED,
                                            "process %d exited while attachpy inspected it",
                                            (int)pid);
                return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                    "cannot read the memory map of process %d: %s", (int)pid,
                                    strerror(errno)),
                       ap_error_hint(err, "%s", unreadable_hint()), -1;
        }
        char *save = NULL;
        for (char *line = strtok_r(maps, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                ap_mapping_id m;
                if (ap_mapping_parse_line(line, &m) < 0)
                        continue;
                size_t plen = strlen(m.path) - (m.deleted ? strlen(" (deleted)") : 0);
                mapped_object *o = NULL;
                for (size_t i = 0; i < out->n; i++)
                        if (strlen(out->v[i].path) == plen &&
                            strncmp(out->v[i].path, m.path, plen) == 0)
                                o = &out->v[i];
                if (o) {
                        if (m.start < o->start) {
                                o->start = m.start;
                                o->start_offset = m.offset;
                        }
                        continue;
                }
                if (out->n >= MAX_OBJECTS)
                        break;
                mapped_object *nv = realloc(out->v, (out->n + 1) * sizeof *nv);
                if (!nv)
                        return ap_error_set(err, AP_ERR_INJECTION_FAILED, "out of memory");
                out->v = nv;
                o = &out->v[out->n++];
                memset(o, 0, sizeof *o);
                o->path = strndup(m.path, plen);
                o->start = m.start;
                o->start_offset = m.offset;
                if (o->path) {
                        /* Under another root, or in another mount namespace:
                         * the candidate that is the mapped inode. */
                        m.path = o->path;
                        o->open_path = ap_mapped_file_locate(pid, &m);
                }
                if (!o->path || !o->open_path)
                        return ap_error_set(err, AP_ERR_INJECTION_FAILED, "out of memory");
        }
        return 0;
}

static const char *basename_of(const char *path) {
        const char *b = strrchr(path, '/');
        return b ? b + 1 : path;
}

/* Absolute address of a link-time address in an object. */
static uint64_t absolute(const mapped_object *o, const ap_elf_info *info, uint64_t value) {
        uint64_t bias =
                o->start - (info->first_load_vaddr + (o->start_offset - info->first_load_offset));
        return bias + value;
}

/* Yama's ptrace_scope, or -1 when Yama is not there. */
static int yama_scope(void) {
        _cleanup_free_ char *s = NULL;
        if (ap_read_file("/proc/sys/kernel/yama/ptrace_scope", 64, &s, NULL) < 0)
                return -1;
        return atoi(s);
}

int ap_dumpable_from_owner(uid_t owner_uid, gid_t owner_gid, uid_t euid, gid_t egid) {
        if (euid == 0 && egid == 0)
                return -1; /* a root process's files belong to root either way */
        return owner_uid == euid && owner_gid == egid;
}

/* The kernel's order (ptrace_may_access, then Yama), each refusal with its
 * own message.  Yama 3 first: nothing lifts it. */
ap_refusal ap_ptrace_permitted(const ap_ptrace_facts *f, ap_error *err) {
        int pid = (int)f->pid;
        if (f->yama_scope >= 3)
                return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                    "ptrace is disabled on this machine "
                                    "(kernel.yama.ptrace_scope = %d): no process may attach to "
                                    "another, not even root",
                                    f->yama_scope),
                       ap_error_hint(err, "scope 3 cannot be lowered without a reboot; "
                                          "attachpy cannot work on this machine"),
                       AP_REFUSAL_PTRACE_SCOPE;
        if (!f->cap_sys_ptrace) {
                for (int i = 0; i < 3; i++)
                        if (f->target_uid[i] != f->uid)
                                return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                                    "process %d belongs to uid %u and attachpy "
                                                    "runs as uid %u",
                                                    pid, (unsigned)f->target_uid[i],
                                                    (unsigned)f->uid),
                                       ap_error_hint(err, "run attachpy as the same user as the "
                                                          "target, or as root (CAP_SYS_PTRACE)"),
                                       AP_REFUSAL_OTHER_USER;
                for (int i = 0; i < 3; i++)
                        if (f->target_gid[i] != f->gid)
                                return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                                    "process %d runs with group id %u and "
                                                    "attachpy with group id %u (a set-group-id "
                                                    "program, or a changed group)",
                                                    pid, (unsigned)f->target_gid[i],
                                                    (unsigned)f->gid),
                                       ap_error_hint(err, "run attachpy as root (CAP_SYS_PTRACE)"),
                                       AP_REFUSAL_OTHER_USER;
                if (f->dumpable == 0)
                        return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                            "process %d is not dumpable (it called "
                                            "prctl(PR_SET_DUMPABLE, 0), changed its user or "
                                            "group id, or runs a program its user cannot read): "
                                            "only root may attach to it",
                                            pid),
                               ap_error_hint(err, "run attachpy as root (CAP_SYS_PTRACE); a "
                                                  "process that wants no debugger at all should "
                                                  "set PYTHON_DISABLE_REMOTE_DEBUG"),
                               AP_REFUSAL_NOT_DUMPABLE;
                if (f->yama_scope == 2)
                        return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                            "only root may attach to processes here "
                                            "(kernel.yama.ptrace_scope = 2: admin-only attach)"),
                               ap_error_hint(err, "run attachpy as root, or grant it "
                                                  "CAP_SYS_PTRACE"),
                               AP_REFUSAL_PTRACE_SCOPE;
                if (f->yama_scope == 1)
                        return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                            "kernel.yama.ptrace_scope = 1 (restricted ptrace) "
                                            "lets a process trace only its own descendants, and "
                                            "process %d is not a descendant of attachpy",
                                            pid),
                               ap_error_hint(err,
                                             "run attachpy as root (or with CAP_SYS_PTRACE), or "
                                             "lower the scope with 'sysctl "
                                             "kernel.yama.ptrace_scope=0' (this lets any process "
                                             "of a user debug the others: see the README)"),
                               AP_REFUSAL_PTRACE_SCOPE;
        }
        return AP_REFUSAL_NONE;
}

static bool status_all_ids(const char *status, const char *key, unsigned long ret[3]) {
        const char *p = strstr(status, key);
        if (!p)
                return false;
        p += strlen(key);
        unsigned long real = 0, eff = 0, saved = 0;
        if (sscanf(p, "%lu %lu %lu", &real, &eff, &saved) != 3)
                return false;
        ret[0] = real;
        ret[1] = eff;
        ret[2] = saved;
        return true;
}

static ap_refusal check_permissions(const ap_target *t, ap_error *err) {
        pid_t pid = t->pid;
        _cleanup_free_ char *status = NULL;
        unsigned long uids[3], gids[3];
        if (read_proc(pid, "status", &status, NULL) < 0 ||
            !status_all_ids(status, "\nUid:", uids) || !status_all_ids(status, "\nGid:", gids))
                return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                    "cannot read the owner of process %d", (int)pid),
                       ap_error_hint(err, "%s", unreadable_hint()), AP_REFUSAL_UNREADABLE;
        ap_ptrace_facts f = {
                .pid = pid,
                .uid = getuid(),
                .gid = getgid(),
                .cap_sys_ptrace = have_cap_sys_ptrace(),
                .dumpable = -1,
                .yama_scope = yama_scope(),
        };
        for (int i = 0; i < 3; i++) {
                f.target_uid[i] = (uid_t)uids[i];
                f.target_gid[i] = (gid_t)gids[i];
        }
        /* A process that is not dumpable has its /proc files owned by root. */
        char path[64];
        struct stat st;
        snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
        if (stat(path, &st) == 0)
                f.dumpable = ap_dumpable_from_owner(st.st_uid, st.st_gid, f.target_uid[1],
                                                    f.target_gid[1]);
        return ap_ptrace_permitted(&f, err);
}

static ap_refusal check_state(const ap_target *t, ap_error *err) {
        pid_t pid = t->pid;
        if (t->state == 'Z' || t->state == 'X')
                return ap_error_set(err, AP_ERR_TARGET_EXITED,
                                    "process %d has exited (it is a zombie waiting for its "
                                    "parent to reap it)",
                                    (int)pid),
                       ap_error_hint(err, "there is nothing left to run code in; start the "
                                          "program again"),
                       AP_REFUSAL_ZOMBIE;
        if (t->tracer_pid != 0) {
                _cleanup_free_ char *comm = NULL;
                if (read_proc(t->tracer_pid, "comm", &comm, NULL) == 0)
                        comm[strcspn(comm, "\n")] = '\0';
                ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                             "process %d is already being traced by process %d (%s)", (int)pid,
                             (int)t->tracer_pid, comm ? comm : "?");
                ap_error_hint(err,
                              "a process can have only one tracer: detach or end process %d "
                              "first",
                              (int)t->tracer_pid);
                return AP_REFUSAL_TRACED;
        }
        if (t->state == 'T' || t->state == 't')
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "process %d is stopped (by SIGSTOP, SIGTSTP or Ctrl-Z); "
                                    "its Python cannot run code until it continues",
                                    (int)pid),
                       ap_error_hint(err, "resume it with 'kill -CONT %d' and run attachpy again",
                                     (int)pid),
                       AP_REFUSAL_STOPPED;
        return AP_REFUSAL_NONE;
}

/* Whether the target sees the file system as attachpy does: the same mount
 * namespace and the same root directory (not a chroot's). */
static bool same_file_system_view(pid_t pid) {
        const char *links[] = {"ns/mnt", "root"};
        for (size_t i = 0; i < AP_ARRAY_SIZE(links); i++) {
                char self[64], path[64];
                struct stat a, b;
                snprintf(self, sizeof self, "/proc/self/%s", links[i]);
                snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, links[i]);
                if (stat(self, &a) < 0 || stat(path, &b) < 0)
                        continue; /* cannot tell: assume the common case */
                if (a.st_ino != b.st_ino || a.st_dev != b.st_dev)
                        return false;
        }
        return true;
}

enum {
        SYM_GIL_ENSURE,
        SYM_PYPY_GIL_ENSURE,
        SYM_PY_VERSION,
        SYM_GET_VERSION,
        SYM_DECREF_SHARED,
        SYM_MERGE_ZERO_LOCAL,
        SYM_ADD_PENDING,
        SYM_RUNTIME,
        SYM_PYPY_REMOTE,
        SYM_COUNT_,
};

/* "X.Y.Z" at p, followed by stop: copies it into ret.  Returns the length
 * or 0. */
static size_t version_at(const char *p, const char *end, char stop, char *ret, size_t size) {
        const char *q = p;
        int dots = 0;
        while (q < end && (isdigit((unsigned char)*q) || *q == '.')) {
                dots += *q == '.';
                q++;
        }
        size_t n = (size_t)(q - p);
        if (q >= end || *q != stop || dots != 2 || n < 5 || n >= size ||
            !isdigit((unsigned char)*p) || p[n - 1] == '.')
                return 0;
        memcpy(ret, p, n);
        ret[n] = '\0';
        int major, minor;
        char tmp[32];
        if (n + 1 > sizeof tmp)
                return 0;
        memcpy(tmp, ret, n + 1);
        return ap_python_version_parse(tmp, n + 1, &major, &minor) == 0 ? n : 0;
}

int ap_pypy_versions_parse(const char *data, size_t n, char *ret_lang, size_t lang_size,
                           char *ret_pypy, size_t pypy_size) {
        static const char marker[] = "\n[PyPy ";
        const size_t mlen = sizeof marker - 1;
        const char *end = data + n;
        for (const char *m = memmem(data, n, marker, mlen); m;
             m = memmem(m + 1, (size_t)(end - m - 1), marker, mlen)) {
                /* The start of the string: back over printable bytes. */
                const char *s = m;
                while (s > data && m - s < 200 && isprint((unsigned char)s[-1]))
                        s--;
                char lang[32], pypy[32];
                if (version_at(s, m, ' ', lang, sizeof lang) && s + strlen(lang) + 1 < m &&
                    s[strlen(lang) + 1] == '(' &&
                    version_at(m + mlen, end, ' ', pypy, sizeof pypy) && strlen(lang) < lang_size &&
                    strlen(pypy) < pypy_size) {
                        strcpy(ret_lang, lang);
                        strcpy(ret_pypy, pypy);
                        return 0;
                }
                if ((size_t)(end - m) <= mlen)
                        break;
        }
        return -1;
}

/* PyPy's versions, from its sys.version string in the mapped libpypy. */
static void pypy_versions(ap_target *t, const mapped_object *o) {
        int fd = open(o->open_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return;
        struct stat st;
        void *data = MAP_FAILED;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
            (uint64_t)st.st_size < (1ull << 31))
                data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (data == MAP_FAILED)
                return;
        char lang[32], pypy[32];
        if (ap_pypy_versions_parse(data, (size_t)st.st_size, lang, sizeof lang, pypy,
                                   sizeof pypy) == 0) {
                int major, minor;
                char tmp[32];
                memcpy(tmp, lang, sizeof tmp);
                if (ap_python_version_parse(tmp, sizeof tmp, &major, &minor) == 0) {
                        t->version = strdup(lang);
                        t->impl_version = strdup(pypy);
                        t->version_major = major;
                        t->version_minor = minor;
                }
        }
        munmap(data, (size_t)st.st_size);
}

int ap_debug_offsets_parse(const uint8_t *data, size_t len, uint32_t *ret_hex,
                           bool *ret_free_threaded) {
        uint64_t version, free_threaded;
        if (len < 24 || memcmp(data, "xdebugpy", 8) != 0)
                return -1;
        memcpy(&version, data + 8, 8);
        memcpy(&free_threaded, data + 16, 8);
        if (version > UINT32_MAX || free_threaded > 1)
                return -1;
        *ret_hex = (uint32_t)version;
        *ret_free_threaded = free_threaded == 1;
        return 0;
}

/* The exact version, from the object the process maps: what the runtime
 * publishes at the start of _PyRuntime (_Py_DebugOffsets, 3.13+: a cookie,
 * PY_VERSION_HEX and whether the build is free-threaded), else Py_Version
 * (3.11+), else the PY_VERSION string that Py_GetVersion() formats.  Sets
 * t->version and, where the name gave none, the major and minor;
 * *ret_free_threaded when the runtime says it is. */
static void exact_version(ap_target *t, const mapped_object *o, const ap_elf_sym *syms,
                          bool *ret_free_threaded) {
        char buf[32];
        int major = 0, minor = 0;

        if (syms[SYM_RUNTIME].found && syms[SYM_RUNTIME].size >= 24) {
                uint8_t head[24];
                uint32_t hex = 0;
                bool ft = false;
                if (ap_elf_read_at_vaddr(o->open_path, syms[SYM_RUNTIME].value, head,
                                         sizeof head) == 0 &&
                    ap_debug_offsets_parse(head, sizeof head, &hex, &ft) == 0 &&
                    ap_python_version_from_hex(hex, buf, sizeof buf) == 0 &&
                    ap_python_version_parse(buf, sizeof buf, &major, &minor) == 0) {
                        *ret_free_threaded = ft;
                        goto found;
                }
        }
        if (syms[SYM_PY_VERSION].found && syms[SYM_PY_VERSION].size >= 4) {
                uint32_t hex = 0;
                if (ap_elf_read_at_vaddr(o->open_path, syms[SYM_PY_VERSION].value, &hex, 4) == 0 &&
                    ap_python_version_from_hex(hex, buf, sizeof buf) == 0 &&
                    ap_python_version_parse(buf, sizeof buf, &major, &minor) == 0)
                        goto found;
        }
        if (syms[SYM_GET_VERSION].found) {
                uint8_t code[96];
                uint64_t addrs[32];
                ssize_t n = ap_elf_read_upto_vaddr(o->open_path, syms[SYM_GET_VERSION].value, code,
                                                   sizeof code);
                size_t k = n > 0 ? ap_code_address_operands(code, (size_t)n,
                                                            syms[SYM_GET_VERSION].value, addrs,
                                                            AP_ARRAY_SIZE(addrs))
                                 : 0;
                for (size_t i = 0; i < k; i++) {
                        ssize_t got =
                                ap_elf_read_upto_vaddr(o->open_path, addrs[i], buf, sizeof buf);
                        if (got <= 0 ||
                            ap_python_version_parse(buf, (size_t)got, &major, &minor) < 0)
                                continue;
                        /* The name, where it has a version, must agree. */
                        if (t->version_major &&
                            (major != t->version_major || minor != t->version_minor))
                                continue;
                        goto found;
                }
        }
        return;
found:
        t->version = strdup(buf);
        t->version_major = major;
        t->version_minor = minor;
}

static int find_python(ap_target *t, const object_list *objs, ap_error *err) {
        const mapped_object *found = NULL;
        ap_elf_info found_info = {0};
        ap_elf_sym found_syms[SYM_COUNT_] = {{0}};
        int n_found = 0;
        char range[64];

        for (size_t i = 0; i < objs->n; i++) {
                const mapped_object *o = &objs->v[i];
                const char *base = basename_of(o->path);
                bool is_exe = t->exe && strcmp(o->path, t->exe) == 0;
                if (!is_exe && strncmp(base, "libpython", 9) != 0 &&
                    strncmp(base, "libpypy", 7) != 0)
                        continue;
                ap_elf_sym syms[SYM_COUNT_] = {
                        [SYM_GIL_ENSURE] = {.name = "PyGILState_Ensure"},
                        [SYM_PYPY_GIL_ENSURE] = {.name = "PyPyGILState_Ensure"},
                        [SYM_PY_VERSION] = {.name = "Py_Version"},
                        [SYM_GET_VERSION] = {.name = "Py_GetVersion"},
                        /* Exported only by free-threaded builds
                         * (Py_GIL_DISABLED): their Py_DECREF calls them. */
                        [SYM_DECREF_SHARED] = {.name = "_Py_DecRefShared"},
                        [SYM_MERGE_ZERO_LOCAL] = {.name = "_Py_MergeZeroLocalRefcount"},
                        [SYM_ADD_PENDING] = {.name = "Py_AddPendingCall"},
                        [SYM_RUNTIME] = {.name = "_PyRuntime"},
                        [SYM_PYPY_REMOTE] = {.name = "pypysig_counter"},
                };
                ap_elf_info info;
                ap_error e = AP_ERROR_INIT;
                if (ap_elf_lookup(o->open_path, syms, SYM_COUNT_, &info, &e) < 0) {
                        ap_error_clear(&e);
                        continue;
                }
                if (!syms[SYM_GIL_ENSURE].found && !syms[SYM_PYPY_GIL_ENSURE].found) {
                        ap_elf_info_free(&info);
                        continue;
                }
                n_found++;
                if (found) {
                        ap_elf_info_free(&info);
                        continue;
                }
                found = o;
                found_info = info;
                memcpy(found_syms, syms, sizeof syms);
        }

        if (!found) {
                ap_error_set(err, AP_ERR_NOT_PYTHON,
                             "process %d (%s) is not a Python process: no Python interpreter "
                             "is loaded in it",
                             (int)t->pid, t->exe ? t->exe : "?");
                ap_error_hint(err, "give the PID of a running Python program; 'attachpy ps' "
                                   "lists them");
                return -1;
        }

        int rc = 0;
        t->python_path = strdup(found->path);
        if (found_syms[SYM_PYPY_GIL_ENSURE].found && !found_syms[SYM_GIL_ENSURE].found) {
                /* PyPy: its C API is cpyext's PyPy* functions (docs/pypy.md). */
                t->impl = AP_IMPL_PYPY;
                pypy_versions(t, found);
                if (!t->version && ap_python_version_from_name(found->path, &t->version_major,
                                                               &t->version_minor, NULL) == 0)
                        (void)!asprintf(&t->version, "%d.%d", t->version_major, t->version_minor);
                if (n_found > 1) {
                        ap_error_set(err, AP_ERR_UNSUPPORTED_PYTHON,
                                     "process %d has %d Python runtimes loaded; attachpy cannot "
                                     "tell which one is live",
                                     (int)t->pid, n_found);
                        ap_error_hint(err, "this happens when a program embeds a second "
                                           "runtime; it is not supported yet");
                        rc = -1;
                        goto out;
                }
                if (t->version_major &&
                    !ap_runtime_supported(AP_IMPL_PYPY, t->version_major, t->version_minor)) {
                        ap_error_set(err, AP_ERR_UNSUPPORTED_PYTHON,
                                     "process %d runs PyPy %s (Python %s), which attachpy does "
                                     "not support",
                                     (int)t->pid, t->impl_version ? t->impl_version : "?",
                                     t->version);
                        ap_error_hint(err, "attachpy supports %s",
                                      ap_runtime_range(AP_IMPL_PYPY, range, sizeof range));
                        rc = -1;
                        goto out;
                }
                /* No pending call: PyPy_AddPendingCall takes the GIL, which a
                 * debugger must not do (docs/pypy.md).  Only the direct plan,
                 * in a thread that waits. */
                t->addr_add_pending_call = 0;
                /* PyPy 8's own remote execution, where it has it. */
                if (found_syms[SYM_PYPY_REMOTE].found &&
                    found_syms[SYM_PYPY_REMOTE].size >= AP_PYPY_REMOTE_MIN_SIZE)
                        t->addr_pypy_remote =
                                absolute(found, &found_info, found_syms[SYM_PYPY_REMOTE].value);
                t->addr_check = absolute(found, &found_info, found_syms[SYM_PYPY_GIL_ENSURE].value);
                if (ap_elf_read_at_vaddr(found->open_path, found_syms[SYM_PYPY_GIL_ENSURE].value,
                                         &t->check_code, 8) < 0) {
                        ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                     "cannot read the code of PyPyGILState_Ensure from %s",
                                     found->path);
                        ap_error_hint(err, "check that %s is readable", found->path);
                        rc = -1;
                }
                goto out;
        }
        t->impl = AP_IMPL_CPYTHON;

        if (n_found > 1) {
                ap_error_set(err, AP_ERR_UNSUPPORTED_PYTHON,
                             "process %d has %d Python runtimes loaded; attachpy cannot tell "
                             "which one is live",
                             (int)t->pid, n_found);
                ap_error_hint(err, "this happens when a program embeds a second libpython; it is "
                                   "not supported yet");
                rc = -1;
                goto out;
        }

        /* The version: the major and minor from the file name, then exact
         * from the object itself. */
        bool free_threaded = false;
        const char *name_for_version = found_info.soname ? found_info.soname : found->path;
        if (ap_python_version_from_name(name_for_version, &t->version_major, &t->version_minor,
                                        &free_threaded) < 0 &&
            ap_python_version_from_name(found->path, &t->version_major, &t->version_minor,
                                        &free_threaded) < 0)
                t->version_major = t->version_minor = 0;
        bool published_free_threaded = false;
        exact_version(t, found, found_syms, &published_free_threaded);
        if (!t->version && t->version_major)
                (void)!asprintf(&t->version, "%d.%d", t->version_major, t->version_minor);

        if (!t->version_major) {
                ap_error_set(err, AP_ERR_UNSUPPORTED_PYTHON,
                             "cannot tell which Python version process %d runs (%s)", (int)t->pid,
                             found->path);
                ap_error_hint(err,
                              "attachpy supports %s built as libpythonX.Y or as pythonX.Y "
                              "exporting its C API",
                              ap_runtime_range(AP_IMPL_CPYTHON, range, sizeof range));
                rc = -1;
                goto out;
        }
        /* Free-threaded: a "t" in the name (libpython3.13t.so, python3.13t),
         * or, whatever the file is called, the functions only such a build
         * exports. */
        if (free_threaded || published_free_threaded || found_syms[SYM_DECREF_SHARED].found ||
            found_syms[SYM_MERGE_ZERO_LOCAL].found) {
                ap_error_set(err, AP_ERR_UNSUPPORTED_PYTHON,
                             "process %d runs a free-threaded CPython %s (built without the "
                             "GIL), which attachpy does not support yet",
                             (int)t->pid, t->version);
                ap_error_hint(err,
                              "attachpy supports %s with the GIL; free-threaded builds are "
                              "refused until one can be tested",
                              ap_runtime_range(AP_IMPL_CPYTHON, range, sizeof range));
                rc = -1;
                goto out;
        }
        if (t->version_major == 2) {
                /* The agent runs on 2.7, but parity cannot be shown: 2.7 runs
                 * no signal handler while its main thread waits on a lock,
                 * and its accept() fails on EINTR, so a target's liveness
                 * cannot be checked in those states.  docs/architecture.md. */
                ap_error_set(err, AP_ERR_UNSUPPORTED_PYTHON,
                             "process %d runs Python %s, which attachpy does not support "
                             "(Python 2 reached its end of life in 2020)",
                             (int)t->pid, t->version);
                ap_error_hint(err, "attachpy supports %s",
                              ap_runtime_range(AP_IMPL_CPYTHON, range, sizeof range));
                rc = -1;
                goto out;
        }
        if (!ap_runtime_supported(AP_IMPL_CPYTHON, t->version_major, t->version_minor)) {
                ap_error_set(err, AP_ERR_UNSUPPORTED_PYTHON,
                             "process %d runs Python %s, which attachpy does not support",
                             (int)t->pid, t->version);
                ap_error_hint(err, "attachpy supports %s",
                              ap_runtime_range(AP_IMPL_CPYTHON, range, sizeof range));
                rc = -1;
                goto out;
        }

        if (!found_syms[SYM_ADD_PENDING].found) {
                ap_error_set(err, AP_ERR_UNSUPPORTED_PYTHON,
                             "%s does not export the C API attachpy needs (Py_AddPendingCall)",
                             found->path);
                ap_error_hint(err, "this Python was built without exported symbols");
                rc = -1;
                goto out;
        }
        t->addr_add_pending_call = absolute(found, &found_info, found_syms[SYM_ADD_PENDING].value);
        /* The runtime's own remote execution (3.14+), where it publishes it. */
        if (found_syms[SYM_RUNTIME].found && t->version_major == 3 && t->version_minor >= 14)
                t->addr_runtime = absolute(found, &found_info, found_syms[SYM_RUNTIME].value);
        /* The script compares these bytes with the process's before it calls
         * anything: a PID reused by another process fails the check. */
        t->addr_check = t->addr_add_pending_call;
        if (ap_elf_read_at_vaddr(found->open_path, found_syms[SYM_ADD_PENDING].value,
                                 &t->check_code, 8) < 0) {
                ap_error_set(err, AP_ERR_INJECTION_FAILED,
                             "cannot read the code of Py_AddPendingCall from %s", found->path);
                ap_error_hint(err, "check that %s is readable", found->path);
                rc = -1;
                goto out;
        }
out:
        ap_elf_info_free(&found_info);
        return rc;
}

static int find_loader(ap_target *t, const object_list *objs, ap_error *err) {
        enum { L_MMAP, L_MUNMAP, L_DLOPEN, L_DLSYM, L_DLERROR, L_COUNT_ };
        bool have[L_COUNT_] = {0};
        uint64_t *dest[L_COUNT_] = {&t->addr_mmap, &t->addr_munmap, &t->addr_dlopen, &t->addr_dlsym,
                                    &t->addr_dlerror};
        for (size_t i = 0; i < objs->n; i++) {
                const mapped_object *o = &objs->v[i];
                const char *base = basename_of(o->path);
                bool is_libc = strncmp(base, "libc.so", 7) == 0 || strncmp(base, "libc-2.", 7) == 0;
                bool is_libdl =
                        strncmp(base, "libdl.so", 8) == 0 || strncmp(base, "libdl-2.", 8) == 0;
                if (!is_libc && !is_libdl)
                        continue;
                ap_elf_sym syms[L_COUNT_] = {{.name = "mmap"},
                                             {.name = "munmap"},
                                             {.name = "dlopen"},
                                             {.name = "dlsym"},
                                             {.name = "dlerror"}};
                ap_elf_info info;
                if (ap_elf_lookup(o->open_path, syms, L_COUNT_, &info, err) < 0)
                        return -1;
                for (size_t k = 0; k < L_COUNT_; k++) {
                        if (!syms[k].found || have[k])
                                continue;
                        *dest[k] = absolute(o, &info, syms[k].value);
                        have[k] = true;
                }
                if (is_libc && !t->libc_path)
                        t->libc_path = strdup(o->path);
                ap_elf_info_free(&info);
        }
        if (!t->libc_path)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "process %d does not use the GNU C library (no libc.so.6 "
                                    "mapped)",
                                    (int)t->pid),
                       ap_error_hint(err, "attachpy needs glibc in the target (musl and static "
                                          "binaries are not supported)"),
                       -1;
        for (size_t k = 0; k < L_COUNT_; k++)
                if (!have[k])
                        return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                            "the C library of process %d lacks dlopen/dlsym "
                                            "(glibc older than 2.34 without libdl loaded)",
                                            (int)t->pid),
                               ap_error_hint(err, "the target must have libdl loaded; 'import "
                                                  "ctypes' in it would load it"),
                               -1;
        return 0;
}

/* The facts /proc gives without ptrace rights: state, tracer, owner,
 * executable, name and command line.  Fails only when the process is gone
 * or its status cannot be read at all. */
static ap_refusal read_identity(ap_target *t, ap_error *err) {
        pid_t pid = t->pid;
        ap_proc_state st;
        if (ap_proc_state_read(pid, &st) < 0) {
                if (errno == ENOENT || errno == ESRCH)
                        return ap_error_set(err, AP_ERR_NO_SUCH_PROCESS, "no process with PID %d",
                                            (int)pid),
                               ap_error_hint(err, "'attachpy ps' lists the Python processes "
                                                  "attachpy can see"),
                               AP_REFUSAL_GONE;
                return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                    "cannot read the state of process %d: %s", (int)pid,
                                    strerror(errno)),
                       ap_error_hint(err, "%s", unreadable_hint()), AP_REFUSAL_UNREADABLE;
        }
        t->state = st.state;
        t->tracer_pid = st.tracer_pid;

        _cleanup_free_ char *status = NULL;
        if (read_proc(pid, "status", &status, NULL) < 0)
                return ap_error_set(err, AP_ERR_TARGET_EXITED,
                                    "process %d exited while attachpy inspected it", (int)pid),
                       ap_error_hint(err, "there is nothing left to run code in; start the "
                                          "program again"),
                       AP_REFUSAL_GONE;
        unsigned long uid = 0, gid = 0;
        if (!status_ids(status, "\nUid:", &uid) || !status_ids(status, "\nGid:", &gid))
                return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                    "cannot read the owner of process %d", (int)pid),
                       ap_error_hint(err, "%s", unreadable_hint()), AP_REFUSAL_UNREADABLE;
        t->uid = (uid_t)uid;
        t->gid = (gid_t)gid;

        char path[64];
        snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
        char exe[PATH_MAX];
        ssize_t n = readlink(path, exe, sizeof exe - 1);
        if (n >= 0) {
                exe[n] = '\0';
                const char *del = " (deleted)";
                if ((size_t)n > strlen(del) && strcmp(exe + n - strlen(del), del) == 0)
                        exe[n - strlen(del)] = '\0';
                t->exe = strdup(exe);
        } else {
                t->exe_errno = errno;
        }
        if (read_proc(pid, "comm", &t->comm, NULL) == 0)
                t->comm[strcspn(t->comm, "\n")] = '\0';
        if (read_proc(pid, "cmdline", &t->cmdline, &t->cmdline_len) < 0)
                t->cmdline_len = 0;
        return AP_REFUSAL_NONE;
}

static ap_refusal check_executable(const ap_target *t, ap_error *err) {
        if (t->exe)
                return AP_REFUSAL_NONE;
        if (t->exe_errno == ENOENT)
                return ap_error_set(err, AP_ERR_TARGET_EXITED, "process %d exited", (int)t->pid),
                       ap_error_hint(err, "there is nothing left to run code in; start the "
                                          "program again"),
                       AP_REFUSAL_GONE;
        return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                            "cannot read the executable of process %d: %s", (int)t->pid,
                            strerror(t->exe_errno)),
               ap_error_hint(err, "%s", unreadable_hint()), AP_REFUSAL_UNREADABLE;
}

/* The target's wish not to be debugged, as in CPython 3.14. */
static ap_refusal check_remote_debug(const ap_target *t, ap_error *err) {
        pid_t pid = t->pid;
        _cleanup_free_ char *environ = NULL;
        size_t env_len = 0;
        if (read_proc(pid, "environ", &environ, &env_len) < 0) {
                /* Without it attachpy cannot tell whether the target opted out. */
                if (errno == ENOENT || errno == ESRCH)
                        return ap_error_set(err, AP_ERR_TARGET_EXITED, "process %d exited",
                                            (int)pid),
                               AP_REFUSAL_GONE;
                return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                    "cannot read the environment of process %d (to check "
                                    "PYTHON_DISABLE_REMOTE_DEBUG): %s",
                                    (int)pid, strerror(errno)),
                       ap_error_hint(err, "run attachpy as the same user as the target, or as "
                                          "root"),
                       AP_REFUSAL_UNREADABLE;
        }
        if (ap_environ_has_nonempty(environ, env_len, "PYTHON_DISABLE_REMOTE_DEBUG"))
                return ap_error_set(err, AP_ERR_REMOTE_DEBUG_DISABLED,
                                    "process %d disabled remote debugging "
                                    "(PYTHON_DISABLE_REMOTE_DEBUG is set in its environment)",
                                    (int)pid),
                       ap_error_hint(err, "attachpy respects this; restart the program without "
                                          "PYTHON_DISABLE_REMOTE_DEBUG to allow it"),
                       AP_REFUSAL_REMOTE_DEBUG_DISABLED;
        if (t->cmdline && ap_cmdline_disables_remote_debug(t->cmdline, t->cmdline_len))
                return ap_error_set(err, AP_ERR_REMOTE_DEBUG_DISABLED,
                                    "process %d disabled remote debugging "
                                    "(started with -X disable_remote_debug)",
                                    (int)pid),
                       ap_error_hint(err, "attachpy respects this; restart the program without "
                                          "that option to allow it"),
                       AP_REFUSAL_REMOTE_DEBUG_DISABLED;
        return AP_REFUSAL_NONE;
}

/* Which interpreter is mapped, its version, and where the functions the
 * debugger needs are. */
static ap_refusal inspect_python(ap_target *t, ap_error *err) {
        object_list objs = {0};
        int r = parse_maps(t->pid, &objs, err);
        if (r < 0) {
                object_list_free(&objs);
                return err->code == AP_ERR_TARGET_EXITED ? AP_REFUSAL_GONE : AP_REFUSAL_UNREADABLE;
        }
        t->maps_read = true;
        r = find_python(t, &objs, err);
        if (r < 0) {
                object_list_free(&objs);
                return err->code == AP_ERR_NOT_PYTHON ? AP_REFUSAL_NOT_PYTHON
                                                      : AP_REFUSAL_UNSUPPORTED_PYTHON;
        }
        r = find_loader(t, &objs, err);
        object_list_free(&objs);
        if (r < 0)
                return AP_REFUSAL_UNSUPPORTED_LIBC;

        /* Another mount namespace (a container) or another root (a chroot)
         * is fine: the session is staged through /proc/PID/root
         * (cli/session.c). */
        t->same_root = same_file_system_view(t->pid);
        return AP_REFUSAL_NONE;
}

/* Facts first, verdict second: every fact that can be read is read (ps
 * shows them), and the verdict is the first check that fails, in a fixed
 * order: state, rights, executable, the target's wish, the interpreter. */
int ap_target_inspect(ap_target *t, pid_t pid, ap_error *err) {
        memset(t, 0, sizeof *t);
        t->pid = pid;
        ap_error first = AP_ERROR_INIT, later = AP_ERROR_INIT;

        ap_refusal r = read_identity(t, &first);
        if (r == AP_REFUSAL_NONE)
                r = check_state(t, &first);
        if (r == AP_REFUSAL_NONE)
                r = check_permissions(t, &first);
        if (r == AP_REFUSAL_NONE)
                r = check_executable(t, &first);
        if (r == AP_REFUSAL_NONE)
                r = check_remote_debug(t, &first);
        if (r != AP_REFUSAL_GONE && (t->exe || r == AP_REFUSAL_NONE)) {
                ap_refusal pr = inspect_python(t, r == AP_REFUSAL_NONE ? &first : &later);
                if (r == AP_REFUSAL_NONE)
                        r = pr;
                ap_error_clear(&later);
        }
        t->refusal = r;
        if (r == AP_REFUSAL_NONE)
                return 0;
        if (err) {
                ap_error_clear(err);
                *err = first;
        } else {
                ap_error_clear(&first);
        }
        return -1;
}

void ap_target_free(ap_target *t) {
        if (!t)
                return;
        free(t->exe);
        free(t->comm);
        free(t->cmdline);
        free(t->version);
        free(t->impl_version);
        free(t->python_path);
        free(t->libc_path);
        memset(t, 0, sizeof *t);
}

static const char *const refusal_names[] = {
        [AP_REFUSAL_NONE] = NULL,
        [AP_REFUSAL_GONE] = "gone",
        [AP_REFUSAL_ZOMBIE] = "zombie",
        [AP_REFUSAL_TRACED] = "traced",
        [AP_REFUSAL_STOPPED] = "stopped",
        [AP_REFUSAL_OTHER_USER] = "other_user",
        [AP_REFUSAL_NOT_DUMPABLE] = "not_dumpable",
        [AP_REFUSAL_PTRACE_SCOPE] = "ptrace_scope",
        [AP_REFUSAL_UNREADABLE] = "unreadable",
        [AP_REFUSAL_REMOTE_DEBUG_DISABLED] = "remote_debug_disabled",
        [AP_REFUSAL_NOT_PYTHON] = "not_python",
        [AP_REFUSAL_UNSUPPORTED_PYTHON] = "unsupported_python",
        [AP_REFUSAL_UNSUPPORTED_LIBC] = "unsupported_libc",
};

const char *ap_refusal_name(ap_refusal r) {
        if ((unsigned)r >= AP_ARRAY_SIZE(refusal_names))
                return NULL;
        return refusal_names[r];
}
