/*
 * cli_sync.c — `stacktwin sync`, `stacktwin sources` and `stacktwin unmatched`
 * (docs/sync.md).  Process concerns only: options, output, exit codes; the
 * work is in sync.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "cli_sync.h"
#include "config.h"
#include "props.h"
#include "store.h"
#include "sync.h"

#define EXIT_ERROR 2

static const char sync_usage[] =
	"usage: stacktwin sync [--config FILE] [--db DIR] [--source NAME]... [--json] [--quiet]\n"
	"                      [--no-sync] [KIND:LOCATION...]\n"
	"\n"
	"Reads sources into the store, one write transaction per source (docs/sync.md).\n"
	"Sources come from the config (all, or those named by --source) or, without a\n"
	"config, from the command line: git:/path/or/url, terraform:prod.tfstate.\n"
	"Exit 0 when every source synced (or was unchanged), 2 when any failed.\n";

static const char sources_usage[] =
	"usage: stacktwin sources [--config FILE] [--db DIR] [--json]\n"
	"\n"
	"The status of every source: last success, last error, duration, counts.\n";

static const char unmatched_usage[] =
	"usage: stacktwin unmatched [--config FILE] [--db DIR] [--source NAME] [--json]\n"
	"\n"
	"What no identity rule linked: hints that matched nothing or were ambiguous,\n"
	"source objects without a link to a logical entity, and entities that are\n"
	"referenced but declared by no source.  Exit 1 when anything is listed.\n";

struct opts {
	const char *config, *db, *schema;
	const char *sources[64];
	size_t n_sources;
	bool json, quiet, nosync;
	int first_arg;
};

enum { O_CONFIG = 1000, O_DB, O_SOURCE, O_JSON, O_QUIET, O_NOSYNC, O_SCHEMA };

static int parse(int argc, char **argv, const char *usage, bool positional, struct opts *o)
{
	static const struct option lo[] = {
		{"config", required_argument, NULL, O_CONFIG},
		{"db", required_argument, NULL, O_DB},
		{"source", required_argument, NULL, O_SOURCE},
		{"json", no_argument, NULL, O_JSON},
		{"quiet", no_argument, NULL, O_QUIET},
		{"no-sync", no_argument, NULL, O_NOSYNC},
		{"schema", required_argument, NULL, O_SCHEMA},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof(*o));
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		switch (c) {
		case O_CONFIG: o->config = optarg; break;
		case O_DB: o->db = optarg; break;
		case O_SOURCE:
			if (o->n_sources == ST_ARRAY_LEN(o->sources)) {
				fprintf(stderr, "stacktwin: too many --source\n");
				return -1;
			}
			o->sources[o->n_sources++] = optarg;
			break;
		case O_JSON: o->json = true; break;
		case O_QUIET: o->quiet = true; break;
		case O_NOSYNC: o->nosync = true; break;
		case O_SCHEMA: o->schema = optarg; break;
		case 'h': fputs(usage, stdout); exit(0);
		default: fputs(usage, stderr); return -1;
		}
	}
	o->first_arg = optind;
	if (!positional && optind < argc) {
		fprintf(stderr, "stacktwin: unexpected argument '%s'\n%s", argv[optind], usage);
		return -1;
	}
	return 0;
}

/* Config (or an empty one), schema and store; 0 or exit code 2 printed. */
struct env {
	st_config *cfg;
	st_schema *schema;
	st_store *st;
	const char *db;
};

