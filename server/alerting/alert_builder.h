// How a flag becomes an Alertmanager alert (API v2 `PostableAlert`), as pure functions.
//
//   AlertContent content{.dashboard_url = "http://provd.example:8080",
//                        .runbook_url = "http://provd.example:8080/runbooks/flags.md"};
//   AlertLabels labels = FlagAlertLabels(flag);
//   nlohmann::json firing = FlagAlert(flag, labels, content, now + 4 * resend_interval);
//   nlohmann::json resolved = FlagAlert(flag, labels, content, now);   // endsAt = now
//
// Labels (what Alertmanager routes, groups, inhibits and silences on; they identify the alert):
//   alertname="ProvenanceFlag", flag_id, severity ("high"), rule ("compute_tier:eu-ai-act-..."),
//   rule_kind ("compute_tier"), bundle (omitted without one), accounts and datacenters (sorted,
//   comma-joined, at most kMaxListLabelBytes, then ",+N more").
// The case status is an annotation, not a label: a label change makes a NEW alert in
// Alertmanager (new fingerprint, a fresh notification), and acknowledging a flag must not page
// again. Labels that do change over a flag's life (accounts joining a bundle, a higher tier)
// make the notifier resolve the old label set and fire the new one (alert_notifier.h).
// Annotations: summary, description (first evidence sentences), flag_url
// (<dashboard>/#/flag/<id>, also the alert's generatorURL), runbook_url, case_status,
// assignee, disposition, training_flop, policy_version, revision.
// Every value is valid UTF-8 (invalid bytes become U+FFFD).
#pragma once

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "provenance/v1/analysis.pb.h"
#include "server/store/repo/alert_deliveries.h"

namespace prov::server {

inline constexpr char kAlertName[] = "ProvenanceFlag";
inline constexpr size_t kMaxListLabelBytes = 256;
inline constexpr size_t kMaxDescriptionBytes = 1024;

struct AlertContent {
  std::string dashboard_url;  // "" : no flag_url / generatorURL
  std::string runbook_url;
};

std::string SeverityLabel(provenance::v1::Severity severity);   // "high"; "unspecified"
std::string CaseStatusName(provenance::v1::FlagStatus status);  // "open", "acknowledged", ...
std::string FlagUrl(absl::string_view dashboard_url, absl::string_view flag_id);  // "" w/o url

AlertLabels FlagAlertLabels(const provenance::v1::Flag& flag);

// The alert for `flag` under `labels` (normally FlagAlertLabels(flag); an older label set when
// resolving it): startsAt = the flag's raised_at (never after ends_at), endsAt = ends_at.
nlohmann::json FlagAlert(const provenance::v1::Flag& flag, const AlertLabels& labels,
                         const AlertContent& content, absl::Time ends_at);
// A resolution for a label set whose flag is gone: labels only, endsAt = ends_at.
nlohmann::json LabelsOnlyAlert(const AlertLabels& labels, absl::Time starts_at, absl::Time ends_at);

std::string Rfc3339(absl::Time t);  // "2026-12-02T01:30:00.000Z"
std::string ValidUtf8(absl::string_view s);

}  // namespace prov::server
