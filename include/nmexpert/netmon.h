/* nmexpert/netmon.h — what an expert sees.
 *
 * The one header an expert includes (SPEC T1): the Windows-style types of
 * Microsoft Network Monitor 2.x's Netmon.h on LP64 Linux, every NMERR_* code
 * and expert constant (T2), the expert structures, and the expert-side
 * functions with their original names and signatures (T4). It needs nothing
 * but the C standard headers below.
 *
 * Layout: natural alignment everywhere, which is the Win64 layout (reference
 * section 3.10: Win64 and Linux x86-64 agree); the only packed structure is
 * IPX_ADDR, as in the original. DWORD and LONG stay 32-bit (Windows `long`
 * is 32-bit even on Win64). The static assertions at the end pin every size
 * and offset of section 3.10 on x86-64 Linux.
 *
 * Values, names and member order come from the original header
 * (reference: the project's shared/reference/netmon-expert-api.md, sections 3.1-3.7).
 */
#ifndef NMEXPERT_NETMON_H
#define NMEXPERT_NETMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every public function of the library carries NMX_API: the library is built
 * with -fvisibility=hidden, so only what is marked here is exported. */
#if defined(__GNUC__) || defined(__clang__)
#define NMX_API __attribute__((visibility("default")))
#else
#define NMX_API
#endif

/* ========================================================================
 * Windows-style types (T1)
 *
 * Each is guarded by a `_NAME_DEFINED` macro, the convention of the
 * MIDL-generated Windows headers, so a second definition (this header twice,
 * or a compatibility header using the same guards) is skipped. If another header's definition has the
 * wrong width, the assertions in the last section stop the build.
 * ======================================================================== */

#ifndef WINAPI
#define WINAPI /* stdcall on 32-bit Windows; nothing on Linux */
#endif

#ifndef VOID
#define VOID void
#endif

#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif

#ifndef MAX_PATH
#define MAX_PATH 260 /* Windows' path limit; fixes the size of szDllName and szCaptureFile */
#endif

#ifndef _BYTE_DEFINED
#define _BYTE_DEFINED
typedef uint8_t BYTE;
#endif
#ifndef _WORD_DEFINED
#define _WORD_DEFINED
typedef uint16_t WORD;
#endif
#ifndef _DWORD_DEFINED
#define _DWORD_DEFINED
typedef uint32_t DWORD;
#endif
#ifndef _LONG_DEFINED
#define _LONG_DEFINED
typedef int32_t LONG;
#endif
#ifndef _ULONG_DEFINED
#define _ULONG_DEFINED
typedef uint32_t ULONG;
#endif
#ifndef _BOOL_DEFINED
#define _BOOL_DEFINED
typedef int BOOL;
#endif
#ifndef _SIZE_T_WIN_DEFINED
#define _SIZE_T_WIN_DEFINED
typedef size_t SIZE_T;
#endif
#ifndef _DWORD_PTR_DEFINED
#define _DWORD_PTR_DEFINED
typedef uintptr_t DWORD_PTR; /* an unsigned integer as wide as a pointer */
typedef DWORD_PTR *PDWORD_PTR;
#endif
#ifndef _DOUBLE_DEFINED
#define _DOUBLE_DEFINED
typedef double DOUBLE;
#endif
#ifndef _LPVOID_DEFINED
#define _LPVOID_DEFINED
typedef void *LPVOID;
#endif
#ifndef _PVOID_DEFINED
#define _PVOID_DEFINED
typedef void *PVOID;
#endif
#ifndef _LPSTR_DEFINED
#define _LPSTR_DEFINED
typedef char *LPSTR;
typedef const char *LPCSTR;
#endif
#ifndef _LPBYTE_DEFINED
#define _LPBYTE_DEFINED
typedef BYTE *LPBYTE;
#endif
#ifndef _LPWORD_DEFINED
#define _LPWORD_DEFINED
typedef WORD *LPWORD;
#endif
#ifndef _LPDWORD_DEFINED
#define _LPDWORD_DEFINED
typedef DWORD *LPDWORD;
#endif
#ifndef _HWND_DEFINED
#define _HWND_DEFINED
typedef void *HWND; /* an opaque window handle (Configure's and Run's parent window) */
#endif
#ifndef _HINSTANCE_DEFINED
#define _HINSTANCE_DEFINED
typedef void *HINSTANCE; /* an opaque module handle */
#endif

#ifndef _SYSTEMTIME_
#define _SYSTEMTIME_
typedef struct _SYSTEMTIME {
    WORD wYear;
    WORD wMonth;
    WORD wDayOfWeek;
    WORD wDay;
    WORD wHour;
    WORD wMinute;
    WORD wSecond;
    WORD wMilliseconds;
} SYSTEMTIME, *PSYSTEMTIME, *LPSYSTEMTIME;
#endif

#ifndef _LARGE_INTEGER_DEFINED
#define _LARGE_INTEGER_DEFINED
/* Windows' 64-bit integer union; LowPart first is the little-endian layout of
 * the original (x86-64 is little-endian). */
