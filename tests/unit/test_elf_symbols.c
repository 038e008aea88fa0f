/* test_elf_symbols.c: the .dynsym reader, checked against binutils' nm on
 * the machine's own C library and Python, on a hand-built ELF file that
 * holds every case the reader must tell apart, and on broken files. */
#include <check.h>
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "elf_symbols.h"
#include "util.h"

#define LIBC "/lib/x86_64-linux-gnu/libc.so.6"
#define PYTHON311 "/usr/bin/python3.11"

/* ---- helpers --------------------------------------------------------------- */

/* Memory a test allocates is freed by the checked teardown, so that a failed
 * assertion (which leaves the test function at once) leaks nothing under
 * CK_FORK=no valgrind.  Temporary files live in one directory that main()
 * removes after the run, whatever the tests did. */
#define MAX_TRACKED 1024
static void *tracked[MAX_TRACKED];
static size_t n_tracked;
static char temp_dir[] = "/tmp/test_elf_symbols.XXXXXX";

static void *track(void *p) {
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_lt(n_tracked, MAX_TRACKED);
        tracked[n_tracked++] = p;
        return p;
}

static void free_tracked(void) {
        for (size_t i = 0; i < n_tracked; i++)
                free(tracked[i]);
        n_tracked = 0;
}

/* Run argv (no shell), return its stdout and exit status.  A program that
 * cannot be run is status 127. */
static char *run_capture(char *const argv[], int *ret_status) {
        int p[2];
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR);
                dup2(p[1], 1);
                if (null >= 0)
                        dup2(null, 2);
                execvp(argv[0], argv);
                _exit(127);
        }
        close(p[1]);
        char *data = NULL;
        size_t len = 0;
        int r = ap_read_fd(p[0], 256u * 1024 * 1024, &data, &len);
        close(p[0]);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        ck_assert_int_eq(r, 0);
        *ret_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return track(data);
}

typedef struct nm_sym {
        unsigned long long value, size;
        bool has_size;
        char type;
        char name[260]; /* with @VERSION or @@VERSION */
} nm_sym;

typedef struct nm_table {
        nm_sym *v;
        size_t n;
} nm_table;

/* `nm -D -S --defined-only path`; the test fails (never skips) when nm
 * cannot be run: a missing nm must not pass silently. */
static nm_table nm_defined(const char *path) {
        char *argv[] = {(char *)"nm", (char *)"-D", (char *)"-S", (char *)"--defined-only",
                        (char *)path, NULL};
        int status;
        char *out = run_capture(argv, &status);
        ck_assert_msg(status == 0,
                      "'nm -D -S --defined-only %s' failed (status %d): install "
                      "binutils",
                      path, status);
        nm_table t = {0};
        char *save = NULL;
        for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char a[32], b[32], c[260], d[260];
                int k = sscanf(line, "%31s %31s %259s %259s", a, b, c, d);
                nm_sym s = {0};
                if (k == 4) { /* value size type name */
                        s.value = strtoull(a, NULL, 16);
                        s.size = strtoull(b, NULL, 16);
                        s.has_size = true;
                        s.type = c[0];
                        snprintf(s.name, sizeof s.name, "%s", d);
                } else if (k == 3) { /* value type name */
                        s.value = strtoull(a, NULL, 16);
                        s.type = b[0];
                        snprintf(s.name, sizeof s.name, "%s", c);
                } else {
                        continue;
                }
                nm_sym *nv = realloc(t.v, (t.n + 1) * sizeof *nv);
                ck_assert_ptr_nonnull(nv);
                t.v = nv;
                t.v[t.n++] = s;
        }
        if (t.v)
                track(t.v);
        ck_assert_msg(t.n > 100, "nm listed only %zu symbols of %s", t.n, path);
        return t;
}

/* The default definition of name: unversioned, or name@@VERSION. */
static const nm_sym *nm_default(const nm_table *t, const char *name) {
        size_t n = strlen(name);
        for (size_t i = 0; i < t->n; i++) {
                const char *s = t->v[i].name;
                if (strncmp(s, name, n) != 0)
                        continue;
                if (s[n] == '\0' || strncmp(s + n, "@@", 2) == 0)
                        return &t->v[i];
        }
        return NULL;
}

static bool have_file(const char *path) { return access(path, R_OK) == 0; }

/* A temp file holding len bytes of data (path freed by the teardown). */
static char *temp_file(const void *data, size_t len) {
        char *path = NULL;
        ck_assert_int_ge(asprintf(&path, "%s/elf.XXXXXX", temp_dir), 0);
        track(path);
        int fd = mkstemp(path);
        ck_assert_msg(fd >= 0, "mkstemp: %s", strerror(errno));
        ck_assert_int_eq(ap_write_all(fd, data, len), 0);
        close(fd);
        return path;
}

static void remove_temp(const char *path) { unlink(path); }

