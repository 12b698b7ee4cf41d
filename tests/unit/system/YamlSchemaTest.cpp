// The typed YAML schema reader on its own: nodes and lines, required/optional keys, ranges in
// both reading styles, unknown and repeated keys, keyed maps, canonical text and file reading.
//
// The config here is a made-up pump, so these tests pin the component's behaviour rather than
// that of systems/*.yaml; expected lines are found by searching the text, not through yaml-cpp.
#include "SystemTestSupport.h"

#include "conveyor/Support/YamlSchema.h"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <string>

using namespace conveyor;
using namespace conveyor::yaml;
using Catch::Matchers::Contains;
using conveyor::system::test::lineOf;

namespace {

enum class Colour { Red, Green, Blue };

const char *colourName(Colour colour) {
  switch (colour) {
  case Colour::Red:
    return "red";
  case Colour::Green:
    return "green";
  case Colour::Blue:
    return "blue";
  }
  return "unknown";
}

Result<Colour> parseColour(const std::string &text) {
  for (Colour colour : {Colour::Red, Colour::Green, Colour::Blue}) {
    if (text == colourName(colour)) {
      return colour;
    }
  }
  if (text == "rouge") { // a second spelling, to exercise repeated keys
    return Colour::Red;
  }
  return makeError("unknown colour '" + text + "' (known: red, green, blue)");
}

struct Pump {
  std::string name;
  std::string note = "none";
  uint32_t stages = 0;
  uint64_t bytes = 0;
  double rate = 0;
  double share = 0;
  Colour colour = Colour::Green;
  std::map<Colour, double> weights;
  std::map<Colour, uint64_t> counts;
  uint32_t tankDepth = 7;
  double tankLitres = 0;
};

std::string sameColour(const std::string &key, const std::string &first) {
  return "'" + key + "' names the same colour as '" + first + "'";
}

Section pumpSchema(Pump &p) {
  using C = Constraint;
  const Names<Colour> colours{parseColour, colourName, "a colour (red, green, blue)"};
  Section root;
  root.field("name", p.name, C::NonEmpty)
      .field("note", p.note, C::Any, Presence::Optional)
      .field("stages", p.stages, C::Positive)
      .field("bytes", p.bytes, C::NonNegative)
      .field("rate", p.rate, C::Positive)
      .field("share", p.share, C::Fraction, Presence::Optional)
      .choice("colour", p.colour, colours, Presence::Optional)
      .keyedMap("weights", p.weights, colours, C::Positive,
                {"a mapping from colour to weight", " of kg", sameColour}, Presence::Optional)
      .keyedMap("counts", p.counts, colours, C::NonNegative,
                {"a mapping from colour to count", "", sameColour}, Presence::Optional);
  root.section("tank", Presence::Optional)
      .field("depth", p.tankDepth, C::Positive)
      .field("litres", p.tankLitres, C::NonNegative, Presence::Optional);
  return root;
}

const char *kSource = "pumps/p.yaml";
const char *kPump = "name: p1\n"
                    "stages: 3\n"
                    "bytes: 64e3\n"
                    "rate: 2.5\n"
                    "share: 0.25\n"
                    "colour: blue\n"
                    "weights:\n"
                    "  red: 1.5\n"
                    "  blue: 2\n"
                    "tank:\n"
                    "  depth: 12\n";

DocumentRules rules(ReadingStyle style) {
  return DocumentRules{"pump description", "; binary?", "; one pump per file", true, style};
}

/// Reads `text` into a fresh Pump; `consistency` may add a cross-field check.
Result<Pump> readPump(const std::string &text, ReadingStyle style = ReadingStyle::CheckWhileReading,
                      const std::function<void(const Pump &, const Locator &)> &consistency = {}) {
  Pump pump;
  Status status =
      readDocument(text, kSource, rules(style), pumpSchema(pump), [&](const Locator &locate) {
        if (consistency) {
          consistency(pump, locate);
        }
      });
  if (!status) {
    return makeError(status.error());
  }
  return pump;
}

std::string errorOf(const std::string &text, ReadingStyle style = ReadingStyle::CheckWhileReading) {
  Result<Pump> pump = readPump(text, style);
  REQUIRE_FALSE(pump.ok());
  return pump.error();
}

std::string at(const std::string &text, const std::string &needle) {
  return std::string(kSource) + ":" + std::to_string(lineOf(text, needle)) + ": ";
}

std::string replaced(std::string text, const std::string &from, const std::string &to) {
  return conveyor::system::test::replaceOnce(std::move(text), from, to);
}

} // namespace

