// Renders a traced SimulationReport in the Chrome trace event format, so that the conveyor
// belt of each chip opens in ui.perfetto.dev or chrome://tracing.
#include "conveyor/Simulator/Simulator.h"

#include "JsonText.h"
#include "conveyor/Schedule/ScheduleFormat.h"
#include "conveyor/Simulator/ScheduleChecker.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <string_view>
#include <utility>

namespace conveyor::sim {
namespace {

// Thread ids are unique across chips (Perfetto keys threads by tid): chip * 10000 +
// unit * 1000 + queue; tid chip * 10000 is the chip's program track.
constexpr uint64_t kThreadsPerChip = 10000;
constexpr uint64_t kThreadsPerUnit = 1000;

uint64_t programThread(uint32_t chip) { return uint64_t(chip) * kThreadsPerChip; }
uint64_t unitThread(uint32_t chip, schedule::Unit unit, uint32_t queue) {
  return uint64_t(chip) * kThreadsPerChip + uint64_t(unit) * kThreadsPerUnit + queue;
}

uint64_t saturatingAdd(uint64_t a, uint64_t b) {
  return b > std::numeric_limits<uint64_t>::max() - a ? std::numeric_limits<uint64_t>::max()
                                                      : a + b;
}

/// Cycle -> whole nanoseconds, rounded to nearest. Event ends are converted the same way
/// as starts (never as start + duration), so rounding can neither make back-to-back
/// instructions of one unit overlap nor open gaps between them.
class TraceClock {
public:
  explicit TraceClock(double clockHz) : clockHz(clockHz) {}

  uint64_t nanoseconds(uint64_t cycle) const {
    if (!(clockHz > 0) || !std::isfinite(clockHz)) {
      return 0; // only a hand-made report lacks a clock; simulate() rejects zero clocks
    }
    const long double ns = std::roundl((long double)cycle * 1e9L / (long double)clockHz);
    return ns >= 1.8e19L ? std::numeric_limits<uint64_t>::max() : uint64_t(ns);
  }

private:
  double clockHz;
};

/// Trace event JSON, one event per line, keys in a fixed order.
class TraceWriter {
public:
  TraceWriter() { out = "{\"traceEvents\": ["; }

  std::string finish(const SimulationReport &report) {
    out += "\n],\n\"otherData\": {\"generator\": \"conveyor simulate\", \"model\": ";
    appendJsonQuoted(out, report.modelName);
    out += ", \"system\": ";
    appendJsonQuoted(out, report.systemName);
    fmt::format_to(std::back_inserter(out),
                   ", \"chips\": {}, \"clock_hz\": {}, \"traced\": {}}}\n}}\n", report.chips,
                   std::isfinite(report.clockHz) ? report.clockHz : 0.0,
                   report.traced ? "true" : "false");
    return std::move(out);
  }

  /// {"name": <name>, "ph": "M", "pid": .., "tid": .., "args": {<argName>: <value>}}.
  void metadata(const char *name, uint32_t pid, uint64_t tid, const char *argName,
                const std::string &quotedValue) {
    beginEvent();
    fmt::format_to(std::back_inserter(out),
                   "{{\"name\": \"{}\", \"ph\": \"M\", \"pid\": {}, \"tid\": {}, \"args\": "
                   "{{\"{}\": {}}}}}",
                   name, pid, tid, argName, quotedValue);
  }

  /// Room for about `events` events, so that a large trace is not copied as it grows.
  void reserve(size_t events) { out.reserve(out.size() + events * kTypicalEventBytes); }

  /// Opens a complete event; the caller appends its args and calls endComplete().
  void beginComplete(std::string_view name, const char *category, uint32_t pid, uint64_t tid,
                     uint64_t startNs, uint64_t endNs) {
    beginEvent();
    out += "{\"name\": ";
    appendJsonQuoted(out, name);
    out += ", \"cat\": ";
    appendJsonQuoted(out, category);
    out += ", \"ph\": \"X\"";
    appendPlace(pid, tid, startNs);
    out += ", \"dur\": ";
    appendMicroseconds(endNs - startNs);
    out += ", \"args\": {";
    firstArg = true;
  }
  void endComplete() { out += "}}"; }

