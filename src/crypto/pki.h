#pragma once

// A small private certificate authority for test and demo deployments of the node (`kakunin pki
// init`, `kakunin pki issue`). Production deployments use the prefecture's own PKI; nothing in
// the node depends on this module except the commands that call it.
//
// The identity the node trusts is a certificate's SPKI SHA-256 (DESIGN §7), never its CN or
// SAN: the CN is for people, the SAN URI says what the certificate was issued for, and the SPKI
// hash is what the node's client table is keyed by.
//
// All files are PEM. A CA directory holds:
//   ca.pem     the self-signed CA certificate (P-256, ECDSA-SHA256), mode 0644
//   ca.key     its private key, PKCS#8 PEM, unencrypted, mode 0600, never overwritten
//   crl.pem    the current CRL, signed by the CA, mode 0644
//   ca.state   the CA's state (below), mode 0644
//
// ca.state is UTF-8 text, every line ending in "\n", fields separated by one TAB:
//   kakunin-ca-state v1
//   crl-number <N>
//   cert <serial> <kind> <municipality> <spki> <not-after> <revoked-at> <name>
//   cert ...
// - The header and the crl-number line come first, in that order, exactly once (the
//   crl-number line also uses a TAB). <N> is the number of the CRL that this state describes,
//   decimal, 1 to 2^63-1, no leading zeros.
// - One `cert` line per issued certificate, in issue order. <serial> is 32 lower-case hex
//   digits (128 bits), unique in the file. <kind> is municipal-cs, agency, national, operator or
//   server. <municipality> is the 6-digit code for municipal-cs and "-" for every other kind.
//   <spki> is 64 lower-case hex digits (see CertificateSpkiSha256). <not-after> is
//   YYYY-MM-DDTHH:MM:SSZ (UTC); <revoked-at> is the same, or "-" if not revoked. <name> is the
//   certificate's CN (a server certificate's SANs joined by ","), the last field, so it may hold
//   spaces: non-empty, valid UTF-8, no control characters, no TAB.
// - Nothing else: no blank lines, no comments. Any deviation makes every function that reads
//   the state fail with DataLoss, naming the line but never its contents.
// Serials are random, so the state has no "next serial"; it holds the CRL number instead.
//
// Crash safety: every file is written to a temporary file in the same directory, synced, and
// renamed into place; the directory is then synced. ca.state is the source of truth and is
// written before crl.pem, so a crash between the two leaves an older CRL that the next
// RevokeCertificate or RenewCrl replaces. CreateCertificateAuthority writes ca.key last: a
// directory without ca.key is not a usable CA. A crash may leave temporary files named
// `<final path>.tmp-XXXXXX` (with the final file's mode); they may be deleted.
//
// Thread safety: every function is thread-safe. Functions that read or change a CA directory
// hold an exclusive flock(2) on the directory itself for their duration, so concurrent calls
// (threads or processes) on the same CA are serialised.
//
// Messages never contain key material, certificate names or municipality codes; they may name
// paths and line numbers.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace kakunin::crypto {

// Validity, in days, of every CRL this module signs. A verifier that checks CRLs refuses every
// certificate once crl.pem's nextUpdate has passed: call RenewCrl before then.
inline constexpr int kCrlValidityDays = 30;
// Upper bound for any `days` argument (about 100 years).
inline constexpr int kMaxValidityDays = 36500;
// Certificates start this many seconds before "now", to tolerate clock skew between machines.
inline constexpr int64_t kNotBeforeSkewSeconds = 300;
// Longest CN, in Unicode code points (RFC 5280 ub-common-name).
inline constexpr size_t kMaxNameCodePoints = 64;

// What a system client is: a municipal CS (市町村CS) sending notifications, an agency receiving
// provisions, the national server, or an operator's personal client certificate.
enum class ClientKind { kMunicipalCs, kAgency, kNational, kOperator };

// "municipal-cs", "agency", "national", "operator": the token used in ca.state, in the SAN URI
// and by `kakunin pki issue --kind`.
std::string_view ClientKindName(ClientKind kind);
// The inverse of ClientKindName (exact, case-sensitive); nullopt for anything else.
std::optional<ClientKind> ParseClientKind(std::string_view name);

