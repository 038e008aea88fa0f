/* lldb_allocations.c: the memory lldb allocated in the target, and leaves. */
#include "lldb_allocations.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The packet's payload after "$": "send packet: $_M1000,rwx#fa". */
static const char *payload(const char *line, const char *kind) {
        const char *p = strstr(line, kind);
        if (!p)
                return NULL;
        p = strstr(p, ": $");
        return p ? p + 3 : NULL;
}

size_t ap_lldb_allocations_parse(const char *log, ap_range *out, size_t max) {
        size_t n = 0;
        bool want_reply = false;
        uint64_t size = 0;
        for (const char *line = log; line && *line;) {
                const char *eol = strchr(line, '\n');
                size_t len = eol ? (size_t)(eol - line) : strlen(line);
                char buf[256];
                snprintf(buf, sizeof buf, "%.*s",
                         (int)(len < sizeof buf - 1 ? len : sizeof buf - 1), line);
                const char *sent = payload(buf, "send packet");
                const char *got = payload(buf, "read packet");
                if (sent && sent[0] == '_' && sent[1] == 'M') {
                        char *end;
                        size = strtoull(sent + 2, &end, 16);
                        want_reply = end != sent + 2 && *end == ',' && size > 0;
                } else if (sent && sent[0] == '_' && sent[1] == 'm') {
                        uint64_t addr = strtoull(sent + 2, NULL, 16);
                        for (size_t i = 0; i < n; i++)
                                if (out[i].addr == addr) {
                                        out[i] = out[--n];
                                        break;
                                }
                        want_reply = false;
                } else if (got && want_reply) {
                        char *end;
                        uint64_t addr = strtoull(got, &end, 16);
                        if (end != got && *end == '#' && addr && n < max)
                                out[n++] = (ap_range){.addr = addr, .len = size};
                        want_reply = false;
                } else if (sent) {
                        want_reply = false;
                }
                line = eol ? eol + 1 : NULL;
        }
        return n;
}

size_t ap_ranges_keep_anonymous(pid_t pid, ap_range *ranges, size_t n) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return 0;
        bool *ok = calloc(n ? n : 1, sizeof *ok);
        char line[4096 + 256];
        while (ok && fgets(line, sizeof line, f)) {
                uint64_t lo, hi, offset;
                char perms[8];
                int name_at = 0;
                if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*s %n", &lo, &hi,
                           perms, &offset, &name_at) < 4 ||
                    perms[3] != 'p')
                        continue;
                if (name_at > 0 && line[name_at] != '\n' && line[name_at] != '\0')
                        continue; /* file-backed, or [heap], [stack] ... */
                /* Inside one anonymous mapping: the kernel merges lldb's
                 * allocations with their anonymous neighbours of the same
                 * permissions. */
                for (size_t i = 0; i < n; i++)
                        if (ranges[i].addr >= lo && ranges[i].addr + ranges[i].len <= hi)
                                ok[i] = true;
        }
        fclose(f);
        size_t k = 0;
        for (size_t i = 0; ok && i < n; i++)
                if (ok[i])
                        ranges[k++] = ranges[i];
        free(ok);
        return k;
}
