// conveyor-partition-bound: the decode-step lower bound of a partitioned graph, from the
// weight-install rate, the MXM rate and the C2C links of the system description.
#include "conveyor/Dialect/Graph/GraphOps.h"
#include "conveyor/Sharding/ShardingPasses.h"
#include "conveyor/System/SystemConfig.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include <algorithm>
#include <cmath>

namespace conveyor::sharding {
#define GEN_PASS_DEF_PARTITIONBOUND
#include "conveyor/Sharding/ShardingPasses.h.inc"
} // namespace conveyor::sharding

using namespace mlir;
using namespace conveyor;
using namespace conveyor::graph;

namespace {

int64_t elements(Value value) { return cast<RankedTensorType>(value.getType()).getNumElements(); }
int64_t lastDim(Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  return type.getDimSize(type.getRank() - 1);
}
bool isParameter(Value value) {
  return isa_and_nonnull<WeightOp, ConstantOp>(value.getDefiningOp());
}

/// What one chip spends on a sequence of ops.
struct Cost {
  double weightBytes = 0; // weights plus K/V installed in the MXM
  double macs = 0;
  double c2cCycles = 0; // collectives and sends, on the critical path
  Cost &operator+=(const Cost &other) {
    weightBytes += other.weightBytes;
    macs += other.macs;
    c2cCycles += other.c2cCycles;
    return *this;
  }
};

struct Rates {
  double weightBits = 8, activationBits = 16;
  double weightLoadBytesPerCycle = 1, macsPerCycle = 1;
  double linkBytesPerCycle = 1, hopCycles = 0;
  uint32_t links = 1;

  double cycles(const Cost &cost) const {
    return std::max(cost.weightBytes / weightLoadBytesPerCycle, cost.macs / macsPerCycle) +
           cost.c2cCycles;
  }
  double messageCycles(double bytes, double hops) const {
    return std::ceil(bytes / linkBytesPerCycle) + hops * hopCycles;
  }
};

class RoleCost {
public:
  RoleCost(const Rates &rates, const system::FabricConfig &fabric, func::FuncOp func)
      : rates(rates), fabric(fabric), func(func) {}

  /// Cost of the ops of `block` other than cv.graph.repeat (whose body is `layer`).
  LogicalResult accumulate(Block &block, Cost &cost, Cost *layer, int64_t *repeat) {
    for (Operation &op : block) {
      if (auto loop = dyn_cast<RepeatOp>(op)) {
        if (!layer) {
          return loop.emitOpError("is nested in another cv.graph.repeat; not supported");
        }
        *repeat = loop.getCount();
        if (failed(accumulate(loop.getBody().front(), *layer, nullptr, nullptr))) {
          return failure();
        }
        continue;
      }
      if (failed(add(&op, cost))) {
        return failure();
      }
    }
    return success();
  }

private:
  const Rates &rates;
  const system::FabricConfig &fabric;
  func::FuncOp func;

  double activationBytes(Value value) const { return elements(value) * rates.activationBits / 8; }

  LogicalResult add(Operation *op, Cost &cost) {
    if (auto weight = dyn_cast<WeightOp>(op)) {
      cost.weightBytes += elements(weight.getResult()) * rates.weightBits / 8;
    } else if (auto matmul = dyn_cast<MatMulOp>(op)) {
      cost.macs += double(elements(matmul.getResult())) * lastDim(matmul.getLhs());
      if (!isParameter(matmul.getRhs())) {
        cost.weightBytes += activationBytes(matmul.getRhs()); // K/V: installed as weights
      }
    } else if (auto mlp = dyn_cast<GatedMlpOp>(op)) {
      double tokens = double(elements(mlp.getInput())) / lastDim(mlp.getInput());
      cost.macs +=
          tokens * (elements(mlp.getWGate()) + elements(mlp.getWUp()) + elements(mlp.getWDown()));
    } else if (auto head = dyn_cast<LmHeadOp>(op)) {
      double tokens = double(elements(head.getInput())) / lastDim(head.getInput());
      cost.macs += tokens * elements(head.getWeight());
    } else if (auto moe = dyn_cast<MoeOp>(op)) {
      auto gate = cast<RankedTensorType>(moe.getWGate().getType());
      double experts = gate.getDimSize(0), active = moe.getTopK();
      double tokens = double(elements(moe.getInput())) / lastDim(moe.getInput());
      double expertElements = elements(moe.getWGate()) + elements(moe.getWDown()) +
                              (moe.getWUp() ? elements(moe.getWUp()) : 0);
      cost.macs += tokens * (elements(moe.getWRouter()) + active / experts * expertElements);
      // Only the chosen experts' weights enter the MXM (their WeightOps counted them all).
      cost.weightBytes -=
          (1 - std::min(1.0, tokens * active / experts)) * expertElements * rates.weightBits / 8;
    } else if (auto attention = dyn_cast<AttentionOp>(op)) {
      auto query = cast<RankedTensorType>(attention.getQuery().getType());
      auto key = cast<RankedTensorType>(attention.getKey().getType());
      double pairs = double(query.getNumElements()) / query.getDimSize(3) * key.getDimSize(2);
      cost.macs += pairs * (query.getDimSize(3) + lastDim(attention.getValue()));
      cost.weightBytes +=
          activationBytes(attention.getKey()) + activationBytes(attention.getValue());
    } else if (auto reduce = dyn_cast<AllReduceOp>(op)) {
      if (reduce.getGroupSize() - 1 > rates.links) {
        return reduce.emitOpError()
               << "needs " << reduce.getGroupSize() - 1
               << " links for a direct all-reduce; the chip has " << rates.links;
      }
      cost.c2cCycles += rates.messageCycles(activationBytes(reduce.getInput()), 1);
    } else if (auto gather = dyn_cast<AllGatherOp>(op)) {
      cost.c2cCycles += rates.messageCycles(activationBytes(gather.getInput()), 1);
    } else if (auto send = dyn_cast<SendOp>(op)) {
      cost.c2cCycles += rates.messageCycles(activationBytes(send.getInput()), sendHops(send));
    }
    return success();
  }

