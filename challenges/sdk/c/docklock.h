/*
 * docklock challenge SDK for C: one header for Debian's clang `--target=wasm32-wasi` + wasi-libc.
 *
 *   #include "docklock.h"      (clang -I challenges/sdk/c)
 *
 * Reading the submission, seeded random bytes, virtual time, recorded HTTP (grant `net`), nested
 * submission calls (grant `nested`), logging (grant `log`), challenge state (grant `state`) and
 * writing the score. Everything is
 * `static inline`, so a challenge links only what it uses (an unused docklock import never appears).
 * ABI: spec/network.md (http), spec/nested.md (nested), challenges/README.md (the contract).
 */
#ifndef DOCKLOCK_H
#define DOCKLOCK_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wasi/api.h>

#define DL_SUBMISSION_PATH "/input/submission"
#define DL_SCORE_PATH "/output/score.json"

/* ---- imports (module "docklock") ---- */
#define DL_IMPORT(name) __attribute__((import_module("docklock"), import_name(#name)))
DL_IMPORT(log) int32_t dl__log(int32_t level, const char *ptr, int32_t len);
DL_IMPORT(http_request) int32_t dl__http_request(const char *method, int32_t method_len, const char *url, int32_t url_len, const void *body, int32_t body_len);
DL_IMPORT(http_status) int32_t dl__http_status(int32_t handle);
DL_IMPORT(http_body_len) int32_t dl__http_body_len(int32_t handle);
DL_IMPORT(http_body_read) int32_t dl__http_body_read(int32_t handle, void *buf, int32_t cap);
DL_IMPORT(http_request_h) int32_t dl__http_request_h(const char *method, int32_t method_len, const char *url, int32_t url_len, const char *headers, int32_t headers_len, const void *body, int32_t body_len);
DL_IMPORT(http_headers_len) int32_t dl__http_headers_len(int32_t handle);
DL_IMPORT(http_headers_read) int32_t dl__http_headers_read(int32_t handle, void *buf, int32_t cap);
DL_IMPORT(nested_load) int32_t dl__nested_load(const void *bytes, int32_t len, int32_t memory_pages, int32_t stack);
DL_IMPORT(state_get) int32_t dl__state_get(const void *key, int32_t key_len, void *buf, int32_t cap);
DL_IMPORT(state_put) int32_t dl__state_put(const void *key, int32_t key_len, const void *val, int32_t val_len);
DL_IMPORT(state_delete) int32_t dl__state_delete(const void *key, int32_t key_len);
DL_IMPORT(state_scan) int32_t dl__state_scan(const void *start, int32_t start_len, int32_t limit, void *buf, int32_t cap);
DL_IMPORT(nested_call) int32_t dl__nested_call(int32_t handle, const char *name, int32_t name_len, const void *in, int32_t in_len, void *out, int32_t out_cap, uint64_t fuel, void *info);

/* ---- the submission ---- */

/** Reads a whole file into a malloc'd buffer (NUL-terminated for convenience); NULL if missing. */
static inline uint8_t *dl_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap + 1);
  if (buf == NULL) { fclose(f); return NULL; }
  size_t got;
  while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      uint8_t *next = realloc(buf, cap * 2 + 1);
      if (next == NULL) { free(buf); fclose(f); return NULL; }
      buf = next;
      cap *= 2;
    }
  }
  fclose(f);
  buf[n] = 0;
  *len = n;
  return buf;
}

/** The submission's size in bytes, before reading it (refuse oversized submissions first); -1 if missing. */
static inline long long dl_submission_size(void) {
  struct stat st;
  return stat(DL_SUBMISSION_PATH, &st) == 0 ? (long long)st.st_size : -1;
}

/** The submission's bytes (/input/submission), malloc'd and NUL-terminated; NULL if missing. */
static inline uint8_t *dl_read_submission(size_t *len) { return dl_read_file(DL_SUBMISSION_PATH, len); }

