// Test helpers for multi-chip (v2) schedules: a small fabric system and a builder that
// places buffers per chip and writes C2C, SYNC and repeat blocks by hand.
#pragma once

#include "SimulatorTestSupport.h"

#include "conveyor/Schedule/ScheduleFormat.h"
#include "conveyor/System/SystemConfig.h"

#include <algorithm>
#include <initializer_list>
#include <map>
#include <string>
#include <vector>

namespace conveyor::test {

/// testSystem() on a fabric: `chips` chips, 8 per node, 9 nodes per group; links 16 x 4 lanes
/// x 30 Gb/s at 1 GHz = 15 bytes/cycle (a 320-byte vector serialises in 22 cycles), 216 cycles
/// per hop.
inline system::SystemConfig fabricSystem(uint32_t chips = 16, double driftPpm = 0) {
  system::SystemConfig config = testSystem();
  config.name = "test-fabric";
  config.fabric.chips = chips;
  config.fabric.chipsPerNode = 8;
  config.fabric.topology =
      chips > 8 ? system::Topology::Dragonfly : system::Topology::FullyConnected;
  config.fabric.nodesPerGroup = 9;
  config.fabric.clockDriftPpm = driftPpm;
  config.fabric.syncPeriodCycles = 256;
  return config;
}

/// Deterministic source of schedule mutations for the random-corruption tests: a 64-bit LCG
/// (Knuth's MMIX constants) read from its high bits, and values that favour edges.
class MutationRng {
public:
  explicit MutationRng(uint64_t seed) : state_(seed) {}
  uint64_t next(uint64_t bound) {
    state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
    return (state_ >> 33) % bound;
  }
  /// Small, medium, a power of two or near the top of the range; 0 too when `withZero`.
  uint64_t value(bool withZero) {
    uint64_t pick = next(withZero ? 6 : 5);
    if (withZero) {
      if (pick == 0) {
        return 0;
      }
      --pick;
    }
    switch (pick) {
    case 0:
      return next(4);
    case 1:
      return next(40);
    case 2:
      return next(1000);
    case 3:
      return uint64_t(1) << next(64);
    default:
      return ~uint64_t(0) - next(3);
    }
  }

private:
  uint64_t state_;
};

/// The port chip `from` uses to reach chip `to` of its node (rank of `to` among the others).
inline uint32_t portTo(uint32_t from, uint32_t to) {
  const uint32_t a = from % 8, b = to % 8;
  return b < a ? b : b - 1;
}

class FabricBuilder {
public:
  explicit FabricBuilder(const system::SystemConfig &config) {
    s.set_magic(schedule::kMagic);
    s.set_version(schedule::kVersion);
    s.set_compiler_version("hand-built");
    s.set_model_name("fabric-test");
    s.mutable_system()->set_name(config.name);
    s.mutable_system()->set_fingerprint(system::fingerprint(config));
    s.mutable_system()->set_chips(config.fabric.chips);
  }

  /// An int8 buffer of `shape` on `chip`, vector-aligned after the chip's previous one;
  /// `reserve` bytes when non-zero. `span` bytes are left free from its address (for a
  /// buffer strided by a repeat block, whose size_bytes is one iteration's).
  uint32_t buffer(uint32_t chip, const std::string &name, schedule::BufferKind kind,
                  std::vector<int64_t> shape = {320}, uint64_t reserve = 0, uint64_t span = 0) {
    schedule::Buffer *b = s.add_buffers();
    b->set_id(uint32_t(s.buffers_size()));
    b->set_name(name);
    b->set_chip(chip);
    b->set_kind(kind);
    b->set_dtype(schedule::INT8);
    uint64_t bytes = 1;
    for (int64_t dim : shape) {
      b->add_shape(dim);
      bytes *= uint64_t(dim);
    }
    const uint64_t reserved = reserve ? reserve : (bytes + 319) / 320 * 320;
    b->set_address(nextAddress[chip]);
    b->set_size_bytes(reserved);
    nextAddress[chip] += std::max(reserved, span);
    return b->id();
  }

  schedule::Program &program(const std::string &name, uint32_t chip) {
    schedule::Program *p = s.add_programs();
    p->set_name(name);
    p->set_kind(schedule::DECODE);
    p->set_kv_length(128);
    p->set_chip(chip);
    p->set_tokens_per_step(1);
    return *p;
  }

