/*
 * llwait — the LL-HLS load check of `make bench` (issue 6, "Proof"): N players blocked on one
 * rendition while a poster registers a part every 200 ms.
 *
 * One process, one clock (CLOCK_MONOTONIC) for the poster's 201s and the waiters' responses:
 *   - the main thread opens N keep-alive connections (epoll, non-blocking), then sends on each a
 *     blocking reload for the NEXT part (`playlist.m3u8?_HLS_msn=M&_HLS_part=P`, the live edge
 *     is given by --start-msn) and, on every complete response (Content-Length), records the
 *     time and at once asks for the part after it (part P+1, or part 0 of M+1 after the last);
 *   - the poster thread, on its own keep-alive connection, first primes --prime segments (parts
 *     and segment) so the playlist exists, waits until the server holds all N, then registers
 *     one part every --part-ms for --parts parts (and the segment right after each segment's
 *     last part), recording when each POST was written and when its 201 arrived. Just before
 *     each POST it reads `hls_blocking_requests_held` from /metrics and the server's VmRSS.
 *
 * Output: "LLWAIT ..." progress lines, one "RESULT key=value ..." line, and --csv with one line
 * per part (for looking at a run afterwards).
 *
 *   llwait --port P --stream S --rendition R --conns N --parts K [--start-msn M] [--prime 2]
 *          [--part-ms 200] [--parts-per-segment 10] [--server-pid PID] [--csv FILE]
 *          [--check-every 50] [--drain-ms 3000]
 *
 * Errors counted (all must be 0): non-200 answers (503 separately), socket errors/closes,
 * missing answers (a waiter that had not received a posted part --drain-ms after the last POST),
 * and content errors (every --check-every-th connection checks that the playlist lists the part
 * it waited for).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int g_port, g_conns = 5000, g_parts = 100, g_prime = 2, g_part_ms = 200, g_pps = 10;
static long g_start_msn = -1;
static int g_server_pid, g_check_every = 50, g_drain_ms = 3000, g_hold_wait_ms = 4000;
static const char *g_stream = "ll0", *g_rendition = "r720", *g_csv;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}
static void die(const char *what) {
    fprintf(stderr, "llwait: %s: %s\n", what, strerror(errno));
    exit(2);
}

/* ------------------------------------------------------------------ blocking HTTP (poster) */
static int connect_blocking(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0) die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(g_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect (poster)");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}
/* One request on a keep-alive connection; returns the status, body in *body (malloc'd). */
static int http(int fd, const char *method, const char *path, const char *json, char **body, size_t *blen) {
    char req[1024];
    int n = json ? snprintf(req, sizeof req,
                            "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
                            "Content-Length: %zu\r\n\r\n%s", method, path, g_port, strlen(json), json)
                 : snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", method, path, g_port);
    for (int off = 0; off < n;) {
        ssize_t w = write(fd, req + off, n - off);
        if (w <= 0) die("write (poster)");
        off += w;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 1 >= cap) buf = realloc(buf, cap *= 2);
        ssize_t r = read(fd, buf + len, cap - len - 1);
        if (r <= 0) die("read (poster)");
        len += r;
        buf[len] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (!end) continue;
        size_t hlen = end + 4 - buf, clen = 0;
        char *cl = strcasestr(buf, "\r\ncontent-length:");
        if (cl && cl < end) clen = strtoul(cl + 17, NULL, 10);
        if (len < hlen + clen) continue;
        int status = atoi(buf + 9);
        if (body) {
            *body = malloc(clen + 1);
            memcpy(*body, buf + hlen, clen);
            (*body)[clen] = 0;
            *blen = clen;
        }
        free(buf);
        return status;
    }
}
static long metric_value(int fd, const char *name) {
    char *body;
    size_t blen;
    if (http(fd, "GET", "/metrics", NULL, &body, &blen) != 200) { free(body); return -1; }
    long v = -1;
    size_t nl = strlen(name);
    for (char *p = body; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, nl) == 0 && (p[nl] == ' ' || p[nl] == '{')) {
            char *sp = strchr(p, ' ');
            if (sp) v = (long)strtod(sp + 1, NULL);
            break;
        }
    }
    free(body);
    return v;
}
static long server_rss_kib(void) {
    if (!g_server_pid) return -1;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", g_server_pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long v = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) v = strtol(line + 6, NULL, 10);
    fclose(f);
    return v;
}