static char *read_whole(const char *path, size_t *ret_len) {
        char *data = NULL;
        ck_assert_msg(ap_read_file(path, 512u * 1024 * 1024, &data, ret_len) == 0, "read %s: %s",
                      path, strerror(errno));
        return track(data);
}

/* Expect ap_elf_lookup to fail on path with an injection_failed error
 * naming the file. */
static void expect_lookup_fails(const char *path, const char *what) {
        ap_elf_sym syms[] = {{.name = "malloc"}, {.name = "dlopen"}};
        ap_elf_info info = {0};
        ap_error err = AP_ERROR_INIT;
        int r = ap_elf_lookup(path, syms, AP_ARRAY_SIZE(syms), &info, &err);
        ck_assert_msg(r == -1, "%s: ap_elf_lookup returned %d (found malloc: %d), not an error",
                      what, r, syms[0].found);
        ck_assert_int_eq(err.code, AP_ERR_INJECTION_FAILED);
        ck_assert_msg(err.message && strstr(err.message, path), "%s: message does not name %s: %s",
                      what, path, err.message ? err.message : "(null)");
        ap_error_clear(&err);
        if (r == 0)
                ap_elf_info_free(&info);
}

/* ---- the machine's C library ----------------------------------------------- */

START_TEST(test_libc_matches_nm) {
        ck_assert_msg(have_file(LIBC), "%s is missing", LIBC);
        nm_table nm = nm_defined(LIBC);
        static const char *const names[] = {"malloc",  "free", "dlopen", "dlsym",
                                            "dlerror", "mmap", "munmap", "pthread_create"};
        ap_elf_sym syms[AP_ARRAY_SIZE(names)];
        for (size_t i = 0; i < AP_ARRAY_SIZE(names); i++)
                syms[i] = (ap_elf_sym){.name = names[i], .value = 1, .size = 1, .found = false};
        ap_elf_info info;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_elf_lookup(LIBC, syms, AP_ARRAY_SIZE(syms), &info, &err), 0);
        for (size_t i = 0; i < AP_ARRAY_SIZE(names); i++) {
                const nm_sym *want = nm_default(&nm, names[i]);
                ck_assert_msg(want, "nm does not list a default %s in %s", names[i], LIBC);
                ck_assert_msg(syms[i].found, "%s not found", names[i]);
                ck_assert_msg(syms[i].value == want->value, "%s: 0x%llx, nm says 0x%llx (%s)",
                              names[i], (unsigned long long)syms[i].value, want->value, want->name);
                if (want->has_size)
                        ck_assert_msg(syms[i].size == want->size, "%s: size %llu, nm says %llu",
                                      names[i], (unsigned long long)syms[i].size, want->size);
        }
        ck_assert(info.is_dyn);
        ck_assert_ptr_nonnull(info.soname);
        ck_assert_str_eq(info.soname, "libc.so.6");
        ap_elf_info_free(&info);
        ck_assert_ptr_null(info.soname);
}
END_TEST

START_TEST(test_libc_dlopen_default_version) {
        /* dlopen exists as dlopen@GLIBC_2.2.5 and dlopen@@GLIBC_2.34: the
         * default one is wanted (when they differ, the difference matters). */
        nm_table nm = nm_defined(LIBC);
        const nm_sym *def = nm_default(&nm, "dlopen");
        ck_assert_ptr_nonnull(def);
        ck_assert_msg(strstr(def->name, "@@"), "dlopen is not versioned here: %s", def->name);
        ap_elf_sym s = {.name = "dlopen"};
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_elf_lookup(LIBC, &s, 1, NULL, &err), 0);
        ck_assert(s.found);
        ck_assert_uint_eq(s.value, def->value);
}
END_TEST

START_TEST(test_libc_missing_and_undefined) {
        /* __tls_get_addr is undefined in libc (ld.so defines it). */
        char *argv[] = {(char *)"nm", (char *)"-D", (char *)"--undefined-only", (char *)LIBC, NULL};
        int status;
        char *out = run_capture(argv, &status);
        ck_assert_msg(status == 0, "nm failed: install binutils");
        ck_assert_msg(strstr(out, " U __tls_get_addr"), "__tls_get_addr is not undefined in libc");
        ap_elf_sym syms[] = {{.name = "attachpy_no_such_symbol", .value = 7, .found = true},
                             {.name = "__tls_get_addr", .value = 7, .found = true},
                             {.name = "", .value = 7, .found = true},
                             {.name = "mallo"}, /* a prefix is not a match */
                             {.name = "malloc"}};
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_elf_lookup(LIBC, syms, AP_ARRAY_SIZE(syms), NULL, &err), 0);
        for (size_t i = 0; i < 4; i++) {
                ck_assert_msg(!syms[i].found, "'%s' found", syms[i].name);
                ck_assert_uint_eq(syms[i].value, 0);
                ck_assert_uint_eq(syms[i].size, 0);
        }
        ck_assert(syms[4].found);
}
END_TEST

