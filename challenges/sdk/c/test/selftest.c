/* Exercises every C SDK function once and prints `key=value` lines (test/challenges/sdk.test.ts). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "docklock.h"

int main(void) {
  size_t len = 0;
  uint8_t *sub = dl_read_submission(&len);
  uint8_t head[16] = {0};
  size_t got = fread(head, 1, sizeof head, stdin);
  printf("submission_len=%zu\n", sub == NULL ? (size_t)0 : len);
  printf("submission_size=%lld\n", dl_submission_size());
  printf("stdin_same=%s\n", sub != NULL && got == (len < 16 ? len : 16) && memcmp(head, sub, got) == 0 ? "true" : "false");
  uint8_t rnd[8];
  dl_random_bytes(rnd, sizeof rnd);
  printf("random=");
  for (size_t i = 0; i < sizeof rnd; i++) printf("%02x", rnd[i]);
  printf("\nrandom_u32=%u\n", dl_random_u32() % 1000);
  uint64_t t0 = dl_now_ns(), t1 = dl_now_ns();
  printf("clock_step=%llu\n", (unsigned long long)(t1 - t0));
  const char *url = getenv("URL");
  printf("env=%s\n", url ? url : "(none)");
  dl_http_response res = dl_http_get(url ? url : "");
  printf("http_status=%d\nhttp_body=%s\n", res.status, res.body ? (const char *)res.body : "");
  free(res.body);
  printf("http_denied=%d\n", dl_http_get("http://example.com/").status);
  char hdrs[64];
  snprintf(hdrs, sizeof hdrs, "x-ask: %s\r\n", "echo me");
  dl_http_response rh = dl_http_request_h("GET", url ? url : "", hdrs, "", 0);
  char *echo = dl_http_header(&rh, "X-Echo");
  printf("http_h_status=%d\nhttp_h_echo=%s\nhttp_h_body=%s\n", rh.status, echo ? echo : "(none)", rh.body ? (const char *)rh.body : "");
  free(echo);
  char *missing = dl_http_header(&rh, "x-nope");
  printf("http_h_missing=%s\n", missing == NULL ? "null" : missing);
  dl_http_free(&rh);
  printf("http_h_invalid=%d\n", dl_http_request_h("GET", url ? url : "", "no colon\r\n", "", 0).status);
  dl_log(DL_INFO, "selftest log line %d", 42);
  int h = dl_nested_load(sub, len, 0, 0);
  printf("load=%d\n", h);
  int32_t in[3] = {3, -1, 2}, out[3] = {0, 0, 0};
  dl_call_result r = dl_nested_call(h, "sort", in, sizeof in, out, sizeof out, 1000000);
  printf("call_status=%s\ncall_output=%d,%d,%d\ncall_fuel_positive=%s\n", dl_status_name(r.status), out[0], out[1], out[2], r.fuel_used > 0 ? "true" : "false");
  printf("call_missing=%s\n", dl_status_name(dl_nested_call(h, "nope", in, sizeof in, out, sizeof out, 1000).status));
  printf("call_no_fuel=%s\n", dl_status_name(dl_nested_call(h, "sort", in, sizeof in, out, sizeof out, 10).status));
  printf("call_small_buffer=%s\n", dl_status_name(dl_nested_call(h, "sort", in, sizeof in, out, 4, 1000000).status));
  printf("load_invalid=%s\n", dl_status_name(dl_nested_load("not wasm", 8, 0, 0)));
  size_t vlen = 0;
  printf("state_missing=%s\n", dl_state_get("k", &vlen) == NULL && (long)vlen == DL_STATE_NOT_FOUND ? "true" : "false");
  printf("state_put=%d\n", dl_state_put("k", "v1", 2));
  uint8_t *v = dl_state_get("k", &vlen);
  printf("state_get=%s\n", v == NULL ? "(none)" : (const char *)v);
  uint8_t scan[256];
  printf("state_scan=%d\n", dl_state_scan("", 0, 10, scan, sizeof scan));
  printf("state_delete=%d\n", dl_state_delete("k"));
  printf("state_after_delete=%s\n", dl_state_get("k", &vlen) == NULL ? "none" : "some");
  free(sub);
  if (len == 0) return dl_fail("empty");
  return dl_write_score(0.5, "{\"quote\":\"a\\\"b\",\"half\":0.5}");
}
