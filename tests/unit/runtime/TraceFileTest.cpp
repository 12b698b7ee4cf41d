// Trace files: JSONL and CSV parsing, every error naming file:line and the field, and
// exact round trips through renderTrace / writeTraceFile.
#include "RuntimeTestSupport.h"

#include "conveyor/Runtime/SyntheticTraffic.h"
#include "conveyor/Runtime/TraceFile.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

using namespace conveyor;
using namespace conveyor::runtime;
using namespace conveyor::runtime::test;

namespace {
std::string jsonlError(const std::string &text) {
  Result<std::vector<Request>> parsed = parseTrace(text, "chat.jsonl", TraceFormat::Jsonl);
  REQUIRE_FALSE(parsed.ok());
  return parsed.error();
}
std::string csvError(const std::string &text) {
  Result<std::vector<Request>> parsed = parseTrace(text, "chat.csv", TraceFormat::Csv);
  REQUIRE_FALSE(parsed.ok());
  return parsed.error();
}
} // namespace

TEST_CASE("JSONL traces parse in any field order, skipping blank lines") {
  const std::string text = "{\"arrival_s\": 0.1, \"prompt_tokens\": 512, \"output_tokens\": 128}\n"
                           "\n"
                           "  {\"output_tokens\":1,\"arrival_s\":0.25,\"prompt_tokens\":7}  \r\n"
                           "{\"prompt_tokens\": 3e2, \"output_tokens\": 2, \"arrival_s\": 1}";
  Result<std::vector<Request>> parsed = parseTrace(text, "chat.jsonl", TraceFormat::Jsonl);
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == 3);
  CHECK((*parsed)[0].arrivalSeconds == 0.1);
  CHECK((*parsed)[0].promptTokens == 512);
  CHECK((*parsed)[0].outputTokens == 128);
  CHECK((*parsed)[1].arrivalSeconds == 0.25);
  CHECK((*parsed)[1].outputTokens == 1);
  CHECK((*parsed)[1].sourceLine == 3);
  CHECK((*parsed)[2].promptTokens == 300);
  CHECK((*parsed)[2].sourceLine == 4);
}

TEST_CASE("CSV traces parse with columns in any order") {
  const std::string text = "\xEF\xBB\xBFprompt_tokens, arrival_s, output_tokens\n"
                           "512,0,128\n"
                           "\n"
                           "16, 2.5 ,4\r\n";
  Result<std::vector<Request>> parsed = parseTrace(text, "chat.csv", TraceFormat::Csv);
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == 2);
  CHECK((*parsed)[0].promptTokens == 512);
  CHECK((*parsed)[0].arrivalSeconds == 0);
  CHECK((*parsed)[1].arrivalSeconds == 2.5);
  CHECK((*parsed)[1].promptTokens == 16);
  CHECK((*parsed)[1].outputTokens == 4);
  CHECK((*parsed)[1].sourceLine == 4);
}

TEST_CASE("JSONL trace errors name file:line and the field") {
  const std::string good = "{\"arrival_s\": 0, \"prompt_tokens\": 8, \"output_tokens\": 2}\n";
  CHECK_THAT(jsonlError(good + "{\"arrival_s\": 0.5, \"prompt_tokens\": 8x, \"output_tokens\": 2}"),
             Catch::StartsWith("chat.jsonl:2: prompt_tokens: expected a number, got '8x'"));
  CHECK_THAT(jsonlError(good + good + "{\"arrival_s\": 1, \"prompt_tokens\": 8}"),
             Catch::StartsWith("chat.jsonl:3: missing field 'output_tokens'"));
  CHECK_THAT(jsonlError("{\"arrival_s\": 2, \"prompt_tokens\": 8, \"output_tokens\": 2}\n" + good),
             Catch::StartsWith("chat.jsonl:2: arrival_s: 0 is earlier than 2 on line 1"));
  CHECK_THAT(jsonlError("{\"arrival_s\": -1, \"prompt_tokens\": 8, \"output_tokens\": 2}"),
             Catch::StartsWith("chat.jsonl:1: arrival_s: -1 is negative"));
  CHECK_THAT(jsonlError("{\"arrival_s\": 1, \"prompt_tokens\": -8, \"output_tokens\": 2}"),
             Catch::StartsWith("chat.jsonl:1: prompt_tokens: expected a whole number"));
  CHECK_THAT(jsonlError("{\"arrival_s\": 1, \"prompt_tokens\": 8, \"output_tokens\": 2.5}"),
             Catch::StartsWith("chat.jsonl:1: output_tokens: expected a whole number") &&
                 Catch::Contains("got 2.5"));
  CHECK_THAT(jsonlError("{\"arrival_s\": 1, \"prompt_tokens\": 8, \"output_tokens\": 0}"),
             Catch::StartsWith("chat.jsonl:1: output_tokens:"));
  CHECK_THAT(jsonlError("{\"arrival_s\": \"1\", \"prompt_tokens\": 8, \"output_tokens\": 2}"),
             Catch::StartsWith("chat.jsonl:1: arrival_s: expected a number, got a string"));
  CHECK_THAT(jsonlError("{\"arrival\": 1, \"prompt_tokens\": 8, \"output_tokens\": 2}"),
             Catch::StartsWith("chat.jsonl:1: unknown field 'arrival'"));
  CHECK_THAT(jsonlError("{\"arrival_s\": 1, \"arrival_s\": 2, \"prompt_tokens\": 8}"),
             Catch::StartsWith("chat.jsonl:1: field 'arrival_s' appears twice"));
  CHECK_THAT(jsonlError("{\"arrival_s\": 1, \"prompt_tokens\": 8, \"output_tokens\": 2"),
             Catch::StartsWith("chat.jsonl:1:") && Catch::Contains("expected ',' or '}'"));
  CHECK_THAT(jsonlError("[1, 2, 3]"), Catch::StartsWith("chat.jsonl:1:1: expected '{'"));
  CHECK_THAT(jsonlError("{\"arrival_s\": 1, \"prompt_tokens\": 8, \"output_tokens\": 2} x"),
             Catch::Contains("text after the closing '}'"));
  CHECK_THAT(jsonlError("\n\n"), Catch::Contains("chat.jsonl: the trace holds no requests"));
}