START_TEST(test_libc_same_name_twice_and_none) {
        ap_elf_sym syms[] = {{.name = "mmap"}, {.name = "mmap"}};
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_elf_lookup(LIBC, syms, 2, NULL, &err), 0);
        ck_assert(syms[0].found && syms[1].found);
        ck_assert_uint_eq(syms[0].value, syms[1].value);
        ap_elf_info info;
        ck_assert_int_eq(ap_elf_lookup(LIBC, NULL, 0, &info, &err), 0);
        ck_assert_str_eq(info.soname, "libc.so.6");
        ap_elf_info_free(&info);
        ap_elf_info_free(&info); /* twice is fine */
        ap_elf_info_free(NULL);
}
END_TEST

/* ---- Python ------------------------------------------------------------------ */

/* The first PT_LOAD of a file, read independently of the code under test. */
static void first_load(const char *path, uint64_t *vaddr, uint64_t *offset) {
        size_t len;
        char *data = read_whole(path, &len);
        const Elf64_Ehdr *e = (const Elf64_Ehdr *)data;
        ck_assert_uint_ge(len, sizeof *e);
        const Elf64_Phdr *ph = (const Elf64_Phdr *)(data + e->e_phoff);
        bool found = false;
        for (size_t i = 0; i < e->e_phnum && !found; i++)
                if (ph[i].p_type == PT_LOAD) {
                        *vaddr = ph[i].p_vaddr & ~(uint64_t)4095;
                        *offset = ph[i].p_offset & ~(uint64_t)4095;
                        found = true;
                }
        ck_assert(found);
}

static unsigned long hexversion_of(const char *python) {
        char *argv[] = {(char *)python, (char *)"-S", (char *)"-c",
                        (char *)"import sys; print(sys.hexversion)", NULL};
        int status;
        char *out = run_capture(argv, &status);
        ck_assert_msg(status == 0, "%s failed (status %d)", python, status);
        return strtoul(out, NULL, 10);
}

static void check_python_object(const char *path, const char *soname, bool is_dyn,
                                const char *python, unsigned long major_minor) {
        nm_table nm = nm_defined(path);
        static const char *const names[] = {"PyGILState_Ensure", "Py_Version", "Py_AddPendingCall",
                                            "PyErr_CheckSignals", "PyObject_Malloc"};
        ap_elf_sym syms[AP_ARRAY_SIZE(names)];
        for (size_t i = 0; i < AP_ARRAY_SIZE(names); i++)
                syms[i] = (ap_elf_sym){.name = names[i]};
        ap_elf_info info;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_elf_lookup(path, syms, AP_ARRAY_SIZE(syms), &info, &err), 0);
        for (size_t i = 0; i < AP_ARRAY_SIZE(names); i++) {
                const nm_sym *want = nm_default(&nm, names[i]);
                ck_assert_msg(want, "nm does not list %s in %s", names[i], path);
                ck_assert_msg(syms[i].found, "%s not found in %s", names[i], path);
                ck_assert_msg(syms[i].value == want->value, "%s: 0x%llx, nm says 0x%llx", names[i],
                              (unsigned long long)syms[i].value, want->value);
        }
        ck_assert_int_eq(info.is_dyn, is_dyn);
        if (soname)
                ck_assert_str_eq(info.soname, soname);
        else
                ck_assert_ptr_null(info.soname);
        uint64_t vaddr = 1, offset = 1;
        first_load(path, &vaddr, &offset);
        ck_assert_uint_eq(info.first_load_vaddr, vaddr);
        ck_assert_uint_eq(info.first_load_offset, offset);

        /* Py_Version is an 8-byte unsigned long holding PY_VERSION_HEX. */
        ck_assert_uint_eq(syms[1].size, 8);
        uint64_t v = 0;
        ck_assert_int_eq(ap_elf_read_at_vaddr(path, syms[1].value, &v, sizeof v), 0);
        ck_assert_msg((v >> 16) == major_minor, "Py_Version 0x%llx", (unsigned long long)v);
        if (python)
                ck_assert_msg(v == hexversion_of(python), "Py_Version 0x%llx, sys.hexversion 0x%lx",
                              (unsigned long long)v, hexversion_of(python));
        ap_elf_info_free(&info);
}

START_TEST(test_python311_static_exec) {
        if (!have_file(PYTHON311)) {
                fprintf(stderr, "SKIP test_python311_static_exec: %s not installed\n", PYTHON311);
                return;
        }
        /* Debian's python3.11: ET_EXEC, stripped, the C API exported by the
         * executable itself. */
        check_python_object(PYTHON311, NULL, false, PYTHON311, 0x030b);
}
END_TEST

