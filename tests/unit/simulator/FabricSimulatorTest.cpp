// Multi-chip schedules (format v2) built by hand: valid ones pass with the expected timing;
// each broken way (link double-booked, recv before arrival, sync missing under drift,
// repetition overflowing SRAM, unit double-booked inside a repeated block, bad pairing)
// is rejected with its reason; runs are deterministic.
#include "FabricTestSupport.h"

#include "conveyor/Simulator/FabricModel.h"
#include "conveyor/Simulator/FabricSimulator.h"
#include "conveyor/Simulator/InstructionCost.h"
#include "conveyor/Simulator/Simulator.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <map>
#include <set>

using namespace conveyor;
using test::FabricBuilder;
using test::portTo;

namespace {

constexpr uint64_t kVectorSerialisation = 22; // ceil(320 B / 15 B per cycle)
constexpr uint64_t kHop = 216;
constexpr uint64_t kRecvDuration = 5 + 1; // mem latency + one vector

/// Chip 0 sends a weight vector to chip 1, which receives it at `recvCycle` and applies relu.
FabricBuilder pointToPoint(const system::SystemConfig &config, uint64_t recvCycle,
                           uint32_t from = 0, uint32_t to = 1) {
  FabricBuilder b(config);
  const uint32_t w = b.buffer(from, "w", schedule::WEIGHT);
  const uint32_t in = b.buffer(to, "in", schedule::ACTIVATION);
  const uint32_t out = b.buffer(to, "out", schedule::ACTIVATION);
  schedule::Program &sender = b.program("step", from);
  FabricBuilder::send(sender, 0, w, to, portTo(from, to), 0, kVectorSerialisation, 7);
  schedule::Program &receiver = b.program("step", to);
  FabricBuilder::recv(receiver, recvCycle, in, from, portTo(to, from), 7);
  FabricBuilder::relu(receiver, recvCycle + kRecvDuration, in, out);
  return b;
}

std::string errorOf(const schedule::Schedule &s, const system::SystemConfig &config) {
  Result<sim::FabricReport> report = sim::simulateFabric(s, config);
  REQUIRE_FALSE(report);
  return report.error();
}

} // namespace

TEST_CASE("a send and its receive at the arrival cycle pass", "[fabric]") {
  const system::SystemConfig config = test::fabricSystem();
  FabricBuilder b = pointToPoint(config, kVectorSerialisation + kHop);
  Result<sim::FabricReport> report = sim::simulateFabric(b.s, config);
  INFO((report ? std::string() : report.error()));
  REQUIRE(report);
  CHECK(report->transfers == 1);
  CHECK(report->transferBytes == 320);
  CHECK(report->instructions == 3);
  REQUIRE(report->runs.size() == 2);
  CHECK(report->runs[0].sends == 1);
  CHECK(report->runs[1].recvs == 1);
  // relu: issue 244, mem 5 + vxm 3 + 1 vector.
  CHECK(report->runs[1].endCycle == kVectorSerialisation + kHop + kRecvDuration + 9);
  CHECK(report->endCycle == report->runs[1].endCycle);
}

TEST_CASE("a receive one cycle before arrival is rejected", "[fabric]") {
  const system::SystemConfig config = test::fabricSystem();
  FabricBuilder b = pointToPoint(config, kVectorSerialisation + kHop - 1);
  const std::string message = errorOf(b.s, config);
  CHECK_THAT(message, Catch::Contains("recv before arrival"));
  CHECK_THAT(message, Catch::Contains("chip 1, program 'step', instruction 0"));
  CHECK_THAT(message, Catch::Contains("arriving at reference cycle 238"));
}

TEST_CASE("two sends whose link slots overlap on one port are rejected", "[fabric]") {
  const system::SystemConfig config = test::fabricSystem();
  FabricBuilder b = pointToPoint(config, 400);
  const uint32_t w2 = b.buffer(0, "w2", schedule::WEIGHT);
  const uint32_t in2 = b.buffer(1, "in2", schedule::ACTIVATION);
  // Second vector on the same port, 10 cycles into the first one's 22-cycle slot.
  FabricBuilder::send(*b.s.mutable_programs(0), 10, w2, 1, portTo(0, 1), 10, kVectorSerialisation,
                      8);
  FabricBuilder::recv(*b.s.mutable_programs(1), 500, in2, 0, portTo(1, 0), 8);
  const std::string message = errorOf(b.s, config);
  CHECK_THAT(message, Catch::Contains("link 0 double-booked"));
  CHECK_THAT(message, Catch::Contains("chip 0, program 'step', instruction 1"));

  // Moved to the end of the first slot, it is fine.
  b.s.mutable_programs(0)->mutable_instructions(1)->set_issue_cycle(22);
  b.s.mutable_programs(0)->mutable_instructions(1)->set_slot_start_cycle(22);
  CHECK(sim::simulateFabric(b.s, config));
}

TEST_CASE("transfers from two chips landing on one inbound port at once are rejected", "[fabric]") {
  // Chips 0 and 2 (node 0) both send to chip 9 (node 1) over the network: the receive port
  // is the schedule's choice, so both choose port 8 and arrive together.
  const system::SystemConfig config = test::fabricSystem();
  FabricBuilder b(config);
  const uint32_t w0 = b.buffer(0, "w0", schedule::WEIGHT);
  const uint32_t w2 = b.buffer(2, "w2", schedule::WEIGHT);
  const uint32_t a = b.buffer(9, "a", schedule::ACTIVATION);
  const uint32_t c = b.buffer(9, "c", schedule::ACTIVATION);
  FabricBuilder::send(b.program("step", 0), 0, w0, 9, 8, 0, kVectorSerialisation, 1);
  FabricBuilder::send(b.program("step", 2), 0, w2, 9, 8, 5, kVectorSerialisation, 2);
  schedule::Program &receiver = b.program("step", 9);
  const uint64_t arrival = kVectorSerialisation + 3 * kHop; // local, global, local
  FabricBuilder::recv(receiver, arrival + 5, a, 0, 8, 1);
  FabricBuilder::recv(receiver, arrival + 5, c, 2, 8, 2);
  const std::string message = errorOf(b.s, config);
  CHECK_THAT(message, Catch::Contains("link 8 double-booked inbound"));
  // On different ports they pass.
  b.s.mutable_programs(2)->mutable_instructions(1)->set_link(9);
  CHECK(sim::simulateFabric(b.s, config));
}

TEST_CASE("between nodes a transfer lands on the chip its port reaches, which forwards it",
          "[fabric][routes]") {
  // 8 chips per node, 7 local ports (0..6), global ports 7..15.
  const system::SystemConfig config = test::fabricSystem(24);
  Result<sim::FabricModel> fabric = sim::buildFabricModel(config);
  REQUIRE(fabric);
  CHECK(fabric->forwardingChip(0, 9, 7) == 8);   // global port 0 lands on rank 0 of node 1
  CHECK(fabric->forwardingChip(0, 9, 8) == sim::FabricModel::kNoChip); // lands on rank 1
  CHECK(fabric->forwardingChip(2, 17, 15) == 18); // global port 8: the sender's rail (rank 2)
  CHECK(fabric->forwardingChip(2, 18, 15) == sim::FabricModel::kNoChip);
  CHECK(fabric->forwardingChip(2, 17, 0) == 16);  // local port 0 reaches chip 0: its rail
  CHECK(fabric->forwardingChip(0, 1, 0) == sim::FabricModel::kNoChip); // direct, in the node
}

