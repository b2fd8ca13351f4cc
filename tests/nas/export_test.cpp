// Exporting networks with their weights (nas/weight_export.h, nas/network_source.h): which peer
// naming a network gets, the exact layout of the peer names, bit-identical outputs after an
// export and import under every naming, refusals of files that do not fit, the PyTorch peers
// loading our files and agreeing (when /usr/bin/python3 has torch), networks loaded from the
// folders `hwnas extract` and `hwnas train` write, and a subnet extracted from a supernet
// checkpoint exported to ONNX and run in ONNX Runtime.
#include "nas/weight_export.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "hw_targets/onnxruntime_runner.h"
#include "io/onnx_export.h"
#include "nas/builtin_spaces.h"
#include "nas/elastic_supernet.h"
#include "nas/network_source.h"
#include "nas/supernet_train.h"
#include "tests/hw_targets/hw_test_util.h"
#include "tests/test_util.h"

using namespace hwnas;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

using test::max_abs_diff;
using test::randomize_batch_norms;

Tensor run(Module& net, const Tensor& x) {
  net.eval();
  net.prepare_inference();
  NoGradGuard ng;
  return net.forward(Variable(x)).data().contiguous();
}

NetworkSpec fbnet0() { return fbnet_network(fbnet_arch_ops(test::kFbnetArch0), "fbnet:0"); }

NetworkSpec elastic_random(uint64_t seed) {
  Generator g(seed);
  return arch_network(elastic_mobile_space(), sample_arch(elastic_mobile_space(), g), "em-random");
}

// elastic-mobile with Split-Attention radix choices {1, 2, 4} on every block: a random subnet.
NetworkSpec elastic_split_attention(uint64_t seed) {
  json spec = elastic_mobile_space_spec();
  for (auto& st : spec["stages"]) st["block"]["radix"] = {1, 2, 4};
  const SearchSpace s = parse_space(spec, "elastic-mobile-sa");
  Generator g(seed);
  Arch a = sample_arch(s, g);
  a.radix[0] = 2;  // at least one Split-Attention block whatever the draw
  return arch_network(s, a, "em-sa");
}

std::shared_ptr<Sequential> built(const NetworkSpec& spec, uint64_t seed) {
  auto net = build_network(spec, seed);
  Generator g(seed + 1000);
  randomize_batch_norms(*net, g);
  return net;
}

Tensor input_for(const NetworkSpec& spec, int64_t batch, uint64_t seed) {
  Generator g(seed);
  return Tensor::randn({batch, spec.input[0], spec.input[1], spec.input[2]}, g);
}

// A supernet checkpoint as `hwnas supernet train` writes one, without training: random weights
// and BN statistics are all the export path needs.
std::string tiny_supernet_checkpoint(const test::TempDir& dir) {
  ElasticMobileSupernet sn(5);
  Generator g(6);
  randomize_batch_norms(sn, g);
  NamedTensors t;
  for (auto& [n, v] : sn.state()) t.emplace_back("model." + n, v);
  const std::string path = dir / "checkpoint.hwnas";
  save_checkpoint(path, t, {{"kind", "hwnas-supernet"}, {"config", {{"space", "elastic-mobile"}}}, {"epochs_done", 1}});
  return path;
}

}  // namespace

TEST(WeightExportTest, PeerNamingFollowsTheNetworkStructure) {
  EXPECT_EQ(peer_naming(fbnet0()), WeightNaming::fbnet_torch);
  EXPECT_EQ(*fbnet_ops_of(fbnet0()), fbnet_arch_ops(test::kFbnetArch0));
  EXPECT_EQ(peer_naming(resolve_network("elastic-mobile:max")), WeightNaming::elastic_torch);
  EXPECT_EQ(peer_naming(resolve_network("elastic-mobile:min")), WeightNaming::elastic_torch);
  EXPECT_EQ(peer_naming(elastic_random(3)), WeightNaming::elastic_torch);  // arch_network's spelling of the layers
  EXPECT_EQ(peer_naming(elastic_split_attention(3)), WeightNaming::hwnas);
  // Defaults left out of a network file do not matter; a different activation or stride does.
  json j = network_spec_to_json(resolve_network("elastic-mobile:min"));
  j["layers"][1].erase("groups");
  EXPECT_EQ(peer_naming(parse_network_spec(j, "f")), WeightNaming::elastic_torch);
  j["layers"][1]["act"] = "relu";
  EXPECT_EQ(peer_naming(parse_network_spec(j, "f")), WeightNaming::hwnas);
  EXPECT_EQ(peer_naming(test::tiny_net()), WeightNaming::hwnas);
  EXPECT_TRUE(test::contains(test::error_of([] { resolve_naming(test::tiny_net(), "torch"); }), "names \"torch\" unknown"));
  auto tiny = build_network(test::tiny_net(), 1);
  EXPECT_TRUE(test::contains(test::error_of([&] { weight_layout(test::tiny_net(), *tiny, WeightNaming::fbnet_torch); }),
                             "is not an FBNet-space network"));
}

