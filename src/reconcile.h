/*
 * reconcile.h — identity reconciliation (DESIGN §3, docs/reconciliation.md):
 * which logical entity (Service/Component, Team/User, System) an identity
 * hint of a source object names.
 *
 * The index holds every logical entity of the store plus those declared by
 * the running sync.  A hint value matches in three tiers, first hit wins:
 *   1. exactly (case-insensitive) an entity's name, a config alias, or a
 *      `backstage.io/kubernetes-id` annotation of a Service/Component;
 *   2. after normalisation of both sides: lower case, `_`, `.` and spaces
 *      as `-`, one environment/role suffix stripped (-prod, -staging, -dev,
 *      -svc, -api, …: st_config_default_strip_suffixes, or
 *      identity.strip_suffixes in the config);
 *   3. nothing: unmatched.
 * Two different entities on the winning tier are ambiguous: reported with
 * both candidates, never guessed.
 */
#ifndef ST_RECONCILE_H
#define ST_RECONCILE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "store.h"

typedef struct st_reconciler st_reconciler;

st_reconciler *st_reconciler_new(const st_schema *schema, const st_config *cfg);
void st_reconciler_free(st_reconciler *r);

/* Index one node if it is a logical entity a hint can name (others are
 * ignored).  Adding the same id twice is harmless. */
void st_reconciler_add(st_reconciler *r, const char *id, size_t idlen, int type,
		       const uint8_t *props, size_t props_len);
/* Index every such entity of a snapshot. */
int st_reconciler_load(st_reconciler *r, st_snap *s, st_diag *diag);

typedef enum st_match_status {
	ST_MATCH_NONE,
	ST_MATCH_ONE,
	ST_MATCH_AMBIGUOUS,
} st_match_status;

typedef struct st_match {
	st_match_status status;
	const char *id; /* the entity (ONE), or the first candidate (AMBIGUOUS) */
	const char *other; /* AMBIGUOUS: the second candidate */
	int type;	   /* schema node type of id */
	char how[160];	   /* "name", "alias 'pay' -> 'payments'", "normalised 'payments-api' -> 'payments'", ... */
} st_match;

void st_reconcile(const st_reconciler *r, st_hint_kind kind, const char *value, size_t vlen,
		  st_match *m);

/* Normalise a name (tier 2) into out (cap bytes); returns the length. */
size_t st_reconcile_normalise(const st_reconciler *r, const char *in, size_t len, char *out,
			      size_t cap);

#endif
