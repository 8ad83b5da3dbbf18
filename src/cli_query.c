/*
 * cli_query.c — `stacktwin query --db DIR VERB …`: parses options, runs one
 * query on a read-only snapshot and prints a table (default) or JSON
 * (--json: the documents of render.c, shared with the HTTP API).  Unknown
 * ids exit 2 with suggestions.  It owns presentation only: every answer
 * comes from query/ (query.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yajl/yajl_gen.h>

#include "cli_query.h"
#include "props.h"
#include "query.h"
#include "render.h"
#include "schema.h"
#include "store.h"

#define EXIT_ERROR 2

static const char query_usage[] =
	"usage: stacktwin query --db DIR [--json] VERB ARGS…\n"
	"\n"
	"  blast-radius ID [--depth N] [--edges T1,T2] [--from DAY --to DAY] [--metric effective|billed]\n"
	"               [--limit N] [--offset N]   what breaks if ID fails, who owns it, its cost\n"
	"  owners ID                                the owner(s) of a node and the claim that decided\n"
	"  owned-by TEAM [--limit N]                everything a team owns, directly or inherited\n"
	"  cost --by resource|service|team|system|domain --from DAY --to DAY [--metric …]\n"
	"                                           cost in [from, to) per group, with an unattributed row\n"
	"  path A B [--edges …] [--max-paths N] [--depth N]   shortest directed path(s) from A to B\n"
	"  neighbours ID [--hops K] [--breadth N] [--max-nodes N] [--edges …]   k-hop subgraph\n"
	"  search [--prefix P] [--name TEXT] [--type TYPE] [--prop KEY --value V] [--limit N]\n"
	"\n"
	"DAY is YYYY-MM-DD; --to is exclusive.  Exit 0 ok, 2 errors (bad arguments, unknown ids).\n";

struct qopts {
	const char *db, *schema_path;
	bool json;
	long depth, limit, offset, hops, breadth, max_nodes, max_paths;
	const char *edges, *from, *to, *metric, *by;
	const char *prefix, *name, *type, *prop, *value;
};

struct qctx {
	struct qopts o;
	st_schema *schema;
	st_store *st;
	st_snap *s;
	yajl_gen g;
	st_diag d;
};

static int usage_error(const char *msg)
{
	fprintf(stderr, "stacktwin query: %s\n%s", msg, query_usage);
	return EXIT_ERROR;
}

static int fail(struct qctx *q, const char *what)
{
	fprintf(stderr, "stacktwin query: %s%s%s\n", what ? what : "", what ? ": " : "", q->d.msg);
	return EXIT_ERROR;
}

static bool parse_long(const char *s, long lo, long hi, long *ret)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi)
		return false;
	*ret = v;
	return true;
}

/* ---------------------------------------------------------------- output */

static void flush_json(struct qctx *q)
{
	const unsigned char *buf;
	size_t len;
	yajl_gen_get_buf(q->g, &buf, &len);
	fwrite(buf, 1, len, stdout);
	putchar('\n');
	yajl_gen_clear(q->g);
}

/* id string and type name of a node ("?" if it vanished) */
static void node_info(struct qctx *q, st_id id, const char **key, int *klen, const char **type)
{
	st_node n;
	if (st_snap_node(q->s, id, &n) == 0) {
		*key = n.key;
		*klen = (int)n.key_len;
		*type = n.type >= 0 ? st_schema_node_type(q->schema, (size_t)n.type)->name : "?";
	} else {
		*key = "?";
		*klen = 1;
		*type = "?";
	}
}

static const char *edge_name(struct qctx *q, int t)
{
	return t >= 0 ? st_schema_edge_type(q->schema, (size_t)t)->name : "?";
}

