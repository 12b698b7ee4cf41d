// Reads, validates, writes (atomically) and dumps *.sched schedule files. Free of MLIR.
#include "conveyor/Schedule/ScheduleFormat.h"
#include "conveyor/Schedule/OpcodeRules.h"
#include "conveyor/Support/HugePages.h"

#include <fmt/format.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <limits>
#include <new>
#include <map>
#include <optional>
#include <set>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_map>
#include <utility>
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
  case KV_CACHE:
    return "kv-cache";
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
  case C2C_SEND:
  case C2C_RECV:
    return C2C;
  case SYNC:
    return ICU;
  // Transformer ops
  case MEM_GATHER:
  case MEM_SLICE:
  case MEM_CONCAT:
  case MEM_KV_APPEND:
    return MEM;
  case SXM_BROADCAST:
    return SXM;
  case VXM_REDUCE:
  case VXM_RMS_NORM:
  case VXM_LAYER_NORM:
  case VXM_SELECT:
  case VXM_TOPK:
  case VXM_CAST:
  case VXM_ROTARY:
  case VXM_SUM:
    return VXM;
  case MXM_MATMUL_DQ:
    return MXM;
  case MXM_EXPERT_MATMUL:
  case MXM_EXPERT_MATMUL_DQ:
    return MXM;
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
  case C2C_SEND:
    return {1, 0};
  case C2C_RECV:
    return {0, 1};
  case SYNC:
    return {0, 0};
  // Transformer ops
  case MEM_SLICE:
  case SXM_BROADCAST:
  case VXM_REDUCE:
  case VXM_TOPK:
  case VXM_CAST:
  case MEM_KV_APPEND: // reads the new rows; results[0] views the KV_CACHE it writes
    return {1, 1};
  case MEM_GATHER:
  case MEM_CONCAT:
  case VXM_RMS_NORM:
    return {2, 1};
  case VXM_LAYER_NORM:
  case VXM_SELECT:
  case VXM_ROTARY:
  case MXM_MATMUL_DQ:
    return {3, 1};
  case MXM_EXPERT_MATMUL:
    return {3, 1};
  case MXM_EXPERT_MATMUL_DQ:
    return {4, 1};
  case VXM_SUM: // variadic: kSumMinOperands..kSumMaxOperands (checked by the reader)
    return {-1, 1};
  case OPCODE_UNSPECIFIED:
  case Opcode_INT_MIN_SENTINEL_DO_NOT_USE_:
  case Opcode_INT_MAX_SENTINEL_DO_NOT_USE_:
    break;
  }
  return {-1, -1};
}

bool isBinaryKind(ElementwiseKind kind) {
  return kind == ADD || kind == SUB || kind == MUL || kind == DIV ||
         kind == POW || kind == MAX || kind == MIN;
}
bool isUnaryKind(ElementwiseKind kind) {
  return kind == RELU || kind == GELU || kind == GELU_TANH ||
         (kind >= EXP && kind <= ERF);
}

std::string bufferLabel(const Buffer &buffer) {
  if (buffer.name().empty()) {
    return fmt::format("buffer {}", buffer.id());
  }
  return fmt::format("buffer {} ('{}')", buffer.id(), buffer.name());
}

// V2 structure (repeat blocks, template instances)

/// Repeat blocks: in bounds, sorted, disjoint, non-interleaving iterations, and strided
/// buffers that exist. Messages start with the program label.
Status validateRepeats(const Program &program, const std::string &programLabel) {
  uint64_t end = 0; // first instruction index not yet covered by a block
  for (int r = 0; r < program.repeats_size(); ++r) {
    const Repeat &block = program.repeats(r);
    const std::string label =
        fmt::format("{}, repeat block {} '{}'", programLabel, r, block.name());
    if (block.count() == 0 || block.iterations() == 0) {
      return makeError(fmt::format("{}: count and iterations must be >= 1", label));
    }
    if (uint64_t(block.first()) + block.count() > uint64_t(program.instructions_size())) {
      return makeError(fmt::format("{}: instructions [{}, {}) run past the program's {}", label,
                                   block.first(), uint64_t(block.first()) + block.count(),
                                   program.instructions_size()));
    }
    if (block.first() < end) {
      return makeError(fmt::format("{}: overlaps the previous block or is out of order (blocks "
                                   "must be sorted by `first` and must not nest)",
                                   label));
    }
    end = uint64_t(block.first()) + block.count();
    const uint64_t span = program.instructions(int(end - 1)).issue_cycle() -
                          std::min(program.instructions(int(end - 1)).issue_cycle(),
                                   program.instructions(int(block.first())).issue_cycle());
    if (block.iterations() > 1 && block.period_cycles() <= span) {
      return makeError(fmt::format("{}: period {} cycles is not longer than the block's {} "
                                   "cycles of issue: iterations would interleave",
                                   label, block.period_cycles(), span));
    }
    if (block.iterations() > (uint64_t(1) << 40)) {
      return makeError(fmt::format("{}: {} iterations is beyond 2^40", label, block.iterations()));
    }
  }
  return Status::success();
}