struct ClientCertRequest {
  ClientKind kind;
  // The subject CN, UTF-8: non-empty, at most kMaxNameCodePoints code points, no control
  // characters, no leading or trailing space.
  std::string name{};
  // 全国地方公共団体コード of the municipality: 6 digits with a valid check digit and a
  // prefecture of 01-47. Required for kMunicipalCs, must be empty for every other kind.
  std::string municipality_code{};
  // Validity from now; 1 to kMaxValidityDays, and the certificate may not outlive the CA.
  int days = 365;
};

struct IssuedCert {
  std::string serial_hex;       // 32 lower-case hex digits
  std::string spki_sha256_hex;  // 64 lower-case hex digits: the identity the node trusts
  std::string cert_path;
  std::string key_path;
};

// One line of ca.state.
struct CertificateRecord {
  std::string serial_hex;
  std::optional<ClientKind> kind;  // nullopt for a server certificate
  std::string name;
  std::string municipality_code;  // empty unless kind is kMunicipalCs
  std::string spki_sha256_hex;
  int64_t not_after = 0;              // Unix seconds
  std::optional<int64_t> revoked_at;  // Unix seconds; nullopt if not revoked
};

// Creates a CA in `dir`: a P-256 key (ca.key), a self-signed certificate (ca.pem) with subject
// CN = `common_name`, basicConstraints critical CA:TRUE pathlen:0, keyUsage critical
// keyCertSign+cRLSign, valid from now - kNotBeforeSkewSeconds until now + `days` days (1 to
// kMaxValidityDays); an empty CRL number 1 (crl.pem, valid kCrlValidityDays) and ca.state. `dir`
// is created (mode 0700) if it does not exist; its parent must. Nothing is replaced: after any
// error no file of the four is left behind that was not there before (a crash may leave some of
// them without ca.key; remove them and retry). The common name follows the rules of
// ClientCertRequest::name.
// Errors: InvalidArgument for a bad common name or `days`; AlreadyExists if ca.key exists;
// FailedPrecondition if ca.pem, crl.pem or ca.state exists without ca.key (an interrupted
// creation: check, then remove them), or `dir` is not a directory; NotFound if the parent of
// `dir` does not exist; IoError for a failing system call (on the final directory sync only, the
// CA is then complete but may not survive a crash); Internal if OpenSSL fails.
Status CreateCertificateAuthority(const std::string& dir, const std::string& common_name, int days);
// The same with an injected clock (tests).
Status CreateCertificateAuthority(const std::string& dir, const std::string& common_name, int days,
                                  const Clock& clock);

// Issues a client certificate from the CA in `ca_dir`: a fresh P-256 key written to `key_path`
// (PKCS#8 PEM, mode 0600) and the certificate to `cert_path` (mode 0644). The certificate has a
// random 128-bit serial, subject CN = req.name (UTF8String), validity from now -
// kNotBeforeSkewSeconds for req.days days, basicConstraints CA:FALSE, keyUsage
// digitalSignature, extendedKeyUsage clientAuth, and one SAN URI:
//   urn:kakunin:municipal-cs:<municipality code>
//   urn:kakunin:<agency|national|operator>:<slug>
// where <slug> is the name's ASCII letters and digits, lower-cased, other runs turned into one
// "-" (at most 48 characters), or the serial when the name has none (e.g. a name in kanji). The
// URI says what the certificate is for; it is not unique and not an identity: the node trusts
// the returned spki_sha256_hex. The certificate is recorded in ca.state before the files are
// put in place; if placing them fails the record is taken back and no file is left at either
// path.
// Errors: InvalidArgument for a bad request; AlreadyExists if `cert_path` or `key_path` exists
// (neither is ever overwritten); NotFound if `ca_dir` or a CA file in it is missing, or the
// directory of `cert_path` or `key_path` does not exist; PermissionDenied if ca.key is
// accessible to group or others; DataLoss if ca.state or a CA file is malformed or ca.key does
// not match ca.pem; FailedPrecondition if the CA has expired or would expire before the
// certificate; IoError for a failing system call (on the final directory sync only, the files
// are then in place and recorded but may not survive a crash); Internal if OpenSSL fails.
Result<IssuedCert> IssueClientCertificate(const std::string& ca_dir, const ClientCertRequest& req,
                                          const std::string& cert_path,
                                          const std::string& key_path);
