// buildSchedule: a placed + scheduled cv.chip module -> conveyor::schedule::Schedule.
#include "conveyor/Target/ScheduleWriter.h"
#include "conveyor/Dialect/Chip/ChipCostModel.h"
#include "conveyor/Dialect/Chip/ChipOps.h"
#include "conveyor/Dialect/Chip/ChipScheduling.h"
#include "conveyor/Schedule/ScheduleFormat.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>

#ifndef CONVEYOR_VERSION
#define CONVEYOR_VERSION "unknown"
#endif

using namespace mlir;
namespace chip = conveyor::chip;
namespace pb = conveyor::schedule;

namespace conveyor::target {

namespace {

pb::DType toScheduleDType(system::DType type) {
  switch (type) {
  case system::DType::F32:
    return pb::F32;
  case system::DType::F16:
    return pb::F16;
  case system::DType::BF16:
    return pb::BF16;
  case system::DType::FP8:
    return pb::FP8;
  case system::DType::INT8:
    return pb::INT8;
  case system::DType::INT4:
    return pb::INT4;
  case system::DType::INT32:
    return pb::INT32;
  }
  return pb::DTYPE_UNSPECIFIED;
}

/// The source node name carried by a location (the importer's NameLoc), or "".
std::string nodeName(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc)) {
    return name.getName().str();
  }
  if (auto fused = dyn_cast<FusedLoc>(loc)) {
    for (Location inner : fused.getLocations()) {
      std::string name = nodeName(inner);
      if (!name.empty()) {
        return name;
      }
    }
  }
  if (auto callSite = dyn_cast<CallSiteLoc>(loc)) {
    return nodeName(callSite.getCallee());
  }
  return "";
}

/// What an instruction's `location` field says: the node name, else the printed location.
std::string locationText(Location loc) {
  std::string name = nodeName(loc);
  if (!name.empty() || isa<UnknownLoc>(loc)) {
    return name;
  }
  std::string text;
  llvm::raw_string_ostream os(text);
  loc.print(os);
  return os.str();
}

pb::ElementwiseKind elementwiseKind(StringRef kind) {
  return llvm::StringSwitch<pb::ElementwiseKind>(kind)
      .Case("add", pb::ADD)
      .Case("sub", pb::SUB)
      .Case("mul", pb::MUL)
      .Case("div", pb::DIV)
      .Case("relu", pb::RELU)
      .Case("gelu", pb::GELU)
      .Case("gelu_tanh", pb::GELU_TANH)
      // More VXM kinds
      .Case("exp", pb::EXP)
      .Case("log", pb::LOG)
      .Case("sqrt", pb::SQRT)
      .Case("rsqrt", pb::RSQRT)
      .Case("reciprocal", pb::RECIPROCAL)
      .Case("neg", pb::NEG)
      .Case("abs", pb::ABS)
      .Case("sin", pb::SIN)
      .Case("cos", pb::COS)
      .Case("tanh", pb::TANH)
      .Case("sigmoid", pb::SIGMOID)
      .Case("silu", pb::SILU)
      .Case("erf", pb::ERF)
      .Case("pow", pb::POW)
      .Case("max", pb::MAX)
      .Case("min", pb::MIN)
      .Default(pb::ELEMENTWISE_UNSPECIFIED);
}

pb::Unit scheduleUnit(chip::Unit unit) {
  switch (unit) {
  case chip::Unit::Mem:
    return pb::MEM;
  case chip::Unit::Mxm:
    return pb::MXM;
  case chip::Unit::Vxm:
    return pb::VXM;
  case chip::Unit::Sxm:
    return pb::SXM;
  }
  return pb::UNIT_UNSPECIFIED;
}

