/* Mediocre submission: trial division by every odd number up to sqrt(p). Correct, slower. */
#include <stdint.h>
#include <stdlib.h>

__attribute__((export_name("alloc"))) void *alloc(int32_t len) { return malloc((size_t)len); }

static int is_prime(uint32_t n) {
  if (n < 2) return 0;
  if (n % 2 == 0) return n == 2;
  for (uint32_t d = 3; d * d <= n; d += 2)
    if (n % d == 0) return 0;
  return 1;
}

__attribute__((export_name("primes"))) uint64_t primes(const uint32_t *in, int32_t len) {
  if (len != 8) return 0;
  uint32_t lo = in[0], hi = in[1];
  uint32_t *out = malloc((size_t)(hi - lo) * 4 + 4);
  uint32_t n = 0;
  for (uint32_t p = lo; p < hi; p++)
    if (is_prime(p)) out[n++] = p;
  return ((uint64_t)(uintptr_t)out << 32) | (n * 4);
}