static int env_open(const struct opts *o, bool readonly, struct env *e)
{
	memset(e, 0, sizeof(*e));
	st_diag d = {{0}};
	if (o->config) {
		if (st_config_load(o->config, &e->cfg, &d) < 0) {
			fprintf(stderr, "stacktwin: %s\n", d.msg);
			return EXIT_ERROR;
		}
	} else {
		e->cfg = st_config_new();
	}
	e->db = o->db ? o->db : e->cfg->store;
	if (!e->db) {
		fprintf(stderr, "stacktwin: no store: give --db DIR or `store:` in the config\n");
		return EXIT_ERROR;
	}
	int r = o->schema ? st_schema_load_file(o->schema, &e->schema, &d)
			  : st_schema_load_default(&e->schema, &d);
	if (r < 0) {
		fprintf(stderr, "stacktwin: %s\n", d.msg);
		return EXIT_ERROR;
	}
	unsigned flags = (readonly ? ST_OPEN_READONLY : 0) | (o->nosync ? ST_OPEN_NOSYNC : 0);
	if (st_store_open(e->db, e->schema, flags, &e->st, &d) < 0) {
		fprintf(stderr, "stacktwin: %s\n", d.msg);
		return EXIT_ERROR;
	}
	return 0;
}

static void env_close(struct env *e)
{
	st_store_close(e->st);
	st_schema_free(e->schema);
	st_config_free(e->cfg);
}

/* ------------------------------------------------------------------ sync */

/* An ad-hoc source's name comes from its kind and file name, so two
 * locations can share it; a complete sync of one would then retire the
 * other's facts.  Refuse that: within one call, and against the location
 * the store's status record of that name holds. */
static const char *jstr_loc(yajl_val v)
{
	const char *path[] = {"location", NULL};
	yajl_val s = yajl_tree_get(v, path, yajl_t_string);
	return s ? s->u.string : NULL;
}

struct name_check {
	const st_source_cfg *src;
	char err[ST_DIAG_MAX];
};

static int check_status_location(const char *source, size_t slen, const void *blob, size_t len,
				 void *ctx)
{
	struct name_check *c = ctx;
	if (slen != strlen(c->src->name) || memcmp(source, c->src->name, slen))
		return 0;
	char *text = st_xstrndup(blob, len);
	char e[64];
	yajl_val v = yajl_tree_parse(text, e, sizeof(e));
	free(text);
	const char *loc = v ? jstr_loc(v) : NULL;
	if (loc && strcmp(loc, c->src->location))
		snprintf(c->err, sizeof(c->err),
			 "source '%s' already holds %s in this store; %s would replace its facts "
			 "(give the sources names in a config file)",
			 c->src->name, loc, c->src->location);
	yajl_tree_free(v);
	return 0;
}

static int check_adhoc_names(st_store *st, const st_source_cfg *srcs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(srcs[i].name, srcs[j].name)) {
				fprintf(stderr, "stacktwin: %s and %s would both be source '%s'; give "
						"them names in a config file\n",
					srcs[j].location, srcs[i].location, srcs[i].name);
				return EXIT_ERROR;
			}
	st_snap *s;
	if (st_snap_begin(st, &s, NULL) < 0)
		return 0; /* a new store: nothing to clash with */
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		struct name_check c = {&srcs[i], ""};
		st_snap_statuses(s, check_status_location, &c);
		if (c.err[0]) {
			fprintf(stderr, "stacktwin: %s\n", c.err);
			rc = EXIT_ERROR;
		}
	}
	st_snap_end(s);
	return rc;
}

static void print_warning(const char *msg, void *ctx)
{
	const struct opts *o = ctx;
	if (!o->quiet)
		fprintf(stderr, "warning: %s\n", msg);
}

static void print_result(const st_source_cfg *src, const st_sync_result *r)
{
	if (r->rc < 0) {
		printf("%s: FAILED after %.2f s: %s\n", src->name, r->duration_s, r->error);
		return;
	}
	if (r->rc == ST_SYNC_UNCHANGED) {
		printf("%s: unchanged (%.2f s)\n", src->name, r->duration_s);
		return;
	}
	printf("%s: revision %llu in %.2f s: %llu nodes, %llu edges, %llu cost facts, "
	       "%llu links (%llu unmatched, %llu ambiguous), %llu warnings, "
	       "retired %llu nodes and %llu edges\n",
	       src->name, (unsigned long long)r->revision, r->duration_s,
	       (unsigned long long)r->nodes, (unsigned long long)r->edges,
	       (unsigned long long)r->costs, (unsigned long long)r->links,
	       (unsigned long long)r->unmatched, (unsigned long long)r->ambiguous,
	       (unsigned long long)r->warnings, (unsigned long long)r->retired.nodes,
	       (unsigned long long)r->retired.edges);
}

