/* Types, constants, layouts and signatures of nmexpert/netmon.h (SPEC T1, T2,
 * T4), and nmx_strerror.
 *
 * netmon.h is included first, before any other header, so this file only
 * compiles if netmon.h needs nothing else (T1). Signatures are checked at
 * compile time: a mismatch is a build failure (-Werror), not a failed CHECK.
 */
#include <nmexpert/netmon.h>

#ifdef NMEXPERT_HOST_H
#error "netmon.h must not pull in host.h: an expert never needs it (T3)"
#endif

#include <nmexpert/netmon.h> /* a second time: the guards hold (T1) */

#include <nmexpert/host.h>

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "check.h"

/* 1 when expression e has exactly type T (C11 _Generic; e is not evaluated). */
#define IS_TYPE(e, T) _Generic((e), T: 1, default: 0)

/* ------------------------------------------------------------------------
 * T4: the host-runtime functions are not linked into this program yet, so
 * their signatures are pinned by redeclaring them: a redeclaration with a
 * different type is a compile error, and a declaration references nothing.
 * ------------------------------------------------------------------------ */
DWORD WINAPI ExpertIndicateStatus(HEXPERTKEY hExpertKey, EXPERTSTATUSENUMERATION Status, DWORD SubStatus,
                                  const char *szText, LONG PercentDone);
DWORD WINAPI ExpertSubmitEvent(HEXPERTKEY hExpertKey, PNMEVENTDATA pExpertEvent);
DWORD WINAPI ExpertGetStartupInfo(HEXPERTKEY hExpertKey, PEXPERTSTARTUPINFO pExpertStartupInfo);
DWORD WINAPI ExpertGetFrame(HEXPERTKEY hExpertKey, DWORD Direction, DWORD RequestFlags,
                            DWORD RequestedFrameNumber, HFILTER hFilter,
                            LPEXPERTFRAMEDESCRIPTOR pEFrameDescriptor);
DWORD WINAPI GetCaptureTotalFrames(HCAPTURE hCapture);
HCAPTURE WINAPI GetFrameCaptureHandle(HFRAME hFrame);
DWORD WINAPI GetFrameLength(HFRAME hFrame);
DWORD WINAPI GetFrameStoredLength(HFRAME hFrame);
int64_t WINAPI GetFrameTimeStamp(HFRAME hFrame);
DWORD WINAPI GetFrameMacType(HFRAME hFrame);
DWORD WINAPI GetFrameNumber(HFRAME hFrame);
ULPFRAME WINAPI GetFrameFromFrameHandle(HFRAME hFrame);

/* ======================================================================== */
/* T1: Windows-style types                                                   */
/* ======================================================================== */

/* T1 */
TEST(test_t1_dword_is_32_bits_unsigned)
{
    CHECK(IS_TYPE((DWORD)0, uint32_t));
    CHECK_EQ(sizeof(DWORD), 4);
    CHECK((DWORD)-1 > 0);
    CHECK(IS_TYPE((ULONG)0, uint32_t));
}

/* T1: Windows `long` is 32-bit even on Win64; LP64 `long` is not. */
TEST(test_t1_long_is_32_bits_signed)
{
    CHECK(IS_TYPE((LONG)0, int32_t));
    CHECK_EQ(sizeof(LONG), 4);
    CHECK((LONG)-1 < 0);
}

/* T1 */
TEST(test_t1_word_is_16_bits_and_byte_8_bits_unsigned)
{
    CHECK(IS_TYPE((WORD)0, uint16_t));
    CHECK(IS_TYPE((BYTE)0, uint8_t));
    CHECK((WORD)-1 > 0);
    CHECK((BYTE)-1 > 0);
}

/* T1 */
TEST(test_t1_bool_is_int_with_true_and_false)
{
    CHECK(IS_TYPE((BOOL)0, int));
    CHECK_EQ(TRUE, 1);
    CHECK_EQ(FALSE, 0);
}

/* T1 */
TEST(test_t1_size_and_pointer_types)
{
    CHECK(IS_TYPE((SIZE_T)0, size_t));
    CHECK(IS_TYPE((DWORD_PTR)0, uintptr_t));
    CHECK(IS_TYPE((DOUBLE)0, double));
    CHECK(IS_TYPE((LPVOID)0, void *));
    CHECK(IS_TYPE((PVOID)0, void *));
    CHECK(IS_TYPE((HEXPERTKEY)0, void *));
    CHECK(IS_TYPE((HEXPERT)0, void *));
    CHECK(IS_TYPE((HRUNNINGEXPERT)0, void *));
    CHECK(IS_TYPE((LPSTR)0, char *));
    CHECK(IS_TYPE((LPCSTR)0, const char *));
    CHECK(IS_TYPE((HWND)0, void *));
    CHECK(IS_TYPE((HINSTANCE)0, void *));
    CHECK(IS_TYPE((JTYPE)0, char *));
}

/* T1, reference 3.1: the opaque handles. */
TEST(test_t1_handles_are_opaque_struct_pointers)
{
    CHECK(IS_TYPE((HCAPTURE)0, struct _CAPTURE *));
    CHECK(IS_TYPE((HFRAME)0, struct _CAPFRAMEDESC *));
    CHECK(IS_TYPE((HFILTER)0, struct _FILTER *));
    CHECK(IS_TYPE((HPROTOCOL)0, struct _PROTOCOL *));
    CHECK(IS_TYPE((HPROPERTY)0, uintptr_t));
    CHECK(IS_TYPE((PHEXPERTKEY)0, void **));
    CHECK(IS_TYPE((LPFRAME)0, FRAME *));
    CHECK(IS_TYPE((ULPFRAME)0, FRAME *));
    CHECK(IS_TYPE((PNMEVENTDATA)0, NMEVENTDATA *));
    CHECK(IS_TYPE((LPEXPERTFRAMEDESCRIPTOR)0, EXPERTFRAMEDESCRIPTOR *));
}

