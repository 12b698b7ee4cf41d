// Speed of the multi-chip engine on a synthetic Llama-2-70B decode step on 576 chips
// (systems/groq-576.yaml): 72 pipeline stages x tensor-parallel groups of 8 (one node each),
// 80 layers (stages 0-7 hold 2, the rest 1) in repeat blocks, ring all-reduces after the
// attention and MLP projections, pipeline sends between stages, a SYNC per layer. Built in
// code with the shapes of the real model (d_model 8192, FFN 28672, 64 query / 8 KV heads,
// KV length 2048, int8 weights and activations), shape-only, with earliest legal cycles.
#include "conveyor/Schedule/ScheduleFormat.h"
#include "conveyor/Simulator/BufferTable.h"
#include "conveyor/Simulator/FabricModel.h"
#include "conveyor/Simulator/FabricSimulator.h"
#include "conveyor/Simulator/HardwareModel.h"
#include "conveyor/Simulator/InstructionCost.h"
#include "conveyor/Simulator/ScheduleChecker.h"
#include "conveyor/System/SystemConfig.h"

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

using namespace conveyor;

namespace {

constexpr uint32_t kTp = 8, kStages = 72, kLayers = 80;
constexpr int64_t kModel = 8192, kFfnShard = 28672 / kTp, kHeadDim = 128, kKvLength = 2048;
constexpr int64_t kQShard = kModel / kTp; // 8 query heads x 128
constexpr int64_t kChunk = kModel / kTp;  // all-reduce chunk (bytes, int8)
constexpr uint64_t kDriftSlack = 16;      // cycles the schedule leaves for drift
constexpr uint32_t kPipelineSendPort = 7, kPipelineRecvPort = 8; // first global ports

template <typename T> T orDie(Result<T> result, const char *what) {
  if (!result) {
    std::cerr << "fabric-benchmarks: " << what << ": " << result.error() << "\n";
    std::exit(1);
  }
  return std::move(*result);
}

const system::SystemConfig &groq576() {
  static const system::SystemConfig config = orDie(
      system::loadSystemConfig(CONVEYOR_SOURCE_DIR "/systems/groq-576.yaml"), "groq-576.yaml");
  return config;
}

uint32_t layersOf(uint32_t stage) { return stage < kLayers - kStages ? 2 : 1; }

/// When one iteration of a block is over: after its last issue, with every result ready and
/// every unit free again.
uint64_t iterationEnd(uint64_t lastIssue, const std::map<uint32_t, uint64_t> &readyAt,
                      const std::array<uint64_t, sim::kFabricUnits> &unitFree) {
  uint64_t end = lastIssue + 1;
  for (const auto &[id, ready] : readyAt) {
    end = std::max(end, ready);
  }
  for (uint64_t free : unitFree) {
    end = std::max(end, free);
  }
  return end;
}

/// A repeat block "layers" of instructions [first, first + count) on `p`.
schedule::Repeat &addLayersBlock(schedule::Program &p, uint32_t first, uint32_t count,
                                 uint64_t iterations, uint64_t period) {
  schedule::Repeat &block = *p.add_repeats();
  block.set_name("layers");
  block.set_first(first);
  block.set_count(count);
  block.set_iterations(iterations);
  block.set_period_cycles(period);
  return block;
}

/// `buffer` stands for `even` on even iterations of `block` and for `odd` on odd ones.
void alternate(schedule::Repeat &block, uint32_t buffer, uint32_t even, uint32_t odd) {
  schedule::BufferStride *list = block.add_strides();
  list->set_buffer(buffer);
  list->add_per_iteration(even);
  list->add_per_iteration(odd);
}

/// The buffers of one chip, in creation order (identical on every chip of a stage, so that a
/// stage's template maps onto its instances by a fixed id offset).
struct ChipBuffers {
  uint32_t first = 0, count = 0; // ids [first, first + count)
  uint32_t x0, x1, x2, y = 0;
  uint32_t wq, wkv, wo, wg, wu, wd, kt, v;
  uint32_t q, kv, qr, qr8, s, p, o8, o1, part, h, g, u, a, m, part2;
  std::array<uint32_t, kTp - 1> rs1, acc1, ag1, rs2, acc2, ag2;
};

class LlamaBuilder {
public:
  LlamaBuilder() : system(groq576()) {
    s.set_magic(schedule::kMagic);
    s.set_version(schedule::kVersion);
    s.set_compiler_version("fabric-benchmarks");
    s.set_model_name("llama-2-70b-decode-synthetic");
    s.mutable_system()->set_name(system.name);
    s.mutable_system()->set_fingerprint(system::fingerprint(system));
    s.mutable_system()->set_chips(system.fabric.chips);
  }

