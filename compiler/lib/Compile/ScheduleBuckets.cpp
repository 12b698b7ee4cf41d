// Merges per-bucket multi-chip schedules into one serving schedule (rules in the header and
// docs/schedule-format.md "Buckets"). MLIR-free: it only rewrites protobuf messages.
#include "ScheduleBuckets.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <unordered_map>

namespace conveyor::compile {

namespace pb = conveyor::schedule;

namespace {

bool sameTensor(const pb::Buffer &a, const pb::Buffer &b) {
  return a.dtype() == b.dtype() && a.kind() == b.kind() && a.size_bytes() == b.size_bytes() &&
         std::equal(a.shape().begin(), a.shape().end(), b.shape().begin(), b.shape().end()) &&
         a.data() == b.data();
}

uint32_t rootIn(const pb::Schedule &schedule, uint32_t id) {
  const uint32_t count = uint32_t(schedule.buffers_size());
  for (uint32_t guard = 0; guard < count && id > 0 && id <= count; ++guard) {
    const uint32_t source = schedule.buffers(int(id) - 1).alias_of();
    if (source == 0) {
      break;
    }
    id = source;
  }
  return id;
}

/// Per buffer id of `built`: the storage roots that some instruction streams in the same
/// cycles as this one (other operands of one instruction, or other results), on the
/// template's chip and through every instance's buffer map.
std::vector<std::vector<uint32_t>> streamPartners(const pb::Schedule &built) {
  const uint32_t count = uint32_t(built.buffers_size());
  std::vector<std::vector<uint32_t>> partners(size_t(count) + 1);
  std::vector<uint32_t> roots;
  for (const pb::Program &program : built.programs()) {
    auto pairUp = [&](const google::protobuf::RepeatedField<uint32_t> &ids,
                      const pb::ProgramInstance *instance) {
      roots.clear();
      for (uint32_t id : ids) {
        if (instance != nullptr) {
          auto mapped = instance->buffer_map().find(id);
          id = mapped == instance->buffer_map().end() ? id : mapped->second;
        }
        if (id > 0 && id <= count) {
          roots.push_back(rootIn(built, id));
        }
      }
      for (uint32_t a : roots) {
        for (uint32_t b : roots) {
          if (a != b) {
            partners[a].push_back(b);
          }
        }
      }
    };
    for (const pb::Instruction &inst : program.instructions()) {
      if (inst.operands_size() < 2 && inst.results_size() < 2) {
        continue; // one operand and at most one result: nothing streams beside it
      }
      pairUp(inst.operands(), nullptr);
      pairUp(inst.results(), nullptr);
      for (const pb::ProgramInstance &instance : program.instances()) {
        pairUp(inst.operands(), &instance);
        pairUp(inst.results(), &instance);
      }
    }
  }
  for (std::vector<uint32_t> &list : partners) {
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
  }
  return partners;
}

} // namespace

std::string ScheduleBucket::tag() const {
  return kind == pb::PREFILL ? fmt::format("prefill.p{}", length)
                             : fmt::format("decode.kv{}", length);
}

Result<std::vector<uint64_t>> parseBucketList(const std::string &text, const std::string &flag) {
  std::vector<uint64_t> lengths;
  if (text.empty() || text == "none") {
    return lengths;
  }
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos
                                                                     : comma - start);
    uint64_t value = 0;
    auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (item.empty() || error != std::errc() || end != item.data() + item.size() || value == 0) {
      return makeError(fmt::format("{} '{}': '{}' is not a positive token count; give a comma "
                                   "separated list such as 128,512,2048 (or none)",
                                   flag, text, item));
    }
    lengths.push_back(value);
    if (comma == std::string::npos) {
      break;
    }
    start = comma + 1;
  }
  std::sort(lengths.begin(), lengths.end());
  lengths.erase(std::unique(lengths.begin(), lengths.end()), lengths.end());
  return lengths;
}

uint64_t ScheduleBucketMerger::sramBytesUsed() const {
  uint64_t most = 0;
  for (const auto &[chip, used] : highWater) {
    most = std::max(most, used);
  }
  return most;
}

