// Builds the planner's ModelSummary from an imported cv.graph module (or an ONNX file).
//
// Layers and roles are read from the weight names that Hugging Face exports keep
// ("model.layers.N.self_attn.q_proj.weight", GPT-2's "transformer.h.N.attn.c_attn.weight",
// ...), shapes from the weights ([in, out] as exported), KV heads and head size from the
// cache inputs (past_key_values.N.key: [batch, kv_heads, past, head_dim]) and top_k from
// the router's cv.graph.topk. Rules and limits: docs/partition.md.
#pragma once

#include "conveyor/Partition/Planner.h"
#include "conveyor/Support/Result.h"

#include <string>

namespace mlir {
class ModuleOp;
} // namespace mlir

namespace conveyor::partition {

/// Summary of the module's @main (or only function). An Error (one line naming `sourceName`)
/// when no decoder layer or no attention projection can be found.
Result<ModelSummary> summarizeGraph(mlir::ModuleOp module, const std::string &sourceName);

/// Imports the ONNX file (shape-only weights are fine; symbolic dims may stay unbound) and
/// summarises it. MLIR-free signature, so the CLI can call it.
Result<ModelSummary> summarizeOnnxModel(const std::string &onnxPath);

} // namespace conveyor::partition
