// The compile driver: ONNX file + system YAML -> cv.graph / cv.chip text or a *.sched file.
#pragma once

#include "conveyor/Support/Result.h"

#include <cstdint>
#include <string>

namespace conveyor::compile {

/// What compileModel writes to `outputPath`.
enum class EmitKind {
  Graph,   // cv.graph MLIR text, straight from the importer (shapes verified)
  Chip,    // cv.chip MLIR text, placed and scheduled
  Schedule // the *.sched protobuf
};

struct CompileOptions {
  std::string onnxPath, systemPath, outputPath; // outputPath "-" = stdout (text kinds)
  EmitKind emit = EmitKind::Schedule;
  /// Sizes for the model's symbolic dimensions, "batch=1,seq=8,past=0" (empty: none bound).
  std::string dimSizes;
};

struct CompileSummary {
  std::string modelName, systemName;
  uint64_t instructions = 0, endCycle = 0; // compiler's estimate
  uint64_t sramBytesUsed = 0, sramBytesCapacity = 0;
  uint64_t weightBytes = 0, tokensPerStep = 0;
  double seconds = 0; // wall time of the compile
};

/// Runs import -> verify-shapes -> convert-graph-to-chip -> allocate-sram -> schedule ->
/// write. MLIR diagnostics are captured and returned as ONE line "file:...: error: ..."
/// in the Error. Output is written atomically (temp file + rename); nothing is written
/// when any step fails.
conveyor::Result<CompileSummary> compileModel(const CompileOptions &options);

} // namespace conveyor::compile