/* Resolve a node id argument; on failure print suggestions and return 0. */
static st_id need_node(struct qctx *q, const char *id)
{
	st_id x;
	if (st_snap_lookup(q->s, id, strlen(id), &x) == 0)
		return x;
	char msg[4096];
	st_render_unknown_node(q->s, id, msg, sizeof(msg));
	fprintf(stderr, "stacktwin query: %s\n", msg);
	return ST_ID_NONE;
}

static bool parse_window(struct qctx *q, int32_t *from, int32_t *to, bool required)
{
	if (!q->o.from && !q->o.to) {
		if (required) {
			usage_error("--from DAY and --to DAY are required");
			return false;
		}
		*from = *to = 0;
		return true;
	}
	if (!q->o.from || !q->o.to || st_day_parse(q->o.from, strlen(q->o.from), from) ||
	    st_day_parse(q->o.to, strlen(q->o.to), to)) {
		usage_error("--from and --to take days YYYY-MM-DD, both or neither");
		return false;
	}
	if (*to < *from) {
		usage_error("--to is before --from");
		return false;
	}
	return true;
}

static bool parse_metric(struct qctx *q, st_metric *m)
{
	*m = ST_METRIC_EFFECTIVE;
	if (!q->o.metric || !strcmp(q->o.metric, "effective"))
		return true;
	if (!strcmp(q->o.metric, "billed")) {
		*m = ST_METRIC_BILLED;
		return true;
	}
	usage_error("--metric is effective or billed");
	return false;
}

static bool parse_edges(struct qctx *q, st_edge_set *set)
{
	*set = 0;
	if (!q->o.edges)
		return true;
	if (st_edge_set_parse(q->schema, q->o.edges, set, &q->d)) {
		fail(q, "--edges");
		return false;
	}
	return true;
}

/* ---------------------------------------------------------- blast radius */

static int cmd_blast(struct qctx *q, int argc, char **argv)
{
	if (argc != 1)
		return usage_error("blast-radius takes one node id");
	st_id root = need_node(q, argv[0]);
	if (!root)
		return EXIT_ERROR;
	st_br_opts bo = {0};
	if (!parse_edges(q, &bo.edges))
		return EXIT_ERROR;
	bo.depth = q->o.depth > 0 ? (uint32_t)q->o.depth : 0;
	int32_t from, to;
	st_metric metric;
	if (!parse_window(q, &from, &to, false) || !parse_metric(q, &metric))
		return EXIT_ERROR;
	st_br_result *r;
	if (st_blast_radius(q->s, root, &bo, &r, &q->d))
		return fail(q, "blast-radius");

	st_br_aggregate *ag;
	if (st_br_aggregate_compute(q->s, r, from, to, metric, &ag, &q->d)) {
		st_br_result_free(r);
		return fail(q, "blast-radius aggregates");
	}
	size_t off = q->o.offset > 0 ? (size_t)q->o.offset : 0;
	size_t lim = q->o.limit > 0 ? (size_t)q->o.limit : 100;
	if (off > r->n_hits)
		off = r->n_hits;
	size_t end = off + lim < r->n_hits ? off + lim : r->n_hits;
	if (q->o.json) {
		st_render_page pg = {off, lim, false, NULL};
		if (st_render_blast(q->g, q->s, r, ag, bo.depth, to > from, &pg)) {
			st_br_aggregate_free(ag);
			st_br_result_free(r);
			st_diag_set(&q->d, -ENOMEM, "out of memory");
			return fail(q, "blast-radius");
		}
		flush_json(q);
	} else {
		const char *rk, *rt;
		int rkl;
		node_info(q, root, &rk, &rkl, &rt);
		printf("blast radius of %.*s (%s): %zu dependents, %zu services/components, max distance %u\n",
		       rkl, rk, rt, r->n_hits, ag->services, r->max_distance);
		printf("\n%-4s %-22s %-48s %s\n", "DIST", "TYPE", "NODE", "VIA");
		for (size_t i = off; i < end; i++) {
			const char *k, *t, *vk, *vt;
			int kl, vkl;
			node_info(q, r->hits[i].id, &k, &kl, &t);
			node_info(q, r->hits[i].next, &vk, &vkl, &vt);
			printf("%-4u %-22s %-48.*s %s %.*s\n", r->hits[i].distance, t, kl, k,
			       edge_name(q, r->hits[i].edge_type), vkl, vk);
		}
		if (end < r->n_hits)
			printf("… %zu more (--offset %zu)\n", r->n_hits - end, end);
		printf("\nwho to notify (owners of affected services):\n");
		for (size_t t = 0; t < ag->n_teams; t++) {
			const char *k, *ty;
			int kl;
			node_info(q, ag->teams[t].team, &k, &kl, &ty);
			printf("  %-40.*s %zu services\n", kl, k, ag->teams[t].services);
		}
		if (ag->unowned)
			printf("  %-40s %zu services\n", "(unowned)", ag->unowned);
		if (to > from) {
			printf("\ncost at risk %s .. %s (exclusive):\n", q->o.from, q->o.to);
			for (size_t c = 0; c < ag->n_risk; c++) {
				char cur[4], m[ST_MONEY_BUF];
				st_currency_format(ag->risk[c].currency, cur);
				st_money_format(ag->risk[c].amount, m);
				printf("  %s %s\n", cur, m);
			}
			if (!ag->n_risk)
				printf("  none\n");
		}
	}
	st_br_aggregate_free(ag);
	st_br_result_free(r);
	return 0;
}

