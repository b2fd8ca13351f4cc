#include "hw_targets/onnxruntime_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/temp_dir.h"

extern char** environ;

namespace hwnas {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string env_or(const char* key, const std::string& fallback) {
  const char* v = std::getenv(key);
  return v && *v ? std::string(v) : fallback;
}

bool is_executable_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

// The last `max_lines` non-empty lines of a process's stderr on one line (the CLI prints what()
// as one line).
std::string tail_lines(const std::string& s, size_t max_lines = 6) {
  std::vector<std::string> lines;
  std::stringstream ss(s);
  std::string l;
  while (std::getline(ss, l))
    if (l.find_first_not_of(" \t\r") != std::string::npos) lines.push_back(l);
  if (lines.empty()) return "(no output)";
  const size_t from = lines.size() > max_lines ? lines.size() - max_lines : 0;
  std::string t;
  for (size_t i = from; i < lines.size(); ++i) t += (t.empty() ? "" : " | ") + lines[i];
  return t;
}

// The environment of the child: ours, with NODE_PATH replaced.
std::vector<std::string> node_env() {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e)
    if (std::strncmp(*e, "NODE_PATH=", 10) != 0) env.emplace_back(*e);
  env.push_back("NODE_PATH=" + ort_node_path());
  return env;
}

// Runs the runner script with `args`, returning stdout; failures name the mode, the exit status
// and the end of stderr.
std::string run_runner(const std::vector<std::string>& args, double timeout_s) {
  std::vector<std::string> argv = {ort_node_executable(), ort_runner_script()};
  argv.insert(argv.end(), args.begin(), args.end());
  const ProcessResult r = run_process(argv, node_env(), timeout_s);
  if (r.timed_out)
    fail("onnxruntime: {} {} did not finish within {} s (killed)", argv[1], args.at(0), timeout_s);
  if (r.exit_status != 0)
    fail("onnxruntime: {} {} failed with exit status {}: {}", argv[1], args.at(0), r.exit_status, tail_lines(r.err));
  return r.out;
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                          double timeout_s) {
  if (argv.empty()) fail("run_process: empty argv");
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) fail("run_process: pipe: {}", std::strerror(errno));
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    fail("run_process: pipe: {}", std::strerror(errno));
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);  // dup2 clears O_CLOEXEC on the new fd
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  std::vector<char*> av, ev;
  for (const auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
  av.push_back(nullptr);
  for (const auto& e : env) ev.push_back(const_cast<char*>(e.c_str()));
  ev.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0].c_str(), &fa, nullptr, av.data(), ev.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    fail("run_process: cannot start {}: {}", argv[0], std::strerror(rc));
  }

  ProcessResult r;
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  char buf[65536];
  // The child stays in our process group, so Ctrl-C stops it with us. After a timeout kill, its
  // pipes reach EOF, unless something it started still holds them: then stop reading after 2 s.
  auto kill_deadline = Clock::time_point::max();
  while (open_fds > 0) {
    int wait_ms = -1;
    if (timeout_s > 0 && !r.timed_out) {
      const double left = std::chrono::duration<double, std::milli>(deadline - Clock::now()).count();
      if (left <= 0) {
        ::kill(pid, SIGKILL);
        r.timed_out = true;
        kill_deadline = Clock::now() + std::chrono::seconds(2);
      } else {
        wait_ms = static_cast<int>(left) + 1;
      }
    }
    if (r.timed_out) {
      const double left = std::chrono::duration<double, std::milli>(kill_deadline - Clock::now()).count();
      if (left <= 0) break;
      wait_ms = static_cast<int>(left) + 1;
    }
    const int n = ::poll(fds, 2, wait_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::kill(pid, SIGKILL);
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return r;
}

std::string ort_node_dir() {
  std::string home = env_or("HOME", "");
  if (home.empty())
    if (const passwd* pw = ::getpwuid(::getuid())) home = pw->pw_dir;
  return env_or("HWNAS_NODE_DIR", (fs::path(home) / ".cache" / "hwnas" / "node").string());
}

std::string ort_node_path() {
  // The user's NODE_PATH first, so a deliberately chosen onnxruntime-node wins over ours.
  const std::string ours = (fs::path(ort_node_dir()) / "node_modules").string();
  const std::string theirs = env_or("NODE_PATH", "");
  return theirs.empty() ? ours : theirs + ":" + ours;
}

std::string ort_node_executable() {
  const std::string forced = env_or("HWNAS_NODE", "");
  if (!forced.empty()) {
    if (!is_executable_file(forced)) fail("onnxruntime: HWNAS_NODE={} is not an executable file", forced);
    return forced;
  }
  std::stringstream path(env_or("PATH", "/usr/local/bin:/usr/bin:/bin"));
  std::string dir;
  while (std::getline(path, dir, ':'))
    for (const char* name : {"node", "nodejs"})
      if (!dir.empty() && is_executable_file(fs::path(dir) / name)) return (fs::path(dir) / name).string();
  fail("onnxruntime: node is not on PATH (install nodejs: tools/setup.sh, or set HWNAS_NODE to its path)");
}

std::string ort_runner_script() {
  const std::string p = env_or("HWNAS_ORT_RUNNER", (fs::path(HWNAS_SOURCE_DIR) / "tools" / "ort_run.js").string());
  std::error_code ec;
  if (!fs::is_regular_file(p, ec))
    fail("onnxruntime: runner script {} does not exist (set HWNAS_ORT_RUNNER to tools/ort_run.js)", p);
  return p;
}

bool onnxruntime_available(std::string* why) {
  static std::mutex mu;
  static std::map<std::string, std::pair<bool, std::string>> cache;
  std::string node, script;
  try {
    node = ort_node_executable();
    script = ort_runner_script();
  } catch (const Error& e) {
    if (why) *why = e.what();
    return false;
  }
  const std::string key = node + "\n" + script + "\n" + ort_node_path();
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(key);
  if (it == cache.end()) {
    std::pair<bool, std::string> res{true, ""};
    try {
      run_runner({"version"}, 120);
    } catch (const Error& e) {
      res = {false, e.what()};
    }
    it = cache.emplace(key, res).first;
  }
  if (why) *why = it->second.second;
  return it->second.first;
}

std::vector<OrtTiming> time_onnx_models(const std::vector<std::string>& paths, const OrtTimingOptions& o) {
  if (paths.empty()) return {};
  if (o.threads < 1 || o.batch < 1 || o.warmup < 0 || o.runs < 1)
    fail("onnxruntime: threads, batch and runs must be >= 1 and warmup >= 0, got threads={} batch={} warmup={} runs={}",
         o.threads, o.batch, o.warmup, o.runs);
  std::vector<std::string> args = {"time",     "--threads",           std::to_string(o.threads),
                                   "--batch",  std::to_string(o.batch), "--warmup",
                                   std::to_string(o.warmup), "--runs", std::to_string(o.runs)};
  if (o.rounds > 1) {
    args.push_back("--rounds");
    args.push_back(std::to_string(o.rounds));
  }
  if (!o.profile_dir.empty()) {
    args.push_back("--profile-dir");
    args.push_back(o.profile_dir);
  }
  for (const auto& p : paths) {
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) fail("onnxruntime: model {} does not exist", p);
    args.push_back(p);
  }
  std::stringstream out(run_runner(args, o.timeout_s));
  std::vector<OrtTiming> res;
  std::string line;
  while (std::getline(out, line)) {
    if (line.empty()) continue;
    try {
      const json j = json::parse(line);
      OrtTiming t;
      t.model = j.at("model").get<std::string>();
      t.median_ms = j.at("median_ms").get<double>();
      t.p10_ms = j.at("p10_ms").get<double>();
      t.p90_ms = j.at("p90_ms").get<double>();
      t.runs = j.at("runs").get<int>();
      t.ort_version = j.value("ort_version", "");
      if (j.contains("layers_ms")) {
        for (const auto& [k, v] : j.at("layers_ms").items()) t.layers_ms[std::stoi(k)] = v.get<double>();
        t.other_ms = j.at("other_ms").get<double>();
        t.profiled_run_ms = j.at("profiled_run_ms").get<double>();
      }
      res.push_back(t);
    } catch (const json::exception& e) {
      fail("onnxruntime: unexpected runner output line \"{}\": {}", line, e.what());
    }
  }
  if (res.size() != paths.size())
    fail("onnxruntime: the runner timed {} of {} models", res.size(), paths.size());
  for (size_t i = 0; i < res.size(); ++i)
    if (res[i].model != paths[i]) fail("onnxruntime: runner result {} is for {}, expected {}", i, res[i].model, paths[i]);
  return res;
}

