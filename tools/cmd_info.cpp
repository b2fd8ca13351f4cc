#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <nlohmann/json.hpp>
#include <fmt/format.h>

#include <iostream>

#include "tools/commands.h"

namespace hwnas::cli {

void set_threads(int threads) {
  if (threads < 0) throw CLI::ValidationError("--threads", "must be >= 0");
  if (threads > 0) omp_set_num_threads(threads);
}

namespace {
std::string best_isa() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return "avx512";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2+fma";
  if (__builtin_cpu_supports("avx")) return "avx";
  return "sse";
#else
  return "generic";
#endif
}
}  // namespace

void add_info_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Print the build: CPU ISA, oneDNN version, threads, CUDA");
  cmd->callback([] {
    const dnnl_version_t* v = dnnl_version();
    nlohmann::json j = {
        {"hwnas", HWNAS_VERSION},
        {"cpu_isa", best_isa()},
        {"own_kernels", "multiversioned: x86-64-v4 (AVX-512), x86-64-v3 (AVX2+FMA), baseline; picked at load time"},
        {"onednn", fmt::format("{}.{}.{} ({})", v->major, v->minor, v->patch, v->hash)},
        {"threads", omp_get_max_threads()},
#ifdef HWNAS_HAVE_CUDA
        {"cuda", true},
#else
        {"cuda", false},
#endif
    };
    std::cout << j.dump(2) << "\n";
  });
}

}  // namespace hwnas::cli
