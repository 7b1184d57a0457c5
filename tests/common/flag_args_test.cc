#include "common/flag_args.h"

#include <fstream>

#include "gtest/gtest.h"
#include "tests/server/temp_dir.h"

namespace prov {
namespace {

using Args = std::vector<std::string>;

TEST(FlagArgsTest, DashesInNamesBecomeUnderscoresValuesUntouched) {
  auto args = NormalizeArgs(
      {"provd", "--data-dir=/tmp/a-b", "--max-batch", "10", "-insecure", "--", "--not-a-flag"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(*args, (Args{"provd", "--data_dir=/tmp/a-b", "--max_batch", "10", "-insecure", "--",
                         "--not-a-flag"}));
}

TEST(FlagArgsTest, ExpandsFlagfilesInPlace) {
  server::testing::TempDir dir;
  const std::string path = dir.path() + "/provd.flags";
  std::ofstream(path) << "# provd config\n\n--queue-capacity=128\n  --silent-after=2m  \n";
  auto args = NormalizeArgs({"provd", "--flagfile=" + path, "--queue-capacity=64"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(*args,
            (Args{"provd", "--queue_capacity=128", "--silent_after=2m", "--queue_capacity=64"}));
  args = NormalizeArgs({"provd", "--flagfile", path});
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(args->size(), 3u);
}

TEST(FlagArgsTest, FlagfileErrorsNameTheFile) {
  server::testing::TempDir dir;
  auto missing = NormalizeArgs({"provd", "--flagfile=" + dir.path() + "/nope"});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("--flagfile: cannot read " + dir.path() + "/nope"),
            std::string::npos);
  const std::string path = dir.path() + "/bad.flags";
  std::ofstream(path) << "--ok=1\nnot a flag\n";
  auto bad = NormalizeArgs({"provd", "--flagfile=" + path});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "--flagfile: " + path + ":2: \"not a flag\" is not a flag");
  const std::string loop = dir.path() + "/loop.flags";
  std::ofstream(loop) << "--flagfile=" << loop << "\n";
  auto nested = NormalizeArgs({"provd", "--flagfile=" + loop});
  ASSERT_FALSE(nested.ok());
  EXPECT_NE(nested.status().message().find("nested deeper than 8"), std::string::npos);
  EXPECT_FALSE(NormalizeArgs({"provd", "--flagfile"}).ok());
}

}  // namespace
}  // namespace prov
