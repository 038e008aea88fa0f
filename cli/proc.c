/* proc.c: reading /proc/PID. */
#include "proc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

int ap_proc_read(pid_t pid, const char *name, char **ret, size_t *ret_len) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
        return ap_read_file(path, AP_MAX_PROC_FILE, ret, ret_len);
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
        if (ap_proc_read(pid, "stat", &stat, NULL) < 0)
                return -1;
        /* "pid (comm) S ...": comm may hold anything, so search from the end. */
        char *rp = strrchr(stat, ')');
        if (!rp || rp[1] != ' ' || !rp[2]) {
                errno = EINVAL;
                return -1;
        }
        ret->state = rp[2];
        ret->tracer_pid = 0;
        if (ap_proc_read(pid, "status", &status, NULL) < 0)
                return -1;
        const char *tp = strstr(status, "\nTracerPid:");
        if (tp)
                ret->tracer_pid = (pid_t)strtol(tp + strlen("\nTracerPid:"), NULL, 10);
        return 0;
}

bool ap_proc_status_ids(const char *status, const char *key, unsigned long ret[3]) {
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

const char *ap_proc_unreadable_hint(void) {
        if (geteuid() == 0)
                return "even root may not read it: the process is probably in another user "
                       "namespace (a rootless container) or a kernel-protected one; run "
                       "attachpy inside its container";
        return "run attachpy as the target's user (sudo -u USER attachpy ...), or as root";
}

bool ap_proc_same_pid_namespace(pid_t pid) {
        struct stat a, b;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/ns/pid", (int)pid);
        return stat("/proc/self/ns/pid", &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
               a.st_dev == b.st_dev;
}

bool ap_proc_same_file_system_view(pid_t pid) {
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
