// The batch planner of eval/scorer: groups requests by their context, sorts the groups longest
// first (as the harness does: the first batch is the largest, so memory limits show at once and
// the ETA errs high) and packs them into batches under a padded-token budget.
#include <map>

#include "eval/scorer.h"

namespace hyb::eval {

namespace {

// Rows of token ids, right-padded with 0 into one [B,T] int64 tensor.
at::Tensor pad_rows(const std::vector<std::vector<int32_t>>& rows, int64_t T) {
  std::vector<int64_t> flat(rows.size() * T, 0);
  for (size_t r = 0; r < rows.size(); ++r)
    std::copy(rows[r].begin(), rows[r].end(), flat.begin() + r * T);
  return at::tensor(flat, at::kLong).view({static_cast<int64_t>(rows.size()), T});
}

// Accumulates a pass row by row, then freezes it into tensors.
struct PassBuilder {
  std::vector<std::vector<int32_t>> rows;
  std::vector<std::pair<int64_t, int64_t>> parent;
  std::vector<int64_t> read_row, read_pos, t_read, t_token, t_request;
  bool keep_cache = false;

  // Adds a row; returns its index.
  int64_t add_row(std::vector<int32_t> ids) {
    rows.push_back(std::move(ids));
    return static_cast<int64_t>(rows.size()) - 1;
  }
  // Reads position `pos` of `row` and scores `token` there for local request `req`.
  int64_t add_read(int64_t row, int64_t pos) {
    read_row.push_back(row);
    read_pos.push_back(pos);
    return static_cast<int64_t>(read_row.size()) - 1;
  }
  void add_target(int64_t read, int32_t token, int64_t req) {
    t_read.push_back(read);
    t_token.push_back(token);
    t_request.push_back(req);
  }
  Pass freeze(int64_t* padded_tokens) const {
    Pass p;
    int64_t T = 0;
    for (const auto& r : rows) {
      T = std::max<int64_t>(T, r.size());
      p.lengths.push_back(static_cast<int64_t>(r.size()));
    }
    p.ids = pad_rows(rows, T);
    *padded_tokens += static_cast<int64_t>(rows.size()) * T;
    p.parent = parent;
    p.keep_cache = keep_cache;
    p.read_row = at::tensor(read_row, at::kLong);
    p.read_pos = at::tensor(read_pos, at::kLong);
    p.target_read = at::tensor(t_read, at::kLong);
    p.target_token = at::tensor(t_token, at::kLong);
    p.target_request = at::tensor(t_request, at::kLong);
    return p;
  }
};

struct Group {
  const std::vector<int32_t>* ctx;
  std::vector<int64_t> reqs;
  int64_t max_cont = 0;  // longest continuation input (len - 1)
  int64_t multi = 0;     // requests whose continuation has more than one token
};

// One batch from consecutive groups: context pass(es), then one continuation pass.
Batch build_shared(const std::vector<TokenRequest>& reqs, const std::vector<Group>& groups, size_t g0, size_t g1,
                   bool rewindable) {
  Batch b;
  PassBuilder cont;
  std::vector<std::pair<size_t, int64_t>> ctx_row_of(g1 - g0);  // (pass, row) of each group
  size_t g = g0;
  while (g < g1) {
    // Without rewindable caches a context pass holds contexts of one length (no padding).
    size_t end = g + 1;
    if (rewindable) end = g1;
    else
      while (end < g1 && groups[end].ctx->size() == groups[g].ctx->size()) ++end;
    PassBuilder ctx;
    for (size_t k = g; k < end; ++k) {
      const Group& G = groups[k];
      const int64_t row = ctx.add_row(*G.ctx);
      const int64_t read = ctx.add_read(row, static_cast<int64_t>(G.ctx->size()) - 1);
      ctx.keep_cache = ctx.keep_cache || G.multi > 0;
      ctx_row_of[k - g0] = {b.passes.size(), row};
      for (int64_t r : G.reqs) {
        const int64_t local = static_cast<int64_t>(b.requests.size());
        b.requests.push_back(r);
        ctx.add_target(read, reqs[r].continuation[0], local);
      }
    }
    b.passes.push_back(ctx.freeze(&b.padded_tokens));
    g = end;
  }
  // Continuation pass: cont[:-1] continuing the context's cache row; position j predicts cont[j+1].
  int64_t local = 0;
  for (size_t k = g0; k < g1; ++k) {
    for (int64_t r : groups[k].reqs) {
      const auto& c = reqs[r].continuation;
      if (c.size() > 1) {
        const int64_t row = cont.add_row(std::vector<int32_t>(c.begin(), c.end() - 1));
        cont.parent.push_back({static_cast<int64_t>(ctx_row_of[k - g0].first), ctx_row_of[k - g0].second});
        for (size_t j = 0; j + 1 < c.size(); ++j) cont.add_target(cont.add_read(row, j), c[j + 1], local);
      }
      ++local;
    }
  }
  if (!cont.rows.empty()) b.passes.push_back(cont.freeze(&b.padded_tokens));
  return b;
}

std::vector<Batch> plan_shared(const std::vector<TokenRequest>& reqs, const PlanOptions& opt) {
  std::map<std::vector<int32_t>, size_t> index;
  std::vector<Group> groups;
  for (size_t r = 0; r < reqs.size(); ++r) {
    auto [it, fresh] = index.emplace(reqs[r].context, groups.size());
    if (fresh) groups.push_back(Group{&it->first, {}, 0, 0});
    Group& G = groups[it->second];
    G.reqs.push_back(static_cast<int64_t>(r));
    const int64_t n = static_cast<int64_t>(reqs[r].continuation.size()) - 1;
    G.max_cont = std::max(G.max_cont, n);
    G.multi += n > 0;
  }
  std::stable_sort(groups.begin(), groups.end(), [](const Group& a, const Group& b) {
    if (a.ctx->size() != b.ctx->size()) return a.ctx->size() > b.ctx->size();
    return a.max_cont > b.max_cont;
  });
  std::vector<Batch> out;
  size_t g0 = 0;
  while (g0 < groups.size()) {
    // Padded cost: groups x longest context + continuation rows x longest continuation input.
    int64_t n_req = 0, n_multi = 0, max_ctx = 0, max_cont = 0;
    size_t g1 = g0;
    while (g1 < groups.size()) {
      const Group& G = groups[g1];
      const int64_t req = n_req + static_cast<int64_t>(G.reqs.size()), multi = n_multi + G.multi;
      const int64_t ctx = std::max<int64_t>(max_ctx, G.ctx->size()), cont = std::max(max_cont, G.max_cont);
      const int64_t cost = static_cast<int64_t>(g1 - g0 + 1) * ctx + multi * cont;
      const bool fits = cost <= opt.max_tokens && (opt.max_requests <= 0 || req <= opt.max_requests);
      if (g1 > g0 && !fits) break;
      n_req = req, n_multi = multi, max_ctx = ctx, max_cont = cont;
      ++g1;
    }
    out.push_back(build_shared(reqs, groups, g0, g1, opt.rewindable));
    g0 = g1;
  }
  return out;
}

// The harness's layout: one row per request, context + continuation[:-1], no cache.
std::vector<Batch> plan_rows(const std::vector<TokenRequest>& reqs, const PlanOptions& opt) {
  std::vector<int64_t> order(reqs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  auto len = [&](int64_t r) { return reqs[r].context.size() + reqs[r].continuation.size() - 1; };
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return len(a) > len(b); });
  std::vector<Batch> out;
  for (size_t i = 0; i < order.size();) {
    const int64_t T = static_cast<int64_t>(len(order[i]));  // longest first: the batch's width
    Batch b;
    PassBuilder p;
    while (i < order.size()) {
      const int64_t n = static_cast<int64_t>(b.requests.size()) + 1;
      if (!b.requests.empty() && (n * T > opt.max_tokens || (opt.max_requests > 0 && n > opt.max_requests))) break;
      const TokenRequest& r = reqs[order[i]];
      std::vector<int32_t> row(r.context);
      row.insert(row.end(), r.continuation.begin(), r.continuation.end() - 1);
      const int64_t rr = p.add_row(std::move(row)), local = static_cast<int64_t>(b.requests.size());
      for (size_t j = 0; j < r.continuation.size(); ++j)
        p.add_target(p.add_read(rr, static_cast<int64_t>(r.context.size() + j) - 1), r.continuation[j], local);
      b.requests.push_back(order[i++]);
    }
    b.passes.push_back(p.freeze(&b.padded_tokens));
    out.push_back(std::move(b));
  }
  return out;
}

}  // namespace

std::vector<Batch> plan_batches(const std::vector<TokenRequest>& requests, const PlanOptions& opt) {
  return opt.share_contexts ? plan_shared(requests, opt) : plan_rows(requests, opt);
}

}  // namespace hyb::eval
