// cv.chip operation declarations.
#pragma once

#include "conveyor/Dialect/Chip/ChipDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "conveyor/Dialect/Chip/ChipOps.h.inc"

namespace conveyor::chip {
/// The elements of `value` as a DenseElementsAttr: itself when already dense, a copy of
/// the blob for a dense resource; null when the data is not available (an elided or
/// missing resource, or another kind of ElementsAttr).
mlir::DenseElementsAttr getDenseElements(mlir::ElementsAttr value);

/// True for the `kind`s cv.chip.vxm_unary accepts.
bool isUnaryKind(llvm::StringRef kind);
} // namespace conveyor::chip
