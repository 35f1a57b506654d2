/* policy_socket: opens a network socket (H11: no sockets in a worker).
 *
 * It holds one 4 KiB block, reports a status, then calls socket(). Under the
 * worker's policy the call never happens: the run ends as failed, its status
 * text naming "socket", with the block in its ledger. If the call ever
 * returned (no policy), the expert says so in an event and returns TRUE.
 */
#include <nmexpert/netmon.h>

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "policy_socket");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Opens a socket");
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
    ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, "policy_socket: connecting", 10);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    NMEVENTDATA ev;
    memset(&ev, 0, sizeof ev);
    ev.szSourceName = "policy_socket";
    ev.szEventName = fd >= 0 ? "socket opened" : "socket refused";
    ExpertSubmitEvent(key, &ev);
    if (fd >= 0)
        close(fd);
    return TRUE;
}
