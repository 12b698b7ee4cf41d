// Arrival process "poisson": exponential gaps at a constant rate (memoryless traffic).
#include "conveyor/Runtime/ArrivalProcess.h"

namespace conveyor::runtime {
namespace {

class PoissonArrivals final : public ArrivalProcess {
public:
  explicit PoissonArrivals(double rate) : rate(rate) {}
  double nextGapSeconds(Rng &rng) override { return rng.exponential(1.0 / rate); }
  double ratePerSecond() const override { return rate; }

private:
  double rate;
};

} // namespace

ArrivalProcessInfo poissonArrivalsInfo() {
  ParameterInfo rate{"rate", "mean arrival rate", "requests/s", std::nullopt, true};
  rate.minimumExclusive = true;
  return {"poisson",
          "exponential inter-arrival gaps (coefficient of variation 1)",
          {rate},
          [](const ParameterValues &values) -> std::unique_ptr<ArrivalProcess> {
            return std::make_unique<PoissonArrivals>(values.get("rate"));
          }};
}

} // namespace conveyor::runtime
