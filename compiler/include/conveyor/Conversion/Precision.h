// The precision pass: low-precision MXM weights (fp16, bf16, fp8 e4m3, int8, int4 with f32
// per-output-channel scales), activations and the KV cache in fp32/fp16/bf16(/fp8 for KV).
#pragma once

#include "mlir/Pass/Pass.h"

#include <memory>
#include <string>

namespace conveyor {

struct PrecisionOptions {
  std::string weights;     // fp32 | fp16 | bf16 | fp8 | int8 | int4; "" = fp32
  std::string activations; // fp32 | fp16 | bf16; "" = fp32
  std::string kv;          // fp32 | fp16 | bf16 | fp8; "" = the activation precision
};

/// An empty string, or a one-line reason naming the flag and the accepted values.
std::string checkPrecisionOptions(const PrecisionOptions &options);

/// Runs on a lowered (cv.chip) module before SRAM allocation:
///  * every cv.chip.mxm_matmul whose rhs is a weight becomes cv.chip.mxm_matmul_dq on that
///    weight quantised to `weights` (symmetric per output channel: int8 s = max|w| / 127,
///    int4 s = max|w| / 7, fp8 s = max|w| / 448; fp16/bf16 rounding with unit scales);
///    gathered MoE expert tables are quantised per (expert, channel) and dequantised on the
///    VXM after the gather (cast, multiply by the gathered scales);
///  * every other float tensor (inputs, results, norm/rotary/mask weights) takes the
///    activation type, its constant data rounded to nearest even;
///  * KV-cache tensors (function inputs concatenated into a returned cache, and that
///    concatenation) take the KV type, with vxm_cast at the boundaries.
std::unique_ptr<mlir::Pass> createApplyPrecisionPass(const PrecisionOptions &options);

} // namespace conveyor
