// The agent's rule for strings that come from the node: before a NodeReport leaves the collector,
// every string in it is valid UTF-8 and within a byte limit per field (common/proto_strings.h does
// the walk; this file holds the limits and which raw values keep a digest).
//
//   provenance::v1::NodeReport report = ...;           // strings copied from /proc, env, JSON,
//   NVML prov::StringRepairs r = RepairNodeStrings(&report);  // counts land in report.health
//
// Why one walk at the end instead of a call in every collector: a customer with root on the node
// controls environments, cgroup paths, kubelet JSON, passwd and what NVML reports, and any string
// field added later is covered without anyone remembering to call a helper. Collectors keep the
// raw bytes in memory (the classifier and attribution compare them as they are); only what goes
// into the report is repaired.
//
// Limits (bytes), within provd's validator limits: 255 for MASTER_ADDR, hostnames, workload ids and
// everything not named here, 253 for pod names/namespaces, 4096 for cgroup paths, 1024 for class
// reasons, attribution details and collector messages. (List lengths: report_limits.h.) MASTER_ADDR
// and the attributed account keep the SHA-256 of their raw bytes when repaired
// (master_addr_raw_sha256, account_raw_sha256). Counts go to health.strings_repaired /
// strings_truncated, and one collector error "strings" names the fields. Thread-safe (the policy is
// built once, immutable).
#pragma once

#include "common/proto_strings.h"
#include "provenance/v1/report.pb.h"

namespace prov::agent {

const StringPolicy& NodeStringPolicy();

// Repairs every string of the report per NodeStringPolicy() and adds the counts to
// report.health.{strings_repaired, strings_truncated}. Returns what it did.
StringRepairs RepairNodeStrings(provenance::v1::NodeReport* report);

}  // namespace prov::agent
