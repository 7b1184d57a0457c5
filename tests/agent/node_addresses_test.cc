#include "agent/collect/node_addresses.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace prov::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr unsigned kUp = IFF_UP | IFF_RUNNING;

InterfaceAddress V4(const std::string& ifname, const std::string& addr, unsigned flags = kUp) {
  return {ifname, AF_INET, addr, flags};
}
InterfaceAddress V6(const std::string& ifname, const std::string& addr, unsigned flags = kUp) {
  return {ifname, AF_INET6, addr, flags};
}

std::vector<std::string> Collect(std::vector<InterfaceAddress> entries,
                                 std::vector<std::string>* errors) {
  FixedInterfaceAddressSource source(std::move(entries));
  return CollectNodeAddresses(source, errors);
}

TEST(NodeAddressesTest, KeepsUnicastDropsLoopbackLinkLocalMulticastUnspecified) {
  std::vector<std::string> errors;
  auto got = Collect(
      {V4("lo", "127.0.0.1", kUp | IFF_LOOPBACK), V6("lo", "::1", kUp | IFF_LOOPBACK),
       V4("lo", "127.1.2.3"), V4("eth0", "10.0.0.5"), V4("eth0", "169.254.3.4"),
       V6("eth0", "fe80::1"), V6("eth0", "febf:ffff::1"), V6("eth0", "fec0::1"),
       V4("eth0", "224.0.0.251"), V4("eth0", "239.255.255.250"), V6("eth0", "ff02::1"),
       V4("eth0", "0.0.0.0"), V6("eth0", "::"), V6("eth0", "2001:db8::5"), V6("eth0", "fd00::7"),
       V4("ib0", "192.168.7.2"), V4("eth0", "169.253.0.1"), V4("eth0", "223.255.255.1")},
      &errors);
  // fec0::/10 (old site-local) is outside fe80::/10; 169.253/16 and 223/8 are ordinary unicast.
  EXPECT_THAT(got, ElementsAre("10.0.0.5", "169.253.0.1", "192.168.7.2", "223.255.255.1",
                               "2001:db8::5", "fd00::7", "fec0::1"));
  EXPECT_THAT(errors, IsEmpty());
}

TEST(NodeAddressesTest, RoutableAddressOnLoopbackInterfaceIsKept) {
  // BGP-to-the-host fabrics put the node's /32 on lo: decided by address, not IFF_LOOPBACK.
  std::vector<std::string> errors;
  EXPECT_THAT(Collect({V4("lo", "127.0.0.1", kUp | IFF_LOOPBACK),
                       V4("lo", "10.255.0.17", kUp | IFF_LOOPBACK)},
                      &errors),
              ElementsAre("10.255.0.17"));
}

TEST(NodeAddressesTest, DropsInterfacesThatAreDown) {
  std::vector<std::string> errors;
  // IFF_RUNNING without IFF_UP cannot happen on Linux, but only IFF_UP decides.
  EXPECT_THAT(Collect({V4("eth0", "10.0.0.5"), V4("eth1", "10.0.1.5", 0),
                       V6("eth1", "2001:db8::1", IFF_RUNNING), V4("eth2", "10.0.2.5", IFF_UP)},
                      &errors),
              ElementsAre("10.0.0.5", "10.0.2.5"));
  EXPECT_THAT(errors, IsEmpty());
}

TEST(NodeAddressesTest, SortsNumericallyIpv4FirstAndDedupsCanonicalForms) {
  std::vector<std::string> errors;
  auto got = Collect({V6("eth1", "2001:DB8:0:0::1"), V4("eth0", "10.0.0.10"),
                      V6("bond0", "2001:db8::1"), V4("eth0", "10.0.0.9"), V4("vip", "10.0.0.10"),
                      V4("eth0", "9.9.9.9"), V6("eth0", "2001:db8::0:2")},
                     &errors);
  EXPECT_THAT(got, ElementsAre("9.9.9.9", "10.0.0.9", "10.0.0.10", "2001:db8::1", "2001:db8::2"));
  EXPECT_THAT(errors, IsEmpty());

  // The order does not depend on the order getifaddrs returns.
  std::vector<std::string> errors2;
  auto reversed = Collect({V6("eth0", "2001:db8::2"), V4("eth0", "9.9.9.9"), V4("eth0", "10.0.0.9"),
                           V4("eth0", "10.0.0.10"), V6("eth1", "2001:db8::1")},
                          &errors2);
  EXPECT_EQ(got, reversed);
}