pb::Opcode opcodeOf(Operation *op) {
  return llvm::TypeSwitch<Operation *, pb::Opcode>(op)
      .Case<chip::MemWriteOp>([](auto) { return pb::MEM_WRITE; })
      .Case<chip::MemReadOp>([](auto) { return pb::MEM_READ; })
      .Case<chip::MemCopyOp>([](auto) { return pb::MEM_COPY; })
      .Case<chip::MatMulOp>([](auto) { return pb::MXM_MATMUL; })
      .Case<chip::BinaryOp>([](auto) { return pb::VXM_BINARY; })
      .Case<chip::UnaryOp>([](auto) { return pb::VXM_UNARY; })
      .Case<chip::SoftmaxOp>([](auto) { return pb::VXM_SOFTMAX; })
      .Case<chip::TransposeOp>([](auto) { return pb::SXM_TRANSPOSE; })
      // Transformer ops
      .Case<chip::GatherOp>([](auto) { return pb::MEM_GATHER; })
      .Case<chip::SliceOp>([](auto) { return pb::MEM_SLICE; })
      .Case<chip::ConcatOp>([](auto) { return pb::MEM_CONCAT; })
      .Case<chip::BroadcastOp>([](auto) { return pb::SXM_BROADCAST; })
      .Case<chip::ReduceOp>([](auto) { return pb::VXM_REDUCE; })
      .Case<chip::RmsNormOp>([](auto) { return pb::VXM_RMS_NORM; })
      .Case<chip::LayerNormOp>([](auto) { return pb::VXM_LAYER_NORM; })
      .Case<chip::SelectOp>([](auto) { return pb::VXM_SELECT; })
      .Case<chip::TopKOp>([](auto) { return pb::VXM_TOPK; })
      .Case<chip::CastOp>([](auto) { return pb::VXM_CAST; })
      .Case<chip::RotaryOp>([](auto) { return pb::VXM_ROTARY; })
      .Case<chip::SumOp>([](auto) { return pb::VXM_SUM; })
      .Case<chip::MatMulDqOp>([](auto) { return pb::MXM_MATMUL_DQ; })
      .Case<chip::ExpertMatMulOp>([](chip::ExpertMatMulOp product) {
        return product.getScale() ? pb::MXM_EXPERT_MATMUL_DQ : pb::MXM_EXPERT_MATMUL;
      })
      .Case<chip::KvAppendOp>([](auto) { return pb::MEM_KV_APPEND; })
      .Default([](Operation *) { return pb::OPCODE_UNSPECIFIED; });
}

// Fields of the transformer ops
pb::ElementwiseKind reduceKind(StringRef kind) {
  return llvm::StringSwitch<pb::ElementwiseKind>(kind)
      .Case("sum", pb::REDUCE_SUM)
      .Case("mean", pb::REDUCE_MEAN)
      .Case("max", pb::REDUCE_MAX)
      .Case("min", pb::REDUCE_MIN)
      .Default(pb::ELEMENTWISE_UNSPECIFIED);
}

void writeTransformerFields(Operation *op, pb::Instruction &instruction) {
  llvm::TypeSwitch<Operation *>(op)
      .Case<chip::GatherOp, chip::ConcatOp>([&](auto gather) { instruction.set_axis(gather.getAxis()); })
      .Case<chip::SliceOp>([&](chip::SliceOp slice) {
        for (int64_t start : slice.getStarts()) {
          instruction.add_starts(start);
        }
        for (int64_t step : slice.getSteps()) {
          instruction.add_steps(step);
        }
      })
      .Case<chip::ReduceOp>([&](chip::ReduceOp reduce) {
        instruction.set_kind(reduceKind(reduce.getKind()));
        for (int64_t axis : reduce.getAxes()) {
          instruction.add_axes(axis);
        }
      })
      .Case<chip::RmsNormOp, chip::LayerNormOp>([&](auto norm) {
        instruction.set_axis(norm.getAxis());
        instruction.set_epsilon(norm.getEpsilon().convertToFloat());
      })
      .Case<chip::TopKOp>([&](chip::TopKOp topk) {
        instruction.set_axis(topk.getAxis());
        instruction.set_k(topk.getK());
        instruction.set_topk_indices(topk.getIndices());
      })
      .Case<chip::KvAppendOp>([&](chip::KvAppendOp append) {
        instruction.set_axis(append.getAxis());
        instruction.add_starts(append.getPosition());
      })
      .Default([](Operation *) {});
}

