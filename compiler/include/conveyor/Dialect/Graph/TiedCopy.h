// The attribute that marks a weight as a copy of another in another layout.
#pragma once

namespace conveyor::graph {
/// On a cv.graph.weight that is a copy of another weight stored in another layout (a tied LM
/// head's transposed table, conveyor-graph-fuse-transformer): the name of the weight it
/// copies. Parameter counts count the original once; SRAM holds both.
inline constexpr const char *kTiedCopyOfAttr = "cv.tied_copy_of";
} // namespace conveyor::graph
