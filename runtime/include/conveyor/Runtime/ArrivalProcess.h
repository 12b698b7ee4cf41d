// Swappable policy: when synthetic requests arrive (poisson, gamma, onoff), chosen by name.
//
// Contract for implementations:
// - `nextGapSeconds` returns the time from the previous arrival (or from time 0 for the
//   first call) to the next one: finite and >= 0.
// - It draws randomness only from the `Rng` passed in, so a seed fixes the whole stream;
//   it may keep state between calls (onoff does) but nothing else.
// - The long-run mean of the gaps is 1 / `ratePerSecond()`.
// Trace replay is not an arrival process: a trace file already fixes arrivals and
// lengths together (TraceFile.h); both paths produce the same std::vector<Request>.
#pragma once

#include "conveyor/Runtime/PolicySpec.h"
#include "conveyor/Runtime/Random.h"
#include "conveyor/Support/Result.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace conveyor::runtime {

class ArrivalProcess {
public:
  virtual ~ArrivalProcess() = default;
  virtual double nextGapSeconds(Rng &rng) = 0;
  /// Long-run mean arrival rate (requests per second).
  virtual double ratePerSecond() const = 0;
};

/// One registered implementation: its name, what it models, its parameters, its factory.
struct ArrivalProcessInfo {
  std::string name;
  std::string summary;
  std::vector<ParameterInfo> parameters;
  std::function<std::unique_ptr<ArrivalProcess>(const ParameterValues &)> create;
};

/// Every arrival process, in a fixed order ("poisson", "gamma", "onoff").
const std::vector<ArrivalProcessInfo> &arrivalProcessRegistry();

/// Builds the process `spec` names, e.g. "poisson:rate=20" or "gamma:rate=20,cv=4".
/// Unknown names list the known ones; parameters are checked against the table.
Result<std::unique_ptr<ArrivalProcess>> makeArrivalProcess(const PolicySpec &spec);

// Registry entries, one per implementation file.
ArrivalProcessInfo poissonArrivalsInfo();
ArrivalProcessInfo gammaArrivalsInfo();
ArrivalProcessInfo onOffArrivalsInfo();

} // namespace conveyor::runtime
