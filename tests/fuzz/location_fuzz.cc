// Location verification's untrusted input (issue 11): a landmark's SubmitMeasurements record
// (SignedMeasurement bytes) through LocationBook::Check, the way provd checks it, and, with the
// first byte 'Y', the rest as provd's location file (ParseLocationConfig).
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/integrity/ed25519.h"
#include "server/location/location_book.h"
#include "server/location/location_config.h"

namespace {

struct World {
  prov::server::location::LocationConfig config;
  std::unique_ptr<prov::server::location::LocationBook> book;
};

const World& TheWorld() {
  static const World* world = [] {
    auto* w = new World;
    const auto key = *prov::integrity::SigningKeyFromSeed(std::string(32, 'l'));
    auto config = prov::server::location::ParseLocationConfig(
        absl::StrCat("landmarks:\n  - id: lm-1\n    position: {lat: 50, lon: 8}\n"
                     "    public_key: \"ed25519-public ",
                     absl::BytesToHexString(key.public_key),
                     "\"\n    udp_address: \"10.0.0.1:7701\"\n"
                     "  - id: lm-2\n    position: {lat: 48, lon: 2}\n"
                     "    public_key: \"ed25519-public ",
                     absl::BytesToHexString(key.public_key),
                     "\"\n    udp_address: \"10.0.0.2:7701\"\n"
                     "datacenters:\n  - id: dc1\n    position: {lat: 50, lon: 8.1}\n"),
        "fuzz.yaml");
    w->config = *std::move(config);
    w->book = std::make_unique<prov::server::location::LocationBook>(w->config);
    w->book->SetAssignment(prov::server::location::AssignmentTable::Build(
        w->config, {{.node_id = "n1",
                     .responder = "10.0.0.9:7700",
                     .spki_der = std::string(91, 'k'),
                     .datacenter = "dc1",
                     .region = "",
                     .accepted_keys = {},
                     .known_keys = {},
                     .revoked = false}}));
    return w;
  }();
  return *world;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view in(reinterpret_cast<const char*>(data), size);
  if (!in.empty() && in[0] == 'Y') {
    (void)prov::server::location::ParseLocationConfig(in.substr(1), "fuzz.yaml");
    return 0;
  }
  provenance::v1::SignedMeasurement record;
  if (!record.ParseFromArray(data, static_cast<int>(size))) record.set_measurement(std::string(in));
  (void)TheWorld().book->Check(record, "", absl::FromUnixSeconds(1'800'000'000), {});
  return 0;
}
