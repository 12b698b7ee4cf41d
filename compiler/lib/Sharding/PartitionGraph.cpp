// conveyor-partition: pipeline stages of repeated layers, each split over tp chips; one
// function per distinct chip role.
#include "LayerStructure.h"
#include "ShardTensors.h"

#include "conveyor/Dialect/Graph/GraphOps.h"
#include "conveyor/Sharding/ShardingPasses.h"
#include "conveyor/System/SystemConfig.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

#include <algorithm>
#include <map>
#include <optional>
#include <tuple>

namespace conveyor::sharding {
#define GEN_PASS_DEF_PARTITIONGRAPH
#include "conveyor/Sharding/ShardingPasses.h.inc"
} // namespace conveyor::sharding

using namespace mlir;
using namespace conveyor::graph;
using namespace conveyor::sharding;

namespace {

/// One distinct chip program: stages that run the same ops the same number of times.
struct Role {
  bool first = false, last = false;
  unsigned repeat = 0;
  SmallVector<int64_t> stages, firstLayers;
};

/// Builds one role's function from the analysed decoder.
class RoleBuilder {
public:
  RoleBuilder(const DecoderStructure &decoder, func::FuncOp func)
      : decoder(decoder), source(decoder.func), func(func), entry(&func.getBody().front()),
        top(func.getContext()), body(func.getContext()) {
    top.setInsertionPointToStart(entry);
    body.setInsertionPointToEnd(entry);
  }

  LogicalResult build(const Role &role) {
    Location loc = source.getLoc();
    Value stream;
    if (role.first) {
      for (Operation *op : decoder.preOps) {
        if (failed(clone(op, body))) {
          return failure();
        }
      }
      stream = map.lookup(decoder.residual.front());
    } else {
      stream = body.create<RecvOp>(loc, decoder.residual.front().getType(), -1, 0);
    }

    // One layer body, repeated.
    SmallVector<Type> resultTypes{stream.getType()};
    for (Value output : decoder.layerOutputs) {
      resultTypes.push_back(output.getType());
    }
    auto repeat = body.create<RepeatOp>(loc, resultTypes, ValueRange{stream}, role.repeat);
    Block *layer = new Block();
    repeat.getBody().push_back(layer);
    map.map(decoder.residual.front(), layer->addArgument(stream.getType(), loc));
    OpBuilder inner(func.getContext());
    inner.setInsertionPointToEnd(layer);
    for (Operation *op : decoder.layers.front()) {
      for (Value operand : op->getOperands()) {
        if (!map.contains(operand) && decoder.isPerLayer(operand)) {
          mapPerLayer(operand, inner);
        }
      }
      if (failed(clone(op, inner))) {
        return failure();
      }
    }
    SmallVector<Value> yielded{map.lookup(decoder.residual[1])};
    for (Value output : decoder.layerOutputs) {
      yielded.push_back(map.lookup(output));
    }
    inner.create<YieldOp>(loc, yielded);

    Value out = repeat.getResult(0);
    SmallVector<Value> results;
    SmallVector<NamedAttrList> resultAttrs;
    auto ret = cast<func::ReturnOp>(source.getBody().front().getTerminator());
    if (role.last) {
      map.map(decoder.residual.back(), out);
      for (Operation *op : decoder.postOps) {
        if (failed(clone(op, body))) {
          return failure();
        }
      }
      for (auto [index, value] : llvm::enumerate(ret.getOperands())) {
        if (decoder.returnOutput[index] < 0) {
          FailureOr<Value> mapped = materialize(value);
          if (failed(mapped)) {
            return failure();
          }
          results.push_back(*mapped);
          resultAttrs.emplace_back(source.getResultAttrDict(index));
        }
      }
    } else {
      body.create<SendOp>(loc, out, 1, 0);
    }
    // Per-layer outputs, named by a pattern over the layers when the names have one.
    for (auto [output, layerValue] : llvm::enumerate(decoder.layerOutputs)) {
      results.push_back(repeat.getResult(1 + output));
      SmallVector<std::string> names;
      for (auto [index, value] : llvm::enumerate(ret.getOperands())) {
        if (decoder.returnOutput[index] == static_cast<int>(output)) {
          auto name = source.getResultAttrOfType<StringAttr>(index, "cv.name");
          names.push_back(name ? name.str() : "");
        }
      }
      NamedAttrList attrs;
      attrs.set(kPerLayerAttr, UnitAttr::get(func.getContext()));
      setNames(attrs, names);
      resultAttrs.push_back(attrs);
    }
    body.create<func::ReturnOp>(loc, results);

    SmallVector<Type> argTypes(entry->getArgumentTypes());
    func.setFunctionType(
        FunctionType::get(func.getContext(), argTypes, ValueRange(results).getTypes()));
    for (auto [index, attrs] : llvm::enumerate(argAttrs)) {
      func.setArgAttrs(index, attrs.getDictionary(func.getContext()));
    }
    for (auto [index, attrs] : llvm::enumerate(resultAttrs)) {
      func.setResultAttrs(index, attrs.getDictionary(func.getContext()));
    }
    return success();
  }

private:
  const DecoderStructure &decoder;
  func::FuncOp source; // the analysed @main
  func::FuncOp func;
  Block *entry;
  OpBuilder top, body; // shared values at the top; the program below them
  IRMapping map;
  Operation *lastShared = nullptr;

public:
  /// Ops cloned as shared values (the same on every layer and rank).
  llvm::DenseSet<Operation *> shared;

private:
  SmallVector<NamedAttrList> argAttrs;

