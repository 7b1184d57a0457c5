#include "common/host_port.h"

#include "gtest/gtest.h"

namespace prov {
namespace {

TEST(HostOfAddressTest, HostPartOfListenAddresses) {
  EXPECT_EQ(HostOfAddress("0.0.0.0:7443"), "0.0.0.0");
  EXPECT_EQ(HostOfAddress("provd-0.provd:7443"), "provd-0.provd");
  EXPECT_EQ(HostOfAddress("[::1]:7443"), "[::1]");
  EXPECT_EQ(HostOfAddress("localhost"), "localhost");
  EXPECT_EQ(HostOfAddress(""), "");
}

}  // namespace
}  // namespace prov
