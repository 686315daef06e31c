// floor: the ceiling for this stack — libmicrohttpd serving one fixed playlist, nothing else.
//
// Same daemon as the service (flags and options are passed in by bench/bench.sh, which reads
// them from Sources/MicroHTTPD/MicroHTTPServer.swift and the service's defaults), one MHD
// response created once at start-up and queued for every request, answered on the second
// access-handler call like the service (a response queued on the first call closes the
// connection). Every URL gets the same bytes, so the same wrk script drives it.
//
//   floor PORT BODY_FILE HEADERS_FILE FLAGS THREADS CONN_LIMIT PER_IP_LIMIT TIMEOUT_S MEM_LIMIT BACKLOG
//
// FLAGS: MHD_USE_* / MHD_ALLOW_* names joined by '|'. HEADERS_FILE: "Name: value" lines added
// to the response (the service's own headers, captured from a real GET). Prints
// "floor listening on PORT" once the daemon is up; stops on SIGTERM/SIGINT.
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <microhttpd.h>

static struct MHD_Response *response;
static char marker;  // con_cls value meaning "the first call has happened"

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)cls; (void)url; (void)method; (void)version; (void)upload_data;
    if (*con_cls == NULL) {  // first call: headers only
        *con_cls = &marker;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {  // a body: ignore it
        *upload_data_size = 0;
        return MHD_YES;
    }
    return MHD_queue_response(connection, MHD_HTTP_OK, response);
}

// The service registers a completion callback; the floor registers an empty one so that MHD
// does the same bookkeeping.
static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls; (void)connection; (void)toe;
    *con_cls = NULL;
}

static unsigned int parse_flags(const char *text)
{
    static const struct { const char *name; unsigned int value; } known[] = {
        { "MHD_USE_INTERNAL_POLLING_THREAD", MHD_USE_INTERNAL_POLLING_THREAD },
        { "MHD_USE_EPOLL", MHD_USE_EPOLL },
        { "MHD_USE_EPOLL_INTERNAL_THREAD", MHD_USE_EPOLL_INTERNAL_THREAD },
        { "MHD_USE_POLL", MHD_USE_POLL },
        { "MHD_USE_POLL_INTERNAL_THREAD", MHD_USE_POLL_INTERNAL_THREAD },
        { "MHD_USE_AUTO", MHD_USE_AUTO },
        { "MHD_USE_AUTO_INTERNAL_THREAD", MHD_USE_AUTO_INTERNAL_THREAD },
        { "MHD_USE_THREAD_PER_CONNECTION", MHD_USE_THREAD_PER_CONNECTION },
        { "MHD_ALLOW_SUSPEND_RESUME", MHD_ALLOW_SUSPEND_RESUME },
        { "MHD_USE_ITC", MHD_USE_ITC },
        { "MHD_USE_TURBO", MHD_USE_TURBO },
        { "MHD_USE_TCP_FASTOPEN", MHD_USE_TCP_FASTOPEN },
        { "MHD_ALLOW_UPGRADE", MHD_ALLOW_UPGRADE },
        { "MHD_USE_ERROR_LOG", MHD_USE_ERROR_LOG },
        { "MHD_USE_IPv6", MHD_USE_IPv6 },
        { "MHD_USE_PEDANTIC_CHECKS", MHD_USE_PEDANTIC_CHECKS },
        { "MHD_USE_INSECURE_TLS_EARLY_DATA", MHD_USE_INSECURE_TLS_EARLY_DATA },
        { "MHD_USE_NO_LISTEN_SOCKET", MHD_USE_NO_LISTEN_SOCKET },
    };
    unsigned int flags = 0;
    char *copy = strdup(text);
    for (char *name = strtok(copy, "| \t"); name != NULL; name = strtok(NULL, "| \t")) {
        size_t i;
        for (i = 0; i < sizeof known / sizeof known[0]; i++) {
            if (strcmp(name, known[i].name) == 0) { flags |= known[i].value; break; }
        }
        if (i == sizeof known / sizeof known[0]) {
            fprintf(stderr, "floor: unknown daemon flag %s\n", name);
            exit(2);
        }
    }
    free(copy);
    return flags;
}

static char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) { perror(path); exit(2); }
    size_t capacity = 1 << 16, used = 0;
    char *data = malloc(capacity);
    size_t n;
    while ((n = fread(data + used, 1, capacity - used, f)) > 0) {
        used += n;
        if (used == capacity) { capacity *= 2; data = realloc(data, capacity); }
    }
    fclose(f);
    *size = used;
    return data;
}

static volatile sig_atomic_t stopping;
static void on_signal(int sig) { (void)sig; stopping = 1; }

int main(int argc, char **argv)
{
    if (argc != 11) {
        fprintf(stderr, "usage: %s PORT BODY_FILE HEADERS_FILE FLAGS THREADS CONN_LIMIT "
                        "PER_IP_LIMIT TIMEOUT_S MEM_LIMIT BACKLOG\n", argv[0]);
        return 2;
    }
    uint16_t port = (uint16_t)atoi(argv[1]);
    size_t body_size;
    char *body = read_file(argv[2], &body_size);
    unsigned int flags = parse_flags(argv[4]);
    unsigned int threads = (unsigned int)strtoul(argv[5], NULL, 10);

    response = MHD_create_response_from_buffer(body_size, body, MHD_RESPMEM_PERSISTENT);
    size_t headers_size;
    char *headers = read_file(argv[3], &headers_size);
    headers = realloc(headers, headers_size + 1);
    headers[headers_size] = '\0';
    for (char *line = strtok(headers, "\r\n"); line != NULL; line = strtok(NULL, "\r\n")) {
        char *colon = strchr(line, ':');
        if (colon == NULL) continue;
        *colon = '\0';
        char *value = colon + 1;
        while (*value == ' ') value++;
        if (MHD_add_response_header(response, line, value) != MHD_YES) {
            fprintf(stderr, "floor: cannot add header %s\n", line);
            return 2;
        }
    }

    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_OptionItem items[] = {
        { MHD_OPTION_SOCK_ADDR, 0, &address },
        { MHD_OPTION_CONNECTION_LIMIT, (intptr_t)strtoul(argv[6], NULL, 10), NULL },
        { MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)strtoul(argv[7], NULL, 10), NULL },
        { MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)strtoul(argv[8], NULL, 10), NULL },
        { MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)strtoul(argv[9], NULL, 10), NULL },
        { MHD_OPTION_LISTEN_BACKLOG_SIZE, (intptr_t)strtoul(argv[10], NULL, 10), NULL },
        { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL },
        { threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, (intptr_t)threads, NULL },
        { MHD_OPTION_END, 0, NULL },
    };
    struct MHD_Daemon *daemon = MHD_start_daemon(flags, port, NULL, NULL, on_request, NULL,
                                                 MHD_OPTION_ARRAY, items, MHD_OPTION_END);
    if (daemon == NULL) {
        fprintf(stderr, "floor: MHD_start_daemon failed on port %u\n", port);
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("floor listening on %u (%zu body bytes, flags 0x%x, %u threads)\n",
           port, body_size, flags, threads);
    fflush(stdout);
    while (!stopping) pause();
    MHD_stop_daemon(daemon);
    MHD_destroy_response(response);
    return 0;
}
