// analyzeDecoder: finds the residual stream of a decoder graph and the layers along it.
#include "LayerStructure.h"

#include "conveyor/Dialect/Graph/GraphOps.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"

#include <cctype>

using namespace mlir;
using namespace conveyor::graph;

namespace conveyor::sharding {

namespace {

/// Ops that depend on `value`, transitively.
llvm::DenseSet<Operation *> dependents(Value value) {
  llvm::DenseSet<Operation *> seen;
  SmallVector<Value> work{value};
  while (!work.empty()) {
    Value next = work.pop_back_val();
    for (Operation *user : next.getUsers()) {
      if (seen.insert(user).second) {
        llvm::append_range(work, user->getResults());
      }
    }
  }
  return seen;
}

/// The residual add after `stream`: an add of `stream` and a value computed from it.
Value residualStep(Value stream) {
  llvm::DenseSet<Operation *> downstream = dependents(stream);
  for (Operation *user : stream.getUsers()) {
    auto add = dyn_cast<AddOp>(user);
    if (!add) {
      continue;
    }
    Value other = add.getLhs() == stream ? add.getRhs() : add.getLhs();
    Operation *producer = other.getDefiningOp();
    if (other != stream && producer && downstream.contains(producer)) {
      return add.getResult();
    }
  }
  return {};
}

bool isParameter(Operation *op) { return isa_and_nonnull<WeightOp, ConstantOp>(op); }

/// Compares layer `candidate` with layer 0 op for op. On success adds the per-layer
/// operand pairs to `pairs` and the value correspondence to `toLayer0`.
LogicalResult matchLayer(ArrayRef<Operation *> layer0, Value input0,
                         ArrayRef<Operation *> candidate, Value inputI,
                         SmallVector<std::pair<Value, Value>> &pairs,
                         llvm::DenseMap<Value, Value> &toLayer0, std::string &why) {
  if (layer0.size() != candidate.size()) {
    why = "it has " + std::to_string(candidate.size()) + " ops and layer 0 has " +
          std::to_string(layer0.size());
    return failure();
  }
  llvm::DenseMap<Value, Value> local;
  for (auto [a, b] : llvm::zip(layer0, candidate)) {
    auto differ = [&](const std::string &what) {
      why = "its '" + b->getName().getStringRef().str() + "' differs from layer 0's in " + what;
      return failure();
    };
    if (a->getName() != b->getName() || a->getNumOperands() != b->getNumOperands() ||
        a->getNumRegions() != 0 || b->getNumRegions() != 0) {
      return differ("kind or operand count");
    }
    if (a->getAttrDictionary() != b->getAttrDictionary()) {
      return differ("attributes");
    }
    if (a->getResultTypes() != b->getResultTypes()) {
      return differ("result types");
    }
    for (auto [index, operands] : llvm::enumerate(llvm::zip(a->getOperands(), b->getOperands()))) {
      auto [va, vb] = operands;
      if (auto it = local.find(vb); it != local.end()) {
        if (it->second != va) {
          return differ("operand #" + std::to_string(index));
        }
        continue;
      }
      if (vb == inputI) {
        if (va != input0) {
          return differ("operand #" + std::to_string(index) + " (the residual input)");
        }
        continue;
      }
      if (va == vb) {
        continue; // shared
      }
      Operation *pa = va.getDefiningOp(), *pb = vb.getDefiningOp();
      bool bothArgs = isa<BlockArgument>(va) && isa<BlockArgument>(vb);
      bool bothParams = isParameter(pa) && isParameter(pb);
      if (va.getType() != vb.getType() || !(bothArgs || bothParams)) {
        return differ("operand #" + std::to_string(index));
      }
      auto ca = dyn_cast_or_null<ConstantOp>(pa), cb = dyn_cast_or_null<ConstantOp>(pb);
      if (ca && cb && ca.getValue() == cb.getValue()) {
        continue; // equal data (a scale the exporter wrote once per layer): shared
      }
      pairs.push_back({va, vb});
    }
    for (auto [ra, rb] : llvm::zip(a->getResults(), b->getResults())) {
      local[rb] = ra;
    }
  }
  for (auto [valueI, value0] : local) {
    toLayer0[valueI] = value0;
  }
  return success();
}

} // namespace

std::string layerNameTemplate(ArrayRef<std::string> names) {
  if (names.empty()) {
    return "";
  }
  const std::string &first = names.front();
  for (size_t start = 0; start < first.size();) {
    if (!std::isdigit(static_cast<unsigned char>(first[start]))) {
      ++start;
      continue;
    }
    size_t end = start;
    while (end < first.size() && std::isdigit(static_cast<unsigned char>(first[end]))) {
      ++end;
    }
    if (first.substr(start, end - start) == "0") {
      std::string pattern = first.substr(0, start) + "{layer}" + first.substr(end);
      bool fits = true;
      for (size_t i = 0; i < names.size() && fits; ++i) {
        fits = names[i] == first.substr(0, start) + std::to_string(i) + first.substr(end);
      }
      if (fits) {
        return pattern;
      }
    }
    start = end;
  }
  return "";
}

FailureOr<DecoderStructure> analyzeDecoder(func::FuncOp func) {
  DecoderStructure result;
  result.func = func;
  if (func.isExternal() || !func.getBody().hasOneBlock()) {
    return func.emitOpError("must have a body of one block to be partitioned");
  }
  Block &body = func.getBody().front();
  EmbeddingOp embedding;
  for (Operation &op : body) {
    if ((embedding = dyn_cast<EmbeddingOp>(op))) {
      break;
    }
  }
  if (!embedding) {
    return func.emitOpError("has no cv.graph.embedding to start the residual stream from; run "
                            "conveyor-graph-fuse-transformer before conveyor-partition");
  }

  // The residual stream: after the embedding (and single-use ops such as GPT-2's position
  // embedding add), a chain of adds of the stream and a block computed from it.
  Value stream = embedding.getResult();
  while (!residualStep(stream) && stream.hasOneUse()) {
    Operation *user = *stream.getUsers().begin();
    if (user->getNumResults() != 1 || isa<func::ReturnOp>(user)) {
      break;
    }
    stream = user->getResult(0);
  }
  SmallVector<Value> chain{stream};
  while (Value next = residualStep(chain.back())) {
    chain.push_back(next);
  }
  unsigned blocks = chain.size() - 1;
  if (blocks == 0) {
    return embedding.emitOpError("starts no residual stream (no add of the stream and a block "
                                 "computed from it): not a decoder conveyor-partition can split");
  }

  // Which residual block each op computes: the largest stream position among its operands.
  llvm::DenseMap<Value, int> position;
  for (auto [index, value] : llvm::enumerate(chain)) {
    position[value] = static_cast<int>(index);
  }
  llvm::DenseSet<Operation *> pre;
  {
    SmallVector<Value> work{chain.front()};
    while (!work.empty()) {
      Operation *producer = work.pop_back_val().getDefiningOp();
      if (producer && pre.insert(producer).second) {
        llvm::append_range(work, producer->getOperands());
      }
    }
  }
  SmallVector<SmallVector<Operation *>> segments(blocks + 2); // [0] pre, [1..blocks], post
  for (Operation &op : body) {
    if (isa<func::ReturnOp>(op) || isParameter(&op)) {
      continue;
    }
    int own = -1;
    for (Value value : op.getResults()) {
      if (auto it = position.find(value); it != position.end()) {
        own = it->second;
      }
    }
    int highest = -1, lowest = INT32_MAX;
    for (Value operand : op.getOperands()) {
      if (auto it = position.find(operand); it != position.end()) {
        highest = std::max(highest, it->second);
        lowest = std::min(lowest, it->second);
      }
    }
    if (highest >= 0 && lowest != highest && own < 0) {
      return op.emitOpError() << "reads values of residual blocks " << lowest << " and " << highest
                              << "; conveyor-partition needs each layer to read only "
                                 "the residual stream entering it";
    }
    if (own >= 0) {
      segments[own == 0 ? 0 : own].push_back(&op);
      continue;
    }
    if (highest < 0) {
      if (pre.contains(&op)) {
        segments[0].push_back(&op);
      }
      continue; // shared: cloned where used
    }
    for (Value value : op.getResults()) {
      position[value] = highest;
    }
    segments[highest == static_cast<int>(blocks) ? blocks + 1 : highest + 1].push_back(&op);
  }
  // A pre-layer value other than the stream must not reach into the layers.
  for (Operation *op : segments[0]) {
    for (Value value : op->getResults()) {
      if (value == chain.front()) {
        continue;
      }
      for (Operation *user : value.getUsers()) {
        if (!pre.contains(user) && !isa<func::ReturnOp>(user)) {
          return user->emitOpError() << "reads a value computed before the first layer other "
                                        "than the residual stream; conveyor-partition cannot "
                                        "place it on later pipeline stages";
        }
      }
    }
  }

  // The layer period: the fewest residual blocks per layer for which all layers match.
  std::string why;
  for (unsigned period = 1; period <= blocks; ++period) {
    if (blocks % period != 0) {
      continue;
    }
    unsigned count = blocks / period;
    SmallVector<SmallVector<Operation *>> layers(count);
    for (unsigned i = 0; i < count; ++i) {
      for (unsigned s = 0; s < period; ++s) {
        llvm::append_range(layers[i], segments[1 + i * period + s]);
      }
    }
    SmallVector<SmallVector<std::pair<Value, Value>>> pairs(count);
    llvm::DenseMap<Value, Value> toLayer0;
    llvm::DenseMap<Value, unsigned> layerOf;
    bool matched = true;
    for (unsigned i = 1; i < count && matched; ++i) {
      std::string reason;
      if (failed(matchLayer(layers[0], chain[0], layers[i], chain[i * period], pairs[i], toLayer0,
                            reason))) {
        matched = false;
        if (why.empty()) {
          why = "layer " + std::to_string(i) + " (with " + std::to_string(period) +
                " residual blocks per layer): " + reason;
        }
      }
      for (Operation *op : layers[i]) {
        for (Value value : op->getResults()) {
          layerOf[value] = i;
        }
      }
    }
    if (!matched) {
      continue;
    }
    for (Operation *op : layers[0]) {
      for (Value value : op->getResults()) {
        toLayer0[value] = value;
        layerOf[value] = 0;
      }
    }
    // Per-layer operands: every layer must supply one for each of layer 0's.
    llvm::SetVector<Value> keys;
    for (unsigned i = 1; i < count; ++i) {
      for (auto [value0, valueI] : pairs[i]) {
        keys.insert(value0);
      }
    }
    for (Value key : keys) {
      SmallVector<Value> values(count);
      values[0] = key;
      for (unsigned i = 1; i < count; ++i) {
        for (auto [value0, valueI] : pairs[i]) {
          if (value0 == key) {
            values[i] = valueI;
          }
        }
      }
      result.perLayer[key] = values;
    }
    // Returned values: the tail's, or one layer's outputs.
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    llvm::SetVector<Value> outputs;
    SmallVector<unsigned> perLayerCount(count, 0);
    for (Value value : ret.getOperands()) {
      auto it = toLayer0.find(value);
      if (it == toLayer0.end()) {
        result.returnOutput.push_back(-1);
        result.returnLayer.push_back(-1);
        continue;
      }
      outputs.insert(it->second);
      ArrayRef<Value> listed = outputs.getArrayRef();
      result.returnOutput.push_back(
          static_cast<int>(llvm::find(listed, it->second) - listed.begin()));
      result.returnLayer.push_back(static_cast<int>(layerOf[value]));
      ++perLayerCount[layerOf[value]];
    }
    for (unsigned i = 0; i < count; ++i) {
      if (perLayerCount[i] != outputs.size()) {
        return ret.emitOpError() << "returns " << perLayerCount[i] << " values of layer " << i
                                 << " but " << outputs.size()
                                 << " of another; every layer must return the same outputs";
      }
    }
    result.layerOutputs.assign(outputs.begin(), outputs.end());
    result.preOps = std::move(segments[0]);
    result.postOps = std::move(segments[blocks + 1]);
    result.layers = std::move(layers);
    for (unsigned i = 0; i <= count; ++i) {
      result.residual.push_back(chain[i * period]); // residual[i] enters layer i
    }
    result.blocksPerLayer = period;
    result.mismatch = why;
    return result;
  }
  return func.emitOpError() << "residual blocks do not repeat as layers: " << why;
}

} // namespace conveyor::sharding
