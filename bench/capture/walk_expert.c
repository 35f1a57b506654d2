/* walk_expert: the expert of the capture benchmark (nmx-bench-capture).
 *
 * Walks every frame of its capture with the samples' idiom,
 *   ExpertGetFrame(key, GET_FRAME_NEXT_FORWARD, 0, number, NULL, &desc)
 * from INVALID_FRAME_NUMBER until the call fails, and reads of each frame
 * what a real expert would: pFrame->FrameLength, the RECOGNIZEDATA entries
 * (the offsets of the IPv4 and TCP layers are summed) and one byte of the
 * frame (the TCP flags byte when it was captured, else the first byte).
 * Everything goes into a checksum, submitted in one event with the frame
 * count and the time the loop itself took, so that nothing is optimised away
 * and the driver can check the walk saw every frame as stored.
 *
 * Built like the test experts: a MODULE against nmexpert/netmon.h, not linked
 * to libnmexpert; its Expert* symbols resolve from the host process. The
 * checksum's arithmetic is repeated in nmx-bench-capture.c (expected_sum):
 * change both together.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#include <nmexpert/netmon.h>

#include <string.h>
#include <time.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "walk_expert");
    strcpy(info->szVendor, "nmexpert bench");
    strcpy(info->szDescription, "Walks every frame with ExpertGetFrame (capture benchmark)");
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
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    uint64_t sum = 0;
    DWORD frames = 0, number = INVALID_FRAME_NUMBER, rc;
    EXPERTFRAMEDESCRIPTOR desc;
    while ((rc = ExpertGetFrame(key, GET_FRAME_NEXT_FORWARD, 0, number, NULL, &desc)) ==
           NMERR_SUCCESS) {
        number = desc.FrameNumber;
        frames++;
        const FRAME *f = desc.pFrame;
        sum += f->FrameLength;
        DWORD tcp = 0;
        const RECOGNIZEDATATABLE *t = desc.lpRecognizeDataTable;
        if (t) {
            for (WORD i = 0; i < t->nRecognizeDatas; i++) {
                WORD id = t->RecognizeData[i].ProtocolID, off = t->RecognizeData[i].nProtocolOffset;
                if (id == NMX_PROTO_IPV4)
                    sum += off;
                else if (id == NMX_PROTO_TCP) {
                    sum += (uint64_t)off << 8;
                    tcp = off + 13u;
                }
            }
        }
        if (tcp && tcp < f->nBytesAvail)
            sum += (uint64_t)f->MacFrame[tcp] << 16;
        else if (f->nBytesAvail)
            sum += f->MacFrame[0];
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc != NMERR_NO_MORE_FRAMES)
        return FALSE; /* terminated, or something is wrong: no event */

    DWORD err;
    PNMEVENTDATA ev = ExpertAllocMemory(key, sizeof(NMEVENTDATA) + 4 * sizeof(NMCOLUMNINFO), &err);
    if (!ev)
        return FALSE;
    ev->EventIdent = 1;
    ev->NumColumns = 4;
    ev->szSourceName = "walk_expert";
    ev->szEventName = "Walk";
    ev->szDescription = "frames walked, checksum, seconds in the loop";
    ev->Column[0].szColumnName = "Frames";
    ev->Column[0].VariantData.Type = NMCOLUMNTYPE_UINT32;
    ev->Column[0].VariantData.Value.Uint32Val = frames;
    ev->Column[1].szColumnName = "SumLow";
    ev->Column[1].VariantData.Type = NMCOLUMNTYPE_UINT32;
    ev->Column[1].VariantData.Value.Uint32Val = (DWORD)sum;
    ev->Column[2].szColumnName = "SumHigh";
    ev->Column[2].VariantData.Type = NMCOLUMNTYPE_UINT32;
    ev->Column[2].VariantData.Value.Uint32Val = (DWORD)(sum >> 32);
    ev->Column[3].szColumnName = "LoopSeconds";
    ev->Column[3].VariantData.Type = NMCOLUMNTYPE_FLOAT64;
    ev->Column[3].VariantData.Value.Float64Val =
        (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    BOOL ok = ExpertSubmitEvent(key, ev) == NMERR_SUCCESS;
    ExpertFreeMemory(key, ev);
    return ok;
}