/* T1: WINAPI is a calling convention on 32-bit Windows and nothing here. */
#define STR_(x) #x
#define STR(x) STR_(x)
TEST(test_t1_winapi_expands_to_nothing)
{
    CHECK_EQ(sizeof(STR(WINAPI)), 1); /* "" */
    CHECK_EQ(strlen(STR(WINAPI)), 0);
}

/* T1 */
TEST(test_t1_systemtime_is_eight_words)
{
    CHECK_EQ(sizeof(SYSTEMTIME), 16);
    CHECK_EQ(offsetof(SYSTEMTIME, wYear), 0);
    CHECK_EQ(offsetof(SYSTEMTIME, wMonth), 2);
    CHECK_EQ(offsetof(SYSTEMTIME, wDayOfWeek), 4);
    CHECK_EQ(offsetof(SYSTEMTIME, wDay), 6);
    CHECK_EQ(offsetof(SYSTEMTIME, wHour), 8);
    CHECK_EQ(offsetof(SYSTEMTIME, wMinute), 10);
    CHECK_EQ(offsetof(SYSTEMTIME, wSecond), 12);
    CHECK_EQ(offsetof(SYSTEMTIME, wMilliseconds), 14);
}

/* T1: FRAME's time stamp is the original's __int64. */
TEST(test_t1_frame_timestamp_is_signed_64_bits)
{
    FRAME f;
    memset(&f, 0, sizeof f);
    CHECK(IS_TYPE(f.TimeStamp, int64_t));
    CHECK(IS_TYPE(f.FrameLength, DWORD));
    CHECK(IS_TYPE(f.nBytesAvail, DWORD));
}

/* T1: the column variant keeps the original's value widths; Sint32Val is
 * Windows `long` (32-bit) and Sint8Val is signed. */
TEST(test_t1_column_variant_value_widths)
{
    NMCOLUMNVARIANT v;
    memset(&v, 0, sizeof v);
    CHECK_EQ(sizeof v.Value.Uint8Val, 1);
    CHECK_EQ(sizeof v.Value.Sint8Val, 1);
    CHECK_EQ(sizeof v.Value.Uint16Val, 2);
    CHECK_EQ(sizeof v.Value.Sint16Val, 2);
    CHECK_EQ(sizeof v.Value.Uint32Val, 4);
    CHECK_EQ(sizeof v.Value.Sint32Val, 4);
    CHECK_EQ(sizeof v.Value.Float64Val, 8);
    CHECK_EQ(sizeof v.Value.MACAddrVal, MAC_ADDRESS_SIZE);
    CHECK_EQ(sizeof v.Value.IPXAddrVal, 10);
    CHECK_EQ(sizeof v.Value.pStringVal, sizeof(void *));
    v.Value.Sint8Val = -1;
    CHECK(v.Value.Sint8Val < 0);
    v.Value.Sint32Val = -1;
    CHECK(v.Value.Sint32Val < 0);
    CHECK_EQ(sizeof(NMCOLUMNTYPE), 4);
    CHECK_EQ(sizeof(EXPERTSTATUSENUMERATION), 4);
}

/* ======================================================================== */
/* T1: structure layouts (reference 3.10, "Win64 / Linux x86-64" column)     */
/* ======================================================================== */

/* T1: IPX_ADDR is packed to 10 bytes (the original's pack(1) block). */
TEST(test_t1_ipx_addr_is_packed_10_bytes)
{
    CHECK_EQ(sizeof(IPX_ADDR), 10);
    CHECK_EQ(IPX_ADDR_SIZE, 10);
    CHECK_EQ(alignof(IPX_ADDR), 1);
    CHECK_EQ(offsetof(IPX_ADDR, Address), 4);
}

/* The numbers hold for natural alignment on LP64 Linux (x86-64 is the
 * reference's target; other LP64 Linux ABIs lay these out the same way). */
#if defined(__LP64__) && defined(__linux__)
#define NMX_LP64_LINUX 1

/* T1 */
TEST(test_t1_expertenuminfo_layout)
{
    CHECK_EQ(sizeof(EXPERTENUMINFO), 1088);
    CHECK_EQ(offsetof(EXPERTENUMINFO, szName), 0);
    CHECK_EQ(offsetof(EXPERTENUMINFO, szVendor), 260);
    CHECK_EQ(offsetof(EXPERTENUMINFO, szDescription), 520);
    CHECK_EQ(offsetof(EXPERTENUMINFO, Version), 780);
    CHECK_EQ(offsetof(EXPERTENUMINFO, Flags), 784);
    CHECK_EQ(offsetof(EXPERTENUMINFO, szDllName), 788);
    CHECK_EQ(offsetof(EXPERTENUMINFO, hExpert), 1048);
    CHECK_EQ(offsetof(EXPERTENUMINFO, hModule), 1056);
    CHECK_EQ(offsetof(EXPERTENUMINFO, pRegisterProc), 1064);
    CHECK_EQ(offsetof(EXPERTENUMINFO, pConfigProc), 1072);
    CHECK_EQ(offsetof(EXPERTENUMINFO, pRunProc), 1080);
}

