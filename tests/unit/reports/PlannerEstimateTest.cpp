// The planner-based LPU estimate, zoo config reading, system resizing, compare systems and
// the explore evaluator, against the planner itself and hand computation.
#include "conveyor/Reports/GraphWorkload.h"
#include "conveyor/Reports/PlannerEstimate.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

using namespace conveyor;
using namespace conveyor::reports;

namespace {

const std::string kRoot = CONVEYOR_SOURCE_DIR;

partition::ModelSummary zooModel(const std::string &name) {
  auto model = resolveModel(name, kRoot);
  REQUIRE(model.ok());
  return *model;
}

system::SystemConfig shippedSystem(const std::string &name) {
  auto system = system::loadSystemConfig(kRoot + "/systems/" + name + ".yaml");
  REQUIRE(system.ok());
  return *system;
}

} // namespace

TEST_CASE("zoo configs read into the planner's model summary") {
  auto shape = loadZooDecoderShape(kRoot + "/models/zoo/configs/llama2-70b.json");
  REQUIRE(shape.ok());
  CHECK(shape->layers == 80);
  CHECK(shape->hidden == 8192);
  CHECK(shape->kvHeads == 8);
  CHECK(shape->ffn == 28672);
  CHECK(shape->gatedMlp);
  CHECK_FALSE(shape->tiedEmbedding);
  partition::ModelSummary model = zooModel("llama2-70b");
  // 68.98e9 parameters (model card), within 0.5%.
  CHECK(double(model.totalWeights()) == Approx(68.98e9).epsilon(0.005));
  partition::ModelSummary gpt2 = zooModel("gpt2-small");
  CHECK(gpt2.tiedEmbedding);
  CHECK(double(gpt2.totalWeights()) == Approx(124.4e6).epsilon(0.01));
  partition::ModelSummary mixtral = zooModel("mixtral-8x7b");
  CHECK(mixtral.experts == 8);
  CHECK(double(mixtral.totalWeights()) == Approx(46.7e9).epsilon(0.01));
  // ONNX paths resolve through their config beside them.
  auto byOnnx = resolveModel(kRoot + "/models/zoo/onnx/llama2-7b.onnx", kRoot);
  REQUIRE(byOnnx.ok());
  CHECK(byOnnx->name == "llama2-7b");
}

TEST_CASE("unknown models and broken configs are errors naming the file") {
  auto unknown = resolveModel("llama9-1t", kRoot);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().find("--model llama9-1t: no such zoo model") == 0);
  CHECK(unknown.error().find("llama2-70b") != std::string::npos); // lists the known ones
  std::string path = std::filesystem::temp_directory_path() / "conveyor-bad-zoo.json";
  std::ofstream(path) << "{\"name\": \"x\", \"layers\": 2, \"hidden\": 1.5}";
  auto bad = loadZooDecoderShape(path);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error() == path + ": \"hidden\" must be a whole number >= 0");
  std::ofstream(path, std::ios::trunc) << "{\"name\": \"x\", \"layers\": ";
  CHECK_FALSE(loadZooDecoderShape(path).ok());
  std::filesystem::remove(path);
}

TEST_CASE("the GPU roofline sees the same model shape") {
  auto mixtral = buildGraphWorkloadProfile(zooModel("mixtral-8x7b"), {});
  REQUIRE(mixtral.ok());
  CHECK(mixtral->layers == 32);
  CHECK(mixtral->experts == 8);
  CHECK(mixtral->topK == 2);
  auto expert = std::find_if(mixtral->ops.begin(), mixtral->ops.end(),
                             [](const gpu::OpCost &op) { return op.name == "moe.expert"; });
  REQUIRE(expert != mixtral->ops.end());
  // One expert: gate, up and down of 4096 x 14336, 2 FLOPs per weight.
  CHECK(expert->flopsPerToken == Approx(2.0 * 3 * 4096 * 14336));
  // GPT-2's MLP is up + down (not gated): mlp.up holds hidden x ffn weights (+ bias).
  auto gpt2 = buildGraphWorkloadProfile(zooModel("gpt2-small"), {});
  REQUIRE(gpt2.ok());
  auto up = std::find_if(gpt2->ops.begin(), gpt2->ops.end(),
                         [](const gpu::OpCost &op) { return op.name == "mlp.up"; });
  REQUIRE(up != gpt2->ops.end());
  CHECK(up->flopsPerToken == Approx(2.0 * (768 * 3072 + 3072)));
}

