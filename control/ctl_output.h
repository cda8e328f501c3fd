// SPDX-License-Identifier: Apache-2.0
//
// How dpbridgectl prints replies for people: aligned tables and short
// summaries (docs/cli.md shows each). Scripts use --json, which prints the
// reply's result as is; these formats may change, the JSON does not.
//
// Thread-safety: functions writing to the given stream.
#pragma once

#include <nlohmann/json.hpp>

#include <ostream>
#include <string>
#include <vector>

namespace dpbridge {

// A text table: a header row and rows of cells, columns padded to the
// widest cell.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// Prints the result of `command` (a protocol command name) for people.
void PrintHuman(const std::string& command, const nlohmann::json& result, std::ostream& out);

}  // namespace dpbridge
