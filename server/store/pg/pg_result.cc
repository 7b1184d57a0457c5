#include "server/store/pg/pg_result.h"

#include <libpq-fe.h>

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace prov::server {
namespace {

absl::Status NotA(const char* what, int row, int column, const char* value) {
  return absl::DataLossError(
      absl::StrCat("row ", row, " column ", column, ": \"", value, "\" is not ", what));
}

}  // namespace

PgResult::~PgResult() {
  if (result_ != nullptr) PQclear(result_);
}

PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    if (result_ != nullptr) PQclear(result_);
    result_ = other.result_;
    other.result_ = nullptr;
  }
  return *this;
}

int PgResult::rows() const { return result_ == nullptr ? 0 : PQntuples(result_); }
int PgResult::columns() const { return result_ == nullptr ? 0 : PQnfields(result_); }

bool PgResult::IsNull(int row, int column) const { return PQgetisnull(result_, row, column) != 0; }

std::string PgResult::Text(int row, int column) const {
  return std::string(PQgetvalue(result_, row, column),
                     static_cast<size_t>(PQgetlength(result_, row, column)));
}

absl::StatusOr<int64_t> PgResult::Int64(int row, int column) const {
  if (IsNull(row, column)) return 0;
  int64_t v = 0;
  const char* text = PQgetvalue(result_, row, column);
  if (!absl::SimpleAtoi(text, &v)) return NotA("an integer", row, column, text);
  return v;
}

absl::StatusOr<double> PgResult::Double(int row, int column) const {
  if (IsNull(row, column)) return 0.0;
  double v = 0;
  const char* text = PQgetvalue(result_, row, column);
  if (!absl::SimpleAtod(text, &v)) return NotA("a number", row, column, text);
  return v;
}

absl::StatusOr<std::string> PgResult::Bytes(int row, int column) const {
  if (IsNull(row, column)) return std::string();
  size_t length = 0;
  unsigned char* bytes = PQunescapeBytea(
      reinterpret_cast<const unsigned char*>(PQgetvalue(result_, row, column)), &length);
  if (bytes == nullptr) return NotA("bytea", row, column, PQgetvalue(result_, row, column));
  std::string out(reinterpret_cast<const char*>(bytes), length);
  PQfreemem(bytes);
  return out;
}

int64_t PgResult::affected() const {
  int64_t n = 0;
  if (result_ != nullptr) (void)absl::SimpleAtoi(PQcmdTuples(result_), &n);
  return n;
}

}  // namespace prov::server
