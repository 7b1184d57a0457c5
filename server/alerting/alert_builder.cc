#include "server/alerting/alert_builder.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/proto_time.h"

namespace prov::server {
namespace {

using provenance::v1::Flag;

std::string Lower(std::string s, absl::string_view prefix) {
  absl::string_view v(s);
  absl::ConsumePrefix(&v, prefix);
  return absl::AsciiStrToLower(v);
}

// Sorted, de-duplicated, joined by commas; cut at an item boundary to fit `max_bytes` with a
// ",+N more" tail.
std::string ListLabel(const google::protobuf::RepeatedPtrField<std::string>& items) {
  std::vector<std::string> v(items.begin(), items.end());
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string piece = ValidUtf8(v[i]);
    const std::string tail = absl::StrCat(",+", v.size() - i, " more");
    const size_t needed = out.size() + (out.empty() ? 0 : 1) + piece.size();
    const bool last = i + 1 == v.size();
    if (needed + (last ? 0 : tail.size()) > kMaxListLabelBytes) {
      absl::StrAppend(&out, out.empty() ? tail.substr(1) : tail);
      return out;
    }
    absl::StrAppend(&out, out.empty() ? "" : ",", piece);
  }
  return out;
}

std::string Description(const Flag& flag) {
  std::string out;
  for (const auto& e : flag.evidence()) {
    if (e.sentence().empty()) continue;
    std::string s = ValidUtf8(e.sentence());
    if (!out.empty() && out.size() + 1 + s.size() > kMaxDescriptionBytes) {
      absl::StrAppend(&out, " (", flag.evidence_size(), " evidence items in all)");
      break;
    }
    absl::StrAppend(&out, out.empty() ? "" : " ", s);
    if (out.size() >= kMaxDescriptionBytes) break;
  }
  return out;
}

}  // namespace

std::string SeverityLabel(provenance::v1::Severity severity) {
  return Lower(provenance::v1::Severity_Name(severity), "SEVERITY_");
}

std::string CaseStatusName(provenance::v1::FlagStatus status) {
  return Lower(provenance::v1::FlagStatus_Name(status), "FLAG_STATUS_");
}

std::string FlagUrl(absl::string_view dashboard_url, absl::string_view flag_id) {
  if (dashboard_url.empty()) return "";
  absl::ConsumeSuffix(&dashboard_url, "/");
  return absl::StrCat(dashboard_url, "/#/flag/", flag_id);
}

AlertLabels FlagAlertLabels(const Flag& flag) {
  AlertLabels labels;
  labels["alertname"] = kAlertName;
  labels["flag_id"] = ValidUtf8(flag.flag_id());
  labels["severity"] = SeverityLabel(flag.severity());
  labels["rule"] = ValidUtf8(flag.rule());
  const size_t colon = flag.rule().find(':');
  labels["rule_kind"] = ValidUtf8(flag.rule().substr(0, colon));
  if (!flag.bundle_id().empty()) labels["bundle"] = ValidUtf8(flag.bundle_id());
  if (flag.accounts_size() > 0) labels["accounts"] = ListLabel(flag.accounts());
  if (flag.datacenters_size() > 0) labels["datacenters"] = ListLabel(flag.datacenters());
  return labels;
}

nlohmann::json FlagAlert(const Flag& flag, const AlertLabels& labels, const AlertContent& content,
                         absl::Time ends_at) {
  nlohmann::json annotations = nlohmann::json::object();
  annotations["summary"] = ValidUtf8(flag.summary());
  if (std::string d = Description(flag); !d.empty()) annotations["description"] = d;
  const std::string url = FlagUrl(content.dashboard_url, flag.flag_id());
  if (!url.empty()) annotations["flag_url"] = url;
  if (!content.runbook_url.empty()) annotations["runbook_url"] = content.runbook_url;
  annotations["case_status"] = CaseStatusName(flag.status());
  if (!flag.assignee().empty()) annotations["assignee"] = ValidUtf8(flag.assignee());
  if (flag.disposition() != provenance::v1::DISPOSITION_UNSPECIFIED) {
    annotations["disposition"] =
        Lower(provenance::v1::Disposition_Name(flag.disposition()), "DISPOSITION_");
  }
  if (flag.has_training_flop() && flag.training_flop().high() > 0) {
    char range[96];
    std::snprintf(range, sizeof(range), "%.2g to %.2g FLOP", flag.training_flop().low(),
                  flag.training_flop().high());
    annotations["training_flop"] = absl::StrCat(
        range, flag.training_flop().method().empty() ? "" : " (",
        ValidUtf8(flag.training_flop().method()), flag.training_flop().method().empty() ? "" : ")");
  }
  if (!flag.policy_version().empty()) {
    annotations["policy_version"] = ValidUtf8(flag.policy_version());
  }
  annotations["revision"] = std::to_string(flag.revision());
  absl::Time starts = flag.has_raised_at() ? FromProtoTime(flag.raised_at()) : ends_at;
  nlohmann::json alert = LabelsOnlyAlert(labels, std::min(starts, ends_at), ends_at);
  alert["annotations"] = std::move(annotations);
  if (!url.empty()) alert["generatorURL"] = url;
  return alert;
}

nlohmann::json LabelsOnlyAlert(const AlertLabels& labels, absl::Time starts_at,
                               absl::Time ends_at) {
  nlohmann::json l = nlohmann::json::object();
  for (const auto& [k, v] : labels) l[k] = v;
  return {{"labels", std::move(l)},
          {"startsAt", Rfc3339(std::min(starts_at, ends_at))},
          {"endsAt", Rfc3339(ends_at)}};
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

std::string ValidUtf8(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) {
      ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    }
    if (ok && len > 1) {  // reject overlong forms, surrogates and values above U+10FFFF
      uint32_t cp = c & (0x7F >> len);
      for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (s[i + k] & 0x3F);
      static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      ok = cp >= kMin[len] && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
    }
    if (ok) {
      out.append(s.data() + i, len);
      i += len;
    } else {
      out.append("\xEF\xBF\xBD");  // U+FFFD
      ++i;
    }
  }
  return out;
}

}  // namespace prov::server
