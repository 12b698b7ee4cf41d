// Renders a SimulationReport as a readable text table or as JSON with a fixed key order.
#include "conveyor/Simulator/Simulator.h"

#include "JsonText.h"
#include "conveyor/Simulator/TensorShape.h"

#include <fmt/format.h>

#include <cmath>

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
  line("SRAM used per chip:");
  for (size_t chip = 0; chip < report.sramBytesUsedPerChip.size(); ++chip) {
    const double used = double(report.sramBytesUsedPerChip[chip]);
    line(fmt::format("  chip {}: {:.3f} MiB of {:.3f} MiB ({:.2f} %)", chip, used / kMiB,
                     double(report.sramBytesPerChip) / kMiB,
                     percent(used, double(report.sramBytesPerChip))));
  }
  for (const ProgramReport &program : report.programs) {
    line("");
    line(fmt::format("Program '{}' on chip {}: {} instruction(s)", program.name, program.chip,
                     program.instructions));
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