/* T1 */
TEST(test_t1_expertstartupinfo_layout)
{
    CHECK_EQ(sizeof(EXPERTSTARTUPINFO), 304);
    CHECK_EQ(offsetof(EXPERTSTARTUPINFO, Flags), 0);
    CHECK_EQ(offsetof(EXPERTSTARTUPINFO, hCapture), 8);
    CHECK_EQ(offsetof(EXPERTSTARTUPINFO, szCaptureFile), 16);
    CHECK_EQ(sizeof(((EXPERTSTARTUPINFO *)0)->szCaptureFile), 260);
    CHECK_EQ(offsetof(EXPERTSTARTUPINFO, dwFrameNumber), 276);
    CHECK_EQ(offsetof(EXPERTSTARTUPINFO, hProtocol), 280);
    CHECK_EQ(offsetof(EXPERTSTARTUPINFO, lpPropertyInst), 288);
    CHECK_EQ(offsetof(EXPERTSTARTUPINFO, sBitfield), 296);
}

/* T1: the config blob's length counts itself: 20 bytes of data make a
 * 24-byte blob (reference 2.1, Configure). */
TEST(test_t1_expertconfig_is_a_length_and_flexible_data)
{
    CHECK_EQ(sizeof(EXPERTCONFIG), 4);
    CHECK_EQ(offsetof(EXPERTCONFIG, RawConfigLength), 0);
    CHECK_EQ(offsetof(EXPERTCONFIG, RawConfigData), 4);
    CHECK_EQ(sizeof(EXPERTCONFIG) + 20, 24);
}

/* T1 */
TEST(test_t1_small_expert_structures_layout)
{
    CHECK_EQ(sizeof(CONFIGUREDEXPERT), 24);
    CHECK_EQ(offsetof(CONFIGUREDEXPERT, StartupFlags), 8);
    CHECK_EQ(offsetof(CONFIGUREDEXPERT, pConfig), 16);

    CHECK_EQ(sizeof(EXPERTFRAMEDESCRIPTOR), 40);
    CHECK_EQ(offsetof(EXPERTFRAMEDESCRIPTOR, FrameNumber), 0);
    CHECK_EQ(offsetof(EXPERTFRAMEDESCRIPTOR, hFrame), 8);
    CHECK_EQ(offsetof(EXPERTFRAMEDESCRIPTOR, pFrame), 16);
    CHECK_EQ(offsetof(EXPERTFRAMEDESCRIPTOR, lpRecognizeDataTable), 24);
    CHECK_EQ(offsetof(EXPERTFRAMEDESCRIPTOR, lpPropertyTable), 32);

    CHECK_EQ(sizeof(EXPERTSTATUS), 276);
    CHECK_EQ(offsetof(EXPERTSTATUS, SubStatus), 4);
    CHECK_EQ(offsetof(EXPERTSTATUS, PercentDone), 8);
    CHECK_EQ(offsetof(EXPERTSTATUS, Frame), 12);
    CHECK_EQ(offsetof(EXPERTSTATUS, szStatusText), 16);

    CHECK_EQ(sizeof(GROUPINFO), 40);
    CHECK_EQ(sizeof(((GROUPINFO *)0)->szGroupName), EXPERTGROUPNAMELENGTH + 1);
    CHECK_EQ(offsetof(GROUPINFO, hGroup), 32);
}

/* T1 */
TEST(test_t1_frame_and_recognize_data_layout)
{
    CHECK_EQ(sizeof(FRAME), 24);
    CHECK_EQ(offsetof(FRAME, TimeStamp), 0);
    CHECK_EQ(offsetof(FRAME, FrameLength), 8);
    CHECK_EQ(offsetof(FRAME, nBytesAvail), 12);
    CHECK_EQ(offsetof(FRAME, MacFrame), 16);
    CHECK_EQ(alignof(FRAME), 8);

    CHECK_EQ(sizeof(RECOGNIZEDATA), 16);
    CHECK_EQ(offsetof(RECOGNIZEDATA, nProtocolOffset), 2);
    CHECK_EQ(offsetof(RECOGNIZEDATA, InstData), 8);
    CHECK_EQ(offsetof(RECOGNIZEDATATABLE, RecognizeData), 8);

    CHECK_EQ(sizeof(PROPERTYINST), 32);
    CHECK_EQ(offsetof(PROPERTYINST, szPropertyText), 8);
    CHECK_EQ(offsetof(PROPERTYINST, lpData), 16);
    CHECK_EQ(offsetof(PROPERTYINST, DataLength), 24);
    CHECK_EQ(offsetof(PROPERTYINST, IFlags), 28);
    CHECK_EQ(sizeof(PROPERTYINSTTABLE), 4);
    CHECK_EQ(offsetof(PROPERTYTABLE, lpFirstPropertyInst), 16);
    CHECK_EQ(offsetof(PROPERTYTABLE, nPropertyInstTables), 24);
    CHECK_EQ(offsetof(PROPERTYTABLE, PropertyInstTable), 26);
    CHECK_EQ(offsetof(PROTOCOLTABLE, hProtocol), 8);
    CHECK_EQ(sizeof(OBJECT_IDENTIFIER), 16);
}

/* T1: PROPERTYINST's Level:4 and HelpID:12 share the 16 bits after
 * DataLength, Level in the low bits, as the original's WORD bit-fields. */
TEST(test_t1_propertyinst_bitfields_share_one_word)
{
    PROPERTYINST pi;
    WORD w;
    memset(&pi, 0, sizeof pi);
    pi.Level = 0xF;
    pi.HelpID = 0xABC;
    memcpy(&w, (const char *)&pi + offsetof(PROPERTYINST, DataLength) + 2, sizeof w);
    CHECK_EQ(w, 0xABCF);
    CHECK_EQ(pi.DataLength, 0);
    CHECK_EQ(pi.IFlags, 0);
}

