// SPDX-License-Identifier: Apache-2.0
// The daemon's options: command line, TOML file, EAL arguments, hugepages.
#include "daemon_options.h"

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "validation.h"

namespace dpbridge {

namespace {

constexpr const char* kUsageHint = "; see `dpbridge --help`";

bool HasArg(const std::vector<std::string>& args, std::string_view flag) {
  return std::any_of(args.begin(), args.end(), [&](const std::string& arg) {
    return arg == flag || arg.rfind(std::string(flag) + "=", 0) == 0;
  });
}

// Reads one TOML value of type T into `out`, or fails naming the key.
template <typename T, typename Out>
Status ReadValue(const toml::node& node, const std::string& key, const std::string& where,
                 Out* out) {
  const std::optional<T> value = node.value_exact<T>();
  if (!value) {
    return Status::Error(where + ": '" + key + "' has the wrong type; see docs/cli.md");
  }
  if constexpr (std::is_same_v<T, int64_t>) {
    if (*value < 0 || static_cast<uint64_t>(*value) > std::numeric_limits<Out>::max()) {
      return Status::Error(where + ": '" + key + "' is out of range");
    }
    *out = static_cast<Out>(*value);
  } else {
    *out = *value;
  }
  return Status();
}

}  // namespace

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  if (name == "error") return LogLevel::kError;
  if (name == "warning" || name == "warn") return LogLevel::kWarning;
  if (name == "info") return LogLevel::kInfo;
  if (name == "debug") return LogLevel::kDebug;
  return std::nullopt;
}

Result<std::vector<unsigned>> ParseLcoreList(const std::string& text) {
  const auto bad = [&](const std::string& why) {
    return Status::Error("bad --lcores '" + text + "': " + why +
                         "; use a list such as 0,1 (first: main lcore, others: PMD threads)");
  };
  std::vector<unsigned> lcores;
  std::set<unsigned> seen;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    const size_t dash = item.find('-');
    Result<uint64_t> first = ParseBoundedUint(item.substr(0, dash), 0, 1023, "lcore");
    Result<uint64_t> last = dash == std::string::npos
                                ? first
                                : ParseBoundedUint(item.substr(dash + 1), 0, 1023, "lcore");
    if (!first.ok() || !last.ok()) return bad("'" + item + "' is not an lcore or a range");
    if (last.value() < first.value()) return bad("range '" + item + "' runs backwards");
    for (uint64_t lcore = first.value(); lcore <= last.value(); ++lcore) {
      if (!seen.insert(static_cast<unsigned>(lcore)).second) {
        return bad("lcore " + std::to_string(lcore) + " is listed twice");
      }
      lcores.push_back(static_cast<unsigned>(lcore));
    }
  }
  if (lcores.size() < 2) {
    return bad("dpbridge needs at least two lcores, a main (control) lcore and a PMD lcore");
  }
  return lcores;
}

