/*
 * test_billing.c — the billing export connectors (connectors/billing.c):
 * kinds focus, cur and gcp-billing against the hand-written CSVs in
 * tests/data/billing/ (quoting edge cases, gzip, directories, hourly rows,
 * mixed currencies, credits, tags, malformed rows of every kind under both
 * on_error policies) and, when present, the real public samples in
 * /work/shared/fixtures/ (focus, billing-aws-cur, billing-gcp).
 *
 * Expected sums are exact micro-units computed by hand (see the comments)
 * and cross-checked with tests/data/billing/reference.py, an independent
 * Python decimal implementation of the same grouping and rounding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "record_sink.h"

#define DATA ST_SOURCE_ROOT "/tests/data/billing/"
#define FIXTURES "/work/shared/fixtures/"

static st_schema *schema;

typedef struct brun {
	rs_sink rs;
	st_diag d;
	int rc;
} brun;

static void run_kind(brun *b, const st_connector *conn, const char *path, const char *on_error)
{
	st_kv opt = {"on_error", on_error};
	st_source src = {.name = "bill",
			 .kind = conn->kind,
			 .location = path,
			 .options = on_error ? &opt : NULL,
			 .n_options = on_error ? 1 : 0};
	memset(b, 0, sizeof(*b));
	rs_init(&b->rs, schema);
	b->rs.sink.note = rs_warn; /* notes are recorded as 'w' facts */
	b->rc = conn->run(&src, &b->rs.sink, &b->d);
}

static void run_ok(brun *b, const st_connector *conn, const char *path, const char *on_error)
{
	run_kind(b, conn, path, on_error);
	if (b->rc != 0)
		fail_msg("%s: rc %d: %s", path, b->rc, b->d.msg);
}

static const rs_fact *find_cost(const rs_sink *r, const char *id, const char *day,
				const char *currency)
{
	int32_t d;
	uint16_t c;
	assert_int_equal(st_day_parse(day, 10, &d), 0);
	assert_int_equal(st_currency_parse(currency, 3, &c), 0);
	for (size_t i = 0; i < r->n; i++) {
		const rs_fact *f = &r->facts[i];
		if (f->kind == 'c' && f->day == d && f->currency == c && !strcmp(f->id, id))
			return f;
	}
	return NULL;
}

static void assert_cost(const rs_sink *r, const char *id, const char *day, const char *currency,
			int64_t billed, int64_t effective)
{
	const rs_fact *f = find_cost(r, id, day, currency);
	if (!f)
		fail_msg("no cost fact %s %s %s", id, day, currency);
	if (f->billed != billed || f->effective != effective)
		fail_msg("%s %s %s: billed %lld effective %lld, want %lld %lld", id, day, currency,
			 (long long)f->billed, (long long)f->effective, (long long)billed,
			 (long long)effective);
}

typedef struct totals {
	size_t facts;
	int64_t billed, effective;
} totals;

static totals sum_currency(const rs_sink *r, const char *currency)
{
	uint16_t c;
	assert_int_equal(st_currency_parse(currency, 3, &c), 0);
	totals t = {0};
	for (size_t i = 0; i < r->n; i++) {
		const rs_fact *f = &r->facts[i];
		if (f->kind == 'c' && f->currency == c) {
			t.facts++;
			t.billed += f->billed;
			t.effective += f->effective;
		}
	}
	return t;
}

static void assert_totals(const rs_sink *r, const char *currency, size_t facts, int64_t billed,
			  int64_t effective)
{
	totals t = sum_currency(r, currency);
	if (t.facts != facts || t.billed != billed || t.effective != effective)
		fail_msg("%s: %zu facts, billed %lld, effective %lld; want %zu, %lld, %lld",
			 currency, t.facts, (long long)t.billed, (long long)t.effective, facts,
			 (long long)billed, (long long)effective);
}

/* The warning/note facts whose message contains `needle`. */
static size_t count_notes(const rs_sink *r, const char *needle)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n; i++)
		n += r->facts[i].kind == 'w' && strstr(r->facts[i].dst, needle);
	return n;
}

static const rs_fact *find_note(const rs_sink *r, const char *needle)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->facts[i].kind == 'w' && strstr(r->facts[i].dst, needle))
			return &r->facts[i];
	return NULL;
}

static bool file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

