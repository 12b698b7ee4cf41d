// Reads, validates, writes (atomically) and dumps *.sched schedule files. Free of MLIR.
#include "conveyor/Schedule/ScheduleFormat.h"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_map>
#include <vector>

namespace conveyor::schedule {
namespace {

// Element counts above this are rejected: they cannot be real tensors and their byte
// counts would overflow 64-bit arithmetic further down.
constexpr uint64_t kMaxElements = uint64_t(1) << 56;

unsigned bitsOf(DType type) {
  switch (type) {
  case F32:
  case INT32:
    return 32;
  case F16:
  case BF16:
    return 16;
  case FP8:
  case INT8:
    return 8;
  case INT4:
    return 4;
  case DTYPE_UNSPECIFIED:
  case DType_INT_MIN_SENTINEL_DO_NOT_USE_:
  case DType_INT_MAX_SENTINEL_DO_NOT_USE_:
    return 0;
  }
  return 0;
}

const char *dtypeText(DType type) {
  switch (type) {
  case F32:
    return "f32";
  case F16:
    return "f16";
  case BF16:
    return "bf16";
  case FP8:
    return "fp8";
  case INT8:
    return "int8";
  case INT4:
    return "int4";
  case INT32:
    return "int32";
  case DTYPE_UNSPECIFIED:
  case DType_INT_MIN_SENTINEL_DO_NOT_USE_:
  case DType_INT_MAX_SENTINEL_DO_NOT_USE_:
    break;
  }
  return "?";
}

const char *bufferKindText(BufferKind kind) {
  switch (kind) {
  case WEIGHT:
    return "weight";
  case INPUT:
    return "input";
  case OUTPUT:
    return "output";
  case ACTIVATION:
    return "activation";
  case BUFFER_KIND_UNSPECIFIED:
  case BufferKind_INT_MIN_SENTINEL_DO_NOT_USE_:
  case BufferKind_INT_MAX_SENTINEL_DO_NOT_USE_:
    break;
  }
  return "?";
}

const char *programKindText(ProgramKind kind) {
  switch (kind) {
  case FORWARD:
    return "forward";
  case PREFILL:
    return "prefill";
  case DECODE:
    return "decode";
  case PROGRAM_KIND_UNSPECIFIED:
  case ProgramKind_INT_MIN_SENTINEL_DO_NOT_USE_:
  case ProgramKind_INT_MAX_SENTINEL_DO_NOT_USE_:
    break;
  }
  return "?";
}

/// The unit an opcode must run on; UNIT_UNSPECIFIED for an unknown opcode.
Unit unitOf(Opcode op) {
  switch (op) {
  case MEM_WRITE:
  case MEM_READ:
  case MEM_COPY:
    return MEM;
  case MXM_MATMUL:
    return MXM;
  case VXM_BINARY:
  case VXM_UNARY:
  case VXM_SOFTMAX:
    return VXM;
  case SXM_TRANSPOSE:
    return SXM;
  case OPCODE_UNSPECIFIED:
  case Opcode_INT_MIN_SENTINEL_DO_NOT_USE_:
  case Opcode_INT_MAX_SENTINEL_DO_NOT_USE_:
    break;
  }
  return UNIT_UNSPECIFIED;
}

/// Operand and result counts each opcode takes.
std::pair<int, int> arityOf(Opcode op) {
  switch (op) {
  case MEM_WRITE:
    return {0, 1};
  case MEM_READ:
    return {1, 0};
  case MEM_COPY:
  case VXM_UNARY:
  case VXM_SOFTMAX:
  case SXM_TRANSPOSE:
    return {1, 1};
  case MXM_MATMUL:
  case VXM_BINARY:
    return {2, 1};
  case OPCODE_UNSPECIFIED:
  case Opcode_INT_MIN_SENTINEL_DO_NOT_USE_:
  case Opcode_INT_MAX_SENTINEL_DO_NOT_USE_:
    break;
  }
  return {-1, -1};
}

bool isBinaryKind(ElementwiseKind kind) {
  return kind == ADD || kind == SUB || kind == MUL || kind == DIV;
}
bool isUnaryKind(ElementwiseKind kind) { return kind == RELU || kind == GELU || kind == GELU_TANH; }

std::string bufferLabel(const Buffer &buffer) {
  if (buffer.name().empty()) {
    return fmt::format("buffer {}", buffer.id());
  }
  return fmt::format("buffer {} ('{}')", buffer.id(), buffer.name());
}

/// Buffer id -> position in `schedule.buffers()`. Ids are usually dense (1..n), so a flat
/// table serves them; sparse ids fall back to a hash map. This sits on the simulator's
/// per-instruction path, hence no ordered map.
class BufferIndex {
public:
  static constexpr int kMissing = -1;

