// A Store::Commit batch from hand-made reports, with the ledger computed as the writer would.
//
//   std::vector<ReportToCommit> batch = CommitBatch({&r1, &r2});
//   ASSERT_TRUE(store->Commit(batch, now).ok());
#pragma once

#include <vector>

#include "common/accelerator_catalog.h"
#include "server/ledger/usage.h"
#include "server/store/store.h"

namespace prov::server::testing {

inline std::vector<ReportToCommit> CommitBatch(
    const std::vector<const provenance::v1::NodeReport*>& reports) {
  std::vector<ReportToCommit> batch;
  for (const provenance::v1::NodeReport* r : reports) {
    ReportToCommit item;
    item.report = r;
    item.size_bytes = r->ByteSizeLong();
    item.usage = ComputeUsage(*r, AcceleratorCatalog::Builtin(), {});
    batch.push_back(std::move(item));
  }
  return batch;
}

}  // namespace prov::server::testing