#define PAY "bill:aws/arn:aws:rds:eu-west-1:111:db:payments"
#define VM1 \
	"bill:azure//subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"

/* focus_basic.csv: BOM, CRLF, a quoted cell with a doubled quote and an
 * embedded CRLF, an empty line, no newline at the end. */
static void check_focus_basic(const rs_sink *r, const char *origin)
{
	/* hourly rows of one day: 0.00000080000 + 1.10000000001 = 1.10000080001
	 * -> 1.100001; effective 0.0000007 + 1.0 -> 1.000001 */
	assert_cost(r, PAY, "2026-10-01", "USD", 1100001, 1000001);
	/* 2026-10-01T23:30:00-01:00 is 2026-10-02 00:30 UTC */
	assert_cost(r, PAY, "2026-10-02", "USD", 2500000, 2250000);
	/* another currency on the same day is its own fact, never summed */
	assert_cost(r, PAY, "2026-10-01", "EUR", 3000000, 3000000);
	/* no ResourceId (NULL): the service bucket */
	assert_cost(r, "bill:aws/service/AWS Support", "2026-10-01", "USD", 400000, 300000);
	assert_cost(r, VM1, "2026-10-01", "USD", 1000001, 1000000);
	/* rounding half away from zero: 0.0000005 -> 1, -0.0000005 -> -1 */
	assert_cost(r, "bill:gcp/gcp-res-1", "2026-10-03", "USD", 1, 1);
	assert_cost(r, "bill:gcp/gcp-res-2", "2026-10-03", "USD", -1, 0);
	/* 1E-6, .5, a lower-case currency, +02:00 at noon: same day */
	assert_cost(r, "bill:gcp/gcp-res-3", "2026-10-03", "USD", 1, 500000);
	/* reference.py focus focus_basic.csv:
	 *   EUR facts 1 billed 3000000 effective 3000000
	 *   USD facts 7 billed 5000003 effective 5050002 */
	assert_totals(r, "USD", 7, 5000003, 5050002);
	assert_totals(r, "EUR", 1, 3000000, 3000000);
	assert_int_equal(r->n_costs, 8);
	assert_int_equal(r->n_nodes, 6);

	const rs_fact *n = rs_find_node(r, PAY);
	rs_assert_prop(n, "provider", "aws");
	rs_assert_prop(n, "service_name", "Amazon RDS");
	rs_assert_prop(n, "resource_id", "arn:aws:rds:eu-west-1:111:db:payments");
	rs_assert_prop(n, "region", "eu-west-1");
	rs_assert_prop(n, "account", "111");
	rs_assert_prop(n, "name", "payments-db");
	rs_assert_prop(n, "labels", "service=payments,team=payments-team");
	assert_string_equal(n->origin, origin);
	assert_int_equal(n->line, 2);

	n = rs_find_node(r, VM1);
	rs_assert_prop(n, "provider", "azure");
	rs_assert_prop(n, "name", "vm \"one\"\r\nsecond line");
	rs_assert_prop(n, "labels", "app=checkout,env=prod,owner=team-checkout");
	assert_int_equal(n->line, 7);

	n = rs_find_node(r, "bill:aws/service/AWS Support");
	rs_assert_prop(n, "provider", "aws");
	rs_assert_prop(n, "service_name", "AWS Support");
	rs_assert_prop(n, "resource_id", "");
	rs_assert_prop(n, "labels", "");

	/* the row after the two-line cell and the empty line is line 10 */
	assert_int_equal(rs_find_node(r, "bill:gcp/gcp-res-1")->line, 10);
	assert_int_equal(find_cost(r, "bill:gcp/gcp-res-3", "2026-10-03", "USD")->line, 12);
	rs_assert_prop(rs_find_node(r, "bill:gcp/gcp-res-1"), "provider", "gcp");

	/* hints: tags and the resource id */
	const rs_fact *h = rs_find_hint(r, PAY, ST_HINT_SERVICE, "payments");
	assert_non_null(h);
	assert_string_equal(h->rule, "billing-tag");
	assert_string_equal(h->evidence, "tag service=payments");
	assert_non_null(rs_find_hint(r, PAY, ST_HINT_TEAM, "payments-team"));
	h = rs_find_hint(r, PAY, ST_HINT_CLOUD_ID, "arn:aws:rds:eu-west-1:111:db:payments");
	assert_non_null(h);
	assert_string_equal(h->rule, "billing-resource-id");
	assert_string_equal(h->evidence, "ResourceId arn:aws:rds:eu-west-1:111:db:payments");
	assert_non_null(rs_find_hint(r, VM1, ST_HINT_SERVICE, "checkout"));
	assert_non_null(rs_find_hint(r, VM1, ST_HINT_TEAM, "team-checkout"));
	assert_null(rs_find_hint(r, VM1, ST_HINT_SERVICE, "prod"));
	/* buckets get no hints */
	for (size_t i = 0; i < r->n; i++)
		if (r->facts[i].kind == 'h')
			assert_null(strstr(r->facts[i].id, "/service/"));
	/* 5 resources x cloud id + 2 + 2 tag hints */
	assert_int_equal(r->n_hints, 9);
	assert_int_equal(rs_count_kind(r, 'w'), 0);
}