  /// Sized for `count` ids of which the largest is `maxId`.
  BufferIndex(size_t count, uint32_t maxId) {
    dense = uint64_t(maxId) <= 4 * uint64_t(count) + 1024;
    if (dense) {
      flat.assign(size_t(maxId) + 1, kMissing);
    } else {
      sparse.reserve(count);
    }
  }
  /// Records `id` at `position`; false if the id is already taken.
  bool insert(uint32_t id, int position) {
    if (dense) {
      if (flat[id] != kMissing) {
        return false;
      }
      flat[id] = position;
      return true;
    }
    return sparse.emplace(id, position).second;
  }
  int find(uint32_t id) const {
    if (dense) {
      return id < flat.size() ? flat[id] : kMissing;
    }
    auto found = sparse.find(id);
    return found == sparse.end() ? kMissing : found->second;
  }

private:
  bool dense = true;
  std::vector<int> flat;
  std::unordered_map<uint32_t, int> sparse;
};

/// Structural checks shared by the reader and the writer. `where` prefixes every message
/// (the file name). Returns the first problem found. Messages are formatted only on
/// failure: the simulator runs this on every schedule, so it must cost O(1) per instruction.
Status validateStructure(const Schedule &schedule, const std::string &where) {
  auto fail = [&](std::string message) -> Status {
    return makeError(fmt::format("{}: {}", where, message));
  };
  const uint32_t chips = schedule.system().chips();
  if (chips == 0) {
    return fail("system.chips is 0; the schedule must record the chip count it was built for");
  }
  if (schedule.programs().empty()) {
    return fail("the schedule has no programs (truncated file?); recompile it");
  }

  // One pass over the buffer messages (they are scattered on the heap; the simulator runs
  // this on every schedule) that keeps compact copies of what later checks read, indexed by
  // position in schedule.buffers(). Errors keep their documented order: id problems first,
  // then the first other problem of a buffer, then views.
  struct BufferFacts {
    uint64_t bytes = 0;
    uint32_t id = 0, aliasOf = 0, chip = 0;
    int rank = 0;
  };
  const size_t bufferCount = size_t(schedule.buffers_size());
  std::vector<BufferFacts> facts;
  facts.reserve(bufferCount);
  uint32_t maxId = 0;
  std::optional<std::string> firstProblem;
  for (size_t position = 0; position < bufferCount; ++position) {
    const Buffer &buffer = schedule.buffers(int(position));
    BufferFacts &fact = facts.emplace_back();
    fact.id = buffer.id();
    fact.aliasOf = buffer.alias_of();
    fact.chip = buffer.chip();
    fact.rank = buffer.shape_size();
    maxId = std::max(maxId, buffer.id());
    if (firstProblem) {
      continue;
    }
    auto label = [&] { return bufferLabel(buffer); };
    if (buffer.chip() >= chips) {
      firstProblem = fmt::format("{}: chip {} does not exist (the schedule has {} chip(s))",
                                 label(), buffer.chip(), chips);
      continue;
    }
    if (!BufferKind_IsValid(buffer.kind()) || buffer.kind() == BUFFER_KIND_UNSPECIFIED) {
      firstProblem = fmt::format("{}: kind {} is not weight/input/output/activation", label(),
                                 int(buffer.kind()));
      continue;
    }
    if (!DType_IsValid(buffer.dtype()) || buffer.dtype() == DTYPE_UNSPECIFIED) {
      firstProblem =
          fmt::format("{}: dtype {} is not a known element type", label(), int(buffer.dtype()));
      continue;
    }
    uint64_t elements = 1;
    for (int64_t dim : buffer.shape()) {
      if (dim < 0) {
        firstProblem = fmt::format("{}: shape has negative dimension {}", label(), dim);
        break;
      }
      // elements * dim > 2^56, without a division per dimension.
      if ((unsigned __int128)elements * uint64_t(dim) > kMaxElements) {
        firstProblem = fmt::format("{}: shape has more than 2^56 elements", label());
        break;
      }
      elements *= uint64_t(dim);
    }
    if (firstProblem) {
      continue;
    }
    const uint64_t bytes = (elements * bitsOf(buffer.dtype()) + 7) / 8;
    if (!buffer.data().empty() && buffer.data().size() != bytes) {
      firstProblem =
          fmt::format("{}: data holds {} bytes but a {} tensor of {} elements needs {}", label(),
                      buffer.data().size(), dtypeText(buffer.dtype()), elements, bytes);
      continue;
    }
    fact.bytes = bytes;
  }

  BufferIndex byId(bufferCount, maxId);
  for (size_t position = 0; position < bufferCount; ++position) {
    const uint32_t id = facts[position].id;
    if (id == 0) {
      return fail(fmt::format("buffer '{}' has id 0; buffer ids must be > 0",
                              schedule.buffers(int(position)).name()));
    }
    if (!byId.insert(id, int(position))) {
      return fail(fmt::format("{}: duplicate buffer id {}",
                              bufferLabel(schedule.buffers(int(position))), id));
    }
  }
  if (firstProblem) {
    return fail(std::move(*firstProblem));
  }
  auto bufferById = [&](uint32_t id) -> const Buffer * {
    const int position = byId.find(id);
    return position == BufferIndex::kMissing ? nullptr : &schedule.buffers(position);
  };

  // Views last: by now every buffer's own shape is known to be sane.
  for (int position = 0; position < schedule.buffers_size(); ++position) {
    if (facts[size_t(position)].aliasOf == 0) {
      continue;
    }
    const Buffer &buffer = schedule.buffers(position);
    auto label = [&] { return bufferLabel(buffer); };
    const int targetPosition = byId.find(buffer.alias_of());
    if (targetPosition == BufferIndex::kMissing) {
      return fail(fmt::format("{}: alias_of {} is not a buffer", label(), buffer.alias_of()));
    }
    const Buffer &target = schedule.buffers(targetPosition);
    if (target.chip() != buffer.chip()) {
      return fail(fmt::format("{}: is a view of {} on chip {}, but lives on chip {}", label(),
                              bufferLabel(target), target.chip(), buffer.chip()));
    }
    if (!buffer.data().empty()) {
      return fail(fmt::format("{}: a view (alias_of {}) cannot carry its own data", label(),
                              buffer.alias_of()));
    }
    // Walk the alias chain to catch cycles; every step must keep the byte count. A chain
    // longer than the buffer count must revisit a buffer.
    size_t step = size_t(position);
    for (int steps = 0; facts[step].aliasOf != 0; ++steps) {
      const int next = byId.find(facts[step].aliasOf);
      if (next == BufferIndex::kMissing) {
        return fail(
            fmt::format("{}: alias chain reaches missing buffer {}", label(), facts[step].aliasOf));
      }
      if (steps >= schedule.buffers_size()) {
        return fail(fmt::format("{}: alias_of chain forms a cycle", label()));
      }
      step = size_t(next);
    }
    const uint64_t bytes = facts[size_t(position)].bytes;
    const uint64_t targetBytes = facts[size_t(targetPosition)].bytes;
    if (targetBytes != bytes) {
      return fail(fmt::format("{}: view of {} has {} bytes but its source has {}", label(),
                              bufferLabel(target), bytes, targetBytes));
    }
  }

  std::set<std::pair<uint32_t, std::string>> programNames;
  for (const Program &program : schedule.programs()) {
    const std::string programLabel =
        fmt::format("chip {}, program '{}'", program.chip(), program.name());
    if (program.chip() >= chips) {
      return fail(fmt::format("{}: chip {} does not exist (the schedule has {} chip(s))",
                              programLabel, program.chip(), chips));
    }
    if (!programNames.emplace(program.chip(), program.name()).second) {
      return fail(fmt::format("{}: two programs with this name on one chip", programLabel));
    }
    if (!ProgramKind_IsValid(program.kind()) || program.kind() == PROGRAM_KIND_UNSPECIFIED) {
      return fail(fmt::format("{}: kind {} is not forward/prefill/decode", programLabel,
                              int(program.kind())));
    }
    uint64_t previousCycle = 0;
    for (int index = 0; index < program.instructions_size(); ++index) {
      const Instruction &inst = program.instructions(index);
      auto at = [&] {
        return fmt::format("{}, instruction {} ({} '{}' at cycle {})", programLabel, index,
                           opcodeName(inst.opcode()), inst.location(), inst.issue_cycle());
      };
      if (!Opcode_IsValid(inst.opcode()) || inst.opcode() == OPCODE_UNSPECIFIED) {
        return fail(
            fmt::format("{}: opcode {} is unknown to this reader", at(), int(inst.opcode())));
      }
      if (inst.issue_cycle() < previousCycle) {
        return fail(fmt::format("{}: instructions must be sorted by issue_cycle, but the "
                                "previous one issues at cycle {}",
                                at(), previousCycle));
      }
      previousCycle = inst.issue_cycle();
      if (inst.unit() != unitOf(inst.opcode())) {
        return fail(fmt::format("{}: runs on unit {} but {} belongs to {}", at(),
                                unitName(inst.unit()), opcodeName(inst.opcode()),
                                unitName(unitOf(inst.opcode()))));
      }
      const auto [operandCount, resultCount] = arityOf(inst.opcode());
      if (inst.operands_size() != operandCount || inst.results_size() != resultCount) {
        return fail(fmt::format("{}: has {} operand(s) and {} result(s); {} takes {} and {}", at(),
                                inst.operands_size(), inst.results_size(),
                                opcodeName(inst.opcode()), operandCount, resultCount));
      }
      // The first id that is not a buffer of this program's chip, or nullopt. Runs for every
      // operand of every instruction: no string is built unless one is bad.
      auto badId = [&](const auto &ids) -> std::optional<uint32_t> {
        for (uint32_t id : ids) {
          const int position = byId.find(id);
          if (position == BufferIndex::kMissing || facts[size_t(position)].chip != program.chip()) {
            return id;
          }
        }
        return std::nullopt;
      };
      auto idProblem = [&](uint32_t id, const char *role) {
        const Buffer *found = bufferById(id);
        if (found == nullptr) {
          return fmt::format("{}: {} {} is not a buffer", at(), role, id);
        }
        return fmt::format("{}: {} {} lives on chip {}, not on this program's chip", at(), role,
                           bufferLabel(*found), found->chip());
      };
      if (std::optional<uint32_t> id = badId(inst.operands())) {
        return fail(idProblem(*id, "operand"));
      }
      if (std::optional<uint32_t> id = badId(inst.results())) {
        return fail(idProblem(*id, "result"));
      }
      switch (inst.opcode()) {
      case VXM_BINARY:
        if (!isBinaryKind(inst.kind())) {
          return fail(fmt::format("{}: kind {} is not a binary op (add, sub, mul, div)", at(),
                                  elementwiseName(inst.kind())));
        }
        break;
      case VXM_UNARY:
        if (!isUnaryKind(inst.kind())) {
          return fail(fmt::format("{}: kind {} is not a unary op (relu, gelu, gelu_tanh)", at(),
                                  elementwiseName(inst.kind())));
        }
        break;
      case VXM_SOFTMAX: {
        const int rank = facts[size_t(byId.find(inst.operands(0)))].rank;
        if (inst.axis() < 0 || inst.axis() >= rank) {
          return fail(fmt::format("{}: axis {} is outside [0, {})", at(), inst.axis(), rank));
        }
        break;
      }
      case SXM_TRANSPOSE: {
        const int rank = facts[size_t(byId.find(inst.operands(0)))].rank;
        bool valid = inst.perm_size() == rank;
        if (rank <= 64) { // the common case, without allocating
          uint64_t used = 0;
          for (int64_t axis : inst.perm()) {
            valid = valid && axis >= 0 && axis < rank && (used >> axis & 1) == 0;
            if (valid) {
              used |= uint64_t(1) << axis;
            }
          }
        } else {
          std::vector<bool> used(rank, false);
          for (int64_t axis : inst.perm()) {
            valid = valid && axis >= 0 && axis < rank && !used[axis];
            if (valid) {
              used[axis] = true;
            }
          }
        }
        if (!valid) {
          return fail(
              fmt::format("{}: perm is not a permutation of the operand's {} axes", at(), rank));
        }
        break;
      }
      case MEM_WRITE:
      case MEM_READ:
      case MEM_COPY:
      case MXM_MATMUL:
      case OPCODE_UNSPECIFIED:
      case Opcode_INT_MIN_SENTINEL_DO_NOT_USE_:
      case Opcode_INT_MAX_SENTINEL_DO_NOT_USE_:
        break;
      }
    }
  }
  return Status::success();
}

std::string readWholeFile(const std::string &path, bool &ok, std::string &problem) {
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
    ok = false;
    problem = "is a directory";
    return {};
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ok = false;
    problem = errno != 0 ? std::strerror(errno) : "cannot open the file";
    return {};
  }
  std::ostringstream text;
  text << in.rdbuf();
  ok = !in.bad();
  if (!ok) {
    problem = "read error";
  }
  return text.str();
}

/// The permission bits a new file gets from open(2) with mode 0666 under the current umask.
/// Read from /proc so that the process umask is never changed (umask(2) is process-wide).
mode_t newFileMode() {
  mode_t mask = 022;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Umask:", 0) == 0) {
      mask = mode_t(std::strtoul(line.c_str() + 6, nullptr, 8));
      break;
    }
  }
  return 0666 & ~mask;
}

} // namespace