Status LoadConfigFile(const std::string& path, DaemonOptions* options) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    if (e.source().begin.line == 0) {
      return Status::Error("config file " + path + ": cannot read it (" +
                           std::string(e.description()) + ")");
    }
    return Status::Error("config file " + path + ":" + std::to_string(e.source().begin.line) +
                         ":" + std::to_string(e.source().begin.column) + ": " +
                         std::string(e.description()) + "; fix the TOML syntax");
  }

  for (const auto& [key_view, node] : table) {
    const std::string key(key_view.str());
    const std::string where = "config file " + path + ":" +
                              std::to_string(key_view.source().begin.line);
    Status status;
    if (key == "state_dir") {
      status = ReadValue<std::string>(node, key, where, &options->state_dir);
    } else if (key == "socket") {
      status = ReadValue<std::string>(node, key, where, &options->socket_path);
    } else if (key == "metrics") {
      status = ReadValue<std::string>(node, key, where, &options->metrics_address);
    } else if (key == "lcores") {
      status = ReadValue<std::string>(node, key, where, &options->lcores);
    } else if (key == "no_huge") {
      status = ReadValue<bool>(node, key, where, &options->no_huge);
    } else if (key == "memory_mb") {
      status = ReadValue<int64_t>(node, key, where, &options->memory_mb);
    } else if (key == "hugepage_dir") {
      status = ReadValue<std::string>(node, key, where, &options->hugepage_dir);
    } else if (key == "file_prefix") {
      status = ReadValue<std::string>(node, key, where, &options->file_prefix);
    } else if (key == "pci") {
      status = ReadValue<bool>(node, key, where, &options->allow_pci);
    } else if (key == "log_level") {
      std::string level;
      status = ReadValue<std::string>(node, key, where, &level);
      if (status.ok()) {
        const std::optional<LogLevel> parsed = ParseLogLevel(level);
        if (!parsed) {
          status = Status::Error(where + ": log_level must be error, warning, info or debug");
        }
        if (parsed) options->log_level = *parsed;
      }
    } else if (key == "eal_args") {
      const toml::array* array = node.as_array();
      if (array == nullptr) {
        status = Status::Error(where + ": 'eal_args' must be a list of strings");
      }
      for (size_t i = 0; array != nullptr && i < array->size() && status.ok(); ++i) {
        std::string arg;
        status = ReadValue<std::string>((*array)[i], key, where, &arg);
        options->extra_eal_args.push_back(arg);
      }
    } else if (key == "fdb" && node.is_table()) {
      for (const auto& [sub_view, sub] : *node.as_table()) {
        const std::string sub_key(sub_view.str());
        MacTableConfig& fdb = options->switch_options.fdb;
        if (sub_key == "max_entries") {
          status = ReadValue<int64_t>(sub, "fdb." + sub_key, where, &fdb.max_entries);
        } else if (sub_key == "aging_time_s") {
          status = ReadValue<int64_t>(sub, "fdb." + sub_key, where, &fdb.aging_time_s);
        } else if (sub_key == "mac_limit") {
          status = ReadValue<int64_t>(sub, "fdb." + sub_key, where, &fdb.default_port_limit);
        } else {
          status = Status::Error(where + ": unknown key 'fdb." + sub_key +
                                 "' (known: max_entries, aging_time_s, mac_limit)");
        }
        if (!status.ok()) break;
      }
    } else if (key == "pmd" && node.is_table()) {
      for (const auto& [sub_view, sub] : *node.as_table()) {
        const std::string sub_key(sub_view.str());
        if (sub_key == "max_sleep_us") {
          status = ReadValue<int64_t>(sub, "pmd." + sub_key, where,
                                      &options->switch_options.pmd.max_sleep_us);
        } else {
          status = Status::Error(where + ": unknown key 'pmd." + sub_key +
                                 "' (known: max_sleep_us)");
        }
        if (!status.ok()) break;
      }
    } else {
      status = Status::Error(where + ": unknown key '" + key + "'; see docs/cli.md for the keys");
    }
    if (!status.ok()) return status;
  }
  return Status();
}

std::optional<DaemonOptions> ParseDaemonCommandLine(int argc, char** argv, int* exit_code) {
  DaemonOptions options;
  CLI::App app("dpbridge: userspace poll-mode virtual switch (DPDK). Runs in the foreground; "
               "control it with dpbridgectl.", "dpbridge");
  std::string config_file;
  std::string state_dir;
  std::string socket_path;
  std::string metrics;
  std::string lcores;
  std::string log_level;
  bool no_huge = false;
  std::vector<std::string> eal_args;
  app.add_option("--config", config_file, "TOML configuration file (see docs/cli.md)");
  app.add_option("--state-dir", state_dir, "where state.json lives [/var/lib/dpbridge]");
  app.add_option("--socket", socket_path, "control socket [/run/dpbridge/dpbridge.sock]");
  app.add_option("--metrics", metrics, "Prometheus exporter ADDR:PORT, or 'off' [127.0.0.1:9417]");
  app.add_option("--lcores", lcores, "lcore list: main lcore, then PMD lcores [0,1]");
  app.add_flag("--no-huge", no_huge, "run without hugepages (TAP and ring ports only)");
  app.add_option("--log-level", log_level, "error, warning, info or debug [info]");
  app.add_option("eal_args", eal_args, "raw EAL arguments, after --");
  app.positionals_at_end(true);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    *exit_code = 0;
    return std::nullopt;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "dpbridge: %s%s\n", e.what(), kUsageHint);
    *exit_code = 2;
    return std::nullopt;
  }

  const auto fail = [&](const std::string& message) {
    std::fprintf(stderr, "dpbridge: %s\n", message.c_str());
    *exit_code = 2;
    return std::nullopt;
  };
  if (!config_file.empty()) {
    options.config_file = config_file;
    if (Status loaded = LoadConfigFile(config_file, &options); !loaded.ok()) {
      return fail(loaded.message());
    }
  }
  if (!state_dir.empty()) options.state_dir = state_dir;
  if (!socket_path.empty()) options.socket_path = socket_path;
  if (!metrics.empty()) options.metrics_address = metrics;
  if (!lcores.empty()) options.lcores = lcores;
  if (no_huge) options.no_huge = true;
  if (!log_level.empty()) {
    const std::optional<LogLevel> parsed = ParseLogLevel(log_level);
    if (!parsed) {
      return fail("bad --log-level '" + log_level + "': use error, warning, info or debug");
    }
    options.log_level = *parsed;
  }
  options.extra_eal_args.insert(options.extra_eal_args.end(), eal_args.begin(), eal_args.end());
  if (HasArg(options.extra_eal_args, "--no-huge")) options.no_huge = true;

  Result<std::vector<unsigned>> parsed_lcores = ParseLcoreList(options.lcores);
  if (!parsed_lcores.ok()) return fail(parsed_lcores.message());
  options.switch_options.pmd_lcores.assign(parsed_lcores.value().begin() + 1,
                                           parsed_lcores.value().end());
  if (options.state_dir.empty() || options.state_dir[0] != '/') {
    return fail("--state-dir must be an absolute path");
  }
  if (options.socket_path.empty() || options.socket_path[0] != '/') {
    return fail("--socket must be an absolute path");
  }
  return options;
}

