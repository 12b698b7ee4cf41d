// simulateGroups (several steps of one schedule, checked once) against simulate() on a copy
// of the schedule per step, the way the steps were simulated before: the same reports, byte
// for byte, or the same message, on a valid two-step schedule and on random mutations of it.
#include "FabricTestSupport.h"

#include "conveyor/Simulator/Simulator.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace conveyor;
using test::FabricBuilder;
using test::portTo;

namespace {

constexpr uint64_t kVectorSerialisation = 22; // ceil(320 B / 15 B per cycle)
constexpr uint64_t kHop = 216;

/// Two steps on a drifting 16-chip fabric, each a ring template over the chips of node 0
/// (C2C, SYNC, instances) and a local program with a strided, repeated block; the second
/// step's programs are the first's under other names, with a longer block.
FabricBuilder twoSteps(const system::SystemConfig &config) {
  FabricBuilder b(config);
  std::vector<uint32_t> mine, got;
  for (uint32_t chip = 0; chip < 8; ++chip) {
    mine.push_back(b.buffer(chip, "shard", schedule::WEIGHT));
    got.push_back(b.buffer(chip, "from_left", schedule::ACTIVATION));
  }
  const uint32_t kv = b.buffer(0, "kv", schedule::ACTIVATION, {320}, 0, 320 * 8);
  for (const std::string step : {"a", "b"}) {
    schedule::Program &ring = b.program("ring." + step, 0);
    ring.set_drift_slack_cycles(4);
    FabricBuilder::sync(ring, 0);
    FabricBuilder::send(ring, 1, mine[0], 1, portTo(0, 1), 1, kVectorSerialisation, 1);
    FabricBuilder::recv(ring, 1 + kVectorSerialisation + kHop, got[0], 7, portTo(0, 7), 1);
    FabricBuilder::ringInstances(ring, {&mine, &got});
    schedule::Program &local = b.program("local." + step, 0);
    FabricBuilder::relu(local, 0, mine[0], kv);
    schedule::Repeat &block = FabricBuilder::repeat(local, 0, 1, step == "a" ? 4 : 8, 20);
    FabricBuilder::addressStride(block, kv, 320);
  }
  return b;
}

/// The groups simulated one by one, each from its own copy of the schedule (the reference).
std::vector<Result<sim::SimulationReport>>
simulateCopies(const schedule::Schedule &schedule, const system::SystemConfig &config,
               const std::vector<std::vector<int>> &groups) {
  std::vector<Result<sim::SimulationReport>> results;
  for (const std::vector<int> &group : groups) {
    schedule::Schedule step = schedule;
    step.clear_programs();
    for (int position : group) {
      *step.add_programs() = schedule.programs(position);
    }
    results.push_back(sim::simulate(step, config, {}, {}));
    if (!results.back()) {
      break;
    }
  }
  return results;
}

/// Every report as JSON, or the message of the failing group.
std::vector<std::string> outcome(const std::vector<Result<sim::SimulationReport>> &results) {
  std::vector<std::string> texts;
  for (const Result<sim::SimulationReport> &result : results) {
    texts.push_back(result ? sim::renderJson(*result) : "error: " + result.error());
  }
  return texts;
}

} // namespace

TEST_CASE("simulateGroups gives each step the report of simulate() on the step's own copy",
          "[fabric][steps]") {
  const system::SystemConfig config = test::fabricSystem(16, 50);
  const FabricBuilder b = twoSteps(config);
  const std::vector<std::vector<int>> groups = {{0, 1}, {2, 3}};
  const std::vector<Result<sim::SimulationReport>> grouped =
      sim::simulateGroups(b.s, config, groups, {}, {});
  REQUIRE(grouped.size() == 2);
  for (const Result<sim::SimulationReport> &report : grouped) {
    INFO((report ? std::string() : report.error()));
    REQUIRE(report);
  }
  // The second step's kv spans 8 layers of 320 bytes on chip 0, the first's 4.
  CHECK(grouped[0]->sramBytesUsedPerChip[0] == 320 + 320 + 320 * 4);
  CHECK(grouped[1]->sramBytesUsedPerChip[0] == 320 + 320 + 320 * 8);
  CHECK(outcome(grouped) == outcome(simulateCopies(b.s, config, groups)));
  // A schedule the reader has validated: the fabric engine skips its repeat of the check,
  // with the same reports.
  sim::SimulationOptions validated;
  validated.structureValidated = true;
  CHECK(outcome(sim::simulateGroups(b.s, config, groups, {}, validated)) == outcome(grouped));
  schedule::Schedule first = b.s; // the first step alone (the steps reuse transfer ids)
  first.mutable_programs()->DeleteSubrange(2, 2);
  REQUIRE(sim::simulate(first, config, {}, validated));
  CHECK(sim::renderJson(*sim::simulate(first, config, {}, validated)) ==
        sim::renderJson(*sim::simulate(first, config, {}, {})));
  // Groups in another order, and one group of everything.
  for (const std::vector<std::vector<int>> &other : {std::vector<std::vector<int>>{{3, 2}, {1, 0}},
                                                     std::vector<std::vector<int>>{{0, 1, 2, 3}}}) {
    CHECK(outcome(sim::simulateGroups(b.s, config, other, {}, {})) ==
          outcome(simulateCopies(b.s, config, other)));
  }
}

