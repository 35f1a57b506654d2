/* What a new address space costs on this machine (docs/PERFORMANCE.md,
 * "Isolated runs"): the floor under a run in a worker process, whatever the
 * worker does. Medians of interleaved repetitions:
 *
 *   - fork, _exit and waitpid of this small program;
 *   - the first write to each page of a fresh anonymous mapping (a fault);
 *   - the first read of each page of a mapping whose page-table entries
 *     are there already (MAP_POPULATE): no fault, but on a machine whose
 *     hypervisor shadows the guest's page tables, still a cost;
 *   - the first and second read of each page of a cached file (FILE, by
 *     default the capture benchmark's), plain and MAP_POPULATE'd.
 *
 *   nmx-bench-pages [FILE]
 *
 * Never a test: nothing here is registered with ctest.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

#define SYNTH_PATH "/tmp/nmx-bench-capture-1M.pcap" /* nmx-bench-capture's */
#define REPEAT 101
#define PAGES 2048

/* Seconds to read one byte of each page of [p, p + len). */
static double read_pages(const volatile unsigned char *p, size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned sum = 0;
    double t0 = now();
    for (size_t i = 0; i < len; i += page)
        sum += p[i];
    double t = now() - t0;
    return sum == 1 ? t + 1e-12 : t; /* keeps the reads */
}

static double fork_exit_wait(void)
{
    double t0 = now();
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    if (pid < 0 || waitpid(pid, NULL, 0) != pid)
        return -1;
    return now() - t0;
}

/* Per page: a first write to fresh memory (flags 0), or a first read of
 * memory mapped with MAP_POPULATE. */
static double anon_pages(int flags)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), len = PAGES * page;
    unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
    if (m == MAP_FAILED)
        return -1;
    double t;
    if (flags) {
        t = read_pages(m, len);
    } else {
        double t0 = now();
        for (size_t i = 0; i < len; i += page)
            m[i] = 1;
        t = now() - t0;
    }
    munmap(m, len);
    return t / PAGES;
}

static void file_pages(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        printf("(no %s: run nmx-bench-capture first for the file figures)\n", path);
        if (fd >= 0)
            close(fd);
        return;
    }
    size_t len = (size_t)st.st_size < ((size_t)256 << 20) ? (size_t)st.st_size : (size_t)256 << 20;
    size_t pages = len / (size_t)sysconf(_SC_PAGESIZE);
    for (int populate = 0; populate < 2; populate++) {
        double t0 = now();
        const unsigned char *m = mmap(NULL, len, PROT_READ,
                                      MAP_SHARED | (populate ? MAP_POPULATE : 0), fd, 0);
        double tmap = now() - t0;
        if (m == MAP_FAILED)
            break;
        double first = read_pages(m, len), second = read_pages(m, len);
        printf("%zu pages of a cached file%s: %.1f ms to map, first read %.1f ms (%.2f us a "
               "page), second %.1f ms\n",
               pages, populate ? ", MAP_POPULATE" : "", tmap * 1e3, first * 1e3,
               first / (double)pages * 1e6, second * 1e3);
        munmap((void *)m, len);
    }
    close(fd);
}

int main(int argc, char **argv)
{
    double fk[REPEAT], zf[REPEAT], pop[REPEAT];
    for (int i = 0; i < REPEAT; i++) {
        fk[i] = fork_exit_wait();
        zf[i] = anon_pages(0);
        pop[i] = anon_pages(MAP_POPULATE);
        if (fk[i] < 0 || zf[i] < 0 || pop[i] < 0) {
            perror("nmx-bench-pages");
            return 1;
        }
    }
    printf("fork, _exit, waitpid:                      %8.3f ms\n", median(fk, REPEAT) * 1e3);
    printf("first write to a fresh page (fault):       %8.2f us\n", median(zf, REPEAT) * 1e6);
    printf("first read of a populated page (no fault): %8.2f us\n", median(pop, REPEAT) * 1e6);
    file_pages(argc > 1 ? argv[1] : SYNTH_PATH);
    return 0;
}
