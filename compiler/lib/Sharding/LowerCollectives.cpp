// conveyor-lower-collectives: stage sends and tensor-parallel all-reduces as routed
// cv.chip C2C transfers with their link ports, hop counts and slot lengths.
#include "conveyor/Dialect/Chip/ChipCostModel.h"
#include "conveyor/Dialect/Chip/ChipOps.h"
#include "conveyor/Dialect/Graph/GraphOps.h"
#include "conveyor/Sharding/LinkTiming.h"
#include "conveyor/Sharding/ShardingPasses.h"
#include "conveyor/System/SystemConfig.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include <algorithm>
#include <cmath>
#include <optional>

namespace conveyor::sharding {
#define GEN_PASS_DEF_LOWERCOLLECTIVES
#include "conveyor/Sharding/ShardingPasses.h.inc"
} // namespace conveyor::sharding

using namespace mlir;
using namespace conveyor;

namespace {

/// Routes of one template: chip ids and ports on the fabric.
class TemplateRoutes {
public:
  TemplateRoutes(const system::SystemConfig &config, ArrayRef<int64_t> stages, int64_t tp)
      : fabric(config.fabric), stages(stages), tp(tp) {}

  int64_t chip(int64_t stage, int64_t rank) const { return stage * tp + rank; }

  /// The most hops from (stage, rank) to (stage + stageOffset, rank + rankOffset mod tp)
  /// over the template's stages and ranks.
  int64_t hops(int64_t stageOffset, int64_t rankOffset) const {
    uint32_t most = 1;
    for (int64_t stage : stages) {
      for (int64_t rank = 0; rank < tp; ++rank) {
        int64_t from = chip(stage, rank);
        int64_t to = chip(stage + stageOffset, (rank + rankOffset) % tp);
        if (to >= 0 && to < fabric.chips && from < fabric.chips) {
          most = std::max(most, fabric.hopsBetween(from, to));
        }
      }
    }
    return most;
  }

  /// Port on chip `from` toward `to` (first chip of the template): inside a node the
  /// local links are numbered by the peer's position in the node, skipping the chip
  /// itself; a route that leaves the node starts on the first global port.
  int64_t port(int64_t from, int64_t to) const {
    if (to < 0 || fabric.chipsPerNode == 0 || fabric.nodeOf(from) != fabric.nodeOf(to)) {
      return fabric.effectiveLocalLinks();
    }
    int64_t local = to % fabric.chipsPerNode, self = from % fabric.chipsPerNode;
    return local > self ? local - 1 : local;
  }

private:
  const system::FabricConfig &fabric;
  ArrayRef<int64_t> stages;
  int64_t tp;
};

struct LowerCollectivesPass
    : public conveyor::sharding::impl::LowerCollectivesBase<LowerCollectivesPass> {
  using LowerCollectivesBase::LowerCollectivesBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (systemPath.empty()) {
      module.emitError("conveyor-lower-collectives needs the system description: pass "
                       "system=<path>, e.g. systems/groq-8.yaml");
      return signalPassFailure();
    }
    Result<system::SystemConfig> config = system::loadSystemConfig(systemPath);
    if (!config) {
      module.emitError() << "conveyor-lower-collectives: " << config.error();
      return signalPassFailure();
    }
    Result<system::DType> activations = system::parseDType(activationType);
    if (!activations) {
      module.emitError() << "conveyor-lower-collectives: activations='" << activationType
                         << "' is not a dtype (fp16, bf16, fp8, int8, f32)";
      return signalPassFailure();
    }
    Result<system::DType> weights = system::parseDType(weightType);
    if (!weights) {
      module.emitError() << "conveyor-lower-collectives: weights='" << weightType
                         << "' is not a dtype (fp16, bf16, fp8, int8, int4, f32)";
      return signalPassFailure();
    }
    const system::ChipConfig &chip = config->chip;
    chipConfig = chip; // slot lengths from LinkTiming
    bits = system::dtypeBits(*activations);
    activationDType = *activations;
    weightDType = *weights;
    for (auto func : module.getOps<func::FuncOp>()) {
      auto stages = func->getAttrOfType<DenseI64ArrayAttr>("cv.partition.stages");
      auto tp = func->getAttrOfType<IntegerAttr>("cv.partition.tp");
      if (!stages || !tp) {
        func.emitError("has no cv.partition.stages / cv.partition.tp; run conveyor-partition "
                       "first");
        return signalPassFailure();
      }
      int64_t width = tp.getInt();
      if (width > 1 && width - 1 > chip.c2c.links) {
        func.emitError() << "a direct all-reduce over " << width << " chips needs " << width - 1
                         << " links; the chip has " << chip.c2c.links;
        return signalPassFailure();
      }
      TemplateRoutes routes(*config, stages.asArrayRef(), width);
      if (failed(lower(func, routes, stages.asArrayRef().front(), width))) {
        return signalPassFailure();
      }
    }
  }

private:
  system::ChipConfig chipConfig;
  system::DType activationDType = system::DType::F16, weightDType = system::DType::F16;
  unsigned bits = 16;
  int64_t nextTag = 1; // tag 0 is the stage-to-stage residual

