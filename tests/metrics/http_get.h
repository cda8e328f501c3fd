// SPDX-License-Identifier: Apache-2.0
//
// HttpGet: a minimal HTTP/1.0 GET over loopback, for the exporter tests.
//
// It sends one request, reads until the server closes the connection (HTTP/1.0
// has no keep-alive by default) and splits status, headers and body. Every
// socket call is bounded by a timeout so that a hung server fails the test
// instead of stalling it.
//
// Thread-safety: no shared state.
#pragma once

#include <cstdint>
#include <string>

#include "status.h"

namespace dpbridge {

struct HttpResponse {
  int status_code = 0;
  std::string headers;  // the header lines, status line excluded
  std::string body;
};

// GETs `path` from 127.0.0.1:`port`. Fails on a connection error, a timeout
// or a reply that is not HTTP.
[[nodiscard]] Result<HttpResponse> HttpGet(uint16_t port, const std::string& path,
                                           int timeout_ms = 5000);

}  // namespace dpbridge
