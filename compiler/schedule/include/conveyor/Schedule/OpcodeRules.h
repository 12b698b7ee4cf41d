// The schedule reader's per-opcode rules (unit, operand/result counts, elementwise kinds),
// exported so that the simulator's one-pass decoder checks exactly what validateSchedule
// checks (docs/simulator.md "Speed"). Defined in ScheduleFormat.cpp.
#pragma once

#include "schedule.pb.h"

#include <utility>

namespace conveyor::schedule {

/// The unit `op` must run on; UNIT_UNSPECIFIED for an unknown opcode.
Unit opcodeUnit(Opcode op);
/// VXM_SUM is variadic: it takes this many operands (each on its own stream; 32 streams
/// run in each direction) and one result.
constexpr int kSumMinOperands = 2;
constexpr int kSumMaxOperands = 32;

/// Operand and result counts `op` takes; {-1, -1} for an unknown opcode and {-1, 1} for
/// VXM_SUM (kSumMinOperands..kSumMaxOperands operands).
std::pair<int, int> opcodeArity(Opcode op);
/// Elementwise kinds VXM_BINARY / VXM_UNARY accept.
bool isBinaryElementwise(ElementwiseKind kind);
bool isUnaryElementwise(ElementwiseKind kind);

} // namespace conveyor::schedule
