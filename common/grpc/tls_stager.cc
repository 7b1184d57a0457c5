#include "common/grpc/tls_stager.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "common/log/log.h"
#include "common/status_macros.h"

namespace prov {
namespace {

constexpr size_t kMaxPemBytes = 1u << 20;

std::string OpenSslError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "no PEM data";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

absl::StatusOr<std::string> ReadPemFile(const std::string& path, absl::string_view flag) {
  absl::StatusOr<std::string> text = ReadFileToString(path, kMaxPemBytes);
  if (!text.ok())
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", text.status().message()));
  return text;
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using Bio = std::unique_ptr<BIO, BioDeleter>;
Bio MemBio(const std::string& text) {
  return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// The chain's certificates (at least one); the first is returned in *leaf (owned by caller).
absl::Status CheckCertificates(const std::string& text, const std::string& path,
                               absl::string_view flag, X509** leaf) {
  Bio bio = MemBio(text);
  int count = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    if (count++ == 0 && leaf != nullptr) {
      *leaf = cert;
    } else {
      X509_free(cert);
    }
  }
  ERR_clear_error();  // the loop ends on "no start line"
  if (count == 0) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path, " holds no PEM certificate"));
  }
  return absl::OkStatus();
}

}  // namespace

TlsFileStager::TlsFileStager(Options options)
    : options_(std::move(options)),
      identity_file_(JoinPath(options_.stage_dir, options_.name + "-identity.pem")),
      ca_file_(options_.source.ca_file.empty()
                   ? std::string()
                   : JoinPath(options_.stage_dir, options_.name + "-client-ca.pem")) {}

absl::StatusOr<std::unique_ptr<TlsFileStager>> TlsFileStager::Start(Options options) {
  if (options.source.cert_file.empty() || options.source.key_file.empty()) {
    return absl::InvalidArgumentError("TLS needs --tls-cert and --tls-key");
  }
  if (options.check_every <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("TlsFileStager: check_every must be positive");
  }
  std::unique_ptr<TlsFileStager> stager(new TlsFileStager(std::move(options)));
  PROV_RETURN_IF_ERROR(CreateDirectories(stager->options_.stage_dir));
  if (chmod(stager->options_.stage_dir.c_str(), 0700) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot make ", stager->options_.stage_dir, " private (mode 0700)"));
  }
  const SourceStamp stamp = stager->Stamp();
  PROV_ASSIGN_OR_RETURN(Staged staged, stager->ReadAndCheck());
  PROV_RETURN_IF_ERROR(stager->Write(staged));
  {
    absl::MutexLock lock(&stager->mu_);
    stager->stamp_ = stamp;
  }
  stager->thread_ = std::thread([s = stager.get()] { s->Run(); });
  return stager;
}

TlsFileStager::~TlsFileStager() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<TlsFileStager::Staged> TlsFileStager::ReadAndCheck() const {
  const TlsFiles& src = options_.source;
  PROV_ASSIGN_OR_RETURN(std::string chain, ReadPemFile(src.cert_file, "--tls-cert"));
  PROV_ASSIGN_OR_RETURN(std::string key_pem, ReadPemFile(src.key_file, "--tls-key"));
  X509* leaf = nullptr;
  PROV_RETURN_IF_ERROR(CheckCertificates(chain, src.cert_file, "--tls-cert", &leaf));
  std::unique_ptr<X509, decltype(&X509_free)> leaf_owner(leaf, X509_free);
  Bio key_bio = MemBio(key_pem);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, const_cast<char*>("")),
      EVP_PKEY_free);
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("--tls-key: ", src.key_file,
                                                   " is not an unencrypted PEM private key (",
                                                   OpenSslError(), ")"));
  }
  if (X509_check_private_key(leaf, key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat("--tls-key: ", src.key_file,
                                                   " does not belong to the certificate in ",
                                                   src.cert_file, " (--tls-cert)"));
  }
  Staged staged;
  staged.identity = key_pem;
  if (!staged.identity.empty() && staged.identity.back() != '\n') staged.identity += '\n';
  staged.identity += chain;
  if (!src.ca_file.empty()) {
    PROV_ASSIGN_OR_RETURN(staged.ca, ReadPemFile(src.ca_file, "--tls-client-ca"));
    PROV_RETURN_IF_ERROR(CheckCertificates(staged.ca, src.ca_file, "--tls-client-ca", nullptr));
  }
  return staged;
}

absl::Status TlsFileStager::Write(const Staged& staged) const {
  // The CA first: a new client CA and a new identity are both in place once the identity is.
  if (!ca_file_.empty()) PROV_RETURN_IF_ERROR(WriteFileAtomically(ca_file_, staged.ca));
  return WriteFileAtomically(identity_file_, staged.identity);
}

TlsFileStager::SourceStamp TlsFileStager::Stamp() const {
  const TlsFiles& src = options_.source;
  return {StampFile(src.cert_file), StampFile(src.key_file),
          src.ca_file.empty() ? FileStamp{} : StampFile(src.ca_file)};
}

void TlsFileStager::CheckNow() {
  const SourceStamp stamp = Stamp();
  {
    absl::MutexLock lock(&mu_);
    if (stamp == stamp_) return;
  }
  absl::StatusOr<Staged> staged = ReadAndCheck();
  absl::Status written = staged.ok() ? Write(*staged) : staged.status();
  absl::MutexLock lock(&mu_);
  if (!written.ok()) {
    ++counts_.failed;
    if (failed_stamp_ != stamp) {  // once per change of the files, not at every check
      PROV_LOG_WARN("tls", absl::StrCat("the ", options_.name,
                                        " listener's TLS files changed but do not check out; "
                                        "still serving the previous certificate: ",
                                        written.message()));
    }
    failed_stamp_ = stamp;
    return;
  }
  stamp_ = stamp;
  failed_stamp_.reset();
  ++counts_.reloads;
  PROV_LOG_INFO("tls", absl::StrCat("the ", options_.name,
                                    " listener's TLS files changed; the "
                                    "new certificate is served to new connections"));
}

TlsFileStager::Counts TlsFileStager::counts() const {
  absl::MutexLock lock(&mu_);
  return counts_;
}

void TlsFileStager::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto stopped = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; };
      mu_.AwaitWithTimeout(absl::Condition(&stopped), options_.check_every);
      if (stop_) return;
    }
    CheckNow();
  }
}

}  // namespace prov