TEST_CASE("systems resize to a chip count and SRAM size") {
  system::SystemConfig base = shippedSystem("groq-576");
  auto small = resizedSystem(base, 8, 300000000);
  REQUIRE(small.ok());
  CHECK(small->fabric.chips == 8);
  CHECK(small->fabric.topology == system::Topology::FullyConnected);
  CHECK(small->chip.sramBytes() >= 300000000);
  CHECK(small->chip.sramBytes() < 300000000 + base.chip.mem.slices);
  auto big = resizedSystem(base, 1024, 128000000);
  REQUIRE(big.ok());
  CHECK(big->fabric.topology == system::Topology::Dragonfly);
  CHECK(big->chip.energy.staticWatts == base.chip.energy.staticWatts);
}

TEST_CASE("the LPU estimate matches the planner and hand-computed energies") {
  partition::ModelSummary model = zooModel("llama2-7b");
  system::SystemConfig system = shippedSystem("groq-64");
  LpuSettings settings;
  settings.plan.weights = system::DType::INT8;
  settings.plan.seqsInFlight = 4;
  settings.plan.maxContext = 2048;
  auto estimate = estimateLpu(model, system, settings, "lpu:groq-64");
  REQUIRE(estimate.ok());
  REQUIRE(estimate->plan.fits);
  REQUIRE(estimate->estimate);
  const LpuDeploymentEstimate &e = *estimate->estimate;
  CHECK(e.maxSequences == 4);
  CHECK(e.pipelineStages == estimate->plan.stageCount);
  CHECK(e.chips == 64); // the whole system, whatever the plan uses
  CHECK(estimate->plan.chipsUsed <= 64);

  // Latency at context 1 and maxContext: the planner's own one-sequence estimates.
  partition::PlanOptions one = settings.plan;
  one.seqsInFlight = 1;
  one.tensorParallel = estimate->plan.tp;
  for (int64_t context : {int64_t(1), int64_t(2048)}) {
    one.maxContext = context;
    auto plan = partition::planPartition(model, system, one);
    REQUIRE(plan.ok());
    REQUIRE(plan->fits);
    CHECK(e.decodeSeconds + double(context) * e.decodeSecondsPerContextToken ==
          Approx(plan->decode.total()).epsilon(1e-9));
  }

  // Energy of one decode token at context 0, by hand from the YAML constants:
  //   weights read: bytes x 8 x (SRAM read + stream) pJ/bit; MACs x int8 MAC pJ;
  //   C2C: 2 all-reduces per layer, each chip sending 2 (tp-1)/tp of hidden fp16 values
  //   (tp chips), plus one hidden vector per stage boundary per tp rank; KV write.
  const system::EnergyConfig &energy = system.chip.energy;
  double active = 0, kv = 0;
  for (const partition::LayerSummary &layer : model.layers) {
    active += double(layer.activeWeights());
    kv += double(layer.kvElementsPerToken);
  }
  active += double(model.lmHeadElements);
  double tp = estimate->plan.tp, stages = estimate->plan.stageCount;
  double c2cBytes = 32 * 2 * 2 * (tp - 1) * 4096 * 2 + (stages - 1) * tp * 4096 * 2;
  double expected =
      active * 8 * (energy.sramReadPicojoulesPerBit + energy.streamPicojoulesPerBit) * 1e-12 +
      active * energy.macPicojoules.at(system::DType::INT8) * 1e-12 +
      c2cBytes * 8 * energy.c2cPicojoulesPerBit * 1e-12 +
      kv * 2 * 8 * (energy.sramWritePicojoulesPerBit + energy.streamPicojoulesPerBit) * 1e-12;
  CHECK(e.decodeJoules == Approx(expected).epsilon(1e-9));
  CHECK(e.joulesPerContextToken ==
        Approx(kv * 2 * 8 * (energy.sramReadPicojoulesPerBit + energy.streamPicojoulesPerBit) *
               1e-12));
  // Static power: every chip of the system.
  CHECK(e.staticWattsPerChip * e.chips == Approx(energy.staticWatts * system.fabric.chips));
}

