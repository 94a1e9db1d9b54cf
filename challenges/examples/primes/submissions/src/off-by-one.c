/* Broken submission: treats 1 as prime and stops one short of hi (fails on some ranges). */
#include <stdint.h>
#include <stdlib.h>

__attribute__((export_name("alloc"))) void *alloc(int32_t len) { return malloc((size_t)len); }

__attribute__((export_name("primes"))) uint64_t primes(const uint32_t *in, int32_t len) {
  if (len != 8) return 0;
  uint32_t lo = in[0], hi = in[1];
  uint32_t *out = malloc((size_t)(hi - lo) * 4 + 4);
  uint32_t n = 0;
  for (uint32_t p = lo; p + 1 < hi; p++) {
    int prime = p >= 1;
    for (uint32_t d = 2; d * d <= p; d++)
      if (p % d == 0) { prime = 0; break; }
    if (prime) out[n++] = p;
  }
  /* Guarantee a wrong answer: report one number too many (the last candidate). */
  out[n++] = hi - 1;
  return ((uint64_t)(uintptr_t)out << 32) | (n * 4);
}
