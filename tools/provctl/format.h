// provctl's output formatting, kept apart from the RPC code so it can be unit tested.
//
//   std::string text = prov::provctl::NodesTable(response);   // aligned columns, human units
//   std::string json = prov::ToJson(response);                // -o json (common/proto_json.h)
//
// Units in tables: accelerator-hours with one decimal ("12.5"), FLOP in scientific notation with
// two significant digits ("2.3e24"), times as UTC "2026-11-25 01:02:03Z", "-" for "none".
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "google/protobuf/timestamp.pb.h"
#include "provenance/v1/audit.pb.h"

namespace prov::provctl {

std::string FormatHours(double hours);
std::string FormatFlop(double flop);
std::string FormatFlopRange(const provenance::v1::FlopEstimate& flop);
std::string FormatTime(const google::protobuf::Timestamp& t);
std::string KindName(provenance::v1::WorkloadKind kind);
std::string ClassName(provenance::v1::WorkloadClass c);

// The items joined by `sep`, or "-" when there are none.
template <typename List>
std::string JoinOrDash(const List& items, const char* sep = ", ") {
  std::string joined = absl::StrJoin(items, sep);
  return joined.empty() ? "-" : joined;
}

// Left-aligned text columns, right-aligned where right_align[i] is true; two spaces between
// columns; one header line. Cells must not contain newlines (they are replaced by spaces).
std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows,
                        const std::vector<bool>& right_align = {});

std::string NodesTable(const provenance::v1::ListNodesResponse& response);
std::string NodeDetail(const provenance::v1::GetNodeResponse& response);
std::string WorkloadsTable(const provenance::v1::ListWorkloadsResponse& response);
std::string UsageTable(const provenance::v1::GetAccountUsageResponse& response);
// provctl status: who answered, the leader, the store, the analysis backlog, the live replicas.
std::string ServerStatusText(const provenance::v1::GetServerStatusResponse& response);

}  // namespace prov::provctl
