#pragma once
// A JSON file read for a command, with errors that name the file.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tensor/error.h"

namespace hwnas::cli {

inline nlohmann::json read_json(const std::filesystem::path& p) {
  std::ifstream f(p);
  if (!f) fail("cannot read {}", p.string());
  try {
    return nlohmann::json::parse(f);
  } catch (const std::exception& e) {
    fail("{} is not valid JSON ({})", p.string(), e.what());
  }
}

}  // namespace hwnas::cli
