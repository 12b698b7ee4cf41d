// Result<T>: a value or one human-readable error message, for code outside MLIR.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace conveyor {

/// An error message meant to be printed as one line: it names the file, field,
/// node or instruction at fault and, where possible, what to do about it.
struct Error {
  std::string message;
};

inline Error makeError(std::string message) { return Error{std::move(message)}; }

/// Either a T or an Error. Check `ok()` (or `operator bool`) before `value()`.
template <typename T> class Result {
public:
  Result(T value) : storage(std::move(value)) {}
  Result(Error error) : storage(std::move(error)) {}

  bool ok() const { return std::holds_alternative<T>(storage); }
  explicit operator bool() const { return ok(); }

  T &value() { return std::get<T>(storage); }
  const T &value() const { return std::get<T>(storage); }
  T &operator*() { return value(); }
  const T &operator*() const { return value(); }
  T *operator->() { return &value(); }
  const T *operator->() const { return &value(); }

  const std::string &error() const { return std::get<Error>(storage).message; }
  Error takeError() { return std::move(std::get<Error>(storage)); }

private:
  std::variant<T, Error> storage;
};

/// Result of an operation with no value.
class Status {
public:
  Status() = default;
  Status(Error error) : message(std::move(error.message)), failed(true) {}
  static Status success() { return Status(); }

  bool ok() const { return !failed; }
  explicit operator bool() const { return ok(); }
  const std::string &error() const { return message; }

private:
  std::string message;
  bool failed = false;
};

} // namespace conveyor