  /// One end of a flow arrow ("s" at the send, "f" at the receive, each bound to the slice
  /// that encloses it): the transfer `id` from one chip's C2C track to another's.
  void flowEnd(bool start, std::string_view id, uint32_t pid, uint64_t tid, uint64_t ns) {
    beginEvent();
    out += start ? "{\"name\": \"transfer\", \"cat\": \"c2c\", \"ph\": \"s\", \"id\": "
                 : "{\"name\": \"transfer\", \"cat\": \"c2c\", \"ph\": \"f\", \"bp\": \"e\", "
                   "\"id\": ";
    appendJsonQuoted(out, id);
    appendPlace(pid, tid, ns);
    out += '}';
  }

  void arg(const char *key, std::string_view text) {
    argKey(key);
    appendJsonQuoted(out, text);
  }
  void arg(const char *key, uint64_t number) {
    argKey(key);
    appendInteger(number);
  }
  void arg(const char *key, double number) {
    argKey(key);
    if (std::isfinite(number)) {
      fmt::format_to(std::back_inserter(out), "{}", number);
    } else {
      out += "null";
    }
  }
  void arg(const char *key, const std::vector<std::string> &texts) {
    argKey(key);
    out += '[';
    for (size_t i = 0; i < texts.size(); ++i) {
      if (i > 0) {
        out += ", ";
      }
      appendJsonQuoted(out, texts[i]);
    }
    out += ']';
  }

private:
  void beginEvent() {
    out += firstEvent ? "\n" : ",\n";
    firstEvent = false;
  }
  /// `, "pid": P, "tid": T, "ts": X`: where and when an event is.
  void appendPlace(uint32_t pid, uint64_t tid, uint64_t ns) {
    out += ", \"pid\": ";
    appendInteger(pid);
    out += ", \"tid\": ";
    appendInteger(tid);
    out += ", \"ts\": ";
    appendMicroseconds(ns);
  }
  void argKey(const char *key) {
    if (!firstArg) {
      out += ", ";
    }
    firstArg = false;
    out += '"';
    out += key;
    out += "\": ";
  }
  // Integers without a format string to parse: a trace has a dozen per instruction.
  void appendInteger(uint64_t number) {
    char digits[24];
    const std::to_chars_result end = std::to_chars(digits, digits + sizeof digits, number);
    out.append(digits, end.ptr);
  }
  /// Whole nanoseconds as microseconds with exactly three decimals: exact in decimal, so
  /// a reader that scales by 1000 and rounds recovers the nanoseconds.
  void appendMicroseconds(uint64_t ns) {
    appendInteger(ns / 1000);
    const unsigned fraction = unsigned(ns % 1000);
    out += '.';
    out += char('0' + fraction / 100);
    out += char('0' + fraction / 10 % 10);
    out += char('0' + fraction % 10);
  }

  static constexpr size_t kTypicalEventBytes = 400;

