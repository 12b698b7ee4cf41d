// Partition planner tests: capacity, minimum chips and refusals checked against hand arithmetic.
//
// The expected numbers below are worked out by hand from the formulas in docs/partition.md
// (the arithmetic is in the comments); they are not read back from the planner.
#include "conveyor/Partition/Planner.h"
#include "conveyor/System/SystemConfig.h"

#include "ShippedSystem.h"

#include <catch2/catch.hpp>

#include <string>

using namespace conveyor;
using namespace conveyor::partition;
using conveyor::system::DType;

namespace {

using test::shippedSystem;

// One groq-tsp-v1 chip: 88 slices x 2,621,440 B.
constexpr uint64_t kChipBytes = 230686720;

/// Five 100 MB (fp16) layers, one head, no KV, no embedding: the obvious toy.
ModelSummary toyModel(uint32_t layers = 5) {
  ModelSummary m;
  m.name = "toy";
  m.hidden = 1024;
  m.heads = 1;
  m.kvHeads = 1;
  m.headDim = 1024;
  for (uint32_t i = 0; i < layers; ++i) {
    LayerSummary layer;
    layer.mlpUp = 50000000; // x 2 B = 100,000,000 B
    m.layers.push_back(layer);
  }
  return m;
}

PlanOptions toyOptions() {
  PlanOptions o;
  o.weights = DType::F16; // no quantisation scales
  o.maxContext = 1;
  o.sramReserveFraction = 0;
  return o;
}

// Toy working set per chip (docs/partition.md): seqs x (2 B x (4 x hidden + 3 x heads/tp x
// head_dim + 3 x ffn/tp) + 4 B x heads/tp x context) = 2 x (4096 + 3072) + 4 = 14,340 B.
constexpr uint64_t kToyActivation = 14340;

DecoderShape llama2_7b() { return {"llama2-7b", 32, 4096, 32, 32, 128, 11008, 32000}; }
DecoderShape llama2_70b() { return {"llama2-70b", 80, 8192, 64, 8, 128, 28672, 32000}; }
DecoderShape mixtral() { return {"mixtral-8x7b", 32, 4096, 32, 8, 128, 14336, 32000, 8, 2}; }

} // namespace

TEST_CASE("toy model: two 100 MB layers per chip, so five layers need three chips", "[partition]") {
  system::SystemConfig node = shippedSystem("groq-8.yaml");
  REQUIRE(node.chip.sramBytes() == kChipBytes);
  ModelSummary toy = toyModel();
  // 2 x 100 MB + 14,340 B <= 230,686,720 B < 3 x 100 MB: ceil(5 / 2) = 3 stages of tp 1.
  CHECK(minimumChips(toy, node.chip, toyOptions()) == 3);
  auto plan = planPartition(toy, node, toyOptions());
  REQUIRE(plan.ok());
  REQUIRE(plan->fits);
  CHECK(plan->tp == 1);
  CHECK(plan->stageCount == 3);
  CHECK(plan->chipsUsed == 3);
  REQUIRE(plan->chips.size() == 3);
  CHECK(plan->chips[0].weightBytes == 200000000);
  CHECK(plan->chips[2].weightBytes == 100000000);
  CHECK(plan->chips[0].activationBytes == kToyActivation);
  CHECK(plan->chips[0].freeBytes() == int64_t(kChipBytes - 200000000 - kToyActivation));
  CHECK(plan->stages[0].holdsEmbedding);
  CHECK(plan->stages[2].holdsLmHead);
  CHECK(plan->stages[1].firstLayer == 2);
  CHECK(plan->nearEqualStages()); // 2 + 2 + 1
  CHECK(plan->denseChips());

  // SRAM per chip that would fit: everything on one chip = 5 x 100 MB + working set; on two
  // chips the larger stage holds 3 layers.
  CHECK(minimumSramPerChip(toy, node.chip, 1, toyOptions()) == 500000000 + kToyActivation);
  CHECK(minimumSramPerChip(toy, node.chip, 2, toyOptions()) == 300000000 + kToyActivation);

  // A fabric of 2-chip nodes refuses, naming the smallest system of its kind that fits: the
  // 3 chips the layout needs round up to 2 whole nodes = 4 chips.
  system::SystemConfig two = node;
  two.fabric.chips = 2;
  two.fabric.chipsPerNode = 2;
  two.name = "two-chips";
  auto refused = planPartition(toy, two, toyOptions());
  REQUIRE(refused.ok());
  CHECK_FALSE(refused->fits);
  CHECK(refused->minimumChips == 4);
  CHECK(minimumChips(toy, two, toyOptions()) == 4);
  CHECK(refused->sramPerChipNeeded == 300000000 + kToyActivation);
  INFO(refused->refusal);
  CHECK(refused->refusal.find("the minimum is 4 chips at fp16") != std::string::npos);
  CHECK(refused->refusal.find("(or 300.0 MB of SRAM per chip on 2 chips)") != std::string::npos);
}