typedef union _LARGE_INTEGER {
    struct {
        DWORD LowPart;
        LONG HighPart;
    };
    struct {
        DWORD LowPart;
        LONG HighPart;
    } u;
    int64_t QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;
#endif

/* Netmon's `__int64` (FRAME.TimeStamp, GetFrameTimeStamp) is written int64_t
 * here: a typedef named __int64 would use a reserved identifier and collide
 * with compilers that make it a keyword (clang -fms-extensions). */

/* The original's UNALIGNED pointers (ULP*) only differ from plain pointers on
 * Itanium; on x86-64 they are plain pointers. */
typedef BYTE *ULPBYTE;
typedef WORD *ULPWORD;
typedef DWORD *ULPDWORD;
typedef LARGE_INTEGER *LPLARGEINT;
typedef LARGE_INTEGER *ULPLARGEINT;
typedef SYSTEMTIME *ULPSYSTEMTIME;

/* ========================================================================
 * Handles (reference 3.1)
 * ======================================================================== */

typedef LPVOID HEXPERTKEY;                   /* identifies a running expert: the key of a Run or Configure call */
typedef HEXPERTKEY *PHEXPERTKEY;
typedef LPVOID HEXPERT;                      /* a loaded expert (host side) */
typedef HEXPERT *PHEXPERT;
typedef LPVOID HRUNNINGEXPERT;               /* a running expert (host side) */
typedef HRUNNINGEXPERT *PHRUNNINGEXPERT;

typedef struct _CAPTURE *HCAPTURE;           /* an open capture */
typedef struct _CAPFRAMEDESC *HFRAME;        /* one frame of a capture */
typedef struct _FILTER *HFILTER;             /* a display filter (nmexpert: a BPF expression, SPEC C4) */
typedef struct _PROTOCOL *HPROTOCOL;         /* a protocol the host recognises */
typedef DWORD_PTR HPROPERTY;                 /* a property of a protocol */
typedef HPROTOCOL *LPHPROTOCOL;
typedef HFILTER *LPHFILTER;

/* GROUPINFO's group handle. The reference names the type without defining it;
 * an opaque pointer is its natural LP64 form. */
typedef LPVOID HGROUP;

/* ========================================================================
 * Error codes (T2; reference 3.7). Values 43, 44, 45, 52 and 68 are not
 * defined in the original either. nmx_strerror() (host.h) gives the text.
 * ======================================================================== */

#define NMERR_SUCCESS (0)
#define NMERR_MEMORY_MAPPED_FILE_ERROR (1)
#define NMERR_INVALID_HFILTER (2)
#define NMERR_CAPTURING (3)
#define NMERR_NOT_CAPTURING (4)
#define NMERR_NO_MORE_FRAMES (5)
#define NMERR_BUFFER_TOO_SMALL (6)
#define NMERR_FRAME_NOT_RECOGNIZED (7)
#define NMERR_FILE_ALREADY_EXISTS (8)
#define NMERR_DRIVER_NOT_FOUND (9)
#define NMERR_ADDRESS_ALREADY_EXISTS (10)
#define NMERR_INVALID_HFRAME (11)
#define NMERR_INVALID_HPROTOCOL (12)
#define NMERR_INVALID_HPROPERTY (13)
#define NMERR_LOCKED (14)
#define NMERR_STACK_EMPTY (15)
#define NMERR_STACK_OVERFLOW (16)
#define NMERR_TOO_MANY_PROTOCOLS (17)
#define NMERR_FILE_NOT_FOUND (18)
#define NMERR_OUT_OF_MEMORY (19)
#define NMERR_CAPTURE_PAUSED (20)
#define NMERR_NO_BUFFERS (21)
#define NMERR_BUFFERS_ALREADY_EXIST (22)
#define NMERR_NOT_LOCKED (23)
#define NMERR_OUT_OF_RANGE (24)
#define NMERR_LOCK_NESTING_TOO_DEEP (25)
#define NMERR_LOAD_PARSER_FAILED (26)
#define NMERR_UNLOAD_PARSER_FAILED (27)
#define NMERR_INVALID_HADDRESSDB (28)
#define NMERR_ADDRESS_NOT_FOUND (29)
#define NMERR_NETWORK_NOT_PRESENT (30)
#define NMERR_NO_PROPERTY_DATABASE (31)
#define NMERR_PROPERTY_NOT_FOUND (32)
#define NMERR_INVALID_HPROPERTYDB (33)
#define NMERR_PROTOCOL_NOT_ENABLED (34)
#define NMERR_PROTOCOL_NOT_FOUND (35)
#define NMERR_INVALID_PARSER_DLL (36)
#define NMERR_NO_ATTACHED_PROPERTIES (37)
#define NMERR_NO_FRAMES (38)
#define NMERR_INVALID_FILE_FORMAT (39)
#define NMERR_COULD_NOT_CREATE_TEMPFILE (40)
#define NMERR_OUT_OF_DOS_MEMORY (41)
#define NMERR_NO_PROTOCOLS_ENABLED (42)
#define NMERR_UNKNOWN_MACTYPE (46)
#define NMERR_ROUTING_INFO_NOT_PRESENT (47)
#define NMERR_INVALID_HNETWORK (48)
#define NMERR_NETWORK_ALREADY_OPENED (49)
#define NMERR_NETWORK_NOT_OPENED (50)
#define NMERR_FRAME_NOT_FOUND (51)
#define NMERR_NO_HANDLES (53)
#define NMERR_INVALID_NETWORK_ID (54)
#define NMERR_INVALID_HCAPTURE (55)
#define NMERR_PROTOCOL_ALREADY_ENABLED (56)
#define NMERR_FILTER_INVALID_EXPRESSION (57)
#define NMERR_TRANSMIT_ERROR (58)
#define NMERR_INVALID_HBUFFER (59)
#define NMERR_INVALID_DATA (60)
#define NMERR_MSDOS_DRIVER_NOT_LOADED (61)
#define NMERR_WINDOWS_DRIVER_NOT_LOADED (62)
#define NMERR_MSDOS_DRIVER_INIT_FAILURE (63)
#define NMERR_WINDOWS_DRIVER_INIT_FAILURE (64)
#define NMERR_NETWORK_BUSY (65)
#define NMERR_CAPTURE_NOT_PAUSED (66)
#define NMERR_INVALID_PACKET_LENGTH (67)
#define NMERR_INTERNAL_EXCEPTION (69)
#define NMERR_PROMISCUOUS_MODE_NOT_SUPPORTED (70)
#define NMERR_MAC_DRIVER_OPEN_FAILURE (71)
#define NMERR_RUNAWAY_PROTOCOL (72)
#define NMERR_PENDING (73)
#define NMERR_ACCESS_DENIED (74)
#define NMERR_INVALID_HPASSWORD (75)
#define NMERR_INVALID_PARAMETER (76)
#define NMERR_FILE_READ_ERROR (77)
#define NMERR_FILE_WRITE_ERROR (78)
#define NMERR_PROTOCOL_NOT_REGISTERED (79)
#define NMERR_IP_ADDRESS_NOT_FOUND (80)
#define NMERR_TRANSMIT_CANCELLED (81)
#define NMERR_LOCKED_FRAMES (82)
#define NMERR_NO_TRANSMITS_PENDING (83)
#define NMERR_PATH_NOT_FOUND (84)
#define NMERR_WINDOWS_ERROR (85)
#define NMERR_NO_FRAME_NUMBER (86)
#define NMERR_FRAME_HAS_NO_CAPTURE (87)
#define NMERR_FRAME_ALREADY_HAS_CAPTURE (88)
#define NMERR_NAL_IS_NOT_REMOTE (89)
#define NMERR_NOT_SUPPORTED (90)
#define NMERR_DISCARD_FRAME (91)
#define NMERR_CANCEL_SAVE_CAPTURE (92)
#define NMERR_LOST_CONNECTION (93)
#define NMERR_INVALID_MEDIA_TYPE (94)
#define NMERR_AGENT_IN_USE (95)
#define NMERR_TIMEOUT (96)
#define NMERR_DISCONNECTED (97)
#define NMERR_SETTIMER_FAILED (98)
#define NMERR_NETWORK_ERROR (99)
#define NMERR_INVALID_FRAMESPROC (100)
#define NMERR_UNKNOWN_CAPTURETYPE (101)
#define NMERR_NOT_CONNECTED (102)
#define NMERR_ALREADY_CONNECTED (103)
#define NMERR_INVALID_REGISTRY_CONFIGURATION (104)
#define NMERR_DELAYED (105)
#define NMERR_NOT_DELAYED (106)
#define NMERR_REALTIME (107)
#define NMERR_NOT_REALTIME (108)
#define NMERR_STATS_ONLY (109)
#define NMERR_NOT_STATS_ONLY (110)
#define NMERR_TRANSMIT (111)
#define NMERR_NOT_TRANSMIT (112)
#define NMERR_TRANSMITTING (113)
#define NMERR_DISK_NOT_LOCAL_FIXED (114)
#define NMERR_COULD_NOT_CREATE_DIRECTORY (115)
#define NMERR_NO_DEFAULT_CAPTURE_DIRECTORY (116)
#define NMERR_UPLEVEL_CAPTURE_FILE (117)
#define NMERR_LOAD_EXPERT_FAILED (118)
#define NMERR_EXPERT_REPORT_FAILED (119)
#define NMERR_REG_OPERATION_FAILED (120)
#define NMERR_NO_DLLS_FOUND (121)
#define NMERR_NO_CONVERSATION_STATS (122)
#define NMERR_SECURITY_BREACH_CAPTURE_DELETED (123)
#define NMERR_FRAME_FAILED_FILTER (124)
#define NMERR_EXPERT_TERMINATE (125)
#define NMERR_REMOTE_NOT_A_SERVER (126)
#define NMERR_REMOTE_VERSION_OUTOFSYNC (127)
#define NMERR_INVALID_EXPERT_GROUP (128)
#define NMERR_INVALID_EXPERT_NAME (129)
#define NMERR_INVALID_EXPERT_HANDLE (130)
#define NMERR_GROUP_NAME_ALREADY_EXISTS (131)
#define NMERR_INVALID_GROUP_NAME (132)
#define NMERR_EXPERT_ALREADY_IN_GROUP (133)
#define NMERR_EXPERT_NOT_IN_GROUP (134)
#define NMERR_NOT_INITIALIZED (135)
#define NMERR_INVALID_GROUP_ROOT (136)
#define NMERR_BAD_VERSION (137)
#define NMERR_ESP (138)
#define NMERR_NOT_ESP (139)
#define NMERR_BLOB_NOT_INITIALIZED (1000)
#define NMERR_INVALID_BLOB (1001)
#define NMERR_UPLEVEL_BLOB (1002)
#define NMERR_BLOB_ENTRY_ALREADY_EXISTS (1003)
#define NMERR_BLOB_ENTRY_DOES_NOT_EXIST (1004)
#define NMERR_AMBIGUOUS_SPECIFIER (1005)
#define NMERR_BLOB_OWNER_NOT_FOUND (1006)
#define NMERR_BLOB_CATEGORY_NOT_FOUND (1007)
#define NMERR_UNKNOWN_CATEGORY (1008)
#define NMERR_UNKNOWN_TAG (1009)
#define NMERR_BLOB_CONVERSION_ERROR (1010)
#define NMERR_ILLEGAL_TRIGGER (1011)
#define NMERR_BLOB_STRING_INVALID (1012)
#define NMERR_UNABLE_TO_LOAD_LIBRARY (1013)
#define NMERR_UNABLE_TO_GET_PROCADDR (1014)
#define NMERR_CLASS_NOT_REGISTERED (1015)
#define NMERR_INVALID_REMOTE_COMPUTERNAME (1016)
#define NMERR_RPC_REMOTE_FAILURE (1017)
#define NMERR_NO_NPPS (3016)
#define NMERR_NO_MATCHING_NPPS (3017)
#define NMERR_NO_NPP_SELECTED (3018)
#define NMERR_NO_INPUT_BLOBS (3019)
#define NMERR_NO_NPP_DLLS (3020)
#define NMERR_NO_VALID_NPP_DLLS (3021)

/* ========================================================================
 * Expert constants (reference 3.1-3.4, 3.6, 3.8)
 * ======================================================================== */

/* Entry points an expert exports with C linkage, looked up by name (H1). */
#define EXPERTENTRY_REGISTER "Register"
#define EXPERTENTRY_CONFIGURE "Configure"
#define EXPERTENTRY_RUN "Run"

#define EXPERTSTRINGLENGTH (260)
#define EXPERTGROUPNAMELENGTH (25)
#define INVALID_FRAME_NUMBER ((DWORD)-1) /* "a frame with no number": start of an ExpertGetFrame walk */
#define MAC_ADDRESS_SIZE (6)

/* EXPERTENUMINFO.Flags */
#define EXPERT_ENUM_FLAG_CONFIGURABLE (0x1)             /* exports Configure */
#define EXPERT_ENUM_FLAG_VIEWER_PRIVATE (0x2)           /* wants its own event viewer */
#define EXPERT_ENUM_FLAG_NO_VIEWER (0x4)                /* submits no events */
#define EXPERT_ENUM_FLAG_ADD_ME_TO_RMC_IN_SUMMARY (0x10) /* on the summary pane's context menu */
#define EXPERT_ENUM_FLAG_ADD_ME_TO_RMC_IN_DETAIL (0x20)  /* on the detail pane's context menu */

/* StartupFlags of Configure and Run: prefer the startup info over pConfig. */
#define EXPERT_STARTUP_FLAG_USE_STARTUP_DATA_OVER_CONFIG_DATA (0x1)

/* ExpertGetFrame: Direction */
#define GET_SPECIFIED_FRAME (0)
#define GET_FRAME_NEXT_FORWARD (1)
#define GET_FRAME_NEXT_BACKWARD (2)
/* ExpertGetFrame: RequestFlags (OR-able) */
#define FLAGS_DEFER_TO_UI_FILTER (0x1)
#define FLAGS_ATTACH_PROPERTIES (0x2)

/* Sub-status bits for EXPERTSTATUS_ABORTED (the SubStatus of EXPERTSTATUS). */
#define EXPERTSUBSTATUS_ABORTED_USER (0x1)
#define EXPERTSUBSTATUS_ABORTED_LOAD_FAIL (0x2)
#define EXPERTSUBSTATUS_ABORTED_THREAD_FAIL (0x4)
#define EXPERTSUBSTATUS_ABORTED_BAD_ENTRY (0x8)

/* NMEVENTDATA.Flags */
#define NMEVENTFLAG_EXPERT (0x1)
#define NMEVENTFLAG_DO_NOT_DISPLAY_SEVERITY (0x80000000)
#define NMEVENTFLAG_DO_NOT_DISPLAY_SOURCE (0x40000000)
#define NMEVENTFLAG_DO_NOT_DISPLAY_EVENT_NAME (0x20000000)
#define NMEVENTFLAG_DO_NOT_DISPLAY_DESCRIPTION (0x10000000)
#define NMEVENTFLAG_DO_NOT_DISPLAY_MACHINE (0x08000000)
#define NMEVENTFLAG_DO_NOT_DISPLAY_TIME (0x04000000)
#define NMEVENTFLAG_DO_NOT_DISPLAY_DATE (0x02000000)
#define NMEVENTFLAG_DO_NOT_DISPLAY_FIXED_COLUMNS (0xFE000000) /* the seven above */

/* NMEVENTDATA.Severity */
enum _NMEVENT_SEVERITIES {
    NMEVENT_SEVERITY_INFORMATIONAL = 0,
    NMEVENT_SEVERITY_WARNING = 1,
    NMEVENT_SEVERITY_STRONG_WARNING = 2,
    NMEVENT_SEVERITY_ERROR = 3,
    NMEVENT_SEVERITY_SEVERE_ERROR = 4,
    NMEVENT_SEVERITY_CRITICAL_ERROR = 5
};

/* PROPERTYINST.IFlags */
#define IFLAG_ERROR (0x1)
#define IFLAG_SWAPPED (0x2)
#define IFLAG_UNICODE (0x4)

/* Filter constants the sample experts use. nmexpert builds filters from
 * BPF expressions instead of Netmon's filter objects (SPEC C4); these keep
 * such sources compiling. */
#define FILTERACTION_PROPERTY (1)
#define FILTERACTION_PROPERTYEXIST (8)
#define FILTERACTION_PROTOCOLEXIST (34)
#define FILTER_NO_MORE_FRAMES (0xFFFFFFFF)
#define FILTER_CANCELED (0xFFFFFFFE)

/* What GetFrameMacType() returns. Not in the reference's tables: values from
 * the original header's MAC_TYPE_* block, added because that function needs
 * them to be usable. */
#define MAC_TYPE_UNKNOWN (0)
#define MAC_TYPE_ETHERNET (1)
#define MAC_TYPE_TOKENRING (2)
#define MAC_TYPE_FDDI (3)
#define MAC_TYPE_ATM (4)
#define MAC_TYPE_1394 (5)

/* ========================================================================
 * Frames, recognition data, properties (reference 3.5 "supporting types")
 * ======================================================================== */

typedef struct _FRAME {
    int64_t TimeStamp; /* ns since the Unix epoch (UTC); __int64 in the original */
    DWORD FrameLength; /* length on the wire */
    DWORD nBytesAvail; /* bytes captured, in MacFrame */
    BYTE MacFrame[1];  /* first of nBytesAvail bytes (the original's [1] idiom) */
} FRAME, *LPFRAME, *ULPFRAME;

typedef struct _RECOGNIZEDATA {
    WORD ProtocolID;
    WORD nProtocolOffset; /* where the protocol starts in the frame */
    LPVOID InstData;
} RECOGNIZEDATA, *LPRECOGNIZEDATA;

typedef struct _RECOGNIZEDATATABLE {
    WORD nRecognizeDatas;
    RECOGNIZEDATA RecognizeData[]; /* [0] in the original */
} RECOGNIZEDATATABLE, *LPRECOGNIZEDATATABLE;

/* Netmon's property database is not provided (SPEC C4): PROPERTYINFO and
 * PROPERTYINSTEX stay opaque; PROPERTYINST keeps every member of the original
 * so pointers to it can be handed around and walked. */
typedef struct _PROPERTYINFO PROPERTYINFO, *LPPROPERTYINFO;
typedef struct _PROPERTYINSTEX PROPERTYINSTEX, *LPPROPERTYINSTEX;

typedef struct _PROPERTYINST {
    LPPROPERTYINFO lpPropertyInfo;
    LPSTR szPropertyText; /* NULL in frames fetched with FLAGS_ATTACH_PROPERTIES */
    union {
        LPVOID lpData;
        ULPBYTE lpByte;
        ULPWORD lpWord;
        ULPDWORD lpDword;
        ULPLARGEINT lpLargeInt;
        ULPSYSTEMTIME lpSysTime;
        LPPROPERTYINSTEX lpPropertyInstEx; /* when DataLength == 0xFFFF */
    };
    WORD DataLength;
    /* `WORD Level:4; WORD HelpID:12;` in the original. A WORD bit-field is a
     * compiler extension in ISO C (gcc -pedantic rejects it); with unsigned
     * int the SysV layout is the same: both share bytes 26-27. */
    unsigned int Level : 4;
    unsigned int HelpID : 12;
    DWORD IFlags; /* IFLAG_* */
} PROPERTYINST, *LPPROPERTYINST;

typedef struct _PROPERTYINSTTABLE {
    WORD nPropertyInsts;
    WORD nPropertyInstIndex;
} PROPERTYINSTTABLE, *LPPROPERTYINSTTABLE;

typedef struct _PROPERTYTABLE {
    LPVOID lpFormatBuffer;
    DWORD FormatBufferLength;
    DWORD nTotalPropertyInsts;
    LPPROPERTYINST lpFirstPropertyInst;
    BYTE nPropertyInstTables;
    PROPERTYINSTTABLE PropertyInstTable[]; /* [0] in the original */
} PROPERTYTABLE, *LPPROPERTYTABLE;

typedef struct _PROTOCOLTABLE {
    DWORD nProtocols;
    HPROTOCOL hProtocol[1]; /* first of nProtocols (the original's [1] idiom) */
} PROTOCOLTABLE, *LPPROTOCOLTABLE;

typedef struct _OBJECT_IDENTIFIER {
    DWORD Length;
    LPDWORD lpIdentifier;
} OBJECT_IDENTIFIER, *LPOBJECT_IDENTIFIER;

/* Packed to 10 bytes, as in the original (its pack(1) block). */
typedef struct __attribute__((packed)) _IPX_ADDR {
    BYTE Subnet[4];
    BYTE Address[6];
} IPX_ADDR, *LPIPX_ADDR;

#define IPX_ADDR_SIZE (sizeof(IPX_ADDR))

/* ========================================================================
 * Expert structures (reference 3.1, 3.5)
 * ======================================================================== */

typedef struct _EXPERTENUMINFO *PEXPERTENUMINFO;
typedef struct _EXPERTCONFIG *PEXPERTCONFIG;
typedef struct _EXPERTSTARTUPINFO *PEXPERTSTARTUPINFO;

/* The entry points an expert exports (H1): Register, Configure, Run. */
typedef BOOL(WINAPI *PEXPERTREGISTERPROC)(PEXPERTENUMINFO);
typedef BOOL(WINAPI *PEXPERTCONFIGPROC)(HEXPERTKEY, PEXPERTCONFIG *, PEXPERTSTARTUPINFO, DWORD, HWND);
typedef BOOL(WINAPI *PEXPERTRUNPROC)(HEXPERTKEY, PEXPERTCONFIG, PEXPERTSTARTUPINFO, DWORD, HWND);

/* Filled by the expert's Register. The host allocates it zeroed (H1); the
 * members after Flags are the host's. */
typedef struct _EXPERTENUMINFO {
    char szName[EXPERTSTRINGLENGTH];
    char szVendor[EXPERTSTRINGLENGTH];
    char szDescription[EXPERTSTRINGLENGTH];
    DWORD Version; /* documented "must be 0"; the samples set 1 and the host accepts it */
    DWORD Flags;   /* EXPERT_ENUM_FLAG_* */
    char szDllName[MAX_PATH];          /* host-private */
    HEXPERT hExpert;                   /* host-private */
    HINSTANCE hModule;                 /* host-private */
    PEXPERTREGISTERPROC pRegisterProc; /* host-private */
    PEXPERTCONFIGPROC pConfigProc;     /* host-private */
    PEXPERTRUNPROC pRunProc;           /* host-private */
} EXPERTENUMINFO;

/* What a run is about: the capture, and the frame/protocol/property under the
 * cursor when started from a context menu. */
typedef struct _EXPERTSTARTUPINFO {
    DWORD Flags; /* no values are defined */
    HCAPTURE hCapture;
    char szCaptureFile[MAX_PATH];
    DWORD dwFrameNumber;
    HPROTOCOL hProtocol;
    LPPROPERTYINST lpPropertyInst;
    struct {
        BYTE BitNumber;
        BOOL bOn;
    } sBitfield; /* meaningful only for a flags property (PROP_QUAL_FLAGS) */
} EXPERTSTARTUPINFO;

/* An expert's configuration blob: RawConfigLength counts the whole blob,
 * itself included; the expert overlays its own structure on the rest. */
typedef struct _EXPERTCONFIG {
    DWORD RawConfigLength;
    BYTE RawConfigData[]; /* [0] in the original */
} EXPERTCONFIG;

typedef struct {
    HEXPERT hExpert;
    DWORD StartupFlags;
    PEXPERTCONFIG pConfig;
} CONFIGUREDEXPERT, *PCONFIGUREDEXPERT;

/* Filled by ExpertGetFrame (SPEC C5). */
typedef struct {
    DWORD FrameNumber; /* 0-based (C2) */
    HFRAME hFrame;
    ULPFRAME pFrame;
    LPRECOGNIZEDATATABLE lpRecognizeDataTable;
    LPPROPERTYTABLE lpPropertyTable; /* NULL in nmexpert (C4) */
} EXPERTFRAMEDESCRIPTOR, *LPEXPERTFRAMEDESCRIPTOR;

typedef enum {
    EXPERTSTATUS_INACTIVE = 0, /* never started */
    EXPERTSTATUS_STARTING = 1,
    EXPERTSTATUS_RUNNING = 2,
    EXPERTSTATUS_PROBLEM = 3,  /* stopped by a problem described by SubStatus */
    EXPERTSTATUS_ABORTED = 4,  /* stopped by the host */
    EXPERTSTATUS_DONE = 5      /* finished */
} EXPERTSTATUSENUMERATION;

typedef struct {
    EXPERTSTATUSENUMERATION Status;
    DWORD SubStatus;
    DWORD PercentDone;
    DWORD Frame;
    char szStatusText[EXPERTSTRINGLENGTH];
} EXPERTSTATUS, *PEXPERTSTATUS;

/* Documented, but absent from the expert section of the original headers. */
typedef struct {
    char szGroupName[EXPERTGROUPNAMELENGTH + 1];
    HGROUP hGroup;
} GROUPINFO, *PGROUPINFO;

/* ========================================================================
 * Events (reference 3.6). The original wraps these in pack(push, 8), which is
 * natural alignment on x86-64.
 * ======================================================================== */

typedef enum {
    NMCOLUMNTYPE_UINT8 = 0,
    NMCOLUMNTYPE_SINT8 = 1,
    NMCOLUMNTYPE_UINT16 = 2,
    NMCOLUMNTYPE_SINT16 = 3,
    NMCOLUMNTYPE_UINT32 = 4,
    NMCOLUMNTYPE_SINT32 = 5,
    NMCOLUMNTYPE_FLOAT64 = 6,
    NMCOLUMNTYPE_FRAME = 7,
    NMCOLUMNTYPE_YESNO = 8,
    NMCOLUMNTYPE_ONOFF = 9,
    NMCOLUMNTYPE_TRUEFALSE = 10,
    NMCOLUMNTYPE_MACADDR = 11,
    NMCOLUMNTYPE_IPXADDR = 12,
    NMCOLUMNTYPE_IPADDR = 13,
    NMCOLUMNTYPE_VARTIME = 14, /* an OLE date (days since 1899-12-30, fraction = time of day) */
    NMCOLUMNTYPE_STRING = 15
} NMCOLUMNTYPE;

typedef struct _NMCOLUMNVARIANT {
    NMCOLUMNTYPE Type; /* selects the member of Value */
    union {
        BYTE Uint8Val;
        signed char Sint8Val; /* `char` in the original, signed on Windows; plain char is unsigned on some Linux targets */
        WORD Uint16Val;
        int16_t Sint16Val;    /* `short` in the original */
        DWORD Uint32Val;
        LONG Sint32Val;       /* `long` in the original: 32-bit on Windows, so LONG here, not long */
        DOUBLE Float64Val;
        DWORD FrameVal;
        BOOL YesNoVal;
        BOOL OnOffVal;
        BOOL TrueFalseVal;
        BYTE MACAddrVal[MAC_ADDRESS_SIZE];
        IPX_ADDR IPXAddrVal;
        DWORD IPAddrVal;      /* network byte order as in the frame */
        DOUBLE VarTimeVal;
        LPCSTR pStringVal;    /* may be NULL */
    } Value;
} NMCOLUMNVARIANT;

typedef struct _NMCOLUMNINFO {
    LPSTR szColumnName;
    NMCOLUMNVARIANT VariantData;
} NMCOLUMNINFO, *PNMCOLUMNINFO;

typedef LPSTR JTYPE;

/* One event (SPEC T1: the header layout, not the documentation's: a leading
 * pszReserved, and pvReserved where the documentation has szUrl). Allocate
 * sizeof(NMEVENTDATA) + NumColumns * sizeof(NMCOLUMNINFO). */
typedef struct _NMEVENTDATA {
    LPSTR pszReserved;   /* NULL */
    BYTE Version;        /* 0 */
    DWORD EventIdent;    /* the expert's own event number */
    DWORD Flags;         /* NMEVENTFLAG_* */
    DWORD Severity;      /* NMEVENT_SEVERITY_* */
    BYTE NumColumns;     /* entries of Column */
    LPSTR szSourceName;
    LPSTR szEventName;
    LPSTR szDescription;
    LPSTR szMachine;     /* obsolete: NULL */
    JTYPE Justification; /* text for the second pane; NULL hides it */
    PVOID pvReserved;    /* NULL */
    SYSTEMTIME SysTime;
    NMCOLUMNINFO Column[]; /* [0] in the original */
} NMEVENTDATA, *PNMEVENTDATA;

/* ========================================================================
 * Expert memory (SPEC M1-M15)
 *
 * Every block belongs to the key it was allocated under and lives until it is
 * freed or the key is destroyed; the host destroys a Run key when Run
 * returns, and everything still held is reclaimed then (M12). All allocator
 * bookkeeping lives away from the blocks (M8): writing past a block, or
 * passing any pointer at all, cannot crash a later call or corrupt another
 * key's memory. Every function may be called from any thread with any key
 * (M10), and never aborts on a bad call: the error code is the reaction
 * (M9). pError may be NULL in every function that takes it (M3).
 * ======================================================================== */

/* Allocate nBytes under hExpertKey (M1): a new block, distinct from every
 * other live block, 16-byte aligned and zero-filled (M1, M13). nBytes == 0
 * gives a valid, distinct, freeable block of size 0 (M2).
 * On success *pError (if pError is not NULL) is set to NMERR_SUCCESS (M3).
 * On failure it returns NULL and *pError is (M4):
 *   NMERR_OUT_OF_MEMORY          the system refused memory, nBytes is larger
 *                                than the allocator can ever serve, or the
 *                                key's quota would be exceeded (M11);
 *   NMERR_EXPERT_TERMINATE       the host has told this key to stop (H4): the
 *                                expert must clean up and return at once;
 *   NMERR_INVALID_EXPERT_HANDLE  the key is NULL, was never issued, or was
 *                                destroyed. */
NMX_API LPVOID WINAPI ExpertAllocMemory(HEXPERTKEY hExpertKey, SIZE_T nBytes, DWORD *pError);

/* Resize a live block of hExpertKey to nBytes (M5); the key may be a Run or a
 * Configure key. Returns the block, which may have moved: the old pointer is
 * then invalid. Content up to min(old, new) size is kept; a grown tail is
 * zero-filled. pOriginalMemory == NULL behaves as ExpertAllocMemory.
 * nBytes == 0 resizes the block to size 0: it does not free it.
 * On success *pError (if pError is not NULL) is set to NMERR_SUCCESS (M3).
 * On any failure it returns NULL, and the original block is untouched, still
 * valid and still owned by the key. *pError is then:
 *   NMERR_OUT_OF_MEMORY          as for ExpertAllocMemory; a growth past the
 *                                key's quota (M11);
 *   NMERR_INVALID_PARAMETER      pOriginalMemory is not a live block of this
 *                                key (never allocated, freed, interior,
 *                                another key's, arbitrary);
 *   NMERR_EXPERT_TERMINATE       the key has been told to stop (H4);
 *   NMERR_INVALID_EXPERT_HANDLE  the key is NULL, never issued or destroyed.
 * A bad pointer is reported as NMERR_INVALID_PARAMETER even after terminate. */
NMX_API LPVOID WINAPI ExpertReallocMemory(HEXPERTKEY hExpertKey, LPVOID pOriginalMemory, SIZE_T nBytes,
                                          DWORD *pError);

/* Free a block (M6). Returns a Netmon code; the return type is SIZE_T as the
 * documentation gives it (SPEC T4), so `ExpertFreeMemory(k, p) ==
 * NMERR_SUCCESS` reads as with the header's DWORD prototype.
 *   NMERR_SUCCESS                a live block of this key was released, or
 *                                pOriginalMemory was NULL (a no-op, even
 *                                after terminate);
 *   NMERR_EXPERT_TERMINATE       the key has been told to stop (H4): a live
 *                                block IS released all the same, so an
 *                                expert's cleanup path still works;
 *   NMERR_INVALID_PARAMETER      anything else: never allocated, already
 *                                freed, an interior pointer, another key's
 *                                block, an arbitrary or unmapped address;
 *                                nothing changes;
 *   NMERR_INVALID_EXPERT_HANDLE  bad key; nothing changes.
 * After NMERR_SUCCESS (or TERMINATE) the block must not be touched again. */
NMX_API SIZE_T WINAPI ExpertFreeMemory(HEXPERTKEY hExpertKey, LPVOID pOriginalMemory);

/* The requested size of a live block of this key, exactly; after a resize,
 * the new size (M7). For anything else (NULL, a freed, interior, foreign or
 * other key's pointer, a bad key) it returns 0, which a size-0 block also
 * returns. Works after terminate. */
NMX_API SIZE_T WINAPI ExpertMemorySize(HEXPERTKEY hExpertKey, LPVOID pOriginalMemory);

/* ========================================================================
 * Status, events, startup info, frames (SPEC H2-H9, C2-C5)
 *
 * Implemented by the host runtime (src/host, src/capture). Each returns a
 * Netmon code; NMERR_EXPERT_TERMINATE (H4) means the host wants the expert to
 * stop: clean up, free, and return from Run at once. A key that is not a
 * live key gives NMERR_INVALID_EXPERT_HANDLE.
 * ======================================================================== */

/* Report progress (H7): Status, SubStatus, szText (NULL allowed; cut to 259
 * bytes) and PercentDone (clamped to 0..99; the host sets 100 when the run is
 * done). Visible to the host while the run goes on.
 * Returns NMERR_SUCCESS; NMERR_INVALID_PARAMETER if szText cannot be read (a
 * wild or unmapped pointer, no NUL before unreadable memory): nothing is
 * recorded; NMERR_EXPERT_TERMINATE after terminate (H4). */
NMX_API DWORD WINAPI ExpertIndicateStatus(HEXPERTKEY hExpertKey, EXPERTSTATUSENUMERATION Status,
                                          DWORD SubStatus, const char *szText, LONG PercentDone);

/* Submit one event (H8). The host validates it (non-NULL and readable,
 * NumColumns within bounds, known column types; NULL strings allowed) and
 * deep-copies it with every string it points to during the call, reading
 * each byte once: the expert may reuse or free its buffers as soon as the
 * call returns. A string longer than 65535 bytes is cut there.
 * Returns NMERR_SUCCESS; NMERR_INVALID_PARAMETER (invalid event, or the event
 * or one of its strings cannot be read: nothing is recorded);
 * NMERR_OUT_OF_MEMORY (the run already holds 1,000,000 events or 256 MiB of
 * them); NMERR_EXPERT_TERMINATE (H4). */
NMX_API DWORD WINAPI ExpertSubmitEvent(HEXPERTKEY hExpertKey, PNMEVENTDATA pExpertEvent);

/* Copy the run's startup information into *pExpertStartupInfo (H9).
 * Returns NMERR_SUCCESS, or NMERR_INVALID_PARAMETER if it is NULL or cannot
 * be written (read-only, unmapped, too short). */
NMX_API DWORD WINAPI ExpertGetStartupInfo(HEXPERTKEY hExpertKey, PEXPERTSTARTUPINFO pExpertStartupInfo);

/* Fetch a frame of the run's capture into the caller's descriptor (C2-C5).
 * hFilter must be one of this run's own filters (nmx_ExpertCreateFilter).
 * Direction: GET_SPECIFIED_FRAME returns frame RequestedFrameNumber;
 * GET_FRAME_NEXT_FORWARD / _BACKWARD return the nearest frame strictly after /
 * before it that passes hFilter (NULL: no filter); NEXT_FORWARD from
 * INVALID_FRAME_NUMBER returns the first. Frame numbers start at 0.
 * RequestFlags: FLAGS_DEFER_TO_UI_FILTER, FLAGS_ATTACH_PROPERTIES (accepted;
 * lpPropertyTable stays NULL, C4). What the descriptor points to stays valid
 * until the run ends (C5).
 * Returns NMERR_SUCCESS; NMERR_NO_MORE_FRAMES past the last (or before the
 * first) frame; NMERR_FRAME_NOT_FOUND for a specified frame that does not
 * exist; NMERR_FRAME_FAILED_FILTER for one that fails the filter (C3);
 * NMERR_INVALID_PARAMETER (a NULL or unwritable descriptor, unknown Direction);
 * NMERR_INVALID_HFILTER (not a live filter of this run);
 * NMERR_MEMORY_MAPPED_FILE_ERROR (the frame's input file was cut short while
 * open, C6: the capture's error names it);
 * NMERR_EXPERT_TERMINATE (H4). */
NMX_API DWORD WINAPI ExpertGetFrame(HEXPERTKEY hExpertKey, DWORD Direction, DWORD RequestFlags,
                                    DWORD RequestedFrameNumber, HFILTER hFilter,
                                    LPEXPERTFRAMEDESCRIPTOR pEFrameDescriptor);

/* ------------------------------------------------------------------------
 * Capture and frame helpers the sample experts call (reference 2.3).
 * Provided by the host runtime. Each reads a capture or frame the host handed
 * out (EXPERTSTARTUPINFO.hCapture, EXPERTFRAMEDESCRIPTOR.hFrame); a NULL,
 * forged or stale handle gives 0 (NULL for the pointer results,
 * MAC_TYPE_UNKNOWN for GetFrameMacType, INVALID_FRAME_NUMBER for
 * GetFrameNumber, since 0 is a frame number).
 * ------------------------------------------------------------------------ */

/* Number of frames in the capture. */
NMX_API DWORD WINAPI GetCaptureTotalFrames(HCAPTURE hCapture);
/* The capture a frame belongs to. */
NMX_API HCAPTURE WINAPI GetFrameCaptureHandle(HFRAME hFrame);
/* The frame's length on the wire (FRAME.FrameLength). */
NMX_API DWORD WINAPI GetFrameLength(HFRAME hFrame);
/* The number of bytes captured (FRAME.nBytesAvail). */
NMX_API DWORD WINAPI GetFrameStoredLength(HFRAME hFrame);
/* The frame's time stamp (FRAME.TimeStamp): nanoseconds since the Unix
 * epoch (UTC), as libpcap reads it; `__int64` in the original. */
NMX_API int64_t WINAPI GetFrameTimeStamp(HFRAME hFrame);
/* The frame's link type as a MAC_TYPE_* value. */
NMX_API DWORD WINAPI GetFrameMacType(HFRAME hFrame);
/* The frame's number, 0-based (C2); INVALID_FRAME_NUMBER for a bad handle. */
NMX_API DWORD WINAPI GetFrameNumber(HFRAME hFrame);
/* The frame's FRAME record: the capture's, or for a frame read in place from a
 * mapped pcap/pcapng file a copy in a buffer of the calling thread, valid
 * until its next call (the one ExpertGetFrame filled when it holds that frame). */
NMX_API ULPFRAME WINAPI GetFrameFromFrameHandle(HFRAME hFrame);

/* ========================================================================
 * Layout checks (T1). Widths hold everywhere; sizes and offsets are the
 * "Win64 / Linux x86-64" column of reference section 3.10.
 * ======================================================================== */

#ifdef __cplusplus
#define NMX_STATIC_ASSERT(c, m) static_assert(c, m)
#else
#define NMX_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif

NMX_STATIC_ASSERT(sizeof(BYTE) == 1 && sizeof(WORD) == 2 && sizeof(DWORD) == 4, "BYTE/WORD/DWORD widths");
NMX_STATIC_ASSERT(sizeof(LONG) == 4 && sizeof(ULONG) == 4, "LONG/ULONG must be 32-bit, as on Windows");
NMX_STATIC_ASSERT(sizeof(BOOL) == sizeof(int), "BOOL is int");
NMX_STATIC_ASSERT(sizeof(DWORD_PTR) == sizeof(void *), "DWORD_PTR is pointer-wide");
NMX_STATIC_ASSERT(sizeof(SYSTEMTIME) == 16, "SYSTEMTIME is 8 WORDs");
NMX_STATIC_ASSERT(sizeof(IPX_ADDR) == 10, "IPX_ADDR is packed");
NMX_STATIC_ASSERT(sizeof(NMCOLUMNTYPE) == 4 && sizeof(EXPERTSTATUSENUMERATION) == 4, "enums are 4 bytes");

#if defined(__x86_64__) && defined(__linux__)
NMX_STATIC_ASSERT(sizeof(EXPERTENUMINFO) == 1088, "EXPERTENUMINFO size");
NMX_STATIC_ASSERT(offsetof(EXPERTENUMINFO, Version) == 780, "EXPERTENUMINFO.Version");
NMX_STATIC_ASSERT(offsetof(EXPERTENUMINFO, Flags) == 784, "EXPERTENUMINFO.Flags");
NMX_STATIC_ASSERT(offsetof(EXPERTENUMINFO, szDllName) == 788, "EXPERTENUMINFO.szDllName");
NMX_STATIC_ASSERT(offsetof(EXPERTENUMINFO, hExpert) == 1048, "EXPERTENUMINFO.hExpert");
NMX_STATIC_ASSERT(offsetof(EXPERTENUMINFO, hModule) == 1056, "EXPERTENUMINFO.hModule");
NMX_STATIC_ASSERT(offsetof(EXPERTENUMINFO, pRegisterProc) == 1064, "EXPERTENUMINFO.pRegisterProc");
NMX_STATIC_ASSERT(offsetof(EXPERTENUMINFO, pRunProc) == 1080, "EXPERTENUMINFO.pRunProc");

NMX_STATIC_ASSERT(sizeof(EXPERTSTARTUPINFO) == 304, "EXPERTSTARTUPINFO size");
NMX_STATIC_ASSERT(offsetof(EXPERTSTARTUPINFO, hCapture) == 8, "EXPERTSTARTUPINFO.hCapture");
NMX_STATIC_ASSERT(offsetof(EXPERTSTARTUPINFO, szCaptureFile) == 16, "EXPERTSTARTUPINFO.szCaptureFile");
NMX_STATIC_ASSERT(offsetof(EXPERTSTARTUPINFO, dwFrameNumber) == 276, "EXPERTSTARTUPINFO.dwFrameNumber");
NMX_STATIC_ASSERT(offsetof(EXPERTSTARTUPINFO, hProtocol) == 280, "EXPERTSTARTUPINFO.hProtocol");
NMX_STATIC_ASSERT(offsetof(EXPERTSTARTUPINFO, lpPropertyInst) == 288, "EXPERTSTARTUPINFO.lpPropertyInst");
NMX_STATIC_ASSERT(offsetof(EXPERTSTARTUPINFO, sBitfield) == 296, "EXPERTSTARTUPINFO.sBitfield");

NMX_STATIC_ASSERT(sizeof(EXPERTCONFIG) == 4, "EXPERTCONFIG header size");
NMX_STATIC_ASSERT(sizeof(CONFIGUREDEXPERT) == 24, "CONFIGUREDEXPERT size");
NMX_STATIC_ASSERT(sizeof(EXPERTFRAMEDESCRIPTOR) == 40, "EXPERTFRAMEDESCRIPTOR size");

NMX_STATIC_ASSERT(sizeof(EXPERTSTATUS) == 276, "EXPERTSTATUS size");
NMX_STATIC_ASSERT(offsetof(EXPERTSTATUS, szStatusText) == 16, "EXPERTSTATUS.szStatusText");

NMX_STATIC_ASSERT(sizeof(FRAME) == 24, "FRAME size");
NMX_STATIC_ASSERT(offsetof(FRAME, FrameLength) == 8, "FRAME.FrameLength");
NMX_STATIC_ASSERT(offsetof(FRAME, MacFrame) == 16, "FRAME.MacFrame");

NMX_STATIC_ASSERT(sizeof(NMCOLUMNVARIANT) == 24, "NMCOLUMNVARIANT size");
NMX_STATIC_ASSERT(offsetof(NMCOLUMNVARIANT, Value) == 8, "NMCOLUMNVARIANT.Value");
NMX_STATIC_ASSERT(sizeof(NMCOLUMNINFO) == 32, "NMCOLUMNINFO size");
NMX_STATIC_ASSERT(offsetof(NMCOLUMNINFO, VariantData) == 8, "NMCOLUMNINFO.VariantData");

NMX_STATIC_ASSERT(sizeof(NMEVENTDATA) == 96, "NMEVENTDATA header size");
NMX_STATIC_ASSERT(offsetof(NMEVENTDATA, Column) == 96, "NMEVENTDATA.Column");
NMX_STATIC_ASSERT(offsetof(NMEVENTDATA, Version) == 8, "NMEVENTDATA.Version");
NMX_STATIC_ASSERT(offsetof(NMEVENTDATA, EventIdent) == 12, "NMEVENTDATA.EventIdent");
NMX_STATIC_ASSERT(offsetof(NMEVENTDATA, Flags) == 16, "NMEVENTDATA.Flags");
NMX_STATIC_ASSERT(offsetof(NMEVENTDATA, Severity) == 20, "NMEVENTDATA.Severity");
NMX_STATIC_ASSERT(offsetof(NMEVENTDATA, NumColumns) == 24, "NMEVENTDATA.NumColumns");
NMX_STATIC_ASSERT(offsetof(NMEVENTDATA, szSourceName) == 32, "NMEVENTDATA.szSourceName");
NMX_STATIC_ASSERT(offsetof(NMEVENTDATA, Justification) == 64, "NMEVENTDATA.Justification");
NMX_STATIC_ASSERT(offsetof(NMEVENTDATA, pvReserved) == 72, "NMEVENTDATA.pvReserved");
NMX_STATIC_ASSERT(offsetof(NMEVENTDATA, SysTime) == 80, "NMEVENTDATA.SysTime");

/* Not in 3.10: PROPERTYINST's bit-fields (see above) must leave IFlags where
 * the original's WORD bit-fields do. */
NMX_STATIC_ASSERT(offsetof(PROPERTYINST, IFlags) == 28 && sizeof(PROPERTYINST) == 32, "PROPERTYINST layout");
#endif

#undef NMX_STATIC_ASSERT

/* ==========================================================================
 * nmexpert extensions: not in Network Monitor. Network Monitor's experts
 * built display filters from property objects (CreateFilter,
 * FilterAddObject), which need its parser database; nmexpert has none (C4).
 * An expert filters with a tcpdump/BPF expression instead.
 * ========================================================================== */

/* Protocol ids in RECOGNIZEDATA.ProtocolID and nmx_layer.proto. Stable:
 * never renumbered, new ones get new numbers (docs/RECOGNITION.md has the
 * whole list with Wireshark's name for each).
 *
 * A frame's table lists its layers outer first, as Wireshark's
 * frame.protocols does; each layer's offset is where its header starts in
 * the frame. Only layers with at least one captured byte are listed.
 * nProtocolOffset is a WORD: a layer starting beyond byte 65535 of a frame
 * (only possible with jumbo frames and long IPv6 extension chains) ends the
 * table; nmx_decode's uint32 offsets still list it.
 *
 * Flows in tunnels: the layers of the carried frame or datagram follow the
 * tunnel's as ordinary layers (IPV4 > GRE > ETHERNET > IPV4 > TCP ...), so
 * an expert that analyses flows takes the LAST (innermost) IPV4/IPV6 layer
 * and the TCP/UDP/ICMP layer after it. IP-in-IP, 6in4 and 4in6 are simply a
 * second IPV4/IPV6 layer. An ICMP error's quoted datagram is not decoded
 * (it is PAYLOAD): it is not a flow of the frame. */

/* Link, network and transport layers. */
#define NMX_PROTO_ETHERNET 1 /* the 14-byte header (also inside VXLAN, GRE, ERSPAN, Geneve) */
#define NMX_PROTO_VLAN 2     /* 802.1Q, 802.1ad and 0x9100 tags, one layer per tag: the 4-byte tag
                                after the type field that announced it (TCI, then the next type) */
#define NMX_PROTO_SLL 3      /* Linux cooked capture v1 */
#define NMX_PROTO_SLL2 4     /* Linux cooked capture v2 */
#define NMX_PROTO_NULL 5     /* BSD loopback, DLT_NULL (either byte order) and DLT_LOOP: the 4-byte family */
#define NMX_PROTO_ARP 6      /* ARP and RARP */
#define NMX_PROTO_IPV4 7     /* the IPv4 header; raw-IP link types have no link layer: it starts at 0 */
#define NMX_PROTO_IPV6 8     /* the fixed header; extension headers are part of this layer. A header
                                announced as IPv6 whose version is not 6 is not IPv6 (Wireshark
                                agrees): its bytes are PAYLOAD */
#define NMX_PROTO_TCP 9
#define NMX_PROTO_UDP 10
#define NMX_PROTO_ICMP 11
#define NMX_PROTO_ICMPV6 12
#define NMX_PROTO_PAYLOAD 13 /* the first byte after the deepest header, when no protocol below
                                claims it: a transport's payload (only when the IP lengths say there
                                is one, so Ethernet padding is not payload) that carries no
                                recognised message, a segment in the middle of a TCP message, or
                                whatever follows a header whose content is not decoded (ESP, a
                                non-first fragment, LCP ...) */

