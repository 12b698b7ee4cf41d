// ScheduleBucketMerger: buckets share their weights, get their own SRAM for everything else,
// are renamed by kind and length, and keep transfer ids apart; a bucket that does not fit
// leaves the merged schedule as it was.
#include "ScheduleBuckets.h"
#include "conveyor/Schedule/ScheduleFormat.h"

#include <catch2/catch.hpp>

using namespace conveyor;
using namespace conveyor::compile;
namespace pb = conveyor::schedule;

namespace {

pb::Buffer *addBuffer(pb::Schedule &s, const std::string &name, uint32_t chip, pb::BufferKind kind,
                      int64_t elements) {
  pb::Buffer *buffer = s.add_buffers();
  buffer->set_id(uint32_t(s.buffers_size()));
  buffer->set_name(name);
  buffer->set_chip(chip);
  buffer->set_kind(kind);
  buffer->set_dtype(pb::INT8);
  buffer->add_shape(elements);
  buffer->set_size_bytes(uint64_t(elements));
  return buffer;
}

/// Two stages: chip 0 sends activation x (read with weight w) to chip 1, which receives y.
pb::Schedule twoStages(int64_t activationBytes, int64_t weightBytes = 1000) {
  pb::Schedule s;
  s.set_magic(pb::kMagic);
  s.set_version(pb::kVersion);
  s.set_model_name("m");
  addBuffer(s, "w", 0, pb::WEIGHT, weightBytes);
  addBuffer(s, "x", 0, pb::ACTIVATION, activationBytes);
  addBuffer(s, "y", 1, pb::ACTIVATION, activationBytes);
  pb::Program *send = s.add_programs();
  send->set_name("decode.stage0");
  send->set_kind(pb::DECODE);
  send->set_chip(0);
  pb::Instruction *copy = send->add_instructions();
  copy->set_opcode(pb::MEM_COPY);
  copy->add_operands(1);
  copy->add_results(2);
  pb::Instruction *out = send->add_instructions();
  out->set_opcode(pb::C2C_SEND);
  out->add_operands(2);
  out->set_peer_chip(1);
  out->set_transfer_id(1);
  pb::Program *recv = s.add_programs();
  recv->set_name("decode.stage1");
  recv->set_kind(pb::DECODE);
  recv->set_chip(1);
  pb::Instruction *in = recv->add_instructions();
  in->set_opcode(pb::C2C_RECV);
  in->add_results(3);
  in->set_peer_chip(0);
  in->set_transfer_id(1);
  return s;
}

} // namespace

TEST_CASE("bucket merge: weights once, fresh SRAM for the rest, renamed programs") {
  ScheduleBucketMerger merger(1 << 20);
  REQUIRE(merger.add(twoStages(100), {pb::DECODE, 64, true}).ok());
  REQUIRE(merger.add(twoStages(800), {pb::PREFILL, 8}).ok());
  const pb::Schedule &merged = merger.merged();
  CHECK(merged.magic() == pb::kMagic);
  // w, x, y of the first bucket; x and y of the second (w is shared).
  REQUIRE(merged.buffers_size() == 5);
  CHECK(merged.buffers(0).address() == 0);    // w on chip 0, 1000 bytes -> 1024
  CHECK(merged.buffers(1).address() == 1024); // x, 100 -> 128
  CHECK(merged.buffers(3).name() == "x");
  CHECK(merged.buffers(3).address() == 1152); // the second bucket's x above everything
  CHECK(merged.buffers(4).chip() == 1);
  CHECK(merged.buffers(4).address() == 128);  // the second y above the first on chip 1
  CHECK(merger.sramBytesUsed() == 1152 + 832);

  REQUIRE(merged.programs_size() == 4);
  CHECK(merged.programs(0).name() == "decode.stage0"); // plain names kept
  CHECK(merged.programs(0).kv_length() == 64);
  const pb::Program &prefill = merged.programs(2);
  CHECK(prefill.name() == "prefill.p8.stage0");
  CHECK(prefill.kind() == pb::PREFILL);
  CHECK(prefill.prompt_length() == 8);
  CHECK(prefill.kv_length() == 0);
  CHECK(prefill.instructions(0).operands(0) == 1); // the shared weight
  CHECK(prefill.instructions(0).results(0) == 4);
  CHECK(prefill.instructions(1).operands(0) == 4);
  CHECK(merged.programs(3).name() == "prefill.p8.stage1");
  CHECK(merged.programs(3).instructions(0).results(0) == 5);
  // Transfer ids: the second bucket's lie above the first's (1), sender and receiver alike.
  CHECK(merged.programs(1).instructions(0).transfer_id() == 1);
  CHECK(prefill.instructions(1).transfer_id() == 3);
  CHECK(merged.programs(3).instructions(0).transfer_id() == 3);
}

TEST_CASE("bucket merge: a weight of another shape is not shared; a bucket that does not fit "
          "changes nothing") {
  ScheduleBucketMerger merger(4096);
  REQUIRE(merger.add(twoStages(100), {pb::DECODE, 64, true}).ok());
  REQUIRE(merger.add(twoStages(100, 500), {pb::DECODE, 16}).ok());
  CHECK(merger.merged().buffers_size() == 6); // its own 500-byte w
  CHECK(merger.merged().buffers(3).name() == "w");
  CHECK(merger.merged().buffers(3).address() == 1152);
  const int programs = merger.merged().programs_size();
  const uint64_t used = merger.sramBytesUsed();

  Status refused = merger.add(twoStages(5000), {pb::PREFILL, 512});
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error(), Catch::Contains("prefill.p512"));
  CHECK_THAT(refused.error(), Catch::Contains("4096"));
  CHECK(merger.merged().buffers_size() == 6);
  CHECK(merger.merged().programs_size() == programs);
  CHECK(merger.sramBytesUsed() == used);
}

TEST_CASE("bucket lists parse, sort and refuse what is not a length") {
  auto parsed = parseBucketList("512,128,512", "--kv-buckets");
  REQUIRE(parsed.ok());
  CHECK(*parsed == std::vector<uint64_t>{128, 512});
  CHECK(parseBucketList("none", "--prefill-buckets")->empty());
  auto zero = parseBucketList("0", "--kv-buckets");
  REQUIRE_FALSE(zero.ok());
  CHECK_THAT(zero.error(), Catch::Contains("--kv-buckets"));
  CHECK_FALSE(parseBucketList("8,x", "--prefill-buckets").ok());
  CHECK_FALSE(parseBucketList("8,", "--prefill-buckets").ok());
}