/* T1 */
TEST(test_t1_column_structures_layout)
{
    CHECK_EQ(sizeof(NMCOLUMNVARIANT), 24);
    CHECK_EQ(offsetof(NMCOLUMNVARIANT, Type), 0);
    CHECK_EQ(offsetof(NMCOLUMNVARIANT, Value), 8);
    CHECK_EQ(sizeof(NMCOLUMNINFO), 32);
    CHECK_EQ(offsetof(NMCOLUMNINFO, szColumnName), 0);
    CHECK_EQ(offsetof(NMCOLUMNINFO, VariantData), 8);
}

/* T1: NMEVENTDATA follows the header (leading pszReserved, pvReserved where
 * the documentation has szUrl), with Column[] as a flexible array. */
TEST(test_t1_nmeventdata_has_header_layout)
{
    CHECK_EQ(offsetof(NMEVENTDATA, pszReserved), 0);
    CHECK_EQ(offsetof(NMEVENTDATA, Version), 8);
    CHECK_EQ(offsetof(NMEVENTDATA, EventIdent), 12);
    CHECK_EQ(offsetof(NMEVENTDATA, Flags), 16);
    CHECK_EQ(offsetof(NMEVENTDATA, Severity), 20);
    CHECK_EQ(offsetof(NMEVENTDATA, NumColumns), 24);
    CHECK_EQ(offsetof(NMEVENTDATA, szSourceName), 32);
    CHECK_EQ(offsetof(NMEVENTDATA, szEventName), 40);
    CHECK_EQ(offsetof(NMEVENTDATA, szDescription), 48);
    CHECK_EQ(offsetof(NMEVENTDATA, szMachine), 56);
    CHECK_EQ(offsetof(NMEVENTDATA, Justification), 64);
    CHECK_EQ(offsetof(NMEVENTDATA, pvReserved), 72);
    CHECK_EQ(offsetof(NMEVENTDATA, SysTime), 80);
    CHECK_EQ(offsetof(NMEVENTDATA, Column), 96);
    CHECK_EQ(sizeof(NMEVENTDATA), 96);
    CHECK_EQ(alignof(NMEVENTDATA), 8);
    /* an event with 3 columns, as an expert allocates it */
    CHECK_EQ(sizeof(NMEVENTDATA) + 3 * sizeof(NMCOLUMNINFO), 192);
}

#endif /* NMX_LP64_LINUX */

/* ======================================================================== */
/* T2: error codes and constants                                             */
/* ======================================================================== */

typedef struct {
    const char *name;
    long long value;    /* the macro's value as this header defines it */
    long long expected; /* the original's value (reference table 3.7) */
} named_code;

#define CODE(name, v) {#name, (name), (v)}