START_TEST(test_libpython312_shared) {
        const char *root = getenv("PYENV_ROOT");
        char lib[512], py[512];
        snprintf(lib, sizeof lib, "%s/versions/3.12.1/lib/libpython3.12.so.1.0",
                 root && *root ? root : "/root/.pyenv");
        snprintf(py, sizeof py, "%s/versions/3.12.1/bin/python3.12",
                 root && *root ? root : "/root/.pyenv");
        if (!have_file(lib) || !have_file(py)) {
                fprintf(stderr, "SKIP test_libpython312_shared: %s not installed\n", lib);
                return;
        }
        check_python_object(lib, "libpython3.12.so.1.0", true, py, 0x030c);
}
END_TEST

START_TEST(test_read_at_vaddr_out_of_range) {
        const char *path = have_file(PYTHON311) ? PYTHON311 : LIBC;
        uint64_t v = 0x5555;
        ck_assert_int_eq(ap_elf_read_at_vaddr(path, 0xffffffffffff0000ull, &v, 8), -1);
        ck_assert_int_eq(ap_elf_read_at_vaddr(path, UINT64_MAX - 3, &v, 8), -1); /* wraps */
        ck_assert_uint_eq(v, 0x5555);
        /* Past the end of the file part of a segment (.bss): no data. */
        size_t len;
        char *data = read_whole(path, &len);
        const Elf64_Ehdr *e = (const Elf64_Ehdr *)data;
        const Elf64_Phdr *ph = (const Elf64_Phdr *)(data + e->e_phoff);
        bool tested = false;
        for (size_t i = 0; i < e->e_phnum; i++) {
                if (ph[i].p_type != PT_LOAD || ph[i].p_memsz <= ph[i].p_filesz + 16)
                        continue;
                ck_assert_int_eq(
                        ap_elf_read_at_vaddr(path, ph[i].p_vaddr + ph[i].p_filesz + 8, &v, 8), -1);
                /* Straddling the end of the file part. */
                ck_assert_int_eq(
                        ap_elf_read_at_vaddr(path, ph[i].p_vaddr + ph[i].p_filesz - 4, &v, 8), -1);
                /* The last 8 bytes inside are fine. */
                ck_assert_int_eq(
                        ap_elf_read_at_vaddr(path, ph[i].p_vaddr + ph[i].p_filesz - 8, &v, 8), 0);
                tested = true;
        }
        ck_assert_msg(tested, "%s has no segment with .bss", path);
        char *text = temp_file("not elf", 7);
        ck_assert_int_eq(ap_elf_read_at_vaddr(text, 0, &v, 1), -1);
        ck_assert_int_eq(ap_elf_read_at_vaddr("/nonexistent/x.so", 0, &v, 1), -1);
        remove_temp(text);
}
END_TEST

/* ---- a hand-built ELF file -------------------------------------------------- */

/* Layout of the synthetic file (offsets). */
enum {
        S_PHDR = 0x40,
        S_DATA = 0x200, /* obj_a: 8 bytes */
        S_DYNSTR = 0x300,
        S_DYNSYM = 0x400,
        S_VERSYM = 0x580,
        S_DYNAMIC = 0x600,
        S_SEG2 = 0x800, /* second PT_LOAD: 0x40 bytes in the file, .bss after */
        S_SHDR = 0x900,
        S_SIZE = S_SHDR + 5 * 64,
};
#define S_LOAD1_VADDR 0x200010ull /* p_offset 0x10: rounds to 0x200000 / 0 */
#define S_LOAD2_VADDR 0x601800ull
#define S_OBJ_VALUE 0x1122334455667788ull
#define S_SEG2_VALUE 0xcafebabe00c0ffeeull

static const char synth_strings[] = "\0sym_a\0sym_b\0local_a\0undef_a\0notype_a\0ifunc_a\0obj_a\0"
                                    "only_hidden\0libsynth.so.7\0unterminated";
/* The string table ends without the NUL of "unterminated". */
#define S_DYNSTR_SIZE (sizeof synth_strings - 1)

static uint32_t str_off(const char *name) {
        for (size_t i = 1; i < S_DYNSTR_SIZE; i += strlen(synth_strings + i) + 1)
                if (strcmp(synth_strings + i, name) == 0)
                        return (uint32_t)i;
        ck_abort_msg("no string %s", name);
        return 0;
}

typedef struct synth_sym {
        const char *name;
        unsigned char type, bind;
        uint16_t shndx, versym;
        uint64_t value, size;
} synth_sym;