TEST(NodeAddressesTest, IgnoresOtherFamiliesAndNamesUnparseableEntries) {
  std::vector<std::string> errors;
  auto got = Collect({{"eth0", AF_PACKET, "aa:bb:cc:dd:ee:ff", kUp},
                      V4("eth0", "10.0.0.5"),
                      V4("eth1", "2001:db8::1"),
                      V6("eth2", "not-an-address"),
                      V4("eth3", "10.0.0.256"),
                      V4("eth4", "")},
                     &errors);
  EXPECT_THAT(got, ElementsAre("10.0.0.5"));
  ASSERT_EQ(errors.size(), 4u);
  EXPECT_EQ(errors[0], "interface eth1: '2001:db8::1' is not an IPv4 address");
  EXPECT_EQ(errors[1], "interface eth2: 'not-an-address' is not an IPv6 address");
  EXPECT_THAT(errors[2], HasSubstr("'10.0.0.256'"));
  EXPECT_THAT(errors[3], HasSubstr("interface eth4: ''"));
}

TEST(NodeAddressesTest, SourceErrorIsAnErrorNotACrash) {
  FixedInterfaceAddressSource source;
  source.Set(absl::ErrnoToStatus(EMFILE, "getifaddrs"));
  std::vector<std::string> errors;
  EXPECT_THAT(CollectNodeAddresses(source, &errors), IsEmpty());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("getifaddrs"));
  EXPECT_THAT(errors[0], HasSubstr("Too many open files"));
}

TEST(NodeAddressesTest, CapsAtTheFirstAddressesInSortedOrder) {
  std::vector<InterfaceAddress> entries;
  for (int i = 70; i > 0; --i) entries.push_back(V4("eth0", absl::StrCat("10.0.1.", i)));
  entries.push_back(V6("eth0", "2001:db8::1"));
  std::vector<std::string> errors;
  auto got = Collect(entries, &errors);
  ASSERT_EQ(got.size(), kMaxNodeAddresses);
  EXPECT_EQ(got.front(), "10.0.1.1");
  EXPECT_EQ(got.back(), "10.0.1.64");
  EXPECT_THAT(errors, ElementsAre("71 unicast addresses, only the first 64 reported"));

  // Exactly at the cap: everything, no error.
  entries.resize(kMaxNodeAddresses);
  errors.clear();
  EXPECT_EQ(Collect(entries, &errors).size(), kMaxNodeAddresses);
  EXPECT_THAT(errors, IsEmpty());
}

TEST(NodeAddressesTest, RealSourceListsTheMachinesInterfaces) {
  // The one test of the getifaddrs wrapper. What a machine (or a sandbox's network namespace,
  // where even lo may be down and bare) has varies, so check shape and consistency only.
  auto entries = RealInterfaceAddresses().List();
  ASSERT_TRUE(entries.ok()) << entries.status();
  std::vector<std::string> raw;
  for (const InterfaceAddress& e : *entries) {
    EXPECT_TRUE(e.family == AF_INET || e.family == AF_INET6) << e.ifname;
    EXPECT_FALSE(e.ifname.empty());
    unsigned char buf[16];
    EXPECT_EQ(inet_pton(e.family, e.address.c_str(), buf), 1) << e.address;
    raw.push_back(e.address);
  }
  std::vector<std::string> errors;
  auto addrs = CollectNodeAddresses(RealInterfaceAddresses(), &errors);
  EXPECT_THAT(errors, IsEmpty());
  for (const std::string& a : addrs) {
    EXPECT_THAT(raw, ::testing::Contains(a));  // inet_ntop output is already canonical
    EXPECT_NE(a, "127.0.0.1");
    EXPECT_NE(a, "::1");
    EXPECT_NE(a.rfind("fe80:", 0), 0u) << a;
  }
}

}  // namespace
}  // namespace prov::agent
