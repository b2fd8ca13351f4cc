#pragma once
// One seeded generator per component (data shuffling, init, dropout, samplers), so that the
// same seed gives the same run and a component's stream does not shift when another component
// draws more numbers. xoshiro256** with our own float/normal transforms: identical results on
// every standard library, and a four-word state that checkpoints can save and restore.
#include <array>
#include <cstdint>

namespace hwnas {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) { seed_with(seed); }
  void seed_with(uint64_t seed);

  uint64_t next_u64();
  // Uniform in [0, 1) with 24 random bits.
  float uniform() { return static_cast<float>(next_u64() >> 40) * (1.0f / 16777216.0f); }
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  // Standard normal (Box-Muller; the spare value is cached in the state).
  float normal();
  // Uniform integer in [0, n).
  uint64_t below(uint64_t n);

  struct State {
    std::array<uint64_t, 4> s{};
    bool has_spare = false;
    float spare = 0.0f;
  };
  State state() const { return state_; }
  void set_state(const State& st) { state_ = st; }

 private:
  State state_;
};

}  // namespace hwnas