TEST_CASE("parseDocument gives nodes with kinds, text and lines", "[yaml][node]") {
  std::string text = "# comment\nname: p1\nlist: [1, 2]\nmap:\n  inner: 'quoted text'\nempty:\n";
  Result<Node> root = parseDocument(text, kSource, rules(ReadingStyle::CheckWhileReading));
  REQUIRE(root.ok());
  CHECK(root->isMap());
  CHECK(root->line() == 2);
  std::vector<MapEntry> entries = root->entries();
  REQUIRE(entries.size() == 4);
  CHECK(entries[0].key.scalar() == "name");
  CHECK(entries[0].key.line() == 2);
  CHECK(entries[0].value.describe() == "'p1'");
  CHECK(entries[1].key.scalar() == "list");
  CHECK(entries[1].value.kind() == Node::Kind::Sequence);
  CHECK(entries[1].value.describe() == "a sequence");
  CHECK(entries[1].value.scalar().empty());
  CHECK(entries[2].value.describe() == "a mapping");
  std::vector<MapEntry> inner = entries[2].value.entries();
  REQUIRE(inner.size() == 1);
  CHECK(inner[0].value.scalar() == "quoted text");
  CHECK(inner[0].value.line() == lineOf(text, "inner:"));
  CHECK(entries[3].value.isNull());
  CHECK(entries[3].value.describe() == "nothing");
  CHECK(entries[3].value.entries().empty());

  Result<Node> empty = parseDocument("# nothing here\n", kSource, rules({}));
  REQUIRE(empty.ok());
  CHECK(empty->isNull());
  CHECK(empty->line() == 0);
  CHECK(empty->lineOr(5) == 5);
}

TEST_CASE("parseDocument refuses binary text, bad syntax and extra documents", "[yaml][node]") {
  DocumentRules withHints = rules(ReadingStyle::CheckWhileReading);
  Result<Node> binary = parseDocument(std::string("a: 1\0", 5), kSource, withHints);
  REQUIRE_FALSE(binary.ok());
  CHECK(binary.error() == "pumps/p.yaml: not a YAML pump description (it contains NUL bytes; "
                          "binary?)");

  std::string tabbed = "name: p1\ntank:\n\tdepth: 3\n";
  Result<Node> syntax = parseDocument(tabbed, kSource, withHints);
  REQUIRE_FALSE(syntax.ok());
  CHECK_THAT(syntax.error(), Contains(at(tabbed, "\tdepth") + "YAML syntax error at column "));
  CHECK_THAT(syntax.error(), Contains("indented with a tab"));
  DocumentRules plain = withHints;
  plain.explainTabs = false;
  Result<Node> unexplained = parseDocument(tabbed, kSource, plain);
  REQUIRE_FALSE(unexplained.ok());
  CHECK_THAT(unexplained.error(), !Contains("indented with a tab"));

  std::string two = "name: p1\n---\nname: p2\n";
  Result<Node> documents = parseDocument(two, kSource, withHints);
  REQUIRE_FALSE(documents.ok());
  CHECK(documents.error() ==
        at(two, "name: p2") + "expected one YAML document, found 2; one pump per file");
}

