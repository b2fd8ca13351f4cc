#pragma once
// The built-in search algorithms, one file each; search.cpp registers them.
#include "nas/search/search.h"

namespace hwnas {

AlgorithmInfo random_search_algorithm();     // random_search.cpp
AlgorithmInfo evolution_algorithm();         // evolution.cpp (NSGA-II)
AlgorithmInfo regularized_evolution_algorithm();  // regularized_evolution.cpp (aging evolution)
AlgorithmInfo netadapt_algorithm();          // netadapt.cpp (NetAdaptV2 coordinate descent)
AlgorithmInfo hurricane_algorithm();         // hurricane.cpp (per-target candidates, two stages)
AlgorithmInfo fpnas_algorithm();             // fpnas.cpp (probabilistic, entropy-adaptive)
AlgorithmInfo dnas_algorithm();              // dnas_search.cpp (Gumbel-softmax + latency loss)
AlgorithmInfo flash_algorithm();             // flash.cpp (NN-Degree, predictor, SHGO-style)

}  // namespace hwnas