static void test_focus_basic(void **state)
{
	(void)state;
	brun b;
	run_ok(&b, &st_connector_focus, DATA "focus_basic.csv", NULL);
	check_focus_basic(&b.rs, "bill:focus_basic.csv");
	/* nodes come before costs */
	size_t last_node = 0, first_cost = SIZE_MAX;
	for (size_t i = 0; i < b.rs.n; i++) {
		if (b.rs.facts[i].kind == 'n')
			last_node = i;
		if (b.rs.facts[i].kind == 'c' && first_cost == SIZE_MAX)
			first_cost = i;
	}
	assert_true(last_node < first_cost);
	rs_free(&b.rs);
}

static void test_focus_gzip(void **state)
{
	(void)state;
	brun b;
	run_ok(&b, &st_connector_focus, DATA "focus_basic.csv.gz", NULL);
	check_focus_basic(&b.rs, "bill:focus_basic.csv.gz");
	rs_free(&b.rs);
	/* two concatenated gzip members (split mid-file, as pigz or cat do) */
	run_ok(&b, &st_connector_focus, DATA "focus_multi.csv.gz", NULL);
	check_focus_basic(&b.rs, "bill:focus_multi.csv.gz");
	rs_free(&b.rs);
	run_kind(&b, &st_connector_focus, DATA "focus_truncated.csv.gz", NULL);
	assert_int_equal(b.rc, ST_E_INVALID);
	assert_non_null(strstr(b.d.msg, "bill:focus_truncated.csv.gz: truncated gzip data"));
	rs_free(&b.rs);
}

static void test_directory(void **state)
{
	(void)state;
	brun b;
	run_ok(&b, &st_connector_focus, DATA "dir", NULL);
	/* 1.25 (a.csv) + 2.000000000000000001 (b.csv.gz) -> 3.25; 1 + 2 -> 3 */
	assert_cost(&b.rs, "bill:aws/i-dir", "2026-10-05", "USD", 3250000, 3000000);
	assert_cost(&b.rs, "bill:aws/i-dir", "2026-10-06", "USD", 750000, 500000);
	assert_int_equal(b.rs.n_costs, 2);
	assert_int_equal(b.rs.n_nodes, 1);
	/* the first row of the key is in the first file by name */
	const rs_fact *f = find_cost(&b.rs, "bill:aws/i-dir", "2026-10-05", "USD");
	assert_string_equal(f->origin, "bill:2026-10-a.csv");
	assert_int_equal(f->line, 2);
	rs_free(&b.rs);

	char tmp[] = "/tmp/st-billing-XXXXXX";
	assert_non_null(mkdtemp(tmp));
	run_kind(&b, &st_connector_focus, tmp, NULL);
	assert_int_equal(b.rc, ST_E_INVALID);
	assert_non_null(strstr(b.d.msg, "no *.csv or *.csv.gz files"));
	rs_free(&b.rs);
	rmdir(tmp);
}

static void test_focus05(void **state)
{
	(void)state;
	brun b;
	run_ok(&b, &st_connector_focus, DATA "focus05.csv", NULL);
	assert_cost(&b.rs, "bill:azure/vm-05", "2026-10-07", "CHF", 4200000, 4000000);
	rs_assert_prop(rs_find_node(&b.rs, "bill:azure/vm-05"), "region", "westeurope");
	rs_free(&b.rs);
}