  schedule::Schedule build() {
    for (uint32_t chip = 0; chip < system.fabric.chips; ++chip) {
      chips.push_back(addBuffers(chip));
    }
    model = std::make_unique<sim::HardwareModel>(orDie(sim::buildHardwareModel(system), "model"));
    fabric = std::make_unique<sim::FabricModel>(orDie(sim::buildFabricModel(system), "fabric"));
    buffers = std::make_unique<sim::BufferTable>(s, model->vectorBytes);
    uint64_t start = 0;
    for (uint32_t stage = 0; stage < kStages; ++stage) {
      start = addStage(stage, start);
    }
    return s;
  }

private:
  const system::SystemConfig &system;
  schedule::Schedule s;
  std::vector<ChipBuffers> chips;
  std::unique_ptr<sim::HardwareModel> model;
  std::unique_ptr<sim::FabricModel> fabric;
  std::unique_ptr<sim::BufferTable> buffers;
  std::map<uint32_t, uint64_t> nextAddress;

  // Earliest-issue state of the template chip being scheduled.
  std::array<uint64_t, sim::kFabricUnits> unitFree{};
  std::map<uint32_t, uint64_t> readyAt;
  std::vector<uint64_t> portFree;
  uint64_t lastIssue = 0;

  uint32_t buffer(uint32_t chip, const char *name, schedule::BufferKind kind,
                  std::vector<int64_t> shape, uint32_t span = 1, uint32_t aliasOf = 0) {
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
    const uint64_t reserved = (bytes + 319) / 320 * 320;
    if (aliasOf != 0) {
      const schedule::Buffer &root = s.buffers(int(aliasOf - 1));
      b->set_alias_of(aliasOf);
      b->set_address(root.address());
      b->set_size_bytes(root.size_bytes());
      return b->id();
    }
    b->set_address(nextAddress[chip]);
    b->set_size_bytes(reserved);
    nextAddress[chip] += reserved * span;
    return b->id();
  }