TEST_CASE("two transfers sharing an intermediate link of their routes at once are rejected",
          "[fabric][routes]") {
  // Chips 0 (node 0) and 16 (node 2) both send to chip 9 (node 1, rank 1) on global port 0
  // (port 7), which lands on chip 8: chip 8 forwards both over its local link 8 -> 9. The
  // receives name different inbound ports, so only the shared intermediate link catches it.
  const system::SystemConfig config = test::fabricSystem(24);
  FabricBuilder b(config);
  const uint32_t w0 = b.buffer(0, "w0", schedule::WEIGHT);
  const uint32_t w16 = b.buffer(16, "w16", schedule::WEIGHT);
  const uint32_t a = b.buffer(9, "a", schedule::ACTIVATION);
  const uint32_t c = b.buffer(9, "c", schedule::ACTIVATION);
  FabricBuilder::send(b.program("step", 0), 0, w0, 9, 7, 0, kVectorSerialisation, 1);
  schedule::Program &second = b.program("step", 16);
  FabricBuilder::send(second, 0, w16, 9, 7, 0, kVectorSerialisation, 2);
  schedule::Program &receiver = b.program("step", 9);
  const uint64_t arrival = kVectorSerialisation + 3 * kHop; // local, global, local
  FabricBuilder::recv(receiver, arrival + kVectorSerialisation, a, 0, 8, 1);
  FabricBuilder::recv(receiver, arrival + kVectorSerialisation, c, 16, 9, 2);
  const std::string message = errorOf(b.s, config);
  CHECK_THAT(message, Catch::Contains("link from chip 8 to chip 9 double-booked on a multi-hop "
                                      "route"));
  // Arrival 22 + 3 x 216 = 670: the forwarded stream crosses 8 -> 9 over [648, 670).
  CHECK_THAT(message, Catch::Contains("over reference cycles [648, 670)"));
  CHECK_THAT(message, Catch::Contains("holds it until 670"));

  // One cycle short of a whole serialisation later it still clashes; a whole one later the
  // link is free again.
  second.mutable_instructions(0)->set_issue_cycle(kVectorSerialisation - 1);
  second.mutable_instructions(0)->set_slot_start_cycle(kVectorSerialisation - 1);
  CHECK_THAT(errorOf(b.s, config), Catch::Contains("double-booked on a multi-hop route"));
  second.mutable_instructions(0)->set_issue_cycle(kVectorSerialisation);
  second.mutable_instructions(0)->set_slot_start_cycle(kVectorSerialisation);
  Result<sim::FabricReport> report = sim::simulateFabric(b.s, config);
  INFO((report ? std::string() : report.error()));
  CHECK(report);

  // Sent on global ports that land on chip 9 itself (port 8), nothing is forwarded: the
  // original timing passes.
  second.mutable_instructions(0)->set_issue_cycle(0);
  second.mutable_instructions(0)->set_slot_start_cycle(0);
  b.s.mutable_programs(0)->mutable_instructions(0)->set_link(8);
  second.mutable_instructions(0)->set_link(8);
  CHECK(sim::simulateFabric(b.s, config));
}

TEST_CASE("a send on a port that does not reach its peer inside the node is rejected", "[fabric]") {
  const system::SystemConfig config = test::fabricSystem();
  FabricBuilder b = pointToPoint(config, 300, 0, 3);
  b.s.mutable_programs(0)->mutable_instructions(0)->set_link(0); // port 0 reaches chip 1
  const std::string message = errorOf(b.s, config);
  CHECK_THAT(message, Catch::Contains("link 0 does not reach chip 3"));
  CHECK_THAT(message, Catch::Contains("port 2"));
}

TEST_CASE("drift corrections are elapsed x drift / 2 / 10^9, exact for any elapsed time",
          "[fabric][drift]") {
  sim::FabricModel fabric;
  for (uint64_t ppb : {uint64_t(0), uint64_t(1), uint64_t(50000), uint64_t(1) << 33}) {
    fabric.driftPartsPerBillion = ppb;
    for (uint64_t elapsed : {uint64_t(0), uint64_t(999), (uint64_t(1) << 32) - 1,
                             uint64_t(1) << 32, uint64_t(123456789012345), uint64_t(1) << 62}) {
      const auto exact =
          int64_t((unsigned __int128)elapsed * (ppb / 2) / 1000000000u); // the definition
      INFO("ppb " << ppb << ", elapsed " << elapsed);
      CHECK(fabric.driftCorrection(0, elapsed) == -exact); // even chips run fast
      CHECK(fabric.driftCorrection(1, elapsed) == exact);
    }
  }
}

TEST_CASE("route hop counts follow the node and group structure", "[fabric]") {
  system::SystemConfig config = test::fabricSystem(144); // 18 nodes = 2 groups of 9
  Result<sim::FabricModel> fabric = sim::buildFabricModel(config);
  REQUIRE(fabric);
  CHECK(fabric->route(0, 5).hops == 1);
  CHECK(fabric->route(0, 5).direct);
  CHECK(fabric->route(5, 0).sendPort == 0);
  CHECK(fabric->route(0, 5).sendPort == 4);
  CHECK(fabric->route(0, 8).hops == 3);
  CHECK_FALSE(fabric->route(0, 8).direct);
  CHECK(fabric->route(0, 80).hops == 5);
  CHECK(fabric->serialisationCycles(320) == kVectorSerialisation);
  CHECK(fabric->serialisationCycles(1) == 1);
}

TEST_CASE("sync missing under drift is rejected; a SYNC in time passes", "[fabric][drift]") {
  // 50 ppm and 1 cycle of slack: at most 20,000 cycles between SYNCs.
  const system::SystemConfig config = test::fabricSystem(16, 50);
  auto build = [&](bool withSync) {
    FabricBuilder b(config);
    const uint32_t w = b.buffer(0, "w", schedule::WEIGHT);
    const uint32_t in = b.buffer(1, "in", schedule::ACTIVATION);
    schedule::Program &sender = b.program("step", 0);
    schedule::Program &receiver = b.program("step", 1);
    sender.set_drift_slack_cycles(1);
    receiver.set_drift_slack_cycles(1);
    if (withSync) {
      FabricBuilder::sync(sender, 29990);
      FabricBuilder::sync(receiver, 29990);
    }
    FabricBuilder::send(sender, 30000, w, 1, 0, 30000, kVectorSerialisation, 1);
    FabricBuilder::recv(receiver, 30000 + kVectorSerialisation + kHop + 1, in, 0, 0, 1);
    return b;
  };
  const std::string message = errorOf(build(false).s, config);
  CHECK_THAT(message, Catch::Contains("sync missing under drift"));
  CHECK_THAT(message, Catch::Contains("30000 cycles since the last SYNC"));
  CHECK_THAT(message, Catch::Contains("every 20000 cycles"));
  CHECK(sim::simulateFabric(build(true).s, config));
}

TEST_CASE("drift makes a receive at the nominal arrival too early when the receiver runs fast",
          "[fabric][drift]") {
  // 50 ppm, slack 100 cycles: 1,000,000 cycles after start a chip is off by 25 cycles.
  // Even chips run fast, odd chips slow (docs/simulator.md).
  const system::SystemConfig config = test::fabricSystem(16, 50);
  auto build = [&](uint32_t from, uint32_t to) {
    FabricBuilder b(config);
    const uint32_t w = b.buffer(from, "w", schedule::WEIGHT);
    const uint32_t in = b.buffer(to, "in", schedule::ACTIVATION);
    schedule::Program &sender = b.program("step", from);
    schedule::Program &receiver = b.program("step", to);
    sender.set_drift_slack_cycles(100);
    receiver.set_drift_slack_cycles(100);
    FabricBuilder::send(sender, 1000000, w, to, portTo(from, to), 1000000, kVectorSerialisation, 1);
    FabricBuilder::recv(receiver, 1000000 + kVectorSerialisation + kHop, in, from, portTo(to, from),
                        1);
    return b;
  };
  // Fast sender, slow receiver: the data is early, the receive late: fine.
  CHECK(sim::simulateFabric(build(0, 1).s, config));
  // Slow sender, fast receiver: 50 cycles short.
  const std::string message = errorOf(build(1, 0).s, config);
  CHECK_THAT(message, Catch::Contains("recv before arrival"));
  CHECK_THAT(message, Catch::Contains("arriving at reference cycle 1000263"));
  CHECK_THAT(message, Catch::Contains("issues at reference cycle 1000213"));
}