TEST_CASE("the reserve fraction and forced layers per stage change the layout", "[partition]") {
  system::SystemConfig node = shippedSystem("groq-8.yaml");
  PlanOptions o = toyOptions();
  // 15% reserve: 230,686,720 x 0.85 = 196,083,712 < 2 x 100 MB: one layer per chip.
  o.sramReserveFraction = 0.15;
  CHECK(minimumChips(toyModel(), node.chip, o) == 5);
  o = toyOptions();
  o.layersPerStage = 1;
  auto plan = planPartition(toyModel(), node, o);
  REQUIRE(plan.ok());
  REQUIRE(plan->fits);
  CHECK(plan->stageCount == 5);
  // Six layers at one per stage need 6 chips; eight layers would need 8 = the whole node,
  // nine layers cannot be placed on 8 chips.
  CHECK(planPartition(toyModel(8), node, o)->fits);
  CHECK_FALSE(planPartition(toyModel(9), node, o)->fits);
  o.layersPerStage = 3; // 300 MB per chip: never fits
  auto tooMany = planPartition(toyModel(), node, o);
  REQUIRE(tooMany.ok());
  CHECK_FALSE(tooMany->fits);
  CHECK(tooMany->minimumChips == 0);
}

TEST_CASE("invalid input is an error, not a plan", "[partition]") {
  system::SystemConfig node = shippedSystem("groq-8.yaml");
  ModelSummary model = makeDecoderSummary(llama2_7b());
  PlanOptions o;
  o.tensorParallel = 3; // 32 heads
  auto bad = planPartition(model, node, o);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().find("--tp 3 must divide the 32 attention heads") != std::string::npos);
  o = PlanOptions();
  o.layersPerStage = 33;
  CHECK_FALSE(planPartition(model, node, o).ok());
  CHECK_FALSE(planPartition(ModelSummary{}, node, PlanOptions()).ok());
}

TEST_CASE("decoder summaries count the published parameters", "[partition]") {
  // Published totals (models/zoo/expected.json): 6,738,415,616 and 68,976,648,192 exactly;
  // Mixtral 46.7 B.
  CHECK(makeDecoderSummary(llama2_7b()).totalWeights() == 6738415616ull);
  CHECK(makeDecoderSummary(llama2_70b()).totalWeights() == 68976648192ull);
  const uint64_t mixtralParams = makeDecoderSummary(mixtral()).totalWeights();
  CHECK(mixtralParams > 46.6e9);
  CHECK(mixtralParams < 46.8e9);
  // KV per token: 2 x layers x kv_heads x head_dim.
  CHECK(makeDecoderSummary(llama2_70b()).kvElementsPerToken() == 2ull * 80 * 8 * 128);
}

