// Text and JSON renderings of a ServingReport (fixed order, NaN as "-" / null).
#include "conveyor/Runtime/ServingReport.h"

#include <fmt/format.h>

#include <cmath>

namespace conveyor::runtime {
namespace {

/// Appends "key": value pairs with commas and indentation; the caller fixes the order.
class JsonWriter {
public:
  explicit JsonWriter(std::string &out) : out(out) {}

  void open(std::string_view key = {}, char bracket = '{') {
    prefix(key);
    out += bracket;
    first = true;
    ++depth;
  }
  void close(char bracket = '}') {
    --depth;
    out += '\n';
    indent();
    out += bracket;
    first = false;
  }
  void number(std::string_view key, double value) {
    prefix(key);
    // "{}" prints the shortest text that reads back to the same double.
    out += std::isfinite(value) ? fmt::format("{}", value) : std::string("null");
  }
  void integer(std::string_view key, uint64_t value) {
    prefix(key);
    out += fmt::format("{}", value);
  }
  void boolean(std::string_view key, bool value) {
    prefix(key);
    out += value ? "true" : "false";
  }
  void optional(std::string_view key, const std::optional<double> &value) {
    number(key, value.value_or(std::nan("")));
  }
  void string(std::string_view key, std::string_view value) {
    prefix(key);
    out += '"';
    for (char c : value) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        out += fmt::format("\\u{:04x}", c);
      } else {
        out += c;
      }
    }
    out += '"';
  }

private:
  void prefix(std::string_view key) {
    if (depth > 0) {
      out += first ? "\n" : ",\n";
      indent();
    }
    first = false;
    if (!key.empty()) {
      out += fmt::format("\"{}\": ", key);
    }
  }
  void indent() { out.append(size_t(depth) * 2, ' '); }

  std::string &out;
  int depth = 0;
  bool first = true;
};

void writeSummary(JsonWriter &json, std::string_view key, const MetricSummary &summary) {
  json.open(key);
  json.integer("count", summary.count);
  json.number("mean", summary.mean);
  json.number("min", summary.min);
  json.number("p50", summary.p50);
  json.number("p90", summary.p90);
  json.number("p95", summary.p95);
  json.number("p99", summary.p99);
  json.number("p99.9", summary.p999);
  json.number("max", summary.max);
  json.close();
}

std::string cell(double value, double scale) {
  return std::isfinite(value) ? fmt::format("{:>10.4g}", value * scale)
                              : fmt::format("{:>10}", "-");
}

std::string summaryRow(std::string_view label, const MetricSummary &summary, double scale) {
  return fmt::format("{:<18}{:>8}{}{}{}{}{}{}{}{}\n", label, summary.count,
                     cell(summary.mean, scale), cell(summary.min, scale), cell(summary.p50, scale),
                     cell(summary.p90, scale), cell(summary.p95, scale), cell(summary.p99, scale),
                     cell(summary.p999, scale), cell(summary.max, scale));
}

std::string sloText(const ServiceLevelObjectives &slo) {
  std::string text;
  auto add = [&](const char *name, const std::optional<double> &limit) {
    if (limit) {
      text += fmt::format("{}{} <= {:g} ms", text.empty() ? "" : ", ", name, *limit * 1e3);
    }
  };
  add("TTFT", slo.ttftSeconds);
  add("TPOT", slo.tpotSeconds);
  add("E2E", slo.e2eSeconds);
  return text.empty() ? "no SLO set" : text;
}

/// "25.6 MJ", "458 kW", "1.2 J": four significant digits with an SI prefix.
std::string withPrefix(double value, const char *unit) {
  static const std::pair<double, const char *> prefixes[] = {{1e12, "T"}, {1e9, "G"}, {1e6, "M"},
                                                             {1e3, "k"},  {1, ""},    {1e-3, "m"}};
  for (const auto &[scale, prefix] : prefixes) {
    if (std::fabs(value) >= scale) {
      return fmt::format("{:.4g} {}{}", value / scale, prefix, unit);
    }
  }
  return fmt::format("{:.4g} {}", value, unit);
}

} // namespace