static void test_cur(void **state)
{
	(void)state;
	brun b;
	run_ok(&b, &st_connector_cur, DATA "cur_basic.csv", NULL);
	/* 2 x 0.0123456789012345678 = 0.0246913578024691356 -> 0.024691;
	 * effective: net 0.0100000000000000001 + (net empty) unblended
	 * 0.0123456789012345678 = 0.0223456789012345679 -> 0.022346 */
	assert_cost(&b.rs, "bill:aws/i-0abc", "2026-10-01", "USD", 24691, 22346);
	assert_cost(&b.rs, "bill:aws/i-0abc", "2026-10-01", "JPY", 100000000, 100000000);
	/* savings plan: covered usage 10 (effective 6.5) + negation -10 (effective 0) */
	assert_cost(&b.rs, "bill:aws/i-0def", "2026-10-01", "USD", 0, 6500000);
	/* reservation: discounted usage at its effective cost */
	assert_cost(&b.rs, "bill:aws/i-0ghi", "2026-10-01", "USD", 0, 750000);
	/* tax without a resource id */
	assert_cost(&b.rs, "bill:aws/service/Amazon Elastic Compute Cloud", "2026-10-01", "USD",
		    1230000, 1230000);
	assert_int_equal(b.rs.n_costs, 5);
	const rs_fact *n = rs_find_node(&b.rs, "bill:aws/i-0abc");
	rs_assert_prop(n, "provider", "aws");
	rs_assert_prop(n, "service_name", "Amazon Elastic Compute Cloud");
	rs_assert_prop(n, "region", "eu-west-1");
	rs_assert_prop(n, "account", "111");
	/* user: tags only */
	rs_assert_prop(n, "labels", "service=checkout,team=team-checkout");
	assert_non_null(rs_find_hint(&b.rs, "bill:aws/i-0abc", ST_HINT_SERVICE, "checkout"));
	assert_non_null(rs_find_hint(&b.rs, "bill:aws/i-0abc", ST_HINT_TEAM, "team-checkout"));
	const rs_fact *h = rs_find_hint(&b.rs, "bill:aws/i-0abc", ST_HINT_CLOUD_ID, "i-0abc");
	assert_non_null(h);
	assert_string_equal(h->evidence, "lineItem/ResourceId i-0abc");
	assert_int_equal(rs_count_kind(&b.rs, 'w'), 0);
	rs_free(&b.rs);
}

#define GVM "bill:gcp///compute.googleapis.com/projects/proj-a/zones/europe-west1-b/instances/123"

static void test_gcp(void **state)
{
	(void)state;
	brun b;
	run_ok(&b, &st_connector_gcp_billing, DATA "gcp_basic.csv", NULL);
	/* billed 1.5 + 5e-06 = 1.500005; effective adds the credits
	 * -0.25 - 1e-2 (JSON) and -5e-06 (Python literal): 1.24 */
	assert_cost(&b.rs, GVM, "2026-10-01", "USD", 1500005, 1240000);
	assert_cost(&b.rs, "bill:gcp/service/Cloud Storage", "2026-10-01", "USD", 100000, 100000);
	/* resource.name when there is no global name */
	assert_cost(&b.rs, "bill:gcp/bucket-logs", "2026-10-02", "EUR", 2000000, 2000000);
	/* reference.py gcp gcp_basic.csv:
	 *   EUR facts 1 billed 2000000 effective 2000000
	 *   USD facts 2 billed 1600005 effective 1340000 */
	assert_totals(&b.rs, "USD", 2, 1600005, 1340000);
	const rs_fact *n = rs_find_node(&b.rs, GVM);
	rs_assert_prop(n, "name", "vm-1");
	rs_assert_prop(n, "account", "proj-a");
	rs_assert_prop(n, "region", "europe-west1");
	rs_assert_prop(n, "service_name", "Compute Engine");
	/* labels array plus the labels.env column */
	rs_assert_prop(n, "labels", "env=prod,service=search,team=platform");
	assert_non_null(rs_find_hint(&b.rs, GVM, ST_HINT_SERVICE, "search"));
	assert_non_null(rs_find_hint(&b.rs, GVM, ST_HINT_TEAM, "platform"));
	rs_assert_prop(rs_find_node(&b.rs, "bill:gcp/service/Cloud Storage"), "service_name",
		    "Cloud Storage");
	rs_free(&b.rs);

	run_kind(&b, &st_connector_gcp_billing, DATA "gcp_bad_credits.csv", NULL);
	assert_int_equal(b.rc, ST_E_INVALID);
	assert_non_null(strstr(b.d.msg, "bill:gcp_bad_credits.csv:3: credits:"));
	rs_free(&b.rs);
}

