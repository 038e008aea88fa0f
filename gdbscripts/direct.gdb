# attachpy: load the agent into a running Python process from a thread that
# sits in a blocking system call, and start it.
#
# Rendered by attachpy (cli/backend_gdb.c).  Every placeholder is a value
# attachpy generated itself: the PID, addresses it computed from the target's
# ELF files before attaching, the stack pointer and program counter of the
# thread it saw in /proc/PID/task, and the file holding the scratch page (the
# agent's and the session's paths, the trampoline: cli/page.h), which the CLI
# wrote next to this script.  Nothing the
# user typed reaches this script.
#
# The CLI reads the lines starting with @@ATTACHPY: (docs/architecture.md).
# No breakpoint is ever inserted: killed at any marker, gdb leaves the target
# as it found it (the kernel detaches it).

set pagination off
set height 0
set width 0
set confirm off
set verbose off
set auto-load off
set auto-solib-add off
# No file of the target's is read: attachpy computed every address before
# attaching, and opening the process's shared libraries (which auto-solib-add
# off still does) costs gdb about 1 ms a library while the target is
# stopped.  /dev/null/... is never a file.
set sysroot /dev/null
set debuginfod enabled off
set breakpoint pending off
set unwindonsignal on
set print thread-events off
set print inferior-events off
handle all nostop noprint pass

# The thread to call in, when none is chosen yet: the current one if the
# guard holds for it.
define attachpy_check
  if $attachpy_thread == 0 && ({{guard}})
    set $attachpy_thread = $_thread
  end
end

# Every command that runs while the target is stopped is read here, before
# gdb attaches: gdb reads a command file a byte at a time (two system calls
# per byte), and a defined command's body is already parsed when it runs.
# The command line runs it (cli/backend_gdb.c), after gdb has attached to
# and detached from an idle child of attachpy's, so that gdb's first-attach
# costs (probing ptrace with forks of itself) are not paid while the target
# is stopped.
define attachpy_inject
attach {{pid}}
printf "@@ATTACHPY:attached\n"
# Other threads run during our calls, so that none of them can keep a lock
# the called function needs.
set scheduler-locking off
{{pause_attached}}

# The process preflight read?  A reused PID is another program.
if *(unsigned long *) {{check_addr}} != {{check_value}}
  printf "@@ATTACHPY:mismatch\n"
  detach
  quit 0
end

# The thread the CLI saw parked, if it still is: interrupted in its system
# call, on the same stack, at the same place.
# The main thread (gdb's thread 1) alone first: it is the one chosen most
# often, and asking every thread for its registers costs about 0.3 ms a
# thread while the target is stopped.
set $attachpy_thread = 0
thread apply 1 -q -s attachpy_check
if $attachpy_thread == 0
  thread apply all -ascending -q -s attachpy_check
end
if $attachpy_thread == 0
  printf "@@ATTACHPY:moved\n"
  detach
  quit 0
end
thread $attachpy_thread
printf "@@ATTACHPY:safepoint {{safepoint}} %d\n", $attachpy_thread
{{pause_thread}}

# The scratch page: strings, the trampoline, the addresses it calls.
# mmap takes no lock: only this thread runs during the call (resuming and
# stopping every other thread costs milliseconds per hundred threads).
set scheduler-locking on
set $attachpy_page = ((void *(*)(void *, unsigned long, int, int, int, long)) {{addr_mmap}})((void *) 0, {{page_size}}, 7, 0x22, -1, 0)
set scheduler-locking off
if $attachpy_page == (void *) -1
  printf "@@ATTACHPY:mmap-failed\n"
  detach
  quit 0
end
printf "@@ATTACHPY:mapped 0x%lx\n", (unsigned long) $attachpy_page
{{pause_mapped}}
# The page's contents, in one write.
restore {{page_file}} binary $attachpy_page
{{pause_written}}
# dlopen, dlsym, the entry point; on success the trampoline unmaps the page.
set $attachpy_state = ((int (*)(void *)) ((char *) $attachpy_page + {{offset_direct}}))($attachpy_page)
if $attachpy_state == 0
  printf "@@ATTACHPY:started 0\n"
else
  if $attachpy_state == {{state_dlopen_failed}}
    if *(char **) ((char *) $attachpy_page + {{offset_detail}}) != 0
      printf "@@ATTACHPY:dlopen-failed %s\n", *(char **) ((char *) $attachpy_page + {{offset_detail}})
    else
      printf "@@ATTACHPY:dlopen-failed\n"
    end
  end
  if $attachpy_state == {{state_dlsym_failed}}
    printf "@@ATTACHPY:dlsym-failed\n"
  end
  if $attachpy_state == {{state_entry_failed}}
    printf "@@ATTACHPY:started %d\n", (int) *(long *) ((char *) $attachpy_page + {{offset_detail}})
  end
  set $attachpy_unmap = ((int (*)(void *, unsigned long)) {{addr_munmap}})($attachpy_page, {{page_size}})
end
{{pause_called}}
detach
printf "@@ATTACHPY:detached\n"
quit 0
end
