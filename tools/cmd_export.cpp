// `hwnas export`: one network with its weights, from a supernet checkpoint and an arch or from
// --net, as an ONNX model or a safetensors file (docs/export.md); optionally checked against the
// engine on the same input.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "autograd/variable.h"
#include "hw_targets/onnxruntime_runner.h"
#include "io/onnx_export.h"
#include "io/safetensors.h"
#include "nas/network_source.h"
#include "nas/train_network.h"
#include "nas/weight_export.h"
#include "tools/commands.h"
#include "tools/subnet_options.h"

namespace hwnas::cli {

namespace {

struct ExportArgs {
  SubnetArgs sub;
  std::string net, weights, format, out, names = "auto", check_input = "random", reference_out;
  int opset = 13;
  bool no_fold_bn = false, check = false;
  int64_t static_batch = 0, check_batch = 2;
  int threads = 0;
};

constexpr float kAgreement = 1e-4f;

// The check input: random N(0, 1), or the first test images, normalised as in training.
Tensor check_input(const ExportArgs& a, const NetworkSpec& spec, int64_t batch) {
  const Shape shape = {batch, spec.input[0], spec.input[1], spec.input[2]};
  if (a.check_input == "random") {
    Generator g(a.sub.seed + 7919);
    return Tensor::randn(shape, g);
  }
  DatasetPair data = load_dataset_pair("fashion-mnist", a.sub.data_dir);
  if (data.test.image_shape() != Shape(spec.input))
    fail("--check-input fashion-mnist: the images are {} but network \"{}\" takes {}", shape_str(data.test.image_shape()),
         spec.name, shape_str(spec.input));
  if (batch > data.test.size()) fail("--check-batch {} is more than the {} test images", batch, data.test.size());
  Tensor x = data.test.images(0, batch).contiguous();
  float* p = x.data<float>();
  const int64_t c = spec.input[0], hw = spec.input[1] * spec.input[2];
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < hw; ++i) {
        float& v = p[(n * c + ch) * hw + i];
        v = (v - data.mean[ch]) / data.std[ch];
      }
  return x;
}

Tensor engine_forward(Sequential& net, const Tensor& x) {
  net.eval();
  net.prepare_inference();
  NoGradGuard ng;
  return net.forward(Variable(x)).data().contiguous();
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto va = a.to_vector(), vb = b.to_vector();
  float d = 0;
  for (size_t i = 0; i < va.size(); ++i) d = std::max(d, std::fabs(va[i] - vb[i]));
  return d;
}

float max_abs(const Tensor& a) {
  float m = 0;
  for (float v : a.to_vector()) m = std::max(m, std::fabs(v));
  return m;
}

void run_export(const ExportArgs& a, const CLI::App& cmd) {
  set_threads(a.threads);
  const bool from_checkpoint = !a.sub.checkpoint.empty();
  if (from_checkpoint == !a.net.empty())
    fail("give --checkpoint (a supernet checkpoint, with --arch) or --net (fbnet:ID, elastic-mobile:max|min|ARCH_JSON, "
         "a network JSON file, or a folder of `hwnas extract` / `hwnas train`), {}", from_checkpoint ? "not both" : "one of them");
  if (!from_checkpoint && cmd.count("--arch"))
    fail("--arch {} goes with --checkpoint; with --net give the arch in the name (elastic-mobile:ARCH_JSON)", a.sub.arch);
  if (from_checkpoint && !a.weights.empty()) fail("--weights goes with --net, not with --checkpoint");
  if (a.format != "onnx" && a.format != "safetensors")
    fail("--format must be onnx or safetensors, got \"{}\"", a.format);
  if (a.format != "onnx")
    for (const char* f : {"--opset", "--no-fold-bn", "--static-batch"})
      if (cmd.count(f)) fail("{} applies to --format onnx, not {}", f, a.format);
  if (a.format != "safetensors" && cmd.count("--names")) fail("--names applies to --format safetensors, not {}", a.format);
  if (a.check_input != "random" && a.check_input != "fashion-mnist")
    fail("--check-input must be random or fashion-mnist, got \"{}\"", a.check_input);
  if (a.static_batch > 0 && cmd.count("--check-batch") && a.check_batch != a.static_batch)
    fail("--check-batch {} differs from --static-batch {}, the only batch the model takes", a.check_batch, a.static_batch);
  const std::filesystem::path out_dir = std::filesystem::path(a.out).parent_path();
  if (!out_dir.empty() && !std::filesystem::is_directory(out_dir))
    fail("--out {}: folder {} does not exist", a.out, out_dir.string());

  LoadedNetwork ln = from_checkpoint ? load_subnet(a.sub.request()) : load_network(a.net, a.sub.seed);
  if (!a.weights.empty()) {
    const WeightNaming n = import_safetensors(ln.spec, *ln.net, load_safetensors(a.weights));
    ln.source["weights"] = a.weights;
    ln.source["weights_naming"] = weight_naming_name(n);
  }
  ln.net->eval();
  // The check input first: a check that cannot run fails before anything is written.
  const bool checking = a.check || !a.reference_out.empty();
  const int64_t batch = a.static_batch > 0 ? a.static_batch : a.check_batch;
  const Tensor x = checking ? check_input(a, ln.spec, batch) : Tensor();
  if (a.check && a.format == "onnx") {
    std::string why;
    if (!onnxruntime_available(&why)) fail("--check needs ONNX Runtime, which is not available: {}", why);
  }

  nlohmann::json j = {{"out", a.out}, {"format", a.format}, {"network", ln.spec.name}};
  if (a.format == "onnx") {
    OnnxExportOptions o;
    o.opset = a.opset;
    o.fold_bn = !a.no_fold_bn;
    o.dynamic_batch = a.static_batch == 0;
    if (a.static_batch > 0) o.batch = a.static_batch;
    export_onnx_file(ln.spec, *ln.net, a.out, o);
    j["opset"] = a.opset;
    j["fold_bn"] = o.fold_bn;
    j["batch"] = o.dynamic_batch ? nlohmann::json("dynamic") : nlohmann::json(o.batch);
  } else {
    const SafetensorsExport r =
        export_safetensors(ln.spec, *ln.net, a.out, a.names, {{"hwnas.source", ln.source.dump()}});
    j["naming"] = weight_naming_name(r.naming);
    j["tensors"] = r.tensors;
  }
  j["bytes"] = std::filesystem::file_size(a.out);
  j["params"] = ln.net->num_parameters();
  j["source"] = ln.source;

  std::string disagreement;
  if (checking) {
    const Tensor want = engine_forward(*ln.net, x);
    if (!a.reference_out.empty())
      save_safetensors(a.reference_out, {{"input", x}, {"logits", want}},
                       {{"hwnas.network", network_spec_to_json(ln.spec).dump()}, {"hwnas.check_input", a.check_input}});
    if (a.check) {
      Tensor got;
      std::string runtime;
      if (a.format == "onnx") {
        got = run_onnx_model(a.out, x);
        runtime = "onnxruntime";
      } else {
        // Read back with our reader into a network built from other seeds: every weight must land.
        LoadedNetwork fresh;
        fresh.spec = ln.spec;
        fresh.net = build_network(ln.spec, a.sub.seed + 1);
        import_safetensors(fresh.spec, *fresh.net, load_safetensors(a.out));
        got = engine_forward(*fresh.net, x);
        runtime = "hwnas (re-imported)";
      }
      if (got.shape() != want.shape())
        fail("--check: {} gives shape {}, the engine {}", runtime, shape_str(got.shape()), shape_str(want.shape()));
      const float d = max_abs_diff(got, want);
      j["check"] = {{"runtime", runtime}, {"input", a.check_input}, {"batch", batch}, {"max_abs_diff", d},
                    {"max_abs_output", max_abs(want)}};
      const float limit = a.format == "onnx" ? kAgreement : 0.f;
      if (!(d <= limit))
        disagreement = fmt::format("--check: {} differs from the engine by {:.3g} (allowed {}) on {}", runtime, d, limit, a.out);
    }
  }
  std::cout << j.dump() << std::endl;
  if (!disagreement.empty()) fail("{}", disagreement);
}

}  // namespace