/* Tags: secret-looking keys dropped, non-string scalars kept as text,
 * nested values and nulls skipped, Azure EA tags without braces, JSON
 * escapes, a malformed cell (a note, no labels), the latest day wins. */
static void test_tags(void **state)
{
	(void)state;
	brun b;
	run_ok(&b, &st_connector_focus, DATA "focus_tags.csv", NULL);
	rs_assert_prop(rs_find_node(&b.rs, "bill:aws/res-secret"), "labels",
		    "b=true,n=5,team=payments");
	for (size_t i = 0; i < b.rs.n; i++) {
		const rs_fact *f = &b.rs.facts[i];
		char *all = rs_prop_str(f, "labels");
		assert_null(strstr(all, "hunter2"));
		free(all);
		if (f->dst)
			assert_null(strstr(f->dst, "hunter2"));
		if (f->evidence)
			assert_null(strstr(f->evidence, "hunter2"));
	}
	rs_assert_prop(rs_find_node(&b.rs, "bill:azure/res-azure"), "labels",
		    "costCenter=1234,service=checkout");
	assert_non_null(rs_find_hint(&b.rs, "bill:azure/res-azure", ST_HINT_SERVICE, "checkout"));
	rs_assert_prop(rs_find_node(&b.rs, "bill:aws/res-badtags"), "labels", "");
	const rs_fact *w = find_note(&b.rs, "Tags: not a valid JSON object; the labels of "
					    "bill:aws/res-badtags are not kept");
	assert_non_null(w);
	assert_int_equal(w->line, 4);
	rs_assert_prop(rs_find_node(&b.rs, "bill:aws/res-moved"), "labels", "team=new-team");
	assert_non_null(rs_find_hint(&b.rs, "bill:aws/res-moved", ST_HINT_TEAM, "new-team"));
	assert_null(rs_find_hint(&b.rs, "bill:aws/res-moved", ST_HINT_TEAM, "old-team"));
	rs_assert_prop(rs_find_node(&b.rs, "bill:aws/res-esc"), "labels",
		    "app=a/b,team=caf\xc3\xa9 \"q\"");
	const rs_fact *h =
		rs_find_hint(&b.rs, "bill:aws/res-esc", ST_HINT_TEAM, "caf\xc3\xa9 \"q\"");
	assert_non_null(h);
	assert_string_equal(h->evidence, "tag team=caf\xc3\xa9 \"q\"");
	assert_int_equal(rs_count_kind(&b.rs, 'w'), 1);
	rs_free(&b.rs);
}

/* One malformed row of each kind at line 3 of its file, between good rows. */
static const struct {
	const char *file, *msg;
	uint32_t line;
} bad_cases[] = {
	{"bad_quote.csv", "a quote inside an unquoted field", 3},
	{"bad_after_quote.csv", "a character after the closing quote of a field", 3},
	{"bad_columns.csv", "8 fields, the header has 7", 3},
	{"bad_number.csv", "BilledCost: '1.2.3' is not a number", 3},
	{"bad_range.csv", "BilledCost: '1e16' is out of range", 3},
	{"bad_date.csv", "ChargePeriodStart: '10/01/2026' is not a date", 3},
	{"bad_currency.csv", "BillingCurrency: 'US$' is not a currency code", 3},
	{"bad_long_id.csv", "a resource id of 500 bytes makes a node id over 400 bytes", 3},
	{"bad_unterminated.csv", "a quoted field is not closed before the end of the file", 4},
};

