// provctl output for IdentityService: import results, one account, the policy in force. Pure
// functions over protos, unit tested in format_identity_test.cc. Row errors of an import are not
// in these texts: main prints them to stderr (RowErrorLines).
//
//   std::cout << AccountsImported(response, "accounts.csv");
//   std::cerr << RowErrorLines(response.errors());
//   std::cout << AccountDetail(get_account_response);
#pragma once

#include <string>

#include "google/protobuf/repeated_ptr_field.h"
#include "provenance/v1/analysis.pb.h"

namespace prov::provctl {

std::string AccountsImported(const provenance::v1::ImportAccountsResponse& response,
                             const std::string& file);
std::string ScreeningImported(const provenance::v1::ImportScreeningListResponse& response,
                              const std::string& file);
// "provctl: <file>: line 7: field ...\n" per error.
std::string RowErrorLines(const google::protobuf::RepeatedPtrField<std::string>& errors,
                          const std::string& file);
std::string AccountDetail(const provenance::v1::GetAccountResponse& response);
// One hit and its reasons, indented, as AccountDetail shows it.
std::string ScreeningMatchLines(const provenance::v1::ScreeningMatch& match);
std::string PolicyLoaded(const provenance::v1::LoadPolicyResponse& response,
                         const std::string& file);
std::string PolicyDetail(const provenance::v1::GetPolicyResponse& response);

}  // namespace prov::provctl
