/* The stack check of every expert-callable entry point (see stack_guard.h). */
#define _GNU_SOURCE
#include "stack_guard.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

_Thread_local uintptr_t nmx__t_stack_floor __attribute__((tls_model("initial-exec")));

/* The first byte below the usable stack: inside the guard page. */
static _Thread_local volatile char *t_guard_byte __attribute__((tls_model("initial-exec")));

void nmx__stack_exhausted(void)
{
    (void)*t_guard_byte; /* SIGSEGV: PROT_NONE */
    /* Not reached while the guard page is there; if someone removed it,
     * a synchronous fault of our own is the next best thing. */
    abort();
}

int nmx__stack_guard_enter(void)
{
    pthread_attr_t attr;
    void *lo;
    size_t size, guard = 0;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return -1;
    int ok = pthread_attr_getstack(&attr, &lo, &size) == 0 &&
             pthread_attr_getguardsize(&attr, &guard) == 0 && guard > 0 &&
             size > 2 * NMX_STACK_RESERVE;
    pthread_attr_destroy(&attr);
    if (!ok)
        return -1;
    t_guard_byte = (volatile char *)lo - 1;
    nmx__t_stack_floor = (uintptr_t)lo + NMX_STACK_RESERVE;
    return 0;
}

void nmx__stack_guard_leave(void)
{
    nmx__t_stack_floor = 0;
    t_guard_byte = NULL;
}
