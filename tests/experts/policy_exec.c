/* policy_exec: runs another program (H11: no exec in a worker).
 *
 * It holds one 4 KiB block, then calls execve("/bin/true"). Under the
 * worker's policy the call never happens: the run ends as failed, its status
 * text naming "execve". Without a policy the process would be replaced.
 */
#include <nmexpert/netmon.h>

#include <string.h>
#include <unistd.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "policy_exec");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Executes /bin/true");
    info->Version = 1;
    return TRUE;
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO startup, DWORD flags,
                HWND parent)
{
    (void)config;
    (void)startup;
    (void)flags;
    (void)parent;
    DWORD err;
    if (!ExpertAllocMemory(key, 4096, &err))
        return FALSE;
    char *argv[] = {"/bin/true", NULL}, *envp[] = {NULL};
    execve(argv[0], argv, envp);
    return FALSE;
}
