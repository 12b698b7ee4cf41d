// ONNX TensorProto / element type -> MLIR type and DenseElementsAttr conversion.
#include "OnnxTensors.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Endian.h"

#include <cstring>
#include <limits>

using namespace mlir;

namespace conveyor::frontend {

std::string onnxDataTypeName(int32_t dataType) {
  if (onnx::TensorProto_DataType_IsValid(dataType)) {
    return onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(dataType));
  }
  return "data type " + std::to_string(dataType);
}

llvm::StringRef supportedDataTypeNames() {
  return "FLOAT, FLOAT16, BFLOAT16, DOUBLE, BOOL, INT8, INT32, INT64";
}

Type convertElementType(MLIRContext &context, int32_t dataType) {
  Builder builder(&context);
  switch (dataType) {
  case onnx::TensorProto::FLOAT:
    return builder.getF32Type();
  case onnx::TensorProto::FLOAT16:
    return builder.getF16Type();
  case onnx::TensorProto::BFLOAT16:
    return builder.getBF16Type();
  case onnx::TensorProto::DOUBLE:
    return builder.getF64Type();
  case onnx::TensorProto::BOOL:
    return builder.getI1Type();
  case onnx::TensorProto::INT8:
    return builder.getIntegerType(8);
  case onnx::TensorProto::INT32:
    return builder.getIntegerType(32);
  case onnx::TensorProto::INT64:
    return builder.getIntegerType(64);
  default:
    return Type();
  }
}

namespace {

/// Appends `value` to `bytes` as `width` little-endian bytes (the layout
/// DenseElementsAttr::getFromRawBuffer expects on a little-endian host).
template <typename T> void appendLittleEndian(std::vector<char> &bytes, T value) {
  char buffer[sizeof(T)];
  llvm::support::endian::write<T, llvm::endianness::little>(buffer, value);
  bytes.insert(bytes.end(), buffer, buffer + sizeof(T));
}

/// Packs the typed repeated field that matches `dataType` into raw bytes; returns the
/// number of values found there.
int64_t packTypedData(const onnx::TensorProto &tensor, int32_t dataType, std::vector<char> &bytes) {
  switch (dataType) {
  case onnx::TensorProto::FLOAT:
    for (float value : tensor.float_data()) {
      appendLittleEndian<uint32_t>(bytes, llvm::bit_cast<uint32_t>(value));
    }
    return tensor.float_data_size();
  case onnx::TensorProto::DOUBLE:
    for (double value : tensor.double_data()) {
      appendLittleEndian<uint64_t>(bytes, llvm::bit_cast<uint64_t>(value));
    }
    return tensor.double_data_size();
  case onnx::TensorProto::INT64:
    for (int64_t value : tensor.int64_data()) {
      appendLittleEndian<int64_t>(bytes, value);
    }
    return tensor.int64_data_size();
  case onnx::TensorProto::INT32:
    for (int32_t value : tensor.int32_data()) {
      appendLittleEndian<int32_t>(bytes, value);
    }
    return tensor.int32_data_size();
  case onnx::TensorProto::INT8:
    for (int32_t value : tensor.int32_data()) {
      bytes.push_back(static_cast<char>(static_cast<int8_t>(value)));
    }
    return tensor.int32_data_size();
  case onnx::TensorProto::BOOL:
    for (int32_t value : tensor.int32_data()) {
      bytes.push_back(static_cast<char>(value != 0));
    }
    return tensor.int32_data_size();
  case onnx::TensorProto::FLOAT16:
  case onnx::TensorProto::BFLOAT16:
    // ONNX stores 16-bit floats as their bit patterns in int32_data.
    for (int32_t value : tensor.int32_data()) {
      appendLittleEndian<uint16_t>(bytes, static_cast<uint16_t>(value));
    }
    return tensor.int32_data_size();
  default:
    return 0;
  }
}

} // namespace

