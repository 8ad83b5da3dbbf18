/*
 * reconcile.c — the logical-entity index behind identity hints (reconcile.h).
 *
 * Keys are "<k>:<name>" with k = 's' (Service/Component), 't' (Team), 'u'
 * (User) or 'y' (System), in two maps: exact (lower case) and normalised.
 * Each key maps to a candidate record holding up to two distinct entity ids,
 * which is all an "ambiguous" report needs.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "props.h"
#include "reconcile.h"
#include "strmap.h"

typedef struct cand {
	uint32_t first, second; /* entity indexes; UINT32_MAX = none */
} cand;

typedef struct entity {
	char *id;
	int type;
} entity;

struct st_reconciler {
	const st_schema *schema;
	const st_config *cfg;
	int t_service, t_component, t_team, t_user, t_system, t_cloud;
	st_strmap ids; /* entity id -> index */
	entity *ents;
	size_t n_ents, cap_ents;
	st_strmap exact, norm; /* key -> index into cands */
	cand *cands;
	size_t n_cands, cap_cands;
	const char *const *suffixes;
	size_t n_suffixes;
};

st_reconciler *st_reconciler_new(const st_schema *schema, const st_config *cfg)
{
	st_reconciler *r = st_xcalloc(1, sizeof(*r));
	r->schema = schema;
	r->cfg = cfg;
	r->t_service = st_schema_find_node_type(schema, "Service", 7);
	r->t_component = st_schema_find_node_type(schema, "Component", 9);
	r->t_team = st_schema_find_node_type(schema, "Team", 4);
	r->t_user = st_schema_find_node_type(schema, "User", 4);
	r->t_system = st_schema_find_node_type(schema, "System", 6);
	r->t_cloud = st_schema_find_node_type(schema, "CloudResource", 13);
	if (cfg && cfg->strip_suffixes_set) {
		r->suffixes = (const char *const *)cfg->strip_suffixes;
		r->n_suffixes = cfg->n_strip_suffixes;
	} else {
		r->suffixes = st_config_default_strip_suffixes;
		while (st_config_default_strip_suffixes[r->n_suffixes])
			r->n_suffixes++;
	}
	return r;
}

void st_reconciler_free(st_reconciler *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_ents; i++)
		free(r->ents[i].id);
	free(r->ents);
	free(r->cands);
	st_strmap_free(&r->ids);
	st_strmap_free(&r->exact);
	st_strmap_free(&r->norm);
	free(r);
}

static char kind_char(const st_reconciler *r, int type)
{
	if (type == r->t_service || type == r->t_component)
		return 's';
	if (type == r->t_team)
		return 't';
	if (type == r->t_user)
		return 'u';
	if (type == r->t_system)
		return 'y';
	if (type == r->t_cloud)
		return 'c';
	return 0;
}

size_t st_reconcile_normalise(const st_reconciler *r, const char *in, size_t len, char *out,
			      size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < len && n + 1 < cap; i++) {
		char c = (char)tolower((unsigned char)in[i]);
		out[n++] = (c == '_' || c == '.' || c == ' ') ? '-' : c;
	}
	out[n] = 0;
	for (size_t i = 0; i < r->n_suffixes; i++) {
		size_t sl = strlen(r->suffixes[i]);
		if (sl && n > sl && memcmp(out + n - sl, r->suffixes[i], sl) == 0) {
			n -= sl;
			out[n] = 0;
			break;
		}
	}
	return n;
}

static void lower(const char *in, size_t len, char *out, size_t cap, size_t *ret_len)
{
	size_t n = 0;
	for (size_t i = 0; i < len && n + 1 < cap; i++)
		out[n++] = (char)tolower((unsigned char)in[i]);
	out[n] = 0;
	*ret_len = n;
}