TEST_CASE("a repeat block runs every iteration without unrolling", "[fabric][repeat]") {
  const system::SystemConfig config = test::fabricSystem();
  FabricBuilder b(config);
  // 80 "layers": relu(x) -> y, relu(y) -> z with y, z strided 320 bytes per layer.
  const uint32_t x = b.buffer(0, "x", schedule::WEIGHT);
  const uint32_t y = b.buffer(0, "y", schedule::ACTIVATION, {320}, 0, 320 * 80);
  const uint32_t z = b.buffer(0, "z", schedule::ACTIVATION, {320}, 0, 320 * 80);
  schedule::Program &p = b.program("step", 0);
  FabricBuilder::relu(p, 0, x, y);
  FabricBuilder::relu(p, 9, y, z);
  schedule::Repeat &layers = FabricBuilder::repeat(p, 0, 2, 80, 20);
  for (uint32_t id : {y, z}) {
    FabricBuilder::addressStride(layers, id, 320);
  }
  Result<sim::FabricReport> report = sim::simulateFabric(b.s, config);
  INFO((report ? std::string() : report.error()));
  REQUIRE(report);
  CHECK(report->instructions == 160);
  CHECK(report->decodedInstructions == 2);
  CHECK(report->runs[0].endCycle == 79 * 20 + 9 + 9);
  CHECK(report->runs[0].unitInstructions[2] == 160); // VXM
  CHECK(report->runs[0].unitBusyCycles[2] == 160);

  // Through simulate() as well: timing only, one report for the program.
  Result<sim::SimulationReport> full = sim::simulate(b.s, config, {}, {});
  REQUIRE(full);
  CHECK_FALSE(full->functional);
  REQUIRE(full->programs.size() == 1);
  CHECK(full->programs[0].instructions == 160);
  CHECK(full->programs[0].cycles == 79 * 20 + 18);
}

TEST_CASE("a repeat block whose strided buffer runs past SRAM is rejected", "[fabric][repeat]") {
  const system::SystemConfig config = test::fabricSystem(); // 4 MiB SRAM per chip
  FabricBuilder b(config);
  const uint32_t x = b.buffer(0, "x", schedule::WEIGHT);
  const uint32_t y = b.buffer(0, "kv", schedule::ACTIVATION);
  schedule::Program &p = b.program("step", 0);
  FabricBuilder::relu(p, 0, x, y);
  schedule::Repeat &layers = FabricBuilder::repeat(p, 0, 1, 80, 20);
  // 80 x 64 KiB = 5 MiB > 4 MiB
  schedule::BufferStride &stride = FabricBuilder::addressStride(layers, y, 64 * 1024);
  const std::string message = errorOf(b.s, config);
  CHECK_THAT(message, Catch::Contains("repeat block 'layers'"));
  CHECK_THAT(message, Catch::Contains("SRAM overflow"));
  CHECK_THAT(message, Catch::Contains("'kv'"));

  // An absurd iteration count without strides is refused, not simulated for hours.
  stride.set_address_stride(0);
  layers.set_iterations(uint64_t(1) << 40);
  layers.set_period_cycles(10);
  CHECK_THAT(errorOf(b.s, config), Catch::Contains("limit of 2^32"));
  layers.set_iterations(80);
  layers.set_period_cycles(20);

  stride.set_address_stride(32 * 1024); // 2.5 MiB fits, but runs over nothing else
  CHECK(sim::simulateFabric(b.s, config));
  // A buffer placed inside the span is overlapped.
  const uint32_t other = b.buffer(0, "other", schedule::ACTIVATION);
  (void)other;
  CHECK_THAT(errorOf(b.s, config), Catch::Contains("overlaps buffer 'other'"));
}

TEST_CASE("a unit double-booked across iterations of a repeated block is rejected",
          "[fabric][repeat]") {
  const system::SystemConfig config = test::fabricSystem();
  FabricBuilder b(config);
  // int8 [1,320] x [320,320]: 103 cycles of weight install + 26 of compute = 129 on the MXM.
  const uint32_t x = b.buffer(0, "x", schedule::WEIGHT, {1, 320});
  const uint32_t w = b.buffer(0, "w", schedule::WEIGHT, {320, 320});
  const uint32_t y = b.buffer(0, "y", schedule::ACTIVATION, {1, 320}, 0, 320 * 4);
  schedule::Program &p = b.program("step", 0);
  FabricBuilder::op(p, 0, schedule::MXM_MATMUL, schedule::MXM, {x, w}, {y}, "matmul");
  schedule::Repeat &layers = FabricBuilder::repeat(p, 0, 1, 4, 100);
  FabricBuilder::addressStride(layers, y, 320);
  const std::string message = errorOf(b.s, config);
  CHECK_THAT(message, Catch::Contains("unit MXM double-booked"));
  CHECK_THAT(message, Catch::Contains("iteration 1 of repeat block 'layers'"));
  CHECK_THAT(message, Catch::Contains("until cycle 129"));
  layers.set_period_cycles(129);
  CHECK(sim::simulateFabric(b.s, config));
}

TEST_CASE("a result rewritten every iteration must not be overwritten while still read",
          "[fabric][repeat]") {
  const system::SystemConfig config = test::fabricSystem();
  FabricBuilder b(config);
  const uint32_t x = b.buffer(0, "x", schedule::WEIGHT);
  const uint32_t t = b.buffer(0, "t", schedule::ACTIVATION);
  const uint32_t out = b.buffer(0, "out", schedule::ACTIVATION, {320}, 0, 320 * 3);
  schedule::Program &p = b.program("step", 0);
  FabricBuilder::relu(p, 0, x, t);   // t rewritten each iteration (not strided)
  FabricBuilder::relu(p, 9, t, out); // reads t at 9..10
  schedule::Repeat &layers = FabricBuilder::repeat(p, 0, 2, 3, 12);
  FabricBuilder::addressStride(layers, out, 320);
  REQUIRE(sim::simulateFabric(b.s, config));

  // After the block, t may be written again by another instruction: its value is dead.
  FabricBuilder::relu(p, 40, x, t);
  CHECK(sim::simulateFabric(b.s, config));
}

TEST_CASE("a buffer overwritten while a long read is still streaming it is rejected", "[fabric]") {
  const system::SystemConfig config = test::fabricSystem();
  FabricBuilder b(config);
  const uint32_t x = b.buffer(0, "x", schedule::WEIGHT, {1, 320});
  const uint32_t w = b.buffer(0, "w", schedule::WEIGHT, {320, 320});
  const uint32_t t = b.buffer(0, "t", schedule::ACTIVATION, {1, 320});
  const uint32_t y = b.buffer(0, "y", schedule::ACTIVATION, {1, 320});
  schedule::Program &p = b.program("step", 0);
  FabricBuilder::relu(p, 0, x, t);                                                 // t at 9
  FabricBuilder::op(p, 9, schedule::MXM_MATMUL, schedule::MXM, {t, w}, {y}, "mm"); // reads to 138
  FabricBuilder::relu(p, 10, x, t);                                                // lands at 19
  SECTION("while read") {
    // A repeat block makes it a v2 schedule for simulate() too.
    FabricBuilder::repeat(p, 0, 1, 1, 1);
    CHECK_THAT(errorOf(b.s, config),
               Catch::Contains("instruction 2") && Catch::Contains("write after read") &&
                   Catch::Contains("'t' at cycle 19 while it is still read until cycle 138"));
  }
  SECTION("after the read") {
    p.mutable_instructions(2)->set_issue_cycle(129);
    CHECK(sim::simulateFabric(b.s, config));
  }
}

TEST_CASE("per_iteration buffer lists double-buffer a block", "[fabric][repeat]") {
  const system::SystemConfig config = test::fabricSystem();
  FabricBuilder b(config);
  const uint32_t x = b.buffer(0, "x", schedule::WEIGHT);
  const uint32_t ping = b.buffer(0, "ping", schedule::ACTIVATION);
  const uint32_t pong = b.buffer(0, "pong", schedule::ACTIVATION);
  const uint32_t out = b.buffer(0, "out", schedule::ACTIVATION);
  schedule::Program &p = b.program("step", 0);
  FabricBuilder::relu(p, 0, x, ping);
  schedule::Repeat &layers = FabricBuilder::repeat(p, 0, 1, 2, 10);
  schedule::BufferStride *list = layers.add_strides();
  list->set_buffer(ping);
  list->add_per_iteration(ping);
  list->add_per_iteration(pong);
  FabricBuilder::relu(p, 30, pong, out); // written by iteration 1 only
  CHECK(sim::simulateFabric(b.s, config));
  // Without the list, pong is never written.
  layers.clear_strides();
  CHECK_THAT(errorOf(b.s, config), Catch::Contains("operand 'pong' is not written"));
}

