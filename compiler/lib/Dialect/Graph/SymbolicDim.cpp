// DimExpr: canonical integer polynomials over named dimension sizes.
#include "conveyor/Dialect/Graph/SymbolicDim.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <cctype>
#include <limits>

namespace conveyor::graph {

// Coefficients saturate at +-INT64_MAX instead of overflowing: only absurd sizes from a
// damaged model get there (the importer fuzzer found a Reshape that did), and a saturated
// size then fails the importer's shape and element-count checks with an error rather than
// wrapping into a plausible size or being undefined behaviour. INT64_MIN is never stored,
// so negating, taking magnitudes and dividing coefficients cannot overflow either.
static int64_t clampCoefficient(int64_t value) {
  return std::max(value, -std::numeric_limits<int64_t>::max());
}

static int64_t saturatingAdd(int64_t lhs, int64_t rhs) {
  int64_t sum = 0;
  if (llvm::AddOverflow(lhs, rhs, sum)) {
    return rhs > 0 ? std::numeric_limits<int64_t>::max() : -std::numeric_limits<int64_t>::max();
  }
  return clampCoefficient(sum);
}

static int64_t saturatingMultiply(int64_t lhs, int64_t rhs) {
  int64_t product = 0;
  if (llvm::MulOverflow(lhs, rhs, product)) {
    return (lhs < 0) != (rhs < 0) ? -std::numeric_limits<int64_t>::max()
                                  : std::numeric_limits<int64_t>::max();
  }
  return clampCoefficient(product);
}

DimExpr::DimExpr(int64_t value) {
  if (value != 0) {
    terms[{}] = clampCoefficient(value);
  }
}

DimExpr DimExpr::symbol(llvm::StringRef name) {
  DimExpr expr;
  expr.terms[{name.str()}] = 1;
  return expr;
}

void DimExpr::addTerm(const Monomial &monomial, int64_t coefficient) {
  int64_t &slot = terms[monomial];
  slot = saturatingAdd(slot, coefficient);
  if (slot == 0) {
    terms.erase(monomial);
  }
}

bool DimExpr::isConstant() const {
  return terms.empty() || (terms.size() == 1 && terms.begin()->first.empty());
}

std::optional<int64_t> DimExpr::getConstant() const {
  if (terms.empty()) {
    return 0;
  }
  if (isConstant()) {
    return terms.begin()->second;
  }
  return std::nullopt;
}

std::vector<std::string> DimExpr::getSymbols() const {
  std::vector<std::string> names;
  for (const auto &[monomial, coefficient] : terms) {
    llvm::append_range(names, monomial);
  }
  llvm::sort(names);
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

DimExpr DimExpr::operator+(const DimExpr &other) const {
  DimExpr sum = *this;
  for (const auto &[monomial, coefficient] : other.terms) {
    sum.addTerm(monomial, coefficient);
  }
  return sum;
}

DimExpr DimExpr::operator-() const {
  DimExpr negated;
  for (const auto &[monomial, coefficient] : terms) {
    negated.terms[monomial] = -coefficient;
  }
  return negated;
}

DimExpr DimExpr::operator-(const DimExpr &other) const { return *this + (-other); }

DimExpr DimExpr::operator*(const DimExpr &other) const {
  DimExpr product;
  for (const auto &[lhsMonomial, lhsCoefficient] : terms) {
    for (const auto &[rhsMonomial, rhsCoefficient] : other.terms) {
      Monomial monomial = lhsMonomial;
      llvm::append_range(monomial, rhsMonomial);
      llvm::sort(monomial);
      product.addTerm(monomial, saturatingMultiply(lhsCoefficient, rhsCoefficient));
    }
  }
  return product;
}

/// True when `divisor`'s names (with multiplicity) all occur in `monomial`; the rest is
/// written to `quotient`.
static bool divideMonomial(const std::vector<std::string> &monomial,
                           const std::vector<std::string> &divisor,
                           std::vector<std::string> &quotient) {
  quotient.clear();
  size_t j = 0;
  for (const std::string &name : monomial) {
    if (j < divisor.size() && divisor[j] == name) {
      ++j;
    } else {
      quotient.push_back(name);
    }
  }
  return j == divisor.size();
}

std::optional<DimExpr> DimExpr::divideExact(const DimExpr &divisor) const {
  if (divisor.terms.empty()) {
    return std::nullopt; // division by zero
  }
  if (terms.empty()) {
    return DimExpr();
  }
  if (divisor.terms.size() == 1) {
    // A single term: divide every term by it.
    const auto &[divisorMonomial, divisorCoefficient] = *divisor.terms.begin();
    DimExpr quotient;
    Monomial rest;
    for (const auto &[monomial, coefficient] : terms) {
      if (coefficient % divisorCoefficient != 0 ||
          !divideMonomial(monomial, divisorMonomial, rest)) {
        return std::nullopt;
      }
      quotient.addTerm(rest, coefficient / divisorCoefficient);
    }
    return quotient;
  }
  // A polynomial: accept an exact quotient that is itself a single term (such as
  // (past + seq) * 64 / (past + seq)), found from the leading terms and checked.
  const auto &[leadMonomial, leadCoefficient] = *terms.rbegin();
  const auto &[divisorLeadMonomial, divisorLeadCoefficient] = *divisor.terms.rbegin();
  Monomial rest;
  if (leadCoefficient % divisorLeadCoefficient != 0 ||
      !divideMonomial(leadMonomial, divisorLeadMonomial, rest)) {
    return std::nullopt;
  }
  DimExpr candidate;
  candidate.addTerm(rest, leadCoefficient / divisorLeadCoefficient);
  if (candidate * divisor != *this) {
    return std::nullopt;
  }
  return candidate;
}

std::optional<int> DimExpr::compare(const DimExpr &other) const {
  DimExpr difference = *this - other;
  if (std::optional<int64_t> value = difference.getConstant()) {
    return *value > 0 ? 1 : (*value < 0 ? -1 : 0);
  }
  // With every name >= 1, a polynomial whose non-constant coefficients are all
  // positive is at least the sum of its coefficients (and symmetrically).
  bool allPositive = true, allNegative = true;
  int64_t constant = 0, bound = 0;
  for (const auto &[monomial, coefficient] : difference.terms) {
    if (monomial.empty()) {
      constant = coefficient;
      continue;
    }
    allPositive &= coefficient > 0;
    allNegative &= coefficient < 0;
    bound = saturatingAdd(bound, coefficient);
  }
  if (allPositive && saturatingAdd(constant, bound) > 0) {
    return 1;
  }
  if (allNegative && saturatingAdd(constant, bound) < 0) {
    return -1;
  }
  return std::nullopt;
}

std::optional<int64_t> DimExpr::evaluate(const llvm::StringMap<int64_t> &values) const {
  int64_t total = 0;
  for (const auto &[monomial, coefficient] : terms) {
    int64_t term = coefficient;
    for (const std::string &name : monomial) {
      auto it = values.find(name);
      if (it == values.end()) {
        return std::nullopt;
      }
      term = saturatingMultiply(term, it->second);
    }
    total = saturatingAdd(total, term);
  }
  return total;
}

std::string DimExpr::str() const {
  if (terms.empty()) {
    return "0";
  }
  std::string text;
  auto appendTerm = [&](const Monomial &monomial, int64_t coefficient) {
    int64_t magnitude = coefficient < 0 ? -coefficient : coefficient;
    if (text.empty()) {
      text = coefficient < 0 ? "-" : "";
    } else {
      text += coefficient < 0 ? " - " : " + ";
    }
    std::string names = llvm::join(monomial, "*");
    if (names.empty()) {
      text += std::to_string(magnitude);
    } else if (magnitude == 1) {
      text += names;
    } else {
      text += std::to_string(magnitude) + "*" + names;
    }
  };
  // Named terms first (highest degree first), the constant last: "past + seq + 1".
  std::vector<std::pair<Monomial, int64_t>> ordered(terms.begin(), terms.end());
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto &a, const auto &b) { return a.first.size() > b.first.size(); });
  for (const auto &[monomial, coefficient] : ordered) {
    appendTerm(monomial, coefficient);
  }
  return text;
}

