#include "common/proto_strings.h"

#include <algorithm>
#include <vector>

#include "common/sha256.h"
#include "google/protobuf/descriptor.h"

namespace prov {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// The smallest limit the policy sets anywhere: a valid string no longer than that needs no lookup.
size_t MinLimit(const StringPolicy& policy) {
  size_t min = policy.default_max_bytes;
  for (const auto& [name, limit] : policy.max_bytes) min = std::min(min, limit);
  return min;
}

size_t LimitOf(const FieldDescriptor* f, const StringPolicy& policy) {
  auto it = policy.max_bytes.find(f->full_name());
  return it == policy.max_bytes.end() ? policy.default_max_bytes : it->second;
}

// false when `value` is fine as it is (the common case: one scan, no copy, no lookup).
bool Repair(const std::string& value, const FieldDescriptor* f, const StringPolicy& policy,
            size_t min_limit, Utf8Result* out) {
  if (value.size() <= min_limit && IsValidUtf8(value)) return false;
  const size_t limit = LimitOf(f, policy);
  if (value.size() <= limit && IsValidUtf8(value)) return false;
  *out = MakeValidUtf8(value, limit);
  return true;
}

void Count(const FieldDescriptor* f, const Utf8Result& r, StringRepairs* counts) {
  if (r.replaced) ++counts->repaired;
  if (r.truncated) ++counts->truncated;
  if (counts->fields.size() < 8 && std::find(counts->fields.begin(), counts->fields.end(),
                                             f->full_name()) == counts->fields.end()) {
    counts->fields.push_back(f->full_name());
  }
}

void Walk(Message* m, const StringPolicy& policy, size_t min_limit, StringRepairs* counts) {
  const Reflection* refl = m->GetReflection();
  std::vector<const FieldDescriptor*> fields;
  refl->ListFields(*m, &fields);  // only fields that are set: cheap on sparse messages
  for (const FieldDescriptor* f : fields) {
    if (f->type() == FieldDescriptor::TYPE_STRING) {
      Utf8Result r;
      std::string scratch;
      if (f->is_repeated()) {
        for (int i = 0; i < refl->FieldSize(*m, f); ++i) {
          const std::string& value = refl->GetRepeatedStringReference(*m, f, i, &scratch);
          if (!Repair(value, f, policy, min_limit, &r)) continue;
          refl->SetRepeatedString(m, f, i, r.value);
          Count(f, r, counts);
        }
        continue;
      }
      const std::string& value = refl->GetStringReference(*m, f, &scratch);
      if (!Repair(value, f, policy, min_limit, &r)) continue;
      const std::string raw = value;  // SetString below replaces what `value` refers to
      refl->SetString(m, f, r.value);
      Count(f, r, counts);
      auto digest = policy.raw_digest_field.find(f->full_name());
      if (digest == policy.raw_digest_field.end()) continue;
      const FieldDescriptor* sibling = m->GetDescriptor()->FindFieldByName(digest->second);
      if (sibling != nullptr && sibling->type() == FieldDescriptor::TYPE_STRING &&
          !sibling->is_repeated()) {
        refl->SetString(m, sibling, Sha256Hex(raw));
      }
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (f->is_repeated()) {  // includes map fields (entries are messages)
        for (int i = 0; i < refl->FieldSize(*m, f); ++i) {
          Walk(refl->MutableRepeatedMessage(m, f, i), policy, min_limit, counts);
        }
      } else {
        Walk(refl->MutableMessage(m, f), policy, min_limit, counts);
      }
    }
  }
}

}  // namespace

StringRepairs RepairStrings(Message* message, const StringPolicy& policy) {
  StringRepairs counts;
  if (message != nullptr) Walk(message, policy, MinLimit(policy), &counts);
  return counts;
}

}  // namespace prov