/* Add entity e under key (k, name) in map m. */
static void index_key(st_reconciler *r, st_strmap *m, char k, const char *name, size_t len,
		      uint32_t e)
{
	char key[300];
	if (len > sizeof(key) - 3)
		return;
	key[0] = k;
	key[1] = ':';
	memcpy(key + 2, name, len);
	uint32_t ci = st_strmap_get(m, key, len + 2);
	if (ci == UINT32_MAX) {
		if (r->n_cands == r->cap_cands) {
			r->cap_cands = r->cap_cands ? 2 * r->cap_cands : 256;
			r->cands = st_xrealloc(r->cands, r->cap_cands * sizeof(cand));
		}
		ci = (uint32_t)r->n_cands++;
		r->cands[ci] = (cand){e, UINT32_MAX};
		st_strmap_put(m, key, len + 2, ci);
		return;
	}
	cand *c = &r->cands[ci];
	if (c->first != e && c->second == UINT32_MAX)
		c->second = e;
}

/* The entity's name: what follows "kind:" and any "namespace/". */
static void entity_name(const char *id, size_t idlen, const char **name, size_t *len)
{
	const char *colon = memchr(id, ':', idlen);
	const char *p = colon ? colon + 1 : id;
	const char *end = id + idlen;
	const char *slash = memchr(p, '/', (size_t)(end - p));
	if (slash)
		p = slash + 1;
	*name = p;
	*len = (size_t)(end - p);
}

void st_reconciler_add(st_reconciler *r, const char *id, size_t idlen, int type,
		       const uint8_t *props, size_t props_len)
{
	char k = kind_char(r, type);
	if (!k || st_strmap_get(&r->ids, id, idlen) != UINT32_MAX)
		return;
	if (r->n_ents == r->cap_ents) {
		r->cap_ents = r->cap_ents ? 2 * r->cap_ents : 256;
		r->ents = st_xrealloc(r->ents, r->cap_ents * sizeof(entity));
	}
	uint32_t e = (uint32_t)r->n_ents++;
	r->ents[e] = (entity){st_xstrndup(id, idlen), type};
	st_strmap_put(&r->ids, id, idlen, e);
	const char *name;
	size_t nlen, ln;
	char buf[256];
	if (k == 'c') {
		/* a cloud resource is named by its ARN and its provider id */
		static const char *const keys[] = {"arn", "cloud_id"};
		for (size_t i = 0; i < ST_ARRAY_LEN(keys); i++) {
			st_prop p;
			if (st_props_get(props, props_len, keys[i], strlen(keys[i]), &p) == 1 &&
			    p.type == ST_P_STRING && p.v.s.len) {
				lower(p.v.s.p, p.v.s.len, buf, sizeof(buf), &ln);
				index_key(r, &r->exact, k, buf, ln, e);
			}
		}
		return;
	}
	entity_name(id, idlen, &name, &nlen);
	lower(name, nlen, buf, sizeof(buf), &ln);
	index_key(r, &r->exact, k, buf, ln, e);
	ln = st_reconcile_normalise(r, name, nlen, buf, sizeof(buf));
	index_key(r, &r->norm, k, buf, ln, e);
	/* annotation backstage.io/kubernetes-id names the entity's workloads */
	st_prop p;
	if (k == 's' && st_props_get(props, props_len, "annotations", 11, &p) == 1 &&
	    p.type == ST_P_MAP) {
		st_coll_iter it;
		st_coll_iter_init(&it, &p);
		const char *ak, *av;
		size_t akl, avl;
		while (st_coll_next(&it, &ak, &akl, &av, &avl) == 1)
			if (akl == 26 && !memcmp(ak, "backstage.io/kubernetes-id", 26)) {
				lower(av, avl, buf, sizeof(buf), &ln);
				index_key(r, &r->exact, k, buf, ln, e);
			}
	}
}

struct load_ctx {
	st_reconciler *r;
	st_snap *s;
	int rc;
};