static void test_malformed_fail(void **state)
{
	(void)state;
	for (size_t i = 0; i < ST_ARRAY_LEN(bad_cases); i++) {
		brun b;
		char path[512], want[256];
		snprintf(path, sizeof(path), DATA "%s", bad_cases[i].file);
		run_kind(&b, &st_connector_focus, path, i % 2 ? "fail" : NULL);
		assert_int_equal(b.rc, ST_E_INVALID);
		snprintf(want, sizeof(want), "bill:%s:%u: %s", bad_cases[i].file, bad_cases[i].line,
			 bad_cases[i].msg);
		if (!strstr(b.d.msg, want))
			fail_msg("%s: message '%s', want '%s'", bad_cases[i].file, b.d.msg, want);
		/* nothing is emitted by a failed run */
		assert_int_equal(b.rs.n_nodes + b.rs.n_costs, 0);
		rs_free(&b.rs);
	}
}

static void test_malformed_skip(void **state)
{
	(void)state;
	for (size_t i = 0; i < ST_ARRAY_LEN(bad_cases); i++) {
		brun b;
		char path[512], origin[128];
		snprintf(path, sizeof(path), DATA "%s", bad_cases[i].file);
		run_ok(&b, &st_connector_focus, path, "skip");
		snprintf(origin, sizeof(origin), "bill:%s", bad_cases[i].file);
		const rs_fact *w = find_note(&b.rs, bad_cases[i].msg);
		if (!w)
			fail_msg("%s: no note '%s'", bad_cases[i].file, bad_cases[i].msg);
		assert_string_equal(w->origin, origin);
		assert_int_equal(w->line, bad_cases[i].line);
		assert_non_null(strstr(w->dst, "malformed row skipped: "));
		assert_int_equal(count_notes(&b.rs, "1 malformed row skipped (on_error: skip)"), 1);
		/* the good rows (1 + 1, or 1 + 1 before an unterminated last row) */
		assert_cost(&b.rs, "bill:aws/r1", "2026-10-01", "USD", 2000000, 2000000);
		assert_null(rs_find_node(&b.rs, "bill:aws/r2"));
		rs_free(&b.rs);
	}

	/* 12 bad rows: the first 10 one by one, then the summary */
	brun b;
	run_ok(&b, &st_connector_focus, DATA "bad_many.csv", "skip");
	assert_int_equal(count_notes(&b.rs, "malformed row skipped: "), 10);
	const rs_fact *w = find_note(&b.rs,
				     "12 malformed rows skipped (on_error: skip), the first at "
				     "bill:bad_many.csv:3");
	assert_non_null(w);
	assert_cost(&b.rs, "bill:aws/r1", "2026-10-01", "USD", 13000000, 13000000);
	rs_free(&b.rs);
}

static void test_config_errors(void **state)
{
	(void)state;
	brun b;
	run_kind(&b, &st_connector_focus, DATA "missing_column.csv", NULL);
	assert_int_equal(b.rc, ST_E_INVALID);
	assert_non_null(strstr(b.d.msg, "bill:missing_column.csv:1: no column BillingCurrency "
					"(required by kind focus)"));
	rs_free(&b.rs);

	run_kind(&b, &st_connector_cur, DATA "focus_basic.csv", NULL);
	assert_int_equal(b.rc, ST_E_INVALID);
	assert_non_null(strstr(b.d.msg, "no column lineItem/UnblendedCost (required by kind cur)"));
	rs_free(&b.rs);

	run_kind(&b, &st_connector_focus, DATA "empty.csv", NULL);
	assert_int_equal(b.rc, ST_E_INVALID);
	assert_non_null(strstr(b.d.msg, "bill:empty.csv: empty file: no header row"));
	rs_free(&b.rs);

	run_kind(&b, &st_connector_focus, DATA "bad_header.csv", "skip");
	assert_int_equal(b.rc, ST_E_INVALID);
	assert_non_null(
		strstr(b.d.msg, "bill:bad_header.csv:1: header: a character after the closing"));
	rs_free(&b.rs);

	run_kind(&b, &st_connector_focus, DATA "no-such-file.csv", NULL);
	assert_int_equal(b.rc, ST_E_IO);
	assert_non_null(strstr(b.d.msg, "no-such-file.csv"));
	rs_free(&b.rs);

	run_kind(&b, &st_connector_focus, DATA "focus_basic.csv", "maybe");
	assert_int_equal(b.rc, ST_E_INVALID);
	assert_non_null(strstr(b.d.msg, "on_error must be 'fail' or 'skip'"));
	rs_free(&b.rs);

	st_kv opt = {"delimiter", ";"};
	st_source src = {.name = "bill",
			 .kind = "focus",
			 .location = DATA "focus_basic.csv",
			 .options = &opt,
			 .n_options = 1};
	memset(&b, 0, sizeof(b));
	rs_init(&b.rs, schema);
	b.rc = st_connector_focus.run(&src, &b.rs.sink, &b.d);
	assert_int_equal(b.rc, ST_E_INVALID);
	assert_non_null(strstr(b.d.msg, "unknown option 'delimiter'"));
	rs_free(&b.rs);
}

