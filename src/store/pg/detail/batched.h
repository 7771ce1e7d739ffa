#pragma once

// The write path's statements that travel together (Conn::DeferBatched, issue 13): each the
// same as its one-row constant (schema.h, residents.cc, log_cache.cc) over arrays, one row per
// element, read with unnest in the order the rows came. A group of deferred writes is then a
// statement per table instead of one per row.
//
// Ranks order the tables within a group: a resident's row before its versions and the update
// of its pointer (the versions' foreign key; the update, folded into the insert where both are
// in the group). The other tables refer to none of these and to no other (the outbox holds a
// version's id but no foreign key), so their rows commute with the others'. The log's entries
// keep their order within their statement (its trigger checks each against the previous).
// Upserts and the pointer update send a repeated key once, as its last row.

#include "store/pg/conn.h"

namespace kakunin::store::pg::detail {

inline constexpr char kInsertResidentsMany[] =
    "INSERT INTO residents (resident_code, status, municipality_code, version_id, name, "
    "name_kana, sex, birth_date, address, number_mac, name_key, kana_key, address_key, "
    "updated_at, removed_at, person_id) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::text[], "
    "$6::text[], $7::text[], $8::text[], $9::text[], $10::bytea[], $11::text[], $12::text[], "
    "$13::text[], $14::int8[], $15::int8[], $16::int8[])";
inline constexpr Batchable kResidentInserts{kInsertResidentsMany, 10};

inline constexpr char kSetResidentVersionsMany[] =
    "UPDATE residents r SET version_id = u.version_id "
    "FROM unnest($1::int8[], $2::int8[]) AS u(person_id, version_id) "
    "WHERE r.person_id = u.person_id";
// (person_id, version_id): folded into the insert of the same person_id ($16), as its
// version_id ($4).
inline constexpr Batchable kResidentVersionSets{kSetResidentVersionsMany, 20, 1,
                                                &kResidentInserts, 0, 15, 1, 3};

inline constexpr char kInsertVersionsMany[] =
    "INSERT INTO versions (person_id, municipality_code, sequence, kind, reason, change_date, "
    "resident_code, sealed_number, name, name_kana, former_surname, alias, sex, birth_date, "
    "address, new_resident_code, applied_at, superseded_at, version_id) "
    "SELECT * FROM unnest($1::int8[], $2::text[], $3::int8[], $4::text[], $5::text[], "
    "$6::text[], $7::text[], $8::bytea[], $9::text[], $10::text[], $11::text[], $12::text[], "
    "$13::text[], $14::text[], $15::text[], $16::text[], $17::int8[], $18::int8[], $19::int8[])";
inline constexpr Batchable kVersionInserts{kInsertVersionsMany, 30};

inline constexpr char kRecordAppliedMany[] =
    "INSERT INTO applied (municipality_code, sequence, payload_mac, applied_at) "
    "SELECT * FROM unnest($1::text[], $2::int8[], $3::bytea[], $4::int8[])";
inline constexpr Batchable kAppliedInserts{kRecordAppliedMany, 40};

inline constexpr char kEnqueueOutboxMany[] =
    "INSERT INTO outbox (version_id, created_at) SELECT * FROM unnest($1::int8[], $2::int8[])";
inline constexpr Batchable kOutboxInserts{kEnqueueOutboxMany, 50};

inline constexpr char kInsertAuditEntriesMany[] =
    "INSERT INTO audit_entries (seq, time, actor, action, purpose, payload, leaf_hash, targets) "
    "SELECT * FROM unnest($1::int8[], $2::int8[], $3::text[], $4::text[], $5::text[], "
    "$6::bytea[], $7::bytea[], $8::bytea[])";
inline constexpr Batchable kAuditEntryInserts{kInsertAuditEntriesMany, 60};

inline constexpr char kInsertAuditTargetsMany[] =
    "INSERT INTO audit_targets (resident_code, seq) SELECT * FROM unnest($1::text[], $2::int8[]) "
    "ON CONFLICT DO NOTHING";
inline constexpr Batchable kAuditTargetInserts{kInsertAuditTargetsMany, 70};

inline constexpr char kPutAuditNodesMany[] =
    "INSERT INTO audit_nodes (level, idx, hash) "
    "SELECT * FROM unnest($1::int8[], $2::int8[], $3::bytea[])";
inline constexpr Batchable kAuditNodeInserts{kPutAuditNodesMany, 80};

inline constexpr char kPutResidentHeadsMany[] =
    "INSERT INTO audit_resident_heads (key, count, head, last_seq) "
    "SELECT * FROM unnest($1::bytea[], $2::int8[], $3::bytea[], $4::int8[]) "
    "ON CONFLICT (key) DO UPDATE SET count = excluded.count, head = excluded.head, "
    "last_seq = excluded.last_seq";
inline constexpr Batchable kResidentHeadPuts{kPutResidentHeadsMany, 90, 1};

inline constexpr char kPutMapNodesMany[] =
    "INSERT INTO audit_map_nodes (depth, prefix, hash, leaf_key) "
    "SELECT * FROM unnest($1::int8[], $2::bytea[], $3::bytea[], $4::bytea[]) "
    "ON CONFLICT (depth, prefix) DO UPDATE SET hash = excluded.hash, leaf_key = excluded.leaf_key";
inline constexpr Batchable kMapNodePuts{kPutMapNodesMany, 100, 2};

}  // namespace kakunin::store::pg::detail
