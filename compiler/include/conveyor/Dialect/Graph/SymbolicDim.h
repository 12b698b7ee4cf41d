// Symbolic tensor dimensions: polynomials over named sizes ("batch", "seq", "past").
//
// ONNX exports name their free dimensions (dim_param). cv.graph keeps such dimensions
// dynamic (`?`) in tensor types, and where an op's result shape cannot be re-derived
// from its operands (reshape, expand) it names each dynamic dimension with the
// discardable attribute `cv.dims`: one string per result dimension, "" for a static
// one, else a DimExpr in the text form below. Function arguments carry `cv.dim_names`
// in the same way. Specialising to a bucket substitutes sizes for the names.
#pragma once

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace conveyor::graph {

/// The attribute naming the dynamic dimensions of an op's result ("" for static ones).
inline constexpr llvm::StringLiteral kDimsAttrName = "cv.dims";
/// The function argument attribute naming each argument's symbolic dimensions.
inline constexpr llvm::StringLiteral kDimNamesAttrName = "cv.dim_names";

/// An integer polynomial over named, positive sizes, kept in a canonical form so that
/// equal expressions compare equal: `2*batch*seq + past + 1`. Text form: terms joined
/// by " + " or " - ", each an optional integer coefficient and names joined by "*".
class DimExpr {
public:
  DimExpr() = default;
  /// A constant.
  DimExpr(int64_t value);
  static DimExpr symbol(llvm::StringRef name);

  /// Parses the text form; std::nullopt (with `error` set) when malformed.
  static std::optional<DimExpr> parse(llvm::StringRef text, std::string *error = nullptr);

  bool isConstant() const;
  /// The value when constant.
  std::optional<int64_t> getConstant() const;
  /// The names the expression uses, sorted, without repetition.
  std::vector<std::string> getSymbols() const;

  DimExpr operator+(const DimExpr &other) const;
  DimExpr operator-(const DimExpr &other) const;
  DimExpr operator*(const DimExpr &other) const;
  DimExpr operator-() const;
  bool operator==(const DimExpr &other) const { return terms == other.terms; }
  bool operator!=(const DimExpr &other) const { return terms != other.terms; }

  /// The exact quotient when `divisor` divides this polynomial term by term (a
  /// constant, one monomial, or a polynomial this is an integer multiple of).
  std::optional<DimExpr> divideExact(const DimExpr &divisor) const;

  /// -1, 0 or 1 when the sign of (this - other) is the same for every assignment of
  /// sizes >= 1 to the names; std::nullopt when it depends on them.
  std::optional<int> compare(const DimExpr &other) const;

  /// Substitutes `values` for names; std::nullopt if a name has no value.
  std::optional<int64_t> evaluate(const llvm::StringMap<int64_t> &values) const;

  /// The text form ("0" for zero).
  std::string str() const;

private:
  /// Monomial (sorted names, repeated for powers) -> non-zero coefficient; the empty
  /// monomial is the constant term.
  using Monomial = std::vector<std::string>;
  std::map<Monomial, int64_t> terms;

  void addTerm(const Monomial &monomial, int64_t coefficient);
};

} // namespace conveyor::graph