/* ---------------------------------------------------------------- owners */

static int cmd_owners(struct qctx *q, int argc, char **argv)
{
	if (argc != 1)
		return usage_error("owners takes one node id");
	st_id x = need_node(q, argv[0]);
	if (!x)
		return EXIT_ERROR;
	st_owner_result *r;
	if (st_owner(q->s, x, &r, &q->d))
		return fail(q, "owners");
	if (q->o.json) {
		st_render_owners(q->g, q->s, r);
		flush_json(q);
	} else {
		printf("%s: %s", argv[0], r->n_owners ? "" : "unowned");
		for (size_t i = 0; i < r->n_owners; i++) {
			const char *k, *t;
			int kl;
			node_info(q, r->owners[i], &k, &kl, &t);
			printf("%s%.*s", i ? ", " : "", kl, k);
		}
		printf("  (%s%s)\n", st_render_claim_name(r->claim), r->conflict ? ", CONFLICT: several owners" : "");
		for (size_t i = 0; i < r->n_chain; i++) {
			const char *k, *t;
			int kl;
			node_info(q, r->chain[i], &k, &kl, &t);
			printf("  %.*s", kl, k);
			if (i + 1 < r->n_chain)
				printf(" -%s->", edge_name(q, r->chain_edges[i]));
			printf("\n");
		}
	}
	st_owner_result_free(r);
	return 0;
}

static void print_id_list(struct qctx *q, const char *title, const st_id *ids, size_t n)
{
	printf("%s (%zu):\n", title, n);
	for (size_t i = 0; i < n; i++) {
		const char *k, *t;
		int kl;
		node_info(q, ids[i], &k, &kl, &t);
		printf("  %-22s %.*s\n", t, kl, k);
	}
}

static int cmd_owned_by(struct qctx *q, int argc, char **argv)
{
	if (argc != 1)
		return usage_error("owned-by takes one team id");
	st_id t = need_node(q, argv[0]);
	if (!t)
		return EXIT_ERROR;
	st_owned_result *r;
	if (st_owned_by(q->s, t, q->o.limit > 0 ? (size_t)q->o.limit : 0, &r, &q->d))
		return fail(q, "owned-by");
	if (q->o.json) {
		st_render_owned_by(q->g, q->s, r, NULL);
		flush_json(q);
	} else {
		print_id_list(q, "owned directly", r->direct, r->n_direct);
		print_id_list(q, "owned by inheritance", r->inherited, r->n_inherited);
	}
	st_owned_result_free(r);
	return 0;
}

