/* Mediocre submission: right, but squares by repeated addition of a tenth, then adds it ten times. */
#include <stdint.h>
#include <stdlib.h>

__attribute__((export_name("alloc"))) void *alloc(int32_t len) { return malloc((size_t)len); }

__attribute__((export_name("sumsq"))) uint64_t sumsq(const uint32_t *in, int32_t len) {
  uint64_t *out = malloc(8);
  uint64_t s = 0;
  for (int32_t i = 0; i < len / 4; i++) {
    uint64_t sq = (uint64_t)in[i] * in[i];
    for (int r = 0; r < 3; r++) s += sq / 3 + (r < (int)(sq % 3) ? 1 : 0);
  }
  *out = s;
  return ((uint64_t)(uintptr_t)out << 32) | 8;
}
