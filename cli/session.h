/* session.h: the private directory one run shares with its agent.
 *
 * A fresh mkdtemp directory under /tmp, mode 0700, owned by the target's
 * user when that differs; files created with O_EXCL|O_NOFOLLOW; a listening
 * socket the agent connects to.  Destroyed on every path.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "target.h"

typedef struct ap_session {
        char *dir;      /* the directory, as attachpy and the target see it */
        int dir_fd;     /* O_PATH|O_DIRECTORY handle, for *at() calls */
        int listen_fd;  /* the listening result.sock, or -1 */
        uid_t owner_uid; /* who the files belong to */
        gid_t owner_gid;
        char *names[16]; /* files created in it, to remove */
        size_t n_names;
} ap_session;

#define AP_SESSION_INIT {NULL, -1, -1, 0, 0, {NULL}, 0}

int ap_session_create(ap_session *s, const ap_target *t, ap_error *err)
        __attribute__((warn_unused_result));

/* Create name in the session with data (never following or replacing). */
int ap_session_write(ap_session *s, const char *name, const void *data, size_t len,
                     ap_error *err) __attribute__((warn_unused_result));

/* The path of a file in the session (caller frees). */
char *ap_session_path(const ap_session *s, const char *name);

/* Bind and listen on result.sock. */
int ap_session_listen(ap_session *s, ap_error *err) __attribute__((warn_unused_result));

/* Accept the agent's connection before deadline_ms; its peer must be pid
 * (other peers are ignored).  cancel_fd: readable means give up (a signal
 * arrived).  Returns the connected fd, -2 when the deadline passed (err
 * untouched), or -1 with err set (cancelled, failure). */
int ap_session_accept(ap_session *s, pid_t pid, int cancel_fd, double deadline_ms,
                      ap_error *err) __attribute__((warn_unused_result));

/* Remove every file and the directory; close fds.  Accepts an empty session. */
void ap_session_destroy(ap_session *s);
