/* channel.c: the agent's connection to the CLI (channel.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "channel.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ap_cleanup.h"
#include "ap_record.h"

/* Connect without blocking (a full backlog fails instead of waiting), then
 * make the socket blocking for the thread's sends. */
int ap_channel_connect(ap_channel *ch, const char *path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};

        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *)&sa, sizeof sa) < 0)
                return -errno;

        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
                return -errno;

        ch->fd = fd;
        ch->hung_up = false;
        fd = -1;
        return 0;
}

/* Send everything or give up: the CLI may be gone (--no-wait, a timeout).
 * After the first failure later sends are no-ops; the connection stays open
 * because what the CLI sent before it hung up (the go-ahead) can still be
 * read.  MSG_NOSIGNAL: never SIGPIPE the target. */
void ap_channel_send(ap_channel *ch, const void *data, size_t len) {
        const char *p = data;

        while (ch->fd >= 0 && !ch->hung_up && len > 0) {
                ssize_t n = send(ch->fd, p, len, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        ch->hung_up = true;
                        return;
                }
                p += n;
                len -= (size_t)n;
        }
}

void ap_channel_record(ap_channel *ch, const char tag[static 4], const void *payload, size_t len) {
        uint32_t n = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
        unsigned char header[AP_RECORD_HEADER_BYTES];
        ap_record_header_put(header, tag, n);

        ap_channel_send(ch, header, sizeof header);
        ap_channel_send(ch, payload, n);
}

void ap_channel_text(ap_channel *ch, const char tag[static 4], const char *text) {
        ap_channel_record(ch, tag, text, strlen(text));
}

bool ap_channel_recv(ap_channel *ch, void *buf, size_t len) {
        size_t got = 0;
        while (ch->fd >= 0 && got < len) {
                ssize_t n = recv(ch->fd, (unsigned char *)buf + got, len - got, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return false;
                got += (size_t)n;
        }
        return got == len;
}

/* At most this many ranges in an UNMP record. */
#define MAX_UNMAP 32

/* Block until the CLI's go-ahead: exactly the record "GO  " with an empty
 * payload.  Before it may come one "UNMP" record: pages the debugger
 * allocated in this process and left (lldb's JIT pages), as little-endian
 * address and length pairs; they are unmapped here, now that the debugger
 * is gone.  The end of the connection or anything else means no.  The CLI
 * may send it and hang up before HELO even went out (--no-wait): it is
 * still in the socket's queue then. */
bool ap_channel_receive_go(ap_channel *ch) {
        for (int records = 0; records < 2; records++) {
                unsigned char h[AP_RECORD_HEADER_BYTES];
                if (!ap_channel_recv(ch, h, sizeof h))
                        return false;
                uint32_t len = ap_record_header_length(h);
                if (memcmp(h, "GO  ", 4) == 0)
                        return len == 0;
                if (memcmp(h, "UNMP", 4) != 0 || records > 0 || len % 16 != 0 ||
                    len > 16 * MAX_UNMAP)
                        return false;
                unsigned char pairs[16 * MAX_UNMAP];
                if (!ap_channel_recv(ch, pairs, len))
                        return false;
                for (uint32_t i = 0; i < len; i += 16) {
                        uint64_t addr = 0, size = 0;
                        for (int k = 7; k >= 0; k--) {
                                addr = addr << 8 | pairs[i + (uint32_t)k];
                                size = size << 8 | pairs[i + 8 + (uint32_t)k];
                        }
                        munmap((void *)(uintptr_t)addr, (size_t)size);
                }
        }
        return false;
}

void ap_channel_close(ap_channel *ch) {
        if (ch->fd >= 0)
                close(ch->fd);
        ch->fd = -1;
}
