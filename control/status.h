// SPDX-License-Identifier: Apache-2.0
//
// Status and Result<T>: how control-plane calls report failure.
//
// A failed call carries one line a person can act on: what went wrong and,
// where we know it, what to do about it ("port tap9: no such port; see
// `dpbridgectl port list`"). The dataplane never uses these; it counts.
//
// Thread-safety: value types.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace dpbridge {

class [[nodiscard]] Status {
 public:
  Status() = default;
  [[nodiscard]] static Status Error(std::string message) {
    Status s;
    s.message_ = std::move(message);
    s.ok_ = false;
    return s;
  }
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] const std::string& message() const { return message_; }

 private:
  bool ok_ = true;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT
  [[nodiscard]] bool ok() const { return value_.has_value(); }
  [[nodiscard]] const Status& status() const { return status_; }
  [[nodiscard]] const std::string& message() const { return status_.message(); }
  [[nodiscard]] T& value() { return *value_; }
  [[nodiscard]] const T& value() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace dpbridge