/* ------------------------------------------------------------------ cost */

static int cmd_cost(struct qctx *q, int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage_error("cost takes no positional arguments");
	st_group by;
	if (st_render_group_parse(q->o.by, &by))
		return usage_error("--by is resource, service, team, system or domain");
	int32_t from, to;
	st_metric m;
	if (!parse_window(q, &from, &to, true) || !parse_metric(q, &m))
		return EXIT_ERROR;
	st_cost_result *r;
	if (st_cost_rollup(q->s, from, to, by, m, &r, &q->d))
		return fail(q, "cost");
	if (q->o.json) {
		st_render_cost(q->g, q->s, r, by, from, to, m, NULL);
		flush_json(q);
	} else {
		printf("cost by %s, %s .. %s (exclusive), %s\n\n%-48s %-4s %18s %9s\n", st_render_group_name(by),
		       q->o.from, q->o.to, m == ST_METRIC_BILLED ? "billed" : "effective", "GROUP", "CUR",
		       "AMOUNT", "FACTS");
		for (size_t i = 0; i < r->n_rows; i++) {
			char cur[4], money[ST_MONEY_BUF];
			st_currency_format(r->rows[i].currency, cur);
			st_money_format(r->rows[i].amount, money);
			const char *k = "(unattributed)", *t;
			int kl = 14;
			if (r->rows[i].group)
				node_info(q, r->rows[i].group, &k, &kl, &t);
			printf("%-48.*s %-4s %18s %9llu\n", kl, k, cur, money,
			       (unsigned long long)r->rows[i].facts);
		}
		for (size_t i = 0; i < r->n_totals; i++) {
			char cur[4], money[ST_MONEY_BUF];
			st_currency_format(r->totals[i].currency, cur);
			st_money_format(r->totals[i].amount, money);
			printf("%-48s %-4s %18s %9llu\n", "TOTAL", cur, money,
			       (unsigned long long)r->totals[i].facts);
		}
	}
	st_cost_result_free(r);
	return 0;
}

/* ------------------------------------------------------------------ path */

static int cmd_path(struct qctx *q, int argc, char **argv)
{
	if (argc != 2)
		return usage_error("path takes two node ids");
	st_id a = need_node(q, argv[0]), b = a ? need_node(q, argv[1]) : 0;
	if (!a || !b)
		return EXIT_ERROR;
	st_edge_set es;
	if (!parse_edges(q, &es))
		return EXIT_ERROR;
	st_path_result *r;
	if (st_paths(q->s, a, b, es, q->o.max_paths > 0 ? (size_t)q->o.max_paths : 1,
		     q->o.depth > 0 ? (uint32_t)q->o.depth : 0, &r, &q->d))
		return fail(q, "path");
	if (q->o.json) {
		st_render_path(q->g, q->s, r);
		flush_json(q);
	} else {
		for (size_t p = 0; p < r->n_paths; p++) {
			for (size_t i = 0; i < r->len; i++) {
				const char *k, *t;
				int kl;
				node_info(q, r->nodes[r->starts[p] + i], &k, &kl, &t);
				if (i)
					printf(" -%s-> ", edge_name(q, r->edges[r->starts[p] - p + i - 1]));
				printf("%.*s", kl, k);
			}
			printf("\n");
		}
	}
	st_path_result_free(r);
	return 0;
}

/* ------------------------------------------------------------ neighbours */

