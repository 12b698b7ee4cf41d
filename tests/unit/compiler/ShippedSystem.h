// A shipped system description (systems/<name>) for the planner tests, which need no MLIR.
#pragma once

#include "conveyor/System/SystemConfig.h"

#include <catch2/catch.hpp>

#include <string>

namespace conveyor::test {

inline system::SystemConfig shippedSystem(const std::string &name) {
  auto loaded = system::loadSystemConfig(std::string(CONVEYOR_SOURCE_DIR) + "/systems/" + name);
  INFO((loaded.ok() ? std::string() : loaded.error()));
  REQUIRE(loaded.ok());
  return *loaded;
}

} // namespace conveyor::test
