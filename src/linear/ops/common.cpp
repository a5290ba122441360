// ops/common: the helpers every op shares: compute dtype, chunk length, time padding, and the
// sums of log gates the chunked forms exponentiate. Gates are log decays <= 0, all of one sign,
// so a sum of consecutive gates is accurate to a few ulps; a *difference* of two long prefix sums
// is not (within a chunk they reach -1000 and beyond, and exp(G_i - G_j) of nearby rows would
// keep only 1e-4 of relative accuracy in fp32). Every decay between two rows is therefore taken
// as a direct sum over the rows between them.
#include "linear/ops/ops.h"

#include <cmath>

namespace hyb::ops {

at::ScalarType compute_dtype(const at::Tensor& t) {
  return t.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

int64_t chunk_for(int64_t T, int64_t chunk) {
  int64_t c = 16;
  while (c < T) c *= 2;
  return std::min(chunk, c);
}

at::Tensor pad_time(const at::Tensor& x, int64_t Tp) {
  if (x.size(1) == Tp) return x;
  auto shape = x.sizes().vec();
  shape[1] = Tp - x.size(1);
  return at::cat({x, at::zeros(shape, x.options())}, 1);
}

namespace {
// Position of `dim` counted from the front.
int64_t front(const at::Tensor& t, int64_t dim) { return dim < 0 ? dim + t.dim() : dim; }
}  // namespace

at::Tensor segment_sums(const at::Tensor& g, int64_t dim) {
  dim = front(g, dim);
  const int64_t C = g.size(dim), trailing = g.dim() - 1 - dim;
  std::vector<int64_t> mask_shape{C, C};
  mask_shape.insert(mask_shape.end(), trailing, 1);
  auto ones = at::ones({C, C}, g.options().dtype(at::kBool));
  auto below = ones.tril(-1).view(mask_shape), above = ones.triu(1).view(mask_shape);
  auto shape = g.unsqueeze(dim + 1).sizes().vec();
  shape[dim + 1] = C;
  auto rows = g.unsqueeze(dim + 1).expand(shape);              // rows[i, j] = g_i
  auto sums = at::where(below, rows, at::zeros({}, g.options())).cumsum(dim);  // sum_{j<s<=i} g_s
  return sums.masked_fill(above, -INFINITY);
}

at::Tensor suffix_sums(const at::Tensor& g, int64_t dim) {
  dim = front(g, dim);
  const int64_t C = g.size(dim);
  auto inclusive = g.flip(dim).cumsum(dim).flip(dim);          // sum_{s>=j} g_s
  auto shape = g.sizes().vec();
  shape[dim] = 1;
  return at::cat({inclusive.narrow(dim, 1, C - 1), at::zeros(shape, g.options())}, dim);
}

}  // namespace hyb::ops