/* Every NMERR code of the original header, ascending. */
static const named_code nmerr_codes[] = {
    CODE(NMERR_SUCCESS, 0),
    CODE(NMERR_MEMORY_MAPPED_FILE_ERROR, 1),
    CODE(NMERR_INVALID_HFILTER, 2),
    CODE(NMERR_CAPTURING, 3),
    CODE(NMERR_NOT_CAPTURING, 4),
    CODE(NMERR_NO_MORE_FRAMES, 5),
    CODE(NMERR_BUFFER_TOO_SMALL, 6),
    CODE(NMERR_FRAME_NOT_RECOGNIZED, 7),
    CODE(NMERR_FILE_ALREADY_EXISTS, 8),
    CODE(NMERR_DRIVER_NOT_FOUND, 9),
    CODE(NMERR_ADDRESS_ALREADY_EXISTS, 10),
    CODE(NMERR_INVALID_HFRAME, 11),
    CODE(NMERR_INVALID_HPROTOCOL, 12),
    CODE(NMERR_INVALID_HPROPERTY, 13),
    CODE(NMERR_LOCKED, 14),
    CODE(NMERR_STACK_EMPTY, 15),
    CODE(NMERR_STACK_OVERFLOW, 16),
    CODE(NMERR_TOO_MANY_PROTOCOLS, 17),
    CODE(NMERR_FILE_NOT_FOUND, 18),
    CODE(NMERR_OUT_OF_MEMORY, 19),
    CODE(NMERR_CAPTURE_PAUSED, 20),
    CODE(NMERR_NO_BUFFERS, 21),
    CODE(NMERR_BUFFERS_ALREADY_EXIST, 22),
    CODE(NMERR_NOT_LOCKED, 23),
    CODE(NMERR_OUT_OF_RANGE, 24),
    CODE(NMERR_LOCK_NESTING_TOO_DEEP, 25),
    CODE(NMERR_LOAD_PARSER_FAILED, 26),
    CODE(NMERR_UNLOAD_PARSER_FAILED, 27),
    CODE(NMERR_INVALID_HADDRESSDB, 28),
    CODE(NMERR_ADDRESS_NOT_FOUND, 29),
    CODE(NMERR_NETWORK_NOT_PRESENT, 30),
    CODE(NMERR_NO_PROPERTY_DATABASE, 31),
    CODE(NMERR_PROPERTY_NOT_FOUND, 32),
    CODE(NMERR_INVALID_HPROPERTYDB, 33),
    CODE(NMERR_PROTOCOL_NOT_ENABLED, 34),
    CODE(NMERR_PROTOCOL_NOT_FOUND, 35),
    CODE(NMERR_INVALID_PARSER_DLL, 36),
    CODE(NMERR_NO_ATTACHED_PROPERTIES, 37),
    CODE(NMERR_NO_FRAMES, 38),
    CODE(NMERR_INVALID_FILE_FORMAT, 39),
    CODE(NMERR_COULD_NOT_CREATE_TEMPFILE, 40),
    CODE(NMERR_OUT_OF_DOS_MEMORY, 41),
    CODE(NMERR_NO_PROTOCOLS_ENABLED, 42),
    CODE(NMERR_UNKNOWN_MACTYPE, 46),
    CODE(NMERR_ROUTING_INFO_NOT_PRESENT, 47),
    CODE(NMERR_INVALID_HNETWORK, 48),
    CODE(NMERR_NETWORK_ALREADY_OPENED, 49),
    CODE(NMERR_NETWORK_NOT_OPENED, 50),
    CODE(NMERR_FRAME_NOT_FOUND, 51),
    CODE(NMERR_NO_HANDLES, 53),
    CODE(NMERR_INVALID_NETWORK_ID, 54),
    CODE(NMERR_INVALID_HCAPTURE, 55),
    CODE(NMERR_PROTOCOL_ALREADY_ENABLED, 56),
    CODE(NMERR_FILTER_INVALID_EXPRESSION, 57),
    CODE(NMERR_TRANSMIT_ERROR, 58),
    CODE(NMERR_INVALID_HBUFFER, 59),
    CODE(NMERR_INVALID_DATA, 60),
    CODE(NMERR_MSDOS_DRIVER_NOT_LOADED, 61),
    CODE(NMERR_WINDOWS_DRIVER_NOT_LOADED, 62),
    CODE(NMERR_MSDOS_DRIVER_INIT_FAILURE, 63),
    CODE(NMERR_WINDOWS_DRIVER_INIT_FAILURE, 64),
    CODE(NMERR_NETWORK_BUSY, 65),
    CODE(NMERR_CAPTURE_NOT_PAUSED, 66),
    CODE(NMERR_INVALID_PACKET_LENGTH, 67),
    CODE(NMERR_INTERNAL_EXCEPTION, 69),
    CODE(NMERR_PROMISCUOUS_MODE_NOT_SUPPORTED, 70),
    CODE(NMERR_MAC_DRIVER_OPEN_FAILURE, 71),
    CODE(NMERR_RUNAWAY_PROTOCOL, 72),
    CODE(NMERR_PENDING, 73),
    CODE(NMERR_ACCESS_DENIED, 74),
    CODE(NMERR_INVALID_HPASSWORD, 75),
    CODE(NMERR_INVALID_PARAMETER, 76),
    CODE(NMERR_FILE_READ_ERROR, 77),
    CODE(NMERR_FILE_WRITE_ERROR, 78),
    CODE(NMERR_PROTOCOL_NOT_REGISTERED, 79),
    CODE(NMERR_IP_ADDRESS_NOT_FOUND, 80),
    CODE(NMERR_TRANSMIT_CANCELLED, 81),
    CODE(NMERR_LOCKED_FRAMES, 82),
    CODE(NMERR_NO_TRANSMITS_PENDING, 83),
    CODE(NMERR_PATH_NOT_FOUND, 84),
    CODE(NMERR_WINDOWS_ERROR, 85),
    CODE(NMERR_NO_FRAME_NUMBER, 86),
    CODE(NMERR_FRAME_HAS_NO_CAPTURE, 87),
    CODE(NMERR_FRAME_ALREADY_HAS_CAPTURE, 88),
    CODE(NMERR_NAL_IS_NOT_REMOTE, 89),
    CODE(NMERR_NOT_SUPPORTED, 90),
    CODE(NMERR_DISCARD_FRAME, 91),
    CODE(NMERR_CANCEL_SAVE_CAPTURE, 92),
    CODE(NMERR_LOST_CONNECTION, 93),
    CODE(NMERR_INVALID_MEDIA_TYPE, 94),
    CODE(NMERR_AGENT_IN_USE, 95),
    CODE(NMERR_TIMEOUT, 96),
    CODE(NMERR_DISCONNECTED, 97),
    CODE(NMERR_SETTIMER_FAILED, 98),
    CODE(NMERR_NETWORK_ERROR, 99),
    CODE(NMERR_INVALID_FRAMESPROC, 100),
    CODE(NMERR_UNKNOWN_CAPTURETYPE, 101),
    CODE(NMERR_NOT_CONNECTED, 102),
    CODE(NMERR_ALREADY_CONNECTED, 103),
    CODE(NMERR_INVALID_REGISTRY_CONFIGURATION, 104),
    CODE(NMERR_DELAYED, 105),
    CODE(NMERR_NOT_DELAYED, 106),
    CODE(NMERR_REALTIME, 107),
    CODE(NMERR_NOT_REALTIME, 108),
    CODE(NMERR_STATS_ONLY, 109),
    CODE(NMERR_NOT_STATS_ONLY, 110),
    CODE(NMERR_TRANSMIT, 111),
    CODE(NMERR_NOT_TRANSMIT, 112),
    CODE(NMERR_TRANSMITTING, 113),
    CODE(NMERR_DISK_NOT_LOCAL_FIXED, 114),
    CODE(NMERR_COULD_NOT_CREATE_DIRECTORY, 115),
    CODE(NMERR_NO_DEFAULT_CAPTURE_DIRECTORY, 116),
    CODE(NMERR_UPLEVEL_CAPTURE_FILE, 117),
    CODE(NMERR_LOAD_EXPERT_FAILED, 118),
    CODE(NMERR_EXPERT_REPORT_FAILED, 119),
    CODE(NMERR_REG_OPERATION_FAILED, 120),
    CODE(NMERR_NO_DLLS_FOUND, 121),
    CODE(NMERR_NO_CONVERSATION_STATS, 122),
    CODE(NMERR_SECURITY_BREACH_CAPTURE_DELETED, 123),
    CODE(NMERR_FRAME_FAILED_FILTER, 124),
    CODE(NMERR_EXPERT_TERMINATE, 125),
    CODE(NMERR_REMOTE_NOT_A_SERVER, 126),
    CODE(NMERR_REMOTE_VERSION_OUTOFSYNC, 127),
    CODE(NMERR_INVALID_EXPERT_GROUP, 128),
    CODE(NMERR_INVALID_EXPERT_NAME, 129),
    CODE(NMERR_INVALID_EXPERT_HANDLE, 130),
    CODE(NMERR_GROUP_NAME_ALREADY_EXISTS, 131),
    CODE(NMERR_INVALID_GROUP_NAME, 132),
    CODE(NMERR_EXPERT_ALREADY_IN_GROUP, 133),
    CODE(NMERR_EXPERT_NOT_IN_GROUP, 134),
    CODE(NMERR_NOT_INITIALIZED, 135),
    CODE(NMERR_INVALID_GROUP_ROOT, 136),
    CODE(NMERR_BAD_VERSION, 137),
    CODE(NMERR_ESP, 138),
    CODE(NMERR_NOT_ESP, 139),
    CODE(NMERR_BLOB_NOT_INITIALIZED, 1000),
    CODE(NMERR_INVALID_BLOB, 1001),
    CODE(NMERR_UPLEVEL_BLOB, 1002),
    CODE(NMERR_BLOB_ENTRY_ALREADY_EXISTS, 1003),
    CODE(NMERR_BLOB_ENTRY_DOES_NOT_EXIST, 1004),
    CODE(NMERR_AMBIGUOUS_SPECIFIER, 1005),
    CODE(NMERR_BLOB_OWNER_NOT_FOUND, 1006),
    CODE(NMERR_BLOB_CATEGORY_NOT_FOUND, 1007),
    CODE(NMERR_UNKNOWN_CATEGORY, 1008),
    CODE(NMERR_UNKNOWN_TAG, 1009),
    CODE(NMERR_BLOB_CONVERSION_ERROR, 1010),
    CODE(NMERR_ILLEGAL_TRIGGER, 1011),
    CODE(NMERR_BLOB_STRING_INVALID, 1012),
    CODE(NMERR_UNABLE_TO_LOAD_LIBRARY, 1013),
    CODE(NMERR_UNABLE_TO_GET_PROCADDR, 1014),
    CODE(NMERR_CLASS_NOT_REGISTERED, 1015),
    CODE(NMERR_INVALID_REMOTE_COMPUTERNAME, 1016),
    CODE(NMERR_RPC_REMOTE_FAILURE, 1017),
    CODE(NMERR_NO_NPPS, 3016),
    CODE(NMERR_NO_MATCHING_NPPS, 3017),
    CODE(NMERR_NO_NPP_SELECTED, 3018),
    CODE(NMERR_NO_INPUT_BLOBS, 3019),
    CODE(NMERR_NO_NPP_DLLS, 3020),
    CODE(NMERR_NO_VALID_NPP_DLLS, 3021),
};

