// The safetensors format: exact round trips (names, dtypes, shapes, bytes, metadata, channels_last
// tensors stored in logical order), a hand-made file read as the specification says, every kind
// of corrupt file refused with a message naming the file and the problem, atomic writes, and
// files read and written by an independent reader (numpy, when /usr/bin/python3 has it).
#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "hw_targets/onnxruntime_runner.h"  // run_process
#include "tests/test_util.h"

using namespace hwnas;
using nlohmann::json;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f << bytes;
}

// A file made by hand: the 8-byte length, the header as given (unpadded), then the data.
std::string make_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

std::string floats(std::initializer_list<float> v) {
  return std::string(reinterpret_cast<const char*>(v.begin()), v.size() * sizeof(float));
}

std::string bytes_of(const Tensor& t) {
  const Tensor c = t.contiguous();
  return std::string(static_cast<const char*>(c.raw_data()), c.numel() * dtype_size(c.dtype()));
}

// Several dtypes, a channels_last tensor, a scalar and an empty tensor.
NamedTensors sample_tensors() {
  NamedTensors t;
  t.emplace_back("conv.weight", test::cl(test::randn({4, 3, 3, 2}, 1)));  // channels_last in memory
  t.emplace_back("fc.bias", test::randn({5}, 2));
  t.emplace_back("bn.num_batches_tracked", Tensor::from_vector_i64({-3}, {}));
  t.emplace_back("steps", Tensor::from_vector_i64({1, 2, 1ll << 40}, {3}));
  t.emplace_back("scale", Tensor::scalar(0.1f));
  t.emplace_back("nothing", Tensor::zeros({0, 4}));
  Tensor h = Tensor::empty({3}, DType::f16);
  const uint16_t hv[3] = {0x3c00, 0xc000, 0x7bff};  // 1, -2, 65504
  std::memcpy(h.raw_data(), hv, sizeof hv);
  t.emplace_back("half", h);
  return t;
}

void expect_same(const NamedTensors& want, const SafetensorsFile& got) {
  ASSERT_EQ(got.tensors.size(), want.size());
  for (const auto& [name, t] : want) {
    const Tensor* g = got.find(name);
    ASSERT_NE(g, nullptr) << name;
    EXPECT_EQ(g->dtype(), t.dtype()) << name;
    EXPECT_EQ(g->shape(), t.shape()) << name;
    EXPECT_TRUE(g->is_contiguous()) << name;
    EXPECT_EQ(bytes_of(*g), bytes_of(t)) << name;  // bit-identical, in logical order
  }
}

bool have_numpy(std::string* why) {
  if (!std::filesystem::exists("/usr/bin/python3")) {
    *why = "/usr/bin/python3 is not installed";
    return false;
  }
  const ProcessResult r = run_process({"/usr/bin/python3", "-c", "import numpy"}, {}, 60);
  if (r.exit_status != 0) {
    *why = "numpy is not importable by /usr/bin/python3 (apt-get install python3-numpy): " + r.err;
    return false;
  }
  return true;
}

}  // namespace

TEST(SafetensorsTest, RoundTripIsExact) {
  test::TempDir dir("st");
  const NamedTensors t = sample_tensors();
  const SafetensorsMetadata meta = {{"format", "pt"}, {"note", "ünïcode ✓"}, {"empty", ""}};
  save_safetensors(dir / "a.safetensors", t, meta);
  const SafetensorsFile f = load_safetensors(dir / "a.safetensors");
  expect_same(t, f);
  EXPECT_EQ(f.metadata, meta);
  EXPECT_EQ(f.path, dir / "a.safetensors");
  // The same bytes as in memory, and a second save of what was read gives the same file.
  EXPECT_EQ(read_file(dir / "a.safetensors"), safetensors_bytes(t, meta));
  save_safetensors(dir / "b.safetensors", f.tensors, f.metadata);
  EXPECT_EQ(read_file(dir / "b.safetensors"), read_file(dir / "a.safetensors"));
  // No metadata: no "__metadata__" key at all.
  save_safetensors(dir / "c.safetensors", {{"x", Tensor::ones({2})}});
  EXPECT_TRUE(load_safetensors(dir / "c.safetensors").metadata.empty());
  EXPECT_EQ(read_file(dir / "c.safetensors").find("__metadata__"), std::string::npos);
}

