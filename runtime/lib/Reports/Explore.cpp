// The explore sweep engine: ordered parallel evaluation, JSONL resume, Pareto front and the
// fitting frontier.
#include "conveyor/Reports/Explore.h"
#include "conveyor/Reports/ReportRender.h"
#include "conveyor/Reports/ReportWriter.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

namespace conveyor::reports {
namespace {

std::string pointKey(const ExplorePoint &point) {
  return fmt::format("{}|{}|{}|{}", point.precision, point.sramMegabytes, point.chips,
                     point.sequences);
}

/// A flat JSON object's members: strings, numbers, booleans and null (as NaN).
struct FlatValue {
  bool isString = false;
  std::string text;
  double number = NAN;
};

Result<std::map<std::string, FlatValue>> parseFlatObject(const std::string &line,
                                                         const std::string &where) {
  std::map<std::string, FlatValue> members;
  size_t i = 0;
  auto skipSpace = [&] {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) {
      ++i;
    }
  };
  auto fail = [&](const std::string &what) -> Error {
    return makeError(fmt::format("{}: {} at column {}", where, what, i + 1));
  };
  auto parseString = [&](std::string &out) -> bool {
    if (i >= line.size() || line[i] != '"') {
      return false;
    }
    ++i;
    while (i < line.size() && line[i] != '"') {
      if (line[i] == '\\' && i + 1 < line.size()) {
        ++i;
        if (line[i] == 'u' && i + 4 < line.size()) {
          unsigned code = 0;
          auto [end, error] = std::from_chars(line.data() + i + 1, line.data() + i + 5, code, 16);
          if (error != std::errc() || end != line.data() + i + 5) {
            return false;
          }
          out += char(code);
          i += 4;
        } else {
          out += line[i] == 'n' ? '\n' : line[i];
        }
      } else {
        out += line[i];
      }
      ++i;
    }
    if (i >= line.size()) {
      return false;
    }
    ++i;
    return true;
  };
  skipSpace();
  if (i >= line.size() || line[i] != '{') {
    return fail("expected a JSON object");
  }
  ++i;
  skipSpace();
  if (i < line.size() && line[i] == '}') {
    ++i;
  } else {
    while (true) {
      skipSpace();
      std::string key;
      if (!parseString(key)) {
        return fail("expected a quoted member name");
      }
      skipSpace();
      if (i >= line.size() || line[i] != ':') {
        return fail("expected ':' after \"" + key + "\"");
      }
      ++i;
      skipSpace();
      FlatValue value;
      if (i < line.size() && line[i] == '"') {
        value.isString = true;
        if (!parseString(value.text)) {
          return fail("unterminated string in \"" + key + "\"");
        }
      } else if (line.compare(i, 4, "null") == 0) {
        i += 4;
      } else if (line.compare(i, 4, "true") == 0) {
        value.number = 1;
        i += 4;
      } else if (line.compare(i, 5, "false") == 0) {
        value.number = 0;
        i += 5;
      } else {
        const char *begin = line.data() + i;
        auto [end, error] = std::from_chars(begin, line.data() + line.size(), value.number);
        if (error != std::errc()) {
          return fail("expected a value for \"" + key + "\"");
        }
        i += size_t(end - begin);
      }
      if (!members.emplace(key, value).second) {
        return fail("member \"" + key + "\" given twice");
      }
      skipSpace();
      if (i < line.size() && line[i] == ',') {
        ++i;
        continue;
      }
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      return fail("expected ',' or '}'");
    }
  }
  skipSpace();
  if (i != line.size()) {
    return fail("unexpected text after the object");
  }
  return members;
}

/// Fills `chips`, `sram` ... from what was read; names the missing member.
Result<ExploreResult> resultFromMembers(const std::map<std::string, FlatValue> &members,
                                        const std::string &where) {
  auto number = [&](const char *key, double &out, bool nullable) -> Status {
    auto found = members.find(key);
    if (found == members.end() || found->second.isString ||
        (!nullable && !std::isfinite(found->second.number))) {
      return makeError(fmt::format("{}: \"{}\" is missing or not a number", where, key));
    }
    out = found->second.number;
    return Status::success();
  };
  auto text = [&](const char *key, std::string &out) -> Status {
    auto found = members.find(key);
    if (found == members.end() || !found->second.isString) {
      return makeError(fmt::format("{}: \"{}\" is missing or not a string", where, key));
    }
    out = found->second.text;
    return Status::success();
  };
  ExploreResult result;
  double chips = 0, sequences = 0, fits = 0, tp = 0, stages = 0, minimum = 0;
  for (Status status :
       {number("chips", chips, false), number("sram_mb", result.point.sramMegabytes, false),
        text("precision", result.point.precision), number("seqs", sequences, false),
        number("fits", fits, false), text("reason", result.reason), number("tp", tp, false),
        number("stages", stages, false), number("decode_step_s", result.decodeStepSeconds, true),
        number("per_user_tok_s", result.perUserTokensPerSecond, true),
        number("aggregate_tok_s", result.aggregateTokensPerSecond, true),
        number("j_per_token", result.joulesPerToken, true), number("watts", result.watts, true),
        number("weight_bytes", result.weightBytes, true), number("kv_bytes", result.kvBytes, true),
        number("min_chips", minimum, false)}) {
    if (!status) {
      return makeError(status.error());
    }
  }
  result.point.chips = uint32_t(chips);
  result.point.sequences = uint32_t(sequences);
  result.fits = fits != 0;
  result.tensorParallel = uint32_t(tp);
  result.pipelineStages = uint32_t(stages);
  result.minimumChips = uint32_t(minimum);
  return result;
}

} // namespace

