/* elf_symbols.c: a small, bounds-checked reader of .dynsym, .gnu.version and the
 * program headers of a 64-bit little-endian ELF file. */
#include "elf_symbols.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Shared objects we read are far smaller; this bounds what we trust. */
#define AP_ELF_MAX_SIZE (1024u * 1024 * 1024)

typedef struct elf_file {
        const char *path;
        char *data;
        size_t size;
        const Elf64_Ehdr *ehdr;
} elf_file;

static bool in_bounds(const elf_file *f, uint64_t off, uint64_t len) {
        return off <= f->size && len <= f->size - off;
}

static const Elf64_Shdr *section(const elf_file *f, size_t i) {
        const Elf64_Ehdr *e = f->ehdr;
        if (i >= e->e_shnum)
                return NULL;
        uint64_t off = e->e_shoff + (uint64_t)i * e->e_shentsize;
        if (!in_bounds(f, off, sizeof(Elf64_Shdr)))
                return NULL;
        return (const Elf64_Shdr *)(f->data + off);
}

static void elf_close(elf_file *f) {
        if (f->data)
                munmap(f->data, f->size);
        f->data = NULL;
}

static int elf_open(elf_file *f, const char *path, ap_error *err) {
        memset(f, 0, sizeof *f);
        f->path = path;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
                int e = errno;
                if (fd >= 0)
                        close(fd);
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "cannot read %s: %s", path,
                                    strerror(e));
        }
        if (!S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size > AP_ELF_MAX_SIZE) {
                close(fd);
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "%s is not a regular file of a plausible size", path);
        }
        f->size = (size_t)st.st_size;
        void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (m == MAP_FAILED)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "cannot map %s: %s", path,
                                    strerror(errno));
        f->data = m;
        const Elf64_Ehdr *e = (const Elf64_Ehdr *)f->data;
        if (f->size < sizeof *e || memcmp(e->e_ident, ELFMAG, SELFMAG) != 0 ||
            e->e_ident[EI_CLASS] != ELFCLASS64 || e->e_ident[EI_DATA] != ELFDATA2LSB ||
            (e->e_type != ET_DYN && e->e_type != ET_EXEC) || e->e_shentsize != sizeof(Elf64_Shdr) ||
            e->e_phentsize != sizeof(Elf64_Phdr) ||
            !in_bounds(f, e->e_phoff, (uint64_t)e->e_phnum * sizeof(Elf64_Phdr)) ||
            !in_bounds(f, e->e_shoff, (uint64_t)e->e_shnum * sizeof(Elf64_Shdr))) {
                elf_close(f);
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "%s is not a 64-bit little-endian ELF object", path);
        }
        f->ehdr = e;
        return 0;
}

static void fill_info(const elf_file *f, ap_elf_info *info) {
        const Elf64_Ehdr *e = f->ehdr;
        const Elf64_Phdr *ph = (const Elf64_Phdr *)(f->data + e->e_phoff);
        memset(info, 0, sizeof *info);
        info->is_dyn = e->e_type == ET_DYN;
        for (size_t i = 0; i < e->e_phnum; i++) {
                if (ph[i].p_type != PT_LOAD)
                        continue;
                /* Mappings are page-granular: round to the page. */
                info->first_load_vaddr = ph[i].p_vaddr & ~(uint64_t)4095;
                info->first_load_offset = ph[i].p_offset & ~(uint64_t)4095;
                break;
        }
}