TEST_CASE("a document is read into the bound fields; optional keys keep defaults",
          "[yaml][schema]") {
  Result<Pump> pump = readPump(kPump);
  INFO(conveyor::system::test::errorText(pump));
  REQUIRE(pump.ok());
  CHECK(pump->name == "p1");
  CHECK(pump->note == "none"); // optional, absent
  CHECK(pump->stages == 3);
  CHECK(pump->bytes == 64000); // an exact integer in scientific form
  CHECK(pump->rate == 2.5);
  CHECK(pump->share == 0.25);
  CHECK(pump->colour == Colour::Blue);
  CHECK(pump->weights == std::map<Colour, double>{{Colour::Red, 1.5}, {Colour::Blue, 2}});
  CHECK(pump->counts.empty());
  CHECK(pump->tankDepth == 12);
  CHECK(pump->tankLitres == 0);

  // An optional section may go; a required key inside one that is present may not.
  std::string text = replaced(kPump, "tank:\n  depth: 12\n", "");
  Result<Pump> noTank = readPump(text);
  REQUIRE(noTank.ok());
  CHECK(noTank->tankDepth == 7);
  text = replaced(kPump, "  depth: 12\n", "  litres: 4\n");
  CHECK(errorOf(text) == at(text, "tank:") + "tank: missing required key 'depth'");
}

TEST_CASE("missing, unknown, repeated and non-plain keys", "[yaml][schema]") {
  std::string text = replaced(kPump, "stages: 3\n", "");
  CHECK(errorOf(text) ==
        std::string(kSource) + ":1: missing required key 'stages' at the top level");

  text = replaced(kPump, "stages: 3", "stagse: 3");
  CHECK(errorOf(text) == at(text, "stagse") +
                             "unknown key 'stagse' in the top level (known: name, note, stages, "
                             "bytes, rate, share, colour, weights, counts, tank); did you mean "
                             "'stages'?");
  // Unknown keys are reported before missing ones, and far-off keys get no suggestion.
  text = replaced(kPump, "  depth: 12", "  volume: 12");
  CHECK(errorOf(text) ==
        at(text, "volume") + "unknown key 'volume' in tank (known: depth, litres)");

  text = replaced(kPump, "rate: 2.5\n", "rate: 2.5\nrate: 3\n");
  CHECK(errorOf(text) == at(text, "rate: 3") + "duplicate key 'rate' (first on line " +
                             std::to_string(lineOf(text, "rate: 2.5")) + ")");

  text = replaced(kPump, "  depth: 12", "  [depth]: 12");
  CHECK(errorOf(text) == at(text, "[depth]") + "tank: expected plain key names, got a sequence");

  CHECK(errorOf("") == std::string(kSource) +
                           ": empty pump description: expected a mapping with keys name, note, "
                           "stages, bytes, rate, share, colour, weights, counts, tank");
  CHECK(errorOf("\n- a\n") ==
        std::string(kSource) + ":2: expected a mapping at the top level, got a sequence");
  text = replaced(kPump, "tank:\n  depth: 12\n", "tank: 12\n");
  CHECK(errorOf(text) == at(text, "tank: 12") + "tank: expected a mapping, got '12'");
}

TEST_CASE("wrong types name the key, the expectation and what was found", "[yaml][schema]") {
  std::string text = replaced(kPump, "stages: 3", "stages: {a: 1}");
  CHECK(errorOf(text) ==
        at(text, "stages:") + "stages: expected a positive integer, got a mapping");
  text = replaced(kPump, "stages: 3", "stages:");
  CHECK(errorOf(text) == at(text, "stages:") + "stages: expected a positive integer, got nothing");
  text = replaced(kPump, "stages: 3", "stages: 2.5");
  CHECK(errorOf(text) == at(text, "stages:") + "stages: expected a positive integer, got '2.5'");
  text = replaced(kPump, "rate: 2.5", "rate: fast");
  CHECK(errorOf(text) == at(text, "rate:") + "rate: expected a positive number, got 'fast'");
  text = replaced(kPump, "colour: blue", "colour: mauve");
  CHECK(errorOf(text) ==
        at(text, "colour:") + "colour: unknown colour 'mauve' (known: red, green, blue)");
  text = replaced(kPump, "colour: blue", "colour: [blue]");
  CHECK(errorOf(text) ==
        at(text, "colour:") + "colour: expected a colour (red, green, blue), got a sequence");
  text = replaced(kPump, "name: p1", "name: [p1]");
  CHECK(errorOf(text) == at(text, "name:") + "name: expected a non-empty string, got a sequence");
  text = replaced(kPump, "weights:\n  red: 1.5\n  blue: 2\n", "weights: 3\n");
  CHECK(errorOf(text) ==
        at(text, "weights:") + "weights: expected a mapping from colour to weight, got '3'");
}