/* Encapsulations and the remaining link layers (issue 11 item 2). */
#define NMX_PROTO_MPLS 14      /* one layer per label stack entry (4 bytes each) */
#define NMX_PROTO_PPPOE 15     /* PPPoE session (its 6-byte header, then PPP) and discovery */
#define NMX_PROTO_PPP 16       /* PPP: its address/control bytes if present, then the protocol field */
#define NMX_PROTO_GRE 17       /* the GRE header (versions 0 and 1) */
#define NMX_PROTO_ERSPAN 18    /* ERSPAN type II and III headers; type I has none: the layer then
                                  starts where its Ethernet frame does */
#define NMX_PROTO_VXLAN 19     /* UDP port 4789: the 8-byte header, then Ethernet */
#define NMX_PROTO_GENEVE 20    /* UDP port 6081: the header with its options */
#define NMX_PROTO_GTPU 21      /* GTP-U (user plane, UDP 2152): the GTPv1 header; a T-PDU's
                                  datagram follows */
#define NMX_PROTO_TEREDO 22    /* UDP port 3544: the optional authentication and origin
                                  indication headers (the layer starts where IPv6 does without them) */
#define NMX_PROTO_IEEE80211 23 /* the 802.11 MAC header (also in Aruba's GRE) */
#define NMX_PROTO_RADIOTAP 24  /* the radiotap header, at 0 */
#define NMX_PROTO_CHDLC 25     /* Cisco HDLC, at 0 */
#define NMX_PROTO_LLC 26       /* 802.2 LLC (and SNAP) */
#define NMX_PROTO_STP 27       /* the BPDU (after LLC; Cisco PVST+ after SNAP) */
#define NMX_PROTO_LLDP 28      /* the LLDPDU (Ethertype 0x88cc) */
#define NMX_PROTO_CDP 29       /* the CDP message (after SNAP, or Cisco HDLC / GRE type 0x2000) */
#define NMX_PROTO_VRRP 30      /* the VRRP message (IP protocol 112) */