// The names and shapes of fbnet_torch.FBNet's state_dict (body.1 is the Shuffle of _g2 ops).
TEST(WeightExportTest, FbnetPeerNames) {
  const NetworkSpec spec = fbnet0();
  auto net = built(spec, 1);
  const WeightFile f = network_weight_file(spec, *net, WeightNaming::fbnet_torch);
  std::map<std::string, Tensor> t(f.tensors.begin(), f.tensors.end());
  EXPECT_EQ(t.at("stem.0.weight").shape(), Shape({16, 3, 3, 3}));
  EXPECT_EQ(t.at("stem.1.running_var").shape(), Shape({16}));
  EXPECT_EQ(t.at("stem.1.num_batches_tracked").dtype(), DType::i64);
  EXPECT_EQ(t.at("stem.1.num_batches_tracked").shape(), Shape({}));
  EXPECT_EQ(t.at("blocks.0.body.1.0.weight").shape(), Shape({96, 1, 5, 5}));  // k5_e6 dw
  EXPECT_EQ(t.at("blocks.1.body.0.weight").shape(), Shape({24, 16, 1, 1}));  // skip 16 -> 24: conv_bn
  EXPECT_EQ(t.at("blocks.2.body.0.0.weight").shape(), Shape({24, 12, 1, 1}));  // k3_e1_g2: grouped expand
  EXPECT_EQ(t.at("blocks.2.body.2.0.weight").shape(), Shape({24, 1, 3, 3}));   // after the Shuffle
  EXPECT_EQ(t.at("blocks.2.body.3.1.bias").shape(), Shape({24}));
  EXPECT_EQ(t.count("blocks.3.body.0.weight") + t.count("blocks.3.body.0.0.weight"), 0u);  // skip as identity
  EXPECT_EQ(t.at("blocks.5.body.0.weight").shape(), Shape({32, 24, 1, 1}));  // skip with stride 2: conv_bn
  EXPECT_EQ(t.at("header.0.weight").shape(), Shape({1504, 352, 1, 1}));
  EXPECT_EQ(t.at("fc.weight").shape(), Shape({100, 1504}));
  EXPECT_EQ(t.at("fc.bias").shape(), Shape({100}));
  // Every tensor of ours once, plus one num_batches_tracked per batch norm.
  int64_t bns = 0;
  for (auto& [n, v] : net->state()) bns += n.ends_with("running_mean");
  EXPECT_EQ(f.tensors.size(), net->state().size() + bns);
  EXPECT_EQ(f.metadata.at("hwnas.naming"), "fbnet_torch.FBNet");
  EXPECT_EQ(f.metadata.at("hwnas.fbnet_ops"), test::kFbnetArch0);
  // Our tensor appears as is under the peer name.
  const auto st = net->state();
  std::map<std::string, Tensor> ours(st.begin(), st.end());
  EXPECT_EQ(t.at("blocks.2.body.2.0.weight").to_vector(), ours.at("mbconv3.dw.conv.weight").to_vector());
  EXPECT_EQ(t.at("fc.weight").to_vector(), ours.at("linear25.weight").to_vector());
}

