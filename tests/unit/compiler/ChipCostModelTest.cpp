// The compiler's cost model against docs/timing-model.md, with numbers worked out by hand.
#include "CompilerTestSupport.h"

#include "conveyor/Dialect/Chip/ChipCostModel.h"

#include "mlir/IR/BuiltinTypes.h"

using namespace conveyor;
using namespace conveyor::chip;
using conveyor::system::DType;

namespace {

/// Round numbers: 1 GHz and 1 GB/s (host cycles == bytes), 320-byte vectors, latencies
/// mem 5 / mxm 7 / vxm 3 / sxm 2 / host 10, 4 ALUs per lane (so long chains take passes).
system::ChipConfig roundChip() {
  system::ChipConfig chip;
  chip.name = "round";
  chip.clockHz = 1e9;
  chip.vectorBytes = 320;
  chip.mem.slices = 1;
  chip.mem.bytesPerSlice = 1 << 20;
  chip.mem.latencyCycles = 5;
  chip.mxm.weightLoadBytesPerCycle = 1000;
  chip.mxm.macsPerCycle = {{DType::F16, 1000}, {DType::INT8, 4000}};
  chip.mxm.floatTimingAs = DType::F16;
  chip.mxm.latencyCycles = 7;
  chip.vxm.alusPerLane = 4;
  chip.vxm.latencyCycles = 3;
  chip.sxm.latencyCycles = 2;
  chip.host.bytesPerSecond = 1e9;
  chip.host.latencyCycles = 10;
  return chip;
}

} // namespace

TEST_CASE("sizes: bytes and vectors", "[cost]") {
  ChipCostModel model(roundChip());
  CHECK(model.vectors(0) == 0);
  CHECK(model.vectors(1) == 1);
  CHECK(model.vectors(320) == 1);
  CHECK(model.vectors(321) == 2);
  CHECK(tensorBytes(5, 4) == 3); // int4 rounds up to whole bytes
  CHECK(tensorBytes(3, 32) == 12);
  CHECK(tensorBytes(0, 32) == 0);

  auto context = compiler::test::makeContext();
  mlir::Builder b(context.get());
  CHECK(tensorBytes(mlir::RankedTensorType::get({2, 3}, b.getF16Type())) == 12);
  CHECK(tensorBytes(mlir::RankedTensorType::get({5}, b.getIntegerType(4))) == 3);
  CHECK(tensorBytes(mlir::RankedTensorType::get({4}, b.getIntegerType(32))) == 16);
  CHECK(tensorBytes(mlir::RankedTensorType::get({7}, b.getBF16Type())) == 14);
  CHECK_FALSE(
      tensorBytes(mlir::RankedTensorType::get({mlir::ShapedType::kDynamic, 3}, b.getF32Type())));
  CHECK_FALSE(tensorBytes(mlir::RankedTensorType::get({3}, b.getF64Type())));
  CHECK_FALSE(tensorBytes(mlir::RankedTensorType::get({3}, b.getIntegerType(64))));
}

TEST_CASE("host and MEM instructions", "[cost]") {
  ChipCostModel model(roundChip());
  CHECK(model.hostTransferCycles(1000) == 1000);
  InstructionCost write = model.memWrite(1000);
  CHECK(write.unit == Unit::Mem);
  CHECK(write.occupancy == 1000);
  CHECK(write.duration == 1010); // Lhost + O
  InstructionCost read = model.memRead(1000);
  CHECK(read.occupancy == 1000);
  CHECK(read.duration == 1015); // Lhost + Lmem + O
  InstructionCost copy = model.memCopy(641);
  CHECK(copy.occupancy == 3); // 641 B is three vectors
  CHECK(copy.duration == 8);

  // groq-1's host link: 900 MHz over 31.5 GB/s, rounded up.
  ChipCostModel groq(compiler::test::loadGroq1().chip);
  CHECK(groq.hostTransferCycles(2048) == 59); // 58.51
  CHECK(groq.hostTransferCycles(1024) == 30); // 29.26
  CHECK(groq.hostTransferCycles(320) == 10);  // 9.14
  CHECK(groq.hostTransferCycles(0) == 0);
}

