/* nmexpert memory demo: two "experts" take memory through their keys, one
 * leaks and misbehaves on purpose, and the host reclaims everything on
 * destroy and prints the leak ledger.
 *
 *   build/examples/nmx-demo
 */
#include <nmexpert/host.h>
#include <nmexpert/netmon.h>

#include <stdio.h>
#include <string.h>

static void on_bad_call(nmx_bad_kind kind, HEXPERTKEY key, const void *ptr, void *ctx)
{
    (void)ctx;
    char name[64] = "?";
    nmx_key_name(key, name, sizeof name);
    printf("  [hook] invalid call on %s: %s (%p)\n", name, nmx_bad_kind_name(kind), ptr);
}

static void ledger(const char *who, const nmx_mem_stats *s)
{
    printf("%-10s allocs %llu  reallocs %llu  frees %llu  peak %llu B  "
           "reclaimed %llu blocks / %llu B  invalid calls %llu\n",
           who, (unsigned long long)s->allocs, (unsigned long long)s->reallocs,
           (unsigned long long)s->frees, (unsigned long long)s->peak_bytes,
           (unsigned long long)s->live_blocks, (unsigned long long)s->live_bytes,
           (unsigned long long)(s->bad_double_free + s->bad_foreign +
                                s->bad_wrong_owner + s->bad_interior));
}

int main(void)
{
    nmx_set_bad_call_hook(on_bad_call, NULL);
    HEXPERTKEY tidy, leaky;
    nmx_key_options o1 = {0, "tidy"}, o2 = {1 << 20, "leaky"};
    if (nmx_key_create(&o1, &tidy) || nmx_key_create(&o2, &leaky)) {
        fprintf(stderr, "cannot create keys\n");
        return 1;
    }

    /* A tidy expert: a table it grows, then frees. */
    DWORD err;
    unsigned *table = ExpertAllocMemory(tidy, 16 * sizeof *table, &err);
    for (unsigned n = 32; table && n <= 4096; n *= 2)
        table = ExpertReallocMemory(tidy, table, n * sizeof *table, &err);
    printf("tidy: table of %zu bytes, last entry %u (zero-filled)\n",
           (size_t)ExpertMemorySize(tidy, table), table ? table[4095] : 0);
    ExpertFreeMemory(tidy, table);

    /* A leaky expert: 1000 events it never frees, one double free, a pointer
     * of the other key, a stack address, and more than its 1 MiB quota. */
    void *last = NULL;
    for (int i = 0; i < 1000; i++)
        last = ExpertAllocMemory(leaky, 96 + (size_t)i, &err);
    ExpertFreeMemory(leaky, last);
    DWORD rc = (DWORD)ExpertFreeMemory(leaky, last);
    printf("leaky: second free of a block -> %s\n", nmx_strerror(rc));
    void *theirs = ExpertAllocMemory(tidy, 64, &err);
    rc = (DWORD)ExpertFreeMemory(leaky, theirs);
    printf("leaky: free of tidy's block -> %s\n", nmx_strerror(rc));
    rc = (DWORD)ExpertFreeMemory(leaky, &rc);
    printf("leaky: free of a stack address -> %s\n", nmx_strerror(rc));
    void *big = ExpertAllocMemory(leaky, 2 << 20, &err);
    printf("leaky: 2 MiB over a 1 MiB quota -> %p, %s\n", big, nmx_strerror(err));
    ExpertFreeMemory(tidy, theirs);

    /* The host terminates the leaky expert, then reclaims both keys. */
    nmx_key_terminate(leaky);
    ExpertAllocMemory(leaky, 8, &err);
    printf("leaky after terminate: alloc -> %s\n\n", nmx_strerror(err));

    nmx_mem_stats s;
    nmx_key_destroy(tidy, &s);
    ledger("tidy", &s);
    nmx_key_destroy(leaky, &s);
    ledger("leaky", &s);
    printf("\nafter destroy, the stale key is refused:\n");
    ExpertAllocMemory(leaky, 8, &err);
    printf("alloc -> %s\n", nmx_strerror(err));
    return 0;
}