TEST_CASE("llama2-7b int8 at tp 8: six stages of 8 chips, by hand", "[partition]") {
  system::SystemConfig rack = shippedSystem("groq-64.yaml");
  ModelSummary model = makeDecoderSummary(llama2_7b());
  PlanOptions o; // int8 weights, fp16 activations and KV, 4096 tokens, 1 sequence, 2% reserve
  o.tensorParallel = 8;
  // One chip's share of a layer at tp 8 (int8 + one fp16 scale per output channel):
  //   q, k, v, o: 4096 x 4096 / 8 = 2,097,152 B + 2,097,152 / 4096 x 2 = 1,024 B, x 4
  //     = 8,392,704
  //   gate, up: 4096 x 11008 / 8 = 5,636,096 + ceil(5,636,096 / 4096) x 2 = 2,752, x 2
  //     = 11,277,696
  //   down: 5,636,096 + 5,636,096 / 11008 x 2 = 1,024 -> 5,637,120
  //   two RMSNorm scales at fp16: 2 x 4096 x 2 = 16,384
  //   KV: 2 x 32 x 128 / 8 = 1,024 elements/token x 4096 tokens x 2 B = 8,388,608
  //   = 33,712,512 B per layer.
  constexpr uint64_t layer = 8392704 + 11277696 + 5637120 + 16384 + 8388608;
  STATIC_REQUIRE(layer == 33712512);
  // Embedding shard: 32000 x 4096 / 8 = 16,384,000 + 4,000 scales x 2 = 16,392,000.
  constexpr uint64_t embedding = 16392000;
  // Usable: 230,686,720 - floor(0.02 x 230,686,720) = 226,072,986; working set
  //   2 x (4 x 4096 + 3 x 4 x 128 + 3 x 1376) + 4 x 4 x 4096 = 109,632.
  constexpr uint64_t usable = 226072986 - 109632;
  // Stage 0: embedding + 6 layers = 218,667,072 fits, 7 layers do not; later stages: 6 layers
  // (202,275,072) fit, 7 (235,987,584) do not. 32 layers = 6+6+6+6+6+2 -> 6 stages x 8 chips;
  // the plan spreads them near-equally (6+6+5+5+5+5), which fits as well.
  STATIC_REQUIRE(embedding + 6 * layer <= usable);
  STATIC_REQUIRE(embedding + 7 * layer > usable);
  STATIC_REQUIRE(7 * layer > usable);
  CHECK(minimumChips(model, rack.chip, o) == 48);
  auto plan = planPartition(model, rack, o);
  REQUIRE(plan.ok());
  REQUIRE(plan->fits);
  CHECK(plan->tp == 8);
  REQUIRE(plan->stageCount == 6);
  CHECK(plan->stages[0].layerCount == 6);
  CHECK(plan->stages[5].layerCount == 5); // balanced: 6+6+5+5+5+5 (same stage count as greedy)
  CHECK(plan->chips[0].weightBytes + plan->chips[0].kvBytes == embedding + 6 * layer);
  // Fewest chips over every tp is no more than that and no fewer than bytes / usable SRAM.
  PlanOptions any;
  const uint32_t fewest = minimumChips(model, rack.chip, any);
  Footprint f = modelFootprint(model, any);
  CHECK(fewest <= 48);
  CHECK(fewest >= (f.totalBytes() + usable - 1) / usable);
}

TEST_CASE("llama2-70b on groq-576: int8 and fp8 fit, fp16 is refused with 656 chips",
          "[partition]") {
  system::SystemConfig fabric = shippedSystem("groq-576.yaml");
  ModelSummary model = makeDecoderSummary(llama2_70b());
  for (DType w : {DType::INT8, DType::FP8}) {
    PlanOptions o;
    o.weights = w;
    auto plan = planPartition(model, fabric, o);
    REQUIRE(plan.ok());
    INFO(system::dtypeName(w) << ": " << plan->refusal);
    CHECK(plan->fits);
    CHECK(plan->chipsUsed <= 576);
    for (const ChipMemory &chip : plan->chips) {
      CHECK(chip.freeBytes() >= 0);
    }
    CHECK(plan->decode.total() > 0);
  }
  // fp16, by hand (docs/partition.md worked example). At tp 8 a layer is
  //   q, o: 8192 x 8192 / 8 x 2 B = 16,777,216 each; k, v: 8192 x 1024 / 8 x 2 B = 2,097,152
  //   each; gate, up, down: 8192 x 28672 / 8 x 2 B = 58,720,256 each; norms 32,768
  //   + KV 2 x 128 x 4096 x 2 B = 2,097,152  -> 216,039,424 B: one layer per chip, and the
  //   65,536,000 B embedding and LM head shards each need a stage of their own:
  //   82 stages x 8 = 656 chips. At tp 16 (K/V replicated in pairs) a layer is 111,181,824 B,
  //   two per stage, the embedding shares stage 0 with one layer, the LM head the last stage
  //   with one layer: 1 + 39 + 1 = 41 stages x 16 = 656. tp 32 needs 27 x 32 = 864, tp 64
  //   14 x 64 = 896; tp <= 4 cannot hold one layer. Minimum: 656.
  PlanOptions fp16;
  fp16.weights = DType::F16;
  CHECK(minimumChips(model, fabric.chip, fp16) == 656);
  auto refused = planPartition(model, fabric, fp16);
  REQUIRE(refused.ok());
  REQUIRE_FALSE(refused->fits);
  CHECK(refused->minimumChips == 656);
  const std::string &message = refused->refusal;
  INFO(message);
  CHECK(message.find("llama2-70b at fp16 needs 138.0 GB of weights + 1.3 GB KV") == 0);
  CHECK(message.find("but groq-576 has 132.9 GB of SRAM (576 x 230.7 MB)") != std::string::npos);
  CHECK(message.find("the minimum is 656 chips at fp16") != std::string::npos);
  CHECK(message.find("try --weights int8") != std::string::npos);
  // The SRAM per chip that would fit is the smallest capacity that plans on 576 chips.
  REQUIRE(refused->sramPerChipNeeded > kChipBytes);
  auto withSram = [&](uint64_t bytes) {
    system::SystemConfig bigger = fabric;
    bigger.chip.mem.slices = 1;
    bigger.chip.mem.bytesPerSlice = bytes;
    auto plan = planPartition(model, bigger, fp16);
    REQUIRE(plan.ok());
    return plan->fits;
  };
  CHECK(withSram(refused->sramPerChipNeeded));
  CHECK_FALSE(withSram(refused->sramPerChipNeeded - 1));
}

