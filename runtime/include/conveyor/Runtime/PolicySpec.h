// Names and parameters of swappable runtime policies ("gamma:rate=10,cv=3"), with the typed
// parameter tables each implementation declares and the checks that resolve one against another.
#pragma once

#include "conveyor/Support/Result.h"

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace conveyor::runtime {

/// One parameter an implementation accepts: the table `conveyor ... --help` and the docs print.
struct ParameterInfo {
  std::string name;
  std::string description;
  std::string unit;
  /// Value used when the spec leaves the parameter out; none with `required` means the
  /// user must give it, none without `required` means "absent" (see ParameterValues::find).
  std::optional<double> defaultValue;
  bool required = false;
  double minimum = 0;            // inclusive
  double maximum = 1e300;        // inclusive
  bool integer = false;          // must be a whole number
  bool minimumExclusive = false; // minimum itself is not allowed (e.g. a rate of 0)
};

/// A policy chosen by name with numeric parameters, in the order written.
struct PolicySpec {
  std::string name;
  std::vector<std::pair<std::string, double>> parameters;
};

/// Parses "name" or "name:key=value,key=value". `what` names the option in messages
/// ("--arrival"). A bare number N is read as "fixed:tokens=N" (for length options).
Result<PolicySpec> parsePolicySpec(std::string_view text, std::string_view what);

/// The canonical spelling: "name:key=value,..." (parameters in the order given).
std::string formatPolicySpec(const PolicySpec &spec);

/// Parameter values after defaults were applied and every range checked.
class ParameterValues {
public:
  /// Value of a parameter that is required or has a default (asserts otherwise).
  double get(std::string_view name) const;
  /// Value of a parameter that may be absent.
  std::optional<double> find(std::string_view name) const;
  void set(std::string name, double value) { values.emplace_back(std::move(name), value); }

private:
  std::vector<std::pair<std::string, double>> values;
};

/// Checks `spec` against `table`: unknown or repeated keys, missing required ones, values
/// out of range or not whole. Messages read "<what> '<name>': parameter 'cv': ...".
Result<ParameterValues> resolveParameters(const PolicySpec &spec,
                                          std::span<const ParameterInfo> table,
                                          std::string_view what);

/// "name (unit, default D): description" lines, for help text and errors.
std::string describeParameters(std::span<const ParameterInfo> table);

} // namespace conveyor::runtime
