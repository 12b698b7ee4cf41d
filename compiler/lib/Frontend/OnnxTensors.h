// ONNX TensorProto / element type -> MLIR type and DenseElementsAttr conversion.
#pragma once

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Support/LogicalResult.h"

#include <onnx/onnx_pb.h>

#include <string>

namespace conveyor::frontend {

/// ONNX's name for a TensorProto data type ("FLOAT", "UINT8"), or "data type N" when
/// the number is not one ONNX defines.
std::string onnxDataTypeName(int32_t dataType);

/// The element types the importer accepts, for error messages.
llvm::StringRef supportedDataTypeNames();

/// The MLIR element type for an ONNX data type, or a null Type when unsupported.
mlir::Type convertElementType(mlir::MLIRContext &context, int32_t dataType);

/// The tensor type an initializer declares (its dims and data type), without reading
/// any data; used for shape-only initializers. Errors go through `emitError`.
mlir::FailureOr<mlir::RankedTensorType>
convertTensorProtoType(mlir::MLIRContext &context, const onnx::TensorProto &tensor,
                       llvm::function_ref<mlir::InFlightDiagnostic()> emitError);

/// Builds the constant value of an initializer or Constant node's tensor. Data comes
/// from raw_data (little-endian) or the typed fields (float_data, int32_data,
/// int64_data, double_data). Errors (external data, wrong value count, unsupported type)
/// go through `emitError`, which supplies the location and the "what" prefix.
mlir::FailureOr<mlir::DenseElementsAttr>
convertTensorProto(mlir::MLIRContext &context, const onnx::TensorProto &tensor,
                   llvm::function_ref<mlir::InFlightDiagnostic()> emitError);

} // namespace conveyor::frontend