std::vector<std::string> BuildEalArgs(const DaemonOptions& options) {
  std::vector<std::string> args = {"dpbridge"};
  const std::string main_lcore = options.lcores.substr(0, options.lcores.find_first_of(",-"));
  args.insert(args.end(), {"-l", options.lcores, "--main-lcore", main_lcore});
  args.insert(args.end(), {"--file-prefix", options.file_prefix});
  if (options.no_huge) {
    // No hugepage files and no shared config: nothing left behind by a crash.
    args.insert(args.end(), {"--no-huge", "-m", std::to_string(options.memory_mb), "--no-shconf"});
  } else {
    // vhost-user peers map our memory: one file per segment list keeps that cheap.
    args.push_back("--single-file-segments");
    if (!options.hugepage_dir.empty()) {
      args.insert(args.end(), {"--huge-dir", options.hugepage_dir});
    }
  }
  if (!options.allow_pci) args.push_back("--no-pci");
  // Raw arguments last: the EAL lets a later option override an earlier one.
  for (const std::string& arg : options.extra_eal_args) {
    if (arg != "--no-huge" || !options.no_huge) args.push_back(arg);
  }
  return args;
}

namespace {

// Mount points of type hugetlbfs listed in `mounts_path`.
std::vector<std::string> HugetlbfsMounts(const std::string& mounts_path) {
  std::vector<std::string> found;
  std::ifstream mounts(mounts_path);
  for (std::string line; std::getline(mounts, line);) {
    std::istringstream fields(line);
    std::string device, mount_point, type;
    fields >> device >> mount_point >> type;
    if (type == "hugetlbfs") found.push_back(mount_point);
  }
  return found;
}

}  // namespace

size_t RemoveHugepageFiles(const DaemonOptions& options, const std::string& mounts_path) {
  if (options.no_huge) return 0;
  namespace fs = std::filesystem;
  const std::string prefix = options.file_prefix + "map_";
  size_t removed = 0;
  for (const std::string& mount : HugetlbfsMounts(mounts_path)) {
    std::error_code error;
    for (const fs::directory_entry& entry : fs::directory_iterator(mount, error)) {
      if (entry.path().filename().string().rfind(prefix, 0) == 0 && fs::remove(entry, error)) {
        ++removed;
      }
    }
  }
  return removed;
}

Status CheckHugepages(const DaemonOptions& options, const std::string& meminfo_path,
                      const std::string& mounts_path) {
  if (options.no_huge) return Status();
  constexpr const char* kFix =
      "; run scripts/setup.sh as root to reserve and mount them, or start dpbridge with "
      "--no-huge (TAP and ring ports only)";

  std::ifstream meminfo(meminfo_path);
  long total = -1;
  long free = -1;
  for (std::string line; std::getline(meminfo, line);) {
    std::sscanf(line.c_str(), "HugePages_Total: %ld", &total);
    std::sscanf(line.c_str(), "HugePages_Free: %ld", &free);
  }
  if (total <= 0) return Status::Error(std::string("no hugepages reserved") + kFix);
  if (free == 0) {
    return Status::Error("all " + std::to_string(total) + " hugepages are in use (another DPDK " +
                         "process?)" + kFix);
  }

  bool mounted = false;
  for (const std::string& mount_point : HugetlbfsMounts(mounts_path)) {
    mounted = mounted || options.hugepage_dir.empty() || mount_point == options.hugepage_dir;
  }
  if (!mounted) {
    if (!options.hugepage_dir.empty()) {
      return Status::Error("hugepage_dir " + options.hugepage_dir + " is not a hugetlbfs mount" +
                           kFix);
    }
    return Status::Error(std::string("no hugetlbfs mount found") + kFix);
  }
  return Status();
}

}  // namespace dpbridge