TEST_CASE("MXM: weight install plus compute at the input precision's rate", "[cost]") {
  ChipCostModel model(roundChip()); // no planes: install and compute do not overlap
  // 2 x [3, 100] x [100, 50] f32, timed at the fp16 rate (1000 MACs/cycle):
  // install ceil(2 * 100 * 50 * 4 / 1000) = 40, compute ceil(30000 / 1000) = 30.
  auto f32 = model.matmul(2, 3, 100, 50, DType::F32, DType::F32);
  REQUIRE(f32);
  CHECK(f32->unit == Unit::Mxm);
  CHECK(f32->occupancy == 70);
  CHECK(f32->duration == 5 + 7 + 70);
  // int8: install ceil(10000 / 1000) = 10, compute ceil(30000 / 4000) = 8.
  auto int8 = model.matmul(2, 3, 100, 50, DType::INT8, DType::INT8);
  REQUIRE(int8);
  CHECK(int8->occupancy == 18);
  // int4 weights: ceil(100 * 50 * 4 bits / 8) = 2500 B install in 3 cycles.
  auto int4 = model.matmul(1, 1, 100, 50, DType::INT8, DType::INT4);
  REQUIRE(int4);
  CHECK(int4->occupancy == 3 + 2);
  // No rate for bf16 on this chip.
  CHECK_FALSE(model.matmul(1, 1, 1, 1, DType::BF16, DType::BF16));

  system::ChipConfig int8Floats = roundChip();
  int8Floats.mxm.floatTimingAs = DType::INT8;
  auto remapped = ChipCostModel(int8Floats).matmul(2, 3, 100, 50, DType::F32, DType::F32);
  REQUIRE(remapped);
  CHECK(remapped->occupancy == 40 + 8);

  // The TSP's own numbers: [1, 320] x [320, 320] int8 installs 102,400 B in 10 cycles
  // and computes in one.
  ChipCostModel groq(compiler::test::loadGroq1().chip);
  auto tsp = groq.matmul(1, 1, 320, 320, DType::INT8, DType::INT8);
  REQUIRE(tsp);
  CHECK(tsp->occupancy == 11);
  CHECK(tsp->duration == 69 + 24 + 11);
}

TEST_CASE("MXM: the P rows of a prefill share one weight install", "[cost][prefill]") {
  // Llama-2-70B gate projection per chip on the TSP (tp 16): [P, 8192] f16 x [8192, 1792]
  // int8. install ceil(14,680,064 B / 10,240 B/cycle) = 1,434 whatever P is; compute at the
  // fp16 rate: ceil(P * 14,680,064 / 102,400) = 144 for P = 1, 1,147 for P = 8 and 9,176
  // for P = 64. The weights go in as ceil(14,680,064 / 409,600) = 36 tile sets, each
  // installing while the previous one computes: max(install, compute) +
  // ceil(min(install, compute) / 36).
  ChipCostModel groq(compiler::test::loadGroq1().chip);
  auto row = groq.matmul(1, 1, 8192, 1792, DType::F16, DType::INT8);
  auto prompt = groq.matmul(1, 8, 8192, 1792, DType::F16, DType::INT8);
  auto longPrompt = groq.matmul(1, 64, 8192, 1792, DType::F16, DType::INT8);
  REQUIRE(row);
  REQUIRE(prompt);
  REQUIRE(longPrompt);
  CHECK(row->occupancy == 1434 + 4);
  CHECK(prompt->occupancy == 1434 + 32);
  CHECK(longPrompt->occupancy == 9176 + 40); // compute-bound: the first install shows
  // Installing the weights once per prompt row would cost 8 x 1,434 + 1,147 = 12,619.
  CHECK(prompt->occupancy < 2 * row->occupancy);
}

