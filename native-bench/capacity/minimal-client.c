// The smallest client that can measure a server: one blocking keep-alive connection, POSTs paced
// at a fixed rate with clock_nanosleep, each answer read to its Content-Length, the round trip
// timed with CLOCK_MONOTONIC. What a load generator's own cost adds shows against it.
// usage: minimal-client <host> <port> <rate_per_s> <duration_s>
// prints one JSON line: requests, errors, p50/p99/p999/max in ms, the process's CPU per request.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int connect_to(const char *host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, host, &sa.sin_addr);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Reads one answer; returns its status or 0.
static int read_answer(int fd) {
  static char buf[65536];
  int have = 0;
  for (;;) {
    ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
    if (n <= 0) return 0;
    have += n;
    buf[have] = 0;
    char *end = strstr(buf, "\r\n\r\n");
    if (!end) continue;
    long length = 0;
    for (char *line = strstr(buf, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
      if (strncasecmp(line + 2, "content-length:", 15) == 0) length = strtol(line + 17, NULL, 10);
    }
    while (have < (end - buf) + 4 + length) {
      n = read(fd, buf + have, sizeof buf - 1 - have);
      if (n <= 0) return 0;
      have += n;
    }
    return atoi(buf + 9);
  }
}

int main(int argc, char **argv) {
  if (argc != 5) { fprintf(stderr, "usage: %s <host> <port> <rate_per_s> <duration_s>\n", argv[0]); return 2; }
  const char *host = argv[1];
  int port = atoi(argv[2]);
  double rate = atof(argv[3]);
  int total = (int)(rate * atof(argv[4]));
  if (rate <= 0 || total <= 0) return 2;
  double *lat = malloc(sizeof(double) * total);
  int fd = connect_to(host, port);
  if (fd < 0) { perror("connect"); return 1; }
  int errors = 0, n = 0;
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  long step_ns = (long)(1e9 / rate);
  char req[512], body[128];
  for (int i = 0; i < total; i++) {
    next.tv_nsec += step_ns;
    while (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; next.tv_sec++; }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    int bl = snprintf(body, sizeof body, "{\"correlationId\":\"00000000-0000-4000-8000-%012d\",\"amount\":19.9}", i);
    int rl = snprintf(req, sizeof req, "POST /payments HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", host, port, bl, body);
    double t0 = now_ms();
    if (write(fd, req, rl) != rl) { errors++; close(fd); fd = connect_to(host, port); continue; }
    int status = read_answer(fd);
    double d = now_ms() - t0;
    if (status < 200 || status >= 300) { errors++; if (status == 0) { close(fd); fd = connect_to(host, port); } continue; }
    lat[n++] = d;
  }
  qsort(lat, n, sizeof(double), cmp);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu_us = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
  #define Q(p) (n ? lat[(int)((p) * (n - 1))] : 0)
  printf("{\"requests\":%d,\"errors\":%d,\"p50\":%.4f,\"p99\":%.4f,\"p999\":%.4f,\"max\":%.4f,\"cpu_us_per_request\":%.2f}\n", n, errors, Q(0.5), Q(0.99), Q(0.999), n ? lat[n - 1] : 0, cpu_us / (n + errors));
  return 0;
}