TEST_CASE("simulateGroups and per-step copies agree on randomly mutated schedules",
          "[fabric][steps]") {
  // Single-field mutations of either step: a mutation of one step must leave the other's
  // report as it was, and a broken schedule must give the message the copy gives (checks
  // that fail for the whole schedule send simulateGroups to copies).
  const system::SystemConfig config = test::fabricSystem(16, 50);
  const FabricBuilder b = twoSteps(config);
  const std::vector<std::vector<int>> groups = {{0, 1}, {2, 3}};
  test::MutationRng rng(2024);
  auto next = [&](uint64_t bound) { return rng.next(bound); };
  auto value = [&] { return rng.value(false); };
  size_t accepted = 0, rejected = 0;
  for (int round = 0; round < 1500; ++round) {
    schedule::Schedule s = b.s;
    const int ring = 2 * int(next(2)), local = ring + 1;
    schedule::Program &p = *s.mutable_programs(ring + int(next(2)));
    schedule::Instruction &inst =
        *p.mutable_instructions(int(next(uint64_t(p.instructions_size()))));
    const uint64_t v = value();
    switch (next(12)) {
    case 0:
      inst.set_issue_cycle(v);
      break;
    case 1:
      inst.set_link(uint32_t(v));
      break;
    case 2:
      inst.set_peer_chip(uint32_t(v));
      break;
    case 3:
      inst.set_transfer_id(v);
      break;
    case 4:
      if (inst.operands_size() > 0) {
        inst.set_operands(0, uint32_t(v));
      } else if (inst.results_size() > 0) {
        inst.set_results(0, uint32_t(v));
      }
      break;
    case 5:
      s.mutable_programs(local)->mutable_repeats(0)->set_iterations(v % 64);
      break;
    case 6:
      s.mutable_programs(local)->mutable_repeats(0)->mutable_strides(0)->set_address_stride(
          int64_t(v % 2048) - 1024);
      break;
    case 7: {
      schedule::ProgramInstance &instance =
          *s.mutable_programs(ring)->mutable_instances(int(next(7)));
      (*instance.mutable_peer_map())[uint32_t(next(9))] = uint32_t(v % 20);
      break;
    }
    case 8: {
      schedule::ProgramInstance &instance =
          *s.mutable_programs(ring)->mutable_instances(int(next(7)));
      (*instance.mutable_buffer_map())[uint32_t(next(20))] = uint32_t(v % 24);
      break;
    }
    case 9:
      s.mutable_buffers(int(next(uint64_t(s.buffers_size()))))->set_address(v % 4096);
      break;
    case 10:
      p.set_name(s.programs(ring ^ 2).name()); // a name the other step uses on chip 0
      break;
    default:
      s.mutable_system()->set_chips(uint32_t(v % 20));
      break;
    }
    const std::vector<std::string> grouped =
        outcome(sim::simulateGroups(s, config, groups, {}, {}));
    const std::vector<std::string> copies = outcome(simulateCopies(s, config, groups));
    INFO("round " << round);
    REQUIRE(grouped == copies);
    (grouped.back().rfind("error: ", 0) == 0 ? rejected : accepted) += 1;
  }
  CHECK(accepted > 100);
  CHECK(rejected > 300);
}