int ap_elf_lookup(const char *path, ap_elf_sym *syms, size_t n, ap_elf_info *ret_info,
                  ap_error *err) {
        elf_file f;
        if (elf_open(&f, path, err) < 0)
                return -1;

        for (size_t i = 0; i < n; i++) {
                syms[i].value = syms[i].size = 0;
                syms[i].found = false;
        }

        const Elf64_Shdr *dynsym = NULL, *versym = NULL;
        size_t dynsym_index = 0;
        for (size_t i = 0; i < f.ehdr->e_shnum; i++) {
                const Elf64_Shdr *s = section(&f, i);
                if (!s)
                        break;
                if (s->sh_type == SHT_DYNSYM) {
                        dynsym = s;
                        dynsym_index = i;
                } else if (s->sh_type == SHT_GNU_versym) {
                        versym = s;
                }
        }

        ap_elf_info info;
        fill_info(&f, &info);

        if (dynsym && dynsym->sh_entsize == sizeof(Elf64_Sym) &&
            in_bounds(&f, dynsym->sh_offset, dynsym->sh_size)) {
                const Elf64_Shdr *strtab = section(&f, dynsym->sh_link);
                size_t count = dynsym->sh_size / sizeof(Elf64_Sym);
                const Elf64_Sym *tab = (const Elf64_Sym *)(f.data + dynsym->sh_offset);
                const uint16_t *vers = NULL;
                if (versym && in_bounds(&f, versym->sh_offset, versym->sh_size) &&
                    versym->sh_size / sizeof(uint16_t) >= count && versym->sh_link == dynsym_index)
                        vers = (const uint16_t *)(f.data + versym->sh_offset);

                if (strtab && in_bounds(&f, strtab->sh_offset, strtab->sh_size)) {
                        const char *str = f.data + strtab->sh_offset;
                        uint64_t strsize = strtab->sh_size;
                        for (size_t k = 0; k < count; k++) {
                                const Elf64_Sym *s = &tab[k];
                                if (s->st_shndx == SHN_UNDEF || s->st_name >= strsize)
                                        continue;
                                unsigned bind = ELF64_ST_BIND(s->st_info);
                                if (bind != STB_GLOBAL && bind != STB_WEAK)
                                        continue;
                                unsigned type = ELF64_ST_TYPE(s->st_info);
                                if (type != STT_FUNC && type != STT_OBJECT && type != STT_GNU_IFUNC)
                                        continue;
                                const char *name = str + s->st_name;
                                size_t maxlen = strsize - s->st_name;
                                if (!memchr(name, '\0', maxlen))
                                        continue;
                                bool hidden = vers && (vers[k] & 0x8000);
                                for (size_t i = 0; i < n; i++) {
                                        if (strcmp(name, syms[i].name) != 0)
                                                continue;
                                        /* Prefer the default version over a
                                         * hidden (compat) one. */
                                        if (syms[i].found && hidden)
                                                continue;
                                        if (type == STT_GNU_IFUNC)
                                                continue; /* a resolver, not the function */
                                        syms[i].value = s->st_value;
                                        syms[i].size = s->st_size;
                                        syms[i].found = true;
                                }
                        }
                }

                /* DT_SONAME, through the dynamic section's string table. */
                for (size_t i = 0; i < f.ehdr->e_shnum; i++) {
                        const Elf64_Shdr *s = section(&f, i);
                        if (!s || s->sh_type != SHT_DYNAMIC ||
                            !in_bounds(&f, s->sh_offset, s->sh_size))
                                continue;
                        const Elf64_Shdr *dstr = section(&f, s->sh_link);
                        if (!dstr || !in_bounds(&f, dstr->sh_offset, dstr->sh_size))
                                continue;
                        const Elf64_Dyn *d = (const Elf64_Dyn *)(f.data + s->sh_offset);
                        size_t nd = s->sh_size / sizeof(Elf64_Dyn);
                        for (size_t j = 0; j < nd && d[j].d_tag != DT_NULL; j++) {
                                if (d[j].d_tag != DT_SONAME || d[j].d_un.d_val >= dstr->sh_size)
                                        continue;
                                const char *so = f.data + dstr->sh_offset + d[j].d_un.d_val;
                                if (!info.soname &&
                                    memchr(so, '\0', dstr->sh_size - d[j].d_un.d_val))
                                        info.soname = strdup(so);
                        }
                }
        }

        elf_close(&f);
        if (ret_info)
                *ret_info = info;
        else
                ap_elf_info_free(&info);
        return 0;
}

int ap_elf_read_at_vaddr(const char *path, uint64_t vaddr, void *buf, size_t size) {
        elf_file f;
        if (elf_open(&f, path, NULL) < 0)
                return -1;
        const Elf64_Phdr *ph = (const Elf64_Phdr *)(f.data + f.ehdr->e_phoff);
        int r = -1;
        for (size_t i = 0; i < f.ehdr->e_phnum; i++) {
                if (ph[i].p_type != PT_LOAD || vaddr < ph[i].p_vaddr ||
                    vaddr + size > ph[i].p_vaddr + ph[i].p_filesz)
                        continue;
                uint64_t off = ph[i].p_offset + (vaddr - ph[i].p_vaddr);
                if (!in_bounds(&f, off, size))
                        break;
                memcpy(buf, f.data + off, size);
                r = 0;
                break;
        }
        elf_close(&f);
        return r;
}