// elastic_torch.ElasticNet's max-size tensors with the subnet where forward(x, arch) reads it.
TEST(WeightExportTest, ElasticPeerLayoutEmbedsTheSubnet) {
  const NetworkSpec spec = resolve_network(R"(elastic-mobile:{"kernel":[3,5,3,3,3,3,3,3,3,3],"expand":[2,4,2,2,2,2,2,2,2,2],"depth":[2,1,1,1]})");
  auto net = built(spec, 2);
  const WeightFile f = network_weight_file(spec, *net, WeightNaming::elastic_torch);
  const auto st = net->state();
  std::map<std::string, Tensor> t(f.tensors.begin(), f.tensors.end()), ours(st.begin(), st.end());
  // Block 0: k3 e2 on 16 input channels; the file holds the 96-channel, 5x5 supernet tensors.
  const Tensor dw = t.at("stages.0.0.dw"), ours_dw = ours.at("mbconv1.dw.conv.weight");
  ASSERT_EQ(dw.shape(), Shape({96, 1, 5, 5}));
  ASSERT_EQ(ours_dw.shape(), Shape({32, 1, 3, 3}));
  EXPECT_EQ(dw.narrow(0, 0, 32).narrow(2, 1, 3).narrow(3, 1, 3).contiguous().to_vector(), ours_dw.to_vector());
  EXPECT_EQ(dw.at({0, 0, 0, 0}), 0.f);   // outside the centre 3x3
  EXPECT_EQ(dw.at({40, 0, 2, 2}), 0.f);  // past the used hidden channels
  EXPECT_EQ(t.at("stages.0.0.pw").shape(), Shape({96, 16, 1, 1}));
  EXPECT_EQ(t.at("stages.0.0.pj").shape(), Shape({24, 96, 1, 1}));
  EXPECT_EQ(t.at("stages.0.0.pj").narrow(1, 0, 32).contiguous().to_vector(), ours.at("mbconv1.project.conv.weight").to_vector());
  EXPECT_EQ(t.at("stages.0.0.bn1.running_var").at({50}), 1.f);  // PyTorch's initial value
  EXPECT_EQ(t.at("stages.0.0.bn1.running_var").at({5}), ours.at("mbconv1.expand.bn.running_var").at({5}));
  EXPECT_EQ(t.at("stages.0.1.dw").at({0, 0, 2, 2}), ours.at("mbconv2.dw.conv.weight").at({0, 0, 2, 2}));  // k5: all of it
  // Blocks the depth drops are there (load_state_dict needs every key) at their initial values.
  EXPECT_EQ(t.at("stages.1.2.pw").shape(), Shape({240, 40, 1, 1}));
  EXPECT_EQ(max_abs_diff(t.at("stages.1.2.pw"), Tensor::zeros({240, 40, 1, 1})), 0.f);
  EXPECT_EQ(t.at("stages.3.1.bn3.weight").at({3}), 1.f);
  EXPECT_EQ(t.at("stages.3.1.bn3.num_batches_tracked").dtype(), DType::i64);
  EXPECT_EQ(t.at("head.0.weight").shape(), Shape({256, 96, 1, 1}));
  EXPECT_EQ(t.at("fc.weight").shape(), Shape({10, 256}));
  // stem 1 + 5, 10 blocks * (3 convs + 3 BN * 5), head 1 + 5, fc 2
  EXPECT_EQ(f.tensors.size(), 6u + 10 * 18 + 6 + 2);
  const json arch = json::parse(f.metadata.at("hwnas.arch"));
  EXPECT_EQ(arch.at("depth"), json({2, 1, 1, 1}));
  EXPECT_EQ(arch.at("kernel")[1], 5);
}

// Export, import into a network built from other seeds: the same weights, the same outputs, bit
// for bit, under every naming (peer names with padding included).
TEST(WeightExportTest, ExportImportRoundTripIsBitIdentical) {
  test::TempDir dir("wexp");
  struct Case {
    NetworkSpec spec;
    std::string names;
    WeightNaming expect;
  };
  const std::vector<Case> cases = {{fbnet0(), "auto", WeightNaming::fbnet_torch},
                                   {elastic_random(11), "auto", WeightNaming::elastic_torch},
                                   {resolve_network("elastic-mobile:max"), "hwnas", WeightNaming::hwnas},
                                   {elastic_split_attention(12), "auto", WeightNaming::hwnas}};
  int i = 0;
  for (const Case& c : cases) {
    auto a = built(c.spec, 20 + i);
    // channels_last weights (as the engine may hold them) are stored in logical order.
    for (auto& [n, p] : a->named_parameters())
      if (p.dim() == 4) p.data() = test::cl(test::randn(p.data().shape(), 100 + i, 0.3f));
    const std::string path = dir / fmt::format("w{}.safetensors", i);
    const SafetensorsExport r = export_safetensors(c.spec, *a, path, c.names);
    EXPECT_EQ(r.naming, c.expect) << c.spec.name;
    EXPECT_EQ(r.bytes, fs::file_size(path));
    auto b = build_network(c.spec, 900 + i);
    EXPECT_EQ(import_safetensors(c.spec, *b, load_safetensors(path)), c.expect);
    const auto sa = a->state(), sb = b->state();
    ASSERT_EQ(sa.size(), sb.size());
    for (size_t k = 0; k < sa.size(); ++k) EXPECT_EQ(sa[k].second.to_vector(), sb[k].second.to_vector()) << sa[k].first;
    const Tensor x = input_for(c.spec, 2, 5);
    EXPECT_EQ(run(*a, x).to_vector(), run(*b, x).to_vector()) << c.spec.name;
    // And from the file alone (the network in its metadata).
    LoadedWeights w = load_network_safetensors(path);
    EXPECT_EQ(run(*w.net, x).to_vector(), run(*a, x).to_vector()) << c.spec.name;
    ++i;
  }
}