/// Builds the buffer table and the instruction list of one function.
class ProgramWriter {
public:
  ProgramWriter(func::FuncOp func, const system::SystemConfig &config, pb::Schedule &schedule)
      : func(func), config(config), schedule(schedule) {}

  LogicalResult writeBuffers();
  /// Writes the program; when `costs` is given, fills it with each written instruction's
  /// cost from the compiler's model, in the program's (sorted) order.
  LogicalResult writeProgram(const chip::ChipSchedulingProblem &problem,
                             std::vector<chip::InstructionCost> *costs);

private:
  LogicalResult addBuffer(Operation *op);
  std::string uniqueName(std::string name);

  func::FuncOp func;
  const system::SystemConfig &config;
  pb::Schedule &schedule;
  llvm::DenseMap<Value, uint32_t> bufferIds;
  llvm::DenseMap<uint32_t, int> bufferIndex; // id -> index in schedule.buffers
  llvm::DenseMap<Value, std::string> outputNames;
  llvm::StringSet<> usedNames;
  uint32_t firstInput = 0;
};

std::string ProgramWriter::uniqueName(std::string name) {
  if (usedNames.insert(name).second) {
    return name;
  }
  for (unsigned suffix = 1;; ++suffix) {
    std::string candidate = name + "." + std::to_string(suffix);
    if (usedNames.insert(candidate).second) {
      return candidate;
    }
  }
}

LogicalResult ProgramWriter::addBuffer(Operation *op) {
  Value result = op->getResult(0);
  auto type = cast<RankedTensorType>(result.getType());
  auto address = op->getAttrOfType<IntegerAttr>("sram_addr");
  if (!address) {
    return op->emitOpError("has no 'sram_addr'; run conveyor-allocate-sram first");
  }
  std::optional<system::DType> dtype = chip::toSystemDType(type.getElementType());
  std::optional<uint64_t> bytes = chip::tensorBytes(type);
  if (!dtype || !bytes) {
    return op->emitOpError() << "has no schedule buffer type for " << type;
  }
  uint64_t addressValue = address.getValue().getZExtValue();
  if (addressValue + *bytes > config.chip.sramBytes()) {
    return op->emitOpError() << "buffer [" << addressValue << ", " << addressValue + *bytes
                             << ") is outside the " << config.chip.sramBytes()
                             << " bytes of SRAM of chip '" << config.chip.name
                             << "'; run conveyor-allocate-sram for this system";
  }

  auto id = static_cast<uint32_t>(schedule.buffers_size() + 1);
  pb::Buffer *buffer = schedule.add_buffers();
  buffer->set_id(id);
  buffer->set_chip(0);
  buffer->set_dtype(toScheduleDType(*dtype));
  for (int64_t dim : type.getShape()) {
    buffer->add_shape(dim);
  }
  buffer->set_address(addressValue);
  buffer->set_size_bytes(*bytes);

  auto output = outputNames.find(result);
  bool isOutput = output != outputNames.end();
  std::string name;
  if (auto weight = dyn_cast<chip::WeightOp>(op)) {
    // A cache that kv_append writes in place is resident state, not a constant.
    bool kvCache = llvm::any_of(weight->getUsers(), [&](Operation *user) {
      auto append = dyn_cast<chip::KvAppendOp>(user);
      return append && append.getCache() == weight.getResult();
    });
    buffer->set_kind(kvCache ? pb::KV_CACHE : pb::WEIGHT);
    name = weight.getName().str();
    FailureOr<std::string> data = weight.getDataBytes();
    if (failed(data)) {
      return failure();
    }
    buffer->set_data(std::move(*data));
  } else if (auto write = dyn_cast<chip::MemWriteOp>(op)) {
    buffer->set_kind(pb::INPUT);
    name = write.getName().str();
    if (firstInput == 0) {
      firstInput = id;
    }
  } else {
    buffer->set_kind(isOutput ? pb::OUTPUT : pb::ACTIVATION);
    name = nodeName(op->getLoc());
    if (name.empty()) {
      name = op->getName().stripDialect().str();
    }
  }
  if (isOutput) {
    if (buffer->kind() != pb::OUTPUT) {
      return op->emitOpError() << "result is read back as output '" << output->second
                               << "' directly; copy it into its own buffer with "
                                  "cv.chip.mem_copy (convert-graph-to-chip does)";
    }
    name = output->second;
  }
  buffer->set_name(uniqueName(name));

  if (auto append = dyn_cast<chip::KvAppendOp>(op)) {
    // In place: the result is a view of the cache's storage.
    auto source = bufferIds.find(append.getCache());
    if (source == bufferIds.end() ||
        schedule.buffers(bufferIndex[source->second]).address() != addressValue) {
      return append.emitOpError("must share its cache's SRAM buffer (run conveyor-allocate-sram)");
    }
    const pb::Buffer &cache = schedule.buffers(bufferIndex[source->second]);
    buffer->set_alias_of(cache.alias_of() != 0 ? cache.alias_of() : cache.id());
  }
  if (auto view = dyn_cast<chip::ViewOp>(op)) {
    auto source = bufferIds.find(view.getInput());
    if (source == bufferIds.end()) {
      return view.emitOpError("views a tensor that has no SRAM buffer");
    }
    // Point at the storage owner, never at another view.
    const pb::Buffer &sourceBuffer = schedule.buffers(bufferIndex[source->second]);
    uint32_t root = sourceBuffer.alias_of() != 0 ? sourceBuffer.alias_of() : sourceBuffer.id();
    if (sourceBuffer.address() != addressValue) {
      return view.emitOpError() << "has sram_addr " << addressValue << " but its source lives at "
                                << sourceBuffer.address() << "; a view shares its source's storage";
    }
    buffer->set_alias_of(root);
  }
  bufferIds[result] = id;
  bufferIndex[id] = schedule.buffers_size() - 1;
  return success();
}

