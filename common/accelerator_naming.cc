#include "common/accelerator_naming.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace prov {
namespace {

std::vector<std::string> Tokens(absl::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c))) {
      cur += absl::ascii_tolower(static_cast<unsigned char>(c));
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

bool HasDigit(absl::string_view s) {
  for (char c : s) {
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) return true;
  }
  return false;
}

}  // namespace

std::string ModelDesignation(absl::string_view catalog_model) {
  std::vector<std::string> tokens = Tokens(catalog_model);
  for (const std::string& t : tokens) {
    if (HasDigit(t)) return t;
  }
  return tokens.empty() ? "" : tokens.front();
}

bool ReportedNameDisagrees(absl::string_view catalog_model, absl::string_view reported) {
  const std::string designation = ModelDesignation(catalog_model);
  if (designation.empty()) return false;
  std::vector<std::string> tokens = Tokens(reported);
  if (tokens.empty()) return false;
  for (const std::string& t : tokens) {
    if (t == designation) return false;
    if (t.size() > designation.size() && absl::EndsWith(t, designation) &&
        absl::ascii_isalpha(static_cast<unsigned char>(t[t.size() - designation.size() - 1]))) {
      return false;
    }
  }
  return true;
}

void NameFromCatalog(const AcceleratorCatalog& catalog, provenance::v1::Accelerator* acc) {
  acc->set_reported_name(acc->model());
  auto match = catalog.Lookup(acc->vendor_id(), acc->device_id());
  if (!match) {
    acc->set_vendor(catalog.VendorName(acc->vendor_id()));
    acc->set_model("");
    acc->set_model_known(false);
    acc->set_name_disagrees(false);
    return;
  }
  const CatalogEntry& e = *match->entry;
  acc->set_vendor(e.vendor);
  acc->set_family(e.family);
  acc->set_model(e.model);
  acc->set_model_known(match->exact && !e.model.empty());
  acc->set_name_disagrees(ReportedNameDisagrees(e.model, acc->reported_name()));
  (*acc->mutable_fact_sources())["model"] = provenance::v1::FACT_SOURCE_CATALOG;
}

}  // namespace prov