#define NCODES (sizeof nmerr_codes / sizeof nmerr_codes[0])

/* Codes the original leaves undefined, and codes past each range. */
static const DWORD undefined_codes[] = {43, 44, 45, 52, 68, 140, 999, 1018, 3015, 3022, 0xFFFFFFFFu};

static int report_mismatch(const named_code *c)
{
    if (c->value == c->expected)
        return 0;
    fprintf(stderr, "  %s is %lld, expected %lld\n", c->name, c->value, c->expected);
    return 1;
}

/* T2: every NMERR code of the original, with its original value. */
TEST(test_t2_every_nmerr_code_has_its_original_value)
{
    size_t i;
    int wrong = 0;
    for (i = 0; i < NCODES; i++)
        wrong += report_mismatch(&nmerr_codes[i]);
    CHECK_EQ(wrong, 0);
    /* 0..139 less the five gaps, 1000..1017, 3016..3021 */
    CHECK_EQ(NCODES, (140 - 5) + 18 + 6);
}

/* T2: the gaps are gaps: 43, 44, 45, 52, 68 carry no code. */
TEST(test_t2_nmerr_gaps_are_not_defined)
{
    size_t i, j;
    for (i = 0; i < NCODES; i++)
        for (j = 0; j < 5; j++)
            CHECK(nmerr_codes[i].value != (long long)undefined_codes[j]);
}