void add_export_command(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand(
      "export", "Write a network with its weights as ONNX or safetensors (docs/export.md); prints one JSON line");
  add_subnet_options(cmd, a->sub, /*recal_optional=*/true, /*required=*/false);
  cmd->get_option("--seed")->description("seed of the recalibration batches (--checkpoint), of the initial weights "
                                         "(--net of a built-in or JSON network), and of the --check input");
  cmd->add_option("--net", a->net,
                  "instead of --checkpoint: fbnet:ID, elastic-mobile:max|min|ARCH_JSON, a network JSON file, a folder of "
                  "`hwnas extract` (network.json + weights.hwnas) or `hwnas train` (checkpoint.hwnas), such a .hwnas "
                  "file, or a .safetensors file of `hwnas export`");
  cmd->add_option("--weights", a->weights, "with --net: load these weights (safetensors, hwnas or PyTorch peer names)");
  cmd->add_option("--format", a->format, "onnx | safetensors")->required();
  cmd->add_option("--out", a->out, "the file to write (atomically)")->required();
  cmd->add_option("--opset", a->opset, "onnx: opset version (13..17)")->capture_default_str();
  cmd->add_flag("--no-fold-bn", a->no_fold_bn, "onnx: keep batch norms as BatchNormalization nodes");
  cmd->add_option("--static-batch", a->static_batch, "onnx: a fixed batch size instead of the symbolic \"batch\"")
      ->check(positive());
  cmd->add_option("--names", a->names,
                  "safetensors: auto (the PyTorch peer's state_dict names for FBNet and elastic-mobile networks, else "
                  "hwnas) | hwnas (our module paths)")
      ->capture_default_str();
  cmd->add_flag("--check", a->check,
                "run the written file (onnx: in ONNX Runtime; safetensors: re-imported) and the engine on the same input; "
                "prints max_abs_diff and fails above 1e-4 (onnx) or 0 (safetensors)");
  cmd->add_option("--check-input", a->check_input, "random | fashion-mnist (the first test images, normalised)")
      ->capture_default_str();
  cmd->add_option("--check-batch", a->check_batch, "images in the check input")->capture_default_str()->check(positive());
  cmd->add_option("--reference-out", a->reference_out,
                  "also write the check input and the engine's outputs on it (safetensors: \"input\", \"logits\")");
  cmd->add_option("--threads", a->threads, "OpenMP threads")->check(non_negative());
  cmd->callback([a, cmd] { run_export(*a, *cmd); });
}

}  // namespace hwnas::cli
