// The multi-chip timing engine (docs/simulator.md "Multi-chip"): each program is decoded
// once into a flat image (FabricDecode.cpp); every chip then runs its image (here: templates
// once per instance chip, repeat blocks iterated, never unrolled), checking units, data
// readiness, single writer, write-after-read across iterations, MEM ports, link slots and
// drift; finally sends and receives are paired and arrivals checked (FabricPairing.cpp).
// PreparedFabric and simulateFabric, the public entry points, are at the end.
#include "conveyor/Simulator/FabricSimulator.h"

#include "FabricRunner.h"

#include "conveyor/Schedule/ScheduleFormat.h"
#include "conveyor/Simulator/ScheduleChecker.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <memory>
#include <span>

namespace conveyor::sim {
namespace fabric {

std::string FabricRunner::describe(uint32_t runIndex, uint32_t index, uint64_t iteration,
                                   uint64_t issue) const {
  const RunContext &context = runs[runIndex];
  const schedule::Instruction &inst = context.image->proto->instructions(int(index));
  std::string where;
  for (size_t b = 0; b < context.image->blocks.size(); ++b) {
    const ImageBlock &block = context.image->blocks[b];
    if (index >= block.first && index < block.first + block.count) {
      where = fmt::format(", iteration {} of repeat block '{}'", iteration,
                          context.image->proto->repeats(int(b)).name());
    }
  }
  return fmt::format("{}, instruction {}{} ({} '{}' at cycle {})", programLabel(context), index,
                     where, schedule::opcodeName(inst.opcode()), inst.location(), issue);
}

std::span<const RootSpan> FabricRunner::rootsOfChip(uint32_t chip) {
  if (!chipRoots.built) {
    chipRoots.built = true;
    // Counted by chip, placed in table order, then each chip's sorted by (address, index)
    // (most already are: compilers place buffers in order).
    std::vector<uint32_t> &first = chipRoots.first;
    first.assign(size_t(model.chips) + 1, 0);
    for (const BufferInfo &buffer : buffers.all()) {
      if (!buffer.isView() && buffer.sizeBytes > 0) {
        first[buffer.chip + 1] += 1;
      }
    }
    for (size_t c = 0; c < model.chips; ++c) {
      first[c + 1] += first[c];
    }
    std::vector<RootSpan> &spans = chipRoots.spans;
    spans.resize(first[model.chips]);
    std::vector<uint32_t> next(first.begin(), first.end() - 1);
    for (size_t index = 0; index < buffers.all().size(); ++index) {
      const BufferInfo &buffer = buffers.at(index);
      if (!buffer.isView() && buffer.sizeBytes > 0) {
        spans[next[buffer.chip]++] = {buffer.address, buffer.address + buffer.sizeBytes,
                                      uint32_t(index)};
      }
    }
    auto byAddress = [](const RootSpan &a, const RootSpan &b) {
      return a.address != b.address ? a.address < b.address : a.index < b.index;
    };
    for (size_t c = 0; c < model.chips; ++c) {
      const auto begin = spans.begin() + first[c], end = spans.begin() + first[c + 1];
      if (!std::is_sorted(begin, end, byAddress)) {
        std::sort(begin, end, byAddress);
      }
    }
  }
  return std::span<const RootSpan>(chipRoots.spans).subspan(
      chipRoots.first[chip], chipRoots.first[chip + 1] - chipRoots.first[chip]);
}

Status FabricRunner::checkStrideSpans(const RunContext &context,
                                      const std::vector<size_t> &bufferOfSlot) {
  for (size_t b = 0; b < context.image->blocks.size(); ++b) {
    const ImageBlock &block = context.image->blocks[b];
    for (const ImageStride &stride : block.strides) {
      if (stride.addressStride == 0) {
        continue;
      }
      const BufferInfo &buffer = buffers.at(bufferOfSlot[stride.slot]);
      const __int128 shift = (__int128)stride.addressStride * (__int128)(block.iterations - 1);
      const __int128 low = (__int128)buffer.address + std::min<__int128>(0, shift);
      const __int128 high =
          (__int128)buffer.address + std::max<__int128>(0, shift) + (__int128)buffer.sizeBytes;
      // Worded only when a check fails (a label is a formatted string).
      auto where = [&] {
        return fmt::format("{}, repeat block '{}': buffer {} strided by {} bytes over {} "
                           "iterations",
                           programLabel(context), context.image->proto->repeats(int(b)).name(),
                           buffer.label(), stride.addressStride, block.iterations);
      };
      if (low < 0 || high > (__int128)model.sramBytes) {
        return makeError(fmt::format("{} spans bytes [{}, {}): SRAM overflow, past the {} bytes "
                                     "of SRAM of system '{}'",
                                     where(), (long long)low, (long long)high, model.sramBytes,
                                     model.systemName));
      }
      // Storage roots of the chip sorted by address: the first that ends after `low` and
      // every later one that starts before `high` overlap the span.
      const std::span<const RootSpan> roots = rootsOfChip(buffer.chip);
      auto it = std::partition_point(roots.begin(), roots.end(), [&](const RootSpan &span) {
        return (__int128)span.end <= low;
      });
      for (; it != roots.end() && (__int128)it->address < high; ++it) {
        const BufferInfo &other = buffers.at(it->index);
        if (it->index == buffer.root) {
          continue;
        }
        return makeError(fmt::format("{} spans bytes [{}, {}), which overlaps buffer {} at "
                                     "[{}, {})",
                                     where(), (long long)low, (long long)high, other.label(),
                                     other.address, other.address + other.sizeBytes));
      }
    }
  }
  return Status::success();
}


void FabricRunner::traceExecuted(std::vector<InstructionTrace> &trace, const ProgramImage &image,
                                 uint32_t index, uint64_t shift,
                                 std::optional<uint64_t> iteration) {
  const ImageInstruction &inst = image.instructions[index];
  const schedule::Instruction &proto = image.proto->instructions(int(index));
  InstructionTrace &record = trace.emplace_back();
  record.index = index;
  record.unit = proto.unit();
  record.queue = proto.queue();
  record.opcode = proto.opcode();
  record.kind = proto.kind();
  record.issueCycle = inst.issue + shift;
  record.occupancy = inst.kind == Kind::Send ? inst.duration : inst.occupancy;
  record.duration = inst.duration;
  record.iteration = iteration;
  record.location = proto.location();
  // This run's buffers: runOne's slot tables, with the block's per-iteration remapping.
  const uint32_t *slot = image.slots.data() + inst.slotBegin;
  for (uint16_t i = 0; i < inst.operands + inst.results; ++i) {
    const size_t buffer = runScratch.bufferOfSlot[runScratch.remap[slot[i]]];
    (i < inst.operands ? record.operands : record.results)
        .push_back(buffers.at(buffer).traceName());
  }
}

void FabricRunner::traceRun(std::vector<InstructionTrace> &trace, const ProgramImage &image) {
  // The run loop's order (runOne), without its checks: every instruction, each block
  // iteration by iteration with its per-iteration buffers.
  std::vector<uint32_t> &remap = runScratch.remap; // the identity again after the run
  size_t nextBlock = 0;
  for (uint32_t index = 0; index < image.instructions.size();) {
    if (nextBlock < image.blocks.size() && image.blocks[nextBlock].first == index) {
      const ImageBlock &block = image.blocks[nextBlock++];
      for (uint64_t k = 0; k < block.iterations; ++k) {
        for (const ImageStride &stride : block.strides) { // as the run loop remaps them
          const size_t lists = stride.perIteration.size();
          remap[stride.slot] = lists == 0 ? stride.slot : stride.perIteration[k % lists];
        }
        for (uint32_t i = block.first; i < block.first + block.count; ++i) {
          traceExecuted(trace, image, i, k * block.period, k);
        }
      }
      for (const ImageStride &stride : block.strides) {
        remap[stride.slot] = stride.slot;
      }
      index = block.first + block.count;
      continue;
    }
    traceExecuted(trace, image, index, 0, std::nullopt);
    ++index;
  }
}

Status FabricRunner::runOne(uint32_t runIndex) {
  const RunContext &context = runs[runIndex];
  const ProgramImage &image = *context.image;
  const schedule::Program &program = *image.proto;
  const uint32_t chip = context.chip;

  // Slot -> buffer of this chip -> storage root -> dense state index.
  const size_t slots = image.slotIds.size();
  std::vector<size_t> &bufferOfSlot = runScratch.bufferOfSlot;
  bufferOfSlot.resize(slots);
  std::vector<uint32_t> &stateOfSlot = runScratch.stateOfSlot;
  stateOfSlot.resize(slots);
  auto &states = runScratch.states;
  states.clear();
  states.reserve(slots); // at most one state per slot: no regrowth
  std::vector<uint32_t> &rootOfState = runScratch.rootOfState; // to reset `scratch` after
  rootOfState.clear();
  std::vector<SlotPlace> &slotPlace = runScratch.slotPlace;
  slotPlace.assign(slots, SlotPlace{});
  scratch.resize(buffers.all().size(), kNone); // root -> state index
  // An instance's buffers as decode found them, else from its map, fetched once (each call
  // of the accessor syncs the map with its wire form).
  const uint32_t *decodedBuffers =
      context.instance != nullptr && !image.instanceBuffers.empty()
          ? image.instanceBuffers.data() + size_t(context.instanceIndex) * slots
          : nullptr;
  const auto *bufferMap = context.instance == nullptr || decodedBuffers != nullptr
                              ? nullptr
                              : &context.instance->buffer_map();
  for (size_t slot = 0; slot < image.slotIds.size(); ++slot) {
    if (decodedBuffers != nullptr) {
      bufferOfSlot[slot] = decodedBuffers[slot];
    } else {
      bufferOfSlot[slot] = buffers.indexOf(bufferMap == nullptr
                                               ? image.slotIds[slot]
                                               : mapped(*bufferMap, image.slotIds[slot]));
    }
    const BufferInfo &buffer = buffers.at(bufferOfSlot[slot]);
    slotPlace[slot].address = buffer.address;
    slotPlace[slot].bytes = buffer.bytes;
    const uint32_t root = buffer.root;
    if (scratch[root] == kNone) {
      scratch[root] = uint32_t(states.size());
      rootOfState.push_back(root);
      RootState &state = states.emplace_back();
      const schedule::BufferKind kind = buffers.at(root).kind();
      state.weight = kind == schedule::WEIGHT;
      state.resident = kind == schedule::KV_CACHE;
    }
    stateOfSlot[slot] = scratch[root];
  }
  for (const uint32_t root : rootOfState) {
    scratch[root] = kNone;
  }
  for (const ImageBlock &block : image.blocks) {
    for (const ImageStride &stride : block.strides) {
      if (stride.addressStride != 0) {
        states[stateOfSlot[stride.slot]].strided = true;
      }
    }
  }
  if (Status status = checkStrideSpans(context, bufferOfSlot); !status) {
    return status;
  }
  for (const ImageBlock &block : image.blocks) {
    for (const ImageStride &stride : block.strides) {
      slotPlace[stride.slot].stride = stride.addressStride;
    }
  }
  MemPortBook ports(model);
  PortConflict conflict;

  // Transfers of this run: peers, ports and ids rewritten for an instance.
  std::vector<ImageTransfer> &transfers = runScratch.transfers;
  transfers.assign(image.transfers.begin(), image.transfers.end());
  int64_t idOffset = 0;
  if (context.instance != nullptr) {
    idOffset = context.instance->transfer_id_offset();
    const auto &peerMap = context.instance->peer_map();
    const auto &linkMap = context.instance->link_map();
    for (ImageTransfer &transfer : transfers) {
      transfer.peer = mapped(peerMap, transfer.peer);
      transfer.link = mapped(linkMap, transfer.link);
    }
  }

  ChipRun result;
  result.program = program.name();
  result.programIndex = uint32_t(context.image - images.data());
  result.chip = chip;
  std::array<uint64_t, kFabricUnits> freeAt{};
  std::array<uint32_t, kFabricUnits> lastIndex;
  std::array<uint64_t, kFabricUnits> lastIteration{};
  std::array<uint64_t, kFabricUnits> lastIssue{};
  lastIndex.fill(kNone);
  // Per sending port: the last link slot, to catch double booking in issue order.
  std::vector<uint64_t> &portFreeAt = runScratch.portFreeAt;
  portFreeAt.assign(fabric.links, 0);
  std::vector<uint32_t> &portLastIndex = runScratch.portLastIndex;
  portLastIndex.assign(fabric.links, kNone);
  std::vector<uint64_t> &portLastIteration = runScratch.portLastIteration;
  portLastIteration.assign(fabric.links, 0);
  std::vector<uint64_t> &portLastIssue = runScratch.portLastIssue;
  portLastIssue.assign(fabric.links, 0);
  uint64_t lastSync = 0;
  const uint64_t maxRun =
      image.hasTransfers ? fabric.cyclesWithinSlack(program.drift_slack_cycles()) : UINT64_MAX;
  std::vector<uint32_t> &remap = runScratch.remap;
  remap.resize(slots);
  for (size_t slot = 0; slot < remap.size(); ++slot) {
    remap[slot] = uint32_t(slot);
  }

  // Replay (FabricRunOptions::replayEquivalentRuns): the first run of a program records what
  // its local checks read and its C2C instructions; a later run of it whose slots read the
  // same executes only those.
  // Only programs with instances run more than once in a step.
  RunReference &reference = references[result.programIndex];
  const bool replayable =
      options.replayEquivalentRuns && !options.collectTrace && !program.instances().empty();
  std::vector<uint8_t> &stateKinds = runScratch.stateKinds;
  if (replayable) {
    stateKinds.resize(states.size());
    for (size_t i = 0; i < states.size(); ++i) {
      stateKinds[i] = uint8_t(uint8_t(states[i].weight) | uint8_t(states[i].resident) << 1);
    }
  }
  const bool replay = replayable && reference.valid && reference.places == slotPlace &&
                      reference.stateOfSlot == stateOfSlot && reference.stateKinds == stateKinds;
  const bool recording = replayable && !reference.valid;

  unsigned __int128 c2cBitHops = 0;
  struct RouteEntry {
    uint32_t peer = kNone;
    Route route;
  };
  std::array<RouteEntry, 16> routeCache{};
  std::string failure;
  // A C2C instruction's fabric side, on this run's chip (also what a replayed run executes).
  auto transferAt = [&](const ImageInstruction &inst, uint32_t index, uint64_t iteration,
                        uint64_t issue, uint64_t idShift) -> bool {
    auto fail = [&](const std::string &reason) {
      failure = fmt::format("{}: {}", describe(runIndex, index, iteration, issue), reason);
      return false;
    };
    const ImageTransfer &transfer = transfers[inst.transfer];
    if (issue - lastSync > maxRun) {
      return fail(fmt::format(
          "sync missing under drift: {} cycles since the last SYNC (cycle {}); at {} ppm two "
          "chips drift {:.2f} cycles apart, more than the program's drift_slack_cycles {}: "
          "issue a SYNC at least every {} cycles",
          issue - lastSync, lastSync, double(fabric.driftPartsPerBillion) / 1000.0,
          double(issue - lastSync) * double(fabric.driftPartsPerBillion) / 1e9,
          program.drift_slack_cycles(), maxRun));
    }
    if (transfer.link >= fabric.links) {
      return fail(fmt::format("link {} (after link_map) does not exist: chips of system '{}' "
                              "have {} C2C link(s)",
                              transfer.link, model.systemName, fabric.links));
    }
    if (transfer.peer >= fabric.chips || transfer.peer == chip) {
      return fail(fmt::format("peer chip {} is not another chip of the {}-chip system",
                              transfer.peer, fabric.chips));
    }
    const uint64_t key = uint64_t(int64_t(transfer.transferId) + idOffset) + idShift;
    const int64_t correction = fabric.driftCorrection(chip, issue - lastSync);
    TransferRecord common;
    common.key = key;
    common.chip = chip;
    common.peer = transfer.peer;
    common.link = transfer.link;
    common.bytes = transfer.bytes;
    common.run = runIndex;
    common.index = index;
    common.iteration = iteration;
    common.localIssue = issue;
    if (inst.kind == Kind::Send) {
      // Routes from this chip, by peer, in a small direct-mapped cache (a run sends to a few
      // peers, many times; hashed, since a group's peers may be a stride apart).
      RouteEntry &cached = routeCache[(transfer.peer * 0x9e3779b1u) >> 28]; // 16 entries
      if (cached.peer != transfer.peer) {
        cached = {transfer.peer, fabric.route(chip, transfer.peer)};
      }
      const Route &route = cached.route;
      if (route.direct && transfer.link != route.sendPort) {
        return fail(fmt::format("link {} does not reach chip {}: inside a node chip {} "
                                "reaches it on port {}",
                                transfer.link, transfer.peer, chip, route.sendPort));
      }
      const uint64_t slotStart = issue + transfer.slotOffset;
      const uint64_t slotEnd = slotStart + transfer.slotCycles;
      if (portLastIndex[transfer.link] != kNone && slotStart < portFreeAt[transfer.link]) {
        return fail(fmt::format(
            "link {} double-booked: its slot [{}, {}) overlaps the slot of {}, which holds "
            "the link until cycle {}",
            transfer.link, slotStart, slotEnd,
            describe(runIndex, portLastIndex[transfer.link], portLastIteration[transfer.link],
                     portLastIssue[transfer.link]),
            portFreeAt[transfer.link]));
      }
      portFreeAt[transfer.link] = std::max(portFreeAt[transfer.link], slotEnd);
      portLastIndex[transfer.link] = index;
      portLastIteration[transfer.link] = iteration;
      portLastIssue[transfer.link] = issue;
      SendRecord record{common};
      record.slotStart = uint64_t(int64_t(slotStart) + correction);
      record.serialisation = transfer.serialisation;
      record.arrival = record.slotStart + transfer.serialisation + route.hops * fabric.hopLatency;
      record.hops = route.hops;
      record.directRecvPort = route.direct ? route.recvPort : kNone;
      sends.push_back(record);
      // Bit-hops are summed exactly (order-free); joules are taken once, after the run.
      c2cBitHops += (unsigned __int128)transfer.bytes * 8 * route.hops;
      result.sends += 1;
      result.sentBytes += transfer.bytes;
      result.endCycle = std::max(result.endCycle, slotEnd);
    } else {
      RecvRecord record{common};
      record.issue = uint64_t(int64_t(issue) + correction);
      recvs.push_back(record);
      result.recvs += 1;
    }
    return true;
  };
  auto execute = [&](uint32_t index, uint64_t iteration, uint64_t shift,
                     uint64_t idShift) -> bool {
    // A copy: the MEM port bookings below write memory the compiler cannot tell apart from
    // the image, so fields read through a reference would be loaded again after each one.
    const ImageInstruction inst = image.instructions[index];
    const uint64_t issue = inst.issue + shift;
    // Returns false with `failure` set; a bool, not a Status, on this per-instruction path.
    auto fail = [&](const std::string &reason) {
      failure = fmt::format("{}: {}", describe(runIndex, index, iteration, issue), reason);
      return false;
    };
    if (issue > kMaxCycle) {
      return fail("issue cycle is beyond 2^62 after repetition");
    }
    if (inst.unit != kNoUnit) {
      if (lastIndex[inst.unit] != kNone && issue < freeAt[inst.unit]) {
        const char *unit =
            inst.unit == kIcuSlot ? "ICU" : schedule::unitName(kReportedUnits[inst.unit]);
        return fail(fmt::format("unit {} double-booked: {} keeps it busy until cycle {}", unit,
                                describe(runIndex, lastIndex[inst.unit], lastIteration[inst.unit],
                                         lastIssue[inst.unit]),
                                freeAt[inst.unit]));
      }
      freeAt[inst.unit] = issue + inst.occupancy;
      lastIndex[inst.unit] = index;
      lastIteration[inst.unit] = iteration;
      lastIssue[inst.unit] = issue;
      result.unitInstructions[inst.unit] += 1;
      result.unitBusyCycles[inst.unit] += inst.occupancy;
    }
    const uint32_t *slot = image.slots.data() + inst.slotBegin;
    // A send reads its operand until its link slot ends; others for their occupancy.
    const uint64_t readEnd =
        issue + (inst.kind == Kind::Send ? inst.duration : std::max<uint64_t>(inst.occupancy, 1));
    for (uint16_t i = 0; i < inst.operands; ++i) {
      RootState &state = states[stateOfSlot[remap[slot[i]]]];
      if (state.weight) {
        continue;
      }
      if (state.writer == kNone && state.resident) {
        state.readEnd = std::max(state.readEnd, readEnd);
        continue; // the cache's contents from before the program
      }
      if (state.writer == kNone) {
        return fail(fmt::format("operand {} is not written before it is read, and is not a "
                                "weight",
                                buffers.at(bufferOfSlot[remap[slot[i]]]).label()));
      }
      if (state.writer == index && state.writerIteration == iteration) {
        return fail(fmt::format("reads its own result {}",
                                buffers.at(bufferOfSlot[remap[slot[i]]]).label()));
      }
      if (issue + (i == 0 ? inst.operandLead : 0) < state.readyAt) {
        return fail(fmt::format("data read before ready: operand {} is ready at cycle {}",
                                buffers.at(bufferOfSlot[remap[slot[i]]]).label(), state.readyAt));
      }
      state.readEnd = std::max(state.readEnd, readEnd);
    }
    const uint64_t done = issue + inst.duration;
    for (uint16_t i = 0; i < inst.results; ++i) {
      const uint32_t s = remap[slot[inst.operands + i]];
      RootState &state = states[stateOfSlot[s]];
      if (state.weight) {
        return fail(fmt::format("writes {}, a weight: weights are constant",
                                buffers.at(bufferOfSlot[s]).label()));
      }
      // v2 rewrites: a buffer may be written again once its value is dead (a KV cache's
      // resident contents too).
      if (state.writer != kNone || state.resident) {
        if (done < state.readEnd) {
          return fail(fmt::format("write after read: overwrites {} at cycle {} while it is "
                                  "still read until cycle {}",
                                  buffers.at(bufferOfSlot[s]).label(), done, state.readEnd));
        }
        if (done < state.readyAt) {
          return fail(fmt::format("write after write: {} lands at cycle {}, before the "
                                  "previous write by {} lands at cycle {}",
                                  buffers.at(bufferOfSlot[s]).label(), done,
                                  describe(runIndex, state.writer, state.writerIteration,
                                           image.instructions[state.writer].issue),
                                  state.readyAt));
        }
      }
      state.writer = index;
      state.writerIteration = iteration;
      state.readyAt = done;
      state.readEnd = 0;
    }
    // MEM ports: each distinct operand read, each result written (rule 5).
    const uint64_t readSpan = inst.kind == Kind::Send ? inst.duration : inst.occupancy;
    for (uint16_t i = 0; i < inst.operands + inst.results; ++i) {
      const uint32_t s = remap[slot[i]];
      const bool read = i < inst.operands;
      bool repeated = read ? i < 7 && (inst.unbooked >> i) & 1
                           : (inst.unbooked & kResultsUnbooked) != 0;
      for (uint16_t j = 0; read && j < i && !repeated; ++j) {
        repeated = remap[slot[j]] == s;
      }
      if (repeated) {
        continue;
      }
      const SlotPlace &place = slotPlace[s];
      const uint64_t address =
          uint64_t(int64_t(place.address) + int64_t(iteration) * place.stride);
      if (!ports.bookBuffer(read ? MemPort::Read : MemPort::Write, issue,
                            read ? readSpan : std::max(inst.occupancy, inst.recvVectors),
                            inst.duration, address, place.bytes, index, iteration, conflict,
                            read && i == 0 && inst.sliceRead
                                ? slotPlace[remap[slot[inst.operands]]].bytes
                                : ~uint64_t(0))) {
        return fail(portConflictReason(conflict,
                                       describe(runIndex, conflict.held.index,
                                                conflict.held.iteration, conflict.held.issue),
                                       fmt::format("instruction {}", index)));
      }
    }
    if (inst.traffic != kNone) { // rule 6 counts what rule 5 cannot place
      const UnbookedTraffic &traffic = image.traffic[inst.traffic];
      if (!ports.bookStreams(MemPort::Read, issue, inst.occupancy, inst.duration, traffic.read,
                             index, iteration, conflict) ||
          !ports.bookStreams(MemPort::Write, issue, inst.occupancy, inst.duration,
                             traffic.written, index, iteration, conflict)) {
        return fail(portConflictReason(conflict,
                                       describe(runIndex, conflict.held.index,
                                                conflict.held.iteration, conflict.held.issue),
                                       fmt::format("instruction {}", index)));
      }
    }
    result.endCycle = std::max(result.endCycle, done);
    switch (inst.kind) {
    case Kind::Plain:
      break;
    case Kind::Sync:
      lastSync = issue;
      result.syncs += 1;
      break;
    case Kind::Send:
    case Kind::Recv:
      if (recording) {
        reference.events.push_back({index, iteration, issue, idShift, lastSync});
      }
      if (!transferAt(inst, index, iteration, issue, idShift)) {
        return false;
      }
      break;
    }
    return true;
  };

  const size_t count = image.instructions.size();
  if (replay) {
    // The first run's local outcome; the transfers are this chip's own.
    result.endCycle = reference.run.endCycle;
    result.syncs = reference.run.syncs;
    result.unitInstructions = reference.run.unitInstructions;
    result.unitBusyCycles = reference.run.unitBusyCycles;
    for (const TransferEvent &event : reference.events) {
      lastSync = event.lastSync;
      if (!transferAt(image.instructions[event.index], event.index, event.iteration, event.issue,
                      event.idShift)) {
        return makeError(std::move(failure));
      }
    }
    report.replayedRuns += 1;
  }
  size_t nextBlock = 0;
  for (uint32_t index = 0; !replay && index < count;) {
    if (nextBlock < image.blocks.size() && image.blocks[nextBlock].first == index) {
      const ImageBlock &block = image.blocks[nextBlock++];
      for (uint64_t k = 0; k < block.iterations; ++k) {
        for (const ImageStride &stride : block.strides) {
          if (!stride.perIteration.empty()) {
            remap[stride.slot] = stride.perIteration[k % stride.perIteration.size()];
          }
          if (k > 0 && stride.addressStride != 0) {
            // Fresh storage each iteration: nothing written there yet in this iteration.
            RootState &state = states[stateOfSlot[stride.slot]];
            if (!state.weight) {
              state.writer = kNone;
              state.readEnd = 0;
              state.readyAt = 0;
            }
          }
        }
        const uint64_t shift = k * block.period;
        const uint64_t idShift = k * block.transferStride;
        for (uint32_t i = block.first; i < block.first + block.count; ++i) {
          if (!execute(i, k, shift, idShift)) {
            return makeError(std::move(failure));
          }
        }
      }
      for (const ImageStride &stride : block.strides) {
        remap[stride.slot] = stride.slot;
      }
      index = block.first + block.count;
      continue;
    }
    if (!execute(index, 0, 0, 0)) {
      return makeError(std::move(failure));
    }
    ++index;
  }
  result.energy = image.energy;
  result.unitEnergy = image.unitEnergy;
  result.c2cJoules = double(c2cBitHops) * fabric.c2cPicojoulesPerBit * 1e-12;
  result.unitEnergy[kFabricUnits] += result.c2cJoules;
  result.instructions = image.executedPerRun;
  report.instructions += result.instructions;
  report.decodedInstructions += count;
  report.endCycle = std::max(report.endCycle, result.endCycle);
  if (recording) {
    reference.valid = true;
    reference.places = slotPlace;
    reference.stateOfSlot = stateOfSlot;
    reference.stateKinds = stateKinds;
    reference.run = result;
  }
  report.runs.push_back(std::move(result));
  return Status::success();
}

Result<FabricReport> FabricRunner::run(const std::vector<int> &programs) {
  images.resize(programs.size());
  for (size_t p = 0; p < programs.size(); ++p) {
    const schedule::Program &program = schedule.programs(programs[p]);
    if (Status status = decode(program, images[p]); !status) {
      return makeError(status.error());
    }
    runs.push_back({&images[p], program.chip(), nullptr});
    for (int i = 0; i < program.instances_size(); ++i) {
      const schedule::ProgramInstance &instance = program.instances(i);
      runs.push_back({&images[p], instance.chip(), &instance, uint32_t(i)});
    }
  }
  references.resize(images.size());
  report.chips = model.chips;
  report.clockHz = model.clockHz;
  report.runs.reserve(runs.size());
  // Room for every transfer record up front (a large fabric step has tens of thousands; a
  // corrupt iteration count is caught per run, so the reservation is capped).
  constexpr uint64_t kMaxReserved = uint64_t(1) << 22;
  uint64_t sendCount = 0, recvCount = 0;
  for (const RunContext &context : runs) {
    sendCount = std::min(sendCount + context.image->sendsPerRun, kMaxReserved);
    recvCount = std::min(recvCount + context.image->recvsPerRun, kMaxReserved);
  }
  sends.reserve(size_t(sendCount));
  recvs.reserve(size_t(recvCount));
  for (uint32_t r = 0; r < runs.size(); ++r) {
    if (Status status = runOne(r); !status) {
      return makeError(status.error());
    }
    if (options.collectTrace) { // runOne's slot tables still hold this run's buffers
      std::vector<InstructionTrace> &trace = report.traces.emplace_back();
      if (chipTraced(options.traceChips, runs[r].chip)) {
        traceRun(trace, *runs[r].image);
      }
    }
  }
  if (Status status = pairTransfers(); !status) {
    return makeError(status.error());
  }
  if (options.collectTrace) {
    linkTracedTransfers();
  }
  return std::move(report);
}

void FabricRunner::linkTracedTransfers() {
  // Each traced run's C2C records by (instruction, iteration), then both ends of every
  // transfer whose two runs are traced get the send's name.
  std::vector<std::map<std::pair<uint32_t, uint64_t>, size_t>> c2cRecords(report.traces.size());
  for (size_t r = 0; r < report.traces.size(); ++r) {
    const std::vector<InstructionTrace> &trace = report.traces[r];
    for (size_t at = 0; at < trace.size(); ++at) {
      if (trace[at].opcode == schedule::C2C_SEND || trace[at].opcode == schedule::C2C_RECV) {
        c2cRecords[r].emplace(std::pair(trace[at].index, trace[at].iteration.value_or(0)), at);
      }
    }
  }
  auto recordOf = [&](const TransferRecord &end) -> InstructionTrace * {
    const auto &records = c2cRecords[end.run];
    auto found = records.find({end.index, end.iteration});
    return found == records.end() ? nullptr : &report.traces[end.run][found->second];
  };
  for (const SendRecord &send : sends) {
    InstructionTrace *from = recordOf(send);
    InstructionTrace *to = recordOf(recvs[send.paired]);
    if (from != nullptr && to != nullptr) {
      from->flow = fmt::format("chip {} '{}' {}.{}", send.chip,
                               runs[send.run].image->proto->name(), send.index, send.iteration);
      to->flow = from->flow;
    }
  }
}

} // namespace fabric

using fabric::ChipRoots;
using fabric::FabricRunner;

std::vector<int> allPrograms(const schedule::Schedule &schedule) {
  std::vector<int> all(size_t(schedule.programs_size()));
  for (size_t p = 0; p < all.size(); ++p) {
    all[p] = int(p);
  }
  return all;
}

bool usesFabricFeatures(const schedule::Program &program) {
  if (!program.repeats().empty() || !program.instances().empty()) {
    return true;
  }
  for (const schedule::Instruction &inst : program.instructions()) {
    if (inst.opcode() == schedule::C2C_SEND || inst.opcode() == schedule::C2C_RECV ||
        inst.opcode() == schedule::SYNC) {
      return true;
    }
  }
  return false;
}

bool usesFabricFeatures(const schedule::Schedule &schedule) {
  const auto &programs = schedule.programs();
  return std::any_of(programs.begin(), programs.end(),
                     [](const schedule::Program &program) { return usesFabricFeatures(program); });
}

struct PreparedFabric::State {
  const schedule::Schedule *schedule = nullptr;
  HardwareModel model;
  FabricModel fabric;
  BufferTable buffers;
  ChipRoots chipRoots; // shared by the runs of every step
  /// Set by simulateInOnePass until its run has made the reader's rules.
  bool checkStructure = false;
};

PreparedFabric::PreparedFabric(std::unique_ptr<State> state) : state(std::move(state)) {}
PreparedFabric::PreparedFabric(PreparedFabric &&) noexcept = default;
PreparedFabric &PreparedFabric::operator=(PreparedFabric &&) noexcept = default;
PreparedFabric::~PreparedFabric() = default;

Result<PreparedFabric> PreparedFabric::prepare(const schedule::Schedule &schedule,
                                               const system::SystemConfig &system,
                                               bool structureValidated) {
  const std::string source = fmt::format("schedule of model '{}'", schedule.model_name());
  if (schedule.magic() != schedule::kMagic || schedule.version() != schedule::kVersion) {
    return makeError(fmt::format("{}: schedule version {}, this build reads version {}: "
                                 "recompile with conveyor compile",
                                 source, schedule.version(), schedule::kVersion));
  }
  if (!structureValidated) {
    if (Status status = schedule::validateSchedule(schedule, source); !status) {
      return makeError(status.error());
    }
  }
  if (schedule.system().fingerprint() != system::fingerprint(system)) {
    return makeError(fmt::format("{} was built for system '{}' (fingerprint {:#018x}), not "
                                 "'{}' ({:#018x}); simulate it with the system it was compiled "
                                 "for, or recompile it",
                                 source, schedule.system().name(), schedule.system().fingerprint(),
                                 system.name, system::fingerprint(system)));
  }
  Result<HardwareModel> model = buildHardwareModel(system);
  if (!model) {
    return model.takeError();
  }
  if (schedule.system().chips() != model->chips) {
    return makeError(fmt::format("{} records {} chip(s), but system '{}' has {}", source,
                                 schedule.system().chips(), system.name, model->chips));
  }
  Result<FabricModel> fabric = buildFabricModel(system);
  if (!fabric) {
    return fabric.takeError();
  }
  // Rule 4 in its in-order form on the pass that builds the table; checkSram (which words
  // any message) only for an unusual layout.
  BufferTable buffers(schedule, model->vectorBytes, model->sramBytes);
  if (!buffers.placementsFitInOrder()) {
    if (Status status = checkSram(*model, buffers); !status) {
      return makeError(status.error());
    }
  }
  return PreparedFabric(std::unique_ptr<State>(
      new State{&schedule, std::move(*model), std::move(*fabric), std::move(buffers), {}}));
}

Result<FabricReport> PreparedFabric::run(const std::vector<int> &programs,
                                         const FabricRunOptions &options) const {
  FabricRunner runner(*state->schedule, state->model, state->fabric, state->buffers,
                      state->chipRoots, options, state->checkStructure);
  return runner.run(programs);
}

std::optional<OnePassFabric> PreparedFabric::simulateInOnePass(const schedule::Schedule &schedule,
                                                              const system::SystemConfig &system,
                                                              const FabricRunOptions &options) {
  // prepare's checks, each a yes or no; the reader's schedule rules first.
  if (schedule.magic() != schedule::kMagic || schedule.version() != schedule::kVersion ||
      schedule.system().chips() == 0 || schedule.programs().empty() ||
      schedule.system().fingerprint() != system::fingerprint(system)) {
    return std::nullopt;
  }
  Result<HardwareModel> model = buildHardwareModel(system);
  if (!model || schedule.system().chips() != model->chips) {
    return std::nullopt;
  }
  Result<FabricModel> fabric = buildFabricModel(system);
  if (!fabric) {
    return std::nullopt;
  }
  // The reader's buffer rules on the pass that builds the table, and rule 4 in its
  // in-order form (checkSram only for an unusual layout).
  std::optional<BufferTable> buffers =
      BufferTable::decodeValidated(schedule, model->vectorBytes, model->sramBytes);
  if (!buffers || (!buffers->placementsFitInOrder() && !checkSram(*model, *buffers))) {
    return std::nullopt;
  }
  PreparedFabric prepared(std::unique_ptr<State>(new State{
      &schedule, std::move(*model), std::move(*fabric), std::move(*buffers), {}, true}));
  Result<FabricReport> report = prepared.run(allPrograms(schedule), options);
  if (!report) {
    return std::nullopt;
  }
  prepared.state->checkStructure = false; // the whole schedule has passed the reader's rules
  return OnePassFabric{std::move(prepared), std::move(*report)};
}

const BufferTable &PreparedFabric::buffers() const { return state->buffers; }
const HardwareModel &PreparedFabric::hardware() const { return state->model; }

Result<FabricReport> simulateFabric(const schedule::Schedule &schedule,
                                    const system::SystemConfig &system) {
  if (std::optional<OnePassFabric> fast = PreparedFabric::simulateInOnePass(schedule, system)) {
    return std::move(fast->report);
  }
  Result<PreparedFabric> prepared = PreparedFabric::prepare(schedule, system);
  if (!prepared) {
    return prepared.takeError();
  }
  return prepared->run(allPrograms(schedule));
}

} // namespace conveyor::sim