TEST_CASE("a model that does not fit gives the planner's refusal, no estimate") {
  LpuSettings settings;
  settings.plan.weights = system::DType::F16;
  auto estimate =
      estimateLpu(zooModel("llama2-70b"), shippedSystem("groq-576"), settings, "lpu:groq-576");
  REQUIRE(estimate.ok());
  CHECK_FALSE(estimate->plan.fits);
  CHECK_FALSE(estimate->estimate);
  CHECK(estimate->plan.minimumChips > 576);
}

TEST_CASE("compare systems: LPU picks the widest fitting precision, GPUs parse NAMExN") {
  CompareSettings settings;
  settings.root = kRoot;
  settings.lpu.plan.seqsInFlight = 1;
  partition::ModelSummary model = zooModel("llama2-70b");
  auto lpu = makeCompareSystem("lpu:groq-576", model, settings);
  REQUIRE(lpu.ok());
  CHECK(lpu->kind == "LPU");
  CHECK(lpu->backend->devices() <= 576);
  CHECK(lpu->notes[1].find("weights fp8") == 0); // fp16 does not fit on 576 chips
  // Until the tool compiles and simulates it, the row says it is the planner's estimate, and
  // carries the deployment to compile.
  CHECK(lpu->source == "estimated: partition planner");
  REQUIRE(lpu->lpu);
  CHECK(lpu->lpu->weights == "fp8");
  CHECK(lpu->lpu->sequences == 1);
  CHECK_FALSE(lpu->lpu->sequencesAuto);
  CHECK(lpu->lpu->weightsAuto);
  CHECK(lpu->lpu->systemPath.ends_with("systems/groq-576.yaml"));
  auto gpu = makeCompareSystem("gpu:h100x8", model, settings);
  REQUIRE(gpu.ok());
  CHECK(gpu->backend->devices() == 8);
  CHECK(gpu->notes[0] == "8 x h100-sxm (1 replicas of tp 8)");
  CHECK(gpu->source == "roofline");
  CHECK_FALSE(gpu->lpu);
  auto replicas = makeCompareSystem("gpu:h100x8:tp4", model, settings);
  REQUIRE(replicas.ok());
  CHECK(replicas->notes[0] == "8 x h100-sxm (2 replicas of tp 4)");
  CHECK_FALSE(makeCompareSystem("gpu:h100x8:tp3", model, settings).ok());
  CHECK_FALSE(makeCompareSystem("gpu:h100", model, settings).ok());
  CHECK_FALSE(makeCompareSystem("tpu:v5", model, settings).ok());
  auto missing = makeCompareSystem("lpu:groq-3", model, settings);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().find("--systems lpu:groq-3: ") == 0);
}

TEST_CASE("the explore evaluator: refusal below the minimum, priced points above it") {
  partition::ModelSummary model = zooModel("llama2-7b");
  LpuSettings settings;
  settings.plan.maxContext = 2048;
  PointEvaluator evaluate = makePlannerEvaluator(model, shippedSystem("groq-576"), settings, 640);
  auto tooFew = evaluate({8, 230, "int8", 1});
  REQUIRE(tooFew.ok());
  CHECK_FALSE(tooFew->fits);
  CHECK(tooFew->minimumChips > 8);
  CHECK(tooFew->reason == "needs at least " + std::to_string(tooFew->minimumChips) + " chips");
  auto enough = evaluate({tooFew->minimumChips * 2, 230, "int8", 8});
  REQUIRE(enough.ok());
  CHECK(enough->fits);
  CHECK(enough->perUserTokensPerSecond > 0);
  CHECK(enough->aggregateTokensPerSecond == Approx(8 * enough->perUserTokensPerSecond));
  // Doubling the SRAM never needs more chips.
  auto bigger = evaluate({8, 460, "int8", 1});
  REQUIRE(bigger.ok());
  CHECK(bigger->minimumChips <= tooFew->minimumChips);
  CHECK_FALSE(evaluate({64, 230, "int3", 1}).ok());
}

