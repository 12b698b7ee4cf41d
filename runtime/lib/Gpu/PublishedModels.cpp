// Model-card shapes of the models in the GPU calibration table.

#include "conveyor/Gpu/PublishedModels.h"

#include <fmt/format.h>

namespace conveyor::gpu {

namespace {

TransformerConfig transformer(const char *name, uint32_t layers, uint32_t hidden, uint32_t heads,
                              uint32_t kvHeads, uint32_t ffn, uint32_t vocab, uint32_t experts,
                              uint32_t topK) {
  TransformerConfig config;
  config.name = name;
  config.layers = layers;
  config.hidden = hidden;
  config.heads = heads;
  config.kvHeads = kvHeads;
  config.headDim = hidden / heads;
  config.ffn = ffn;
  config.vocab = vocab;
  config.experts = experts;
  config.topK = topK;
  config.gatedMlp = true;        // all four use SwiGLU
  config.tiedEmbeddings = false; // all four have a separate LM head
  return config;
}

} // namespace

const std::vector<PublishedModel> &publishedModels() {
  static const std::vector<PublishedModel> models = {
      {transformer("llama2-7b", 32, 4096, 32, 32, 11008, 32000, 0, 0), "Llama-2-7B", 6.74e9, 6.74e9,
       "huggingface.co/meta-llama/Llama-2-7b-hf config.json (hidden_size 4096, "
       "intermediate_size 11008, num_hidden_layers 32, num_attention_heads 32, "
       "num_key_value_heads 32, vocab_size 32000); 6.74B parameters: Touvron et al. 2023, "
       "Llama 2, arXiv:2307.09288"},
      {transformer("llama2-13b", 40, 5120, 40, 40, 13824, 32000, 0, 0), "Llama-2-13B", 13.02e9,
       13.02e9,
       "huggingface.co/meta-llama/Llama-2-13b-hf config.json (hidden_size 5120, "
       "intermediate_size 13824, num_hidden_layers 40, num_attention_heads 40, "
       "num_key_value_heads 40, vocab_size 32000); 13.02B parameters (the same closed form as "
       "the 7B: 40 x (4 x 5120^2 + 3 x 5120 x 13824) + 2 x 32000 x 5120)"},
      {transformer("llama2-70b", 80, 8192, 64, 8, 28672, 32000, 0, 0), "Llama-2-70B", 68.98e9,
       68.98e9,
       "huggingface.co/meta-llama/Llama-2-70b-hf config.json (hidden_size 8192, "
       "intermediate_size 28672, num_hidden_layers 80, num_attention_heads 64, "
       "num_key_value_heads 8, vocab_size 32000); 68.98B parameters (safetensors total of "
       "that repository)"},
      {transformer("mixtral-8x7b", 32, 4096, 32, 8, 14336, 32000, 8, 2), "Mixtral-8x7B", 46.7e9,
       12.9e9,
       "huggingface.co/mistralai/Mixtral-8x7B-v0.1 config.json (hidden_size 4096, "
       "intermediate_size 14336, num_hidden_layers 32, num_attention_heads 32, "
       "num_key_value_heads 8, vocab_size 32000, num_local_experts 8, num_experts_per_tok 2); "
       "46.7B total / 12.9B active parameters: Jiang et al. 2024, Mixtral of Experts, "
       "arXiv:2401.04088"},
      {transformer("llama3.1-8b", 32, 4096, 32, 8, 14336, 128256, 0, 0), "Llama-3.1-8B", 8.03e9,
       8.03e9,
       "huggingface.co/meta-llama/Llama-3.1-8B config.json (hidden_size 4096, "
       "intermediate_size 14336, num_hidden_layers 32, num_attention_heads 32, "
       "num_key_value_heads 8, vocab_size 128256); 8.03B parameters (Llama 3.1 model card)"},
  };
  return models;
}

Result<PublishedModel> findPublishedModel(const std::string &name) {
  std::string known;
  for (const PublishedModel &model : publishedModels()) {
    if (model.config.name == name) {
      return model;
    }
    known += (known.empty() ? "" : ", ") + model.config.name;
  }
  return makeError(fmt::format("unknown model '{}' (known: {})", name, known));
}

} // namespace conveyor::gpu
