/* paths.h: where attachpy's data files are.
 *
 * Run from the build directory, attachpy uses the scripts in the source tree
 * and the agent in the build tree; installed, it uses datadir/attachpy and
 * libdir/attachpy.  ATTACHPY_DATADIR and ATTACHPY_AGENT override both (for
 * packagers and tests).
 */
#pragma once

/* Full path of a debugger script: dir is "gdbscripts", file "inject.gdb".
 * Caller frees; NULL on allocation failure. */
char *ap_path_script(const char *dir, const char *file);

/* Full path of the agent library.  Caller frees. */
char *ap_path_agent(void);
