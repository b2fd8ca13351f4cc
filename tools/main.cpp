#include <cstdio>
int main() { std::puts("hwnas"); return 0; }
