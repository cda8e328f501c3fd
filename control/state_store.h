// SPDX-License-Identifier: Apache-2.0
//
// StateStore: the state file, STATE_DIR/state.json.
//
// Save() writes the whole state to a temporary file in the same directory,
// fsyncs it, renames it over state.json and fsyncs the directory, so that a
// crash or `kill -9` at any moment leaves either the old or the new file,
// never a torn one. Load() refuses a file it cannot parse and says which file
// and where; the daemon then stops rather than overwrite what a person may
// want to repair.
//
// Thread-safety: one thread (the control thread).
#pragma once

#include <string>

#include "saved_state.h"
#include "status.h"

namespace dpbridge {

class StateStore {
 public:
  explicit StateStore(std::string state_dir);

  // Creates the state directory (mode 0700) if it does not exist.
  [[nodiscard]] Status Prepare() const;
  // A missing file is an empty state; an unreadable or corrupt one an error.
  [[nodiscard]] Result<SavedState> Load() const;
  [[nodiscard]] Status Save(const SavedState& state) const;

  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

}  // namespace dpbridge
