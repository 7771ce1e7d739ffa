#!/usr/bin/env python3
"""Per-stage breakdown of `perf script -F comm,tid,ip,sym` output (scripts/profile-api).

Each sample is charged to the innermost frame on its stack that matches a stage of STAGES
(first matching rule per frame, frames from the leaf outwards), so library code (OpenSSL,
SQLite, the allocator, the kernel) counts for the stage that called it; and, apart, to a kind
of work (KINDS: fsync, futexes and scheduling, the kernel's TCP, the allocator, the rest).
Prints both tables: share of the node's samples and CPU microseconds per request (share ×
node CPU time / requests answered in the same window).
"""

import argparse
import re
import sys

# What kind of work a sample is, from its leaf-most matching frame: the costs that are not
# "our code" (kernel, locks, the allocator).
KINDS = [
    ("fsync", r"fdatasync|fsync|jbd2|ext4_sync|file_write_and_wait|blkdev_issue"),
    ("futex, wake-ups, scheduling",
     r"futex|pthread_cond|__lll_lock|pthread_mutex_lock|^schedule$|__schedule|"
     r"try_to_wake_up|finish_task_switch"),
    ("kernel: TCP, epoll, other syscalls",
     r"^tcp_|^__tcp|^sock_|__sys_send|__sys_recv|^ep_|epoll|^ip_|__dev_queue|net_rx|"
     r"loopback|__x64_sys_|entry_SYSCALL|do_syscall"),
    ("allocator", r"^malloc$|^free$|^_int_malloc|^_int_free|^cfree|^operator new|"
     r"^operator delete|tcache|malloc_consolidate|^__libc_malloc|^__libc_free"),
]

# (stage, regex on the symbol): the innermost frame that matches names the stage, so library
# code (OpenSSL, SQLite, the allocator, the kernel) counts for the stage that called it.
STAGES = [
    ("TLS handshake", r"SSL_do_handshake|tls_process_|ssl_handshake|async_handshake"),
    ("TLS records (decrypt/encrypt)", r"SSL_read|SSL_write|ssl3_read|ssl3_write|"
     r"tls_write_records|tls_get_more_records"),
    ("access log + metrics", r"AccessLog::|Service::OnEvent|Metrics::Count|Impl::Emit"),
    ("commit (sqlite, WAL, fsync)", r"Txn::Commit|Txn::Begin"),
    ("savepoints", r"Savepoint"),
    ("log append", r"AuditLog::Append|AuditLog::"),
    ("provision record", r"InsertProvision"),
    ("recheck in txn", r"Gateway::Recheck"),
    ("write queue (batching, hand-off)", r"WriteQueue::"),
    ("authentication (client register)", r"Gateway::Authenticate|Gateway::ActiveClient|ClientCache::"),
    ("halt check", r"Gateway::CheckRunning|HaltedSince"),
    ("authorisation + quotas", r"Gateway::Authorize|Gateway::Admit|Quotas::|Gateway::Answered"),
    ("query + record build", r"Registry::Provide|ProvideImpl|FindByResidentCode|Registry::ItemsOf|"
     r"Gateway::Resolve|Gateway::Lookup|ReaderPool|WithReader"),
    ("route + JSON", r"ServeResidentRoute|Service::Handle|AppendRecord|AppendJson|JsonResponse|"
     r"MatchPath|PurposeFromQuery|Problem|Service::Dispatch|Service::Start"),
    ("HTTP parse + request", r"ReadHeader|ReadUntil|basic_parser|FillRequest|HasObsFold|"
     r"NewRequestId|ParseRequest"),
    ("HTTP response", r"ToBeast|serializer|Connection::Write|async_write|write_op|"
     r"Connection::Respond|Connection::Finish"),
    ("hop to worker and back", r"CallHandler|InvokeHandler|thread_pool"),
    ("socket send/recv (kernel)", r"reactive_socket_send_op|reactive_socket_recv_op|socket_ops::"),
    ("thread wake-ups, epoll (asio run/post)", r"scheduler::post|scheduler::do_run_one|"
     r"epoll_reactor::|scheduler::wake_one|scheduler::work_finished"),
    ("event loop, coroutines (asio)", r"boost::asio|boost::beast"),
]
# Work that is not the requests' own (the demo's link to its national node, in the same
# process): any frame matching it puts the sample here, and it is left out of µs/req.
BACKGROUND = re.compile(r"ServeLinkChanges|kakunin::link::|NationalDesk|LinkOutbox|CheckpointTimer")
BACKGROUND_NAME = "background (demo link; not per request)"
COMPILED_KINDS = [(name, re.compile(rx)) for name, rx in KINDS]
COMPILED = [(name, re.compile(rx)) for name, rx in STAGES]