Status ScheduleBucketMerger::add(const pb::Schedule &built, const ScheduleBucket &bucket) {
  const std::string tag = bucket.tag();
  const int count = built.buffers_size();
  for (int i = 0; i < count; ++i) {
    if (built.buffers(i).id() != uint32_t(i) + 1) {
      return makeError(fmt::format("{}: buffer {} has id {}; the merge expects ids 1..{} in "
                                   "order",
                                   tag, i, built.buffers(i).id(), count));
    }
  }
  // Bytes each buffer of the bucket spans: one iteration, or every iteration of a block that
  // strides it (on the template's chip and through every instance's buffer map).
  std::vector<uint64_t> span(size_t(count) + 1, 0);
  std::vector<int64_t> stride(size_t(count) + 1, 0);
  for (int i = 0; i < count; ++i) {
    span[size_t(i) + 1] = built.buffers(i).size_bytes();
  }
  for (const pb::Program &program : built.programs()) {
    for (const pb::Repeat &block : program.repeats()) {
      for (const pb::BufferStride &entry : block.strides()) {
        if (entry.address_stride() == 0) {
          continue;
        }
        std::vector<uint32_t> ids = {entry.buffer()};
        for (const pb::ProgramInstance &instance : program.instances()) {
          auto mapped = instance.buffer_map().find(entry.buffer());
          if (mapped != instance.buffer_map().end()) {
            ids.push_back(mapped->second);
          }
        }
        for (uint32_t id : ids) {
          if (id == 0 || id > uint32_t(count) || entry.address_stride() < 0) {
            return makeError(fmt::format("{}: repeat block '{}' strides buffer {} by {}; the "
                                         "merge handles positive strides of known buffers",
                                         tag, block.name(), id, entry.address_stride()));
          }
          const uint64_t iterations = std::max<uint64_t>(1, block.iterations());
          span[id] = std::max(span[id], built.buffers(int(id) - 1).size_bytes() +
                                            uint64_t(entry.address_stride()) * (iterations - 1));
          stride[id] = entry.address_stride();
        }
      }
    }
  }

  // Place the bucket's buffers (nothing is committed until every chip fits).
  std::vector<std::vector<uint32_t>> partners;
  if (sramMap) {
    partners = streamPartners(built);
  }
  constexpr uint64_t kUnplaced = UINT64_MAX;
  std::vector<uint64_t> placedAt(size_t(count) + 1, kUnplaced); // roots of this bucket
  // A root's address after the move away from its partners' slices (see the constructor).
  auto apart = [&](uint32_t id, uint64_t at) {
    const uint64_t bytes = std::max<uint64_t>(span[id], 1);
    const uint32_t slices = sramMap->slices();
    if (stride[id] != 0 || bytes >= uint64_t(slices) * sramMap->vectorBytes()) {
      return at;
    }
    std::vector<system::SliceSpan> taken;
    for (uint32_t other : partners[id]) {
      if (placedAt[other] == kUnplaced || stride[other] != 0) {
        continue;
      }
      system::SliceSpan held =
          sramMap->span(placedAt[other], std::max<uint64_t>(span[other], 1));
      if (held.count < slices) {
        taken.push_back(held);
      }
    }
    for (uint32_t tries = 0; tries < slices && !taken.empty(); ++tries) {
      const system::SliceSpan mine = sramMap->span(at, bytes);
      uint32_t slice = 0;
      bool clash = false;
      for (const system::SliceSpan &held : taken) {
        clash = clash || sramMap->shareSlice(mine, held, slice);
      }
      if (!clash) {
        return at;
      }
      at += sramMap->vectorBytes();
    }
    return at; // every position clashes: the partners cover all slices
  };
  std::map<uint32_t, uint64_t> water = highWater;
  std::vector<uint32_t> newId(size_t(count) + 1, 0);
  std::vector<pb::Buffer> added;
  std::vector<std::pair<std::pair<uint32_t, std::string>, uint32_t>> named;
  uint32_t next = uint32_t(out.buffers_size()) + 1;
  std::map<std::pair<uint32_t, std::string>, uint32_t> occurrences;
  for (int i = 0; i < count; ++i) {
    const pb::Buffer &buffer = built.buffers(i);
    if (buffer.alias_of() != 0) {
      continue; // placed below, beside their source
    }
    const uint32_t id = buffer.id();
    // Weights match by chip, name and the how-many-th of that name they are on the chip.
    const uint32_t nth = occurrences[{buffer.chip(), buffer.name()}]++;
    const auto key = std::make_pair(buffer.chip(), buffer.name() + "#" + std::to_string(nth));
    if (buffer.kind() == pb::WEIGHT) {
      auto found = byName.find(key);
      if (found != byName.end()) {
        const pb::Buffer &root = out.buffers(int(found->second) - 1);
        auto rootStride = strideOf.find(found->second);
        const int64_t rootStep = rootStride == strideOf.end() ? 0 : rootStride->second;
        if (sameTensor(root, buffer) && rootStep == stride[id]) {
          newId[id] = found->second; // the same weight: resident once
          placedAt[id] = root.address();
          continue;
        }
      }
    }
    pb::Buffer placed = buffer;
    placed.set_id(next);
    uint64_t &free = water[buffer.chip()];
    placed.set_address(sramMap ? apart(id, alignUp(free)) : alignUp(free));
    placedAt[id] = placed.address();
    free = placed.address() + alignUp(std::max<uint64_t>(span[id], 1));
    if (buffer.kind() == pb::WEIGHT && !byName.count(key)) {
      named.push_back({key, next});
    }
    newId[id] = next++;
    added.push_back(std::move(placed));
  }
  // Views: same offset into their (placed) source as in the bucket.
  for (bool progress = true; progress;) {
    progress = false;
    for (int i = 0; i < count; ++i) {
      const pb::Buffer &buffer = built.buffers(i);
      if (buffer.alias_of() == 0 || newId[buffer.id()] != 0) {
        continue;
      }
      if (buffer.alias_of() > uint32_t(count)) {
        return makeError(fmt::format("{}: buffer {} is a view of unknown buffer {}", tag,
                                     buffer.id(), buffer.alias_of()));
      }
      const uint32_t source = newId[buffer.alias_of()];
      if (source == 0) {
        continue; // its source is a view not placed yet
      }
      const pb::Buffer &original = built.buffers(int(buffer.alias_of()) - 1);
      const pb::Buffer &target = source < uint32_t(out.buffers_size()) + 1
                                     ? out.buffers(int(source) - 1)
                                     : added[source - uint32_t(out.buffers_size()) - 1];
      pb::Buffer view = buffer;
      view.set_id(next);
      view.set_alias_of(source);
      view.set_address(target.address() + (buffer.address() - original.address()));
      newId[buffer.id()] = next++;
      added.push_back(std::move(view));
      progress = true;
    }
  }
  for (int i = 0; i < count; ++i) {
    if (newId[size_t(i) + 1] == 0) {
      return makeError(fmt::format("{}: buffer {} is part of a cycle of views", tag, i + 1));
    }
  }
  for (const auto &[chip, used] : water) {
    if (used > sramBytes) {
      return makeError(fmt::format(
          "{}: chip {} needs {} bytes of SRAM with this bucket's own buffers on top of the "
          "weights and the buckets before it ({} bytes), but has {}",
          tag, chip, used, highWater.count(chip) ? highWater.at(chip) : 0, sramBytes));
    }
  }

  // Transfer ids: this bucket's lie above every id merged so far.
  const uint64_t idBase = nextTransferId;
  uint64_t highestId = 0;
  auto remap = [&](uint32_t id) -> uint32_t {
    return id > 0 && id <= uint32_t(count) ? newId[id] : id;
  };

  // Commit.
  if (out.buffers_size() == 0 && out.programs_size() == 0) {
    out.set_magic(built.magic());
    out.set_version(built.version());
    out.set_compiler_version(built.compiler_version());
    *out.mutable_system() = built.system();
    out.set_model_name(built.model_name());
    out.set_source_path(built.source_path());
  }
  for (pb::Buffer &buffer : added) {
    *out.add_buffers() = std::move(buffer);
  }
  highWater = std::move(water);
  for (const auto &[key, id] : named) {
    byName.emplace(key, id);
  }
  for (int i = 0; i < count; ++i) {
    const uint32_t id = uint32_t(i) + 1;
    if (stride[id] != 0 && built.buffers(i).alias_of() == 0 && !strideOf.count(newId[id])) {
      strideOf[newId[id]] = stride[id];
    }
  }
  for (const pb::Program &program : built.programs()) {
    pb::Program *copy = out.add_programs();
    *copy = program;
    if (!bucket.plainNames) {
      const std::string &name = program.name();
      const size_t stage = name.rfind(".stage");
      copy->set_name(tag + (stage == std::string::npos ? "." + name : name.substr(stage)));
    }
    copy->set_kind(bucket.kind);
    copy->set_kv_length(bucket.kind == pb::DECODE ? bucket.length : 0);
    copy->set_prompt_length(bucket.kind == pb::PREFILL ? bucket.length : 0);
    uint64_t instanceOffset = 0;
    for (const pb::ProgramInstance &instance : program.instances()) {
      instanceOffset = std::max<uint64_t>(instanceOffset,
                                          uint64_t(std::max<int64_t>(0, instance.transfer_id_offset())));
    }
    for (int i = 0; i < copy->instructions_size(); ++i) {
      pb::Instruction *inst = copy->mutable_instructions(i);
      for (uint32_t &id : *inst->mutable_operands()) {
        id = remap(id);
      }
      for (uint32_t &id : *inst->mutable_results()) {
        id = remap(id);
      }
      if (inst->opcode() == pb::C2C_SEND || inst->opcode() == pb::C2C_RECV) {
        uint64_t last = inst->transfer_id();
        for (const pb::Repeat &block : program.repeats()) {
          if (uint32_t(i) >= block.first() && uint32_t(i) < block.first() + block.count()) {
            last += block.transfer_id_stride() * (std::max<uint64_t>(1, block.iterations()) - 1);
          }
        }
        highestId = std::max(highestId, last + instanceOffset);
        inst->set_transfer_id(inst->transfer_id() + idBase);
      }
    }
    for (pb::Repeat &block : *copy->mutable_repeats()) {
      for (pb::BufferStride &entry : *block.mutable_strides()) {
        entry.set_buffer(remap(entry.buffer()));
        for (uint32_t &id : *entry.mutable_per_iteration()) {
          id = remap(id);
        }
      }
    }
    for (pb::ProgramInstance &instance : *copy->mutable_instances()) {
      google::protobuf::Map<uint32_t, uint32_t> mapped;
      for (const auto &[from, to] : instance.buffer_map()) {
        mapped[remap(from)] = remap(to);
      }
      *instance.mutable_buffer_map() = std::move(mapped);
    }
  }
  nextTransferId = idBase + highestId + 1;
  return Status::success();
}

} // namespace conveyor::compile
