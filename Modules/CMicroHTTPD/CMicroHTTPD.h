// CMicroHTTPD: libmicrohttpd as a Clang module for Swift, plus the few shims Swift needs.
//
// Why shims exist: Swift cannot call C variadic functions, and libmicrohttpd's entry points for
// starting a daemon and reading daemon information are variadic. Each CMicroHTTPD_* function is
// a fixed-arity inline wrapper around exactly one such call, except CMicroHTTPD_keep_escapes, a
// callback the daemon is started with (it must exist as a C function before the daemon runs),
// CMicroHTTPD_log_filter (a logger receives a va_list, which Swift cannot), and
// CMicroHTTPD_framing, which walks every header of every request in C (no copies).
#ifndef CMICROHTTPD_H
#define CMICROHTTPD_H

#include <stdint.h>
#include <stddef.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <malloc.h>
#include <time.h>
#include <microhttpd.h>

/// MHD_OPTION_UNESCAPE_CALLBACK that leaves the text as it is.
///
/// libmicrohttpd's default decodes %HH in the path before the access handler sees it, so
/// "/streams/a%2Fb/..." would reach the router as "/streams/a/b/...", "%73" as "s", and "%00"
/// would cut the C string short. With this callback the path and the query arguments arrive as
/// the client sent them (libmicrohttpd still turns '+' into ' ' in query arguments first), and the
/// router decides what a '%' means: nothing valid ever needs one.
static inline size_t CMicroHTTPD_keep_escapes(void *cls, struct MHD_Connection *connection, char *text)
{
    (void)cls;
    (void)connection;
    return strlen(text);
}

/// What a CMicroHTTPD_log_filter reports to: `handler(cls, status)` when libmicrohttpd answers a
/// malformed Content-Length itself (400, or 413 for a value beyond 64 bits).
typedef void (*CMicroHTTPD_MalformedLengthHandler)(void *cls, unsigned int status);
typedef struct CMicroHTTPD_LogTarget {
    CMicroHTTPD_MalformedLengthHandler handler;
    void *cls;
} CMicroHTTPD_LogTarget;

/// MHD_OPTION_EXTERNAL_LOGGER that keeps only one kind of message: libmicrohttpd 0.9.75 answers a
/// malformed Content-Length before any application callback, and its state machine then writes
/// the answer's header block twice (fixed upstream in 1.0.0). The message is logged on the
/// connection's worker thread before anything is sent, so the handler can answer once and close
/// the socket (libmicrohttpd's own answer then fails to send). Why a shim: the callback takes a
/// va_list, which Swift cannot receive, and only the format string matters. Every other message
/// is dropped, as without MHD_USE_ERROR_LOG.
static void CMicroHTTPD_log_filter(void *cls, const char *format, va_list arguments)
{
    (void)arguments;
    const CMicroHTTPD_LogTarget *target = (const CMicroHTTPD_LogTarget *)cls;
    if (target == NULL || format == NULL || strstr(format, "Content-Length") == NULL) {
        return;
    }
    if (strncmp(format, "Failed to parse", 15) == 0) {
        target->handler(target->cls, 400);
    } else if (strncmp(format, "Too large value", 15) == 0) {
        target->handler(target->cls, 413);
    }
}

/// Everything `CMicroHTTPD_start_daemon` passes to MHD besides flags, port and the access handler.
typedef struct CMicroHTTPD_DaemonOptions {
    unsigned int thread_pool_size;          // MHD_OPTION_THREAD_POOL_SIZE (0 = no pool)
    unsigned int connection_limit;          // MHD_OPTION_CONNECTION_LIMIT
    unsigned int per_ip_connection_limit;   // MHD_OPTION_PER_IP_CONNECTION_LIMIT (0 = unlimited)
    unsigned int connection_timeout;        // MHD_OPTION_CONNECTION_TIMEOUT, seconds (0 = none)
    size_t connection_memory_limit;         // MHD_OPTION_CONNECTION_MEMORY_LIMIT, bytes
    unsigned int listen_backlog;            // MHD_OPTION_LISTEN_BACKLOG_SIZE
    const char *bind_ipv4;                  // dotted quad to bind, or NULL for every interface
    MHD_RequestCompletedCallback completed; // MHD_OPTION_NOTIFY_COMPLETED
    void *completed_cls;
    MHD_NotifyConnectionCallback connection_events; // MHD_OPTION_NOTIFY_CONNECTION
    void *connection_events_cls;
    void *(*request_line)(void *cls, const char *uri, struct MHD_Connection *connection);
    void *request_line_cls;                 // MHD_OPTION_URI_LOG_CALLBACK
    const CMicroHTTPD_LogTarget *log_target; // MHD_OPTION_EXTERNAL_LOGGER with CMicroHTTPD_log_filter
} CMicroHTTPD_DaemonOptions;

