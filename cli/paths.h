/* paths.h: where attachpy's data files are.
 *
 * Run from the build directory, attachpy uses the scripts in the source tree
 * and the agent in the build tree.  Installed, it looks next to itself
 * first: an executable at PREFIX/bin/attachpy uses PREFIX/share/attachpy and
 * PREFIX/lib.../attachpy (the bindir, datadir and libdir given to meson,
 * relative to the prefix), so that a copy installed with
 * `meson install --destdir` or unpacked elsewhere works where it lies; then
 * the configured absolute locations.  ATTACHPY_DATADIR and ATTACHPY_AGENT
 * override all of it (for packagers and tests).
 */
#pragma once

/* Full path of a debugger script: dir is "gdbscripts", file "direct.gdb".
 * Caller frees; NULL on allocation failure. */
char *ap_path_script(const char *dir, const char *file);

/* Full path of the agent library.  Caller frees. */
char *ap_path_agent(void);

/* The data directory in use (scripts, schema/): the source tree, the
 * relocated or the configured datadir/attachpy.  Caller frees. */
char *ap_path_datadir(void);

/* Exposed for the unit tests: the installation prefix of an executable at
 * exe installed into bindir (relative to the prefix, e.g. "bin"), or NULL
 * when exe does not lie in such a directory.  Caller frees. */
char *ap_path_prefix_of(const char *exe, const char *bindir);