TEST_CASE("the explore evaluator plans by the compile's rule") {
  // Minimum, fit and plan of a point are what `conveyor compile` (--min-chips, the refusal,
  // -o) says for the base system with the point's SRAM per chip, not the planner's default
  // rule (any layer split, 2% reserved: 656 chips for Llama-2-70B fp16 at 230.7 MB). The
  // compile's rule: near-equal ranges when one fits, else the greedy split with at least one
  // layer per stage, 8% reserved.
  const partition::ModelSummary model = zooModel("llama2-70b");
  const system::SystemConfig base = shippedSystem("groq-576");
  LpuSettings settings;
  PointEvaluator evaluate = makePlannerEvaluator(model, base, settings, 640);
  const partition::PlanOptions compiled =
      partition::compiledPlanOptions(settings.plan, /*reserveGiven=*/false);
  CHECK(compiled.sramReserveFraction == partition::kCompiledSramReserve);
  struct Case {
    double sramMb;
    const char *precision;
    uint32_t minimum; // docs/partition.md and `compile --min-chips` on these systems
    bool nearEqual;   // the compile's split there: near-equal, or the greedy fallback
  };
  // 256 MB (235.52 MB usable at 8%): fp16 tp 16 holds 2 layers of 111,181,824 B a stage but
  // only 1 beside the 32,768,000 B embedding shard, and no near-equal split of 80 layers
  // fits fewer than 80 stages; the greedy fallback is 1 + 39 x 2 + 1 (with the LM head) =
  // 41 stages, 656 chips. int8: tp 8 layers of ~113.3 MB, 2 a stage, 1 beside the embedding:
  // 41 stages of tp 8 = 328 chips (near-equal: 27 x 16 = 432).
  for (const Case &c : {Case{230.68672, "fp16", 1280, true}, Case{256, "fp16", 656, false},
                        Case{256, "int8", 328, false}, Case{512, "fp8", 160, true}}) {
    CAPTURE(c.sramMb, c.precision);
    const uint64_t bytes = uint64_t(std::llround(c.sramMb * 1e6));
    partition::PlanOptions options = compiled;
    options.weights = *system::parseDType(c.precision);
    const system::SystemConfig atSram = withSramPerChip(base, bytes);
    CHECK(partition::minimumChips(model, atSram, options) == c.minimum);
    auto below = evaluate({c.minimum - 8, c.sramMb, c.precision, 1});
    REQUIRE(below.ok());
    CHECK(below->minimumChips == c.minimum);
    CHECK_FALSE(below->fits);
    auto at = evaluate({c.minimum, c.sramMb, c.precision, 1});
    REQUIRE(at.ok());
    CHECK(at->fits);
    // The plan at the minimum is the one the compile builds on a system of that size.
    auto system = resizedSystem(base, c.minimum, bytes);
    REQUIRE(system.ok());
    auto plan = partition::planPartition(model, *system, options);
    REQUIRE(plan.ok());
    REQUIRE(plan->fits);
    CHECK(plan->nearEqualStages() == c.nearEqual);
    CHECK(plan->denseChips());
    CHECK(at->tensorParallel == plan->tp);
    CHECK(at->pipelineStages == plan->stageCount);
  }
}