static int cmd_neighbours(struct qctx *q, int argc, char **argv)
{
	if (argc != 1)
		return usage_error("neighbours takes one node id");
	st_id x = need_node(q, argv[0]);
	if (!x)
		return EXIT_ERROR;
	st_edge_set es;
	if (!parse_edges(q, &es))
		return EXIT_ERROR;
	st_nb_result *r;
	if (st_neighbours(q->s, x, q->o.hops > 0 ? (uint32_t)q->o.hops : 1, es,
			  q->o.breadth > 0 ? (size_t)q->o.breadth : 0,
			  q->o.max_nodes > 0 ? (size_t)q->o.max_nodes : 0, &r, &q->d))
		return fail(q, "neighbours");
	if (q->o.json) {
		st_render_neighbours(q->g, q->s, r);
		flush_json(q);
	} else {
		printf("%zu nodes, %zu edges%s\n", r->n_nodes, r->n_edges,
		       r->truncated ? " (truncated by --breadth/--max-nodes)" : "");
		for (size_t i = 0; i < r->n_nodes; i++) {
			const char *k, *t;
			int kl;
			node_info(q, r->nodes[i], &k, &kl, &t);
			printf("  %u %-22s %.*s\n", r->hops[i], t, kl, k);
		}
		for (size_t i = 0; i < r->n_edges; i++) {
			const char *sk, *dk, *t;
			int skl, dkl;
			node_info(q, r->edges[i].src, &sk, &skl, &t);
			node_info(q, r->edges[i].dst, &dk, &dkl, &t);
			printf("  %.*s -%s-> %.*s\n", skl, sk, edge_name(q, r->edges[i].type), dkl, dk);
		}
	}
	st_nb_result_free(r);
	return 0;
}

/* ---------------------------------------------------------------- search */

static int cmd_search(struct qctx *q, int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage_error("search takes options only");
	st_search_opts so = {q->o.prefix, q->o.name, -1, q->o.prop, q->o.value,
			     q->o.limit > 0 ? (size_t)q->o.limit : 0};
	if (q->o.type) {
		so.type = st_schema_find_node_type(q->schema, q->o.type, strlen(q->o.type));
		if (so.type < 0)
			return usage_error("--type names no node type of the schema");
	}
	if (!!q->o.prop != !!q->o.value)
		return usage_error("--prop and --value go together");
	st_search_result *r;
	if (st_search(q->s, &so, &r, &q->d))
		return fail(q, "search");
	if (q->o.json) {
		st_render_search(q->g, q->s, r, NULL);
		flush_json(q);
	} else {
		for (size_t i = 0; i < r->n_ids; i++) {
			const char *k, *t;
			int kl;
			node_info(q, r->ids[i], &k, &kl, &t);
			printf("%-22s %.*s\n", t, kl, k);
		}
		if (r->truncated)
			printf("… more (raise --limit)\n");
	}
	st_search_result_free(r);
	return 0;
}

/* -------------------------------------------------------------- dispatch */

enum {
	O_DB = 1000, O_SCHEMA, O_JSON, O_DEPTH, O_EDGES, O_FROM, O_TO, O_METRIC, O_LIMIT, O_OFFSET,
	O_BY, O_HOPS, O_BREADTH, O_MAXNODES, O_MAXPATHS, O_PREFIX, O_NAME, O_TYPE, O_PROP, O_VALUE,
};

