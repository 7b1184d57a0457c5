// common/log: text and JSON records (JSON parsed back with nlohmann), level filtering, the
// per-call-site rate limit on a fake clock, and one record per line whatever the input.
#include "common/log/log.h"

#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace prov::log {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class LogTest : public ::testing::Test {
 protected:
  Logger Make(Format format, Level level = Level::kInfo, int per_minute = 20) {
    LogOptions o;
    o.format = format;
    o.level = level;
    o.per_site_per_minute = per_minute;
    o.clock = &clock_;
    o.out = &out_;
    return Logger(o);
  }
  std::vector<std::string> Lines() {
    std::vector<std::string> lines = absl::StrSplit(out_.str(), '\n', absl::SkipEmpty());
    return lines;
  }

  // 2023-11-14T22:13:20.250Z
  FakeClock clock_{absl::FromUnixMillis(1'700'000'000'250)};
  std::ostringstream out_;
};

TEST_F(LogTest, TextRecordHasTimeLevelComponentMessageAndFields) {
  Logger logger = Make(Format::kText);
  static const CallSite site{"x.cc", 1};
  logger.Log(site, Level::kWarn, "alerts", "posting failed",
             {{"url", "http://am:9093"},
              {"failures", 3},
              {"why", "connection refused"},
              {"backoff", absl::Seconds(4)},
              {"ok", false}});
  EXPECT_THAT(Lines(), ElementsAre("2023-11-14T22:13:20.250Z WARN alerts: posting failed "
                                   "url=http://am:9093 failures=3 why=\"connection refused\" "
                                   "backoff=4s ok=false"));
}

TEST_F(LogTest, JsonRecordParsesWithTypedFields) {
  Logger logger = Make(Format::kJson);
  static const CallSite site{"x.cc", 2};
  logger.Log(site, Level::kError, "ingest", "commit failed, nothing acked",
             {{"reports", size_t{512}},
              {"error", absl::UnavailableError("disk full")},
              {"ratio", 0.5},
              {"msg", "a field named like a member"}});
  std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  nlohmann::json j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j["time"], "2023-11-14T22:13:20.250Z");
  EXPECT_EQ(j["level"], "error");
  EXPECT_EQ(j["component"], "ingest");
  EXPECT_EQ(j["msg"], "commit failed, nothing acked");
  EXPECT_EQ(j["reports"], 512);
  EXPECT_EQ(j["error"], "disk full");
  EXPECT_EQ(j["ratio"], 0.5);
  EXPECT_EQ(j["field_msg"], "a field named like a member");
}

// Text from outside (a report's strings) cannot start a new record or break the JSON.
TEST_F(LogTest, HostileTextStaysOnOneLine) {
  for (Format format : {Format::kText, Format::kJson}) {
    out_.str("");
    Logger logger = Make(format);
    static const CallSite site{"x.cc", 3};
    logger.Log(site, Level::kInfo, "ingest", "node a\n2023-11-14T00:00:00.000Z ERROR provd: forged",
               {{"node", "b\"\r\n\x01"}, {"bytes", std::string("\xff\xfe", 2)}});
    std::vector<std::string> lines = Lines();
    ASSERT_EQ(lines.size(), 1u) << out_.str();
    if (format == Format::kJson) {
      nlohmann::json j = nlohmann::json::parse(lines[0]);
      EXPECT_EQ(j["node"], "b\"\r\n\x01");
    } else {
      EXPECT_THAT(lines[0], HasSubstr("node a\\n2023"));
      EXPECT_THAT(lines[0], HasSubstr("node=\"b\\\"\\r\\n\\x01\""));
    }
  }
}