Status validateSchedule(const Schedule &schedule, const std::string &sourceName) {
  return validateStructure(schedule, sourceName);
}

Result<Schedule> parseSchedule(const std::string &bytes, const std::string &sourceName) {
  const std::string badMagic = fmt::format(
      "'{}' is not a Conveyor schedule (bad magic); compile one with `conveyor compile`",
      sourceName);
  Schedule schedule;
  if (bytes.empty() || !schedule.ParseFromString(bytes) || schedule.magic() != kMagic) {
    return makeError(badMagic);
  }
  if (schedule.version() != kVersion) {
    return makeError(fmt::format(
        "'{}' is schedule format version {}, but this build reads version {}; recompile it "
        "with this build's `conveyor compile`",
        sourceName, schedule.version(), kVersion));
  }
  if (Status status = validateStructure(schedule, sourceName); !status) {
    return makeError(status.error());
  }
  return schedule;
}

Result<Schedule> readScheduleFile(const std::string &path) {
  bool ok = true;
  std::string problem;
  std::string bytes = readWholeFile(path, ok, problem);
  if (!ok) {
    return makeError(fmt::format("cannot read schedule '{}': {}", path, problem));
  }
  return parseSchedule(bytes, path);
}

Status writeFileAtomically(const std::string &path, const std::string &bytes) {
  std::string pattern = path + ".tmp-XXXXXX";
  std::vector<char> tempName(pattern.begin(), pattern.end());
  tempName.push_back('\0');
  const int fd = ::mkstemp(tempName.data());
  if (fd < 0) {
    return makeError(fmt::format("cannot write '{}': cannot create a temporary file beside it: {}",
                                 path, std::strerror(errno)));
  }
  const std::string temp(tempName.data());
  auto failWith = [&](const std::string &what) -> Status {
    const int savedErrno = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    return makeError(
        fmt::format("cannot write '{}': {}: {}", path, what, std::strerror(savedErrno)));
  };
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return failWith("write failed");
    }
    written += size_t(n);
  }
  if (::fchmod(fd, newFileMode()) != 0) {
    return failWith("cannot set permissions");
  }
  if (::fsync(fd) != 0) {
    return failWith("fsync failed");
  }
  if (::close(fd) != 0) {
    const int savedErrno = errno;
    ::unlink(temp.c_str());
    return makeError(
        fmt::format("cannot write '{}': close failed: {}", path, std::strerror(savedErrno)));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int savedErrno = errno;
    ::unlink(temp.c_str());
    return makeError(fmt::format("cannot write '{}': {}", path, std::strerror(savedErrno)));
  }
  return Status::success();
}

