// provctl output for the compliance workflow: tokens, cases, the audit log and its verification.
// Pure functions over protos, unit tested in format_compliance_test.cc.
//
//   std::cout << TokensTable(list);          // id, name, role, created, revoked
//   std::cout << CaseDetail(c);              // status, disposition, assignee, every action
//   std::cout << AuditTable(entries);        // seq, time, actor, action, payload
//   std::cout << VerifyText(verification);   // "intact: 42 entries ..." or one line per problem
#pragma once

#include <string>

#include "provenance/v1/compliance.pb.h"

namespace prov::provctl {

std::string RoleName(provenance::v1::Role role);
std::string PrincipalText(const provenance::v1::Principal& p);
std::string IssuedTokenText(const provenance::v1::IssueTokenResponse& r);
std::string TokensTable(const provenance::v1::ListTokensResponse& r);
std::string CasesTable(const provenance::v1::ListCasesResponse& r);
std::string CaseDetail(const provenance::v1::Case& c);
std::string AuditTable(const provenance::v1::ListAuditEntriesResponse& r);
std::string VerifyText(const provenance::v1::VerifyAuditLogResponse& r);

}  // namespace prov::provctl