/* T2: expert constants (reference 3.1-3.4, 3.6, 3.8). */
static const named_code expert_constants[] = {
    CODE(EXPERTSTRINGLENGTH, 260),
    CODE(EXPERTGROUPNAMELENGTH, 25),
    CODE(INVALID_FRAME_NUMBER, 0xFFFFFFFFll),
    CODE(MAC_ADDRESS_SIZE, 6),
    CODE(EXPERT_ENUM_FLAG_CONFIGURABLE, 0x1),
    CODE(EXPERT_ENUM_FLAG_VIEWER_PRIVATE, 0x2),
    CODE(EXPERT_ENUM_FLAG_NO_VIEWER, 0x4),
    CODE(EXPERT_ENUM_FLAG_ADD_ME_TO_RMC_IN_SUMMARY, 0x10),
    CODE(EXPERT_ENUM_FLAG_ADD_ME_TO_RMC_IN_DETAIL, 0x20),
    CODE(EXPERT_STARTUP_FLAG_USE_STARTUP_DATA_OVER_CONFIG_DATA, 0x1),
    CODE(GET_SPECIFIED_FRAME, 0),
    CODE(GET_FRAME_NEXT_FORWARD, 1),
    CODE(GET_FRAME_NEXT_BACKWARD, 2),
    CODE(FLAGS_DEFER_TO_UI_FILTER, 0x1),
    CODE(FLAGS_ATTACH_PROPERTIES, 0x2),
    CODE(EXPERTSTATUS_INACTIVE, 0),
    CODE(EXPERTSTATUS_STARTING, 1),
    CODE(EXPERTSTATUS_RUNNING, 2),
    CODE(EXPERTSTATUS_PROBLEM, 3),
    CODE(EXPERTSTATUS_ABORTED, 4),
    CODE(EXPERTSTATUS_DONE, 5),
    CODE(EXPERTSUBSTATUS_ABORTED_USER, 0x1),
    CODE(EXPERTSUBSTATUS_ABORTED_LOAD_FAIL, 0x2),
    CODE(EXPERTSUBSTATUS_ABORTED_THREAD_FAIL, 0x4),
    CODE(EXPERTSUBSTATUS_ABORTED_BAD_ENTRY, 0x8),
    CODE(NMEVENTFLAG_EXPERT, 0x00000001),
    CODE(NMEVENTFLAG_DO_NOT_DISPLAY_SEVERITY, 0x80000000ll),
    CODE(NMEVENTFLAG_DO_NOT_DISPLAY_SOURCE, 0x40000000),
    CODE(NMEVENTFLAG_DO_NOT_DISPLAY_EVENT_NAME, 0x20000000),
    CODE(NMEVENTFLAG_DO_NOT_DISPLAY_DESCRIPTION, 0x10000000),
    CODE(NMEVENTFLAG_DO_NOT_DISPLAY_MACHINE, 0x08000000),
    CODE(NMEVENTFLAG_DO_NOT_DISPLAY_TIME, 0x04000000),
    CODE(NMEVENTFLAG_DO_NOT_DISPLAY_DATE, 0x02000000),
    CODE(NMEVENTFLAG_DO_NOT_DISPLAY_FIXED_COLUMNS, 0xFE000000ll),
    CODE(NMEVENT_SEVERITY_INFORMATIONAL, 0),
    CODE(NMEVENT_SEVERITY_WARNING, 1),
    CODE(NMEVENT_SEVERITY_STRONG_WARNING, 2),
    CODE(NMEVENT_SEVERITY_ERROR, 3),
    CODE(NMEVENT_SEVERITY_SEVERE_ERROR, 4),
    CODE(NMEVENT_SEVERITY_CRITICAL_ERROR, 5),
    CODE(NMCOLUMNTYPE_UINT8, 0),
    CODE(NMCOLUMNTYPE_SINT8, 1),
    CODE(NMCOLUMNTYPE_UINT16, 2),
    CODE(NMCOLUMNTYPE_SINT16, 3),
    CODE(NMCOLUMNTYPE_UINT32, 4),
    CODE(NMCOLUMNTYPE_SINT32, 5),
    CODE(NMCOLUMNTYPE_FLOAT64, 6),
    CODE(NMCOLUMNTYPE_FRAME, 7),
    CODE(NMCOLUMNTYPE_YESNO, 8),
    CODE(NMCOLUMNTYPE_ONOFF, 9),
    CODE(NMCOLUMNTYPE_TRUEFALSE, 10),
    CODE(NMCOLUMNTYPE_MACADDR, 11),
    CODE(NMCOLUMNTYPE_IPXADDR, 12),
    CODE(NMCOLUMNTYPE_IPADDR, 13),
    CODE(NMCOLUMNTYPE_VARTIME, 14),
    CODE(NMCOLUMNTYPE_STRING, 15),
    CODE(FILTER_NO_MORE_FRAMES, 0xFFFFFFFFll),
    CODE(FILTER_CANCELED, 0xFFFFFFFEll),
    CODE(FILTERACTION_PROPERTY, 1),
    CODE(FILTERACTION_PROPERTYEXIST, 8),
    CODE(FILTERACTION_PROTOCOLEXIST, 34),
    CODE(IFLAG_ERROR, 0x1),
    CODE(IFLAG_SWAPPED, 0x2),
    CODE(IFLAG_UNICODE, 0x4),
};

/* T2 */
TEST(test_t2_expert_constants_have_their_original_values)
{
    size_t i;
    int wrong = 0;
    for (i = 0; i < sizeof expert_constants / sizeof expert_constants[0]; i++)
        wrong += report_mismatch(&expert_constants[i]);
    CHECK_EQ(wrong, 0);
}

/* T2: the fixed-columns flag is the seven DO_NOT_DISPLAY flags together. */
TEST(test_t2_fixed_columns_flag_is_the_seven_display_flags)
{
    DWORD seven = NMEVENTFLAG_DO_NOT_DISPLAY_SEVERITY | NMEVENTFLAG_DO_NOT_DISPLAY_SOURCE |
                  NMEVENTFLAG_DO_NOT_DISPLAY_EVENT_NAME | NMEVENTFLAG_DO_NOT_DISPLAY_DESCRIPTION |
                  NMEVENTFLAG_DO_NOT_DISPLAY_MACHINE | NMEVENTFLAG_DO_NOT_DISPLAY_TIME |
                  NMEVENTFLAG_DO_NOT_DISPLAY_DATE;
    CHECK_EQ(seven, NMEVENTFLAG_DO_NOT_DISPLAY_FIXED_COLUMNS);
}

/* T2, H1: the entry points are looked up by these names. */
TEST(test_t2_entry_point_names)
{
    CHECK(strcmp(EXPERTENTRY_REGISTER, "Register") == 0);
    CHECK(strcmp(EXPERTENTRY_CONFIGURE, "Configure") == 0);
    CHECK(strcmp(EXPERTENTRY_RUN, "Run") == 0);
    CHECK(IS_TYPE(INVALID_FRAME_NUMBER, DWORD));
}

/* ======================================================================== */
/* T4: signatures                                                            */
/* ======================================================================== */