Status writeScheduleFile(const Schedule &schedule, const std::string &path) {
  const std::string where = fmt::format("refusing to write '{}'", path);
  if (schedule.magic() != kMagic) {
    return makeError(fmt::format("{}: magic is {:#x}, expected {:#x} (kMagic)", where,
                                 schedule.magic(), kMagic));
  }
  if (schedule.version() != kVersion) {
    return makeError(fmt::format("{}: version is {}, expected {} (kVersion)", where,
                                 schedule.version(), kVersion));
  }
  if (Status status = validateStructure(schedule, where); !status) {
    return status;
  }
  std::string bytes;
  if (!schedule.SerializeToString(&bytes)) {
    return makeError(fmt::format("{}: protobuf serialization failed (over 2 GiB?)", where));
  }
  return writeFileAtomically(path, bytes);
}

const char *opcodeName(Opcode op) {
  switch (op) {
  case MEM_WRITE:
    return "MEM_WRITE";
  case MEM_READ:
    return "MEM_READ";
  case MEM_COPY:
    return "MEM_COPY";
  case MXM_MATMUL:
    return "MXM_MATMUL";
  case VXM_BINARY:
    return "VXM_BINARY";
  case VXM_UNARY:
    return "VXM_UNARY";
  case VXM_SOFTMAX:
    return "VXM_SOFTMAX";
  case SXM_TRANSPOSE:
    return "SXM_TRANSPOSE";
  case OPCODE_UNSPECIFIED:
  case Opcode_INT_MIN_SENTINEL_DO_NOT_USE_:
  case Opcode_INT_MAX_SENTINEL_DO_NOT_USE_:
    break;
  }
  return "OPCODE_UNKNOWN";
}