TEST(WeightExportTest, ChannelsLastWeightsAreWrittenInLogicalOrder) {
  test::TempDir dir("wexp");
  const NetworkSpec spec = test::tiny_net();
  auto net = build_network(spec, 3);
  Variable w = net->named_parameters()[0].second;  // shares the parameter
  const Tensor cl = test::cl(test::randn(w.data().shape(), 4));
  w.data() = cl;  // the parameter now lives in channels_last memory
  ASSERT_TRUE(net->state()[0].second.is_channels_last());
  export_safetensors(spec, *net, dir / "t.safetensors");
  const SafetensorsFile f = load_safetensors(dir / "t.safetensors");
  EXPECT_EQ(f.at(net->state()[0].first).to_vector(), cl.to_vector());
}

TEST(WeightExportTest, ImportRefusesFilesThatDoNotFit) {
  test::TempDir dir("wexp");
  const NetworkSpec em = elastic_random(13), mx = resolve_network("elastic-mobile:max");
  auto net = built(em, 1);
  export_safetensors(em, *net, dir / "em.safetensors");
  auto other = build_network(mx, 1);
  // Another subnet: its padding would be read as weights.
  EXPECT_TRUE(test::contains(test::error_of([&] { import_safetensors(mx, *other, load_safetensors(dir / "em.safetensors")); }),
                             "differs from network"));
  // Names, shapes and dtypes, all listed; nothing copied.
  WeightFile f = network_weight_file(em, *net, WeightNaming::hwnas);
  f.metadata.erase("hwnas.network");
  const std::string first = f.tensors[0].first;
  f.tensors[0].second = Tensor::zeros({3});
  f.tensors[1].first = "bogus";
  save_safetensors(dir / "bad.safetensors", f.tensors, f.metadata);
  auto fresh = build_network(em, 2);
  const auto before = fresh->state()[0].second.to_vector();
  const std::string msg = test::error_of([&] { import_safetensors(em, *fresh, load_safetensors(dir / "bad.safetensors")); });
  EXPECT_TRUE(test::contains(msg, dir / "bad.safetensors")) << msg;
  EXPECT_TRUE(test::contains(msg, "\"" + first + "\" is F32 [3], expected F32")) << msg;
  EXPECT_TRUE(test::contains(msg, "missing \"" + f.tensors.at(1).first + "\"") || test::contains(msg, "missing")) << msg;
  EXPECT_TRUE(test::contains(msg, "unexpected \"bogus\"")) << msg;
  EXPECT_EQ(fresh->state()[0].second.to_vector(), before);
  // A peer-named file (no hwnas metadata, as PyTorch would save it) for a network with no peer.
  save_safetensors(dir / "peer.safetensors", {{"stem.0.weight", Tensor::zeros({1})}});
  auto tiny = build_network(test::tiny_net(), 1);
  EXPECT_TRUE(test::contains(test::error_of([&] { import_safetensors(test::tiny_net(), *tiny, load_safetensors(dir / "peer.safetensors")); }),
                             "holds PyTorch peer names"));
  // The arch in the metadata must be the network's.
  WeightFile g = network_weight_file(em, *net, WeightNaming::elastic_torch);
  g.metadata.erase("hwnas.network");
  g.metadata["hwnas.arch"] = R"({"kernel":[5,5,5,5,5,5,5,5,5,5],"expand":[6,6,6,6,6,6,6,6,6,6],"depth":[2,3,3,2]})";
  save_safetensors(dir / "arch.safetensors", g.tensors, g.metadata);
  EXPECT_TRUE(test::contains(test::error_of([&] { import_safetensors(em, *fresh, load_safetensors(dir / "arch.safetensors")); }),
                             "is another subnet"));
  EXPECT_TRUE(test::contains(test::error_of([&] { load_network_safetensors(dir / "peer.safetensors"); }),
                             "no \"hwnas.network\" metadata"));
}

