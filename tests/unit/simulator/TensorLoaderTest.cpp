// loadTensorDir: ONNX backend-test layout, raw and typed float data, errors naming the file.
#include "SimulatorTestSupport.h"

#include "conveyor/Simulator/Simulator.h"

#include <catch2/catch.hpp>
#include <onnx/onnx_pb.h>

#include <fstream>

using namespace conveyor;
using conveyor::test::TempDir;

namespace {

void writeTensor(const std::string &path, const onnx::TensorProto &tensor) {
  std::ofstream out(path, std::ios::binary);
  out << tensor.SerializeAsString();
}

onnx::TensorProto floatTensor(const std::string &name, std::vector<int64_t> dims,
                              const std::vector<float> &values, bool raw) {
  onnx::TensorProto tensor;
  tensor.set_name(name);
  tensor.set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t dim : dims) {
    tensor.add_dims(dim);
  }
  if (raw) {
    tensor.set_raw_data(
        std::string(reinterpret_cast<const char *>(values.data()), values.size() * sizeof(float)));
  } else {
    for (float v : values) {
      tensor.add_float_data(v);
    }
  }
  return tensor;
}

} // namespace

TEST_CASE("tensors load in index order from raw or typed data", "[tensors]") {
  TempDir dir;
  writeTensor(dir.file("input_0.pb"), floatTensor("x", {2, 2}, {1, 2, 3, 4}, true));
  writeTensor(dir.file("input_1.pb"), floatTensor("mask", {3}, {-1, 0, 1}, false));
  writeTensor(dir.file("output_0.pb"), floatTensor("y", {1}, {9}, true));
  auto inputs = sim::loadTensorDir(dir.path.string(), "input_");
  REQUIRE(inputs.ok());
  REQUIRE(inputs->size() == 2);
  CHECK((*inputs)[0].name == "x");
  CHECK((*inputs)[0].shape == std::vector<int64_t>{2, 2});
  CHECK((*inputs)[0].values == std::vector<float>{1, 2, 3, 4});
  CHECK((*inputs)[1].name == "mask");
  CHECK((*inputs)[1].values == std::vector<float>{-1, 0, 1});
  auto outputs = sim::loadTensorDir(dir.path.string(), "output_");
  REQUIRE(outputs.ok());
  CHECK(outputs->at(0).values == std::vector<float>{9});
}

TEST_CASE("tensor loading errors name the file", "[tensors]") {
  TempDir dir;
  SECTION("missing directory") {
    CHECK_THAT(sim::loadTensorDir(dir.file("nope"), "input_").error(),
               Catch::Contains("tensor directory") && Catch::Contains("nope"));
  }
  SECTION("no first file") {
    CHECK_THAT(sim::loadTensorDir(dir.path.string(), "input_").error(),
               Catch::Contains("has no 'input_0.pb'"));
  }
  SECTION("not a TensorProto") {
    std::ofstream(dir.file("input_0.pb")) << "\xff\xff\xff garbage";
    CHECK_THAT(sim::loadTensorDir(dir.path.string(), "input_").error(),
               Catch::Contains("input_0.pb' is not an ONNX TensorProto file"));
  }
  SECTION("not float32, int64 or int32") {
    onnx::TensorProto tensor;
    tensor.set_name("ids");
    tensor.set_data_type(onnx::TensorProto::DOUBLE);
    tensor.add_dims(1);
    tensor.add_double_data(3);
    writeTensor(dir.file("input_0.pb"), tensor);
    CHECK_THAT(sim::loadTensorDir(dir.path.string(), "input_").error(),
               Catch::Contains("input_0.pb': tensor 'ids' is DOUBLE, but only float32, int64 and int32"));
  }
  // Integer token ids load as exact values; beyond 2^24 they would not be exact
  SECTION("int64 ids") {
    onnx::TensorProto tensor;
    tensor.set_name("ids");
    tensor.set_data_type(onnx::TensorProto::INT64);
    tensor.add_dims(2);
    tensor.add_int64_data(3);
    tensor.add_int64_data(-7);
    writeTensor(dir.file("input_0.pb"), tensor);
    auto loaded = sim::loadTensorDir(dir.path.string(), "input_");
    REQUIRE(loaded.ok());
    CHECK(loaded->at(0).values == std::vector<float>{3, -7});
    tensor.set_int64_data(1, int64_t(1) << 30);
    writeTensor(dir.file("input_0.pb"), tensor);
    CHECK_THAT(sim::loadTensorDir(dir.path.string(), "input_").error(),
               Catch::Contains("beyond the +-2^24"));
  }
  SECTION("raw data of the wrong size") {
    onnx::TensorProto tensor = floatTensor("x", {2, 2}, {1, 2, 3}, true);
    writeTensor(dir.file("input_0.pb"), tensor);
    CHECK_THAT(sim::loadTensorDir(dir.path.string(), "input_").error(),
               Catch::Contains("has 12 bytes of raw data, but 4 float32 elements need 16"));
  }
  SECTION("unnamed tensor") {
    writeTensor(dir.file("input_0.pb"), floatTensor("", {1}, {1}, true));
    CHECK_THAT(sim::loadTensorDir(dir.path.string(), "input_").error(),
               Catch::Contains("the tensor has no name"));
  }
}
