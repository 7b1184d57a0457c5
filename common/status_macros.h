// Small Status helpers missing from Debian's Abseil 20220623 (no ABSL_RETURN_IF_ERROR there).
//
//   PROV_RETURN_IF_ERROR(store.Open(path));
//   PROV_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define PROV_STATUS_CONCAT_INNER_(a, b) a##b
#define PROV_STATUS_CONCAT_(a, b) PROV_STATUS_CONCAT_INNER_(a, b)

#define PROV_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::absl::Status prov_status_ = (expr);        \
    if (!prov_status_.ok()) return prov_status_; \
  } while (false)

#define PROV_ASSIGN_OR_RETURN(lhs, expr) \
  PROV_ASSIGN_OR_RETURN_IMPL_(PROV_STATUS_CONCAT_(prov_statusor_, __LINE__), lhs, expr)

#define PROV_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                \
  if (!statusor.ok()) return statusor.status();          \
  lhs = std::move(statusor).value()