TEST_CASE("a template program runs on its instance chips with remapped buffers and peers",
          "[fabric][template]") {
  // Ring of 8 chips in one node: chip c sends its vector to c+1 and receives from c-1, all
  // with transfer id 1 (ids pair per sender and receiver), from one template on chip 0.
  const system::SystemConfig config = test::fabricSystem(8);
  FabricBuilder b(config);
  std::vector<uint32_t> mine, got;
  for (uint32_t chip = 0; chip < 8; ++chip) {
    mine.push_back(b.buffer(chip, "shard", schedule::WEIGHT));
    got.push_back(b.buffer(chip, "from_left", schedule::ACTIVATION));
  }
  const uint64_t arrival = kVectorSerialisation + kHop;
  schedule::Program &ring = b.program("allgather", 0);
  FabricBuilder::send(ring, 0, mine[0], 1, portTo(0, 1), 0, kVectorSerialisation, 1);
  FabricBuilder::recv(ring, arrival, got[0], 7, portTo(0, 7), 1);
  FabricBuilder::ringInstances(ring, {&mine, &got});
  Result<sim::FabricReport> report = sim::simulateFabric(b.s, config);
  INFO((report ? std::string() : report.error()));
  REQUIRE(report);
  CHECK(report->transfers == 8);
  REQUIRE(report->runs.size() == 8);
  CHECK(report->decodedInstructions == 2 * 8); // counted per run
  CHECK(report->instructions == 16);
  for (uint32_t run = 0; run < 8; ++run) {
    CHECK(report->runs[run].chip == run);
    CHECK(report->runs[run].sends == 1);
    CHECK(report->runs[run].recvs == 1);
  }

  // An instance that forgets a peer: chip 3 sends to chip 1 on its port to chip 4.
  ring.mutable_instances(2)->mutable_peer_map()->erase(1);
  CHECK_THAT(errorOf(b.s, config), Catch::Contains("chip 3, program 'allgather'") &&
                                       Catch::Contains("link 3 does not reach chip 1"));
  (*ring.mutable_instances(2)->mutable_peer_map())[1] = 4;
  REQUIRE(sim::simulateFabric(b.s, config));

  // A port map to a port the chip does not have.
  (*ring.mutable_instances(4)->mutable_link_map())[portTo(0, 1)] = 40;
  CHECK_THAT(errorOf(b.s, config), Catch::Contains("chip 5, program 'allgather'") &&
                                       Catch::Contains("link 40 (after link_map) does not exist"));
  (*ring.mutable_instances(4)->mutable_link_map())[portTo(0, 1)] = portTo(5, 6);

  // A second send with the same id to the same chip cannot be told apart.
  FabricBuilder::send(ring, arrival + 10, mine[0], 1, portTo(0, 1), arrival + 10,
                      kVectorSerialisation, 1);
  CHECK_THAT(errorOf(b.s, config), Catch::Contains("transfer id 1 to chip 1 is also sent by"));
}

namespace {

/// Everything a run reports, field by field (energies bit for bit).
void checkSameRuns(const sim::FabricReport &a, const sim::FabricReport &b) {
  CHECK(a.endCycle == b.endCycle);
  CHECK(a.instructions == b.instructions);
  CHECK(a.decodedInstructions == b.decodedInstructions);
  CHECK(a.transfers == b.transfers);
  CHECK(a.transferBytes == b.transferBytes);
  REQUIRE(a.runs.size() == b.runs.size());
  for (size_t r = 0; r < a.runs.size(); ++r) {
    const sim::ChipRun &x = a.runs[r], &y = b.runs[r];
    INFO("run " << r << " on chip " << x.chip);
    CHECK(x.program == y.program);
    CHECK(x.programIndex == y.programIndex);
    CHECK(x.chip == y.chip);
    CHECK(x.endCycle == y.endCycle);
    CHECK(x.instructions == y.instructions);
    CHECK(x.sends == y.sends);
    CHECK(x.recvs == y.recvs);
    CHECK(x.syncs == y.syncs);
    CHECK(x.sentBytes == y.sentBytes);
    CHECK(x.unitInstructions == y.unitInstructions);
    CHECK(x.unitBusyCycles == y.unitBusyCycles);
    CHECK(x.energy == y.energy);
    CHECK(x.c2cJoules == y.c2cJoules);
    CHECK(x.unitEnergy == y.unitEnergy);
  }
}

} // namespace

TEST_CASE("instances laid out like their template replay its local checks and report the same",
          "[fabric][template]") {
  // The ring of 8 chips, where each chip also adds what it received to its shard, multiplies
  // the sum by a weight and applies relu to its shard; chip 6 keeps its buffers 640 bytes
  // further up, so its run is not equivalent to chip 0's and runs in full.
  const system::SystemConfig config = test::fabricSystem(8, 50);
  FabricBuilder b(config);
  std::vector<uint32_t> mine, got, sum, w, prod, tmp;
  b.buffer(6, "pad", schedule::ACTIVATION, {640});
  for (uint32_t chip = 0; chip < 8; ++chip) {
    mine.push_back(b.buffer(chip, "shard", schedule::WEIGHT, {1, 320}));
    got.push_back(b.buffer(chip, "from_left", schedule::ACTIVATION, {1, 320}));
    sum.push_back(b.buffer(chip, "sum", schedule::ACTIVATION, {1, 320}));
    w.push_back(b.buffer(chip, "w", schedule::WEIGHT, {320, 320}));
    prod.push_back(b.buffer(chip, "prod", schedule::ACTIVATION, {1, 320}));
    tmp.push_back(b.buffer(chip, "tmp", schedule::ACTIVATION, {1, 320}));
  }
  const uint64_t arrival = kVectorSerialisation + kHop + 2; // + drift
  const uint64_t added = arrival + kRecvDuration;
  schedule::Program &ring = b.program("allgather", 0);
  ring.set_drift_slack_cycles(4);
  FabricBuilder::sync(ring, 0);
  FabricBuilder::send(ring, 1, mine[0], 1, portTo(0, 1), 1, kVectorSerialisation, 1);
  FabricBuilder::recv(ring, arrival, got[0], 7, portTo(0, 7), 1);
  FabricBuilder::op(ring, added, schedule::VXM_BINARY, schedule::VXM, {got[0], mine[0]},
                    {sum[0]}, "add")
      .set_kind(schedule::ADD);
  FabricBuilder::op(ring, added + 9, schedule::MXM_MATMUL, schedule::MXM, {sum[0], w[0]},
                    {prod[0]}, "mm"); // reads sum until added + 138
  FabricBuilder::relu(ring, added + 10, mine[0], tmp[0]);
  FabricBuilder::ringInstances(ring, {&mine, &got, &sum, &w, &prod, &tmp});
  const std::vector<int> all = {0};
  Result<sim::PreparedFabric> prepared = sim::PreparedFabric::prepare(b.s, config);
  REQUIRE(prepared);
  Result<sim::FabricReport> replayed = prepared->run(all);
  INFO((replayed ? std::string() : replayed.error()));
  REQUIRE(replayed);
  Result<sim::FabricReport> full = prepared->run(all, {.replayEquivalentRuns = false});
  REQUIRE(full);
  CHECK(replayed->replayedRuns == 6); // chips 1-5 and 7
  CHECK(full->replayedRuns == 0);
  CHECK(replayed->transfers == 8);
  CHECK(replayed->runs[3].unitInstructions[2] == 2); // VXM: add and relu, taken from chip 0
  checkSameRuns(*replayed, *full);

  // Chip 5 writes relu's result over its sum (storage the template keeps apart): not
  // equivalent, so run in full, and the matmul still streaming sum is caught there.
  (*ring.mutable_instances(4)->mutable_buffer_map())[tmp[0]] = sum[5];
  const std::string message = errorOf(b.s, config);
  CHECK_THAT(message, Catch::Contains("chip 5, program 'allgather'") &&
                          Catch::Contains("write after read") && Catch::Contains("'sum'"));
  prepared = sim::PreparedFabric::prepare(b.s, config);
  REQUIRE(prepared);
  full = prepared->run(all, {.replayEquivalentRuns = false});
  REQUIRE_FALSE(full);
  CHECK(full.error() == message);
  (*ring.mutable_instances(4)->mutable_buffer_map())[tmp[0]] = tmp[5];

  // A link map that sends chip 3's transfer on a port that does not reach its peer: caught in
  // the replay, which executes every transfer on the instance's own ports.
  (*ring.mutable_instances(2)->mutable_link_map())[portTo(0, 1)] = portTo(3, 5);
  CHECK_THAT(errorOf(b.s, config), Catch::Contains("chip 3, program 'allgather'") &&
                                       Catch::Contains("does not reach chip 4"));
}