  void setNames(NamedAttrList &attrs, ArrayRef<std::string> names) {
    if (names.empty() || names.front().empty()) {
      return;
    }
    Builder builder(func.getContext());
    std::string pattern = names.size() > 1 ? layerNameTemplate(names) : "";
    if (!pattern.empty()) {
      attrs.set("cv.name", builder.getStringAttr(pattern));
      return;
    }
    attrs.set("cv.name", builder.getStringAttr(names.front()));
    if (names.size() > 1) {
      SmallVector<StringRef> refs(names.begin(), names.end());
      attrs.set("cv.partition.layer_names", builder.getStrArrayAttr(refs));
    }
  }

  BlockArgument addArgument(Type type, NamedAttrList attrs) {
    argAttrs.push_back(attrs);
    return entry->addArgument(type, source.getLoc());
  }

  /// Layer 0's per-layer operand `value`: a function argument or a weight inside the body
  /// that stands for layer i's on iteration i.
  void mapPerLayer(Value value, OpBuilder &inner) {
    const SmallVector<Value> &values = decoder.perLayer.find(value)->second;
    SmallVector<std::string> names;
    for (Value each : values) {
      if (auto argument = dyn_cast<BlockArgument>(each)) {
        auto name = source.getArgAttrOfType<StringAttr>(argument.getArgNumber(), "cv.name");
        names.push_back(name ? name.str() : "");
      } else if (auto weight = each.getDefiningOp<WeightOp>()) {
        names.push_back(weight.getName().str());
      } else if (auto constant = each.getDefiningOp<ConstantOp>()) {
        names.push_back(constant.getName() ? constant.getName()->str() : "");
      }
    }
    NamedAttrList attrs;
    attrs.set(kPerLayerAttr, UnitAttr::get(func.getContext()));
    setNames(attrs, names);
    if (isa<BlockArgument>(value)) {
      map.map(value, addArgument(value.getType(), attrs));
      return;
    }
    auto nameAttr = attrs.get("cv.name");
    std::string name = nameAttr ? cast<StringAttr>(nameAttr).str() : "layer-parameter";
    attrs.erase("cv.name");
    auto weight =
        inner.create<WeightOp>(value.getLoc(), value.getType(), inner.getStringAttr(name));
    for (NamedAttribute attr : attrs) {
      weight->setAttr(attr.getName(), attr.getValue());
    }
    map.map(value, weight.getResult());
  }

