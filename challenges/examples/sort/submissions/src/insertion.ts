// Mediocre submission, in AssemblyScript: a correct insertion sort (O(n^2) fuel).
export function alloc(len: i32): usize {
  return heap.alloc(<usize>len);
}

export function sort(ptr: usize, len: i32): u64 {
  const n = len >> 2;
  for (let i = 1; i < n; i++) {
    const v = load<i32>(ptr + ((<usize>i) << 2));
    let j = i - 1;
    while (j >= 0 && load<i32>(ptr + ((<usize>j) << 2)) > v) {
      store<i32>(ptr + ((<usize>(j + 1)) << 2), load<i32>(ptr + ((<usize>j) << 2)));
      j--;
    }
    store<i32>(ptr + ((<usize>(j + 1)) << 2), v);
  }
  return ((<u64>ptr) << 32) | <u64>len;
}