/* ---- seeded randomness and virtual time ---- */

/** Fills `buf` from the run's seeded ChaCha20 stream (WASI random_get). */
static inline void dl_random_bytes(void *buf, size_t len) { (void)__wasi_random_get((uint8_t *)buf, len); }

static inline uint32_t dl_random_u32(void) {
  uint32_t v;
  dl_random_bytes(&v, sizeof v);
  return v;
}

/** Virtual wall-clock time, ns since the Unix epoch (advances by the manifest's step per read). */
static inline uint64_t dl_now_ns(void) {
  __wasi_timestamp_t t = 0;
  (void)__wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 1, &t);
  return t;
}

/* ---- logging ---- */

enum { DL_DEBUG = 0, DL_INFO = 1, DL_WARN = 2, DL_ERROR = 3 };

/** printf-style log line on stderr as `[level] message` (grant `log`). */
__attribute__((format(printf, 2, 3))) static inline void dl_log(int level, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n >= sizeof line) n = sizeof line - 1;
  dl__log(level, line, n);
}

/* ---- challenge state (grant `state`; docs/escrow.md) ---- */

enum { DL_STATE_NOT_FOUND = -1, DL_STATE_LIMIT = -2, DL_STATE_BUFFER = -3, DL_STATE_FAULT = -5 };

/**
 * The value of `key` (NUL-terminated key) in the run's snapshot, or the run's own write of it:
 * malloc'd and NUL-terminated, its length in *len. NULL when there is none (or on an error, whose
 * code is in *len as a negative number cast to size_t: check with `(long)*len < 0`).
 */
static inline uint8_t *dl_state_get(const char *key, size_t *len) {
  uint8_t small[256];
  int32_t n = dl__state_get(key, (int32_t)strlen(key), small, sizeof small);
  if (n < 0) { *len = (size_t)(long)n; return NULL; }
  uint8_t *out = malloc((size_t)n + 1);
  if (out == NULL) { *len = (size_t)(long)DL_STATE_LIMIT; return NULL; }
  if ((size_t)n <= sizeof small) memcpy(out, small, (size_t)n);
  else (void)dl__state_get(key, (int32_t)strlen(key), out, n);
  out[n] = 0;
  *len = (size_t)n;
  return out;
}

/** Stages a write of `key` (NUL-terminated); it reaches the store only if the escrow commits it. 0 or DL_STATE_LIMIT. */
static inline int dl_state_put(const char *key, const void *value, size_t len) {
  return dl__state_put(key, (int32_t)strlen(key), value, (int32_t)len);
}

/** Stages the deletion of `key`. 0 or DL_STATE_LIMIT. */
static inline int dl_state_delete(const char *key) { return dl__state_delete(key, (int32_t)strlen(key)); }

/**
 * Up to `limit` entries with keys >= start (start_len bytes), in key order, into buf as
 * `u32 key_len, key, u32 value_len, value` (little-endian). Returns how many, 0 at the end, or a
 * negative DL_STATE_*. Continue from the last key with a 0 byte appended.
 */
static inline int dl_state_scan(const void *start, size_t start_len, int limit, void *buf, size_t cap) {
  return dl__state_scan(start, (int32_t)start_len, limit, buf, (int32_t)cap);
}

/* ---- recorded HTTP (grant `net`) ---- */

enum { DL_HTTP_DENIED = -1, DL_HTTP_LIMIT = -2, DL_HTTP_TRANSPORT = -3, DL_HTTP_INVALID = -4, DL_HTTP_FAULT = -5, DL_HTTP_BAD_HANDLE = -6 };

typedef struct {
  /** HTTP status, or a negative DL_HTTP_* error (then body is NULL). */
  int status;
  /** malloc'd, NUL-terminated. */
  uint8_t *body;
  size_t len;
  /**
   * The response's headers as the host gives them (spec/network.md#R4): one `name: value\r\n`
   * line per header, in the server's order and case. malloc'd, NUL-terminated; NULL from
   * dl_http_request, which does not ask for them.
   */
  char *headers;
  size_t headers_len;
} dl_http_response;

