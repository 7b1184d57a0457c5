// NodeEventForwarder (server/analysis/node_event_forwarder.h) over a fake batch log: each round
// becomes one row the leader's feed decodes back into the same events; a failed append holds the
// events for the next round or Retry, bounded, every case counted in its metric.
#include "server/analysis/node_event_forwarder.h"

#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/testing/fake_clock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "server/analysis/observation_record.h"

namespace prov::server {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'760'000'000);

class FakeAppender : public IngestBatchAppender {
 public:
  struct Row {
    int64_t received_us;
    std::string record;
  };
  absl::Status Append(int64_t received_us, absl::string_view record) override {
    absl::MutexLock lock(&mu_);
    if (!errors_.empty()) {
      absl::Status s = errors_.front();
      errors_.pop_front();
      return s;
    }
    rows_.push_back({received_us, std::string(record)});
    return absl::OkStatus();
  }
  void FailNext(absl::Status s) {
    absl::MutexLock lock(&mu_);
    errors_.push_back(std::move(s));
  }
  std::vector<Row> rows() const {
    absl::MutexLock lock(&mu_);
    return rows_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<Row> rows_ ABSL_GUARDED_BY(mu_);
  std::deque<absl::Status> errors_ ABSL_GUARDED_BY(mu_);
};

NodeEvent Rejections(const std::string& node, int64_t total) {
  NodeEvent e;
  e.kind = NodeEvent::Kind::kRejections;
  e.node_id = node;
  e.time = kT0;
  e.count = 1;
  e.total = total;
  e.detail = "refused";
  return e;
}

std::vector<std::string> Nodes(const std::string& record) {
  auto decoded = DecodeLoggedRecord(record);
  EXPECT_TRUE(decoded.ok()) << decoded.status();
  std::vector<std::string> out;
  if (!decoded.ok()) return out;
  EXPECT_TRUE(decoded->observations.empty());
  for (const NodeEvent& e : decoded->events) {
    out.push_back(absl::StrCat(e.node_id, "/", e.total));
  }
  return out;
}

double Metric(prometheus::Registry& registry, const std::string& name) {
  for (const auto& family : registry.Collect()) {
    if (family.name != name || family.metric.empty()) continue;
    const auto& m = family.metric.front();
    return family.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
  }
  ADD_FAILURE() << "no metric " << name;
  return -1;
}

class NodeEventForwarderTest : public ::testing::Test {
 protected:
  std::unique_ptr<NodeEventForwarder> Make(size_t max_pending = 10000) {
    auto appender = std::make_unique<FakeAppender>();
    log_ = appender.get();
    return std::make_unique<NodeEventForwarder>(std::move(appender), clock_, registry_,
                                                max_pending);
  }
  FakeClock clock_{kT0 + absl::Minutes(5)};
  prometheus::Registry registry_;
  FakeAppender* log_ = nullptr;  // owned by the forwarder
};

TEST_F(NodeEventForwarderTest, EachRoundIsOneRowStampedWithThisReplicasClock) {
  auto forwarder = Make();
  forwarder->Forward({Rejections("n-1", 1), Rejections("n-2", 4)});
  forwarder->Forward({});  // nothing: no row
  clock_.Advance(absl::Seconds(3));
  forwarder->Forward({Rejections("n-1", 2)});
  std::vector<FakeAppender::Row> rows = log_->rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].received_us, absl::ToUnixMicros(kT0 + absl::Minutes(5)));
  EXPECT_EQ(rows[1].received_us, absl::ToUnixMicros(kT0 + absl::Minutes(5) + absl::Seconds(3)));
  EXPECT_EQ(Nodes(rows[0].record), (std::vector<std::string>{"n-1/1", "n-2/4"}));
  EXPECT_EQ(Nodes(rows[1].record), (std::vector<std::string>{"n-1/2"}));
  EXPECT_EQ(Metric(registry_, "prov_node_events_forwarded_total"), 3);
  EXPECT_EQ(Metric(registry_, "prov_node_events_forward_failures_total"), 0);
  EXPECT_EQ(forwarder->pending(), 0u);
}

TEST_F(NodeEventForwarderTest, AFailedAppendHoldsTheEventsForTheNextRoundOrRetry) {
  auto forwarder = Make();
  log_->FailNext(absl::UnavailableError("server closed the connection"));
  forwarder->Forward({Rejections("n-1", 1)});
  EXPECT_TRUE(log_->rows().empty());
  EXPECT_EQ(forwarder->pending(), 1u);
  EXPECT_EQ(Metric(registry_, "prov_node_events_forward_failures_total"), 1);
  EXPECT_EQ(Metric(registry_, "prov_node_events_forward_pending"), 1);

  // The next round carries the held events first, in one row.
  forwarder->Forward({Rejections("n-2", 7)});
  ASSERT_EQ(log_->rows().size(), 1u);
  EXPECT_EQ(Nodes(log_->rows()[0].record), (std::vector<std::string>{"n-1/1", "n-2/7"}));
  EXPECT_EQ(forwarder->pending(), 0u);
  EXPECT_EQ(Metric(registry_, "prov_node_events_forward_pending"), 0);

  // With no next round, Retry (the sync thread's) sends them.
  log_->FailNext(absl::UnavailableError("down"));
  forwarder->Forward({Rejections("n-3", 1)});
  forwarder->Retry();
  ASSERT_EQ(log_->rows().size(), 2u);
  EXPECT_EQ(Nodes(log_->rows()[1].record), (std::vector<std::string>{"n-3/1"}));
  forwarder->Retry();  // nothing held: no row
  EXPECT_EQ(log_->rows().size(), 2u);
  EXPECT_EQ(Metric(registry_, "prov_node_events_forwarded_total"), 3);
  EXPECT_EQ(Metric(registry_, "prov_node_events_forward_failures_total"), 2);
}

TEST_F(NodeEventForwarderTest, HeldEventsAreBoundedTheOldestDroppedAndCounted) {
  auto forwarder = Make(/*max_pending=*/3);
  for (int i = 1; i <= 5; ++i) {
    log_->FailNext(absl::UnavailableError("down"));
    forwarder->Forward({Rejections("n-" + std::to_string(i), i)});
  }
  EXPECT_EQ(forwarder->pending(), 3u);
  EXPECT_EQ(Metric(registry_, "prov_node_events_forward_dropped_total"), 2);
  forwarder->Retry();
  ASSERT_EQ(log_->rows().size(), 1u);
  EXPECT_EQ(Nodes(log_->rows()[0].record), (std::vector<std::string>{"n-3/3", "n-4/4", "n-5/5"}));
}

}  // namespace
}  // namespace prov::server