/// Every buffer id a program's instructions and repeat blocks name.
std::set<uint32_t> buffersUsedBy(const Program &program) {
  std::set<uint32_t> used;
  for (const Instruction &inst : program.instructions()) {
    used.insert(inst.operands().begin(), inst.operands().end());
    used.insert(inst.results().begin(), inst.results().end());
  }
  for (const Repeat &block : program.repeats()) {
    for (const BufferStride &stride : block.strides()) {
      used.insert(stride.buffer());
      used.insert(stride.per_iteration().begin(), stride.per_iteration().end());
    }
  }
  return used;
}

struct BufferFacts;
// A 576-chip schedule has hundreds of thousands of buffers: on huge pages, fewer faults.
using FactList = std::vector<BufferFacts, HugePageAllocator<BufferFacts>>;
using DimList = std::vector<int64_t, HugePageAllocator<int64_t>>;

/// What the checks after the buffer pass read of each buffer, copied out of the messages
/// (scattered on the heap) into one array indexed by position in schedule.buffers(); the
/// shapes lie back to back in BufferFacts::dims.
struct BufferFacts {
  uint64_t bytes = 0;
  uint32_t id = 0, aliasOf = 0, chip = 0;
  int rank = 0;
  int dtype = 0, kind = 0;
  size_t shapeAt = 0; // offset of the shape in `dims`

  /// Same dtype, kind and shape (template and instance buffers must agree).
  static bool sameTensorType(const FactList &facts,
                             const DimList &dims, size_t a, size_t b) {
    const BufferFacts &x = facts[a], &y = facts[b];
    return x.dtype == y.dtype && x.kind == y.kind && x.rank == y.rank &&
           std::equal(dims.begin() + ptrdiff_t(x.shapeAt),
                      dims.begin() + ptrdiff_t(x.shapeAt) + x.rank,
                      dims.begin() + ptrdiff_t(y.shapeAt));
  }
};

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