// PyTorch's own peers (../shared/peers) load our files with load_state_dict (strict) and give
// our outputs on the same input.
TEST(WeightExportTest, PyTorchPeersLoadTheFilesAndAgree) {
  const fs::path peers = fs::path(HWNAS_SOURCE_DIR) / ".." / "shared" / "peers";
  if (!fs::exists(peers / "fbnet_torch.py") || !fs::exists(peers / "elastic_torch.py"))
    GTEST_SKIP() << "the PyTorch peers are not at " << peers;
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "/usr/bin/python3 is not installed";
  test::TempDir dir("wexp");
  std::vector<std::string> args = {"/usr/bin/python3", "-c", R"(
import json, struct, sys
try:
    import numpy as np, torch
except ImportError as e:
    print(json.dumps({'skip': str(e)}))
    sys.exit(0)
sys.path.insert(0, sys.argv[1])
import fbnet_torch, elastic_torch
DT = {'F32': '<f4', 'I64': '<i8'}
def read(path):
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    h = json.loads(b[8:8 + n])
    meta = h.pop('__metadata__', {})
    return {k: torch.from_numpy(np.frombuffer(b[8 + n + v['data_offsets'][0]:8 + n + v['data_offsets'][1]],
                                              dtype=DT[v['dtype']]).reshape(v['shape']).copy()) for k, v in h.items()}, meta
torch.set_num_threads(1)
out = {}
for w, ref in zip(sys.argv[2::2], sys.argv[3::2]):
    t, meta = read(w)
    if meta['hwnas.naming'] == 'fbnet_torch.FBNet':
        model = fbnet_torch.FBNet(meta['hwnas.fbnet_ops'].split(','))
        fwd = model
    else:
        model = elastic_torch.ElasticNet()
        arch = json.loads(meta['hwnas.arch'])
        fwd = lambda x: model(x, arch)
    model.load_state_dict(t)  # strict: every key, every shape
    model.eval()
    r, _ = read(ref)
    with torch.no_grad():
        y = fwd(r['input'])
    out[w] = {'max_abs_diff': float((y - r['logits']).abs().max()), 'max_abs': float(r['logits'].abs().max())}
print(json.dumps(out))
)", peers.string()};
  const std::vector<NetworkSpec> specs = {fbnet0(), elastic_random(21), resolve_network("elastic-mobile:min")};
  for (size_t i = 0; i < specs.size(); ++i) {
    auto net = built(specs[i], 30 + i);
    const std::string w = dir / fmt::format("w{}.safetensors", i), ref = dir / fmt::format("r{}.safetensors", i);
    export_safetensors(specs[i], *net, w);
    const Tensor x = input_for(specs[i], 2, 40 + i);
    save_safetensors(ref, {{"input", x}, {"logits", run(*net, x)}});
    args.push_back(w);
    args.push_back(ref);
  }
  const ProcessResult r = run_process(args, {}, 120);
  ASSERT_EQ(r.exit_status, 0) << r.err;
  const json j = json::parse(r.out);
  if (j.contains("skip")) GTEST_SKIP() << "/usr/bin/python3 cannot import torch and numpy: " << j["skip"];
  for (const auto& [w, v] : j.items()) {
    std::printf("[pytorch peer] %s: max |torch - engine| = %.3g (max |logit| %.3g)\n", w.c_str(),
                v["max_abs_diff"].get<double>(), v["max_abs"].get<double>());
    EXPECT_LE(v["max_abs_diff"].get<double>(), 1e-4) << w;
  }
  EXPECT_EQ(j.size(), specs.size());
}

