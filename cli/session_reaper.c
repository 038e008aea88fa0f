/* session_reaper.c: remove session directories of attachpy runs that died. */
#include "session_reaper.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "target.h"
#include "util.h"

int ap_session_owner_text(char *buf, size_t size) {
        unsigned long long st;
        if (ap_proc_starttime(getpid(), &st) < 0)
                return -1;
        snprintf(buf, size, "%d %llu\n", (int)getpid(), st);
        return 0;
}

/* Is the owner recorded in the session (dir_fd) gone?  A session without a
 * readable owner file is not ours to judge. */
static int owner_gone(int dir_fd) {
        int fd = openat(dir_fd, "owner", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return 0;
        char text[64];
        ssize_t n = read(fd, text, sizeof text - 1);
        close(fd);
        if (n <= 0)
                return 0;
        text[n] = '\0';
        int pid;
        unsigned long long st, now;
        if (sscanf(text, "%d %llu", &pid, &st) != 2 || pid <= 0)
                return 0;
        return ap_proc_starttime(pid, &now) < 0 || now != st;
}

static int is_session_name(const char *name) {
        /* "attachpy-" and 6 or 10 letters and digits (cli/session.c) */
        if (strncmp(name, "attachpy-", 9) != 0 || (strlen(name) != 15 && strlen(name) != 19))
                return 0;
        for (const char *p = name + 9; *p; p++)
                if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
                    !(*p >= '0' && *p <= '9'))
                        return 0;
        return 1;
}

int ap_session_reap_stale(const char *dir) {
        DIR *d = opendir(dir);
        if (!d)
                return 0;
        int reaped = 0;
        uid_t me = geteuid();
        struct dirent *e;
        while ((e = readdir(d))) {
                if (!is_session_name(e->d_name))
                        continue;
                struct stat st;
                if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISDIR(st.st_mode) || (me != 0 && st.st_uid != me))
                        continue;
                int fd = openat(dirfd(d), e->d_name,
                                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        continue;
                if (owner_gone(fd)) {
                        DIR *s = fdopendir(dup(fd));
                        struct dirent *f;
                        while (s && (f = readdir(s)))
                                if (strcmp(f->d_name, ".") != 0 && strcmp(f->d_name, "..") != 0)
                                        unlinkat(fd, f->d_name, 0);
                        if (s)
                                closedir(s);
                        if (unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR) == 0)
                                reaped++;
                }
                close(fd);
        }
        closedir(d);
        return reaped;
}