int st_cli_query(int argc, char **argv)
{
	static const struct option opts[] = {
		{"db", required_argument, NULL, O_DB},
		{"schema", required_argument, NULL, O_SCHEMA},
		{"json", no_argument, NULL, O_JSON},
		{"depth", required_argument, NULL, O_DEPTH},
		{"edges", required_argument, NULL, O_EDGES},
		{"from", required_argument, NULL, O_FROM},
		{"to", required_argument, NULL, O_TO},
		{"metric", required_argument, NULL, O_METRIC},
		{"limit", required_argument, NULL, O_LIMIT},
		{"offset", required_argument, NULL, O_OFFSET},
		{"by", required_argument, NULL, O_BY},
		{"hops", required_argument, NULL, O_HOPS},
		{"breadth", required_argument, NULL, O_BREADTH},
		{"max-nodes", required_argument, NULL, O_MAXNODES},
		{"max-paths", required_argument, NULL, O_MAXPATHS},
		{"prefix", required_argument, NULL, O_PREFIX},
		{"name", required_argument, NULL, O_NAME},
		{"type", required_argument, NULL, O_TYPE},
		{"prop", required_argument, NULL, O_PROP},
		{"value", required_argument, NULL, O_VALUE},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct qctx q;
	memset(&q, 0, sizeof(q));
	int o;
	optind = 1;
	/* options may come before and after the verb */
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		long *num = NULL;
		long hi = 1000000000L;
		switch (o) {
		case O_DB: q.o.db = optarg; break;
		case O_SCHEMA: q.o.schema_path = optarg; break;
		case O_JSON: q.o.json = true; break;
		case O_DEPTH: num = &q.o.depth; hi = 1000000; break;
		case O_EDGES: q.o.edges = optarg; break;
		case O_FROM: q.o.from = optarg; break;
		case O_TO: q.o.to = optarg; break;
		case O_METRIC: q.o.metric = optarg; break;
		case O_LIMIT: num = &q.o.limit; break;
		case O_OFFSET: num = &q.o.offset; break;
		case O_BY: q.o.by = optarg; break;
		case O_HOPS: num = &q.o.hops; hi = 16; break;
		case O_BREADTH: num = &q.o.breadth; hi = 100000; break;
		case O_MAXNODES: num = &q.o.max_nodes; hi = 1000000; break;
		case O_MAXPATHS: num = &q.o.max_paths; hi = 1000; break;
		case O_PREFIX: q.o.prefix = optarg; break;
		case O_NAME: q.o.name = optarg; break;
		case O_TYPE: q.o.type = optarg; break;
		case O_PROP: q.o.prop = optarg; break;
		case O_VALUE: q.o.value = optarg; break;
		case 'h': fputs(query_usage, stdout); return 0;
		default: return usage_error("bad option");
		}
		if (num && !parse_long(optarg, 0, hi, num)) {
			char msg[96];
			snprintf(msg, sizeof(msg), "--%s takes a whole number from 0 to %ld", opts[o - O_DB].name, hi);
			return usage_error(msg);
		}
	}
	if (optind >= argc)
		return usage_error("which query?");
	if (!q.o.db)
		return usage_error("--db DIR is required");
	const char *verb = argv[optind];
	static const struct { const char *name; int (*fn)(struct qctx *, int, char **); } verbs[] = {
		{"blast-radius", cmd_blast}, {"owners", cmd_owners}, {"owned-by", cmd_owned_by},
		{"cost", cmd_cost},          {"path", cmd_path},     {"neighbours", cmd_neighbours},
		{"neighbors", cmd_neighbours}, {"search", cmd_search},
	};
	int (*fn)(struct qctx *, int, char **) = NULL;
	for (size_t i = 0; i < ST_ARRAY_LEN(verbs); i++)
		if (!strcmp(verb, verbs[i].name))
			fn = verbs[i].fn;
	if (!fn) {
		char msg[128];
		snprintf(msg, sizeof(msg), "unknown query '%.60s'", verb);
		return usage_error(msg);
	}
	int r = q.o.schema_path ? st_schema_load_file(q.o.schema_path, &q.schema, &q.d)
				: st_schema_load_default(&q.schema, &q.d);
	if (r)
		return fail(&q, NULL);
	if (st_store_open(q.o.db, q.schema, ST_OPEN_READONLY, &q.st, &q.d) ||
	    st_snap_begin(q.st, &q.s, &q.d)) {
		r = fail(&q, NULL);
		goto out;
	}
	q.g = yajl_gen_alloc(NULL);
	yajl_gen_config(q.g, yajl_gen_beautify, 1);
	r = fn(&q, argc - optind - 1, argv + optind + 1);
out:
	if (q.g)
		yajl_gen_free(q.g);
	st_snap_end(q.s);
	st_store_close(q.st);
	st_schema_free(q.schema);
	return r;
}