TEST_CASE("transfer ids advance by the block's stride in each iteration", "[fabric][repeat]") {
  const system::SystemConfig config = test::fabricSystem();
  FabricBuilder b(config);
  const uint32_t w = b.buffer(0, "w", schedule::WEIGHT);
  const uint32_t in = b.buffer(1, "in", schedule::ACTIVATION, {320}, 0, 320 * 10);
  schedule::Program &sender = b.program("step", 0);
  schedule::Program &receiver = b.program("step", 1);
  FabricBuilder::send(sender, 0, w, 1, 0, 0, kVectorSerialisation, 50);
  FabricBuilder::repeat(sender, 0, 1, 10, 100).set_transfer_id_stride(1);
  FabricBuilder::recv(receiver, kVectorSerialisation + kHop, in, 0, 0, 50);
  schedule::Repeat &rx = FabricBuilder::repeat(receiver, 0, 1, 10, 100);
  rx.set_transfer_id_stride(1);
  FabricBuilder::addressStride(rx, in, 320);
  Result<sim::FabricReport> report = sim::simulateFabric(b.s, config);
  INFO((report ? std::string() : report.error()));
  REQUIRE(report);
  CHECK(report->transfers == 10);
  CHECK(report->transferBytes == 3200);
  // Without the stride on the sender, ids repeat.
  sender.mutable_repeats(0)->set_transfer_id_stride(0);
  CHECK_THAT(errorOf(b.s, config), Catch::Contains("transfer id 50 to chip 1 is also sent by"));
}

TEST_CASE("unpaired and mismatched transfers are rejected", "[fabric]") {
  const system::SystemConfig config = test::fabricSystem();
  {
    FabricBuilder b = pointToPoint(config, 300);
    b.s.mutable_programs(1)->mutable_instructions(0)->set_transfer_id(99);
    CHECK_THAT(errorOf(b.s, config), Catch::Contains("is never"));
  }
  {
    FabricBuilder b = pointToPoint(config, 300);
    b.s.mutable_programs(1)->mutable_instructions(0)->set_bytes(160);
    CHECK_THAT(errorOf(b.s, config), Catch::Contains("receives 160 bytes"));
  }
  {
    FabricBuilder b = pointToPoint(config, 300);
    b.s.mutable_programs(0)->mutable_instructions(0)->set_slot_cycles(10);
    CHECK_THAT(errorOf(b.s, config), Catch::Contains("shorter than the 22 cycles"));
  }
}

TEST_CASE("the fabric engine is deterministic", "[fabric]") {
  const system::SystemConfig config = test::fabricSystem(16, 50);
  FabricBuilder b = pointToPoint(config, 1000);
  b.s.mutable_programs(0)->set_drift_slack_cycles(10);
  b.s.mutable_programs(1)->set_drift_slack_cycles(10);
  Result<sim::SimulationReport> first = sim::simulate(b.s, config, {}, {});
  Result<sim::SimulationReport> second = sim::simulate(b.s, config, {}, {});
  REQUIRE(first);
  REQUIRE(second);
  CHECK(sim::renderJson(*first) == sim::renderJson(*second));
  FabricBuilder broken = pointToPoint(config, 10);
  CHECK(errorOf(broken.s, config) == errorOf(broken.s, config));
}

TEST_CASE("randomly mutated v2 schedules are accepted or rejected, never crash", "[fabric]") {
  // A schedule with every v2 construct: the ring template plus a repeated, strided block and
  // a drifting fabric; then 3,000 single-field mutations, each simulated (the reader's checks
  // included). A crash or an exception fails the test run. The one-pass form
  // (PreparedFabric::simulateInOnePass, which makes the reader's rules as it decodes) must
  // accept exactly what the plain path (validateSchedule, prepare, run) accepts, with the
  // same report, and simulateFabric must give the plain path's message.
  const system::SystemConfig config = test::fabricSystem(16, 50);
  FabricBuilder b(config);
  std::vector<uint32_t> mine, got;
  for (uint32_t chip = 0; chip < 8; ++chip) {
    mine.push_back(b.buffer(chip, "shard", schedule::WEIGHT));
    got.push_back(b.buffer(chip, "from_left", schedule::ACTIVATION));
  }
  const uint32_t kv = b.buffer(0, "kv", schedule::ACTIVATION, {320}, 0, 320 * 4);
  schedule::Program &ring = b.program("ring", 0);
  ring.set_drift_slack_cycles(4);
  FabricBuilder::sync(ring, 0);
  FabricBuilder::send(ring, 1, mine[0], 1, portTo(0, 1), 1, kVectorSerialisation, 1);
  FabricBuilder::recv(ring, 1 + kVectorSerialisation + kHop, got[0], 7, portTo(0, 7), 1);
  FabricBuilder::ringInstances(ring, {&mine, &got});
  schedule::Program &local = b.program("local", 0);
  FabricBuilder::relu(local, 0, mine[0], kv);
  schedule::Repeat &block = FabricBuilder::repeat(local, 0, 1, 4, 20);
  FabricBuilder::addressStride(block, kv, 320);
  REQUIRE(sim::simulateFabric(b.s, config));

  test::MutationRng rng(12345);
  auto next = [&](uint64_t bound) { return rng.next(bound); };
  auto value = [&] { return rng.value(true); };
  size_t accepted = 0, rejected = 0;
  for (int round = 0; round < 3000; ++round) {
    schedule::Schedule s = b.s;
    schedule::Program &p = *s.mutable_programs(int(next(2)));
    const uint64_t v = value();
    const int i = int(next(uint64_t(p.instructions_size())));
    schedule::Instruction &inst = *p.mutable_instructions(i);
    switch (next(26)) {
    case 0:
      inst.set_issue_cycle(v);
      break;
    case 16:
      inst.set_unit(schedule::Unit(next(8)));
      break;
    case 17:
      inst.add_operands(uint32_t(next(24)));
      break;
    case 18:
      p.set_kind(schedule::ProgramKind(next(5)));
      break;
    case 19:
      s.mutable_programs(0)->mutable_instances(int(next(7)))->set_chip(uint32_t(next(20)));
      break;
    case 20:
      s.mutable_buffers(int(next(uint64_t(s.buffers_size()))))->set_chip(uint32_t(next(10)));
      break;
    case 21:
      s.mutable_buffers(int(next(uint64_t(s.buffers_size()))))->set_shape(0, int64_t(next(700)));
      break;
    case 22:
      p.set_chip(uint32_t(next(20)));
      break;
    case 23:
      s.mutable_programs(1)->mutable_repeats(0)->set_first(uint32_t(next(3)));
      break;
    case 24: // a buffer the template uses (or not) missing from an instance's map
      s.mutable_programs(0)->mutable_instances(int(next(7)))->mutable_buffer_map()->erase(
          uint32_t(next(20)));
      break;
    case 25: { // an entry for a buffer the template does not use, mapped anywhere
      schedule::ProgramInstance &instance = *s.mutable_programs(0)->mutable_instances(int(next(7)));
      (*instance.mutable_buffer_map())[uint32_t(1000 + next(20))] = uint32_t(next(40));
      break;
    }
    case 1:
      inst.set_link(uint32_t(v));
      break;
    case 2:
      inst.set_peer_chip(uint32_t(v));
      break;
    case 3:
      inst.set_bytes(v);
      break;
    case 4:
      inst.set_slot_start_cycle(v);
      break;
    case 5:
      inst.set_slot_cycles(v);
      break;
    case 6:
      inst.set_transfer_id(v);
      break;
    case 7:
      if (inst.operands_size() > 0) {
        inst.set_operands(0, uint32_t(v));
      } else if (inst.results_size() > 0) {
        inst.set_results(0, uint32_t(v));
      }
      break;
    case 8:
      inst.set_opcode(schedule::Opcode(int(next(4)) + 80));
      break;
    case 9:
      s.mutable_programs(1)->mutable_repeats(0)->set_iterations(v);
      break;
    case 10:
      s.mutable_programs(1)->mutable_repeats(0)->set_period_cycles(v);
      break;
    case 11:
      s.mutable_programs(1)->mutable_repeats(0)->set_count(uint32_t(v));
      break;
    case 12:
      s.mutable_programs(1)->mutable_repeats(0)->mutable_strides(0)->set_address_stride(int64_t(v));
      break;
    case 13:
      s.mutable_programs(1)->mutable_repeats(0)->mutable_strides(0)->add_per_iteration(uint32_t(v));
      break;
    case 14: {
      schedule::ProgramInstance &instance = *s.mutable_programs(0)->mutable_instances(int(next(7)));
      (*instance.mutable_peer_map())[uint32_t(next(9))] = uint32_t(v);
      break;
    }
    default: {
      schedule::ProgramInstance &instance = *s.mutable_programs(0)->mutable_instances(int(next(7)));
      (*instance.mutable_buffer_map())[uint32_t(next(20))] = uint32_t(v);
      break;
    }
    }
    INFO("round " << round);
    Result<sim::FabricReport> report = sim::simulateFabric(s, config);
    (report ? accepted : rejected) += 1;
    Result<sim::FabricReport> plain = [&]() -> Result<sim::FabricReport> {
      Result<sim::PreparedFabric> prepared = sim::PreparedFabric::prepare(s, config);
      if (!prepared) {
        return prepared.takeError();
      }
      return prepared->run(sim::allPrograms(s));
    }();
    std::optional<sim::OnePassFabric> fast = sim::PreparedFabric::simulateInOnePass(s, config);
    REQUIRE(report.ok() == plain.ok());
    REQUIRE(fast.has_value() == plain.ok());
    if (plain) {
      checkSameRuns(fast->report, *plain);
      checkSameRuns(*report, *plain);
    } else {
      CHECK_FALSE(report.error().empty());
      CHECK(report.error() == plain.error());
    }
    // simulate() takes the one-pass form too: the same JSON report or the same message.
    sim::SimulationOptions onePass, plainOnly;
    onePass.functional = plainOnly.functional = false;
    plainOnly.onePass = false;
    Result<sim::SimulationReport> one = sim::simulate(s, config, {}, onePass);
    Result<sim::SimulationReport> two = sim::simulate(s, config, {}, plainOnly);
    REQUIRE(one.ok() == two.ok());
    CHECK((one ? sim::renderJson(*one) : one.error()) ==
          (two ? sim::renderJson(*two) : two.error()));
  }
  CHECK(accepted > 0);
  CHECK(rejected > 1000);
}