static const synth_sym synth_syms[] = {
        {"sym_a", STT_FUNC, STB_GLOBAL, 1, 0x8002, 0x1111, 16},  /* hidden compat first */
        {"sym_a", STT_FUNC, STB_GLOBAL, 1, 3, 0x2222, 32},       /* then the default */
        {"sym_b", STT_FUNC, STB_GLOBAL, 1, 3, 0x3333, 48},       /* default first */
        {"sym_b", STT_FUNC, STB_GLOBAL, 1, 0x8002, 0x4444, 64},  /* then hidden compat */
        {"local_a", STT_FUNC, STB_LOCAL, 1, 1, 0x5555, 8},       /* not exported */
        {"undef_a", STT_FUNC, STB_GLOBAL, SHN_UNDEF, 2, 0, 0},   /* imported */
        {"notype_a", STT_NOTYPE, STB_GLOBAL, 1, 1, 0x7777, 0},   /* neither code nor data */
        {"ifunc_a", STT_GNU_IFUNC, STB_GLOBAL, 1, 1, 0x8888, 8}, /* a resolver */
        {"obj_a", STT_OBJECT, STB_WEAK, 1, 1, S_LOAD1_VADDR - 0x10 + S_DATA, 8},
        {"only_hidden", STT_FUNC, STB_GLOBAL, 1, 0x8002, 0xaaaa, 4},
        {"unterminated", STT_FUNC, STB_GLOBAL, 1, 1, 0xbbbb, 4},
};
#define S_NSYMS (AP_ARRAY_SIZE(synth_syms) + 2) /* the null symbol and a bad name */

static void put(unsigned char *f, size_t off, const void *p, size_t n) {
        ck_assert_uint_le(off + n, S_SIZE);
        memcpy(f + off, p, n);
}

static unsigned char *synth_elf(void) {
        unsigned char *f = track(calloc(1, S_SIZE));
        Elf64_Ehdr e = {0};
        memcpy(e.e_ident, ELFMAG, SELFMAG);
        e.e_ident[EI_CLASS] = ELFCLASS64;
        e.e_ident[EI_DATA] = ELFDATA2LSB;
        e.e_ident[EI_VERSION] = EV_CURRENT;
        e.e_type = ET_DYN;
        e.e_machine = EM_X86_64;
        e.e_version = EV_CURRENT;
        e.e_phoff = S_PHDR;
        e.e_shoff = S_SHDR;
        e.e_ehsize = sizeof e;
        e.e_phentsize = sizeof(Elf64_Phdr);
        e.e_phnum = 3;
        e.e_shentsize = sizeof(Elf64_Shdr);
        e.e_shnum = 5;
        put(f, 0, &e, sizeof e);

        Elf64_Phdr ph[3] = {
                {.p_type = PT_PHDR, .p_offset = S_PHDR, .p_vaddr = 0x200040, .p_filesz = 3 * 56},
                {.p_type = PT_LOAD,
                 .p_offset = 0x10,
                 .p_vaddr = S_LOAD1_VADDR,
                 .p_filesz = S_SEG2 - 0x10,
                 .p_memsz = S_SEG2 - 0x10,
                 .p_align = 0x1000},
                {.p_type = PT_LOAD,
                 .p_offset = S_SEG2,
                 .p_vaddr = S_LOAD2_VADDR,
                 .p_filesz = 0x40,
                 .p_memsz = 0x2000,
                 .p_align = 0x1000},
        };
        put(f, S_PHDR, ph, sizeof ph);
        uint64_t v = S_OBJ_VALUE;
        put(f, S_DATA, &v, 8);
        v = S_SEG2_VALUE;
        put(f, S_SEG2 + 0x10, &v, 8);
        put(f, S_DYNSTR, synth_strings, S_DYNSTR_SIZE);

        Elf64_Sym syms[S_NSYMS];
        uint16_t vers[S_NSYMS];
        memset(syms, 0, sizeof syms);
        memset(vers, 0, sizeof vers);
        for (size_t i = 0; i < AP_ARRAY_SIZE(synth_syms); i++) {
                const synth_sym *s = &synth_syms[i];
                syms[i + 1] = (Elf64_Sym){.st_name = str_off(s->name),
                                          .st_info = ELF64_ST_INFO(s->bind, s->type),
                                          .st_shndx = s->shndx,
                                          .st_value = s->value,
                                          .st_size = s->size};
                vers[i + 1] = s->versym;
        }
        /* A name offset past the string table. */
        syms[S_NSYMS - 1] = (Elf64_Sym){.st_name = 0xffff,
                                        .st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC),
                                        .st_shndx = 1,
                                        .st_value = 0xdddd};
        vers[S_NSYMS - 1] = 1;
        put(f, S_DYNSYM, syms, sizeof syms);
        put(f, S_VERSYM, vers, sizeof vers);

        Elf64_Dyn dyn[2] = {{.d_tag = DT_SONAME, .d_un.d_val = str_off("libsynth.so.7")},
                            {.d_tag = DT_NULL}};
        put(f, S_DYNAMIC, dyn, sizeof dyn);

        Elf64_Shdr sh[5] = {
                {0},
                {.sh_type = SHT_STRTAB, .sh_offset = S_DYNSTR, .sh_size = S_DYNSTR_SIZE},
                {.sh_type = SHT_DYNSYM,
                 .sh_offset = S_DYNSYM,
                 .sh_size = sizeof syms,
                 .sh_link = 1,
                 .sh_entsize = sizeof(Elf64_Sym)},
                {.sh_type = SHT_GNU_versym,
                 .sh_offset = S_VERSYM,
                 .sh_size = sizeof vers,
                 .sh_link = 2,
                 .sh_entsize = 2},
                {.sh_type = SHT_DYNAMIC,
                 .sh_offset = S_DYNAMIC,
                 .sh_size = sizeof dyn,
                 .sh_link = 1,
                 .sh_entsize = sizeof(Elf64_Dyn)},
        };
        put(f, S_SHDR, sh, sizeof sh);
        return f;
}