/* T4: the memory functions have the original names and signatures, and
 * ExpertFreeMemory returns SIZE_T. Assigning to a pointer of the exact type
 * fails the build (-Werror) on any difference; _Generic checks type identity. */
TEST(test_t4_memory_functions_have_original_signatures)
{
    LPVOID (*alloc)(HEXPERTKEY, SIZE_T, DWORD *) = ExpertAllocMemory;
    LPVOID (*realloc_)(HEXPERTKEY, LPVOID, SIZE_T, DWORD *) = ExpertReallocMemory;
    SIZE_T (*free_)(HEXPERTKEY, LPVOID) = ExpertFreeMemory;
    SIZE_T (*size)(HEXPERTKEY, LPVOID) = ExpertMemorySize;

    CHECK(alloc != NULL);
    CHECK(realloc_ != NULL);
    CHECK(free_ != NULL);
    CHECK(size != NULL);
    CHECK(IS_TYPE(&ExpertAllocMemory, LPVOID (*)(HEXPERTKEY, SIZE_T, DWORD *)));
    CHECK(IS_TYPE(&ExpertReallocMemory, LPVOID (*)(HEXPERTKEY, LPVOID, SIZE_T, DWORD *)));
    CHECK(IS_TYPE(&ExpertFreeMemory, SIZE_T (*)(HEXPERTKEY, LPVOID)));
    CHECK(IS_TYPE(&ExpertMemorySize, SIZE_T (*)(HEXPERTKEY, LPVOID)));
}

/* T4, H1: the entry-point types an expert's Register, Configure and Run must
 * match. (The host-runtime functions are pinned by the redeclarations at the
 * top of this file: they compile only if netmon.h agrees.) */
TEST(test_t4_entry_point_types)
{
    CHECK(IS_TYPE((PEXPERTREGISTERPROC)0, BOOL (*)(EXPERTENUMINFO *)));
    CHECK(IS_TYPE((PEXPERTCONFIGPROC)0,
                  BOOL (*)(HEXPERTKEY, EXPERTCONFIG **, EXPERTSTARTUPINFO *, DWORD, HWND)));
    CHECK(IS_TYPE((PEXPERTRUNPROC)0,
                  BOOL (*)(HEXPERTKEY, EXPERTCONFIG *, EXPERTSTARTUPINFO *, DWORD, HWND)));
}

/* ======================================================================== */
/* nmx_strerror                                                              */
/* ======================================================================== */

/* Every code reads "NMERR_NAME: meaning". */
TEST(test_strerror_names_every_code)
{
    size_t i;
    int wrong = 0;
    for (i = 0; i < NCODES; i++) {
        const char *s = nmx_strerror((DWORD)nmerr_codes[i].value);
        size_t n = strlen(nmerr_codes[i].name);
        if (s == NULL || strncmp(s, nmerr_codes[i].name, n) != 0 || strncmp(s + n, ": ", 2) != 0 ||
            s[n + 2] == '\0') {
            fprintf(stderr, "  nmx_strerror(%lld) = \"%s\"\n", nmerr_codes[i].value, s ? s : "(null)");
            wrong++;
        }
    }
    CHECK_EQ(wrong, 0);
    CHECK(strcmp(nmx_strerror(NMERR_OUT_OF_MEMORY), "NMERR_OUT_OF_MEMORY: no memory available") == 0);
    CHECK(strcmp(nmx_strerror(NMERR_SUCCESS), "NMERR_SUCCESS: success") == 0);
}

/* Gaps and out-of-range codes give "unknown error", never NULL. */
TEST(test_strerror_unknown_codes)
{
    size_t i;
    for (i = 0; i < sizeof undefined_codes / sizeof undefined_codes[0]; i++) {
        const char *s = nmx_strerror(undefined_codes[i]);
        CHECK(s != NULL && strcmp(s, "unknown error") == 0);
    }
}

int main(void)
{
    RUN(test_t1_dword_is_32_bits_unsigned);
    RUN(test_t1_long_is_32_bits_signed);
    RUN(test_t1_word_is_16_bits_and_byte_8_bits_unsigned);
    RUN(test_t1_bool_is_int_with_true_and_false);
    RUN(test_t1_size_and_pointer_types);
    RUN(test_t1_handles_are_opaque_struct_pointers);
    RUN(test_t1_winapi_expands_to_nothing);
    RUN(test_t1_systemtime_is_eight_words);
    RUN(test_t1_frame_timestamp_is_signed_64_bits);
    RUN(test_t1_column_variant_value_widths);
#ifdef NMX_LP64_LINUX
    RUN(test_t1_expertenuminfo_layout);
    RUN(test_t1_expertstartupinfo_layout);
    RUN(test_t1_expertconfig_is_a_length_and_flexible_data);
    RUN(test_t1_small_expert_structures_layout);
    RUN(test_t1_frame_and_recognize_data_layout);
    RUN(test_t1_propertyinst_bitfields_share_one_word);
    RUN(test_t1_column_structures_layout);
    RUN(test_t1_nmeventdata_has_header_layout);
#else
    SKIP_TEST(test_t1_layouts, "layouts are pinned for LP64 Linux");
#endif
    RUN(test_t1_ipx_addr_is_packed_10_bytes);
    RUN(test_t2_every_nmerr_code_has_its_original_value);
    RUN(test_t2_nmerr_gaps_are_not_defined);
    RUN(test_t2_expert_constants_have_their_original_values);
    RUN(test_t2_fixed_columns_flag_is_the_seven_display_flags);
    RUN(test_t2_entry_point_names);
    RUN(test_t4_memory_functions_have_original_signatures);
    RUN(test_t4_entry_point_types);
    RUN(test_strerror_names_every_code);
    RUN(test_strerror_unknown_codes);
    return CHECK_DONE();
}
