// Realistic KYC identities for the evaluation's background (prov-eval-gen --preset realistic):
// persons drawn from real name-frequency tables (common names as common as in life, so unrelated
// owners share names), companies named from the SEC company-name vocabulary, registered-agent
// addresses shared by many companies, webmail domains shared by many small customers. Also turns
// the BIS Denied Persons List (bis_dpl.txt) into Consolidated Screening List rows, so the
// evaluation screens against the CSL extract plus the DPL.
//
//   PROV_ASSIGN_OR_RETURN(NameTables names, LoadNameTables("../shared/data/names"));
//   // or NameTables::BuiltIn() (a few rows copied from those tables; tests, missing files)
//   ctx.set_population(&names);            // EvalContext::NewAccount now draws realistic rows
//   PROV_ASSIGN_OR_RETURN(std::string rows, DplAsCslRows(dpl_text, "bis_dpl.txt"));
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prov::eval {

// Names with weights (the publisher's counts); Draw(u) for u in [0, 1) picks by weight.
class WeightedNames {
 public:
  void Add(std::string name, double weight);
  const std::string& Draw(double u) const;
  // Every name equally likely (u in [0, 1)): a distinctive word rather than a frequent one.
  const std::string& DrawUniform(double u) const;
  bool empty() const { return names_.empty(); }
  size_t size() const { return names_.size(); }

 private:
  std::vector<std::string> names_;
  std::vector<double> cumulative_;
};

struct NameTables {
  WeightedNames us_given, us_surnames;  // US: SSA given names, Census 2000 surnames
  WeightedNames es_given, es_surnames;  // Spain (INE); may be empty
  WeightedNames company_tokens;         // SEC company-name tokens, legal forms removed
  std::string note;                     // what the names are, for provenance notes

  // A few dozen rows copied from the real tables (top of each, with their counts): enough for
  // shared common names in tests; used when the tables are missing (and said so).
  static NameTables BuiltIn();
};

// Reads us_given_names_ssa.csv, us_surnames_census2000.csv, company_name_tokens_sec.csv and, when
// present, es_given_names_ine.csv and es_surnames_ine.csv from `dir`. Errors name the file and
// line.
absl::StatusOr<NameTables> LoadNameTables(const std::string& dir);

// Registered-agent addresses used by many unrelated companies (public business addresses).
const std::vector<std::string>& RegisteredAgentAddresses();
// Webmail domains used by many unrelated small customers.
const std::vector<std::string>& WebmailDomains();

// bis_dpl.txt (tab-separated, quoted, header "Name" "Street_Address" ... "FR_Citation") as CSL CSV
// rows (28 columns, no header, source "Denied Persons List (DPL) - Bureau of Industry and
// Security"), to append to a CSL file. Errors name the line.
absl::StatusOr<std::string> DplAsCslRows(absl::string_view tsv, absl::string_view source);

}  // namespace prov::eval
