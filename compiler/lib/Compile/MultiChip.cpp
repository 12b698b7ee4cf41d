// Multi-chip compile (helper H2): lowers each partition template, times it with link slots
// and writes the DECODE programs of every stage into one v2 schedule.
//
// Each @stage<k> template is flattened for the single-chip lowering: the cv.graph.repeat body
// is inlined once with its ops located "L|<node>", per-layer KV inputs become resident
// shape-only weights (the decode KV cache lives in SRAM), C2C receives become named inputs
// and C2C sends named outputs. After convert-graph-to-chip / precision / allocation the
// single-chip schedule of the template is rewritten here, MLIR-free: host I/O of C2C values
// back into C2C_SEND / C2C_RECV, a fresh list schedule in three phases (before the layers,
// one layer as a repetition block, after the layers) with link slots and arrivals, strided
// SRAM for the per-layer weights, then one program per stage (a stage's tensor-parallel
// ranks are instances of it), shifted to start when the previous stage's activation lands.
//
// Every cycle here comes from the compiler's own models: instruction costs from
// chip::ChipCostModel (recorded by the schedule writer), C2C serialisation, flight and drift
// window from sharding/LinkTiming, ports from the system fabric. The simulator re-derives
// all of it independently; this file must never use simulator code.
#include "MultiChip.h"
#include "BufferCompaction.h"

#include "conveyor/Conversion/Passes.h"
#include "conveyor/Conversion/Precision.h"
#include "conveyor/Dialect/Chip/ChipCostModel.h"
#include "conveyor/Dialect/Chip/ChipOps.h"
#include "conveyor/Dialect/Chip/ChipPasses.h"
#include "conveyor/Dialect/Graph/GraphOps.h"
#include "conveyor/Schedule/ScheduleFormat.h"
#include "conveyor/Sharding/LinkTiming.h"
#include "conveyor/System/SramMap.h"
#include "conveyor/Target/ScheduleWriter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/BitVector.h"
#include "llvm/ADT/StringExtras.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

using namespace mlir;
namespace pb = conveyor::schedule;
namespace graph = conveyor::graph;
namespace chip = conveyor::chip;

