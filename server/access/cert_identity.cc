#include "server/access/cert_identity.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <time.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/access/role.h"

namespace prov::server {
namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

// Every certificate in a PEM text, in order.
std::vector<X509Ptr> ReadPemCertificates(absl::string_view pem) {
  std::vector<X509Ptr> out;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return out;
  while (X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) out.emplace_back(x);
  BIO_free(bio);
  return out;
}

std::string Asn1Text(const ASN1_STRING* s) {
  if (s == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

CertNames NamesOf(X509* cert) {
  CertNames names;
  X509_NAME* subject = X509_get_subject_name(cert);
  int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (i >= 0) {
    unsigned char* utf8 = nullptr;
    int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
    if (n >= 0) names.common_name.assign(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
    OPENSSL_free(utf8);
  }
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int k = 0; sans != nullptr && k < sk_GENERAL_NAME_num(sans); ++k) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, k);
    if (g->type == GEN_URI) names.uris.push_back(Asn1Text(g->d.uniformResourceIdentifier));
    if (g->type == GEN_EMAIL) names.emails.push_back(Asn1Text(g->d.rfc822Name));
  }
  GENERAL_NAMES_free(sans);
  struct tm issued = {};
  if (const ASN1_TIME* t = X509_get0_notBefore(cert); t != nullptr && ASN1_TIME_to_tm(t, &issued)) {
    names.not_before = absl::FromUnixSeconds(timegm(&issued));
  }
  return names;
}

template <typename Map>
const typename Map::mapped_type* Find(const Map& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? nullptr : &it->second;
}

}  // namespace

struct PeopleCertMapper::CaStore {
  X509_STORE* store = nullptr;
  ~CaStore() { X509_STORE_free(store); }
};

bool IsSpiffeNodeUri(absl::string_view uri) {
  if (uri.size() < 9 || !absl::EqualsIgnoreCase(uri.substr(0, 9), "spiffe://")) return false;
  uri.remove_prefix(9);
  const size_t slash = uri.find('/');
  if (slash == absl::string_view::npos) return false;
  const std::string path = absl::AsciiStrToLower(uri.substr(slash));
  return path == "/node" || absl::StartsWith(path, "/node/");
}

absl::StatusOr<CertRoles> ParseCertRoles(absl::string_view text, absl::string_view file_name) {
  CertRoles out;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    auto where = [&] { return absl::StrCat(file_name, ":", line_no, ": "); };
    std::vector<absl::string_view> parts =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (parts.size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          where(), "expected '<uri:URI | email:ADDRESS | cn:NAME> <role>', got '", line, "'"));
    }
    auto role = ParseRole(parts[1]);
    if (!role.ok())
      return absl::InvalidArgumentError(absl::StrCat(where(), role.status().message()));
    absl::string_view key = parts[0];
    if (absl::ConsumePrefix(&key, "uri:")) {
      if (IsSpiffeNodeUri(key)) {
        return absl::InvalidArgumentError(
            absl::StrCat(where(), "'", key,
                         "' is a node identity (spiffe://.../node/...); a node is never a person"));
      }
      if (key.empty()) return absl::InvalidArgumentError(absl::StrCat(where(), "empty uri"));
      out.by_uri[std::string(key)] = *role;
    } else if (absl::ConsumePrefix(&key, "email:")) {
      if (key.find('@') == absl::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat(where(), "'", key, "' is not an email address"));
      }
      out.by_email[absl::AsciiStrToLower(key)] = *role;
    } else {
      absl::ConsumePrefix(&key, "cn:");
      if (key.empty()) return absl::InvalidArgumentError(absl::StrCat(where(), "empty cn"));
      out.by_cn[std::string(key)] = *role;
    }
  }
  return out;
}

absl::StatusOr<CertNames> ReadCertNames(absl::string_view pem) {
  std::vector<X509Ptr> certs = ReadPemCertificates(pem);
  if (certs.empty()) return absl::InvalidArgumentError("not a PEM certificate");
  return NamesOf(certs.front().get());
}

PeopleCertMapper::PeopleCertMapper(CertRoles roles, std::unique_ptr<CaStore> people_ca)
    : roles_(std::move(roles)), people_ca_(std::move(people_ca)) {}