static int load_ids(const void *ids, size_t n, void *ctx)
{
	struct load_ctx *c = ctx;
	for (size_t i = 0; i < n; i++) {
		st_node node;
		if ((c->rc = st_snap_node(c->s, st_id_at(ids, i), &node)) < 0)
			return 1;
		st_reconciler_add(c->r, node.key, node.key_len, node.type, node.props,
				  node.props_len);
	}
	return 0;
}

int st_reconciler_load(st_reconciler *r, st_snap *s, st_diag *diag)
{
	int types[] = {r->t_service, r->t_component, r->t_team, r->t_user, r->t_system, r->t_cloud};
	for (size_t i = 0; i < ST_ARRAY_LEN(types); i++) {
		if (types[i] < 0)
			continue;
		struct load_ctx c = {r, s, 0};
		int rc = st_snap_scan_type(s, types[i], load_ids, &c);
		if (c.rc < 0 || rc < 0)
			return st_diag_set(diag, ST_E_STORE, "reading logical entities: %s",
					   st_strerror(c.rc < 0 ? c.rc : rc));
	}
	return 0;
}

static bool lookup(const st_reconciler *r, const st_strmap *m, char k, const char *name,
		   size_t len, st_match *ret)
{
	char key[300];
	if (len > sizeof(key) - 3)
		return false;
	key[0] = k;
	key[1] = ':';
	memcpy(key + 2, name, len);
	uint32_t ci = st_strmap_get(m, key, len + 2);
	if (ci == UINT32_MAX)
		return false;
	const cand *c = &r->cands[ci];
	const entity *e = &r->ents[c->first];
	ret->id = e->id;
	ret->type = e->type;
	if (c->second != UINT32_MAX) {
		ret->status = ST_MATCH_AMBIGUOUS;
		ret->other = r->ents[c->second].id;
	} else {
		ret->status = ST_MATCH_ONE;
	}
	return true;
}

static char hint_char(st_hint_kind kind, const char **value, size_t *vlen)
{
	switch (kind) {
	case ST_HINT_SERVICE:
		return 's';
	case ST_HINT_SYSTEM:
		return 'y';
	case ST_HINT_CLOUD_ID:
		return 'c';
	case ST_HINT_TEAM:
		if (*vlen > 5 && !strncmp(*value, "user:", 5)) {
			*value += 5;
			*vlen -= 5;
			return 'u';
		}
		return 't';
	}
	return 0;
}

void st_reconcile(const st_reconciler *r, st_hint_kind kind, const char *value, size_t vlen,
		  st_match *m)
{
	memset(m, 0, sizeof(*m));
	m->status = ST_MATCH_NONE;
	m->type = -1;
	const char *v = value;
	size_t vl = vlen;
	char k = hint_char(kind, &v, &vl);
	char buf[256], name[256];
	size_t ln;
	lower(v, vl, buf, sizeof(buf), &ln);
	/* an alias replaces the value */
	for (size_t i = 0; r->cfg && i < r->cfg->n_aliases; i++) {
		const st_alias_cfg *a = &r->cfg->aliases[i];
		if (a->kind == kind && strlen(a->alias) == ln &&
		    !strncasecmp(a->alias, buf, ln)) {
			lower(a->name, strlen(a->name), name, sizeof(name), &ln);
			if (lookup(r, &r->exact, k, name, ln, m)) {
				snprintf(m->how, sizeof(m->how), "alias '%.60s' -> '%.60s'", a->alias,
					 a->name);
				return;
			}
			memcpy(buf, name, ln + 1);
			break;
		}
	}
	if (lookup(r, &r->exact, k, buf, ln, m)) {
		snprintf(m->how, sizeof(m->how), "name");
		return;
	}
	if (k == 'c')
		return; /* ids are compared exactly, never normalised */
	ln = st_reconcile_normalise(r, v, vl, name, sizeof(name));
	if (lookup(r, &r->norm, k, name, ln, m)) {
		snprintf(m->how, sizeof(m->how), "normalised '%.60s' -> '%.60s'", buf, name);
		return;
	}
	m->status = ST_MATCH_NONE;
}