namespace conveyor::compile {

namespace {

constexpr llvm::StringLiteral kBodyPrefix = "L|";
constexpr llvm::StringLiteral kRecvPrefix = "c2c_recv|";
constexpr llvm::StringLiteral kSendPrefix = "c2c_send|";
/// Clock error (cycles) each transfer leaves room for; receives wait this long past arrival.
constexpr uint64_t kDriftSlackCycles = 32;
/// Body transfer ids are offset so they never meet the ids of the phases around the body.
constexpr uint64_t kBodyTransferBase = 1000;

std::string nodeNameOf(Location loc) {
  std::string name;
  loc->walk([&](Location inner) {
    if (auto named = dyn_cast<NameLoc>(inner)) {
      name = named.getName().str();
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return name.empty() ? std::string("op") : name;
}

/// A stage template and where it runs.
struct TemplateInfo {
  std::string name, role;
  std::vector<int64_t> stages;
  uint64_t repeat = 0;
  pb::Schedule lowered; // the flattened template as a single-chip schedule (chip 0)
  std::vector<chip::InstructionCost> costs; // ChipCostModel cost per lowered instruction
};

/// "c2c_send|body|group|peer_offset|tag|link|hops|slot" (slot for sends only).
std::string transferName(StringRef prefix, bool body, Operation *op) {
  auto integer = [&](StringRef attr) {
    auto value = op->getAttrOfType<IntegerAttr>(attr);
    return value ? std::to_string(value.getInt()) : std::string("0");
  };
  std::string group = op->getAttrOfType<StringAttr>("group").str();
  std::string name = (prefix + (body ? "body|" : "outer|") + group + "|" +
                      integer("peer_offset") + "|" + integer("tag") + "|" + integer("link") + "|" +
                      integer("hops"))
                         .str();
  if (op->hasAttr("slot_cycles")) {
    name += "|" + integer("slot_cycles");
  }
  return name;
}

/// Clones `stage` into a module of its own as a flat @main the single-chip lowering accepts.
FailureOr<OwningOpRef<ModuleOp>> flattenTemplate(func::FuncOp stage, ModuleOp parent,
                                                 uint64_t &repeatCount) {
  MLIRContext *context = stage.getContext();
  OpBuilder builder(context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(stage.getLoc());
  for (NamedAttribute attr : parent->getAttrs()) {
    (*module)->setAttr(attr.getName(), attr.getValue());
  }
  auto func = cast<func::FuncOp>(stage->clone());
  func.setSymName("main");
  module->push_back(func);
  Block &entry = func.getBody().front();
  auto ret = cast<func::ReturnOp>(entry.getTerminator());

  // Per-layer KV inputs: resident in SRAM, one per layer (strided later by name "{layer}").
  builder.setInsertionPointToStart(&entry);
  llvm::BitVector perLayerArgs(func.getNumArguments());
  for (BlockArgument arg : entry.getArguments()) {
    unsigned index = arg.getArgNumber();
    if (!func.getArgAttr(index, "cv.partition.per_layer")) {
      continue;
    }
    auto name = func.getArgAttrOfType<StringAttr>(index, "cv.name");
    auto weight = builder.create<graph::WeightOp>(arg.getLoc(), arg.getType(),
                                                  builder.getStringAttr(name ? name.str() : "kv"));
    arg.replaceAllUsesWith(weight.getResult());
    perLayerArgs.set(index);
  }
  func.eraseArguments(perLayerArgs);
  // Per-layer outputs (present K/V) stay in SRAM: the decode step returns none of them.
  llvm::BitVector perLayerResults(func.getNumResults());
  for (unsigned i = 0; i < func.getNumResults(); ++i) {
    if (func.getResultAttr(i, "cv.partition.per_layer")) {
      perLayerResults.set(i);
    }
  }
  ret->eraseOperands(perLayerResults);
  func.eraseResults(perLayerResults);

  // The layer body, once, in place of the repeat.
  SmallVector<graph::RepeatOp> repeats;
  func.walk([&](graph::RepeatOp repeat) { repeats.push_back(repeat); });
  if (repeats.size() != 1) {
    return func.emitError() << "partition template '" << stage.getSymName() << "' has "
                            << repeats.size() << " cv.graph.repeat ops; the multi-chip compile "
                            << "needs exactly one layer repetition per template";
  }
  graph::RepeatOp repeat = repeats.front();
  repeatCount = static_cast<uint64_t>(repeat.getCount());
  Block &body = repeat.getBody().front();
  if (body.getNumArguments() != 1) {
    return repeat.emitError() << "carries " << body.getNumArguments()
                              << " values; the multi-chip compile supports one (the residual)";
  }
  IRMapping mapping;
  for (auto [arg, init] : llvm::zip(body.getArguments(), repeat.getInits())) {
    mapping.map(arg, init);
  }
  builder.setInsertionPoint(repeat);
  for (Operation &op : body.without_terminator()) {
    Operation *copy = builder.clone(op, mapping);
    copy->setLoc(NameLoc::get(builder.getStringAttr(kBodyPrefix + nodeNameOf(op.getLoc())),
                              op.getLoc()));
    if (isa<chip::C2CSendOp, chip::C2CRecvOp>(copy)) {
      copy->setAttr("cv.h2.body", builder.getUnitAttr());
    }
  }
  Operation *yield = body.getTerminator();
  for (auto [result, value] : llvm::zip(repeat.getResults(), yield->getOperands())) {
    result.replaceAllUsesWith(mapping.lookupOrDefault(value));
  }
  repeat.erase();

  // Gathered logits: each rank returns its own slice; the host concatenates them.
  SmallVector<graph::AllGatherOp> gathers;
  func.walk([&](graph::AllGatherOp gather) { gathers.push_back(gather); });
  for (graph::AllGatherOp gather : gathers) {
    for (OpOperand &use : llvm::make_early_inc_range(gather.getResult().getUses())) {
      if (!isa<func::ReturnOp>(use.getOwner())) {
        return gather.emitError("all_gather feeds a computation; only gathered outputs (the "
                                "logits) are supported by the multi-chip compile");
      }
      use.set(gather.getInput());
    }
    gather.erase();
  }

  // C2C: receives become inputs, sends outputs, named with their routing.
  SmallVector<Operation *> transfers;
  func.walk([&](Operation *op) {
    if (isa<chip::C2CSendOp, chip::C2CRecvOp>(op)) {
      transfers.push_back(op);
    }
  });
  for (Operation *op : transfers) {
    bool inBody = op->hasAttr("cv.h2.body");
    if (auto recv = dyn_cast<chip::C2CRecvOp>(op)) {
      unsigned index = func.getNumArguments();
      NamedAttrList attrs;
      attrs.set("cv.name", builder.getStringAttr(transferName(kRecvPrefix, inBody, op)));
      func.insertArgument(index, recv.getType(), builder.getDictionaryAttr(attrs), op->getLoc());
      recv.getResult().replaceAllUsesWith(entry.getArgument(index));
    } else {
      unsigned index = func.getNumResults();
      NamedAttrList attrs;
      attrs.set("cv.name", builder.getStringAttr(transferName(kSendPrefix, inBody, op)));
      func.insertResult(index, op->getOperand(0).getType(), builder.getDictionaryAttr(attrs));
      ret->insertOperands(ret->getNumOperands(), op->getOperand(0));
    }
    op->erase();
  }
  func.setType(FunctionType::get(context, entry.getArgumentTypes(), ret.getOperandTypes()));

  // Shape-only weights -> constants with an elided resource: SRAM without data (timing only).
  auto &resources = DenseResourceElementsHandle::getManagerInterface(context);
  SmallVector<graph::WeightOp> weights;
  func.walk([&](graph::WeightOp weight) { weights.push_back(weight); });
  for (graph::WeightOp weight : weights) {
    builder.setInsertionPoint(weight);
    auto type = cast<RankedTensorType>(weight.getType());
    DenseResourceElementsHandle handle = resources.insert("shape_only");
    auto value = DenseResourceElementsAttr::get(type, handle);
    auto constant = builder.create<graph::ConstantOp>(weight.getLoc(), type, value,
                                                      weight.getNameAttr());
    weight.getResult().replaceAllUsesWith(constant.getResult());
    weight.erase();
  }
  return module;
}

/// The element type of a precision flag (fp32 when empty or unknown).
Type precisionType(MLIRContext *context, const std::string &name) {
  Builder builder(context);
  if (name == "fp16") {
    return builder.getF16Type();
  }
  if (name == "bf16") {
    return builder.getBF16Type();
  }
  if (name == "fp8") {
    return builder.getFloat8E4M3FNType();
  }
  if (name == "int8") {
    return builder.getIntegerType(8);
  }
  if (name == "int4") {
    return builder.getIntegerType(4);
  }
  return builder.getF32Type();
}

/// A shape-only value of `type`: an elided resource (SRAM without data).
ElementsAttr shapeOnly(MLIRContext *context, RankedTensorType type) {
  auto &resources = DenseResourceElementsHandle::getManagerInterface(context);
  return DenseResourceElementsAttr::get(type, resources.insert("shape_only"));
}

template <typename OpTy, typename... Args>
OpTy createPlaced(OpBuilder &builder, Location loc, Args &&...args) {
  return builder.create<OpTy>(loc, std::forward<Args>(args)..., IntegerAttr(), IntegerAttr(),
                              IntegerAttr());
}

/// The precision step for shape-only weights (apply-precision needs weight data to quantise):
/// MXM weights become `--weights` with per-channel f32 scales (matmul_dq), every other f32
/// tensor the activation type. Same types as apply-precision gives real weights.
void applyShapeOnlyPrecision(func::FuncOp func, const CompileOptions &options) {
  MLIRContext *context = func.getContext();
  Type weightType = precisionType(context, options.weightPrecision);
  Type activationType = precisionType(context, options.activationPrecision);
  llvm::DenseSet<Operation *> keep;
  if (!weightType.isF32()) {
    SmallVector<chip::MatMulOp> products;
    func.walk([&](chip::MatMulOp product) { products.push_back(product); });
    for (chip::MatMulOp product : products) {
      auto weight = product.getRhs().getDefiningOp<chip::WeightOp>();
      auto type = cast<RankedTensorType>(product.getRhs().getType());
      if (!weight || type.getRank() != 2 || chip::getDenseElements(weight.getValue())) {
        continue;
      }
      OpBuilder builder(product);
      Location loc = product.getLoc();
      auto narrow = RankedTensorType::get(type.getShape(), weightType);
      auto scaleType = RankedTensorType::get({type.getDimSize(1)}, builder.getF32Type());
      auto q = createPlaced<chip::WeightOp>(
          builder, loc, narrow, shapeOnly(context, narrow),
          builder.getStringAttr(weight.getName().str() + "." + options.weightPrecision));
      auto scale = createPlaced<chip::WeightOp>(
          builder, loc, scaleType, shapeOnly(context, scaleType),
          builder.getStringAttr(weight.getName().str() + ".scale"));
      keep.insert(q);
      keep.insert(scale);
      auto dq = createPlaced<chip::MatMulDqOp>(builder, loc, product.getType(), product.getLhs(),
                                               q.getResult(), scale.getResult());
      keep.insert(dq); // narrowed below with the other activations
      product.replaceAllUsesWith(dq.getResult());
      product.erase();
      if (weight->use_empty()) {
        weight->erase();
      }
    }
  }
  if (!weightType.isF32()) {
    // MoE experts: mxm_expert_matmul on a [E, K, N] stack reads the narrow stack in place,
    // with per-(expert, channel) f32 scales on the accumulators (as apply-precision does).
    SmallVector<chip::ExpertMatMulOp> products;
    func.walk([&](chip::ExpertMatMulOp product) {
      auto table = product.getTable().getDefiningOp<chip::WeightOp>();
      if (table && !product.getScale() && !chip::getDenseElements(table.getValue())) {
        products.push_back(product);
      }
    });
    llvm::DenseMap<Operation *, std::pair<Value, Value>> narrowTables;
    for (chip::ExpertMatMulOp product : products) {
      auto table = product.getTable().getDefiningOp<chip::WeightOp>();
      auto [cached, inserted] = narrowTables.try_emplace(table, Value(), Value());
      if (inserted) {
        auto type = cast<RankedTensorType>(table.getType());
        OpBuilder builder(table);
        auto narrow = RankedTensorType::get(type.getShape(), weightType);
        auto scaleType = RankedTensorType::get({type.getDimSize(0), 1, type.getDimSize(2)},
                                               builder.getF32Type());
        auto q = createPlaced<chip::WeightOp>(
            builder, table.getLoc(), narrow, shapeOnly(context, narrow),
            builder.getStringAttr(table.getName().str() + "." + options.weightPrecision));
        auto scales = createPlaced<chip::WeightOp>(
            builder, table.getLoc(), scaleType, shapeOnly(context, scaleType),
            builder.getStringAttr(table.getName().str() + ".scale"));
        keep.insert(q);
        keep.insert(scales);
        cached->second = {q.getResult(), scales.getResult()};
      }
      OpBuilder builder(product);
      auto replacement = createPlaced<chip::ExpertMatMulOp>(
          builder, product.getLoc(), product.getType(), product.getLhs(), cached->second.first,
          product.getIndices(), cached->second.second);
      product.replaceAllUsesWith(replacement.getResult());
      product.erase();
    }
    for (auto &entry : narrowTables) {
      if (entry.first->use_empty()) {
        entry.first->erase();
      }
    }
  }
  if (!weightType.isF32()) {
    // Embedding tables (a MEM gather of rows, not an MXM weight): stored at `--weights` with
    // one f32 scale per row, as the planner counts them; the gathered rows are widened and
    // scaled on the VXM. Only the few gathered rows are dequantised per step.
    SmallVector<chip::GatherOp> lookups;
    func.walk([&](chip::GatherOp gather) {
      auto table = gather.getTable().getDefiningOp<chip::WeightOp>();
      auto type = cast<RankedTensorType>(gather.getTable().getType());
      if (table && type.getRank() == 2 && gather.getAxis() == 0 &&
          type.getElementType().isF32() && !chip::getDenseElements(table.getValue())) {
        lookups.push_back(gather);
      }
    });
    for (chip::GatherOp gather : lookups) {
      auto table = gather.getTable().getDefiningOp<chip::WeightOp>();
      auto type = cast<RankedTensorType>(table.getType());
      OpBuilder builder(gather);
      Location loc = gather.getLoc();
      auto narrow = RankedTensorType::get(type.getShape(), weightType);
      auto scaleType = RankedTensorType::get({type.getDimSize(0), 1}, builder.getF32Type());
      auto q = createPlaced<chip::WeightOp>(
          builder, loc, narrow, shapeOnly(context, narrow),
          builder.getStringAttr(table.getName().str() + "." + options.weightPrecision));
      auto scales = createPlaced<chip::WeightOp>(
          builder, loc, scaleType, shapeOnly(context, scaleType),
          builder.getStringAttr(table.getName().str() + ".scale"));
      keep.insert(q); // the scales take the activation type below (they multiply on the VXM)
      auto rowsType = cast<RankedTensorType>(gather.getType());
      SmallVector<int64_t> scaleShape(rowsType.getShape());
      scaleShape.back() = 1;
      auto rowsQ = createPlaced<chip::GatherOp>(
          builder, loc, RankedTensorType::get(rowsType.getShape(), weightType), q.getResult(),
          gather.getIndices(), gather.getAxisAttr());
      auto rowScales = createPlaced<chip::GatherOp>(
          builder, loc, RankedTensorType::get(scaleShape, builder.getF32Type()),
          scales.getResult(), gather.getIndices(), gather.getAxisAttr());
      keep.insert(rowsQ);
      Value widened = createPlaced<chip::CastOp>(builder, loc, rowsType, rowsQ.getResult());
      Value rows = createPlaced<chip::BinaryOp>(builder, loc, rowsType, widened,
                                                rowScales.getResult(),
                                                builder.getStringAttr("mul"));
      gather.replaceAllUsesWith(rows);
      gather.erase();
      if (table->use_empty()) {
        table->erase();
      }
    }
  }
  if (activationType.isF32()) {
    return;
  }
  auto narrowed = [&](Type original) -> Type {
    auto tensor = dyn_cast<RankedTensorType>(original);
    if (!tensor || !tensor.getElementType().isF32()) {
      return original;
    }
    return RankedTensorType::get(tensor.getShape(), activationType);
  };
  for (BlockArgument arg : func.getBody().front().getArguments()) {
    arg.setType(narrowed(arg.getType()));
  }
  func.walk([&](Operation *op) {
    if (op->getNumResults() == 0 || isa<func::FuncOp>(op) ||
        (keep.contains(op) && !isa<chip::MatMulDqOp>(op))) {
      return;
    }
    if (auto weight = dyn_cast<chip::WeightOp>(op)) {
      auto type = cast<RankedTensorType>(weight.getType());
      if (!type.getElementType().isF32()) {
        return;
      }
      auto narrow = cast<RankedTensorType>(narrowed(type));
      if (DenseElementsAttr dense = chip::getDenseElements(weight.getValue())) {
        // Real data (rotary tables, scalars): rounded to the activation type, nearest even.
        auto floatType = cast<FloatType>(activationType);
        weight.setValueAttr(cast<DenseFPElementsAttr>(dense).mapValues(
            floatType, [&](const APFloat &value) {
              APFloat rounded = value;
              bool losesInfo = false;
              rounded.convert(floatType.getFloatSemantics(), APFloat::rmNearestTiesToEven,
                              &losesInfo);
              return rounded.bitcastToAPInt();
            }));
      } else {
        weight.setValueAttr(shapeOnly(context, narrow));
      }
    }
    for (Value result : op->getResults()) {
      result.setType(narrowed(result.getType()));
    }
  });
  SmallVector<Type> results;
  func.walk([&](func::ReturnOp ret) {
    results.assign(ret.getOperandTypes().begin(), ret.getOperandTypes().end());
  });
  func.setType(
      FunctionType::get(context, func.getBody().front().getArgumentTypes(), results));
}

//===----------------------------------------------------------------------===//
// MLIR-free assembly of the v2 schedule
//===----------------------------------------------------------------------===//

struct TransferRoute {
  bool send = false, body = false;
  std::string group;
  int64_t peerOffset = 0, tag = 0, link = 0, hops = 0, slotCycles = 0;
};

bool parseTransfer(const std::string &name, TransferRoute &route) {
  StringRef text(name);
  route.send = text.starts_with(kSendPrefix);
  if (!route.send && !text.starts_with(kRecvPrefix)) {
    return false;
  }
  SmallVector<StringRef> parts;
  text.split(parts, '|');
  if (parts.size() < 7) {
    return false;
  }
  route.body = parts[1] == "body";
  route.group = parts[2].str();
  auto number = [](StringRef field) {
    int64_t value = 0;
    field.getAsInteger(10, value);
    return value;
  };
  route.peerOffset = number(parts[3]);
  route.tag = number(parts[4]);
  route.link = number(parts[5]);
  route.hops = number(parts[6]);
  route.slotCycles = parts.size() > 7 ? number(parts[7]) : 0;
  return true;
}

enum class Phase { Before, Body, After };

/// One template after retiming, on its own clock (cycle 0 = program start).
struct TimedTemplate {
  std::vector<pb::Instruction> instructions; // sorted by issue, SYNCs included
  uint32_t bodyFirst = 0, bodyCount = 0;
  uint64_t period = 0, end = 0;
  uint64_t pipelineRecvIssue = UINT64_MAX;  // local issue of the stage's receive
  uint64_t pipelineSendSlot = UINT64_MAX;   // local slot start of the stage's send
  uint64_t pipelineSendSerial = 0, pipelineSendHops = 0;
  uint32_t carriedIn = 0, carriedOut = 0;   // per-iteration buffer pair
  std::vector<TransferRoute> routes;        // by instruction index (C2C only)
  std::vector<bool> isTransfer;
  uint64_t transferStride = 0;
  uint32_t driftSyncs = 0; // SYNCs placed inside phases for clock drift (per iteration in the body)
};

class Assembler {
public:
  Assembler(const system::SystemConfig &config, uint32_t tp)
      : config(config), costModel(config.chip), tp(tp) {}

  /// Re-times `lowered` (its instructions' costs in `costs`, same order) as a decode step.
  Result<TimedTemplate> retime(pb::Schedule &lowered,
                               const std::vector<chip::InstructionCost> &costs,
                               uint64_t iterations);

private:
  const system::SystemConfig &config;
  chip::ChipCostModel costModel;
  uint32_t tp;
};

uint32_t rootOf(const pb::Schedule &schedule, uint32_t id) {
  const pb::Buffer &buffer = schedule.buffers(int(id) - 1);
  return buffer.alias_of() ? buffer.alias_of() : id;
}

uint64_t bufferBytesOf(const pb::Schedule &schedule, uint32_t id) {
  return schedule.buffers(int(id) - 1).size_bytes();
}

/// SRAM reuse by liveness in the layer body (issue 5): an activation used only inside the
/// body (from its first write, or the first byte of a receive's payload landing, to the end
/// of its last reader or link slot) takes the storage of an earlier one of the same size
/// whose last use ended before that, as an alias of it. Every body instruction ends within the
/// iteration (the period is the body's last end), so the next iteration's writes land after
/// this iteration's reads. The simulator checks the result (write after read, per root).
/// With `only` = Before or After, the same for the activations of that phase (it runs once).
void shareBodyActivations(pb::Schedule &lowered, const std::vector<pb::Instruction> &instructions,
                          const std::vector<Phase> &phase, const std::vector<bool> &dead,
                          const std::vector<uint64_t> &writeFrom,
                          const std::vector<uint64_t> &endAt,
                          const std::set<uint32_t> &carried, Phase only = Phase::Body) {
  struct Use {
    uint64_t first = UINT64_MAX, last = 0;
    bool bodyOnly = true;
  };
  std::map<uint32_t, Use> uses; // root buffer -> span of its accesses
  for (size_t i = 0; i < instructions.size(); ++i) {
    if (dead[i]) {
      continue;
    }
    const pb::Instruction &inst = instructions[i];
    auto touch = [&](uint32_t id, bool write) {
      Use &use = uses[rootOf(lowered, id)];
      use.bodyOnly = use.bodyOnly && phase[i] == only;
      use.first = std::min(use.first, write ? writeFrom[i] : inst.issue_cycle());
      use.last = std::max(use.last, endAt[i]);
    };
    for (uint32_t id : inst.operands()) {
      touch(id, false);
    }
    for (uint32_t id : inst.results()) {
      touch(id, true);
    }
  }
  // Candidates: body-only activation roots, by first use.
  std::vector<std::pair<uint64_t, uint32_t>> candidates;
  for (const auto &[root, use] : uses) {
    const pb::Buffer &buffer = lowered.buffers(int(root) - 1);
    if (use.bodyOnly && !buffer.alias_of() && !carried.count(root) &&
        buffer.kind() == pb::ACTIVATION) {
      candidates.emplace_back(use.first, root);
    }
  }
  std::sort(candidates.begin(), candidates.end());
  struct Slot {
    uint32_t root;
    uint64_t size, freeAt;
  };
  std::vector<Slot> slots;
  std::map<uint32_t, uint32_t> movedTo; // candidate root -> the root it now shares
  for (const auto &[first, root] : candidates) {
    const uint64_t size = lowered.buffers(int(root) - 1).size_bytes();
    auto slot = std::find_if(slots.begin(), slots.end(), [&](const Slot &candidate) {
      return candidate.size == size && candidate.freeAt <= first;
    });
    if (slot == slots.end()) {
      slots.push_back({root, size, uses[root].last});
      continue;
    }
    slot->freeAt = uses[root].last;
    movedTo[root] = slot->root;
  }
  for (pb::Buffer &buffer : *lowered.mutable_buffers()) {
    auto moved = movedTo.find(buffer.alias_of() ? buffer.alias_of() : buffer.id());
    if (moved != movedTo.end()) {
      buffer.set_alias_of(moved->second);
    }
  }
}

/// SYNC cycles for one phase: walking its transfers in issue order from the SYNC at
/// `lastSync`, a SYNC goes on the issue cycle of the first transfer that would otherwise run
/// more than `maxRun` cycles after the last SYNC (the latest legal place, so the fewest
/// SYNCs). A SYNC only realigns the chip's clock (one ICU cycle): nothing waits for it.
std::vector<uint64_t> placeDriftSyncs(std::vector<uint64_t> transferIssues, uint64_t lastSync,
                                      uint64_t maxRun) {
  std::sort(transferIssues.begin(), transferIssues.end());
  std::vector<uint64_t> syncs;
  for (uint64_t at : transferIssues) {
    if (at > lastSync && at - lastSync > maxRun) {
      syncs.push_back(at);
      lastSync = at;
    }
  }
  return syncs;
}

Result<TimedTemplate> Assembler::retime(pb::Schedule &lowered,
                                        const std::vector<chip::InstructionCost> &costs,
                                        uint64_t iterations) {
  TimedTemplate out;
  const pb::Program &program = lowered.programs(0);
  const int n = program.instructions_size();
  if (costs.size() != size_t(n)) {
    return makeError(fmt::format("the schedule writer gave {} instruction costs for {} "
                                 "instructions; the cost table must follow the program",
                                 costs.size(), n));
  }
  std::vector<pb::Instruction> instructions(program.instructions().begin(),
                                            program.instructions().end());
  std::vector<TransferRoute> routes(static_cast<size_t>(n));
  std::vector<bool> transfer(size_t(n), false);
  std::vector<Phase> phase(size_t(n), Phase::Before);
  std::map<uint32_t, int> producer; // root buffer -> producing instruction

  // Host I/O of C2C values -> transfers; buffers they touch become activations.
  for (int i = 0; i < n; ++i) {
    pb::Instruction &inst = instructions[size_t(i)];
    if (inst.opcode() == pb::MEM_WRITE && inst.results_size() == 1) {
      pb::Buffer *buffer = lowered.mutable_buffers(int(inst.results(0)) - 1);
      if (parseTransfer(buffer->name(), routes[size_t(i)])) {
        transfer[size_t(i)] = true;
        buffer->set_kind(pb::ACTIVATION);
        inst.clear_operands();
        inst.set_opcode(pb::C2C_RECV);
        inst.set_unit(pb::C2C);
      }
    } else if (inst.opcode() == pb::MEM_READ && inst.operands_size() == 1) {
      pb::Buffer *buffer = lowered.mutable_buffers(int(inst.operands(0)) - 1);
      if (parseTransfer(buffer->name(), routes[size_t(i)])) {
        transfer[size_t(i)] = true;
        buffer->set_kind(pb::ACTIVATION);
        inst.clear_results();
        inst.set_opcode(pb::C2C_SEND);
        inst.set_unit(pb::C2C);
      }
    }
    if (transfer[size_t(i)]) {
      inst.set_queue(uint32_t(routes[size_t(i)].link));
      inst.set_link(uint32_t(routes[size_t(i)].link));
      if (routes[size_t(i)].body) {
        phase[size_t(i)] = Phase::Body;
      }
    } else if (StringRef(inst.location()).starts_with(kBodyPrefix)) {
      phase[size_t(i)] = Phase::Body;
    }
    for (uint32_t id : inst.results()) {
      producer[rootOf(lowered, id)] = i;
    }
  }
  // A copy that feeds a body send and reads body values belongs to the body.
  for (int i = 0; i < n; ++i) {
    if (!transfer[size_t(i)] || !routes[size_t(i)].send || !routes[size_t(i)].body) {
      continue;
    }
    auto it = producer.find(rootOf(lowered, instructions[size_t(i)].operands(0)));
    if (it != producer.end()) {
      phase[size_t(it->second)] = Phase::Body;
    }
  }
  // A send reads its buffer for as long as its link slot lasts, and sends do not write what
  // they read: a MEM_COPY that only gives a send its own buffer (the lowering gives every
  // returned value one) is dropped and the send reads the copy's source. Sends of one value
  // to several peers then leave together instead of waiting for one copy each.
  std::vector<bool> dead(size_t(n), false);
  std::vector<std::pair<uint32_t, uint32_t>> freedSends; // send buffer root -> source root
  {
    std::map<uint32_t, int> readers; // root buffer -> instructions reading it
    for (int i = 0; i < n; ++i) {
      for (uint32_t id : instructions[size_t(i)].operands()) {
        readers[rootOf(lowered, id)] += 1;
      }
    }
    for (int i = 0; i < n; ++i) {
      if (!transfer[size_t(i)] || !routes[size_t(i)].send) {
        continue;
      }
      pb::Instruction &send = instructions[size_t(i)];
      const uint32_t root = rootOf(lowered, send.operands(0));
      auto it = producer.find(root);
      if (it == producer.end() || readers[root] != 1) {
        continue;
      }
      const pb::Instruction &copy = instructions[size_t(it->second)];
      if (transfer[size_t(it->second)] || copy.opcode() != pb::MEM_COPY ||
          copy.operands_size() != 1 ||
          bufferBytesOf(lowered, copy.operands(0)) != bufferBytesOf(lowered, root)) {
        continue;
      }
      dead[size_t(it->second)] = true;
      send.set_operands(0, copy.operands(0));
      freedSends.emplace_back(root, rootOf(lowered, copy.operands(0)));
    }
  }
  // The send buffer the dropped copy wrote is now read and written by nothing: it becomes an
  // alias of the value the send reads (same size), so it takes no SRAM of its own.
  {
    std::set<uint32_t> aliased;
    for (const pb::Buffer &buffer : lowered.buffers()) {
      if (buffer.alias_of()) {
        aliased.insert(buffer.alias_of());
      }
    }
    for (const auto &[sendRoot, sourceRoot] : freedSends) {
      pb::Buffer &buffer = *lowered.mutable_buffers(int(sendRoot) - 1);
      if (sendRoot == sourceRoot || aliased.count(sendRoot) || buffer.alias_of() ||
          bufferBytesOf(lowered, sendRoot) != bufferBytesOf(lowered, sourceRoot)) {
        continue;
      }
      buffer.set_alias_of(sourceRoot);
    }
  }
  // After = depends (transitively) on a body result and is not in the body.
  std::vector<bool> fromBody(size_t(n), false);
  for (int i = 0; i < n; ++i) {
    if (dead[size_t(i)]) {
      continue;
    }
    for (uint32_t id : instructions[size_t(i)].operands()) {
      auto it = producer.find(rootOf(lowered, id));
      if (it != producer.end() && (phase[size_t(it->second)] == Phase::Body ||
                                   fromBody[size_t(it->second)])) {
        fromBody[size_t(i)] = true;
      }
    }
    if (phase[size_t(i)] != Phase::Body && fromBody[size_t(i)]) {
      phase[size_t(i)] = Phase::After;
    }
  }
  // An outer tp receive has no operands; it belongs to the phase of its own send (the
  // logits' all-gather sends after the layers, so its receives come after them too).
  std::map<int64_t, Phase> tpSendPhase;
  for (int i = 0; i < n; ++i) {
    if (transfer[size_t(i)] && routes[size_t(i)].send && routes[size_t(i)].group == "tp") {
      tpSendPhase[routes[size_t(i)].tag] = phase[size_t(i)];
    }
  }
  for (int i = 0; i < n; ++i) {
    if (transfer[size_t(i)] && !routes[size_t(i)].send && routes[size_t(i)].group == "tp" &&
        !routes[size_t(i)].body) {
      auto it = tpSendPhase.find(routes[size_t(i)].tag);
      if (it != tpSendPhase.end()) {
        phase[size_t(i)] = it->second;
      }
    }
  }
  // What reads an after-phase value is after too (the all-gather's tree joins two received
  // pieces of the logits before it meets this rank's own; program order is dependency order).
  for (int i = 0; i < n; ++i) {
    if (dead[size_t(i)] || phase[size_t(i)] == Phase::Body) {
      continue;
    }
    for (uint32_t id : instructions[size_t(i)].operands()) {
      auto it = producer.find(rootOf(lowered, id));
      if (it != producer.end() && phase[size_t(it->second)] == Phase::After) {
        phase[size_t(i)] = Phase::After;
      }
    }
  }
  // The carried pair: what the body reads from before it, and what after reads from it.
  std::set<uint32_t> carriedIn, carriedOut;
  for (int i = 0; i < n; ++i) {
    if (dead[size_t(i)]) {
      continue;
    }
    for (uint32_t id : instructions[size_t(i)].operands()) {
      uint32_t root = rootOf(lowered, id);
      auto it = producer.find(root);
      if (it == producer.end()) {
        continue; // weights
      }
      Phase from = phase[size_t(it->second)];
      if (phase[size_t(i)] == Phase::Body && from == Phase::Before) {
        carriedIn.insert(root);
      } else if (phase[size_t(i)] == Phase::After && from == Phase::Body) {
        carriedOut.insert(root);
      }
    }
  }
  if (carriedIn.size() != 1 || carriedOut.size() != 1) {
    return makeError(fmt::format("the layer body reads {} value(s) from before it and leaves {} "
                                 "to what follows; the repetition needs exactly one carried "
                                 "value (the residual stream)",
                                 carriedIn.size(), carriedOut.size()));
  }
  out.carriedIn = *carriedIn.begin();
  out.carriedOut = *carriedOut.begin();
  if (lowered.buffers(int(out.carriedIn) - 1).size_bytes() !=
      lowered.buffers(int(out.carriedOut) - 1).size_bytes()) {
    return makeError("the layer body's input and output residual differ in size");
  }

  // Costs of non-transfers: the compiler's ChipCostModel, recorded by the schedule writer.
  // Transfers (host I/O rewritten to C2C) are timed below from LinkTiming instead.
  auto bufferBytes = [&](uint32_t id) { return lowered.buffers(int(id) - 1).size_bytes(); };

  // List schedule, phase by phase, in the lowering's order.
  std::map<uint32_t, uint64_t> ready;                  // root buffer -> readable cycle
  std::map<int, uint64_t> unitLastIssue, unitFreeAt;   // unit -> ...
  std::map<int64_t, uint64_t> portFree, portLastIssue; // send port -> ...
  std::map<int64_t, uint64_t> sendArrival;             // tp tag -> local arrival
  std::vector<uint64_t> issue(size_t(n), 0);
  // When an instruction stops touching SRAM, and when a receive's payload starts to land.
  std::vector<uint64_t> endAt(size_t(n), 0), writeFrom(size_t(n), 0);
  uint64_t phaseStart = 1; // cycle 0 holds the program's SYNC
  uint64_t phaseEnd = phaseStart;
  std::vector<std::vector<int>> phases(3);
  for (int i = 0; i < n; ++i) {
    if (!dead[size_t(i)]) {
      phases[size_t(phase[size_t(i)])].push_back(i);
    }
  }
  uint64_t bodyStart = 0;
  for (size_t p = 0; p < 3; ++p) {
    if (p == size_t(Phase::Body)) {
      bodyStart = phaseStart;
      phaseStart += 1; // the iteration's SYNC
    }
    // Dependencies: operands' producers in this phase, and a tp receive after its own send
    // (every rank runs this template, so the peer's matching send leaves at the same cycle).
    const std::vector<int> &members = phases[p];
    std::map<int, size_t> slotOf; // instruction -> position in `members`
    for (size_t m = 0; m < members.size(); ++m) {
      slotOf[members[m]] = m;
    }
    std::map<int64_t, int> tpSendOfTag;
    for (int i : members) {
      if (transfer[size_t(i)] && routes[size_t(i)].send && routes[size_t(i)].group == "tp") {
        tpSendOfTag[routes[size_t(i)].tag] = i;
      }
    }
    // Edges by position: predecessors counted, successors listed with the cycles from the
    // predecessor's issue to the successor's earliest issue (its duration; a send's link
    // time to its receive).
    std::vector<std::vector<std::pair<size_t, uint64_t>>> successors(members.size());
    std::vector<size_t> waiting(members.size(), 0);
    auto durationOf = [&](int i) -> uint64_t {
      if (!transfer[size_t(i)]) {
        return costs[size_t(i)].duration;
      }
      const TransferRoute &route = routes[size_t(i)];
      const pb::Instruction &inst = instructions[size_t(i)];
      const uint64_t bytes = bufferBytes(route.send ? inst.operands(0) : inst.results(0));
      if (route.send) {
        return sharding::linkSerialisationCycles(config.chip, bytes) +
               sharding::linkFlightCycles(config.chip, uint64_t(route.hops)) + kDriftSlackCycles;
      }
      return costModel.memCopy(bytes).duration;
    };
    for (size_t m = 0; m < members.size(); ++m) {
      const int i = members[m];
      std::set<size_t> before;
      for (uint32_t id : instructions[size_t(i)].operands()) {
        auto it = producer.find(rootOf(lowered, id));
        if (it != producer.end() && it->second != i && phase[size_t(it->second)] == Phase(p) &&
            !dead[size_t(it->second)]) {
          before.insert(slotOf.at(it->second));
        }
      }
      if (transfer[size_t(i)] && !routes[size_t(i)].send && routes[size_t(i)].group == "tp") {
        auto send = tpSendOfTag.find(routes[size_t(i)].tag);
        if (send != tpSendOfTag.end()) {
          before.insert(slotOf.at(send->second));
        }
      }
      for (size_t b : before) {
        successors[b].emplace_back(m, durationOf(members[b]));
      }
      waiting[m] = before.size();
    }
    // Priority: the longest chain of durations from an instruction to the phase's end
    // (critical path first), over a topological order of the edges.
    std::vector<size_t> topological;
    {
      std::vector<size_t> count = waiting;
      for (size_t m = 0; m < members.size(); ++m) {
        if (count[m] == 0) {
          topological.push_back(m);
        }
      }
      for (size_t k = 0; k < topological.size(); ++k) {
        for (const auto &[next, weight] : successors[topological[k]]) {
          if (--count[next] == 0) {
            topological.push_back(next);
          }
        }
      }
      if (topological.size() != members.size()) {
        return makeError("the template's instructions form a dependency cycle");
      }
    }
    std::vector<uint64_t> chain(members.size(), 0);
    for (auto it = topological.rbegin(); it != topological.rend(); ++it) {
      uint64_t longest = durationOf(members[*it]);
      for (const auto &[next, weight] : successors[*it]) {
        longest = std::max(longest, weight + chain[next]);
      }
      chain[*it] = longest;
    }

    // The earliest issue of instruction i given what is placed: operands ready (an MXM
    // product's activations, operand 0, may arrive while its first tile set installs:
    // ChipCostModel's operandLead), its unit or port in order, a receive's arrival.
    auto portOf = [&](const TransferRoute &route) -> int64_t {
      // Each port carries exactly one peer (portTowards), so the peer names the port.
      return route.group == "tp" ? route.peerOffset : (1 << 20) + route.peerOffset;
    };
    auto earliest = [&](int i) -> uint64_t {
      const pb::Instruction &inst = instructions[size_t(i)];
      uint64_t at = phaseStart;
      const uint64_t lead = transfer[size_t(i)] ? 0 : costs[size_t(i)].operandLead;
      for (int k = 0; k < inst.operands_size(); ++k) {
        auto it = ready.find(rootOf(lowered, inst.operands(k)));
        if (it != ready.end()) {
          const bool leads = k == 0 && std::count(inst.operands().begin(), inst.operands().end(),
                                                  inst.operands(0)) == 1;
          const uint64_t need = leads ? it->second - std::min(it->second, lead) : it->second;
          at = std::max(at, need);
        }
      }
      if (transfer[size_t(i)]) {
        const TransferRoute &route = routes[size_t(i)];
        if (route.send) {
          at = std::max(at, portLastIssue[portOf(route)]);
        } else if (route.group == "tp") {
          auto arrival = sendArrival.find(route.tag);
          if (arrival != sendArrival.end()) {
            at = std::max(at, arrival->second + kDriftSlackCycles);
          }
        }
      } else {
        const int unit = int(costs[size_t(i)].unit) * 64 + int(inst.queue());
        at = std::max(at, unitLastIssue[unit]);
        at = std::max(at, unitFreeAt[unit]);
      }
      return at;
    };
    auto place = [&](int i) -> Status {
      pb::Instruction &inst = instructions[size_t(i)];
      const uint64_t at = earliest(i);
      uint64_t end;
      if (transfer[size_t(i)]) {
        TransferRoute &route = routes[size_t(i)];
        const uint64_t bytes = bufferBytes(route.send ? inst.operands(0) : inst.results(0));
        const uint64_t serial = sharding::linkSerialisationCycles(config.chip, bytes);
        if (route.send) {
          const int64_t port = portOf(route);
          uint64_t slot = std::max(at, portFree[port]);
          uint64_t slotCycles = std::max<uint64_t>(serial, uint64_t(route.slotCycles));
          inst.set_slot_start_cycle(slot);
          inst.set_slot_cycles(slotCycles);
          portFree[port] = slot + slotCycles;
          portLastIssue[port] = at;
          end = slot + slotCycles;
          if (route.group == "tp") {
            sendArrival[route.tag] =
                slot + serial + sharding::linkFlightCycles(config.chip, uint64_t(route.hops));
          } else {
            out.pipelineSendSlot = slot;
            out.pipelineSendSerial = serial;
            out.pipelineSendHops = uint64_t(route.hops);
          }
        } else {
          if (route.group == "tp") {
            auto arrival = sendArrival.find(route.tag);
            if (arrival == sendArrival.end()) {
              return makeError(fmt::format("receive of tp transfer tag {} comes before its send "
                                           "in the template",
                                           route.tag));
            }
            writeFrom[size_t(i)] = arrival->second - std::min(arrival->second, serial);
          } else {
            out.pipelineRecvIssue = at;
          }
          // The payload lands in SRAM like a copy of it (docs/timing-model.md MEM_COPY).
          end = at + costModel.memCopy(bytes).duration;
        }
        inst.set_bytes(0);
        inst.set_transfer_id(uint64_t(route.tag) + 1 + (route.body ? kBodyTransferBase : 0));
        out.transferStride = std::max(out.transferStride, uint64_t(route.tag) + 2);
      } else {
        const chip::InstructionCost &cost = costs[size_t(i)];
        int unit = int(cost.unit) * 64 + int(inst.queue());
        unitLastIssue[unit] = at;
        unitFreeAt[unit] = at + cost.occupancy;
        end = at + cost.duration;
      }
      issue[size_t(i)] = at;
      endAt[size_t(i)] = end;
      if (!transfer[size_t(i)] || routes[size_t(i)].send || routes[size_t(i)].group != "tp") {
        writeFrom[size_t(i)] = at;
      }
      inst.set_issue_cycle(at);
      for (uint32_t id : inst.results()) {
        ready[rootOf(lowered, id)] = end;
      }
      phaseEnd = std::max(phaseEnd, end);
      return Status::success();
    };
    // List scheduling, critical path first: of the instructions whose dependencies are
    // placed, the one with the longest chain to the phase's end, then the one that can issue
    // first, then the lowering's order. (Taking the earliest issue first instead let v's
    // product take the MXM just before q k^T could use it: 7B decode 79.8% instead of 80.7%.)
    std::vector<size_t> candidates;
    for (size_t m = 0; m < members.size(); ++m) {
      if (waiting[m] == 0) {
        candidates.push_back(m);
      }
    }
    while (!candidates.empty()) {
      size_t best = 0;
      uint64_t bestAt = earliest(members[candidates[0]]);
      for (size_t c = 1; c < candidates.size(); ++c) {
        const size_t m = candidates[c], incumbent = candidates[best];
        if (chain[m] < chain[incumbent]) {
          continue;
        }
        const uint64_t at = earliest(members[m]);
        if (chain[m] > chain[incumbent] || at < bestAt || (at == bestAt && m < incumbent)) {
          best = c;
          bestAt = at;
        }
      }
      const size_t m = candidates[best];
      candidates.erase(candidates.begin() + std::ptrdiff_t(best));
      if (Status placed = place(members[m]); !placed) {
        return makeError(placed.error());
      }
      for (const auto &[next, weight] : successors[m]) {
        if (--waiting[next] == 0) {
          candidates.push_back(next);
        }
      }
    }
    if (p == size_t(Phase::Body)) {
      out.period = phaseEnd - bodyStart;
      phaseEnd = bodyStart + out.period * iterations;
    }
    phaseStart = phaseEnd;
  }
  out.end = phaseEnd;
  shareBodyActivations(lowered, instructions, phase, dead, writeFrom, endAt,
                          {out.carriedIn, out.carriedOut});
  // The phases before and after the layers run once: their own activations (a prefill's
  // embedding all-reduce chunks, the logits' pieces) share storage by liveness the same way.
  shareBodyActivations(lowered, instructions, phase, dead, writeFrom, endAt,
                       {out.carriedIn, out.carriedOut}, Phase::Before);
  shareBodyActivations(lowered, instructions, phase, dead, writeFrom, endAt,
                       {out.carriedIn, out.carriedOut}, Phase::After);
  // SYNCs sit at the program start, at every iteration start and, inside a phase, wherever a
  // transfer would otherwise issue longer after the last one than the drift slack allows
  // (placeDriftSyncs; the simulator rejects a transfer past that bound).
  const uint64_t maxRun = sharding::cyclesWithinDriftSlack(config.fabric, kDriftSlackCycles);
  const uint64_t lastIteration = bodyStart + (iterations - 1) * out.period;
  std::vector<std::vector<uint64_t>> innerSyncs(3);
  {
    uint64_t lastSync = 0;
    for (size_t p = 0; p < 3; ++p) {
      std::vector<uint64_t> transferIssues;
      for (int i : phases[p]) {
        if (transfer[size_t(i)]) {
          transferIssues.push_back(issue[size_t(i)]);
        }
      }
      if (p == size_t(Phase::Body)) {
        innerSyncs[p] = placeDriftSyncs(std::move(transferIssues), bodyStart, maxRun);
        // What follows the layers runs after the last iteration's last SYNC.
        lastSync = lastIteration +
                   (innerSyncs[p].empty() ? 0 : innerSyncs[p].back() - bodyStart);
      } else {
        innerSyncs[p] = placeDriftSyncs(std::move(transferIssues), lastSync, maxRun);
        if (!innerSyncs[p].empty()) {
          lastSync = innerSyncs[p].back();
        }
      }
    }
  }

  // Sorted stream: SYNC, before, SYNC + body, after (each phase sorted by issue, its drift
  // SYNCs ahead of the instructions issued on their cycle).
  auto syncAt = [](uint64_t cycle) {
    pb::Instruction sync;
    sync.set_opcode(pb::SYNC);
    sync.set_unit(pb::ICU);
    sync.set_issue_cycle(cycle);
    sync.set_location("sync");
    return sync;
  };
  auto pushSync = [&](uint64_t cycle) {
    out.instructions.push_back(syncAt(cycle));
    out.routes.push_back({});
    out.isTransfer.push_back(false);
  };
  pushSync(0);
  for (size_t p = 0; p < 3; ++p) {
    std::vector<int> order = phases[p];
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return issue[size_t(a)] < issue[size_t(b)]; });
    if (p == size_t(Phase::Body)) {
      out.bodyFirst = uint32_t(out.instructions.size());
      pushSync(bodyStart);
    }
    size_t nextSync = 0;
    for (int i : order) {
      while (nextSync < innerSyncs[p].size() && innerSyncs[p][nextSync] <= issue[size_t(i)]) {
        pushSync(innerSyncs[p][nextSync++]);
      }
      out.instructions.push_back(instructions[size_t(i)]);
      out.routes.push_back(routes[size_t(i)]);
      out.isTransfer.push_back(transfer[size_t(i)]);
    }
    out.driftSyncs += uint32_t(innerSyncs[p].size());
    if (p == size_t(Phase::Body)) {
      out.bodyCount = uint32_t(out.instructions.size()) - out.bodyFirst;
    }
  }
  // After an even number of iterations the residual is back in the input buffer.
  if (iterations % 2 == 0) {
    for (size_t i = out.bodyFirst + out.bodyCount; i < out.instructions.size(); ++i) {
      for (uint32_t &id : *out.instructions[i].mutable_operands()) {
        if (rootOf(lowered, id) == out.carriedOut) {
          id = out.carriedIn;
        }
      }
    }
  }
  return out;
}

/// The port chip `from` uses towards (and hears from) `to`: the node-local rule inside a
/// node; a tensor-parallel peer in another node gets port (chipsPerNode - 1) + its rank in
/// its node, so each port carries one peer on every rank and one template serves them all;
/// the pipeline neighbour in another node gets the last port. A fully connected fabric
/// (every chip one link from every other) numbers ports as one node of all chips.
uint32_t portTowards(const system::SystemConfig &config, uint32_t from, uint32_t to,
                     bool pipeline) {
  const system::FabricConfig &fabric = config.fabric;
  const uint32_t chipsPerNode = std::max<uint32_t>(1, fabric.chipsPerNode);
  if (fabric.topology == system::Topology::FullyConnected &&
      fabric.chips <= config.chip.c2c.links + 1) {
    return pb::nodeLocalPort(from, to, fabric.chips);
  }
  if (from / chipsPerNode == to / chipsPerNode) {
    return pb::nodeLocalPort(from, to, chipsPerNode);
  }
  if (pipeline) {
    return config.chip.c2c.links - 1;
  }
  return (chipsPerNode - 1) + to % chipsPerNode;
}

} // namespace

FailureOr<pb::Schedule> buildMultiChipSchedule(ModuleOp module, const system::SystemConfig &config,
                                               const CompileOptions &options, uint64_t kvLength,
                                               CompileSummary &summary) {
  const system::C2CConfig &c2c = config.chip.c2c;
  if (config.fabric.chips > 1 && (c2c.links == 0 || c2c.lanesPerLink == 0 ||
                                  !(c2c.gbpsPerLane > 0) || !(config.chip.clockHz > 0))) {
    return module.emitError() << "system '" << config.name
                              << "': chip.c2c links, lanes_per_link and gbps_per_lane must be "
                                 "positive for a multi-chip fabric; fix the system description";
  }
  auto moduleInt = [&](StringRef name) -> uint64_t {
    auto attr = module->getAttrOfType<IntegerAttr>(name);
    return attr ? attr.getValue().getZExtValue() : 0;
  };
  const uint32_t tp = uint32_t(std::max<uint64_t>(1, moduleInt("cv.partition.tp")));
  const uint32_t stageCount = uint32_t(std::max<uint64_t>(1, moduleInt("cv.partition.stages")));

  // Lower every template as a single-chip function.
  std::vector<TemplateInfo> templates;
  for (auto stage : module.getOps<func::FuncOp>()) {
    auto role = stage->getAttrOfType<StringAttr>("cv.partition.role");
    if (!role) {
      continue;
    }
    TemplateInfo info;
    info.name = stage.getSymName().str();
    info.role = role.str();
    if (auto stages = stage->getAttrOfType<DenseI64ArrayAttr>("cv.partition.stages")) {
      info.stages.assign(stages.asArrayRef().begin(), stages.asArrayRef().end());
    } else {
      info.stages.push_back(0);
    }
    FailureOr<OwningOpRef<ModuleOp>> flat = flattenTemplate(stage, module, info.repeat);
    if (failed(flat)) {
      return failure();
    }
    PassManager lower(module.getContext());
    lower.addPass(createConvertGraphToChip());
    lower.addPass(chip::createFoldAttentionScale()); // q's weights take the attention scale
    lower.addPass(chip::createShortenChains()); // decode latency: short dependence chains
    if (failed(lower.run(**flat))) {
      return failure();
    }
    applyShapeOnlyPrecision((*flat)->lookupSymbol<func::FuncOp>("main"), options);
    // The template's addresses are placeholders: each stage is allocated again below (per-layer
    // weights strided, activations shared by liveness) and checked against the chip's SRAM
    // there, so the single-chip bump allocation (every value its own storage) may exceed it.
    PassManager pm(module.getContext());
    chip::AllocateSramOptions allocate;
    allocate.systemPath = options.systemPath;
    allocate.checkCapacity = false;
    pm.addPass(chip::createAllocateSram(allocate));
    pm.addPass(
        chip::createScheduleInstructions(chip::ScheduleInstructionsOptions{options.systemPath}));
    if (failed(pm.run(**flat))) {
      return failure();
    }
    system::SystemConfig placeholderSpace = config;
    placeholderSpace.chip.mem.bytesPerSlice *= 64;
    FailureOr<pb::Schedule> lowered =
        target::buildSchedule(**flat, placeholderSpace, &info.costs);
    if (failed(lowered)) {
      return failure();
    }
    pb::SystemRef *systemRef = lowered->mutable_system();
    systemRef->set_fingerprint(system::fingerprint(config));
    systemRef->set_canonical_text(system::canonicalText(config));
    info.lowered = std::move(*lowered);
    templates.push_back(std::move(info));
  }
  if (templates.empty()) {
    return module.emitError("has no partition templates (@stage<k> with cv.partition.role); "
                            "run conveyor-partition first");
  }

  Assembler assembler(config, tp);
  pb::Schedule out;
  out.set_magic(pb::kMagic);
  out.set_version(pb::kVersion);
  *out.mutable_compiler_version() = templates.front().lowered.compiler_version();
  *out.mutable_system() = templates.front().lowered.system();
  out.set_model_name(templates.front().lowered.model_name());
  out.set_source_path(templates.front().lowered.source_path());

  // Retime each template, then place every stage in pipeline order.
  std::vector<TimedTemplate> timed(templates.size());
  std::vector<int> templateOfStage(stageCount, -1);
  for (size_t t = 0; t < templates.size(); ++t) {
    Result<TimedTemplate> result =
        assembler.retime(templates[t].lowered, templates[t].costs, templates[t].repeat);
    if (!result) {
      return module.emitError() << "partition template '" << templates[t].name
                                << "': " << result.error();
    }
    timed[t] = std::move(*result);
    compactBuffers(templates[t].lowered, timed[t].instructions,
                   {&timed[t].carriedIn, &timed[t].carriedOut});
    for (int64_t s : templates[t].stages) {
      if (s < 0 || uint64_t(s) >= stageCount) {
        return module.emitError() << "template '" << templates[t].name << "' names stage " << s
                                  << " of " << stageCount;
      }
      templateOfStage[size_t(s)] = int(t);
    }
  }
  const uint64_t sram = config.chip.sramBytes();
  const system::SramMap sramMap(config.chip);
  const uint64_t vectorBytes = sramMap.vectorBytes();
  uint64_t previousArrival = 0, decodeEnd = 0, instructionsStored = 0;
  for (uint32_t s = 0; s < stageCount; ++s) {
    if (templateOfStage[s] < 0) {
      return module.emitError() << "no partition template runs stage " << s;
    }
    const TemplateInfo &info = templates[size_t(templateOfStage[s])];
    const TimedTemplate &tt = timed[size_t(templateOfStage[s])];
    const pb::Schedule &lowered = info.lowered;
    uint64_t offset = 0;
    if (s > 0) {
      if (tt.pipelineRecvIssue == UINT64_MAX) {
        return module.emitError() << "stage " << s << " ('" << info.name
                                  << "') receives nothing from stage " << s - 1;
      }
      uint64_t need = previousArrival + kDriftSlackCycles;
      offset = need > tt.pipelineRecvIssue ? need - tt.pipelineRecvIssue : 0;
    }
    if (s + 1 < stageCount) {
      if (tt.pipelineSendSlot == UINT64_MAX) {
        return module.emitError() << "stage " << s << " ('" << info.name
                                  << "') sends nothing to stage " << s + 1;
      }
      previousArrival = offset + tt.pipelineSendSlot + tt.pipelineSendSerial +
                        sharding::linkFlightCycles(config.chip, tt.pipelineSendHops);
    }
    decodeEnd = std::max(decodeEnd, offset + tt.end);

    // SRAM: bump allocation per chip at vector-aligned addresses (each tensor starts on a MEM
    // slice of its own; SramMap.h); per-layer weights hold every layer (strided). The bucket
    // merger (ScheduleBuckets.cpp) places the buffers again and keeps streamed-together small
    // buffers on different slices.
    std::vector<uint64_t> address(size_t(lowered.buffers_size()) + 1, 0);
    std::vector<int64_t> stride(size_t(lowered.buffers_size()) + 1, 0);
    uint64_t next = 0;
    for (const pb::Buffer &buffer : lowered.buffers()) {
      if (buffer.alias_of()) {
        continue;
      }
      bool perLayer = (buffer.kind() == pb::WEIGHT || buffer.kind() == pb::KV_CACHE) &&
                      buffer.name().find("{layer}") != std::string::npos;
      uint64_t size = (buffer.size_bytes() + vectorBytes - 1) / vectorBytes * vectorBytes;
      address[buffer.id()] = next;
      if (perLayer) {
        stride[buffer.id()] = int64_t(size);
        next += size * info.repeat;
      } else {
        next += size;
      }
      if (buffer.kind() == pb::WEIGHT && buffer.name().rfind("past_key_values", 0) != 0) {
        summary.weightBytes += buffer.size_bytes() * (perLayer ? info.repeat : 1) * tp;
      }
    }
    if (next > sram) {
      return module.emitError() << "stage " << s << " ('" << info.name << "') needs " << next
                                << " bytes of SRAM per chip (" << info.repeat
                                << " layers resident) but chip '" << config.chip.name << "' has "
                                << sram << "; use a larger system or smaller --weights";
    }
    for (const pb::Buffer &buffer : lowered.buffers()) {
      if (buffer.alias_of()) {
        address[buffer.id()] = address[buffer.alias_of()];
      }
    }
    summary.sramBytesUsed = std::max(summary.sramBytesUsed, next);

    // Chips of this stage: rank 0 runs the program, ranks 1.. are instances.
    std::vector<uint32_t> idBase(tp);
    for (uint32_t r = 0; r < tp; ++r) {
      const uint32_t chip = s * tp + r;
      idBase[r] = uint32_t(out.buffers_size());
      for (const pb::Buffer &buffer : lowered.buffers()) {
        pb::Buffer *copy = out.add_buffers();
        *copy = buffer;
        copy->set_id(idBase[r] + buffer.id());
        copy->set_chip(chip);
        copy->set_address(address[buffer.id()]);
        if (buffer.alias_of()) {
          copy->set_alias_of(idBase[r] + buffer.alias_of());
        }
      }
    }
    auto peerOf = [&](const TransferRoute &route, uint32_t rank) -> uint32_t {
      if (route.group == "tp") {
        int64_t peerRank = ((int64_t(rank) + route.peerOffset) % tp + tp) % tp;
        return s * tp + uint32_t(peerRank);
      }
      return uint32_t(int64_t(s) + route.peerOffset) * tp + rank;
    };
    pb::Program *program = out.add_programs();
    program->set_name("decode.stage" + std::to_string(s));
    program->set_kind(pb::DECODE);
    program->set_chip(s * tp);
    program->set_tokens_per_step(1);
    program->set_kv_length(kvLength);
    program->set_sequences(1);
    program->set_drift_slack_cycles(kDriftSlackCycles);
    program->set_compiler_cycles(offset + tt.end);
    for (size_t i = 0; i < tt.instructions.size(); ++i) {
      pb::Instruction inst = tt.instructions[i];
      inst.set_issue_cycle(inst.issue_cycle() + offset);
      if (inst.opcode() == pb::C2C_SEND) {
        inst.set_slot_start_cycle(inst.slot_start_cycle() + offset);
      }
      for (uint32_t &id : *inst.mutable_operands()) {
        id += idBase[0];
      }
      for (uint32_t &id : *inst.mutable_results()) {
        id += idBase[0];
      }
      if (tt.isTransfer[i]) {
        uint32_t peer = peerOf(tt.routes[i], 0);
        inst.set_peer_chip(peer);
        inst.set_link(portTowards(config, s * tp, peer, tt.routes[i].group != "tp"));
        inst.set_queue(inst.link());
      }
      *program->add_instructions() = std::move(inst);
    }
    instructionsStored += tt.instructions.size();
    pb::Repeat *block = program->add_repeats();
    block->set_first(tt.bodyFirst);
    block->set_count(tt.bodyCount);
    block->set_iterations(info.repeat);
    block->set_period_cycles(tt.period);
    block->set_transfer_id_stride(tt.transferStride);
    block->set_name("layers");
    for (const pb::Buffer &buffer : lowered.buffers()) {
      if (stride[buffer.id()] != 0) {
        pb::BufferStride *entry = block->add_strides();
        entry->set_buffer(idBase[0] + buffer.id());
        entry->set_address_stride(stride[buffer.id()]);
      }
    }
    pb::BufferStride *in = block->add_strides();
    in->set_buffer(idBase[0] + tt.carriedIn);
    in->add_per_iteration(idBase[0] + tt.carriedIn);
    in->add_per_iteration(idBase[0] + tt.carriedOut);
    pb::BufferStride *carried = block->add_strides();
    carried->set_buffer(idBase[0] + tt.carriedOut);
    carried->add_per_iteration(idBase[0] + tt.carriedOut);
    carried->add_per_iteration(idBase[0] + tt.carriedIn);

    for (uint32_t r = 1; r < tp; ++r) {
      const uint32_t chip = s * tp + r;
      pb::ProgramInstance *instance = program->add_instances();
      instance->set_chip(chip);
      for (const pb::Buffer &buffer : lowered.buffers()) {
        (*instance->mutable_buffer_map())[idBase[0] + buffer.id()] = idBase[r] + buffer.id();
      }
      for (size_t i = 0; i < tt.instructions.size(); ++i) {
        if (!tt.isTransfer[i]) {
          continue;
        }
        const TransferRoute &route = tt.routes[i];
        uint32_t templatePeer = peerOf(route, 0), peer = peerOf(route, r);
        const bool pipeline = route.group != "tp";
        uint32_t templatePort = portTowards(config, s * tp, templatePeer, pipeline);
        uint32_t port = portTowards(config, chip, peer, pipeline);
        auto &peers = *instance->mutable_peer_map();
        auto &links = *instance->mutable_link_map();
        auto seenPeer = peers.find(templatePeer);
        auto seenLink = links.find(templatePort);
        if ((seenPeer != peers.end() && seenPeer->second != peer) ||
            (seenLink != links.end() && seenLink->second != port)) {
          return module.emitError()
                 << "stage " << s << " rank " << r << ": the template's peer " << templatePeer
                 << " / port " << templatePort << " maps to two chips or ports";
        }
        peers[templatePeer] = peer;
        if (port != templatePort) {
          links[templatePort] = port;
        }
      }
    }
  }
  summary.instructions = instructionsStored;
  summary.endCycle = decodeEnd;
  summary.decodeCycles = decodeEnd;
  summary.tokensPerStep = 1;
  return out;
}

} // namespace conveyor::compile
