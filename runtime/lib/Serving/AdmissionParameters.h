// Parameters shared by several admission policies (private to the runtime library).
#pragma once

#include "conveyor/Runtime/PolicySpec.h"

namespace conveyor::runtime {

/// "max_sequences": optional whole number >= 1; absent means the backend's limit.
ParameterInfo maxSequencesParameter();

} // namespace conveyor::runtime
