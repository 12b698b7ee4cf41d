// Hand-rolled readers and writers for flat JSONL and CSV request traces (no JSON library:
// the records are three numbers, and errors must name file:line and the field).
#include "conveyor/Runtime/TraceFile.h"

#include "NumberParsing.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

namespace conveyor::runtime {
namespace {

constexpr std::array<std::string_view, 3> fieldNames = {"arrival_s", "prompt_tokens",
                                                        "output_tokens"};
constexpr const char *expectedFields = "arrival_s, prompt_tokens, output_tokens";
// Token counts are stored as uint32_t; 2^30 is far beyond any context length.
constexpr double maxTokens = double(1u << 30);

std::optional<size_t> fieldIndex(std::string_view name) {
  for (size_t i = 0; i < fieldNames.size(); ++i) {
    if (fieldNames[i] == name) {
      return i;
    }
  }
  return std::nullopt;
}

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && isSpace(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && isSpace(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

/// Builds one Request from its three raw values, checking each field's meaning.
class RecordBuilder {
public:
  RecordBuilder(std::string_view source, uint32_t line) : source(source), line(line) {}

  std::string where() const { return fmt::format("{}:{}", source, line); }

  Status set(size_t field, double value) {
    if (values[field]) {
      return makeError(fmt::format("{}: field '{}' appears twice", where(), fieldNames[field]));
    }
    if (field == 0) {
      if (value < 0) {
        return makeError(fmt::format("{}: arrival_s: {} is negative; arrival times are "
                                     "seconds from the start of the trace",
                                     where(), value));
      }
    } else if (value < 1 || value > maxTokens || value != std::floor(value)) {
      return makeError(fmt::format("{}: {}: expected a whole number of tokens from 1 to {}, "
                                   "got {}",
                                   where(), fieldNames[field], maxTokens, value));
    }
    values[field] = value;
    return Status::success();
  }

  Result<Request> finish() const {
    for (size_t i = 0; i < fieldNames.size(); ++i) {
      if (!values[i]) {
        return makeError(fmt::format("{}: missing field '{}' (each record needs {})", where(),
                                     fieldNames[i], expectedFields));
      }
    }
    Request request;
    request.arrivalSeconds = *values[0];
    request.promptTokens = static_cast<uint32_t>(*values[1]);
    request.outputTokens = static_cast<uint32_t>(*values[2]);
    request.sourceLine = line;
    return request;
  }

private:
  std::string_view source;
  uint32_t line;
  std::array<std::optional<double>, 3> values;
};

/// A cursor over one JSONL line holding one flat object of numbers.
class JsonLineParser {
public:
  JsonLineParser(std::string_view text, RecordBuilder &record) : text(text), record(record) {}

  Status parse() {
    skipSpace();
    if (!consume('{')) {
      return syntaxError("expected '{' at the start of the record");
    }
    skipSpace();
    if (consume('}')) {
      return checkEnd();
    }
    while (true) {
      skipSpace();
      std::string key;
      if (Status status = parseString(key); !status) {
        return status;
      }
      skipSpace();
      if (!consume(':')) {
        return syntaxError(fmt::format("expected ':' after key \"{}\"", key));
      }
      skipSpace();
      if (Status status = parseValue(key); !status) {
        return status;
      }
      skipSpace();
      if (consume(',')) {
        continue;
      }
      if (consume('}')) {
        return checkEnd();
      }
      return syntaxError("expected ',' or '}' after a value");
    }
  }

private:
  void skipSpace() {
    while (position < text.size() && isSpace(text[position])) {
      ++position;
    }
  }
  bool consume(char c) {
    if (position < text.size() && text[position] == c) {
      ++position;
      return true;
    }
    return false;
  }
  Status syntaxError(const std::string &what) const {
    return makeError(
        fmt::format("{}:{}: {} (not a flat JSON object)", record.where(), position + 1, what));
  }
  Status checkEnd() {
    skipSpace();
    if (position != text.size()) {
      return syntaxError("text after the closing '}' (one record per line)");
    }
    return Status::success();
  }

  // Keys are plain ASCII names; escapes are decoded only well enough to report them.
  Status parseString(std::string &out) {
    if (!consume('"')) {
      return syntaxError("expected a quoted field name");
    }
    while (position < text.size() && text[position] != '"') {
      if (text[position] == '\\' && position + 1 < text.size()) {
        ++position;
      }
      out += text[position++];
    }
    if (!consume('"')) {
      return syntaxError("unterminated string");
    }
    return Status::success();
  }

  Status parseValue(const std::string &key) {
    std::optional<size_t> field = fieldIndex(key);
    if (!field) {
      return makeError(
          fmt::format("{}: unknown field '{}' (expected {})", record.where(), key, expectedFields));
    }
    const size_t start = position;
    if (position < text.size() &&
        (text[position] == '"' || text[position] == '{' || text[position] == '[')) {
      const char *kind = text[position] == '"' ? "a string" : "a nested value";
      return makeError(fmt::format("{}: {}: expected a number, got {}", record.where(), key, kind));
    }
    while (position < text.size() && !isSpace(text[position]) && text[position] != ',' &&
           text[position] != '}') {
      ++position;
    }
    std::string_view token = text.substr(start, position - start);
    std::optional<double> value = parseNumber(token);
    if (!value) {
      return makeError(
          fmt::format("{}: {}: expected a number, got '{}'", record.where(), key, token));
    }
    return record.set(*field, *value);
  }

  std::string_view text;
  RecordBuilder &record;
  size_t position = 0;
};

/// Walks `text` line by line (1-based numbers), skipping blank lines.
template <typename Visit> Status forEachLine(std::string_view text, Visit visit) {
  // A UTF-8 byte-order mark is invisible in editors; do not make it a syntax error.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") {
    text.remove_prefix(3);
  }
  uint32_t lineNumber = 0;
  while (!text.empty()) {
    ++lineNumber;
    size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    if (trim(line).empty()) {
      continue;
    }
    if (Status status = visit(trim(line), lineNumber); !status) {
      return status;
    }
  }
  return Status::success();
}

Status appendChecked(std::vector<Request> &requests, Result<Request> request,
                     std::string_view sourceName) {
  if (!request) {
    return request.takeError();
  }
  if (!requests.empty() && request->arrivalSeconds < requests.back().arrivalSeconds) {
    return makeError(fmt::format("{}:{}: arrival_s: {} is earlier than {} on line {}; sort the "
                                 "trace by arrival time",
                                 sourceName, request->sourceLine, request->arrivalSeconds,
                                 requests.back().arrivalSeconds, requests.back().sourceLine));
  }
  requests.push_back(*request);
  return Status::success();
}

Result<std::vector<Request>> parseJsonl(std::string_view text, std::string_view sourceName) {
  std::vector<Request> requests;
  Status status = forEachLine(text, [&](std::string_view line, uint32_t number) -> Status {
    RecordBuilder record(sourceName, number);
    if (Status parsed = JsonLineParser(line, record).parse(); !parsed) {
      return parsed;
    }
    return appendChecked(requests, record.finish(), sourceName);
  });
  if (!status) {
    return makeError(status.error());
  }
  return requests;
}

std::vector<std::string_view> splitCells(std::string_view line) {
  std::vector<std::string_view> cells;
  while (true) {
    size_t comma = line.find(',');
    cells.push_back(trim(line.substr(0, comma)));
    if (comma == std::string_view::npos) {
      return cells;
    }
    line = line.substr(comma + 1);
  }
}

Result<std::vector<Request>> parseCsv(std::string_view text, std::string_view sourceName) {
  std::vector<Request> requests;
  std::vector<size_t> columns; // field index of each column, from the header
  Status status = forEachLine(text, [&](std::string_view line, uint32_t number) -> Status {
    std::vector<std::string_view> cells = splitCells(line);
    if (columns.empty()) {
      for (std::string_view cell : cells) {
        std::optional<size_t> field = fieldIndex(cell);
        if (!field) {
          return makeError(fmt::format("{}:{}: header: unknown column '{}' (expected {})",
                                       sourceName, number, cell, expectedFields));
        }
        for (size_t seen : columns) {
          if (seen == *field) {
            return makeError(
                fmt::format("{}:{}: header: column '{}' appears twice", sourceName, number, cell));
          }
        }
        columns.push_back(*field);
      }
      if (columns.size() != fieldNames.size()) {
        for (size_t i = 0; i < fieldNames.size(); ++i) {
          if (std::find(columns.begin(), columns.end(), i) == columns.end()) {
            return makeError(fmt::format("{}:{}: header: missing column '{}' (expected {})",
                                         sourceName, number, fieldNames[i], expectedFields));
          }
        }
      }
      return Status::success();
    }
    if (cells.size() != columns.size()) {
      return makeError(fmt::format("{}:{}: expected {} comma-separated values ({}), found {}",
                                   sourceName, number, columns.size(), expectedFields,
                                   cells.size()));
    }
    RecordBuilder record(sourceName, number);
    for (size_t c = 0; c < cells.size(); ++c) {
      std::optional<double> value = parseNumber(cells[c]);
      if (!value) {
        return makeError(fmt::format("{}:{}: {}: expected a number, got '{}'", sourceName, number,
                                     fieldNames[columns[c]], cells[c]));
      }
      if (Status set = record.set(columns[c], *value); !set) {
        return set;
      }
    }
    return appendChecked(requests, record.finish(), sourceName);
  });
  if (!status) {
    return makeError(status.error());
  }
  if (columns.empty()) {
    return makeError(fmt::format("{}: empty CSV trace; the first line must be the header {}",
                                 sourceName, "arrival_s,prompt_tokens,output_tokens"));
  }
  return requests;
}

} // namespace

Result<TraceFormat> traceFormatForPath(std::string_view path) {
  auto endsWith = [&](std::string_view suffix) {
    return path.size() >= suffix.size() && path.substr(path.size() - suffix.size()) == suffix;
  };
  if (endsWith(".jsonl") || endsWith(".json")) {
    return TraceFormat::Jsonl;
  }
  if (endsWith(".csv")) {
    return TraceFormat::Csv;
  }
  return makeError(fmt::format("trace file '{}': unknown format; name it *.jsonl (one JSON "
                               "object per line) or *.csv",
                               path));
}

Result<std::vector<Request>> parseTrace(std::string_view text, std::string_view sourceName,
                                        TraceFormat format) {
  Result<std::vector<Request>> requests =
      format == TraceFormat::Jsonl ? parseJsonl(text, sourceName) : parseCsv(text, sourceName);
  if (requests && requests->empty()) {
    return makeError(fmt::format("{}: the trace holds no requests", sourceName));
  }
  return requests;
}

Result<std::vector<Request>> readTraceFile(const std::string &path) {
  Result<TraceFormat> format = traceFormatForPath(path);
  if (!format) {
    return format.takeError();
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return makeError(fmt::format("cannot open trace file '{}': {}", path, std::strerror(errno)));
  }
  std::ostringstream contents;
  contents << file.rdbuf();
  if (file.bad()) {
    return makeError(fmt::format("cannot read trace file '{}'", path));
  }
  return parseTrace(contents.str(), path, *format);
}

std::string renderTrace(std::span<const Request> requests, TraceFormat format) {
  std::string text;
  if (format == TraceFormat::Csv) {
    text += "arrival_s,prompt_tokens,output_tokens\n";
  }
  for (const Request &request : requests) {
    // "{}" is the shortest text that reads back to the same double.
    text += format == TraceFormat::Csv
                ? fmt::format("{},{},{}\n", request.arrivalSeconds, request.promptTokens,
                              request.outputTokens)
                : fmt::format("{{\"arrival_s\": {}, \"prompt_tokens\": {}, "
                              "\"output_tokens\": {}}}\n",
                              request.arrivalSeconds, request.promptTokens, request.outputTokens);
  }
  return text;
}

Status writeTraceFile(const std::string &path, std::span<const Request> requests) {
  Result<TraceFormat> format = traceFormatForPath(path);
  if (!format) {
    return makeError(format.error());
  }
  const std::string temporary = path + ".partial";
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    if (!file) {
      return makeError(
          fmt::format("cannot write trace file '{}': {}", temporary, std::strerror(errno)));
    }
    file << renderTrace(requests, *format);
    file.flush();
    if (!file) {
      std::remove(temporary.c_str());
      return makeError(fmt::format("cannot write trace file '{}' (disk full?)", temporary));
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    return makeError(
        fmt::format("cannot rename '{}' to '{}': {}", temporary, path, std::strerror(errno)));
  }
  return Status::success();
}

} // namespace conveyor::runtime