static void lookup_synth(const unsigned char *f, size_t len, ap_elf_sym *syms, size_t n,
                         ap_elf_info *info) {
        char *path = temp_file(f, len);
        ap_error err = AP_ERROR_INIT;
        int r = ap_elf_lookup(path, syms, n, info, &err);
        ck_assert_msg(r == 0, "lookup failed: %s", err.message ? err.message : "");
        remove_temp(path);
}

START_TEST(test_synth_versions_and_kinds) {
        unsigned char *f = synth_elf();
        ap_elf_sym s[] = {{.name = "sym_a"},   {.name = "sym_b"},       {.name = "local_a"},
                          {.name = "undef_a"}, {.name = "notype_a"},    {.name = "ifunc_a"},
                          {.name = "obj_a"},   {.name = "only_hidden"}, {.name = "unterminated"}};
        ap_elf_info info;
        lookup_synth(f, S_SIZE, s, AP_ARRAY_SIZE(s), &info);
        /* The default version wins, whichever comes first in .dynsym. */
        ck_assert(s[0].found);
        ck_assert_uint_eq(s[0].value, 0x2222);
        ck_assert_uint_eq(s[0].size, 32);
        ck_assert(s[1].found);
        ck_assert_uint_eq(s[1].value, 0x3333);
        ck_assert_uint_eq(s[1].size, 48);
        ck_assert_msg(!s[2].found, "a local symbol was found");
        ck_assert_msg(!s[3].found, "an undefined symbol was found");
        ck_assert_msg(!s[4].found, "an STT_NOTYPE symbol was found");
        ck_assert_msg(!s[5].found, "an IFUNC resolver was returned as the function");
        ck_assert(s[6].found); /* weak objects count */
        ck_assert_uint_eq(s[6].value, S_LOAD1_VADDR - 0x10 + S_DATA);
        ck_assert_uint_eq(s[6].size, 8);
        ck_assert(s[7].found); /* a hidden version alone is still the definition */
        ck_assert_uint_eq(s[7].value, 0xaaaa);
        ck_assert_msg(!s[8].found, "a name running off the string table was read");
        ck_assert(info.is_dyn);
        ck_assert_str_eq(info.soname, "libsynth.so.7");
        ck_assert_uint_eq(info.first_load_vaddr, 0x200000);
        ck_assert_uint_eq(info.first_load_offset, 0);
        ap_elf_info_free(&info);
}
END_TEST

START_TEST(test_synth_read_at_vaddr) {
        unsigned char *f = synth_elf();
        char *path = temp_file(f, S_SIZE);
        uint64_t v = 0;
        ck_assert_int_eq(ap_elf_read_at_vaddr(path, S_LOAD1_VADDR - 0x10 + S_DATA, &v, 8), 0);
        ck_assert_uint_eq(v, S_OBJ_VALUE);
        ck_assert_int_eq(ap_elf_read_at_vaddr(path, S_LOAD2_VADDR + 0x10, &v, 8), 0);
        ck_assert_uint_eq(v, S_SEG2_VALUE);
        uint32_t w = 0;
        ck_assert_int_eq(ap_elf_read_at_vaddr(path, S_LOAD2_VADDR + 0x14, &w, 4), 0);
        ck_assert_uint_eq(w, (uint32_t)(S_SEG2_VALUE >> 32));
        /* .bss of the second segment, below the first, between them. */
        ck_assert_int_eq(ap_elf_read_at_vaddr(path, S_LOAD2_VADDR + 0x40, &v, 8), -1);
        ck_assert_int_eq(ap_elf_read_at_vaddr(path, S_LOAD2_VADDR + 0x3c, &v, 8), -1);
        ck_assert_int_eq(ap_elf_read_at_vaddr(path, 0x200000, &v, 8), -1);
        ck_assert_int_eq(ap_elf_read_at_vaddr(path, 0x500000, &v, 8), -1);
        remove_temp(path);
}
END_TEST

START_TEST(test_synth_exec_type) {
        unsigned char *f = synth_elf();
        ((Elf64_Ehdr *)f)->e_type = ET_EXEC;
        ap_elf_sym s = {.name = "sym_a"};
        ap_elf_info info;
        lookup_synth(f, S_SIZE, &s, 1, &info);
        ck_assert(!info.is_dyn);
        ck_assert(s.found);
        ap_elf_info_free(&info);
}
END_TEST

