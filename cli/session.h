/* session.h: the private directory one run shares with its agent.
 *
 * A fresh directory with a random name in the target's /tmp: attachpy's own
 * /tmp when the target shares its mount namespace, else the target's, reached
 * through /proc/PID/root (a container).  Created with mkdirat (never
 * following or reusing anything planted there), mode 0700; when the target
 * runs as another user the directory stays attachpy's (mode 0711: the target
 * may enter it but not change it) and the files the target must read (the
 * request, the socket, a copy of the agent) are that user's, mode 0600 or
 * 0500.  Files are created with O_EXCL|O_NOFOLLOW through directory fds.
 *
 * The debugger script is never read from a directory the target can change:
 * it goes into the same directory when the target cannot write there, and
 * into a second private directory in attachpy's own /tmp when the target is
 * in another mount namespace (root in a container can change its own /tmp).
 *
 * Destroyed on every path (ap_session_destroy).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "target.h"

/* One directory of the session and the files attachpy created in it. */
typedef struct ap_session_dir {
        char *path;      /* as attachpy reaches it */
        int parent_fd;   /* the directory holding it (/tmp), for removal */
        char *name;      /* its name there */
        int fd;          /* O_DIRECTORY handle, for *at() calls */
        char *names[16]; /* files created in it, to remove */
        size_t n_names;
} ap_session_dir;

typedef struct ap_session {
        ap_session_dir shared;   /* what the target reads: request, result.sock, agent */
        ap_session_dir private_; /* the debugger script; fd -1 when it is shared */
        char *dir;               /* == shared.path */
        char *target_dir;        /* the shared directory as the target sees it */
        char *agent;     /* the agent as the target sees it (after ap_session_stage_agent) */
        int listen_fd;   /* the listening result.sock, or -1 */
        uid_t owner_uid; /* who the target's files belong to */
        gid_t owner_gid;
} ap_session;

#define AP_SESSION_DIR_INIT                                                                        \
        { NULL, -1, NULL, -1, {NULL}, 0 }
#define AP_SESSION_INIT                                                                            \
        { AP_SESSION_DIR_INIT, AP_SESSION_DIR_INIT, NULL, NULL, NULL, -1, 0, 0 }

/* Create the session for target t: in /tmp when it shares attachpy's mount
 * namespace, else in /proc/PID/root/tmp. */
int ap_session_create(ap_session *s, const ap_target *t, ap_error *err)
        __attribute__((warn_unused_result));

/* The same, with the target's root given: NULL for attachpy's own namespace
 * (exposed for the unit tests, which pass a directory standing in for
 * /proc/PID/root). */
int ap_session_create_in(ap_session *s, const ap_target *t, const char *root, ap_error *err)
        __attribute__((warn_unused_result));

/* Make the agent at agent_path loadable by the target: its own path when
 * the target sees the same file system and its user can read it, else a
 * copy in the session.  Sets s->agent. */
int ap_session_stage_agent(ap_session *s, const ap_target *t, const char *agent_path, ap_error *err)
        __attribute__((warn_unused_result));

/* Create name in the shared directory with data (never following or
 * replacing), owned by the target's user, mode 0600. */
int ap_session_write(ap_session *s, const char *name, const void *data, size_t len, ap_error *err)
        __attribute__((warn_unused_result));

/* Create the debugger script name where only attachpy can change it.
 * Sets *ret_path (caller frees) to the path the debugger reads. */
int ap_session_write_script(ap_session *s, const char *name, const void *data, size_t len,
                            char **ret_path, ap_error *err) __attribute__((warn_unused_result));

/* The path of a file in the shared directory, as attachpy reaches it
 * (caller frees). */
char *ap_session_path(const ap_session *s, const char *name);

/* Bind and listen on result.sock. */
int ap_session_listen(ap_session *s, ap_error *err) __attribute__((warn_unused_result));

/* Accept the agent's connection before deadline_ms; its peer must be pid
 * (SO_PEERCRED, in attachpy's PID namespace): any other connection is closed
 * and ignored.  cancel_fd: readable means give up (a signal arrived).
 * Returns the connected fd, -2 when the deadline passed (err untouched), or
 * -1 with err set (cancelled, failure). */
int ap_session_accept(ap_session *s, pid_t pid, int cancel_fd, double deadline_ms, ap_error *err)
        __attribute__((warn_unused_result));

/* Remove every file and the directories; close fds.  Accepts an empty
 * session, and one that is partly built. */
void ap_session_destroy(ap_session *s);
