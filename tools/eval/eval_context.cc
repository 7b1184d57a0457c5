#include "tools/eval/eval_context.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/sha256.h"

namespace prov::eval {
namespace {

constexpr const char* kRegions[] = {"us-east", "eu-central", "ap-southeast", "us-west"};
// Countries of incorporation and nationality for synthetic identities: none is restricted in the
// eval policy (restricted_jurisdictions), so only the reseller typology is a restricted party.
constexpr const char* kCountries[] = {"US", "DE", "FR", "GB", "NL", "SG", "JP", "KR",
                                      "CA", "AU", "SE", "CH", "IE", "IN", "BR", "ES"};
constexpr const char* kFirst[] = {"Alma",  "Bruno", "Chiara", "Dario", "Elif",    "Femi",
                                  "Greta", "Hugo",  "Ines",   "Jonas", "Kaito",   "Lena",
                                  "Mateo", "Noor",  "Oskar",  "Priya", "Quentin", "Rosa"};
constexpr const char* kSyl[] = {"var", "lo",  "mek", "tri", "sol", "den", "ka", "ru",  "bel",
                                "zon", "qui", "fa",  "mir", "tal", "nev", "os", "pra", "wen"};
constexpr const char* kWords[] = {"Analytics", "Robotics",   "Labs",       "Systems",
                                  "Vision",    "Cloudworks", "Biocompute", "Media"};
constexpr const char* kForms[] = {"Inc.", "GmbH", "Ltd", "B.V.", "SAS", "K.K.", "Pty Ltd", "AB"};

}  // namespace

EvalContext::EvalContext(uint64_t seed, uint32_t interval_seconds, uint32_t reports)
    : rng_(seed), interval_(interval_seconds), reports_(reports) {
  scenario_.set_interval_seconds(interval_seconds);
  scenario_.set_reports_per_node(reports);
  for (int d = 0; d < 8; ++d) {
    auto* dc = scenario_.add_datacenters();
    dc->set_name(absl::StrFormat("dc-%02d", d + 1));
    dc->set_region(kRegions[d / 2]);
  }
}

std::string EvalContext::Hex(int digits) {
  std::string out;
  while (static_cast<int>(out.size()) < digits) absl::StrAppendFormat(&out, "%016x", rng_());
  return out.substr(0, digits);
}

std::string EvalContext::Digest(const std::string& what) {
  return absl::StrCat("sha256:", Sha256Hex(what));
}

std::string EvalContext::PersonName() {
  std::string surname = absl::StrCat(kSyl[Uniform(std::size(kSyl))], kSyl[Uniform(std::size(kSyl))],
                                     kSyl[Uniform(std::size(kSyl))]);
  surname[0] = static_cast<char>(surname[0] - 'a' + 'A');
  return absl::StrCat(kFirst[Uniform(std::size(kFirst))], " ", surname);
}

std::string EvalContext::CompanyName() {
  std::string stem = absl::StrCat(kSyl[Uniform(std::size(kSyl))], kSyl[Uniform(std::size(kSyl))],
                                  kSyl[Uniform(std::size(kSyl))]);
  stem[0] = static_cast<char>(stem[0] - 'a' + 'A');
  return absl::StrCat(stem, " ", kWords[Uniform(std::size(kWords))], " ",
                      kForms[Uniform(std::size(kForms))]);
}

void EvalContext::RealisticIdentity(AccountRow* row) {
  auto title = [](std::string s) {
    bool start = true;
    for (char& c : s) {
      c = start ? absl::ascii_toupper(c) : absl::ascii_tolower(c);
      start = c == ' ' || c == '-';
    }
    return s;
  };
  // About one owner in five from the Spanish tables when they are loaded, otherwise US.
  const bool es = !names_->es_surnames.empty() && Uniform(5) == 0;
  const WeightedNames& given = es ? names_->es_given : names_->us_given;
  const WeightedNames& surnames = es ? names_->es_surnames : names_->us_surnames;
  std::string surname = title(surnames.Draw(Real(0, 1)));
  if (es && Uniform(2) == 0) absl::StrAppend(&surname, " ", title(surnames.Draw(Real(0, 1))));
  const std::string country = es ? "ES" : "US";
  row->owners = {absl::StrCat(title(given.Draw(Real(0, 1))), " ", surname, " (", country, ")")};
  row->country = country;
  const char* form = es ? (Uniform(3) == 0 ? "S.A." : "S.L.")
                        : std::vector<const char*>{"LLC", "Inc.", "Corp.", "LLC"}[Uniform(4)];
  // A third named after the owner ("Garcia Analytics LLC"), the rest from the SEC vocabulary:
  // a distinctive word (any of the table, uniformly) then a frequent one ("Aurora Holdings").
  std::string words =
      Uniform(3) == 0 ? absl::StrCat(surname, " ", title(names_->company_tokens.Draw(Real(0, 1))))
                      : absl::StrCat(title(names_->company_tokens.DrawUniform(Real(0, 1))), " ",
                                     title(names_->company_tokens.Draw(Real(0, 1))));
  row->legal_entity = absl::StrCat(words, " ", form);
  if (Uniform(10) < 3) {  // incorporated through a registered agent: its address, shared
    const auto& agents = RegisteredAgentAddresses();
    row->addresses = {agents[Uniform(agents.size())]};
  }
  if (Uniform(5) == 0) {  // a small customer on webmail
    const auto& webmail = WebmailDomains();
    row->email_domains = {webmail[Uniform(webmail.size())]};
  }
}

std::string EvalContext::NewAccount() {
  uint32_t n = next_account_++;
  AccountRow row;
  row.account_id = absl::StrFormat("cust-%05d-%s", n, Hex(4));
  row.legal_entity = CompanyName();
  row.country = kCountries[Uniform(std::size(kCountries))];
  row.owners.push_back(
      absl::StrCat(PersonName(), " (", kCountries[Uniform(std::size(kCountries))], ")"));
  row.addresses.push_back(absl::StrFormat("%d %s Street, Unit %d", 1 + Uniform(400),
                                          kSyl[Uniform(std::size(kSyl))], n));
  row.payment_fingerprint = absl::StrCat("pf-", Hex(24));
  row.email_domains.push_back(absl::StrFormat("c%05d-%s.example", n, Hex(4)));
  row.source_ips.push_back(
      absl::StrFormat("198.%d.%d.%d", 18 + (n >> 16), (n >> 8) & 255, n & 255));
  if (names_ != nullptr) RealisticIdentity(&row);
  accounts_.push_back(std::move(row));
  return accounts_.back().account_id;
}

AccountRow& EvalContext::Row(const std::string& account_id) {
  for (auto it = accounts_.rbegin(); it != accounts_.rend(); ++it) {
    if (it->account_id == account_id) return *it;
  }
  // Callers only pass ids NewAccount returned.
  abort();
}

sim::v1::SimNode* EvalContext::NewNode(int dc, const NodeModel& model,
                                       const std::string& hostname) {
  uint32_t n = next_node_++;
  auto* node = scenario_.add_nodes();
  node->set_node_id(absl::StrFormat("node-%05d", n));
  const std::string& dc_name = scenario_.datacenters(dc).name();
  node->set_hostname(hostname.empty()
                         ? absl::StrFormat("gpu-%s-%05d.%s.cloud.example", model.label, n, dc_name)
                         : hostname);
  node->set_datacenter(dc_name);
  node->set_vendor_id(model.vendor_id);
  node->set_device_id(model.device_id);
  node->set_accelerator_count(model.count);
  node->set_ip_address(absl::StrFormat("10.%d.%d.%d", 20 + dc, (n >> 8) & 255, n & 255));
  node->set_rack(absl::StrFormat("r%02d", n % 24 + 1));  // declared inventory (prov-sim)
  return node;
}

sim::v1::SimWorkload* EvalContext::NewTraining(const sim::v1::SimNode& node,
                                               const std::string& account, uint32_t start,
                                               uint32_t length, double tensor_activity,
                                               const std::string& image_digest) {
  sim::v1::SimWorkload* w = NewWorkload(node, account, start, length);
  w->set_tensor_activity(tensor_activity);
  w->set_image_digest(image_digest);
  return w;
}

sim::v1::SimWorkload* EvalContext::NewWorkload(const sim::v1::SimNode& node,
                                               const std::string& account, uint32_t start,
                                               uint32_t length) {
  auto* w = scenario_.add_workloads();
  w->set_workload_id(absl::StrCat("k8s:", Hex(8), "-", Hex(4), "-", Hex(4), "-", Hex(12)));
  w->set_node_id(node.node_id());
  w->set_account(account);
  w->set_kind(provenance::v1::WORKLOAD_KIND_K8S_POD);
  w->set_workload_class(provenance::v1::WORKLOAD_CLASS_TRAINING);
  w->set_class_confidence(0.9);
  w->set_launcher("torchrun");
  w->set_first_accelerator(0);
  w->set_accelerator_count(node.accelerator_count());
  w->set_utilization_pct(95);
  w->set_tensor_activity(0.5);
  w->set_start_report(start);
  w->set_duration_reports(start + length >= reports_ ? 0 : length);
  w->set_origin("synthetic");
  return w;
}

}  // namespace prov::eval
