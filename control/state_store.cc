// SPDX-License-Identifier: Apache-2.0
// The state file: atomic save, strict load.
#include "state_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace dpbridge {

namespace {

std::string Errno() { return std::strerror(errno); }

// Writes all of `data` or fails.
bool WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

StateStore::StateStore(std::string state_dir)
    : dir_(std::move(state_dir)), path_(dir_ + "/state.json") {}

Status StateStore::Prepare() const {
  // Create the parents too (e.g. /var/lib on a minimal system).
  for (size_t slash = dir_.find('/', 1); ; slash = dir_.find('/', slash + 1)) {
    const std::string part = dir_.substr(0, slash);
    if (mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
      return Status::Error("state directory " + part + ": cannot create it: " + Errno() +
                           "; choose another with --state-dir");
    }
    if (slash == std::string::npos) break;
  }
  if (access(dir_.c_str(), W_OK) != 0) {
    return Status::Error("state directory " + dir_ + ": not writable: " + Errno() +
                         "; run as root or choose another with --state-dir");
  }
  return Status();
}

Result<SavedState> StateStore::Load() const {
  if (access(path_.c_str(), F_OK) != 0 && errno == ENOENT) return SavedState();
  std::ifstream in(path_);
  if (!in) {
    return Status::Error("state file " + path_ + ": cannot read it: " + Errno());
  }
  std::stringstream text;
  text << in.rdbuf();

  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    return Status::Error("state file " + path_ + " is corrupt (" + e.what() +
                         "); repair it or move it away, dpbridge will not overwrite it");
  }
  Result<SavedState> state = StateFromJson(parsed);
  if (!state.ok()) {
    return Status::Error("state file " + path_ + " is invalid at " + state.message() +
                         "; repair it or move it away, dpbridge will not overwrite it");
  }
  return state;
}

Status StateStore::Save(const SavedState& state) const {
  const std::string temp = path_ + ".tmp";
  const std::string text = StateToJson(state).dump(2) + "\n";
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Error("state file " + temp + ": cannot create it: " + Errno());
  const bool written = WriteAll(fd, text) && fsync(fd) == 0;
  const std::string write_error = Errno();
  close(fd);
  if (!written) {
    unlink(temp.c_str());
    return Status::Error("state file " + temp + ": cannot write it: " + write_error);
  }
  if (rename(temp.c_str(), path_.c_str()) != 0) {
    const std::string error = Errno();
    unlink(temp.c_str());
    return Status::Error("state file " + path_ + ": cannot replace it: " + error);
  }
  // Make the rename itself durable.
  const int dir_fd = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    fsync(dir_fd);
    close(dir_fd);
  }
  return Status();
}

}  // namespace dpbridge
