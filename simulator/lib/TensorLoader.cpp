// Loads ONNX TensorProto files in the ONNX backend-test layout (input_0.pb, output_0.pb, ...).
#include "conveyor/Simulator/Simulator.h"

#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace conveyor::sim {
namespace {

Result<TensorData> loadTensorFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return makeError(fmt::format("cannot read tensor file '{}'", path));
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  onnx::TensorProto proto;
  if (!proto.ParseFromString(bytes.str())) {
    return makeError(fmt::format("'{}' is not an ONNX TensorProto file", path));
  }
  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    return makeError(fmt::format("'{}': tensor '{}' keeps its data in an external file, which "
                                 "is not supported; save it inline",
                                 path, proto.name()));
  }
  // Integer tensors (token ids) load as exact f32 values; the host narrows them to the
  // INT32 buffer they are written to
  const bool integer = proto.data_type() == onnx::TensorProto::INT64 ||
                       proto.data_type() == onnx::TensorProto::INT32;
  if (proto.data_type() != onnx::TensorProto::FLOAT && !integer) {
    return makeError(fmt::format(
        "'{}': tensor '{}' is {}, but only float32, int64 and int32 tensors are "
        "supported",
        path, proto.name(),
        onnx::TensorProto::DataType_Name(onnx::TensorProto::DataType(proto.data_type()))));
  }
  if (proto.name().empty()) {
    return makeError(fmt::format("'{}': the tensor has no name; the simulator matches tensors "
                                 "to model inputs and outputs by name",
                                 path));
  }
  TensorData tensor;
  tensor.name = proto.name();
  uint64_t elements = 1;
  for (int64_t dim : proto.dims()) {
    if (dim < 0 || (dim > 0 && elements > (uint64_t(1) << 40) / uint64_t(dim))) {
      return makeError(
          fmt::format("'{}': tensor '{}' has an invalid dimension {}", path, proto.name(), dim));
    }
    elements *= uint64_t(dim);
    tensor.shape.push_back(dim);
  }
  if (integer) {
    const bool wide = proto.data_type() == onnx::TensorProto::INT64;
    const size_t width = wide ? 8 : 4;
    const std::string &raw = proto.raw_data();
    const uint64_t count = !raw.empty() ? raw.size() / width
                           : wide       ? uint64_t(proto.int64_data_size())
                                        : uint64_t(proto.int32_data_size());
    if (count != elements || (!raw.empty() && raw.size() % width != 0)) {
      return makeError(fmt::format("'{}': tensor '{}' has {} values, but its shape holds {}", path,
                                   proto.name(), count, elements));
    }
    tensor.values.resize(elements);
    for (uint64_t i = 0; i < elements; ++i) {
      int64_t value = 0;
      if (!raw.empty() && wide) {
        std::memcpy(&value, raw.data() + i * 8, 8);
      } else if (!raw.empty()) {
        int32_t narrow = 0;
        std::memcpy(&narrow, raw.data() + i * 4, 4);
        value = narrow;
      } else {
        value = wide ? proto.int64_data(int(i)) : proto.int32_data(int(i));
      }
      if (value < -(int64_t(1) << 24) || value > (int64_t(1) << 24)) {
        return makeError(fmt::format("'{}': tensor '{}' holds {}, beyond the +-2^24 the "
                                     "simulator represents exactly",
                                     path, proto.name(), value));
      }
      tensor.values[i] = float(value);
    }
    return tensor;
  }
  if (!proto.raw_data().empty()) {
    if (proto.raw_data().size() != elements * sizeof(float)) {
      return makeError(fmt::format("'{}': tensor '{}' has {} bytes of raw data, but {} float32 "
                                   "elements need {}",
                                   path, proto.name(), proto.raw_data().size(), elements,
                                   elements * sizeof(float)));
    }
    tensor.values.resize(elements);
    // raw_data is little-endian, as is every host this project targets.
    std::memcpy(tensor.values.data(), proto.raw_data().data(), proto.raw_data().size());
  } else {
    if (uint64_t(proto.float_data_size()) != elements) {
      return makeError(fmt::format("'{}': tensor '{}' has {} values, but its shape holds {}", path,
                                   proto.name(), proto.float_data_size(), elements));
    }
    tensor.values.assign(proto.float_data().begin(), proto.float_data().end());
  }
  return tensor;
}

} // namespace

Result<std::vector<TensorData>> loadTensorDir(const std::string &dir, const std::string &prefix) {
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) {
    return makeError(
        fmt::format("tensor directory '{}' does not exist or is not a directory", dir));
  }
  std::vector<TensorData> tensors;
  for (size_t index = 0;; ++index) {
    const std::filesystem::path path =
        std::filesystem::path(dir) / fmt::format("{}{}.pb", prefix, index);
    if (!std::filesystem::exists(path, error)) {
      break;
    }
    Result<TensorData> tensor = loadTensorFile(path.string());
    if (!tensor) {
      return tensor.takeError();
    }
    tensors.push_back(std::move(*tensor));
  }
  if (tensors.empty()) {
    return makeError(fmt::format("'{}' has no '{}0.pb'; expected the ONNX backend-test layout "
                                 "({}0.pb, {}1.pb, ...)",
                                 dir, prefix, prefix, prefix));
  }
  return tensors;
}

} // namespace conveyor::sim