TEST_CASE("range messages in the two reading styles", "[yaml][ranges]") {
  // While reading, the text is quoted as written and integer limits are named; after reading,
  // the stored value is printed by the same check that configs built in code get.
  struct Row {
    const char *from, *to, *lineOf, *whileReading, *afterReading;
  };
  const Row rows[] = {
      {"stages: 3", "stages: 0", "stages:", "stages: expected a positive integer, got '0'",
       "stages: expected a positive integer, got 0"},
      {"stages: 3", "stages: 4294967296",
       "stages:", "stages: expected a positive integer (at most 4294967295), got '4294967296'",
       "stages: expected a positive integer, got '4294967296'"},
      {"share: 0.25", "share: 1.5", "share:", "share: expected a fraction in (0, 1], got '1.5'",
       "share: expected a fraction in (0, 1], got 1.5"},
      {"  blue: 2", "  blue: -2", "blue: -2",
       "weights.blue: expected a positive number of kg, got '-2'",
       "weights.blue: expected a positive number of kg, got -2"},
      // Strings are checked after reading in both styles.
      {"name: p1", "name: ''", "name:", "name: expected a non-empty string, got ''",
       "name: expected a non-empty string, got ''"},
  };
  for (const Row &row : rows) {
    std::string text = replaced(kPump, row.from, row.to);
    INFO(row.to);
    CHECK(errorOf(text, ReadingStyle::CheckWhileReading) ==
          at(text, row.lineOf) + row.whileReading);
    CHECK(errorOf(text, ReadingStyle::CheckAfterReading) ==
          at(text, row.lineOf) + row.afterReading);
  }

  // Which error wins: while reading, the first bad key in reading order; after reading, a
  // later type error comes before an earlier range error.
  std::string text = replaced(replaced(kPump, "stages: 3", "stages: 0"), "rate: 2.5", "rate: fast");
  CHECK(errorOf(text, ReadingStyle::CheckWhileReading) ==
        at(text, "stages:") + "stages: expected a positive integer, got '0'");
  CHECK(errorOf(text, ReadingStyle::CheckAfterReading) ==
        at(text, "rate:") + "rate: expected a positive number, got 'fast'");
}

TEST_CASE("the styles cite different lines for values written under their key", "[yaml][ranges]") {
  std::string text = replaced(kPump, "rate: 2.5", "rate:\n  -2.5");
  // While reading, a bad value is reported where it is written.
  CHECK(errorOf(text, ReadingStyle::CheckWhileReading) ==
        at(text, "  -2.5") + "rate: expected a positive number, got '-2.5'");
  // After reading, the range message cites the line recorded for the value.
  CHECK(errorOf(text, ReadingStyle::CheckAfterReading) ==
        at(text, "  -2.5") + "rate: expected a positive number, got -2.5");
  // A consistency message cites the key's line while reading, the value's line after.
  auto rateCheck = [](const Pump &, const Locator &locate) { failAt(locate, "rate", "too fast"); };
  std::string good = replaced(kPump, "rate: 2.5", "rate:\n  2.5");
  Result<Pump> whileReading = readPump(good, ReadingStyle::CheckWhileReading, rateCheck);
  REQUIRE_FALSE(whileReading.ok());
  CHECK(whileReading.error() == at(good, "rate:") + "rate: too fast");
  Result<Pump> afterReading = readPump(good, ReadingStyle::CheckAfterReading, rateCheck);
  REQUIRE_FALSE(afterReading.ok());
  CHECK(afterReading.error() == at(good, "  2.5") + "rate: too fast");
}

