// The full fusion pipeline on the zoo's shape-only Llama-2-7B and Mixtral-8x7B: every
// layer's RMSNorms, q/k rotary embeddings and SwiGLU MLP, the embedding and the LM head fuse. Mixtral's experts
// use gathered 3-D weights; router, top-k and experts fuse into one cv.graph.moe per layer, and
// every layer's attention core (causal mask included) into cv.graph.attention.
// RUN: conveyor-translate --import-onnx %models/zoo/onnx/llama2-7b.onnx | conveyor-opt -conveyor-graph-fuse-norms -conveyor-graph-fuse-activations -conveyor-graph-fuse-transformer | grep -o "cv.graph.[a-z_]*" | sort | uniq -c | FileCheck %s --check-prefix=LLAMA --implicit-check-not=silu --implicit-check-not=sigmoid --implicit-check-not=gather --implicit-check-not=reduce_mean --implicit-check-not=neg --implicit-check-not=softmax --implicit-check-not=where
// LLAMA: {{^ *}}32 cv.graph.attention
// LLAMA: {{^ *}}1 cv.graph.embedding
// LLAMA: {{^ *}}32 cv.graph.gated_mlp
// LLAMA: {{^ *}}1 cv.graph.lm_head
// LLAMA: {{^ *}}65 cv.graph.rms_norm
// LLAMA: {{^ *}}64 cv.graph.rotary
// RUN: conveyor-translate --import-onnx %models/zoo/onnx/mixtral-8x7b.onnx | conveyor-opt -conveyor-graph-fuse-norms -conveyor-graph-fuse-activations -conveyor-graph-fuse-transformer | grep -o "cv.graph.[a-z_]*" | sort | uniq -c | FileCheck %s --check-prefix=MIXTRAL --implicit-check-not=gated_mlp --implicit-check-not=sigmoid --implicit-check-not=neg --implicit-check-not=gather --implicit-check-not=silu --implicit-check-not=topk --implicit-check-not=softmax
// MIXTRAL: {{^ *}}32 cv.graph.attention
// MIXTRAL: {{^ *}}1 cv.graph.embedding
// MIXTRAL: {{^ *}}1 cv.graph.lm_head
// MIXTRAL: {{^ *}}32 cv.graph.moe
// MIXTRAL: {{^ *}}65 cv.graph.rms_norm
// MIXTRAL: {{^ *}}64 cv.graph.rotary