TEST_F(LogTest, RecordsBelowTheLevelAreDropped) {
  Logger logger = Make(Format::kText, Level::kWarn);
  static const CallSite site{"x.cc", 4};
  EXPECT_FALSE(logger.Enabled(Level::kInfo));
  EXPECT_TRUE(logger.Enabled(Level::kError));
  logger.Log(site, Level::kDebug, "c", "debug");
  logger.Log(site, Level::kInfo, "c", "info");
  logger.Log(site, Level::kWarn, "c", "warn");
  logger.Log(site, Level::kError, "c", "error");
  std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], HasSubstr("WARN c: warn"));
  EXPECT_THAT(lines[1], HasSubstr("ERROR c: error"));
  EXPECT_EQ(logger.suppressed_total(), 0u);  // filtered records are not rate-limited ones
  // What prov_log_records_total{level} reports (server/metrics/log_collector.h).
  EXPECT_EQ(logger.written(Level::kDebug), 0u);
  EXPECT_EQ(logger.written(Level::kInfo), 0u);
  EXPECT_EQ(logger.written(Level::kWarn), 1u);
  EXPECT_EQ(logger.written(Level::kError), 1u);
}

// A flood from one call site: N records a minute, then one "suppressed K messages" line when
// the site next logs after the minute; another call site is unaffected.
TEST_F(LogTest, EachCallSiteIsRateLimitedPerMinute) {
  Logger logger = Make(Format::kText, Level::kInfo, /*per_minute=*/3);
  static const CallSite flood{"ingest_writer.cc", 166};
  static const CallSite other{"main.cc", 9};
  for (int i = 0; i < 100; ++i) {
    logger.Log(flood, Level::kWarn, "ingest", "bad report", {{"i", i}});
    clock_.Advance(absl::Milliseconds(100));  // 10 s in all
  }
  logger.Log(other, Level::kInfo, "provd", "still heard");
  std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_THAT(lines[2], HasSubstr("bad report i=2"));
  EXPECT_THAT(lines[3], HasSubstr("still heard"));
  EXPECT_EQ(logger.suppressed_total(), 97u);
  EXPECT_EQ(logger.written(Level::kWarn), 3u) << "suppressed records are not counted as written";
  EXPECT_EQ(logger.written(Level::kInfo), 1u);

  clock_.Advance(absl::Minutes(1));
  logger.Log(flood, Level::kWarn, "ingest", "bad report", {{"i", 100}});
  lines = Lines();
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_THAT(lines[4], HasSubstr("WARN ingest: suppressed 97 messages "
                                  "site=ingest_writer.cc:166 suppressed=97 limit_per_minute=3"));
  EXPECT_THAT(lines[5], HasSubstr("bad report i=100"));

  // Suppressed again, then flushed at shutdown without waiting for the next record.
  for (int i = 0; i < 5; ++i) logger.Log(flood, Level::kWarn, "ingest", "bad report");
  logger.FlushSuppressed();
  lines = Lines();
  ASSERT_EQ(lines.size(), 9u);
  EXPECT_THAT(lines[8], HasSubstr("suppressed 3 messages"));
  logger.FlushSuppressed();  // nothing pending: nothing written
  EXPECT_EQ(Lines().size(), 9u);
}

TEST(LogParseTest, LevelsAndFormats) {
  EXPECT_EQ(*ParseLevel("debug"), Level::kDebug);
  EXPECT_EQ(*ParseLevel("WARN"), Level::kWarn);
  EXPECT_EQ(*ParseLevel("error"), Level::kError);
  EXPECT_THAT(ParseLevel("loud").status().message(),
              HasSubstr("\"loud\" is not one of debug, info, warn, error"));
  EXPECT_EQ(*ParseFormat("json"), Format::kJson);
  EXPECT_FALSE(ParseFormat("xml").ok());
}

TEST(LogMacroTest, DefaultLoggerAndMacrosWriteThroughSetDefault) {
  std::ostringstream out;
  FakeClock clock;
  LogOptions o;
  o.out = &out;
  o.clock = &clock;
  o.format = Format::kJson;
  SetDefault(std::make_unique<Logger>(o));
  PROV_LOG_INFO("provd", "hello", {"port", 8080});
  PROV_LOG_DEBUG("provd", "not shown");
  PROV_LOG_WARN("provd", "no fields");
  std::vector<std::string> lines = absl::StrSplit(out.str(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["port"], 8080);
  EXPECT_THAT(lines[1], StartsWith("{\"time\":"));
  SetDefault(std::make_unique<Logger>(LogOptions{}));  // `out` goes away
}

}  // namespace
}  // namespace prov::log
