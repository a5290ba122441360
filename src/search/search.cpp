#include "search/search.h"

#include <fmt/format.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <fstream>
#include <numeric>
#include <random>

#include "io/safetensors.h"
#include "util/error.h"
#include "util/files.h"
#include "util/json.h"

namespace hyb {
namespace fs = std::filesystem;
using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Journal

ScoreJournal::ScoreJournal(fs::path path, bool resume, bool write) : path_(std::move(path)), write_(write) {
  if (path_.empty()) return;
  if (resume) read(/*cut_torn_line=*/write_);
  if (write_) file_.open(path_, /*truncate=*/!resume);
}

void ScoreJournal::read(bool cut_torn_line) {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) return;  // nothing journalled yet
  const std::string text = read_file(path_);
  size_t pos = 0;
  for (int64_t n = 1; pos < text.size(); ++n) {
    const size_t end = text.find('\n', pos);
    const std::string where = fmt::format("{}:{}", path_.string(), n);
    if (end == std::string::npos) {
      // Cut off by a kill mid-append: its candidate is scored again, and the file is cut back so
      // that the next record starts a line of its own.
      if (cut_torn_line && ::truncate(path_.c_str(), static_cast<off_t>(pos)) != 0)
        fail(path_.string(), "cannot remove the incomplete last line {}: {}", n, std::strerror(errno));
      if (cut_torn_line)
        fmt::print(stderr, "warning: {}: incomplete last line (a run stopped while writing it) dropped; its "
                           "candidate is scored again\n", where);
      return;
    }
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) continue;
    const json j = parse_json(line, where);
    known_[json_int_list(j, "layers", where)] = {json_number(j, "score", where),
                                                 j.contains("seconds") ? json_number(j, "seconds", where) : 0.0};
  }
}

void ScoreJournal::stop_if_asked() {
  if (stop_ && stop_()) throw SearchInterrupted(size(), path_);
}

double ScoreJournal::score(const LayerSet& layers, const ScoreFn& fn, double* seconds, const LayerSet& extends) {
  auto it = known_.find(layers);
  if (it != known_.end()) {
    ++replayed_;
    if (seconds) *seconds = it->second.second;
    return it->second.first;
  }
  stop_if_asked();
  auto t0 = std::chrono::steady_clock::now();
  const double s = fn(layers, extends);
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  record(layers, s, dt);
  if (seconds) *seconds = dt;
  return s;
}

void ScoreJournal::record(const LayerSet& layers, double score, double seconds) {
  known_[layers] = {score, seconds};
  file_.append(json{{"layers", layers}, {"score", score}, {"seconds", seconds}}.dump() + "\n");
}

std::vector<Scored> ScoreJournal::score_all(const std::vector<LayerSet>& candidates, const ScoreFn& fn,
                                            const ScoreManyFn& many, const LayerSet& extends) {
  std::vector<Scored> out(candidates.size());
  if (!many) {
    for (size_t i = 0; i < candidates.size(); ++i) out[i].score = score(candidates[i], fn, &out[i].seconds, extends);
    return out;
  }
  std::vector<LayerSet> todo;
  std::vector<size_t> where;
  for (size_t i = 0; i < candidates.size(); ++i) {
    auto it = known_.find(candidates[i]);
    if (it == known_.end()) {
      todo.push_back(candidates[i]), where.push_back(i);
      continue;
    }
    ++replayed_;
    out[i] = {it->second.first, it->second.second};
  }
  if (todo.empty()) return out;
  stop_if_asked();
  std::vector<bool> journalled(todo.size(), false);
  const std::vector<Scored> got = many(todo, extends, [&](size_t k, const Scored& s) {
    if (k >= todo.size() || journalled[k]) fail("search", "score {} reported for {} candidates", k, todo.size());
    record(todo[k], s.score, s.seconds);
    journalled[k] = true;
  });
  if (got.size() > todo.size() || (got.size() < todo.size() && !(stop_ && stop_())))
    fail("search", "{} scores for {} candidates", got.size(), todo.size());
  for (size_t k = 0; k < got.size(); ++k) {
    if (!journalled[k]) record(todo[k], got[k].score, got[k].seconds);
    out[where[k]] = got[k];
  }
  if (got.size() < todo.size()) throw SearchInterrupted(size(), path_);  // stopped between two candidates
  return out;
}

// ---------------------------------------------------------------------------------------------
// Strategies

LayerSet uniform_placement(int64_t L, int64_t k) {
  LayerSet s;
  for (int64_t i = 0; i < k; ++i) s.push_back((2 * i + 1) * L / (2 * k));
  return s;
}

namespace {

LayerSet with(LayerSet s, int64_t l) {
  s.push_back(l);
  std::sort(s.begin(), s.end());
  return s;
}

// Bookkeeping shared by all strategies: accepting a model updates M_best and M_opt.
struct Tracker {
  SearchResult& r;
  void accept(const Evaluated& e) {
    if (e.score >= r.best.score) r.best = e;  // tie -> the later model, which has more linear layers
    r.opt = e;                                // accepted models all satisfy score >= P_min
  }
};

}  // namespace