std::string renderText(const ServingReport &report) {
  std::string text;
  text +=
      fmt::format("serving report: backend {} ({} devices, up to {} sequences), "
                  "admission {}\n",
                  report.backendName, report.devices, report.sequenceLimit, report.admissionPolicy);
  text += fmt::format("requests {}, prompt tokens {}, output tokens {}, iterations {}\n",
                      report.requests, report.promptTokens, report.outputTokens, report.iterations);
  text += fmt::format("makespan {:.6g} s (busy {:.6g} s, idle {:.6g} s)\n\n",
                      report.makespanSeconds, report.busySeconds, report.idleSeconds);
  text += fmt::format("{:<18}{:>8}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}\n", "metric",
                      "count", "mean", "min", "p50", "p90", "p95", "p99", "p99.9", "max");
  text += summaryRow("TTFT (ms)", report.ttft, 1e3);
  text += summaryRow("TPOT (ms)", report.tpot, 1e3);
  text += summaryRow("ITL (ms)", report.itl, 1e3);
  text += summaryRow("E2E (s)", report.e2e, 1);
  text += summaryRow("queueing (ms)", report.queueing, 1e3);
  text += summaryRow("user tokens/s", report.userTokensPerSecond, 1);
  text += "\n";
  text += fmt::format("throughput   {:.6g} output tokens/s, {:.6g} requests/s\n",
                      report.outputTokensPerSecond, report.requestsPerSecond);
  text += fmt::format("goodput      {:.6g} output tokens/s, {:.6g} requests/s; {:.2f}% of "
                      "requests meet {}\n",
                      report.goodputTokensPerSecond, report.goodputRequestsPerSecond,
                      report.sloAttainment * 100, sloText(report.slo));
  text += fmt::format("energy       {:.6g} J/token ({:.1f}% idle); dynamic {} + idle {} = {}; "
                      "average {}\n",
                      report.joulesPerToken, report.idleEnergyShare * 100,
                      withPrefix(report.dynamicJoules, "J"), withPrefix(report.idleJoules, "J"),
                      withPrefix(report.totalJoules, "J"), withPrefix(report.averageWatts, "W"));
  text += fmt::format("utilisation  {:.2f}% of devices busy; sequences in flight mean {:.3g} "
                      "(while busy {:.3g}), max {}; longest queue {}\n",
                      report.busyDeviceFraction * 100, report.meanSequencesInFlight,
                      report.meanSequencesWhileBusy, report.maxSequencesInFlight,
                      report.maxQueueLength);
  return text;
}

std::string renderJson(const ServingReport &report, bool includeRequests) {
  std::string out;
  JsonWriter json(out);
  json.open();
  json.string("backend", report.backendName);
  json.string("admission_policy", report.admissionPolicy);
  json.integer("devices", report.devices);
  json.integer("sequence_limit", report.sequenceLimit);
  json.open("slo");
  json.optional("ttft_s", report.slo.ttftSeconds);
  json.optional("tpot_s", report.slo.tpotSeconds);
  json.optional("e2e_s", report.slo.e2eSeconds);
  json.close();
  json.integer("requests", report.requests);
  json.integer("prompt_tokens", report.promptTokens);
  json.integer("output_tokens", report.outputTokens);
  json.integer("iterations", report.iterations);
  json.number("makespan_s", report.makespanSeconds);
  json.number("busy_s", report.busySeconds);
  json.number("idle_s", report.idleSeconds);
  writeSummary(json, "ttft_s", report.ttft);
  writeSummary(json, "tpot_s", report.tpot);
  writeSummary(json, "itl_s", report.itl);
  writeSummary(json, "e2e_s", report.e2e);
  writeSummary(json, "queueing_s", report.queueing);
  writeSummary(json, "user_tokens_per_s", report.userTokensPerSecond);
  json.open("throughput");
  json.number("requests_per_s", report.requestsPerSecond);
  json.number("output_tokens_per_s", report.outputTokensPerSecond);
  json.close();
  json.open("goodput");
  json.integer("slo_requests", report.sloRequests);
  json.number("slo_attainment", report.sloAttainment);
  json.number("requests_per_s", report.goodputRequestsPerSecond);
  json.number("output_tokens_per_s", report.goodputTokensPerSecond);
  json.close();
  json.open("energy");
  json.number("dynamic_j", report.dynamicJoules);
  json.number("idle_j", report.idleJoules);
  json.number("total_j", report.totalJoules);
  json.number("j_per_token", report.joulesPerToken);
  json.number("idle_share", report.idleEnergyShare);
  json.number("average_w", report.averageWatts);
  json.close();
  json.open("utilisation");
  json.number("busy_device_fraction", report.busyDeviceFraction);
  json.number("mean_sequences_in_flight", report.meanSequencesInFlight);
  json.number("mean_sequences_while_busy", report.meanSequencesWhileBusy);
  json.integer("max_sequences_in_flight", report.maxSequencesInFlight);
  json.integer("max_queue_length", report.maxQueueLength);
  json.close();
  if (includeRequests) {
    json.open("per_request", '[');
    for (const RequestMetrics &request : report.perRequest) {
      json.open();
      json.number("arrival_s", request.arrivalSeconds);
      json.integer("prompt_tokens", request.promptTokens);
      json.integer("output_tokens", request.outputTokens);
      json.number("ttft_s", request.ttftSeconds);
      json.number("tpot_s", request.tpotSeconds);
      json.number("e2e_s", request.e2eSeconds);
      json.number("queueing_s", request.queueingSeconds);
      json.number("user_tokens_per_s", request.userTokensPerSecond);
      json.number("max_itl_s", request.maxItlSeconds);
      json.boolean("meets_slo", request.meetsSlo);
      json.close();
    }
    json.close(']');
  }
  json.close();
  out += '\n';
  return out;
}

} // namespace conveyor::runtime