ssize_t ap_elf_read_upto_vaddr(const char *path, uint64_t vaddr, void *buf, size_t size) {
        elf_file f;
        if (elf_open(&f, path, NULL) < 0)
                return -1;
        const Elf64_Phdr *ph = (const Elf64_Phdr *)(f.data + f.ehdr->e_phoff);
        ssize_t r = -1;
        for (size_t i = 0; i < f.ehdr->e_phnum; i++) {
                if (ph[i].p_type != PT_LOAD || vaddr < ph[i].p_vaddr ||
                    vaddr >= ph[i].p_vaddr + ph[i].p_filesz)
                        continue;
                uint64_t avail = ph[i].p_vaddr + ph[i].p_filesz - vaddr;
                size_t n = avail < size ? (size_t)avail : size;
                uint64_t off = ph[i].p_offset + (vaddr - ph[i].p_vaddr);
                if (!in_bounds(&f, off, n))
                        break;
                memcpy(buf, f.data + off, n);
                r = (ssize_t)n;
                break;
        }
        elf_close(&f);
        return r;
}

/* A function symbol of table sym (strings in its sh_link) that covers
 * vaddr, or NULL. */
static const char *function_covering(const elf_file *f, const Elf64_Shdr *sym, uint64_t vaddr) {
        if (sym->sh_entsize != sizeof(Elf64_Sym) || !in_bounds(f, sym->sh_offset, sym->sh_size))
                return NULL;
        const Elf64_Shdr *strtab = section(f, sym->sh_link);
        if (!strtab || !in_bounds(f, strtab->sh_offset, strtab->sh_size))
                return NULL;
        const char *str = f->data + strtab->sh_offset;
        const Elf64_Sym *tab = (const Elf64_Sym *)(f->data + sym->sh_offset);
        size_t count = sym->sh_size / sizeof(Elf64_Sym);
        for (size_t k = 0; k < count; k++) {
                const Elf64_Sym *s = &tab[k];
                if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || s->st_shndx == SHN_UNDEF ||
                    s->st_name >= strtab->sh_size || vaddr < s->st_value ||
                    vaddr - s->st_value >= (s->st_size ? s->st_size : 1))
                        continue;
                const char *name = str + s->st_name;
                if (*name && memchr(name, '\0', strtab->sh_size - s->st_name))
                        return name;
        }
        return NULL;
}

int ap_elf_function_at_offset(const char *path, uint64_t off, char *name, size_t size) {
        elf_file f;
        if (size == 0 || elf_open(&f, path, NULL) < 0)
                return -1;
        const Elf64_Phdr *ph = (const Elf64_Phdr *)(f.data + f.ehdr->e_phoff);
        bool have_vaddr = false;
        uint64_t vaddr = 0;
        for (size_t i = 0; i < f.ehdr->e_phnum && !have_vaddr; i++)
                if (ph[i].p_type == PT_LOAD && off >= ph[i].p_offset &&
                    off - ph[i].p_offset < ph[i].p_filesz) {
                        vaddr = ph[i].p_vaddr + (off - ph[i].p_offset);
                        have_vaddr = true;
                }
        const char *found = NULL;
        for (int pass = 0; pass < 2 && have_vaddr && !found; pass++)
                for (size_t i = 0; i < f.ehdr->e_shnum && !found; i++) {
                        const Elf64_Shdr *s = section(&f, i);
                        if (s && s->sh_type == (pass == 0 ? SHT_SYMTAB : SHT_DYNSYM))
                                found = function_covering(&f, s, vaddr);
                }
        if (found)
                snprintf(name, size, "%s", found);
        elf_close(&f);
        return found ? 0 : -1;
}

void ap_elf_info_free(ap_elf_info *info) {
        if (!info)
                return;
        free(info->soname);
        info->soname = NULL;
}
