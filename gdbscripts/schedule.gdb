# attachpy: queue the agent's loading as a pending call of a running Python
# process.
#
# Rendered by attachpy (cli/backend_gdb.c).  Every placeholder is a value
# attachpy generated itself: the PID, addresses it computed from the target's
# ELF files before attaching, the thread it chose from /proc/PID/task, and
# the file holding the scratch page (the agent's and the session's paths, the
# trampoline: cli/page.h), which the CLI wrote next to this script.  Nothing the user typed reaches this script.
#
# Py_AddPendingCall makes the main thread run the trampoline between two
# bytecodes, with the GIL held, after gdb has detached: a safe point reached
# without a breakpoint.  The CLI watches the page's state word through
# /proc/PID/mem, and can cancel the call (docs/architecture.md).  Killed at
# any marker, gdb leaves the target as it found it.

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
set scheduler-locking off
{{pause_attached}}

# The process preflight read?  A reused PID is another program.
if *(unsigned long *) {{check_addr}} != {{check_value}}
  printf "@@ATTACHPY:mismatch\n"
  detach
  quit 0
end

# Make the calls in a thread that sits in a system call (it is in no
# critical section) when the CLI saw one, else in the main thread.
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
{{pause_thread}}

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
set $attachpy_queued = ((int (*)(void *, void *)) {{addr_add_pending_call}})((char *) $attachpy_page + {{offset_code}}, $attachpy_page)
printf "@@ATTACHPY:scheduled 0x%lx %d\n", (unsigned long) $attachpy_page, $attachpy_queued
if $attachpy_queued != 0
  set $attachpy_unmap = ((int (*)(void *, unsigned long)) {{addr_munmap}})($attachpy_page, {{page_size}})
end
{{pause_called}}
if $attachpy_queued == 0
  # Arm the call: the last step before letting go.  A call whose debugger
  # died before this runs no code (cli/page.h).
  set *(int *) ((char *) $attachpy_page + {{offset_cancel}}) = 0
  printf "@@ATTACHPY:armed\n"
end
detach
printf "@@ATTACHPY:detached\n"
quit 0
end
