// Renders a SimulationReport as a readable text table or as JSON with a fixed key order.
#include "conveyor/Simulator/Simulator.h"

#include "JsonText.h"
#include "conveyor/Simulator/TensorShape.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

namespace conveyor::sim {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

double percent(double part, double whole) { return whole > 0 ? 100.0 * part / whole : 0.0; }

/// Minimal JSON emitter: the caller decides key order, so output is reproducible.
class JsonWriter {
public:
  std::string take() { return std::move(out); }

  void beginObject() { open('{'); }
  void endObject() { close('}'); }
  void beginArray() { open('['); }
  void endArray() { close(']'); }

  void key(const std::string &name) {
    separate();
    out += quote(name) + ": ";
    afterKey = true;
  }
  void value(const std::string &text) { scalar(quote(text)); }
  void value(const char *text) { scalar(quote(text)); }
  void value(bool flag) { scalar(flag ? "true" : "false"); }
  void value(uint64_t number) { scalar(fmt::format("{}", number)); }
  void value(uint32_t number) { scalar(fmt::format("{}", number)); }
  void value(int64_t number) { scalar(fmt::format("{}", number)); }
  // Shortest round-trip form; JSON has no NaN or infinity.
  void value(double number) {
    scalar(std::isfinite(number) ? fmt::format("{}", number) : std::string("null"));
  }

  template <typename T> void field(const std::string &name, const T &v) {
    key(name);
    value(v);
  }

private:
  static std::string quote(const std::string &text) { return jsonQuoted(text); }
  void indent() {
    out += '\n';
    out.append(size_t(2 * depth), ' ');
  }
  void separate() {
    if (afterKey) {
      return;
    }
    if (!first) {
      out += ",";
    }
    if (depth > 0) {
      indent();
    }
    first = false;
  }
  void scalar(const std::string &text) {
    separate();
    out += text;
    afterKey = false;
  }
  void open(char bracket) {
    separate();
    afterKey = false;
    out += bracket;
    ++depth;
    first = true;
  }
  void close(char bracket) {
    --depth;
    if (!first) {
      indent();
    }
    out += bracket;
    first = false;
    if (depth == 0) {
      out += "\n";
    }
  }

  std::string out;
  int depth = 0;
  bool first = true;
  bool afterKey = false;
};

/// "0-7, 16, 18-19" for sorted, distinct chip numbers.
std::string chipRanges(const std::vector<uint32_t> &chips) {
  std::string text;
  for (size_t i = 0; i < chips.size();) {
    size_t j = i;
    while (j + 1 < chips.size() && chips[j + 1] == chips[j] + 1) {
      ++j;
    }
    text += fmt::format("{}{}", text.empty() ? "" : ", ", chips[i]);
    if (j > i) {
      text += fmt::format("-{}", chips[j]);
    }
    i = j + 1;
  }
  return text;
}

/// "chip 3" or "chips 0-7 (8 chips)".
std::string chipListText(const std::vector<uint32_t> &chips) {
  if (chips.size() == 1) {
    return fmt::format("chip {}", chips[0]);
  }
  return fmt::format("chips {} ({} chips)", chipRanges(chips), chips.size());
}

bool sameFigures(const ProgramReport &a, const ProgramReport &b) {
  auto sameUnits = [](const std::map<std::string, UnitStats> &x,
                      const std::map<std::string, UnitStats> &y) {
    return std::equal(x.begin(), x.end(), y.begin(), y.end(), [](const auto &p, const auto &q) {
      return p.first == q.first && p.second.instructions == q.second.instructions &&
             p.second.busyCycles == q.second.busyCycles &&
             p.second.energyJoules == q.second.energyJoules;
    });
  };
  return a.name == b.name && a.cycles == b.cycles && a.compilerCycles == b.compilerCycles &&
         a.seconds == b.seconds && a.tokensPerStep == b.tokensPerStep &&
         a.tokensPerSecond == b.tokensPerSecond && a.energyJoules == b.energyJoules &&
         a.joulesPerToken == b.joulesPerToken && a.instructions == b.instructions &&
         a.energyBreakdown == b.energyBreakdown && sameUnits(a.units, b.units);
}

} // namespace

