// Helpers shared by the system-description tests: read shipped files, edit them, find lines.
#pragma once

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

namespace conveyor::system::test {

inline std::string shippedPath(const std::string &name) {
  return std::string(CONVEYOR_SOURCE_DIR) + "/systems/" + name;
}

inline std::string readText(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// The error of a Result, or "" when it holds a value (for INFO messages).
template <typename ResultT> std::string errorText(const ResultT &result) {
  return result.ok() ? std::string() : result.error();
}

/// Replaces the one occurrence of `from` (the test fails if it is absent or ambiguous).
inline std::string replaceOnce(std::string text, const std::string &from, const std::string &to) {
  size_t at = text.find(from);
  INFO("looking for: " << from);
  REQUIRE(at != std::string::npos);
  REQUIRE(text.find(from, at + 1) == std::string::npos);
  return text.replace(at, from.size(), to);
}

/// 1-based line on which `needle` first appears, computed independently of yaml-cpp.
inline int lineOf(const std::string &text, const std::string &needle) {
  size_t at = text.find(needle);
  INFO("looking for: " << needle);
  REQUIRE(at != std::string::npos);
  int line = 1;
  for (size_t i = 0; i < at; ++i) {
    line += text[i] == '\n';
  }
  return line;
}

} // namespace conveyor::system::test
