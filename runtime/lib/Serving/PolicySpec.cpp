// Parsing "name:key=value,..." policy specs and checking them against parameter tables.
#include "conveyor/Runtime/PolicySpec.h"

#include "NumberParsing.h"

#include <fmt/format.h>

#include <cassert>
#include <cmath>

namespace conveyor::runtime {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

std::string knownParameterNames(std::span<const ParameterInfo> table) {
  std::string names;
  for (const ParameterInfo &info : table) {
    names += names.empty() ? info.name : ", " + info.name;
  }
  return names.empty() ? "none" : names;
}

} // namespace

Result<PolicySpec> parsePolicySpec(std::string_view text, std::string_view what) {
  text = trim(text);
  PolicySpec spec;
  if (text.empty()) {
    return makeError(fmt::format("{}: empty; expected name[:key=value,...]", what));
  }
  // A bare number is shorthand for a fixed length ("--prompt 512").
  if (std::optional<double> number = parseNumber(text)) {
    spec.name = "fixed";
    spec.parameters.emplace_back("tokens", *number);
    return spec;
  }
  size_t colon = text.find(':');
  spec.name = std::string(trim(text.substr(0, colon)));
  if (spec.name.empty()) {
    return makeError(fmt::format("{}: '{}' has no name before ':'", what, text));
  }
  if (colon == std::string_view::npos) {
    return spec;
  }
  std::string_view rest = text.substr(colon + 1);
  while (true) {
    size_t comma = rest.find(',');
    std::string_view item = trim(rest.substr(0, comma));
    size_t equals = item.find('=');
    if (equals == std::string_view::npos) {
      return makeError(fmt::format("{}: '{}' in '{}' is not key=value", what, item, text));
    }
    std::string key(trim(item.substr(0, equals)));
    std::string_view valueText = trim(item.substr(equals + 1));
    std::optional<double> value = parseNumber(valueText);
    if (key.empty() || !value) {
      return makeError(fmt::format("{}: '{}' in '{}': expected key=<number>", what, item, text));
    }
    spec.parameters.emplace_back(std::move(key), *value);
    if (comma == std::string_view::npos) {
      break;
    }
    rest = rest.substr(comma + 1);
  }
  return spec;
}

std::string formatPolicySpec(const PolicySpec &spec) {
  std::string text = spec.name;
  for (size_t i = 0; i < spec.parameters.size(); ++i) {
    text += fmt::format("{}{}={}", i == 0 ? ":" : ",", spec.parameters[i].first,
                        spec.parameters[i].second);
  }
  return text;
}

double ParameterValues::get(std::string_view name) const {
  std::optional<double> value = find(name);
  assert(value && "parameter is neither required nor defaulted");
  return value.value_or(0.0);
}

std::optional<double> ParameterValues::find(std::string_view name) const {
  for (const auto &[key, value] : values) {
    if (key == name) {
      return value;
    }
  }
  return std::nullopt;
}

Result<ParameterValues> resolveParameters(const PolicySpec &spec,
                                          std::span<const ParameterInfo> table,
                                          std::string_view what) {
  const std::string where = fmt::format("{} '{}'", what, spec.name);
  for (size_t i = 0; i < spec.parameters.size(); ++i) {
    const std::string &key = spec.parameters[i].first;
    bool known = false;
    for (const ParameterInfo &info : table) {
      known = known || info.name == key;
    }
    if (!known) {
      return makeError(fmt::format("{}: unknown parameter '{}' (known: {})", where, key,
                                   knownParameterNames(table)));
    }
    for (size_t j = 0; j < i; ++j) {
      if (spec.parameters[j].first == key) {
        return makeError(fmt::format("{}: parameter '{}' given twice", where, key));
      }
    }
  }
  ParameterValues values;
  for (const ParameterInfo &info : table) {
    std::optional<double> value;
    for (const auto &[key, given] : spec.parameters) {
      if (key == info.name) {
        value = given;
      }
    }
    if (!value) {
      if (info.required) {
        return makeError(fmt::format("{}: missing required parameter '{}' ({}, {})", where,
                                     info.name, info.description, info.unit));
      }
      value = info.defaultValue;
      if (!value) {
        continue;
      }
    }
    const double v = *value;
    const bool belowMinimum = info.minimumExclusive ? v <= info.minimum : v < info.minimum;
    if (!std::isfinite(v) || belowMinimum || v > info.maximum) {
      return makeError(fmt::format(
          "{}: parameter '{}' = {} is out of range: expected {} {}{}", where, info.name, v,
          info.minimumExclusive ? "greater than" : "at least", info.minimum,
          info.maximum < 1e300 ? fmt::format(" and at most {}", info.maximum) : std::string()));
    }
    if (info.integer && v != std::floor(v)) {
      return makeError(
          fmt::format("{}: parameter '{}' = {} must be a whole number", where, info.name, v));
    }
    values.set(info.name, v);
  }
  return values;
}

std::string describeParameters(std::span<const ParameterInfo> table) {
  std::string text;
  for (const ParameterInfo &info : table) {
    std::string status = info.required       ? "required"
                         : info.defaultValue ? fmt::format("default {}", *info.defaultValue)
                                             : "optional";
    text += fmt::format("  {} ({}, {}): {}\n", info.name, info.unit, status, info.description);
  }
  return text;
}

} // namespace conveyor::runtime
