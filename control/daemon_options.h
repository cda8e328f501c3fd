// SPDX-License-Identifier: Apache-2.0
//
// DaemonOptions: how the dpbridge daemon is started, from its command line
// and an optional TOML configuration file, and the EAL arguments built from
// them.
//
// Precedence: built-in defaults, then the configuration file (--config),
// then command-line options. Settings changed at run time with dpbridgectl
// (aging time, MAC limits) live in the state file and override the file's
// start-up values. The EAL arguments are built here, in one documented place
// (docs/cli.md), and the raw arguments after `--` come last so they can
// override anything.
//
// Thread-safety: pure functions and value types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "log.h"
#include "status.h"
#include "switch.h"

namespace dpbridge {

struct DaemonOptions {
  std::string config_file;
  std::string state_dir = "/var/lib/dpbridge";
  std::string socket_path = "/run/dpbridge/dpbridge.sock";
  std::string metrics_address = "127.0.0.1:9417";  // "off": no exporter
  std::string lcores = "0,1";                       // first: main lcore; rest: PMDs
  bool no_huge = false;
  uint32_t memory_mb = 512;        // with --no-huge: the EAL's heap (-m)
  std::string hugepage_dir;        // empty: the EAL finds the hugetlbfs mount
  std::string file_prefix = "dpbridge";
  bool allow_pci = false;          // omit --no-pci
  LogLevel log_level = LogLevel::kInfo;
  std::vector<std::string> extra_eal_args;
  SwitchOptions switch_options;
};

// Parses argv (including a --config file). Returns nothing and sets
// *exit_code when the program should exit now (--help: 0, usage error: 2,
// after printing one line).
[[nodiscard]] std::optional<DaemonOptions> ParseDaemonCommandLine(int argc, char** argv,
                                                                  int* exit_code);

// Reads a TOML configuration file into `options`; an unknown key or a value
// of the wrong type is an error naming the file, line and key.
[[nodiscard]] Status LoadConfigFile(const std::string& path, DaemonOptions* options);

// Parses an lcore list such as "0,1" or "0,2-3": at least two distinct lcores.
[[nodiscard]] Result<std::vector<unsigned>> ParseLcoreList(const std::string& text);

// The argv for rte_eal_init (argv[0] included).
[[nodiscard]] std::vector<std::string> BuildEalArgs(const DaemonOptions& options);

// Checks, before the EAL tries, that hugepages are reserved, free and
// mounted (unless --no-huge). The paths are parameters for tests.
[[nodiscard]] Status CheckHugepages(const DaemonOptions& options,
                                    const std::string& meminfo_path = "/proc/meminfo",
                                    const std::string& mounts_path = "/proc/mounts");

// Removes the hugepage files the EAL leaves behind with
// --single-file-segments (named after the file prefix) from every hugetlbfs
// mount. Call after rte_eal_cleanup(). Returns how many were removed.
size_t RemoveHugepageFiles(const DaemonOptions& options,
                           const std::string& mounts_path = "/proc/mounts");

[[nodiscard]] std::optional<LogLevel> ParseLogLevel(std::string_view name);

}  // namespace dpbridge
