#include "server/store/repo/fleet_reader.h"

namespace prov::server {

uint32_t ChooseSeriesBucketHours(int64_t hours) {
  for (uint32_t b : {1u, 6u, 24u}) {
    if ((hours + b - 1) / b <= static_cast<int64_t>(FleetReader::kMaxSeriesPoints)) return b;
  }
  return 168;
}

}  // namespace prov::server
