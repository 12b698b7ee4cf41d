// JSON string quoting shared by the report and trace renderers (private to simulator/lib).
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace conveyor::sim {

/// Appends `text` as a JSON string literal (quotes, escapes, control characters as \uXXXX).
inline void appendJsonQuoted(std::string &out, std::string_view text) {
  out += '"';
  // Most names need no escaping: copy them whole.
  bool plain = true;
  for (unsigned char c : text) {
    plain = plain && c >= 0x20 && c != '"' && c != '\\';
  }
  if (plain) {
    out += text;
    out += '"';
    return;
  }
  for (unsigned char c : text) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\t':
      out += "\\t";
      break;
    case '\r':
      out += "\\r";
      break;
    default:
      if (c < 0x20) {
        out += fmt::format("\\u{:04x}", c);
      } else {
        out += char(c);
      }
    }
  }
  out += '"';
}

inline std::string jsonQuoted(std::string_view text) {
  std::string out;
  appendJsonQuoted(out, text);
  return out;
}

} // namespace conveyor::sim
