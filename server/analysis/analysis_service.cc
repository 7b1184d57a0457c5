#include "server/analysis/analysis_service.h"

#include "absl/strings/str_cat.h"

namespace prov::server {
namespace {

using namespace provenance::v1;

grpc::Status Invalid(const std::string& field, const std::string& why) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, absl::StrCat(field, ": ", why));
}

grpc::Status CheckLimit(uint32_t limit) {
  if (limit > AnalysisServiceImpl::kMaxLimit) {
    return Invalid(
        "limit", absl::StrCat(limit, " is above the maximum of ", AnalysisServiceImpl::kMaxLimit));
  }
  return grpc::Status::OK;
}

}  // namespace

grpc::Status AnalysisServiceImpl::ListFlags(grpc::ServerContext* context,
                                            const ListFlagsRequest* request,
                                            ListFlagsResponse* response) {
  if (auth_ != nullptr) {
    if (auto s = auth_->Require(context, provenance::v1::ROLE_VIEWER, nullptr); !s.ok()) return s;
  }
  if (grpc::Status s = CheckLimit(request->limit()); !s.ok()) return s;
  if (!Severity_IsValid(request->min_severity())) {
    return Invalid("min_severity", absl::StrCat(request->min_severity(), " is not a severity"));
  }
  if (!FlagStatus_IsValid(request->status())) {
    return Invalid("status", absl::StrCat(request->status(), " is not a flag status"));
  }
  ListFlagsRequest req = *request;
  if (req.limit() == 0) req.set_limit(kDefaultLimit);
  auto flags = engine_.Read([&](const Analyzer& a) { return a.ListFlags(req); });
  for (auto& f : flags) *response->add_flags() = std::move(f);
  return grpc::Status::OK;
}

grpc::Status AnalysisServiceImpl::GetFlag(grpc::ServerContext* context,
                                          const GetFlagRequest* request,
                                          GetFlagResponse* response) {
  if (auth_ != nullptr) {
    if (auto s = auth_->Require(context, provenance::v1::ROLE_VIEWER, nullptr); !s.ok()) return s;
  }
  if (request->flag_id().empty()) return Invalid("flag_id", "required");
  const bool found = engine_.Read([&](const Analyzer& a) {
    const Flag* f = a.flag(request->flag_id());
    if (f == nullptr) return false;
    *response->mutable_flag() = *f;
    if (!f->bundle_id().empty()) {
      if (auto b = a.bundle(f->bundle_id())) *response->mutable_bundle() = std::move(*b);
    }
    return true;
  });
  if (!found) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("flag_id: no flag ", request->flag_id()));
  }
  return grpc::Status::OK;
}

grpc::Status AnalysisServiceImpl::WatchFlags(grpc::ServerContext* context,
                                             const WatchFlagsRequest* request,
                                             grpc::ServerWriter<Flag>* writer) {
  if (auth_ != nullptr) {
    if (auto s = auth_->Require(context, provenance::v1::ROLE_VIEWER, nullptr); !s.ok()) return s;
  }
  if (!Severity_IsValid(request->min_severity())) {
    return Invalid("min_severity", absl::StrCat(request->min_severity(), " is not a severity"));
  }
  // Register before reading the existing flags so nothing falls between the two.
  auto watch = engine_.Watch(request->min_severity());
  if (request->include_existing()) {
    ListFlagsRequest req;
    req.set_min_severity(request->min_severity());
    auto flags = engine_.Read([&](const Analyzer& a) { return a.ListFlags(req); });
    for (const auto& f : flags) {
      if (!writer->Write(f)) {
        engine_.Unwatch(watch);
        return grpc::Status::OK;
      }
    }
  }
  while (!context->IsCancelled() && !stopped_ && !watch->closed()) {
    for (const auto& f : watch->Next(absl::Milliseconds(200))) {
      if (!writer->Write(f)) {
        engine_.Unwatch(watch);
        return grpc::Status::OK;
      }
    }
  }
  engine_.Unwatch(watch);
  if (context->IsCancelled()) return grpc::Status::CANCELLED;
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "provd is shutting down");
}

grpc::Status AnalysisServiceImpl::ListBundles(grpc::ServerContext* context,
                                              const ListBundlesRequest* request,
                                              ListBundlesResponse* response) {
  if (auth_ != nullptr) {
    if (auto s = auth_->Require(context, provenance::v1::ROLE_VIEWER, nullptr); !s.ok()) return s;
  }
  if (grpc::Status s = CheckLimit(request->limit()); !s.ok()) return s;
  ListBundlesRequest req = *request;
  if (req.limit() == 0) req.set_limit(kDefaultLimit);
  auto bundles = engine_.Read([&](const Analyzer& a) { return a.ListBundles(req); });
  for (auto& b : bundles) *response->add_bundles() = std::move(b);
  return grpc::Status::OK;
}

grpc::Status AnalysisServiceImpl::GetBundle(grpc::ServerContext* context,
                                            const GetBundleRequest* request,
                                            GetBundleResponse* response) {
  if (auth_ != nullptr) {
    if (auto s = auth_->Require(context, provenance::v1::ROLE_VIEWER, nullptr); !s.ok()) return s;
  }
  if (request->bundle_id().empty()) return Invalid("bundle_id", "required");
  const bool found = engine_.Read([&](const Analyzer& a) {
    auto b = a.bundle(request->bundle_id());
    if (!b) return false;
    *response->mutable_bundle() = std::move(*b);
    for (auto& l : a.BundleLinks(request->bundle_id(), 500)) *response->add_links() = std::move(l);
    for (auto& f : a.FlagsOfBundle(request->bundle_id())) *response->add_flags() = std::move(f);
    return true;
  });
  if (!found) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("bundle_id: no bundle ", request->bundle_id()));
  }
  return grpc::Status::OK;
}

}  // namespace prov::server
