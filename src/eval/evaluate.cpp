#include "eval/evaluate.h"

#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <fstream>

#include "model/model.h"
#include "util/error.h"
#include "util/files.h"
#include "util/progress.h"

namespace hyb::eval {

namespace fs = std::filesystem;
using json = nlohmann::json;

TaskResult prepare_task(const TaskSpec& task, const TextEncoder& enc, const EvalOptions& opt, int64_t max_len) {
  TaskResult r;
  r.task = task;
  r.split = opt.split.empty() ? task.split : opt.split;
  r.file = task_file(task, opt.tasks_dir, r.split);
  auto docs = load_task_docs(task, r.file);
  r.n_original = static_cast<int64_t>(docs.size());
  if (opt.limit > 0 && r.n_original > opt.limit) docs.resize(opt.limit);
  std::vector<Doc> pool;
  if (opt.num_fewshot > 0 && !task.fewshot_split.empty())
    pool = load_task_docs(task, task_file(task, opt.tasks_dir, task.fewshot_split));
  r.instances = build_instances(task, docs, pool, opt.num_fewshot, task.fewshot_split == r.split);
  r.tokens.resize(r.instances.size());
  for (size_t i = 0; i < r.instances.size(); ++i) {
    for (const auto& req : r.instances[i].requests) {
      TokenRequest t = encode_request(req, enc, docs[i].where);
      if (max_len > 0) truncate_request(t, max_len, docs[i].where);
      r.tokens[i].push_back(std::move(t));
    }
  }
  return r;
}

TaskResult prepare_task(const CausalLM& model, const TextEncoder& enc, const TaskSpec& task, const EvalOptions& opt) {
  return prepare_task(task, enc, opt, opt.max_length > 0 ? opt.max_length : model.config().max_position_embeddings);
}

RequestPlan plan_requests(const CausalLM& model, const TaskResult& r, const EvalOptions& opt) {
  RequestPlan p;
  int64_t longest = 0;
  for (size_t i = 0; i < r.tokens.size(); ++i) {
    for (const auto& t : r.tokens[i]) {
      longest = std::max<int64_t>(longest, t.context.size() + t.continuation.size());
      p.flat.push_back(t);
      p.owner.push_back(static_cast<int64_t>(i));
    }
  }
  p.plan.max_requests = opt.batch_size;
  p.plan.max_tokens = opt.max_tokens > 0 ? opt.max_tokens : auto_token_budget(model, longest);
  p.plan.share_contexts = opt.share_contexts;
  return p;
}

std::vector<DocResult> score_docs(const TaskSpec& task, const std::vector<Instance>& instances,
                                  const std::vector<Score>& scores) {
  std::vector<DocResult> docs;
  size_t k = 0;
  for (const auto& inst : instances) {
    std::vector<double> ll;
    std::vector<bool> greedy;
    for (size_t j = 0; j < inst.requests.size(); ++j, ++k) {
      ll.push_back(scores.at(k).logprob);
      greedy.push_back(scores.at(k).greedy);
    }
    docs.push_back(score_doc(task, inst, std::move(ll), std::move(greedy)));
  }
  return docs;
}

TaskResult evaluate_task(CausalLM& model, const TextEncoder& enc, const TaskSpec& task, const EvalOptions& opt) {
  TaskResult r = prepare_task(model, enc, task, opt);
  const RequestPlan requests = plan_requests(model, r, opt);
  const std::vector<int64_t>& owner = requests.owner;

  // Progress in documents: one is done when all of its requests are.
  std::vector<int64_t> left(r.instances.size());
  for (size_t i = 0; i < left.size(); ++i) left[i] = static_cast<int64_t>(r.instances[i].requests.size());
  Progress bar(task.name, static_cast<int64_t>(r.instances.size()), "samples",
               opt.progress ? Progress::Mode::kAuto : Progress::Mode::kSilent);
  int64_t done = 0, batches = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const std::clock_t c0 = std::clock();
  auto scores = score_requests(model, requests.flat, requests.plan, [&](const Batch& b) {
    for (int64_t k : b.requests) done += --left[owner[k]] == 0;
    r.padded_tokens += b.padded_tokens;
    bar.update(done, fmt::format("batch {} ({} requests)", ++batches, b.requests.size()));
  });
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.cpu_seconds = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
  bar.finish(fmt::format("{} batches, {} padded tokens", batches, r.padded_tokens));

  r.docs = score_docs(task, r.instances, scores);
  r.metrics = aggregate(task, r.docs);
  return r;
}

namespace {

const char* output_name(OutputType t) {
  return t == OutputType::kLoglikelihood ? "loglikelihood" : "multiple_choice";
}

json task_config(const TaskResult& r) {
  const TaskSpec& t = r.task;
  json c = {{"task", t.name},
            {"dataset_path", r.file.string()},
            {"split", r.split},
            {"output_type", output_name(t.output)},
            {"description", t.description},
            {"doc_to_text", t.text},
            {"target_delimiter", " "},
            {"fewshot_delimiter", "\n\n"}};
  if (!t.fewshot_split.empty()) c["fewshot_split"] = t.fewshot_split;
  if (!t.process.empty()) c["process_docs"] = t.process;
  if (t.output == OutputType::kLoglikelihood || t.output == OutputType::kMultipleContext) c["doc_to_target"] = t.target;
  if (t.output != OutputType::kLoglikelihood) {
    const auto& ch = t.choices;
    c["doc_to_choice"] = !ch.literal.empty() ? json(ch.literal) : !ch.templates.empty() ? json(ch.templates) : json(ch.list_expr);
    c["gold"] = t.gold;
  }
  if (t.output == OutputType::kMultipleContext) c["multiple_inputs"] = true;
  json metrics = json::array();
  for (const auto& m : t.metrics)
    metrics.push_back({{"metric", m}, {"aggregation", m == "perplexity" ? "perplexity" : "mean"},
                       {"higher_is_better", m != "perplexity"}});
  c["metric_list"] = metrics;
  return c;
}

}  // namespace

json results_json(const std::vector<TaskResult>& results, const json& config) {
  json out = {{"results", json::object()},   {"configs", json::object()}, {"n-shot", json::object()},
              {"n-samples", json::object()}, {"higher_is_better", json::object()}, {"timing", json::object()}};
  for (const auto& r : results) {
    const std::string& name = r.task.name;
    json res = {{"alias", name}};
    json hib = json::object();
    for (const auto& m : r.metrics) {
      res[m.name + ",none"] = m.value;
      res[m.name + "_stderr,none"] = m.has_stderr ? json(m.stderr) : json("N/A");
      hib[m.name] = m.name != "perplexity";
    }
    out["results"][name] = res;
    out["configs"][name] = task_config(r);
    out["n-shot"][name] = config.value("num_fewshot", 0);
    out["n-samples"][name] = {{"original", r.n_original}, {"effective", r.instances.size()}};
    out["higher_is_better"][name] = hib;
    out["timing"][name] = {{"seconds", r.seconds},
                           {"cpu_seconds", r.cpu_seconds},
                           {"samples_per_second", r.seconds > 0 ? r.instances.size() / r.seconds : 0.0},
                           {"padded_tokens", r.padded_tokens}};
  }
  out["config"] = config;
  return out;
}

void write_samples(const std::vector<TaskResult>& results, const fs::path& file) {
  write_stream_atomic(file, [&](std::ostream& f) {
    for (const auto& r : results) {
      for (size_t i = 0; i < r.instances.size(); ++i) {
        const Instance& inst = r.instances[i];
        const DocResult& d = r.docs[i];
        json reqs = json::array();
        for (size_t j = 0; j < inst.requests.size(); ++j) {
          const TokenRequest& t = r.tokens[i][j];
          reqs.push_back({{"context", inst.requests[j].context},
                          {"continuation", inst.requests[j].continuation},
                          {"loglikelihood", d.ll[j]},
                          {"is_greedy", static_cast<bool>(d.greedy[j])},
                          {"context_tokens", t.context.size()},
                          {"continuation_ids", t.continuation}});
        }
        json line = {{"task", r.task.name}, {"doc_id", inst.doc_id}, {"requests", reqs}, {"acc", d.acc}};
        if (r.task.output != OutputType::kLoglikelihood) {
          line["gold"] = inst.gold;
          line["prediction"] = d.pred;
          line["prediction_norm"] = d.pred_norm;
          line["acc_norm"] = d.acc_norm;
        }
        f << line.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
      }
    }
  });
}

void write_requests(const std::vector<TaskResult>& results, const fs::path& file) {
  write_stream_atomic(file, [&](std::ostream& f) {
    for (const auto& r : results)
      for (size_t i = 0; i < r.instances.size(); ++i)
        for (size_t j = 0; j < r.instances[i].requests.size(); ++j)
          f << json{{"task", r.task.name},
                    {"doc_id", r.instances[i].doc_id},
                    {"context", r.instances[i].requests[j].context},
                    {"continuation", r.instances[i].requests[j].continuation},
                    {"ctx_ids", r.tokens[i][j].context},
                    {"cont_ids", r.tokens[i][j].continuation}}
                   .dump(-1, ' ', false, json::error_handler_t::replace)
            << "\n";
  });
}

std::string results_table(const std::vector<TaskResult>& results) {
  std::string s = "| Task | Split | n | Metric | Value | | Stderr | samples/s |\n|---|---|--:|---|--:|---|--:|--:|\n";
  for (const auto& r : results) {
    bool first = true;
    for (const auto& m : r.metrics) {
      const double rate = r.seconds > 0 ? r.instances.size() / r.seconds : 0.0;
      s += fmt::format("| {} | {} | {} | {} | {:.4f} | ± | {} | {} |\n", first ? r.task.name : "",
                       first ? r.split : "", first ? std::to_string(r.instances.size()) : "", m.name, m.value,
                       m.has_stderr ? fmt::format("{:.4f}", m.stderr) : "N/A",
                       first ? fmt::format("{:.1f}", rate) : "");
      first = false;
    }
  }
  return s;
}

}  // namespace hyb::eval