  int64_t slotCycles(Value value) const {
    auto type = cast<RankedTensorType>(value.getType());
    auto bytes = uint64_t(std::ceil(double(type.getNumElements()) * bits / 8));
    return int64_t(sharding::linkSerialisationCycles(chipConfig, bytes));
  }

  /// `pieces` joined along `axis` in order, as a balanced tree of pairwise concatenations
  /// (each lowers to one two-operand MEM_CONCAT): log2(n) passes over the result and
  /// log2(n) result-sized levels of SRAM, where a chain copies and keeps n - 1 growing
  /// prefixes (a prefill's gathered logits: 135/16 of the result at 16 pieces).
  static Value concatTree(OpBuilder &builder, Location loc, SmallVector<Value> pieces,
                          int64_t axis) {
    while (pieces.size() > 1) {
      SmallVector<Value> joined;
      for (size_t i = 0; i + 1 < pieces.size(); i += 2) {
        auto left = cast<RankedTensorType>(pieces[i].getType());
        auto right = cast<RankedTensorType>(pieces[i + 1].getType());
        SmallVector<int64_t> shape(left.getShape());
        shape[size_t(axis)] += right.getShape()[size_t(axis)];
        joined.push_back(builder.create<graph::ConcatOp>(
            loc, RankedTensorType::get(shape, left.getElementType()),
            ValueRange{pieces[i], pieces[i + 1]}, builder.getI64IntegerAttr(axis)));
      }
      if (pieces.size() % 2 == 1) {
        joined.push_back(pieces.back());
      }
      pieces = std::move(joined);
    }
    return pieces.front();
  }

  /// All-gather over the tp group as direct exchanges: every rank sends its shard to the
  /// ranks holding the other parts (one port per peer) and concatenates what it receives.
  /// With `parts` < tp, g = tp / parts consecutive ranks hold one shard, so rank r talks to
  /// ranks r + g, r + 2g, ... only. One template serves every rank, so the concatenation is
  /// in peer-offset order: rank r's result starts with its own shard, i.e. it is the
  /// chip-order result rotated by r / g shards; rank 0 (whose result the host reads) holds
  /// the chip-order result.
  LogicalResult lowerAllGather(OpBuilder &builder, graph::AllGatherOp gather,
                               const TemplateRoutes &routes, int64_t first, int64_t tp) {
    int64_t parts = gather.getParts();
    if (gather.getGroupSize() != tp || parts < 2 || tp % parts != 0) {
      return gather.emitOpError() << "only a gather over the function's tp group (" << tp
                                  << " chips) with parts dividing it is lowered";
    }
    Location loc = gather.getLoc();
    Value shard = gather.getInput();
    int64_t group = tp / parts;
    int64_t base = nextTag;
    nextTag += parts;
    // The send with tag base + m goes to rank r + m * group; its receiver sees the sender
    // at offset tp - m * group.
    for (int64_t m = 1; m < parts; ++m) {
      int64_t offset = m * group;
      builder.create<chip::C2CSendOp>(loc, shard, "tp", offset, base + m,
                                      routes.port(first, first + offset), routes.hops(0, offset),
                                      slotCycles(shard), nullptr, nullptr, nullptr);
      ++numSends;
    }
    SmallVector<Value> pieces{shard};
    for (int64_t position = 1; position < parts; ++position) {
      int64_t offset = position * group; // the sender, relative to this rank
      int64_t m = parts - position;      // its tag: it sent to offset tp - offset = m * group
      auto received = builder.create<chip::C2CRecvOp>(
          loc, shard.getType(), "tp", offset, base + m, routes.port(first, first + offset),
          routes.hops(0, offset), nullptr, nullptr, nullptr);
      pieces.push_back(received.getResult());
    }
    Value joined = concatTree(builder, loc, pieces, gather.getAxis());
    if (joined.getType() != gather.getType()) {
      return gather.emitOpError() << "gathers " << joined.getType() << ", not its result type "
                                  << gather.getType();
    }
    gather.getResult().replaceAllUsesWith(joined);
    return success();
  }

