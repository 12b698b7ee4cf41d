// Reading and writing *.sched files: magic, version and integrity checks, atomic writes.
// Free of MLIR: the simulator and runtime link this library only.
#pragma once

#include "conveyor/Support/Result.h"
#include "schedule.pb.h"

#include <cstdint>
#include <memory>
#include <string>

namespace conveyor::schedule {

inline constexpr uint32_t kMagic = 0x4C535643; // "CVSL"
inline constexpr uint32_t kVersion = 2;
/// The most dimensions a buffer may have. Tensors of real models have at most 8; the
/// simulator keeps a buffer's rank in one byte of its 64-byte table entry (BufferTable.h).
inline constexpr int kMaxRank = 255;

/// Parses a schedule file; rejects files that are not schedules, other versions, and
/// schedules whose buffers/instructions are structurally inconsistent (dangling ids,
/// missing shapes). Timing is *not* checked here: that is the simulator's job.
Result<Schedule> readScheduleFile(const std::string &path);
Result<Schedule> parseSchedule(const std::string &bytes, const std::string &sourceName);

/// A schedule whose messages live in a protobuf arena it owns: parsed into a few large
/// blocks instead of one heap allocation per message, string and map entry, and freed at
/// once. For large read-only schedules (a 576-chip one has ~10^6 messages and map entries).
class ArenaSchedule {
public:
  const Schedule &get() const { return *schedule; }

private:
  friend Result<ArenaSchedule> readScheduleFileToArena(const std::string &path);
  std::unique_ptr<google::protobuf::Arena> arena;
  Schedule *schedule = nullptr;
};

/// readScheduleFile into an arena: the same checks and messages, the same schedule.
Result<ArenaSchedule> readScheduleFileToArena(const std::string &path);

/// The structural checks of parseSchedule on an in-memory schedule (no magic/version
/// check); messages start with `sourceName`. The simulator runs it on every schedule it is
/// given, since a schedule built in code never went through the reader.
Status validateSchedule(const Schedule &schedule, const std::string &sourceName);

/// Writes atomically: to `path + ".tmp-XXXX"` then rename, so a failure never leaves a
/// half-written file at `path`.
Status writeScheduleFile(const Schedule &schedule, const std::string &path);

/// Writes any bytes atomically (temp file + rename). Used for every output file.
Status writeFileAtomically(const std::string &path, const std::string &bytes);

/// Human-readable text form (what `conveyor dump` prints).
std::string dumpSchedule(const Schedule &schedule);
/// The whole schedule as JSON (protobuf's canonical JSON mapping; weight data base64).
Result<std::string> dumpScheduleJson(const Schedule &schedule);

// V2 port convention (docs/schedule-format.md "Ports")
/// The port chip `from` uses to reach chip `to` of the same node (chips c*n .. c*n+n-1 for
/// `chipsPerNode` n): the rank of `to` among the node's other chips. The receiver's port
/// from `from` is nodeLocalPort(to, from, n). The simulator derives the same rule
/// independently from the system description and rejects a C2C instruction that breaks it.
inline uint32_t nodeLocalPort(uint32_t from, uint32_t to, uint32_t chipsPerNode) {
  const uint32_t fromRank = from % chipsPerNode, toRank = to % chipsPerNode;
  return toRank < fromRank ? toRank : toRank - 1;
}

const char *opcodeName(Opcode op);
const char *unitName(Unit unit);
const char *elementwiseName(ElementwiseKind kind);

} // namespace conveyor::schedule