TEST_CASE("MXM: a tile set installs while the previous one computes", "[cost]") {
  // TSP: a tile set is 4 planes x 320 x 320 = 409,600 B. [1, 320] x [320, 320] int8 is one
  // set: nothing to overlap, install 10 + compute 1. [1, 4096] x [4096, 512] int8 (Llama-2-7B
  // q at tp 8) is 2,097,152 B = 6 sets: install 205, compute at the f16 rate 21 -> 205 + 4.
  ChipCostModel groq(compiler::test::loadGroq1().chip);
  auto one = groq.matmul(1, 1, 320, 320, DType::INT8, DType::INT8);
  auto six = groq.matmul(1, 1, 4096, 512, DType::F16, DType::INT8);
  REQUIRE(one);
  REQUIRE(six);
  CHECK(one->occupancy == 10 + 1);
  CHECK(six->occupancy == 205 + 4);
  // Without planes in the description (roundChip), no overlap: install + compute.
  ChipCostModel round(roundChip());
  CHECK(round.matmul(2, 3, 100, 50, DType::F32, DType::F32)->occupancy == 40 + 30);
}

TEST_CASE("VXM and SXM", "[cost]") {
  ChipCostModel model(roundChip());
  CHECK(vxmOpsPerElement("add") == 1u);
  CHECK(vxmOpsPerElement("sub") == 1u);
  CHECK(vxmOpsPerElement("mul") == 1u);
  CHECK(vxmOpsPerElement("div") == 2u);
  CHECK(vxmOpsPerElement("relu") == 1u);
  CHECK(vxmOpsPerElement("gelu") == 12u);
  CHECK(vxmOpsPerElement("gelu_tanh") == 8u);
  // Math kinds (docs/timing-model.md, "Transformer ops")
  CHECK(vxmOpsPerElement("pow") == 9u);
  CHECK(vxmOpsPerElement("exp") == 4u);
  CHECK(vxmOpsPerElement("silu") == 6u);
  CHECK(vxmOpsPerElement("erf") == 10u);
  CHECK_FALSE(vxmOpsPerElement("floor"));

  // 640 B = 2 vectors; 12 ops on 4 ALUs per lane = 3 passes.
  InstructionCost gelu = model.vxmElementwise(640, 12);
  CHECK(gelu.unit == Unit::Vxm);
  CHECK(gelu.occupancy == 6);
  CHECK(gelu.duration == 5 + 3 + 6);
  CHECK(model.vxmElementwise(640, 4).occupancy == 2);
  CHECK(model.vxmElementwise(640, 5).occupancy == 4);
  InstructionCost softmax = model.vxmSoftmax(640);
  CHECK(softmax.occupancy == 6);
  CHECK(softmax.duration == 14);
  InstructionCost transpose = model.sxmTranspose(640);
  CHECK(transpose.unit == Unit::Sxm);
  CHECK(transpose.occupancy == 2);
  CHECK(transpose.duration == 5 + 2 + 2);
}

TEST_CASE("costOf reads shapes and kinds off cv.chip ops", "[cost]") {
  auto context = compiler::test::makeContext();
  auto module = compiler::test::parse(*context, R"mlir(
    func.func @main(%arg0: tensor<4x80xf32>) -> tensor<4x80xf32> {
      %w = cv.chip.weight "w" {value = dense<1.0> : tensor<80x80xf32>} : tensor<80x80xf32>
      %x = cv.chip.mem_write %arg0, "x" : tensor<4x80xf32>
      %m = cv.chip.mxm_matmul %x, %w : (tensor<4x80xf32>, tensor<80x80xf32>) -> tensor<4x80xf32>
      %g = cv.chip.vxm_unary "gelu" %m : tensor<4x80xf32>
      %d = cv.chip.vxm_binary "div" %g, %m : (tensor<4x80xf32>, tensor<4x80xf32>) -> tensor<4x80xf32>
      %s = cv.chip.vxm_softmax %d {axis = 1 : i64} : tensor<4x80xf32>
      %t = cv.chip.sxm_transpose %s, [1, 0] : tensor<4x80xf32> -> tensor<80x4xf32>
      %v = cv.chip.view %t : tensor<80x4xf32> -> tensor<4x80xf32>
      %c = cv.chip.mem_copy %v : tensor<4x80xf32>
      %r = cv.chip.mem_read %c, "y" : tensor<4x80xf32>
      return %r : tensor<4x80xf32>
    })mlir");
  ChipCostModel model(roundChip());
  auto costOf = [&](mlir::Operation *op) {
    auto cost = model.costOf(op);
    REQUIRE(mlir::succeeded(cost));
    return *cost;
  };
  // Every tensor here is 4 x 80 x 4 B = 1280 B = 4 vectors.
  mlir::ModuleOp m = *module;
  CHECK(costOf(compiler::test::findOp<MemWriteOp>(m)).occupancy == 1280);
  CHECK(costOf(compiler::test::findOp<MemReadOp>(m)).occupancy == 1280);
  CHECK(costOf(compiler::test::findOp<MemCopyOp>(m)).occupancy == 4);
  // install ceil(80 * 80 * 4 / 1000) = 26, compute ceil(4 * 80 * 80 / 1000) = 26.
  CHECK(costOf(compiler::test::findOp<MatMulOp>(m)).occupancy == 52);
  CHECK(costOf(compiler::test::findOp<UnaryOp>(m)).occupancy == 4 * 3); // 12 ops: 3 passes
  CHECK(costOf(compiler::test::findOp<BinaryOp>(m)).occupancy == 4);    // div: 2 ops, 1 pass
  CHECK(costOf(compiler::test::findOp<SoftmaxOp>(m)).occupancy == 12);
  CHECK(costOf(compiler::test::findOp<TransposeOp>(m)).unit == Unit::Sxm);
  CHECK(isInstruction(compiler::test::findOp<MemCopyOp>(m)));
  CHECK_FALSE(isInstruction(compiler::test::findOp<ViewOp>(m)));

  compiler::test::DiagnosticLog log(*context);
  CHECK(mlir::failed(model.costOf(compiler::test::findOp<WeightOp>(m))));
  REQUIRE(log.errors.size() == 1);
  CHECK(log.errors[0] ==
        "'cv.chip.weight' op is not a functional-unit instruction and has no cost");
}