TEST_CASE("smallest fitting shipped systems for llama2-7b and mixtral", "[partition]") {
  const char *systems[] = {"groq-1.yaml", "groq-8.yaml", "groq-64.yaml", "groq-576.yaml",
                           "groq-1024.yaml"};
  auto smallest = [&](const ModelSummary &model, DType w) -> std::string {
    PlanOptions o;
    o.weights = w;
    for (const char *name : systems) {
      auto plan = planPartition(model, shippedSystem(name), o);
      REQUIRE(plan.ok());
      if (plan->fits) {
        return plan->systemName;
      }
    }
    return "none";
  };
  // llama2-7b int8: 6.74 GB + 2.15 GB KV > 8 x 230.7 MB, < 64 x 230.7 MB.
  CHECK(smallest(makeDecoderSummary(llama2_7b()), DType::INT8) == "groq-64");
  // fp16: 13.5 GB + 2.15 GB > 64 x 230.7 MB = 14.8 GB.
  CHECK(smallest(makeDecoderSummary(llama2_7b()), DType::F16) == "groq-576");
  // mixtral int8: 46.7 GB > 14.8 GB.
  CHECK(smallest(makeDecoderSummary(mixtral()), DType::INT8) == "groq-576");
}

TEST_CASE("the KV cache for the context and sequences counts against capacity", "[partition]") {
  system::SystemConfig rack = shippedSystem("groq-64.yaml");
  ModelSummary model = makeDecoderSummary(llama2_7b());
  PlanOptions one;
  PlanOptions many = one;
  many.seqsInFlight = 8;
  // KV is 2 x 32 x 32 x 128 x 2 B = 524,288 B per token: x 4096 x 8 = 17.2 GB > 64 chips.
  CHECK(modelFootprint(model, many).kvBytes == 8 * modelFootprint(model, one).kvBytes);
  CHECK(modelFootprint(model, one).kvBytes == 524288ull * 4096);
  CHECK(planPartition(model, rack, one)->fits);
  CHECK_FALSE(planPartition(model, rack, many)->fits);
  // A longer context needs more chips.
  PlanOptions longer = one;
  longer.maxContext = 16384;
  CHECK(minimumChips(model, rack.chip, longer) > minimumChips(model, rack.chip, one));
}