/* A record split across read buffers at every position: write a file whose
 * quoted cells straddle the 1 MiB read boundary. */
static void test_buffer_boundaries(void **state)
{
	(void)state;
	char path[] = "/tmp/st-billing-big-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs("BilledCost,EffectiveCost,BillingCurrency,ChargePeriodStart,ResourceId,ServiceName,"
	      "ProviderName,Tags\r\n",
	      f);
	/* 30000 rows of about 100 bytes: 3 MB, two buffer boundaries; each
	 * row 0.000001 billed and 0.000002 effective, 10 resources x 3 days */
	for (int i = 0; i < 30000; i++)
		fprintf(f,
			"0.000001,0.000002,USD,2026-10-0%dT%02d:00:00Z,res-%d,\"Svc\"\"%d\",AWS,"
			"\"{\"\"team\"\": \"\"t%d\"\"}\"\r\n",
			1 + i % 3, i % 24, i % 10, i % 10, i % 10);
	fclose(f);
	brun b;
	run_ok(&b, &st_connector_focus, path, NULL);
	assert_int_equal(b.rs.n_nodes, 10);
	assert_int_equal(b.rs.n_costs, 30);
	assert_totals(&b.rs, "USD", 30, 30000, 60000);
	/* i % 10 == 3 and i % 3 == 0 -> i = 3, 33, ... : 1000 rows on day 1 */
	assert_cost(&b.rs, "bill:aws/res-3", "2026-10-01", "USD", 1000, 2000);
	rs_assert_prop(rs_find_node(&b.rs, "bill:aws/res-3"), "service_name", "Svc\"3");
	assert_non_null(rs_find_hint(&b.rs, "bill:aws/res-3", ST_HINT_TEAM, "t3"));
	rs_free(&b.rs);
	unlink(path);
}

/* The 1 MiB bound applies to the cells that are kept: a 2 MiB cell in a
 * column the connector does not use is fine, in one it uses is a malformed
 * row. */
static void test_long_rows(void **state)
{
	(void)state;
	char path[] = "/tmp/st-billing-long-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs("BilledCost,EffectiveCost,BillingCurrency,ChargePeriodStart,ResourceId,ServiceName,"
	      "ProviderName,ResourceName,x_Big\n",
	      f);
	fputs("1,1,USD,2026-10-01,r1,Svc,AWS,n,\"", f);
	for (int i = 0; i < 2 << 20; i++)
		fputc(i % 64 ? 'a' : '\n', f);
	fputs("\"\n1,1,USD,2026-10-01,r2,Svc,AWS,\"", f);
	for (int i = 0; i < 2 << 20; i++)
		fputc('b', f);
	fputs("\",x\n1,1,USD,2026-10-01,r1,Svc,AWS,n,x\n", f);
	fclose(f);
	brun b;
	run_ok(&b, &st_connector_focus, path, "skip");
	assert_cost(&b.rs, "bill:aws/r1", "2026-10-01", "USD", 2000000, 2000000);
	assert_null(rs_find_node(&b.rs, "bill:aws/r2"));
	/* the first row (line 2) has 32768 newlines in its x_Big cell */
	const rs_fact *w = find_note(&b.rs, "row longer than 1048576 bytes");
	assert_non_null(w);
	assert_int_equal(w->line, 2 + 32768 + 1);
	rs_free(&b.rs);
	unlink(path);
}

