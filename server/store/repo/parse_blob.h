// ParseBlob: a stored protobuf read back by a repository (identity, quarantine), on either engine.
//
//   PROV_RETURN_IF_ERROR(ParseBlob(st->ColumnBlob(1), &account, "accounts row acme"));
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message_lite.h"

namespace prov::server {

// A stored protobuf that does not parse is DATA_LOSS naming the row.
inline absl::Status ParseBlob(const std::string& blob, google::protobuf::MessageLite* message,
                              absl::string_view what) {
  if (!message->ParseFromString(blob)) {
    return absl::DataLossError(absl::StrCat(what, ": stored record does not parse"));
  }
  return absl::OkStatus();
}

}  // namespace prov::server
