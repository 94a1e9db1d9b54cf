/* Good submission: a segmented sieve of Eratosthenes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

__attribute__((export_name("alloc"))) void *alloc(int32_t len) { return malloc((size_t)len); }

__attribute__((export_name("primes"))) uint64_t primes(const uint32_t *in, int32_t len) {
  if (len != 8) return 0;
  uint32_t lo = in[0], hi = in[1];
  if (hi <= lo) return 0;
  uint32_t span = hi - lo;
  uint8_t *composite = calloc(span, 1);
  uint32_t *out = malloc((size_t)span * 4);
  for (uint32_t p = 2; (uint64_t)p * p < hi; p++) {
    uint64_t start = (uint64_t)p * p;
    if (start < lo) start = ((uint64_t)lo + p - 1) / p * p;
    for (uint64_t m = start; m < hi; m += p) composite[m - lo] = 1;
  }
  uint32_t n = 0;
  for (uint32_t i = 0; i < span; i++)
    if (!composite[i] && lo + i >= 2) out[n++] = lo + i;
  return ((uint64_t)(uintptr_t)out << 32) | (n * 4);
}
