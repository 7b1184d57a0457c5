// prov-hostile-probe: what a hostile tenant or client can do to a real provd (issue 14).
//
//   build/release/bin/prov-hostile-probe                      # every family, provd from bin/
//   build/release/bin/prov-hostile-probe --families=frames,seq --keep_dir
//
// Starts the real provd (and provctl for imports) on loopback in a temporary data directory and
// sends it what a customer with root on a rented node, or anyone who can reach the dashboard,
// could send. Per family it prints: variants tried, provd crashes, reports lost (acked but not
// stored, or a genuine report that could never be stored) and wrong acceptances (hostile input
// taken as if it were good: a silent OK, an ack, an import that exits 0, an unthrottled flood).
// It is a measuring tool, not a test: the regression tests for each finding live under tests/.
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tools/probe/probe_families.h"

ABSL_FLAG(std::string, bin_dir, "", "folder with provd and provctl (default: this program's)");
ABSL_FLAG(std::string, families, "all",
          "comma-separated: frames,oversize,unknown,seq,interval,auth,slowloris,imports,kill");
ABSL_FLAG(bool, keep_dir, false, "keep the temporary data directory and provd's logs");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  std::string bin_dir = absl::GetFlag(FLAGS_bin_dir);
  if (bin_dir.empty()) {
    bin_dir = std::filesystem::canonical("/proc/self/exe").parent_path().string();
  }
  char tmpl[] = "/tmp/prov-probe-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    std::perror("mkdtemp");
    return 2;
  }
  prov::probe::ProbeEnv env{.bin_dir = bin_dir, .work_dir = tmpl};
  std::vector<std::string> wanted = absl::StrSplit(absl::GetFlag(FLAGS_families), ',');
  auto want = [&](const std::string& name) {
    for (const auto& w : wanted) {
      if (w == "all" || w == name) return true;
    }
    return false;
  };

  std::vector<prov::probe::FamilyResult> results;
  for (const auto& family : prov::probe::AllFamilies()) {
    if (!want(family.name)) continue;
    std::fprintf(stderr, "probe: %s ...\n", family.name.c_str());
    results.push_back(family.run(env));
  }

  std::printf("%-10s %8s %8s %13s %17s  %s\n", "family", "variants", "crashes", "reports_lost",
              "wrong_acceptances", "notes");
  int bad = 0;
  for (const auto& r : results) {
    std::printf("%-10s %8d %8d %13d %17d  %s\n", r.name.c_str(), r.variants, r.crashes,
                r.reports_lost, r.wrong_acceptances, r.notes.c_str());
    for (const auto& d : r.details) std::printf("           - %s\n", d.c_str());
    bad += r.crashes + r.reports_lost + r.wrong_acceptances;
  }
  if (absl::GetFlag(FLAGS_keep_dir)) {
    std::printf("data and logs kept in %s\n", tmpl);
  } else {
    std::filesystem::remove_all(tmpl);
  }
  return bad == 0 ? 0 : 1;
}
