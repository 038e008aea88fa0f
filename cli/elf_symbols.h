/* elf_symbols.h: read exported symbols from an ELF object on disk.
 *
 * attachpy computes every address it gives the debugger before attaching:
 * the target is stopped for as short a time as possible and the debugger
 * needs no symbol tables (stripped interpreters have none anyway).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

typedef struct ap_elf_sym {
        const char *name; /* in: the symbol's name */
        uint64_t value;   /* out: st_value (a link-time address), 0 if not found */
        uint64_t size;    /* out: st_size */
        bool found;       /* out: defined and exported in .dynsym */
} ap_elf_sym;

typedef struct ap_elf_info {
        bool is_dyn;                /* ET_DYN (shared object or PIE), else ET_EXEC */
        uint64_t first_load_vaddr;  /* p_vaddr of the first PT_LOAD, page-aligned */
        uint64_t first_load_offset; /* p_offset of the first PT_LOAD, page-aligned */
        char *soname;               /* DT_SONAME or NULL; caller frees via ap_elf_info_free */
} ap_elf_info;

/* Look up each of syms[0..n) in the .dynsym of the ELF file at path.  Where a
 * name has several versions, the default (non-hidden) defined one wins.
 * Returns 0 on success (even if some names are not found), -1 with err
 * set (AP_ERR_INJECTION_FAILED) if the file cannot be read or is not a
 * 64-bit little-endian ELF file. */
int ap_elf_lookup(const char *path, ap_elf_sym *syms, size_t n, ap_elf_info *ret_info,
                  ap_error *err) __attribute__((warn_unused_result));

/* Read size bytes at the link-time address vaddr from the file (the data of
 * an initialised, read-only object such as Py_Version).  Returns 0 on
 * success. */
int ap_elf_read_at_vaddr(const char *path, uint64_t vaddr, void *buf, size_t size)
        __attribute__((warn_unused_result));

/* Read at most size bytes at vaddr, stopping at the end of the PT_LOAD
 * segment's file data (a string near the end of .rodata).  Returns the
 * number of bytes read, or -1 when vaddr is not in the file's data. */
ssize_t ap_elf_read_upto_vaddr(const char *path, uint64_t vaddr, void *buf, size_t size)
        __attribute__((warn_unused_result));

/* The function (STT_FUNC in .symtab, else .dynsym) that holds the byte at
 * file offset off of the file (an address in one of its executable mappings,
 * as /proc/PID/maps gives them).  Writes its name into name (truncated to
 * size) and returns 0, or returns -1 when no symbol covers it. */
int ap_elf_function_at_offset(const char *path, uint64_t off, char *name, size_t size)
        __attribute__((warn_unused_result));

void ap_elf_info_free(ap_elf_info *info);
