/*
 * main.c — the `stacktwin` command line: verb dispatch, option parsing and
 * human/JSON output.  It owns process concerns (exit codes, stderr messages);
 * all real work happens in the library modules it calls.
 *
 * Exit codes: 0 success, 1 findings (later: `check`), 2 errors and usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <yajl/yajl_gen.h>

#include "cli_query.h"
#include "cli_sync.h"
#include "jsonl.h"
#include "props.h"
#include "render.h"
#include "schema.h"
#include "serve.h"
#include "store.h"

#define EXIT_FINDINGS 1
#define EXIT_ERROR 2

static const char usage_text[] =
	"usage: stacktwin <command> [options]\n"
	"\n"
	"commands:\n"
	"  import --db DIR [--source NAME] FILE...   bulk-load JSON Lines (docs/interchange.md)\n"
	"  export --db DIR [--out DIR]               write the graph as canonical JSON Lines\n"
	"  stats  --db DIR [--json]                  counts per node and edge type\n"
	"  verify --db DIR                           check the store's internal invariants\n"
	"  query  --db DIR VERB …                    blast-radius, owners, owned-by, cost, path,\n"
	"                                            neighbours, search (stacktwin query --help)\n"
	"  serve  --db DIR [--listen HOST:PORT]      the query API over HTTP (stacktwin serve --help)\n"
	"  sync   [--config FILE] [KIND:LOCATION…]   read sources into the store (docs/sync.md)\n"
	"  sources [--config FILE] [--db DIR]        status of every source\n"
	"  unmatched [--db DIR] [--source NAME]      what identity reconciliation could not link\n"
	"  version                                   print the version\n"
	"\n"
	"common options:\n"
	"  --db DIR         the store directory (created by import if missing)\n"
	"  --schema FILE    use this schema instead of the built-in one\n"
	"  --no-sync        do not fsync commits (faster; unsafe on power loss)\n"
	"  -h, --help       this help\n";

struct common {
	const char *db;
	const char *schema_path;
	bool json;
	bool nosync;
	const char *source;
	const char *out;
};

static void die_usage(const char *msg)
{
	if (msg)
		fprintf(stderr, "stacktwin: %s\n", msg);
	fputs(usage_text, stderr);
	exit(EXIT_ERROR);
}

enum { OPT_DB = 1000, OPT_SCHEMA, OPT_JSON, OPT_SOURCE, OPT_OUT, OPT_NOSYNC };

static int parse_common(int argc, char **argv, struct common *c)
{
	static const struct option opts[] = {
		{"db", required_argument, NULL, OPT_DB},
		{"schema", required_argument, NULL, OPT_SCHEMA},
		{"json", no_argument, NULL, OPT_JSON},
		{"source", required_argument, NULL, OPT_SOURCE},
		{"out", required_argument, NULL, OPT_OUT},
		{"no-sync", no_argument, NULL, OPT_NOSYNC},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (o) {
		case OPT_DB: c->db = optarg; break;
		case OPT_SCHEMA: c->schema_path = optarg; break;
		case OPT_JSON: c->json = true; break;
		case OPT_SOURCE: c->source = optarg; break;
		case OPT_OUT: c->out = optarg; break;
		case OPT_NOSYNC: c->nosync = true; break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default:
			die_usage(NULL);
		}
	}
	return optind;
}

static st_schema *load_schema(const struct common *c)
{
	st_schema *s;
	st_diag d = {{0}};
	int r = c->schema_path ? st_schema_load_file(c->schema_path, &s, &d) : st_schema_load_default(&s, &d);
	if (r) {
		fprintf(stderr, "stacktwin: %s\n", d.msg);
		exit(EXIT_ERROR);
	}
	return s;
}

static st_store *open_store(const struct common *c, const st_schema *schema, bool ro)
{
	if (!c->db)
		die_usage("--db DIR is required");
	st_store *st;
	st_diag d = {{0}};
	unsigned flags = (ro ? ST_OPEN_READONLY : 0) | (c->nosync ? ST_OPEN_NOSYNC : 0);
	if (st_store_open(c->db, schema, flags, &st, &d)) {
		fprintf(stderr, "stacktwin: %s\n", d.msg);
		exit(EXIT_ERROR);
	}
	return st;
}

/* A read-only command's state: options, schema, store and one snapshot. */
struct ro {
	struct common c;
	st_schema *schema;
	st_store *st;
	st_snap *s;
};

/* Parse options (no positional arguments allowed) and open a snapshot;
 * exits with code 2 and a message on any failure. */
static void ro_open(int argc, char **argv, const char *verb, struct ro *x)
{
	memset(x, 0, sizeof(*x));
	if (parse_common(argc, argv, &x->c) < argc) {
		char msg[64];
		snprintf(msg, sizeof(msg), "%s: unexpected argument", verb);
		die_usage(msg);
	}
	x->schema = load_schema(&x->c);
	x->st = open_store(&x->c, x->schema, true);
	st_diag d = {{0}};
	if (st_snap_begin(x->st, &x->s, &d)) {
		fprintf(stderr, "stacktwin: %s\n", d.msg);
		exit(EXIT_ERROR);
	}
}

static void ro_close(struct ro *x)
{
	st_snap_end(x->s);
	st_store_close(x->st);
	st_schema_free(x->schema);
}