SearchResult run_search(int64_t L, const ScoreFn& fn, const SearchOptions& opt, ScoreJournal& journal,
                        const RoundCallback& on_round, const ScoreManyFn& many) {
  const std::string& st = opt.strategy;
  if (st != "greedy" && st != "importance" && st != "uniform" && st != "random")
    fail("--strategy", "unknown strategy '{}' (greedy, importance, uniform, random)", st);
  if (L <= 0) fail("search", "the model has no layers");
  SearchResult r;
  r.strategy = st;
  // A set of candidates extending one model, scored together (spread over ranks by `many`).
  auto eval_all = [&](const std::vector<LayerSet>& sets, const LayerSet& extends) {
    const std::vector<Scored> sc = journal.score_all(sets, fn, many, extends);
    std::vector<Evaluated> e;
    for (size_t i = 0; i < sets.size(); ++i) e.push_back({sets[i], sc[i].score, sc[i].seconds});
    return e;
  };
  const Evaluated base = eval_all({LayerSet{}}, {})[0];
  r.base = base.score;
  r.p_min = opt.min_score ? *opt.min_score : base.score * (1.0 - opt.max_drop);
  r.best = r.opt = base;
  Tracker track{r};
  const int64_t limit = opt.replace >= 0 ? std::min(opt.replace, L) : L;

  // The order in which fixed-order baselines add layers (greedy decides round by round).
  std::vector<LayerSet> fixed;  // fixed[k-1] = the model with k linear layers
  std::vector<Evaluated> singles;
  if (st == "importance") {
    std::vector<int64_t> order(L);
    std::iota(order.begin(), order.end(), 0);
    std::vector<LayerSet> sets;
    for (int64_t l = 0; l < L; ++l) sets.push_back({l});
    singles = eval_all(sets, {});
    // Best single-layer score first; stable so ties keep the lower layer first.
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return singles[a].score > singles[b].score; });
    LayerSet s;
    for (int64_t l : order) fixed.push_back(s = with(s, l));
  } else if (st == "uniform") {
    for (int64_t k = 1; k <= L; ++k) fixed.push_back(uniform_placement(L, k));
  } else if (st == "random") {
    std::vector<int64_t> order(L);
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(opt.seed);
    for (int64_t i = L - 1; i > 0; --i) std::swap(order[i], order[std::uniform_int_distribution<int64_t>(0, i)(rng)]);
    LayerSet s;
    for (int64_t l : order) fixed.push_back(s = with(s, l));
  }

  LayerSet current;
  r.stop_reason = "all layers are linear";
  for (int64_t k = 1; k <= L; ++k) {
    if (k > limit) {
      r.stop_reason = "reached --replace " + std::to_string(limit);
      break;
    }
    auto t0 = std::chrono::steady_clock::now();
    Round round;
    round.index = k;
    Evaluated pick;
    if (st == "greedy") {
      std::vector<LayerSet> sets;
      for (int64_t l = 0; l < L; ++l)
        if (!std::binary_search(current.begin(), current.end(), l)) sets.push_back(with(current, l));
      round.candidates = eval_all(sets, current);
      for (const Evaluated& c : round.candidates)
        if (pick.layers.empty() || c.score > pick.score) pick = c;  // strictly greater wins
      round.chosen = [&] {
        for (int64_t l : pick.layers)
          if (!std::binary_search(current.begin(), current.end(), l)) return l;
        return int64_t(-1);
      }();
    } else {
      pick = eval_all({fixed[k - 1]}, {})[0];
      round.candidates.push_back(pick);
      round.chosen = [&] {
        for (int64_t l : pick.layers)
          if (!std::binary_search(current.begin(), current.end(), l)) return l;
        return int64_t(-1);  // uniform placements need not contain the previous one
      }();
      if (st == "importance" && k == 1) round.candidates = singles;
    }
    round.score = pick.score;
    round.accepted = pick.score >= r.p_min || (opt.significant_drop && !opt.significant_drop(pick.layers, current));
    round.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!round.accepted) round.chosen = -1;
    r.rounds.push_back(round);
    if (on_round) on_round(round);
    if (!round.accepted) {
      r.stop_reason = opt.significant_drop ? "best candidate fell under P_min, by more than 2 paired standard errors"
                                           : "best candidate fell under P_min";
      break;
    }
    current = pick.layers;
    track.accept(pick);
  }
  return r;
}

json SearchResult::to_json() const {
  auto model = [](const Evaluated& e) { return json{{"linear_layers", e.layers}, {"num_linear", e.layers.size()}, {"score", e.score}}; };
  json traj = json::array();
  for (const auto& rd : rounds) traj.push_back({{"round", rd.index}, {"chosen", rd.chosen}, {"score", rd.score}, {"accepted", rd.accepted}});
  return json{{"strategy", strategy}, {"base_score", base}, {"p_min", p_min}, {"M_best", model(best)},
              {"M_opt", model(opt)}, {"stop_reason", stop_reason}, {"rounds", traj}};
}

}  // namespace hyb