std::string renderText(const SimulationReport &report) {
  std::string out;
  auto line = [&out](const std::string &text) {
    out += text;
    out += '\n';
  };
  line(fmt::format("Model '{}' on system '{}': {} chip(s) at {:.1f} MHz", report.modelName,
                   report.systemName, report.chips, report.clockHz / 1e6));
  line(report.functional ? std::string("Mode: functional (numerics computed)")
                         : fmt::format("Mode: timing only ({})", report.timingOnlyReason));
  // Chips with the same figures share one line or block (a 576-chip fabric has a few dozen
  // kinds of chip); renderJson keeps every chip.
  line("SRAM used per chip:");
  {
    std::map<uint64_t, std::vector<uint32_t>> chipsByUse;
    std::vector<uint64_t> order; // uses in order of their first chip
    for (size_t chip = 0; chip < report.sramBytesUsedPerChip.size(); ++chip) {
      std::vector<uint32_t> &chips = chipsByUse[report.sramBytesUsedPerChip[chip]];
      if (chips.empty()) {
        order.push_back(report.sramBytesUsedPerChip[chip]);
      }
      chips.push_back(uint32_t(chip));
    }
    for (uint64_t bytes : order) {
      const double used = double(bytes);
      line(fmt::format("  {}: {:.3f} MiB of {:.3f} MiB ({:.2f} %)", chipListText(chipsByUse[bytes]),
                       used / kMiB, double(report.sramBytesPerChip) / kMiB,
                       percent(used, double(report.sramBytesPerChip))));
    }
  }
  // Programs with the same name and figures, in order of their first appearance.
  std::vector<std::vector<size_t>> groups;
  for (size_t index = 0; index < report.programs.size(); ++index) {
    auto same = std::find_if(groups.begin(), groups.end(), [&](const std::vector<size_t> &group) {
      return sameFigures(report.programs[group.front()], report.programs[index]);
    });
    if (same == groups.end()) {
      groups.push_back({index});
    } else {
      same->push_back(index);
    }
  }
  for (const std::vector<size_t> &group : groups) {
    const ProgramReport &program = report.programs[group.front()];
    std::vector<uint32_t> chips;
    for (size_t index : group) {
      chips.push_back(report.programs[index].chip);
    }
    std::sort(chips.begin(), chips.end());
    line("");
    line(fmt::format("Program '{}' on {}: {} instruction(s){}", program.name, chipListText(chips),
                     program.instructions, chips.size() > 1 ? " each" : ""));
    line(fmt::format("  {:<14} {}", "cycles", program.cycles));
    line(fmt::format("  {:<14} {}", "compiler est.", program.compilerCycles));
    line(fmt::format("  {:<14} {:.3f} us", "time", program.seconds * 1e6));
    line(fmt::format("  {:<14} {}", "tokens/step", program.tokensPerStep));
    line(fmt::format("  {:<14} {:.1f}", "tokens/s", program.tokensPerSecond));
    line(fmt::format("  {:<14} {:.3f} uJ", "energy", program.energyJoules * 1e6));
    line(fmt::format("  {:<14} {:.6g} J", "J/token", program.joulesPerToken));
    line(fmt::format("  {:<5} {:>12} {:>14} {:>12} {:>14}", "unit", "instructions", "busy cycles",
                     "utilisation", "energy (uJ)"));
    for (const auto &[unit, stats] : program.units) {
      line(fmt::format("  {:<5} {:>12} {:>14} {:>10.2f} % {:>14.3f}", unit, stats.instructions,
                       stats.busyCycles, percent(double(stats.busyCycles), double(program.cycles)),
                       stats.energyJoules * 1e6));
    }
    line(fmt::format("  {:<12} {:>14}", "energy by", "uJ"));
    for (const auto &[category, joules] : program.energyBreakdown) {
      line(fmt::format("  {:<12} {:>14.3f}", category, joules * 1e6));
    }
  }
  if (!report.outputs.empty()) {
    line("");
    line("Outputs:");
    for (const TensorData &output : report.outputs) {
      line(fmt::format("  '{}' {}", output.name, shapeText(output.shape)));
    }
  }
  return out;
}

std::string renderJson(const SimulationReport &report) {
  JsonWriter json;
  json.beginObject();
  json.field("model", report.modelName);
  json.field("system", report.systemName);
  json.field("chips", report.chips);
  json.field("clock_hz", report.clockHz);
  json.field("functional", report.functional);
  json.field("timing_only_reason", report.timingOnlyReason);
  json.key("sram");
  json.beginObject();
  json.field("bytes_per_chip", report.sramBytesPerChip);
  json.key("used_per_chip");
  json.beginArray();
  for (uint64_t used : report.sramBytesUsedPerChip) {
    json.beginObject();
    json.field("bytes", used);
    json.field("mib", double(used) / kMiB);
    json.field("percent", percent(double(used), double(report.sramBytesPerChip)));
    json.endObject();
  }
  json.endArray();
  json.endObject();
  json.key("programs");
  json.beginArray();
  for (const ProgramReport &program : report.programs) {
    json.beginObject();
    json.field("name", program.name);
    json.field("chip", program.chip);
    json.field("instructions", program.instructions);
    json.field("cycles", program.cycles);
    json.field("compiler_cycles", program.compilerCycles);
    json.field("seconds", program.seconds);
    json.field("tokens_per_step", program.tokensPerStep);
    json.field("tokens_per_second", program.tokensPerSecond);
    json.field("energy_joules", program.energyJoules);
    json.field("joules_per_token", program.joulesPerToken);
    json.key("units");
    json.beginObject();
    for (const auto &[unit, stats] : program.units) {
      json.key(unit);
      json.beginObject();
      json.field("instructions", stats.instructions);
      json.field("busy_cycles", stats.busyCycles);
      json.field("utilisation_percent", percent(double(stats.busyCycles), double(program.cycles)));
      json.field("energy_joules", stats.energyJoules);
      json.endObject();
    }
    json.endObject();
    json.key("energy_breakdown_joules");
    json.beginObject();
    for (const auto &[category, joules] : program.energyBreakdown) {
      json.field(category, joules);
    }
    json.endObject();
    json.endObject();
  }
  json.endArray();
  json.key("outputs");
  json.beginArray();
  for (const TensorData &output : report.outputs) {
    json.beginObject();
    json.field("name", output.name);
    json.key("shape");
    json.beginArray();
    for (int64_t dim : output.shape) {
      json.value(dim);
    }
    json.endArray();
    json.endObject();
  }
  json.endArray();
  json.endObject();
  return json.take();
}

} // namespace conveyor::sim
