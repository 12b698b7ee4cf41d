// Arrival process "gamma": Gamma-distributed gaps with a chosen coefficient of variation;
// cv > 1 gives bursts (clusters of arrivals separated by long lulls), cv = 1 is Poisson.
#include "conveyor/Runtime/ArrivalProcess.h"

namespace conveyor::runtime {
namespace {

class GammaArrivals final : public ArrivalProcess {
public:
  // Gamma(k, theta) has mean k*theta and cv 1/sqrt(k): k = 1/cv^2, theta = 1/(rate*k).
  GammaArrivals(double rate, double cv)
      : rate(rate), shape(1.0 / (cv * cv)), scale(cv * cv / rate) {}
  double nextGapSeconds(Rng &rng) override { return rng.gamma(shape, scale); }
  double ratePerSecond() const override { return rate; }

private:
  double rate, shape, scale;
};

} // namespace

ArrivalProcessInfo gammaArrivalsInfo() {
  ParameterInfo rate{"rate", "mean arrival rate", "requests/s", std::nullopt, true};
  rate.minimumExclusive = true;
  ParameterInfo cv{"cv", "coefficient of variation of the gaps (>1 is bursty)", "ratio", 2.0};
  cv.minimum = 0.05; // the Gamma shape is 1/cv^2: a tiny cv asks for a near-constant gap
  cv.maximum = 100;
  return {"gamma",
          "Gamma inter-arrival gaps with a coefficient of variation: bursty for cv > 1",
          {rate, cv},
          [](const ParameterValues &values) -> std::unique_ptr<ArrivalProcess> {
            return std::make_unique<GammaArrivals>(values.get("rate"), values.get("cv"));
          }};
}

} // namespace conveyor::runtime