// The layout the specification prescribes, checked on the bytes.
TEST(SafetensorsTest, FileLayoutFollowsTheSpecification) {
  const NamedTensors t = sample_tensors();
  const std::string b = safetensors_bytes(t, {{"k", "v"}});
  uint64_t n = 0;
  std::memcpy(&n, b.data(), 8);
  EXPECT_EQ(n % 8, 0u);  // padded so the data starts 8-byte aligned
  EXPECT_EQ(b[8], '{');
  const json h = json::parse(b.substr(8, n));
  EXPECT_EQ(h.at("__metadata__"), json({{"k", "v"}}));
  uint64_t total = 0;
  for (const auto& [name, t] : t) {
    const json& e = h.at(name);
    EXPECT_EQ(e.size(), 3u);
    const uint64_t begin = e["data_offsets"][0], end = e["data_offsets"][1];
    EXPECT_EQ(begin % dtype_size(t.dtype()), 0u) << name << " is aligned to its element size";
    EXPECT_EQ(e["shape"].get<Shape>(), t.shape());
    EXPECT_EQ(b.substr(8 + n + begin, end - begin), bytes_of(t)) << name;
    total += end - begin;
  }
  EXPECT_EQ(h.at("conv.weight").at("dtype"), "F32");
  EXPECT_EQ(h.at("steps").at("dtype"), "I64");
  EXPECT_EQ(h.at("half").at("dtype"), "F16");
  EXPECT_EQ(b.size(), 8 + n + total);  // no hole, no tail
  // channels_last in memory, row-major in the file: element [1, 2, 0, 1] at its logical index.
  const Tensor& w = t[0].second;
  const uint64_t w0 = h.at("conv.weight")["data_offsets"][0];
  float v = 0;
  std::memcpy(&v, b.data() + 8 + n + w0 + 4 * (((1 * 3 + 2) * 3 + 0) * 2 + 1), 4);
  EXPECT_EQ(v, w.at({1, 2, 0, 1}));
}

// A file written by hand as the specification describes (as another writer would).
TEST(SafetensorsTest, ReadsAHandMadeFile) {
  const std::string header =
      R"({"b":{"dtype":"F32","shape":[1,2],"data_offsets":[8,16]},"__metadata__":{"who":"hand"},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"I64","shape":[0],"data_offsets":[16,16]}}  )";
  const SafetensorsFile f = parse_safetensors(make_file(header, floats({1.f, -2.5f, 3.f, 4.f})), "hand");
  ASSERT_EQ(f.tensors.size(), 3u);
  EXPECT_EQ(f.tensors[0].first, "a");  // in data order
  EXPECT_EQ(f.at("a").to_vector(), std::vector<float>({1.f, -2.5f}));
  EXPECT_EQ(f.at("b").shape(), Shape({1, 2}));
  EXPECT_EQ(f.at("b").to_vector(), std::vector<float>({3.f, 4.f}));
  EXPECT_EQ(f.at("e").numel(), 0);
  EXPECT_EQ(f.metadata.at("who"), "hand");
  EXPECT_TRUE(test::contains(test::error_of([&] { f.at("zz"); }), "hand: no tensor named \"zz\""));
}