  ChipBuffers addBuffers(uint32_t chip) {
    using schedule::ACTIVATION;
    using schedule::WEIGHT;
    const uint32_t stage = chip / kTp;
    const uint32_t layers = layersOf(stage);
    ChipBuffers c;
    c.first = uint32_t(s.buffers_size()) + 1;
    c.x0 = buffer(chip, "x0", stage == 0 ? schedule::INPUT : ACTIVATION, {1, kModel});
    c.x1 = buffer(chip, "x1", ACTIVATION, {1, kModel});
    c.x2 = buffer(chip, "x2", ACTIVATION, {1, kModel});
    // Per-layer weights and KV cache: one layer's worth each, strided over the stage's layers.
    c.wq = buffer(chip, "wq", WEIGHT, {kModel, kQShard}, layers);
    c.wkv = buffer(chip, "wkv", WEIGHT, {kModel, 2 * kHeadDim}, layers);
    c.wo = buffer(chip, "wo", WEIGHT, {kQShard, kModel}, layers);
    c.wg = buffer(chip, "wg", WEIGHT, {kModel, kFfnShard}, layers);
    c.wu = buffer(chip, "wu", WEIGHT, {kModel, kFfnShard}, layers);
    c.wd = buffer(chip, "wd", WEIGHT, {kFfnShard, kModel}, layers);
    c.kt = buffer(chip, "k_cache_t", WEIGHT, {kHeadDim, kKvLength}, layers);
    c.v = buffer(chip, "v_cache", WEIGHT, {kKvLength, kHeadDim}, layers);
    c.q = buffer(chip, "q", ACTIVATION, {1, kQShard});
    c.kv = buffer(chip, "kv", ACTIVATION, {1, 2 * kHeadDim});
    c.qr = buffer(chip, "q_rot", ACTIVATION, {1, kQShard});
    c.qr8 = buffer(chip, "q_heads", ACTIVATION, {kQShard / kHeadDim, kHeadDim}, 1, c.qr);
    c.s = buffer(chip, "scores", ACTIVATION, {kQShard / kHeadDim, kKvLength});
    c.p = buffer(chip, "probs", ACTIVATION, {kQShard / kHeadDim, kKvLength});
    c.o8 = buffer(chip, "attn_heads", ACTIVATION, {kQShard / kHeadDim, kHeadDim});
    c.o1 = buffer(chip, "attn", ACTIVATION, {1, kQShard}, 1, c.o8);
    c.part = buffer(chip, "attn_out_partial", ACTIVATION, {1, kModel});
    for (uint32_t k = 0; k + 1 < kTp; ++k) {
      c.rs1[k] = buffer(chip, "ar1_rs", ACTIVATION, {1, kChunk});
      c.acc1[k] = buffer(chip, "ar1_acc", ACTIVATION, {1, kChunk});
      c.ag1[k] = buffer(chip, "ar1_ag", ACTIVATION, {1, kChunk});
    }
    c.h = buffer(chip, "h", ACTIVATION, {1, kModel});
    c.g = buffer(chip, "gate", ACTIVATION, {1, kFfnShard});
    c.u = buffer(chip, "up", ACTIVATION, {1, kFfnShard});
    c.a = buffer(chip, "act", ACTIVATION, {1, kFfnShard});
    c.m = buffer(chip, "gated", ACTIVATION, {1, kFfnShard});
    c.part2 = buffer(chip, "mlp_out_partial", ACTIVATION, {1, kModel});
    for (uint32_t k = 0; k + 1 < kTp; ++k) {
      c.rs2[k] = buffer(chip, "ar2_rs", ACTIVATION, {1, kChunk});
      c.acc2[k] = buffer(chip, "ar2_acc", ACTIVATION, {1, kChunk});
      c.ag2[k] = buffer(chip, "ar2_ag", ACTIVATION, {1, kChunk});
    }
    if (stage == kStages - 1) {
      c.y = buffer(chip, "y", schedule::OUTPUT, {1, kModel});
    }
    c.count = uint32_t(s.buffers_size()) + 1 - c.first;
    return c;
  }

  // --- earliest-issue scheduling of the template chip (rank 0 of the stage) ---

  schedule::Instruction &emit(schedule::Program &p, schedule::Opcode opcode, schedule::Unit unit,
                              std::vector<uint32_t> operands, std::vector<uint32_t> results,
                              std::vector<uint32_t> after = {},
                              schedule::ElementwiseKind kind = schedule::ELEMENTWISE_UNSPECIFIED,
                              int64_t axis = 0) {
    schedule::Instruction *inst = p.add_instructions();
    inst->set_opcode(opcode);
    inst->set_kind(kind); // before the cost: it depends on the kind
    inst->set_axis(axis);
    inst->set_unit(unit);
    inst->set_location(fmt::format("stage{}", p.chip() / kTp));
    for (uint32_t id : operands) {
      inst->add_operands(id);
    }
    for (uint32_t id : results) {
      inst->add_results(id);
    }
    uint64_t issue = lastIssue;
    for (uint32_t id : operands) {
      issue = std::max(issue, readyAt[rootOf(id)]);
    }
    for (uint32_t id : after) {
      issue = std::max(issue, readyAt[rootOf(id)]);
    }
    uint64_t occupancy = 0, duration = 0;
    size_t slot = sim::kFabricUnits;
    if (opcode == schedule::SYNC) {
      slot = 4;
      occupancy = duration = 1;
    } else if (opcode != schedule::C2C_SEND && opcode != schedule::C2C_RECV) {
      slot = sim::unitSlot(unit);
      const sim::InstructionCost cost =
          orDie(sim::instructionCost(*model, *buffers, *inst), "cost");
      occupancy = cost.occupancy;
      duration = cost.duration;
    }
    if (slot < sim::kFabricUnits) {
      issue = std::max(issue, unitFree[slot]);
      unitFree[slot] = issue + occupancy;
    }
    inst->set_issue_cycle(issue);
    lastIssue = issue;
    for (uint32_t id : results) {
      readyAt[rootOf(id)] = issue + duration;
    }
    return *inst;
  }

  uint32_t rootOf(uint32_t id) const {
    const schedule::Buffer &b = s.buffers(int(id - 1));
    return b.alias_of() ? b.alias_of() : id;
  }

