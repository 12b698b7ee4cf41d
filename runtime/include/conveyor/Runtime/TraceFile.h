// Request trace files: JSONL ({"arrival_s": 0.1, "prompt_tokens": 512, "output_tokens": 128}
// per line) and CSV (header arrival_s,prompt_tokens,output_tokens), read and written.
#pragma once

#include "conveyor/Runtime/Request.h"
#include "conveyor/Support/Result.h"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace conveyor::runtime {

enum class TraceFormat { Jsonl, Csv };

/// From the file name: ".jsonl"/".json" -> Jsonl, ".csv" -> Csv; otherwise an error.
Result<TraceFormat> traceFormatForPath(std::string_view path);

/// Parses trace text. Errors read "<sourceName>:<line>: <field>: <what is wrong>"; blank
/// lines are skipped; unknown or repeated fields, missing fields, non-numbers, negative or
/// fractional token counts, and arrivals earlier than the previous line's are errors.
Result<std::vector<Request>> parseTrace(std::string_view text, std::string_view sourceName,
                                        TraceFormat format);

/// Reads and parses a trace file; the format comes from the extension.
Result<std::vector<Request>> readTraceFile(const std::string &path);

/// Renders requests in `format`, with numbers that read back exactly.
std::string renderTrace(std::span<const Request> requests, TraceFormat format);

/// Writes `renderTrace` output to `path` through a temporary file and a rename, so that a
/// failure never leaves a half-written trace.
Status writeTraceFile(const std::string &path, std::span<const Request> requests);

} // namespace conveyor::runtime
