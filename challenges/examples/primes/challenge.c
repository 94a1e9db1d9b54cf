/*
 * "primes": a code challenge written in C. Miners submit a module exporting
 *   memory, alloc(len: i32) -> i32, primes(ptr: i32, len: i32) -> i64
 * that reads two little-endian u32s [lo, hi) and returns every prime p with lo <= p < hi as
 * little-endian u32s, packed as (out_ptr << 32) | out_len (spec/nested.md). The challenge draws
 * seeded ranges, checks each answer against its own sieve and scores correct submissions by fuel.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "docklock.h"

#define TASKS 6
#define MAX_LO (1u << 20)
#define MAX_SPAN 20000u
#define CALL_FUEL 50000000ull
/* A segmented sieve (the sieve submission) spends about 100 fuel per number in the range; this much scores 1. */
#define TARGET_FUEL_PER_NUMBER 90.0

static int is_prime(uint32_t n) {
  if (n < 2) return 0;
  if (n % 2 == 0) return n == 2;
  for (uint32_t d = 3; d * d <= n; d += 2)
    if (n % d == 0) return 0;
  return 1;
}

/* The reference answer (trial division is plenty for ranges of MAX_SPAN numbers). */
static size_t reference(uint32_t lo, uint32_t hi, uint32_t *out) {
  size_t n = 0;
  for (uint32_t p = lo; p < hi; p++)
    if (is_prime(p)) out[n++] = p;
  return n;
}

int main(void) {
  size_t len = 0;
  uint8_t *module = dl_read_submission(&len);
  if (module == NULL) return dl_fail("no_submission") == 0 ? 0 : 1;
  int handle = dl_nested_load(module, len, 32, 0);
  free(module);
  if (handle < 0) return dl_fail(dl_status_name(handle)) == 0 ? 0 : 1;

  static uint32_t expected[MAX_SPAN];
  static uint32_t got[MAX_SPAN];
  double total = 0.0;
  uint64_t fuel = 0;
  for (int t = 0; t < TASKS; t++) {
    uint32_t lo = dl_random_u32() % MAX_LO;
    uint32_t hi = lo + 2000 + dl_random_u32() % (MAX_SPAN - 2000);
    uint32_t in[2] = {lo, hi};
    dl_call_result r = dl_nested_call(handle, "primes", in, sizeof in, got, sizeof got, CALL_FUEL);
    fuel += r.fuel_used;
    if (r.status != DL_STATUS_OK) {
      char details[160];
      snprintf(details, sizeof details, "{\"failure\":\"%s\",\"task\":%d,\"fuel\":%llu}", dl_status_name(r.status), t, (unsigned long long)fuel);
      return dl_write_score(0.0, details) == 0 ? 0 : 1;
    }
    size_t n = reference(lo, hi, expected);
    if (r.out_len != n * 4 || memcmp(got, expected, n * 4) != 0) {
      char details[160];
      snprintf(details, sizeof details, "{\"failure\":\"wrong_answer\",\"task\":%d,\"lo\":%u,\"hi\":%u}", t, lo, hi);
      return dl_write_score(0.0, details) == 0 ? 0 : 1;
    }
    double target = TARGET_FUEL_PER_NUMBER * (double)(hi - lo);
    double s = target / (double)(r.fuel_used ? r.fuel_used : 1);
    total += s > 1.0 ? 1.0 : s;
  }
  dl_log(DL_INFO, "%d ranges checked, %llu fuel", TASKS, (unsigned long long)fuel);
  char details[128];
  snprintf(details, sizeof details, "{\"tasks\":%d,\"fuel\":%llu}", TASKS, (unsigned long long)fuel);
  return dl_write_score(total / TASKS, details) == 0 ? 0 : 1;
}