// V2 template instances
/// Instances of a template program: existing, distinct chips; every buffer the template
/// uses is mapped to a buffer of the instance's chip with the same dtype, shape and kind;
/// peers map to other chips.
Status validateInstances(const Schedule &schedule, const Program &program,
                         const std::string &programLabel, const BufferIndex &byId,
                         const FactList &facts, const DimList &dims,
                         std::set<std::pair<uint32_t, std::string>> &programNames) {
  if (program.instances().empty()) {
    return Status::success();
  }
  const uint32_t chips = schedule.system().chips();
  const std::set<uint32_t> used = buffersUsedBy(program);
  for (int i = 0; i < program.instances_size(); ++i) {
    const ProgramInstance &instance = program.instances(i);
    // Worded only on failure: a 576-chip schedule has hundreds of instances.
    auto label = [&] {
      return fmt::format("{}, instance {} (chip {})", programLabel, i, instance.chip());
    };
    if (instance.chip() >= chips) {
      return makeError(fmt::format("{}: chip does not exist (the schedule has {} chip(s))",
                                   label(), chips));
    }
    if (!programNames.emplace(instance.chip(), program.name()).second) {
      return makeError(fmt::format("{}: the chip already runs a program named '{}'", label(),
                                   program.name()));
    }
    for (uint32_t id : used) {
      auto mapped = instance.buffer_map().find(id);
      if (mapped == instance.buffer_map().end()) {
        return makeError(fmt::format("{}: template buffer {} is not in buffer_map; map every "
                                     "buffer the template uses",
                                     label(), id));
      }
      const int from = byId.find(id);
      const int to = byId.find(mapped->second);
      if (to == BufferIndex::kMissing) {
        return makeError(fmt::format("{}: buffer_map sends buffer {} to {}, which is not a buffer",
                                     label(), id, mapped->second));
      }
      if (facts[size_t(to)].chip != instance.chip()) {
        return makeError(fmt::format("{}: buffer_map sends buffer {} to {}, which lives on chip {}",
                                     label(), id, mapped->second, facts[size_t(to)].chip));
      }
      if (from != BufferIndex::kMissing &&
          !BufferFacts::sameTensorType(facts, dims, size_t(from), size_t(to))) {
        return makeError(fmt::format("{}: buffer_map sends buffer {} to {}, which differs in "
                                     "dtype, shape or kind",
                                     label(), id, mapped->second));
      }
    }
    for (const auto &[from, to] : instance.peer_map()) {
      if (to >= chips || to == instance.chip()) {
        return makeError(fmt::format("{}: peer_map sends chip {} to {}, which is not another chip",
                                     label(), from, to));
      }
    }
  }
  return Status::success();
}

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
  const size_t bufferCount = size_t(schedule.buffers_size());
  FactList facts;
  facts.reserve(bufferCount);
  DimList dims;
  dims.reserve(2 * bufferCount);
  uint32_t maxId = 0;
  std::optional<std::string> firstProblem;
  for (size_t position = 0; position < bufferCount; ++position) {
    const Buffer &buffer = schedule.buffers(int(position));
    BufferFacts &fact = facts.emplace_back();
    fact.id = buffer.id();
    fact.aliasOf = buffer.alias_of();
    fact.chip = buffer.chip();
    fact.rank = buffer.shape_size();
    fact.dtype = buffer.dtype();
    fact.kind = buffer.kind();
    fact.shapeAt = dims.size();
    dims.insert(dims.end(), buffer.shape().begin(), buffer.shape().end());
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
    if (buffer.shape_size() > kMaxRank) {
      firstProblem = fmt::format("{}: shape has {} dimensions; a schedule allows at most {}",
                                 label(), buffer.shape_size(), kMaxRank);
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
    if (Status status = validateRepeats(program, programLabel); !status) {
      return fail(status.error());
    }
    // Buffers named by repeat strides must be buffers of this program's chip
    for (const Repeat &block : program.repeats()) {
      auto check = [&](uint32_t id) -> Status {
        const int position = byId.find(id);
        if (position == BufferIndex::kMissing || facts[size_t(position)].chip != program.chip()) {
          return makeError(fmt::format("{}, repeat block '{}': stride buffer {} is not a buffer "
                                       "of chip {}",
                                       programLabel, block.name(), id, program.chip()));
        }
        return Status::success();
      };
      for (const BufferStride &stride : block.strides()) {
        if (Status status = check(stride.buffer()); !status) {
          return fail(status.error());
        }
        for (uint32_t id : stride.per_iteration()) {
          if (Status status = check(id); !status) {
            return fail(status.error());
          }
        }
      }
    }
    // The issue cycle the next instruction may not precede; after a repeated block it is
    // the block's last instruction in its last iteration.
    uint64_t previousCycle = 0;
    int nextRepeat = 0;
    for (int index = 0; index < program.instructions_size(); ++index) {
      const Instruction &inst = program.instructions(index);
      auto at = [&] {
        return fmt::format("{}, instruction {} ({} '{}' at cycle {})", programLabel, index,
                           opcodeName(inst.opcode()), inst.location(), inst.issue_cycle());
      };
      if (nextRepeat < program.repeats_size() &&
          program.repeats(nextRepeat).first() + program.repeats(nextRepeat).count() ==
              uint32_t(index)) {
        const Repeat &done = program.repeats(nextRepeat++);
        const Instruction &last = program.instructions(int(done.first() + done.count() - 1));
        const unsigned __int128 lastIssue =
            (unsigned __int128)(done.iterations() - 1) * done.period_cycles() +
            last.issue_cycle();
        if (lastIssue > (uint64_t(1) << 62)) {
          return fail(fmt::format("{}: repeat block '{}' ends beyond cycle 2^62", programLabel,
                                  done.name()));
        }
        previousCycle = std::max(previousCycle, uint64_t(lastIssue));
      }
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
      if (inst.opcode() == VXM_SUM) {
        if (inst.operands_size() < kSumMinOperands || inst.operands_size() > kSumMaxOperands ||
            inst.results_size() != 1) {
          return fail(fmt::format("{}: has {} operand(s) and {} result(s); VXM_SUM takes {} to {} "
                                  "and 1",
                                  at(), inst.operands_size(), inst.results_size(),
                                  kSumMinOperands, kSumMaxOperands));
        }
      } else if (inst.operands_size() != operandCount || inst.results_size() != resultCount) {
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
      case C2C_SEND:
      case C2C_RECV: {
        if (inst.peer_chip() >= chips || inst.peer_chip() == program.chip()) {
          return fail(fmt::format("{}: peer_chip {} is not another chip of the {}-chip system",
                                  at(), inst.peer_chip(), chips));
        }
        const uint32_t id = inst.opcode() == C2C_SEND ? inst.operands(0) : inst.results(0);
        const uint64_t bufferBytes = facts[size_t(byId.find(id))].bytes;
        if (inst.bytes() > bufferBytes) {
          return fail(fmt::format("{}: moves {} bytes but buffer {} holds {}", at(),
                                  inst.bytes(), id, bufferBytes));
        }
        if (inst.opcode() == C2C_SEND && inst.slot_start_cycle() < inst.issue_cycle()) {
          return fail(fmt::format("{}: link slot starts at cycle {}, before the send issues",
                                  at(), inst.slot_start_cycle()));
        }
        break;
      }
      case MEM_WRITE:
      case MEM_READ:
      case MEM_COPY:
      case MXM_MATMUL:
      case SYNC:
      case OPCODE_UNSPECIFIED:
      case Opcode_INT_MIN_SENTINEL_DO_NOT_USE_:
      case Opcode_INT_MAX_SENTINEL_DO_NOT_USE_:
        break;
      }
    }
    if (Status status = validateInstances(schedule, program, programLabel, byId, facts, dims,
                                              programNames);
        !status) {
      return fail(status.error());
    }
  }
  return Status::success();
}