  /// A send of `bytes` of `operand` to `peer` on `port`, at the earliest cycle the data and
  /// the port allow; returns the arrival cycle.
  uint64_t send(schedule::Program &p, uint32_t operand, uint64_t bytes, uint32_t peer,
                uint32_t port, uint64_t id, uint32_t hops) {
    schedule::Instruction &inst = emit(p, schedule::C2C_SEND, schedule::C2C, {operand}, {});
    const uint64_t start = std::max(inst.issue_cycle(), portFree[port]);
    inst.set_issue_cycle(start);
    lastIssue = start;
    const uint64_t serialisation = fabric->serialisationCycles(bytes);
    inst.set_queue(port);
    inst.set_link(port);
    inst.set_peer_chip(peer);
    inst.set_bytes(bytes);
    inst.set_slot_start_cycle(start);
    inst.set_slot_cycles(serialisation);
    inst.set_transfer_id(id);
    portFree[port] = start + serialisation;
    return start + serialisation + hops * fabric->hopLatency;
  }

  void recv(schedule::Program &p, uint32_t result, uint64_t bytes, uint32_t peer, uint32_t port,
            uint64_t id, uint64_t arrival) {
    lastIssue = std::max(lastIssue, arrival);
    schedule::Instruction &inst = emit(p, schedule::C2C_RECV, schedule::C2C, {}, {result});
    inst.set_queue(port);
    inst.set_link(port);
    inst.set_peer_chip(peer);
    inst.set_bytes(bytes);
    inst.set_transfer_id(id);
    readyAt[result] = inst.issue_cycle() + model->memLatency +
                      (bytes + model->vectorBytes - 1) / model->vectorBytes;
  }

  /// Ring all-reduce of `partial` over the stage's 8 chips: 7 reduce-scatter steps (send,
  /// receive, add) and 7 all-gather steps (send, receive) of 1 KiB chunks. Symmetry: the
  /// chunk this chip receives arrives when its own send arrives at the right neighbour.
  void allReduce(schedule::Program &p, uint32_t base, uint32_t partial,
                 const std::array<uint32_t, kTp - 1> &rs, const std::array<uint32_t, kTp - 1> &acc,
                 const std::array<uint32_t, kTp - 1> &ag, uint64_t firstId) {
    const uint32_t right = base + 1, left = base + kTp - 1;
    const uint32_t toRight = 0, fromLeft = kTp - 2; // rank 0's ports to rank 1 and rank 7
    uint64_t id = firstId;
    for (uint32_t k = 0; k + 1 < kTp; ++k) {
      const uint64_t arrival =
          send(p, k == 0 ? partial : acc[k - 1], kChunk, right, toRight, id, 1);
      recv(p, rs[k], kChunk, left, fromLeft, id++, arrival);
      emit(p, schedule::VXM_BINARY, schedule::VXM, {rs[k], k == 0 ? rs[k] : acc[k - 1]}, {acc[k]},
           {}, schedule::ADD);
    }
    for (uint32_t k = 0; k + 1 < kTp; ++k) {
      const uint64_t arrival =
          send(p, k == 0 ? acc[kTp - 2] : ag[k - 1], kChunk, right, toRight, id, 1);
      recv(p, ag[k], kChunk, left, fromLeft, id++, arrival);
    }
  }

  schedule::Instruction &matmul(schedule::Program &p, uint32_t a, uint32_t w, uint32_t out) {
    return emit(p, schedule::MXM_MATMUL, schedule::MXM, {a, w}, {out});
  }

