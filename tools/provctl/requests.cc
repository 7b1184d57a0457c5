#include "tools/provctl/requests.h"

#include "absl/strings/str_cat.h"
#include "server/kyc/kyc_parser.h"

namespace prov::provctl {

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

absl::StatusOr<provenance::v1::ImportAccountsRequest> ImportAccountsRequestFor(
    const Invocation& inv, std::string content) {
  provenance::v1::ImportAccountsRequest req;
  std::string format = inv.format;
  if (format.empty()) {
    absl::StatusOr<kyc::KycFormat> from_path = kyc::KycFormatFromPath(inv.file);
    if (!from_path.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(inv.file, ": cannot tell the format from the file name (",
                       from_path.status().message(), "); give --format csv|json|jsonl"));
    }
    format = *from_path == kyc::KycFormat::kCsv    ? "csv"
             : *from_path == kyc::KycFormat::kJson ? "json"
                                                   : "jsonl";
  }
  req.set_format(format);
  req.set_source_name(BaseName(inv.file));
  req.set_encoding(inv.encoding);
  req.set_content(std::move(content));
  return req;
}

provenance::v1::ImportScreeningListRequest ImportScreeningListRequestFor(const Invocation& inv,
                                                                         std::string content) {
  provenance::v1::ImportScreeningListRequest req;
  req.set_source_name(BaseName(inv.file));
  req.set_encoding(inv.encoding);
  req.set_content(std::move(content));
  return req;
}

provenance::v1::LoadPolicyRequest LoadPolicyRequestFor(const Invocation& inv, std::string yaml) {
  provenance::v1::LoadPolicyRequest req;
  req.set_source_name(BaseName(inv.file));
  req.set_yaml(std::move(yaml));
  return req;
}

provenance::v1::ListFlagsRequest ListFlagsRequestFor(const Invocation& inv) {
  provenance::v1::ListFlagsRequest req;
  req.set_min_severity(inv.min_severity);
  req.set_status(inv.status);
  req.set_rule(inv.rule);
  req.set_account(inv.account);
  req.set_datacenter(inv.datacenter);
  req.set_limit(inv.limit);
  return req;
}

provenance::v1::WatchFlagsRequest WatchFlagsRequestFor(const Invocation& inv) {
  provenance::v1::WatchFlagsRequest req;
  req.set_min_severity(inv.min_severity);
  return req;
}

provenance::v1::ListBundlesRequest ListBundlesRequestFor(const Invocation& inv) {
  provenance::v1::ListBundlesRequest req;
  req.set_account(inv.account);
  req.set_limit(inv.limit);
  return req;
}

}  // namespace prov::provctl