/// An open schedule file, read a block at a time as the parser asks (see parseFileInto).
class ScheduleInput {
public:
  ~ScheduleInput() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
  /// Opens `path`; false with `problem` set when it cannot be read.
  bool open(const std::string &path, std::string &problem) {
    struct stat info {};
    if (::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
      problem = "is a directory";
      return false;
    }
    errno = 0;
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      problem = errno != 0 ? std::strerror(errno) : "cannot open the file";
      return false;
    }
    return true;
  }
  int fd = -1;
};

/// Bytes read from a schedule file per read(2): large enough that the calls cost nothing
/// next to parsing, small enough to stay in the cache (the whole file in one fresh buffer
/// cost a page fault and a page clear per 4 KiB or 2 MiB of it, and a copy).
constexpr int kReadBlock = 1 << 20;

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

Unit opcodeUnit(Opcode op) { return unitOf(op); }
std::pair<int, int> opcodeArity(Opcode op) { return arityOf(op); }
bool isBinaryElementwise(ElementwiseKind kind) { return isBinaryKind(kind); }
bool isUnaryElementwise(ElementwiseKind kind) { return isUnaryKind(kind); }

Status validateSchedule(const Schedule &schedule, const std::string &sourceName) {
  return validateStructure(schedule, sourceName);
}

namespace {

/// The reader's checks on a parsed schedule; `parsed` false is "not a schedule".
Status checkParsed(const Schedule &schedule, bool parsed, const std::string &sourceName) {
  // A failed parse keeps the fields read before the failure: a file whose magic (its first
  // field) was read is a schedule cut short or damaged after its start, not a foreign file.
  if (!parsed && schedule.magic() == kMagic) {
    return makeError(fmt::format("'{}' starts as a Conveyor schedule but does not parse: the "
                                 "file is cut short or corrupt; write it again with `conveyor "
                                 "compile`",
                                 sourceName));
  }
  if (!parsed || schedule.magic() != kMagic) {
    return makeError(fmt::format(
        "'{}' is not a Conveyor schedule (bad magic); compile one with `conveyor compile`",
        sourceName));
  }
  if (schedule.version() != kVersion) {
    return makeError(fmt::format("{}: schedule version {}, this build reads version {}: "
                                 "recompile with conveyor compile",
                                 sourceName, schedule.version(), kVersion));
  }
  return validateStructure(schedule, sourceName);
}

/// Parses `size` bytes at `bytes` into `schedule` (empty) and makes the reader's checks.
Status parseInto(Schedule &schedule, const char *bytes, size_t size,
                 const std::string &sourceName) {
  const bool parsed = size > 0 && size <= size_t(std::numeric_limits<int>::max()) &&
                      schedule.ParseFromArray(bytes, int(size));
  return checkParsed(schedule, parsed, sourceName);
}

/// Parses the file at `path` into `schedule` (empty) as it is read, a block at a time
/// (regular files, pipes and special files alike: read to end of file), and makes the
/// reader's checks.
Status parseFileInto(Schedule &schedule, const std::string &path) {
  ScheduleInput file;
  std::string problem;
  if (!file.open(path, problem)) {
    return makeError(fmt::format("cannot read schedule '{}': {}", path, problem));
  }
  google::protobuf::io::FileInputStream input(file.fd, kReadBlock);
  const bool parsed = schedule.ParseFromZeroCopyStream(&input);
  if (input.GetErrno() != 0) {
    return makeError(fmt::format("cannot read schedule '{}': {}", path,
                                 std::strerror(input.GetErrno())));
  }
  return checkParsed(schedule, parsed, path);
}

/// A heap-allocated schedule from `size` bytes at `bytes`, checked (parseInto).
Result<Schedule> parseScheduleBytes(const char *bytes, size_t size,
                                    const std::string &sourceName) {
  Schedule schedule;
  if (Status status = parseInto(schedule, bytes, size, sourceName); !status) {
    return makeError(status.error());
  }
  return schedule;
}

} // namespace