/// Starts a daemon: MHD_start_daemon with its options as an MHD_OPTION_ARRAY (the variadic call
/// Swift cannot make), URLs left percent-encoded (CMicroHTTPD_keep_escapes). Returns NULL when
/// MHD refuses (port taken, bad address, ...).
static inline struct MHD_Daemon *CMicroHTTPD_start_daemon(unsigned int flags,
                                                          uint16_t port,
                                                          MHD_AccessHandlerCallback handler,
                                                          void *handler_cls,
                                                          const CMicroHTTPD_DaemonOptions *o)
{
    struct sockaddr_in address;
    memset(&address, 0, sizeof(address));
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    if (o->bind_ipv4 != NULL && inet_pton(AF_INET, o->bind_ipv4, &address.sin_addr) != 1) {
        return NULL;
    }
    struct MHD_OptionItem items[] = {
        // The logger first, so that no message of the start goes to libmicrohttpd's default.
        { MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)CMicroHTTPD_log_filter, (void *)o->log_target },
        { MHD_OPTION_SOCK_ADDR, 0, &address },
        { MHD_OPTION_CONNECTION_LIMIT, (intptr_t)o->connection_limit, NULL },
        { MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)o->per_ip_connection_limit, NULL },
        { MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)o->connection_timeout, NULL },
        { MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)o->connection_memory_limit, NULL },
        { MHD_OPTION_LISTEN_BACKLOG_SIZE, (intptr_t)o->listen_backlog, NULL },
        { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)o->completed, o->completed_cls },
        { MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)o->connection_events, o->connection_events_cls },
        { MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)o->request_line, o->request_line_cls },
        { MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)CMicroHTTPD_keep_escapes, NULL },
        { o->thread_pool_size > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
          (intptr_t)o->thread_pool_size, NULL },
        { MHD_OPTION_END, 0, NULL },
    };
    return MHD_start_daemon(flags, port, NULL, NULL, handler, handler_cls,
                            MHD_OPTION_ARRAY, items, MHD_OPTION_END);
}

/// The port the daemon is bound to: MHD_get_daemon_info(MHD_DAEMON_INFO_BIND_PORT); 0 if unknown.
static inline uint16_t CMicroHTTPD_bound_port(struct MHD_Daemon *daemon)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info == NULL ? 0 : info->port;
}

/// Open connections: MHD_get_daemon_info(MHD_DAEMON_INFO_CURRENT_CONNECTIONS); 0 if unknown.
static inline unsigned int CMicroHTTPD_current_connections(struct MHD_Daemon *daemon)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return info == NULL ? 0 : info->num_connections;
}

/// The application's pointer for a connection: MHD_get_connection_info(
/// MHD_CONNECTION_INFO_SOCKET_CONTEXT), set in the MHD_CONNECTION_NOTIFY_STARTED event; NULL if unknown.
static inline void *CMicroHTTPD_connection_context(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info == NULL ? NULL : info->socket_context;
}

/// Whether a connection has received a whole request head and has no answer queued yet
/// (MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE and MHD_CONNECTION_INFO_HTTP_STATUS): the state in
/// which libmicrohttpd answers a malformed Content-Length itself.
static inline int CMicroHTTPD_head_complete_unanswered(struct MHD_Connection *connection)
{
    return MHD_get_connection_info(connection, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE) != NULL
        && MHD_get_connection_info(connection, MHD_CONNECTION_INFO_HTTP_STATUS) == NULL;
}

/// The socket of a connection: MHD_get_connection_info(MHD_CONNECTION_INFO_CONNECTION_FD);
/// -1 if unknown.
static inline int CMicroHTTPD_connection_fd(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info == NULL ? -1 : info->connect_fd;
}

/// How a request's header fields frame it (RFC 9112 §6): what `CMicroHTTPD_framing` found.
typedef struct CMicroHTTPD_Framing {
    unsigned int content_length_fields;     // Content-Length field lines
    unsigned int content_length_differs;    // 1 when two of them carry different values
    unsigned int transfer_encoding_fields;  // Transfer-Encoding field lines
    unsigned int transfer_encoding_other;   // 1 when one of them is not exactly "chunked"
    unsigned int host_fields;               // Host field lines
    unsigned int version;                   // 10 for HTTP/1.0, 11 for HTTP/1.1, 0 for any other
    const char *first_content_length;       // during the iteration only: the first value
} CMicroHTTPD_Framing;

/// MHD_KeyValueIterator for CMicroHTTPD_framing: counts the framing fields of one request.
static enum MHD_Result CMicroHTTPD_framing_field(void *cls, enum MHD_ValueKind kind,
                                                 const char *key, const char *value)
{
    (void)kind;
    CMicroHTTPD_Framing *framing = (CMicroHTTPD_Framing *)cls;
    if (key == NULL) {
        return MHD_YES;
    }
    if (strcasecmp(key, "Content-Length") == 0) {
        // libmicrohttpd parses only the first occurrence; a second one that differs would
        // frame the body differently for another parser (request smuggling).
        if (framing->content_length_fields == 0) {
            framing->first_content_length = value;
        } else if (value == NULL || framing->first_content_length == NULL
                   || strcmp(value, framing->first_content_length) != 0) {
            framing->content_length_differs = 1;
        }
        framing->content_length_fields += 1;
    } else if (strcasecmp(key, "Transfer-Encoding") == 0) {
        framing->transfer_encoding_fields += 1;
        if (value == NULL || strcasecmp(value, "chunked") != 0) {
            framing->transfer_encoding_other = 1;
        }
    } else if (strcasecmp(key, "Host") == 0) {
        framing->host_fields += 1;
    }
    return MHD_YES;
}