TEST_CASE("on plain single-chip programs the fabric engine agrees with the v1 checker",
          "[fabric]") {
  // x -> matmul -> relu -> copy to the output -> read, each at its earliest legal cycle, on
  // the hand-sized test chip; then each instruction one cycle early.
  const system::SystemConfig config = test::testSystem();
  test::ScheduleBuilder b(config);
  const uint32_t x = b.buffer("x", schedule::INPUT, {4, 64});
  const uint32_t w = b.buffer("w", schedule::WEIGHT, {64, 32});
  const uint32_t h = b.buffer("h", schedule::ACTIVATION, {4, 32});
  const uint32_t g = b.buffer("g", schedule::ACTIVATION, {4, 32});
  const uint32_t y = b.buffer("y", schedule::OUTPUT, {4, 32});
  schedule::Program &p = b.program();
  const sim::HardwareModel model = *sim::buildHardwareModel(config);
  const sim::BufferTable table(b.schedule, model.vectorBytes);
  std::map<uint32_t, uint64_t> ready;
  uint64_t last = 0;
  auto add = [&](schedule::Opcode opcode, std::vector<uint32_t> in, std::vector<uint32_t> out,
                 schedule::ElementwiseKind kind = schedule::ELEMENTWISE_UNSPECIFIED) {
    schedule::Instruction &inst = test::ScheduleBuilder::add(p, 0, opcode, in, out);
    inst.set_kind(kind);
    const sim::InstructionCost cost = *sim::instructionCost(model, table, inst);
    // Operand 0 of a product may arrive while its first tile set installs.
    uint64_t issue = last;
    for (size_t k = 0; k < in.size(); ++k) {
      const uint64_t lead = k == 0 ? std::min(ready[in[k]], cost.operandLead) : 0;
      issue = std::max(issue, ready[in[k]] - lead);
    }
    inst.set_issue_cycle(issue);
    for (uint32_t id : out) {
      ready[id] = issue + cost.duration;
    }
    last = issue;
  };
  add(schedule::MEM_WRITE, {}, {x});
  add(schedule::MXM_MATMUL, {x, w}, {h});
  add(schedule::VXM_UNARY, {h}, {g}, schedule::RELU);
  add(schedule::MEM_COPY, {g}, {y});
  add(schedule::MEM_READ, {y}, {});
  sim::SimulationOptions options;
  options.functional = false;
  Result<sim::SimulationReport> v1 = sim::simulate(b.schedule, config, {}, options);
  Result<sim::FabricReport> v2 = sim::simulateFabric(b.schedule, config);
  REQUIRE(v1);
  REQUIRE(v2);
  CHECK(v2->endCycle == v1->programs[0].cycles);
  CHECK(v2->instructions == 5);
  for (int i = 1; i < p.instructions_size(); ++i) {
    schedule::Schedule early = b.schedule;
    schedule::Instruction &inst = *early.mutable_programs(0)->mutable_instructions(i);
    inst.set_issue_cycle(inst.issue_cycle() - 1);
    Result<sim::SimulationReport> v1Early = sim::simulate(early, config, {}, options);
    Result<sim::FabricReport> v2Early = sim::simulateFabric(early, config);
    INFO("instruction " << i);
    REQUIRE_FALSE(v1Early);
    REQUIRE_FALSE(v2Early);
    CHECK_THAT(v2Early.error(), Catch::Contains("data read before ready"));
    CHECK_THAT(v1Early.error(), Catch::Contains("data read before ready"));
  }
}

TEST_CASE("simulate() reports each run with its own program's numbers", "[fabric]") {
  const system::SystemConfig config = test::fabricSystem();
  FabricBuilder b = pointToPoint(config, kVectorSerialisation + kHop);
  b.s.mutable_programs(0)->set_compiler_cycles(11);
  b.s.mutable_programs(1)->set_compiler_cycles(22);
  b.s.mutable_programs(1)->set_tokens_per_step(3);
  Result<sim::SimulationReport> report = sim::simulate(b.s, config, {}, {});
  REQUIRE(report);
  REQUIRE(report->programs.size() == 2);
  CHECK(report->programs[0].chip == 0);
  CHECK(report->programs[0].compilerCycles == 11);
  CHECK(report->programs[0].cycles == kVectorSerialisation);
  CHECK(report->programs[1].chip == 1);
  CHECK(report->programs[1].compilerCycles == 22);
  CHECK(report->programs[1].tokensPerStep == 3);
  CHECK(report->programs[1].instructions == 2);
  CHECK(report->programs[1].units.at("VXM").instructions == 1);
  CHECK_THAT(report->timingOnlyReason, Catch::Contains("timing mode only"));
}

