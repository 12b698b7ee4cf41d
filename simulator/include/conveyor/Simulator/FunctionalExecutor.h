// Functional numerics of a schedule with Eigen: every f32 buffer gets real storage (views
// share their root's), instructions run in issue order, MEM_READ collects outputs.
#pragma once

#include "conveyor/Simulator/BufferTable.h"
#include "conveyor/Simulator/Simulator.h"
#include "conveyor/Support/Result.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace conveyor::sim {

class FunctionalExecutor {
public:
  /// Why `buffers` cannot be run functionally (a weight without data, a non-f32 buffer), or
  /// an empty string when it can.
  static std::string unsupportedReason(const BufferTable &buffers);

  /// Allocates storage and loads weight data; `buffers` must be supported and outlive this.
  explicit FunctionalExecutor(const BufferTable &buffers);

  /// Binds the caller's tensors to INPUT buffers by name. Fails naming an input that the
  /// model needs and `inputs` lacks, an unknown name, or a shape mismatch.
  Status bindInputs(const std::vector<TensorData> &inputs,
                    const std::vector<const schedule::Program *> &programs);

  /// Runs one (already timing-checked) program, appending MEM_READ results to `outputs`.
  Status run(const schedule::Program &program, std::vector<TensorData> &outputs);

  /// Current contents of a buffer (through its view shape), for tests.
  std::vector<float> contents(uint32_t bufferId) const;

private:
  const BufferTable &buffers;
  std::vector<std::vector<float>> storage; // by root index; empty for non-root buffers
  std::map<std::string, const TensorData *> boundInputs;
};

} // namespace conveyor::sim
