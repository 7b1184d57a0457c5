// Cryptographically secure random bytes (libsodium's randombytes_buf), as lowercase hex.
//
//   std::string secret = RandomHex(32);   // 64 hex characters
//
// Thread-safe (libsodium is initialised once).
#pragma once

#include <cstddef>
#include <string>

namespace prov::integrity {

std::string RandomHex(size_t bytes);

}  // namespace prov::integrity