  /// Bytes of `value` on the links (at the activation precision).
  uint64_t messageBytes(Value value) const {
    auto type = cast<RankedTensorType>(value.getType());
    return uint64_t(std::ceil(double(type.getNumElements()) * bits / 8));
  }

  /// Cycles from the partial being ready to the sum being ready on every rank, by the
  /// compiler's own models (chip::ChipCostModel for MEM and VXM, LinkTiming for the links),
  /// for the direct exchange and for reduce-scatter + all-gather, as this pass lowers them.
  /// n instructions on one unit overlap their fixed latency with the next one's streaming:
  /// (n - 1) occupancies plus one duration; a balanced tree of them (the adds after
  /// conveyor-chip-shorten-chains, the all-gather's concatenations) takes at least one
  /// duration per level. `hops` is the longest route of the group.
  struct AllReduceEstimate {
    uint64_t direct = 0, reduceScatter = 0;
  };
  AllReduceEstimate estimateAllReduce(uint64_t bytes, int64_t tp, uint64_t hops) const {
    chip::ChipCostModel cost(chipConfig);
    const uint64_t n = uint64_t(tp);
    uint64_t levels = 0;
    while ((uint64_t(1) << levels) < n) {
      ++levels;
    }
    auto run = [](uint64_t count, const chip::InstructionCost &one) {
      return count == 0 ? 0 : (count - 1) * one.occupancy + one.duration;
    };
    auto tree = [&](uint64_t leaves, const chip::InstructionCost &one) {
      return std::max(levels * one.duration, run(leaves - 1, one));
    };
    // A message: serialisation, flight, the receive's drift slack (32 cycles, the
    // multi-chip compile's), then the payload lands like a MEM copy.
    auto message = [&](uint64_t payload) {
      return sharding::linkSerialisationCycles(chipConfig, payload) +
             sharding::linkFlightCycles(chipConfig, hops) + 32 +
             cost.memCopy(payload).duration;
    };
    AllReduceEstimate estimate;
    estimate.direct = message(bytes) + tree(n, cost.vxmElementwise(bytes, 1));
    const uint64_t chunk = (bytes + n - 1) / n;
    // The concatenation tree: level l joins pairs of 2^l-chunk pieces.
    uint64_t gather = 0;
    for (uint64_t l = 1, width = 2; l <= levels; ++l, width *= 2) {
      gather += run((n + width - 1) / width, cost.memCopy(std::min(n, width) * chunk));
    }
    estimate.reduceScatter = run(n, cost.memCopy(chunk)) + message(chunk) +
                             tree(n, cost.vxmElementwise(chunk, 1)) + message(chunk) + gather;
    return estimate;
  }

  /// Reduce-scatter + all-gather when the partial's last axis splits into tp equal chunks
  /// and the estimate says it is faster: bandwidth-bound messages (prefill's [P, hidden]
  /// partials) put 2 x 1/tp of the partial on each link instead of all of it; small
  /// (decode) messages keep the direct exchange, which has one message latency, not two.
  bool chooseReduceScatter(Value partial, const TemplateRoutes &routes, int64_t tp) const {
    auto type = cast<RankedTensorType>(partial.getType());
    if (tp < 2 || !type.hasStaticShape() || type.getRank() == 0 ||
        type.getShape().back() % tp != 0) {
      return false;
    }
    uint64_t hops = 1;
    for (int64_t k = 1; k < tp; ++k) {
      hops = std::max<uint64_t>(hops, uint64_t(routes.hops(0, k)));
    }
    AllReduceEstimate estimate = estimateAllReduce(messageBytes(partial), tp, hops);
    // The estimate leaves out the in-order issue of the add tree on the VXM queue, which
    // costs the reduce-scatter's latency-bound small chunks more than the direct form's
    // streaming adds: Llama-2-70B decode (16 KiB partials, tp 16) came out 190 cycles
    // slower where the estimate promised 2% less. Reduce-scatter must save a quarter.
    return estimate.reduceScatter * 4 < estimate.direct * 3;
  }