/* ------------------------------------------------------------------ shared state */
typedef struct {
    double t_send, t_201;
    long held_before, rss_before;
    int status;
} part_t;
static part_t *g_partinfo;              /* [g_parts] */
static atomic_int g_posted;             /* parts whose 201 arrived */
static atomic_int g_poster_done, g_all_held, g_main_ready, g_abort;
static long g_held_at_start = -1, g_rss_base = -1, g_rss_held = -1, g_rss_max = -1;
static long g_held_min = -1, g_held_max = -1, g_held_full_parts, g_post_errors;

static void post_part(int fd, long msn, int part, int k) {
    char path[512], json[512];
    snprintf(path, sizeof path, "/streams/%s/renditions/%s/parts", g_stream, g_rendition);
    snprintf(json, sizeof json,
             "{\"sequence\":%ld,\"part\":%d,\"duration\":%.3f,\"path\":\"/ll/%ld.%d.m4s\",\"independent\":%s}",
             msn, part, g_part_ms / 1000.0, msn, part, part == 0 ? "true" : "false");
    double t0 = now_s();
    int st = http(fd, "POST", path, json, NULL, NULL);
    double t1 = now_s();
    if (k >= 0) {
        g_partinfo[k].t_send = t0;
        g_partinfo[k].t_201 = t1;
        g_partinfo[k].status = st;
    }
    if (st != 201) { g_post_errors++; fprintf(stderr, "llwait: part %ld.%d -> %d\n", msn, part, st); }
}
static void post_segment(int fd, long msn) {
    char path[512], json[512];
    snprintf(path, sizeof path, "/streams/%s/renditions/%s/segments", g_stream, g_rendition);
    snprintf(json, sizeof json, "{\"sequence\":%ld,\"duration\":%.3f,\"path\":\"/ll/%ld.m4s\"}", msn,
             g_part_ms * g_pps / 1000.0, msn);
    int st = http(fd, "POST", path, json, NULL, NULL);
    if (st != 201) { g_post_errors++; fprintf(stderr, "llwait: segment %ld -> %d\n", msn, st); }
}

static void *poster(void *arg) {
    (void)arg;
    int fd = connect_blocking(), mfd = connect_blocking();
    /* Wait for the main thread to have every request sent, then for the server to hold them. */
    while (!atomic_load(&g_main_ready) && !atomic_load(&g_abort)) usleep(1000);
    double t_wait = now_s();
    long held = -1;
    while (now_s() - t_wait < g_hold_wait_ms / 1000.0) {
        held = metric_value(mfd, "hls_blocking_requests_held");
        if (held >= g_conns) break;
        usleep(20000);
    }
    g_held_at_start = held;
    g_rss_held = server_rss_kib();
    printf("LLWAIT held gauge=%ld of %d after %.2f s; server VmRSS %ld KiB (before connecting %ld KiB)\n", held,
           g_conns, now_s() - t_wait, g_rss_held, g_rss_base);
    fflush(stdout);
    atomic_store(&g_all_held, 1);

    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (int k = 0; k < g_parts && !atomic_load(&g_abort); k++) {
        long msn = g_start_msn + k / g_pps;
        int part = k % g_pps;
        /* ~30 ms before the part is due: the held gauge and the server's resident memory. */
        next.tv_nsec += (long)g_part_ms * 1000000L - 30000000L;
        while (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; next.tv_sec++; }
        while (next.tv_nsec < 0) { next.tv_nsec += 1000000000L; next.tv_sec--; }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
        long h = metric_value(mfd, "hls_blocking_requests_held"), rss = server_rss_kib();
        g_partinfo[k].held_before = h;
        g_partinfo[k].rss_before = rss;
        if (g_held_min < 0 || h < g_held_min) g_held_min = h;
        if (h > g_held_max) g_held_max = h;
        if (h >= g_conns) g_held_full_parts++;
        if (rss > g_rss_max) g_rss_max = rss;
        next.tv_nsec += 30000000L;
        while (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; next.tv_sec++; }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
        post_part(fd, msn, part, k);
        atomic_store(&g_posted, k + 1);
        if (part == g_pps - 1) post_segment(fd, msn);
    }
    atomic_store(&g_poster_done, 1);
    close(fd);
    close(mfd);
    return NULL;
}

/* ------------------------------------------------------------------ the waiters */
enum { CONNECTING, IDLE, WAITING, DEAD };
typedef struct {
    int fd, state;
    long msn;
    int part;
    int got;          /* responses received */
    char *buf;
    size_t len, cap;
} conn_t;
typedef struct {
    double t;
    int k;
    int status;
} rec_t;
static conn_t *C;
static rec_t *R;
static size_t nrec, caprec;
static long err_status, err_503, err_socket, err_content, wakeups;