TEST_CASE("latency: more tensor parallelism loads weights faster, hops cost", "[partition]") {
  system::SystemConfig fabric = shippedSystem("groq-576.yaml");
  ModelSummary model = makeDecoderSummary(llama2_70b());
  PlanOptions tp8;
  tp8.tensorParallel = 8;
  PlanOptions tp16 = tp8;
  tp16.tensorParallel = 16; // two nodes: the widest group the compiler lowers on a TSP
  auto a = planPartition(model, fabric, tp8);
  auto b = planPartition(model, fabric, tp16);
  REQUIRE((a.ok() && b.ok()));
  REQUIRE((a->fits && b->fits));
  // Weight load: every chip streams its shard through the 10,240 B/cycle install path at the
  // fp16 timing rate (fp16 activations): 80 layers x 855,654,400 weights x 2 B / tp
  // / 10,240 B/cycle / 900 MHz (plus the LM head and the K/V reads).
  const double layersLoad = 80.0 * 855654400.0 * 2 / 8 / 10240 / 900e6;
  CHECK(a->decode.weightLoad >= layersLoad);
  CHECK(a->decode.weightLoad < layersLoad * 1.1);
  CHECK(b->decode.weightLoad < a->decode.weightLoad * 0.55);
  // tp 16 spans 2 nodes: its all-reduces cross global links (3 hops) and cost more.
  CHECK(b->decode.collectives > a->decode.collectives);
  // Aligned placement keeps each tp-16 group inside one 72-chip rack (stage 4 would span
  // chips 64-79 across two racks densely): cheaper all-reduces.
  PlanOptions aligned = tp16;
  aligned.alignStagesToGroups = true;
  auto c = planPartition(model, fabric, aligned);
  REQUIRE(c.ok());
  REQUIRE(c->fits);
  REQUIRE(c->stages.size() > 4);
  CHECK(c->stages[4].chips.front() == 72);
  CHECK(c->decode.collectives < b->decode.collectives);
  // The planner's own choice is no slower than either.
  auto chosen = planPartition(model, fabric, PlanOptions());
  REQUIRE(chosen.ok());
  CHECK(chosen->decode.total() <= a->decode.total());
  CHECK(chosen->tp <= maxLowerableTp(fabric.chip));
  // The explain text groups identical chips.
  std::string text = renderPlanText(*chosen, fabric);
  INFO(text);
  CHECK(text.find("memory map per chip") != std::string::npos);
  CHECK(renderPlanJson(*chosen, fabric).find("\"fits\": true") != std::string::npos);
}

TEST_CASE("memory map: every tensor placed, sums equal the plan, within the usable SRAM",
          "[partition][memory-map]") {
  const system::SystemConfig system = shippedSystem("groq-576.yaml");
  PlanOptions o;
  o.weights = DType::INT8;
  o.tensorParallel = 8;
  const ModelSummary model = makeDecoderSummary(mixtral());
  Result<Plan> plan = planPartition(model, system, o);
  REQUIRE(plan.ok());
  REQUIRE(plan->fits);
  const std::vector<StageMemoryMap> maps = planMemoryMaps(model, *plan, system.chip);
  REQUIRE(!maps.empty());
  size_t stagesCovered = 0;
  for (const StageMemoryMap &map : maps) {
    stagesCovered += map.stages.size();
    const ChipMemory *sample = nullptr;
    for (const ChipMemory &m : plan->chips) {
      if (m.stage == map.stages.front()) {
        sample = &m;
        break;
      }
    }
    REQUIRE(sample != nullptr);
    uint64_t weights = 0, scales = 0, kv = 0, activations = 0, previousEnd = 0;
    for (const PlacedTensor &t : map.tensors) {
      CAPTURE(t.name);
      CHECK(t.address % system.chip.vectorBytes == 0);
      CHECK(t.address >= previousEnd); // address order, no overlap
      previousEnd = t.address + t.bytes;
      // Vector-interleaved map (SramMap.h): slice = (address / vector) mod slices.
      const uint64_t slices = system.chip.mem.slices, vector = system.chip.vectorBytes;
      const uint64_t vectors = (t.address + t.bytes - 1) / vector - t.address / vector + 1;
      CHECK(t.firstSlice == (t.address / vector) % slices);
      CHECK(t.sliceCount == std::min<uint64_t>(vectors, slices));
      CHECK(t.lastSlice == (t.firstSlice + t.sliceCount - 1) % slices);
      switch (t.kind) {
      case PlacedTensor::Kind::Weight:
        weights += t.bytes;
        break;
      case PlacedTensor::Kind::Scale:
        scales += t.bytes;
        break;
      case PlacedTensor::Kind::KvCache:
        kv += t.bytes;
        break;
      case PlacedTensor::Kind::Activation:
        activations += t.bytes;
        break;
      }
    }
    // The plan's ChipMemory counts scales inside weightBytes.
    CHECK(weights + scales == sample->weightBytes);
    CHECK(scales == sample->scaleBytes);
    CHECK(kv == sample->kvBytes);
    CHECK(activations == sample->activationBytes);
    CHECK(map.endAddress <= map.capacityBytes - map.reservedBytes);
    CHECK(map.reservedBytes == sample->reservedBytes);
    // Slice and bank totals: every vector the tensors touch is counted once (they are
    // vector-aligned and do not share vectors), and rows alternate the two banks evenly.
    uint64_t vectorsHeld = 0;
    for (const PlacedTensor &t : map.tensors) {
      vectorsHeld += (t.bytes + system.chip.vectorBytes - 1) / system.chip.vectorBytes;
    }
    REQUIRE(map.bankVectors.size() == system.chip.mem.banksPerSlice);
    CHECK(map.bankVectors[0] + map.bankVectors[1] == vectorsHeld);
    CHECK(map.slicesUsed == system.chip.mem.slices);
    CHECK(map.sliceBytesMax - map.sliceBytesMin <= system.chip.vectorBytes * map.tensors.size());
    CHECK(map.rowsUsed == (map.endAddress - 1) / system.chip.vectorBytes / system.chip.mem.slices + 1);
    CHECK(map.sliceBytesMax <= system.chip.mem.bytesPerSlice);
  }
  CHECK(stagesCovered == plan->stageCount);
  // Mixtral at tp 8, int8: one layer per stage; a layer's experts shard is
  // 8 x 3 x 4096 x 14336 / 8 = 176,160,768 B, the largest tensor of a middle stage.
  const StageMemoryMap &middle = maps.size() > 1 ? maps[1] : maps[0];
  const PlacedTensor *largest = &middle.tensors.front();
  for (const PlacedTensor &t : middle.tensors) {
    largest = t.bytes > largest->bytes ? &t : largest;
  }
  CHECK(largest->name.find("moe.experts") != std::string::npos);
  CHECK(largest->bytes == 176160768);
  const std::string text = renderMemoryMapsText(maps, system.chip, 3);
  CHECK(text.find("largest 3 of") != std::string::npos);
}

