// SPDX-License-Identifier: Apache-2.0
//
// CommandHandler: what each control request does (docs/control-protocol.md).
//
// It validates a request's arguments, applies it to the Switch and the
// network namespaces, and, when the configuration changed, saves the whole
// SavedState before answering, so that an answered change survives a crash.
// The same code restores the saved state at start-up: an attachment is
// re-created exactly as `attach` creates it (TAP port, move into the
// namespace, MAC/MTU/address, link probe).
//
// An attachment is a TAP port named after its interface, moved into a
// namespace. `attach` creates the namespace when it is missing; `detach`
// removes the port and keeps the namespace (other interfaces or processes
// may live there); `netns del` removes it.
//
// Thread-safety: the control thread only, like the Switch.
//
// Limitations: a change that fails half-way is undone as far as it can be
// (e.g. a port whose move into a namespace failed is removed again), but a
// namespace `attach` created is kept if the port then fails.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "control_server.h"
#include "netns_manager.h"
#include "protocol.h"
#include "saved_state.h"
#include "state_store.h"
#include "status.h"
#include "switch.h"

namespace dpbridge {

class CommandHandler {
 public:
  CommandHandler(Switch& bridge, const StateStore& store, const NetnsManager& netns,
                 SavedState state);

  // Re-creates the saved configuration. Items that fail stay in the state
  // (nothing configured is forgotten) and are returned, one line each.
  [[nodiscard]] std::vector<std::string> Restore();

  // Answers one request.
  [[nodiscard]] Result<nlohmann::json> Handle(const Request& request);

  // Shown by `show` (may be null).
  void SetServerStats(const ControlServerStats* stats) { server_stats_ = stats; }

  [[nodiscard]] const SavedState& state() const { return state_; }

 private:
  using Method = Result<nlohmann::json> (CommandHandler::*)(const Request&);

  Result<nlohmann::json> Show(const Request& request);
  Result<nlohmann::json> PortAdd(const Request& request);
  Result<nlohmann::json> PortDel(const Request& request);
  Result<nlohmann::json> PortList(const Request& request);
  Result<nlohmann::json> Attach(const Request& request);
  Result<nlohmann::json> Detach(const Request& request);
  Result<nlohmann::json> NetnsList(const Request& request);
  Result<nlohmann::json> NetnsAdd(const Request& request);
  Result<nlohmann::json> NetnsDel(const Request& request);
  Result<nlohmann::json> FdbShow(const Request& request);
  Result<nlohmann::json> FdbAdd(const Request& request);
  Result<nlohmann::json> FdbDel(const Request& request);
  Result<nlohmann::json> FdbFlush(const Request& request);
  Result<nlohmann::json> SetAgingTime(const Request& request);
  Result<nlohmann::json> SetMacLimit(const Request& request);
  Result<nlohmann::json> PmdStats(const Request& request);

  // Creates the TAP port of `attachment` and sets it up in its namespace.
  // Links the attachment's namespace to the switch; `restoring`: at start-up, when a veth
  // pair left by an earlier run may still be there (it is replaced).
  [[nodiscard]] Result<PortInfo> Connect(const Attachment& attachment, bool restoring = false);
  [[nodiscard]] Result<PortInfo> ConnectVeth(const Attachment& attachment, bool restoring);
  [[nodiscard]] Status Save();
  [[nodiscard]] Result<uint16_t> VlanArg(const Request& request);
  [[nodiscard]] nlohmann::json PortJson(const PortInfo& info) const;

  Switch& bridge_;
  const StateStore& store_;
  const NetnsManager& netns_;
  SavedState state_;
  const ControlServerStats* server_stats_ = nullptr;
  std::map<std::string, Method, std::less<>> methods_;
};

}  // namespace dpbridge