static int cmd_import(int argc, char **argv)
{
	struct common c = {0};
	int i = parse_common(argc, argv, &c);
	if (i >= argc)
		die_usage("import: no input files");
	st_schema *schema = load_schema(&c);
	st_store *st = open_store(&c, schema, false);
	st_import_result res;
	st_diag d = {{0}};
	int r = st_import_files(st, c.source ? c.source : "import", (const char *const *)argv + i,
				(size_t)(argc - i), &res, &d);
	st_store_close(st);
	st_schema_free(schema);
	if (r) {
		fprintf(stderr, "stacktwin: import failed, store unchanged: %s\n", d.msg);
		return EXIT_ERROR;
	}
	double total = res.parse_seconds + res.commit_seconds;
	printf("imported %llu nodes, %llu edges, %llu cost facts from %llu lines (%.1f MiB) "
	       "as revision %llu in %.2f s (read %.2f s, commit %.2f s)\n",
	       (unsigned long long)res.nodes, (unsigned long long)res.edges,
	       (unsigned long long)res.costs, (unsigned long long)res.lines, (double)res.bytes / 1048576.0,
	       (unsigned long long)res.revision, total, res.parse_seconds, res.commit_seconds);
	return 0;
}

static int cmd_export(int argc, char **argv)
{
	struct ro x;
	ro_open(argc, argv, "export", &x);
	st_diag d = {{0}};
	int r = 0;
	FILE *f[3] = {stdout, stdout, stdout};
	static const char *const names[3] = {"nodes.jsonl", "edges.jsonl", "costs.jsonl"};
	if (x.c.out) {
		if (mkdir(x.c.out, 0755) != 0 && errno != EEXIST)
			r = st_diag_set(&d, ST_E_IO, "%s: %s", x.c.out, strerror(errno));
		for (int k = 0; k < 3 && !r; k++) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", x.c.out, names[k]);
			if (!(f[k] = fopen(path, "w")))
				r = st_diag_set(&d, ST_E_IO, "%s: %s", path, strerror(errno));
		}
	}
	if (!r)
		r = st_export(x.s, f[0], f[1], f[2], &d);
	for (int k = 0; k < 3; k++)
		if (f[k] && f[k] != stdout && fclose(f[k]) != 0 && !r)
			r = st_diag_set(&d, ST_E_IO, "%s: close failed", names[k]);
	ro_close(&x);
	if (r) {
		fprintf(stderr, "stacktwin: %s\n", d.msg);
		return EXIT_ERROR;
	}
	return 0;
}

static int cmd_stats(int argc, char **argv)
{
	struct ro x;
	ro_open(argc, argv, "stats", &x);
	const st_schema *schema = x.schema;
	st_stats stt;
	st_snap_stats(x.s, &stt);
	char when[32] = "never";
	if (stt.revision_time)
		st_timestamp_format(stt.revision_time, when);
	if (x.c.json) {
		yajl_gen g = yajl_gen_alloc(NULL);
		yajl_gen_config(g, yajl_gen_beautify, 1);
		st_render_stats(g, x.s);
		const unsigned char *buf;
		size_t len;
		yajl_gen_get_buf(g, &buf, &len);
		fwrite(buf, 1, len, stdout);
		yajl_gen_free(g);
	} else {
		printf("store       %s\n", x.c.db);
		printf("revision    %llu (%s)\n", (unsigned long long)stt.revision, when);
		printf("nodes       %llu\n", (unsigned long long)stt.nodes);
		printf("edges       %llu\n", (unsigned long long)stt.edges);
		printf("cost facts  %llu\n", (unsigned long long)stt.costs);
		printf("size        %.1f MiB file, %.1f MiB used\n", (double)stt.store_bytes / 1048576.0,
		       (double)stt.used_bytes / 1048576.0);
		printf("\n%-24s %12s\n", "NODE TYPE", "COUNT");
		for (size_t t = 0; t < stt.n_node_types; t++)
			if (stt.node_count[t])
				printf("%-24s %12llu\n", st_schema_node_type(schema, t)->name,
				       (unsigned long long)stt.node_count[t]);
		printf("\n%-24s %12s\n", "EDGE TYPE", "COUNT");
		for (size_t t = 0; t < stt.n_edge_types; t++)
			if (stt.edge_count[t])
				printf("%-24s %12llu\n", st_schema_edge_type(schema, t)->name,
				       (unsigned long long)stt.edge_count[t]);
	}
	st_stats_free(&stt);
	ro_close(&x);
	return 0;
}

static int cmd_verify(int argc, char **argv)
{
	struct ro x;
	ro_open(argc, argv, "verify", &x);
	st_diag d = {{0}};
	int r = st_snap_verify(x.s, &d);
	if (!r)
		printf("store %s: revision %llu consistent\n", x.c.db,
		       (unsigned long long)st_snap_revision(x.s));
	ro_close(&x);
	if (r) {
		fprintf(stderr, "stacktwin: %s\n", d.msg);
		return EXIT_ERROR;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		die_usage(NULL);
	/* once, before any thread: connectors use libcurl from worker threads */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "stacktwin: libcurl failed to initialise\n");
		return EXIT_ERROR;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("stacktwin %s\n", ST_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "import"))
		return cmd_import(argc - 1, argv + 1);
	if (!strcmp(cmd, "export"))
		return cmd_export(argc - 1, argv + 1);
	if (!strcmp(cmd, "stats"))
		return cmd_stats(argc - 1, argv + 1);
	if (!strcmp(cmd, "verify"))
		return cmd_verify(argc - 1, argv + 1);
	if (!strcmp(cmd, "query"))
		return st_cli_query(argc - 1, argv + 1);
	if (!strcmp(cmd, "serve"))
		return st_cli_serve(argc - 1, argv + 1);
	if (!strcmp(cmd, "sync"))
		return st_cli_sync(argc - 1, argv + 1);
	if (!strcmp(cmd, "sources"))
		return st_cli_sources(argc - 1, argv + 1);
	if (!strcmp(cmd, "unmatched"))
		return st_cli_unmatched(argc - 1, argv + 1);
	fprintf(stderr, "stacktwin: unknown command '%s'\n", cmd);
	die_usage(NULL);
	return EXIT_ERROR;
}