TEST(SafetensorsTest, CorruptFilesFailNamingTheProblem) {
  const std::string ok_entry = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::string data = floats({1.f, 2.f});
  struct Case {
    std::string what, bytes, expected;
  };
  std::string huge(8, '\0');
  const uint64_t big = (200ull << 20);
  std::memcpy(huge.data(), &big, 8);
  std::string too_long = make_file("{" + ok_entry + "}", data);
  const uint64_t lie = too_long.size();
  std::memcpy(too_long.data(), &lie, 8);
  const std::vector<Case> cases = {
      {"short", "abc", "3 bytes, shorter than the 8-byte header length"},
      {"huge header", huge + "{}", "over the format's limit"},
      {"header past end", too_long, "truncated: the header length says"},
      {"data truncated", make_file("{" + ok_entry + "}", data.substr(0, 6)), "reach past the 6 bytes of data"},
      {"not an object", make_file("[1, 2]", ""), "must be a JSON object starting with '{'"},
      {"bad json", make_file(R"({"a": )", ""), "not valid UTF-8 JSON"},
      {"bad utf8", make_file("{\"\xff\":{}}", ""), "not valid UTF-8 JSON"},
      {"duplicate", make_file("{" + ok_entry + "," + ok_entry + "}", data), "names \"a\" twice"},
      {"f64", make_file(R"({"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", data),
       "dtype F64 is valid safetensors, but hwnas tensors hold only"},
      {"unknown dtype", make_file(R"({"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", data),
       "unknown dtype \"F33\""},
      {"size mismatch", make_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data),
       "span 8 bytes, but F32 [3] needs 12"},
      {"negative dim", make_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data),
       "must hold non-negative integers"},
      {"float dim", make_file(R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", data),
       "must hold non-negative integers"},
      {"reversed", make_file(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", data), "end before they begin"},
      {"missing key", make_file(R"({"a":{"dtype":"F32","shape":[2]}})", data), "needs \"data_offsets\""},
      {"extra key", make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", data),
       "unknown key \"x\""},
      {"overlap", make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                            R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data),
       "overlap"},
      {"hole", make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data),
       "bytes [0, 4) of the data belong to no tensor"},
      {"tail", make_file("{" + ok_entry + "}", data + "junk"), "4 bytes after the last tensor's data"},
      {"metadata not strings", make_file(R"({"__metadata__":{"n":1},)" + ok_entry + "}", data),
       "metadata \"n\" must be a string"},
      {"entry not object", make_file(R"({"a":[1]})", ""), "its entry must be an object"},
      {"overflowing shape", make_file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", data),
       "too large"},
  };
  for (const Case& c : cases) {
    const std::string msg = test::error_of([&] { parse_safetensors(c.bytes, "bad.safetensors"); });
    EXPECT_TRUE(test::contains(msg, c.expected)) << c.what << ": " << msg;
    EXPECT_TRUE(test::contains(msg, "bad.safetensors")) << c.what << ": " << msg;
  }
  // The valid file these were made from parses.
  EXPECT_EQ(parse_safetensors(make_file("{" + ok_entry + "}", data), "ok").tensors.size(), 1u);
}

TEST(SafetensorsTest, TruncatedFileOnDisk) {
  test::TempDir dir("st");
  save_safetensors(dir / "a.safetensors", sample_tensors());
  std::string b = read_file(dir / "a.safetensors");
  for (size_t cut : {size_t{4}, size_t{20}, b.size() - 1}) {
    write_file(dir / "t.safetensors", b.substr(0, cut));
    const std::string msg = test::error_of([&] { load_safetensors(dir / "t.safetensors"); });
    EXPECT_TRUE(test::contains(msg, dir / "t.safetensors")) << msg;
    EXPECT_TRUE(test::contains(msg, "truncated") || test::contains(msg, "shorter")) << cut << ": " << msg;
  }
  EXPECT_TRUE(test::contains(test::error_of([&] { load_safetensors(dir / "none.safetensors"); }), "cannot open"));
}

TEST(SafetensorsTest, WriterRefusesBadInputAndKeepsTheOldFile) {
  test::TempDir dir("st");
  const std::string path = dir / "w.safetensors";
  save_safetensors(path, {{"x", Tensor::ones({2})}});
  const std::string before = read_file(path);
  EXPECT_TRUE(test::contains(test::error_of([&] { save_safetensors(path, {{"x", Tensor::ones({1})}, {"x", Tensor::ones({1})}}); }),
                             "duplicate tensor name \"x\""));
  EXPECT_TRUE(test::contains(test::error_of([&] { save_safetensors(path, {{"__metadata__", Tensor::ones({1})}}); }),
                             "reserved for the metadata"));
  EXPECT_TRUE(test::contains(test::error_of([&] { save_safetensors(path, {{"", Tensor::ones({1})}}); }), "empty name"));
  EXPECT_TRUE(test::contains(test::error_of([&] { save_safetensors(path, {{"u", Tensor()}}); }), "\"u\" is undefined"));
  EXPECT_EQ(read_file(path), before);
  EXPECT_EQ(dir.entries(), 1u);  // no temporary left behind
}

// An independent reader (numpy, a few lines of Python) reads what we write, and we read what it
// writes.
TEST(SafetensorsTest, IndependentNumpyReaderAndWriter) {
  std::string why;
  if (!have_numpy(&why)) GTEST_SKIP() << why;
  test::TempDir dir("st");
  const std::string ours = dir / "ours.safetensors", theirs = dir / "theirs.safetensors";
  NamedTensors t = sample_tensors();
  save_safetensors(ours, t, {{"format", "pt"}});
  const char* script = R"(
import json, struct, sys
import numpy as np
DT = {'F32': '<f4', 'I64': '<i8', 'F16': '<f2', 'F64': '<f8'}
def read(path):
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    h = json.loads(b[8:8 + n])
    meta = h.pop('__metadata__', {})
    out = {k: np.frombuffer(b[8 + n + v['data_offsets'][0]:8 + n + v['data_offsets'][1]], dtype=DT[v['dtype']]).reshape(v['shape'])
           for k, v in h.items()}
    return out, meta
t, meta = read(sys.argv[1])
print(json.dumps({'meta': meta, 'tensors': {k: {'shape': list(v.shape), 'dtype': v.dtype.str,
                                               'values': [float(x) if v.dtype.kind == 'f' else int(x) for x in v.ravel()]}
                                           for k, v in t.items()}}))
# numpy writes a file of its own: F32 2x3 (Fortran-ordered in memory, written row-major), I64, F64 scalar.
arrs = {'w': np.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3) / 7), 'i': np.array([5, -6], dtype='<i8')}
header, off, data = {'__metadata__': {'by': 'numpy'}}, 0, b''
for k, a in arrs.items():
    raw = np.ascontiguousarray(a).tobytes()
    header[k] = {'dtype': {'<f4': 'F32', '<i8': 'I64'}[a.dtype.str], 'shape': list(a.shape), 'data_offsets': [off, off + len(raw)]}
    off, data = off + len(raw), data + raw
