/* ap_record.h: the record header the CLI and the agent share (docs/protocol.md;
 * header only: the agent links nothing of the CLI's).  A record is TAG
 * (4 bytes), the payload's length (uint32, little-endian), the payload.
 */
#pragma once

#include <stdint.h>
#include <string.h>

#define AP_RECORD_HEADER_BYTES 8

static inline void ap_record_header_put(unsigned char h[static AP_RECORD_HEADER_BYTES],
                                        const char tag[static 4], uint32_t len) {
        memcpy(h, tag, 4);
        h[4] = (unsigned char)(len & 0xff);
        h[5] = (unsigned char)((len >> 8) & 0xff);
        h[6] = (unsigned char)((len >> 16) & 0xff);
        h[7] = (unsigned char)((len >> 24) & 0xff);
}

static inline uint32_t
ap_record_header_length(const unsigned char h[static AP_RECORD_HEADER_BYTES]) {
        return (uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 24;
}