  /// One stage: its template program on rank 0 and 7 instances; returns the cycle its output
  /// arrives at the next stage.
  uint64_t addStage(uint32_t stage, uint64_t start) {
    const uint32_t base = stage * kTp;
    const ChipBuffers &c = chips[base];
    const uint32_t layers = layersOf(stage);
    schedule::Program &p = *s.add_programs();
    p.set_name("decode");
    p.set_kind(schedule::DECODE);
    p.set_kv_length(kKvLength);
    p.set_sequences(1);
    p.set_chip(base);
    p.set_tokens_per_step(1);
    p.set_drift_slack_cycles(kDriftSlack);
    unitFree.fill(0);
    readyAt.clear();
    portFree.assign(fabric->links, 0);
    lastIssue = 0;

    if (stage == 0) {
      emit(p, schedule::MEM_WRITE, schedule::MEM, {}, {c.x0});
    } else {
      // Rank r of the previous stage sends to rank r of this one (3 or 5 hops); the SYNC
      // before it bounds the drift since the program started.
      lastIssue = start;
      emit(p, schedule::SYNC, schedule::ICU, {}, {});
      recv(p, c.x0, uint64_t(kModel), base - kTp, kPipelineRecvPort, 1000000, start + kDriftSlack);
    }
    const uint32_t first = uint32_t(p.instructions_size());
    const uint64_t blockStart = std::max(lastIssue, readyAt[c.x0]);
    lastIssue = blockStart;
    emit(p, schedule::SYNC, schedule::ICU, {}, {});
    // cur = x0 (then x1), next = x1 (then x2): per-iteration buffer lists.
    matmul(p, c.x0, c.wq, c.q);
    matmul(p, c.x0, c.wkv, c.kv);
    emit(p, schedule::VXM_UNARY, schedule::VXM, {c.q}, {c.qr}, {}, schedule::RELU);
    matmul(p, c.qr8, c.kt, c.s);
    emit(p, schedule::VXM_SOFTMAX, schedule::VXM, {c.s}, {c.p}, {}, {}, 1);
    matmul(p, c.p, c.v, c.o8);
    matmul(p, c.o1, c.wo, c.part);
    allReduce(p, base, c.part, c.rs1, c.acc1, c.ag1, 1);
    emit(p, schedule::VXM_BINARY, schedule::VXM, {c.x0, c.part}, {c.h}, {c.ag1[kTp - 2]},
         schedule::ADD);
    matmul(p, c.h, c.wg, c.g);
    matmul(p, c.h, c.wu, c.u);
    emit(p, schedule::VXM_UNARY, schedule::VXM, {c.g}, {c.a}, {}, schedule::GELU);
    emit(p, schedule::VXM_BINARY, schedule::VXM, {c.a, c.u}, {c.m}, {}, schedule::MUL);
    matmul(p, c.m, c.wd, c.part2);
    allReduce(p, base, c.part2, c.rs2, c.acc2, c.ag2, 1 + 2 * (kTp - 1));
    emit(p, schedule::VXM_BINARY, schedule::VXM, {c.h, c.part2}, {c.x1}, {c.ag2[kTp - 2]},
         schedule::ADD);
    const uint32_t count = uint32_t(p.instructions_size()) - first;
    // The next iteration starts once everything of this one is done.
    const uint64_t blockEnd = iterationEnd(lastIssue, readyAt, unitFree);
    const uint64_t period = blockEnd - blockStart;
    schedule::Repeat &block = addLayersBlock(p, first, count, layers, period);
    block.set_transfer_id_stride(4 * (kTp - 1));
    for (uint32_t w : {c.wq, c.wkv, c.wo, c.wg, c.wu, c.wd, c.kt, c.v}) {
      schedule::BufferStride *stride = block.add_strides();
      stride->set_buffer(w);
      stride->set_address_stride(int64_t(s.buffers(int(w - 1)).size_bytes()));
    }
    alternate(block, c.x0, c.x0, c.x1);
    alternate(block, c.x1, c.x1, c.x2);

    const uint32_t out = layers == 2 ? c.x2 : c.x1;
    lastIssue = blockStart + (layers - 1) * period + (blockEnd - blockStart);
    readyAt.clear();
    unitFree.fill(lastIssue);
    portFree.assign(fabric->links, lastIssue);
    uint64_t arrival = 0;
    if (stage + 1 < kStages) {
      const uint32_t hops = fabric->route(base, base + kTp).hops;
      arrival = send(p, out, uint64_t(kModel), base + kTp, kPipelineSendPort, 1000000, hops);
    } else {
      emit(p, schedule::MEM_COPY, schedule::MEM, {out}, {c.y});
      emit(p, schedule::MEM_READ, schedule::MEM, {c.y}, {});
    }
    p.set_compiler_cycles(lastIssue);

    for (uint32_t rank = 1; rank < kTp; ++rank) {
      const uint32_t chip = base + rank;
      schedule::ProgramInstance &instance = *p.add_instances();
      instance.set_chip(chip);
      const uint32_t offset = chips[chip].first - c.first;
      for (uint32_t id = c.first; id < c.first + c.count; ++id) {
        (*instance.mutable_buffer_map())[id] = id + offset;
      }
      (*instance.mutable_peer_map())[base + 1] = base + (rank + 1) % kTp;
      (*instance.mutable_peer_map())[base + kTp - 1] = base + (rank + kTp - 1) % kTp;
      if (stage > 0) {
        (*instance.mutable_peer_map())[base - kTp] = chip - kTp;
      }
      if (stage + 1 < kStages) {
        (*instance.mutable_peer_map())[base + kTp] = chip + kTp;
      }
      const uint32_t toRight = fabric->route(chip, base + (rank + 1) % kTp).sendPort;
      const uint32_t fromLeft = fabric->route(base + (rank + kTp - 1) % kTp, chip).recvPort;
      (*instance.mutable_link_map())[0] = toRight;
      (*instance.mutable_link_map())[kTp - 2] = fromLeft;
    }
    return arrival;
  }
};

const schedule::Schedule &llamaSchedule() {
  static const schedule::Schedule schedule = LlamaBuilder().build();
  return schedule;
}

/// One decode step of Llama-2-70B on 576 chips, checked and timed end to end (validation,
/// decode, every chip's program, transfer pairing). items/s = simulated instructions/s.
void llama70bDecodeStep576(benchmark::State &state) {
  const schedule::Schedule &s = llamaSchedule();
  sim::FabricReport last;
  for (auto _ : state) {
    Result<sim::FabricReport> report = sim::simulateFabric(s, groq576());
    if (!report) {
      state.SkipWithError(report.error().c_str());
      return;
    }
    last = std::move(*report);
  }
  state.SetItemsProcessed(int64_t(state.iterations() * last.instructions));
  state.counters["chips"] = double(last.runs.size());
  state.counters["instructions"] = double(last.instructions);
  state.counters["decoded"] = double(last.decodedInstructions);
  state.counters["transfers"] = double(last.transfers);
  state.counters["replayed_runs"] = double(last.replayedRuns);
  state.counters["step_cycles"] = double(last.endCycle);
  state.counters["tokens_per_s"] = last.clockHz / double(last.endCycle);
}
BENCHMARK(llama70bDecodeStep576)->Unit(benchmark::kMillisecond);

/// llamaSchedule() written to a temporary file once per process (removed at exit).
const std::string &llamaScheduleFile() {
  static const struct File {
    std::string path = (std::filesystem::temp_directory_path() /
                        fmt::format("conveyor-bench-llama576-{}.sched", getpid()))
                           .string();
    File() {
      if (Status written = schedule::writeScheduleFile(llamaSchedule(), path); !written) {
        std::cerr << "simulator-benchmarks: " << written.error() << "\n";
        std::exit(1);
      }
    }
    ~File() { std::filesystem::remove(path); }
  } file;
  return file.path;
}

/// What `conveyor simulate` pays before simulating: reading the 576-chip step's file into a
/// protobuf arena, with the reader's structural checks. bytes_per_second is of the file.
void readLlamaSchedule576(benchmark::State &state) {
  const std::string &path = llamaScheduleFile();
  for (auto _ : state) {
    Result<schedule::ArenaSchedule> read = schedule::readScheduleFileToArena(path);
    if (!read) {
      state.SkipWithError(read.error().c_str());
      return;
    }
    benchmark::DoNotOptimize(read->get().buffers_size());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) *
                          int64_t(std::filesystem::file_size(path)));
}
BENCHMARK(readLlamaSchedule576)->Unit(benchmark::kMillisecond);

