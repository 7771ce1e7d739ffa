#pragma once

// Errors as values at module edges (DESIGN §8). A Status is either OK or a code with
// a message meant for logs and operators. Messages must never contain personal data
// (names, numbers, codes, addresses, dates of birth): callers describe *what* failed,
// not the value that failed.

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace kakunin {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kPermissionDenied,
  kUnauthenticated,
  kFailedPrecondition,
  kResourceExhausted,
  kUnavailable,
  kInternal,
  kDataLoss,
  kIoError,
};

// Stable lower-case name of a code ("invalid_argument"), for logs and tests.
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  // OK. Cheap: no allocation.
  Status() = default;

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return Status(StatusCode::kInvalidArgument, std::move(msg));
  }
  static Status NotFound(std::string msg) { return Status(StatusCode::kNotFound, std::move(msg)); }
  static Status AlreadyExists(std::string msg) {
    return Status(StatusCode::kAlreadyExists, std::move(msg));
  }
  static Status PermissionDenied(std::string msg) {
    return Status(StatusCode::kPermissionDenied, std::move(msg));
  }
  static Status FailedPrecondition(std::string msg) {
    return Status(StatusCode::kFailedPrecondition, std::move(msg));
  }
  static Status ResourceExhausted(std::string msg) {
    return Status(StatusCode::kResourceExhausted, std::move(msg));
  }
  static Status Unavailable(std::string msg) {
    return Status(StatusCode::kUnavailable, std::move(msg));
  }
  static Status Internal(std::string msg) { return Status(StatusCode::kInternal, std::move(msg)); }
  static Status DataLoss(std::string msg) { return Status(StatusCode::kDataLoss, std::move(msg)); }
  static Status IoError(std::string msg) { return Status(StatusCode::kIoError, std::move(msg)); }

  Status(StatusCode code, std::string msg) : code_(code), message_(std::move(msg)) {}

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // A stable, machine-readable reason finer than the code (e.g. "sender_mismatch"), for an API
  // to map to its error table. `reason` must be a string literal (it is not copied).
  Status WithReason(const char* reason) && {
    reason_ = reason;
    return std::move(*this);
  }
  // "" if none was given.
  std::string_view reason() const { return reason_ == nullptr ? "" : reason_; }

  // "invalid_argument: message", or "ok".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  const char* reason_ = nullptr;
};

// A value or an error. REQUIRES: a Result is never built from an OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : data_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(data_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(data_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(data_);
  }

  // REQUIRES: ok().
  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace kakunin

// Returns early from the enclosing function when `expr` (a Status) is not OK.
#define KAKUNIN_RETURN_IF_ERROR(expr)      \
  do {                                     \
    ::kakunin::Status _st = (expr);        \
    if (!_st.ok()) return _st;             \
  } while (0)

// Declares `var` from `expr` (a Result<T>), or returns its error from the enclosing function.
// The one assign-or-return of the code base: `KAKUNIN_ASSIGN_OR_RETURN(row, reader.Find(id));`
#define KAKUNIN_ASSIGN_OR_RETURN(var, expr)                   \
  auto var##_result = (expr);                                 \
  if (!var##_result.ok()) return var##_result.status();       \
  auto var = std::move(*var##_result)