static void record(int k, double t, int status) {
    if (nrec == caprec) R = realloc(R, (caprec = caprec ? caprec * 2 : 1 << 16) * sizeof *R);
    R[nrec++] = (rec_t){t, k, status};
}
static int part_index(long msn, int part) { return (int)((msn - g_start_msn) * g_pps + part); }

static void send_reload(conn_t *c) {
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /streams/%s/renditions/%s/playlist.m3u8?_HLS_msn=%ld&_HLS_part=%d HTTP/1.1\r\n"
                     "Host: 127.0.0.1:%d\r\n\r\n", g_stream, g_rendition, c->msn, c->part, g_port);
    ssize_t w = send(c->fd, req, n, MSG_NOSIGNAL);
    if (w != n) { /* ~120 bytes on an idle socket: a short write means trouble */
        err_socket++;
        c->state = DEAD;
        close(c->fd);
        return;
    }
    c->state = WAITING;
}
static void kill_conn(conn_t *c) {
    if (c->state != DEAD) {
        err_socket++;
        c->state = DEAD;
        close(c->fd);
    }
}
/* Consumes complete responses from c->buf; returns 0 when the connection died. */
static int consume(conn_t *c, double t) {
    for (;;) {
        if (c->len < 12) return 1;
        char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (!end) return 1;
        size_t hlen = end + 4 - c->buf, clen = 0;
        char save = *end;
        *end = 0;
        char *cl = strcasestr(c->buf, "\r\ncontent-length:");
        if (cl) clen = strtoul(cl + 17, NULL, 10);
        int closes = strcasestr(c->buf, "\r\nconnection: close") != NULL;
        *end = save;
        if (c->len < hlen + clen) return 1;
        int status = atoi(c->buf + 9);
        int k = part_index(c->msn, c->part);
        if (c->state != WAITING) { kill_conn(c); return 0; } /* an answer nobody asked for */
        record(k, t, status);
        c->got++;
        if (status == 200) {
            wakeups++;
            if (g_check_every > 0 && (c - C) % g_check_every == 0) {
                char uri[128];
                int ul = snprintf(uri, sizeof uri, "\"/ll/%ld.%d.m4s\"", c->msn, c->part);
                if (!memmem(c->buf + hlen, clen, uri, ul)) err_content++;
            }
        } else if (status == 503) {
            err_503++;
        } else {
            err_status++;
        }
        memmove(c->buf, c->buf + hlen + clen, c->len - hlen - clen);
        c->len -= hlen + clen;
        if (closes) { kill_conn(c); return 0; }
        if (++c->part == g_pps) { c->part = 0; c->msn++; }
        c->state = IDLE;
        if (!atomic_load(&g_abort)) send_reload(c);
        if (c->state == DEAD) return 0;
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double pct(double *v, size_t n, double p) { /* nearest rank, v sorted */
    if (!n) return NAN;
    size_t i = (size_t)ceil(p * n);
    return v[i ? i - 1 : 0];
}

int main(int argc, char **argv) {
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--port")) g_port = atoi(v);
        else if (!strcmp(k, "--stream")) g_stream = v;
        else if (!strcmp(k, "--rendition")) g_rendition = v;
        else if (!strcmp(k, "--conns")) g_conns = atoi(v);
        else if (!strcmp(k, "--parts")) g_parts = atoi(v);
        else if (!strcmp(k, "--prime")) g_prime = atoi(v);
        else if (!strcmp(k, "--start-msn")) g_start_msn = atol(v);
        else if (!strcmp(k, "--part-ms")) g_part_ms = atoi(v);
        else if (!strcmp(k, "--parts-per-segment")) g_pps = atoi(v);
        else if (!strcmp(k, "--server-pid")) g_server_pid = atoi(v);
        else if (!strcmp(k, "--csv")) g_csv = v;
        else if (!strcmp(k, "--check-every")) g_check_every = atoi(v);
        else if (!strcmp(k, "--drain-ms")) g_drain_ms = atoi(v);
        else if (!strcmp(k, "--hold-wait-ms")) g_hold_wait_ms = atoi(v);
        else { fprintf(stderr, "llwait: unknown option %s\n", k); return 2; }
    }
    if (!g_port || g_conns < 1 || g_parts < 1 || g_pps < 1) { fprintf(stderr, "llwait: bad arguments\n"); return 2; }
    g_partinfo = calloc(g_parts, sizeof *g_partinfo);
    g_rss_base = server_rss_kib();

    /* Prime: --prime complete segments (parts 0..pps-1, then the segment), from --start-msn
     * minus --prime, so the waiters start at the live edge: part 0 of --start-msn. */
    if (g_start_msn < 0) g_start_msn = g_prime;
    {
        int fd = connect_blocking();
        for (long m = g_start_msn - g_prime; m < g_start_msn; m++) {
            for (int p = 0; p < g_pps; p++) post_part(fd, m, p, -1);
            post_segment(fd, m);
        }
        close(fd);
        if (g_post_errors) { fprintf(stderr, "llwait: priming failed\n"); return 2; }
    }

    /* Open every connection (paced: the server's listen backlog is finite). */
    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    C = calloc(g_conns, sizeof *C);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(g_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    double t_conn = now_s();
    struct epoll_event evs[1024];
    int connecting = 0, opened = 0, connected = 0;
    while (connected + err_socket < g_conns) {
        while (opened < g_conns && connecting < 256) {
            conn_t *c = &C[opened];
            c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (c->fd < 0) die("socket (waiter; is ulimit -n high enough?)");
            int one = 1;
            setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            c->msn = g_start_msn;
            c->part = 0;
            c->state = CONNECTING;
            struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.u32 = opened};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
            if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) die("connect");
            opened++;
            connecting++;
        }
        int n = epoll_wait(ep, evs, 1024, 1000);
        for (int i = 0; i < n; i++) {
            conn_t *c = &C[evs[i].data.u32];
            if (c->state != CONNECTING) {
                if (evs[i].events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP | EPOLLIN)) kill_conn(c);
                continue;
            }
            connecting--;
            int err = 0;
            socklen_t el = sizeof err;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
            if (err || (evs[i].events & (EPOLLERR | EPOLLHUP))) { kill_conn(c); continue; }
            c->state = IDLE;
            connected++;
            struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = evs[i].data.u32};
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
        if (now_s() - t_conn > 60) { fprintf(stderr, "llwait: connecting took over 60 s\n"); break; }
    }
    printf("LLWAIT connected=%d of %d in %.2f s (socket errors %ld)\n", connected, g_conns, now_s() - t_conn, err_socket);
    fflush(stdout);
    usleep(200000); /* let the server accept the last ones */

    pthread_t pt;
    pthread_create(&pt, NULL, poster, NULL);
    for (int i = 0; i < g_conns; i++)
        if (C[i].state == IDLE) send_reload(&C[i]);
    atomic_store(&g_main_ready, 1);

    static char rbuf[65536];
    double t_end = 0;
    for (;;) {
        int n = epoll_wait(ep, evs, 1024, 20);
        double t = now_s();
        for (int i = 0; i < n; i++) {
            conn_t *c = &C[evs[i].data.u32];
            if (c->state == DEAD) continue;
            for (;;) {
                ssize_t r = recv(c->fd, rbuf, sizeof rbuf, 0);
                if (r > 0) {
                    if (c->len + r > c->cap) {
                        c->cap = (c->len + r) * 2;
                        c->buf = realloc(c->buf, c->cap);
                    }
                    memcpy(c->buf + c->len, rbuf, r);
                    c->len += r;
                    if (!consume(c, t)) break;
                    if ((size_t)r < sizeof rbuf) break;
                } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                    kill_conn(c);
                    break;
                } else if (errno == EAGAIN) {
                    break;
                }
            }
        }
        if (atomic_load(&g_poster_done)) {
            if (t_end == 0) t_end = t;
            int behind = 0, posted = atomic_load(&g_posted);
            for (int i = 0; i < g_conns && !behind; i++)
                if (C[i].state != DEAD && part_index(C[i].msn, C[i].part) < posted) behind = 1;
            if (!behind || t - t_end > g_drain_ms / 1000.0) break;
        }
    }
    atomic_store(&g_abort, 1);
    pthread_join(pt, NULL);

    /* Close with RST (no TIME_WAIT on this side; the server sees a disconnect while held). */
    long still_open = 0, missing = 0;
    int posted = atomic_load(&g_posted);
    for (int i = 0; i < g_conns; i++) {
        conn_t *c = &C[i];
        if (c->state == DEAD) continue;
        still_open++;
        int idx = part_index(c->msn, c->part);
        if (idx < posted) missing += posted - idx;
        struct linger lg = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(c->fd);
    }

    /* Latencies. */
    double *last = calloc(posted, sizeof *last), *first = calloc(posted, sizeof *first);
    long *count = calloc(posted, sizeof *count);
    double *all = malloc((nrec + 1) * sizeof *all), *all_send = malloc((nrec + 1) * sizeof *all_send);
    size_t nall = 0;
    long before_201 = 0;
    for (size_t i = 0; i < nrec; i++) {
        int k = R[i].k;
        if (k < 0 || k >= posted || R[i].status != 200) continue;
        double d = R[i].t - g_partinfo[k].t_201;
        all_send[nall] = R[i].t - g_partinfo[k].t_send;
        all[nall++] = d;
        if (d < 0) before_201++;
        if (!count[k] || R[i].t > last[k]) last[k] = R[i].t;
        if (!count[k] || R[i].t < first[k]) first[k] = R[i].t;
        count[k]++;
    }
    double *plast = malloc((posted + 1) * sizeof *plast), *pspread = malloc((posted + 1) * sizeof *pspread);
    double *ppost = malloc((posted + 1) * sizeof *ppost);
    int np = 0;
    FILE *csv = g_csv ? fopen(g_csv, "w") : NULL;
    if (csv) fprintf(csv, "k,msn,part,post_status,held_before,server_rss_kib,post_rtt_ms,first_ms,last_ms,answers\n");
    for (int k = 0; k < posted; k++) {
        double rtt = (g_partinfo[k].t_201 - g_partinfo[k].t_send) * 1e3;
        ppost[k] = rtt;
        if (count[k]) {
            plast[np] = (last[k] - g_partinfo[k].t_201) * 1e3;
            pspread[np++] = (last[k] - first[k]) * 1e3;
        }
        if (csv)
            fprintf(csv, "%d,%ld,%d,%d,%ld,%ld,%.3f,%.3f,%.3f,%ld\n", k, g_start_msn + k / g_pps, k % g_pps,
                    g_partinfo[k].status, g_partinfo[k].held_before, g_partinfo[k].rss_before, rtt,
                    count[k] ? (first[k] - g_partinfo[k].t_201) * 1e3 : NAN,
                    count[k] ? (last[k] - g_partinfo[k].t_201) * 1e3 : NAN, count[k]);
    }
    if (csv) fclose(csv);
    qsort(plast, np, sizeof *plast, cmp_double);
    qsort(pspread, np, sizeof *pspread, cmp_double);
    qsort(ppost, posted, sizeof *ppost, cmp_double);
    qsort(all, nall, sizeof *all, cmp_double);
    qsort(all_send, nall, sizeof *all_send, cmp_double);
    for (size_t i = 0; i < nall; i++) { all[i] *= 1e3; all_send[i] *= 1e3; }

    printf("RESULT conns=%d connected=%d parts=%d posted=%d post_errors=%ld held_at_start=%ld "
           "held_min=%ld held_max=%ld held_full_parts=%ld rss_base_kib=%ld rss_held_kib=%ld rss_max_kib=%ld "
           "wakeups=%ld expected=%ld err_status=%ld err_503=%ld err_socket=%ld err_missing=%ld err_content=%ld "
           "still_open=%ld checked_every=%d "
           "last_p50_ms=%.1f last_p99_ms=%.1f last_max_ms=%.1f "
           "spread_p50_ms=%.1f spread_max_ms=%.1f "
           "all_p50_ms=%.1f all_p99_ms=%.1f all_max_ms=%.1f all_min_ms=%.1f before_201=%ld "
           "send_p50_ms=%.1f send_p99_ms=%.1f post_rtt_p50_ms=%.2f post_rtt_max_ms=%.2f\n",
           g_conns, connected, g_parts, posted, g_post_errors, g_held_at_start, g_held_min, g_held_max,
           g_held_full_parts, g_rss_base, g_rss_held, g_rss_max, wakeups, (long)connected * posted,
           err_status, err_503, err_socket, missing, err_content, still_open, g_check_every,
           pct(plast, np, .5), pct(plast, np, .99), np ? plast[np - 1] : NAN, pct(pspread, np, .5),
           np ? pspread[np - 1] : NAN, pct(all, nall, .5), pct(all, nall, .99), nall ? all[nall - 1] : NAN,
           nall ? all[0] : NAN, before_201, pct(all_send, nall, .5), pct(all_send, nall, .99),
           pct(ppost, posted, .5), posted ? ppost[posted - 1] : NAN);
    return 0;
}
