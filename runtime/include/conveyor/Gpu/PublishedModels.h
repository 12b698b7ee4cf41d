// Shapes of the public models the GPU calibration table uses, copied from their model
// cards, with the published parameter counts to check the profile builder against.
#pragma once

#include "conveyor/Gpu/WorkloadProfile.h"
#include "conveyor/Support/Result.h"

#include <string>
#include <vector>

namespace conveyor::gpu {

struct PublishedModel {
  TransformerConfig config;         // config.name is the key: llama2-7b, llama2-70b, ...
  std::string displayName;          // "Llama-2-7B"
  double publishedParameters;       // as stated by the model card or paper
  double publishedActiveParameters; // MoE: per token; dense: equal to publishedParameters
  std::string source;               // where config and counts come from
};

/// Llama-2-7B, Llama-2-70B, Mixtral-8x7B, Llama-3.1-8B.
const std::vector<PublishedModel> &publishedModels();

/// The model named `name`; the error lists the known names.
Result<PublishedModel> findPublishedModel(const std::string &name);

} // namespace conveyor::gpu