int st_cli_sync(int argc, char **argv)
{
	struct opts o;
	if (parse(argc, argv, sync_usage, true, &o) < 0)
		return EXIT_ERROR;
	if (o.config && o.first_arg < argc) {
		fprintf(stderr, "stacktwin: give sources either in the config or as KIND:LOCATION, "
				"not both\n");
		return EXIT_ERROR;
	}
	struct env e;
	int rc = env_open(&o, false, &e);
	if (rc)
		return rc;
	/* the list of sources to run */
	size_t n_adhoc = (size_t)(argc - o.first_arg);
	st_source_cfg *adhoc = st_xcalloc(n_adhoc ? n_adhoc : 1, sizeof(*adhoc));
	const st_source_cfg **run = st_xcalloc(n_adhoc + e.cfg->n_sources + 1, sizeof(*run));
	size_t n_run = 0;
	st_diag d = {{0}};
	for (size_t i = 0; i < n_adhoc; i++) {
		if (st_source_parse_adhoc(argv[o.first_arg + (int)i], &adhoc[i], &d) < 0) {
			fprintf(stderr, "stacktwin: %s\n", d.msg);
			rc = EXIT_ERROR;
			goto out;
		}
		run[n_run++] = &adhoc[i];
	}
	if (n_adhoc && (rc = check_adhoc_names(e.st, adhoc, n_adhoc)) != 0)
		goto out;
	if (!n_adhoc) {
		for (size_t i = 0; i < o.n_sources; i++) {
			const st_source_cfg *s = st_config_source(e.cfg, o.sources[i]);
			if (!s) {
				fprintf(stderr, "stacktwin: no source '%s' in %s\n", o.sources[i],
					o.config ? o.config : "the (absent) config");
				rc = EXIT_ERROR;
				goto out;
			}
			run[n_run++] = s;
		}
		if (!o.n_sources)
			for (size_t i = 0; i < e.cfg->n_sources; i++)
				run[n_run++] = &e.cfg->sources[i];
	}
	if (!n_run) {
		fprintf(stderr, "stacktwin: nothing to sync: give --config FILE with sources, or "
				"KIND:LOCATION\n");
		rc = EXIT_ERROR;
		goto out;
	}
	st_sync_opts so = {.progress = !o.quiet && isatty(2), .on_warning = print_warning,
			   .ctx = &o};
	bool failed = false;
	if (o.json)
		printf("[");
	for (size_t i = 0; i < n_run; i++) {
		st_sync_result res;
		st_diag sd = {{0}};
		st_sync_source(e.st, e.db, e.cfg, run[i], &so, &res, &sd);
		failed |= res.rc < 0;
		if (o.json)
			printf("%s{\"source\":\"%s\",\"result\":\"%s\",\"revision\":%llu}", i ? "," : "",
			       run[i]->name,
			       res.rc < 0 ? "failed" : res.rc == ST_SYNC_UNCHANGED ? "unchanged" : "committed",
			       (unsigned long long)res.revision);
		else
			print_result(run[i], &res);
		if (res.rc < 0)
			fprintf(stderr, "stacktwin: %s\n", res.error);
	}
	if (o.json)
		printf("]\n");
	rc = failed ? EXIT_ERROR : 0;
out:
	for (size_t i = 0; i < n_adhoc; i++)
		st_source_cfg_clear(&adhoc[i]);
	free(adhoc);
	free(run);
	env_close(&e);
	return rc;
}

