/* session_reaper.h: remove session directories of attachpy runs that died.
 *
 * A run removes its session on every path it controls; a run killed with
 * SIGKILL cannot.  Each session holds a file "owner" with the pid and start
 * time (/proc/PID/stat field 22) of the attachpy that made it.  Before
 * making its own, a run removes every /tmp/attachpy-* directory that it may
 * remove (its own user's, or any when root) whose owner is gone.  (A session
 * inside a container's /tmp is left there.)
 */
#pragma once

#include <sys/types.h>

/* The text of the owner file for the calling process. */
int ap_session_owner_text(char *buf, size_t size);

/* Remove stale sessions under dir ("/tmp").  Returns how many. */
int ap_session_reap_stale(const char *dir);