TEST_CASE("CSV trace errors name file:line and the field") {
  const std::string header = "arrival_s,prompt_tokens,output_tokens\n";
  CHECK_THAT(csvError(header + "0,8,2\n0.5,abc,2\n"),
             Catch::StartsWith("chat.csv:3: prompt_tokens: expected a number, got 'abc'"));
  CHECK_THAT(csvError(header + "0,8\n"),
             Catch::StartsWith("chat.csv:2: expected 3 comma-separated values"));
  CHECK_THAT(csvError(header + "1,8,2\n0.5,8,2\n"),
             Catch::StartsWith("chat.csv:3: arrival_s: 0.5 is earlier than 1 on line 2"));
  CHECK_THAT(csvError(header + "0,8,\n"),
             Catch::StartsWith("chat.csv:2: output_tokens: expected a number, got ''"));
  CHECK_THAT(csvError(header + "-0.5,8,2\n"), Catch::StartsWith("chat.csv:2: arrival_s:"));
  CHECK_THAT(csvError("arrival_s,prompt_tokens\n0,8\n"),
             Catch::StartsWith("chat.csv:1: header: missing column 'output_tokens'"));
  CHECK_THAT(csvError("arrival_s,prompt,output_tokens\n"),
             Catch::StartsWith("chat.csv:1: header: unknown column 'prompt'"));
  CHECK_THAT(csvError(""), Catch::Contains("empty CSV trace"));
  CHECK_THAT(csvError(header), Catch::Contains("no requests"));
}

TEST_CASE("traces round-trip exactly through both formats and through a file") {
  SyntheticTrafficConfig traffic;
  traffic.requests = 200;
  traffic.arrivals = {"poisson", {{"rate", 3.0}}};
  traffic.promptTokens = {"lognormal", {{"mean", 700.0}}};
  Result<std::vector<Request>> requests = generateRequests(traffic);
  REQUIRE(requests.ok());
  for (TraceFormat format : {TraceFormat::Jsonl, TraceFormat::Csv}) {
    Result<std::vector<Request>> back =
        parseTrace(renderTrace(*requests, format), "memory", format);
    REQUIRE(back.ok());
    REQUIRE(back->size() == requests->size());
    for (size_t i = 0; i < back->size(); ++i) {
      CHECK((*back)[i].arrivalSeconds == (*requests)[i].arrivalSeconds); // bit-exact
      CHECK((*back)[i].promptTokens == (*requests)[i].promptTokens);
      CHECK((*back)[i].outputTokens == (*requests)[i].outputTokens);
    }
  }

  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / "conveyor-runtime-trace-test";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "traffic.jsonl").string();
  REQUIRE(writeTraceFile(path, *requests).ok());
  CHECK_FALSE(std::filesystem::exists(path + ".partial"));
  Result<std::vector<Request>> read = readTraceFile(path);
  REQUIRE(read.ok());
  CHECK(read->size() == 200);
  CHECK(read->back().arrivalSeconds == requests->back().arrivalSeconds);
  CHECK(read->back().sourceLine == 200);
  std::filesystem::remove_all(dir);

  CHECK_THAT(readTraceFile("/nonexistent/conveyor/trace.csv").error(),
             Catch::Contains("cannot open trace file '/nonexistent/conveyor/trace.csv'"));
  CHECK_THAT(readTraceFile("trace.txt").error(), Catch::Contains("unknown format"));
  CHECK_FALSE(writeTraceFile("/nonexistent/conveyor/trace.csv", *requests).ok());
}
