/* The stack check at the entry of every function an expert can call (H5).
 *
 * An expert that recurses until its stack is nearly gone and then calls into
 * the host would otherwise overflow inside the host function, possibly while
 * it holds a lock (the key's, the segment cache's, the filter compiler's):
 * the trap would unwind the thread and leave the lock held for ever. So each
 * entry point first checks that NMX_STACK_RESERVE bytes of stack remain,
 * which is more than any host function needs (none recurses; the deepest,
 * libpcap's compiler, is fed expressions of bounded length). If they do not,
 * the check faults on purpose, before anything is taken: it reads the
 * thread's guard page, a genuine synchronous SIGSEGV that the trap turns into
 * the end of the run, exactly as if the expert had overflowed in its own
 * code.
 *
 * The floor is set only on threads whose stack and guard page the host knows
 * (expert threads, through nmx__stack_guard_enter); on every other thread it
 * is 0 and the check never fires. Cost: one TLS load, a compare and a branch.
 */
#ifndef NMX_STACK_GUARD_H
#define NMX_STACK_GUARD_H

#include <stdint.h>

#define NMX_STACK_RESERVE ((uintptr_t)64 * 1024)

/* Lowest stack address + NMX_STACK_RESERVE on guarded threads, else 0. */
extern _Thread_local uintptr_t nmx__t_stack_floor __attribute__((tls_model("initial-exec")));

/* Faults (SIGSEGV on the guard page) and does not return. */
__attribute__((noreturn, cold)) void nmx__stack_exhausted(void);

/* The stack pointer itself on x86-64: __builtin_frame_address(0) would make
 * every checked function set up a frame pointer (three instructions on the
 * heap's fast paths); it is never below the stack pointer, so this check is
 * the stricter one. */
static inline __attribute__((always_inline)) uintptr_t nmx__stack_here(void)
{
#if defined(__x86_64__)
    uintptr_t sp;
    __asm__ volatile("mov %%rsp, %0" : "=r"(sp));
    return sp;
#else
    return (uintptr_t)__builtin_frame_address(0);
#endif
}

static inline __attribute__((always_inline)) void nmx__stack_check(void)
{
    if (__builtin_expect(nmx__stack_here() < nmx__t_stack_floor, 0))
        nmx__stack_exhausted();
}

/* Learn the calling thread's stack bounds (pthread_getattr_np) and arm the
 * check; returns 0, or -1 if the bounds are unknown or the thread has no
 * guard page (the check then stays off). Disarm before the thread ends. */
int nmx__stack_guard_enter(void);
void nmx__stack_guard_leave(void);

#endif
