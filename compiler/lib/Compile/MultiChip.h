// Multi-chip compile (helper H2): partitioned cv.graph templates -> one v2 decode schedule.
#pragma once

#include "conveyor/Compile/Compile.h"
#include "conveyor/System/SystemConfig.h"
#include "schedule.pb.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"

namespace conveyor::compile {

/// Lowers every @stage<k> template of `module` (after conveyor-partition and
/// conveyor-lower-collectives) to cv.chip, schedules it with link slots, and assembles the
/// DECODE programs of all stages (templates applied to each stage's tensor-parallel ranks,
/// the layer body as one repetition block, SYNC per iteration) for `kvLength` tokens of
/// context. Fills the decode fields of `summary`. Emits an error on the op at fault.
mlir::FailureOr<schedule::Schedule> buildMultiChipSchedule(mlir::ModuleOp module,
                                                           const system::SystemConfig &config,
                                                           const CompileOptions &options,
                                                           uint64_t kvLength,
                                                           CompileSummary &summary);

} // namespace conveyor::compile
