// `conveyor compare`: the same request traffic served by several systems (LPU and GPU
// backends behind the runtime's ServingBackend), at a base load and over a sweep of loads,
// reported as a Document with headline metrics and latency-throughput curves.
#pragma once

#include "conveyor/Reports/ReportDocument.h"
#include "conveyor/Runtime/Serve.h"
#include "conveyor/Runtime/ServingBackend.h"
#include "conveyor/Runtime/ServingReport.h"

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace conveyor::reports {

struct CompareSystem {
  std::string label; // as given on the command line: "lpu:groq-576", "gpu:h100x8"
  std::string kind;  // "LPU" or "GPU"
  std::shared_ptr<runtime::ServingBackend> backend;
  std::vector<std::string> notes; // how it was set up (plan, precision, TP), for the report
  /// Where its figures come from, shown in every row of the report: "simulated schedule"
  /// (LPU: compiled and simulated per-bucket programs), "estimated: <reason>" (LPU: the
  /// planner's estimate, and why the schedule was not used) or "roofline" (GPU).
  std::string source;
  /// LPU systems: the deployment the planner chose, so that a caller with the compiler can
  /// compile and simulate the same one and replace `backend` (tools/conveyor).
  struct LpuDeployment {
    std::string systemPath;               // systems/NAME.yaml
    std::string weights, activations, kv; // dtype names
    bool weightsAuto = false;             // --lpu-weights auto: narrower ones may be tried
    bool sequencesAuto = false;           // --seqs auto: fewer may be tried
    int64_t sequences = 1, maxContext = 4096;
  };
  std::optional<LpuDeployment> lpu;
};

struct CompareOptions {
  /// The traffic every system serves. Synthetic traffic needs `rate` (the base load); the
  /// load sweep replaces only the rate, so arrivals keep their seed and lengths.
  runtime::TrafficOptions traffic;
  /// Request rates (requests/s) of the latency-throughput sweep; empty = base load only.
  /// Ignored for a trace file (its arrivals are fixed).
  std::vector<double> loads;
  /// Called before each run with a line such as "gpu:h100x8 at 4 req/s".
  std::function<void(const std::string &)> progress;
};

struct CompareRun {
  std::string system, kind, source;
  double offeredRate = 0; // requests/s asked for (NaN for a trace)
  bool base = false;      // the headline run
  runtime::ServingReport report;
};

/// Serves the traffic on every system at the base load and at each sweep load, in the order
/// systems x (base, loads...). Errors name the system and load.
Result<std::vector<CompareRun>> runCompare(const std::vector<CompareSystem> &systems,
                                           const CompareOptions &options);

/// The compare report: setup, headline table and bar plots, latency-throughput curves.
Document makeCompareDocument(const std::string &model, const std::vector<std::string> &setup,
                             const std::vector<CompareSystem> &systems,
                             const std::vector<CompareRun> &runs);

/// The DECODE buckets (KV lengths) a compiled LPU schedule needs to serve `requests`,
/// ascending: the longest context a request reaches (prompt + output tokens), and the powers
/// of two from 512 below it that a decode step fits in (above the shortest prompt). Every
/// decode step then takes the smallest of them that holds its KV. Empty for no requests.
std::vector<uint64_t> servingKvBuckets(std::span<const runtime::Request> requests);

/// Default sweep loads around a base rate: base x {1/8, 1/4, ..., 16, 32}.
std::vector<double> defaultLoads(double baseRate);

} // namespace conveyor::reports
