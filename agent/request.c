/* request.c: the request the agent runs (request.h). */
#include "request.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ap_cleanup.h"

#define AP_REQUEST_MAGIC "ATTACHPY-REQUEST 1\n"

/* Read <dir>/request: a regular file of at most AP_MAX_REQUEST bytes.
 * O_NONBLOCK keeps open() from hanging on a FIFO put there instead. */
int ap_request_read_file(const char *path, char **ret_data, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;

        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;
        if (st.st_size < 0 || (uintmax_t)st.st_size > AP_MAX_REQUEST)
                return -EFBIG;

        /* One byte more than the size, to notice a file that grew. */
        size_t cap = (size_t)st.st_size + 1;
        _cleanup_free_ char *data = malloc(cap);
        if (!data)
                return -ENOMEM;

        size_t len = 0;
        while (len < cap) {
                ssize_t n = read(fd, data + len, cap - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        if (len != (size_t)st.st_size)
                return -EBADMSG;

        *ret_data = data;
        data = NULL;
        *ret_len = len;
        return 0;
}

/* Take "<key> <length>\n<value>\n" at *pos.  Returns -EBADMSG when malformed. */
static int request_field(const char *data, size_t len, size_t *pos, const char *key,
                         const char **ret_value, size_t *ret_value_len) {
        size_t p = *pos;
        size_t klen = strlen(key);

        if (len - p < klen + 1 || memcmp(data + p, key, klen) != 0 || data[p + klen] != ' ')
                return -EBADMSG;
        p += klen + 1;

        size_t value_len = 0;
        size_t digits = 0;
        while (p < len && data[p] >= '0' && data[p] <= '9') {
                if (++digits > 10)
                        return -EBADMSG;
                value_len = value_len * 10 + (size_t)(data[p] - '0');
                p++;
        }
        if (digits == 0 || p >= len || data[p] != '\n')
                return -EBADMSG;
        p++;
        if (value_len > len - p || len - p - value_len < 1 || data[p + value_len] != '\n')
                return -EBADMSG;

        *ret_value = data + p;
        *ret_value_len = value_len;
        *pos = p + value_len + 1;
        return 0;
}

/* Check the whole request (docs/protocol.md: filename, code, wait, serve?,
 * arg...).  The bootstrap parses it again and acts on it; here it only has
 * to be well-formed, so that a bad one is -4 rather than a FAIL record. */
int ap_request_check(const char *data, size_t len, bool *ret_wait,
                     char ret_serve[static AP_SERVE_NAME_MAX + 1], bool *ret_console) {
        const char *value;
        size_t value_len;
        size_t pos = strlen(AP_REQUEST_MAGIC);

        ret_serve[0] = '\0';
        *ret_console = false;
        if (len < pos || memcmp(data, AP_REQUEST_MAGIC, pos) != 0)
                return -EBADMSG;
        if (request_field(data, len, &pos, "filename", &value, &value_len) < 0)
                return -EBADMSG;
        if (request_field(data, len, &pos, "code", &value, &value_len) < 0)
                return -EBADMSG;
        if (request_field(data, len, &pos, "wait", &value, &value_len) < 0)
                return -EBADMSG;
        if (value_len != 1 || (value[0] != '0' && value[0] != '1'))
                return -EBADMSG;
        *ret_wait = value[0] == '1';
        size_t at = pos;
        if (request_field(data, len, &at, "serve", &value, &value_len) == 0) {
                if (!ap_serve_name_valid(value, value_len))
                        return -EBADMSG;
                memcpy(ret_serve, value, value_len);
                ret_serve[value_len] = '\0';
                pos = at;
        }
        at = pos;
        if (request_field(data, len, &at, "mode", &value, &value_len) == 0) {
                if (value_len != 7 || memcmp(value, "console", 7) != 0)
                        return -EBADMSG;
                *ret_console = true;
                pos = at;
        }
        while (pos < len)
                if (request_field(data, len, &pos, "arg", &value, &value_len) < 0)
                        return -EBADMSG;
        return 0;
}
