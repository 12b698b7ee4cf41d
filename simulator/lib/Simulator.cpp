// simulate(): validates a schedule against the system it was built for, runs the timing
// checker, the energy model and (when possible) the functional executor, and builds the report.
#include "conveyor/Simulator/Simulator.h"

#include "conveyor/Schedule/ScheduleFormat.h"
#include "conveyor/Simulator/BufferTable.h"
#include "conveyor/Simulator/EnergyModel.h"
#include "conveyor/Simulator/FabricSimulator.h"
#include "conveyor/Simulator/FunctionalExecutor.h"
#include "conveyor/Simulator/HardwareModel.h"
#include "conveyor/Simulator/ScheduleChecker.h"
#include "conveyor/Simulator/ScheduleDecoder.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>

namespace conveyor::sim {
namespace {

Status checkSystemMatches(const schedule::Schedule &schedule, const system::SystemConfig &system) {
  const uint64_t expected = schedule.system().fingerprint();
  const uint64_t actual = system::fingerprint(system);
  if (expected == actual) {
    return Status::success();
  }
  if (schedule.system().name() == system.name) {
    return makeError(
        fmt::format("schedule of model '{}' was built for a different version of system '{}' "
                    "(fingerprint {:#018x}, this one is {:#018x}); recompile it with this system",
                    schedule.model_name(), system.name, expected, actual));
  }
  return makeError(fmt::format(
      "schedule of model '{}' was built for system '{}', not '{}' (fingerprints {:#018x} and "
      "{:#018x}); simulate it with the system it was compiled for, or recompile it",
      schedule.model_name(), schedule.system().name(), system.name, expected, actual));
}

/// Whether `options` asks for the instruction records of chip `chip`.
bool tracesChip(const SimulationOptions &options, uint32_t chip) {
  return options.collectTrace && chipTraced(options.traceChips, chip);
}

/// What the fabric engine is asked to record for `options`.
FabricRunOptions traceOptions(const SimulationOptions &options) {
  return {.collectTrace = options.collectTrace, .traceChips = options.traceChips};
}

/// One record per instruction with the timing the checker re-derived.
std::vector<InstructionTrace> traceProgram(const BufferTable &buffers,
                                           const schedule::Program &program,
                                           const ProgramTiming &timing) {
  std::vector<InstructionTrace> trace(size_t(program.instructions_size()));
  for (size_t index = 0; index < trace.size(); ++index) {
    const schedule::Instruction &inst = program.instructions(int(index));
    InstructionTrace &record = trace[index];
    record.index = uint32_t(index);
    record.unit = inst.unit();
    record.queue = inst.queue();
    record.opcode = inst.opcode();
    record.kind = inst.kind();
    record.issueCycle = inst.issue_cycle();
    record.occupancy = timing.costs[index].occupancy;
    record.duration = timing.costs[index].duration;
    record.location = inst.location();
    for (uint32_t id : inst.operands()) {
      record.operands.push_back(buffers.byIdRef(id).traceName());
    }
    for (uint32_t id : inst.results()) {
      record.results.push_back(buffers.byIdRef(id).traceName());
    }
  }
  return trace;
}

/// The report of one program from its checked timing and dynamic energy.
ProgramReport reportProgram(const HardwareModel &model, const BufferTable &buffers,
                            const schedule::Program &program, const ProgramTiming &timing,
                            const ProgramEnergy &energy, bool collectTrace) {
  ProgramReport report;
  report.name = program.name();
  report.chip = program.chip();
  report.cycles = timing.endCycle;
  report.compilerCycles = program.compiler_cycles();
  report.seconds = double(report.cycles) / model.clockHz;
  report.tokensPerStep = program.tokens_per_step();
  report.instructions = uint64_t(program.instructions_size());

  EnergyParts total = energy.categories;
  total[size_t(EnergyCategory::Static)] = staticEnergy(model, report.seconds);

  for (size_t slot = 0; slot < kReportedUnits.size(); ++slot) {
    UnitStats &stats = report.units[schedule::unitName(kReportedUnits[slot])];
    stats.instructions = timing.unitInstructions[slot];
    stats.busyCycles = timing.unitBusyCycles[slot];
    stats.energyJoules = energy.units[slot];
  }
  // Categories are summed in key order so that the breakdown adds up to the total exactly.
  for (size_t category = 0; category < kEnergyCategories; ++category) {
    report.energyBreakdown[energyCategoryName(EnergyCategory(category))] = total[category];
  }
  for (const auto &[name, joules] : report.energyBreakdown) {
    report.energyJoules += joules;
  }
  if (report.seconds > 0) {
    report.tokensPerSecond = double(report.tokensPerStep) / report.seconds;
  }
  if (report.tokensPerStep > 0) {
    report.joulesPerToken = report.energyJoules / double(report.tokensPerStep);
  }
  if (collectTrace) {
    report.trace = traceProgram(buffers, program, timing);
  }
  return report;
}

/// Checks and accounts one program the plain way: timing rules, then energy.
Result<ProgramReport> checkAndReportProgram(const HardwareModel &model,
                                            const BufferTable &buffers,
                                            const schedule::Program &program, bool collectTrace) {
  Result<ProgramTiming> timing = checkProgram(model, buffers, program);
  if (!timing) {
    return timing.takeError();
  }
  Result<ProgramEnergy> energy = programEnergy(model, buffers, program, timing->costs);
  if (!energy) {
    return energy.takeError();
  }
  return reportProgram(model, buffers, program, *timing, *energy, collectTrace);
}

// Multi-chip (v2) schedules
/// SRAM reserved per chip by the programs at `programs` of a v2 schedule: each storage root
/// counts from its lowest to its highest byte over every iteration of every repeat block
/// that strides it (or a view of it), on the template's chip and on each instance chip. A
/// strided buffer's size_bytes is one iteration's, so summing size_bytes alone undercounts a
/// per-layer KV cache by the layer count. Runs after the fabric engine accepted the
/// schedule: ids exist and spans fit in SRAM. Every root counts its reservation; only the
/// few roots a stride widens are visited again (the sums are taken modulo 2^64, so the
/// order of the additions does not matter).
std::vector<uint64_t> sramBytesUsedWithStrides(const schedule::Schedule &schedule,
                                               const BufferTable &buffers,
                                               const std::vector<int> &programs,
                                               uint32_t chips) {
  struct Span {
    __int128 low = 0, high = 0;
  };
  std::vector<uint64_t> used(chips, 0);
  const std::vector<uint64_t> &reserved = buffers.reservedBytesPerChip();
  for (size_t chip = 0; chip < std::min<size_t>(chips, reserved.size()); ++chip) {
    used[chip] = reserved[chip];
  }
  std::map<size_t, Span> widened; // storage root -> its span over every iteration
  auto widen = [&](uint32_t id, int64_t addressStride, uint64_t iterations) {
    const size_t index = buffers.find(id);
    if (index == BufferTable::kMissing || addressStride == 0 || iterations < 2) {
      return;
    }
    const BufferInfo &buffer = buffers.at(index);
    const __int128 shift = (__int128)addressStride * (__int128)(iterations - 1);
    const __int128 low = (__int128)buffer.address + std::min<__int128>(0, shift);
    const __int128 high =
        (__int128)buffer.address + std::max<__int128>(0, shift) + (__int128)buffer.sizeBytes;
    const BufferInfo &storage = buffers.at(buffer.root);
    auto [it, inserted] = widened.try_emplace(
        buffer.root, Span{(__int128)storage.address,
                          (__int128)storage.address + (__int128)storage.sizeBytes});
    it->second.low = std::min(it->second.low, low);
    it->second.high = std::max(it->second.high, high);
  };
  for (int position : programs) {
    const schedule::Program &program = schedule.programs(position);
    for (const schedule::Repeat &block : program.repeats()) {
      for (const schedule::BufferStride &stride : block.strides()) {
        widen(stride.buffer(), stride.address_stride(), block.iterations());
        for (const schedule::ProgramInstance &instance : program.instances()) {
          auto mapped = instance.buffer_map().find(stride.buffer());
          if (mapped != instance.buffer_map().end()) {
            widen(mapped->second, stride.address_stride(), block.iterations());
          }
        }
      }
    }
  }
  for (const auto &[root, span] : widened) {
    const BufferInfo &storage = buffers.at(root);
    if (storage.chip < chips) {
      used[storage.chip] += uint64_t(span.high - span.low) - storage.sizeBytes;
    }
  }
  return used;
}

/// The report of a fabric run of the programs at `programs`: one ProgramReport per
/// (program, chip) run, with its dynamic energy (every executed instruction, C2C links) and
/// its chip's static energy.
SimulationReport reportFabric(const schedule::Schedule &schedule,
                              const system::SystemConfig &system, const PreparedFabric &prepared,
                              const std::vector<int> &programs, FabricReport &&fabric,
                              const SimulationOptions &options) {
  const HardwareModel &model = prepared.hardware();
  SimulationReport report;
  report.modelName = schedule.model_name();
  report.systemName = system.name;
  report.chips = model.chips;
  report.clockHz = model.clockHz;
  report.sramBytesPerChip = model.sramBytes;
  report.sramBytesUsedPerChip =
      sramBytesUsedWithStrides(schedule, prepared.buffers(), programs, model.chips);
  report.programs.reserve(fabric.runs.size());
  report.traced = options.collectTrace;
  for (size_t r = 0; r < fabric.runs.size(); ++r) {
    const ChipRun &run = fabric.runs[r];
    const schedule::Program &program = schedule.programs(programs[run.programIndex]);
    ProgramReport out;
    out.name = run.program;
    out.chip = run.chip;
    out.cycles = run.endCycle;
    out.compilerCycles = program.compiler_cycles();
    out.seconds = double(out.cycles) / model.clockHz;
    out.tokensPerStep = program.tokens_per_step();
    out.instructions = run.instructions;
    for (size_t slot = 0; slot < kReportedUnits.size(); ++slot) {
      UnitStats &stats = out.units[schedule::unitName(kReportedUnits[slot])];
      stats.instructions = run.unitInstructions[slot];
      stats.busyCycles = run.unitBusyCycles[slot];
      stats.energyJoules = run.unitEnergy[slot];
    }
    // The link resource: sends and receives (they occupy ports, not a unit queue), with their
    // SRAM/stream traffic and the link energy. SYNC (ICU) moves no data and costs nothing.
    UnitStats &links = out.units[schedule::unitName(schedule::C2C)];
    links.instructions = run.sends + run.recvs;
    links.energyJoules = run.unitEnergy[kFabricUnits];
    for (size_t category = 0; category < kEnergyCategories; ++category) {
      out.energyBreakdown[energyCategoryName(EnergyCategory(category))] = run.energy[category];
    }
    out.energyBreakdown["c2c"] = run.c2cJoules;
    // Static power of this chip over the run (the system's total over its chips).
    out.energyBreakdown["static"] = staticEnergy(model, out.seconds) / double(model.chips);
    // Summed in key order, so that the breakdown adds up to the total exactly.
    for (const auto &[name, joules] : out.energyBreakdown) {
      out.energyJoules += joules;
    }
    if (out.seconds > 0) {
      out.tokensPerSecond = double(out.tokensPerStep) / out.seconds;
    }
    if (out.tokensPerStep > 0) {
      out.joulesPerToken = out.energyJoules / double(out.tokensPerStep);
    }
    if (r < fabric.traces.size()) {
      out.trace = std::move(fabric.traces[r]);
    }
    report.programs.push_back(std::move(out));
  }
  report.timingOnlyReason = options.functional
                                ? "multi-chip, repeated or templated programs are simulated "
                                  "in timing mode only"
                                : "functional run not requested";
  return report;
}

/// Times a schedule that uses repeat blocks, templates or C2C with the fabric engine.
Result<SimulationReport> simulateWithFabric(const schedule::Schedule &schedule,
                                            const system::SystemConfig &system,
                                            const SimulationOptions &options) {
  const std::vector<int> all = allPrograms(schedule);
  const FabricRunOptions runOptions = traceOptions(options);
  // One pass when the reader has not checked the schedule; any failure takes the plain
  // path below, which words the message.
  if (options.onePass && !options.structureValidated) {
    if (std::optional<OnePassFabric> fast =
            PreparedFabric::simulateInOnePass(schedule, system, runOptions)) {
      return reportFabric(schedule, system, fast->prepared, all, std::move(fast->report),
                          options);
    }
  }
  Result<PreparedFabric> prepared =
      PreparedFabric::prepare(schedule, system, options.structureValidated);
  if (!prepared) {
    return prepared.takeError();
  }
  Result<FabricReport> fabric = prepared->run(all, runOptions);
  if (!fabric) {
    return fabric.takeError();
  }
  return reportFabric(schedule, system, *prepared, all, std::move(*fabric), options);
}

/// The report header, SRAM use and, when asked and possible, the numerics of a checked
/// single-chip schedule whose program reports are already in `report`.
Result<SimulationReport> finishSingleChip(const schedule::Schedule &schedule,
                                          const system::SystemConfig &system,
                                          const HardwareModel &model, const BufferTable &buffers,
                                          const std::vector<TensorData> &inputs,
                                          const SimulationOptions &options,
                                          SimulationReport report) {
  const std::string source = fmt::format("schedule of model '{}'", schedule.model_name());
  report.modelName = schedule.model_name();
  report.systemName = system.name;
  report.chips = model.chips;
  report.clockHz = model.clockHz;
  report.sramBytesPerChip = model.sramBytes;
  report.sramBytesUsedPerChip = buffers.reservedBytesPerChip();
  report.sramBytesUsedPerChip.resize(model.chips, 0);
  report.traced = options.collectTrace;
  if (!options.functional) {
    report.timingOnlyReason = "functional run not requested";
    return report;
  }
  report.timingOnlyReason = FunctionalExecutor::unsupportedReason(buffers);
  if (!report.timingOnlyReason.empty()) {
    return report;
  }
  std::vector<const schedule::Program *> programs;
  for (const schedule::Program &program : schedule.programs()) {
    programs.push_back(&program);
  }
  FunctionalExecutor executor(buffers);
  if (Status status = executor.bindInputs(inputs, programs); !status) {
    return makeError(fmt::format("{}: {}", source, status.error()));
  }
  for (const schedule::Program *program : programs) {
    if (Status status = executor.run(*program, report.outputs); !status) {
      return makeError(fmt::format("{}: {}", source, status.error()));
    }
  }
  report.functional = true;
  return report;
}

/// The fast path: a plain single-chip schedule decoded and checked in one pass
/// (ScheduleDecoder.h). nullopt when anything is out of the ordinary; the plain sequence
/// then decides.
std::optional<Result<SimulationReport>> simulateInOnePass(const schedule::Schedule &schedule,
                                                          const system::SystemConfig &system,
                                                          const std::vector<TensorData> &inputs,
                                                          const SimulationOptions &options) {
  if (schedule.magic() != schedule::kMagic || schedule.version() != schedule::kVersion ||
      schedule.system().fingerprint() != system::fingerprint(system)) {
    return std::nullopt;
  }
  Result<HardwareModel> model = buildHardwareModel(system);
  if (!model || schedule.system().chips() != model->chips) {
    return std::nullopt;
  }
  std::optional<DecodedSchedule> decoded =
      decodeInOnePass(schedule, *model, /*keepCosts=*/options.collectTrace);
  if (!decoded) {
    return std::nullopt;
  }
  SimulationReport report;
  report.programs.reserve(size_t(schedule.programs_size()));
  for (int p = 0; p < schedule.programs_size(); ++p) {
    const schedule::Program &program = schedule.programs(p);
    report.programs.push_back(reportProgram(*model, decoded->buffers, program,
                                            decoded->timings[size_t(p)],
                                            decoded->energies[size_t(p)],
                                            tracesChip(options, program.chip())));
  }
  return finishSingleChip(schedule, system, *model, decoded->buffers, inputs, options,
                          std::move(report));
}

} // namespace

Result<SimulationReport> simulate(const schedule::Schedule &schedule,
                                  const system::SystemConfig &system,
                                  const std::vector<TensorData> &inputs,
                                  const SimulationOptions &options) {
  if (options.onePass) {
    if (std::optional<Result<SimulationReport>> fast =
            simulateInOnePass(schedule, system, inputs, options)) {
      return std::move(*fast);
    }
  }
  // The plain sequence: each check in its documented order, each with its own message.
  if (usesFabricFeatures(schedule)) {
    return simulateWithFabric(schedule, system, options);
  }
  const std::string source = fmt::format("schedule of model '{}'", schedule.model_name());
  if (schedule.magic() != schedule::kMagic || schedule.version() != schedule::kVersion) {
    return makeError(fmt::format("{} has magic {:#x} and version {}; expected {:#x} and {}", source,
                                 schedule.magic(), schedule.version(), schedule::kMagic,
                                 schedule::kVersion));
  }
  if (Status status = schedule::validateSchedule(schedule, source); !status) {
    return makeError(status.error());
  }
  if (Status status = checkSystemMatches(schedule, system); !status) {
    return makeError(status.error());
  }
  Result<HardwareModel> model = buildHardwareModel(system);
  if (!model) {
    return model.takeError();
  }
  if (schedule.system().chips() != model->chips) {
    return makeError(fmt::format("{} records {} chip(s), but system '{}' has {}", source,
                                 schedule.system().chips(), system.name, model->chips));
  }
  const BufferTable buffers(schedule, model->vectorBytes);
  if (Status status = checkSram(*model, buffers); !status) {
    return makeError(status.error());
  }
  SimulationReport report;
  for (const schedule::Program &program : schedule.programs()) {
    Result<ProgramReport> programReport =
        checkAndReportProgram(*model, buffers, program, tracesChip(options, program.chip()));
    if (!programReport) {
      return programReport.takeError();
    }
    report.programs.push_back(std::move(*programReport));
  }
  return finishSingleChip(schedule, system, *model, buffers, inputs, options, std::move(report));
}

std::vector<Result<SimulationReport>>
simulateGroups(const schedule::Schedule &schedule, const system::SystemConfig &system,
               const std::vector<std::vector<int>> &groups, const std::vector<TensorData> &inputs,
               const SimulationOptions &options) {
  std::vector<Result<SimulationReport>> results;
  results.reserve(groups.size());
  // The shared checks once, when every group goes to the fabric engine (simulate() would
  // send its copy there: repeat blocks, templates, C2C or SYNC) and the whole schedule
  // passes them; the copy of each group then passes them too.
  auto timedByFabric = [&](const std::vector<int> &group) {
    return std::any_of(group.begin(), group.end(), [&](int position) {
      return usesFabricFeatures(schedule.programs(position));
    });
  };
  const bool shared =
      !groups.empty() && std::all_of(groups.begin(), groups.end(), [&](const auto &group) {
        return !group.empty() && timedByFabric(group);
      });
  if (shared) {
    if (Result<PreparedFabric> prepared =
            PreparedFabric::prepare(schedule, system, options.structureValidated)) {
      for (const std::vector<int> &group : groups) {
        Result<FabricReport> fabric = prepared->run(group, traceOptions(options));
        if (!fabric) {
          results.push_back(fabric.takeError());
          return results;
        }
        results.push_back(
            reportFabric(schedule, system, *prepared, group, std::move(*fabric), options));
      }
      return results;
    }
  }
  // Otherwise each group alone, in a copy of the schedule: every message is that copy's.
  schedule::Schedule shell;
  shell.CopyFrom(schedule); // not the programs: cleared below
  shell.clear_programs();
  for (const std::vector<int> &group : groups) {
    schedule::Schedule step = shell;
    for (int position : group) {
      *step.add_programs() = schedule.programs(position);
    }
    results.push_back(simulate(step, system, inputs, options));
    if (!results.back()) {
      return results;
    }
  }
  return results;
}

} // namespace conveyor::sim