/* --------------------------------------------------------------- sources */

struct src_list {
	const struct opts *o;
	const st_config *cfg;
	bool *seen;
	size_t n;
	time_t now;
};

static const char *jstr(yajl_val v, const char *key)
{
	const char *path[] = {key, NULL};
	yajl_val s = yajl_tree_get(v, path, yajl_t_string);
	return s ? s->u.string : NULL;
}

static long long jnum(yajl_val v, const char *k1, const char *k2)
{
	const char *path[] = {k1, k2, NULL};
	yajl_val s = yajl_tree_get(v, path, yajl_t_number);
	return s && YAJL_IS_INTEGER(s) ? YAJL_GET_INTEGER(s) : 0;
}

static int list_status(const char *source, size_t slen, const void *blob, size_t len, void *ctx)
{
	struct src_list *l = ctx;
	for (size_t i = 0; l->cfg && i < l->cfg->n_sources; i++)
		if (strlen(l->cfg->sources[i].name) == slen &&
		    !memcmp(l->cfg->sources[i].name, source, slen))
			l->seen[i] = true;
	if (l->o->json) {
		printf("%s%.*s", l->n++ ? "," : "", (int)len, (const char *)blob);
		return 0;
	}
	char *text = st_xstrndup(blob, len);
	char err[128];
	yajl_val v = yajl_tree_parse(text, err, sizeof(err));
	free(text);
	if (!v) {
		printf("%-24.*s (unreadable status record)\n", (int)slen, source);
		return 0;
	}
	const char *ok = jstr(v, "last_success"), *res = jstr(v, "result");
	const char *e = jstr(v, "last_error");
	char age[32] = "never";
	int64_t t;
	if (ok && st_timestamp_parse(ok, strlen(ok), &t) == 0) {
		long long s = (long long)(l->now - t);
		if (s < 120)
			snprintf(age, sizeof(age), "%llds ago", s);
		else if (s < 7200)
			snprintf(age, sizeof(age), "%lldm ago", s / 60);
		else
			snprintf(age, sizeof(age), "%lldh ago", s / 3600);
	}
	printf("%-24.*s %-10s %-9s last success %-10s rev %-6lld %6lld ms  %lld nodes  %lld edges  "
	       "%lld links  %lld unmatched  %lld warnings\n",
	       (int)slen, source, jstr(v, "kind") ? jstr(v, "kind") : "?", res ? res : "?", age,
	       jnum(v, "revision", NULL), jnum(v, "duration_ms", NULL),
	       jnum(v, "counts", "nodes"), jnum(v, "counts", "edges"), jnum(v, "counts", "links"),
	       jnum(v, "counts", "unmatched"), jnum(v, "counts", "warnings"));
	if (e)
		printf("%-24s last error: %s\n", "", e);
	yajl_tree_free(v);
	return 0;
}

int st_cli_sources(int argc, char **argv)
{
	struct opts o;
	if (parse(argc, argv, sources_usage, false, &o) < 0)
		return EXIT_ERROR;
	struct env e;
	int rc = env_open(&o, true, &e);
	if (rc)
		return rc;
	st_snap *s;
	st_diag d = {{0}};
	if (st_snap_begin(e.st, &s, &d) < 0) {
		fprintf(stderr, "stacktwin: %s\n", d.msg);
		env_close(&e);
		return EXIT_ERROR;
	}
	struct src_list l = {&o, e.cfg, st_xcalloc(e.cfg->n_sources + 1, 1), 0, time(NULL)};
	if (o.json)
		printf("{\"sources\":[");
	st_snap_statuses(s, list_status, &l);
	for (size_t i = 0; i < e.cfg->n_sources; i++) {
		if (l.seen[i])
			continue;
		const st_source_cfg *c = &e.cfg->sources[i];
		if (o.json)
			printf("%s{\"source\":\"%s\",\"kind\":\"%s\",\"result\":null}", l.n++ ? "," : "",
			       c->name, c->kind);
		else
			printf("%-24s %-10s never synced\n", c->name, c->kind);
	}
	if (o.json)
		printf("]}\n");
	free(l.seen);
	st_snap_end(s);
	env_close(&e);
	return 0;
}