  /// Reduce-scatter then all-gather over the tp group, both as direct exchanges of 1/tp of
  /// the partial (its last axis cut into tp chunks). One template serves every rank, so the
  /// chunks are numbered relative to the rank: rank r's chunk j is the model's chunk
  /// (r + j) mod tp. Rank r sends its chunk k to rank r + k (tag base + k), which owns it as
  /// its chunk 0, adds the tp - 1 chunks it receives to its own chunk 0, sends the sum to
  /// every peer (tag base + tp + k) and concatenates what it receives in peer-offset order:
  /// the sum, in the same rank-relative order as the partial. Every rank's hidden-axis
  /// weights (norm scales, the rows of column-parallel and the columns of row-parallel
  /// matmuls, the embedding's columns) are stored rotated by r chunks, which keeps its
  /// residual stream in that order; rank 0's is the model's (the host reads rank 0).
  ///
  /// With `blocks` (the partial's column blocks, their count dividing tp), each block is cut
  /// into its tp / blocks chunks instead: the same chunks, with no join of the blocks.
  void lowerReduceScatterAllGather(OpBuilder &builder, graph::AllReduceOp reduce,
                                   const TemplateRoutes &routes, int64_t first, int64_t tp,
                                   ArrayRef<Value> blocks = {}) {
    Location loc = reduce.getLoc();
    Value partial = reduce.getInput();
    auto type = cast<RankedTensorType>(partial.getType());
    const int64_t axis = type.getRank() - 1;
    SmallVector<int64_t> chunkShape(type.getShape());
    chunkShape.back() /= tp;
    auto chunkType = RankedTensorType::get(chunkShape, type.getElementType());
    SmallVector<Value> chunks;
    SmallVector<Value> sources(blocks.begin(), blocks.end());
    if (sources.empty()) {
      sources.push_back(partial);
    }
    const int64_t perPiece = tp / int64_t(sources.size());
    for (Value piece : sources) {
      if (perPiece == 1) {
        chunks.push_back(piece);
        continue;
      }
      auto split = builder.create<graph::SplitOp>(
          loc, SmallVector<Type>(size_t(perPiece), chunkType), piece,
          builder.getI64IntegerAttr(axis),
          builder.getDenseI64ArrayAttr(SmallVector<int64_t>(size_t(perPiece), chunkShape.back())));
      chunks.append(split.getResults().begin(), split.getResults().end());
    }
    const int64_t base = nextTag;
    nextTag += 2 * tp;
    for (int64_t k = 1; k < tp; ++k) {
      Value chunk = chunks[size_t(k)];
      builder.create<chip::C2CSendOp>(loc, chunk, "tp", k, base + k,
                                      routes.port(first, first + k), routes.hops(0, k),
                                      slotCycles(chunk), nullptr, nullptr, nullptr);
      ++numSends;
    }
    Value sum = chunks.front();
    for (int64_t k = 1; k < tp; ++k) {
      auto received = builder.create<chip::C2CRecvOp>(
          loc, chunkType, "tp", tp - k, base + k, routes.port(first, first + (tp - k)),
          routes.hops(0, tp - k), nullptr, nullptr, nullptr);
      sum = builder.create<graph::AddOp>(loc, sum, received.getResult()).getResult();
    }
    for (int64_t k = 1; k < tp; ++k) {
      builder.create<chip::C2CSendOp>(loc, sum, "tp", k, base + tp + k,
                                      routes.port(first, first + k), routes.hops(0, k),
                                      slotCycles(sum), nullptr, nullptr, nullptr);
      ++numSends;
    }
    // Rank r + position sent its sum (the model's chunk r + position) with tag
    // base + tp + (tp - position): it is this rank's chunk `position`.
    SmallVector<Value> pieces{sum};
    for (int64_t position = 1; position < tp; ++position) {
      auto received = builder.create<chip::C2CRecvOp>(
          loc, chunkType, "tp", position, base + tp + (tp - position),
          routes.port(first, first + position), routes.hops(0, position), nullptr, nullptr,
          nullptr);
      pieces.push_back(received.getResult());
    }
    reduce.getResult().replaceAllUsesWith(concatTree(builder, loc, pieces, axis));
    ++numReduceScatters;
  }