/** Reads a handle's bytes through `read` into a malloc'd, NUL-terminated buffer. */
static inline uint8_t *dl__http_read_all(int32_t h, int32_t len, int32_t (*read)(int32_t, void *, int32_t), size_t *got) {
  if (len < 0) len = 0;
  uint8_t *buf = malloc((size_t)len + 1);
  if (buf == NULL) return NULL;
  int32_t off = 0, n;
  while (off < len && (n = read(h, buf + off, len - off)) > 0) off += n;
  buf[off] = 0;
  *got = (size_t)off;
  return buf;
}

static inline dl_http_response dl__http_response(int32_t h, int with_headers) {
  dl_http_response r = {0, NULL, 0, NULL, 0};
  if (h < 0) { r.status = h; return r; }
  r.status = dl__http_status(h);
  r.body = dl__http_read_all(h, dl__http_body_len(h), dl__http_body_read, &r.len);
  if (with_headers) r.headers = (char *)dl__http_read_all(h, dl__http_headers_len(h), dl__http_headers_read, &r.headers_len);
  if (r.body == NULL || (with_headers && r.headers == NULL)) {
    free(r.body);
    free(r.headers);
    dl_http_response oom = {DL_HTTP_LIMIT, NULL, 0, NULL, 0};
    return oom;
  }
  return r;
}

static inline dl_http_response dl_http_request(const char *method, const char *url, const void *body, size_t body_len) {
  return dl__http_response(dl__http_request(method, (int32_t)strlen(method), url, (int32_t)strlen(url), body, (int32_t)body_len), 0);
}

/**
 * A request with headers: `headers` is a block of `name: value\r\n` lines (every line ends in
 * CRLF; NULL or "" for none), built for instance with snprintf. The response's headers are read
 * too (see dl_http_header). A malformed block is DL_HTTP_INVALID, too many or too long DL_HTTP_LIMIT.
 */
static inline dl_http_response dl_http_request_h(const char *method, const char *url, const char *headers, const void *body, size_t body_len) {
  const char *hs = headers == NULL ? "" : headers;
  return dl__http_response(dl__http_request_h(method, (int32_t)strlen(method), url, (int32_t)strlen(url), hs, (int32_t)strlen(hs), body, (int32_t)body_len), 1);
}

static inline dl_http_response dl_http_get(const char *url) { return dl_http_request("GET", url, "", 0); }

/**
 * The value of the first response header named `name` (ASCII case-insensitive), malloc'd and
 * NUL-terminated; NULL if there is none (or no headers were asked for).
 */
static inline char *dl_http_header(const dl_http_response *res, const char *name) {
  if (res->headers == NULL) return NULL;
  size_t name_len = strlen(name);
  for (const char *line = res->headers; *line != 0;) {
    const char *end = strstr(line, "\r\n");
    if (end == NULL) return NULL;
    const char *colon = memchr(line, ':', (size_t)(end - line));
    if (colon != NULL && (size_t)(colon - line) == name_len && strncasecmp(line, name, name_len) == 0) {
      const char *v = colon + 1;
      while (v < end && (*v == ' ' || *v == '\t')) v++;
      const char *e = end;
      while (e > v && (e[-1] == ' ' || e[-1] == '\t')) e--;
      char *out = malloc((size_t)(e - v) + 1);
      if (out == NULL) return NULL;
      memcpy(out, v, (size_t)(e - v));
      out[e - v] = 0;
      return out;
    }
    line = end + 2;
  }
  return NULL;
}

/** Frees what a dl_http_response holds. */
static inline void dl_http_free(dl_http_response *res) {
  free(res->body);
  free(res->headers);
  res->body = NULL;
  res->headers = NULL;
}