  static schedule::Instruction &op(schedule::Program &p, uint64_t cycle, schedule::Opcode opcode,
                                   schedule::Unit unit, std::vector<uint32_t> operands,
                                   std::vector<uint32_t> results, const std::string &loc = "") {
    schedule::Instruction *inst = p.add_instructions();
    inst->set_issue_cycle(cycle);
    inst->set_opcode(opcode);
    inst->set_unit(unit);
    for (uint32_t id : operands) {
      inst->add_operands(id);
    }
    for (uint32_t id : results) {
      inst->add_results(id);
    }
    inst->set_location(loc);
    return *inst;
  }
  static schedule::Instruction &relu(schedule::Program &p, uint64_t cycle, uint32_t in,
                                     uint32_t out) {
    schedule::Instruction &inst =
        op(p, cycle, schedule::VXM_UNARY, schedule::VXM, {in}, {out}, "relu");
    inst.set_kind(schedule::RELU);
    return inst;
  }
  static schedule::Instruction &send(schedule::Program &p, uint64_t cycle, uint32_t buffer,
                                     uint32_t peer, uint32_t link, uint64_t slotStart,
                                     uint64_t slotCycles, uint64_t transferId) {
    schedule::Instruction &inst =
        op(p, cycle, schedule::C2C_SEND, schedule::C2C, {buffer}, {}, "send");
    inst.set_queue(link);
    inst.set_peer_chip(peer);
    inst.set_link(link);
    inst.set_slot_start_cycle(slotStart);
    inst.set_slot_cycles(slotCycles);
    inst.set_transfer_id(transferId);
    return inst;
  }
  static schedule::Instruction &recv(schedule::Program &p, uint64_t cycle, uint32_t buffer,
                                     uint32_t peer, uint32_t link, uint64_t transferId) {
    schedule::Instruction &inst =
        op(p, cycle, schedule::C2C_RECV, schedule::C2C, {}, {buffer}, "recv");
    inst.set_queue(link);
    inst.set_peer_chip(peer);
    inst.set_link(link);
    inst.set_transfer_id(transferId);
    return inst;
  }
  static schedule::Instruction &sync(schedule::Program &p, uint64_t cycle) {
    return op(p, cycle, schedule::SYNC, schedule::ICU, {}, {}, "sync");
  }
  /// Makes `ring`, a program of chip 0, a template for chips 1-7 of a ring of 8 in one node:
  /// chip c runs it with each list's buffer c for its buffer 0, sends to chip c+1 where chip
  /// 0 sends to chip 1 (peer 1, port to it) and receives from chip c-1 (peer 7).
  static void ringInstances(schedule::Program &ring,
                            std::initializer_list<const std::vector<uint32_t> *> buffers) {
    for (uint32_t chip = 1; chip < 8; ++chip) {
      schedule::ProgramInstance *instance = ring.add_instances();
      instance->set_chip(chip);
      for (const std::vector<uint32_t> *ids : buffers) {
        (*instance->mutable_buffer_map())[(*ids)[0]] = (*ids)[chip];
      }
      (*instance->mutable_peer_map())[1] = (chip + 1) % 8;
      (*instance->mutable_peer_map())[7] = (chip + 7) % 8;
      (*instance->mutable_link_map())[portTo(0, 1)] = portTo(chip, (chip + 1) % 8);
      (*instance->mutable_link_map())[portTo(0, 7)] = portTo(chip, (chip + 7) % 8);
    }
  }
  static schedule::Repeat &repeat(schedule::Program &p, uint32_t first, uint32_t count,
                                  uint64_t iterations, uint64_t period,
                                  const std::string &name = "layers") {
    schedule::Repeat *r = p.add_repeats();
    r->set_first(first);
    r->set_count(count);
    r->set_iterations(iterations);
    r->set_period_cycles(period);
    r->set_name(name);
    return *r;
  }

  /// Shifts `buffer` by `bytes` per iteration of `block`.
  static schedule::BufferStride &addressStride(schedule::Repeat &block, uint32_t buffer,
                                               int64_t bytes) {
    schedule::BufferStride *stride = block.add_strides();
    stride->set_buffer(buffer);
    stride->set_address_stride(bytes);
    return *stride;
  }

  schedule::Schedule s;

private:
  std::map<uint32_t, uint64_t> nextAddress;
};

} // namespace conveyor::test