  /// The row-parallel product behind a partial that column blocks can cut: a graph.matmul
  /// or a graph.gated_mlp (its down-projection) whose only user is the all-reduce, with a
  /// rank-2 weight [K, N] that is shape-only or holds constant data.
  struct BlockableProduct {
    Operation *op = nullptr;
    Value weight;
  };

  static bool columnSliceable(Value weight, int64_t columns) {
    auto type = dyn_cast<RankedTensorType>(weight.getType());
    if (!type || type.getRank() != 2 || !type.hasStaticShape() ||
        type.getDimSize(1) != columns) {
      return false;
    }
    Operation *producer = weight.getDefiningOp();
    if (isa_and_nonnull<graph::WeightOp>(producer)) {
      return true;
    }
    auto constant = dyn_cast_or_null<graph::ConstantOp>(producer);
    return constant && chip::getDenseElements(constant.getValue());
  }

  static std::optional<BlockableProduct> blockableProduct(graph::AllReduceOp reduce) {
    Value partial = reduce.getInput();
    auto type = cast<RankedTensorType>(partial.getType());
    if (!partial.hasOneUse() || type.getRank() < 2 || !type.hasStaticShape()) {
      return std::nullopt;
    }
    const int64_t columns = type.getShape().back();
    Operation *op = partial.getDefiningOp();
    if (auto product = dyn_cast_or_null<graph::MatMulOp>(op)) {
      if (columnSliceable(product.getRhs(), columns)) {
        return BlockableProduct{op, product.getRhs()};
      }
    } else if (auto mlp = dyn_cast_or_null<graph::GatedMlpOp>(op)) {
      StringRef activation = mlp.getActivation();
      if ((activation == "silu" || activation == "gelu" || activation == "gelu_tanh") &&
          columnSliceable(mlp.getWDown(), columns)) {
        return BlockableProduct{op, mlp.getWDown()};
      }
    }
    return std::nullopt;
  }

  /// Cycles from the product's issue to the joined sum on every rank with `blocks` column
  /// blocks, for a decode step's [1, N] partial of a [K, N] weight, by the compiler's
  /// models as lowerColumnBlocks writes it: block j's matmul is ready after j + 1
  /// occupancies of the MXM plus the fixed latency; each port serialises the blocks in
  /// order; each block lands, is summed on the in-order VXM, and joins a left-to-right
  /// chain of MEM concatenations.
  uint64_t estimateColumnBlocks(int64_t k, int64_t n, int64_t blocks, uint64_t hops) const {
    chip::ChipCostModel cost(chipConfig);
    std::optional<chip::InstructionCost> product = cost.matmul(
        1, 1, uint64_t(k), uint64_t(n / blocks), activationDType, weightDType);
    if (!product) {
      return UINT64_MAX;
    }
    const uint64_t blockBytes = uint64_t(std::ceil(double(n / blocks) * bits / 8));
    const uint64_t serial = sharding::linkSerialisationCycles(chipConfig, blockBytes);
    const uint64_t flight = sharding::linkFlightCycles(chipConfig, hops);
    const uint64_t landing = cost.memCopy(blockBytes).duration;
    const chip::InstructionCost sum = cost.vxmElementwise(blockBytes, 1);
    uint64_t portFree = 0, vxmFree = 0, joined = 0;
    for (int64_t j = 0; j < blocks; ++j) {
      const uint64_t ready =
          uint64_t(j + 1) * product->occupancy + (product->duration - product->occupancy);
      const uint64_t slot = std::max(ready, portFree);
      portFree = slot + serial;
      const uint64_t landed = slot + serial + flight + 32 + landing;
      const uint64_t issue = std::max(landed, vxmFree);
      vxmFree = issue + sum.occupancy;
      const uint64_t summed = issue + sum.duration;
      joined = j == 0 ? summed
                      : std::max(joined, summed) +
                            cost.memCopy(uint64_t(j + 1) * blockBytes).duration;
    }
    return joined;
  }