// The same with an injected clock (tests: a certificate that expired long ago).
Result<IssuedCert> IssueClientCertificate(const std::string& ca_dir, const ClientCertRequest& req,
                                          const std::string& cert_path, const std::string& key_path,
                                          const Clock& clock);

// Issues a TLS server certificate like IssueClientCertificate, with extendedKeyUsage serverAuth
// and SANs: each of `dns_names` (letters, digits and hyphens in dot-separated labels of 1-63
// characters, at most 253 in all, no wildcard; stored lower-cased) as a DNS name and each of
// `ip_addresses` (IPv4 dotted quad or IPv6 text) as an IP address, e.g. {"localhost"} and
// {"127.0.0.1", "::1"}. The subject CN is the first DNS name, or the first IP address if there
// is none; the record's name is all of them joined by ",". At least one name is required.
// Errors: as IssueClientCertificate; InvalidArgument for a bad name, address or `days`.
Result<IssuedCert> IssueServerCertificate(const std::string& ca_dir,
                                          const std::vector<std::string>& dns_names,
                                          const std::vector<std::string>& ip_addresses, int days,
                                          const std::string& cert_path,
                                          const std::string& key_path);
Result<IssuedCert> IssueServerCertificate(const std::string& ca_dir,
                                          const std::vector<std::string>& dns_names,
                                          const std::vector<std::string>& ip_addresses, int days,
                                          const std::string& cert_path, const std::string& key_path,
                                          const Clock& clock);

// Revokes the certificate with `serial_hex` (hex digits, either case, leading zeros optional, as
// IssuedCert::serial_hex or `openssl x509 -serial` prints it): records the time in ca.state,
// increments the CRL number and re-issues crl.pem (lastUpdate now, nextUpdate now +
// kCrlValidityDays) listing every revoked certificate. Idempotent: revoking a revoked
// certificate keeps its first revocation time and re-issues the CRL (which also repairs a crl.pem
// left behind by a crash).
// Errors: InvalidArgument if `serial_hex` is not hex of at most 128 bits; NotFound if no
// certificate of this CA has that serial, or as IssueClientCertificate for the CA; DataLoss,
// PermissionDenied, IoError, Internal as IssueClientCertificate.
Status RevokeCertificate(const std::string& ca_dir, const std::string& serial_hex);
Status RevokeCertificate(const std::string& ca_dir, const std::string& serial_hex,
                         const Clock& clock);

// Re-issues crl.pem with the next CRL number and a fresh nextUpdate, revoking nothing new. Run it
// more often than every kCrlValidityDays days. Errors: as RevokeCertificate for the CA.
Status RenewCrl(const std::string& ca_dir);
Status RenewCrl(const std::string& ca_dir, const Clock& clock);

// Every certificate the CA in `ca_dir` has issued, in issue order (from ca.state). For `kakunin
// pki list` and for building the node's table of client identities.
// Errors: NotFound if `ca_dir` or ca.state is missing; DataLoss if ca.state is malformed;
// IoError if it cannot be read.
Result<std::vector<CertificateRecord>> ListCertificates(const std::string& ca_dir);

// SHA-256 over the DER SubjectPublicKeyInfo of the first certificate in `cert_pem`, as 64
// lower-case hex digits: what envoy calls SPKI pinning, and what
//   openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256sum
// prints. It identifies the key, so it survives re-issuing a certificate for the same key.
// Errors: InvalidArgument if `cert_pem` holds no PEM certificate; Internal if OpenSSL fails.
Result<std::string> CertificateSpkiSha256(const std::string& cert_pem);

// CertificateSpkiSha256 of the file at `path` (at most 1 MiB).
// Errors: NotFound if there is no file; InvalidArgument as above or if it is too large; IoError
// if it cannot be read.
Result<std::string> CertificateSpkiSha256File(const std::string& path);

}  // namespace kakunin::crypto
