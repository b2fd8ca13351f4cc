#pragma once
// Errors are exceptions carrying context (which op, file or flag, and what was expected).
// The CLI prints what() as one line and exits non-zero.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <stdexcept>
#include <string>

namespace hwnas {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

template <class... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

#define HWNAS_CHECK(cond, ...)                  \
  do {                                          \
    if (!(cond)) ::hwnas::fail(__VA_ARGS__);    \
  } while (0)

}  // namespace hwnas
