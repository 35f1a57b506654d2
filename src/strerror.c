/* nmx_strerror: text for a Netmon error code (host.h).
 *
 * One table, sorted by code, each entry built from the NMERR_* macro itself:
 * the code is the macro's value and the name is its spelling, so neither can
 * drift from netmon.h. Meanings paraphrase the original header's comments
 * (reference table 3.7).
 */
#include <nmexpert/host.h>

#include <stddef.h>

typedef struct nmerr_text {
    DWORD code;
    const char *text;
} nmerr_text;

#define E(name, meaning) {name, #name ": " meaning}

static const nmerr_text table[] = {
    E(NMERR_SUCCESS, "success"),
    E(NMERR_MEMORY_MAPPED_FILE_ERROR, "memory-mapped file creation failed"),
    E(NMERR_INVALID_HFILTER, "invalid filter handle"),
    E(NMERR_CAPTURING, "capture already started"),
    E(NMERR_NOT_CAPTURING, "capture not started"),
    E(NMERR_NO_MORE_FRAMES, "no more frames available"),
    E(NMERR_BUFFER_TOO_SMALL, "buffer too small"),
    E(NMERR_FRAME_NOT_RECOGNIZED, "no protocol recognised the frame"),
    E(NMERR_FILE_ALREADY_EXISTS, "file already exists"),
    E(NMERR_DRIVER_NOT_FOUND, "driver missing or not loaded"),
    E(NMERR_ADDRESS_ALREADY_EXISTS, "address already in the database"),
    E(NMERR_INVALID_HFRAME, "invalid frame handle"),
    E(NMERR_INVALID_HPROTOCOL, "invalid protocol handle"),
    E(NMERR_INVALID_HPROPERTY, "invalid property handle"),
    E(NMERR_LOCKED, "object locked"),
    E(NMERR_STACK_EMPTY, "pop on an empty stack"),
    E(NMERR_STACK_OVERFLOW, "push on a full stack"),
    E(NMERR_TOO_MANY_PROTOCOLS, "too many protocols active"),
    E(NMERR_FILE_NOT_FOUND, "file not found"),
    E(NMERR_OUT_OF_MEMORY, "no memory available"),
    E(NMERR_CAPTURE_PAUSED, "capture already paused"),
    E(NMERR_NO_BUFFERS, "no buffers"),
    E(NMERR_BUFFERS_ALREADY_EXIST, "buffers already exist"),
    E(NMERR_NOT_LOCKED, "object not locked"),
    E(NMERR_OUT_OF_RANGE, "integer value out of range"),
    E(NMERR_LOCK_NESTING_TOO_DEEP, "object locked too many times"),
    E(NMERR_LOAD_PARSER_FAILED, "parser failed to load"),
    E(NMERR_UNLOAD_PARSER_FAILED, "parser failed to unload"),
    E(NMERR_INVALID_HADDRESSDB, "invalid address database handle"),
    E(NMERR_ADDRESS_NOT_FOUND, "MAC address not in the database"),
    E(NMERR_NETWORK_NOT_PRESENT, "network software missing"),
    E(NMERR_NO_PROPERTY_DATABASE, "protocol has no property database"),
    E(NMERR_PROPERTY_NOT_FOUND, "property not in the database"),
    E(NMERR_INVALID_HPROPERTYDB, "invalid property database handle"),
    E(NMERR_PROTOCOL_NOT_ENABLED, "protocol not enabled"),
    E(NMERR_PROTOCOL_NOT_FOUND, "protocol DLL not found"),
    E(NMERR_INVALID_PARSER_DLL, "parser DLL invalid"),
    E(NMERR_NO_ATTACHED_PROPERTIES, "no properties attached"),
    E(NMERR_NO_FRAMES, "no frames in the buffer"),
    E(NMERR_INVALID_FILE_FORMAT, "invalid capture file format"),
    E(NMERR_COULD_NOT_CREATE_TEMPFILE, "could not create a temporary file"),
    E(NMERR_OUT_OF_DOS_MEMORY, "not enough MS-DOS memory"),
    E(NMERR_NO_PROTOCOLS_ENABLED, "no protocols enabled"),
    E(NMERR_UNKNOWN_MACTYPE, "MAC type invalid or unsupported"),
    E(NMERR_ROUTING_INFO_NOT_PRESENT, "no routing information in the MAC frame"),
    E(NMERR_INVALID_HNETWORK, "invalid network handle"),
    E(NMERR_NETWORK_ALREADY_OPENED, "network already open"),
    E(NMERR_NETWORK_NOT_OPENED, "network not open"),
    E(NMERR_FRAME_NOT_FOUND, "frame not found"),
    E(NMERR_NO_HANDLES, "no handles available"),
    E(NMERR_INVALID_NETWORK_ID, "invalid network id"),
    E(NMERR_INVALID_HCAPTURE, "invalid capture handle"),
    E(NMERR_PROTOCOL_ALREADY_ENABLED, "protocol already enabled"),
    E(NMERR_FILTER_INVALID_EXPRESSION, "invalid filter expression"),
    E(NMERR_TRANSMIT_ERROR, "transmit error"),
    E(NMERR_INVALID_HBUFFER, "invalid buffer handle"),
    E(NMERR_INVALID_DATA, "data unknown or invalid"),
    E(NMERR_MSDOS_DRIVER_NOT_LOADED, "MS-DOS/NDIS 2 driver not loaded"),
    E(NMERR_WINDOWS_DRIVER_NOT_LOADED, "VxD/NDIS 3 driver not loaded"),
    E(NMERR_MSDOS_DRIVER_INIT_FAILURE, "MS-DOS driver failed to initialise"),
    E(NMERR_WINDOWS_DRIVER_INIT_FAILURE, "Windows driver failed to initialise"),
    E(NMERR_NETWORK_BUSY, "driver busy"),
    E(NMERR_CAPTURE_NOT_PAUSED, "capture not paused"),
    E(NMERR_INVALID_PACKET_LENGTH, "invalid frame length"),
    E(NMERR_INTERNAL_EXCEPTION, "internal exception"),
    E(NMERR_PROMISCUOUS_MODE_NOT_SUPPORTED, "promiscuous mode not supported"),
    E(NMERR_MAC_DRIVER_OPEN_FAILURE, "MAC driver failed to open"),
    E(NMERR_RUNAWAY_PROTOCOL, "protocol ran past the end of the frame"),
    E(NMERR_PENDING, "asynchronous operation pending"),
    E(NMERR_ACCESS_DENIED, "access denied"),
    E(NMERR_INVALID_HPASSWORD, "invalid password handle"),
    E(NMERR_INVALID_PARAMETER, "invalid parameter"),
    E(NMERR_FILE_READ_ERROR, "file read error"),
    E(NMERR_FILE_WRITE_ERROR, "file write error"),
    E(NMERR_PROTOCOL_NOT_REGISTERED, "protocol not registered"),
    E(NMERR_IP_ADDRESS_NOT_FOUND, "frame has no IP address"),
    E(NMERR_TRANSMIT_CANCELLED, "transmit cancelled"),
    E(NMERR_LOCKED_FRAMES, "capture has locked frames"),
    E(NMERR_NO_TRANSMITS_PENDING, "cancel with no transmit pending"),
    E(NMERR_PATH_NOT_FOUND, "path not found"),
    E(NMERR_WINDOWS_ERROR, "Windows error"),
    E(NMERR_NO_FRAME_NUMBER, "frame handle has no frame number"),
    E(NMERR_FRAME_HAS_NO_CAPTURE, "frame belongs to no capture"),
    E(NMERR_FRAME_ALREADY_HAS_CAPTURE, "frame already belongs to a capture"),
    E(NMERR_NAL_IS_NOT_REMOTE, "NAL not remotable"),
    E(NMERR_NOT_SUPPORTED, "not supported"),
    E(NMERR_DISCARD_FRAME, "discard the frame (filtered save)"),
    E(NMERR_CANCEL_SAVE_CAPTURE, "cancel the save (filtered save)"),
    E(NMERR_LOST_CONNECTION, "remote connection lost"),
    E(NMERR_INVALID_MEDIA_TYPE, "invalid media or MAC type"),
    E(NMERR_AGENT_IN_USE, "remote agent in use"),
    E(NMERR_TIMEOUT, "timed out"),
    E(NMERR_DISCONNECTED, "remote agent disconnected"),
    E(NMERR_SETTIMER_FAILED, "timer creation failed"),
    E(NMERR_NETWORK_ERROR, "network error"),
    E(NMERR_INVALID_FRAMESPROC, "invalid frame callback"),
    E(NMERR_UNKNOWN_CAPTURETYPE, "unknown capture type"),
    E(NMERR_NOT_CONNECTED, "NPP not connected"),
    E(NMERR_ALREADY_CONNECTED, "NPP already connected"),
    E(NMERR_INVALID_REGISTRY_CONFIGURATION, "unknown registry configuration"),
    E(NMERR_DELAYED, "NPP in delayed mode"),
    E(NMERR_NOT_DELAYED, "NPP not in delayed mode"),
    E(NMERR_REALTIME, "NPP in real-time mode"),
    E(NMERR_NOT_REALTIME, "NPP not in real-time mode"),
    E(NMERR_STATS_ONLY, "NPP in statistics-only mode"),
    E(NMERR_NOT_STATS_ONLY, "NPP not in statistics-only mode"),
    E(NMERR_TRANSMIT, "NPP in transmit mode"),
    E(NMERR_NOT_TRANSMIT, "NPP not in transmit mode"),
    E(NMERR_TRANSMITTING, "NPP transmitting"),
    E(NMERR_DISK_NOT_LOCAL_FIXED, "capture disk not a local fixed disk"),
    E(NMERR_COULD_NOT_CREATE_DIRECTORY, "could not create the capture directory"),
    E(NMERR_NO_DEFAULT_CAPTURE_DIRECTORY, "no default capture directory configured"),
    E(NMERR_UPLEVEL_CAPTURE_FILE, "capture file from a newer version"),
    E(NMERR_LOAD_EXPERT_FAILED, "an expert failed to load"),
    E(NMERR_EXPERT_REPORT_FAILED, "an expert failed to report its information"),
    E(NMERR_REG_OPERATION_FAILED, "registry operation failed"),
    E(NMERR_NO_DLLS_FOUND, "no DLLs found"),
    E(NMERR_NO_CONVERSATION_STATS, "conversation statistics not requested"),
    E(NMERR_SECURITY_BREACH_CAPTURE_DELETED, "security monitor response received; capture deleted"),
    E(NMERR_FRAME_FAILED_FILTER, "frame failed the filter"),
    E(NMERR_EXPERT_TERMINATE, "the host wants the expert to stop"),
    E(NMERR_REMOTE_NOT_A_SERVER, "remote machine must be a server"),
    E(NMERR_REMOTE_VERSION_OUTOFSYNC, "remote version mismatch"),
    E(NMERR_INVALID_EXPERT_GROUP, "invalid expert group handle"),
    E(NMERR_INVALID_EXPERT_NAME, "expert name not found"),
    E(NMERR_INVALID_EXPERT_HANDLE, "invalid expert handle"),
    E(NMERR_GROUP_NAME_ALREADY_EXISTS, "group name already exists"),
    E(NMERR_INVALID_GROUP_NAME, "invalid group name"),
    E(NMERR_EXPERT_ALREADY_IN_GROUP, "expert already in the group"),
    E(NMERR_EXPERT_NOT_IN_GROUP, "expert not in the group"),
    E(NMERR_NOT_INITIALIZED, "object not initialised"),
    E(NMERR_INVALID_GROUP_ROOT, "operation not allowed on the root group"),
    E(NMERR_BAD_VERSION, "driver structure version mismatch"),
    E(NMERR_ESP, "NPP in ESP mode"),
    E(NMERR_NOT_ESP, "NPP not in ESP mode"),
    E(NMERR_BLOB_NOT_INITIALIZED, "blob not initialised"),
    E(NMERR_INVALID_BLOB, "invalid blob"),
    E(NMERR_UPLEVEL_BLOB, "blob from a newer version"),
    E(NMERR_BLOB_ENTRY_ALREADY_EXISTS, "blob entry already exists"),
    E(NMERR_BLOB_ENTRY_DOES_NOT_EXIST, "blob entry does not exist"),
    E(NMERR_AMBIGUOUS_SPECIFIER, "ambiguous blob specifier"),
    E(NMERR_BLOB_OWNER_NOT_FOUND, "blob owner not found"),
    E(NMERR_BLOB_CATEGORY_NOT_FOUND, "blob category not found"),
    E(NMERR_UNKNOWN_CATEGORY, "unknown blob category"),
    E(NMERR_UNKNOWN_TAG, "unknown blob tag"),
    E(NMERR_BLOB_CONVERSION_ERROR, "blob conversion error"),
    E(NMERR_ILLEGAL_TRIGGER, "illegal trigger"),
    E(NMERR_BLOB_STRING_INVALID, "invalid blob string"),
    E(NMERR_UNABLE_TO_LOAD_LIBRARY, "unable to load a library"),
    E(NMERR_UNABLE_TO_GET_PROCADDR, "unable to resolve a library function"),
    E(NMERR_CLASS_NOT_REGISTERED, "class not registered"),
    E(NMERR_INVALID_REMOTE_COMPUTERNAME, "invalid remote computer name"),
    E(NMERR_RPC_REMOTE_FAILURE, "remote procedure call failed"),
    E(NMERR_NO_NPPS, "no NPPs available"),
    E(NMERR_NO_MATCHING_NPPS, "no matching NPPs"),
    E(NMERR_NO_NPP_SELECTED, "no NPP selected"),
    E(NMERR_NO_INPUT_BLOBS, "no input blobs"),
    E(NMERR_NO_NPP_DLLS, "no NPP DLLs"),
    E(NMERR_NO_VALID_NPP_DLLS, "no valid NPP DLLs"),
};

#undef E

const char *nmx_strerror(DWORD code)
{
    /* Binary search: the table is in ascending code order (the tests check
     * every code round-trips, which fails if the order is broken). */
    size_t lo = 0, hi = sizeof table / sizeof table[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (table[mid].code == code)
            return table[mid].text;
        if (table[mid].code < code)
            lo = mid + 1;
        else
            hi = mid;
    }
    return "unknown error";
}
