// ParseStoreUrl: both engines' forms, and errors that name the wrong part.
#include "server/store/store_url.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace prov::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(StoreUrlTest, SqliteForms) {
  auto plain = ParseStoreUrl("/var/lib/provd");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->engine, StoreUrl::Engine::kSqlite);
  EXPECT_EQ(plain->sqlite_dir, "/var/lib/provd");

  auto relative = ParseStoreUrl("data/provd");
  ASSERT_TRUE(relative.ok()) << relative.status();
  EXPECT_EQ(relative->sqlite_dir, "data/provd");

  auto with_scheme = ParseStoreUrl("sqlite:/srv/provd:2026");  // a colon in the directory
  ASSERT_TRUE(with_scheme.ok()) << with_scheme.status();
  EXPECT_EQ(with_scheme->engine, StoreUrl::Engine::kSqlite);
  EXPECT_EQ(with_scheme->sqlite_dir, "/srv/provd:2026");
  EXPECT_EQ(with_scheme->Redacted(), "sqlite:/srv/provd:2026");
}

TEST(StoreUrlTest, PostgresUriWithSeveralHosts) {
  auto url =
      ParseStoreUrl("postgresql://provd@db1:5432,db2:5433/provd?target_session_attrs=read-write");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->engine, StoreUrl::Engine::kPostgres);
  EXPECT_EQ(url->pg_conninfo,
            "postgresql://provd@db1:5432,db2:5433/provd?target_session_attrs=read-write");
  const std::string r = url->Redacted();
  EXPECT_THAT(r, HasSubstr("host=db1,db2"));
  EXPECT_THAT(r, HasSubstr("port=5432,5433"));
  EXPECT_THAT(r, HasSubstr("dbname=provd"));
  EXPECT_THAT(r, HasSubstr("target_session_attrs=read-write"));
}

TEST(StoreUrlTest, PostgresSchemeAliasAndUnixSocketDirectory) {
  auto url = ParseStoreUrl("postgres:///provd?host=/var/run/postgresql&user=provd");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->engine, StoreUrl::Engine::kPostgres);
  EXPECT_THAT(url->Redacted(), HasSubstr("host=/var/run/postgresql"));
  EXPECT_THAT(url->Redacted(), HasSubstr("user=provd"));
}

TEST(StoreUrlTest, PostgresKeywordValueForm) {
  auto url = ParseStoreUrl("postgresql:host=/tmp/pg port=5432 dbname=provd");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->pg_conninfo, "host=/tmp/pg port=5432 dbname=provd");
  EXPECT_THAT(url->Redacted(), HasSubstr("host=/tmp/pg"));
}

TEST(StoreUrlTest, RedactedNeverShowsThePassword) {
  for (const char* text :
       {"postgresql://provd:s3cret@db1/provd", "postgresql://provd@db1/provd?password=s3cret",
        "postgresql:host=db1 password=s3cret dbname=provd"}) {
    auto url = ParseStoreUrl(text);
    ASSERT_TRUE(url.ok()) << text << ": " << url.status();
    EXPECT_THAT(url->Redacted(), Not(HasSubstr("s3cret"))) << text;
    EXPECT_THAT(url->Redacted(), HasSubstr("password=***")) << text;
  }
  // Every secret libpq marks (dispchar '*'), not only password.
  auto url = ParseStoreUrl("postgresql://provd@db1/provd?sslpassword=k3ypass&sslmode=require");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_THAT(url->Redacted(), Not(HasSubstr("k3ypass")));
  EXPECT_THAT(url->Redacted(), HasSubstr("sslpassword=***"));
  EXPECT_THAT(url->Redacted(), HasSubstr("sslmode=require"));
}

TEST(StoreUrlTest, ErrorsNeverShowThePassword) {
  for (const char* text : {
           "postgresql://provd:s3cret@[db1/provd",       // libpq quotes the whole URI
           "postgresql://provd:s3cret@db1:5432x/provd",  // and here
           "postgresql://provd:s3%zzcret@db1/provd",     // the bad percent-encoded token
           "postgresql://provd@db1/provd?password=s3%zzcret",
           "postgresql:host=db1 password = 's3cret",
           "mysql://provd:s3cret@db1/provd",
           "postgresql:provd:s3cret",
       }) {
    auto url = ParseStoreUrl(text);
    ASSERT_FALSE(url.ok()) << text;
    EXPECT_THAT(std::string(url.status().message()), Not(HasSubstr("s3"))) << url.status();
  }
}

TEST(StoreUrlTest, ErrorsNameWhatIsWrong) {
  struct Case {
    const char* text;
    const char* expected;
  } cases[] = {
      {"", "is empty"},
      {"sqlite:", "sqlite: needs a directory"},
      {"mysql://db/provd", "unknown scheme \"mysql:\""},
      {"data:dir", "unknown scheme \"data:\""},
      {"postgresql://db1/provd?target_session_attrs=leader",
       "target_session_attrs \"leader\" is not one of any, read-write"},
      {"postgresql://db1:70000/provd", "port \"70000\" is not a number from 1 to 65535"},
      {"postgresql://db1:5432,db2:5432,db3:5432/provd?port=1,2", "2 ports for 3 hosts"},
      {"postgresql://db1/provd?colour=blue", "invalid URI query parameter: \"colour\""},
      {"postgresql:provd", "neither a postgresql:// URI nor"},
      {"postgresql:host=db1 bogus=1", "invalid connection option \"bogus\""},
  };
  for (const Case& c : cases) {
    auto url = ParseStoreUrl(c.text);
    ASSERT_FALSE(url.ok()) << c.text;
    EXPECT_EQ(url.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(std::string(url.status().message()), HasSubstr(c.expected)) << c.text;
  }
}

}  // namespace
}  // namespace prov::server