TEST_CASE("the planner estimate re-prices the chosen compiled layout at each context") {
  // estimateLpu's one-sequence latency plans keep the chosen plan's tp and stage count, so
  // the estimate is of the plan the compile builds (here tp 8 x 7 for Llama-2-7B fp8 x 4
  // sequences on groq-64, as reports.test compiles it), not of the fastest one-sequence one.
  LpuSettings settings;
  settings.plan = partition::compiledPlanOptions(settings.plan, /*reserveGiven=*/false);
  settings.plan.weights = system::DType::FP8;
  settings.plan.seqsInFlight = 4;
  settings.plan.maxContext = 1024;
  const partition::ModelSummary model = zooModel("llama2-7b");
  const system::SystemConfig system = shippedSystem("groq-64");
  auto estimate = estimateLpu(model, system, settings, "lpu:groq-64");
  REQUIRE(estimate.ok());
  REQUIRE(estimate->estimate);
  CHECK(estimate->plan.tp == 8);
  CHECK(estimate->plan.stageCount == 7);
  partition::PlanOptions one = settings.plan;
  one.seqsInFlight = 1;
  one.maxContext = 1;
  one.tensorParallel = 8;
  one.pipelineStages = 7;
  auto short1 = partition::planPartition(model, system, one);
  one.maxContext = 1024;
  auto long1 = partition::planPartition(model, system, one);
  REQUIRE(short1.ok());
  REQUIRE(long1.ok());
  REQUIRE(short1->fits);
  REQUIRE(long1->fits);
  CHECK(short1->stageCount == 7);
  const double perContext = (long1->decode.total() - short1->decode.total()) / 1023.0;
  CHECK(estimate->estimate->decodeSecondsPerContextToken == Approx(perContext));
  CHECK(estimate->estimate->decodeSeconds == Approx(short1->decode.total() - perContext));
}

TEST_CASE("the validation document has every LPU row with its error") {
  auto document = renderLpuValidationMarkdown(kRoot);
  REQUIRE(document.ok());
  for (const char *model :
       {"| Llama-2-70B | groq-576 |", "| Llama-2-7B |", "| Mixtral-8x7B |", "| Llama-3-8B |"}) {
    INFO(model);
    CHECK(document->find(model) != std::string::npos);
  }
  CHECK(document->find("LPU rows within +-25%") != std::string::npos);
  CHECK(document->find("`a100-gptfast-llama2-7b`") != std::string::npos);
  CHECK(document->find("planner estimate") != std::string::npos);
}

