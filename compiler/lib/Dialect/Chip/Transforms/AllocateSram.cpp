// conveyor-allocate-sram: bump allocation of every SRAM tensor at vector-aligned addresses.
#include "conveyor/Dialect/Chip/ChipCostModel.h"
#include "conveyor/Dialect/Chip/ChipOps.h"
#include "conveyor/Dialect/Chip/ChipPasses.h"
#include "conveyor/Dialect/Chip/ChipScheduling.h"

#include "SystemOption.h"

#include "conveyor/System/SramMap.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace conveyor::chip {
#define GEN_PASS_DEF_ALLOCATESRAM
#include "conveyor/Dialect/Chip/ChipPasses.h.inc"
} // namespace conveyor::chip

using namespace mlir;
using namespace conveyor::chip;

namespace {

/// The model's name for messages: the module's `cv.model_name`, else the function's.
/// The op whose `sram_addr` holds `value`'s storage: through views and in-place KV appends.
Operation *storageOf(Value value) {
  Operation *op = value.getDefiningOp();
  while (op) {
    if (auto view = dyn_cast<ViewOp>(op)) {
      op = view.getInput().getDefiningOp();
    } else if (auto append = dyn_cast<KvAppendOp>(op)) {
      op = append.getCache().getDefiningOp();
    } else {
      break;
    }
  }
  return op;
}

/// The instructions that read `value`, looking through views of it.
void readersOf(Value value, SmallVectorImpl<Operation *> &readers) {
  for (Operation *user : value.getUsers()) {
    if (auto view = dyn_cast<ViewOp>(user)) {
      readersOf(view.getResult(), readers);
    } else {
      readers.push_back(user);
    }
  }
}

std::string modelName(ModuleOp module, func::FuncOp func) {
  if (auto name = module->getAttrOfType<StringAttr>("cv.model_name")) {
    return name.str();
  }
  return func.getSymName().str();
}

struct AllocateSramPass : public conveyor::chip::impl::AllocateSramBase<AllocateSramPass> {
  using AllocateSramBase::AllocateSramBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto config = loadSystemOption(module, getArgument(), systemPath);
    if (failed(config)) {
      return signalPassFailure();
    }
    for (auto func : module.getOps<func::FuncOp>()) {
      if (!func.isExternal() && failed(allocate(module, func, config->chip))) {
        return signalPassFailure();
      }
    }
  }

  /// `at`, moved up by whole vectors until `op`'s `bytes` share no MEM slice with the small
  /// tensors already placed that an instruction reads beside it: a slice reads one vector per
  /// cycle (SramMap.h; the simulator's MEM port rule, docs/simulator.md). A tensor of at least
  /// as many vectors as there are slices covers them all and stays where it is.
  static uint64_t apartFromPartners(Operation *op, uint64_t at, uint64_t bytes,
                                    const conveyor::system::SramMap &sramMap) {
    const uint64_t slices = sramMap.slices();
    if (bytes >= slices * sramMap.vectorBytes()) {
      return at;
    }
    SmallVector<Operation *> readers;
    readersOf(op->getResult(0), readers);
    SmallVector<conveyor::system::SliceSpan> taken;
    for (Operation *reader : readers) {
      for (Value operand : reader->getOperands()) {
        Operation *storage = storageOf(operand);
        if (!storage || storage == op) {
          continue;
        }
        auto address = storage->getAttrOfType<IntegerAttr>("sram_addr");
        std::optional<uint64_t> otherBytes =
            storage->getNumResults() ? tensorBytes(storage->getResult(0).getType()) : std::nullopt;
        if (!address || !otherBytes) {
          continue;
        }
        conveyor::system::SliceSpan span =
            sramMap.span(address.getValue().getZExtValue(), std::max<uint64_t>(*otherBytes, 1));
        if (span.count < slices) {
          taken.push_back(span);
        }
      }
    }
    for (uint64_t tries = 0; tries < slices && !taken.empty(); ++tries) {
      const conveyor::system::SliceSpan mine = sramMap.span(at, bytes);
      uint32_t slice = 0;
      bool clash = false;
      for (const conveyor::system::SliceSpan &held : taken) {
        clash = clash || sramMap.shareSlice(mine, held, slice);
      }
      if (!clash) {
        break;
      }
      at += sramMap.vectorBytes();
    }
    return at;
  }

  /// v1 allocates statically with no reuse: every tensor keeps its bytes for the whole
  /// program, at an address aligned to the vector width so each starts a fresh vector.
  LogicalResult allocate(ModuleOp module, func::FuncOp func,
                         const conveyor::system::ChipConfig &chip) {
    Builder builder(&getContext());
    const conveyor::system::SramMap sramMap(chip);
    uint64_t vectorBytes = chip.vectorBytes == 0 ? 1 : chip.vectorBytes;
    uint64_t next = 0;
    // The highest byte in use: the padding after the last tensor needs no SRAM.
    uint64_t used = 0;
    WalkResult walk = func.walk([&](Operation *op) -> WalkResult {
      if (isa<MemReadOp>(op)) {
        return WalkResult::advance(); // its result lives on the host
      }
      if (auto view = dyn_cast<ViewOp>(op)) {
        Operation *source = view.getInput().getDefiningOp();
        auto address = source ? source->getAttrOfType<IntegerAttr>("sram_addr") : IntegerAttr();
        if (!address) {
          return view.emitOpError("views a tensor that is not in SRAM");
        }
        op->setAttr("sram_addr", address);
        return WalkResult::advance();
      }
      if (auto append = dyn_cast<KvAppendOp>(op)) {
        // Written in place: the result is the cache's storage.
        Operation *cache = append.getCache().getDefiningOp();
        auto address = cache ? cache->getAttrOfType<IntegerAttr>("sram_addr") : IntegerAttr();
        if (!address) {
          return append.emitOpError("appends to a cache that is not in SRAM");
        }
        op->setAttr("sram_addr", address);
        return WalkResult::advance();
      }
      if (!isa<ChipDialect>(op->getDialect())) {
        return WalkResult::advance();
      }
      std::optional<uint64_t> bytes = tensorBytes(op->getResult(0).getType());
      if (!bytes) {
        return op->emitOpError() << "cannot be placed in SRAM: " << op->getResult(0).getType()
                                 << " is not a statically shaped tensor of a chip element "
                                    "type (f32, f16, bf16, fp8, i8, i4, i32)";
      }
      next = apartFromPartners(op, next, std::max<uint64_t>(*bytes, 1), sramMap);
      op->setAttr("sram_addr", builder.getI64IntegerAttr(static_cast<int64_t>(next)));
      used = next + *bytes;
      // Empty tensors still take one vector so that every buffer has its own address.
      uint64_t reserved = std::max<uint64_t>(*bytes, 1);
      next += (reserved + vectorBytes - 1) / vectorBytes * vectorBytes;
      return WalkResult::advance();
    });
    if (walk.wasInterrupted()) {
      return failure();
    }
    if (checkCapacity && used > chip.sramBytes()) {
      return func.emitError() << "model '" << modelName(module, func) << "' needs " << used
                              << " bytes of SRAM, chip '" << chip.name << "' has "
                              << chip.sramBytes() << "; use a system with more SRAM or more chips";
    }
    func->setAttr(kSramBytesAttr, builder.getI64IntegerAttr(static_cast<int64_t>(used)));
    numBytesAllocated += used;
    return success();
  }
};

} // namespace
