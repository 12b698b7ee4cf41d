// Loads the system description named by a pass's `system=` option, with pass-level errors.
#pragma once

#include "conveyor/System/SystemConfig.h"

#include "mlir/IR/Operation.h"
#include "mlir/Support/LogicalResult.h"
#include "llvm/ADT/StringRef.h"

namespace conveyor::chip {

inline mlir::FailureOr<system::SystemConfig>
loadSystemOption(mlir::Operation *anchor, llvm::StringRef passArgument, llvm::StringRef path) {
  if (path.empty()) {
    return anchor->emitError() << passArgument
                               << " needs the system description: pass the option "
                                  "'system=<path>', e.g. "
                               << passArgument << "{system=systems/groq-1.yaml}";
  }
  Result<system::SystemConfig> config = system::loadSystemConfig(path.str());
  if (!config) {
    return anchor->emitError() << passArgument << ": " << config.error();
  }
  return std::move(*config);
}

} // namespace conveyor::chip