Result<Schedule> parseSchedule(const std::string &bytes, const std::string &sourceName) {
  return parseScheduleBytes(bytes.data(), bytes.size(), sourceName);
}

Result<Schedule> readScheduleFile(const std::string &path) {
  Schedule schedule;
  if (Status status = parseFileInto(schedule, path); !status) {
    return makeError(status.error());
  }
  return schedule;
}

Result<ArenaSchedule> readScheduleFileToArena(const std::string &path) {
  // Blocks grow to a few MiB: a large schedule takes tens of them instead of thousands; those
  // of 2 MiB and more are on huge pages (hugeAlloc).
  google::protobuf::ArenaOptions options;
  options.start_block_size = size_t(64) << 10;
  options.max_block_size = size_t(4) << 20;
  options.block_alloc = hugeAlloc;
  options.block_dealloc = hugeFree;
  ArenaSchedule loaded;
  loaded.arena = std::make_unique<google::protobuf::Arena>(options);
  loaded.schedule = google::protobuf::Arena::CreateMessage<Schedule>(loaded.arena.get());
  if (Status status = parseFileInto(*loaded.schedule, path); !status) {
    return makeError(status.error());
  }
  return loaded;
}

Status writeFileAtomically(const std::string &path, const std::string &bytes) {
  // `-o out/x.sched` works in a fresh checkout: missing parent folders are created.
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code error;
    std::filesystem::create_directories(parent, error);
    if (error) {
      return makeError(fmt::format("cannot write '{}': cannot create its folder '{}': {}", path,
                                   parent.string(), error.message()));
    }
  }
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
  case C2C_SEND:
    return "C2C_SEND";
  case C2C_RECV:
    return "C2C_RECV";
  case SYNC:
    return "SYNC";
  // Transformer ops (the enum's own names)
  case MEM_GATHER:
  case MEM_SLICE:
  case MEM_CONCAT:
  case SXM_BROADCAST:
  case VXM_REDUCE:
  case VXM_RMS_NORM:
  case VXM_LAYER_NORM:
  case VXM_SELECT:
  case VXM_TOPK:
  case VXM_CAST:
  case VXM_ROTARY:
  case MXM_MATMUL_DQ:
  case MXM_EXPERT_MATMUL:
  case MXM_EXPERT_MATMUL_DQ:
  case MEM_KV_APPEND:
  case VXM_SUM:
    return Opcode_Name(op).c_str();
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
  case ICU:
    return "ICU";
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
  // More VXM kinds
  case EXP:
    return "exp";
  case LOG:
    return "log";
  case SQRT:
    return "sqrt";
  case RSQRT:
    return "rsqrt";
  case RECIPROCAL:
    return "reciprocal";
  case NEG:
    return "neg";
  case ABS:
    return "abs";
  case SIN:
    return "sin";
  case COS:
    return "cos";
  case TANH:
    return "tanh";
  case SIGMOID:
    return "sigmoid";
  case SILU:
    return "silu";
  case ERF:
    return "erf";
  case POW:
    return "pow";
  case MAX:
    return "max";
  case MIN:
    return "min";
  case REDUCE_SUM:
    return "sum";
  case REDUCE_MEAN:
    return "mean";
  case REDUCE_MAX:
    return "max";
  case REDUCE_MIN:
    return "min";
  case ELEMENTWISE_UNSPECIFIED:
  case ElementwiseKind_INT_MIN_SENTINEL_DO_NOT_USE_:
  case ElementwiseKind_INT_MAX_SENTINEL_DO_NOT_USE_:
    break;
  }
  return "none";
}