std::optional<DimExpr> DimExpr::parse(llvm::StringRef text, std::string *error) {
  auto fail = [&](const std::string &message) -> std::optional<DimExpr> {
    if (error) {
      *error = message;
    }
    return std::nullopt;
  };
  DimExpr result;
  size_t pos = 0;
  auto skipSpaces = [&] {
    while (pos < text.size() && text[pos] == ' ') {
      ++pos;
    }
  };
  skipSpaces();
  if (pos == text.size()) {
    return fail("empty dimension expression");
  }
  int64_t sign = 1;
  if (text[pos] == '-') {
    sign = -1;
    ++pos;
  }
  while (true) {
    // One term: factors joined by '*'.
    DimExpr term(sign);
    while (true) {
      skipSpaces();
      size_t start = pos;
      if (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
        while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
          ++pos;
        }
        int64_t value = 0;
        if (text.slice(start, pos).getAsInteger(10, value)) {
          return fail("number out of range in '" + text.str() + "'");
        }
        term = term * DimExpr(value);
      } else {
        while (pos < text.size() && (std::isalnum(static_cast<unsigned char>(text[pos])) ||
                                     text[pos] == '_' || text[pos] == '.' || text[pos] == ':')) {
          ++pos;
        }
        if (pos == start) {
          return fail("expected a number or a name at column " + std::to_string(pos + 1) + " of '" +
                      text.str() + "'");
        }
        term = term * DimExpr::symbol(text.slice(start, pos));
      }
      skipSpaces();
      if (pos < text.size() && text[pos] == '*') {
        ++pos;
        continue;
      }
      break;
    }
    result = result + term;
    if (pos == text.size()) {
      return result;
    }
    if (text[pos] == '+' || text[pos] == '-') {
      sign = text[pos] == '+' ? 1 : -1;
      ++pos;
      continue;
    }
    return fail("unexpected '" + std::string(1, text[pos]) + "' at column " +
                std::to_string(pos + 1) + " of '" + text.str() + "'");
  }
}

} // namespace conveyor::graph