LogicalResult ProgramWriter::writeBuffers() {
  for (Operation &op : func.getBody().front()) {
    if (auto read = dyn_cast<chip::MemReadOp>(op)) {
      auto [it, inserted] = outputNames.try_emplace(read.getInput(), read.getName().str());
      if (!inserted) {
        return read.emitOpError() << "reads the same buffer as output '" << it->second
                                  << "'; give each output its own buffer with cv.chip.mem_copy";
      }
    }
  }
  for (Operation &op : func.getBody().front()) {
    if (isa<chip::MemReadOp, func::ReturnOp>(op)) {
      continue;
    }
    if (failed(addBuffer(&op))) {
      return failure();
    }
  }
  return success();
}

LogicalResult ProgramWriter::writeProgram(const chip::ChipSchedulingProblem &problem,
                                          std::vector<chip::InstructionCost> *costs) {
  auto endCycle = func->getAttrOfType<IntegerAttr>(chip::kEndCycleAttr);
  if (!endCycle) {
    return func.emitOpError() << "has no '" << chip::kEndCycleAttr
                              << "'; run conveyor-schedule first";
  }
  pb::Program *program = schedule.add_programs();
  program->set_name("forward");
  program->set_kind(pb::FORWARD);
  program->set_chip(0);
  program->set_compiler_cycles(endCycle.getValue().getZExtValue());

  // Token positions of one step: the first input's elements over its last dimension.
  uint64_t tokens = 1;
  if (firstInput != 0) {
    const pb::Buffer &input = schedule.buffers(bufferIndex[firstInput]);
    uint64_t elements = 1;
    for (int64_t dim : input.shape()) {
      elements *= static_cast<uint64_t>(dim);
    }
    uint64_t last = input.shape().empty() ? 1 : static_cast<uint64_t>(input.shape().rbegin()[0]);
    tokens = last == 0 ? 0 : elements / last;
    // Integer inputs are token ids [batch, seq]: one token per element
    if (input.dtype() == pb::INT32) {
      tokens = elements;
    }
  }
  program->set_tokens_per_step(tokens);

  struct Placed {
    uint64_t issue;
    size_t order;
    pb::Instruction instruction;
    chip::InstructionCost cost;
  };
  std::vector<Placed> placed;
  for (auto [order, op] : llvm::enumerate(problem.getInstructions())) {
    FailureOr<uint64_t> issue = chip::ChipSchedulingProblem::issueCycle(op);
    if (failed(issue)) {
      return failure();
    }
    pb::Instruction instruction;
    instruction.set_issue_cycle(*issue);
    instruction.set_unit(scheduleUnit(problem.getCost(op).unit));
    instruction.set_queue(0);
    instruction.set_opcode(opcodeOf(op));
    if (auto append = dyn_cast<chip::KvAppendOp>(op)) {
      instruction.add_operands(bufferIds.lookup(append.getRows())); // the cache is written only
    } else if (!isa<chip::MemWriteOp>(op)) {
      for (Value operand : op->getOperands()) {
        instruction.add_operands(bufferIds.lookup(operand));
      }
    }
    if (!isa<chip::MemReadOp>(op)) {
      instruction.add_results(bufferIds.lookup(op->getResult(0)));
    }
    if (auto binary = dyn_cast<chip::BinaryOp>(op)) {
      instruction.set_kind(elementwiseKind(binary.getKind()));
    } else if (auto unary = dyn_cast<chip::UnaryOp>(op)) {
      instruction.set_kind(elementwiseKind(unary.getKind()));
    } else if (auto softmax = dyn_cast<chip::SoftmaxOp>(op)) {
      instruction.set_axis(static_cast<int64_t>(softmax.getAxis()));
    } else if (auto transpose = dyn_cast<chip::TransposeOp>(op)) {
      for (int64_t dim : transpose.getPerm()) {
        instruction.add_perm(dim);
      }
    } else {
      writeTransformerFields(op, instruction);
    }
    instruction.set_location(locationText(op->getLoc()));
    placed.push_back({*issue, order, std::move(instruction), problem.getCost(op)});
  }
  std::stable_sort(placed.begin(), placed.end(),
                   [](const Placed &a, const Placed &b) { return a.issue < b.issue; });
  if (costs) {
    costs->clear();
  }
  for (Placed &entry : placed) {
    *program->add_instructions() = std::move(entry.instruction);
    if (costs) {
      costs->push_back(entry.cost);
    }
  }
  return success();
}

