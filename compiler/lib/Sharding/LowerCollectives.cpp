// conveyor-lower-collectives: stage sends and tensor-parallel all-reduces as routed
// cv.chip C2C transfers with their link ports, hop counts and slot lengths.
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
    auto concat = builder.create<graph::ConcatOp>(loc, gather.getType(), pieces,
                                                  builder.getI64IntegerAttr(gather.getAxis()));
    gather.getResult().replaceAllUsesWith(concat.getResult());
    return success();
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
