// provd's names for accelerators: the catalog's, by PCI vendor/device ID, never the agent's
// string. The agent's string is kept as `reported_name`, and a disagreement between the two is
// evidence (a relabelled chip: an Ascend whose agent or firmware says "A100").
//
//   provenance::v1::Accelerator acc = ...;           // as stored from the agent's report
//   NameFromCatalog(AcceleratorCatalog::Builtin(), &acc);
//   acc.model();            // "Ascend 910B" (catalog), "" when the catalog does not know the ID
//   acc.reported_name();    // "A100-SXM4-80GB" (what the agent sent as model)
//   acc.name_disagrees();   // true
//
// Disagreement is judged on the catalog model's designation: its first token holding a digit
// ("H100" in "H100 SXM5 80GB", "910B" in "Ascend 910B", "MI300X"), or its first token when none
// does ("Gaudi"). The reported name agrees when one of its tokens (split on anything not a letter
// or digit, case ignored) equals the designation, or ends with it right after letters
// ("Ascend910B"). So NVML's "NVIDIA H100 80GB HBM3" agrees with "H100 SXM5 80GB", while "A100"
// does not agree with "A10". Nothing is judged when the agent sent no name or the catalog has no
// name for the ID (an unknown vendor, or a vendor row without a model): name_disagrees is false.
// Pure functions; thread-safe.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "common/accelerator_catalog.h"
#include "provenance/v1/report.pb.h"

namespace prov {

// The designation token of a catalog model, lower-case ("h100"); empty for an empty model.
std::string ModelDesignation(absl::string_view catalog_model);

// True when `reported` names something else than `catalog_model` (see above).
bool ReportedNameDisagrees(absl::string_view catalog_model, absl::string_view reported);

// Moves acc->model() to reported_name, then sets model, model_known, vendor and family from the
// catalog's row for (vendor_id, device_id), and name_disagrees. Call it once, on the accelerator
// as the agent sent it (whatever the agent put in reported_name is overwritten).
void NameFromCatalog(const AcceleratorCatalog& catalog, provenance::v1::Accelerator* acc);

}  // namespace prov