/* ------------------------------------------------------------- unmatched */

struct um {
	const struct opts *o;
	st_snap *s;
	const st_schema *schema;
	yajl_gen g;
	uint64_t n;
	int link_types[8];
	size_t n_link;
};

static void um_line(struct um *u, const char *what, const char *id, size_t idlen,
		    const char *detail)
{
	u->n++;
	if (u->g) {
		yajl_gen_map_open(u->g);
		yajl_gen_string(u->g, (const unsigned char *)"what", 4);
		yajl_gen_string(u->g, (const unsigned char *)what, strlen(what));
		yajl_gen_string(u->g, (const unsigned char *)"id", 2);
		yajl_gen_string(u->g, (const unsigned char *)id, idlen);
		yajl_gen_string(u->g, (const unsigned char *)"detail", 6);
		yajl_gen_string(u->g, (const unsigned char *)detail, strlen(detail));
		yajl_gen_map_close(u->g);
	} else {
		printf("%-12s %.*s  %s\n", what, (int)idlen, id, detail);
	}
}

static int um_status(const char *source, size_t slen, const void *blob, size_t len, void *ctx)
{
	struct um *u = ctx;
	if (u->o->n_sources && (strlen(u->o->sources[0]) != slen ||
				memcmp(u->o->sources[0], source, slen)))
		return 0;
	char *text = st_xstrndup(blob, len);
	char err[128];
	yajl_val v = yajl_tree_parse(text, err, sizeof(err));
	free(text);
	if (!v)
		return 0;
	const char *path[] = {"unmatched", NULL};
	yajl_val a = yajl_tree_get(v, path, yajl_t_array);
	for (size_t i = 0; a && i < a->u.array.len; i++) {
		yajl_val item = a->u.array.values[i];
		if (!YAJL_IS_STRING(item))
			continue;
		const char *line = item->u.string;
		const char *sep = strstr(line, ": ");
		char src[80];
		snprintf(src, sizeof(src), "%.*s", (int)slen, source);
		um_line(u, "hint", line, sep ? (size_t)(sep - line) : strlen(line),
			sep ? sep + 2 : "");
	}
	long long total = jnum(v, "counts", "unmatched") + jnum(v, "counts", "ambiguous");
	if (a && total > (long long)a->u.array.len) {
		char more[120];
		snprintf(more, sizeof(more), "%lld more unmatched hints not listed (the status keeps %zu)",
			 total - (long long)a->u.array.len, a->u.array.len);
		um_line(u, "hint", source, slen, more);
	}
	yajl_tree_free(v);
	return 0;
}

static bool has_link(struct um *u, st_id id)
{
	for (int dir = 0; dir < 2; dir++) {
		st_adj_iter it;
		if (st_snap_adj_open(u->s, dir ? ST_IN : ST_OUT, id, &it) < 0)
			continue;
		const void *vals;
		size_t n;
		bool found = false;
		while (!found && st_adj_next(&it, &vals, &n) > 0) {
			for (size_t i = 0; i < n && !found; i++) {
				uint64_t v = st_adj_at(vals, i);
				int t = st_snap_adj_type(u->s, v);
				for (size_t k = 0; k < u->n_link; k++)
					if (t == u->link_types[k])
						found = true;
			}
		}
		st_adj_close(&it);
		if (found)
			return true;
	}
	return false;
}

