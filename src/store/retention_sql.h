#pragma once

// The SQL of retention's two sets, the same text on SQLite and PostgreSQL (store/sqlite/schema.h,
// store/pg/schema.h); P is the cut-off's placeholder ("?1", "$1", …).
//
// Removed residents past their period: removed before the cut-off, with no version superseded at
// or after it (a late 転出 kept as history after the removal keeps its own period,
// 住基令34条2項).
#define KAKUNIN_REMOVED_PAST(P)                                                              \
  "(SELECT person_id FROM residents r0 WHERE r0.status = 'removed' AND r0.removed_at < " P \
  " AND NOT EXISTS (SELECT 1 FROM versions w WHERE w.person_id = r0.person_id "            \
  "AND w.superseded_at >= " P "))"

// Disclosure requests past their period: registered before the cut-off, none of their
// corrections still open.
#define KAKUNIN_ERASABLE_REQUESTS(P)                                              \
  "(SELECT d.id FROM disclosures d WHERE d.registered_at < " P " AND NOT EXISTS " \
  "(SELECT 1 FROM corrections o WHERE o.disclosure_id = d.id AND o.status = 'open'))"
