// Drops the buffers of a stage template that no instruction refers to and numbers the rest
// 1..n (MLIR-free: it only rewrites protobuf messages).
#pragma once

#include "schedule.pb.h"

#include <cstdint>
#include <vector>

namespace conveyor::compile {

/// Keeps the buffers of `lowered` that an instruction of `instructions` reads or writes, that
/// `keepIds` names (the carried residual pair), and the storage they alias (transitively);
/// the kept buffers are renumbered 1..n in their order, and `instructions` and `keepIds` are
/// rewritten to the new ids. Every chip of a stage holds its own copy of the template's buffer
/// table and every instance maps all of it, so each unused entry costs tp x stages entries of
/// the schedule file (a C2C send's own buffer once the send reads the value itself).
void compactBuffers(schedule::Schedule &lowered, std::vector<schedule::Instruction> &instructions,
                    std::vector<uint32_t *> keepIds);

} // namespace conveyor::compile