TEST_CASE("SRAM used per chip counts a strided buffer's whole extent, on instance chips too",
          "[fabric][repeat]") {
  const system::SystemConfig config = test::fabricSystem();
  FabricBuilder b(config);
  // Chip 0 runs the template, chip 1 an instance of it: relu(x) -> kv, relu(kv) -> out with
  // kv strided 320 bytes per layer over 80 layers (size_bytes is one layer's 320).
  std::vector<uint32_t> x, kv, out;
  for (uint32_t chip = 0; chip < 2; ++chip) {
    x.push_back(b.buffer(chip, "x", schedule::WEIGHT));
    kv.push_back(b.buffer(chip, "kv", schedule::ACTIVATION, {320}, 0, 320 * 80));
    out.push_back(b.buffer(chip, "out", schedule::ACTIVATION));
  }
  schedule::Program &p = b.program("step", 0);
  FabricBuilder::relu(p, 0, x[0], kv[0]);
  FabricBuilder::relu(p, 79 * 20 + 9, kv[0], out[0]); // after the last layer
  schedule::Repeat &layers = FabricBuilder::repeat(p, 0, 1, 80, 20);
  FabricBuilder::addressStride(layers, kv[0], 320);
  schedule::ProgramInstance *instance = p.add_instances();
  instance->set_chip(1);
  (*instance->mutable_buffer_map())[x[0]] = x[1];
  (*instance->mutable_buffer_map())[kv[0]] = kv[1];
  (*instance->mutable_buffer_map())[out[0]] = out[1];

  Result<sim::SimulationReport> report = sim::simulate(b.s, config, {}, {});
  INFO((report ? std::string() : report.error()));
  REQUIRE(report);
  REQUIRE(report->sramBytesUsedPerChip.size() >= 2);
  // x and out once each, kv from its address to the last byte of layer 79.
  const uint64_t expected = 320 + 320 * 80 + 320;
  CHECK(report->sramBytesUsedPerChip[0] == expected);
  CHECK(report->sramBytesUsedPerChip[1] == expected);

  // A negative stride spans downwards from the address by the same extent.
  for (schedule::Buffer &buffer : *b.s.mutable_buffers()) {
    if (buffer.id() == kv[0] || buffer.id() == kv[1]) {
      buffer.set_address(buffer.address() + 320 * 79);
    }
  }
  layers.mutable_strides(0)->set_address_stride(-320);
  report = sim::simulate(b.s, config, {}, {});
  INFO((report ? std::string() : report.error()));
  REQUIRE(report);
  CHECK(report->sramBytesUsedPerChip[0] == expected);
  CHECK(report->sramBytesUsedPerChip[1] == expected);

  // Without the stride, kv is one layer's 320 bytes.
  layers.mutable_strides(0)->set_address_stride(0);
  report = sim::simulate(b.s, config, {}, {});
  REQUIRE(report);
  CHECK(report->sramBytesUsedPerChip[0] == 3 * 320);
}

TEST_CASE("multi-chip runs charge dynamic energy per operation and per link, by hand",
          "[fabric][energy]") {
  // testSystem: SRAM read 0.1, write 0.2, stream 0.05, C2C 2.0 pJ/bit; VXM op 0.5 pJ;
  // 10 W static per chip at 1 GHz. Chip 0 sends 320 bytes (2,560 bits) one hop to chip 1,
  // which receives them and runs relu on the int8 [320] vector three times (a repeat block).
  const system::SystemConfig config = test::fabricSystem();
  FabricBuilder b = pointToPoint(config, kVectorSerialisation + kHop);
  FabricBuilder::repeat(*b.s.mutable_programs(1), 1, 1, 3, 20);
  sim::SimulationOptions options;
  options.functional = false;
  Result<sim::SimulationReport> report = sim::simulate(b.s, config, {}, options);
  INFO((report ? std::string() : report.error()));
  REQUIRE(report);
  REQUIRE(report->programs.size() == 2);
  constexpr double pJ = 1e-12;
  const sim::ProgramReport &sender = report->programs[0];
  // Send: SRAM read 2560 x 0.1, stream 2560 x 0.05, link 2560 x 1 hop x 2.0.
  CHECK(sender.energyBreakdown.at("sram_read") == Approx(256 * pJ));
  CHECK(sender.energyBreakdown.at("stream") == Approx(128 * pJ));
  CHECK(sender.energyBreakdown.at("c2c") == Approx(5120 * pJ));
  CHECK(sender.energyBreakdown.at("sram_write") == 0);
  CHECK(sender.units.at("C2C").energyJoules == Approx(5504 * pJ));
  CHECK(sender.units.at("C2C").instructions == 1);
  CHECK(sender.energyBreakdown.at("static") == Approx(10.0 * double(sender.cycles) * 1e-9));

  const sim::ProgramReport &receiver = report->programs[1];
  // Receive: SRAM write 2560 x 0.2 = 512, stream 128. Each relu: 320 ops x 0.5 = 160,
  // SRAM read 256, write 512, stream 640 x 8 x 0.05 = 256; three of them.
  CHECK(receiver.energyBreakdown.at("vxm") == Approx(3 * 160 * pJ));
  CHECK(receiver.energyBreakdown.at("sram_read") == Approx(3 * 256 * pJ));
  CHECK(receiver.energyBreakdown.at("sram_write") == Approx((512 + 3 * 512) * pJ));
  CHECK(receiver.energyBreakdown.at("stream") == Approx((128 + 3 * 256) * pJ));
  CHECK(receiver.energyBreakdown.at("c2c") == 0);
  CHECK(receiver.units.at("VXM").energyJoules == Approx(3 * 1184 * pJ));
  CHECK(receiver.units.at("C2C").energyJoules == Approx(640 * pJ));

  for (const sim::ProgramReport &program : report->programs) {
    INFO("chip " << program.chip);
    // Categories add up to the total exactly (summed in key order), units + static up to
    // rounding.
    double categories = 0;
    for (const auto &[name, joules] : program.energyBreakdown) {
      categories += joules;
    }
    CHECK(categories == program.energyJoules);
    double units = program.energyBreakdown.at("static");
    for (const auto &[name, stats] : program.units) {
      units += stats.energyJoules;
    }
    CHECK(units == Approx(program.energyJoules).epsilon(1e-12));
    CHECK(program.energyJoules > program.energyBreakdown.at("static"));
  }
}

TEST_CASE("a multi-hop transfer charges the link energy of every hop", "[fabric][energy]") {
  // Chip 0 (node 0) to chip 9 (node 1): 3 hops (local, global, local).
  const system::SystemConfig config = test::fabricSystem();
  FabricBuilder b = pointToPoint(config, kVectorSerialisation + 3 * kHop, 0, 9);
  b.s.mutable_programs(0)->mutable_instructions(0)->set_link(8);
  b.s.mutable_programs(1)->mutable_instructions(0)->set_link(8);
  sim::SimulationOptions options;
  options.functional = false;
  Result<sim::SimulationReport> report = sim::simulate(b.s, config, {}, options);
  INFO((report ? std::string() : report.error()));
  REQUIRE(report);
  CHECK(report->programs[0].energyBreakdown.at("c2c") == Approx(3 * 5120 * 1e-12));
}

TEST_CASE("SRAM placements get the same verdict on every path of the fabric engine",
          "[fabric][sram]") {
  // The buffer table tries rule 4 in its in-order form as it is built (prepare, and the
  // one-pass form); a layout out of address order goes to checkSram's full form. A view
  // must lie inside its source, and no two placements of a chip may overlap, whichever
  // path runs: simulateFabric (one pass, else the plain path), prepare on a schedule the
  // reader has checked, and simulateInOnePass.
  const system::SystemConfig config = test::fabricSystem();
  auto build = [&](int layout) {
    FabricBuilder b(config);
    const uint32_t w = b.buffer(0, "w", schedule::WEIGHT);
    const uint32_t a = b.buffer(0, "a", schedule::ACTIVATION);
    const uint32_t c = b.buffer(0, "c", schedule::ACTIVATION);
    schedule::Program &p = b.program("step", 0);
    FabricBuilder::relu(p, 0, w, a);
    FabricBuilder::relu(p, 10, a, c);
    schedule::Buffer &first = *b.s.mutable_buffers(int(w - 1));
    schedule::Buffer &last = *b.s.mutable_buffers(int(c - 1));
    if (layout == 1) { // out of address order, no overlap: w and c swap places
      const uint64_t address = first.address();
      first.set_address(last.address());
      last.set_address(address);
    } else if (layout == 2) { // c moved one byte into a
      last.set_address(last.address() - 1);
    } else if (layout == 3) { // a view of w that runs past w's reservation
      schedule::Buffer &view = *b.s.add_buffers();
      view.set_id(uint32_t(b.s.buffers_size()));
      view.set_name("wv");
      view.set_chip(0);
      view.set_kind(schedule::WEIGHT);
      view.set_dtype(schedule::INT8);
      view.add_shape(320);
      view.set_alias_of(w);
      view.set_address(first.address() + 1);
      view.set_size_bytes(320);
    }
    return b.s;
  };
  for (int layout = 0; layout < 4; ++layout) {
    INFO("layout " << layout);
    const schedule::Schedule s = build(layout);
    REQUIRE(schedule::validateSchedule(s, "test"));
    Result<sim::FabricReport> report = sim::simulateFabric(s, config);
    Result<sim::PreparedFabric> validated = sim::PreparedFabric::prepare(s, config, true);
    std::optional<sim::OnePassFabric> fast = sim::PreparedFabric::simulateInOnePass(s, config);
    const bool fits = layout < 2;
    CHECK(report.ok() == fits);
    CHECK(validated.ok() == fits);
    CHECK(fast.has_value() == fits);
    if (!fits) {
      REQUIRE_FALSE(report);
      REQUIRE_FALSE(validated);
      CHECK(report.error() == validated.error());
      CHECK_THAT(report.error(),
                 Catch::Contains(layout == 2 ? "overlap" : "'wv'"));
    }
  }
}