/* ---- nested submissions (grant `nested`) ---- */

enum { DL_NESTED_LIMIT = -2, DL_NESTED_INVALID = -4, DL_NESTED_FAULT = -5, DL_NESTED_BAD_HANDLE = -6, DL_NESTED_FORBIDDEN_IMPORT = -7 };
enum { DL_STATUS_OK = 0, DL_STATUS_OUT_OF_FUEL = 1, DL_STATUS_STACK_EXHAUSTED = 2, DL_STATUS_MEMORY_LIMIT = 3, DL_STATUS_TRAPPED = 4, DL_STATUS_BAD_ABI = 5, DL_STATUS_OUTPUT_TOO_LARGE = 6 };

typedef struct {
  /** DL_STATUS_* (>= 0) or a negative DL_NESTED_* error. */
  int status;
  /** Fuel the call used (billed to the challenge too). */
  uint64_t fuel_used;
  /** Output length the submission returned (also when it did not fit). */
  uint32_t out_len;
  /** Trap code + 1 (runtime/errors.ts TRAP_CODES order), 0 for none. */
  uint32_t trap;
} dl_call_result;

/**
 * Loads module bytes into a nested cage; returns a handle >= 0 or a negative DL_NESTED_* error.
 * `memory_pages` (64 KiB) and `stack` of 0 take the defaults (16 MiB, 16384).
 */
static inline int dl_nested_load(const void *bytes, size_t len, int memory_pages, int stack) {
  return dl__nested_load(bytes, (int32_t)len, memory_pages, stack);
}

/**
 * Calls export `name(ptr, len) -> i64` of a loaded submission with `in` and a fuel budget in a
 * fresh instance; the output (at most `out_cap` bytes) goes to `out`.
 */
static inline dl_call_result dl_nested_call(int handle, const char *name, const void *in, size_t in_len, void *out, size_t out_cap, uint64_t fuel) {
  struct { uint64_t fuel_used; uint32_t out_len; uint32_t trap; } info = {0, 0, 0};
  dl_call_result r;
  r.status = dl__nested_call(handle, name, (int32_t)strlen(name), in, (int32_t)in_len, out, (int32_t)out_cap, fuel, &info);
  r.fuel_used = info.fuel_used;
  r.out_len = info.out_len;
  r.trap = info.trap;
  return r;
}

/** A stable name for a status or error, for score details. */
static inline const char *dl_status_name(int code) {
  switch (code) {
    case 0: return "ok";
    case 1: return "out_of_fuel";
    case 2: return "stack_exhausted";
    case 3: return "memory_limit";
    case 4: return "trapped";
    case 5: return "bad_abi";
    case 6: return "output_too_large";
    case -2: return "limit";
    case -4: return "invalid_module";
    case -5: return "fault";
    case -6: return "bad_handle";
    case -7: return "forbidden_import";
    default: return "unknown";
  }
}

/* ---- the score ---- */

/**
 * Writes /output/score.json: {"score": <score clamped to [0,1]>, "details": <details_json>}.
 * `details_json` must be a JSON object ("{}" if NULL). Returns 0, or -1 if the file could not be written.
 */
static inline int dl_write_score(double score, const char *details_json) {
  if (!(score >= 0.0)) score = 0.0;
  if (score > 1.0) score = 1.0;
  FILE *f = fopen(DL_SCORE_PATH, "w");
  if (f == NULL) return -1;
  fprintf(f, "{\"score\":%.17g,\"details\":%s}\n", score, details_json == NULL ? "{}" : details_json);
  return fclose(f) == 0 ? 0 : -1;
}

/** Scores 0 with details {"failure": reason} (reason: plain ASCII without quotes). */
static inline int dl_fail(const char *reason) {
  char details[256];
  snprintf(details, sizeof details, "{\"failure\":\"%s\"}", reason);
  return dl_write_score(0.0, details);
}

#endif /* DOCKLOCK_H */
