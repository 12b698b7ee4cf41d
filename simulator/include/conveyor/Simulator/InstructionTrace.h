// One executed instruction as the simulator re-derived it, for the activity trace (collected
// on request only): by the single-chip path per instruction, by the fabric engine per
// executed instruction (each iteration of a repeat block, each chip a template runs on).
#pragma once

#include "schedule.pb.h"

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace conveyor::sim {

struct InstructionTrace {
  uint32_t index = 0; // position in its program
  schedule::Unit unit = schedule::UNIT_UNSPECIFIED;
  uint32_t queue = 0;
  schedule::Opcode opcode = schedule::OPCODE_UNSPECIFIED;
  schedule::ElementwiseKind kind = schedule::ELEMENTWISE_UNSPECIFIED;
  uint64_t issueCycle = 0; // program-local, as in the schedule (plus the block's period x iteration)
  uint64_t occupancy = 0;  // cycles the unit is busy (a send: until its link slot ends)
  uint64_t duration = 0;   // cycles until the result is readable
  std::optional<uint64_t> iteration; // inside a repeat block: which iteration (from 0)
  std::string location;              // source node
  std::vector<std::string> operands, results; // buffer names ("#id" when unnamed), as the
                                              // run maps them (an instance's own buffers)
  /// C2C_SEND and C2C_RECV of a traced multi-chip run: the transfer, named by its send
  /// (chip, program, instruction, iteration), the same on both ends; empty when the other
  /// end's chip is not traced. The trace draws an arrow from the send to the receive.
  std::string flow;
};

/// The trace's chip filter (SimulationOptions::traceChips, renderTrace's onlyChips): an empty
/// set is every chip.
inline bool chipTraced(const std::set<uint32_t> &chips, uint32_t chip) {
  return chips.empty() || chips.count(chip) > 0;
}

} // namespace conveyor::sim
