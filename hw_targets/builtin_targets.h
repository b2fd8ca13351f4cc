#pragma once
// The kinds of target hwnas ships, registered with the Target registry on its first use.
namespace hwnas {
void register_builtin_targets();
}