TEST_CASE("keyed maps take canonical names and refuse a second spelling", "[yaml][map]") {
  std::string text = replaced(kPump, "  red: 1.5", "  rouge: 1.5");
  Result<Pump> pump = readPump(text);
  REQUIRE(pump.ok());
  CHECK(pump->weights.at(Colour::Red) == 1.5);

  text = replaced(kPump, "  blue: 2", "  blue: 2\n  rouge: 3");
  CHECK(errorOf(text, ReadingStyle::CheckWhileReading) ==
        at(text, "rouge") + "weights: 'rouge' names the same colour as 'red'");
  CHECK(errorOf(text, ReadingStyle::CheckAfterReading) ==
        at(text, "rouge") + "weights: 'rouge' names the same colour as 'red'");
  // With a bad value as well: while reading, the repeat is refused first; after reading,
  // the value is read first and reported under the key as written.
  text = replaced(kPump, "  blue: 2", "  blue: 2\n  rouge: heavy");
  CHECK(errorOf(text, ReadingStyle::CheckWhileReading) ==
        at(text, "rouge") + "weights: 'rouge' names the same colour as 'red'");
  CHECK(errorOf(text, ReadingStyle::CheckAfterReading) ==
        at(text, "rouge") + "weights.rouge: expected a positive number of kg, got 'heavy'");

  text = replaced(kPump, "  blue: 2", "  purple: 2");
  CHECK(errorOf(text) ==
        at(text, "purple") + "weights: unknown colour 'purple' (known: red, green, blue)");
  text = replaced(kPump, "share: 0.25", "share: 0.25\ncounts: {green: 5, red: 1e17}");
  CHECK(errorOf(text) ==
        at(text, "counts:") + "counts.red: expected a non-negative integer, got '1e17'");
}

TEST_CASE("checkConfig checks configs built in code with a prefix", "[yaml][ranges]") {
  Result<Pump> read = readPump(kPump);
  REQUIRE(read.ok());
  Pump pump = *read;
  auto check = [&](Pump &candidate) {
    return checkConfig(pumpSchema(candidate), "pump 'p1': ", [&](const Locator &locate) {
      if (candidate.tankLitres > candidate.tankDepth) {
        failAt(locate, "tank.litres", "more litres than depth");
      }
    });
  };
  CHECK(check(pump).ok());
  pump.rate = std::numeric_limits<double>::quiet_NaN();
  Status status = check(pump);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error() == "pump 'p1': rate: expected a positive number, got nan");
  pump = *read;
  pump.weights[Colour::Green] = 0;
  CHECK(check(pump).error() == "pump 'p1': weights.green: expected a positive number of kg, got 0");
  pump = *read;
  pump.name.clear();
  CHECK(check(pump).error() == "pump 'p1': name: expected a non-empty string, got ''");
  pump = *read;
  pump.tankLitres = 100;
  CHECK(check(pump).error() == "pump 'p1': tank.litres: more litres than depth");
}

TEST_CASE("canonical text is fixed-order YAML that reads back the same", "[yaml][canonical]") {
  Pump pump;
  pump.name = "p \"1\"\\\n\t\x01";
  pump.stages = 3;
  pump.bytes = 18446744073709551615ull;
  pump.rate = 0.1 + 0.2;
  pump.colour = Colour::Red;
  pump.weights = {{Colour::Blue, 2}, {Colour::Red, 1e-9}};
  std::string text = renderCanonical(pumpSchema(pump));
  CHECK(text == "name: \"p \\\"1\\\"\\\\\\n\\t\\x01\"\n"
                "note: \"none\"\n"
                "stages: 3\n"
                "bytes: 18446744073709551615\n"
                "rate: 0.30000000000000004\n"
                "share: 0\n"
                "colour: red\n"
                "weights:\n"
                "  red: 1e-09\n"
                "  blue: 2\n"
                "counts: {}\n"
                "tank:\n"
                "  depth: 7\n"
                "  litres: 0\n");
  // share 0 is out of range, so read the text back after fixing only that.
  pump.share = 1;
  text = renderCanonical(pumpSchema(pump));
  Result<Pump> again = readPump(text);
  INFO(conveyor::system::test::errorText(again));
  REQUIRE(again.ok());
  CHECK(renderCanonical(pumpSchema(*again)) == text);
  CHECK(again->name == pump.name);
  CHECK(again->rate == pump.rate);
  CHECK(again->bytes == pump.bytes);
}

