// Arrival process "onoff": Poisson arrivals during fixed "on" windows, none during the "off"
// windows in between (a load that comes in waves), starting with an on window at time 0.
#include "conveyor/Runtime/ArrivalProcess.h"

namespace conveyor::runtime {
namespace {

class OnOffArrivals final : public ArrivalProcess {
public:
  // The peak rate during "on" is scaled so that the long-run mean is `rate`.
  OnOffArrivals(double rate, double onSeconds, double offSeconds)
      : rate(rate), onSeconds(onSeconds), offSeconds(offSeconds),
        peakRate(rate * (onSeconds + offSeconds) / onSeconds), onLeft(onSeconds) {}

  // Exact by memorylessness: draw one exponential of "on" time and skip the off windows it
  // crosses.
  double nextGapSeconds(Rng &rng) override {
    double onTime = rng.exponential(1.0 / peakRate);
    double gap = 0;
    while (onTime >= onLeft) {
      onTime -= onLeft;
      gap += onLeft + offSeconds;
      onLeft = onSeconds;
    }
    onLeft -= onTime;
    return gap + onTime;
  }
  double ratePerSecond() const override { return rate; }

private:
  double rate, onSeconds, offSeconds, peakRate;
  double onLeft; // on time left in the current window
};

} // namespace

ArrivalProcessInfo onOffArrivalsInfo() {
  ParameterInfo rate{"rate", "long-run mean arrival rate", "requests/s", std::nullopt, true};
  rate.minimumExclusive = true;
  ParameterInfo on{"on", "length of each window with arrivals", "s", 1.0};
  on.minimumExclusive = true;
  ParameterInfo off{"off", "length of each window without arrivals", "s", 1.0};
  return {"onoff",
          "Poisson arrivals in on windows, none in off windows (waves of load)",
          {rate, on, off},
          [](const ParameterValues &values) -> std::unique_ptr<ArrivalProcess> {
            return std::make_unique<OnOffArrivals>(values.get("rate"), values.get("on"),
                                                   values.get("off"));
          }};
}

} // namespace conveyor::runtime
