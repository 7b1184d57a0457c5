// provctl output for AnalysisService: flags, their evidence chains, bundles. Pure functions over
// protos, unit tested in format_analysis_test.cc.
//
//   std::cout << FlagsTable(list_response);     // aligned columns, most useful first
//   std::cout << FlagDetail(get_flag_response); // evidence chain as numbered readable lines
//   std::cout << FlagLine(flag) << "\n";        // flags watch: one line per new/changed flag
//
// Units: FLOP as "2.3e24" (ranges "low..high"), times as "2026-11-25 01:02:03 UTC", "-" for none.
#pragma once

#include <string>

#include "google/protobuf/timestamp.pb.h"
#include "provenance/v1/analysis.pb.h"

namespace prov::provctl {

std::string SeverityName(provenance::v1::Severity severity);  // "high", "-" when unspecified
std::string FlagStatusName(provenance::v1::FlagStatus status);
std::string DispositionName(provenance::v1::Disposition d);       // "false_positive", "-"
std::string FormatTimeUtc(const google::protobuf::Timestamp& t);  // "... UTC"
// "2.3e24..4.4e24 (method)"; "-" when there is no estimate.
std::string FormatFlopWithMethod(const provenance::v1::FlopEstimate& flop);

std::string FlagsTable(const provenance::v1::ListFlagsResponse& response);
std::string FlagDetail(const provenance::v1::GetFlagResponse& response);
std::string FlagLine(const provenance::v1::Flag& flag);
std::string BundlesTable(const provenance::v1::ListBundlesResponse& response);
std::string BundleDetail(const provenance::v1::GetBundleResponse& response);
// One link as a readable line: "network_peer 0.70  acme <-> beta: <sentence> (first .. last)".
std::string LinkLine(const provenance::v1::Link& link);

}  // namespace prov::provctl
