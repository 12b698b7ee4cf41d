// Verifiers of the cv.graph ops that conveyor-partition inserts: collectives inside a
// tensor-parallel group, sends/receives between pipeline stages, and layer repetition.
#include "conveyor/Dialect/Graph/GraphOps.h"

using namespace mlir;
using namespace conveyor::graph;

LogicalResult AllReduceOp::verify() {
  if (getGroupSize() < 2) {
    return emitOpError() << "group_size is " << getGroupSize()
                         << "; an all-reduce needs a group of at least 2 chips";
  }
  StringRef reduction = getReduction();
  if (reduction != "sum" && reduction != "max" && reduction != "min") {
    return emitOpError() << "reduction '" << reduction << "' is not one of sum, max, min";
  }
  return success();
}

LogicalResult AllGatherOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  auto result = cast<RankedTensorType>(getResult().getType());
  int64_t axis = getAxis(), group = getGroupSize(), parts = getParts();
  if (group < 2 || parts < 2 || group % parts != 0) {
    return emitOpError() << "parts (" << parts << ") must be >= 2 and divide group_size (" << group
                         << ")";
  }
  if (axis < 0 || axis >= input.getRank() || input.getRank() != result.getRank()) {
    return emitOpError() << "axis " << axis << " must be in [0, " << input.getRank()
                         << ") and input and result must have one rank";
  }
  if (input.getElementType() != result.getElementType()) {
    return emitOpError() << "result element type must be the input's";
  }
  for (int64_t i = 0; i < input.getRank(); ++i) {
    int64_t expected = i == axis ? input.getDimSize(i) * parts : input.getDimSize(i);
    if (!input.isDynamicDim(i) && result.getDimSize(i) != expected) {
      return emitOpError() << "result dimension " << i << " is " << result.getDimSize(i)
                           << ", expected " << expected;
    }
  }
  return success();
}

LogicalResult SendOp::verify() {
  if (getStageOffset() == 0) {
    return emitOpError() << "stage_offset must be non-zero (a send goes to another stage)";
  }
  return success();
}

LogicalResult RecvOp::verify() {
  if (getStageOffset() == 0) {
    return emitOpError() << "stage_offset must be non-zero (a recv comes from another stage)";
  }
  return success();
}

LogicalResult RepeatOp::verify() {
  if (getCount() < 1) {
    return emitOpError() << "count is " << getCount() << "; it must be at least 1";
  }
  Block &body = getBody().front();
  if (body.getNumArguments() != getInits().size()) {
    return emitOpError() << "body has " << body.getNumArguments() << " arguments for "
                         << getInits().size() << " carried values";
  }
  for (auto [index, pair] : llvm::enumerate(llvm::zip(body.getArguments(), getInits()))) {
    if (std::get<0>(pair).getType() != std::get<1>(pair).getType()) {
      return emitOpError() << "body argument #" << index << " has type "
                           << std::get<0>(pair).getType() << " but its init has "
                           << std::get<1>(pair).getType();
    }
  }
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield) {
    return emitOpError() << "body must end with cv.graph.yield";
  }
  if (yield.getValues().size() != getNumResults() || getNumResults() < getInits().size()) {
    return emitOpError() << "yields " << yield.getValues().size() << " values but has "
                         << getNumResults() << " results (carried values first)";
  }
  for (auto [index, pair] : llvm::enumerate(llvm::zip(yield.getValues(), getResults()))) {
    Type yielded = std::get<0>(pair).getType();
    if (yielded != std::get<1>(pair).getType() ||
        (index < getInits().size() && yielded != getInits()[index].getType())) {
      return emitOpError() << "yielded value #" << index << " has type " << yielded
                           << ", which differs from the result's (or the carried init's) type";
    }
  }
  return success();
}