// The folders of `hwnas extract` and `hwnas train` and their checkpoint files give the network
// and weights they hold.
TEST(NetworkSourceTest, LoadsExtractAndTrainOutputs) {
  test::TempDir dir("wsrc");
  const NetworkSpec spec = elastic_random(17);
  auto net = built(spec, 3);
  const Tensor x = input_for(spec, 2, 9);
  const auto want = run(*net, x).to_vector();
  NamedTensors st;
  for (auto& [n, v] : net->state()) st.emplace_back(n, v);
  fs::create_directories(dir.path / "ex");
  std::ofstream(dir / "ex/network.json") << network_spec_to_json(spec).dump();
  save_checkpoint(dir / "ex/weights.hwnas", st, {{"kind", "hwnas-subnet"}});
  EXPECT_EQ(run(*load_network(dir / "ex").net, x).to_vector(), want);
  EXPECT_EQ(run(*load_network(dir / "ex/weights.hwnas").net, x).to_vector(), want);
  NamedTensors tr;
  for (auto& [n, v] : net->state()) tr.emplace_back("model." + n, v);
  tr.emplace_back("optimizer.momentum.0", Tensor::zeros({3}));
  fs::create_directories(dir.path / "tr");
  save_checkpoint(dir / "tr/checkpoint.hwnas", tr,
                  {{"kind", "hwnas-train"}, {"config", {{"net", network_spec_to_json(spec)}}}, {"epochs_done", 1}});
  LoadedNetwork t = load_network(dir / "tr");
  EXPECT_EQ(run(*t.net, x).to_vector(), want);
  EXPECT_EQ(t.spec.layers, spec.layers);
  EXPECT_TRUE(test::contains(test::error_of([&] { load_network(dir.path.string()); }), "has neither network.json"));
  const std::string sn = tiny_supernet_checkpoint(dir);
  EXPECT_TRUE(test::contains(test::error_of([&] { load_network(sn); }), "is a supernet checkpoint"));
}

// A subnet extracted from a supernet checkpoint: the same outputs as the supernet, exported to
// ONNX (batch norm folded and not), agreeing in ONNX Runtime within 1e-4 at batch 1 and 3; and
// through safetensors bit-identically.
TEST(ExportTest, SubnetOfSupernetCheckpoint) {
  test::TempDir dir("wsub");
  const std::string ck = tiny_supernet_checkpoint(dir);
  SubnetRequest q;
  q.checkpoint = ck;
  q.arch = R"({"kernel":[5,3,5,3,3,5,3,5,3,5],"expand":[6,2,4,4,6,2,4,2,6,4],"depth":[2,2,3,1]})";
  q.recal_batches = 0;
  LoadedNetwork sub = load_subnet(q);
  EXPECT_EQ(peer_naming(sub.spec), WeightNaming::elastic_torch);
  auto supernet = load_supernet(ck);
  supernet->eval();
  const Tensor x = input_for(sub.spec, 3, 8);
  Tensor from_supernet;
  {
    NoGradGuard ng;
    from_supernet = supernet->forward(Variable(x), parse_arch(elastic_mobile_space(), q.arch)).data();
  }
  const Tensor want = run(*sub.net, x);
  EXPECT_LE(max_abs_diff(want, from_supernet), 1e-4f);

  export_safetensors(sub.spec, *sub.net, dir / "sub.safetensors");
  EXPECT_EQ(run(*load_network_safetensors(dir / "sub.safetensors").net, x).to_vector(), want.to_vector());

  std::string why;
  if (!onnxruntime_available(&why)) GTEST_SKIP() << "ONNX Runtime not available: " << why;
  for (bool fold : {true, false}) {
    OnnxExportOptions o;
    o.fold_bn = fold;
    const std::string path = dir / fmt::format("sub_{}.onnx", fold);
    export_onnx_file(sub.spec, *sub.net, path, o);
    for (int64_t batch : {int64_t{1}, int64_t{3}}) {
      const Tensor xb = x.narrow(0, 0, batch).contiguous();
      const Tensor got = run_onnx_model(path, xb);
      ASSERT_EQ(got.shape(), Shape({batch, 10}));
      const float d = max_abs_diff(got, want.narrow(0, 0, batch));
      std::printf("[agreement] supernet subnet fold=%d batch=%lld: max |ort - engine| = %.3g\n", fold,
                  static_cast<long long>(batch), d);
      EXPECT_LE(d, 1e-4f);
    }
  }
}