START_TEST(test_synth_bad_section_data) {
        /* Sections pointing outside the file are ignored, never read. */
        unsigned char *f = synth_elf();
        Elf64_Shdr *sh = (Elf64_Shdr *)(f + S_SHDR);
        sh[2].sh_offset = 0x7fffffff; /* .dynsym */
        ap_elf_sym s = {.name = "sym_a"};
        char *path = temp_file(f, S_SIZE);
        ap_error err = AP_ERROR_INIT;
        int r = ap_elf_lookup(path, &s, 1, NULL, &err);
        ck_assert(r == -1 || !s.found);
        ap_error_clear(&err);
        remove_temp(path);
        f = synth_elf();
        sh = (Elf64_Shdr *)(f + S_SHDR);
        sh[1].sh_size = 0xffffffffffff; /* .dynstr */
        path = temp_file(f, S_SIZE);
        r = ap_elf_lookup(path, &s, 1, NULL, &err);
        ck_assert(r == -1 || !s.found);
        ap_error_clear(&err);
        remove_temp(path);
        f = synth_elf();
        sh = (Elf64_Shdr *)(f + S_SHDR);
        sh[2].sh_link = 200; /* no such string table */
        path = temp_file(f, S_SIZE);
        r = ap_elf_lookup(path, &s, 1, NULL, &err);
        ck_assert(r == -1 || !s.found);
        ap_error_clear(&err);
        remove_temp(path);
}
END_TEST

START_TEST(test_synth_two_sonames) {
        /* A (malformed) dynamic section with two DT_SONAME entries: one of
         * them is the answer, and nothing leaks (run under valgrind). */
        unsigned char *f = synth_elf();
        Elf64_Dyn dyn[3] = {{.d_tag = DT_SONAME, .d_un.d_val = str_off("libsynth.so.7")},
                            {.d_tag = DT_SONAME, .d_un.d_val = str_off("sym_a")},
                            {.d_tag = DT_NULL}};
        put(f, S_DYNAMIC, dyn, sizeof dyn);
        Elf64_Shdr *sh = (Elf64_Shdr *)(f + S_SHDR);
        sh[4].sh_size = sizeof dyn;
        ap_elf_sym s = {.name = "sym_a"};
        ap_elf_info info;
        lookup_synth(f, S_SIZE, &s, 1, &info);
        ck_assert_ptr_nonnull(info.soname);
        ck_assert(strcmp(info.soname, "libsynth.so.7") == 0 || strcmp(info.soname, "sym_a") == 0);
        ap_elf_info_free(&info);
}
END_TEST

START_TEST(test_synth_bad_headers) {
        static const char *const cases[] = {
                "32-bit",          "big-endian",      "ET_REL",
                "ET_CORE",         "bad magic",       "program headers past the end",
                "odd e_phentsize", "odd e_shentsize",
        };
        for (size_t i = 0; i < AP_ARRAY_SIZE(cases); i++) {
                unsigned char *f = synth_elf();
                Elf64_Ehdr *e = (Elf64_Ehdr *)f;
                switch (i) {
                case 0:
                        e->e_ident[EI_CLASS] = ELFCLASS32;
                        break;
                case 1:
                        e->e_ident[EI_DATA] = ELFDATA2MSB;
                        break;
                case 2:
                        e->e_type = ET_REL;
                        break;
                case 3:
                        e->e_type = ET_CORE;
                        break;
                case 4:
                        f[1] = 'X';
                        break;
                case 5:
                        e->e_phnum = 0xffff;
                        break;
                case 6:
                        e->e_phentsize = 32;
                        break;
                case 7:
                        e->e_shentsize = 40;
                        break;
                }
                char *path = temp_file(f, S_SIZE);
                expect_lookup_fails(path, cases[i]);
                uint64_t v;
                ck_assert_msg(ap_elf_read_at_vaddr(path, S_LOAD1_VADDR - 0x10 + S_DATA, &v, 8) ==
                                      -1,
                              "%s: read_at_vaddr succeeded", cases[i]);
                remove_temp(path);
        }
}
END_TEST

START_TEST(test_synth_truncated) {
        /* Every cut of the file loses a part the lookup needs: each must be an
         * error, not "no symbols" (a truncated libpython would otherwise pass
         * for "not a Python"). */
        unsigned char *f = synth_elf();
        static const size_t cuts[] = {1,      16,          63,        64, 0x100, S_DYNSYM + 0x30,
                                      S_SHDR, S_SHDR + 64, S_SIZE - 1};
        for (size_t i = 0; i < AP_ARRAY_SIZE(cuts); i++) {
                char *path = temp_file(f, cuts[i]);
                char what[64];
                snprintf(what, sizeof what, "cut at %zu of %d bytes", cuts[i], (int)S_SIZE);
                expect_lookup_fails(path, what);
                remove_temp(path);
        }
}
END_TEST

/* ---- broken files -------------------------------------------------------------- */