TEST_CASE("vxm_sum: n addends chain n - 1 adds, alus_per_lane of them per pass", "[cost]") {
  auto context = compiler::test::makeContext();
  auto module = compiler::test::parse(*context, R"mlir(
    func.func @main(%arg0: tensor<4x80xf32>) -> (tensor<4x80xf32>, tensor<4x80xf32>) {
      %x = cv.chip.mem_write %arg0, "x" : tensor<4x80xf32>
      %five = cv.chip.vxm_sum %x, %x, %x, %x, %x : tensor<4x80xf32>, tensor<4x80xf32>, tensor<4x80xf32>, tensor<4x80xf32>, tensor<4x80xf32> -> tensor<4x80xf32>
      %six = cv.chip.vxm_sum %five, %x, %x, %x, %x, %x : tensor<4x80xf32>, tensor<4x80xf32>, tensor<4x80xf32>, tensor<4x80xf32>, tensor<4x80xf32>, tensor<4x80xf32> -> tensor<4x80xf32>
      %r = cv.chip.mem_read %five, "y" : tensor<4x80xf32>
      %r2 = cv.chip.mem_read %six, "z" : tensor<4x80xf32>
      return %r, %r2 : tensor<4x80xf32>, tensor<4x80xf32>
    })mlir");
  ChipCostModel model(roundChip());
  std::vector<uint64_t> occupancy;
  module->walk([&](SumOp sum) {
    auto cost = model.costOf(sum);
    REQUIRE(mlir::succeeded(cost));
    CHECK(cost->unit == Unit::Vxm);
    CHECK(cost->duration == 5 + 3 + cost->occupancy);
    occupancy.push_back(cost->occupancy);
  });
  // 4 vectors each; 4 adds fit one pass of 4 ALUs, 5 take two.
  CHECK(occupancy == std::vector<uint64_t>{4, 8});
}

TEST_CASE("MXM: the first tile set installs before the activations are needed", "[cost]") {
  // TSP: 409,600 B per set at 10,240 B/cycle = 40 cycles; a one-set product leads by its
  // whole install; a description without planes (roundChip) by nothing.
  ChipCostModel groq(compiler::test::loadGroq1().chip);
  CHECK(groq.matmul(1, 1, 4096, 512, DType::F16, DType::INT8)->operandLead == 40);
  CHECK(groq.matmul(1, 1, 320, 320, DType::INT8, DType::INT8)->operandLead == 10);
  CHECK(ChipCostModel(roundChip()).matmul(1, 1, 100, 50, DType::F16, DType::INT8)->operandLead ==
        0);
}
