// Supervised fine-tuning on stories260K (a real pretrained model) and ARC-Easy's training split:
// the loss counts the answer tokens only (checked against a full forward's log-softmax in fp64,
// and a prompt label changed leaves loss and gradients bit for bit); a resumed run equals the
// uninterrupted one bit for bit (CPU); --train linear leaves every other tensor of the file byte
// for byte; a NaN stops the run naming the step; bad data gets an error naming the file and line,
// documents longer than --seq-len are skipped and counted. Each run is a few steps (CI budget).
#include <torch/torch.h>

#include <cstring>
#include <fstream>

#include "../test_util.h"
#include "io/safetensors.h"
#include "linear/linear.h"
#include "model/model.h"
#include "search/export.h"
#include "sft/sft.h"
#include "train/params.h"
#include "util/error.h"

namespace hyb {
namespace {
namespace fs = std::filesystem;

SftOptions arc_options(const fs::path& model, const fs::path& tasks, const std::string& out, int64_t steps) {
  SftOptions o;
  o.model_dir = model;
  o.out_dir = test::temp_dir(out) / "out";
  o.task = "arc_easy";
  o.tasks_dir = tasks.string();
  o.seq_len = 192;
  o.batch = 4;
  o.tokens = steps * 4 * 192;
  o.lr = 1e-3;
  o.warmup = 2;
  o.checkpoint_every = 0;
  o.threads = 1;
  o.progress = false;
  return o;
}

// Raw bytes of every tensor of a model directory's model.safetensors, by name.
std::map<std::string, std::string> tensor_bytes(const fs::path& dir) {
  std::map<std::string, std::string> out;
  auto f = SafetensorsFile::open(dir / "model.safetensors");
  for (const auto& [name, e] : f->entries()) {
    at::Tensor t = f->tensor(name).contiguous();
    out[name] = std::string(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  }
  return out;
}

TEST(Sft, LossCountsOnlyAnswerTokens) {
  HYB_REQUIRE_SHARED(dir, "data/models/stories260K/hf");
  auto model = CausalLM::load(dir);
  model->requires_grad(false);
  TrainableParams p = TrainableParams::of(model->parameters(), at::kCPU, {});
  p.bind(at::kFloat);
  at::manual_seed(0);
  const at::Tensor ids = at::randint(3, 512, {2, 24}, at::kLong);
  at::Tensor labels = at::cat({ids.narrow(1, 1, 23), at::zeros({2, 1}, at::kLong)}, 1);
  at::Tensor answer = at::zeros({2, 24}, at::kBool);
  answer[0].narrow(0, 15, 6).fill_(true);  // row 0: labels 15..20 are the answer
  answer[1].narrow(0, 4, 3).fill_(true);   // row 1: labels 4..6

  auto loss_and_grads = [&](const at::Tensor& lab) {
    for (auto& m : p.masters) m.mutable_grad() = at::Tensor();
    at::Tensor loss = answer_loss_sum(*model, ids, lab, answer);
    loss.backward();
    std::vector<at::Tensor> g;
    for (auto& m : p.masters) g.push_back(m.grad().clone());
    return std::make_pair(loss.detach(), g);
  };
  const auto [loss, grads] = loss_and_grads(labels);

  // Truth: the full forward's log-softmax in fp64 at the answer positions.
  double ref = 0;
  {
    at::NoGradGuard ng;
    const at::Tensor logp = at::log_softmax(model->forward(ids).to(at::kDouble), -1);
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t t = 0; t < 24; ++t)
        if (answer[b][t].item<bool>()) ref -= logp[b][t][labels[b][t].item<int64_t>()].item<double>();
  }
  EXPECT_NEAR(loss.item<double>(), ref, 1e-5 * std::abs(ref));

  // A prompt position's label (row 0, position 3; row 1, position 10) changed: nothing changes.
  at::Tensor other = labels.clone();
  other[0][3].fill_((other[0][3].item<int64_t>() + 1) % 512);
  other[1][10].fill_((other[1][10].item<int64_t>() + 7) % 512);
  const auto [loss2, grads2] = loss_and_grads(other);
  EXPECT_TRUE(torch::equal(loss, loss2));
  for (size_t i = 0; i < grads.size(); ++i) EXPECT_TRUE(torch::equal(grads[i], grads2[i])) << p.names[i];

  // An answer position's label changed: the loss changes (the test can fail).
  at::Tensor third = labels.clone();
  third[0][16].fill_((third[0][16].item<int64_t>() + 1) % 512);
  EXPECT_NE(loss_and_grads(third).first.item<double>(), loss.item<double>());
}

TEST(Sft, ResumeAfterInterruptionIsBitForBit) {
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  HYB_REQUIRE_SHARED(tasks, "data/tasks");
  auto full = arc_options(model, tasks, "sft_resume_full", 7);
  full.eval_task = "arc_easy";
  full.eval_limit = 16;
  const SftResult rf = run_sft(full);
  EXPECT_EQ(rf.steps, 7);
  EXPECT_GT(rf.examples, 2000);  // of ARC-Easy's 2251 training documents; the rest are longer than a row
  EXPECT_EQ(rf.examples + rf.skipped_too_long, 2251);
  ASSERT_TRUE(rf.eval_before.contains("acc"));
  ASSERT_TRUE(rf.eval_after.contains("acc"));

  auto part = full;
  part.out_dir = test::temp_dir("sft_resume_part") / "out";
  part.checkpoint_every = 2;
  part.stop_after_steps = 3;
  const SftResult r1 = run_sft(part);
  EXPECT_TRUE(r1.interrupted);
  EXPECT_EQ(r1.steps, 3);
  EXPECT_FALSE(fs::exists(part.out_dir / "model.safetensors"));
  part.stop_after_steps = 0;
  part.resume = true;
  const SftResult r2 = run_sft(part);
  EXPECT_FALSE(r2.interrupted);
  EXPECT_EQ(r2.steps, 7);
  EXPECT_EQ(r2.last_loss, rf.last_loss);
  EXPECT_EQ(tensor_bytes(full.out_dir), tensor_bytes(part.out_dir));
  EXPECT_EQ(r2.eval_before, rf.eval_before);

  // The output is a model directory: it loads, with the input's config and tensors' dtypes.
  auto tuned = CausalLM::load(full.out_dir);
  EXPECT_EQ(tuned->num_layers(), 5);
  EXPECT_NE(tensor_bytes(full.out_dir), tensor_bytes(model));  // it trained
  const auto report = nlohmann::json::parse(std::ifstream(full.out_dir / "sft.json"));
  EXPECT_EQ(report["documents"]["read"].get<int64_t>(), 2251);  // ARC-Easy's training split
  for (const char* f : {"config.json", "tokenizer.json", "log.jsonl", "loss.svg", "eval.svg"})
    EXPECT_TRUE(fs::exists(full.out_dir / f)) << f;

  part.lr *= 2;  // resuming with another setting is refused, naming it
  EXPECT_NE(test::error_of([&] { run_sft(part); }).find("'lr'"), std::string::npos);
}

TEST(Sft, TrainLinearLeavesEveryOtherTensorByteIdentical) {
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  HYB_REQUIRE_SHARED(tasks, "data/tasks");
  // A hybrid: stories260K with layer 1 a Gated DeltaNet initialised from its attention.
  const fs::path root = test::temp_dir("sft_linear");
  {
    auto m = CausalLM::load(model);
    const LinearSettings s = LinearSettings::for_model("gdn", m->config());
    m->set_mixer(1, make_linear_mixer_from_attention(s, m->attention_weights(1), 0), s.to_json());
    m->save(root / "hybrid");
    copy_tokenizer_files(model, root / "hybrid");
  }
  auto o = arc_options(root / "hybrid", tasks, "sft_linear_out", 3);
  o.train = "linear";
  run_sft(o);
  const auto before = tensor_bytes(root / "hybrid"), after = tensor_bytes(o.out_dir);
  ASSERT_EQ(before.size(), after.size());
  int changed = 0;
  for (const auto& [name, bytes] : before) {
    ASSERT_TRUE(after.count(name)) << name;
    if (name.find(".linear_attn.") == std::string::npos)
      EXPECT_TRUE(after.at(name) == bytes) << name << " changed under --train linear";
    else
      changed += after.at(name) != bytes;
  }
  EXPECT_GT(changed, 3);
  EXPECT_NE(test::error_of([&] {
              auto m = CausalLM::load(model);
              select_parameters(*m, "linear");
            }).find("--train"),
            std::string::npos);  // a model without linear layers has nothing to train under --train linear
  EXPECT_NE(test::error_of([&] {
              auto m = CausalLM::load(model);
              select_parameters(*m, "mlp,norms");
            }).find("norms"),
            std::string::npos);
}

TEST(Sft, NanStopsTheRunNamingTheStep) {
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  HYB_REQUIRE_SHARED(tasks, "data/tasks");
  auto o = arc_options(model, tasks, "sft_nan", 6);
  o.checkpoint_every = 2;
  o.before_step = [](int64_t step, std::vector<at::Tensor>& masters) {
    at::NoGradGuard ng;
    if (step == 3) masters[0].view(-1)[5].fill_(std::numeric_limits<float>::quiet_NaN());
  };
  const std::string msg = test::error_of([&] { run_sft(o); });
  EXPECT_NE(msg.find("step 3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("nan"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(o.out_dir / "model.safetensors"));
  const auto state = nlohmann::json::parse(std::ifstream(o.out_dir / "checkpoint.json"));
  EXPECT_EQ(state["step"].get<int64_t>(), 2);  // the last good checkpoint
}

TEST(Sft, BadDataIsNamedOrSkippedAndCounted) {
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  const fs::path dir = test::temp_dir("sft_bad_data");
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  };
  SftOptions o;
  o.model_dir = model;
  o.seq_len = 48, o.batch = 2, o.tokens = 2 * 48, o.threads = 1, o.progress = false;
  auto run = [&](const std::string& data, const std::string& out) {
    o.data = data;
    o.out_dir = dir / out;
    return run_sft(o);
  };
  const std::string good = R"({"prompt": "Once upon a time there was a", "completion": " cat"})" "\n";
  std::string msg = test::error_of([&] { run(write("missing.jsonl", good + R"({"prompt": "Hi"})" "\n"), "o1"); });
  EXPECT_NE(msg.find("missing.jsonl:2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("completion"), std::string::npos) << msg;
  msg = test::error_of([&] { run(write("empty.jsonl", good + R"({"prompt": "Hi", "completion": " "})" "\n"), "o2"); });
  EXPECT_NE(msg.find("empty.jsonl:2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
  msg = test::error_of([&] { run(write("notjson.jsonl", "{nope\n"), "o3"); });
  EXPECT_NE(msg.find("notjson.jsonl:1"), std::string::npos) << msg;

  std::string story(400, 'a');
  for (size_t i = 5; i < story.size(); i += 6) story[i] = ' ';
  const std::string long_doc = R"({"prompt": ")" + story + R"(", "completion": " end"})" "\n";
  const SftResult r = run(write("long.jsonl", good + long_doc + good + long_doc), "o4");
  EXPECT_EQ(r.examples, 2);
  EXPECT_EQ(r.skipped_too_long, 2);
  const auto report = nlohmann::json::parse(std::ifstream(dir / "o4" / "sft.json"));
  EXPECT_EQ(report["documents"]["skipped_longer_than_seq_len"].get<int64_t>(), 2);
  msg = test::error_of([&] { run(write("all_long.jsonl", long_doc), "o5"); });
  EXPECT_NE(msg.find("--seq-len"), std::string::npos) << msg;
}

}  // namespace
}  // namespace hyb