/* Application protocols (issue 11 item 1): listed on the frames that
 * CARRY them as Wireshark 4.0's frame.protocols lists them, which is not
 * every frame of their flow. UDP protocols: every datagram. TCP protocols
 * read segment by segment (FTP, FTP data, SSH, SMTP, POP, IMAP): every
 * segment with payload. TCP protocols whose messages span segments (TLS,
 * HTTP, NBSS, TPKT, LDAP, Kerberos, BGP, DNS over TCP): the segment in which
 * a message ends (TLS also the one in which a record starts); the segments
 * in between carry only PAYLOAD. Retransmitted and out-of-order segments,
 * and bare ACKs, carry none. The layers are those of the first message
 * that ends in the frame; they start at that message's first byte when it
 * starts in the frame, else (its header is in an earlier frame of the flow)
 * all at the first byte of the TCP payload. The layer replaces PAYLOAD.
 * Which protocol a conversation carries: the ports and payload checks
 * Wireshark uses (docs/RECOGNITION.md). */
#define NMX_PROTO_DNS 40       /* UDP or TCP 53 (over TCP: its 2-byte length first), and DNS-looking
                                  UDP datagrams on any port (Wireshark's heuristic) */
#define NMX_PROTO_MDNS 41      /* multicast DNS, UDP 5353 */
#define NMX_PROTO_LLMNR 42     /* UDP 5355 */
#define NMX_PROTO_NBNS 43      /* NetBIOS name service, UDP 137 */
#define NMX_PROTO_DHCP 44      /* BOOTP and DHCP, UDP 67/68: the BOOTP header */
#define NMX_PROTO_DHCPV6 45    /* UDP 546/547 */
#define NMX_PROTO_NTP 46       /* UDP 123 */
#define NMX_PROTO_SNMP 47      /* UDP 161/162 starting with a BER SEQUENCE */
#define NMX_PROTO_SYSLOG 48    /* UDP 514 */
#define NMX_PROTO_SIP 49       /* UDP/TCP 5060, and SIP start lines on any UDP port: the start line */
#define NMX_PROTO_RTP 50       /* UDP to or from a port an SDP body announced for media */
#define NMX_PROTO_QUIC 51      /* UDP 443, and conversations that begin with a QUIC long header */
#define NMX_PROTO_HTTP 52      /* HTTP/1.x: the request/response line; after a 101 upgrade, every
                                  segment (WebSocket: every frame's end) */
#define NMX_PROTO_TLS 53       /* the TLS (or SSLv2) record header; also after STARTTLS */
#define NMX_PROTO_SSH 54       /* TCP 22: each segment's payload */
#define NMX_PROTO_SMB 55       /* SMB1: the 0xff 'SMB' header (after NBSS or NBDGM) */
#define NMX_PROTO_SMB2 56      /* SMB2/3: the 0xfe 'SMB' (or 0xfd transform) header, after NBSS */
#define NMX_PROTO_FTP 57       /* the control connection, TCP 21 */
#define NMX_PROTO_SMTP 58      /* TCP 25, 587 */
#define NMX_PROTO_POP 59       /* TCP 110 */
#define NMX_PROTO_IMAP 60      /* TCP 143 */
#define NMX_PROTO_LDAP 61      /* TCP 389 (and 3268): the BER LDAPMessage */
#define NMX_PROTO_KERBEROS 62  /* UDP/TCP 88 (TCP: its 4-byte record mark first; UDP: an APPLICATION
                                  tag, or version 4) */
#define NMX_PROTO_RDP 63       /* the RDP negotiation in an X.224 connection request/confirm */
#define NMX_PROTO_BGP 64       /* the BGP message (its 16-byte marker), TCP 179 */
#define NMX_PROTO_NBSS 65      /* NetBIOS session service (TCP 139, 445): the 4-byte header before SMB */
#define NMX_PROTO_NBDGM 66     /* NetBIOS datagram service (UDP 138) */
#define NMX_PROTO_TPKT 67      /* TPKT (RFC 1006, TCP 3389/102): its 4-byte header */
#define NMX_PROTO_COTP 68      /* X.224 / COTP, inside TPKT */
#define NMX_PROTO_FTP_DATA 69  /* TCP port 20, or the port a 227/229 reply (PASV, EPSV) announced */
#define NMX_PROTO_SDP 70       /* the SDP body of a SIP message */
#define NMX_PROTO_RTCP 71      /* RTCP on the port after an SDP-announced RTP port */
#define NMX_PROTO_GTPC 72      /* GTP control plane (UDP 2123): listed, not decoded */
/* 73 and above: further protocols, added as they are recognised. */

/* Compile a tcpdump/BPF expression (at most 4096 bytes) for the run's
 * capture (C4), for use as the hFilter of ExpertGetFrame. The filter belongs
 * to the run: no other run can use or destroy it, and it is destroyed at the
 * end of the run. On failure *phFilter is NULL and, if szError is not NULL,
 * the reason (libpcap's message) is copied there, cut to ErrorLength and
 * NUL-terminated (on success szError receives "").
 * Returns NMERR_SUCCESS, NMERR_FILTER_INVALID_EXPRESSION (refused by libpcap,
 * or longer than 4096 bytes), NMERR_INVALID_PARAMETER (szExpression or
 * phFilter NULL or unreadable/unwritable, or szError unwritable),
 * NMERR_OUT_OF_MEMORY, NMERR_EXPERT_TERMINATE, NMERR_INVALID_EXPERT_HANDLE. */
NMX_API DWORD WINAPI nmx_ExpertCreateFilter(HEXPERTKEY hExpertKey, const char *szExpression,
                                            HFILTER *phFilter, char *szError, DWORD ErrorLength);

/* Destroy a filter made by nmx_ExpertCreateFilter in this run.
 * Returns NMERR_SUCCESS (NULL: a no-op), NMERR_INVALID_HFILTER (not a live
 * filter of this run), NMERR_INVALID_EXPERT_HANDLE. Works after terminate. */
NMX_API DWORD WINAPI nmx_ExpertDestroyFilter(HEXPERTKEY hExpertKey, HFILTER hFilter);

#ifdef __cplusplus
}
#endif

#endif /* NMEXPERT_NETMON_H */
