// The scheduling problem: ASAP solutions verify, hand-broken ones are caught on the op at
// fault, and every issue cycle is as early as the rules allow.
#include "CompilerTestSupport.h"

#include "conveyor/Dialect/Chip/ChipScheduling.h"

#include <random>
#include <sstream>

using namespace conveyor;
using namespace conveyor::chip;
using conveyor::compiler::test::findOp;

namespace {

// Every unit used by two ops, so the scheduler must serialise them.
const char *const kContention = compiler::test::kOutOfOrderIssueModule;

int64_t issueOf(mlir::Operation *op) {
  auto issue = op->getAttrOfType<mlir::IntegerAttr>("issue");
  REQUIRE(issue);
  return issue.getInt();
}

void setIssue(mlir::Operation *op, int64_t cycle) {
  op->setAttr("issue", mlir::Builder(op->getContext()).getI64IntegerAttr(cycle));
}

} // namespace

TEST_CASE("ASAP schedule verifies and matches the hand-worked cycles", "[schedule]") {
  auto context = compiler::test::makeContext();
  auto module = compiler::test::parse(*context, kContention);
  REQUIRE(
      mlir::succeeded(compiler::test::runPipeline(*module, compiler::test::placeAndSchedule())));
  auto func = findOp<mlir::func::FuncOp>(*module);
  CHECK(func->getAttrOfType<mlir::IntegerAttr>(kEndCycleAttr).getInt() == 2090);

  // Same worked numbers as tests/lit/Dialect/Chip/conveyor-schedule.mlir.
  CHECK(issueOf(findOp<MemWriteOp>(*module, "b")) == 59);
  CHECK(issueOf(findOp<MatMulOp>(*module)) == 1018);
  CHECK(issueOf(findOp<MemReadOp>(*module, "o2")) == 1113);

  ChipCostModel model(compiler::test::loadGroq1().chip);
  ChipSchedulingProblem problem(func, model);
  REQUIRE(mlir::succeeded(problem.check()));
  CHECK(problem.getInstructions().size() == 10);
  CHECK(mlir::succeeded(problem.verify()));
  auto end = problem.endCycle();
  REQUIRE(mlir::succeeded(end));
  CHECK(*end == 2090);
}

TEST_CASE("verify() catches a hand-broken schedule on the op at fault", "[schedule]") {
  auto context = compiler::test::makeContext();
  auto module = compiler::test::parse(*context, kContention);
  REQUIRE(
      mlir::succeeded(compiler::test::runPipeline(*module, compiler::test::placeAndSchedule())));
  auto func = findOp<mlir::func::FuncOp>(*module);
  ChipCostModel model(compiler::test::loadGroq1().chip);
  ChipSchedulingProblem problem(func, model);
  REQUIRE(mlir::succeeded(problem.check()));
  compiler::test::DiagnosticLog log(*context);

  SECTION("an operand read one cycle before it is ready") {
    // b is written at 59 and ready at 59 + 959 = 1018.
    setIssue(findOp<MatMulOp>(*module), 1017);
    CHECK(mlir::failed(problem.verify()));
    REQUIRE(log.errors.size() == 1);
    CHECK(log.errors[0] == "'cv.chip.mxm_matmul' op issues at cycle 1017 but operand #1 is "
                           "ready at cycle 1018 (data read before ready)");
  }
  SECTION("two instructions on one unit overlapping by one cycle") {
    // write a occupies MEM for 59 cycles from 0.
    setIssue(findOp<MemWriteOp>(*module, "b"), 58);
    CHECK(mlir::failed(problem.verify()));
    REQUIRE(log.errors.size() == 1);
    CHECK(log.errors[0] == "'cv.chip.mem_write' op issues at cycle 58 but the MEM is busy "
                           "until cycle 59 (unit double-booked)");
  }
  SECTION("issue order, not program order, is the order on a unit") {
    // Swapping the two host writes is legal: b first, then a, both ready for the matmul.
    setIssue(findOp<MemWriteOp>(*module, "b"), 0);
    setIssue(findOp<MemWriteOp>(*module, "a"), 59);
    CHECK(mlir::succeeded(problem.verify()));
    setIssue(findOp<MemWriteOp>(*module, "a"), 58);
    CHECK(mlir::failed(problem.verify()));
    REQUIRE(log.errors.size() == 1);
    CHECK(log.errors[0] == "'cv.chip.mem_write' op issues at cycle 58 but the MEM is busy "
                           "until cycle 59 (unit double-booked)");
  }
  SECTION("an instruction without an issue cycle") {
    findOp<MemCopyOp>(*module)->removeAttr("issue");
    CHECK(mlir::failed(problem.verify()));
    REQUIRE(log.errors.size() == 1);
    CHECK(log.errors[0] == "'cv.chip.mem_copy' op has no 'issue' cycle; run conveyor-schedule "
                           "first");
  }
  SECTION("a later, legal issue cycle still verifies") {
    setIssue(findOp<MemReadOp>(*module, "o2"), 5000);
    CHECK(mlir::succeeded(problem.verify()));
    CHECK(*problem.endCycle() == 5000 + 977);
  }
}

