/* channel.h: the agent's connection to the CLI (docs/protocol.md, "The
 * result stream", "The go-ahead").
 *
 * Records are TAG (4 bytes), length (uint32 little-endian), payload.  After
 * the first failed send nothing more is sent (the CLI may be gone: --no-wait,
 * a timeout); what the CLI sent before it hung up can still be read.  Sends
 * use MSG_NOSIGNAL: the target never gets SIGPIPE.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef struct ap_channel {
        int fd;       /* -1: none */
        bool hung_up; /* a send failed: send nothing more */
} ap_channel;

/* Connect to the socket at path without blocking (a full backlog fails
 * instead of waiting), then make it blocking.  0, or -errno. */
int ap_channel_connect(ap_channel *ch, const char *path);

void ap_channel_send(ap_channel *ch, const void *data, size_t len);
void ap_channel_record(ap_channel *ch, const char tag[static 4], const void *payload, size_t len);
void ap_channel_text(ap_channel *ch, const char tag[static 4], const char *text);

/* Read exactly len bytes; false at the end of the connection or an error. */
bool ap_channel_recv(ap_channel *ch, void *buf, size_t len);

/* Block until the CLI's go-ahead (GO, after at most one UNMP, whose pages
 * are unmapped here).  false: anything else, or the connection ended. */
bool ap_channel_receive_go(ap_channel *ch);

void ap_channel_close(ap_channel *ch);
