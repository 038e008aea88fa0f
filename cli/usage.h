/* usage.h: the text of attachpy --help: every form of the command line,
 * the options, the subcommands, the config file and the exit statuses (the
 * man page, docs/attachpy.1.in, agrees with it: tests/ux/test_manpage.py). */
#pragma once

extern const char ap_usage_text[];
