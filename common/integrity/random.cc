#include "common/integrity/random.h"

#include <sodium.h>

#include <cstdlib>
#include <vector>

namespace prov::integrity {

std::string RandomHex(size_t bytes) {
  static const bool initialised = sodium_init() >= 0;
  if (!initialised) std::abort();  // no randomness source: nothing secure can be issued
  std::vector<unsigned char> buf(bytes);
  randombytes_buf(buf.data(), buf.size());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char b : buf) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

}  // namespace prov::integrity