std::vector<ExplorePoint> explorePoints(const ExploreOptions &options) {
  std::vector<ExplorePoint> points;
  for (const std::string &precision : options.precisions) {
    for (double sram : options.sramMegabytes) {
      for (uint32_t chips : options.chips) {
        for (uint32_t sequences : options.sequences) {
          points.push_back({chips, sram, precision, sequences});
        }
      }
    }
  }
  return points;
}

std::string renderResultLine(const ExploreResult &result, const std::string &sweepId) {
  const ExplorePoint &point = result.point;
  return fmt::format(
      "{{\"sweep\": {}, \"precision\": {}, \"sram_mb\": {}, \"chips\": {}, \"seqs\": {}, "
      "\"fits\": {}, \"reason\": {}, \"tp\": {}, \"stages\": {}, \"decode_step_s\": {}, "
      "\"per_user_tok_s\": {}, \"aggregate_tok_s\": {}, \"j_per_token\": {}, \"watts\": {}, "
      "\"weight_bytes\": {}, \"kv_bytes\": {}, \"min_chips\": {}}}",
      jsonString(sweepId), jsonString(point.precision), jsonNumber(point.sramMegabytes),
      point.chips, point.sequences, result.fits ? "true" : "false", jsonString(result.reason),
      result.tensorParallel, result.pipelineStages, jsonNumber(result.decodeStepSeconds),
      jsonNumber(result.perUserTokensPerSecond), jsonNumber(result.aggregateTokensPerSecond),
      jsonNumber(result.joulesPerToken), jsonNumber(result.watts), jsonNumber(result.weightBytes),
      jsonNumber(result.kvBytes), result.minimumChips);
}

Result<ExploreResult> parseResultLine(const std::string &line, const std::string &where,
                                      std::string &sweepId) {
  Result<std::map<std::string, FlatValue>> members = parseFlatObject(line, where);
  if (!members) {
    return makeError(members.error());
  }
  auto sweep = members->find("sweep");
  if (sweep == members->end() || !sweep->second.isString) {
    return makeError(where + ": \"sweep\" is missing or not a string");
  }
  sweepId = sweep->second.text;
  return resultFromMembers(*members, where);
}

Result<std::vector<double>> parseSweepRange(const std::string &text, const std::string &option) {
  auto parseNumber = [&](const std::string &part) -> std::optional<double> {
    double value = 0;
    auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (error != std::errc() || end != part.data() + part.size() || !(value > 0) ||
        !std::isfinite(value)) {
      return std::nullopt;
    }
    return value;
  };
  auto bad = [&](const std::string &what) -> Error {
    return makeError(fmt::format("{} '{}': {}; write A..B (doubling), A..B:STEP or A,B,C with "
                                 "positive numbers",
                                 option, text, what));
  };
  std::vector<double> values;
  size_t dots = text.find("..");
  if (dots == std::string::npos) {
    std::stringstream parts(text);
    std::string part;
    while (std::getline(parts, part, ',')) {
      std::optional<double> value = parseNumber(part);
      if (!value) {
        return bad("'" + part + "' is not a positive number");
      }
      values.push_back(*value);
    }
    if (values.empty()) {
      return bad("no values");
    }
  } else {
    std::string rest = text.substr(dots + 2);
    std::optional<double> step;
    if (size_t colon = rest.find(':'); colon != std::string::npos) {
      step = parseNumber(rest.substr(colon + 1));
      if (!step) {
        return bad("the step is not a positive number");
      }
      rest = rest.substr(0, colon);
    }
    std::optional<double> first = parseNumber(text.substr(0, dots)), last = parseNumber(rest);
    if (!first || !last || *last < *first) {
      return bad("expected two positive bounds, the first no larger than the second");
    }
    for (double value = *first; value <= *last * (1 + 1e-12);
         value = step ? value + *step : value * 2) {
      values.push_back(value);
      if (values.size() > 10000) {
        return bad("more than 10,000 values");
      }
    }
    if (values.back() < *last * (1 - 1e-12)) {
      values.push_back(*last);
    }
  }
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return values;
}