TEST_CASE("a traced fabric run records every executed instruction with its run's buffers",
          "[fabric][trace]") {
  // The ring template of 8 chips (send to c+1, receive from c-1), each chip's buffers named
  // after it, and on chip 0 a program with a repeat block of 4 iterations of period 20.
  const system::SystemConfig config = test::fabricSystem(8);
  FabricBuilder b(config);
  std::vector<uint32_t> mine, got;
  for (uint32_t chip = 0; chip < 8; ++chip) {
    mine.push_back(b.buffer(chip, fmt::format("shard{}", chip), schedule::WEIGHT));
    got.push_back(b.buffer(chip, fmt::format("left{}", chip), schedule::ACTIVATION));
  }
  const uint64_t arrival = kVectorSerialisation + kHop;
  schedule::Program &ring = b.program("allgather", 0);
  FabricBuilder::send(ring, 0, mine[0], 1, portTo(0, 1), 3, kVectorSerialisation, 1);
  FabricBuilder::recv(ring, arrival + 3, got[0], 7, portTo(0, 7), 1);
  FabricBuilder::ringInstances(ring, {&mine, &got});
  const uint32_t kv = b.buffer(0, "kv", schedule::ACTIVATION, {320}, 0, 320 * 4);
  schedule::Program &local = b.program("local", 0);
  FabricBuilder::relu(local, 5, mine[0], kv);
  FabricBuilder::addressStride(FabricBuilder::repeat(local, 0, 1, 4, 20), kv, 320);

  Result<sim::PreparedFabric> prepared = sim::PreparedFabric::prepare(b.s, config);
  REQUIRE(prepared);
  Result<sim::FabricReport> plain = prepared->run(sim::allPrograms(b.s));
  Result<sim::FabricReport> traced =
      prepared->run(sim::allPrograms(b.s), {.collectTrace = true});
  INFO((traced ? std::string() : traced.error()));
  REQUIRE(plain);
  REQUIRE(traced);
  checkSameRuns(*traced, *plain); // the report is the same, traced or not
  CHECK(plain->replayedRuns == 7); // the instances replay the template's local checks...
  CHECK(traced->replayedRuns == 0); // ...but a traced run executes every instruction
  REQUIRE(traced->runs.size() == 9);
  CHECK(plain->traces.empty()); // collected only when asked for
  REQUIRE(traced->traces.size() == 9);
  for (uint32_t r = 0; r < 8; ++r) {
    const sim::ChipRun &run = traced->runs[r];
    const std::vector<sim::InstructionTrace> &trace = traced->traces[r];
    INFO("run on chip " << run.chip);
    REQUIRE(trace.size() == run.instructions);
    const sim::InstructionTrace &send = trace[0], &recv = trace[1];
    CHECK(send.opcode == schedule::C2C_SEND);
    CHECK(send.unit == schedule::C2C);
    CHECK(send.issueCycle == 0);
    CHECK(send.occupancy == 3 + kVectorSerialisation); // the port is held until its slot ends
    CHECK(send.operands == std::vector<std::string>{fmt::format("shard{}", run.chip)});
    CHECK_FALSE(send.iteration.has_value());
    CHECK(recv.opcode == schedule::C2C_RECV);
    CHECK(recv.issueCycle == arrival + 3);
    CHECK(recv.results == std::vector<std::string>{fmt::format("left{}", run.chip)});
    // The send's transfer is named on both ends: chip c's send, chip c+1's receive.
    CHECK(send.flow == fmt::format("chip {} 'allgather' 0.0", run.chip));
    CHECK(traced->traces[(r + 1) % 8][1].flow == send.flow);
  }
  CHECK(traced->runs[8].program == "local");
  const std::vector<sim::InstructionTrace> &repeated = traced->traces[8];
  REQUIRE(repeated.size() == 4);
  for (uint64_t k = 0; k < 4; ++k) {
    CHECK(repeated[k].iteration == std::optional<uint64_t>(k));
    CHECK(repeated[k].issueCycle == 5 + 20 * k);
    CHECK(repeated[k].opcode == schedule::VXM_UNARY);
    CHECK(repeated[k].results == std::vector<std::string>{"kv"});
  }

  // Records of chosen chips only: the other runs' lists stay empty, the report is the same.
  Result<sim::FabricReport> chosen =
      prepared->run(sim::allPrograms(b.s), {.collectTrace = true, .traceChips = {3}});
  REQUIRE(chosen);
  checkSameRuns(*chosen, *plain);
  REQUIRE(chosen->traces.size() == 9);
  for (size_t r = 0; r < 9; ++r) {
    CHECK(chosen->traces[r].size() == (chosen->runs[r].chip == 3 ? 2u : 0u));
  }

  // Through simulate(): the report is traced and the activity trace holds the instructions
  // of every chip (a C2C_SEND slice on each of the 8), with the block's iterations.
  sim::SimulationOptions options;
  options.functional = false;
  options.collectTrace = true;
  Result<sim::SimulationReport> report = sim::simulate(b.s, config, {}, options);
  REQUIRE(report);
  CHECK(report->traced);
  const std::string trace = sim::renderTrace(*report);
  std::set<std::string> sendingChips;
  for (size_t at = trace.find("\"cat\": \"C2C_SEND\""); at != std::string::npos;
       at = trace.find("\"cat\": \"C2C_SEND\"", at + 1)) {
    const size_t pid = trace.find("\"pid\": ", at);
    sendingChips.insert(trace.substr(pid + 7, trace.find(',', pid) - pid - 7));
  }
  CHECK(sendingChips.size() == 8);
  CHECK_THAT(trace, Catch::Contains("\"iteration\": 3"));
  // One arrow per transfer: a flow start at each send, its end at the receive, same id.
  auto flowIds = [&](const std::string &text, const std::string &phase) {
    std::multiset<std::string> ids;
    const std::string marker = "\"ph\": \"" + phase + "\"";
    for (size_t at = text.find(marker); at != std::string::npos; at = text.find(marker, at + 1)) {
      const size_t id = text.find("\"id\": \"", at) + 7;
      ids.insert(text.substr(id, text.find('"', id) - id));
    }
    return ids;
  };
  CHECK(flowIds(trace, "s").size() == 8);
  CHECK(flowIds(trace, "s") == flowIds(trace, "f"));
  CHECK(flowIds(trace, "s").count("chip 3 'allgather' 0.0") == 1);
  options.traceChips = {0};
  report = sim::simulate(b.s, config, {}, options);
  REQUIRE(report);
  for (const sim::ProgramReport &program : report->programs) {
    CHECK(program.trace.size() == (program.chip == 0 ? program.instructions : 0u));
  }
  // Chip 0's transfers have their other end on an untraced chip: no arrows.
  CHECK(flowIds(sim::renderTrace(*report), "s").empty());
}