  /// The number of column blocks (1: the weight stays whole) with the least decode
  /// estimate. It depends on the weight and the template's links only, not on the step's
  /// length, so every bucket of a serving schedule splits a weight the same way and the
  /// buckets share it in SRAM (ScheduleBucketMerger matches weights by name). Counts
  /// that do not divide tp (the reduce-scatter's chunks) are not taken.
  int64_t chooseColumnBlocks(Value weight, const TemplateRoutes &routes, int64_t tp) const {
    auto type = cast<RankedTensorType>(weight.getType());
    const int64_t k = type.getDimSize(0), n = type.getDimSize(1);
    uint64_t hops = 1;
    for (int64_t offset = 1; offset < tp; ++offset) {
      hops = std::max<uint64_t>(hops, uint64_t(routes.hops(0, offset)));
    }
    int64_t best = 1;
    uint64_t bestCycles = estimateColumnBlocks(k, n, 1, hops);
    const auto most = int64_t(maxColumnBlocks);
    for (int64_t blocks = 2; blocks <= most && blocks <= tp; blocks *= 2) {
      if (n % blocks != 0 || tp % blocks != 0) {
        break;
      }
      uint64_t cycles = estimateColumnBlocks(k, n, blocks, hops);
      if (cycles < bestCycles) {
        best = blocks;
        bestCycles = cycles;
      }
    }
    return best;
  }

