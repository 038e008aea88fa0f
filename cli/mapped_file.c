/* mapped_file.c: where attachpy can open a file that a process has mapped. */
#include "mapped_file.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

int ap_mapping_parse_line(const char *line, ap_mapping_id *ret) {
        unsigned long long start, end, offset, inode;
        unsigned maj, min;
        int pathpos = -1;
        if (sscanf(line, "%llx-%llx %*s %llx %x:%x %llu %n", &start, &end, &offset, &maj, &min,
                   &inode, &pathpos) < 6 ||
            pathpos < 0 || line[pathpos] != '/')
                return -1;
        memset(ret, 0, sizeof *ret);
        ret->path = line + pathpos;
        ret->start = start;
        ret->end = end;
        ret->offset = offset;
        ret->dev_major = maj;
        ret->dev_minor = min;
        ret->inode = inode;
        const char *del = " (deleted)";
        size_t plen = strcspn(ret->path, "\n"), dlen = strlen(del);
        ret->deleted = plen > dlen && strncmp(ret->path + plen - dlen, del, dlen) == 0;
        return 0;
}

enum { NO_MATCH, SAME_INODE, SAME_FILE };

static int match(const char *path, const ap_mapping_id *m) {
        struct stat st;
        if (stat(path, &st) < 0)
                return -1;
        if ((uint64_t)st.st_ino != m->inode)
                return NO_MATCH;
        if (major(st.st_dev) == m->dev_major && minor(st.st_dev) == m->dev_minor)
                return SAME_FILE;
        return SAME_INODE;
}

char *ap_mapped_file_locate(pid_t pid, const ap_mapping_id *m) {
        char *cand[3] = {NULL, NULL, NULL};
        if (asprintf(&cand[0], "/proc/%d/root%s", (int)pid, m->path) < 0)
                cand[0] = NULL;
        cand[1] = strdup(m->path);
        if (asprintf(&cand[2], "/proc/%d/map_files/%llx-%llx", (int)pid,
                     (unsigned long long)m->start, (unsigned long long)m->end) < 0)
                cand[2] = NULL;
        if (!cand[0] || !cand[1] || !cand[2]) {
                for (int i = 0; i < 3; i++)
                        free(cand[i]);
                return NULL;
        }
        int best = -1, best_score = NO_MATCH - 1, first_existing = -1;
        /* A deleted file's path names another file, or none. */
        for (int i = m->deleted ? 2 : 0; i < 3; i++) {
                int s = match(cand[i], m);
                if (s >= 0 && first_existing < 0)
                        first_existing = i;
                if (s > best_score && s > NO_MATCH) {
                        best = i;
                        best_score = s;
                }
                if (s == SAME_FILE)
                        break;
        }
        if (best < 0)
                best = first_existing >= 0 ? first_existing : m->deleted ? 2 : 0;
        char *ret = cand[best];
        cand[best] = NULL;
        for (int i = 0; i < 3; i++)
                free(cand[i]);
        return ret;
}
