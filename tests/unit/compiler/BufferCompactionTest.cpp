// compactBuffers: a stage template keeps only the buffers its instructions touch (and the
// storage they alias, and the carried pair), renumbered 1..n with every reference rewritten.
#include "BufferCompaction.h"

#include <catch2/catch.hpp>

using namespace conveyor::compile;
namespace pb = conveyor::schedule;

namespace {

pb::Buffer *addBuffer(pb::Schedule &s, const std::string &name, uint32_t aliasOf = 0) {
  pb::Buffer *buffer = s.add_buffers();
  buffer->set_id(uint32_t(s.buffers_size()));
  buffer->set_name(name);
  buffer->set_alias_of(aliasOf);
  return buffer;
}

pb::Instruction instruction(std::vector<uint32_t> operands, std::vector<uint32_t> results) {
  pb::Instruction inst;
  for (uint32_t id : operands) {
    inst.add_operands(id);
  }
  for (uint32_t id : results) {
    inst.add_results(id);
  }
  return inst;
}

} // namespace

TEST_CASE("compactBuffers drops untouched buffers and renumbers the rest") {
  pb::Schedule s;
  addBuffer(s, "w");         // 1: read
  addBuffer(s, "send_copy"); // 2: nothing reads or writes it any more
  addBuffer(s, "storage");   // 3: only aliased
  addBuffer(s, "view", 3);   // 4: written, a view of 3
  addBuffer(s, "unused");    // 5
  addBuffer(s, "carried");   // 6: named by the caller only
  addBuffer(s, "out");       // 7
  std::vector<pb::Instruction> instructions{instruction({1}, {4}), instruction({4, 1}, {7})};
  uint32_t carried = 6;
  compactBuffers(s, instructions, {&carried});

  REQUIRE(s.buffers_size() == 5);
  std::vector<std::string> names;
  for (int i = 0; i < s.buffers_size(); ++i) {
    CHECK(s.buffers(i).id() == uint32_t(i + 1));
    names.push_back(s.buffers(i).name());
  }
  CHECK(names == std::vector<std::string>{"w", "storage", "view", "carried", "out"});
  CHECK(s.buffers(2).alias_of() == 2); // the view follows its storage's new id
  CHECK(instructions[0].operands(0) == 1);
  CHECK(instructions[0].results(0) == 3);
  CHECK(instructions[1].operands(0) == 3);
  CHECK(instructions[1].operands(1) == 1);
  CHECK(instructions[1].results(0) == 5);
  CHECK(carried == 4);
}

TEST_CASE("compactBuffers keeps a table whose every buffer is used as it was") {
  pb::Schedule s;
  addBuffer(s, "a");
  addBuffer(s, "b");
  std::vector<pb::Instruction> instructions{instruction({1}, {2})};
  compactBuffers(s, instructions, {});
  REQUIRE(s.buffers_size() == 2);
  CHECK(s.buffers(0).name() == "a");
  CHECK(s.buffers(1).name() == "b");
  CHECK(instructions[0].operands(0) == 1);
  CHECK(instructions[0].results(0) == 2);
}
