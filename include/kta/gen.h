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
 * one of the caller's samples (kta_gen_samples), or an event built from
 * the literal values of one of the caller's rules (kta_gen_rules).  The
 * same seed, schema, share, samples and rules always give the same events.
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

/* How a rule compares a field with a value (kta_gen_rules). */
enum kta_gen_shape { KTA_GEN_EXACT, KTA_GEN_PREFIX, KTA_GEN_SUFFIX, KTA_GEN_CONTAINS };

struct kta_gen_field {
    const char         *name;    /* the rule's field name; NULL: a keyword */
    const char         *value;   /* NUL-terminated */
    enum kta_gen_shape  shape;
};

/* What one rule needs of an event: its log source and field values. */
struct kta_gen_rule {
    const char                 *logsource;   /* "product=windows category=..." */
    const struct kta_gen_field *fields;
    size_t                      nfields;
};

struct kta_gen {
    uint64_t             state;
    double               malicious;   /* share of malicious events, 0..1 */
    uint64_t             n;           /* events generated so far */
    enum kta_gen_schema  schema;
    const char *const  *const *samples;   /* see kta_gen_samples */
    size_t               nsamples;
    const struct kta_gen_rule *rules;     /* see kta_gen_rules */
    size_t               nrules;
    uint64_t             nevil;           /* rule events so far */
    size_t               rule_start, rule_step;
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

/*
 * Whether the schema has events for a rule of this log source
 * ("product=windows category=process_creation", as kta_rule_logsource
 * gives it): sysmon takes product windows with the Sysmon categories,
 * PowerShell, Kernel-File and the event-log services; linux takes product
 * linux.  The kta schema takes none.
 */
int kta_gen_fits(enum kta_gen_schema schema, const char *logsource);

/*
 * Builds every malicious event of the sysmon and linux schemas from one
 * of the rules (taken from loaded rules by the caller, kta_gen_fits ones):
 * an event of the rule's log source (the EventID and channel of its
 * category or service, or the rule's own EventID) with its fields laid
 * over: an exact value as it is, a prefix with a harmless tail, a suffix
 * after a harmless head (a directory for paths), a contained value inside
 * harmless text; several values of one field are joined.  The rules are
 * taken in an order that visits each once before any repeats, fixed by
 * the generator's state at this call.  Replaces kta_gen_samples.  The
 * arrays are borrowed and must outlive g; n == 0 turns rules off.
 */
void kta_gen_rules(struct kta_gen *g, const struct kta_gen_rule *rules, size_t n);

/* Appends one event (a JSON object, no newline) to out.  Returns 1 when
 * the event was generated as malicious. */
int kta_gen_event(struct kta_gen *g, struct kta_buf *out);

#endif