START_TEST(test_not_elf) {
        static const char text[] = "#!/bin/sh\necho this is not an ELF file\n";
        char *path = temp_file(text, sizeof text - 1);
        expect_lookup_fails(path, "text file");
        remove_temp(path);
}
END_TEST

START_TEST(test_empty_file) {
        char *path = temp_file("", 0);
        expect_lookup_fails(path, "empty file");
        remove_temp(path);
}
END_TEST

START_TEST(test_directory_and_missing) {
        expect_lookup_fails("/tmp", "directory");
        expect_lookup_fails("/nonexistent/libnothing.so", "missing file");
        expect_lookup_fails("/dev/null", "character device");
}
END_TEST

START_TEST(test_libc_header_variants) {
        /* The real libc with its header changed: 32-bit class, big-endian. */
        size_t len;
        char *data = read_whole(LIBC, &len);
        static const struct {
                int index;
                unsigned char value;
                const char *what;
        } patches[] = {{EI_CLASS, ELFCLASS32, "32-bit header"},
                       {EI_CLASS, ELFCLASSNONE, "class none"},
                       {EI_DATA, ELFDATA2MSB, "big-endian header"}};
        for (size_t i = 0; i < AP_ARRAY_SIZE(patches); i++) {
                unsigned char saved = (unsigned char)data[patches[i].index];
                data[patches[i].index] = (char)patches[i].value;
                char *path = temp_file(data, len);
                expect_lookup_fails(path, patches[i].what);
                remove_temp(path);
                data[patches[i].index] = (char)saved;
        }
}
END_TEST

START_TEST(test_libc_truncated_header) {
        size_t len;
        char *data = read_whole(LIBC, &len);
        static const size_t cuts[] = {1, 4, 16, 63};
        for (size_t i = 0; i < AP_ARRAY_SIZE(cuts); i++) {
                char *path = temp_file(data, cuts[i]);
                char what[64];
                snprintf(what, sizeof what, "libc cut at %zu bytes", cuts[i]);
                expect_lookup_fails(path, what);
                remove_temp(path);
        }
}
END_TEST

START_TEST(test_libc_truncated_body) {
        /* Cut after the program headers: the section headers and .dynsym are
         * gone.  That is a damaged file, not a library without symbols. */
        size_t len;
        char *data = read_whole(LIBC, &len);
        const size_t cuts[] = {1024, 4096, len / 2, len - 1};
        for (size_t i = 0; i < AP_ARRAY_SIZE(cuts); i++) {
                char *path = temp_file(data, cuts[i]);
                char what[64];
                snprintf(what, sizeof what, "libc cut at %zu of %zu bytes", cuts[i], len);
                expect_lookup_fails(path, what);
                remove_temp(path);
        }
}
END_TEST

static Suite *elf_suite(void) {
        Suite *s = suite_create("elf_symbols");
        TCase *tc = tcase_create("system");
        tcase_add_checked_fixture(tc, NULL, free_tracked);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_libc_matches_nm);
        tcase_add_test(tc, test_libc_dlopen_default_version);
        tcase_add_test(tc, test_libc_missing_and_undefined);
        tcase_add_test(tc, test_libc_same_name_twice_and_none);
        tcase_add_test(tc, test_python311_static_exec);
        tcase_add_test(tc, test_libpython312_shared);
        tcase_add_test(tc, test_read_at_vaddr_out_of_range);
        suite_add_tcase(s, tc);

        tc = tcase_create("synthetic");
        tcase_add_checked_fixture(tc, NULL, free_tracked);
        tcase_add_test(tc, test_synth_versions_and_kinds);
        tcase_add_test(tc, test_synth_read_at_vaddr);
        tcase_add_test(tc, test_synth_exec_type);
        tcase_add_test(tc, test_synth_bad_section_data);
        tcase_add_test(tc, test_synth_two_sonames);
        tcase_add_test(tc, test_synth_bad_headers);
        tcase_add_test(tc, test_synth_truncated);
        suite_add_tcase(s, tc);

        tc = tcase_create("broken");
        tcase_add_checked_fixture(tc, NULL, free_tracked);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_not_elf);
        tcase_add_test(tc, test_empty_file);
        tcase_add_test(tc, test_directory_and_missing);
        tcase_add_test(tc, test_libc_header_variants);
        tcase_add_test(tc, test_libc_truncated_header);
        tcase_add_test(tc, test_libc_truncated_body);
        suite_add_tcase(s, tc);
        return s;
}

static void remove_temp_dir(void) {
        DIR *d = opendir(temp_dir);
        if (d) {
                struct dirent *de;
                while ((de = readdir(d)))
                        if (de->d_name[0] != '.')
                                unlinkat(dirfd(d), de->d_name, 0);
                closedir(d);
        }
        rmdir(temp_dir);
}

int main(void) {
        if (!mkdtemp(temp_dir)) {
                perror("mkdtemp");
                return EXIT_FAILURE;
        }
        SRunner *sr = srunner_create(elf_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        remove_temp_dir();
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