def first_match(frames, rules, default):
    for sym in frames:  # leaf first
        for name, rx in rules:
            if rx.search(sym):
                return name
    return default


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--requests", type=int, required=True)
    ap.add_argument("--cpu-seconds", type=float, required=True)
    ap.add_argument("--top-other", type=int, default=0, help="print the commonest leaf symbols of 'other'")
    args = ap.parse_args()

    counts = {}
    kinds = {}
    cross = {}
    other_leaves = {}
    total = 0
    frames = []
    have_header = False

    def flush():
        nonlocal total
        if not have_header:
            return
        stage = first_match(frames, COMPILED, "other")
        if any(BACKGROUND.search(f) for f in frames):
            stage = BACKGROUND_NAME
        kind = first_match(frames, COMPILED_KINDS, "user code (ours and libraries)")
        counts[stage] = counts.get(stage, 0) + 1
        if stage != BACKGROUND_NAME:
            kinds[kind] = kinds.get(kind, 0) + 1
        cross[(stage, kind)] = cross.get((stage, kind), 0) + 1
        if stage == "other" and frames:
            other_leaves[frames[0]] = other_leaves.get(frames[0], 0) + 1
        total += 1

    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line.strip():
            flush()
            have_header = False
            frames = []
            continue
        if not line.startswith((" ", "\t")):
            flush()
            have_header = True
            frames = []
            continue
        sym = line.strip()
        # "ffffffff81234567 symbol+0x12 (dso)" or just "symbol"
        parts = sym.split(" ", 1)
        if len(parts) == 2 and re.fullmatch(r"[0-9a-f]+", parts[0]):
            sym = parts[1]
        sym = re.sub(r"\s+\(.*\)$", "", sym)
        sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
        frames.append(sym)
    flush()

    if total == 0:
        print(f"{args.name}: no samples")
        return
    background = counts.get(BACKGROUND_NAME, 0) / total
    cpu = args.cpu_seconds * (1 - background)
    us_per_req = cpu * 1e6 / args.requests if args.requests else 0.0
    print(f"# {args.name}: {args.requests} requests, node CPU {args.cpu_seconds:.2f} s "
          f"({background * 100:.1f} % background), {us_per_req:.1f} µs CPU per request, "
          f"{total} samples")
    print(f"{'stage':40s} {'share':>7s} {'µs/req':>8s}")
    for stage, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        share = n / total
        per_req = 0.0 if stage == BACKGROUND_NAME else n / (total - counts.get(BACKGROUND_NAME, 0)) * us_per_req
        print(f"{stage:40s} {share * 100:6.1f}% {per_req:8.1f}")
    print(f"{'kind of work':40s} {'share':>7s} {'µs/req':>8s}")
    for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1]):
        share = n / max(1, sum(kinds.values()))
        print(f"{kind:40s} {share * 100:6.1f}% {share * us_per_req:8.1f}")
    print("# where the futex, wake-up and scheduling time is spent (stage: µs/req)")
    futex = [(st, n) for (st, k), n in cross.items()
             if k.startswith("futex") and st != BACKGROUND_NAME]
    print("  " + ", ".join(f"{st}: {n / max(1, sum(kinds.values())) * us_per_req:.1f}"
                           for st, n in sorted(futex, key=lambda kv: -kv[1])[:6]))
    if args.top_other:
        print("# commonest leaves of 'other':")
        for sym, n in sorted(other_leaves.items(), key=lambda kv: -kv[1])[: args.top_other]:
            print(f"  {n:6d} {sym}")


if __name__ == "__main__":
    main()
