// The schedule reader's per-opcode rules (unit, operand/result counts, elementwise kinds),
// exported so that the simulator's one-pass decoder checks exactly what validateSchedule
// checks (docs/simulator.md "Speed"). Defined in ScheduleFormat.cpp.
#pragma once

#include "schedule.pb.h"

#include <utility>

namespace conveyor::schedule {

/// The unit `op` must run on; UNIT_UNSPECIFIED for an unknown opcode.
Unit opcodeUnit(Opcode op);
/// Operand and result counts `op` takes; {-1, -1} for an unknown opcode.
std::pair<int, int> opcodeArity(Opcode op);
/// Elementwise kinds VXM_BINARY / VXM_UNARY accept.
bool isBinaryElementwise(ElementwiseKind kind);
bool isUnaryElementwise(ElementwiseKind kind);

} // namespace conveyor::schedule
