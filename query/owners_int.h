/*
 * owners_int.h — the ownership evaluator shared inside the query engine
 * (owners.c implements it; cost.c and owned_by use it to evaluate owner()
 * for many nodes of one snapshot with a shared memo).
 *
 * Results of nodes whose evaluation was not cut short (by a cycle or the
 * depth cap) do not depend on where the evaluation started, so they are
 * memoised for the life of the context.  Not for use outside query/.
 */
#ifndef ST_OWNERS_INT_H
#define ST_OWNERS_INT_H

#include <stddef.h>

#include "query.h"

typedef struct st__owner_ctx st__owner_ctx;

/* A context reading through snapshot s (which must outlive it). */
st__owner_ctx *st__owner_ctx_new(st_snap *s);
void st__owner_ctx_free(st__owner_ctx *c);

/* owner(node): claim and owners (ascending ids; *ret_owners stays valid
 * until the next call on the context).  ST_E_NOTFOUND for an unknown node,
 * ST_E_LIMIT if the evaluation exceeded its step budget, ST_E_STORE. */
int st__owner_eval(st__owner_ctx *c, st_id node, st_claim *ret_claim, const st_id **ret_owners,
		   size_t *ret_n);

#endif