Result<ExploreRun> runExplore(const ExploreOptions &options, const PointEvaluator &evaluate) {
  std::vector<ExplorePoint> points = explorePoints(options);
  if (points.empty()) {
    return makeError("explore: the sweep has no points (empty chips, SRAM, precision or "
                     "sequences list)");
  }
  std::map<std::string, size_t> indexOf;
  for (size_t i = 0; i < points.size(); ++i) {
    indexOf.emplace(pointKey(points[i]), i);
  }

  // Resume: results of this sweep already in the file.
  std::vector<std::optional<ExploreResult>> slots(points.size());
  std::vector<std::string> keptOtherLines; // this sweep's points outside the current grid
  ExploreRun run;
  namespace fs = std::filesystem;
  if (!options.resultsPath.empty() && fs::exists(options.resultsPath)) {
    std::ifstream in(options.resultsPath, std::ios::binary);
    if (!in) {
      return makeError(options.resultsPath + ": cannot read the results to resume from");
    }
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::stringstream lines(content);
    std::string line;
    size_t lineNumber = 0;
    while (std::getline(lines, line)) {
      ++lineNumber;
      if (line.find_first_not_of(" \t\r") == std::string::npos) {
        continue;
      }
      bool lastLine = lines.peek() == EOF;
      bool complete = !lastLine || (!content.empty() && content.back() == '\n');
      std::string sweepId;
      Result<ExploreResult> parsed =
          parseResultLine(line, fmt::format("{}:{}", options.resultsPath, lineNumber), sweepId);
      if (!parsed) {
        if (!complete) {
          break; // the write of the last line was interrupted: evaluate that point again
        }
        return makeError(parsed.error() + "; delete the file to start the sweep again");
      }
      if (sweepId != options.sweepId) {
        return makeError(fmt::format(
            "{}:{}: results of another sweep ('{}'; this one is '{}'): use another --report "
            "directory or delete the file",
            options.resultsPath, lineNumber, sweepId, options.sweepId));
      }
      auto found = indexOf.find(pointKey(parsed->point));
      if (found == indexOf.end()) {
        keptOtherLines.push_back(line);
      } else if (!slots[found->second]) {
        slots[found->second] = std::move(*parsed);
        ++run.reused;
      }
    }
  }

  // Rewrite the file with what is kept, in order, then append each result as it comes in
  // (so an interrupted run loses nothing); the end of the run rewrites it in sweep order.
  std::ofstream out;
  if (!options.resultsPath.empty()) {
    std::string kept;
    for (const std::string &line : keptOtherLines) {
      kept += line + "\n";
    }
    for (const std::optional<ExploreResult> &slot : slots) {
      if (slot) {
        kept += renderResultLine(*slot, options.sweepId) + "\n";
      }
    }
    if (Status status = writeFileAtomically(options.resultsPath, kept); !status) {
      return makeError(status.error());
    }
    out.open(options.resultsPath, std::ios::binary | std::ios::app);
    if (!out) {
      return makeError(options.resultsPath + ": cannot append results");
    }
  }

  std::vector<size_t> pending;
  for (size_t i = 0; i < points.size(); ++i) {
    if (!slots[i]) {
      pending.push_back(i);
    }
  }
  std::mutex mutex;
  std::condition_variable ready;
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::optional<std::string> failure;
  std::vector<std::optional<ExploreResult>> computed(points.size());
  auto worker = [&] {
    while (!stop) {
      size_t taken = next.fetch_add(1);
      if (taken >= pending.size()) {
        return;
      }
      size_t index = pending[taken];
      Result<ExploreResult> result = evaluate(points[index]);
      std::lock_guard<std::mutex> lock(mutex);
      if (!result) {
        if (!failure) {
          failure = result.error();
        }
        stop = true;
      } else {
        result->point = points[index];
        computed[index] = std::move(*result);
      }
      ready.notify_one();
    }
  };
  unsigned jobs = std::max(1u, std::min<unsigned>(options.jobs, unsigned(pending.size())));
  std::vector<std::thread> threads;
  if (!pending.empty()) {
    for (unsigned j = 0; j < jobs; ++j) {
      threads.emplace_back(worker);
    }
  }
  // Write results in sweep order: point i once every earlier point is known.
  size_t written = 0;
  std::optional<std::string> writeFailure;
  {
    std::unique_lock<std::mutex> lock(mutex);
    for (size_t i = 0; i < points.size(); ++i) {
      if (slots[i]) {
        continue;
      }
      ready.wait(lock, [&] { return computed[i].has_value() || failure.has_value(); });
      if (!computed[i]) {
        break;
      }
      slots[i] = std::move(computed[i]);
      ++run.evaluated;
      if (out.is_open()) {
        out << renderResultLine(*slots[i], options.sweepId) << "\n";
        out.flush();
        if (!out && !writeFailure) {
          writeFailure = options.resultsPath + ": cannot append results (disk full?)";
          stop = true;
          failure = *writeFailure;
        }
      }
      ++written;
      if (options.progress) {
        lock.unlock();
        options.progress(run.reused + written, points.size(), run.reused);
        lock.lock();
      }
    }
  }
  for (std::thread &thread : threads) {
    thread.join();
  }
  if (failure) {
    return makeError(*failure);
  }
  if (options.progress && pending.empty()) {
    options.progress(points.size(), points.size(), run.reused);
  }
  // Appends put resumed and new results in two runs of sweep order; leave the file in one.
  if (out.is_open()) {
    out.close();
    std::string all;
    for (const std::string &line : keptOtherLines) {
      all += line + "\n";
    }
    for (const std::optional<ExploreResult> &slot : slots) {
      all += renderResultLine(*slot, options.sweepId) + "\n";
    }
    if (Status status = writeFileAtomically(options.resultsPath, all); !status) {
      return makeError(status.error());
    }
  }
  for (std::optional<ExploreResult> &slot : slots) {
    run.results.push_back(std::move(*slot));
  }
  return run;
}

