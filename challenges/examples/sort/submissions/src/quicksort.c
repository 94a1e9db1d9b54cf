/* Good submission: an in-place quicksort with insertion sort for small ranges. */
#include <stdint.h>
#include <stdlib.h>

__attribute__((export_name("alloc"))) void *alloc(int32_t len) { return malloc((size_t)len); }

static void insertion(int32_t *a, int32_t n) {
  for (int32_t i = 1; i < n; i++) {
    int32_t v = a[i], j = i - 1;
    while (j >= 0 && a[j] > v) { a[j + 1] = a[j]; j--; }
    a[j + 1] = v;
  }
}

static void quicksort(int32_t *a, int32_t n) {
  while (n > 16) {
    int32_t p = a[n / 2], i = 0, j = n - 1;
    while (i <= j) {
      while (a[i] < p) i++;
      while (a[j] > p) j--;
      if (i <= j) { int32_t t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
    }
    /* Recurse into the smaller half, loop on the larger: O(log n) depth. */
    if (j + 1 < n - i) { quicksort(a, j + 1); a += i; n -= i; }
    else { quicksort(a + i, n - i); n = j + 1; }
  }
  insertion(a, n);
}

__attribute__((export_name("sort"))) uint64_t sort(int32_t *data, int32_t len) {
  quicksort(data, len / 4);
  return ((uint64_t)(uintptr_t)data << 32) | (uint32_t)len;
}