static int um_node(const st_node *node, void *ctx)
{
	struct um *u = ctx;
	bool any_decl = false, any = false;
	char srcs[200] = "";
	for (uint32_t i = 0; i < node->n_prov; i++) {
		st_prov p;
		if (st_snap_prov(u->s, node->prov_raw, i, &p) < 0)
			continue;
		/* --source: the node must concern that source; whether anybody
		 * declares it is judged over every source */
		if (!u->o->n_sources || (strlen(u->o->sources[0]) == p.source_len &&
					 !memcmp(u->o->sources[0], p.source, p.source_len)))
			any = true;
		if (!(p.flags & ST_PROV_REF))
			any_decl = true;
		else if (strlen(srcs) + p.source_len + 3 < sizeof(srcs))
			snprintf(srcs + strlen(srcs), sizeof(srcs) - strlen(srcs), "%s%.*s",
				 srcs[0] ? ", " : "", (int)p.source_len, p.source);
	}
	if (!any)
		return 0;
	if (!any_decl) {
		char detail[300];
		snprintf(detail, sizeof(detail), "referenced by %s, declared by no source", srcs);
		um_line(u, "undeclared", node->key, node->key_len, detail);
		return 0;
	}
	const st_node_type *nt = node->type >= 0 ? st_schema_node_type(u->schema, (size_t)node->type) : NULL;
	static const char *const targeted[] = {
		"Repository", "KubernetesDeployment", "KubernetesStatefulSet", "KubernetesDaemonSet",
		"KubernetesCronJob", "CloudResource", "BillingResource", "Workload",
	};
	bool t = false;
	for (size_t i = 0; nt && i < ST_ARRAY_LEN(targeted); i++)
		if (!strcmp(nt->name, targeted[i]))
			t = true;
	if (t && !has_link(u, node->id)) {
		char detail[200];
		snprintf(detail, sizeof(detail), "%s without a link to a service, team or system",
			 nt->name);
		um_line(u, "no-link", node->key, node->key_len, detail);
	}
	return 0;
}

int st_cli_unmatched(int argc, char **argv)
{
	struct opts o;
	if (parse(argc, argv, unmatched_usage, false, &o) < 0)
		return EXIT_ERROR;
	if (o.n_sources > 1) {
		fprintf(stderr, "stacktwin: unmatched takes at most one --source\n");
		return EXIT_ERROR;
	}
	struct env e;
	int rc = env_open(&o, true, &e);
	if (rc)
		return rc;
	st_diag d = {{0}};
	struct um u = {.o = &o, .schema = e.schema};
	if (st_snap_begin(e.st, &u.s, &d) < 0) {
		fprintf(stderr, "stacktwin: %s\n", d.msg);
		env_close(&e);
		return EXIT_ERROR;
	}
	static const char *const links[] = {"RUNS", "BILLED_TO", "OWNS", "DEFINED_IN", "SAME_AS",
					    "CONTROLLED_BY"};
	for (size_t i = 0; i < ST_ARRAY_LEN(links); i++) {
		int t = st_schema_find_edge_type(e.schema, links[i], strlen(links[i]));
		if (t >= 0)
			u.link_types[u.n_link++] = t;
	}
	if (o.json) {
		u.g = yajl_gen_alloc(NULL);
		yajl_gen_map_open(u.g);
		yajl_gen_string(u.g, (const unsigned char *)"unmatched", 9);
		yajl_gen_array_open(u.g);
	}
	st_snap_statuses(u.s, um_status, &u);
	st_snap_scan_nodes(u.s, um_node, &u);
	if (u.g) {
		yajl_gen_array_close(u.g);
		yajl_gen_string(u.g, (const unsigned char *)"count", 5);
		yajl_gen_integer(u.g, (long long)u.n);
		yajl_gen_map_close(u.g);
		const unsigned char *buf;
		size_t len;
		yajl_gen_get_buf(u.g, &buf, &len);
		fwrite(buf, 1, len, stdout);
		putchar('\n');
		yajl_gen_free(u.g);
	} else if (!u.n) {
		printf("nothing unmatched\n");
	}
	st_snap_end(u.s);
	env_close(&e);
	return u.n ? 1 : 0;
}