  /// `value` in this function: already mapped, or a shared argument or op, cloned at the top.
  FailureOr<Value> materialize(Value value) {
    if (Value mapped = map.lookupOrNull(value)) {
      return mapped;
    }
    if (auto argument = dyn_cast<BlockArgument>(value)) {
      NamedAttrList attrs(source.getArgAttrDict(argument.getArgNumber()));
      BlockArgument mapped = addArgument(value.getType(), attrs);
      map.map(value, mapped);
      return Value(mapped);
    }
    Operation *producer = value.getDefiningOp();
    for (Value operand : producer->getOperands()) {
      if (failed(materialize(operand))) {
        return failure();
      }
    }
    // Shared values go above the program, in the order they were first needed.
    if (lastShared) {
      top.setInsertionPointAfter(lastShared);
    } else {
      top.setInsertionPointToStart(entry);
    }
    lastShared = top.clone(*producer, map);
    shared.insert(lastShared);
    return map.lookup(value);
  }

  LogicalResult clone(Operation *op, OpBuilder &at) {
    for (Value operand : op->getOperands()) {
      if (failed(materialize(operand))) {
        return failure();
      }
    }
    at.clone(*op, map);
    return success();
  }
};

struct PartitionGraphPass
    : public conveyor::sharding::impl::PartitionGraphBase<PartitionGraphPass> {
  using PartitionGraphBase::PartitionGraphBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto main = module.lookupSymbol<func::FuncOp>("main");
    if (!main) {
      module.emitError("conveyor-partition: the module has no @main function to partition");
      return signalPassFailure();
    }
    if (tp < 1 || stages < 1) {
      main.emitError() << "conveyor-partition: tp (" << tp.getValue() << ") and stages ("
                       << stages.getValue() << ") must be at least 1";
      return signalPassFailure();
    }
    FailureOr<DecoderStructure> decoder = analyzeDecoder(main);
    if (failed(decoder)) {
      return signalPassFailure();
    }
    unsigned layers = decoder->numLayers();
    // An explicit split (stage-layers) sets the stage count; it must cover every layer once,
    // at least one per stage (a stage's program is its layer body, repeated).
    SmallVector<unsigned> counts(stageLayers.begin(), stageLayers.end());
    if (!counts.empty()) {
      uint64_t total = 0;
      for (unsigned c : counts) {
        total += c;
      }
      if (stages != 1 && stages != counts.size()) {
        main.emitError() << "conveyor-partition: stages (" << stages.getValue()
                         << ") differs from the " << counts.size()
                         << " entries of stage-layers; give one or the other";
        return signalPassFailure();
      }
      if (total != layers) {
        main.emitError() << "conveyor-partition: stage-layers sums to " << total
                         << " layers but the model has " << layers << " repeating layers";
        return signalPassFailure();
      }
      if (llvm::is_contained(counts, 0u)) {
        main.emitError() << "conveyor-partition: stage-layers gives a stage no layers; every "
                            "stage holds at least one layer";
        return signalPassFailure();
      }
      stages = unsigned(counts.size());
    } else if (stages > layers) {
      InFlightDiagnostic diag = main.emitError() << "conveyor-partition: " << stages.getValue()
                                                 << " pipeline stages but the model has " << layers
                                                 << " repeating layers; pass stages <= " << layers;
      if (!decoder->mismatch.empty()) {
        diag << " (the residual blocks do not repeat: " << decoder->mismatch << ")";
      }
      return signalPassFailure();
    }

    // The C2C hops each stage's collectives and pipeline transfers cross (chip = stage * tp +
    // rank): lower-collectives times a template's transfers by the most hops over its
    // stages, so stages that differ get their own role. Without a system, one class.
    std::optional<conveyor::system::SystemConfig> config;
    if (!systemPath.empty()) {
      conveyor::Result<conveyor::system::SystemConfig> loaded =
          conveyor::system::loadSystemConfig(systemPath);
      if (!loaded) {
        module.emitError() << "conveyor-partition: " << loaded.error();
        return signalPassFailure();
      }
      config = std::move(*loaded);
    }
    auto routeClass = [&](unsigned stage) -> uint64_t {
      if (!config) {
        return 0;
      }
      const conveyor::system::FabricConfig &fabric = config->fabric;
      auto hops = [&](int64_t from, int64_t to) -> uint64_t {
        if (from < 0 || to < 0 || from >= fabric.chips || to >= fabric.chips) {
          return 0;
        }
        return fabric.hopsBetween(uint32_t(from), uint32_t(to));
      };
      int64_t width = tp, first = int64_t(stage) * width;
      uint64_t group = 0;
      for (int64_t r = 0; r < width; ++r) {
        for (int64_t k = 1; k < width; ++k) {
          group = std::max(group, hops(first + r, first + (r + k) % width));
        }
      }
      uint64_t toNext = stage + 1 < stages ? hops(first, first + width) : 0;
      uint64_t fromPrevious = stage > 0 ? hops(first - width, first) : 0;
      return group << 32 | toNext << 16 | fromPrevious;
    };

    // Contiguous layer ranges: stage-layers when given, else near-equal (earlier stages take
    // the remainder); stages that
    // run the same ops the same number of times over the same hops share one role.
    using RoleKey = std::tuple<bool, bool, unsigned, uint64_t>;
    std::map<RoleKey, Role> roles;
    SmallVector<RoleKey> order;
    unsigned next = 0;
    for (unsigned stage = 0; stage < stages; ++stage) {
      unsigned count = !counts.empty() ? counts[stage]
                                       : layers / stages + (stage < layers % stages ? 1 : 0);
      auto key = std::make_tuple(stage == 0, stage + 1 == stages, count, routeClass(stage));
      if (!roles.count(key)) {
        order.push_back(key);
      }
      Role &role = roles[key];
      std::tie(role.first, role.last, role.repeat, std::ignore) = key;
      role.stages.push_back(stage);
      role.firstLayers.push_back(next);
      next += count;
    }

    OpBuilder builder(module.getBodyRegion());
    builder.setInsertionPoint(main);
    for (auto &key : order) {
      const Role &role = roles[key];
      std::string name = "stage" + std::to_string(role.stages.front());
      auto func =
          builder.create<func::FuncOp>(main.getLoc(), name, builder.getFunctionType({}, {}));
      func.addEntryBlock();
      RoleBuilder roleBuilder(*decoder, func);
      if (failed(roleBuilder.build(role))) {
        return signalPassFailure();
      }
      SmallVector<int64_t> chips;
      for (int64_t stage : role.stages) {
        for (unsigned rank = 0; rank < tp; ++rank) {
          chips.push_back(stage * tp + rank);
        }
      }
      func->setAttr("cv.partition.role", builder.getStringAttr(role.first && role.last ? "only"
                                                               : role.first            ? "first"
                                                               : role.last             ? "last"
                                                                                       : "middle"));
      func->setAttr("cv.partition.stages", builder.getDenseI64ArrayAttr(role.stages));
      func->setAttr("cv.partition.first_layers", builder.getDenseI64ArrayAttr(role.firstLayers));
      func->setAttr("cv.partition.chips", builder.getDenseI64ArrayAttr(chips));
      func->setAttr("cv.partition.tp", builder.getI64IntegerAttr(tp));
      func->setAttr("cv.partition.repeat", builder.getI64IntegerAttr(role.repeat));
      ShardStats shardStats;
      if (failed(shardFunction(func, tp, shardStats, roleBuilder.shared))) {
        return signalPassFailure();
      }
      numAllReduces += shardStats.allReduces;
      numAllGathers += shardStats.allGathers;
      numShardedWeights += shardStats.shardedWeights;
      ++numTemplates;
    }
    module->setAttr("cv.partition.layers", builder.getI64IntegerAttr(layers));
    module->setAttr("cv.partition.blocks_per_layer",
                    builder.getI64IntegerAttr(decoder->blocksPerLayer));
    module->setAttr("cv.partition.tp", builder.getI64IntegerAttr(tp));
    module->setAttr("cv.partition.stages", builder.getI64IntegerAttr(stages));
    main.erase();
  }
};

} // namespace
