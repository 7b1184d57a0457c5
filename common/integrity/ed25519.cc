#include "common/integrity/ed25519.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "common/status_macros.h"

namespace prov::integrity {
namespace {

void InitSodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) std::abort();  // no usable randomness source: cannot sign anything safely
}

bool IsHex(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::StatusOr<std::string> ReadKeyLine(const std::string& path, absl::string_view tag) {
  PROV_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, 4096));
  absl::string_view line = absl::StripAsciiWhitespace(text);
  std::string prefix = absl::StrCat(tag, " ");
  if (!absl::StartsWith(line, prefix)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": expected one line \"", tag, " <64 hex digits>\""));
  }
  absl::string_view hex = line.substr(prefix.size());
  if (hex.size() != 64 || !IsHex(hex)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": the key must be 64 hex digits (32 bytes)"));
  }
  return absl::HexStringToBytes(hex);
}

}  // namespace

absl::StatusOr<SigningKey> SigningKeyFromSeed(absl::string_view seed) {
  InitSodium();
  if (seed.size() != crypto_sign_SEEDBYTES) {
    return absl::InvalidArgumentError("an Ed25519 seed is 32 bytes");
  }
  SigningKey key;
  key.seed = std::string(seed);
  key.public_key.resize(crypto_sign_PUBLICKEYBYTES);
  key.secret_key.resize(crypto_sign_SECRETKEYBYTES);
  crypto_sign_seed_keypair(reinterpret_cast<unsigned char*>(key.public_key.data()),
                           reinterpret_cast<unsigned char*>(key.secret_key.data()),
                           reinterpret_cast<const unsigned char*>(key.seed.data()));
  return key;
}

absl::StatusOr<SigningKey> GenerateSigningKey() {
  InitSodium();
  std::string seed(crypto_sign_SEEDBYTES, '\0');
  randombytes_buf(seed.data(), seed.size());
  return SigningKeyFromSeed(seed);
}

absl::Status SaveSigningKey(const std::string& path, const SigningKey& key) {
  // Created 0600 from the first byte (never briefly readable by others), fsynced, renamed.
  const std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  const std::string text = absl::StrCat("ed25519-seed ", absl::BytesToHexString(key.seed), "\n");
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(absl::StrCat("create ", tmp, ": ", std::strerror(errno)));
  bool ok = ::fchmod(fd, 0600) == 0 &&
            ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  const int err = errno;
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("write ", path, ": ", std::strerror(ok ? errno : err)));
  }
  return absl::OkStatus();
}

absl::StatusOr<SigningKey> LoadSigningKey(const std::string& path) {
  PROV_ASSIGN_OR_RETURN(std::string seed, ReadKeyLine(path, "ed25519-seed"));
  return SigningKeyFromSeed(seed);
}

absl::Status SavePublicKey(const std::string& path, absl::string_view public_key) {
  return WriteFileAtomically(
      path, absl::StrCat("ed25519-public ", absl::BytesToHexString(public_key), "\n"), true);
}

absl::StatusOr<std::string> LoadPublicKey(const std::string& path) {
  return ReadKeyLine(path, "ed25519-public");
}

std::string SignDetached(const SigningKey& key, absl::string_view message) {
  InitSodium();
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(),
                       reinterpret_cast<const unsigned char*>(key.secret_key.data()));
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(sig), sizeof(sig)));
}

bool VerifyDetached(absl::string_view public_key, absl::string_view message,
                    absl::string_view signature_hex) {
  InitSodium();
  signature_hex = absl::StripAsciiWhitespace(signature_hex);
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES ||
      signature_hex.size() != 2 * crypto_sign_BYTES || !IsHex(signature_hex)) {
    return false;
  }
  std::string sig = absl::HexStringToBytes(signature_hex);
  return crypto_sign_verify_detached(
             reinterpret_cast<const unsigned char*>(sig.data()),
             reinterpret_cast<const unsigned char*>(message.data()), message.size(),
             reinterpret_cast<const unsigned char*>(public_key.data())) == 0;
}

}  // namespace prov::integrity
