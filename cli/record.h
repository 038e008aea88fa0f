/* record.h: the agent protocol's records on a socket, from the CLI's side
 * (docs/protocol.md).  A record is TAG (4 bytes), the payload's length
 * (uint32, little-endian; common/ap_record.h), the payload.
 *
 * Encoding into a buffer, sending a whole record, and waiting for the next
 * one: console.c, agent_channel.c and collect.c all frame records here.
 * Sends use MSG_NOSIGNAL: the agent may be gone, and the CLI is never
 * SIGPIPE'd for it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ap_record.h"
#include "util.h"

/* The largest record the CLI accepts (the agent sends output in records of
 * at most 1 MiB; an exception's texts are cut at 64 MiB). */
#define AP_MAX_RECORD_BYTES (65u * 1024 * 1024)

/* Append one record to out.  0, or -1 (out of memory, len > UINT32_MAX). */
int ap_record_encode(ap_buf *out, const char tag[4], const void *data, size_t len)
        __attribute__((warn_unused_result));

/* Send all of data (records already encoded) on fd.  0, or -1 when the peer
 * hung up or the send failed. */
int ap_record_send_bytes(int fd, const void *data, size_t len) __attribute__((warn_unused_result));

/* Send one whole record on fd.  0, or -1. */
int ap_record_send(int fd, const char tag[static 4], const void *data, size_t len)
        __attribute__((warn_unused_result));

/* What waiting for the next record gave. */
typedef enum ap_record_wait {
        AP_RECORD_GOT,       /* a whole record: its tag and payload */
        AP_RECORD_EOF,       /* the peer hung up between records */
        AP_RECORD_SHORT,     /* the peer hung up inside one (header or payload) */
        AP_RECORD_OVERSIZE,  /* its length is beyond max_len: the payload is left unread */
        AP_RECORD_TIMEOUT,   /* nothing began within timeout_ms */
        AP_RECORD_CANCELLED, /* cancel_fd became readable first (it is not read) */
        AP_RECORD_FAILED,    /* poll or recv failed, or out of memory */
} ap_record_wait;

/* Wait up to timeout_ms (-1: no limit) for the next record on fd, waking
 * also when cancel_fd (-1: none; a signalfd, say) is readable, which wins
 * when both are.  Once a record has begun, the rest of it is read without a
 * limit.  On AP_RECORD_GOT, tag is NUL-terminated and payload holds exactly
 * the payload (NUL-terminated, as ap_buf is); payload is emptied first. */
ap_record_wait ap_record_next(int fd, int cancel_fd, int timeout_ms, uint32_t max_len,
                              char tag[static 5], ap_buf *payload)
        __attribute__((warn_unused_result));

/* Wait up to timeout_ms for the next record's header and return its tag
 * (NUL-terminated) leaving the record in the socket.  AP_RECORD_GOT, _EOF,
 * _SHORT, _TIMEOUT or _FAILED. */
ap_record_wait ap_record_peek(int fd, int timeout_ms, char tag[static 5])
        __attribute__((warn_unused_result));
