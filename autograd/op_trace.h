#pragma once
// Which ops ran: while an OpTrace is alive, every op that runs on this thread (each reports
// itself through make_result, with or without grad) is recorded by name. Lists the ops a network
// really uses, e.g. for the test that every supernet op has a CUDA kernel.
#include <set>
#include <string>

namespace hwnas {

class OpTrace {
 public:
  OpTrace();  // traces nest: the inner one records, the outer one resumes after it
  ~OpTrace();
  OpTrace(const OpTrace&) = delete;
  OpTrace& operator=(const OpTrace&) = delete;
  const std::set<std::string>& ops() const { return ops_; }

 private:
  friend void record_op(const char* op);
  std::set<std::string> ops_;
  OpTrace* outer_;
};

void record_op(const char* op);  // make_result calls this; a no-op without a live trace

}  // namespace hwnas
