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
    const system::ChipConfig &chip = config->chip;
    chipConfig = chip; // slot lengths from LinkTiming
    bits = system::dtypeBits(*activations);
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
  void lowerReduceScatterAllGather(OpBuilder &builder, graph::AllReduceOp reduce,
                                   const TemplateRoutes &routes, int64_t first, int64_t tp) {
    Location loc = reduce.getLoc();
    Value partial = reduce.getInput();
    auto type = cast<RankedTensorType>(partial.getType());
    const int64_t axis = type.getRank() - 1;
    SmallVector<int64_t> chunkShape(type.getShape());
    chunkShape.back() /= tp;
    auto chunkType = RankedTensorType::get(chunkShape, type.getElementType());
    SmallVector<Type> chunkTypes(size_t(tp), chunkType);
    auto split = builder.create<graph::SplitOp>(
        loc, chunkTypes, partial, builder.getI64IntegerAttr(axis),
        builder.getDenseI64ArrayAttr(SmallVector<int64_t>(size_t(tp), chunkShape.back())));
    const int64_t base = nextTag;
    nextTag += 2 * tp;
    for (int64_t k = 1; k < tp; ++k) {
      Value chunk = split.getResult(unsigned(k));
      builder.create<chip::C2CSendOp>(loc, chunk, "tp", k, base + k,
                                      routes.port(first, first + k), routes.hops(0, k),
                                      slotCycles(chunk), nullptr, nullptr, nullptr);
      ++numSends;
    }
    Value sum = split.getResult(0);
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
        if (chooseReduceScatter(reduce.getInput(), routes, tp)) {
          lowerReduceScatterAllGather(builder, reduce, routes, first, tp);
          op->erase();
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