TEST_CASE("validation LPU rows from simulated schedules: tok/s = clock / decode-step cycles") {
  // A stand-in for the tool's compile + fabric simulation: Llama-2-70B takes exactly 3e6
  // cycles at 900 MHz (300 tok/s, Groq's figure), the others fail to compile.
  std::vector<std::string> asked;
  ValidationInputs inputs;
  inputs.simulate = [&asked](const std::string &onnx, const std::string &system,
                             const LpuSettings &settings,
                             uint64_t kvLength) -> conveyor::Result<SimulatedLpuRun> {
    asked.push_back(onnx + " " + system);
    CHECK(settings.plan.weights == conveyor::system::DType::INT8);
    CHECK(kvLength == 640);
    if (onnx.find("llama2-70b.onnx") == std::string::npos) {
      return conveyor::makeError("COMPILE FAILED HERE");
    }
    SimulatedLpuRun run;
    run.tp = 16;
    run.stages = 27;
    run.chips = 432;
    run.kvLength = kvLength;
    run.clockHz = 900e6;
    run.latencyCycles = 3000000;
    run.stageCycles = 111112;
    run.compilerCycles = 3000000;
    run.boundCycles = 1500000;
    run.weights = "int8";
    return run;
  };
  auto document = renderLpuValidationMarkdown(kRoot, inputs);
  INFO((document.ok() ? std::string() : document.error()));
  REQUIRE(document.ok());
  REQUIRE(asked.size() == 4);
  CHECK(asked[0].find("models/zoo/onnx/llama2-70b.onnx") != std::string::npos);
  CHECK(asked[0].find("systems/groq-576.yaml") != std::string::npos);
  CHECK(document->find(
            "| Llama-2-70B | groq-576 | 432 (16 x 27) | 300 | 300 | +0.0% | within 25% |") !=
        std::string::npos);
  CHECK(document->find("**not simulated**") != std::string::npos);
  CHECK(document->find("COMPILE FAILED HERE") != std::string::npos);
  CHECK(document->find("1 of 4 LPU rows within +-25%.") != std::string::npos);
  CHECK(document->find("compiled and simulated multi-chip schedule") != std::string::npos);
  // Twice as fast as published: a miss, with its cause and the bound it reached.
  inputs.simulate = [](const std::string &, const std::string &, const LpuSettings &,
                       uint64_t kvLength) -> conveyor::Result<SimulatedLpuRun> {
    SimulatedLpuRun run;
    run.tp = 8;
    run.stages = 4;
    run.chips = 32;
    run.kvLength = kvLength;
    run.clockHz = 900e6;
    run.latencyCycles = 600000; // 1500 tok/s
    run.boundCycles = 300000;
    run.weights = "int8";
    return run;
  };
  auto fast = renderLpuValidationMarkdown(kRoot, inputs);
  REQUIRE(fast.ok());
  CHECK(fast->find("| 1500 | +400.0% | **miss** |") != std::string::npos);
  CHECK(fast->find("**Cause of the miss**: the simulated decode step is 0.667 ms per token") !=
        std::string::npos);
  CHECK(fast->find("reaches 50% of it") != std::string::npos);
  // tp 8 stays inside a node: no inter-node link gap is claimed.
  CHECK(fast->find("Largest known gap") == std::string::npos);
  // tp 16 on groq-576 spans two nodes: the miss names the link sharing left out.
  inputs.simulate = [](const std::string &, const std::string &, const LpuSettings &,
                       uint64_t kvLength) -> conveyor::Result<SimulatedLpuRun> {
    SimulatedLpuRun run;
    run.tp = 16;
    run.stages = 27;
    run.chips = 432;
    run.kvLength = kvLength;
    run.clockHz = 900e6;
    run.latencyCycles = 900000; // 1000 tok/s
    run.boundCycles = 700000;
    run.weights = "int8";
    return run;
  };
  auto spanning = renderLpuValidationMarkdown(kRoot, inputs);
  REQUIRE(spanning.ok());
  CHECK(spanning->find("Largest known gap (not modelled yet)**: the tp 16 groups span 2 nodes") !=
        std::string::npos);
  CHECK(spanning->find("16 sends of 984 cycles instead of one: 2.36 M cycles more per token") !=
        std::string::npos);
}

TEST_CASE("inter-node link gap of a tp group that spans nodes, by hand") {
  // groq-576: 8 chips per node, 4 global ports per chip, 9-node racks; C2C link 4 x 30 Gb/s
  // at 900 MHz = 16.67 B/cycle. Llama-2-70B: hidden 8192 at fp16 = 16,384 B per partial,
  // 2 all-reduces x 80 layers per token.
  const system::SystemConfig groq576 = shippedSystem("groq-576");
  auto gap = interNodeLinkGap(groq576, 16, 16384, 160);
  REQUIRE(gap.has_value());
  CHECK(gap->nodesSpanned == 2);
  CHECK(gap->globalPorts == 4);
  CHECK(gap->remoteFlowsPerChip == 8);  // 15 peers, 7 in the node
  CHECK(gap->flowsPerNodePair == 64);   // 8 senders x 8 receivers
  CHECK(gap->linksPerNodePair == 4);    // 32 global ports of a node over 8 other nodes
  CHECK(gap->chipRounds == 2);          // 8 remote sends over 4 ports
  CHECK(gap->rounds == 16);             // 64 sends over 4 links
  CHECK(gap->sendCycles == 984);        // ceil(16384 / 16.667)
  CHECK(gap->extraCyclesPerToken == 15u * 984u * 160u);
  CHECK(gap->extraCyclesPerTokenChipOnly == 1u * 984u * 160u);
  // A group inside one node sends nothing between nodes.
  CHECK_FALSE(interNodeLinkGap(groq576, 8, 16384, 160).has_value());
  CHECK_FALSE(interNodeLinkGap(shippedSystem("groq-8"), 8, 8192, 64).has_value());
}