TEST_CASE("the planner only picks tensor parallelism the compiler can lower", "[partition]") {
  // conveyor-lower-collectives builds a direct all-reduce: one C2C link per peer, so on a
  // 16-link TSP tp is at most 17, and a group wider than a node spans exactly two nodes.
  system::SystemConfig fabric = shippedSystem("groq-576.yaml");
  CHECK(maxLowerableTp(fabric.chip) == 17);
  CHECK(lowerableTpGroup(fabric, 0, 8));
  CHECK(lowerableTpGroup(fabric, 3, 8)); // straddles a node, still one port per peer
  CHECK(lowerableTpGroup(fabric, 16, 16));
  CHECK_FALSE(lowerableTpGroup(fabric, 4, 16)); // three nodes: ports would be reused
  CHECK_FALSE(lowerableTpGroup(fabric, 0, 32));
  CHECK_FALSE(lowerableTpGroup(fabric, 0, 64));
  // llama3-70b shape (= llama2-70b's, GQA 64/8): the fastest plan on 576 chips was tp 64.
  ModelSummary model = makeDecoderSummary(llama2_70b());
  PlanOptions options;
  options.weights = DType::INT8;
  auto plan = planPartition(model, fabric, options);
  REQUIRE(plan.ok());
  REQUIRE(plan->fits);
  CHECK(plan->tp <= 16);
  for (const StagePlan &stage : plan->stages) {
    CHECK(lowerableTpGroup(fabric, stage.chips.front(), stage.tp));
  }
  // More links do not help past two nodes: the peers of a third node would reuse ports.
  system::SystemConfig wide = fabric;
  wide.chip.c2c.links = 80;
  auto widePlan = planPartition(model, wide, options);
  REQUIRE(widePlan.ok());
  REQUIRE(widePlan->fits);
  CHECK(widePlan->tp <= 16);
  // A forced tp above the limit is an error naming the link count; --min-chips agrees.
  PlanOptions forced = options;
  forced.tensorParallel = 32;
  auto refused = planPartition(model, fabric, forced);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().find("31 links") != std::string::npos);
  CHECK(refused.error().find("has 16") != std::string::npos);
  CHECK(minimumChips(model, fabric.chip, options) <= plan->chipsUsed);
  // A chip with 3 links can only lower tp <= 4: the minimum grows.
  system::SystemConfig few = fabric;
  few.chip.c2c.links = 3;
  CHECK(minimumChips(model, few.chip, options) >= minimumChips(model, fabric.chip, options));
  auto fewPlan = planPartition(model, few, options);
  REQUIRE(fewPlan.ok());
  if (fewPlan->fits) {
    CHECK(fewPlan->tp <= 4);
  }
}
