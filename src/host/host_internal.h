/* Internal interface of the host runtime (src/host). */
#ifndef NMX_HOST_INTERNAL_H
#define NMX_HOST_INTERNAL_H

#include <nmexpert/host.h>

#include <stddef.h>

/* ---- fault.c: the trap for synchronous fatal signals on expert threads (H5) ---- */

typedef struct nmx_fault {
    int signo;  /* 0 when the call returned */
    void *addr; /* si_addr */
} nmx_fault;

/* An alternate signal stack for the calling thread, so that a stack overflow
 * can still be caught. Call once at the start of an expert thread and
 * nmx__trap_thread_leave(ss) before it ends. */
typedef struct nmx_altstack {
    void *mem;
    size_t size;
} nmx_altstack;
int nmx__trap_thread_enter(nmx_altstack *ss);
void nmx__trap_thread_leave(nmx_altstack *ss);

/* Runs fn(arg) on the calling thread. If a synchronous SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL or SIGABRT is raised on this thread meanwhile, unwinds back
 * here and returns the signal (*f filled); else returns 0. Signals on other
 * threads reach the handlers installed before ours. */
int nmx__trap_call(void (*fn)(void *), void *arg, nmx_fault *f);

/* Installs the trap's handler (once; every later call is cheap). */
void nmx__trap_install(void);

/* Runs fn(arg) under the trap on a new thread (with its own alternate stack)
 * and waits for it. For expert code the host calls from its own thread:
 * Register and Configure. After a fault, what that thread held of `key`
 * (may be NULL) is released. Returns as nmx__trap_call; -1 if no thread. */
int nmx__trap_call_on_thread(void (*fn)(void *), void *arg, HEXPERTKEY key, nmx_fault *f);

/* ---- module.c ---- */

/* Was ex loaded with process isolation (nmx_expert_load_with)? Then no code
 * of it runs in the host: its runs and Configure go to workers. */
int nmx__expert_isolated(const nmx_expert *ex);
/* Does ex export Configure (whichever way it was loaded)? */
int nmx__expert_configurable(const nmx_expert *ex);

/* ---- usermem.c: expert-supplied memory, copied without faulting ---- */

#include <setjmp.h>

/* The recovery point of the copy in progress on this thread (fault.c jumps
 * there on SIGSEGV/SIGBUS), or NULL. */
extern _Thread_local sigjmp_buf *nmx__t_probe __attribute__((tls_model("initial-exec")));

/* Copy n bytes from expert memory into host memory, or from host memory into
 * expert memory. 0 on success; -1 if src/dst is NULL or any byte could not be
 * read / written (unmapped, read-only): the bytes before may have been
 * copied. Never holds a lock; call them with none held. */
int nmx__user_read(void *dst, const void *src, size_t n);
int nmx__user_write(void *dst, const void *src, size_t n);

/* Copy a NUL-terminated expert string into dst (cap bytes, always
 * NUL-terminated on return). Returns its length (at most cap - 1), with *more
 * set if the string went on beyond that (it is then cut); -1 if src is NULL
 * or unreadable (dst is then ""). Each byte is read once. */
long nmx__user_read_str(char *dst, const char *src, size_t cap, int *more);

#endif