// V2 parts of the text dump
template <typename NameOf, typename Line>
void dumpProgramV2Header(const Program &program, const NameOf &nameOf, const Line &line) {
  (void)nameOf;
  if (program.kv_length() || program.prompt_length() || program.sequences()) {
    line(fmt::format("  bucket: kv_length {}, prompt_length {}, sequences {}", program.kv_length(),
                     program.prompt_length(), program.sequences()));
  }
  if (program.drift_slack_cycles()) {
    line(fmt::format("  drift slack: {} cycles", program.drift_slack_cycles()));
  }
  if (!program.instances().empty()) {
    std::string chips;
    for (int i = 0; i < program.instances_size(); ++i) {
      if (i == 16) {
        chips += fmt::format(", ... ({} more)", program.instances_size() - 16);
        break;
      }
      chips += fmt::format("{}{}", i ? ", " : "", program.instances(i).chip());
    }
    line(fmt::format("  template: also runs on {} chip(s): {}", program.instances_size(), chips));
    for (int i = 0; i < std::min(program.instances_size(), 16); ++i) {
      const ProgramInstance &instance = program.instances(i);
      line(fmt::format("    chip {}: {} buffer(s), {} peer(s), {} port(s) remapped, transfer ids "
                       "{:+}",
                       instance.chip(), instance.buffer_map_size(), instance.peer_map_size(),
                       instance.link_map_size(), instance.transfer_id_offset()));
    }
  }
}

template <typename NameOf, typename Line>
void dumpRepeatAt(const Program &program, int index, const NameOf &nameOf, const Line &line) {
  for (const Repeat &block : program.repeats()) {
    if (block.first() != uint32_t(index)) {
      continue;
    }
    line(fmt::format("  repeat '{}': instructions [{}, {}) x {} iterations, every {} cycles, "
                     "transfer ids +{}/iteration",
                     block.name(), block.first(), uint64_t(block.first()) + block.count(),
                     block.iterations(), block.period_cycles(), block.transfer_id_stride()));
    for (const BufferStride &stride : block.strides()) {
      if (!stride.per_iteration().empty()) {
        std::string ids;
        for (uint32_t id : stride.per_iteration()) {
          ids += (ids.empty() ? "" : ", ") + nameOf(id);
        }
        line(fmt::format("    {} -> per iteration [{}]", nameOf(stride.buffer()), ids));
      } else {
        line(fmt::format("    {} moves {:+} bytes per iteration", nameOf(stride.buffer()),
                         stride.address_stride()));
      }
    }
  }
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
    dumpProgramV2Header(program, nameOf, line);
    for (int index = 0; index < program.instructions_size(); ++index) {
      const Instruction &inst = program.instructions(index);
      dumpRepeatAt(program, index, nameOf, line);
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
      } else if (inst.opcode() == C2C_SEND) {
        extra = fmt::format(" to chip {} link {} slot [{}, +{}) bytes {} id {}", inst.peer_chip(),
                            inst.link(), inst.slot_start_cycle(), inst.slot_cycles(),
                            inst.bytes(), inst.transfer_id());
      } else if (inst.opcode() == C2C_RECV) {
        extra = fmt::format(" from chip {} link {} bytes {} id {}", inst.peer_chip(), inst.link(),
                            inst.bytes(), inst.transfer_id());
      }
      line(fmt::format("  {:>5} cycle {:>10}  {:<3}.{} {:<13}{} ({}) -> ({})  @ {}", index,
                       inst.issue_cycle(), unitName(inst.unit()), inst.queue(),
                       opcodeName(inst.opcode()), extra, args, results,
                       inst.location().empty() ? "-" : inst.location()));
    }
  }
  // V2 symbol tables
  if (!schedule.symbols().empty()) {
    std::map<uint32_t, std::string> files;
    for (const SourceFile &file : schedule.source_files()) {
      files[file.id()] = file.path();
    }
    line(fmt::format("symbols ({}):", schedule.symbols_size()));
    for (const Symbol &symbol : schedule.symbols()) {
      auto file = files.find(symbol.source_file());
      line(fmt::format("  {:>5} {:<40} {}:{}", symbol.buffer(), symbol.name(),
                       file == files.end() ? "-" : file->second, symbol.line()));
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