Tensor run_onnx_model(const std::string& model, const Tensor& input) {
  if (!input.defined() || input.dtype() != DType::f32 || input.dim() < 1)
    fail("onnxruntime: run_onnx_model needs a float32 input, got {}", input.defined() ? input.str() : "undefined");
  std::error_code ec;
  if (!fs::is_regular_file(model, ec)) fail("onnxruntime: model {} does not exist", model);
  const TempDir dir("hwnas_ort");
  const std::string in = (dir.path() / "input.bin").string(), out = (dir.path() / "output.bin").string();
  const std::vector<float> x = input.to_vector();  // logical (NCHW) order whatever the layout
  {
    std::ofstream f(in, std::ios::binary);
    f.write(reinterpret_cast<const char*>(x.data()), static_cast<std::streamsize>(x.size() * sizeof(float)));
    if (!f) fail("onnxruntime: cannot write {}", in);
  }
  std::string shape;
  for (int64_t d : input.shape()) shape += (shape.empty() ? "" : ",") + std::to_string(d);
  const std::string line = run_runner({"check", model, in, out, "--shape", shape}, 600);
  Shape out_shape;
  try {
    out_shape = json::parse(line).at("output_shape").get<Shape>();
  } catch (const json::exception& e) {
    fail("onnxruntime: unexpected runner output \"{}\": {}", tail_lines(line), e.what());
  }
  Tensor y = Tensor::empty(out_shape);
  std::ifstream f(out, std::ios::binary | std::ios::ate);
  const auto bytes = static_cast<int64_t>(f ? static_cast<int64_t>(f.tellg()) : -1);
  if (bytes != y.numel() * 4)
    fail("onnxruntime: output file {} has {} bytes, expected {} for shape {}", out, bytes, y.numel() * 4,
         shape_str(out_shape));
  f.seekg(0);
  f.read(reinterpret_cast<char*>(y.data<float>()), bytes);
  return y;
}

}  // namespace hwnas
