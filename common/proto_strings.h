// Makes every `string` field of a protobuf message (recursively: sub-messages, repeated fields,
// map keys and values) valid UTF-8 and bounded, so that serializing it can never produce bytes
// the receiver refuses to parse (proto3 `string` fields must be UTF-8; `bytes` are not touched).
//
//   prov::StringPolicy policy;
//   policy.default_max_bytes = 1024;
//   policy.max_bytes["provenance.v1.Workload.cgroup_path"] = 4096;
//   policy.raw_digest_field["provenance.v1.DistributedMarkers.master_addr"] =
//       "master_addr_raw_sha256";
//   prov::StringRepairs r = prov::RepairStrings(&report, policy);
//   health->set_strings_repaired(r.repaired);
//
// - A field named in raw_digest_field whose value had to change gets the SHA-256 (hex) of its
//   raw bytes in the named sibling string field of the same message, so the evidence survives the
//   repair. The sibling is left alone when nothing changed.
// - Strings that are already valid and within their limit are not copied (one validating scan).
// - Limits are in bytes; see utf8.h for how repair and truncation work.
// Pure function over the message; thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/utf8.h"
#include "google/protobuf/message.h"

namespace prov {

struct StringPolicy {
  size_t default_max_bytes = kNoUtf8Limit;
  // Field full name ("package.Message.field") -> byte limit; overrides the default.
  absl::flat_hash_map<std::string, size_t> max_bytes;
  // Field full name -> name of a sibling string field that receives Sha256Hex(raw) on repair.
  absl::flat_hash_map<std::string, std::string> raw_digest_field;
};

struct StringRepairs {
  uint64_t repaired = 0;   // strings whose invalid UTF-8 was replaced by U+FFFD
  uint64_t truncated = 0;  // strings cut to their limit
  // Full names of the fields that needed a repair, distinct, in walk order, at most 8.
  std::vector<std::string> fields;
  bool any() const { return repaired > 0 || truncated > 0; }
};

StringRepairs RepairStrings(google::protobuf::Message* message, const StringPolicy& policy);

}  // namespace prov