  /// The most hops a send of this role crosses: chip (stage, 0) to (stage + offset, 0).
  double sendHops(SendOp send) const {
    auto stages = func->getAttrOfType<DenseI64ArrayAttr>("cv.partition.stages");
    auto tp = func->getAttrOfType<IntegerAttr>("cv.partition.tp");
    int64_t width = tp ? tp.getInt() : 1;
    uint32_t hops = 1;
    for (int64_t stage : stages ? stages.asArrayRef() : ArrayRef<int64_t>{}) {
      int64_t from = stage * width, to = (stage + send.getStageOffset()) * width;
      if (to >= 0 && to < fabric.chips && from < fabric.chips) {
        hops = std::max(hops, fabric.hopsBetween(from, to));
      }
    }
    return hops;
  }
};

struct PartitionBoundPass
    : public conveyor::sharding::impl::PartitionBoundBase<PartitionBoundPass> {
  using PartitionBoundBase::PartitionBoundBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (systemPath.empty()) {
      module.emitError("conveyor-partition-bound needs the system description: pass "
                       "system=<path>, e.g. systems/groq-8.yaml");
      return signalPassFailure();
    }
    Result<system::SystemConfig> config = system::loadSystemConfig(systemPath);
    if (!config) {
      module.emitError() << "conveyor-partition-bound: " << config.error();
      return signalPassFailure();
    }
    Result<system::DType> weights = system::parseDType(weightType);
    Result<system::DType> activations = system::parseDType(activationType);
    if (!weights || !activations) {
      module.emitError() << "conveyor-partition-bound: weights='" << weightType
                         << "' / activations='" << activationType
                         << "' must be one of fp16, bf16, fp8, int8, int4, f32";
      return signalPassFailure();
    }
    const system::ChipConfig &chip = config->chip;
    Rates rates;
    rates.weightBits = system::dtypeBits(*weights);
    rates.activationBits = system::dtypeBits(*activations);
    rates.weightLoadBytesPerCycle = chip.mxm.weightLoadBytesPerCycle;
    auto mac = chip.mxm.macsPerCycle.find(*weights);
    if (mac == chip.mxm.macsPerCycle.end()) {
      mac = chip.mxm.macsPerCycle.find(chip.mxm.floatTimingAs);
    }
    if (mac == chip.mxm.macsPerCycle.end() || rates.weightLoadBytesPerCycle <= 0) {
      module.emitError() << "conveyor-partition-bound: " << systemPath
                         << ": chip.mxm has no MAC rate for " << weightType << " or for "
                         << system::dtypeName(chip.mxm.floatTimingAs);
      return signalPassFailure();
    }
    rates.macsPerCycle = mac->second;
    rates.linkBytesPerCycle = chip.c2c.lanesPerLink * chip.c2c.gbpsPerLane * 1e9 / 8 / chip.clockHz;
    rates.hopCycles = chip.c2c.latencyCycles;
    rates.links = chip.c2c.links;

    Builder builder(&getContext());
    double total = 0;
    for (auto func : module.getOps<func::FuncOp>()) {
      auto stages = func->getAttrOfType<DenseI64ArrayAttr>("cv.partition.stages");
      if (!stages) {
        func.emitError("has no cv.partition.stages; run conveyor-partition first");
        return signalPassFailure();
      }
      Cost outside, layer;
      int64_t repeat = 0;
      if (failed(RoleCost(rates, config->fabric, func)
                     .accumulate(func.getBody().front(), outside, &layer, &repeat))) {
        return signalPassFailure();
      }
      double layerCycles = rates.cycles(layer);
      double stageCycles = rates.cycles(outside) + repeat * layerCycles;
      auto integer = [&](double value) {
        return builder.getI64IntegerAttr(int64_t(std::ceil(value)));
      };
      func->setAttr("cv.partition.bound",
                    builder.getDictionaryAttr({
                        builder.getNamedAttr("layer_weight_bytes", integer(layer.weightBytes)),
                        builder.getNamedAttr("layer_macs", integer(layer.macs)),
                        builder.getNamedAttr("layer_c2c_cycles", integer(layer.c2cCycles)),
                        builder.getNamedAttr("layer_cycles", integer(layerCycles)),
                        builder.getNamedAttr("stage_cycles", integer(stageCycles)),
                    }));
      total += stageCycles * stages.size();
    }
    int64_t cycles = int64_t(std::ceil(total));
    module->setAttr("cv.partition.decode_bound_cycles", builder.getI64IntegerAttr(cycles));
    module->setAttr("cv.partition.decode_bound_tokens_per_s",
                    builder.getF64FloatAttr(cycles > 0 ? std::round(chip.clockHz / cycles) : 0));
    decodeBoundCycles = cycles;
  }
};

} // namespace