/// The decode step as `conveyor simulate` runs it: the schedule read back from its file (once;
/// the reading is timed above), then prepare (the reader has validated it) and run. Argument:
/// 1 replays the instances laid out like their template (the default, FabricRunOptions), 0
/// executes every run in full.
void llama70bDecodeStep576FromFile(benchmark::State &state) {
  static const schedule::ArenaSchedule loaded =
      orDie(schedule::readScheduleFileToArena(llamaScheduleFile()), "reading back");
  const schedule::Schedule &s = loaded.get();
  const std::vector<int> all = sim::allPrograms(s);
  const sim::FabricRunOptions options{.replayEquivalentRuns = state.range(0) != 0};
  uint64_t instructions = 0, replayed = 0;
  for (auto _ : state) {
    Result<sim::PreparedFabric> prepared = sim::PreparedFabric::prepare(s, groq576(), true);
    if (!prepared) {
      state.SkipWithError(prepared.error().c_str());
      return;
    }
    Result<sim::FabricReport> report = prepared->run(all, options);
    if (!report) {
      state.SkipWithError(report.error().c_str());
      return;
    }
    instructions = report->instructions;
    replayed = report->replayedRuns;
  }
  state.SetItemsProcessed(int64_t(state.iterations() * instructions));
  state.counters["instructions"] = double(instructions);
  state.counters["replayed_runs"] = double(replayed);
}
BENCHMARK(llama70bDecodeStep576FromFile)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond);