const char *unitName(Unit unit) {
  switch (unit) {
  case MEM:
    return "MEM";
  case MXM:
    return "MXM";
  case VXM:
    return "VXM";
  case SXM:
    return "SXM";
  case C2C:
    return "C2C";
  case UNIT_UNSPECIFIED:
  case Unit_INT_MIN_SENTINEL_DO_NOT_USE_:
  case Unit_INT_MAX_SENTINEL_DO_NOT_USE_:
    break;
  }
  return "UNIT_UNKNOWN";
}

const char *elementwiseName(ElementwiseKind kind) {
  switch (kind) {
  case ADD:
    return "add";
  case SUB:
    return "sub";
  case MUL:
    return "mul";
  case DIV:
    return "div";
  case RELU:
    return "relu";
  case GELU:
    return "gelu";
  case GELU_TANH:
    return "gelu_tanh";
  case ELEMENTWISE_UNSPECIFIED:
  case ElementwiseKind_INT_MIN_SENTINEL_DO_NOT_USE_:
  case ElementwiseKind_INT_MAX_SENTINEL_DO_NOT_USE_:
    break;
  }
  return "none";
}

std::string dumpSchedule(const Schedule &schedule) {
  std::string out;
  auto line = [&out](const std::string &text) {
    out += text;
    out += '\n';
  };
  line(fmt::format("schedule: magic {:#x}, version {}, compiled by '{}'", schedule.magic(),
                   schedule.version(), schedule.compiler_version()));
  line(fmt::format("model: '{}' from '{}'", schedule.model_name(), schedule.source_path()));
  line(fmt::format("system: '{}', {} chip(s), fingerprint {:#018x}", schedule.system().name(),
                   schedule.system().chips(), schedule.system().fingerprint()));

  std::map<uint32_t, std::string> names;
  for (const Buffer &buffer : schedule.buffers()) {
    names[buffer.id()] = buffer.name().empty() ? fmt::format("#{}", buffer.id()) : buffer.name();
  }
  auto nameOf = [&names](uint32_t id) {
    auto found = names.find(id);
    return found == names.end() ? fmt::format("#{}?", id) : found->second;
  };

  line(fmt::format("buffers ({}):", schedule.buffers_size()));
  line(fmt::format("  {:>5} {:<24} {:>4} {:<10} {:<5} {:<18} {:>12} {:>10} {}", "id", "name",
                   "chip", "kind", "dtype", "shape", "address", "reserved", "notes"));
  for (const Buffer &buffer : schedule.buffers()) {
    std::string shape = "[";
    for (int i = 0; i < buffer.shape_size(); ++i) {
      shape += fmt::format("{}{}", i ? "x" : "", buffer.shape(i));
    }
    shape += "]";
    std::string notes;
    if (buffer.alias_of() != 0) {
      notes = fmt::format("view of {}", nameOf(buffer.alias_of()));
    } else if (buffer.kind() == WEIGHT) {
      notes = buffer.data().empty() ? "no data (shape only)"
                                    : fmt::format("{} data bytes", buffer.data().size());
    }
    line(fmt::format("  {:>5} {:<24} {:>4} {:<10} {:<5} {:<18} {:>12} {:>10} {}", buffer.id(),
                     nameOf(buffer.id()), buffer.chip(), bufferKindText(buffer.kind()),
                     dtypeText(buffer.dtype()), shape, buffer.address(), buffer.size_bytes(),
                     notes));
  }

  for (const Program &program : schedule.programs()) {
    line(fmt::format("program '{}' ({}) on chip {}: {} instruction(s), {} token(s)/step, "
                     "compiler end cycle {}",
                     program.name(), programKindText(program.kind()), program.chip(),
                     program.instructions_size(), program.tokens_per_step(),
                     program.compiler_cycles()));
    for (int index = 0; index < program.instructions_size(); ++index) {
      const Instruction &inst = program.instructions(index);
      std::string args;
      for (uint32_t id : inst.operands()) {
        args += (args.empty() ? "" : ", ") + nameOf(id);
      }
      std::string results;
      for (uint32_t id : inst.results()) {
        results += (results.empty() ? "" : ", ") + nameOf(id);
      }
      std::string extra;
      if (inst.opcode() == VXM_BINARY || inst.opcode() == VXM_UNARY) {
        extra = fmt::format(" {}", elementwiseName(inst.kind()));
      } else if (inst.opcode() == VXM_SOFTMAX) {
        extra = fmt::format(" axis={}", inst.axis());
      } else if (inst.opcode() == SXM_TRANSPOSE) {
        extra = " perm=[";
        for (int i = 0; i < inst.perm_size(); ++i) {
          extra += fmt::format("{}{}", i ? "," : "", inst.perm(i));
        }
        extra += "]";
      }
      line(fmt::format("  {:>5} cycle {:>10}  {:<3}.{} {:<13}{} ({}) -> ({})  @ {}", index,
                       inst.issue_cycle(), unitName(inst.unit()), inst.queue(),
                       opcodeName(inst.opcode()), extra, args, results,
                       inst.location().empty() ? "-" : inst.location()));
    }
  }
  return out;
}

Result<std::string> dumpScheduleJson(const Schedule &schedule) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  auto status = google::protobuf::util::MessageToJsonString(schedule, &json, options);
  if (!status.ok()) {
    return makeError("cannot render the schedule as JSON: " + status.ToString());
  }
  return json;
}

} // namespace conveyor::schedule
