// greedy-tokens: runs the simulated numerics of a tiny LLM's schedules as a greedy decoder and
// compares the tokens with the PyTorch reference (models/tiny_llm/*/greedy.json).
//
//   greedy-tokens --greedy greedy.json --prefill prefill.sched
//                 [--kv-inputs test_data_set_0 --decode d8.sched d9.sched ...] [--min-agreement F]
//
// Token 0 is the argmax of the prefill logits at the last prompt position. The decode
// schedules (one per cache length, past = 8, 9, ...) start from the fixture's first decode
// step (the prompt's cache and reference token 0) and feed back their own argmax and their
// own present.* caches: every later token comes from simulated numerics only. Prints
// "<n>/<m> tokens agree" and exits 1 when the agreement is below --min-agreement (default 1).
#include "conveyor/Schedule/ScheduleFormat.h"
#include "conveyor/Simulator/Simulator.h"
#include "conveyor/System/SystemConfig.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

using namespace conveyor;

namespace {

int fail(const std::string &message) {
  std::fprintf(stderr, "greedy-tokens: %s\n", message.c_str());
  return 2;
}

std::vector<int> referenceTokens(const std::string &path, std::string &problem) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::smatch match;
  std::string body = text.str();
  if (!in || !std::regex_search(body, match, std::regex("\"greedy_tokens\": *\\[([^\\]]*)\\]"))) {
    problem = path + ": no \"greedy_tokens\" list";
    return {};
  }
  std::vector<int> tokens;
  std::stringstream list(match[1].str());
  for (std::string item; std::getline(list, item, ',');) {
    tokens.push_back(std::stoi(item));
  }
  return tokens;
}

/// Runs one schedule on `inputs`; the outputs, or an error message in `problem`.
std::vector<sim::TensorData> run(const std::string &path, const std::vector<sim::TensorData> &inputs,
                                 std::string &problem) {
  Result<schedule::Schedule> loaded = schedule::readScheduleFile(path);
  if (!loaded) {
    problem = loaded.error();
    return {};
  }
  Result<system::SystemConfig> config =
      system::parseSystemConfig(loaded->system().canonical_text(), path + " (embedded system)");
  if (!config) {
    problem = config.error();
    return {};
  }
  Result<sim::SimulationReport> report = sim::simulate(*loaded, *config, inputs, {});
  if (!report) {
    problem = path + ": " + report.error();
    return {};
  }
  if (!report->functional) {
    problem = path + ": no functional run: " + report->timingOnlyReason;
    return {};
  }
  return report->outputs;
}

/// The output called `name`, or null.
const sim::TensorData *find(const std::vector<sim::TensorData> &tensors, const std::string &name) {
  for (const sim::TensorData &tensor : tensors) {
    if (tensor.name == name) {
      return &tensor;
    }
  }
  return nullptr;
}

/// argmax over the last position's logits [.., seq, vocab].
int lastArgmax(const sim::TensorData &logits) {
  const auto vocab = size_t(logits.shape.back());
  const auto last = logits.values.end() - long(vocab);
  return int(std::max_element(last, logits.values.end()) - last);
}

} // namespace

int main(int argc, char **argv) {
  std::string greedyPath, prefillPath, kvInputs;
  std::vector<std::string> decodePaths;
  double minAgreement = 1.0;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--greedy") {
      greedyPath = next();
    } else if (arg == "--prefill") {
      prefillPath = next();
    } else if (arg == "--kv-inputs") {
      kvInputs = next();
    } else if (arg == "--min-agreement") {
      minAgreement = std::stod(next());
    } else if (arg == "--decode") {
      while (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
        decodePaths.push_back(argv[++i]);
      }
    } else {
      return fail("unknown argument '" + arg + "'");
    }
  }
  if (greedyPath.empty() || prefillPath.empty()) {
    return fail("usage: --greedy greedy.json --prefill p.sched [--kv-inputs dir --decode ...]");
  }
  std::string problem;
  std::vector<int> reference = referenceTokens(greedyPath, problem);
  if (reference.empty()) {
    return fail(problem);
  }
  std::vector<int> produced;

  // Prefill: the prompt (the prefill fixture's input_0.pb is the prompt).
  std::vector<int> prompt;
  {
    std::smatch match;
    std::ifstream in(greedyPath);
    std::stringstream text;
    text << in.rdbuf();
    std::string body = text.str();
    std::regex_search(body, match, std::regex("\"prompt\": *\\[([^\\]]*)\\]"));
    std::stringstream list(match[1].str());
    for (std::string item; std::getline(list, item, ',');) {
      prompt.push_back(std::stoi(item));
    }
  }
  sim::TensorData ids{"input_ids", {1, int64_t(prompt.size())}, {}};
  for (int token : prompt) {
    ids.values.push_back(float(token));
  }
  std::vector<sim::TensorData> outputs = run(prefillPath, {ids}, problem);
  if (!find(outputs, "logits")) {
    return fail(problem.empty() ? prefillPath + ": no 'logits' output" : problem);
  }
  produced.push_back(lastArgmax(*find(outputs, "logits")));

  if (!decodePaths.empty()) {
    Result<std::vector<sim::TensorData>> fixture = sim::loadTensorDir(kvInputs, "input_");
    if (!fixture) {
      return fail(fixture.error());
    }
    std::vector<sim::TensorData> inputs = std::move(*fixture);
    // inputs[0] holds reference token 0 and the prompt's cache: the first decode step.
    for (size_t step = 0; step < decodePaths.size(); ++step) {
      outputs = run(decodePaths[step], inputs, problem);
      if (!find(outputs, "logits")) {
        return fail(problem.empty() ? decodePaths[step] + ": no 'logits' output" : problem);
      }
      produced.push_back(lastArgmax(*find(outputs, "logits")));
      // Feed back the argmax and this step's own present.* as the next past_key_values.*.
      for (sim::TensorData &input : inputs) {
        const std::string prefix = "past_key_values.";
        if (input.name == "input_ids") {
          input.values = {float(produced.back())};
        } else if (input.name.rfind(prefix, 0) == 0) {
          const sim::TensorData *present =
              find(outputs, "present." + input.name.substr(prefix.size()));
          if (!present) {
            return fail(decodePaths[step] + ": no present output for '" + input.name + "'");
          }
          input.shape = present->shape;
          input.values = present->values;
        }
      }
    }
  }

  size_t agree = 0;
  std::string producedText, referenceText;
  for (size_t i = 0; i < produced.size(); ++i) {
    agree += i < reference.size() && produced[i] == reference[i];
    producedText += (i ? " " : "") + std::to_string(produced[i]);
    referenceText += (i ? " " : "") + std::to_string(i < reference.size() ? reference[i] : -1);
  }
  double agreement = double(agree) / double(produced.size());
  std::printf("%zu/%zu tokens agree (%.1f%%): simulated [%s], reference [%s]\n", agree,
              produced.size(), 100 * agreement, producedText.c_str(), referenceText.c_str());
  return agreement + 1e-9 >= minAgreement ? 0 : 1;
}