  std::string out;
  bool firstEvent = true;
  bool firstArg = true;
};

std::string threadName(schedule::Unit unit, uint32_t queue) {
  return queue == 0 ? std::string(schedule::unitName(unit))
                    : fmt::format("{} q{}", schedule::unitName(unit), queue);
}

/// The name of an instruction without a location: its opcode (and elementwise kind).
std::string unnamedEventName(const InstructionTrace &record) {
  if (record.kind != schedule::ELEMENTWISE_UNSPECIFIED) {
    return fmt::format("{} {}", schedule::opcodeName(record.opcode),
                       schedule::elementwiseName(record.kind));
  }
  return schedule::opcodeName(record.opcode);
}

} // namespace

std::string renderTrace(const SimulationReport &report, const std::set<uint32_t> &onlyChips) {
  auto shown = [&](const ProgramReport &program) { return chipTraced(onlyChips, program.chip); };
  // Tracks: per chip that runs a program, its program track and every unit queue (the four
  // units always, so that idle units show as empty lanes; other queues as they occur).
  std::map<uint32_t, std::set<std::pair<schedule::Unit, uint32_t>>> queuesByChip;
  for (const ProgramReport &program : report.programs) {
    if (!shown(program)) {
      continue;
    }
    std::set<std::pair<schedule::Unit, uint32_t>> &queues = queuesByChip[program.chip];
    for (schedule::Unit unit : kReportedUnits) {
      queues.emplace(unit, 0);
    }
    for (const InstructionTrace &record : program.trace) {
      queues.emplace(record.unit, record.queue);
    }
  }

  TraceWriter writer;
  for (const auto &[chip, queues] : queuesByChip) {
    writer.metadata("process_name", chip, programThread(chip), "name",
                    jsonQuoted(fmt::format("chip {}", chip)));
    writer.metadata("process_sort_index", chip, programThread(chip), "sort_index",
                    fmt::format("{}", chip));
    writer.metadata("thread_name", chip, programThread(chip), "name", jsonQuoted("programs"));
    writer.metadata("thread_sort_index", chip, programThread(chip), "sort_index", "0");
    for (const auto &[unit, queue] : queues) {
      const uint64_t tid = unitThread(chip, unit, queue);
      writer.metadata("thread_name", chip, tid, "name", jsonQuoted(threadName(unit, queue)));
      writer.metadata("thread_sort_index", chip, tid, "sort_index",
                      fmt::format("{}", tid - programThread(chip)));
    }
  }

  size_t events = 0;
  for (const ProgramReport &program : report.programs) {
    events += shown(program) ? 1 + program.trace.size() : 0;
  }
  writer.reserve(events);

  // Programs of one chip run one after another: each starts where the previous ended.
  const TraceClock clock(report.clockHz);
  std::map<uint32_t, uint64_t> chipCycle;
  for (const ProgramReport &program : report.programs) {
    if (!shown(program)) {
      continue;
    }
    const uint64_t base = chipCycle[program.chip];
    const uint64_t end = saturatingAdd(base, program.cycles);
    chipCycle[program.chip] = end;

    writer.beginComplete(program.name, "program", program.chip, programThread(program.chip),
                         clock.nanoseconds(base), clock.nanoseconds(end));
    writer.arg("program", program.name);
    writer.arg("start_cycle", base);
    writer.arg("cycles", program.cycles);
    writer.arg("compiler_cycles", program.compilerCycles);
    writer.arg("instructions", program.instructions);
    writer.arg("tokens_per_step", program.tokensPerStep);
    writer.arg("energy_joules", program.energyJoules);
    writer.endComplete();

    for (const InstructionTrace &record : program.trace) {
      const uint64_t issue = saturatingAdd(base, record.issueCycle);
      const uint64_t busyUntil = saturatingAdd(issue, record.occupancy);
      const uint64_t tid = unitThread(program.chip, record.unit, record.queue);
      const char *opcode = schedule::opcodeName(record.opcode);
      if (record.location.empty()) {
        writer.beginComplete(unnamedEventName(record), opcode, program.chip, tid,
                             clock.nanoseconds(issue), clock.nanoseconds(busyUntil));
      } else {
        writer.beginComplete(record.location, opcode, program.chip, tid, clock.nanoseconds(issue),
                             clock.nanoseconds(busyUntil));
      }
      writer.arg("program", program.name);
      writer.arg("index", uint64_t(record.index));
      if (record.iteration) {
        writer.arg("iteration", *record.iteration);
      }
      writer.arg("opcode", opcode);
      if (record.kind != schedule::ELEMENTWISE_UNSPECIFIED) {
        writer.arg("kind", schedule::elementwiseName(record.kind));
      }
      writer.arg("location", record.location);
      writer.arg("issue_cycle", record.issueCycle);
      writer.arg("occupancy_cycles", record.occupancy);
      writer.arg("duration_cycles", record.duration);
      writer.arg("busy_until_cycle", saturatingAdd(record.issueCycle, record.occupancy));
      writer.arg("ready_cycle", saturatingAdd(record.issueCycle, record.duration));
      writer.arg("operands", record.operands);
      writer.arg("results", record.results);
      writer.endComplete();
      if (!record.flow.empty()) {
        writer.flowEnd(record.opcode == schedule::C2C_SEND, record.flow, program.chip, tid,
                       clock.nanoseconds(issue));
      }
    }
  }
  return writer.finish(report);
}

} // namespace conveyor::sim
