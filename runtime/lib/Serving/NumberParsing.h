// Locale-independent number parsing shared by the policy-spec and trace readers.
#pragma once

#include <charconv>
#include <cmath>
#include <optional>
#include <string_view>

namespace conveyor::runtime {

/// The whole of `text` as a finite double (JSON/C number syntax, no leading '+', no
/// surrounding spaces), or nothing.
inline std::optional<double> parseNumber(std::string_view text) {
  if (text.empty()) {
    return std::nullopt;
  }
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

} // namespace conveyor::runtime
