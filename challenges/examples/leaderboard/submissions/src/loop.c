/* Good submission: one pass, a plain loop. */
#include <stdint.h>
#include <stdlib.h>

__attribute__((export_name("alloc"))) void *alloc(int32_t len) { return malloc((size_t)len); }

__attribute__((export_name("sumsq"))) uint64_t sumsq(const uint32_t *in, int32_t len) {
  uint64_t *out = malloc(8);
  uint64_t s = 0;
  for (int32_t i = 0; i < len / 4; i++) s += (uint64_t)in[i] * in[i];
  *out = s;
  return ((uint64_t)(uintptr_t)out << 32) | 8;
}