/// Where the model came from: the module's `cv.source_path`, else its file location.
std::string sourcePath(ModuleOp module) {
  if (auto path = module->getAttrOfType<StringAttr>(kSourcePathAttr)) {
    return path.str();
  }
  if (auto file = dyn_cast<FileLineColLoc>(module.getLoc())) {
    return file.getFilename().str();
  }
  return "";
}

} // namespace

FailureOr<pb::Schedule> buildSchedule(ModuleOp module, const system::SystemConfig &config,
                                      std::vector<chip::InstructionCost> *costs) {
  auto func = module.lookupSymbol<func::FuncOp>("main");
  if (!func || func.isExternal()) {
    return module.emitError("has no func.func @main with a body to write as the 'forward' "
                            "program");
  }
  chip::ChipCostModel model(config.chip);
  chip::ChipSchedulingProblem problem(func, model);
  // Never write a schedule the simulator would reject for timing: re-check it here.
  if (failed(problem.check()) || failed(problem.verify())) {
    return failure();
  }

  pb::Schedule schedule;
  schedule.set_magic(pb::kMagic);
  schedule.set_version(pb::kVersion);
  schedule.set_compiler_version(std::string("conveyor ") + CONVEYOR_VERSION);
  pb::SystemRef *systemRef = schedule.mutable_system();
  systemRef->set_name(config.name);
  systemRef->set_fingerprint(system::fingerprint(config));
  systemRef->set_canonical_text(system::canonicalText(config));
  systemRef->set_chips(config.fabric.chips);
  auto modelName = module->getAttrOfType<StringAttr>("cv.model_name");
  schedule.set_model_name(modelName ? modelName.str() : "");
  schedule.set_source_path(sourcePath(module));

  ProgramWriter writer(func, config, schedule);
  if (failed(writer.writeBuffers()) || failed(writer.writeProgram(problem, costs))) {
    return failure();
  }
  return schedule;
}

} // namespace conveyor::target