TEST_CASE("value helpers", "[yaml][values]") {
  CHECK(fnv1a64("") == 0xcbf29ce484222325ull);
  CHECK(fnv1a64("a") == 0xaf63dc4c8601ec8cull);
  CHECK(fnv1a64("foobar") == 0x85944171f73967e8ull);

  CHECK(parseUnsigned("12", 100) == 12u);
  CHECK(parseUnsigned("64e3", 100000) == 64000u);
  CHECK_FALSE(parseUnsigned("101", 100));
  CHECK_FALSE(parseUnsigned("1.5", 100));
  CHECK_FALSE(parseUnsigned("-1", 100));
  CHECK_FALSE(parseUnsigned("1e17", std::numeric_limits<uint64_t>::max())); // beyond 2^53
  CHECK(parseUnsigned("18446744073709551615", std::numeric_limits<uint64_t>::max()) ==
        std::numeric_limits<uint64_t>::max());
  CHECK(parseReal("+2.5e3") == 2500.0);
  CHECK_FALSE(parseReal("1e999"));
  CHECK_FALSE(parseReal("nan"));
  CHECK_FALSE(parseReal(""));
  CHECK_FALSE(parseReal("0x10"));

  CHECK(satisfies(1, Constraint::Fraction));
  CHECK_FALSE(satisfies(0, Constraint::Fraction));
  CHECK(satisfies(0, Constraint::NonNegative));
  CHECK_FALSE(satisfies(0, Constraint::Positive));
  CHECK_FALSE(satisfies(std::numeric_limits<double>::infinity(), Constraint::Any));
  CHECK(numberExpectation(true, Constraint::NonNegative) == "a non-negative integer");
  CHECK(numberExpectation(false, Constraint::Fraction) == "a fraction in (0, 1]");
  CHECK(numberExpectation(false, Constraint::Any) == "a number");

  CHECK(closestKey("ratr", {"rate", "rates"}) == "rate");
  CHECK(closestKey("zzzz", {"rate"}).empty());
  CHECK(joinPath("", "a") == "a");
  CHECK(joinPath("a.b", "c") == "a.b.c");
}

TEST_CASE("readWholeFile says why a file cannot be read", "[yaml][file]") {
  CHECK(readWholeFile("/nonexistent/conveyor/p.yaml", true).problem == FileProblem::Missing);
  std::string directory = std::string(CONVEYOR_SOURCE_DIR) + "/systems";
  CHECK(readWholeFile(directory, false).problem == FileProblem::Directory);
  CHECK(readWholeFile("/dev/null", true).problem == FileProblem::NotRegularFile);
  FileContents devNull = readWholeFile("/dev/null", false);
  CHECK(devNull.problem == FileProblem::None);
  CHECK(devNull.text.empty());

  std::filesystem::path path = std::filesystem::path(CONVEYOR_BINARY_DIR) / "yaml-schema-test.yaml";
  {
    std::ofstream out(path, std::ios::binary);
    out << kPump;
  }
  FileContents file = readWholeFile(path.string(), true);
  CHECK(file.problem == FileProblem::None);
  CHECK(file.text == kPump);
}

TEST_CASE("aliases are not expanded beyond what the schema reads", "[yaml][node]") {
  // Ten levels of ten-fold aliases inside one value: expanded, it would hold 10^10 entries.
  std::string bomb = "[&a0 [x, x, x, x, x, x, x, x, x, x]";
  for (int level = 1; level < 10; ++level) {
    bomb += ", &a" + std::to_string(level) + " [";
    for (int i = 0; i < 10; ++i) {
      bomb += (i ? ", *a" : "*a") + std::to_string(level - 1);
    }
    bomb += "]";
  }
  bomb += "]";
  auto start = std::chrono::steady_clock::now();
  std::string text = replaced(kPump, "name: p1", "name: " + bomb);
  CHECK(errorOf(text) == at(text, "name:") + "name: expected a non-empty string, got a sequence");
  text = replaced(kPump, "name: p1\n", "name: p1\nballast: " + bomb + "\n");
  CHECK_THAT(errorOf(text), Contains(at(text, "ballast:") + "unknown key 'ballast'"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}