/* The real public samples (/work/shared/fixtures/MANIFEST.md). */
static void test_public_fixtures(void **state)
{
	(void)state;
	const char *focus = FIXTURES "focus/focus-sample-data/focus_sample.csv";
	const char *cur = FIXTURES "billing-aws-cur/koku/koku/masu/test/data/aws/2023-06-01.csv";
	const char *cur_short = FIXTURES "billing-aws-cur/koku/koku/masu/test/data/test_cur.csv";
	const char *gcp = FIXTURES
		"billing-gcp/koku/koku/masu/test/data/gcp/"
		"202011_30c31bca571d9b7f3b2c8459dd8bc34a_2020-11-08:2020-11-11.csv";
	const char *gcp2 = FIXTURES "billing-gcp/koku/koku/masu/test/data/gcp/2022-08-01_5.csv";
	brun b;
	if (!file_exists(focus)) {
		printf("skipped: %s is absent\n", focus);
	} else {
		run_ok(&b, &st_connector_focus, focus, NULL);
		/* reference.py focus focus_sample.csv (1000 rows, 11 fractional digits):
		 *   USD facts 973 billed 20520215 effective 14976514 */
		assert_totals(&b.rs, "USD", 973, 20520215, 14976514);
		assert_int_equal(b.rs.n_nodes, 851);
		/* Tags are JSON objects: application / environment / business_unit,
		 * none of them an identity key; ResourceId NULL -> service buckets */
		size_t buckets = 0;
		for (size_t i = 0; i < b.rs.n; i++)
			if (b.rs.facts[i].kind == 'n' && strstr(b.rs.facts[i].id, "/service/"))
				buckets++;
		assert_true(buckets > 0);
		assert_int_equal(b.rs.n_hints, b.rs.n_nodes - buckets);
		assert_int_equal(rs_count_kind(&b.rs, 'w'), 0);
		rs_free(&b.rs);
	}
	if (!file_exists(cur)) {
		printf("skipped: %s is absent\n", cur);
	} else {
		run_ok(&b, &st_connector_cur, cur, NULL);
		/* 3 hourly SavingsPlanCoveredUsage rows of 10 NOK, effective 0.1 each;
		 * reference.py: NOK facts 1 billed 30000000 effective 300000 */
		assert_cost(&b.rs, "bill:aws/i-99995555", "2023-06-01", "NOK", 30000000, 300000);
		assert_int_equal(b.rs.n_costs, 1);
		rs_free(&b.rs);
	}
	if (!file_exists(cur_short)) {
		printf("skipped: %s is absent\n", cur_short);
	} else {
		/* this real export has 131 header fields and 130 in every row */
		run_kind(&b, &st_connector_cur, cur_short, NULL);
		assert_int_equal(b.rc, ST_E_INVALID);
		assert_non_null(strstr(b.d.msg, "test_cur.csv:2: 130 fields, the header has 131"));
		rs_free(&b.rs);
		run_ok(&b, &st_connector_cur, cur_short, "skip");
		assert_non_null(find_note(&b.rs, "19 malformed rows skipped"));
		assert_int_equal(b.rs.n_costs, 0);
		rs_free(&b.rs);
	}
	if (!file_exists(gcp)) {
		printf("skipped: %s is absent\n", gcp);
	} else {
		run_ok(&b, &st_connector_gcp_billing, gcp, NULL);
		/* 25 rows, cost 5e-06 etc., free-trial credits (Python literals)
		 * cancel them; no resource columns -> service buckets.
		 * reference.py: USD facts 10 billed 32 effective 0 */
		assert_totals(&b.rs, "USD", 10, 32, 0);
		rs_free(&b.rs);
	}
	if (!file_exists(gcp2)) {
		printf("skipped: %s is absent\n", gcp2);
	} else {
		run_ok(&b, &st_connector_gcp_billing, gcp2, NULL);
		/* reference.py: USD facts 1 billed 12 effective 12 */
		assert_totals(&b.rs, "USD", 1, 12, 12);
		assert_non_null(rs_find_node(&b.rs, "bill:gcp///example"));
		rs_free(&b.rs);
	}
}

static int group_setup(void **state)
{
	(void)state;
	st_diag d;
	return st_schema_load_default(&schema, &d);
}

static int group_teardown(void **state)
{
	(void)state;
	st_schema_free(schema);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_focus_basic),
		cmocka_unit_test(test_focus_gzip),
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_focus05),
		cmocka_unit_test(test_cur),
		cmocka_unit_test(test_gcp),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_malformed_fail),
		cmocka_unit_test(test_malformed_skip),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_buffer_boundaries),
		cmocka_unit_test(test_long_rows),
		cmocka_unit_test(test_public_fixtures),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
