/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gen: deterministic synthetic security telemetry for `kta produce
 * --generate` and `kta bench`, in one of three schemas:
 *
 *   kta     process, network, login and file events as small JSON objects
 *           of about 200 bytes (the default; what the default rules see);
 *   sysmon  flat Windows events as Winlogbeat/NXLog flat exports write
 *           them: Sysmon process creation, network, image load, file,
 *           registry and DNS events and Security 4624/4625/4688, about
 *           800 bytes each;
 *   linux   Sysmon for Linux process creation and auditd records
 *           (SYSCALL, EXECVE, PATH, CWD, PROCTITLE).
 *
 * A configurable share of events is malicious: a well-known attack pattern
 * (encoded PowerShell, certutil downloads, reverse shells, ...) that the
 * default rules (kta) or the public Sigma rules (sysmon, linux) detect, or
 * one of the caller's samples (kta_gen_samples).  The same seed, schema,
 * share and samples always give the same events.
 *
 * Functions borrow their arguments; nothing here allocates except by
 * growing the caller's kta_buf.  A struct kta_gen belongs to one thread.
 */
#ifndef KTA_GEN_H
#define KTA_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "kta/util.h"

enum kta_gen_schema { KTA_GEN_KTA, KTA_GEN_SYSMON, KTA_GEN_LINUX };

/* The schema names kta_gen_schema accepts, for messages. */
#define KTA_GEN_SCHEMAS "kta, sysmon, linux"

struct kta_gen {
    uint64_t             state;
    double               malicious;   /* share of malicious events, 0..1 */
    uint64_t             n;           /* events generated so far */
    enum kta_gen_schema  schema;
    const char *const  *const *samples;   /* see kta_gen_samples */
    size_t               nsamples;
};

/* Starts a generator on the kta schema. */
void kta_gen_init(struct kta_gen *g, uint64_t seed, double malicious);

/* Selects the schema by name (KTA_GEN_SCHEMAS).  Returns 0, or -1 for an
 * unknown name (g is then unchanged). */
int kta_gen_schema(struct kta_gen *g, const char *name);

/*
 * Lets half of the malicious events of the sysmon and linux schemas be
 * built from samples: each sample is a NULL-terminated list of field name,
 * value pairs ("CommandLine", "...", NULL) laid over a process creation
 * event (replacing its fields of those names, adding the others).  Taken
 * from rules by the caller, so those events trigger the rules.  The
 * arrays are borrowed and must outlive g; n == 0 turns samples off.
 */
void kta_gen_samples(struct kta_gen *g, const char *const *const *samples, size_t n);

/* Appends one event (a JSON object, no newline) to out.  Returns 1 when
 * the event was generated as malicious. */
int kta_gen_event(struct kta_gen *g, struct kta_buf *out);

#endif