std::vector<size_t> paretoFront(const std::vector<std::vector<double>> &objectives,
                                const std::vector<Goal> &goals) {
  auto better = [&](double a, double b, Goal goal) {
    return goal == Goal::Maximize ? a > b : a < b;
  };
  auto valid = [&](const std::vector<double> &values) {
    return values.size() == goals.size() &&
           std::all_of(values.begin(), values.end(), [](double v) { return !std::isnan(v); });
  };
  std::vector<size_t> front;
  for (size_t i = 0; i < objectives.size(); ++i) {
    if (!valid(objectives[i])) {
      continue;
    }
    bool dominated = false;
    for (size_t j = 0; j < objectives.size() && !dominated; ++j) {
      if (j == i || !valid(objectives[j])) {
        continue;
      }
      bool noWorse = true, strictlyBetter = false;
      for (size_t k = 0; k < goals.size(); ++k) {
        if (better(objectives[i][k], objectives[j][k], goals[k])) {
          noWorse = false;
          break;
        }
        if (better(objectives[j][k], objectives[i][k], goals[k])) {
          strictlyBetter = true;
        }
      }
      dominated = noWorse && strictlyBetter;
    }
    if (!dominated) {
      front.push_back(i);
    }
  }
  return front;
}

std::vector<FrontierRow> fittingFrontier(const std::vector<ExploreResult> &results) {
  std::vector<FrontierRow> rows;
  std::map<std::pair<std::string, double>, size_t> rowOf;
  for (const ExploreResult &result : results) {
    auto key = std::make_pair(result.point.precision, result.point.sramMegabytes);
    auto [found, inserted] = rowOf.emplace(key, rows.size());
    if (inserted) {
      rows.push_back({result.point.precision, result.point.sramMegabytes, 0, 0});
    }
    FrontierRow &row = rows[found->second];
    if (result.fits && (row.fewestSweptChips == 0 || result.point.chips < row.fewestSweptChips)) {
      row.fewestSweptChips = result.point.chips;
    }
    if (result.minimumChips != 0 &&
        (row.minimumChips == 0 || result.minimumChips < row.minimumChips)) {
      row.minimumChips = result.minimumChips;
    }
  }
  return rows;
}

} // namespace conveyor::reports