hb = json.dumps(header).encode()
open(sys.argv[2], 'wb').write(struct.pack('<Q', len(hb)) + hb + data)
)";
  const ProcessResult r = run_process({"/usr/bin/python3", "-c", script, ours, theirs}, {}, 60);
  ASSERT_EQ(r.exit_status, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j.at("meta"), json({{"format", "pt"}}));
  ASSERT_EQ(j.at("tensors").size(), t.size());
  for (const auto& [name, want] : t) {
    const json& e = j.at("tensors").at(name);
    EXPECT_EQ(e.at("shape").get<Shape>(), want.shape()) << name;
    if (want.dtype() == DType::i64) {
      EXPECT_EQ(e.at("values").get<std::vector<int64_t>>(), want.to_vector_i64()) << name;
    } else if (want.dtype() == DType::f32) {
      EXPECT_EQ(e.at("dtype"), "<f4");
      const auto got = e.at("values").get<std::vector<double>>();
      const auto w = want.to_vector();  // logical order, whatever the layout
      ASSERT_EQ(got.size(), w.size()) << name;
      for (size_t i = 0; i < w.size(); ++i) EXPECT_EQ(static_cast<float>(got[i]), w[i]) << name << "[" << i << "]";
    } else {
      EXPECT_EQ(e.at("values").get<std::vector<double>>(), std::vector<double>({1, -2, 65504})) << name;
    }
  }
  const SafetensorsFile f = load_safetensors(theirs);
  EXPECT_EQ(f.metadata.at("by"), "numpy");
  EXPECT_EQ(f.at("i").to_vector_i64(), std::vector<int64_t>({5, -6}));
  const auto w = f.at("w").to_vector();
  ASSERT_EQ(f.at("w").shape(), Shape({2, 3}));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(w[i], static_cast<float>(i) / 7.f);
}
