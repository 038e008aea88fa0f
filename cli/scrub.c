/* scrub.c: remove breakpoints a dead debugger left in a process. */
#include "scrub.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INT3 0xcc
#define CHUNK (256 * 1024)

/* Compare [lo, hi) of the process with the file from offset and restore
 * the bytes that became int3.  Returns the count, or -1. */
static int scrub_range(int mem, const char *path, uint64_t lo, uint64_t hi, uint64_t offset) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0; /* a file we cannot read: nothing to compare with */
        unsigned char *a = malloc(CHUNK), *b = malloc(CHUNK);
        int restored = 0;
        for (uint64_t at = lo; a && b && at < hi; at += CHUNK) {
                size_t n = hi - at < CHUNK ? (size_t)(hi - at) : CHUNK;
                ssize_t got_file = pread(fd, a, n, (off_t)(offset + (at - lo)));
                ssize_t got_mem = pread(mem, b, n, (off_t)at);
                if (got_file <= 0 || got_mem <= 0)
                        break;
                size_t m = (size_t)(got_file < got_mem ? got_file : got_mem);
                for (size_t i = 0; i < m; i++) {
                        if (b[i] != INT3 || a[i] == INT3)
                                continue;
                        if (pwrite(mem, &a[i], 1, (off_t)(at + i)) == 1)
                                restored++;
                }
        }
        free(a);
        free(b);
        close(fd);
        return restored;
}

int ap_scrub_breakpoints(pid_t pid) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
        FILE *maps = fopen(path, "re");
        if (!maps)
                return -1;
        snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
        int mem = open(path, O_RDWR | O_CLOEXEC);
        if (mem < 0) {
                fclose(maps);
                return -1;
        }
        int restored = 0;
        char line[4096 + 256];
        while (fgets(line, sizeof line, maps)) {
                uint64_t lo, hi, offset;
                char perms[8];
                int name_at = 0;
                if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*s %n", &lo, &hi,
                           perms, &offset, &name_at) < 4 ||
                    perms[2] != 'x' || name_at <= 0 || line[name_at] != '/')
                        continue;
                char *name = line + name_at;
                name[strcspn(name, "\n")] = '\0';
                if (strstr(name, " (deleted)"))
                        continue;
                /* The file as the process sees it (its mount namespace). */
                char file[4096 + 64];
                snprintf(file, sizeof file, "/proc/%d/root%s", (int)pid, name);
                int r = scrub_range(mem, file, lo, hi, offset);
                if (r > 0)
                        restored += r;
        }
        close(mem);
        fclose(maps);
        return restored;
}
