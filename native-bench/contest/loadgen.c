// The contest replica's load generator in C, so that what it measures is the server and not the
// generator: k6's ramping-VUs shape as loadgen-worker.ts has it (VUs 1 → users over the run, each
// a closed loop on its own keep-alive connection: POST /payments with a fresh uuid v4, then sleep
// 1 s after the answer; a request unanswered after the timeout fails and its connection is closed
// and opened again). One thread, epoll, one non-blocking TCP socket per VU (TCP_NODELAY). Every
// sleep and every timeout is as long as the others, so starts, wake-ups and deadlines each come
// in the order they were set: three FIFO queues, and epoll_wait sleeps until the earliest.
// A request's duration runs from just before its first byte is written (after the connection is
// open, as k6's http_req_duration) to the read that brought its answer's last byte (CLOCK_MONOTONIC).
//
// usage: loadgen <host> <port> <host-header> <path> <users> <duration_s> <timeout_ms> <amount>
//                <t0_monotonic_ns> <records_file> [<ids_file>]
// stdout: a line per second "T t vus target_vus started ok fail total n d1 … dn" (the durations of
// that second's accepted requests, ms), then "D count cpu_ms". records_file: count f64 start ms
// (since t0), count f64 durations ms, count i16 statuses (0 = timeout or connection error).
// ids_file: the correlationId of every accepted request, one a line.
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SLEEP_NS 1000000000LL // the official script's sleep(1) after each POST
#define HEAD_MAX 8192         // an answer's head longer than this fails the request
#define MAX_EVENTS 256
#define REQ_MAX 512

// Where a VU's request stands.
enum { V_IDLE, V_CONNECTING, V_WRITING, V_HEAD, V_BODY, V_UNTIL_CLOSE, V_CHUNK_SIZE, V_CHUNK_DATA, V_CHUNK_CRLF, V_TRAILER };

typedef struct {
  int fd;
  uint32_t gen; // bumped per socket: an event for a closed socket is recognised and dropped
  uint32_t seq; // requests sent: a deadline for an earlier one is stale
  uint8_t state, closing, chunk_ext, want_out;
  int status, iterations;
  int64_t sent_ns, deadline_ns;
  int64_t left; // body or chunk bytes still to come
  int line_len;
  int head_len, req_len, req_off;
  char id[37];
  char req[REQ_MAX];
  char head[HEAD_MAX + 1];
} Vu;

// A FIFO of (vu, seq, at) that grows by doubling.
typedef struct {
  int *vu;
  uint32_t *seq;
  int64_t *at;
  size_t head, len, cap;
} Queue;

static Vu *vus;
static int users, ep;
static double duration_s;
static int64_t t0, end_at, timeout_ns;
static const char *host_header, *path, *amount;
static struct sockaddr_storage addr;
static socklen_t addr_len;
static Queue sleepers, deadlines;
static int next_start, active_vus, ended_vus;
static uint8_t *ended;
// Every request's record, in the order they ended.
static size_t capacity, count, issued;
static double *rec_start, *rec_dur;
static int16_t *rec_status;
static FILE *ids_out;
// This second's progress.
static double *tick_dur;
static size_t tick_cap, tick_n;
static int tick_ok, tick_fail, tick_started;

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void *must_alloc(size_t n) {
  void *p = calloc(1, n ? n : 1);
  if (!p) die("calloc");
  return p;
}

static void q_push(Queue *q, int vu, uint32_t seq, int64_t at) {
  if (q->len == q->cap) {
    size_t cap = q->cap ? q->cap * 2 : 1024;
    int *v = must_alloc(cap * sizeof *v);
    uint32_t *s = must_alloc(cap * sizeof *s);
    int64_t *a = must_alloc(cap * sizeof *a);
    for (size_t k = 0; k < q->len; k++) {
      size_t i = (q->head + k) % (q->cap ? q->cap : 1);
      v[k] = q->vu[i], s[k] = q->seq[i], a[k] = q->at[i];
    }
    free(q->vu), free(q->seq), free(q->at);
    q->vu = v, q->seq = s, q->at = a, q->head = 0, q->cap = cap;
  }
  size_t i = (q->head + q->len) % q->cap;
  q->vu[i] = vu, q->seq[i] = seq, q->at[i] = at;
  q->len++;
}