TEST_CASE("check() rejects unschedulable functions", "[schedule]") {
  auto context = compiler::test::makeContext();
  auto module = compiler::test::parse(*context, R"mlir(
    func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {
      %y = cv.chip.vxm_unary "relu" %a : tensor<4xf32>
      %r = cv.chip.mem_read %y, "y" : tensor<4xf32>
      return %r : tensor<4xf32>
    })mlir");
  ChipCostModel model(compiler::test::loadGroq1().chip);
  ChipSchedulingProblem problem(findOp<mlir::func::FuncOp>(*module), model);
  compiler::test::DiagnosticLog log(*context);
  CHECK(mlir::failed(problem.check()));
  REQUIRE(log.errors.size() == 1);
  CHECK_THAT(log.errors[0], Catch::StartsWith("'cv.chip.vxm_unary' op operand #0 is a host "
                                              "tensor, not in SRAM"));
}

// Independent of the algorithm: in an ASAP schedule every instruction issues at 0, at the
// cycle one of its operands becomes ready, or at the cycle its unit frees up.
TEST_CASE("random programs: ASAP is legal and tight", "[schedule]") {
  std::mt19937 random(1234);
  for (int round = 0; round < 20; ++round) {
    std::ostringstream text;
    text << "func.func @main(%in: tensor<16x32xf32>) -> tensor<16x32xf32> {\n"
         << "  %w = cv.chip.weight \"w\" {value = dense<1.0> : tensor<32x32xf32>} : "
            "tensor<32x32xf32>\n"
         << "  %v0 = cv.chip.mem_write %in, \"x\" : tensor<16x32xf32>\n";
    int values = 1;
    for (int i = 0; i < 12; ++i) {
      int a = std::uniform_int_distribution<int>(0, values - 1)(random);
      int b = std::uniform_int_distribution<int>(0, values - 1)(random);
      const char *t = "tensor<16x32xf32>";
      switch (std::uniform_int_distribution<int>(0, 4)(random)) {
      case 0:
        text << "  %v" << values << " = cv.chip.mxm_matmul %v" << a << ", %w : (" << t
             << ", tensor<32x32xf32>) -> " << t << "\n";
        break;
      case 1:
        text << "  %v" << values << " = cv.chip.vxm_binary \"add\" %v" << a << ", %v" << b << " : ("
             << t << ", " << t << ") -> " << t << "\n";
        break;
      case 2:
        text << "  %v" << values << " = cv.chip.vxm_unary \"gelu\" %v" << a << " : " << t << "\n";
        break;
      case 3:
        text << "  %v" << values << " = cv.chip.mem_copy %v" << a << " : " << t << "\n";
        break;
      default:
        text << "  %t" << values << " = cv.chip.sxm_transpose %v" << a << ", [1, 0] : " << t
             << " -> tensor<32x16xf32>\n"
             << "  %v" << values << " = cv.chip.view %t" << values << " : tensor<32x16xf32> -> "
             << t << "\n";
        break;
      }
      ++values;
    }
    text << "  %r = cv.chip.mem_read %v" << values - 1 << ", \"y\" : tensor<16x32xf32>\n"
         << "  return %r : tensor<16x32xf32>\n}\n";
    INFO(text.str());

    auto context = compiler::test::makeContext();
    auto module = compiler::test::parse(*context, text.str());
    REQUIRE(
        mlir::succeeded(compiler::test::runPipeline(*module, compiler::test::placeAndSchedule())));
    ChipCostModel model(compiler::test::loadGroq1().chip);
    ChipSchedulingProblem problem(findOp<mlir::func::FuncOp>(*module), model);
    REQUIRE(mlir::succeeded(problem.check()));
    REQUIRE(mlir::succeeded(problem.verify()));

    std::map<Unit, uint64_t> unitFree;
    for (mlir::Operation *op : problem.getInstructions()) {
      uint64_t issue = static_cast<uint64_t>(issueOf(op));
      bool explained = issue == 0 || issue == unitFree[problem.getCost(op).unit];
      if (!isa<MemWriteOp>(op)) {
        for (mlir::Value operand : op->getOperands()) {
          explained = explained || issue == *problem.readyCycle(operand, op);
        }
      }
      INFO("instruction " << op->getName().getStringRef().str() << " at " << issue);
      CHECK(explained);
      unitFree[problem.getCost(op).unit] = issue + problem.getCost(op).occupancy;
    }
  }
}
