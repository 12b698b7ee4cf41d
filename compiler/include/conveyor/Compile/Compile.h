// The compile driver: ONNX file + system YAML -> cv.graph / cv.chip text or a *.sched file.
#pragma once

#include "conveyor/Support/Result.h"

#include <cstdint>
#include <string>
#include <vector>

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
  // Numeric precisions (docs/simulator.md "Precision"); empty = keep the model's f32
  /// MXM weights: fp32, fp16, bf16, fp8 (e4m3), int8 or int4 (symmetric, per output channel).
  std::string weightPrecision;
  /// Every other float tensor: fp32, fp16 or bf16.
  std::string activationPrecision;
  /// The KV cache (past inputs and present outputs): fp32, fp16, bf16 or fp8; empty = the
  /// activation precision.
  std::string kvPrecision;
  // Tensor/pipeline partition; 0 = single chip. Needs EmitKind::Graph for now
  uint32_t tensorParallel = 0; // chips per stage (Megatron split of every layer)
  uint32_t pipelineStages = 0; // contiguous layer ranges, one per stage
  /// Layers of each stage (sums to the model's layers); empty = near-equal ranges.
  std::vector<uint32_t> stageLayers;
  // The decode bucket of a partitioned schedule: KV length (past tokens)
  uint64_t kvBucket = 0; // 0 = 4096 (or the `past` of --dims)
  /// Length buckets of a partitioned schedule ("128,512,2048" or "none"), used when the
  /// matching *Given flag is set. Defaults: DECODE at powers of two from 512 below the
  /// longest context plus the longest context; PREFILL at 128, 512, 2048 (those up to the
  /// longest context that fit in SRAM). --dims instead fixes one DECODE bucket.
  std::string kvBuckets, prefillBuckets;
  bool kvBucketsGiven = false, prefillBucketsGiven = false;
};

/// One length bucket of a partitioned schedule, as compiled.
struct CompiledBucket {
  std::string kind;          // "prefill" or "decode"
  uint64_t length = 0;       // prompt tokens (prefill) or KV tokens (decode)
  uint64_t cycles = 0;       // compiler's end cycle of the whole pipeline, one sequence
  uint64_t instructions = 0; // stored instructions of its programs
};

struct CompileSummary {
  std::string modelName, systemName;
  uint64_t instructions = 0, endCycle = 0; // compiler's estimate
  uint64_t sramBytesUsed = 0, sramBytesCapacity = 0;
  uint64_t weightBytes = 0, tokensPerStep = 0;
  double seconds = 0; // wall time of the compile
  // Partition (tp x stages) and the decode lower bound (conveyor-partition-bound)
  uint32_t tensorParallel = 0, pipelineStages = 0, layers = 0, partitionTemplates = 0;
  uint64_t decodeBoundCycles = 0;        // one decode step, one sequence, all stages
  double decodeBoundTokensPerSecond = 0; // clock / decodeBoundCycles
  // Compiled decode step of a partitioned schedule (all stages, one sequence)
  uint64_t decodeCycles = 0; // 0 = not a partitioned schedule
  uint64_t kvLength = 0;
  std::vector<CompiledBucket> buckets; // every bucket in the file, in file order
  std::vector<std::string> notes;      // e.g. a default bucket left out, and why
};

/// Runs import -> verify-shapes -> convert-graph-to-chip -> allocate-sram -> schedule ->
/// write. MLIR diagnostics are captured and returned as ONE line "file:...: error: ..."
/// in the Error. Output is written atomically (temp file + rename); nothing is written
/// when any step fails.
conveyor::Result<CompileSummary> compileModel(const CompileOptions &options);

} // namespace conveyor::compile