static void q_pop(Queue *q) {
  q->head = (q->head + 1) % q->cap;
  q->len--;
}

// A uuid v4 from the kernel's random bytes, drawn 4 KiB at a time.
static void uuid_v4(char out[37]) {
  static uint8_t pool[4096];
  static size_t at = sizeof pool;
  if (at + 16 > sizeof pool) {
    for (size_t got = 0; got < sizeof pool;) {
      ssize_t n = getrandom(pool + got, sizeof pool - got, 0);
      if (n < 0 && errno != EINTR) die("getrandom");
      if (n > 0) got += (size_t)n;
    }
    at = 0;
  }
  uint8_t *b = pool + at;
  at += 16;
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  static const char hex[] = "0123456789abcdef";
  int o = 0;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
    out[o++] = hex[b[i] >> 4];
    out[o++] = hex[b[i] & 15];
  }
  out[o] = 0;
}

static int accepted(int status) { return status == 200 || status == 201 || status == 202 || status == 204; }

static void end_vu(int vu) {
  if (ended[vu]) return;
  ended[vu] = 1;
  active_vus--;
  ended_vus++;
}

static void close_socket(Vu *v) {
  if (v->fd < 0) return;
  close(v->fd); // also leaves the epoll set
  v->fd = -1;
  v->gen++;
}

// The request ended (status 0: timeout or connection error): record it, then sleep or end the VU.
static void finish(int vu, int status, int64_t end) {
  Vu *v = &vus[vu];
  double d = (double)(end - v->sent_ns) / 1e6;
  size_t i = count++;
  rec_start[i] = (double)(v->sent_ns - t0) / 1e6;
  rec_dur[i] = d;
  rec_status[i] = (int16_t)status;
  if (accepted(status)) {
    tick_ok++;
    if (tick_n < tick_cap) tick_dur[tick_n++] = d;
    if (ids_out) fprintf(ids_out, "%s\n", v->id);
  } else
    tick_fail++;
  if (v->closing || status == 0) close_socket(v); // the server closes it, or it is broken or late
  v->state = V_IDLE;
  v->closing = 0;
  // Bounded: at most one iteration per second until the end of the ramp.
  if (end >= end_at || v->iterations >= (int)duration_s + 2) {
    end_vu(vu);
    return;
  }
  int64_t wake = end + SLEEP_NS;
  q_push(&sleepers, vu, 0, wake < end_at ? wake : end_at);
}

static void set_events(Vu *v, int vu, int want_out) {
  if (v->want_out == want_out) return;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (want_out ? EPOLLOUT : 0), .data.u64 = (uint64_t)vu | ((uint64_t)v->gen << 32)};
  if (epoll_ctl(ep, EPOLL_CTL_MOD, v->fd, &ev) != 0) die("epoll_ctl");
  v->want_out = (uint8_t)want_out;
}

static void write_request(int vu) {
  Vu *v = &vus[vu];
  if (v->req_off == 0) v->sent_ns = now_ns();
  ssize_t n = send(v->fd, v->req + v->req_off, (size_t)(v->req_len - v->req_off), MSG_NOSIGNAL);
  if (n < 0 && errno != EAGAIN && errno != EINTR) {
    finish(vu, 0, now_ns());
    return;
  }
  if (n > 0) v->req_off += (int)n;
  if (v->req_off < v->req_len) {
    v->state = V_WRITING;
    set_events(v, vu, 1);
    return;
  }
  v->state = V_HEAD;
  v->head_len = 0;
  set_events(v, vu, 0);
}

static int open_socket(int vu) {
  Vu *v = &vus[vu];
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  v->fd = fd;
  v->want_out = 1;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLOUT, .data.u64 = (uint64_t)vu | ((uint64_t)v->gen << 32)};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
  if (connect(fd, (struct sockaddr *)&addr, addr_len) == 0) return 1;
  return errno == EINPROGRESS ? 0 : -1;
}