  /// Columns [j * width, (j + 1) * width) of a rank-2 weight as a parameter of its own,
  /// `<name>.cols<j>`: a shape-only weight stays shape-only (with its attributes: per-layer
  /// storage, shard), constant data is sliced.
  static Value weightColumns(OpBuilder &builder, Value weight, int64_t j, int64_t width) {
    auto type = cast<RankedTensorType>(weight.getType());
    auto sliceType = RankedTensorType::get({type.getDimSize(0), width}, type.getElementType());
    Operation *producer = weight.getDefiningOp();
    const std::string suffix = ".cols" + std::to_string(j);
    if (auto shapeOnly = dyn_cast<graph::WeightOp>(producer)) {
      auto slice = builder.create<graph::WeightOp>(
          producer->getLoc(), sliceType, builder.getStringAttr(shapeOnly.getName().str() + suffix));
      for (NamedAttribute attribute : producer->getDiscardableAttrs()) {
        slice->setAttr(attribute.getName(), attribute.getValue());
      }
      return slice.getResult();
    }
    auto constant = cast<graph::ConstantOp>(producer);
    DenseElementsAttr data = chip::getDenseElements(constant.getValue());
    const int64_t rows = type.getDimSize(0), columns = type.getDimSize(1);
    SmallVector<Attribute> values(data.getValues<Attribute>().begin(),
                                  data.getValues<Attribute>().end());
    SmallVector<Attribute> picked;
    picked.reserve(size_t(rows * width));
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = j * width; c < (j + 1) * width; ++c) {
        picked.push_back(values[size_t(r * columns + c)]);
      }
    }
    std::string name = constant.getName() ? constant.getName()->str() : std::string("parameter");
    auto slice = builder.create<graph::ConstantOp>(
        producer->getLoc(), sliceType, DenseElementsAttr::get(sliceType, picked),
        builder.getStringAttr(name + suffix));
    return slice.getResult();
  }

  /// The product recomputed as one matmul per column slice of its weight, before it (a
  /// gated MLP is unfused into gate, up, activation and product first).
  SmallVector<Value> columnProducts(OpBuilder &builder, const BlockableProduct &product,
                                    int64_t blocks) {
    Location loc = product.op->getLoc();
    builder.setInsertionPoint(product.op);
    Value lhs;
    if (auto mlp = dyn_cast<graph::GatedMlpOp>(product.op)) {
      Value gate = builder.create<graph::MatMulOp>(loc, mlp.getInput(), mlp.getWGate());
      StringRef activation = mlp.getActivation();
      if (activation == "silu") {
        gate = builder.create<graph::SiluOp>(loc, gate.getType(), gate);
      } else {
        gate = builder.create<graph::GeluOp>(
            loc, gate.getType(), gate,
            builder.getStringAttr(activation == "gelu_tanh" ? "tanh" : "none"));
      }
      Value up = builder.create<graph::MatMulOp>(loc, mlp.getInput(), mlp.getWUp());
      lhs = builder.create<graph::MulOp>(loc, gate, up);
    } else {
      lhs = cast<graph::MatMulOp>(product.op).getLhs();
    }
    const int64_t width = cast<RankedTensorType>(product.weight.getType()).getDimSize(1) / blocks;
    SmallVector<Value> parts;
    for (int64_t j = 0; j < blocks; ++j) {
      Value weight = weightColumns(builder, product.weight, j, width);
      parts.push_back(builder.create<graph::MatMulOp>(loc, lhs, weight));
    }
    return parts;
  }

  /// Erases the all-reduce, the product the column blocks replaced and its weight.
  static void eraseBlockedProduct(graph::AllReduceOp reduce, const BlockableProduct &product) {
    reduce.erase();
    Operation *weightOp = product.weight.getDefiningOp();
    product.op->erase();
    if (weightOp && weightOp->use_empty()) {
      weightOp->erase();
    }
  }

  /// The direct exchange in column blocks (see the pass description): each block `parts[j]`
  /// goes to every peer (tag base + j * tp + k) and is summed with what the peers send of
  /// it and, when the all-reduce's only user adds the residual, with that column slice of
  /// the residual; a left-to-right concat joins the block sums.
  void lowerColumnBlocks(OpBuilder &builder, graph::AllReduceOp reduce,
                         const BlockableProduct &product, ArrayRef<Value> parts,
                         const TemplateRoutes &routes, int64_t first, int64_t tp) {
    Location loc = product.op->getLoc();
    const auto blocks = int64_t(parts.size());
    auto type = cast<RankedTensorType>(reduce.getInput().getType());
    const int64_t axis = type.getRank() - 1, width = type.getShape().back() / blocks;
    auto blockType = cast<RankedTensorType>(parts.front().getType());

    graph::AddOp residualAdd;
    Value residual;
    if (reduce.getResult().hasOneUse()) {
      auto add = dyn_cast<graph::AddOp>(*reduce.getResult().getUsers().begin());
      if (add && add.getLhs() != add.getRhs() && add.getType() == type) {
        residual = add.getLhs() == reduce.getResult() ? add.getRhs() : add.getLhs();
        if (residual.getType() == type) {
          residualAdd = add;
        }
      }
    }
    SmallVector<Value> residualBlocks;
    if (residualAdd) {
      // Sliced where the residual is defined (off the critical path), in this block.
      if (residual.getParentBlock() == reduce->getBlock()) {
        builder.setInsertionPointAfterValue(residual);
      } else {
        builder.setInsertionPoint(product.op);
      }
      auto split = builder.create<graph::SplitOp>(
          residual.getLoc(), SmallVector<Type>(size_t(blocks), blockType), residual,
          builder.getI64IntegerAttr(axis),
          builder.getDenseI64ArrayAttr(SmallVector<int64_t>(size_t(blocks), width)));
      residualBlocks.assign(split.getResults().begin(), split.getResults().end());
    }

    const int64_t base = nextTag;
    nextTag += blocks * tp;
    for (int64_t j = 0; j < blocks; ++j) {
      Value part = parts[size_t(j)];
      builder.setInsertionPointAfterValue(part);
      for (int64_t k = 1; k < tp; ++k) {
        builder.create<chip::C2CSendOp>(loc, part, "tp", k, base + j * tp + k,
                                        routes.port(first, first + k), routes.hops(0, k),
                                        slotCycles(part), nullptr, nullptr, nullptr);
        ++numSends;
      }
    }
    builder.setInsertionPoint(residualAdd ? residualAdd.getOperation() : reduce.getOperation());
    SmallVector<Value> sums;
    for (int64_t j = 0; j < blocks; ++j) {
      Value sum = parts[size_t(j)];
      for (int64_t k = 1; k < tp; ++k) {
        auto received = builder.create<chip::C2CRecvOp>(
            loc, blockType, "tp", tp - k, base + j * tp + k, routes.port(first, first + (tp - k)),
            routes.hops(0, tp - k), nullptr, nullptr, nullptr);
        sum = builder.create<graph::AddOp>(loc, sum, received.getResult()).getResult();
      }
      if (residualAdd) {
        sum = builder.create<graph::AddOp>(loc, sum, residualBlocks[size_t(j)]).getResult();
      }
      sums.push_back(sum);
    }
    Value joined = builder.create<graph::ConcatOp>(loc, type, sums, builder.getI64IntegerAttr(axis));
    if (residualAdd) {
      residualAdd.getResult().replaceAllUsesWith(joined);
      residualAdd.erase();
    } else {
      reduce.getResult().replaceAllUsesWith(joined);
    }
    ++numColumnBlocked;
  }

  LogicalResult lower(func::FuncOp func, const TemplateRoutes &routes, int64_t firstStage,
                      int64_t tp) {
    SmallVector<Operation *> ops;
    func.walk([&](Operation *op) {
      if (isa<graph::SendOp, graph::RecvOp, graph::AllReduceOp, graph::AllGatherOp>(op)) {
        ops.push_back(op);
      }
    });
    OpBuilder builder(func.getContext());
    int64_t first = routes.chip(firstStage, 0);
    for (Operation *op : ops) {
      builder.setInsertionPoint(op);
      Location loc = op->getLoc();
      if (auto send = dyn_cast<graph::SendOp>(op)) {
        int64_t offset = send.getStageOffset();
        builder.create<chip::C2CSendOp>(loc, send.getInput(), "pipeline", offset, send.getTag(),
                                        routes.port(first, routes.chip(firstStage + offset, 0)),
                                        routes.hops(offset, 0), slotCycles(send.getInput()),
                                        nullptr, nullptr, nullptr);
        ++numSends;
      } else if (auto recv = dyn_cast<graph::RecvOp>(op)) {
        int64_t offset = recv.getStageOffset();
        auto received =
            builder.create<chip::C2CRecvOp>(loc, recv.getType(), "pipeline", offset, recv.getTag(),
                                            routes.port(first, routes.chip(firstStage + offset, 0)),
                                            routes.hops(offset, 0), nullptr, nullptr, nullptr);
        recv.getResult().replaceAllUsesWith(received.getResult());
      } else if (auto reduce = dyn_cast<graph::AllReduceOp>(op)) {
        if (reduce.getReduction() != "sum" || reduce.getGroupSize() != tp) {
          return reduce.emitOpError()
                 << "only a sum over the function's tp group (" << tp << " chips) is lowered";
        }
        // Column blocks: a weight split for decode is split in every bucket (one copy in
        // SRAM); the reduce-scatter takes the blocks' chunks as they are.
        std::optional<BlockableProduct> product = blockableProduct(reduce);
        const int64_t blocks = product ? chooseColumnBlocks(product->weight, routes, tp) : 1;
        SmallVector<Value> parts;
        if (blocks > 1) {
          parts = columnProducts(builder, *product, blocks);
          builder.setInsertionPoint(op);
        }
        if (chooseReduceScatter(reduce.getInput(), routes, tp)) {
          lowerReduceScatterAllGather(builder, reduce, routes, first, tp, parts);
          if (blocks > 1) {
            eraseBlockedProduct(reduce, *product);
          } else {
            op->erase();
          }
          continue;
        }
        if (blocks > 1) {
          lowerColumnBlocks(builder, reduce, *product, parts, routes, first, tp);
          eraseBlockedProduct(reduce, *product);
          continue;
        }
        // Every rank sends its partial to every other over a direct link, then adds the
        // tp - 1 partials it receives (rank r + k sends with tag base + k to rank r + k + k').
        Value partial = reduce.getInput(), sum = partial;
        int64_t base = nextTag;
        nextTag += tp;
        for (int64_t k = 1; k < tp; ++k) {
          builder.create<chip::C2CSendOp>(loc, partial, "tp", k, base + k,
                                          routes.port(first, first + k), routes.hops(0, k),
                                          slotCycles(partial), nullptr, nullptr, nullptr);
          ++numSends;
        }
        for (int64_t k = 1; k < tp; ++k) {
          auto received = builder.create<chip::C2CRecvOp>(
              loc, partial.getType(), "tp", tp - k, base + k, routes.port(first, first + (tp - k)),
              routes.hops(0, tp - k), nullptr, nullptr, nullptr);
          sum = builder.create<graph::AddOp>(loc, sum, received.getResult()).getResult();
        }
        reduce.getResult().replaceAllUsesWith(sum);
      } else if (auto gather = dyn_cast<graph::AllGatherOp>(op)) {
        if (failed(lowerAllGather(builder, gather, routes, first, tp))) {
          return failure();
        }
      }
      op->erase();
    }
    return success();
  }
};

} // namespace
