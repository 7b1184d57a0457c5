// HostOfAddress: the host part of a "host:port" or "[v6]:port" listen address, as written (an
// address without a port is returned whole). For messages and advertised addresses; it does not
// validate (server/web/web_server.cc parses and checks listen addresses).
//
//   HostOfAddress("0.0.0.0:7443")  -> "0.0.0.0"
//   HostOfAddress("[::1]:7443")    -> "[::1]"
//   HostOfAddress("unix:/run/x")   -> "unix"
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace prov {

inline std::string HostOfAddress(absl::string_view address) {
  const size_t colon = address.rfind(':');
  return std::string(colon == absl::string_view::npos ? address : address.substr(0, colon));
}

}  // namespace prov