// One iteration of the VU: a fresh payment on its connection (opened first when it has none).
static void send_payment(int vu) {
  Vu *v = &vus[vu];
  if (issued >= capacity) {
    end_vu(vu);
    return;
  }
  issued++;
  uuid_v4(v->id);
  char body[160];
  int bl = snprintf(body, sizeof body, "{\"correlationId\":\"%s\",\"amount\":%s}", v->id, amount);
  v->req_len = snprintf(v->req, REQ_MAX, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", path,
                        host_header, bl, body);
  v->req_off = 0;
  v->iterations++;
  v->seq++;
  tick_started++;
  int64_t now = now_ns();
  v->sent_ns = now; // until the connection is open: a request that never got one failed from here
  v->deadline_ns = now + timeout_ns;
  q_push(&deadlines, vu, v->seq, v->deadline_ns);
  if (v->fd >= 0) {
    write_request(vu);
    return;
  }
  int opened = open_socket(vu);
  if (opened < 0) finish(vu, 0, now_ns());
  else if (opened == 0) v->state = V_CONNECTING;
  else write_request(vu);
}

// Status line and the headers that say where the body ends. 0 when the head is not HTTP.
static int read_head(Vu *v, int end) {
  char *h = v->head;
  if (end < 12 || memcmp(h, "HTTP/1.", 7) != 0) return 0;
  int status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
  if (status < 100 || status > 599) return 0;
  v->status = status;
  h[end] = 0;
  for (char *c = h; *c; c++) *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
  int64_t length = -1;
  int chunked = 0;
  v->closing = h[7] == '0' ? 1 : 0; // HTTP/1.0 closes unless it says keep-alive
  for (char *line = strstr(h, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
    char *name = line + 2, *eol = strstr(name, "\r\n");
    if (eol) *eol = 0;
    if (strncmp(name, "content-length:", 15) == 0) length = strtoll(name + 15, NULL, 10);
    else if (strncmp(name, "transfer-encoding:", 18) == 0) chunked = strstr(name, "chunked") != NULL;
    else if (strncmp(name, "connection:", 11) == 0) v->closing = strstr(name, "close") != NULL;
    if (!eol) break;
    *eol = '\r';
  }
  if (status == 204 || status == 304 || status < 200) v->state = V_BODY, v->left = 0;
  else if (chunked) v->state = V_CHUNK_SIZE, v->left = 0, v->chunk_ext = 0;
  else if (length >= 0) v->state = V_BODY, v->left = length;
  else v->state = V_UNTIL_CLOSE, v->closing = 1;
  return 1;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Body bytes; 1 when the answer is complete.
static int read_body(Vu *v, const char *p, size_t n) {
  for (;;) {
    switch (v->state) {
    case V_BODY: {
      int64_t take = (int64_t)n < v->left ? (int64_t)n : v->left;
      v->left -= take;
      return v->left == 0;
    }
    case V_UNTIL_CLOSE:
      return 0;
    case V_CHUNK_DATA: {
      int64_t take = (int64_t)n < v->left ? (int64_t)n : v->left;
      v->left -= take, p += take, n -= (size_t)take;
      if (v->left > 0) return 0;
      v->state = V_CHUNK_CRLF;
      break;
    }
    default: { // a chunk's size line, the CRLF after its data, or a trailer line: one byte at a time
      if (n == 0) return 0;
      char c = *p++;
      n--;
      if (v->state == V_CHUNK_SIZE) {
        int x = hex_value(c);
        if (c == '\n') {
          v->state = v->left == 0 ? V_TRAILER : V_CHUNK_DATA;
          v->line_len = 0;
        } else if (c == ';') v->chunk_ext = 1;
        else if (x >= 0 && !v->chunk_ext) v->left = v->left * 16 + x;
      } else if (v->state == V_CHUNK_CRLF) {
        if (c == '\n') v->state = V_CHUNK_SIZE, v->left = 0, v->chunk_ext = 0;
      } else if (c == '\n') {
        if (v->line_len == 0) return 1; // the empty line after the last chunk
        v->line_len = 0;
      } else if (c != '\r') v->line_len++;
    }
    }
  }
}

// Bytes for a request in flight (bytes nobody asked for are dropped).
static void on_bytes(int vu, const char *p, size_t n, int64_t now) {
  Vu *v = &vus[vu];
  if (v->state == V_HEAD) {
    size_t from = v->head_len >= 3 ? (size_t)v->head_len - 3 : 0;
    size_t take = n < (size_t)(HEAD_MAX - v->head_len) ? n : (size_t)(HEAD_MAX - v->head_len);
    memcpy(v->head + v->head_len, p, take);
    v->head_len += (int)take;
    v->head[v->head_len] = 0;
    char *end = memmem(v->head + from, (size_t)v->head_len - from, "\r\n\r\n", 4);
    if (!end) {
      if (v->head_len >= HEAD_MAX) finish(vu, 0, now);
      return;
    }
    int at = (int)(end - v->head);
    int body = v->head_len - at - 4; // body bytes already read, after the head in this buffer
    size_t rest = n - take;          // and those that did not fit in the head buffer
    if (!read_head(v, at)) {
      finish(vu, 0, now);
      return;
    }
    if (read_body(v, v->head + at + 4, (size_t)body) || (rest > 0 && read_body(v, p + take, rest))) finish(vu, v->status, now);
    return;
  }
  if (v->state >= V_BODY && read_body(v, p, n)) finish(vu, v->status, now);
}

static void on_event(struct epoll_event *e) {
  int vu = (int)(e->data.u64 & 0xffffffffu);
  Vu *v = &vus[vu];
  if ((uint32_t)(e->data.u64 >> 32) != v->gen || v->fd < 0) return; // a socket closed since
  if (v->state == V_CONNECTING) {
    int err = 0;
    socklen_t len = sizeof err;
    if (!(e->events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    if (getsockopt(v->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      finish(vu, 0, now_ns());
      return;
    }
    write_request(vu);
    return;
  }
  if (v->state == V_WRITING && (e->events & EPOLLOUT)) write_request(vu);
  if (!(e->events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) || v->fd < 0) return;
  static char buf[65536];
  ssize_t n = recv(v->fd, buf, sizeof buf, 0);
  int64_t now = now_ns();
  if (n > 0) {
    if (v->state >= V_HEAD) on_bytes(vu, buf, (size_t)n, now);
    return;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  // The connection ended: an answer read to its close is complete; one cut short failed.
  if (v->state == V_UNTIL_CLOSE) finish(vu, v->status, now);
  else if (v->state != V_IDLE) finish(vu, 0, now);
  else close_socket(v);
}

static int64_t start_at(int vu) { return t0 + (users > 1 ? (int64_t)((double)vu * duration_s * 1e9 / (users - 1)) : 0); }

static int vus_at(double t_s) {
  if (t_s >= duration_s) return 0;
  if (users <= 1) return 1;
  int n = 1 + (int)(((users - 1) * t_s) / duration_s);
  return n < users ? n : users;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) die("write");
    p += w, n -= (size_t)w;
  }
}

static void send_tick(int second) {
  static char *line;
  static size_t line_cap;
  size_t need = 128 + tick_n * 16;
  if (need > line_cap) {
    free(line);
    line_cap = need * 2;
    line = must_alloc(line_cap);
  }
  qsort(tick_dur, tick_n, sizeof(double), cmp_double);
  int o = snprintf(line, line_cap, "T %d %d %d %d %d %d %zu %zu", second, active_vus, vus_at(second), tick_started, tick_ok, tick_fail, count, tick_n);
  for (size_t i = 0; i < tick_n; i++) o += snprintf(line + o, line_cap - (size_t)o, " %.4f", tick_dur[i]);
  line[o++] = '\n';
  write_all(1, line, (size_t)o);
  tick_n = 0, tick_ok = 0, tick_fail = 0, tick_started = 0;
}

// Starts the VUs whose time has come, wakes the sleepers whose second is over, fails the requests
// past their deadline. Returns when the next of these is due.
static int64_t run_due(int64_t now) {
  while (next_start < users && start_at(next_start) <= now) {
    int vu = next_start++;
    if (now >= end_at) {
      ended[vu] = 1;
      ended_vus++;
      continue;
    }
    active_vus++;
    send_payment(vu);
  }
  while (sleepers.len > 0 && sleepers.at[sleepers.head] <= now) {
    int vu = sleepers.vu[sleepers.head];
    q_pop(&sleepers);
    if (now < end_at) send_payment(vu);
    else end_vu(vu);
  }
  while (deadlines.len > 0) {
    size_t i = deadlines.head;
    Vu *v = &vus[deadlines.vu[i]];
    int waiting = v->state != V_IDLE && v->seq == deadlines.seq[i];
    if (waiting && deadlines.at[i] > now) break;
    int vu = deadlines.vu[i];
    q_pop(&deadlines);
    if (waiting) finish(vu, 0, now);
  }
  int64_t next = INT64_MAX;
  if (next_start < users) next = start_at(next_start);
  if (sleepers.len > 0 && sleepers.at[sleepers.head] < next) next = sleepers.at[sleepers.head];
  if (deadlines.len > 0 && deadlines.at[deadlines.head] < next) next = deadlines.at[deadlines.head];
  return next;
}

static void resolve_target(const char *host, const char *port) {
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
  int rc = getaddrinfo(host, port, &hints, &res);
  if (rc != 0) {
    fprintf(stderr, "loadgen: %s:%s: %s\n", host, port, gai_strerror(rc));
    exit(2);
  }
  memcpy(&addr, res->ai_addr, res->ai_addrlen);
  addr_len = res->ai_addrlen;
  freeaddrinfo(res);
}

static double cpu_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void write_records(const char *file) {
  FILE *f = fopen(file, "wb");
  if (!f) die(file);
  if (fwrite(rec_start, sizeof(double), count, f) != count || fwrite(rec_dur, sizeof(double), count, f) != count ||
      fwrite(rec_status, sizeof(int16_t), count, f) != count || fclose(f) != 0)
    die(file);
}

static void setup(char **argv, int argc) {
  resolve_target(argv[1], argv[2]);
  host_header = argv[3];
  path = argv[4];
  users = atoi(argv[5]);
  duration_s = atof(argv[6]);
  timeout_ns = (int64_t)(atof(argv[7]) * 1e6);
  amount = argv[8];
  t0 = strtoll(argv[9], NULL, 10);
  if (users < 1 || !(duration_s > 0) || timeout_ns <= 0 || strlen(path) > 200 || strlen(host_header) > 200 || strlen(amount) > 40) {
    fprintf(stderr, "loadgen: bad arguments\n");
    exit(2);
  }
  end_at = t0 + (int64_t)(duration_s * 1e9);
  capacity = (size_t)users * ((size_t)duration_s + 3); // ≤ 1 request per VU per second
  rec_start = must_alloc(capacity * sizeof(double));
  rec_dur = must_alloc(capacity * sizeof(double));
  rec_status = must_alloc(capacity * sizeof(int16_t));
  tick_cap = (size_t)users * 4;
  tick_dur = must_alloc(tick_cap * sizeof(double));
  vus = must_alloc((size_t)users * sizeof(Vu));
  ended = must_alloc((size_t)users);
  for (int i = 0; i < users; i++) vus[i].fd = -1;
  if (argc > 11 && !(ids_out = fopen(argv[11], "w"))) die(argv[11]);
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
}

int main(int argc, char **argv) {
  if (argc < 11) {
    fprintf(stderr, "usage: %s <host> <port> <host-header> <path> <users> <duration_s> <timeout_ms> <amount> <t0_monotonic_ns> <records_file> [<ids_file>]\n", argv[0]);
    return 2;
  }
  prctl(PR_SET_NAME, "loadgen"); // as the Node generator's thread: `top -H` and bench:sched tell it apart
  setup(argv, argc);
  struct timespec start = {.tv_sec = t0 / 1000000000LL, .tv_nsec = t0 % 1000000000LL};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &start, NULL) == EINTR) {
  }
  double cpu_at_start = cpu_ms();
  int second = 0;
  struct epoll_event events[MAX_EVENTS];
  for (;;) {
    int64_t now = now_ns();
    int64_t next = run_due(now);
    while (now >= t0 + (int64_t)(second + 1) * 1000000000LL) send_tick(++second);
    if (next_start >= users && ended_vus == users) break;
    int64_t tick_at = t0 + (int64_t)(second + 1) * 1000000000LL;
    if (tick_at < next) next = tick_at;
    int64_t wait = next - now_ns();
    int timeout_ms = wait <= 0 ? 0 : (int)((wait + 999999) / 1000000);
    int n = epoll_wait(ep, events, MAX_EVENTS, timeout_ms);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; i++) on_event(&events[i]);
  }
  double cpu = cpu_ms() - cpu_at_start;
  for (int i = 0; i < users; i++) close_socket(&vus[i]);
  write_records(argv[10]);
  if (ids_out && fclose(ids_out) != 0) die(argv[11]);
  char done[96];
  int o = snprintf(done, sizeof done, "D %zu %.3f\n", count, cpu);
  write_all(1, done, (size_t)o);
  return 0;
}
