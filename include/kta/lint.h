/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lint: warnings about rules that load but are probably wrong (docs/rules.md,
 * "Lint warnings"), for `kta lint` and `kta check --lint`.
 *
 * Functions borrow their arguments.  Main thread only.
 */
#ifndef KTA_LINT_H
#define KTA_LINT_H

#include "kta/rules.h"

/*
 * Looks at a ruleset loaded by kta_rules_load_paths(paths, npaths, opts)
 * (its rule files are read again for how each value was written) and reports every
 * lint warning through opts->diag as
 * "FILE:LINE:COL: warning: rule ID: MESSAGE [NAME]" — an error instead
 * with opts->strict, as for load warnings — counting them in st.
 * Returns the number of lint warnings found.  Never fails: a file that can
 * no longer be read is skipped.
 */
size_t kta_lint(const struct kta_ruleset *rs, const char *const *paths, size_t npaths,
                const struct kta_rules_opts *opts, struct kta_rules_stats *st);

#endif
