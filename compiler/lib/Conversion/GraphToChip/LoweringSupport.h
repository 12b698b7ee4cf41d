// Shared pieces of the cv.graph -> cv.chip lowering: weight names, instruction builders and
// the pattern base class (GraphToChip.cpp, TransformerLowering.cpp).
#pragma once

#include "conveyor/Dialect/Chip/ChipOps.h"
#include "conveyor/Dialect/Graph/GraphOps.h"

#include "mlir/Transforms/DialectConversion.h"
#include "llvm/ADT/StringSet.h"

#include <string>

namespace conveyor::lowering {

using namespace mlir;
namespace chip = conveyor::chip;

/// Hands out weight names that no other weight in the module uses, so that every
/// buffer of the schedule can be told apart in messages.
class NameTable {
public:
  void reserve(StringRef name) { used.insert(name); }
  std::string unique(StringRef base) {
    if (used.insert(base).second) {
      return base.str();
    }
    for (unsigned suffix = 1;; ++suffix) {
      std::string candidate = (base + "_" + Twine(suffix)).str();
      if (used.insert(candidate).second) {
        return candidate;
      }
    }
  }

private:
  llvm::StringSet<> used;
};

/// State the patterns share with the pass.
struct LoweringState {
  NameTable names;
  uint64_t foldedWeights = 0;
};

/// Builds a cv.chip instruction without placement: the allocator and the scheduler set
/// `sram_addr` and `issue` later.
template <typename OpTy, typename... Args>
OpTy createInstruction(OpBuilder &builder, Location loc, Args &&...args) {
  return builder.create<OpTy>(loc, std::forward<Args>(args)..., IntegerAttr(), IntegerAttr(),
                              IntegerAttr());
}

inline chip::WeightOp createWeight(OpBuilder &builder, Location loc, ElementsAttr value, StringRef name) {
  return createInstruction<chip::WeightOp>(builder, loc, value.getType(), value,
                                           builder.getStringAttr(name));
}

template <typename SourceOp> class LoweringPattern : public OpConversionPattern<SourceOp> {
public:
  LoweringPattern(MLIRContext *context, LoweringState &state)
      : OpConversionPattern<SourceOp>(context), state(state) {}

protected:
  LoweringState &state;
};


/// The chip's element type for a graph element type: the chip has no i64 or i1, so
/// integers wider than 32 bits become i32 (token ids, indices) and i1 becomes i8 (masks).
Type chipElementType(Type type);
/// `type` with chipElementType applied.
RankedTensorType chipType(Type type);

/// Adds the patterns of TransformerLowering.cpp: embedding, gather, norms, rotary, gated
/// MLP, LM head, attention, MoE, concat/split/slice, expand, where, top-k, reductions,
/// math, cast.
void populateTransformerLoweringPatterns(RewritePatternSet &patterns, LoweringState &state);

} // namespace conveyor::lowering