FailureOr<RankedTensorType>
convertTensorProtoType(MLIRContext &context, const onnx::TensorProto &tensor,
                       llvm::function_ref<InFlightDiagnostic()> emitError) {
  Type elementType = convertElementType(context, tensor.data_type());
  if (!elementType) {
    return emitError() << "has element type " << onnxDataTypeName(tensor.data_type())
                       << ", which Conveyor's importer does not support (supported: "
                       << supportedDataTypeNames() << ")";
  }
  SmallVector<int64_t> shape;
  for (int64_t dim : tensor.dims()) {
    if (dim < 0) {
      return emitError() << "has a negative dimension (" << dim << ")";
    }
    shape.push_back(dim);
  }
  return RankedTensorType::get(shape, elementType);
}

FailureOr<DenseElementsAttr>
convertTensorProto(MLIRContext &context, const onnx::TensorProto &tensor,
                   llvm::function_ref<InFlightDiagnostic()> emitError) {
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL || tensor.external_data_size() > 0) {
    return emitError() << "stores its data in an external file; Conveyor imports only "
                          "self-contained models (re-save with onnx.save_model(model, path, "
                          "save_as_external_data=False))";
  }
  Type elementType = convertElementType(context, tensor.data_type());
  if (!elementType) {
    return emitError() << "has element type " << onnxDataTypeName(tensor.data_type())
                       << ", which Conveyor's importer does not support (supported: "
                       << supportedDataTypeNames() << ")";
  }
  SmallVector<int64_t> shape;
  int64_t numElements = 1;
  for (int64_t dim : tensor.dims()) {
    if (dim < 0) {
      return emitError() << "has a negative dimension (" << dim << ")";
    }
    if (dim != 0 && numElements > std::numeric_limits<int32_t>::max() / dim) {
      return emitError() << "is too large to import (more than 2^31 elements)";
    }
    shape.push_back(dim);
    numElements *= dim;
  }
  auto type = RankedTensorType::get(shape, elementType);
  int64_t elementBytes = llvm::divideCeil(elementType.getIntOrFloatBitWidth(), 8);

  std::vector<char> typedBytes;
  llvm::ArrayRef<char> bytes;
  int64_t valueCount = 0;
  if (tensor.has_raw_data()) {
    const std::string &raw = tensor.raw_data();
    if (static_cast<int64_t>(raw.size()) != numElements * elementBytes) {
      return emitError() << "has " << raw.size() << " bytes of raw_data but its shape needs "
                         << numElements << " x " << elementBytes << " = "
                         << numElements * elementBytes;
    }
    bytes = llvm::ArrayRef<char>(raw.data(), raw.size());
    valueCount = numElements;
  } else {
    valueCount = packTypedData(tensor, tensor.data_type(), typedBytes);
    bytes = typedBytes;
  }
  if (valueCount != numElements) {
    if (valueCount == 0) {
      return emitError() << "has no data (its shape needs " << numElements
                         << " values); Conveyor needs real weights here";
    }
    return emitError() << "holds " << valueCount << " values but its shape needs " << numElements;
  }
  if (numElements == 0) {
    // An empty tensor has no bytes to interpret; build it from an empty value list.
    return DenseElementsAttr::get(type, llvm::ArrayRef<Attribute>{});
  }
  if (elementType.isInteger(1)) {
    // ONNX stores one byte per bool; MLIR's raw buffers pack bits, so go through bools.
    SmallVector<bool> flags;
    flags.reserve(numElements);
    for (char byte : bytes) {
      flags.push_back(byte != 0);
    }
    return DenseElementsAttr::get(type, ArrayRef<bool>(flags));
  }
  bool detectedSplat = false;
  if (!DenseElementsAttr::isValidRawBuffer(type, bytes, detectedSplat)) {
    return emitError() << "has data that does not match its type " << type;
  }
  return DenseElementsAttr::getFromRawBuffer(type, bytes);
}

} // namespace conveyor::frontend
