#include "server/web/web_tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "common/openssl_ptr.h"

namespace prov::server::web {
namespace {

// The oldest queued OpenSSL error, as text ("" when none); clears the queue.
std::string OpenSslError() {
  const unsigned long e = ERR_peek_error();
  char text[256] = {0};
  if (e != 0) ERR_error_string_n(e, text, sizeof(text));
  ERR_clear_error();
  return text;
}

// Never prompts for a passphrase: an encrypted key fails to load.
int NoPassword(char*, int, int, void*) { return -1; }

}  // namespace

TlsSession::~TlsSession() { SSL_free(ssl_); }

TlsSession::Step TlsSession::Handshake() {
  ERR_clear_error();
  errno = 0;
  const int rc = SSL_accept(ssl_);
  if (rc == 1) {
    established_ = true;
    return Step::kDone;
  }
  const int err = SSL_get_error(ssl_, rc);
  if (err == SSL_ERROR_WANT_READ) return Step::kWantRead;
  if (err == SSL_ERROR_WANT_WRITE) return Step::kWantWrite;
  const unsigned long e = ERR_peek_error();
  if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
      (ERR_GET_REASON(e) == SSL_R_HTTP_REQUEST || ERR_GET_REASON(e) == SSL_R_HTTPS_PROXY_REQUEST)) {
    ERR_clear_error();
    error_ = "plain HTTP request on the HTTPS port";
    return Step::kPlainHttp;
  }
  if (err == SSL_ERROR_SYSCALL && e == 0) {
    error_ = errno != 0 ? std::strerror(errno) : "the client closed the connection";
  } else {
    error_ = OpenSslError();
    if (error_.empty()) error_ = absl::StrCat("SSL_accept error ", err);
  }
  return Step::kFailed;
}

namespace {

// What SSL_read_ex/SSL_write_ex returned, as bytes, 0 (the peer's close_notify or EOF, reads
// only) or -1 with `wait` saying whether the call waits for the socket to read or write.
ssize_t IoResult(SSL* ssl, int rc, size_t n, bool reading, TlsSession::Wait* wait) {
  if (rc == 1) return static_cast<ssize_t>(n);
  switch (SSL_get_error(ssl, rc)) {
    case SSL_ERROR_WANT_READ:
      *wait = TlsSession::Wait::kRead;
      return -1;
    case SSL_ERROR_WANT_WRITE:
      *wait = TlsSession::Wait::kWrite;
      return -1;
    case SSL_ERROR_ZERO_RETURN:  // close_notify, or EOF (SSL_OP_IGNORE_UNEXPECTED_EOF)
      if (reading) return 0;
      [[fallthrough]];
    default:
      ERR_clear_error();
      return -1;
  }
}

}  // namespace

ssize_t TlsSession::Read(char* buf, size_t size, Wait* wait) {
  *wait = Wait::kNone;
  ERR_clear_error();
  size_t n = 0;
  const int rc = SSL_read_ex(ssl_, buf, size, &n);
  return IoResult(ssl_, rc, n, /*reading=*/true, wait);
}

ssize_t TlsSession::Write(const char* buf, size_t size, Wait* wait) {
  *wait = Wait::kNone;
  ERR_clear_error();
  size_t n = 0;
  const int rc = SSL_write_ex(ssl_, buf, size, &n);
  return IoResult(ssl_, rc, n, /*reading=*/false, wait);
}

bool TlsSession::HasPending() const { return SSL_pending(ssl_) > 0; }

void TlsSession::Shutdown() {
  if (!established_) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

absl::StatusOr<std::shared_ptr<const WebTlsContext>> WebTlsContext::Load(
    const std::string& cert_file, const std::string& key_file, const std::string& cert_name,
    const std::string& key_name) {
  auto fail = [](const std::string& name, const std::string& file, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": \"", file, "\": ", why));
  };
  auto cert_pem = ReadFileToString(cert_file);
  if (!cert_pem.ok()) return fail(cert_name, cert_file, cert_pem.status().message());
  auto key_pem = ReadFileToString(key_file);
  if (!key_pem.ok()) return fail(key_name, key_file, key_pem.status().message());

  ERR_clear_error();
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (ctx == nullptr) return absl::InternalError("SSL_CTX_new failed: " + OpenSslError());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
                                     SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Writes behave like send() on a non-blocking socket; idle connections drop their buffers.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                  SSL_MODE_RELEASE_BUFFERS);

  // The first certificate is the server's; any after it are its chain.
  openssl::BioPtr cert_bio = openssl::MemBio(*cert_pem);
  openssl::X509Ptr leaf(PEM_read_bio_X509(cert_bio.get(), nullptr, NoPassword, nullptr));
  if (leaf == nullptr) {
    return fail(cert_name, cert_file, "no PEM certificate in it (" + OpenSslError() + ")");
  }
  if (SSL_CTX_use_certificate(ctx.get(), leaf.get()) != 1) {
    return fail(cert_name, cert_file, "certificate refused: " + OpenSslError());
  }
  while (true) {
    openssl::X509Ptr next(PEM_read_bio_X509(cert_bio.get(), nullptr, NoPassword, nullptr));
    if (next == nullptr) break;
    if (SSL_CTX_add1_chain_cert(ctx.get(), next.get()) != 1) {
      return fail(cert_name, cert_file, "chain certificate refused: " + OpenSslError());
    }
  }
  ERR_clear_error();  // the end of the file reads as "no start line"

  if (absl::StrContains(*key_pem, "ENCRYPTED")) {
    return fail(key_name, key_file,
                "the key is encrypted; provd needs an unencrypted key (readable only by its "
                "user)");
  }
  openssl::KeyPtr key(
      PEM_read_bio_PrivateKey(openssl::MemBio(*key_pem).get(), nullptr, NoPassword, nullptr));
  if (key == nullptr) {
    return fail(key_name, key_file, "no PEM private key in it (" + OpenSslError() + ")");
  }
  if (SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    ERR_clear_error();
    return fail(key_name, key_file,
                absl::StrCat("the key does not match the certificate in \"", cert_file, "\""));
  }
  return std::shared_ptr<const WebTlsContext>(new WebTlsContext(ctx.release()));
}

WebTlsContext::~WebTlsContext() { SSL_CTX_free(ctx_); }

std::unique_ptr<TlsSession> WebTlsContext::NewSession(int fd) const {
  ERR_clear_error();
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) return nullptr;
  if (SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    ERR_clear_error();
    return nullptr;
  }
  SSL_set_accept_state(ssl);
  return std::make_unique<TlsSession>(ssl);
}

}  // namespace prov::server::web
