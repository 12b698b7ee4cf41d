// Buffer-table compaction of a retimed stage template (rules in the header).
#include "BufferCompaction.h"

namespace conveyor::compile {

namespace pb = conveyor::schedule;

void compactBuffers(pb::Schedule &lowered, std::vector<pb::Instruction> &instructions,
                    std::vector<uint32_t *> keepIds) {
  const int count = lowered.buffers_size();
  std::vector<bool> keep(size_t(count) + 1, false);
  auto mark = [&](uint32_t id) {
    while (id != 0 && id <= uint32_t(count) && !keep[id]) {
      keep[id] = true;
      id = lowered.buffers(int(id) - 1).alias_of(); // a view keeps its storage
    }
  };
  for (const pb::Instruction &inst : instructions) {
    for (uint32_t id : inst.operands()) {
      mark(id);
    }
    for (uint32_t id : inst.results()) {
      mark(id);
    }
  }
  for (uint32_t *id : keepIds) {
    mark(*id);
  }
  std::vector<uint32_t> renamed(size_t(count) + 1, 0);
  google::protobuf::RepeatedPtrField<pb::Buffer> kept;
  for (const pb::Buffer &buffer : lowered.buffers()) {
    if (keep[buffer.id()]) {
      renamed[buffer.id()] = uint32_t(kept.size()) + 1;
      *kept.Add() = buffer;
    }
  }
  for (pb::Buffer &buffer : kept) {
    buffer.set_id(renamed[buffer.id()]);
    if (buffer.alias_of()) {
      buffer.set_alias_of(renamed[buffer.alias_of()]);
    }
  }
  lowered.mutable_buffers()->Swap(&kept);
  for (pb::Instruction &inst : instructions) {
    for (uint32_t &id : *inst.mutable_operands()) {
      id = renamed[id];
    }
    for (uint32_t &id : *inst.mutable_results()) {
      id = renamed[id];
    }
  }
  for (uint32_t *id : keepIds) {
    *id = renamed[*id];
  }
}

} // namespace conveyor::compile