/// A single-chip program on groq-1 whose 8-instruction layer (matmul, gelu, add, transpose,
/// copy, transpose, mul, softmax on [1x64] fp16, as simulator-benchmarks' flat programs)
/// is one repeat block of `iterations` iterations: the layer input and output ping-pong
/// between two buffers (per_iteration lists), everything else is rewritten in place.
schedule::Schedule repeatedLayers(uint64_t iterations) {
  static const system::SystemConfig groq1 =
      orDie(system::loadSystemConfig(CONVEYOR_SOURCE_DIR "/systems/groq-1.yaml"), "groq-1.yaml");
  schedule::Schedule s;
  s.set_magic(schedule::kMagic);
  s.set_version(schedule::kVersion);
  s.set_compiler_version("fabric-benchmarks");
  s.set_model_name("repeated-synthetic");
  s.mutable_system()->set_name(groq1.name);
  s.mutable_system()->set_fingerprint(system::fingerprint(groq1));
  s.mutable_system()->set_chips(groq1.fabric.chips);
  uint64_t address = 0;
  auto buffer = [&](const char *name, schedule::BufferKind kind, std::vector<int64_t> shape) {
    schedule::Buffer *b = s.add_buffers();
    b->set_id(uint32_t(s.buffers_size()));
    b->set_name(name);
    b->set_kind(kind);
    b->set_dtype(schedule::F16);
    uint64_t bytes = 2;
    for (int64_t dim : shape) {
      b->add_shape(dim);
      bytes *= uint64_t(dim);
    }
    b->set_address(address);
    b->set_size_bytes(bytes);
    address += bytes;
    return b->id();
  };
  const uint32_t w = buffer("w", schedule::WEIGHT, {64, 64});
  const uint32_t x = buffer("x", schedule::INPUT, {1, 64});
  const uint32_t ping = buffer("ping", schedule::ACTIVATION, {1, 64});
  const uint32_t pong = buffer("pong", schedule::ACTIVATION, {1, 64});
  const uint32_t h = buffer("h", schedule::ACTIVATION, {1, 64});
  const uint32_t g = buffer("g", schedule::ACTIVATION, {1, 64});
  const uint32_t sum = buffer("s", schedule::ACTIVATION, {1, 64});
  const uint32_t t = buffer("t", schedule::ACTIVATION, {64, 1});
  const uint32_t c = buffer("c", schedule::ACTIVATION, {64, 1});
  const uint32_t u = buffer("u", schedule::ACTIVATION, {1, 64});
  const uint32_t m = buffer("m", schedule::ACTIVATION, {1, 64});
  const uint32_t y = buffer("y", schedule::OUTPUT, {1, 64});
  const sim::HardwareModel model = orDie(sim::buildHardwareModel(groq1), "model");
  const sim::BufferTable table(s, model.vectorBytes);

  schedule::Program &p = *s.add_programs();
  p.set_name("forward");
  p.set_kind(schedule::FORWARD);
  p.set_tokens_per_step(1);
  std::map<uint32_t, uint64_t> ready;
  std::array<uint64_t, sim::kFabricUnits> unitFree{};
  uint64_t last = 0;
  auto emit = [&](schedule::Opcode opcode, schedule::Unit unit, std::vector<uint32_t> operands,
                  std::vector<uint32_t> results, schedule::ElementwiseKind kind, bool transpose) {
    schedule::Instruction &inst = *p.add_instructions();
    inst.set_opcode(opcode);
    inst.set_unit(unit);
    inst.set_kind(kind);
    inst.set_axis(opcode == schedule::VXM_SOFTMAX ? 1 : 0);
    if (transpose) {
      inst.add_perm(1);
      inst.add_perm(0);
    }
    uint64_t issue = std::max(last, unitFree[sim::unitSlot(unit)]);
    for (uint32_t id : operands) {
      inst.add_operands(id);
      issue = std::max(issue, ready[id]);
    }
    for (uint32_t id : results) {
      inst.add_results(id);
    }
    const sim::InstructionCost cost = orDie(sim::instructionCost(model, table, inst), "cost");
    inst.set_issue_cycle(issue);
    last = issue;
    unitFree[sim::unitSlot(unit)] = issue + cost.occupancy;
    for (uint32_t id : results) {
      ready[id] = issue + cost.duration;
    }
  };
  using schedule::ELEMENTWISE_UNSPECIFIED;
  emit(schedule::MEM_WRITE, schedule::MEM, {}, {x}, ELEMENTWISE_UNSPECIFIED, false);
  emit(schedule::MEM_COPY, schedule::MEM, {x}, {ping}, ELEMENTWISE_UNSPECIFIED, false);
  const uint64_t blockStart = std::max(last, ready[ping]);
  last = blockStart;
  const uint32_t first = uint32_t(p.instructions_size());
  emit(schedule::MXM_MATMUL, schedule::MXM, {ping, w}, {h}, ELEMENTWISE_UNSPECIFIED, false);
  emit(schedule::VXM_UNARY, schedule::VXM, {h}, {g}, schedule::GELU, false);
  emit(schedule::VXM_BINARY, schedule::VXM, {g, ping}, {sum}, schedule::ADD, false);
  emit(schedule::SXM_TRANSPOSE, schedule::SXM, {sum}, {t}, ELEMENTWISE_UNSPECIFIED, true);
  emit(schedule::MEM_COPY, schedule::MEM, {t}, {c}, ELEMENTWISE_UNSPECIFIED, false);
  emit(schedule::SXM_TRANSPOSE, schedule::SXM, {c}, {u}, ELEMENTWISE_UNSPECIFIED, true);
  emit(schedule::VXM_BINARY, schedule::VXM, {u, sum}, {m}, schedule::MUL, false);
  emit(schedule::VXM_SOFTMAX, schedule::VXM, {m}, {pong}, ELEMENTWISE_UNSPECIFIED, false);
  const uint64_t period = iterationEnd(last, ready, unitFree) - blockStart;
  schedule::Repeat &block = addLayersBlock(p, first, 8, iterations, period);
  alternate(block, ping, ping, pong);
  alternate(block, pong, pong, ping);
  const uint32_t result = iterations % 2 == 1 ? pong : ping;
  last = blockStart + iterations * period;
  ready.clear();
  unitFree.fill(last);
  emit(schedule::MEM_COPY, schedule::MEM, {result}, {y}, ELEMENTWISE_UNSPECIFIED, false);
  emit(schedule::MEM_READ, schedule::MEM, {y}, {}, ELEMENTWISE_UNSPECIFIED, false);
  return s;
}

/// Timing mode on repeated programs: what a v2 schedule looks like (layers are a repeat
/// block, not unrolled). items/s = executed instructions per second.
void fabricRepeatedTimingOnly(benchmark::State &state) {
  static std::map<int64_t, schedule::Schedule> cache;
  if (!cache.count(state.range(0))) {
    cache[state.range(0)] = repeatedLayers(uint64_t(state.range(0)) / 8);
  }
  const schedule::Schedule &s = cache[state.range(0)];
  static const system::SystemConfig groq1 =
      orDie(system::loadSystemConfig(CONVEYOR_SOURCE_DIR "/systems/groq-1.yaml"), "groq-1.yaml");
  uint64_t executed = 0;
  for (auto _ : state) {
    Result<sim::FabricReport> report = sim::simulateFabric(s, groq1);
    if (!report) {
      state.SkipWithError(report.error().c_str());
      return;
    }
    executed = report->instructions;
  }
  state.SetItemsProcessed(int64_t(state.iterations() * executed));
  state.counters["instructions"] = double(executed);
  state.counters["stored"] = double(s.programs(0).instructions_size());
}
BENCHMARK(fabricRepeatedTimingOnly)
    ->Arg(10000)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMillisecond);

} // namespace