PeopleCertMapper::~PeopleCertMapper() = default;

absl::StatusOr<std::unique_ptr<PeopleCertMapper>> PeopleCertMapper::Create(
    CertRoles roles, absl::string_view people_ca_pem) {
  std::unique_ptr<CaStore> ca;
  if (!people_ca_pem.empty()) {
    std::vector<X509Ptr> certs = ReadPemCertificates(people_ca_pem);
    if (certs.empty()) return absl::InvalidArgumentError("people CA: no PEM certificate in it");
    ca = std::make_unique<CaStore>();
    ca->store = X509_STORE_new();
    for (const X509Ptr& c : certs) {
      if (X509_STORE_add_cert(ca->store, c.get()) != 1) {
        return absl::InvalidArgumentError("people CA: a certificate could not be loaded");
      }
    }
  } else if (!roles.by_cn.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cert-roles: common-name entries (e.g. '", roles.by_cn.begin()->first,
        "') need --people-ca: one CA signs agents and people, so a node certificate could carry "
        "a person's name; map people by uri: or email: SAN, or give their own CA"));
  }
  return std::unique_ptr<PeopleCertMapper>(new PeopleCertMapper(std::move(roles), std::move(ca)));
}

absl::Status PeopleCertMapper::VerifyPeopleCa(absl::string_view leaf_pem,
                                              absl::string_view chain_pem) const {
  std::vector<X509Ptr> leaf = ReadPemCertificates(leaf_pem);
  if (leaf.empty()) return absl::UnauthenticatedError("client certificate could not be read");
  std::vector<X509Ptr> chain = ReadPemCertificates(chain_pem);
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (const X509Ptr& c : chain) sk_X509_push(untrusted, c.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  bool ok = ctx != nullptr &&
            X509_STORE_CTX_init(ctx, people_ca_->store, leaf.front().get(), untrusted) == 1;
  if (ok) {
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
    ok = X509_verify_cert(ctx) == 1;
  }
  const std::string why =
      ctx == nullptr ? "" : X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  sk_X509_free(untrusted);
  if (ok) return absl::OkStatus();
  return absl::UnauthenticatedError(absl::StrCat(
      "client certificate is not issued by provd's --people-ca (", why, "): not a person"));
}

bool PeopleCertMapper::IssuedByPeopleCa(absl::string_view leaf_pem,
                                        absl::string_view chain_pem) const {
  return people_ca_ != nullptr && VerifyPeopleCa(leaf_pem, chain_pem).ok();
}

absl::StatusOr<provenance::v1::Principal> PeopleCertMapper::Map(absl::string_view leaf_pem,
                                                                absl::string_view chain_pem) const {
  auto names = ReadCertNames(leaf_pem);
  if (!names.ok()) return absl::UnauthenticatedError("client certificate could not be read");
  for (const std::string& uri : names->uris) {
    if (IsSpiffeNodeUri(uri)) {
      return absl::UnauthenticatedError(
          absl::StrCat("client certificate names a node (", uri,
                       "): node certificates open the agent stream, never a person's role"));
    }
  }
  if (people_ca_ != nullptr) {
    if (absl::Status s = VerifyPeopleCa(leaf_pem, chain_pem); !s.ok()) return s;
  }
  provenance::v1::Principal p;
  p.set_method("certificate");
  auto found = [&](const std::string& name, provenance::v1::Role role) {
    p.set_actor(absl::StrCat("cert:", name));
    p.set_role(role);
    return p;
  };
  for (const std::string& uri : names->uris) {
    if (const auto* role = Find(roles_.by_uri, uri)) return found(uri, *role);
  }
  for (const std::string& email : names->emails) {
    if (const auto* role = Find(roles_.by_email, absl::AsciiStrToLower(email))) {
      return found(email, *role);
    }
  }
  if (people_ca_ != nullptr && !names->common_name.empty()) {
    if (const auto* role = Find(roles_.by_cn, names->common_name)) {
      return found(names->common_name, *role);
    }
  }
  return absl::UnauthenticatedError(
      absl::StrCat("client certificate '", names->common_name,
                   "' is not mapped to a role (provd --cert-roles: uri:, email:",
                   people_ca_ != nullptr ? " or cn:" : "", " entries)"));
}

}  // namespace prov::server
