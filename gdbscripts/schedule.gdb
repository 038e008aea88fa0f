# attachpy: queue the agent's loading as a pending call of a running Python
# process.  Follows attach.gdb: the CLI runs "attachpy_schedule SP PC" once
# it has read, while gdb holds the process stopped, which thread sits in a
# system call (SP 0: none, the main thread makes the calls).
#
# Py_AddPendingCall makes the main thread run the trampoline between two
# bytecodes, with the GIL held, after gdb has detached: a safe point reached
# without a breakpoint.  The CLI watches the page's state word through
# /proc/PID/mem, and can cancel the call (docs/architecture.md).  Killed at
# any marker, gdb leaves the target as it found it.

define attachpy_schedule
set $attachpy_sp = $arg0
set $attachpy_pc = $arg1
attachpy_select
if $attachpy_thread != 0
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
# Only this thread runs during the call, too: with every thread let go, a
# main thread that runs bytecode took the call at once, before it was armed
# (1 run in 5 with 8 busy threads: a call that did nothing).  The call takes
# no lock but the pending calls' own, held only inside this function and
# while the main thread pops a call.
set scheduler-locking on
set $attachpy_queued = ((int (*)(void *, void *)) {{addr_add_pending_call}})((char *) $attachpy_page + {{offset_code}}, $attachpy_page)
set scheduler-locking off
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
end