/// Counts the fields that frame a request, over every occurrence of each, and reads its HTTP
/// version (wraps MHD_get_connection_values with CMicroHTTPD_framing_field). Why a shim: the iteration runs
/// for every request, and a C iterator compares names without copying them into Swift strings.
/// `content_length_differs` compares every Content-Length value with the first, the one
/// libmicrohttpd reads.
static inline CMicroHTTPD_Framing CMicroHTTPD_framing(struct MHD_Connection *connection,
                                                      const char *version)
{
    CMicroHTTPD_Framing framing;
    memset(&framing, 0, sizeof(framing));
    if (version != NULL && strcmp(version, MHD_HTTP_VERSION_1_1) == 0) {
        framing.version = 11;
    } else if (version != NULL && strcmp(version, MHD_HTTP_VERSION_1_0) == 0) {
        framing.version = 10;
    }
    MHD_get_connection_values(connection, MHD_HEADER_KIND, CMicroHTTPD_framing_field, &framing);
    framing.first_content_length = NULL;  // points into the connection's memory: not kept
    return framing;
}

/// Sets flags on a response: MHD_set_response_options(response, flags, MHD_RO_END), the
/// variadic call Swift cannot make.
static inline enum MHD_Result CMicroHTTPD_set_response_flags(struct MHD_Response *response,
                                                             enum MHD_ResponseFlags flags)
{
    return MHD_set_response_options(response, flags, MHD_RO_END);
}

/// Room for the text of any IPv4 or IPv6 address and its NUL (INET6_ADDRSTRLEN).
enum { CMicroHTTPD_ADDRESS_TEXT_SIZE = INET6_ADDRSTRLEN };

/// The peer's IP address as text: MHD_get_connection_info(MHD_CONNECTION_INFO_CLIENT_ADDRESS),
/// formatted by inet_ntop into `buffer` (at least CMicroHTTPD_ADDRESS_TEXT_SIZE bytes). Returns 0,
/// or -1 when libmicrohttpd has no address or it is neither IPv4 nor IPv6.
static inline int CMicroHTTPD_client_address(struct MHD_Connection *connection, char *buffer, size_t size)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (info == NULL || info->client_addr == NULL) {
        return -1;
    }
    const struct sockaddr *address = info->client_addr;
    const void *bytes;
    if (address->sa_family == AF_INET) {
        bytes = &((const struct sockaddr_in *)address)->sin_addr;
    } else if (address->sa_family == AF_INET6) {
        bytes = &((const struct sockaddr_in6 *)address)->sin6_addr;
    } else {
        return -1;
    }
    return inet_ntop(address->sa_family, bytes, buffer, (socklen_t)size) == NULL ? -1 : 0;
}

/// Milliseconds of CLOCK_MONOTONIC_COARSE: the receive deadlines' clock, read on every request,
/// where a few milliseconds of resolution are plenty and the coarse clock costs least (a plain
/// read of the kernel's last tick, no hardware counter). Why a shim: <time.h>'s clock ids are
/// macros Swift does not import as constants of this module, and one call keeps it cheap.
static inline uint64_t CMicroHTTPD_monotonic_ms(void)
{
    struct timespec now;
    if (clock_gettime(CLOCK_MONOTONIC_COARSE, &now) != 0) {
        return 0;
    }
    return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

/// Returns the heap's free pages to the system: glibc's malloc_trim(0), declared in <malloc.h>,
/// which no module Swift sees includes. Returns 1 when memory was released.
static inline int CMicroHTTPD_malloc_trim(void)
{
    return malloc_trim(0);
}

/// Socket flags that glibc declares as members of anonymous enums (MSG_*, SHUT_*, IPPROTO_*),
/// under names only this module declares.
///
/// The originals are a trap for Swift: <sys/socket.h> reaches the compiler through both Glibc and
/// this module, and which of the two a constant is attributed to depends on which module the
/// compiler happened to build first. A clean debug build then failed with "cannot find
/// 'MSG_NOSIGNAL' in scope" in a file importing only Glibc, while incremental and release builds
/// passed. Every socket flag the Swift code uses comes from here instead.
enum {
    CMicroHTTPD_MSG_NOSIGNAL = MSG_NOSIGNAL,
    CMicroHTTPD_MSG_DONTWAIT = MSG_DONTWAIT,
    CMicroHTTPD_MSG_PEEK = MSG_PEEK,
    CMicroHTTPD_MSG_CMSG_CLOEXEC = MSG_CMSG_CLOEXEC,
    CMicroHTTPD_SHUT_RDWR = SHUT_RDWR,
    CMicroHTTPD_IPPROTO_TCP = IPPROTO_TCP,
};

#endif
