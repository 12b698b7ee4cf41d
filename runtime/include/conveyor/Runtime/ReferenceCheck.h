// Compares simulated model outputs against reference tensors (e.g. PyTorch's).
#pragma once

#include "conveyor/Simulator/Simulator.h"
#include "conveyor/Support/Result.h"

#include <string>
#include <vector>

namespace conveyor::runtime {

struct TensorComparison {
  std::string name;
  size_t elements = 0;
  double maxAbsError = 0;   // max |simulated - reference|
  double maxReference = 0;  // max |reference|, for scale
  size_t worstIndex = 0;    // flat index of the largest error
};

struct ReferenceCheck {
  std::vector<TensorComparison> tensors;
  double maxAbsError = 0; // over all tensors
  bool withinTolerance(double tolerance) const { return maxAbsError <= tolerance; }
};

/// Matches outputs to references by name (or by position when a reference is unnamed)
/// and measures the error. Shape or element-count mismatches and references with no
/// matching output are errors naming the tensor.
Result<ReferenceCheck> compareOutputs(const std::vector<sim::TensorData> &outputs,
                                      const std::vector<sim::TensorData> &references);

} // namespace conveyor::runtime
